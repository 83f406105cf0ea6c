"""What keeps a large study fast: query counts that do not grow with the study, a batch of one
animal's values in one request, and statistics read per footpad that equal those of the slots.

Speed itself is measured by ``python -m bench``; these tests pin the query patterns."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest
from django.urls import reverse

from behavior import analysis
from behavior.forms_dashboard import StatsOptions
from behavior.models import Discrepancy, Entry, Reading
from behavior.services import session_open
from studies.models import Animal, Assay
from tests.behavior.dashboard_data import add_hot_plate, add_von_frey, populated_study
from tests.factories import make_study

pytestmark = pytest.mark.django_db

VF = Assay.VON_FREY
BASELINE = -1


def entry_url(study) -> str:
    return reverse("behavior:entry_value", args=[study.slug, BASELINE, VF])


def post(client, study, body: dict):
    return client.post(entry_url(study), json.dumps(body), content_type="application/json")


def opened(study, user):
    session_open(study=study, timepoint=study.timepoints.get(day=BASELINE), assay=VF, user=user)
    return study


def animal_values(study, code: str = "R01", value: float = 10.0) -> tuple[int, list[dict]]:
    animal = Animal.objects.get(study=study, code=code)
    items = [
        {"footpad": footpad, "application": application, "value": value}
        for footpad in ("left", "right")
        for application in range(1, 11)
    ]
    return animal.pk, items


# --- the entry endpoint -------------------------------------------------------------------------


def test_saving_one_value_takes_the_same_queries_in_a_small_and_a_large_study(
    client, alice, bob, django_assert_num_queries
):
    small = opened(
        make_study(slug="e-small", animals_per_group=1, members={bob: "technician"}), bob
    )
    large = opened(
        make_study(slug="e-large", animals_per_group=20, members={bob: "technician"}), bob
    )
    client.force_login(bob)
    for study in (small, large):
        animal_id, items = animal_values(study)
        post(client, study, {"animal": animal_id, **items[0]})  # moves the session's expiry
        # session, user, study with the membership; the session with its assay settings and
        # the animal; the service's transaction (a savepoint and its release in a test)
        # around: the same with the study and the membership, the slot's reading locked (none
        # yet), the reading, the entry and its audit record inserted, the animal locked, the
        # footpad's summary and the experimenter's entry tally written over; the answer: values
        # per experimenter (summed tallies) with the animals measured and the footpad's mean.
        # It was 38, then 27 with the reading created in a savepoint of its own, then 24 with
        # the session's expiry saved once a minute rather than on every request (a savepoint,
        # an update, its release), then 23, then 19 with the session, settings, animal and
        # membership read in one query by the page and one by the save, then 17 with the
        # summary and tally written over instead of deleted and inserted, then 15 with the
        # answer read in one query.
        with django_assert_num_queries(15):
            response = post(client, study, {"animal": animal_id, **items[1]})
        assert response.status_code == 200
        assert response.json()["created"] is True


def test_a_batch_takes_the_same_queries_for_two_values_and_for_twenty(
    client, study, bob, carol, django_assert_num_queries
):
    opened(study, bob)
    batches = []
    for code, picks in (("R01", [0, 10]), ("R02", range(20))):
        animal_id, items = animal_values(study, code)
        batches.append({"animal": animal_id, "values": [items[i] for i in picks]})
        client.force_login(bob)
        post(client, study, batches[-1])
    client.force_login(carol)
    animal_id, items = animal_values(study, "R03")
    post(client, study, {"animal": animal_id, **items[0]})  # moves the session's expiry
    for batch in batches:
        # session, user, study with the membership; the session with its assay settings and
        # the animal; the service's transaction (a savepoint and its release in a test)
        # around: the same with the study and the membership, the slots' readings locked,
        # their entries, the entries inserted, the readings updated, the audit records
        # inserted, the animal locked, the footpads' summaries and the experimenter's entry
        # tally written over; the answer: values per experimenter (summed tallies) with the
        # animals measured and the two footpads' means.
        with django_assert_num_queries(16):
            response = post(client, study, batch)
        assert response.status_code == 200
        assert [r["state"] for r in response.json()["results"]] == ["entered"] * len(
            batch["values"]
        )
    assert Reading.objects.filter(state=Reading.State.VERIFIED).count() == 22


def test_one_animals_values_are_saved_in_one_request(client, study, bob):
    opened(study, bob)
    client.force_login(bob)
    animal_id, items = animal_values(study)
    response = post(client, study, {"animal": animal_id, "values": items})
    assert response.status_code == 200
    answer = response.json()
    assert [(r["footpad"], r["application"]) for r in answer["results"]] == [
        (i["footpad"], i["application"]) for i in items
    ]
    assert all(r["created"] and r["state"] == "entered" for r in answer["results"])
    assert answer["footpad_means"] == {"left": 10.0, "right": 10.0}
    assert answer["entered"] == 20
    assert Entry.objects.filter(experimenter="bob", reading__animal_id=animal_id).count() == 20


def test_a_batch_verifies_what_the_second_experimenter_agrees_with(client, study, bob, carol):
    opened(study, bob)
    animal_id, items = animal_values(study)
    client.force_login(bob)
    post(client, study, {"animal": animal_id, "values": items})
    client.force_login(carol)
    items[3]["value"] = 12.0  # one disagreement
    assert post(client, study, {"animal": animal_id, "values": items}).status_code == 200
    states = Reading.objects.filter(animal_id=animal_id).values_list("state", flat=True)
    assert sorted(states).count("verified") == 19
    assert Discrepancy.objects.filter(status=Discrepancy.Status.OPEN).count() == 1


def test_a_batch_with_a_bad_value_names_it_and_saves_nothing(client, study, bob):
    opened(study, bob)
    client.force_login(bob)
    animal_id, items = animal_values(study)
    items[5]["value"] = 40
    response = post(client, study, {"animal": animal_id, "values": items})
    assert response.status_code == 400
    assert response.json()["extra"]["fields"] == {
        "values[5].value": ["Force must be at most 26 g."]
    }
    assert not Entry.objects.exists()


def test_a_batch_refuses_an_empty_or_oversized_list(client, study, bob):
    opened(study, bob)
    client.force_login(bob)
    animal_id, items = animal_values(study)
    for values in ([], items * 3, "12"):
        response = post(client, study, {"animal": animal_id, "values": values})
        assert response.status_code == 400
        assert "values" in response.json()["extra"]["fields"]
    assert not Entry.objects.exists()


def test_a_viewer_may_not_save_a_batch(client, study, bob, dave):
    opened(study, bob)
    client.force_login(dave)
    animal_id, items = animal_values(study)
    assert post(client, study, {"animal": animal_id, "values": items}).status_code == 403
    assert not Entry.objects.exists()


def test_an_outsider_may_not_save_a_batch(client, study, bob, eve):
    opened(study, bob)
    client.force_login(eve)
    animal_id, items = animal_values(study)
    assert post(client, study, {"animal": animal_id, "values": items}).status_code == 404
    assert not Entry.objects.exists()


def test_a_batch_of_another_studys_animal_is_refused(client, study, bob):
    opened(study, bob)
    other = make_study(slug="other", members={bob: "technician"})
    client.force_login(bob)
    animal_id, items = animal_values(other)
    response = post(client, study, {"animal": animal_id, "values": items})
    assert response.status_code == 400
    assert "animal" in response.json()["extra"]["fields"]


# --- statistics read per footpad ------------------------------------------------------------


def test_footpad_frames_are_three_queries_whatever_the_size(django_assert_num_queries):
    small = populated_study(animals_per_group=2, slug="small")
    large = populated_study(animals_per_group=9, slug="large")
    for study, animals in ((small, 6), (large, 27)):
        with django_assert_num_queries(3):  # sessions, animals, summaries
            frames = analysis.footpad_frames(study=study, assays=[VF, Assay.HOT_PLATE])
        # one row per animal, footpad and timepoint instead of one per application
        assert len(frames[VF]) == animals * 2 * 3
        assert len(readings := analysis.readings_frame(study=study, assay=VF)) == 10 * len(
            frames[VF]
        )
        assert frames[VF]["n_verified"].sum() == (readings["state"] == "verified").sum()
        # The dashboard reads the animals once for the frames and the counts by group.
        animals = analysis.study_animals(study=study)
        with django_assert_num_queries(2):  # sessions, summaries
            given = analysis.footpad_frames(
                study=study, assays=[VF, Assay.HOT_PLATE], animals=animals
            )
        for assay, frame in frames.items():
            pd.testing.assert_frame_equal(given[assay], frame, check_exact=True)
        with django_assert_num_queries(0):
            counted = analysis.animals_by_group(study=study, animals=animals)
        assert counted == analysis.animals_by_group(study=study)
        # in the readings' order: animal code, day, footpad
        keys = list(
            zip(*(frames[VF][c].tolist() for c in ("animal", "day", "footpad")), strict=True)
        )
        assert keys == sorted(keys) == sorted(set(keys))
        assert keys == list(
            dict.fromkeys(
                zip(readings["animal"], readings["day"], readings["footpad"], strict=True)
            )
        )


def test_footpad_frames_give_nan_where_a_footpad_lacks_values_row_for_row():
    """A footpad whose slots hold no value at all (its summary's mean is NULL) and one that
    lacks some values both read as NaN, and every other column stays on its own row: on
    PostgreSQL the columns arrive packed, and a NULL left out of one would shift the rest."""
    from behavior.summaries import summaries_rebuild

    study = populated_study(animals_per_group=3, slug="holes")
    first, second = Animal.objects.filter(study=study).order_by("code")[:2]
    readings = Reading.objects.filter(session__study=study, assay=VF, session__timepoint__day=21)
    # A value is missing only from a slot that does not count (yet).
    readings.filter(animal=first, footpad="right").update(value=None, state="unverified")
    readings.filter(animal=second, footpad="left", application__lte=4).update(
        value=None, state="disputed"
    )
    summaries_rebuild(sessions=readings.values_list("session_id", flat=True).distinct())

    frame = analysis.footpad_frame(study=study, assay=VF)
    slots = analysis.readings_frame(study=study, assay=VF)
    expected = slots.groupby(["animal", "day", "footpad"], sort=True).agg(
        value=("value", lambda v: v.mean() if v.notna().all() else math.nan),
        verified=("state", lambda s: int((s == "verified").sum())),
        unverified=("state", lambda s: int((s == "unverified").sum())),
        disputed=("state", lambda s: int((s == "disputed").sum())),
    )
    given = frame.set_index(["animal", "day", "footpad"])
    assert given.index.tolist() == expected.index.tolist()
    missing = given.index[given["value"].isna()].tolist()
    assert missing == expected.index[expected["value"].isna()].tolist()
    assert {(first.code, 21, "right"), (second.code, 21, "left")} <= set(missing)
    pd.testing.assert_series_equal(given["value"], expected["value"], check_exact=False)
    assert given["n_verified"].tolist() == expected["verified"].tolist()
    assert given["n_unverified"].tolist() == expected["unverified"].tolist()
    assert given["n_disputed"].tolist() == expected["disputed"].tolist()
    assert given.loc[(second.code, 21, "left"), "n_disputed"] == 4


def _documents(study, assay: str, **options):
    design = analysis.study_design(study=study)
    chosen = StatsOptions(
        **{
            "test": "student",
            "correction": "none",
            "outcome": "raw",
            "footpads": "both",
            "include_unverified": False,
            **options,
        }
    )
    documents, completeness = [], []
    for frame in (
        analysis.readings_frame(study=study, assay=assay),
        analysis.footpad_frame(study=study, assay=assay),
    ):
        result = analysis.assay_statistics(design=design, frame=frame, assay=assay, options=chosen)
        documents.append(analysis.stats_document_from(design=design, result=result))
        completeness.append(analysis.completeness(design=design, result=result, active_animals=9))
    return documents, completeness


def _same_numbers(first, second) -> None:
    """Equal, floats to 1e-9 relative: the database sums a footpad in another order, and a
    P value far in the tail magnifies that last-digit difference a thousandfold."""
    if isinstance(first, float) and isinstance(second, float):
        assert math.isclose(first, second, rel_tol=1e-9), (first, second)
    elif isinstance(first, dict):
        assert first.keys() == second.keys()
        for key in first:
            _same_numbers(first[key], second[key])
    elif isinstance(first, list):
        assert len(first) == len(second)
        for a, b in zip(first, second, strict=True):
            _same_numbers(a, b)
    else:
        assert first == second


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"include_unverified": True},
        {"test": "welch", "correction": "holm"},
        {"outcome": "percent_baseline"},
        {"footpads": "left"},
    ],
)
def test_statistics_per_footpad_equal_those_of_every_slot(study, options):
    values = {"R01": 15.0, "R02": 15.5, "R03": 14.2, "R04": 8.0, "R05": 8.5, "R06": 7.1}
    values |= {"R07": 12.3, "R08": 11.0, "R09": 12.9}
    add_von_frey(study, day=BASELINE, values={code: 15.0 + i / 10 for i, code in enumerate(values)})
    add_von_frey(
        study,
        day=21,
        values=values,
        spread=0.35,
        states={("R02", "left"): "disputed", ("R05", "right"): "unverified"},
    )
    add_hot_plate(study, day=21, values={"R01": 12.5, "R04": 7.25, "R07": 10.0})
    Animal.objects.filter(study=study, code="R09").update(
        status=Animal.Status.EXCLUDED, status_reason="tumour", status_date="2026-01-01"
    )
    for assay in (VF, Assay.HOT_PLATE):
        (slots, footpads), (slot_rows, footpad_rows) = _documents(study, assay, **options)
        _same_numbers(slots, footpads)
        assert [vars(row) for row in slot_rows] == [vars(row) for row in footpad_rows]
