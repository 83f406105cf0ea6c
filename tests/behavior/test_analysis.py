"""The statistics service: readings in the database to the interchange.md section 3 document."""

from __future__ import annotations

import datetime as dt
import json
import math
from types import SimpleNamespace

import pandas as pd
import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from behavior import stats
from behavior.analysis import (
    FOOTPAD_COLUMNS,
    STATE_COUNT_COLUMNS,
    GroupInfo,
    StudyDesign,
    assay_statistics,
    display_labels,
    dose_progress,
    readings_frame,
    study_stats_document,
)
from behavior.forms_dashboard import FOOTPADS, StatsOptions
from studies.models import Animal, DoseRecord
from tests.behavior.dashboard_data import (
    SHIFT,
    SLEEP_1,
    add_hot_plate,
    add_von_frey,
    populated_study,
    sleep_study,
)
from tests.factories import add_schedule, make_study

pytestmark = pytest.mark.django_db


def test_readings_frame_has_the_columns_stats_expects(study):
    add_von_frey(study, day=21, values={"R01": 12.0})
    frame = readings_frame(study=study, assay="von_frey")
    assert list(frame.columns)[:8] == [
        "animal",
        "group",
        "timepoint",
        "day",
        "footpad",
        "application",
        "value",
        "state",
    ]
    assert len(frame) == 20
    first = frame.iloc[0]
    assert (first["animal"], first["group"], first["timepoint"], first["day"]) == (
        "R01",
        "VEH",
        "week 3",
        21,
    )


def test_readings_frame_is_one_query_whatever_the_size(django_assert_num_queries):
    small = populated_study(animals_per_group=2, slug="small")
    large = populated_study(animals_per_group=9, slug="large")
    with django_assert_num_queries(1):
        assert len(readings_frame(study=small, assay="von_frey")) == 2 * 3 * 3 * 20
    with django_assert_num_queries(1):
        assert len(readings_frame(study=large, assay="von_frey")) == 9 * 3 * 3 * 20


def test_student_t_matches_r_on_the_sleep_data_end_to_end():
    # R: t.test(extra ~ group, data = sleep, var.equal = TRUE)
    #    t = -1.8608, df = 18, p-value = 0.07919
    study = sleep_study(slug="sleep")
    document = study_stats_document(study=study, assay="von_frey")
    week3 = [c for c in document["comparisons"] if c["day"] == 21]
    assert len(week3) == 1
    row = week3[0]
    assert (row["reference"], row["group"]) == ("PTX-SAL", "VEH")
    assert row["statistic"] == pytest.approx(-1.8608, abs=5e-5)
    assert row["df"] == 18
    assert row["p"] == pytest.approx(0.07919, abs=5e-6)
    assert row["marker"] == "n.s."
    assert row["test"] == "student"


def test_welch_t_matches_r_on_the_sleep_data():
    # R: t.test(extra ~ group, data = sleep)  ->  t = -1.8608, df = 17.776, p-value = 0.07939
    study = sleep_study(slug="sleep-welch")
    document = study_stats_document(study=study, assay="von_frey", test="welch")
    row = next(c for c in document["comparisons"] if c["day"] == 21)
    assert document["test"] == "welch"
    assert row["statistic"] == pytest.approx(-1.8608, abs=5e-5)
    assert row["df"] == pytest.approx(17.776, abs=5e-4)
    assert row["p"] == pytest.approx(0.07939, abs=5e-6)


def test_summary_uses_animal_means_with_n_minus_one_sd():
    study = sleep_study(slug="sleep-summary")
    document = study_stats_document(study=study, assay="von_frey")
    veh = next(s for s in document["summary"] if s["group"] == "VEH" and s["day"] == 21)
    expected_mean = sum(SLEEP_1) / 10 + SHIFT
    expected_sd = math.sqrt(sum((x + SHIFT - expected_mean) ** 2 for x in SLEEP_1) / 9)
    assert veh["n"] == 10
    assert veh["mean"] == pytest.approx(expected_mean, rel=1e-12)
    assert veh["sd"] == pytest.approx(expected_sd, rel=1e-12)
    assert veh["sem"] == pytest.approx(expected_sd / math.sqrt(10), rel=1e-12)


def test_document_has_the_contract_keys_and_is_plain_json():
    study = sleep_study(slug="sleep-keys")
    document = study_stats_document(study=study, assay="von_frey")
    assert {"study", "assay", "unit", "test", "summary", "comparisons", "excluded"} <= set(document)
    assert (document["study"], document["assay"], document["unit"]) == (
        "sleep-keys",
        "von_frey",
        "g",
    )
    assert set(document["summary"][0]) == {"group", "timepoint", "day", "n", "mean", "sd", "sem"}
    assert {"reference", "group", "timepoint", "day", "test", "statistic", "df", "p", "marker"} <= (
        set(document["comparisons"][0])
    )
    assert {"hedges_g", "g_ci_low", "g_ci_high", "ci_low", "ci_high", "p_adjusted"} <= set(
        document["comparisons"][0]
    )
    json.dumps(document, allow_nan=False)  # raises on NaN or NumPy types


def test_significant_difference_gets_the_symbol_twice(study):
    # VEH far above PTX-SAL with little spread: P < 0.01.
    add_von_frey(study, day=21, values={"R01": 15.0, "R02": 15.5, "R03": 16.0})
    add_von_frey(study, day=21, values={"R04": 6.0, "R05": 6.5, "R06": 7.0})
    document = study_stats_document(study=study, assay="von_frey")
    row = next(c for c in document["comparisons"] if c["group"] == "PTX-SAL")
    assert row["marker"] == "##"
    assert row["statistic"] < 0  # the group's mean is below the reference's


def test_open_discrepancy_and_unverified_footpads_are_excluded_and_listed(study):
    add_von_frey(
        study,
        day=21,
        values={"R01": 15.0, "R02": 15.5, "R03": 16.0},
        states={("R01", "left"): "disputed", ("R02", "right"): "unverified"},
    )
    document = study_stats_document(study=study, assay="von_frey")
    assert document["excluded"] == [
        {"animal": "R01", "day": 21, "footpad": "left", "reason": "open discrepancy"},
        {"animal": "R02", "day": 21, "footpad": "right", "reason": "not verified"},
    ]
    # R01 and R02 still count, each through its remaining footpad.
    veh = next(s for s in document["summary"] if s["group"] == "VEH")
    assert veh["n"] == 3


def test_unverified_values_count_only_when_asked(study):
    add_von_frey(study, day=21, values={"R01": 10.0, "R02": 20.0}, state="unverified")
    add_von_frey(study, day=21, values={"R03": 12.0})
    without = study_stats_document(study=study, assay="von_frey")
    with_them = study_stats_document(study=study, assay="von_frey", include_unverified=True)
    assert next(s for s in without["summary"] if s["group"] == "VEH")["n"] == 1
    assert next(s for s in with_them["summary"] if s["group"] == "VEH")["n"] == 3
    assert with_them["include_unverified"] is True


def test_a_group_of_one_has_null_sd_and_comparison_says_why(study):
    add_von_frey(study, day=21, values={"R01": 15.0, "R04": 8.0, "R05": 9.0})
    document = study_stats_document(study=study, assay="von_frey")
    veh = next(s for s in document["summary"] if s["group"] == "VEH")
    assert (veh["n"], veh["sd"], veh["sem"]) == (1, None, None)
    row = next(c for c in document["comparisons"] if c["reference"] == "VEH")
    assert (row["statistic"], row["df"], row["p"]) == (None, None, None)
    assert row["marker"] == "n < 2"


def test_excluded_animal_is_left_out_and_listed(study):
    add_von_frey(study, day=21, values={"R01": 15.0, "R02": 15.5, "R03": 16.0})
    Animal.objects.filter(study=study, code="R03").update(
        status="excluded", status_reason="wound", status_date="2026-02-01"
    )
    document = study_stats_document(study=study, assay="von_frey")
    assert next(s for s in document["summary"] if s["group"] == "VEH")["n"] == 2
    assert {
        "animal": "R03",
        "day": 21,
        "footpad": "left",
        "reason": "animal excluded from the study",
    } in (document["excluded"])


def test_footpads_option_uses_one_paw(study):
    add_von_frey(study, day=21, values={"R01": 15.0}, footpads=("left",))
    add_von_frey(study, day=21, values={"R01": 15.0}, footpads=("right",), spread=0.0)
    # Right is 15 exactly everywhere; left alternates 14.5 and 15.5: both means are 15.
    left = study_stats_document(study=study, assay="von_frey", footpads="left")
    assert left["footpads"] == ["left"]
    assert left["summary"][0]["mean"] == pytest.approx(15.0)


def test_holm_correction_adjusts_across_timepoints(study):
    for day, low in ((-1, 14.0), (21, 6.0)):
        add_von_frey(study, day=day, values={"R01": 15.0, "R02": 15.6, "R03": 16.1})
        add_von_frey(study, day=day, values={"R04": low, "R05": low + 0.9, "R06": low + 1.5})
    plain = study_stats_document(study=study, assay="von_frey")
    holm = study_stats_document(study=study, assay="von_frey", correction="holm")
    assert holm["correction"] == "holm"
    ps = sorted(c["p"] for c in plain["comparisons"] if c["group"] == "PTX-SAL")
    adjusted = sorted(c["p_adjusted"] for c in holm["comparisons"] if c["group"] == "PTX-SAL")
    # R: p.adjust(c(p1, p2), "holm") -> c(2 * p1, max(2 * p1, p2)) for p1 < p2
    assert adjusted[0] == pytest.approx(min(1.0, 2 * ps[0]))
    assert adjusted[1] == pytest.approx(max(min(1.0, 2 * ps[0]), ps[1]))


def test_percent_of_baseline_uses_each_animals_own_baseline(study):
    add_von_frey(study, day=-1, values={"R01": 10.0, "R02": 20.0, "R03": 16.0})
    add_von_frey(study, day=21, values={"R01": 5.0, "R02": 15.0})
    document = study_stats_document(study=study, assay="von_frey", outcome="percent_baseline")
    assert document["unit"] == "%"
    assert document["baseline_day"] == -1
    veh = next(s for s in document["summary"] if s["group"] == "VEH" and s["day"] == 21)
    assert veh["mean"] == pytest.approx((50.0 + 75.0) / 2)


def test_blinded_labels_replace_group_codes_everywhere(blinded_study):
    add_von_frey(blinded_study, day=21, values={"R01": 15.0, "R02": 15.5, "R04": 8.0, "R05": 8.4})
    labels = {g.code: g.blind_label for g in blinded_study.groups.all()}
    document = study_stats_document(study=blinded_study, assay="von_frey", group_labels=labels)
    text = json.dumps(document)
    for code in ("VEH", "PTX-SAL", "PTX-IVIG"):
        assert code not in text
    assert {s["group"] for s in document["summary"]} == {"A", "B"}
    assert document["comparisons"][0]["reference"] in {"A", "B", "C"}


def test_hot_plate_document_has_seconds_and_empty_footpads(study):
    add_hot_plate(study, day=21, values={"R01": 12.0, "R02": 13.0, "R04": 6.0, "R05": 7.0})
    document = study_stats_document(study=study, assay="hot_plate")
    assert document["unit"] == "s"
    assert document["footpads"] == []
    assert next(s for s in document["summary"] if s["group"] == "VEH")["mean"] == 12.5


def test_an_assay_the_study_lacks_is_refused_by_name():
    study = make_study(slug="no-hot-plate", hot_plate=False)
    with pytest.raises(ValueError, match="assay: hot_plate is not an assay of study no-hot-plate"):
        study_stats_document(study=study, assay="hot_plate")


def test_an_unknown_test_is_refused_by_name(study):
    with pytest.raises(ValueError, match="test: 'wilcoxon' is not one of student, welch"):
        study_stats_document(study=study, assay="von_frey", test="wilcoxon")


def test_a_study_without_readings_gives_empty_lists(study):
    document = study_stats_document(study=study, assay="von_frey")
    assert (document["summary"], document["excluded"]) == ([], [])


def test_document_takes_the_same_queries_at_two_sizes(django_assert_num_queries):
    small = populated_study(animals_per_group=2, slug="small")
    large = populated_study(animals_per_group=9, slug="large")
    # assays, groups, timepoints, comparisons; sessions, animals, footpad summaries
    with django_assert_num_queries(7):
        study_stats_document(study=small, assay="von_frey")
    with django_assert_num_queries(7):
        study_stats_document(study=large, assay="von_frey")


# --- assay_statistics against the public functions of stats.py, one step at a time -----------

GROUPS = [
    GroupInfo(code="VEH", name="Vehicle", colour="#000000", blind_label="C", control=True),
    GroupInfo(code="PTX", name="Paclitaxel", colour="#ff0000", blind_label="A", control=False),
    GroupInfo(
        code="IVIG", name="Paclitaxel + IVIg", colour="#0000ff", blind_label="B", control=False
    ),
]
TIMEPOINTS = [("baseline", -1), ("week 3", 21), ("week 4", 28)]
LABELS = {day: label for label, day in TIMEPOINTS}
COMPARISONS = [
    {"reference": "VEH", "group": "PTX", "symbol": "#"},
    {"reference": "PTX", "group": "IVIG", "symbol": "*"},
]


def stepwise_statistics(*, design, frame, assay, options, group_labels):
    """What assay_statistics computes, through the public, validating stats functions and plain
    pandas: the reference for its shortcuts (values validated and grouped once, counts summed
    without a groupby)."""
    labels = dict(group_labels) if group_labels else {g.code: g.code for g in design.groups}
    if group_labels:
        group_order = sorted(labels[g.code] for g in design.groups)
    else:
        group_order = [g.code for g in design.groups]
    specs = [
        {"reference": labels[c["reference"]], "group": labels[c["group"]], "symbol": c["symbol"]}
        for c in design.comparisons
    ]
    frame = frame.assign(group=[labels.get(code, code) for code in frame["group"]])
    out = frame["animal_status"].eq(Animal.Status.EXCLUDED)
    left_out = frame.loc[out, ["animal", "day", "footpad"]].drop_duplicates()
    if assay != "von_frey":
        left_out = left_out.assign(footpad="").drop_duplicates()
    frame = frame.loc[~out]
    sums = frame.groupby("day")[list(STATE_COUNT_COLUMNS)].sum()
    counts = [
        (int(day), state, int(n))
        for day, row in zip(sums.index, sums.itertuples(index=False), strict=True)
        for state, n in zip(stats.STATES, row, strict=True)
        if n
    ]
    values, excluded = stats.animal_values(
        frame,
        assay=assay,
        footpads=FOOTPADS[options.footpads],
        include_unverified=options.include_unverified,
    )
    if not left_out.empty:  # (an empty one would only change the dtypes of an empty result)
        excluded = pd.concat(
            [excluded, left_out.assign(reason="animal excluded from the study")],
            ignore_index=True,
        )
    excluded = excluded.sort_values(["day", "animal", "footpad"], kind="mergesort")
    excluded = excluded.reset_index(drop=True)
    dropped = pd.DataFrame(columns=["animal", "reason"])
    if options.outcome == "percent_baseline":
        values, dropped = stats.percent_of_baseline(values, baseline_day=design.baseline_day)
        dropped = dropped.loc[:, ["animal", "reason"]]
    return {
        "values": values,
        "summary": stats.describe(values, group_order=group_order),
        "comparisons": stats.compare(
            values, specs, test=options.test, correction=options.correction
        ),
        "excluded": excluded,
        "dropped": dropped,
        "counts": counts,
    }


@st.composite
def footpad_frames(draw, assay):
    """Footpad frames as footpad_frames makes them: up to 10 animals in three groups, some
    excluded, footpads missing a value or in a discrepancy or waiting for a second entry,
    rows in any order."""
    rows = []
    for index in range(draw(st.integers(0, 10))):
        group = draw(st.sampled_from([g.code for g in GROUPS]))
        status = draw(st.sampled_from(["active"] * 6 + ["excluded", "dead"]))
        for _, day in TIMEPOINTS:
            if draw(st.integers(0, 5)) == 0:
                continue  # not measured that day
            for footpad in ("left", "right") if assay == "von_frey" else ("",):
                slots = 10 if assay == "von_frey" else 3
                disputed = draw(st.sampled_from([0] * 8 + [1]))
                unverified = draw(st.sampled_from([0] * 6 + [2, slots - disputed]))
                resolved = draw(st.sampled_from([0, 0, 1])) if slots > disputed + unverified else 0
                verified = slots - disputed - unverified - resolved
                worst = "disputed" if disputed else "unverified" if unverified else "verified"
                value = math.nan if draw(st.integers(0, 10)) == 0 else draw(st.floats(0.5, 26))
                rows.append(
                    (f"R{index:02d}", group, LABELS[day], day, footpad)
                    + (0, value, worst, status, verified, resolved, unverified, disputed)
                )
    if draw(st.booleans()):
        rows = draw(st.permutations(rows))
    frame = pd.DataFrame.from_records(rows, columns=FOOTPAD_COLUMNS)
    frame["value"] = frame["value"].astype("float64")
    return frame


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    st.data(),
    st.sampled_from(["von_frey", "hot_plate"]),
    st.builds(
        StatsOptions,
        test=st.sampled_from(["student", "welch"]),
        correction=st.sampled_from(["none", "holm"]),
        outcome=st.sampled_from(["raw", "percent_baseline"]),
        footpads=st.sampled_from(["both", "left", "right"]),
        include_unverified=st.booleans(),
    ),
    st.booleans(),
)
def test_assay_statistics_equal_the_stats_functions_step_by_step(data, assay, options, blinded):
    frame = data.draw(footpad_frames(assay))
    design = StudyDesign(
        study=SimpleNamespace(slug="random"),
        assays={},
        groups=GROUPS,
        timepoints=TIMEPOINTS,
        comparisons=COMPARISONS,
    )
    labels = display_labels(design=design, blinded_view=blinded) if blinded else None
    result = assay_statistics(
        design=design, frame=frame, assay=assay, options=options, group_labels=labels
    )
    expected = stepwise_statistics(
        design=design, frame=frame, assay=assay, options=options, group_labels=labels
    )
    assert result.counts == expected.pop("counts")
    for name, table in expected.items():
        pd.testing.assert_frame_equal(getattr(result, name), table, check_exact=True, obj=name)


# --- doses given and due -------------------------------------------------------------------------


@pytest.mark.django_db
def test_dose_progress_counts_each_schedules_doses_due_given_and_missed():
    today = dt.date(2026, 3, 11)
    study = make_study(slug="doses", animals_per_group=3, day0=today - dt.timedelta(days=10))
    vehicle = add_schedule(study, "VEH", "saline", days=[0, 7, 14])
    ivig = add_schedule(study, "PTX-IVIG", "IVIg", days=[0, 1])
    vehicle_animals = list(study.animals.filter(group__code="VEH").order_by("code"))
    given_at = timezone.now()
    for animal, day, status in [
        (vehicle_animals[0], 0, "given"),
        (vehicle_animals[1], 0, "given"),
        (vehicle_animals[2], 0, "missed"),
        (vehicle_animals[0], 7, "given"),
    ]:
        DoseRecord.objects.create(
            schedule=vehicle,
            animal=animal,
            day=day,
            status=status,
            given_at=given_at if status == "given" else None,
            reason="" if status == "given" else "animal escaped",
        )
    active = {"VEH": 3, "PTX-SAL": 3, "PTX-IVIG": 2}

    rows = dose_progress(study=study, today=today, active_per_group=active, blinded_view=False)

    # Days 0 and 7 are due by day 10 (not 14): twice three vehicle animals; IVIg's two days
    # times its two active animals, none recorded.
    assert [(r.label, r.due, r.given, r.missed, r.outstanding) for r in rows] == [
        ("VEH: saline 1 g/kg iv", 6, 3, 1, 2),
        ("PTX-IVIG: IVIg 1 g/kg iv", 4, 0, 0, 4),
    ]
    assert ivig.records.count() == 0
    (total,) = dose_progress(study=study, today=today, active_per_group=active, blinded_view=True)
    assert (total.label, total.due, total.given, total.missed) == ("All doses", 10, 3, 1)


@pytest.mark.parametrize("day0", [dt.date(2026, 1, 12), None])
def test_the_design_and_state_selectors_read_what_the_orm_reads(day0):
    # These selectors are written in SQL for speed; the ORM queries they replace are the
    # specification. Another study with the same codes must not leak into the answers.
    from behavior.analysis import (
        body_weight_values,
        study_animals,
        study_design,
        study_sessions,
    )
    from behavior.models import MeasurementSession
    from studies.models import BodyWeight, StudyAssay

    populated_study(animals_per_group=2, slug="neighbour")
    study = populated_study(animals_per_group=3, slug="read")
    if day0 is None:
        type(study).objects.filter(pk=study.pk).update(day0=None)
        study.refresh_from_db()
    # Groups out of code order, a tie on order broken by code, comparisons out of id order.
    study.groups.filter(code="VEH").update(order=1)  # as PTX-SAL's
    study.groups.filter(code="PTX-IVIG").update(order=0)
    study.comparisons.filter(symbol="#").update(order=5)
    excluded, unallocated = study.animals.order_by("code")[:2]
    Animal.objects.filter(pk=excluded.pk).update(
        status=Animal.Status.EXCLUDED,
        status_reason="ulcerated tail",
        status_date=dt.date(2026, 2, 1),
    )
    Animal.objects.filter(pk=unallocated.pk).update(group=None)
    BodyWeight.objects.create(animal=excluded, date=dt.date(2026, 1, 30), grams=301.5)
    add_schedule(study, "VEH", "saline", days=[0, 7])
    design = study_design(study=study)

    assert {a: (r.pk, r.footpads, r.applications) for a, r in design.assays.items()} == {
        r.assay: (r.pk, r.footpads, r.applications) for r in StudyAssay.objects.filter(study=study)
    }
    assert design.groups == [
        GroupInfo(*row)
        for row in study.groups.order_by("order", "code").values_list(
            "code", "name", "colour", "blind_label", "control"
        )
    ]
    assert [g.code for g in design.groups] == ["PTX-IVIG", "PTX-SAL", "VEH"]
    # Equal is not enough (True == 1): the types are the ORM's.
    assert {type(g.control) for g in design.groups} == {bool}
    assert {type(day) for _, day in design.timepoints} == {int}
    assert design.timepoints == list(study.timepoints.order_by("day").values_list("label", "day"))
    assert design.comparisons == [
        {"reference": r, "group": g, "symbol": s}
        for r, g, s in study.comparisons.order_by("order", "id").values_list(
            "reference__code", "group__code", "symbol"
        )
    ]
    assert [c["symbol"] for c in design.comparisons] == ["*", "#"]
    animals = study_animals(study=study)
    assert animals == sorted(
        study.animals.values_list("pk", "code", "group__code", "status", "summaries_revision")
    )
    assert [type(value) for value in animals[0]] == [int, str, str, str, int]
    assert [a[2] for a in animals if a[0] == unallocated.pk] == [None]
    for assays in (["von_frey"], ["von_frey", "hot_plate"], []):
        assert study_sessions(study=study, assays=assays) == sorted(
            MeasurementSession.objects.filter(study=study, assay__in=assays).values_list(
                "pk", "assay", "timepoint__label", "timepoint__day"
            )
        )
    weights = body_weight_values(study=study)
    expected = list(
        BodyWeight.objects.filter(animal__study=study, animal__group__isnull=False)
        .exclude(animal__status=Animal.Status.EXCLUDED)
        .order_by("date", "animal__code")
        .values_list("animal__code", "animal__group__code", "date", "grams")
    )
    origin = day0 or expected[0][2]
    assert weights.to_dict("records") == [
        {
            "animal": code,
            "group": group,
            "timepoint": f"day {(date - origin).days}",
            "day": (date - origin).days,
            "value": grams,
        }
        for code, group, date, grams in expected
    ]
    assert len(weights) == 3 * (3 * 3 - 2)
    # Due by day 7 (every day when day 0 is not set): paclitaxel's days 0 and 1 for three
    # animals, saline's days 0 and 7 for VEH's one active animal. The paclitaxel group's three
    # doses of day 0 are recorded; the neighbour's two are its own.
    rows = dose_progress(
        study=study,
        today=dt.date(2026, 1, 19),
        active_per_group={"VEH": 1, "PTX-SAL": 3, "PTX-IVIG": 3},
        blinded_view=False,
    )
    assert [(r.label, r.due, r.given, r.missed) for r in rows] == [
        ("PTX-SAL: paclitaxel 1 mg/kg ip", 6, 3, 0),
        ("VEH: saline 1 g/kg iv", 2, 0, 0),
    ]
