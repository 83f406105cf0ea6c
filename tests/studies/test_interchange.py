"""The study package: study.json checked, imported, updated and exported (interchange.md §1)."""

from __future__ import annotations

import copy
import datetime as dt

import pytest

from behavior.models import MeasurementSession
from studies.errors import ImportProblems, StudyLocked
from studies.interchange import (
    PALETTE,
    study_export_json,
    study_import,
    study_import_report,
    validate_study_json,
)
from studies.models import (
    Agent,
    Animal,
    BodyWeight,
    ChangeRecord,
    DoseRecord,
    DosingSchedule,
    Study,
    StudyAssay,
    Timepoint,
    TreatmentGroup,
)

EXAMPLE = {
    "format": "cipn-study/1",
    "slug": "rat-ptx-ivig",
    "title": "IVIg in paclitaxel-induced peripheral neuropathy (rat)",
    "species": "rat",
    "strain": "Crl:CD (SD)",
    "sex": "male",
    "day0": "2026-01-12",
    "blinded": True,
    "assays": {
        "von_frey": {
            "applications_per_footpad": 10,
            "footpads": ["left", "right"],
            "max_force_g": 26,
            "double_entry": True,
        },
        "hot_plate": {"temperature_c": 54.5, "cutoff_s": 30, "double_entry": False},
    },
    "groups": [
        {"code": "VEH", "name": "Vehicle", "control": True},
        {"code": "PTX-SAL", "name": "Paclitaxel + saline"},
        {"code": "PTX-IVIG", "name": "Paclitaxel + IVIg"},
    ],
    "dosing": [
        {
            "group": "PTX-SAL",
            "agent": "paclitaxel",
            "dose": 1,
            "unit": "mg/kg",
            "route": "ip",
            "vehicle": "Cremophor EL 8.3% / ethanol 8.3% / saline",
            "days": [0, 1, 2, 3, 4, 7, 8, 9, 10, 11, 14, 15],
        },
        {
            "group": "PTX-SAL",
            "agent": "saline",
            "dose": 5,
            "unit": "mL/kg",
            "route": "iv",
            "days": [0, 7, 14, 21],
        },
        {
            "group": "PTX-IVIG",
            "agent": "IVIg",
            "dose": 1,
            "unit": "g/kg",
            "route": "iv",
            "days": [0, 7, 14, 21],
        },
    ],
    "timepoints": [
        {"label": "baseline", "day": -1},
        {"label": "week 3", "day": 21},
        {"label": "week 4", "day": 28},
        {"label": "week 5", "day": 35},
    ],
    "comparisons": [
        {"reference": "VEH", "group": "PTX-SAL", "symbol": "#"},
        {"reference": "PTX-SAL", "group": "PTX-IVIG", "symbol": "*"},
    ],
    "animals": [
        {"code": "R01", "group": "VEH", "cage": "C1"},
        {"code": "R02", "group": "VEH", "cage": "C1"},
        {"code": "R03", "group": "PTX-SAL", "cage": "C2"},
        {"code": "R04", "group": "PTX-SAL", "cage": "C2"},
        {"code": "R05", "group": "PTX-IVIG", "cage": "C3"},
        {"code": "R06", "group": "PTX-IVIG", "cage": "C3"},
    ],
}


@pytest.fixture
def data():
    return copy.deepcopy(EXAMPLE)


def nothing_written() -> bool:
    return not (
        Study.objects.exists()
        or TreatmentGroup.objects.exists()
        or Animal.objects.exists()
        or Agent.objects.exists()
        or ChangeRecord.objects.exists()
    )


# --- creating ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_interchange_example_is_valid(data):
    assert validate_study_json(data) == []


@pytest.mark.django_db
def test_import_creates_the_whole_study(data, alice):
    study, created = study_import(data=data, user=alice, via="command")

    assert created is True
    assert (study.slug, study.species, study.day0, study.blinded) == (
        "rat-ptx-ivig",
        "rat",
        dt.date(2026, 1, 12),
        True,
    )
    assert study.status == Study.Status.PLANNING
    von_frey = study.assays.get(assay="von_frey")
    assert (von_frey.applications, von_frey.footpads, von_frey.max_value) == (
        10,
        ["left", "right"],
        26,
    )
    assert von_frey.double_entry is True
    hot_plate = study.assays.get(assay="hot_plate")
    assert (hot_plate.max_value, hot_plate.temperature_c, hot_plate.double_entry) == (
        30,
        54.5,
        False,
    )
    groups = list(study.groups.order_by("order"))
    assert [g.code for g in groups] == ["VEH", "PTX-SAL", "PTX-IVIG"]
    assert [g.control for g in groups] == [True, False, False]
    ivig = study.schedules.get(agent__name="IVIg")
    assert (ivig.group.code, ivig.dose, ivig.unit, ivig.route, ivig.days) == (
        "PTX-IVIG",
        1,
        "g/kg",
        "iv",
        [0, 7, 14, 21],
    )
    assert list(study.timepoints.values_list("label", "day")) == [
        ("baseline", -1),
        ("week 3", 21),
        ("week 4", 28),
        ("week 5", 35),
    ]
    assert [
        (c.reference.code, c.group.code, c.symbol) for c in study.comparisons.order_by("order")
    ] == [("VEH", "PTX-SAL", "#"), ("PTX-SAL", "PTX-IVIG", "*")]
    assert dict(study.animals.values_list("code", "group__code")) == {
        a["code"]: a["group"] for a in data["animals"]
    }


@pytest.mark.django_db
def test_import_gives_coded_labels_and_palette_colours_when_the_file_has_none(data):
    study, _ = study_import(data=data)

    groups = list(study.groups.order_by("order"))
    # In random order: labels in the design order would give the allocation away.
    assert sorted(g.blind_label for g in groups) == ["A", "B", "C"]
    assert [g.colour for g in groups] == PALETTE[:3]


@pytest.mark.django_db
def test_import_keeps_given_labels_and_colours_and_codes_the_rest_around_them(data):
    data["groups"][0]["blind_label"] = "B"
    data["groups"][1]["colour"] = "#123456"

    study, _ = study_import(data=data)

    labels = dict(study.groups.values_list("code", "blind_label"))
    assert labels["VEH"] == "B"
    assert {labels["PTX-SAL"], labels["PTX-IVIG"]} == {"A", "C"}
    assert study.groups.get(code="PTX-SAL").colour == "#123456"


@pytest.mark.django_db
def test_import_writes_a_change_record_for_every_row_it_creates(data, alice):
    study, _ = study_import(data=data, user=alice, via="command")

    records = ChangeRecord.objects.filter(study=study)
    counts = {}
    for entity in records.values_list("entity", flat=True):
        counts[entity] = counts.get(entity, 0) + 1
    assert counts == {
        "study": 1,
        "assay": 2,
        "group": 3,
        "schedule": 3,
        "timepoint": 4,
        "comparison": 2,
        "animal": 6,
    }
    assert set(records.values_list("action", "user__username", "via")) == {
        ("create", "alice", "command")
    }
    r01 = study.animals.get(code="R01")
    assert records.get(entity="animal", object_id=r01.pk).new["group"] == "VEH"


@pytest.mark.django_db
def test_import_shares_agents_between_studies_by_name(data):
    study_import(data=data)
    data["slug"] = "second"
    study_import(data=data)

    assert Agent.objects.filter(name="IVIg").count() == 1
    assert DosingSchedule.objects.filter(agent__name="IVIg").count() == 2


@pytest.mark.django_db
def test_import_accepts_the_extra_fields_and_other_spellings(data):
    data["lab_notebook"] = "LN-2026-004"  # unknown top-level keys are allowed
    data["supplier"] = "Charles River Japan"
    data["status"] = "running"
    data["groups"][0]["n_per_group"] = 10
    data["dosing"][0]["route"] = "i.p."
    data["dosing"][2]["unit"] = "µg/kg"
    data["dosing"][2]["stock_concentration"] = 50
    data["animals"][0].update(sex="male")
    data["animals"][1].update(
        status="excluded", status_reason="tail wound", status_date="2026-01-20"
    )

    study, _ = study_import(data=data)

    assert (study.supplier, study.status) == ("Charles River Japan", "running")
    assert study.schedules.get(agent__name="paclitaxel").route == "ip"
    ivig = study.schedules.get(agent__name="IVIg")
    assert (ivig.unit, ivig.stock_concentration) == ("ug/kg", 50)
    r02 = study.animals.get(code="R02")
    assert (r02.status, r02.status_reason, r02.status_date) == (
        "excluded",
        "tail wound",
        dt.date(2026, 1, 20),
    )


# --- refusals: one test per kind of problem, each naming its JSON path ------------------------


def _set(path_value):
    """A change to the example: ``(keys..., value)``; a value of ``DELETE`` removes the key."""

    def change(data):
        *keys, last, value = path_value
        target = data
        for key in keys:
            target = target[key]
        if value is DELETE:
            del target[last]
        else:
            target[last] = value

    return change


DELETE = object()

REFUSALS = [
    # (what is wrong, change, JSON path, words of the reason)
    ("format missing", _set(("format", DELETE)), "$.format", "is required"),
    ("another format", _set(("format", "cipn-study/2")), "$.format", "cipn-study/1"),
    ("slug with spaces", _set(("slug", "rat ptx")), "$.slug", "letters, digits"),
    ("title empty", _set(("title", " ")), "$.title", "must not be empty"),
    ("species unknown", _set(("species", "dog")), "$.species", "rat, mouse"),
    ("day0 not a date", _set(("day0", "12/01/2026")), "$.day0", "ISO date"),
    ("blinded not a boolean", _set(("blinded", "yes")), "$.blinded", "true or false"),
    ("status unknown", _set(("status", "done")), "$.status", "planning"),
    ("assays missing", _set(("assays", DELETE)), "$.assays", "is required"),
    ("assays empty", _set(("assays", {})), "$.assays", "at least one assay"),
    ("assay unknown", _set(("assays", "tail_flick", {})), "$.assays.tail_flick", "not an assay"),
    (
        "applications zero",
        _set(("assays", "von_frey", "applications_per_footpad", 0)),
        "$.assays.von_frey.applications_per_footpad",
        "between 1 and 50",
    ),
    (
        "applications fractional",
        _set(("assays", "von_frey", "applications_per_footpad", 2.5)),
        "$.assays.von_frey.applications_per_footpad",
        "whole number",
    ),
    (
        "force not positive",
        _set(("assays", "von_frey", "max_force_g", -26)),
        "$.assays.von_frey.max_force_g",
        "greater than 0",
    ),
    (
        "footpad unknown",
        _set(("assays", "von_frey", "footpads", ["left", "front"])),
        "$.assays.von_frey.footpads[1]",
        '"left" or "right"',
    ),
    (
        "double entry not a boolean",
        _set(("assays", "von_frey", "double_entry", 1)),
        "$.assays.von_frey.double_entry",
        "true or false",
    ),
    (
        "cut-off zero",
        _set(("assays", "hot_plate", "cutoff_s", 0)),
        "$.assays.hot_plate.cutoff_s",
        "greater than 0",
    ),
    (
        "plate temperature out of range",
        _set(("assays", "hot_plate", "temperature_c", 545)),
        "$.assays.hot_plate.temperature_c",
        "at most 70",
    ),
    ("groups missing", _set(("groups", DELETE)), "$.groups", "is required"),
    ("groups empty", _set(("groups", [])), "$.groups", "at least one group"),
    ("group not an object", _set(("groups", 1, "PTX-SAL")), "$.groups[1]", "must be an object"),
    ("group code repeated", _set(("groups", 2, "code", "PTX-SAL")), "$.groups[2].code", "repeats"),
    ("group code empty", _set(("groups", 0, "code", "")), "$.groups[0].code", "not be empty"),
    ("colour not hex", _set(("groups", 1, "colour", "red")), "$.groups[1].colour", "hex colour"),
    (
        "coded label repeated",
        lambda d: [g.update(blind_label="X") for g in d["groups"]],
        "$.groups[1].blind_label",
        "repeats the coded label",
    ),
    (
        "dosing names no group",
        _set(("dosing", 0, "group", "PTX")),
        "$.dosing[0].group",
        "names no group",
    ),
    ("agent empty", _set(("dosing", 1, "agent", "")), "$.dosing[1].agent", "not be empty"),
    ("dose zero", _set(("dosing", 2, "dose", 0)), "$.dosing[2].dose", "greater than 0"),
    ("dose negative", _set(("dosing", 2, "dose", -1)), "$.dosing[2].dose", "greater than 0"),
    ("dose not a number", _set(("dosing", 2, "dose", "1 g")), "$.dosing[2].dose", "a number"),
    ("unit unknown", _set(("dosing", 2, "unit", "g")), "$.dosing[2].unit", "mg/kg"),
    ("route unknown", _set(("dosing", 2, "route", "im")), "$.dosing[2].route", "ip, iv, sc, po"),
    (
        "stock concentration zero",
        _set(("dosing", 2, "stock_concentration", 0)),
        "$.dosing[2].stock_concentration",
        "greater than 0",
    ),
    ("days missing", _set(("dosing", 2, "days", DELETE)), "$.dosing[2].days", "is required"),
    ("days empty", _set(("dosing", 2, "days", [])), "$.dosing[2].days", "at least one day"),
    (
        "day fractional",
        _set(("dosing", 2, "days", [0, 7.5])),
        "$.dosing[2].days[1]",
        "whole number",
    ),
    ("day repeated", _set(("dosing", 2, "days", [0, 7, 7])), "$.dosing[2].days", "day 7"),
    (
        "timepoint label repeated",
        _set(("timepoints", 2, "label", "week 3")),
        "$.timepoints[2].label",
        "repeats",
    ),
    ("timepoint day repeated", _set(("timepoints", 2, "day", 21)), "$.timepoints[2].day", "day 21"),
    (
        "timepoint day a date",
        _set(("timepoints", 1, "day", 20260202)),
        "$.timepoints[1].day",
        "between",
    ),
    (
        "comparison names no group",
        _set(("comparisons", 1, "group", "PTX-CLO")),
        "$.comparisons[1].group",
        "names no group",
    ),
    (
        "comparison of a group with itself",
        _set(("comparisons", 1, "group", "PTX-SAL")),
        "$.comparisons[1].group",
        "must differ",
    ),
    (
        "comparison without symbol",
        _set(("comparisons", 0, "symbol", DELETE)),
        "$.comparisons[0].symbol",
        "is required",
    ),
    (
        "comparison repeated",
        lambda d: d["comparisons"].append(dict(d["comparisons"][0], symbol="$")),
        "$.comparisons[2]",
        "repeats the comparison",
    ),
    ("animal code repeated", _set(("animals", 3, "code", "R01")), "$.animals[3].code", "repeats"),
    (
        "animal in no group",
        _set(("animals", 0, "group", "VEHICLE")),
        "$.animals[0].group",
        "names no group",
    ),
    (
        "dead animal without a reason",
        _set(("animals", 0, "status", "dead")),
        "$.animals[0].status_reason",
        "required for a dead animal",
    ),
]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "path", "words"),
    [pytest.param(change, path, words, id=name) for name, change, path, words in REFUSALS],
)
def test_import_refuses_a_bad_file_naming_the_path_and_writes_nothing(data, change, path, words):
    change(data)

    with pytest.raises(ImportProblems) as refused:
        study_import(data=data)

    matching = [reason for where, reason in refused.value.problems if where == path]
    assert matching, refused.value.problems
    assert any(words in reason for reason in matching), matching
    assert nothing_written()


@pytest.mark.django_db
def test_import_refuses_something_that_is_not_an_object():
    with pytest.raises(ImportProblems) as refused:
        study_import(data=[EXAMPLE])

    assert refused.value.problems == [("$", "must be a JSON object, not a list")]


@pytest.mark.django_db
def test_import_lists_every_problem_at_once(data):
    data["species"] = "dog"
    data["groups"][1]["code"] = "VEH"
    data["dosing"][2]["dose"] = 0
    data["animals"][5]["group"] = "NONE"

    problems = validate_study_json(data)

    assert {where for where, _ in problems} >= {
        "$.species",
        "$.groups[1].code",
        "$.dosing[2].dose",
        "$.animals[5].group",
    }
    with pytest.raises(ImportProblems) as refused:
        study_import(data=data)
    assert refused.value.problems == problems
    assert nothing_written()


# --- round trip and update ----------------------------------------------------------------------


@pytest.mark.django_db
def test_export_then_import_gives_an_identical_study(data):
    data["groups"][2]["colour"] = "#00aa00"
    data["dosing"][2]["stock_concentration"] = 50
    data["animals"][1].update(status="dead", status_reason="found dead", status_date="2026-01-30")
    original, _ = study_import(data=data)
    exported = study_export_json(study=original)

    copied, created = study_import(data={**exported, "slug": "rat-ptx-ivig-copy"})

    assert created is True
    again = study_export_json(study=copied)
    assert again == {**exported, "slug": "rat-ptx-ivig-copy"}


@pytest.mark.django_db
def test_importing_an_export_into_its_own_study_changes_nothing(data):
    study, _ = study_import(data=data)
    records = ChangeRecord.objects.count()

    again, created = study_import(data=study_export_json(study=study))

    assert (again.pk, created) == (study.pk, False)
    assert ChangeRecord.objects.count() == records
    study.refresh_from_db()
    assert study.version == 1


@pytest.mark.django_db
def test_export_reads_the_study_in_seven_queries(data, django_assert_num_queries):
    study, _ = study_import(data=data)

    # assays, groups, schedules with group and agent, timepoints, comparisons with both groups,
    # animals with group: one query each; plus the study row itself below.
    with django_assert_num_queries(7):
        exported = study_export_json(study=Study.objects.get(pk=study.pk))

    assert len(exported["animals"]) == 6


@pytest.mark.django_db
def test_export_reads_a_larger_study_in_the_same_seven_queries(data, django_assert_num_queries):
    data["animals"] = [
        {"code": f"R{n:03d}", "group": ["VEH", "PTX-SAL", "PTX-IVIG"][n % 3]} for n in range(90)
    ]
    study, _ = study_import(data=data)

    with django_assert_num_queries(7):
        exported = study_export_json(study=Study.objects.get(pk=study.pk))

    assert len(exported["animals"]) == 90


@pytest.mark.django_db
def test_a_second_import_with_the_same_slug_updates_the_study(data, alice):
    study, _ = study_import(data=data)
    data["title"] = "IVIg in p-CIPN (rat), second cohort"
    data["groups"][2]["name"] = "Paclitaxel + IVIg 1 g/kg"
    data["timepoints"].append({"label": "week 6", "day": 42})
    data["animals"].append({"code": "R07", "group": "PTX-IVIG"})
    data["animals"][0]["group"] = "PTX-SAL"  # moved

    updated, created = study_import(data=data, user=alice)

    assert (updated.pk, created) == (study.pk, False)
    assert updated.title == "IVIg in p-CIPN (rat), second cohort"
    assert updated.version == 2
    assert Study.objects.count() == 1
    assert updated.groups.get(code="PTX-IVIG").name == "Paclitaxel + IVIg 1 g/kg"
    assert updated.timepoints.count() == 5
    assert updated.animals.count() == 7
    assert updated.animals.get(code="R01").group.code == "PTX-SAL"
    move = ChangeRecord.objects.get(
        entity="animal", action="update", object_id=updated.animals.get(code="R01").pk
    )
    assert (move.old, move.new, move.user.username) == (
        {"group": "VEH"},
        {"group": "PTX-SAL"},
        "alice",
    )


@pytest.mark.django_db
def test_an_update_returns_what_it_changed(data):
    study_import(data=data)
    data["dosing"][2]["days"] = [0, 7, 14, 21, 28]
    data["comparisons"].pop()

    report = study_import_report(data=data)

    assert report.created is False
    assert dict(report.changes) == {("schedule", "update"): 1, ("comparison", "delete"): 1}
    assert report.lines() == ["removed 1 comparison", "changed 1 dosing schedule"]


@pytest.mark.django_db
def test_an_update_follows_a_new_order_of_the_groups(data):
    study, _ = study_import(data=data)
    data["groups"].reverse()

    study_import(data=data)

    assert list(study.groups.order_by("order").values_list("code", flat=True)) == [
        "PTX-IVIG",
        "PTX-SAL",
        "VEH",
    ]
    assert study_export_json(study=study)["groups"][0]["code"] == "PTX-IVIG"


@pytest.mark.django_db
def test_an_update_keeps_what_the_file_leaves_out(data):
    data["groups"][1]["colour"] = "#abcdef"
    study, _ = study_import(data=data)
    del data["animals"]
    del data["groups"][1]["colour"]
    del data["day0"]

    study_import(data=data)

    study.refresh_from_db()
    assert study.day0 == dt.date(2026, 1, 12)
    assert study.animals.count() == 6
    assert study.groups.get(code="PTX-SAL").colour == "#abcdef"


@pytest.mark.django_db
def test_an_update_removes_design_rows_without_data_and_keeps_them_in_the_audit_trail(data):
    study, _ = study_import(data=data)
    week5 = study.timepoints.get(day=35)
    data["timepoints"] = [t for t in data["timepoints"] if t["day"] != 35]
    data["animals"] = [a for a in data["animals"] if a["code"] != "R06"]

    study_import(data=data)

    assert not Timepoint.objects.filter(pk=week5.pk).exists()
    assert not study.animals.filter(code="R06").exists()
    removal = ChangeRecord.objects.get(entity="timepoint", action="delete")
    assert removal.old == {"label": "week 5", "day": 35}


@pytest.mark.django_db
def test_an_update_refuses_to_remove_a_timepoint_with_sessions(data):
    study, _ = study_import(data=data)
    MeasurementSession.objects.create(
        study=study, timepoint=study.timepoints.get(day=21), assay="von_frey"
    )
    data["timepoints"] = [t for t in data["timepoints"] if t["day"] != 21]
    data["title"] = "changed"
    records = ChangeRecord.objects.count()

    with pytest.raises(ImportProblems) as refused:
        study_import(data=data)

    assert refused.value.problems == [
        ("$.timepoints", "leaves out 'week 3' (day 21), which has measurement sessions")
    ]
    study.refresh_from_db()
    assert study.title == EXAMPLE["title"]
    assert study.timepoints.filter(day=21).exists()
    assert ChangeRecord.objects.count() == records


@pytest.mark.django_db
def test_an_update_refuses_to_remove_an_assay_with_sessions(data):
    study, _ = study_import(data=data)
    MeasurementSession.objects.create(
        study=study, timepoint=study.timepoints.get(day=21), assay="hot_plate"
    )
    del data["assays"]["hot_plate"]

    with pytest.raises(ImportProblems) as refused:
        study_import(data=data)

    assert refused.value.problems == [
        ("$.assays", "leaves out hot_plate, which has measurement sessions")
    ]
    assert StudyAssay.objects.filter(study=study, assay="hot_plate").exists()


@pytest.mark.django_db
def test_an_update_refuses_to_remove_an_animal_with_a_body_weight(data):
    study, _ = study_import(data=data)
    r06 = study.animals.get(code="R06")
    BodyWeight.objects.create(animal=r06, date=dt.date(2026, 1, 11), grams=251)
    data["animals"].pop()

    with pytest.raises(ImportProblems) as refused:
        study_import(data=data)

    assert refused.value.problems == [
        ("$.animals", "leaves out animal 'R06', which has body weights")
    ]
    assert Animal.objects.filter(pk=r06.pk).exists()


@pytest.mark.django_db
def test_an_update_refuses_to_remove_a_group_with_animals(data):
    study_import(data=data)
    data["groups"].pop()
    data["dosing"].pop()
    data["comparisons"].pop()
    del data["animals"]

    with pytest.raises(ImportProblems) as refused:
        study_import(data=data)

    assert refused.value.problems == [
        ("$.groups", "leaves out group 'PTX-IVIG', which has animals")
    ]
    assert TreatmentGroup.objects.filter(code="PTX-IVIG").exists()


@pytest.mark.django_db
def test_an_update_refuses_to_drop_dose_days_that_were_recorded(data, bob):
    study, _ = study_import(data=data)
    schedule = study.schedules.get(agent__name="IVIg")
    DoseRecord.objects.create(
        schedule=schedule,
        animal=study.animals.get(code="R05"),
        day=7,
        status="given",
        given_at=dt.datetime(2026, 1, 19, 10, tzinfo=dt.UTC),
        recorded_by=bob,
    )
    data["dosing"][2]["days"] = [0, 14, 21]

    with pytest.raises(ImportProblems) as refused:
        study_import(data=data)

    assert refused.value.problems == [
        ("$.dosing[2].days", "leaves out day 7, which has recorded doses")
    ]
    schedule.refresh_from_db()
    assert schedule.days == [0, 7, 14, 21]


@pytest.mark.django_db
def test_an_update_that_breaks_a_database_rule_is_refused_as_a_problem(data):
    data["groups"][0]["blind_label"] = "A"
    data["groups"][1]["blind_label"] = "B"
    study_import(data=data)
    # Swapping two coded labels passes through a state where both groups have the same one.
    data["groups"][0]["blind_label"] = "B"
    data["groups"][1]["blind_label"] = "A"

    with pytest.raises(ImportProblems) as refused:
        study_import(data=data)

    assert refused.value.problems == [("$.groups[0]", "Coded labels must differ between groups.")]
    assert dict(TreatmentGroup.objects.values_list("code", "blind_label"))["VEH"] == "A"


@pytest.mark.django_db
def test_import_refuses_to_change_a_locked_study(data):
    study, _ = study_import(data=data)
    Study.objects.filter(pk=study.pk).update(status=Study.Status.LOCKED)
    records = ChangeRecord.objects.count()
    data["title"] = "changed after locking"

    with pytest.raises(StudyLocked):
        study_import(data=data)

    study.refresh_from_db()
    assert study.title == EXAMPLE["title"]
    assert ChangeRecord.objects.count() == records
