"""Across every endpoint: no response to a technician of a blinded study names a group or an
agent, and every list costs the same number of queries at two study sizes."""

import datetime as dt

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from behavior.models import Discrepancy
from studies.models import BodyWeight, Study
from tests.api.helpers import body, queries_of
from tests.factories import add_schedule, make_study

pytestmark = pytest.mark.django_db

REVEALING = ["VEH", "PTX-SAL", "PTX + SAL", "PTX-IVIG", "PTX + IVIG", "IVIg", "paclitaxel"]


def fill(study, client) -> dict:
    """Give a study what every endpoint lists: a schedule due today with a dose given, weights,
    a von Frey session with entries by bob and carol and one open discrepancy."""
    today = timezone.localdate()
    Study.objects.filter(pk=study.pk).update(day0=today - dt.timedelta(days=7))
    study.refresh_from_db()
    schedules = [
        add_schedule(study, "PTX-SAL", "paclitaxel", dose=1, unit="mg/kg", route="ip", days=[7]),
        add_schedule(study, "PTX-IVIG", "IVIg", days=[0, 7], stock_concentration=50),
    ]
    for animal in study.animals.all():
        BodyWeight.objects.create(animal=animal, date=today, grams=250)
    return {"schedules": schedules, "today": today}


def record_everything(study, bob, carol) -> None:
    bob_client, carol_client = APIClient(), APIClient()
    bob_client.force_authenticate(bob)
    carol_client.force_authenticate(carol)
    base = f"/api/studies/{study.slug}/"
    session = body(
        bob_client.post(base + "sessions/", {"day": 21, "assay": "von_frey"}, format="json")
    )
    schedule = study.schedules.get(agent__name="IVIg")
    animal = study.animals.filter(group=schedule.group).order_by("code").first()
    response = bob_client.post(
        base + "doses/",
        {"schedule": schedule.pk, "animal": animal.code, "day": 7, "status": "given"},
        format="json",
    )
    assert response.status_code == 201, response.content
    for animal in study.animals.order_by("code"):
        for client, value in ((bob_client, 12.0), (carol_client, 12.0)):
            response = client.post(
                base + f"sessions/{session['id']}/readings/",
                {
                    "animal": animal.code,
                    "values": [{"footpad": "left", "application": 1, "value": value}],
                },
                format="json",
            )
            assert response.status_code == 201, response.content
    carol_client.post(
        base + f"sessions/{session['id']}/readings/",
        {"animal": "R01", "values": [{"footpad": "left", "application": 2, "value": 20}]},
        format="json",
    )
    bob_client.post(
        base + f"sessions/{session['id']}/readings/",
        {"animal": "R01", "values": [{"footpad": "left", "application": 2, "value": 10}]},
        format="json",
    )
    assert Discrepancy.objects.filter(status="open", reading__session__study=study).count() == 1


def every_get(study) -> list[str]:
    session = study.sessions.get()
    today = timezone.localdate().isoformat()
    base = f"/api/studies/{study.slug}/"
    return [
        "/api/studies/",
        base,
        base + "groups/",
        base + "animals/",
        base + "schedules/",
        base + f"calendar/?date={today}",
        base + "doses/",
        base + "weights/",
        base + "timepoints/",
        base + "comparisons/",
        base + "sessions/",
        base + f"sessions/{session.pk}/",
        base + f"sessions/{session.pk}/readings/",
        base + "discrepancies/",
        base + "stats/?assay=von_frey",
    ]


def test_no_response_to_a_blinded_technician_names_a_group_or_agent(
    api, blinded_study, alice, bob, carol
):
    fill(blinded_study, api)
    record_everything(blinded_study, bob, carol)
    client = api.as_user(bob)

    texts = {}
    for address in every_get(blinded_study):
        response = client.get(address)
        assert response.status_code == 200, (address, response.content)
        texts[address] = response.content.decode()

    for address, text in texts.items():
        for word in REVEALING:
            assert word not in text, f"{address} reveals {word!r}"
    # The same responses name the groups for the PI: the scan above can see them.
    pi_text = api.as_user(alice).get(f"/api/studies/{blinded_study.slug}/groups/").content.decode()
    assert "PTX-SAL" in pi_text


LISTS = [
    "groups/",
    "animals/",
    "schedules/",
    "calendar/?date={today}",
    "doses/",
    "weights/",
    "timepoints/",
    "comparisons/",
    "sessions/",
    "sessions/{session}/",
    "sessions/{session}/readings/",
    "discrepancies/",
]


def sized_study(slug, per_group, alice, bob, carol):
    study = make_study(
        slug=slug,
        animals_per_group=per_group,
        timepoints=(("baseline", -1), ("week 1", 7), ("week 3", 21)),
        members={alice: "pi", bob: "technician", carol: "technician"},
    )
    fill(study, None)
    record_everything(study, bob, carol)
    return study


@pytest.mark.parametrize("who", ["alice", "bob"])
def test_every_list_costs_the_same_queries_at_two_study_sizes(request, who):
    alice, bob, carol = (request.getfixturevalue(n) for n in ("alice", "bob", "carol"))
    small = sized_study("small", 2, alice, bob, carol)
    large = sized_study("large", 8, alice, bob, carol)
    client = APIClient()
    client.force_authenticate({"alice": alice, "bob": bob}[who])

    counts = {}
    for path in LISTS:
        counts[path] = [
            queries_of(
                client,
                f"/api/studies/{study.slug}/"
                + path.format(
                    today=timezone.localdate().isoformat(), session=study.sessions.get().pk
                ),
            )
            for study in (small, large)
        ]

    growing = {path: n for path, n in counts.items() if n[0] != n[1]}
    assert not growing, f"queries with 6 animals and with 24: {growing}"


def test_the_animal_list_runs_three_queries(alice, django_assert_num_queries):
    study = make_study(slug="four", animals_per_group=5, members={alice: "pi"})
    client = APIClient()
    client.force_authenticate(alice)

    # 1 the study with the membership (study_for), 2 the count, 3 the page with the groups
    with django_assert_num_queries(3):
        response = client.get(f"/api/studies/{study.slug}/animals/")

    assert body(response)["count"] == 15


def test_the_study_list_costs_the_same_for_two_and_twelve_studies(alice):
    for i in range(2):
        make_study(slug=f"s{i}", members={alice: "pi"})
    client = APIClient()
    client.force_authenticate(alice)
    few = queries_of(client, "/api/studies/")
    for i in range(2, 12):
        make_study(slug=f"s{i}", members={alice: "pi"})

    assert queries_of(client, "/api/studies/") == few
