"""Readings import (interchange.md section 2): all rows or none, every problem named, safe to
repeat; the CSV and workbook readers; the ``import_readings`` command."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.models import Count, Q
from django.test.utils import CaptureQueriesContext
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import Workbook

from behavior.models import Discrepancy, Entry, MeasurementSession, Reading
from behavior.readings_io import (
    parse_readings_csv,
    parse_readings_xlsx,
    readings_rows,
    write_readings_csv,
)
from behavior.services import (
    BEHAVIOURS,
    ImportSummary,
    _CreatedReadings,
    _RowWriter,
    _summarise,
    discrepancy_resolve,
    readings_import,
)
from studies.errors import ImportProblems, StudyLocked
from studies.models import Animal, ChangeRecord, Membership, Study
from studies.selectors_history import imported_reading
from tests.factories import imported_readings, make_study
from tests.fuzz.helpers import FUZZ, rolled_back
from tests.fuzz.test_parsers_hypothesis import csv_bytes, readings_tables

pytestmark = pytest.mark.django_db

HEADER = "animal,day,assay,footpad,application,value,experimenter,behavior"


@pytest.fixture
def study():
    """Nine rats (R01-R09), baseline (day -1) and week 3 (day 21); von Frey double entry with
    10 applications and a 26 g maximum; hot plate single entry with a 30 s cut-off."""
    return make_study(slug="import-me")


def csv_rows(*lines: str) -> list[dict]:
    return parse_readings_csv("\n".join([HEADER, *lines]) + "\n")


def footpad_lines(animal="R01", day=21, footpad="left", experimenters=("tech1", "tech2")):
    return [
        f"{animal},{day},von_frey,{footpad},{n},{10 + n / 10:.1f},{who},"
        for who in experimenters
        for n in range(1, 11)
    ]


def nothing_written():
    return (
        not Entry.objects.exists()
        and not Reading.objects.exists()
        and not MeasurementSession.objects.exists()
        and not ChangeRecord.objects.exists()
    )


# --- a good file ---------------------------------------------------------------------------------


def test_a_double_entered_footpad_is_imported_and_verified(study):
    summary = readings_import(study=study, rows=csv_rows(*footpad_lines()))
    assert isinstance(summary, ImportSummary)
    assert (summary.values, summary.already_there) == (20, 0)
    assert (summary.sessions_opened, summary.readings_created) == (1, 10)
    assert (summary.verified_sets, summary.open_discrepancies) == (1, 0)
    readings = Reading.objects.order_by("application")
    assert [r.state for r in readings] == ["verified"] * 10
    assert [r.value for r in readings] == [
        10.1,
        10.2,
        10.3,
        10.4,
        10.5,
        10.6,
        10.7,
        10.8,
        10.9,
        11.0,
    ]


def test_an_import_writes_one_record_per_session_holding_each_new_readings_entries(study, bob):
    Membership.objects.create(study=study, user=bob, role="technician")
    lines = footpad_lines() + ["R01,-1,hot_plate,,1,9.5,tech1,"]
    readings_import(study=study, rows=csv_rows(*lines), user=bob, via="upload")

    assert not ChangeRecord.objects.filter(entity__in=["reading", "entry"]).exists()
    assert ChangeRecord.objects.filter(entity="session").count() == 2
    records = ChangeRecord.objects.filter(entity="import")
    sessions = MeasurementSession.objects.all()
    assert sorted(records.values_list("object_id", flat=True)) == sorted(s.pk for s in sessions)
    record = records.get(object_id=sessions.get(assay="von_frey").pk)
    assert (record.action, record.user, record.via, record.reason, record.old) == (
        "create",
        bob,
        "upload",
        "readings import",
        None,
    )
    von_frey = Reading.objects.filter(assay="von_frey")
    assert sorted(record.new["readings"]) == sorted(r.pk for r in von_frey)
    reading = von_frey.get(application=3)
    assert imported_reading(record.new, reading.pk) == {
        "state": "verified",
        "value": 10.3,
        "behavior": "",
        "entries": {"tech1": 10.3, "tech2": 10.3},
    }


def test_the_import_records_hold_every_created_reading_as_the_orm_reads_it(study):
    lines = footpad_lines() + footpad_lines(animal="R02", experimenters=("tech1",))
    lines[13] = "R01,21,von_frey,left,4,14.0,tech2,"
    readings_import(
        study=study,
        rows=csv_rows(*lines, "R03,21,hot_plate,,1,9,tech1,flutter", "R04,-1,hot_plate,,1,8,t,"),
    )

    stored = {}
    for reading in Reading.objects.prefetch_related("entries"):
        entries = sorted(reading.entries.all(), key=lambda e: e.experimenter)
        state = {
            "state": reading.state,
            "value": reading.value,
            "behavior": reading.behavior,
            "entries": {e.experimenter: e.value for e in entries},
        }
        if any(e.behavior for e in entries):
            state["behaviors"] = {e.experimenter: e.behavior for e in entries}
        stored[reading.pk] = state
    assert {pk: state for pk, (_, state) in imported_readings().items()} == stored


def test_a_hot_plate_readings_record_holds_each_entrys_behaviour(study):
    readings_import(
        study=study,
        rows=csv_rows("R01,21,hot_plate,,1,9.5,tech1,lick", "R02,21,hot_plate,,1,30,tech1,"),
    )

    new = {pk: state for pk, (_, state) in imported_readings().items()}
    licked = Reading.objects.get(animal__code="R01")
    cut_off = Reading.objects.get(animal__code="R02")
    assert new[licked.pk] == {
        "state": "verified",
        "value": 9.5,
        "behavior": "lick",
        "entries": {"tech1": 9.5},
        "behaviors": {"tech1": "lick"},
    }
    assert new[cut_off.pk] == {
        "state": "verified",
        "value": 30.0,
        "behavior": "",
        "entries": {"tech1": 30.0},
    }


def test_a_disputed_new_readings_record_holds_both_values_and_precedes_its_discrepancy(study):
    lines = footpad_lines()
    lines[13] = "R01,21,von_frey,left,4,14.0,tech2,"  # tech1 typed 10.4
    readings_import(study=study, rows=csv_rows(*lines))

    discrepancy = Discrepancy.objects.get()
    records = ChangeRecord.objects.filter(
        Q(entity="import", object_id=discrepancy.reading.session_id)
        | Q(entity="discrepancy", object_id=discrepancy.pk)
    ).order_by("at", "id")
    assert [(r.entity, r.action) for r in records] == [
        ("import", "create"),
        ("discrepancy", "create"),
    ]
    assert imported_reading(records[0].new, discrepancy.reading_id) == {
        "state": "disputed",
        "value": None,
        "behavior": "",
        "entries": {"tech1": 10.4, "tech2": 14.0},
    }


def test_disagreeing_values_open_discrepancies(study):
    lines = footpad_lines()
    lines[13] = "R01,21,von_frey,left,4,14.0,tech2,"  # tech1 typed 10.4
    summary = readings_import(study=study, rows=csv_rows(*lines))
    assert (summary.verified_sets, summary.open_discrepancies) == (0, 1)
    discrepancy = Discrepancy.objects.get()
    assert discrepancy.values == {"tech1": 10.4, "tech2": 14.0}
    assert discrepancy.reading.state == Reading.State.DISPUTED


def test_a_hot_plate_row_with_behaviour_and_one_at_the_cut_off_are_imported(study):
    summary = readings_import(
        study=study,
        rows=csv_rows("R01,21,hot_plate,,1,9.5,tech1,lick", "R02,21,hot_plate,,1,30,tech1,"),
    )
    assert (summary.values, summary.verified_sets) == (2, 2)
    assert sorted(Reading.objects.values_list("value", "behavior")) == [(9.5, "lick"), (30, "")]


def test_untidy_but_valid_cells_are_cleaned(study):
    rows = csv_rows(" R01 , 21 ,Hot_Plate,,1, 9.5 , tech1 ,LICK")
    readings_import(study=study, rows=rows)
    entry = Entry.objects.get()
    assert (entry.experimenter, entry.value, entry.behavior) == ("tech1", 9.5, "lick")


def test_the_second_experimenter_can_arrive_in_a_later_file(study):
    readings_import(study=study, rows=csv_rows(*footpad_lines(experimenters=("tech1",))))
    assert set(Reading.objects.values_list("state", flat=True)) == {"unverified"}
    summary = readings_import(study=study, rows=csv_rows(*footpad_lines(experimenters=("tech2",))))
    assert summary.values == 10
    assert set(Reading.objects.values_list("state", flat=True)) == {"verified"}
    reading = Reading.objects.get(application=1)
    assert reading.version == 2
    created = ChangeRecord.objects.get(entity="import", object_id=reading.session_id)
    assert imported_reading(created.new, reading.pk) == {
        "state": "unverified",
        "value": None,
        "behavior": "",
        "entries": {"tech1": 10.1},
    }
    # The second file's entries join stored readings: each keeps a record of its own, and the
    # reading's update record says how its counted value changed.
    entry = Entry.objects.get(reading=reading, experimenter="tech2")
    added = ChangeRecord.objects.get(entity="entry", object_id=entry.pk)
    assert (added.action, added.new) == (
        "create",
        {"experimenter": "tech2", "value": 10.1, "behavior": ""},
    )
    assert ChangeRecord.objects.filter(entity="entry", action="create").count() == 10
    record = ChangeRecord.objects.get(entity="reading", object_id=reading.pk, action="update")
    assert (record.old["value"], record.new["value"]) == (None, 10.1)
    assert record.id > added.id


def counted_totals(study) -> tuple[int, int, int]:
    """The study's values, verified sets and open discrepancies counted from its entries,
    readings and discrepancies (the import reads its tallies and summaries instead)."""
    sets = (
        Reading.objects.filter(session__study=study)
        .values("session_id", "animal_id", "footpad")
        .annotate(
            slots=Count("id"), counted=Count("id", filter=Q(state__in=["verified", "resolved"]))
        )
    )
    return (
        Entry.objects.filter(reading__session__study=study).count(),
        sum(1 for s in sets if s["slots"] == s["counted"]),
        Discrepancy.objects.filter(reading__session__study=study, status="open").count(),
    )


def test_a_first_imports_totals_are_what_the_study_then_holds(study):
    lines = footpad_lines() + footpad_lines(animal="R02", experimenters=("tech1",))
    lines[13] = "R01,21,von_frey,left,4,14.0,tech2,"
    summary = readings_import(study=study, rows=csv_rows(*lines, "R03,21,hot_plate,,1,9,tech1,"))

    counted = ImportSummary(values=summary.values)
    sessions = list(MeasurementSession.objects.filter(study=study).values_list("pk", flat=True))
    _summarise(counted, first=False, sessions=sessions)  # the three queries
    assert (
        (summary.study_values, summary.verified_sets, summary.open_discrepancies)
        == (
            counted.study_values,
            counted.verified_sets,
            counted.open_discrepancies,
        )
        == counted_totals(study)
        == (31, 1, 1)
    )


def test_a_later_imports_totals_are_what_the_study_then_holds(study):
    readings_import(study=study, rows=csv_rows(*footpad_lines(experimenters=("tech1",))))
    # The second experimenter with one disagreement, a footpad with one experimenter and a
    # hot-plate trial, into the stored session and a new one.
    lines = [
        *footpad_lines(experimenters=("tech2",)),
        *footpad_lines(animal="R02", footpad="right", experimenters=("tech1",)),
        *footpad_lines(animal="R03", day=-1),
        "R03,21,hot_plate,,1,9,tech1,",
    ]
    lines[2] = "R01,21,von_frey,left,3,15.0,tech2,"
    summary = readings_import(study=study, rows=csv_rows(*lines))

    assert (
        (summary.study_values, summary.verified_sets, summary.open_discrepancies)
        == counted_totals(study)
        == (10 + 10 + 10 + 20 + 1, 2, 1)
    )


# --- safe to repeat ------------------------------------------------------------------------------


def test_importing_the_same_file_again_adds_nothing(study):
    rows = csv_rows(*footpad_lines())
    readings_import(study=study, rows=rows)
    records = ChangeRecord.objects.count()
    summary = readings_import(study=study, rows=rows)
    assert (summary.values, summary.already_there) == (0, 20)
    assert summary.study_values == 20 and summary.verified_sets == 1
    assert Entry.objects.count() == 20
    assert ChangeRecord.objects.count() == records


def test_a_stored_key_with_another_value_is_refused_as_a_conflicting_duplicate(study):
    readings_import(study=study, rows=csv_rows(*footpad_lines()))
    with pytest.raises(ImportProblems) as caught:
        readings_import(
            study=study,
            rows=csv_rows("R01,21,von_frey,left,3,12.0,tech1,", "R01,21,hot_plate,,1,9,tech1,"),
        )
    assert caught.value.problems == [
        (
            "row 2",
            "value: conflicts with the stored 10.3 for this animal, day, assay, footpad, "
            "application and experimenter: a stored value changes only through an edit with a "
            "reason",
        )
    ]
    assert Entry.objects.count() == 20
    assert not Reading.objects.filter(assay="hot_plate").exists()


def test_a_repeated_key_within_the_file_is_refused(study):
    with pytest.raises(ImportProblems) as caught:
        readings_import(
            study=study,
            rows=csv_rows(
                "R01,21,von_frey,left,3,12.0,tech1,", "R01,21,von_frey,left,3,12.0,tech1,"
            ),
        )
    assert caught.value.problems == [
        (
            "row 3",
            "experimenter: repeats row 2: one value per animal, day, assay, footpad, application "
            "and experimenter",
        )
    ]
    assert nothing_written()


def test_a_third_experimenter_is_refused(study):
    with pytest.raises(ImportProblems) as caught:
        readings_import(
            study=study,
            rows=csv_rows(
                "R01,21,von_frey,left,3,12.0,tech1,",
                "R01,21,von_frey,left,3,12.0,tech2,",
                "R01,21,von_frey,left,3,12.0,tech3,",
            ),
        )
    assert caught.value.problems == [
        (
            "row 4",
            "experimenter: tech1 and tech2 already entered this value: a third experimenter is "
            "not accepted",
        )
    ]
    assert nothing_written()


# --- every kind of bad value: row, column and reason, nothing written ------------------------


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("R01,21,von_frey,left,3,27,tech1,", "value: must be at most 26 g"),
        ("R01,21,von_frey,left,3,0,tech1,", "value: must be greater than 0 g"),
        ("R01,21,von_frey,left,3,-4,tech1,", "value: must be greater than 0 g"),
        ("R01,21,von_frey,left,3,,tech1,", "value: is missing"),
        ("R01,21,von_frey,left,3,abc,tech1,", "value: must be a number, not 'abc'"),
        ("R01,21,von_frey,left,3,nan,tech1,", "value: must be a finite number"),
        ("R01,21,von_frey,left,3,inf,tech1,", "value: must be a finite number"),
        ("R01,21,hot_plate,,1,31,tech1,", "value: must be at most the 30 s cut-off"),
        ("R99,21,von_frey,left,3,12,tech1,", "animal: R99 is not an animal of this study"),
        (",21,von_frey,left,3,12,tech1,", "animal: is missing"),
        ("R01,22,von_frey,left,3,12,tech1,", "day: no timepoint on day 22 (days: -1, 21)"),
        ("R01,week3,von_frey,left,3,12,tech1,", "day: must be a whole number, not 'week3'"),
        ("R01,21,tail_flick,left,3,12,tech1,", "assay: must be von_frey or hot_plate"),
        ("R01,21,von_frey,front,3,12,tech1,", "footpad: must be left or right"),
        ("R01,21,von_frey,,3,12,tech1,", "footpad: must be left or right"),
        ("R01,21,hot_plate,left,1,12,tech1,", "footpad: must be empty for the hot plate"),
        ("R01,21,von_frey,left,0,12,tech1,", "application: must be a whole number from 1 to 10"),
        ("R01,21,von_frey,left,11,12,tech1,", "application: must be a whole number from 1 to 10"),
        ("R01,21,von_frey,left,2.5,12,tech1,", "application: must be a whole number from 1 to 10"),
        ("R01,21,hot_plate,,2,12,tech1,", "application: must be a whole number from 1 to 1"),
        ("R01,21,von_frey,left,3,12,tech1,lick", "behavior: must be empty for von Frey"),
        (
            "R01,21,hot_plate,,1,12,tech1,scream",
            "behavior: must be lick, flutter, raise, jump or empty",
        ),
        ("R01,21,hot_plate,,1,30,tech1,jump", "behavior: must be empty at the 30 s cut-off"),
        ("R01,21,von_frey,left,3,12,,", "experimenter: is missing"),
    ],
)
def test_a_bad_row_is_named_with_its_column_and_reason_and_nothing_is_written(study, line, problem):
    good = footpad_lines(animal="R02")
    with pytest.raises(ImportProblems) as caught:
        readings_import(study=study, rows=csv_rows(*good[:5], line, *good[5:]))
    assert caught.value.problems == [("row 7", problem)]
    assert nothing_written()


def test_an_assay_the_study_does_not_measure_is_named():
    study = make_study(hot_plate=False)
    with pytest.raises(ImportProblems) as caught:
        readings_import(study=study, rows=csv_rows("R01,21,hot_plate,,1,12,tech1,"))
    assert caught.value.problems == [("row 2", "assay: hot_plate is not measured in this study")]


def test_an_excluded_animal_is_refused_for_sessions_after_its_exclusion():
    study = make_study(day0=dt.date(2026, 1, 12))
    Animal.objects.filter(study=study, code="R03").update(
        status="excluded", status_reason="autotomy", status_date=dt.date(2026, 1, 20)
    )
    with pytest.raises(ImportProblems) as caught:
        readings_import(
            study=study,
            rows=csv_rows("R03,-1,von_frey,left,1,12,tech1,", "R03,21,von_frey,left,1,12,tech1,"),
        )
    assert caught.value.problems == [("row 3", "animal: R03 was excluded on 2026-01-20 (autotomy)")]


def test_every_problem_of_every_row_is_listed_in_row_order(study):
    with pytest.raises(ImportProblems) as caught:
        readings_import(
            study=study,
            rows=csv_rows(
                "R01,21,von_frey,left,1,12,tech1,",
                "R99,21,von_frey,front,1,40,tech1,",
                "R01,21,von_frey,left,1,12,tech2,",
                "R01,21,von_frey,left,12,12,,",
            ),
        )
    assert caught.value.problems == [
        ("row 3", "animal: R99 is not an animal of this study"),
        ("row 3", "value: must be at most 26 g"),
        ("row 3", "footpad: must be left or right"),
        ("row 5", "experimenter: is missing"),
        ("row 5", "application: must be a whole number from 1 to 10"),
    ]


def test_a_missing_column_is_named_on_the_header_row(study):
    rows = parse_readings_csv("animal,day,assay,footpad,application,experimenter\nR01,21,x,y,1,t\n")
    with pytest.raises(ImportProblems) as caught:
        readings_import(study=study, rows=rows)
    assert caught.value.problems == [("row 1", "value: column missing")]


def test_a_locked_study_refuses_an_import(study):
    Study.objects.filter(pk=study.pk).update(status=Study.Status.LOCKED)
    with pytest.raises(StudyLocked):
        readings_import(study=study, rows=csv_rows(*footpad_lines()))
    assert nothing_written()


# --- files ---------------------------------------------------------------------------------------


def test_a_workbook_is_read_from_its_first_sheet_with_spreadsheet_row_numbers(study, tmp_path):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(HEADER.split(","))
    sheet.append(["R01", -1, "von_frey", "left", 1, 15.2, "tech1", None])
    sheet.append([None] * 8)  # a blank row still counts in the numbering
    sheet.append(["R01", -1, "von_frey", "left", 1, 15.2, "tech2", None])
    sheet.append(["R02", 21.0, "hot_plate", None, 1.0, 8.25, "tech1", "flutter"])
    path = tmp_path / "readings.xlsx"
    workbook.save(path)

    rows = parse_readings_xlsx(path)
    assert [row["_row"] for row in rows] == [2, 4, 5]
    summary = readings_import(study=study, rows=rows)
    assert (summary.values, summary.verified_sets) == (3, 2)
    assert Reading.objects.get(assay="hot_plate").value == 8.25


def test_a_bad_workbook_cell_is_named_by_its_spreadsheet_row(study, tmp_path):
    workbook = Workbook()
    workbook.active.append(HEADER.split(","))
    workbook.active.append(["R01", 21, "von_frey", "left", 1, 15.2, "tech1", None])
    workbook.active.append(["R01", 21, "von_frey", "left", 2, 99, "tech1", None])
    path = tmp_path / "readings.xlsx"
    workbook.save(path)
    with pytest.raises(ImportProblems) as caught:
        readings_import(study=study, rows=parse_readings_xlsx(path))
    assert caught.value.problems == [("row 3", "value: must be at most 26 g")]


def test_an_exported_study_imports_into_an_identical_one(study):
    lines = footpad_lines() + ["R02,21,hot_plate,,1,9.5,tech1,raise"]
    lines[13] = "R01,21,von_frey,left,4,14.0,tech2,"
    readings_import(study=study, rows=csv_rows(*lines))
    discrepancy_resolve(
        discrepancy=Discrepancy.objects.get(), value=10.4, reason="typing_error", user=None
    )
    out = io.StringIO()
    write_readings_csv(readings_rows(study=study), out)

    copy = make_study(slug="import-me-again")
    summary = readings_import(study=copy, rows=parse_readings_csv(out.getvalue()))
    assert summary.values == 21 and summary.open_discrepancies == 0

    def content(s):
        return sorted(
            (
                r["animal"],
                r["day"],
                r["assay"],
                r["footpad"],
                r["application"],
                r["value"],
                r["experimenter"],
                r["behavior"],
                r["state"],
                r["counted_value"],
                r["resolved_value"],
                r["resolution_reason"],
            )
            for r in readings_rows(study=s)
        )

    assert content(copy) == content(study)


def test_a_readings_table_serves_each_row_as_the_dict_of_its_cells():
    table = parse_readings_csv("Animal, day ,,day,note\nR01,21,x,-1,long,extra\n\n , ,,,\nR02,7\n")

    assert len(table) == 2
    # A blank header's column is left out, of two columns named alike the second counts, a
    # long row's extra cell has no column and a short row's missing cells are None.
    assert list(table) == [
        {"animal": "R01", "day": "-1", "note": "long", "_row": 2},
        {"animal": "R02", "day": None, "note": None, "_row": 5},
    ]
    assert table[-1] == table[1] and table[:1] == [table[0]]
    assert list(parse_readings_csv("")) == list(parse_readings_csv("animal,day\n")) == []


def test_a_file_without_footpad_and_behaviour_columns_imports_its_hot_plate_rows(study):
    rows = parse_readings_csv(
        "animal,day,assay,application,value,experimenter\n"
        "R01,21,hot_plate,1,9.5,tech1\n"
        "R02,21,hot_plate,1,8,tech1\n"
    )

    summary = readings_import(study=study, rows=rows)

    assert (summary.values, summary.verified_sets) == (2, 2)
    assert sorted(Reading.objects.values_list("footpad", "value", "behavior")) == [
        ("", 8.0, ""),
        ("", 9.5, ""),
    ]


table_cells = st.sampled_from(["R01", "21", "-1", "von_frey", "left", "", " 2 ", "12.5"])
tables = st.lists(st.lists(table_cells | st.text(max_size=6), max_size=10), min_size=1, max_size=6)


@FUZZ
@given(table=tables)
def test_a_csv_is_read_into_the_rows_the_csv_module_gives_cell_by_cell(table):
    out = io.StringIO()
    csv.writer(out).writerows(table)
    read = csv.reader(io.StringIO(out.getvalue(), newline=""))
    cells = [[cell.strip() for cell in row] for row in read]
    names = [name.lower() for name in cells[0]] if cells else []
    expected = []
    for number, row in enumerate(cells[1:], start=2):
        if any(row):
            padded = row + [None] * (len(names) - len(row))
            expected.append(
                {
                    **{name: padded[i] for i, name in enumerate(names) if name},
                    "_row": number,
                }
            )

    assert list(parse_readings_csv(out.getvalue())) == expected


@FUZZ
@given(table=readings_tables())
def test_a_table_and_the_same_rows_as_dicts_import_alike(study, bob, table):
    Membership.objects.get_or_create(study=study, user=bob, defaults={"role": "technician"})
    text = csv_bytes(table).decode()

    def outcome(rows):
        with rolled_back():
            try:
                summary = readings_import(study=study, rows=rows, user=bob)
            except ImportProblems as exc:
                return exc.problems
            return summary, sorted(
                Entry.objects.values_list(
                    "reading__animal__code", "reading__application", "experimenter", "value"
                )
            )

    table_rows = parse_readings_csv(text)
    assert outcome(table_rows) == outcome([dict(row) for row in table_rows])


# --- the command ---------------------------------------------------------------------------------


def test_the_command_imports_a_csv_and_reports_what_the_study_holds(study, tmp_path):
    lines = footpad_lines()
    lines[13] = "R01,21,von_frey,left,4,14.0,tech2,"
    path = tmp_path / "readings.csv"
    path.write_text("\n".join([HEADER, *lines]) + "\n")
    out = io.StringIO()
    call_command("import_readings", "import-me", str(path), stdout=out)
    assert out.getvalue().splitlines() == [
        "Imported 20 values into import-me (0 already there, 1 sessions opened).",
        "import-me holds 20 values, 0 verified sets and 1 open discrepancies.",
    ]


def test_the_command_prints_every_problem_and_exits_with_status_1(study, tmp_path):
    path = tmp_path / "readings.csv"
    path.write_text(
        "\n".join(
            [
                HEADER,
                "R01,21,von_frey,left,1,12,tech1,",
                "R01,21,von_frey,left,1,27,tech2,",
                "R01,21,von_frey,right,1,12,,",
            ]
        )
        + "\n"
    )
    err = io.StringIO()
    with pytest.raises(CommandError) as caught:
        call_command("import_readings", "import-me", str(path), stderr=err)
    assert caught.value.returncode == 1
    assert err.getvalue().splitlines() == [
        "row 3, value: must be at most 26 g",
        "row 4, experimenter: is missing",
    ]
    assert "nothing was imported" in str(caught.value)
    assert nothing_written()


def test_the_command_refuses_an_unknown_study_and_an_unknown_file_type(study, tmp_path):
    path = tmp_path / "readings.txt"
    path.write_text(HEADER + "\n")
    with pytest.raises(CommandError, match="No study"):
        call_command("import_readings", "nope", str(path))
    with pytest.raises(CommandError, match=r"must be \.csv or \.xlsx"):
        call_command("import_readings", "import-me", str(path))


# --- queries -------------------------------------------------------------------------------------


def import_queries(animals: int) -> int:
    study = make_study(animals_per_group=animals, groups=("VEH",))
    lines = [
        line
        for n in range(1, animals + 1)
        for footpad in ("left", "right")
        for line in footpad_lines(animal=f"R{n:02d}", footpad=footpad)
    ]
    rows = csv_rows(*lines)
    with CaptureQueriesContext(connection) as queries:
        summary = readings_import(study=study, rows=rows)
    assert summary.values == animals * 40
    return len(queries)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="sequences are PostgreSQL's")
def test_ids_drawn_while_other_sessions_draw_too_are_the_imports_own():
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [Reading._meta.db_table])
        (sequence,) = cursor.fetchone()
        # Every other id goes elsewhere, as when other sessions draw between the import's.
        cursor.execute(f"ALTER SEQUENCE {sequence} INCREMENT BY 2")

    ids = list(_RowWriter().ids(Reading, 5))

    assert len(set(ids)) == 5 and ids == sorted(ids) and ids[-1] - ids[0] == 8


def test_the_number_of_queries_of_an_import_does_not_grow_with_its_size():
    # Rows are checked in Python against dicts read once, and each table is written by one
    # executemany (2 animals: 80 values; 20 animals: 800 values).
    assert import_queries(2) == import_queries(20)


def test_a_second_import_into_existing_sessions_also_keeps_its_number_of_queries(study):
    readings_import(study=study, rows=csv_rows(*footpad_lines(experimenters=("tech1",))))

    def second_file(animals: int):
        # The second experimenter of the stored footpad, and new animals entered by both.
        return csv_rows(
            *footpad_lines(experimenters=("tech2",)),
            *[
                line
                for n in range(2, 2 + animals)
                for line in footpad_lines(animal=f"R{n:02d}", experimenters=("tech1", "tech2"))
            ],
        )

    one, many = second_file(1), second_file(8)
    with CaptureQueriesContext(connection) as first:
        readings_import(study=study, rows=one)
    copy = make_study(slug="import-me-twice")
    readings_import(study=copy, rows=csv_rows(*footpad_lines(experimenters=("tech1",))))
    with CaptureQueriesContext(connection) as second:
        readings_import(study=copy, rows=many)
    assert len(first) == len(second)


# --- the audit records' JSON ---------------------------------------------------------------------


names = st.text(min_size=1, max_size=12)
finite = st.floats(allow_nan=False, allow_infinity=False)
behaviours = st.sampled_from(["", *sorted(BEHAVIOURS)])


@FUZZ
@given(
    readings=st.lists(
        st.tuples(
            st.sampled_from(Reading.State.values),
            st.none() | finite,
            behaviours,
            st.lists(st.tuples(names, finite, behaviours), max_size=3, unique_by=lambda e: e[0]),
        ),
        max_size=6,
    )
)
def test_a_sessions_import_record_gives_back_each_new_reading_as_it_was_added(readings):
    created = _CreatedReadings()
    expected = {}
    for pk, (state, value, behavior, entries) in enumerate(readings, start=1):
        created.add(pk, state, value, behavior, [(*entry, 2) for entry in entries])
        expected[pk] = {
            "state": state,
            "value": value,
            "behavior": behavior,
            "entries": {name: entry_value for name, entry_value, _ in entries},
        }
        if any(entry_behavior for _, _, entry_behavior in entries):
            expected[pk]["behaviors"] = {
                name: entry_behavior for name, _, entry_behavior in entries
            }

    new = json.loads(created.json())

    assert {pk: imported_reading(new, pk) for pk in expected} == expected
    assert imported_reading(new, len(readings) + 1) is None


@FUZZ
@given(experimenter=names, value=finite, behavior=behaviours)
def test_an_entrys_record_is_written_as_json_dumps_would_write_it(experimenter, value, behavior):
    text = _RowWriter().entry_json(experimenter, value, behavior)

    assert text == json.dumps({"experimenter": experimenter, "value": value, "behavior": behavior})


def test_what_every_row_of_an_import_shares_is_stored_as_given(study, bob):
    Membership.objects.create(study=study, user=bob, role="technician")
    readings_import(study=study, rows=csv_rows(*footpad_lines()[:2]), user=bob, via="50% o'clock")

    records = ChangeRecord.objects.all()
    assert {(r.via, r.reason, r.user, r.study_id) for r in records} == {
        ("50% o'clock", "readings import", bob, study.pk)
    }
    entries = Entry.objects.all()
    assert {(e.entered_by, e.version, e.entered_at, e.updated_at) for e in entries} == {
        (bob, 1, records[0].at, records[0].at)
    }
    assert {(r.version, r.updated_at) for r in Reading.objects.all()} == {(1, records[0].at)}


def test_names_that_json_escapes_are_stored_and_read_back_intact(study):
    lines = [
        'R01,21,von_frey,left,1,12.0,"Zoë ""Z""\tTab\\",',
        "R01,21,von_frey,left,1,12.0,Ann O'Neil,",
    ]
    readings_import(study=study, rows=csv_rows(*lines))

    record = ChangeRecord.objects.get(entity="import")
    assert imported_reading(record.new, Reading.objects.get().pk)["entries"] == {
        'Zoë "Z"\tTab\\': 12.0,
        "Ann O'Neil": 12.0,
    }
    assert set(Entry.objects.values_list("experimenter", flat=True)) == {
        'Zoë "Z"\tTab\\',
        "Ann O'Neil",
    }
