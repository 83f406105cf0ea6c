"""Whatever the entry grid or a script sends, a value is saved or refused with a reason: never a
server error, never a traceback, and a refused request writes nothing."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse
from hypothesis import event, given
from hypothesis import strategies as st

from behavior.services import entry_save, session_open
from studies.models import Animal, Timepoint
from tests.fuzz.helpers import FUZZ, json_values, junk_text, rolled_back, row_counts

pytestmark = pytest.mark.django_db

DAY = 21


@pytest.fixture
def bench(study, bob, carol):
    """Open von Frey and hot-plate sessions at week 3; one von Frey value already verified by
    bob and carol, so that edits (which then need a reason) and stale versions are reachable."""
    timepoint = Timepoint.objects.get(study=study, day=DAY)
    sessions = {
        assay: session_open(study=study, timepoint=timepoint, assay=assay, user=bob)
        for assay in ("von_frey", "hot_plate")
    }
    animals = list(Animal.objects.filter(study=study).order_by("code"))
    for experimenter, user in (("bob", bob), ("carol", carol)):
        entry_save(
            session=sessions["von_frey"],
            animal=animals[0],
            footpad="left",
            application=1,
            value=12.5,
            experimenter=experimenter,
            user=user,
        )
    return {"study": study, "sessions": sessions, "animals": animals}


def value_fields(animal_strategy=None) -> dict:
    """Each field of one value: mostly meaningful, sometimes a near miss, sometimes any JSON."""
    fields = {
        "footpad": st.sampled_from(["left", "right", "", "LEFT"]) | json_values,
        "application": st.integers(0, 12) | json_values,
        "value": st.floats(0, 40)
        | st.sampled_from(["12,5", "12.5", "", "abc", "26", "30", "1e309", "NaN"])
        | json_values,
        "behavior": st.sampled_from(["", "lick", "flutter", "jump"]) | json_values,
        "reason": st.sampled_from(["", "typing error"]) | json_values,
        "expected_version": st.none() | st.integers(-1, 3) | json_values,
    }
    if animal_strategy is not None:
        fields["animal"] = animal_strategy
    return fields


def near_valid(assay: str, animal_strategy=None, *, mutate: bool = True) -> st.SearchStrategy[dict]:
    """A value the endpoint should save, with up to two fields replaced by anything; the API
    names the animal once per batch, outside the values (``animal_strategy`` None)."""
    von_frey = assay == "von_frey"
    animal = {} if animal_strategy is None else {"animal": animal_strategy}
    base = st.fixed_dictionaries(
        {
            **animal,
            "footpad": st.sampled_from(["left", "right"]) if von_frey else st.just(""),
            "application": st.integers(1, 10) if von_frey else st.just(1),
            "value": st.integers(1, 2600).map(lambda centi: centi / 100),
            "behavior": st.just("") if von_frey else st.sampled_from(["", "lick", "jump"]),
        }
    )
    if not mutate:
        return base
    fields = value_fields(animal_strategy)
    overrides = st.lists(
        st.sampled_from(sorted(fields)).flatmap(lambda k: fields[k].map(lambda v: (k, v))),
        max_size=2,
    ).map(dict)
    return st.tuples(base, overrides).map(lambda pair: {**pair[0], **pair[1]})


def assert_no_half_write(response, before: dict, *, saved: tuple[int, ...]) -> None:
    """A refusal writes nothing and says why; a success is one of ``saved``."""
    assert response.status_code < 500, response.content
    assert b"Traceback" not in response.content
    body = json.loads(response.content)
    if response.status_code in saved:
        event("saved")
    else:
        event(f"refused {response.status_code}")
        assert body["message"], body
        assert row_counts() == before, "a refused request wrote rows"


# ---------------------------------------------------------------------------------------------
# The JSON endpoint of the entry grid


@FUZZ
@given(data=st.data())
def test_any_value_posted_by_the_entry_grid_is_saved_or_refused_whole(client, bench, bob, data):
    client.force_login(bob)
    assay = data.draw(st.sampled_from(["von_frey", "hot_plate"]), label="assay")
    url = reverse(
        "behavior:entry_value", kwargs={"slug": bench["study"].slug, "day": DAY, "assay": assay}
    )
    animal_ids = st.sampled_from([a.pk for a in bench["animals"]])
    body = data.draw(
        near_valid(assay, animal_ids).map(json.dumps)
        | st.fixed_dictionaries({}, optional=value_fields(animal_ids | json_values)).map(json.dumps)
        | json_values.map(json.dumps)
        | st.binary(max_size=40),
        label="body",
    )
    with rolled_back():
        before = row_counts()
        response = client.post(url, body, content_type="application/json")

        assert response.status_code in (200, 400, 409), response.content
        assert_no_half_write(response, before, saved=(200,))
        if response.status_code == 200:
            assert row_counts()["Entry"] - before["Entry"] in (0, 1)


# ---------------------------------------------------------------------------------------------
# The REST API's batch of values


@FUZZ
@given(data=st.data())
def test_any_batch_posted_to_the_api_is_saved_whole_or_refused_whole(client, bench, bob, data):
    client.force_login(bob)
    assay = data.draw(st.sampled_from(["von_frey", "hot_plate"]), label="assay")
    session = bench["sessions"][assay]
    url = f"/api/studies/{bench['study'].slug}/sessions/{session.pk}/readings/"
    known = st.sampled_from([a.code for a in bench["animals"]])
    batch = st.fixed_dictionaries(
        {
            # Mostly a known animal, so that the values themselves are what is tried.
            "animal": st.one_of(known, known, known, junk_text, json_values),
            "values": st.lists(
                near_valid(assay, mutate=False),
                min_size=1,
                max_size=6,
                unique_by=lambda v: (v["footpad"], v["application"]),
            )
            | st.lists(near_valid(assay), min_size=1, max_size=3)
            | st.lists(st.fixed_dictionaries({}, optional=value_fields()), max_size=6)
            | json_values,
        }
    )
    body = data.draw(
        # Mostly batches of the right shape: their values are what is tried.
        st.one_of(
            batch.map(json.dumps),
            batch.map(json.dumps),
            batch.map(json.dumps),
            json_values.map(json.dumps),
            st.binary(max_size=40),
        ),
        label="body",
    )
    with rolled_back():
        before = row_counts()
        response = client.post(url, body, content_type="application/json")

        assert response.status_code in (200, 201, 400, 409), response.content
        assert_no_half_write(response, before, saved=(200, 201))
        if response.status_code in (200, 201):
            sent = json.loads(body)["values"]
            assert len(json.loads(response.content)["results"]) == len(sent)
            assert row_counts()["Entry"] - before["Entry"] <= len(sent)
