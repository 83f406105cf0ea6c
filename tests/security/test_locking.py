"""A locked study is read-only everywhere: every write path refuses with a message that says
so, and nothing in the database changes (not even the audit trail)."""

from __future__ import annotations

import json

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from behavior import services as entry_services
from behavior.models import Discrepancy, Entry, MeasurementSession, Reading
from studies import services
from studies.errors import StudyLocked
from studies.interchange import study_export_json, study_import
from studies.models import (
    Animal,
    BodyWeight,
    ChangeRecord,
    Comparison,
    DoseRecord,
    DosingSchedule,
    Study,
    Timepoint,
    TreatmentGroup,
)
from tests.security import scenario
from tests.security.test_permission_matrix import MATRIX

pytestmark = pytest.mark.django_db

LOCKED = "is locked"
MODELS = [
    Study,
    TreatmentGroup,
    Animal,
    DosingSchedule,
    DoseRecord,
    BodyWeight,
    Timepoint,
    Comparison,
    MeasurementSession,
    Reading,
    Entry,
    Discrepancy,
    ChangeRecord,
]


def snapshot() -> dict[str, list[dict]]:
    """Every row of every research model, as stored."""
    return {m.__name__: list(m.objects.order_by("pk").values()) for m in MODELS}


@pytest.fixture
def locked(study, alice, bob, carol):
    scn = scenario.build(study, pi=alice, first=bob, second=carol)
    services.study_lock(study=study, user=alice, reason="paper submitted")
    scn.study.refresh_from_db()
    return scn


# Every write of the pages and the API, from the permission matrix, except those that do not
# write into the study: creating another study, logging out, and giving someone a role (access
# to a finished study, for a reviewer, is not a change to its data).
NOT_STUDY_WRITES = {"logout", "studies:new", "studies:new_from_design", "studies:members"}
WRITES = [row for row in MATRIX if row.method == "post" and row.name not in NOT_STUDY_WRITES]


@pytest.mark.parametrize("row", WRITES, ids=lambda row: row.id)
def test_every_write_of_a_locked_study_is_refused_with_a_message(client, locked, root, row):
    """As staff, whom no role check stops: only the lock does."""
    client.force_login(root)
    kwargs = row.kwargs(locked) if row.kwargs else {"slug": locked.study.slug}
    url = reverse(row.name, kwargs=kwargs) + (f"?{row.query}" if row.query else "")
    before = snapshot()

    if row.json:
        response = client.post(url, json.dumps(row.data(locked)), content_type="application/json")
    else:
        response = client.post(url, row.data(locked), follow=True)

    assert snapshot() == before
    text = response.content.decode()
    assert f"Study {locked.study.slug} {LOCKED}: it is read-only." in text, (
        response.status_code,
        text[:500],
    )
    if row.name.startswith("api-") or row.json:
        assert response.status_code == 403
        assert json.loads(text)["message"].endswith("is locked: it is read-only.")


def test_import_readings_refuses_a_locked_study_and_writes_nothing(tmp_path, locked):
    path = tmp_path / "readings.csv"
    path.write_text(
        "animal,day,assay,footpad,application,value,experimenter\nR05,21,hot_plate,,1,7.5,x\n"
    )
    before = snapshot()

    with pytest.raises(CommandError, match=LOCKED):
        call_command("import_readings", locked.study.slug, str(path))

    assert snapshot() == before


def test_import_study_refuses_a_locked_study_and_writes_nothing(tmp_path, locked, capsys):
    data = study_export_json(study=locked.study)
    data["title"] = "Changed after the lock"
    path = tmp_path / "study.json"
    path.write_text(json.dumps(data))
    before = snapshot()

    with pytest.raises(SystemExit) as exit_status:
        call_command("import_study", str(path))

    assert exit_status.value.code == 1
    assert LOCKED in capsys.readouterr().err
    assert snapshot() == before


def test_the_services_refuse_a_locked_study_whoever_calls_them(locked, alice, bob):
    """The commands and scripts call the services with no user (user=None): still refused."""
    study = locked.study
    before = snapshot()
    calls = [
        lambda: entry_services.entry_save(
            session=locked.von_frey, animal=locked.animal, footpad="right", application=1,
            value=12.0, experimenter="bob", user=None,
        ),
        lambda: entry_services.entries_save(
            session=locked.von_frey, animal=locked.animal, experimenter="bob", user=bob,
            values=[{"footpad": "right", "application": 1, "value": 12.0}],
        ),
        lambda: entry_services.discrepancy_resolve(
            discrepancy=locked.open_discrepancy, value=16, reason="remeasured", user=None
        ),
        lambda: entry_services.readings_import(study=study, rows=[{
            "animal": "R05", "day": 21, "assay": "hot_plate", "footpad": "",
            "application": 1, "value": 7.5, "experimenter": "x",
        }]),
        lambda: entry_services.session_open(
            study=study, timepoint=study.timepoints.get(day=21), assay="von_frey", user=None
        ),
        lambda: services.study_update(study=study, user=alice, expected_version=study.version,
                                      title="Changed"),
        lambda: services.study_set_status(study=study, status="running", user=alice),
        lambda: services.group_add(study=study, code="CLO", name="Clodronate", user=None),
        lambda: services.timepoint_add(study=study, label="week 6", day=42, user=None),
        lambda: services.animals_register(study=study, text="N1", user=None),
        lambda: services.animal_set_status(animal=locked.animal, status="dead", reason="x",
                                           user=None),
        lambda: services.animals_allocate(study=study, seed=1, user=None),
        lambda: services.dose_record(schedule=locked.schedule, animal=locked.animal, day=7,
                                     status="given", user=None),
        lambda: services.body_weight_record(animal=locked.animal, date=study.created_at.date(),
                                            grams=300, user=None),
        lambda: services.schedule_set_stock(schedule=locked.schedule, stock_concentration=1,
                                            user=None),
        lambda: study_import(data=study_export_json(study=study) | {"title": "Changed"}),
    ]  # fmt: skip
    for number, call in enumerate(calls):
        with pytest.raises(StudyLocked, match=LOCKED):
            call()
        assert snapshot() == before, f"call {number} changed something"


def test_locking_is_for_good_a_locked_study_cannot_be_reopened(client, locked, alice):
    client.force_login(alice)

    for status in ("running", "planning"):
        client.post(reverse("studies:status", args=[locked.study.slug]), {"status": status})

    assert Study.objects.get(pk=locked.study.pk).status == Study.Status.LOCKED


def test_a_locked_study_still_shows_everything_read_only(client, locked, alice, bob):
    client.force_login(bob)
    entry = client.get(reverse("behavior:session_entry", args=[locked.study.slug, -1, "von_frey"]))
    client.force_login(alice)
    detail = client.get(reverse("studies:detail", args=[locked.study.slug]))

    assert entry.status_code == 200
    assert "locked: values are shown read-only" in entry.content.decode()
    assert 'name="status" value="locked"' not in detail.content.decode()
