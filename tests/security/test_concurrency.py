"""Two people editing the same thing never overwrite each other silently, and a form posted twice
or an API call retried never stores a value twice: the same value again changes nothing, a
different one is a conflict or an edit kept with its reason."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse
from django.utils import timezone

from behavior.models import Discrepancy, Entry
from studies.models import Animal, BodyWeight, ChangeRecord, DoseRecord, Study
from tests.security import scenario

pytestmark = pytest.mark.django_db


@pytest.fixture
def scn(study, alice, bob, carol):
    return scenario.build(study, pi=alice, first=bob, second=carol)


def records() -> int:
    return ChangeRecord.objects.count()


# --- two editors ------------------------------------------------------------------------------


def test_the_second_of_two_study_edits_from_the_same_version_is_refused(client, study, alice, root):
    url = reverse("studies:edit", args=[study.slug])
    version = study.version  # both editors opened the form at this version
    client.force_login(alice)
    client.post(url, {"title": "Alice's title", "version": version})
    client.force_login(root)

    response = client.post(url, {"title": "Root's title", "version": version})

    assert response.status_code == 400
    assert "was changed by someone else" in response.content.decode()
    assert Study.objects.get(pk=study.pk).title == "Alice's title"


def test_a_stale_value_on_the_entry_endpoint_is_a_conflict_with_the_stored_value(client, scn, bob):
    url = reverse("behavior:entry_value", args=[scn.study.slug, -1, "von_frey"])
    slot = {"animal": scn.animal.pk, "footpad": "right", "application": 1}
    client.force_login(bob)
    client.post(url, json.dumps(slot | {"value": 12.0}), content_type="application/json")
    # Another tab of the same experimenter changes it (version 1 -> 2) ...
    client.post(
        url,
        json.dumps(slot | {"value": 12.4, "expected_version": 1}),
        content_type="application/json",
    )

    # ... and this tab, still at version 1, saves another value.
    response = client.post(
        url,
        json.dumps(slot | {"value": 13.0, "expected_version": 1}),
        content_type="application/json",
    )

    assert response.status_code == 409
    body = json.loads(response.content)
    assert "changed since it was read" in body["message"]
    assert body["extra"]["current"] == {"value": 12.4, "behavior": "", "version": 2}
    assert Entry.objects.get(reading__footpad="right", experimenter="bob").value == 12.4


def test_a_stale_value_through_the_api_is_refused_with_409(client, scn, bob):
    url = reverse("api-session-readings", args=[scn.study.slug, scn.von_frey.pk])
    client.force_login(bob)
    first = {"footpad": "right", "application": 1, "value": 12.0}
    client.post(url, json.dumps({"animal": "R01", "values": [first]}), "application/json")
    edit = first | {"value": 12.4, "expected_version": 1}
    client.post(url, json.dumps({"animal": "R01", "values": [edit]}), "application/json")

    stale = first | {"value": 13.0, "expected_version": 1}
    response = client.post(
        url, json.dumps({"animal": "R01", "values": [stale]}), "application/json"
    )

    assert response.status_code == 409
    assert set(json.loads(response.content)) == {"message", "extra"}
    assert Entry.objects.get(reading__footpad="right", experimenter="bob").value == 12.4


def test_resolving_a_discrepancy_someone_just_resolved_is_refused(client, scn, alice, bob):
    discrepancy = scn.open_discrepancy
    url = reverse("behavior:discrepancy_resolve", args=[scn.study.slug, discrepancy.pk])
    p = f"d{discrepancy.pk}"
    client.force_login(alice)
    client.post(url, {f"{p}-value": "16", f"{p}-reason": "remeasured"})
    client.force_login(bob)

    response = client.post(url, {f"{p}-value": "14", f"{p}-reason": "remeasured"})

    assert response.status_code == 400
    assert "already resolved" in response.content.decode()
    assert Discrepancy.objects.get(pk=discrepancy.pk).resolved_value == 16


# --- double submits and retries -----------------------------------------------------------------


def test_a_dose_form_posted_twice_stores_one_dose(client, scn, bob):
    url = reverse("studies:dose_record", args=[scn.study.slug])
    form = {"schedule": scn.schedule.pk, "animal": scn.animal.pk, "day": 7, "status": "given"}
    client.force_login(bob)
    client.post(url, form)
    before = records()

    client.post(url, form)

    assert DoseRecord.objects.filter(animal=scn.animal, day=7).count() == 1
    assert records() == before


def test_a_dose_recorded_again_as_missed_is_an_edit_with_its_reason(client, scn, bob):
    url = reverse("studies:dose_record", args=[scn.study.slug])
    form = {"schedule": scn.schedule.pk, "animal": scn.animal.pk, "day": 7}
    client.force_login(bob)
    client.post(url, form | {"status": "given"})

    client.post(url, form | {"status": "missed", "reason": "animal escaped the restrainer"})

    dose = DoseRecord.objects.get(animal=scn.animal, day=7)
    change = ChangeRecord.objects.filter(entity="dose", object_id=dose.pk, action="update").get()
    assert (change.old["status"], change.new["status"]) == ("given", "missed")
    assert change.reason == "animal escaped the restrainer"


def test_a_weight_form_posted_twice_stores_one_weight(client, scn, bob):
    url = reverse("studies:weight_record", args=[scn.study.slug])
    client.force_login(bob)
    client.post(url, {"animal": scn.animal.pk, "grams": 262})
    before = records()

    client.post(url, {"animal": scn.animal.pk, "grams": 262})

    assert BodyWeight.objects.filter(animal=scn.animal, date=timezone.localdate()).count() == 1
    assert records() == before


def test_the_animals_form_posted_twice_registers_them_once(client, study, alice):
    url = reverse("studies:animals", args=[study.slug])
    text = "N1 C9 male 240\nN2 C9 male 251"
    client.force_login(alice)
    client.post(url, {"text": text})
    before = records()

    response = client.post(url, {"text": text}, follow=True)

    assert response.status_code == 200
    assert "already registered: nothing changed" in response.content.decode()
    assert Animal.objects.filter(study=study, code__in=["N1", "N2"]).count() == 2
    assert BodyWeight.objects.filter(animal__code__in=["N1", "N2"]).count() == 2
    assert records() == before


def test_a_list_that_only_partly_repeats_is_refused_naming_the_line(client, study, alice):
    url = reverse("studies:animals", args=[study.slug])
    client.force_login(alice)
    client.post(url, {"text": "N1 C9 male 240"})

    response = client.post(url, {"text": "N1 C9 male 240\nN2 C9 male 251"})

    assert response.status_code == 400
    assert "line 1: animal N1 is already in the study" in response.content.decode()
    assert not Animal.objects.filter(code="N2").exists()


def test_the_same_code_with_another_cage_is_refused_not_skipped(client, study, alice):
    url = reverse("studies:animals", args=[study.slug])
    client.force_login(alice)
    client.post(url, {"text": "N1 C9 male 240"})

    response = client.post(url, {"text": "N1 C4 male 240"})

    assert response.status_code == 400
    assert Animal.objects.get(code="N1").cage == "C9"


@pytest.mark.parametrize(
    ("name", "payload"),
    [
        ("api-doses", lambda s: {"schedule": s.schedule.pk, "animal": "R01", "day": 7,
                                 "status": "given"}),
        ("api-weights", lambda s: {"animal": "R01", "date": timezone.localdate().isoformat(),
                                   "grams": 261}),
        ("api-animals", lambda s: {"text": "N1 C9 male 240"}),
        ("api-session-readings", lambda s: {"animal": "R02", "values": [
            {"footpad": "left", "application": 1, "value": 12.5},
            {"footpad": "left", "application": 2, "value": 13.5},
        ]}),
        ("api-sessions", lambda s: {"day": 21, "assay": "von_frey"}),
    ],
)  # fmt: skip
def test_a_retried_api_call_stores_nothing_twice(client, scn, alice, name, payload):
    kwargs = {"slug": scn.study.slug}
    if name == "api-session-readings":
        kwargs["id"] = scn.von_frey.pk
    url = reverse(name, kwargs=kwargs)
    client.force_login(alice)
    first = client.post(url, json.dumps(payload(scn)), content_type="application/json")
    assert first.status_code == 201, first.content
    rows = {
        m.__name__: m.objects.count() for m in (DoseRecord, BodyWeight, Animal, Entry, ChangeRecord)
    }

    again = client.post(url, json.dumps(payload(scn)), content_type="application/json")

    assert again.status_code in (200, 201), again.content
    assert {
        m.__name__: m.objects.count() for m in (DoseRecord, BodyWeight, Animal, Entry, ChangeRecord)
    } == rows


def test_a_retried_batch_says_nothing_was_created_or_changed(client, scn, bob):
    url = reverse("api-session-readings", args=[scn.study.slug, scn.von_frey.pk])
    batch = {"animal": "R02", "values": [{"footpad": "left", "application": 1, "value": 12.5}]}
    client.force_login(bob)
    client.post(url, json.dumps(batch), content_type="application/json")

    again = client.post(url, json.dumps(batch), content_type="application/json")

    assert again.status_code == 200
    result = json.loads(again.content)["results"][0]
    assert (result["created"], result["changed"], result["version"]) == (False, False, 1)


def test_uploading_the_same_readings_twice_stores_them_once(client, study, bob):
    from django.core.files.uploadedfile import SimpleUploadedFile

    text = b"animal,day,assay,footpad,application,value,experimenter\nR05,21,hot_plate,,1,7.5,x\n"
    url = reverse("behavior:upload", args=[study.slug])
    client.force_login(bob)
    client.post(url, {"file": SimpleUploadedFile("r.csv", text, content_type="text/csv")})
    before = records()

    response = client.post(
        url, {"file": SimpleUploadedFile("r.csv", text, content_type="text/csv")}, follow=True
    )

    assert "0 values (1 already there)" in response.content.decode()
    assert Entry.objects.count() == 1
    assert records() == before
