"""The entry pages: sessions, the grid and its JSON endpoint, progress, discrepancies, upload."""

from __future__ import annotations

import io
import json

import pytest
from django.test import Client
from django.urls import reverse
from openpyxl import Workbook

from behavior.models import Discrepancy, Entry, MeasurementSession, Reading
from behavior.services import entry_save, session_open
from studies.models import Animal, Assay, ChangeRecord, Study, StudyAssay
from tests.factories import make_study

VF = Assay.VON_FREY
HP = Assay.HOT_PLATE
BASELINE = -1


def url(name: str, study: Study, *args) -> str:
    return reverse(f"behavior:{name}", args=[study.slug, *args])


def open_session(study: Study, user, *, assay: str = VF, day: int = BASELINE):
    return session_open(
        study=study, timepoint=study.timepoints.get(day=day), assay=assay, user=user
    )


def post_value(client, study: Study, assay: str = VF, day: int = BASELINE, **body):
    return client.post(
        url("entry_value", study, day, assay), json.dumps(body), content_type="application/json"
    )


def fill(session, user, *, value=lambda animal, footpad, app: 10.0) -> None:
    """Enter every value of the session as ``user``."""
    study_assay = StudyAssay.objects.get(study=session.study, assay=session.assay)
    footpads = study_assay.footpads or [""]
    for animal in session.study.animals.order_by("code"):
        for footpad in footpads:
            for app in range(1, study_assay.applications + 1):
                entry_save(
                    session=session,
                    animal=animal,
                    footpad=footpad,
                    application=app,
                    value=value(animal, footpad, app),
                    experimenter=user.username,
                    user=user,
                )


@pytest.fixture
def small_study(alice, bob, carol, dave):
    """Two animals, two applications per footpad: a whole double entry in a few saves."""
    study = make_study(
        slug="rat-small",
        groups=("VEH", "PTX"),
        animals_per_group=1,
        members={alice: "pi", bob: "technician", carol: "technician", dave: "viewer"},
    )
    StudyAssay.objects.filter(study=study, assay=VF).update(applications=2)
    return study


# --- sessions ---------------------------------------------------------------------------------


def test_sessions_lists_every_timepoint_and_assay_with_progress(client, study, bob):
    session = open_session(study, bob)
    animal = study.animals.get(code="R01")
    entry_save(
        session=session,
        animal=animal,
        footpad="left",
        application=1,
        value=9.5,
        experimenter="bob",
        user=bob,
    )
    client.force_login(bob)
    response = client.get(url("sessions", study))
    assert response.status_code == 200
    rows = response.context["rows"]
    assert [(r.timepoint.day, r.assay) for r in rows] == [(-1, HP), (-1, VF), (21, HP), (21, VF)]
    vf = rows[1]
    assert vf.session == session
    assert vf.by_experimenter == {"bob": 1}
    assert vf.expected == 9 * 2 * 10
    assert "bob 1/180" in response.content.decode()


def test_sessions_is_not_found_for_a_user_outside_the_study(client, study, eve):
    client.force_login(eve)
    assert client.get(url("sessions", study)).status_code == 404


def test_sessions_asks_an_anonymous_visitor_to_log_in(client, study):
    response = client.get(url("sessions", study))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_sessions_page_runs_the_same_queries_for_a_small_and_a_large_study(
    client, django_assert_num_queries, alice, bob
):
    small = make_study(slug="q-small", animals_per_group=1, members={alice: "pi"})
    large = make_study(slug="q-large", animals_per_group=8, members={alice: "pi"})
    for study in (small, large):
        session = open_session(study, alice)
        fill(session, alice, value=lambda a, f, app: 11.0)
    client.force_login(alice)
    client.get(url("sessions", small))  # moves the session's expiry
    # session, user, study with the membership, timepoints, assays, animals, sessions, states,
    # entries
    with django_assert_num_queries(9):
        assert client.get(url("sessions", small)).status_code == 200
    with django_assert_num_queries(9):
        assert client.get(url("sessions", large)).status_code == 200


# --- opening a session ------------------------------------------------------------------------


def test_a_session_not_yet_opened_offers_the_technician_to_open_it(client, study, bob):
    client.force_login(bob)
    response = client.get(url("session_entry", study, BASELINE, VF))
    assert response.status_code == 200
    assert b"Open session" in response.content
    assert not MeasurementSession.objects.exists()


def test_posting_opens_the_session_and_shows_the_grid(client, study, bob):
    client.force_login(bob)
    entry_url = url("session_entry", study, BASELINE, VF)
    response = client.post(entry_url, {"date": "2026-01-11", "instrument": "IITC 2390"})
    assert response.status_code == 302
    assert response.url == entry_url
    session = MeasurementSession.objects.get()
    assert (session.assay, session.timepoint.day, session.instrument) == (VF, -1, "IITC 2390")
    assert ChangeRecord.objects.filter(entity="session", object_id=session.pk).exists()
    assert client.get(entry_url).status_code == 200


def test_a_viewer_cannot_open_a_session(client, study, dave):
    client.force_login(dave)
    response = client.post(url("session_entry", study, BASELINE, VF), {"date": ""})
    assert response.status_code == 403
    assert not MeasurementSession.objects.exists()


def test_an_outsider_cannot_open_a_session(client, study, eve):
    client.force_login(eve)
    assert client.post(url("session_entry", study, BASELINE, VF)).status_code == 404
    assert not MeasurementSession.objects.exists()


def test_an_unknown_assay_or_day_is_not_found(client, study, bob):
    client.force_login(bob)
    assert client.get(url("session_entry", study, BASELINE, "tail_flick")).status_code == 404
    assert client.get(url("session_entry", study, 99, VF)).status_code == 404


def test_a_locked_study_opens_no_session(client, study, bob):
    Study.objects.filter(pk=study.pk).update(status=Study.Status.LOCKED)
    client.force_login(bob)
    assert client.post(url("session_entry", study, BASELINE, VF), {}).status_code == 403
    assert not MeasurementSession.objects.exists()


# --- the grid ---------------------------------------------------------------------------------


def test_the_grid_has_a_cell_per_animal_footpad_and_application(client, study, bob):
    open_session(study, bob)
    client.force_login(bob)
    response = client.get(url("session_entry", study, BASELINE, VF))
    html = response.content.decode()
    assert html.count('class="v"') == 9 * 2 * 10
    assert 'inputmode="decimal"' in html
    assert 'data-footpad="right" data-application="10"' in html
    assert "js/entry.js" in html


def test_the_grid_shows_only_the_experimenters_own_values(client, study, bob, carol):
    session = open_session(study, bob)
    r01 = study.animals.get(code="R01")
    for who, value in ((bob, 12.3), (carol, 17.9)):
        entry_save(
            session=session,
            animal=r01,
            footpad="left",
            application=1,
            value=value,
            experimenter=who.username,
            user=who,
        )
    client.force_login(carol)
    html = client.get(url("session_entry", study, BASELINE, VF)).content.decode()
    assert 'value="17.9"' in html
    assert "12.3" not in html


def test_a_technician_of_a_blinded_study_sees_coded_labels_and_no_group(client, blinded_study, bob):
    open_session(blinded_study, bob)
    client.force_login(bob)
    html = client.get(url("session_entry", blinded_study, BASELINE, VF)).content.decode()
    for group in blinded_study.groups.all():
        assert group.code not in html
        assert group.name not in html
    assert '<td class="grp">A</td>' in html


def test_the_pi_of_a_blinded_study_sees_the_group_codes(client, blinded_study, alice):
    open_session(blinded_study, alice)
    client.force_login(alice)
    html = client.get(url("session_entry", blinded_study, BASELINE, VF)).content.decode()
    assert '<td class="grp">PTX-SAL</td>' in html


def test_a_viewer_opening_the_grid_is_sent_to_the_progress_page(client, study, bob, dave):
    open_session(study, bob)
    client.force_login(dave)
    response = client.get(url("session_entry", study, BASELINE, VF))
    assert response.status_code == 302
    assert response.url == url("session_progress", study, BASELINE, VF)


def test_the_grid_page_runs_the_same_queries_for_a_small_and_a_large_study(
    client, django_assert_num_queries, bob
):
    small = make_study(slug="g-small", animals_per_group=1, members={bob: "technician"})
    large = make_study(slug="g-large", animals_per_group=8, members={bob: "technician"})
    for study in (small, large):
        fill(open_session(study, bob), bob, value=lambda a, f, app: 8.0 + app)
    client.force_login(bob)
    client.get(url("session_entry", small, BASELINE, VF))
    # session, user, study with the membership, study assay, timepoint, session, animals with
    # groups, own entries, values per experimenter
    with django_assert_num_queries(9):
        small_page = client.get(url("session_entry", small, BASELINE, VF))
    with django_assert_num_queries(9):
        large_page = client.get(url("session_entry", large, BASELINE, VF))
    assert small_page.content.decode().count('class="v"') == 3 * 20
    assert large_page.content.decode().count('class="v"') == 24 * 20


def test_the_hot_plate_page_has_a_stopwatch_and_behaviour_keys(client, study, bob):
    open_session(study, bob, assay=HP)
    client.force_login(bob)
    html = client.get(url("session_entry", study, BASELINE, HP)).content.decode()
    assert 'id="stopwatch"' in html
    assert "js/stopwatch.js" in html
    assert html.count('data-behavior="lick"') == 9
    assert html.count('class="v"') == 9


def test_a_locked_study_shows_the_grid_read_only(client, study, bob):
    open_session(study, bob)
    Study.objects.filter(pk=study.pk).update(status=Study.Status.LOCKED)
    client.force_login(bob)
    html = client.get(url("session_entry", study, BASELINE, VF)).content.decode()
    assert "locked" in html
    assert html.count(" readonly") == 180


# --- the JSON endpoint ------------------------------------------------------------------------


def test_a_value_is_saved_and_answered_with_its_version_and_running_mean(client, study, bob):
    session = open_session(study, bob)
    r01 = study.animals.get(code="R01")
    client.force_login(bob)
    first = post_value(client, study, animal=r01.pk, footpad="left", application=1, value=10)
    second = post_value(client, study, animal=r01.pk, footpad="left", application=2, value="13")
    assert first.status_code == second.status_code == 200
    body = second.json()
    assert body["ok"] is True
    assert body["value"] == 13.0
    assert body["version"] == 1
    assert body["footpad_mean"] == pytest.approx(11.5)
    assert body["entered"] == 2
    # Under blind double entry the reading's state is withheld until both have finished.
    assert body["state"] == "entered"
    entry = Entry.objects.get(reading__session=session, reading__application=2)
    assert (entry.experimenter, entry.value, entry.entered_by) == ("bob", 13.0, bob)


def test_a_decimal_comma_is_read_as_a_point(client, study, bob):
    open_session(study, bob)
    client.force_login(bob)
    response = post_value(
        client,
        study,
        animal=study.animals.first().pk,
        footpad="left",
        application=1,
        value="12,5",
    )
    assert response.json()["value"] == 12.5


def test_saving_the_same_value_again_changes_nothing(client, study, bob):
    open_session(study, bob)
    r01 = study.animals.get(code="R01")
    client.force_login(bob)
    body = {"animal": r01.pk, "footpad": "left", "application": 1, "value": 9.1}
    post_value(client, study, **body)
    again = post_value(client, study, **body, expected_version=0)
    assert again.status_code == 200
    assert again.json()["message"] == "Already saved."
    assert Entry.objects.count() == 1
    assert ChangeRecord.objects.filter(entity="entry").count() == 1


def test_a_changed_value_is_an_edit_kept_in_the_audit_trail(client, study, bob):
    open_session(study, bob)
    r01 = study.animals.get(code="R01")
    client.force_login(bob)
    body = {"animal": r01.pk, "footpad": "left", "application": 1}
    post_value(client, study, **body, value=9.1)
    response = post_value(client, study, **body, value=9.7, expected_version=1)
    assert response.json()["version"] == 2
    assert response.json()["changed"] is True
    change = ChangeRecord.objects.get(entity="entry", action="update")
    assert (change.old["value"], change.new["value"], change.user) == (9.1, 9.7, bob)
    assert change.reason == "corrected during entry"


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"value": 99}, "value", "Force must be at most 26 g."),
        ({"value": 0}, "value", "Force must be greater than 0 g."),
        ({"value": "abc"}, "value", "Force must be a number, not 'abc'."),
        ({"value": ""}, "value", "Enter a value."),
        ({"footpad": "front"}, "footpad", "Footpad must be left or right."),
        ({"application": 11}, "application", "Application must be a whole number from 1 to 10."),
        ({"application": 0}, "application", "Application numbers start at 1."),
        ({"behavior": "lick"}, "behavior", "Behaviour must be empty for von Frey."),
    ],
)
def test_a_bad_value_is_refused_with_a_message_naming_the_field(
    client, study, bob, body, field, message
):
    open_session(study, bob)
    client.force_login(bob)
    payload = {
        "animal": study.animals.first().pk,
        "footpad": "left",
        "application": 1,
        "value": 10,
        **body,
    }
    response = post_value(client, study, **payload)
    assert response.status_code == 400
    data = response.json()
    assert data["extra"]["fields"][field] == [message]
    assert data["message"] == f"{field}: {message}"
    assert not Entry.objects.exists()


def test_a_hot_plate_behaviour_at_the_cut_off_is_refused(client, study, bob):
    open_session(study, bob, assay=HP)
    client.force_login(bob)
    response = post_value(
        client,
        study,
        HP,
        animal=study.animals.first().pk,
        footpad="",
        application=1,
        value=30,
        behavior="lick",
    )
    assert response.status_code == 400
    assert response.json()["extra"]["fields"]["behavior"] == [
        "Behaviour must be empty at the 30 s cut-off."
    ]


def test_an_animal_of_another_study_is_refused(client, study, bob):
    open_session(study, bob)
    other = make_study(slug="other-study")
    client.force_login(bob)
    response = post_value(
        client, study, animal=other.animals.first().pk, footpad="left", application=1, value=5
    )
    assert response.status_code == 400
    assert response.json()["extra"]["fields"] == {"animal": ["This animal is not in the study."]}


@pytest.mark.parametrize("animal", [0, 10**6, 2**63, 10**30])
def test_an_animal_id_that_no_animal_has_is_refused_naming_the_animal(client, study, bob, animal):
    open_session(study, bob)
    client.force_login(bob)
    response = post_value(client, study, animal=animal, footpad="left", application=1, value=5)
    assert response.status_code == 400
    assert list(response.json()["extra"]["fields"]) == ["animal"]
    assert Entry.objects.count() == 0


def test_a_session_not_opened_is_not_found_whatever_the_body(client, study, bob):
    client.force_login(bob)
    for body in ("value=3", "null", '{"animal": 1, "values": []}'):
        response = client.post(
            url("entry_value", study, BASELINE, VF), body, content_type="application/json"
        )
        assert response.status_code == 404
        assert response.json()["message"] == "This session has not been opened."


def test_a_body_that_is_not_json_is_refused(client, study, bob):
    open_session(study, bob)
    client.force_login(bob)
    response = client.post(
        url("entry_value", study, BASELINE, VF), "value=3", content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["message"] == "The request body is not JSON."


def test_a_batch_answers_each_value_as_it_would_be_answered_alone(client, study, bob, carol):
    session = open_session(study, bob)
    r01, r02 = study.animals.get(code="R01"), study.animals.get(code="R02")
    for animal in (r01, r02):
        for application, value in ((1, 10.0), (2, 11.0), (3, 12.0)):
            entry_save(
                session=session,
                animal=animal,
                footpad="left",
                application=application,
                value=value,
                experimenter="bob",
                user=bob,
            )
        entry_save(
            session=session,
            animal=animal,
            footpad="left",
            application=3,
            value=12.0,
            experimenter="carol",
            user=carol,
        )
    # Agreeing, disagreeing, already saved, new, and new then corrected.
    values = [
        {"footpad": "left", "application": 1, "value": 10.0},
        {"footpad": "left", "application": 2, "value": 12.0},
        {"footpad": "left", "application": 3, "value": 12.0},
        {"footpad": "right", "application": 1, "value": 8.0},
        {"footpad": "right", "application": 1, "value": 8.5},
    ]
    client.force_login(carol)
    alone = [post_value(client, study, animal=r01.pk, **item).json() for item in values]

    batch = post_value(client, study, animal=r02.pk, values=values).json()

    fields = ("value", "behavior", "version", "state", "created", "changed")
    assert [{k: r[k] for k in fields} for r in batch["results"]] == [
        {k: r[k] for k in fields} for r in alone
    ]
    assert batch["footpad_means"] == {
        "left": alone[2]["footpad_mean"],
        "right": alone[4]["footpad_mean"],
    }
    assert batch["entered"] == alone[-1]["entered"] + 3  # left 1, left 2, right 1
    assert Discrepancy.objects.filter(reading__animal=r02).count() == 1


def test_a_stale_version_is_a_conflict_answered_with_the_stored_value(client, study, bob):
    open_session(study, bob)
    r01 = study.animals.get(code="R01")
    client.force_login(bob)
    body = {"animal": r01.pk, "footpad": "left", "application": 1}
    post_value(client, study, **body, value=9.1)
    post_value(client, study, **body, value=9.3, expected_version=1)  # another device
    response = post_value(client, study, **body, value=9.9, expected_version=1)
    assert response.status_code == 409
    assert response.json()["extra"]["current"] == {"value": 9.3, "behavior": "", "version": 2}
    assert Entry.objects.get().value == 9.3


def test_a_value_stored_meanwhile_in_an_empty_cell_is_a_conflict(client, study, bob):
    open_session(study, bob)
    r01 = study.animals.get(code="R01")
    client.force_login(bob)
    body = {"animal": r01.pk, "footpad": "left", "application": 1}
    post_value(client, study, **body, value=9.1)
    # Another page loaded before that save still thinks the cell is empty (version 0).
    response = post_value(client, study, **body, value=9.9, expected_version=0)
    assert response.status_code == 409
    assert Entry.objects.get().value == 9.1


def test_a_stale_value_in_a_batch_is_named_and_nothing_of_the_batch_is_saved(client, study, bob):
    open_session(study, bob)
    r01 = study.animals.get(code="R01")
    client.force_login(bob)
    post_value(client, study, animal=r01.pk, footpad="left", application=2, value=9.1)
    values = [
        {"footpad": "left", "application": 1, "value": 8.0, "expected_version": 0},
        {"footpad": "left", "application": 2, "value": 9.9, "expected_version": 0},  # stale
    ]
    response = client.post(
        url("entry_value", study, BASELINE, VF),
        json.dumps({"animal": r01.pk, "values": values}),
        content_type="application/json",
    )
    assert response.status_code == 409
    message = response.json()["message"]
    assert response.json()["extra"]["fields"] == {"values[1].expected_version": [message]}
    assert list(Entry.objects.values_list("value", flat=True)) == [9.1]


def test_a_viewer_may_not_save_a_value(client, study, bob, dave):
    open_session(study, bob)
    client.force_login(dave)
    response = post_value(
        client, study, animal=study.animals.first().pk, footpad="left", application=1, value=5
    )
    assert response.status_code == 403
    assert "viewer" in response.json()["message"]
    assert not Entry.objects.exists()


def test_an_outsider_saving_a_value_gets_not_found(client, study, bob, eve):
    open_session(study, bob)
    client.force_login(eve)
    response = post_value(
        client, study, animal=study.animals.first().pk, footpad="left", application=1, value=5
    )
    assert response.status_code == 404
    assert not Entry.objects.exists()


def test_a_locked_study_refuses_a_value(client, study, bob):
    open_session(study, bob)
    Study.objects.filter(pk=study.pk).update(status=Study.Status.LOCKED)
    client.force_login(bob)
    response = post_value(
        client, study, animal=study.animals.first().pk, footpad="left", application=1, value=5
    )
    assert response.status_code == 403
    assert response.json()["extra"]["code"] == "locked"
    assert not Entry.objects.exists()


def test_a_logged_out_page_gets_401_so_it_keeps_its_values(client, study, bob):
    open_session(study, bob)
    response = post_value(
        client, study, animal=study.animals.first().pk, footpad="left", application=1, value=5
    )
    assert response.status_code == 401


def test_the_endpoint_refuses_a_post_without_the_csrf_token(study, bob):
    open_session(study, bob)
    client = Client(enforce_csrf_checks=True)
    client.force_login(bob)
    response = post_value(
        client, study, animal=study.animals.first().pk, footpad="left", application=1, value=5
    )
    assert response.status_code == 403
    assert not Entry.objects.exists()


def test_the_endpoint_accepts_only_post(client, study, bob):
    open_session(study, bob)
    client.force_login(bob)
    assert client.get(url("entry_value", study, BASELINE, VF)).status_code == 405


def test_a_third_experimenter_is_refused_naming_the_field(client, small_study, bob, carol, alice):
    session = open_session(small_study, bob)
    r01 = small_study.animals.get(code="R01")
    for who in (bob, carol):
        entry_save(
            session=session,
            animal=r01,
            footpad="left",
            application=1,
            value=10,
            experimenter=who.username,
            user=who,
        )
    client.force_login(alice)
    response = post_value(
        client, small_study, animal=r01.pk, footpad="left", application=1, value=10
    )
    assert response.status_code == 400
    assert "experimenter" in response.json()["extra"]["fields"]


def test_the_state_is_revealed_once_both_experimenters_have_finished(
    client, small_study, bob, carol
):
    session = open_session(small_study, bob)
    fill(session, bob, value=lambda a, f, app: 10.0)
    fill(session, carol, value=lambda a, f, app: 10.0 if app == 1 else 11.0)  # edit below
    client.force_login(carol)
    r01 = small_study.animals.get(code="R01")
    response = post_value(
        client,
        small_study,
        animal=r01.pk,
        footpad="left",
        application=2,
        value=10,
        expected_version=1,
    )
    body = response.json()
    assert body["state"] == Reading.State.VERIFIED
    assert body["complete"] is True


# --- progress ---------------------------------------------------------------------------------


def test_progress_counts_entered_verified_and_disputed_per_animal_and_footpad(
    client, small_study, bob, carol, dave
):
    session = open_session(small_study, bob)
    fill(session, bob, value=lambda a, f, app: 10.0)
    fill(
        session,
        carol,
        value=lambda a, f, app: 14.0 if (a.code, f, app) == ("R01", "left", 2) else 10.0,
    )
    client.force_login(dave)
    response = client.get(url("session_progress", small_study, BASELINE, VF))
    assert response.status_code == 200
    progress = response.context["progress"]
    assert progress.experimenters == ["bob", "carol"]
    rows = {(r.animal.code, r.footpad): r for r in progress.rows}
    assert rows[("R01", "left")].status == "disputed"
    assert (rows[("R01", "left")].verified, rows[("R01", "left")].disputed) == (1, 1)
    assert rows[("R02", "right")].status == "verified"
    assert (progress.expected, progress.verified, progress.disputed) == (8, 7, 1)


def test_progress_is_not_found_for_an_outsider(client, study, bob, eve):
    open_session(study, bob)
    client.force_login(eve)
    assert client.get(url("session_progress", study, BASELINE, VF)).status_code == 404


def test_progress_of_a_session_not_opened_is_not_found(client, study, bob):
    client.force_login(bob)
    assert client.get(url("session_progress", study, BASELINE, VF)).status_code == 404


def test_the_progress_page_runs_the_same_queries_for_a_small_and_a_large_study(
    client, django_assert_num_queries, bob
):
    small = make_study(slug="p-small", animals_per_group=1, members={bob: "technician"})
    large = make_study(slug="p-large", animals_per_group=6, members={bob: "technician"})
    for study in (small, large):
        fill(open_session(study, bob), bob)
    client.force_login(bob)
    client.get(url("session_progress", small, BASELINE, VF))
    # session, user, study with the membership, study assay, session, animals, states, entries
    with django_assert_num_queries(8):
        client.get(url("session_progress", small, BASELINE, VF))
    with django_assert_num_queries(8):
        client.get(url("session_progress", large, BASELINE, VF))


# --- discrepancies ----------------------------------------------------------------------------


@pytest.fixture
def disputed(small_study, bob, carol):
    """A session of small_study where R01 left #1 is 10 for bob and 15 for carol."""
    session = open_session(small_study, bob)
    r01 = small_study.animals.get(code="R01")
    for who, value in ((bob, 10.0), (carol, 15.0)):
        entry_save(
            session=session,
            animal=r01,
            footpad="left",
            application=1,
            value=value,
            experimenter=who.username,
            user=who,
        )
    return Discrepancy.objects.get()


def test_discrepancies_show_both_values_side_by_side(client, small_study, disputed, bob):
    client.force_login(bob)
    response = client.get(url("discrepancies", small_study))
    html = response.content.decode()
    assert response.status_code == 200
    assert '<span class="who">bob</span><span class="val">10.0</span>' in html
    assert '<span class="who">carol</span><span class="val">15.0</span>' in html
    assert f'action="{url("discrepancy_resolve", small_study, disputed.pk)}"' in html


def test_discrepancies_of_a_blinded_study_show_no_group(client, blinded_study, bob, carol):
    session = open_session(blinded_study, bob)
    r01 = blinded_study.animals.get(code="R01")
    for who, value in ((bob, 10.0), (carol, 15.0)):
        entry_save(
            session=session,
            animal=r01,
            footpad="left",
            application=1,
            value=value,
            experimenter=who.username,
            user=who,
        )
    client.force_login(bob)
    html = client.get(url("discrepancies", blinded_study)).content.decode()
    assert "R01" in html
    for group in blinded_study.groups.all():
        assert group.code not in html
        assert group.name not in html


def test_a_viewer_sees_discrepancies_without_a_resolve_form(client, small_study, disputed, dave):
    client.force_login(dave)
    html = client.get(url("discrepancies", small_study)).content.decode()
    assert "R01" in html
    assert "Resolve" not in html


def test_resolving_sets_the_value_that_counts_with_the_reason(client, small_study, disputed, bob):
    client.force_login(bob)
    prefix = f"d{disputed.pk}"
    response = client.post(
        url("discrepancy_resolve", small_study, disputed.pk),
        {f"{prefix}-value": "10", f"{prefix}-reason": "remeasured", f"{prefix}-note": "again"},
    )
    assert response.status_code == 302
    disputed.refresh_from_db()
    assert (disputed.status, disputed.resolved_value, disputed.resolved_by) == (
        "resolved",
        10.0,
        bob,
    )
    reading = disputed.reading
    reading.refresh_from_db()
    assert (reading.state, reading.value) == (Reading.State.RESOLVED, 10.0)


def test_resolving_with_a_bad_value_shows_the_reason_and_changes_nothing(
    client, small_study, disputed, bob
):
    client.force_login(bob)
    prefix = f"d{disputed.pk}"
    response = client.post(
        url("discrepancy_resolve", small_study, disputed.pk),
        {f"{prefix}-value": "40", f"{prefix}-reason": "remeasured"},
    )
    assert response.status_code == 400
    assert "Value: Force must be at most 26 g." in response.content.decode()
    disputed.refresh_from_db()
    assert disputed.status == "open"


def test_resolving_with_other_needs_a_note(client, small_study, disputed, bob):
    client.force_login(bob)
    prefix = f"d{disputed.pk}"
    response = client.post(
        url("discrepancy_resolve", small_study, disputed.pk),
        {f"{prefix}-value": "12", f"{prefix}-reason": "other"},
    )
    assert response.status_code == 400
    assert "Note is required when the reason is other." in response.content.decode()


def test_a_viewer_may_not_resolve(client, small_study, disputed, dave):
    client.force_login(dave)
    prefix = f"d{disputed.pk}"
    response = client.post(
        url("discrepancy_resolve", small_study, disputed.pk),
        {f"{prefix}-value": "10", f"{prefix}-reason": "remeasured"},
    )
    assert response.status_code == 403
    disputed.refresh_from_db()
    assert disputed.status == "open"


def test_an_outsider_may_not_resolve(client, small_study, disputed, eve):
    client.force_login(eve)
    response = client.post(url("discrepancy_resolve", small_study, disputed.pk), {})
    assert response.status_code == 404


def test_a_discrepancy_of_another_study_is_not_found(client, small_study, disputed, alice):
    other = make_study(slug="other-study", members={alice: "pi"})
    client.force_login(alice)
    response = client.post(url("discrepancy_resolve", other, disputed.pk), {})
    assert response.status_code == 404


def test_the_discrepancy_page_runs_the_same_queries_for_few_and_many(
    client, django_assert_num_queries, small_study, bob, carol
):
    session = open_session(small_study, bob)
    client.force_login(bob)
    page = url("discrepancies", small_study)

    def dispute(code, app):
        animal = small_study.animals.get(code=code)
        for who, value in ((bob, 10.0), (carol, 15.0)):
            entry_save(
                session=session,
                animal=animal,
                footpad="right",
                application=app,
                value=value,
                experimenter=who.username,
                user=who,
            )

    dispute("R01", 1)
    client.get(page)
    # session, user, study with the membership, discrepancies with joins, entries
    with django_assert_num_queries(5):
        client.get(page)
    dispute("R01", 2)
    dispute("R02", 1)
    with django_assert_num_queries(5):
        assert len(client.get(page).context["rows"]) == 3


# --- upload -----------------------------------------------------------------------------------

HEADER = "animal,day,assay,footpad,application,value,experimenter,behavior\n"


def csv_upload(text: str, name: str = "readings.csv"):
    upload = io.BytesIO(text.encode())
    upload.name = name
    return upload


def test_a_csv_upload_imports_every_row(client, small_study, bob):
    client.force_login(bob)
    rows = "".join(
        f"R0{a},-1,von_frey,{fp},{app},{10 + app},{who},\n"
        for a in (1, 2)
        for fp in ("left", "right")
        for app in (1, 2)
        for who in ("bob", "carol")
    )
    response = client.post(url("upload", small_study), {"file": csv_upload(HEADER + rows)})
    assert response.status_code == 302
    assert Entry.objects.count() == 16
    assert Reading.objects.filter(state=Reading.State.VERIFIED).count() == 8


def test_a_csv_upload_with_bad_rows_lists_each_and_imports_nothing(client, small_study, bob):
    client.force_login(bob)
    text = HEADER + (
        "R01,-1,von_frey,left,1,12,bob,\n"
        "R01,-1,von_frey,left,2,99,bob,\n"
        "R09,-1,von_frey,left,1,12,bob,\n"
    )
    response = client.post(url("upload", small_study), {"file": csv_upload(text)})
    assert response.status_code == 400
    problems = response.context["problems"]
    assert {"where": "row 3", "column": "value", "reason": "must be at most 26 g"} in problems
    assert [p["where"] for p in problems] == ["row 3", "row 4"]
    assert problems[1]["column"] == "animal"
    assert "Nothing was imported: 2 problems" in response.content.decode()
    assert not Entry.objects.exists()


def test_an_xlsx_upload_imports_the_first_sheet(client, small_study, bob):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(HEADER.strip().split(","))
    sheet.append(["R01", -1, "hot_plate", None, 1, 8.5, "bob", "lick"])
    content = io.BytesIO()
    workbook.save(content)
    content.seek(0)
    content.name = "readings.xlsx"
    client.force_login(bob)
    response = client.post(url("upload", small_study), {"file": content})
    assert response.status_code == 302
    entry = Entry.objects.get()
    assert (entry.value, entry.behavior) == (8.5, "lick")


def test_an_upload_of_another_kind_of_file_is_refused(client, small_study, bob):
    client.force_login(bob)
    response = client.post(url("upload", small_study), {"file": csv_upload("x", "data.txt")})
    assert response.status_code == 400
    assert "only .csv and .xlsx files can be read" in response.content.decode()


def test_a_damaged_workbook_is_refused_with_a_reason(client, small_study, bob):
    client.force_login(bob)
    response = client.post(
        url("upload", small_study), {"file": csv_upload("not a zip", "readings.xlsx")}
    )
    assert response.status_code == 400
    assert "not a readable .xlsx workbook" in response.content.decode()


def test_a_viewer_may_not_upload(client, small_study, dave):
    client.force_login(dave)
    text = HEADER + "R01,-1,von_frey,left,1,12,dave,\n"
    response = client.post(url("upload", small_study), {"file": csv_upload(text)})
    assert response.status_code == 403
    assert not Entry.objects.exists()


def test_an_outsider_may_not_see_the_upload_page(client, small_study, eve):
    client.force_login(eve)
    assert client.get(url("upload", small_study)).status_code == 404


def test_an_excluded_animal_is_not_offered_in_a_new_session(client, study, bob):
    Animal.objects.filter(study=study, code="R02").update(
        status=Animal.Status.EXCLUDED, status_reason="tumour", status_date="2025-01-01"
    )
    open_session(study, bob)
    client.force_login(bob)
    html = client.get(url("session_entry", study, BASELINE, VF)).content.decode()
    assert ">R01<" in html
    assert ">R02<" not in html
