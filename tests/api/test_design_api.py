"""Design writes over the API: groups, timepoints, comparisons, schedules and the random
allocation are for the PI; technicians and viewers are refused."""

import pytest
from django.utils import timezone

from studies.models import Allocation, Animal, BodyWeight, DosingSchedule, Timepoint, TreatmentGroup
from tests.api.helpers import assert_error, body
from tests.factories import make_study

pytestmark = pytest.mark.django_db


def url(study, part=""):
    return f"/api/studies/{study.slug}/{part}"


DESIGN_WRITES = [
    ("groups/", {"code": "PTX-CLO", "name": "Paclitaxel + clodronate"}),
    ("timepoints/", {"label": "week 4", "day": 28}),
    ("comparisons/", {"reference": "VEH", "group": "PTX-IVIG", "symbol": "$"}),
    (
        "schedules/",
        {
            "group": "PTX-SAL",
            "agent": "paclitaxel",
            "dose": 1,
            "unit": "mg/kg",
            "route": "ip",
            "days": [0, 1, 2, 3, 4],
        },
    ),
    ("allocation/", {"seed": 42}),
]


@pytest.mark.parametrize(("part", "payload"), DESIGN_WRITES)
def test_technicians_and_viewers_may_not_change_the_design(api, study, bob, dave, part, payload):
    for user in (bob, dave):
        assert_error(api.as_user(user).post(url(study, part), payload, format="json"), 403)


@pytest.mark.parametrize(("part", "payload"), DESIGN_WRITES)
def test_an_outsider_gets_404_for_a_design_write(api, study, eve, part, payload):
    assert_error(api.as_user(eve).post(url(study, part), payload, format="json"), 404)


def test_the_pi_adds_a_group_with_a_free_coded_label(api, study, alice):
    response = api.as_user(alice).post(url(study, "groups/"), DESIGN_WRITES[0][1], format="json")

    assert response.status_code == 201, response.content
    assert body(response)["code"] == "PTX-CLO"
    # A free letter drawn at random: the next one in order would reveal the order of adding.
    assert body(response)["blind_label"] in set("DEFGH")
    assert TreatmentGroup.objects.filter(study=study, code="PTX-CLO").exists()


def test_a_repeated_group_code_names_the_field(api, study, alice):
    response = api.as_user(alice).post(url(study, "groups/"), {"code": "VEH"}, format="json")

    assert_error(response, 400)
    assert TreatmentGroup.objects.filter(study=study, code="VEH").count() == 1


def test_the_pi_adds_a_timepoint_and_a_repeated_day_is_refused(api, study, alice):
    client = api.as_user(alice)

    added = client.post(url(study, "timepoints/"), {"label": "week 4", "day": 28}, format="json")
    again = client.post(url(study, "timepoints/"), {"label": "day 28", "day": 28}, format="json")

    assert added.status_code == 201
    assert_error(again, 400)
    assert Timepoint.objects.filter(study=study, day=28).count() == 1


def test_the_pi_adds_a_comparison_between_groups_by_code(api, study, alice):
    response = api.as_user(alice).post(
        url(study, "comparisons/"), DESIGN_WRITES[2][1], format="json"
    )

    assert response.status_code == 201, response.content
    assert (body(response)["reference"], body(response)["group"]) == ("VEH", "PTX-IVIG")


def test_a_comparison_with_an_unknown_group_names_it(api, study, alice):
    response = api.as_user(alice).post(
        url(study, "comparisons/"),
        {"reference": "NOPE", "group": "VEH", "symbol": "#"},
        format="json",
    )

    assert_error(response, 400, field="reference")


def test_the_pi_adds_a_schedule(api, study, alice):
    response = api.as_user(alice).post(url(study, "schedules/"), DESIGN_WRITES[3][1], format="json")

    assert response.status_code == 201, response.content
    assert body(response)["days"] == [0, 1, 2, 3, 4]
    assert DosingSchedule.objects.get(study=study).agent.name == "paclitaxel"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"dose": 0}, "dose"),
        ({"unit": "mg"}, "unit"),
        ({"days": []}, "days"),
        ({"days": [1.5]}, "days"),
    ],
)
def test_a_bad_schedule_names_the_field(api, study, alice, change, field):
    payload = {**DESIGN_WRITES[3][1], **change}

    response = api.as_user(alice).post(url(study, "schedules/"), payload, format="json")

    data = assert_error(response, 400)
    assert any(name.startswith(field) for name in data["extra"]["fields"]), data
    assert not DosingSchedule.objects.exists()


def test_the_pi_allocates_animals_reproducibly(api, alice):
    study = make_study(slug="unallocated", members={alice: "pi"})
    Animal.objects.filter(study=study).update(group=None)
    today = timezone.localdate()
    for i, animal in enumerate(study.animals.order_by("code")):
        BodyWeight.objects.create(animal=animal, date=today, grams=240 + i)
    client = api.as_user(alice)

    response = client.post(url(study, "allocation/"), {"seed": 42}, format="json")

    assert response.status_code == 201, response.content
    result = body(response)["result"]["animals"]
    assert sorted(result) == [f"R{i:02d}" for i in range(1, 10)]
    assert sorted(result.values()).count("VEH") == 3
    assert Allocation.objects.get(study=study).seed == 42


def test_an_allocation_without_weights_names_the_reason(api, study, alice):
    response = api.as_user(alice).post(url(study, "allocation/"), {"seed": 1}, format="json")

    assert_error(response, 400, field="balance_on")
