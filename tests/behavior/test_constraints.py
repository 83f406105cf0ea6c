"""Every constraint of behavior/models.py refuses a bad row at the database itself.

Rows are written straight through the ORM, past the services, as a bug or a script would. A
check constraint's name appears in the database's error on SQLite and PostgreSQL alike, so the
tests name it; a unique constraint's name appears only on PostgreSQL.
"""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from behavior.models import Discrepancy, Entry, MeasurementSession, Reading
from tests.factories import make_study

pytestmark = pytest.mark.django_db


@pytest.fixture
def study():
    return make_study(slug="constraints")


@pytest.fixture
def session(study):
    return MeasurementSession.objects.create(
        study=study, timepoint=study.timepoints.get(day=21), assay="von_frey"
    )


@pytest.fixture
def hot_session(study):
    return MeasurementSession.objects.create(
        study=study, timepoint=study.timepoints.get(day=21), assay="hot_plate"
    )


@pytest.fixture
def animal(study):
    return study.animals.get(code="R01")


@pytest.fixture
def reading(session, animal):
    return Reading.objects.create(
        session=session, animal=animal, assay="von_frey", footpad="left", application=1
    )


@pytest.fixture
def hot_reading(hot_session, animal):
    return Reading.objects.create(
        session=hot_session, animal=animal, assay="hot_plate", footpad="", application=1
    )


def refused(create, name: str | None = None):
    """Assert that ``create()`` fails at the database, naming the check constraint if given."""
    with pytest.raises(IntegrityError, match=name), transaction.atomic():
        create()


# --- sessions ------------------------------------------------------------------------------------


def test_a_second_session_for_the_same_timepoint_and_assay_is_refused(study, session):
    refused(
        lambda: MeasurementSession.objects.create(
            study=study, timepoint=session.timepoint, assay="von_frey"
        )
    )


def test_a_session_of_an_unknown_assay_is_refused(study):
    refused(
        lambda: MeasurementSession.objects.create(
            study=study, timepoint=study.timepoints.first(), assay="tail_flick"
        ),
        "session_assay_valid",
    )


def test_a_session_with_an_unknown_status_is_refused(study):
    refused(
        lambda: MeasurementSession.objects.create(
            study=study, timepoint=study.timepoints.first(), assay="von_frey", status="done"
        ),
        "session_status_valid",
    )


# --- readings ------------------------------------------------------------------------------------


def test_a_second_reading_for_the_same_slot_is_refused(session, animal, reading):
    refused(
        lambda: Reading.objects.create(
            session=session, animal=animal, assay="von_frey", footpad="left", application=1
        )
    )


@pytest.mark.parametrize(("assay", "footpad"), [("von_frey", ""), ("hot_plate", "left")])
def test_a_reading_whose_footpad_does_not_fit_its_assay_is_refused(session, animal, assay, footpad):
    refused(
        lambda: Reading.objects.create(
            session=session, animal=animal, assay=assay, footpad=footpad, application=1
        ),
        "reading_footpad_matches_assay",
    )


def test_a_reading_of_application_zero_is_refused(session, animal):
    refused(
        lambda: Reading.objects.create(
            session=session, animal=animal, assay="von_frey", footpad="left", application=0
        ),
        "reading_application_positive",
    )


@pytest.mark.parametrize("state", ["verified", "resolved"])
def test_a_counted_reading_without_a_value_is_refused(session, animal, state):
    refused(
        lambda: Reading.objects.create(
            session=session,
            animal=animal,
            assay="von_frey",
            footpad="left",
            application=2,
            state=state,
            value=None,
        ),
        "reading_counted_has_value",
    )


@pytest.mark.parametrize("value", [0, -1.5])
def test_a_reading_with_a_value_not_above_zero_is_refused(session, animal, value):
    refused(
        lambda: Reading.objects.create(
            session=session,
            animal=animal,
            assay="von_frey",
            footpad="left",
            application=2,
            state="verified",
            value=value,
        ),
        "reading_value_positive",
    )


def test_a_reading_with_an_unknown_behaviour_is_refused(hot_session, animal):
    refused(
        lambda: Reading.objects.create(
            session=hot_session,
            animal=animal,
            assay="hot_plate",
            footpad="",
            application=1,
            behavior="scream",
        ),
        "reading_behavior_valid",
    )


# --- entries -------------------------------------------------------------------------------------


def entry(reading, **fields):
    values = {"experimenter": "tech1", "value": 12.0, "max_value": 26.0}
    values.update(fields)
    return lambda: Entry.objects.create(reading=reading, **values)


def test_a_well_formed_entry_is_accepted(reading):
    entry(reading)()
    assert Entry.objects.count() == 1


def test_a_second_entry_by_the_same_experimenter_is_refused(reading):
    entry(reading)()
    refused(entry(reading, value=13.0))


@pytest.mark.parametrize("value", [0, -2, 26.1])
def test_an_entry_outside_the_instrument_range_is_refused(reading, value):
    refused(entry(reading, value=value), "entry_value_in_range")


def test_an_entry_with_an_unknown_behaviour_is_refused(hot_reading):
    refused(entry(hot_reading, behavior="scream", max_value=30.0), "entry_behavior_valid")


def test_an_entry_with_a_behaviour_at_the_cut_off_is_refused(hot_reading):
    refused(
        entry(hot_reading, value=30.0, behavior="lick", max_value=30.0),
        "entry_no_behavior_at_cutoff",
    )


def test_an_entry_without_an_experimenter_is_refused(reading):
    refused(entry(reading, experimenter=""), "entry_experimenter_not_empty")


# --- discrepancies -------------------------------------------------------------------------------


def test_a_second_open_discrepancy_on_a_reading_is_refused(reading):
    Discrepancy.objects.create(reading=reading, values={"tech1": 12, "tech2": 21})
    refused(lambda: Discrepancy.objects.create(reading=reading, values={}))


def test_an_open_discrepancy_beside_a_resolved_one_is_accepted(reading):
    Discrepancy.objects.create(
        reading=reading,
        status="resolved",
        resolved_value=12,
        reason="remeasured",
        resolved_at=timezone.now(),
    )
    Discrepancy.objects.create(reading=reading)
    assert reading.discrepancies.count() == 2


@pytest.mark.parametrize(
    "missing",
    [
        {"resolved_value": None},
        {"resolved_value": 0},
        {"reason": ""},
        {"resolved_at": None},
    ],
)
def test_an_incomplete_resolution_is_refused(reading, missing):
    fields = {
        "status": "resolved",
        "resolved_value": 12.0,
        "reason": "remeasured",
        "resolved_at": timezone.now(),
    }
    fields.update(missing)
    refused(
        lambda: Discrepancy.objects.create(reading=reading, **fields),
        "discrepancy_resolution_complete",
    )
