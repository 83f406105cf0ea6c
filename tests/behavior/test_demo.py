"""The demo's synthetic readings show the seed paper's effects, and loading them is idempotent."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from behavior.demo import demo_days, demo_readings_load
from behavior.models import Discrepancy, Entry, MeasurementSession, Reading
from studies.demo import demo_study_data
from studies.interchange import study_import
from studies.models import ChangeRecord, Study
from tests.factories import imported_readings

pytestmark = pytest.mark.django_db

DAY0 = dt.date(2026, 1, 12)
LONG_AFTER = DAY0 + dt.timedelta(days=60)  # every timepoint has passed


def demo_study(key: str) -> Study:
    study, _ = study_import(data=demo_study_data(key=key, day0=DAY0))
    return study


def group_means(study: Study, assay: str) -> pd.DataFrame:
    """Group mean per day of the animals' values, counting verified and resolved readings only
    (a footpad's mean, then the animal's mean of its footpads, as the statistics do)."""
    frame = pd.DataFrame(
        Reading.objects.filter(
            session__study=study, assay=assay, state__in=["verified", "resolved"]
        ).values_list(
            "animal__group__code", "animal__code", "session__timepoint__day", "footpad", "value"
        ),
        columns=["group", "animal", "day", "footpad", "value"],
    )
    footpads = frame.groupby(["group", "animal", "day", "footpad"])["value"].mean()
    animals = footpads.groupby(["group", "animal", "day"]).mean()
    return animals.groupby(["group", "day"]).mean().unstack("day")


def test_the_rat_paclitaxel_demo_shows_allodynia_prevented_by_ivig():
    study = demo_study("fig1a-rat-paclitaxel")
    demo_readings_load(study=study, today=LONG_AFTER)
    means = group_means(study, "von_frey")
    baseline, later = means[-1], means[[21, 28, 35]]
    assert baseline.between(15, 18).all()
    assert later.loc["PTX-SAL"].between(7, 9).all()
    assert (later.loc["VEH"] - later.loc["PTX-SAL"] > 5).all()
    assert (later.loc["PTX-IVIG"] - later.loc["PTX-SAL"] > 3).all()
    assert (later.loc["PTX-IVIG"] > 0.8 * baseline["PTX-IVIG"]).all()


def test_the_clodronate_demo_loses_the_ivig_effect_in_depleted_rats():
    study = demo_study("fig3-rat-clodronate")
    demo_readings_load(study=study, today=LONG_AFTER)
    later = group_means(study, "von_frey")[[21, 28, 35]]
    assert (later.loc["PTX-IVIG"] - later.loc["PTX-SAL"] > 3).all()
    assert (later.loc["PTX-CLO-IVIG"] - later.loc["PTX-CLO-SAL"]).abs().max() < 1.5
    assert later.loc["PTX-CLO-IVIG"].between(7, 9.5).all()


def test_the_mouse_demo_shows_both_assays_on_their_own_scales():
    study = demo_study("fig2-mouse-paclitaxel")
    demo_readings_load(study=study, today=LONG_AFTER)
    force = group_means(study, "von_frey")
    assert force[-1].between(2.5, 4).all()
    assert (force[[7, 10, 14]].loc["PTX-SAL"] < 2).all()
    assert (force[[7, 10, 14]].loc["PTX-IVIG"] > 2.5).all()
    latency = group_means(study, "hot_plate")
    assert latency[-1].between(10, 12).all()
    assert latency[[7, 10, 14]].loc["PTX-SAL"].between(6, 7.5).all()
    assert (latency[[7, 10, 14]].loc["PTX-IVIG"] > 9).all()
    hot = Entry.objects.filter(reading__session__study=study, reading__assay="hot_plate")
    assert set(hot.values_list("experimenter", flat=True)) == {"tech1"}
    assert set(hot.values_list("behavior", flat=True)) <= {"lick", "flutter", "raise", "jump"}


def test_demo_values_are_double_entered_rounded_in_range_with_a_few_slips():
    study = demo_study("fig1a-rat-paclitaxel")
    summary = demo_readings_load(study=study, today=LONG_AFTER)
    values = list(
        Entry.objects.filter(reading__session__study=study).values_list("value", flat=True)
    )
    assert len(values) == summary.values == 40 * 4 * 2 * 10 * 2
    assert all(0 < v <= 26 and round(v, 1) == v for v in values)
    assert 3 <= summary.open_discrepancies <= 5
    assert Discrepancy.objects.filter(reading__session__study=study, status="open").count() == (
        summary.open_discrepancies
    )
    # Each value is kept in its session's import record, written by the import the demo goes
    # through, under its reading.
    imported = imported_readings()
    assert {record.via for record, _ in imported.values()} == {"demo"}
    assert sum(len(state["entries"]) for _, state in imported.values()) == len(values)
    assert set(imported) == set(
        Reading.objects.filter(session__study=study).values_list("pk", flat=True)
    )


def test_loading_the_demo_readings_again_adds_nothing():
    study = demo_study("fig3-rat-clodronate")
    first = demo_readings_load(study=study, today=LONG_AFTER)
    entries, records = Entry.objects.count(), ChangeRecord.objects.count()
    again = demo_readings_load(study=study, today=LONG_AFTER)
    assert (again.values, again.already_there) == (0, first.values)
    assert (Entry.objects.count(), ChangeRecord.objects.count()) == (entries, records)


def test_a_later_load_adds_the_timepoints_that_have_passed_since():
    study = demo_study("fig1a-rat-paclitaxel")
    early = demo_readings_load(study=study, today=DAY0 + dt.timedelta(days=22))
    days = set(Reading.objects.values_list("session__timepoint__day", flat=True))
    assert days == {-1, 21}
    later = demo_readings_load(study=study, today=LONG_AFTER)
    assert later.already_there == early.values
    assert later.values == early.values  # weeks 4 and 5: as many values as baseline and week 3


@pytest.mark.parametrize(
    ("today_day", "filled"),
    [
        (36, [-1, 21, 28, 35]),
        (29, [-1, 21, 28]),
        (21, [-1]),  # day 21's session is today's work, not yet done
        (-30, []),
    ],
)
def test_the_demo_fills_exactly_the_timepoints_dated_before_today(today_day, filled):
    study = Study(slug="x", day0=DAY0)
    today = DAY0 + dt.timedelta(days=today_day)
    assert demo_days(study=study, days=[35, -1, 21, 28], today=today) == filled


def test_a_study_without_day_0_gets_every_timepoint():
    assert demo_days(study=Study(slug="x"), days=[21, -1, 28]) == [-1, 21, 28]


def test_the_study_in_progress_gets_only_the_timepoints_before_its_planned_day():
    in_progress = "demo-today-rat-paclitaxel"
    days = [35, -1, 21, 28]
    assert demo_days(study=Study(slug=in_progress, day0=DAY0), days=days, today=LONG_AFTER) == [-1]
    assert demo_days(study=Study(slug=in_progress), days=days) == [-1]


def test_the_study_in_progress_has_its_baseline_double_entered_with_one_or_two_slips():
    study = demo_study("demo-today-rat-paclitaxel")
    summary = demo_readings_load(study=study, today=LONG_AFTER)  # long after: still day 21's

    readings = Reading.objects.filter(session__study=study)
    assert set(readings.values_list("session__timepoint__day", flat=True)) == {-1}
    assert summary.values == 40 * 2 * 10 * 2
    assert 1 <= summary.open_discrepancies <= 2
    assert readings.filter(state="verified").count() == 40 * 2 * 10 - summary.open_discrepancies
    assert list(study.sessions.values_list("timepoint__day", "status")) == [(-1, "entered")]


def test_the_sessions_the_demo_fills_are_marked_entered_with_an_audit_row():
    study = demo_study("fig2-mouse-paclitaxel")
    demo_readings_load(study=study, today=DAY0 + dt.timedelta(days=8))

    sessions = MeasurementSession.objects.filter(study=study)
    assert set(sessions.values_list("timepoint__day", "assay", "status")) == {
        (day, assay, "entered") for day in (-1, 7) for assay in ("von_frey", "hot_plate")
    }
    records = ChangeRecord.objects.filter(study=study, entity="session", action="update")
    assert set(records.values_list("object_id", flat=True)) == set(
        sessions.values_list("pk", flat=True)
    )
    assert {(r.old["status"], r.new["status"], r.via) for r in records} == {
        ("open", "entered", "demo")
    }

    demo_readings_load(study=study, today=LONG_AFTER)

    assert set(sessions.values_list("status", flat=True)) == {"entered"}
    assert sessions.count() == 4 * 2
    assert records.all().count() == 4 * 2  # a fresh query: the set above cached the first
