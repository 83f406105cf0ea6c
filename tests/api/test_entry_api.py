"""The capture API over HTTP: sessions, batches of values, blind double entry, stale versions,
discrepancies and their resolution."""

import json

import pytest

from behavior.models import Discrepancy, Entry, MeasurementSession, Reading
from studies.models import ChangeRecord, Study
from tests.api.helpers import assert_error, body
from tests.factories import make_study

pytestmark = pytest.mark.django_db


def url(study, part=""):
    return f"/api/studies/{study.slug}/{part}"


def open_session(client, study, day=21, assay="von_frey") -> int:
    response = client.post(url(study, "sessions/"), {"day": day, "assay": assay}, format="json")
    assert response.status_code in (200, 201), response.content
    return body(response)["id"]


def footpad_values(values, footpad="left", **extra):
    return [
        {"footpad": footpad, "application": i, "value": v, **extra}
        for i, v in enumerate(values, start=1)
    ]


def post_values(client, study, session_id, animal, values):
    return client.post(
        url(study, f"sessions/{session_id}/readings/"),
        {"animal": animal, "values": values},
        format="json",
    )


@pytest.fixture
def small(alice, bob, carol, dave):
    """Two groups of one rat: a session is 2 animals x 2 footpads x 10 applications."""
    return make_study(
        slug="small",
        groups=("VEH", "PTX"),
        animals_per_group=1,
        members={alice: "pi", bob: "technician", carol: "technician", dave: "viewer"},
    )


# ---------------------------------------------------------------------------------------------
# Sessions


def test_a_technician_opens_a_session_once(api, study, bob):
    client = api.as_user(bob)

    first = client.post(url(study, "sessions/"), {"day": 21, "assay": "von_frey"}, format="json")
    again = client.post(url(study, "sessions/"), {"day": 21, "assay": "von_frey"}, format="json")

    assert first.status_code == 201
    assert again.status_code == 200
    assert body(first)["id"] == body(again)["id"]
    assert (body(first)["timepoint"], body(first)["day"]) == ("week 3", 21)
    listed = body(client.get(url(study, "sessions/?assay=von_frey")))["results"]
    assert [s["id"] for s in listed] == [body(first)["id"]]


def test_opening_a_session_on_a_day_without_timepoint_names_the_day(api, study, bob):
    response = api.as_user(bob).post(
        url(study, "sessions/"), {"day": 5, "assay": "von_frey"}, format="json"
    )

    assert_error(response, 400, field="day")
    assert not MeasurementSession.objects.exists()


def test_opening_a_session_for_an_assay_the_study_lacks_is_refused(api, alice, bob):
    study = make_study(slug="vf-only", hot_plate=False, members={alice: "pi", bob: "technician"})

    response = api.as_user(bob).post(
        url(study, "sessions/"), {"day": 21, "assay": "hot_plate"}, format="json"
    )

    assert_error(response, 400, field="assay")


def test_a_viewer_may_not_open_a_session(api, study, dave):
    response = api.as_user(dave).post(
        url(study, "sessions/"), {"day": 21, "assay": "von_frey"}, format="json"
    )

    assert_error(response, 403)


def test_an_outsider_gets_404_for_sessions_and_discrepancies(api, study, bob, eve):
    session_id = open_session(api.as_user(bob), study)
    client = api.as_user(eve)

    for part in [
        "sessions/",
        f"sessions/{session_id}/",
        f"sessions/{session_id}/readings/",
        "discrepancies/",
    ]:
        assert_error(client.get(url(study, part)), 404)


def test_a_session_of_another_study_is_not_found(api, study, blinded_study, bob):
    other = open_session(api.as_user(bob), blinded_study)

    assert_error(api.get(url(study, f"sessions/{other}/")), 404)


# ---------------------------------------------------------------------------------------------
# Values


def test_a_footpads_values_are_saved_in_one_request(api, study, bob):
    client = api.as_user(bob)
    session_id = open_session(client, study)
    values = [12.0, 13.5, 11.0, 14.0, 12.5, 13.0, 12.0, 11.5, 14.5, 13.0]

    response = post_values(client, study, session_id, "R01", footpad_values(values))

    assert response.status_code == 201, response.content
    data = body(response)
    assert [r["value"] for r in data["results"]] == values
    assert {r["state"] for r in data["results"]} == {"entered"}  # withheld: double entry
    assert all(r["created"] for r in data["results"])
    assert Entry.objects.filter(experimenter="bob", reading__animal__code="R01").count() == 10

    grid = body(client.get(url(study, f"sessions/{session_id}/readings/?animal=R01")))
    row = grid["results"][0]
    assert row["animal"] == "R01" and row["group"] == "VEH"
    assert [c["value"] for c in row["cells"] if c["footpad"] == "left"] == values
    assert row["means"]["left"] == pytest.approx(sum(values) / 10)


def test_a_batch_costs_the_same_queries_for_two_values_and_for_twenty(api, study, bob, carol):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = api.as_user(bob)
    session_id = open_session(client, study)
    batches = {
        "R01": footpad_values([12.0]) + footpad_values([13.0], footpad="right"),
        "R02": footpad_values([12.0] * 10) + footpad_values([13.0] * 10, footpad="right"),
    }
    for code, values in batches.items():
        post_values(client, study, session_id, code, values)
    client = api.as_user(carol)
    post_values(client, study, session_id, "R03", footpad_values([9.0]))  # the first request
    counts = {}
    for code, values in batches.items():
        with CaptureQueriesContext(connection) as captured:
            response = post_values(client, study, session_id, code, values)
        assert response.status_code == 201, response.content
        counts[code] = len(captured)
    assert counts["R01"] == counts["R02"]
    assert Reading.objects.filter(state=Reading.State.VERIFIED).count() == 22


def test_saving_the_same_values_again_changes_nothing(api, study, bob):
    client = api.as_user(bob)
    session_id = open_session(client, study)
    post_values(client, study, session_id, "R01", footpad_values([12.0, 13.0]))

    response = post_values(client, study, session_id, "R01", footpad_values([12.0, 13.0]))

    assert response.status_code == 200
    assert [(r["created"], r["changed"]) for r in body(response)["results"]] == [(False, False)] * 2
    assert Entry.objects.count() == 2


def test_one_bad_value_saves_none_of_the_batch_and_names_it(api, study, bob):
    client = api.as_user(bob)
    session_id = open_session(client, study)

    response = post_values(client, study, session_id, "R01", footpad_values([12.0, 27.0, 13.0]))

    data = assert_error(response, 400, field="values[1].value")
    assert "26" in data["extra"]["fields"]["values[1].value"][0]
    assert not Entry.objects.exists()


@pytest.mark.parametrize(
    ("item", "field"),
    [
        ({"footpad": "left", "application": 0, "value": 12}, "values[0].application"),
        ({"footpad": "left", "application": 10**30, "value": 12}, "values[0].application"),
        ({"footpad": "middle", "application": 1, "value": 12}, "values[0].footpad"),
        ({"footpad": "left", "application": 1, "value": "twelve"}, "values[0].value"),
        ({"footpad": "left", "application": 1, "value": -3}, "values[0].value"),
        ({"footpad": "left", "application": 1, "value": False}, "values[0].value"),
        ({"footpad": "left", "application": 1}, "values[0].value"),
    ],
)
def test_a_bad_value_is_a_400_naming_its_path(api, study, bob, item, field):
    client = api.as_user(bob)
    session_id = open_session(client, study)

    response = post_values(client, study, session_id, "R01", [item])

    assert_error(response, 400, field=field)
    assert not Entry.objects.exists()


@pytest.mark.parametrize(
    "raw",
    [
        '{"animal": "R01", "values": [{"footpad": "left", "application": 1, "value": NaN}]}',
        '{"animal": "R01", "values": [{"footpad": "left", "application": 1, "value": 1e999}]}',
        '{"animal": "R01", "values": [{"footpad": "left", "application": 1, "value": 12}',
        '{"animal": "R01", "values": "12, 13"}',
        '{"animal": "R01", "values": []}',
        '{"animal": ["R01"], "values": [{"footpad": "left", "application": 1, "value": 12}]}',
    ],
)
def test_malformed_input_is_a_400_never_a_500(api, study, bob, raw):
    client = api.as_user(bob)
    session_id = open_session(client, study)

    response = client.post(
        url(study, f"sessions/{session_id}/readings/"), raw, content_type="application/json"
    )

    assert_error(response, 400)
    assert not Entry.objects.exists()


def test_an_animal_of_another_study_is_refused(api, study, bob):
    client = api.as_user(bob)
    session_id = open_session(client, study)

    response = post_values(client, study, session_id, "X99", footpad_values([12.0]))

    assert_error(response, 400, field="animal")


def test_a_viewer_may_not_enter_values(api, study, bob, dave):
    session_id = open_session(api.as_user(bob), study)

    response = post_values(api.as_user(dave), study, session_id, "R01", footpad_values([12.0]))

    assert_error(response, 403)
    assert not Entry.objects.exists()


def test_values_of_a_locked_study_are_refused_with_403(api, study, bob):
    client = api.as_user(bob)
    session_id = open_session(client, study)
    Study.objects.filter(pk=study.pk).update(status=Study.Status.LOCKED)

    response = post_values(client, study, session_id, "R01", footpad_values([12.0]))

    assert_error(response, 403)
    assert not Entry.objects.exists()


def test_an_edit_with_a_stale_version_is_refused_with_409(api, study, bob):
    client = api.as_user(bob)
    session_id = open_session(client, study)
    post_values(client, study, session_id, "R01", footpad_values([12.0]))

    first = post_values(
        client, study, session_id, "R01", footpad_values([12.5], expected_version=1)
    )
    stale = post_values(
        client, study, session_id, "R01", footpad_values([13.0], expected_version=1)
    )

    assert first.status_code == 200, first.content
    assert body(first)["results"][0]["changed"] is True
    assert_error(stale, 409)
    assert Entry.objects.get().value == 12.5
    change = ChangeRecord.objects.filter(entity="entry", action="update").get()
    assert (change.old["value"], change.new["value"], change.via) == (12.0, 12.5, "api")


def test_a_hot_plate_latency_is_saved_with_its_behaviour(api, study, bob):
    client = api.as_user(bob)
    session_id = open_session(client, study, assay="hot_plate")

    response = post_values(
        client,
        study,
        session_id,
        "R01",
        [{"application": 1, "value": 12.3, "behavior": "lick"}],
    )

    assert response.status_code == 201, response.content
    assert body(response)["results"][0]["state"] == "verified"  # single entry
    assert Reading.objects.get().value == 12.3


# ---------------------------------------------------------------------------------------------
# Blind double entry


def enter_session(client, study, session_id, values_of):
    for animal in ("R01", "R02"):
        for footpad in ("left", "right"):
            values = values_of(animal, footpad)
            response = post_values(
                client, study, session_id, animal, footpad_values(values, footpad)
            )
            assert response.status_code in (200, 201), response.content


def test_each_experimenter_reads_back_only_their_own_values(api, small, bob, carol):
    session_id = open_session(api.as_user(bob), small)
    post_values(api.as_user(bob), small, session_id, "R01", footpad_values([12.0]))

    carol_grid = body(api.as_user(carol).get(url(small, f"sessions/{session_id}/readings/")))

    values = [c["value"] for row in carol_grid["results"] for c in row["cells"]]
    assert values and all(v is None for v in values)


def test_agreement_is_shown_once_both_have_entered_the_whole_session(api, small, bob, carol):
    session_id = open_session(api.as_user(bob), small)
    enter_session(api.as_user(bob), small, session_id, lambda a, f: [12.0] * 10)
    # carol disagrees on R02's right footpad, first application only
    enter_session(
        api.as_user(carol),
        small,
        session_id,
        lambda a, f: [15.0] + [12.0] * 9 if (a, f) == ("R02", "right") else [12.0] * 10,
    )

    grid = body(api.as_user(carol).get(url(small, f"sessions/{session_id}/readings/")))

    states = {
        (row["animal"], c["footpad"], c["application"]): c["state"]
        for row in grid["results"]
        for c in row["cells"]
    }
    assert states.pop(("R02", "right", 1)) == "disputed"
    assert set(states.values()) == {"verified"}
    detail = body(api.get(url(small, f"sessions/{session_id}/")))
    assert detail["progress"] == {
        "expected": 40,
        "verified": 39,
        "disputed": 1,
        "waiting": 0,
        "experimenters": ["bob", "carol"],
    }


# ---------------------------------------------------------------------------------------------
# Discrepancies


@pytest.fixture
def disputed(api, small, bob, carol):
    """bob typed 12 and carol 15 for R01's left footpad, first application."""
    session_id = open_session(api.as_user(bob), small)
    post_values(api.as_user(bob), small, session_id, "R01", footpad_values([12.0]))
    post_values(api.as_user(carol), small, session_id, "R01", footpad_values([15.0]))
    return Discrepancy.objects.get()


def test_open_discrepancies_are_listed_with_both_values(api, small, disputed, dave):
    data = body(api.as_user(dave).get(url(small, "discrepancies/?status=open")))

    (item,) = data["results"]
    assert (item["animal"], item["footpad"], item["application"], item["day"]) == (
        "R01",
        "left",
        1,
        21,
    )
    assert sorted(item["values"].values(), key=str) == sorted(disputed.values.values(), key=str)
    assert body(api.get(url(small, "discrepancies/?status=resolved")))["results"] == []


def test_a_discrepancy_is_resolved_with_a_value_and_a_reason(api, small, disputed, alice):
    response = api.as_user(alice).post(
        url(small, f"discrepancies/{disputed.pk}/resolve/"),
        {"value": 12.0, "reason": "remeasured", "note": "re-read the display"},
        format="json",
    )

    assert response.status_code == 200, response.content
    data = body(response)
    assert (data["status"], data["resolved_value"], data["resolved_by"]) == (
        "resolved",
        12.0,
        "alice",
    )
    reading = Reading.objects.get(pk=disputed.reading_id)
    assert (reading.state, reading.value) == ("resolved", 12.0)


def test_resolving_needs_a_known_reason(api, small, disputed, alice):
    response = api.as_user(alice).post(
        url(small, f"discrepancies/{disputed.pk}/resolve/"),
        {"value": 12.0, "reason": "because"},
        format="json",
    )

    assert_error(response, 400, field="reason")
    assert Discrepancy.objects.get().status == "open"


def test_resolving_twice_is_refused(api, small, disputed, alice):
    client = api.as_user(alice)
    payload = {"value": 12.0, "reason": "typing_error"}
    client.post(url(small, f"discrepancies/{disputed.pk}/resolve/"), payload, format="json")

    again = client.post(url(small, f"discrepancies/{disputed.pk}/resolve/"), payload, format="json")

    assert_error(again, 400, field="discrepancy")


def test_a_viewer_may_not_resolve(api, small, disputed, dave):
    response = api.as_user(dave).post(
        url(small, f"discrepancies/{disputed.pk}/resolve/"),
        {"value": 12.0, "reason": "remeasured"},
        format="json",
    )

    assert_error(response, 403)
    assert Discrepancy.objects.get().status == "open"


def test_a_discrepancy_of_another_study_is_not_found(api, small, disputed, study, alice):
    response = api.as_user(alice).post(
        url(study, f"discrepancies/{disputed.pk}/resolve/"),
        {"value": 12.0, "reason": "remeasured"},
        format="json",
    )

    assert_error(response, 404)


def test_the_error_body_of_a_batch_is_json_with_one_shape(api, study, bob):
    client = api.as_user(bob)
    session_id = open_session(client, study)

    response = post_values(client, study, session_id, "R01", footpad_values([99.0, 98.0]))

    data = json.loads(response.content)
    assert set(data["extra"]["fields"]) == {"values[0].value", "values[1].value"}
    assert data["message"].startswith("values[0].value: ")
