"""The audit trail: every write path (pages, API, imports, bulk operations, commands) leaves a
``ChangeRecord`` with who, when, the old and new value, why and through what; nothing is
deleted through the application; and the history pages show it to those who may see it."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from django.contrib import admin
from django.core.management import call_command
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from behavior.models import Discrepancy, Entry, MeasurementSession, Reading
from studies.interchange import study_export_json
from studies.models import (
    Animal,
    BodyWeight,
    ChangeRecord,
    DoseRecord,
    Membership,
    Study,
)
from studies.selectors_history import reading_get, reading_history
from tests.factories import imported_readings, make_study
from tests.security import scenario
from tests.security.test_permission_matrix import MATRIX

pytestmark = pytest.mark.django_db


@pytest.fixture
def scn(study, alice, bob, carol):
    return scenario.build(study, pi=alice, first=bob, second=carol)


def entries_without_a_record() -> set[int]:
    """Entries whose creation no record holds: neither a ``create`` record of their own (at
    the bench, in the API, or joining a stored reading in an import) nor their reading's part
    of the import record of its session naming their experimenter, value and behaviour."""
    creates = ChangeRecord.objects.filter(action="create")
    own = set(creates.filter(entity="entry").values_list("object_id", flat=True))
    held = set()
    for reading_id, (_, new) in imported_readings().items():
        behaviors = new.get("behaviors", {})
        for experimenter, value in new.get("entries", {}).items():
            held.add((reading_id, experimenter, value, behaviors.get(experimenter, "")))
    return {
        pk
        for pk, *entry in Entry.objects.values_list(
            "pk", "reading_id", "experimenter", "value", "behavior"
        )
        if pk not in own and tuple(entry) not in held
    }


def last_record(study: Study, entity: str, **filters) -> ChangeRecord:
    record = ChangeRecord.objects.filter(study=study, entity=entity, **filters).first()
    assert record is not None, f"no {entity} record with {filters}"
    # Written just now, by the application's clock.
    assert timezone.now() - record.at < dt.timedelta(minutes=1)
    return record


def as_user(client, user):
    client.force_login(user)
    return client


# --- pages ------------------------------------------------------------------------------------


def test_an_entry_and_its_edit_on_the_entry_page_are_kept_with_who_and_why(client, scn, bob):
    url = reverse("behavior:entry_value", args=[scn.study.slug, -1, "von_frey"])
    payload = {"animal": scn.animal.pk, "footpad": "right", "application": 1, "value": 15.5}
    as_user(client, bob).post(url, json.dumps(payload), content_type="application/json")
    entry = Entry.objects.get(reading__footpad="right", experimenter="bob")
    created = last_record(scn.study, "entry", object_id=entry.pk, action="create")

    payload |= {"value": 15.8, "expected_version": 1}
    response = client.post(url, json.dumps(payload), content_type="application/json")

    assert response.status_code == 200, response.content
    changed = last_record(scn.study, "entry", object_id=entry.pk, action="update")
    assert (created.user, created.via, created.new["value"]) == (bob, "page", 15.5)
    assert (changed.old["value"], changed.new["value"]) == (15.5, 15.8)
    assert changed.reason == "corrected during entry"
    assert changed.user == bob


def test_resolving_on_the_page_keeps_the_old_and_new_value_and_the_reason(client, scn, alice):
    discrepancy = scn.open_discrepancy
    url = reverse("behavior:discrepancy_resolve", args=[scn.study.slug, discrepancy.pk])
    p = f"d{discrepancy.pk}"

    as_user(client, alice).post(
        url, {f"{p}-value": "16", f"{p}-reason": "other", f"{p}-note": "read-out checked"}
    )

    record = last_record(scn.study, "discrepancy", object_id=discrepancy.pk, action="update")
    assert (record.old["status"], record.new["status"]) == ("open", "resolved")
    reading = last_record(scn.study, "reading", object_id=discrepancy.reading_id)
    assert (reading.old["value"], reading.new["value"]) == (None, 16.0)
    assert (reading.user, reading.via) == (alice, "page")
    assert "read-out checked" in reading.reason


def test_a_dose_recorded_on_the_page_is_kept_with_who_and_the_values(client, scn, bob):
    as_user(client, bob).post(
        reverse("studies:dose_record", args=[scn.study.slug]),
        {"schedule": scn.schedule.pk, "animal": scn.animal.pk, "day": 7, "status": "given"},
    )

    dose = DoseRecord.objects.get(animal=scn.animal, day=7)
    record = last_record(scn.study, "dose", object_id=dose.pk, action="create")
    assert (record.user, record.via, record.new["status"], record.new["day"]) == (
        bob,
        "page",
        "given",
        7,
    )


def test_a_corrected_weight_on_the_page_keeps_the_old_one(client, scn, bob):
    url = reverse("studies:weight_record", args=[scn.study.slug])
    as_user(client, bob).post(url, {"animal": scn.animal.pk, "grams": 250})
    client.post(url, {"animal": scn.animal.pk, "grams": 255})

    weight = BodyWeight.objects.get(animal=scn.animal, date=timezone.localdate())
    record = last_record(scn.study, "weight", object_id=weight.pk, action="update")
    assert (record.old, record.new["grams"], record.reason) == ({"grams": 250}, 255, "corrected")


def test_registered_animals_are_kept_with_who_and_what(client, study, alice):
    as_user(client, alice).post(
        reverse("studies:animals", args=[study.slug]), {"text": "N1 C9 male 240"}
    )

    animal = Animal.objects.get(study=study, code="N1")
    record = last_record(study, "animal", object_id=animal.pk, action="create")
    assert record.new == {"code": "N1", "cage": "C9", "sex": "male", "weight_g": 240}
    assert (record.user, record.reason) == (alice, "registered from a pasted list")


def test_an_allocation_keeps_each_animals_old_and_new_group_and_the_seed(client, study, alice):
    Animal.objects.filter(study=study).update(group=None)
    for animal in study.animals.all():
        BodyWeight.objects.create(animal=animal, date=timezone.localdate(), grams=240)

    response = as_user(client, alice).post(
        reverse("studies:allocate", args=[study.slug]),
        {"seed": 11, "balance_on": "weight", "n_VEH": 3, "n_PTX-SAL": 3, "n_PTX-IVIG": 3},
    )

    assert response.status_code == 302
    records = ChangeRecord.objects.filter(study=study, entity="animal", action="update")
    assert records.count() == 9
    for record in records:
        assert record.old == {"group": None}
        assert record.new["group"] in {"VEH", "PTX-SAL", "PTX-IVIG"}
        assert record.reason == "random allocation, seed 11, balanced on weight"
        assert record.user == alice


def test_locking_is_kept_with_who_and_why(client, study, alice):
    as_user(client, alice).post(reverse("studies:status", args=[study.slug]), {"status": "locked"})

    record = last_record(study, "study", action="update")
    assert (record.old, record.new) == ({"status": "running"}, {"status": "locked"})
    assert (record.user, record.reason) == (alice, "study finished")


def test_an_edit_of_the_study_keeps_the_old_and_new_fields(client, study, alice):
    as_user(client, alice).post(
        reverse("studies:edit", args=[study.slug]), {"title": "Renamed", "version": study.version}
    )

    record = last_record(study, "study", action="update")
    assert (record.old, record.new, record.user) == (
        {"title": "Study rat-ptx"},
        {"title": "Renamed"},
        alice,
    )


# --- the REST API -------------------------------------------------------------------------------


def api_post(client, user, name: str, study: Study, data: dict, **kwargs):
    client.force_login(user)
    url = reverse(name, kwargs={"slug": study.slug, **kwargs})
    response = client.post(url, json.dumps(data), content_type="application/json")
    assert response.status_code in (200, 201), response.content
    return response


def test_every_api_write_is_kept_with_via_api(client, scn, alice, bob):
    study = scn.study
    api_post(client, bob, "api-session-readings", study, {
        "animal": "R02", "values": [{"footpad": "left", "application": 1, "value": 12.5}],
    }, id=scn.von_frey.pk)  # fmt: skip
    api_post(client, alice, "api-discrepancy-resolve", study, {"value": 16, "reason": "remeasured"},
             id=scn.open_discrepancy.pk)  # fmt: skip
    dose = {"schedule": scn.schedule.pk, "animal": "R01", "day": 7, "status": "given"}
    api_post(client, bob, "api-doses", study, dose)
    api_post(client, bob, "api-weights", study,
             {"animal": "R01", "date": timezone.localdate().isoformat(), "grams": 261})  # fmt: skip
    api_post(client, alice, "api-animals", study, {"text": "N1 C9"})
    api_post(client, alice, "api-groups", study, {"code": "CLO"})
    api_post(client, alice, "api-timepoints", study, {"label": "week 6", "day": 42})
    api_post(client, alice, "api-comparisons", study,
             {"reference": "VEH", "group": "PTX-IVIG", "symbol": "$"})  # fmt: skip
    api_post(client, alice, "api-schedules", study, {"group": "CLO", "agent": "clodronate",
             "dose": 5.6, "unit": "mg/body", "route": "iv", "days": [2, 5]})  # fmt: skip

    by_api = ChangeRecord.objects.filter(study=study, via="api")
    written = set(by_api.values_list("entity", "action", "user__username"))
    assert written >= {
        ("entry", "create", "bob"),
        ("discrepancy", "update", "alice"),
        ("reading", "update", "alice"),
        ("dose", "create", "bob"),
        ("weight", "create", "bob"),
        ("animal", "create", "alice"),
        ("group", "create", "alice"),
        ("timepoint", "create", "alice"),
        ("comparison", "create", "alice"),
        ("schedule", "create", "alice"),
    }
    assert all(record.new for record in by_api)


def test_an_allocation_through_the_api_is_kept(client, study, alice):
    Animal.objects.filter(study=study).update(group=None)
    for animal in study.animals.all():
        BodyWeight.objects.create(animal=animal, date=timezone.localdate(), grams=240)

    api_post(client, alice, "api-allocation", study, {"seed": 3})

    records = ChangeRecord.objects.filter(study=study, entity="animal", via="api")
    assert records.count() == 9
    assert {r.reason for r in records} == {"random allocation, seed 3, balanced on weight"}


# --- imports, bulk operations and commands ------------------------------------------------------


def _readings_csv(tmp_path: Path, rows: list[str]) -> Path:
    path = tmp_path / "readings.csv"
    header = "animal,day,assay,footpad,application,value,experimenter,behavior\n"
    path.write_text(header + "\n".join(rows) + "\n")
    return path


def test_import_readings_writes_a_record_for_every_value_and_discrepancy(tmp_path, study):
    path = _readings_csv(
        tmp_path,
        [
            "R01,21,von_frey,left,1,12.0,ann",
            "R01,21,von_frey,left,1,12.0,ben",
            "R01,21,von_frey,left,2,10.0,ann",
            "R01,21,von_frey,left,2,14.0,ben",
            "R02,21,hot_plate,,1,8.5,ann,lick",
        ],
    )

    call_command("import_readings", study.slug, str(path))

    assert Entry.objects.count() == 5
    assert entries_without_a_record() == set()
    readings = set(Reading.objects.values_list("pk", flat=True))
    assert readings and set(imported_readings(study=study)) == readings
    sessions = set(MeasurementSession.objects.values_list("pk", flat=True))
    imports = ChangeRecord.objects.filter(study=study, entity="import", action="create")
    assert sorted(imports.values_list("object_id", flat=True)) == sorted(sessions)
    discrepancy = Discrepancy.objects.get()
    record = last_record(study, "discrepancy", object_id=discrepancy.pk, action="create")
    assert record.new["values"] == {"ann": 10.0, "ben": 14.0}
    kept = ChangeRecord.objects.filter(study=study)
    assert set(kept.values_list("via", "reason")) == {("command", "readings import")}


def test_a_second_import_records_each_entry_it_adds_to_a_stored_value(tmp_path, study):
    for line in ("R01,21,von_frey,left,1,12.0,ann", "R01,21,von_frey,left,1,12.0,ben"):
        call_command("import_readings", study.slug, str(_readings_csv(tmp_path, [line])))

    added = Entry.objects.get(experimenter="ben")
    record = last_record(study, "entry", object_id=added.pk, action="create")
    assert record.new == {"experimenter": "ben", "value": 12.0, "behavior": ""}
    assert entries_without_a_record() == set()
    counted = last_record(study, "reading", object_id=added.reading_id, action="update")
    assert (counted.old["state"], counted.new["state"]) == ("unverified", "verified")


def test_the_upload_page_writes_records_with_who_uploaded(client, study, bob):
    text = "animal,day,assay,footpad,application,value,experimenter\nR05,21,hot_plate,,1,7.5,x\n"
    from django.core.files.uploadedfile import SimpleUploadedFile

    as_user(client, bob).post(
        reverse("behavior:upload", args=[study.slug]),
        {"file": SimpleUploadedFile("r.csv", text.encode(), content_type="text/csv")},
    )

    reading = Entry.objects.get().reading
    record, state = imported_readings()[reading.pk]
    assert (record.user, record.via, state["entries"]) == (bob, "upload", {"x": 7.5})


def test_import_study_writes_a_record_for_every_row_it_creates_and_changes(tmp_path, study, alice):
    data = study_export_json(study=study)
    path = tmp_path / "study.json"
    path.write_text(json.dumps(data))
    data["title"] = "Retitled"
    data["animals"][0]["cage"] = "C7"
    changed_path = tmp_path / "changed.json"
    changed_path.write_text(json.dumps(data))
    Study.objects.filter(pk=study.pk).update(slug="old-copy")

    call_command("import_study", str(path))
    call_command("import_study", str(changed_path))

    imported = Study.objects.get(slug=study.slug)
    creates = ChangeRecord.objects.filter(study=imported, action="create")
    assert creates.filter(entity="animal").count() == imported.animals.count()
    assert creates.filter(entity="group").count() == imported.groups.count()
    title = last_record(imported, "study", action="update")
    assert (title.old, title.new, title.reason, title.via) == (
        {"title": "Study rat-ptx"},
        {"title": "Retitled"},
        "study import",
        "command",
    )
    cage = last_record(imported, "animal", action="update")
    assert (cage.old, cage.new) == ({"cage": ""}, {"cage": "C7"})


def test_load_demo_writes_a_record_for_every_row_of_research_data(db):
    call_command("load_demo")

    readings = set(Reading.objects.values_list("pk", flat=True))
    assert readings and readings <= set(imported_readings())
    for model, entity in (
        (DoseRecord, "dose"),
        (BodyWeight, "weight"),
        (Animal, "animal"),
        (Discrepancy, "discrepancy"),
    ):
        ids = set(model.objects.values_list("pk", flat=True))
        recorded = set(
            ChangeRecord.objects.filter(entity=entity, action="create").values_list(
                "object_id", flat=True
            )
        )
        assert ids <= recorded, f"{entity}: {len(ids - recorded)} rows without a record"
    assert Entry.objects.exists()
    assert entries_without_a_record() == set()


def test_the_study_member_command_is_kept(study, eve):
    call_command("study_member", study.slug, "eve", "viewer")

    membership = Membership.objects.get(study=study, user=eve)
    record = last_record(study, "membership", object_id=membership.pk, action="create")
    assert (record.new, record.via) == ({"user": "eve", "role": "viewer"}, "command")


# --- nothing is deleted -------------------------------------------------------------------------


RESEARCH_MODELS = [
    Study,
    Animal,
    DoseRecord,
    BodyWeight,
    MeasurementSession,
    Reading,
    Entry,
    Discrepancy,
    ChangeRecord,
]


def _counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in RESEARCH_MODELS}


def test_no_url_deletes_research_data(client, scn, root):
    """Every URL of the application answered DELETE (and PUT, PATCH) by staff, who may do
    everything a PI may: nothing is removed, and the API says the method is not allowed."""
    before = _counts()
    client.force_login(root)
    for row in MATRIX:
        kwargs = (
            row.kwargs(scn)
            if row.kwargs
            else ({"slug": scn.study.slug} if row.study_scoped else {})
        )
        url = reverse(row.name, kwargs=kwargs)
        for method in ("delete", "put", "patch"):
            response = getattr(client, method)(url)
            if url.startswith("/api/") and row.name not in ("api-docs", "api-redoc", "api-schema"):
                assert response.status_code == 405, (method, url, response.status_code)
            else:
                # A page may answer a PUT like a POST (the login form does): what matters is
                # that nothing is removed, checked below.
                assert response.status_code < 500, (method, url)
        client.force_login(root)  # in case a method logged out
    assert _counts() == before


@pytest.mark.parametrize("model", RESEARCH_MODELS, ids=lambda m: m.__name__)
def test_the_admin_cannot_delete_research_data(model, root):
    request = RequestFactory().get("/admin/")
    request.user = root
    model_admin = admin.site._registry[model]

    assert not model_admin.has_delete_permission(request)
    assert not model_admin.has_delete_permission(request, model.objects.first())


def test_the_admin_delete_page_refuses_staff(client, scn, root):
    client.force_login(root)
    animal_url = reverse("admin:studies_animal_delete", args=[scn.animal.pk])
    entry_url = reverse("admin:behavior_entry_delete", args=[Entry.objects.first().pk])

    assert client.post(animal_url, {"post": "yes"}).status_code == 403
    assert client.post(entry_url, {"post": "yes"}).status_code == 403
    assert Animal.objects.filter(pk=scn.animal.pk).exists()


# --- the history pages --------------------------------------------------------------------------


def test_the_pi_sees_every_change_of_the_study_newest_first(
    client, scn, alice, django_assert_num_queries
):
    as_user(client, alice)
    url = reverse("studies:history", args=[scn.study.slug])

    # session, user; study with the membership (role); count, page of records; entity list; and, the
    # login's first request, the session's expiry moved (a savepoint, the update, its release)
    with django_assert_num_queries(9):
        response = client.get(url)

    items = response.context["items"]
    assert [i.record.pk for i in items] == list(
        ChangeRecord.objects.filter(study=scn.study)
        .order_by("-at", "-id")
        .values_list("pk", flat=True)[:100]
    )
    assert "cremophor-vehicle" in response.content.decode()


def test_the_history_costs_the_same_queries_for_a_bigger_study(
    client, alice, bob, carol, django_assert_num_queries
):
    small = scenario.build(
        make_study(slug="small", members={alice: "pi", bob: "technician", carol: "technician"}),
        pi=alice,
        first=bob,
        second=carol,
    )
    big = scenario.build(
        make_study(
            slug="big",
            animals_per_group=12,
            members={alice: "pi", bob: "technician", carol: "technician"},
        ),
        pi=alice,
        first=bob,
        second=carol,
    )
    as_user(client, alice)
    client.get(reverse("studies:history", args=[small.study.slug]))  # moves the expiry
    for scn in (small, big):
        with django_assert_num_queries(6):
            client.get(reverse("studies:history", args=[scn.study.slug]))


def test_the_history_narrows_to_one_object(client, scn, alice):
    entry = Entry.objects.filter(reading=scn.verified).first()
    url = reverse("studies:history", args=[scn.study.slug]) + f"?entity=entry&object={entry.pk}"

    items = as_user(client, alice).get(url).context["items"]

    assert [(i.record.entity, i.record.object_id) for i in items] == [("entry", entry.pk)]


def test_the_history_of_a_session_holds_its_values_and_nothing_else(client, scn, alice):
    url = reverse("studies:history", args=[scn.study.slug]) + f"?session={scn.hot_plate.pk}"

    items = as_user(client, alice).get(url).context["items"]

    assert {i.record.entity for i in items} == {"session", "entry", "reading"}
    assert all(i.record.entity != "dose" for i in items)


def _upload(client, study, user, lines: list[str]) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    text = "animal,day,assay,footpad,application,value,experimenter,behavior\n"
    text += "\n".join(lines) + "\n"
    response = as_user(client, user).post(
        reverse("behavior:upload", args=[study.slug]),
        {"file": SimpleUploadedFile("r.csv", text.encode(), content_type="text/csv")},
    )
    assert response.status_code == 302, response.content


def test_the_history_of_an_imported_value_shows_who_imported_it_when_how_and_the_values(
    client, study, alice, bob
):
    _upload(
        client,
        study,
        bob,
        ["R01,21,von_frey,left,1,12.5,ann,", "R01,21,von_frey,left,1,12.5,ben,"],
    )
    reading = Reading.objects.get()
    url = reverse("studies:reading_history", args=[study.slug, reading.pk])

    response = as_user(client, alice).get(url)

    items = response.context["items"]
    record = items[0].record
    # The reading's part of its session's import record, shown as the reading's creation.
    assert [(i.entity, i.record.action) for i in items] == [("reading", "create")]
    assert (record.entity, record.object_id) == ("import", reading.session_id)
    assert (record.user, record.via, record.reason) == (bob, "upload", "readings import")
    assert timezone.now() - record.at < dt.timedelta(minutes=1)
    shown = {f.name: f.new_shown for f in items[0].fields}
    assert shown == {
        "state": "verified",
        "value": 12.5,
        "behavior": "",
        "entries": "ann: 12.5, ben: 12.5",
    }
    html = response.content.decode()
    assert "ann: 12.5, ben: 12.5" in html
    assert timezone.localtime(record.at).strftime("%Y-%m-%d %H:%M:%S") in html
    assert all(text in html for text in ("bob", "upload", "readings import"))


def test_a_values_history_shows_only_its_own_part_of_its_sessions_imports(
    client, study, alice, bob, django_assert_num_queries
):
    _upload(client, study, bob, ["R01,21,hot_plate,,1,8.5,ann,"])
    _upload(client, study, bob, ["R02,21,hot_plate,,1,9.5,ann,"])
    first = reading_get(study=study, pk=Reading.objects.get(animal__code="R01").pk)
    # A record an import wrote per reading before they were kept per session, still shown.
    ChangeRecord.objects.create(
        study=study, entity="reading", object_id=first.pk, action="update", new={"value": 8.5}
    )
    as_user(client, alice)

    with django_assert_num_queries(3):
        history = reading_history(reading=first, sees_allocation=True)

    assert ChangeRecord.objects.filter(entity="import", object_id=first.session_id).count() == 2
    assert [(i.entity, i.record.action) for i in history.items] == [
        ("reading", "create"),
        ("reading", "update"),
    ]
    assert {f.name: f.new for f in history.items[0].fields}["entries"] == {"ann": 8.5}
    url = reverse("studies:reading_history", args=[study.slug, first.pk])
    assert "9.5" not in client.get(url).content.decode()


def test_the_history_of_an_imported_session_finds_every_value_of_it(client, study, alice, bob):
    _upload(
        client,
        study,
        bob,
        [
            "R01,21,hot_plate,,1,8.5,ann,lick",
            "R02,21,hot_plate,,1,9.5,ann,",
            "R03,-1,hot_plate,,1,7,ann,",
        ],
    )
    session = MeasurementSession.objects.get(timepoint__day=21)
    url = reverse("studies:history", args=[study.slug]) + f"?session={session.pk}"

    response = as_user(client, alice).get(url)

    items = response.context["items"]
    assert sorted((i.record.entity, i.record.object_id) for i in items) == [
        ("import", session.pk),
        ("session", session.pk),
    ]
    imported = next(i for i in items if i.record.entity == "import")
    readings = Reading.objects.filter(session=session).values_list("pk", flat=True)
    assert sorted(imported.record.new["readings"]) == sorted(readings)
    assert [(f.name, f.new_shown) for f in imported.fields] == [("readings", "2 created")]
    assert "2 created" in response.content.decode()
    # From the session's record to each value's history, which shows what was imported.
    reading = Reading.objects.get(session=session, animal__code="R01")
    history = client.get(reverse("studies:reading_history", args=[study.slug, reading.pk]))
    [created] = history.context["items"]
    assert (created.entity, created.record.pk) == ("reading", imported.record.pk)
    assert {f.name: f.new_shown for f in created.fields} == {
        "state": "verified",
        "value": 8.5,
        "behavior": "lick",
        "entries": "ann: 8.5",
        "behaviors": "ann: lick",
    }


@pytest.mark.parametrize("who", ["bob", "dave"])
def test_technicians_and_viewers_are_refused_the_study_history(client, scn, who, django_user_model):
    client.force_login(django_user_model.objects.get(username=who))

    assert client.get(reverse("studies:history", args=[scn.study.slug])).status_code == 403


def test_the_history_of_a_value_shows_entries_discrepancy_and_resolution(
    client, scn, alice, django_assert_num_queries
):
    reading = scn.resolved_discrepancy.reading
    url = reverse("studies:reading_history", args=[scn.study.slug, reading.pk])
    as_user(client, alice)

    # session, user; study with the membership; reading; entries; discrepancies; records; and,
    # the login's first request, the session's expiry moved (3)
    with django_assert_num_queries(10):
        response = client.get(url)

    items = response.context["items"]
    assert [(i.record.entity, i.record.action) for i in items] == [
        ("entry", "create"),
        ("entry", "create"),
        ("discrepancy", "create"),
        ("discrepancy", "update"),
        ("reading", "update"),
    ]
    html = response.content.decode()
    assert "Re-measured" in html and "10.0" in html


def test_a_technician_waits_for_the_second_entry_before_seeing_a_values_history(client, scn, bob):
    waiting = Reading.objects.filter(session=scn.hot_plate).first()
    waiting.state = Reading.State.UNVERIFIED
    waiting.save(update_fields=["state"])
    as_user(client, bob)

    refused = client.get(reverse("studies:reading_history", args=[scn.study.slug, waiting.pk]))
    verified = client.get(
        reverse("studies:reading_history", args=[scn.study.slug, scn.verified.pk])
    )

    assert refused.status_code == 403
    assert verified.status_code == 200


def test_a_technician_of_a_blinded_study_sees_no_group_in_a_values_history(
    client, alice, bob, carol, dave
):
    blinded = make_study(
        slug="rat-blind",
        blinded=True,
        members={alice: "pi", bob: "technician", carol: "technician", dave: "viewer"},
    )
    scn = scenario.build(blinded, pi=alice, first=bob, second=carol)
    url = reverse(
        "studies:reading_history", args=[blinded.slug, scn.resolved_discrepancy.reading_id]
    )

    technician = as_user(client, bob).get(url).content.decode()
    pi = as_user(client, alice).get(url).content.decode()

    assert f"group {scn.animal.group.code}" in pi
    assert scn.animal.group.code not in technician


def test_an_outsider_gets_404_for_a_values_history(client, scn, eve):
    url = reverse("studies:reading_history", args=[scn.study.slug, scn.verified.pk])

    assert as_user(client, eve).get(url).status_code == 404


def test_the_study_page_links_the_pi_to_the_history(client, scn, alice, bob):
    url = reverse("studies:detail", args=[scn.study.slug])
    history = reverse("studies:history", args=[scn.study.slug])

    assert history in as_user(client, alice).get(url).content.decode()
    assert history not in as_user(client, bob).get(url).content.decode()


def test_the_discrepancy_page_links_each_value_to_its_history(client, scn, bob):
    html = (
        as_user(client, bob)
        .get(reverse("behavior:discrepancies", args=[scn.study.slug]) + "?show=all")
        .content.decode()
    )

    for discrepancy in (scn.open_discrepancy, scn.resolved_discrepancy):
        assert (
            reverse("studies:reading_history", args=[scn.study.slug, discrepancy.reading_id])
            in html
        )
