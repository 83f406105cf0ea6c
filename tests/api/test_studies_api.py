"""The studies API over HTTP: studies, groups, animals, schedules, calendar, doses, weights,
timepoints and comparisons, with permissions, blinding, validation, pagination and filters."""

import datetime as dt

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from studies.models import Animal, BodyWeight, ChangeRecord, DoseRecord, Study
from tests.api.helpers import assert_error, body
from tests.factories import add_schedule, make_study

pytestmark = pytest.mark.django_db


def url(study, part=""):
    return f"/api/studies/{study.slug}/{part}"


# ---------------------------------------------------------------------------------------------
# Studies


def test_the_study_list_shows_only_the_users_studies_with_their_role(api, study, bob, eve):
    make_study(slug="other-lab", members={eve: "pi"})

    data = body(api.as_user(bob).get("/api/studies/"))

    assert [s["slug"] for s in data["results"]] == ["rat-ptx"]
    assert data["results"][0]["role"] == "technician"
    assert {a["assay"] for a in data["results"][0]["assays"]} == {"von_frey", "hot_plate"}


def test_staff_see_every_study_as_pi(api, study, root):
    make_study(slug="other-lab")

    data = body(api.as_user(root).get("/api/studies/"))

    assert {s["slug"]: s["role"] for s in data["results"]} == {"other-lab": "pi", "rat-ptx": "pi"}


def test_the_study_list_filters_by_text_and_status(api, study, alice):
    make_study(slug="mouse-ptx", species="mouse", members={alice: "pi"})
    Study.objects.filter(slug="mouse-ptx").update(status=Study.Status.LOCKED)
    client = api.as_user(alice)

    by_text = body(client.get("/api/studies/?q=mouse"))["results"]
    by_status = body(client.get("/api/studies/?status=running"))["results"]

    assert [s["slug"] for s in by_text] == ["mouse-ptx"]
    assert [s["slug"] for s in by_status] == ["rat-ptx"]


def test_a_bad_filter_value_is_a_400_naming_the_filter(api, study, alice):
    response = api.as_user(alice).get("/api/studies/?status=finished")

    assert_error(response, 400, field="status")


def test_an_outsider_gets_404_for_a_study(api, study, eve):
    client = api.as_user(eve)
    for part in ["", "groups/", "animals/", "doses/", "weights/", "timepoints/", "comparisons/"]:
        assert_error(client.get(url(study, part)), 404)


def test_an_anonymous_request_is_refused_with_401(api, study):
    response = api.get(url(study))

    assert_error(response, 401)


def test_the_study_detail_shows_the_role(api, study, dave):
    data = body(api.as_user(dave).get(url(study)))

    assert data["slug"] == "rat-ptx"
    assert data["role"] == "viewer"


# ---------------------------------------------------------------------------------------------
# Token authentication


def test_a_token_authenticates_a_script(study, alice):
    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=alice)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")

    response = client.get("/api/studies/")

    assert response.status_code == 200
    assert [s["slug"] for s in body(response)["results"]] == ["rat-ptx"]


def test_a_wrong_token_is_refused(study):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token 0123456789abcdef0123456789abcdef01234567")

    response = client.get("/api/studies/")

    assert_error(response, 401)
    assert response["WWW-Authenticate"] == "Token"


def test_drf_create_token_prints_the_users_token(alice, capsys):
    from django.core.management import call_command
    from rest_framework.authtoken.models import Token

    call_command("drf_create_token", "alice")

    assert Token.objects.get(user=alice).key in capsys.readouterr().out


# ---------------------------------------------------------------------------------------------
# Groups and blinding


def test_the_pi_sees_group_codes_and_names(api, study, alice):
    data = body(api.as_user(alice).get(url(study, "groups/")))

    assert [(g["code"], g["name"]) for g in data["results"]] == [
        ("VEH", "VEH"),
        ("PTX-SAL", "PTX + SAL"),
        ("PTX-IVIG", "PTX + IVIG"),
    ]


def test_a_technician_of_a_blinded_study_sees_only_coded_labels(api, blinded_study, bob):
    groups = body(api.as_user(bob).get(url(blinded_study, "groups/")))["results"]
    animals = body(api.get(url(blinded_study, "animals/")))["results"]

    assert groups == [{"blind_label": "A"}, {"blind_label": "B"}, {"blind_label": "C"}]
    assert {a["group"] for a in animals} == {"A", "B", "C"}


def test_a_technician_of_an_open_study_sees_group_codes(api, study, bob):
    animals = body(api.as_user(bob).get(url(study, "animals/")))["results"]

    assert {a["group"] for a in animals} == {"VEH", "PTX-SAL", "PTX-IVIG"}


def test_filtering_animals_by_group_takes_what_the_user_sees(api, blinded_study, alice, bob):
    by_code = body(api.as_user(alice).get(url(blinded_study, "animals/?group=PTX-SAL")))
    by_label = body(api.as_user(bob).get(url(blinded_study, "animals/?group=B")))
    probing = body(api.as_user(bob).get(url(blinded_study, "animals/?group=PTX-SAL")))

    assert [a["code"] for a in by_code["results"]] == ["R04", "R05", "R06"]
    assert [a["code"] for a in by_label["results"]] == ["R04", "R05", "R06"]
    assert probing["results"] == []


# ---------------------------------------------------------------------------------------------
# Animals


def test_the_pi_registers_animals_from_pasted_lines(api, study, alice):
    response = api.as_user(alice).post(
        url(study, "animals/"), {"text": "R10, C4, male, 251 g\nR11 C4 male 249"}, format="json"
    )

    assert response.status_code == 201, response.content
    assert [a["code"] for a in body(response)] == ["R10", "R11"]
    assert BodyWeight.objects.filter(animal__code="R10", grams=251).exists()
    assert ChangeRecord.objects.filter(study=study, entity="animal", via="api").count() == 2


def test_registering_bad_lines_lists_every_problem_and_saves_nothing(api, study, alice):
    response = api.as_user(alice).post(
        url(study, "animals/"),
        {"text": "R10 C4 male 251\nR01 C1 male 250\nR12 C4 x y z w"},
        format="json",
    )

    data = assert_error(response, 400, field="line 2")
    assert [p["where"] for p in data["extra"]["problems"]] == ["line 2", "line 3"]
    assert not Animal.objects.filter(study=study, code="R10").exists()


def test_a_technician_may_not_register_animals(api, study, bob):
    response = api.as_user(bob).post(url(study, "animals/"), {"text": "R10"}, format="json")

    assert_error(response, 403)
    assert not Animal.objects.filter(study=study, code="R10").exists()


def test_registering_without_text_names_the_field(api, study, alice):
    assert_error(
        api.as_user(alice).post(url(study, "animals/"), {}, format="json"), 400, field="text"
    )


def test_animal_lists_are_paginated(api, study, alice):
    client = api.as_user(alice)

    first = body(client.get(url(study, "animals/?limit=4")))
    last = body(client.get(url(study, "animals/?limit=4&offset=8")))

    assert first["count"] == 9
    assert [a["code"] for a in first["results"]] == ["R01", "R02", "R03", "R04"]
    assert first["next"].endswith("limit=4&offset=4")
    assert [a["code"] for a in last["results"]] == ["R09"]
    assert last["next"] is None


# ---------------------------------------------------------------------------------------------
# Weights


def test_a_technician_records_a_body_weight(api, study, bob):
    response = api.as_user(bob).post(
        url(study, "weights/"),
        {"animal": "R01", "date": timezone.localdate().isoformat(), "grams": 251.5},
        format="json",
    )

    assert response.status_code == 201, response.content
    assert body(response)["grams"] == 251.5
    assert body(response)["recorded_by"] == "bob"
    listed = body(api.get(url(study, "weights/?animal=R01")))["results"]
    assert [w["grams"] for w in listed] == [251.5]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"animal": "R01", "date": "2026-01-01", "grams": 0}, "grams"),
        ({"animal": "R01", "date": "2026-01-01", "grams": 1e308 * 10}, None),
        ({"animal": "R01", "date": "2026-01-01", "grams": "heavy"}, "grams"),
        ({"animal": "R01", "date": "2026-01-01", "grams": True}, "grams"),
        ({"animal": "R01", "date": "2026-13-01", "grams": 250}, "date"),
        ({"animal": "R99", "date": "2026-01-01", "grams": 250}, "animal"),
        ({"animal": "R01", "date": "2999-01-01", "grams": 250}, "date"),
        ({"date": "2026-01-01", "grams": 250}, "animal"),
    ],
)
def test_a_bad_weight_is_a_400_naming_the_field(api, study, bob, payload, field):
    if payload.get("grams") == float("inf"):
        # JSON has no infinity: a client can only send an overflowing literal.
        response = api.as_user(bob).post(
            url(study, "weights/"),
            '{"animal": "R01", "date": "2026-01-01", "grams": 1e999}',
            content_type="application/json",
        )
        field = "grams"
    else:
        response = api.as_user(bob).post(url(study, "weights/"), payload, format="json")

    assert_error(response, 400, field=field)
    assert not BodyWeight.objects.exists()


def test_a_viewer_may_not_record_a_weight(api, study, dave):
    response = api.as_user(dave).post(
        url(study, "weights/"), {"animal": "R01", "date": "2026-01-01", "grams": 250}, format="json"
    )

    assert_error(response, 403)


def test_malformed_json_is_a_400(api, study, bob):
    response = api.as_user(bob).post(
        url(study, "weights/"), '{"animal": "R01", ', content_type="application/json"
    )

    assert_error(response, 400)


def test_nan_in_json_is_a_400(api, study, bob):
    response = api.as_user(bob).post(
        url(study, "weights/"),
        '{"animal": "R01", "date": "2026-01-01", "grams": NaN}',
        content_type="application/json",
    )

    assert_error(response, 400)
    assert not BodyWeight.objects.exists()


def test_a_json_array_instead_of_an_object_is_a_400(api, study, bob):
    response = api.as_user(bob).post(
        url(study, "weights/"), "[1, 2]", content_type="application/json"
    )

    assert_error(response, 400)


def test_writing_into_a_locked_study_is_refused_with_403(api, study, bob):
    Study.objects.filter(pk=study.pk).update(status=Study.Status.LOCKED)

    response = api.as_user(bob).post(
        url(study, "weights/"), {"animal": "R01", "date": "2026-01-01", "grams": 250}, format="json"
    )

    data = assert_error(response, 403)
    assert "locked" in data["message"]
    assert data["extra"]["code"] == "study_locked"
    assert not BodyWeight.objects.exists()


# ---------------------------------------------------------------------------------------------
# Schedules, calendar and doses


@pytest.fixture
def dosing(study):
    """Day 0 a week ago; IVIg to PTX-IVIG on days 0 and 7 (due today), stock 50 mg/mL."""
    today = timezone.localdate()
    Study.objects.filter(pk=study.pk).update(day0=today - dt.timedelta(days=7))
    study.refresh_from_db()
    schedule = add_schedule(study, "PTX-IVIG", "IVIg", days=[0, 7], stock_concentration=50)
    for code in ("R07", "R08", "R09"):
        BodyWeight.objects.create(animal=study.animals.get(code=code), date=today, grams=250)
    return schedule


def test_the_calendar_lists_the_doses_due_with_volumes(api, study, dosing, bob):
    today = timezone.localdate()

    data = body(api.as_user(bob).get(url(study, f"calendar/?date={today.isoformat()}")))

    assert data["day"] == 7
    assert [(d["animal"], d["group"], d["volume_ml"]) for d in data["doses"]] == [
        ("R07", "PTX-IVIG", 5.0),
        ("R08", "PTX-IVIG", 5.0),
        ("R09", "PTX-IVIG", 5.0),
    ]
    assert all(d["status"] is None for d in data["doses"])


def test_the_calendar_needs_a_valid_date(api, study, bob):
    assert_error(api.as_user(bob).get(url(study, "calendar/")), 400, field="date")
    assert_error(api.get(url(study, "calendar/?date=yesterday")), 400, field="date")


def test_a_technician_records_a_dose_given(api, study, dosing, bob):
    response = api.as_user(bob).post(
        url(study, "doses/"),
        {"schedule": dosing.pk, "animal": "R07", "day": 7, "status": "given"},
        format="json",
    )

    assert response.status_code == 201, response.content
    data = body(response)
    assert (data["animal"], data["status"], data["weight_g"], data["volume_ml"]) == (
        "R07",
        "given",
        250.0,
        5.0,
    )
    listed = body(api.get(url(study, "doses/?animal=R07")))["results"]
    assert [d["id"] for d in listed] == [data["id"]]


def test_a_missed_dose_needs_a_reason(api, study, dosing, bob):
    response = api.as_user(bob).post(
        url(study, "doses/"),
        {"schedule": dosing.pk, "animal": "R07", "day": 7, "status": "missed"},
        format="json",
    )

    assert_error(response, 400, field="reason")
    assert not DoseRecord.objects.exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"schedule": 999999}, "schedule"),
        ({"animal": "R01"}, "animal"),
        ({"day": 3}, "day"),
        ({"day": 10**30}, "day"),
        ({"status": "lost"}, "status"),
    ],
)
def test_a_bad_dose_is_a_400_naming_the_field(api, study, dosing, bob, change, field):
    payload = {"schedule": dosing.pk, "animal": "R07", "day": 7, "status": "given", **change}

    response = api.as_user(bob).post(url(study, "doses/"), payload, format="json")

    assert_error(response, 400, field=field)


def test_a_viewer_may_not_record_a_dose(api, study, dosing, dave):
    response = api.as_user(dave).post(
        url(study, "doses/"),
        {"schedule": dosing.pk, "animal": "R07", "day": 7, "status": "given"},
        format="json",
    )

    assert_error(response, 403)


def test_a_blinded_technician_sees_no_agent_or_dose(api, blinded_study, bob):
    today = timezone.localdate()
    Study.objects.filter(pk=blinded_study.pk).update(day0=today)
    add_schedule(blinded_study, "PTX-IVIG", "IVIg", days=[0], stock_concentration=50)
    client = api.as_user(bob)

    schedules = body(client.get(url(blinded_study, "schedules/")))["results"]
    calendar = body(client.get(url(blinded_study, f"calendar/?date={today.isoformat()}")))

    assert set(schedules[0]) == {"id", "group", "route", "days"}
    assert schedules[0]["group"] == "C"
    assert {d["group"] for d in calendar["doses"]} == {"C"}
    assert "IVIg" not in str(schedules) + str(calendar)


# ---------------------------------------------------------------------------------------------
# Timepoints and comparisons


def test_timepoints_and_comparisons_are_listed(api, study, dave):
    client = api.as_user(dave)

    timepoints = body(client.get(url(study, "timepoints/")))["results"]
    comparisons = body(client.get(url(study, "comparisons/")))["results"]

    assert [(t["label"], t["day"]) for t in timepoints] == [("baseline", -1), ("week 3", 21)]
    assert [(c["reference"], c["group"], c["symbol"]) for c in comparisons] == [
        ("VEH", "PTX-SAL", "#"),
        ("PTX-SAL", "PTX-IVIG", "*"),
    ]


def test_a_blinded_technician_sees_comparisons_between_coded_labels(api, blinded_study, bob):
    comparisons = body(api.as_user(bob).get(url(blinded_study, "comparisons/")))["results"]

    assert [(c["reference"], c["group"]) for c in comparisons] == [("A", "B"), ("B", "C")]


def test_a_huge_day_filter_is_a_400_not_a_500(api, study, dave):
    response = api.as_user(dave).get(url(study, f"timepoints/?day={10**30}"))

    assert_error(response, 400, field="day")
