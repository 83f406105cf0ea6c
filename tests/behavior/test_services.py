"""Capture services: sessions, validated entries, double entry, discrepancies, the audit trail."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from behavior.models import Discrepancy, Entry, MeasurementSession, Reading
from behavior.services import (
    DEFAULT_EDIT_REASON,
    EntryResult,
    SessionLocked,
    discrepancy_resolve,
    entries_save,
    entry_save,
    session_open,
)
from studies.errors import ConflictError, StudyLocked
from studies.models import Animal, ChangeRecord, Study, StudyAssay
from tests.factories import make_study

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Every test makes its users with a password: a slow hasher would dominate the run."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def week3(study):
    return study.timepoints.get(day=21)


@pytest.fixture
def vf(study, week3, alice):
    """The von Frey session of week 3 (double entry)."""
    return session_open(study=study, timepoint=week3, assay="von_frey", user=alice)


@pytest.fixture
def hp(study, week3, alice):
    """The hot-plate session of week 3 (single entry, 30 s cut-off)."""
    return session_open(study=study, timepoint=week3, assay="hot_plate", user=alice)


@pytest.fixture
def r01(study):
    return study.animals.get(code="R01")


def save(session, animal, user, value, *, experimenter=None, footpad="left", application=1, **kw):
    return entry_save(
        session=session,
        animal=animal,
        footpad=footpad,
        application=application,
        value=value,
        experimenter=experimenter or user.username,
        user=user,
        **kw,
    )


def changes(entity, object_id):
    return list(ChangeRecord.objects.filter(entity=entity, object_id=object_id).order_by("id"))


# --- sessions ------------------------------------------------------------------------------


def test_session_open_creates_the_session_once_and_then_returns_it(study, week3, bob):
    first = session_open(study=study, timepoint=week3, assay="von_frey", user=bob)
    again = session_open(study=study, timepoint=week3, assay="von_frey", user=bob)
    assert first.pk == again.pk
    assert MeasurementSession.objects.filter(study=study).count() == 1
    assert [c.action for c in changes("session", first.pk)] == ["create"]


def test_session_open_dates_the_session_by_day_0_and_takes_the_hot_plate_temperature(alice):
    study = make_study(day0=dt.date(2026, 1, 12), members={alice: "pi"})
    week3 = study.timepoints.get(day=21)
    session = session_open(study=study, timepoint=week3, assay="hot_plate", user=alice)
    assert session.date == dt.date(2026, 2, 2)
    assert session.temperature_c == 54.5


def test_session_open_refuses_an_assay_the_study_does_not_measure(alice):
    study = make_study(hot_plate=False, members={alice: "pi"})
    with pytest.raises(ValidationError) as caught:
        session_open(study=study, timepoint=study.timepoints.first(), assay="hot_plate", user=alice)
    assert caught.value.message_dict == {"assay": ["This study does not measure hot_plate."]}
    assert not MeasurementSession.objects.exists()


def test_session_open_refuses_a_timepoint_of_another_study(study, alice):
    other = make_study(members={alice: "pi"})
    with pytest.raises(ValidationError) as caught:
        session_open(study=study, timepoint=other.timepoints.first(), assay="von_frey", user=alice)
    assert "timepoint" in caught.value.message_dict


@pytest.mark.parametrize("username", ["dave", "eve"])
def test_session_open_refuses_a_viewer_and_an_outsider(study, week3, username, request):
    user = request.getfixturevalue(username)
    with pytest.raises(PermissionDenied):
        session_open(study=study, timepoint=week3, assay="von_frey", user=user)
    assert not MeasurementSession.objects.exists()


# --- validation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"value": 27}, "value", "Force must be at most 26 g."),
        ({"value": 26.01}, "value", "Force must be at most 26 g."),
        ({"value": 0}, "value", "Force must be greater than 0 g."),
        ({"value": -3}, "value", "Force must be greater than 0 g."),
        ({"value": math.nan}, "value", "Force must be a finite number."),
        ({"value": math.inf}, "value", "Force must be a finite number."),
        ({"value": ""}, "value", "Force is missing."),
        ({"value": None}, "value", "Force is missing."),
        ({"value": "12,5"}, "value", "Force must be a number, not '12,5'."),
        ({"value": True}, "value", "Force must be a number."),
        ({"footpad": "front"}, "footpad", "Footpad must be left or right."),
        ({"footpad": ""}, "footpad", "Footpad must be left or right."),
        ({"application": 0}, "application", "Application must be a whole number from 1 to 10."),
        ({"application": 11}, "application", "Application must be a whole number from 1 to 10."),
        ({"application": 2.5}, "application", "Application must be a whole number from 1 to 10."),
        ({"application": "x"}, "application", "Application must be a whole number from 1 to 10."),
        ({"behavior": "lick"}, "behavior", "Behaviour must be empty for von Frey."),
        ({"experimenter": "  "}, "experimenter", "Experimenter is missing."),
    ],
)
def test_entry_save_refuses_a_bad_von_frey_field_naming_it(vf, r01, bob, fields, field, message):
    values = {"footpad": "left", "application": 1, "value": 12.0, "experimenter": "bob"}
    values.update(fields)
    with pytest.raises(ValidationError) as caught:
        entry_save(session=vf, animal=r01, user=bob, **values)
    assert caught.value.message_dict == {field: [message]}
    assert not Entry.objects.exists()


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"value": 31}, "value", "Latency must be at most the 30 s cut-off."),
        ({"footpad": "left"}, "footpad", "Footpad must be empty for the hot plate."),
        ({"application": 2}, "application", "Application must be a whole number from 1 to 1."),
        (
            {"behavior": "scream"},
            "behavior",
            "Behaviour must be lick, flutter, raise, jump or empty.",
        ),
        (
            {"value": 30, "behavior": "lick"},
            "behavior",
            "Behaviour must be empty at the 30 s cut-off.",
        ),
    ],
)
def test_entry_save_refuses_a_bad_hot_plate_field_naming_it(hp, r01, bob, fields, field, message):
    values = {"footpad": "", "application": 1, "value": 9.5, "behavior": "lick"}
    values.update(fields)
    with pytest.raises(ValidationError) as caught:
        entry_save(session=hp, animal=r01, experimenter="bob", user=bob, **values)
    assert caught.value.message_dict == {field: [message]}
    assert not Entry.objects.exists()


def test_entry_save_names_every_bad_field_at_once(vf, r01, bob):
    with pytest.raises(ValidationError) as caught:
        save(vf, r01, bob, 40, footpad="front", application=0)
    assert set(caught.value.message_dict) == {"value", "footpad", "application"}


def test_a_hot_plate_value_at_the_cut_off_without_behaviour_is_accepted(hp, r01, bob):
    result = save(hp, r01, bob, 30, footpad="", behavior="")
    assert result.reading.state == Reading.State.VERIFIED
    assert result.reading.value == 30


def test_entry_save_refuses_a_footpad_the_study_does_not_measure(study, vf, r01, bob):
    StudyAssay.objects.filter(study=study, assay="von_frey").update(footpads=["left"])
    with pytest.raises(ValidationError) as caught:
        save(vf, r01, bob, 12, footpad="right")
    assert caught.value.message_dict == {
        "footpad": ["Footpad must be left: the study measures only that footpad."]
    }


def test_entry_save_refuses_an_animal_of_another_study(vf, bob):
    stranger = make_study().animals.first()
    with pytest.raises(ValidationError) as caught:
        save(vf, stranger, bob, 12)
    assert caught.value.message_dict == {"animal": ["Animal is not in this study."]}


def test_entry_save_refuses_an_animal_excluded_before_the_session(vf, r01, bob):
    Animal.objects.filter(pk=r01.pk).update(
        status="excluded", status_reason="autotomy", status_date=vf.date - dt.timedelta(days=3)
    )
    with pytest.raises(ValidationError) as caught:
        save(vf, r01, bob, 12)
    message = caught.value.message_dict["animal"][0]
    assert message.startswith("Animal R01 was excluded on ")
    assert "(autotomy)" in message
    assert not Entry.objects.exists()


def test_entry_save_accepts_late_entry_of_a_session_before_the_animal_died(vf, r01, bob):
    Animal.objects.filter(pk=r01.pk).update(
        status="dead", status_reason="found dead", status_date=vf.date + dt.timedelta(days=2)
    )
    assert save(vf, r01, bob, 12).created


@pytest.mark.parametrize("username", ["dave", "eve"])
def test_entry_save_refuses_a_viewer_and_an_outsider(vf, r01, username, request):
    user = request.getfixturevalue(username)
    with pytest.raises(PermissionDenied):
        save(vf, r01, user, 12)
    assert not Entry.objects.exists()


# --- double entry ----------------------------------------------------------------------------


def test_one_entry_under_double_entry_leaves_the_reading_unverified(vf, r01, bob):
    result = save(vf, r01, bob, 14.2)
    assert isinstance(result, EntryResult)
    assert (result.created, result.changed) == (True, False)
    assert result.reading.state == Reading.State.UNVERIFIED
    assert result.reading.value is None


def test_two_agreeing_entries_verify_the_reading(vf, r01, bob, carol):
    save(vf, r01, bob, 14.2)
    result = save(vf, r01, carol, 14.2)
    assert result.reading.state == Reading.State.VERIFIED
    assert result.reading.value == 14.2
    reading_changes = changes("reading", result.reading.pk)
    assert [(c.old["value"], c.new["value"]) for c in reading_changes] == [(None, 14.2)]


def test_entries_within_half_the_display_step_agree_and_count_their_mean(vf, r01, bob, carol):
    save(vf, r01, bob, 15.0)
    result = save(vf, r01, carol, 15.04)
    assert result.reading.state == Reading.State.VERIFIED
    assert result.reading.value == pytest.approx(15.02)


def test_entries_one_display_step_apart_disagree(vf, r01, bob, carol):
    save(vf, r01, bob, 15.0)
    result = save(vf, r01, carol, 15.1)
    assert result.reading.state == Reading.State.DISPUTED


def test_two_disagreeing_entries_open_a_discrepancy_with_both_values(vf, r01, bob, carol):
    save(vf, r01, bob, 14.2)
    result = save(vf, r01, carol, 4.2)
    reading = result.reading
    assert reading.state == Reading.State.DISPUTED
    assert reading.value is None
    discrepancy = reading.discrepancies.get()
    assert discrepancy.status == Discrepancy.Status.OPEN
    assert discrepancy.values == {"bob": 14.2, "carol": 4.2}
    assert [c.action for c in changes("discrepancy", discrepancy.pk)] == ["create"]


def test_hot_plate_double_entry_needs_the_same_behaviour_too(study, hp, r01, bob, carol):
    StudyAssay.objects.filter(study=study, assay="hot_plate").update(double_entry=True)
    save(hp, r01, bob, 9.5, footpad="", behavior="lick")
    result = save(hp, r01, carol, 9.5, footpad="", behavior="flutter")
    assert result.reading.state == Reading.State.DISPUTED


def test_a_single_entry_assay_counts_the_first_entry(hp, r01, bob):
    result = save(hp, r01, bob, 9.5, footpad="", behavior="jump")
    assert result.reading.state == Reading.State.VERIFIED
    assert (result.reading.value, result.reading.behavior) == (9.5, "jump")


def test_a_third_experimenter_is_refused(vf, r01, bob, carol, alice):
    save(vf, r01, bob, 14.2)
    save(vf, r01, carol, 4.2)
    with pytest.raises(ValidationError) as caught:
        save(vf, r01, alice, 14.2)
    assert caught.value.message_dict == {
        "experimenter": [
            "Experimenter cannot add a third value: bob and carol already entered this one; "
            "a disagreement is settled by resolving the discrepancy."
        ]
    }
    assert Entry.objects.count() == 2


def test_a_second_experimenter_is_refused_on_a_single_entry_assay(hp, r01, bob, carol):
    save(hp, r01, bob, 9.5, footpad="", behavior="lick")
    with pytest.raises(ValidationError) as caught:
        save(hp, r01, carol, 9.5, footpad="", behavior="lick")
    assert "single entry" in caught.value.message_dict["experimenter"][0]


# --- re-saves, edits and their history -------------------------------------------------------


def test_saving_the_same_value_again_changes_nothing(vf, r01, bob):
    first = save(vf, r01, bob, 14.2)
    records = ChangeRecord.objects.count()
    again = save(vf, r01, bob, 14.2)
    assert (again.created, again.changed) == (False, False)
    assert again.entry.pk == first.entry.pk
    assert again.entry.version == first.entry.version
    assert Entry.objects.count() == 1
    assert ChangeRecord.objects.count() == records


def test_an_edit_before_verification_is_kept_with_the_default_reason(vf, r01, bob):
    first = save(vf, r01, bob, 14.2)
    edited = save(vf, r01, bob, 12.4)
    assert (edited.created, edited.changed) == (False, True)
    assert edited.entry.version == first.entry.version + 1
    create, update = changes("entry", first.entry.pk)
    assert create.action == "create" and create.new["value"] == 14.2
    assert update.action == "update"
    assert (update.old["value"], update.new["value"]) == (14.2, 12.4)
    assert update.reason == DEFAULT_EDIT_REASON
    assert update.user == bob
    assert update.via == "page"
    assert update.at is not None


def test_an_edit_after_verification_needs_a_reason(vf, r01, bob, carol):
    save(vf, r01, bob, 14.2)
    save(vf, r01, carol, 14.2)
    with pytest.raises(ValidationError) as caught:
        save(vf, r01, bob, 12.4)
    assert caught.value.message_dict == {
        "reason": ["Reason is required: this value is already verified."]
    }
    assert Entry.objects.get(experimenter="bob").value == 14.2


def test_an_edit_after_verification_reopens_reconciliation(vf, r01, bob, carol):
    save(vf, r01, bob, 14.2)
    save(vf, r01, carol, 14.2)
    result = save(vf, r01, bob, 12.4, reason="read the wrong line of the sheet")
    assert result.reading.state == Reading.State.DISPUTED
    assert result.reading.value is None
    update = changes("entry", result.entry.pk)[-1]
    assert update.reason == "read the wrong line of the sheet"
    reading_change = changes("reading", result.reading.pk)[-1]
    assert (reading_change.old["value"], reading_change.new["value"]) == (14.2, None)
    assert result.reading.discrepancies.get().status == Discrepancy.Status.OPEN


def test_correcting_a_disputed_entry_to_agree_verifies_and_closes_the_discrepancy(
    vf, r01, bob, carol
):
    save(vf, r01, bob, 14.2)
    disputed = save(vf, r01, carol, 4.2)
    result = save(vf, r01, carol, 14.2)
    assert result.reading.state == Reading.State.VERIFIED
    discrepancy = disputed.reading.discrepancies.get()
    assert discrepancy.status == Discrepancy.Status.RESOLVED
    assert discrepancy.resolved_value == 14.2
    assert discrepancy.resolved_by == carol
    assert "carol" in discrepancy.note


def test_a_stale_expected_version_raises_a_conflict(vf, r01, bob):
    first = save(vf, r01, bob, 14.2)
    save(vf, r01, bob, 13.0, expected_version=first.entry.version)
    with pytest.raises(ConflictError):
        save(vf, r01, bob, 12.0, expected_version=first.entry.version)
    assert Entry.objects.get().value == 13.0


def test_expecting_no_entry_when_one_exists_raises_a_conflict(vf, r01, bob):
    save(vf, r01, bob, 14.2)
    with pytest.raises(ConflictError):
        save(vf, r01, bob, 12.0, expected_version=0)


def test_a_retried_save_with_an_old_version_but_the_same_value_is_a_no_op(vf, r01, bob):
    first = save(vf, r01, bob, 14.2)
    save(vf, r01, bob, 13.0, expected_version=first.entry.version)
    again = save(vf, r01, bob, 13.0, expected_version=first.entry.version)
    assert (again.created, again.changed) == (False, False)


# --- resolution ------------------------------------------------------------------------------


@pytest.fixture
def discrepancy(vf, r01, bob, carol):
    save(vf, r01, bob, 14.2)
    return save(vf, r01, carol, 4.2).reading.discrepancies.get()


def test_resolving_a_discrepancy_counts_the_resolved_value(discrepancy, alice):
    resolved = discrepancy_resolve(
        discrepancy=discrepancy,
        value=14.2,
        reason="typing_error",
        note="carol typed 4.2",
        user=alice,
    )
    assert resolved.status == Discrepancy.Status.RESOLVED
    assert (resolved.resolved_value, resolved.reason) == (14.2, "typing_error")
    assert resolved.resolved_by == alice and resolved.resolved_at is not None
    assert resolved.values == {"bob": 14.2, "carol": 4.2}
    reading = Reading.objects.get(pk=discrepancy.reading_id)
    assert (reading.state, reading.value) == (Reading.State.RESOLVED, 14.2)
    record = changes("discrepancy", discrepancy.pk)[-1]
    assert record.new["value"] == 14.2 and record.user == alice
    assert record.reason == "Typing error: carol typed 4.2"
    assert changes("reading", reading.pk)[-1].new == {
        "state": "resolved",
        "value": 14.2,
        "behavior": "",
    }


def test_a_resolved_discrepancy_cannot_be_resolved_again(discrepancy, alice):
    discrepancy_resolve(discrepancy=discrepancy, value=14.2, reason="remeasured", user=alice)
    with pytest.raises(ValidationError) as caught:
        discrepancy_resolve(discrepancy=discrepancy, value=5.0, reason="remeasured", user=alice)
    assert "discrepancy" in caught.value.message_dict
    assert Reading.objects.get(pk=discrepancy.reading_id).value == 14.2


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"value": 30}, "value", "Force must be at most 26 g."),
        (
            {"reason": "guess"},
            "reason",
            "Reason must be one of remeasured, typing_error, instrument, other.",
        ),
        ({"reason": "other"}, "note", "Note is required when the reason is other."),
    ],
)
def test_a_resolution_with_bad_input_is_refused(discrepancy, alice, fields, field, message):
    values = {"value": 14.2, "reason": "remeasured"}
    values.update(fields)
    with pytest.raises(ValidationError) as caught:
        discrepancy_resolve(discrepancy=discrepancy, user=alice, **values)
    assert caught.value.message_dict == {field: [message]}
    discrepancy.refresh_from_db()
    assert discrepancy.status == Discrepancy.Status.OPEN


@pytest.mark.parametrize("username", ["dave", "eve"])
def test_a_viewer_or_an_outsider_cannot_resolve(discrepancy, username, request):
    user = request.getfixturevalue(username)
    with pytest.raises(PermissionDenied):
        discrepancy_resolve(discrepancy=discrepancy, value=14.2, reason="remeasured", user=user)
    discrepancy.refresh_from_db()
    assert discrepancy.status == Discrepancy.Status.OPEN


def test_editing_an_entry_of_a_resolved_reading_reopens_it(vf, r01, discrepancy, alice, bob):
    discrepancy_resolve(discrepancy=discrepancy, value=14.2, reason="remeasured", user=alice)
    with pytest.raises(ValidationError):
        save(vf, r01, bob, 14.0)  # a counted value changes only with a reason
    result = save(vf, r01, bob, 14.0, reason="sheet re-read")
    assert result.reading.state == Reading.State.DISPUTED
    statuses = sorted(result.reading.discrepancies.values_list("status", flat=True))
    assert statuses == ["open", "resolved"]


# --- several values at once --------------------------------------------------------------------


def test_entries_save_saves_a_whole_footpad(vf, r01, bob):
    values = [{"footpad": "left", "application": n, "value": 10 + n} for n in range(1, 11)]
    results = entries_save(session=vf, animal=r01, values=values, experimenter="bob", user=bob)
    assert [r.entry.value for r in results] == [11, 12, 13, 14, 15, 16, 17, 18, 19, 20]
    assert Entry.objects.count() == 10


def test_entries_save_saves_nothing_when_one_value_is_bad(vf, r01, bob):
    values = [
        {"footpad": "left", "application": 1, "value": 12},
        {"footpad": "left", "application": 2, "value": 99},
        {"footpad": "left", "application": 3, "value": 13},
        {"footpad": "left", "application": 4, "value": "x"},
    ]
    with pytest.raises(ValidationError) as caught:
        entries_save(session=vf, animal=r01, values=values, experimenter="bob", user=bob)
    assert caught.value.message_dict == {
        "values[1].value": ["Force must be at most 26 g."],
        "values[3].value": ["Force must be a number, not 'x'."],
    }
    assert not Entry.objects.exists()
    assert not Reading.objects.exists()


def _prepared(session, animal, bob, carol) -> None:
    """bob's values of left 1 to 6; carol agrees on 3 and 5 and disagrees on 6."""
    for application, value in enumerate([10.0, 11.0, 12.0, 13.0, 14.0, 15.0], start=1):
        save(session, animal, bob, value, application=application)
    for application, value in [(3, 12.0), (5, 14.0), (6, 9.0)]:
        save(session, animal, carol, value, application=application)


# carol's values: agreeing (left 1), disagreeing (left 2), a no-op (left 3), a new slot
# (right 1) corrected further on, an edit of a verified value with its reason (left 5), an
# edit that settles her disagreement (left 6, at the version she read).
MIXED = [
    {"footpad": "left", "application": 1, "value": 10.0},
    {"footpad": "left", "application": 2, "value": 12.0},
    {"footpad": "left", "application": 3, "value": 12.0},
    {"footpad": "right", "application": 1, "value": 8.0},
    {"footpad": "left", "application": 5, "value": 14.5, "reason": "re-read the sheet"},
    {"footpad": "left", "application": 6, "value": 15.0, "expected_version": 1},
    {"footpad": "right", "application": 1, "value": 8.5},
]


def _stored(animal) -> dict:
    """What is stored for the animal, and its audit records in order, without row ids."""
    slot = {
        reading.pk: (reading.footpad, reading.application)
        for reading in Reading.objects.filter(animal=animal)
    }
    entries = Entry.objects.filter(reading__animal=animal)
    discrepancies = Discrepancy.objects.filter(reading__animal=animal)
    row_of = {
        "reading": slot,
        "entry": {e.pk: (*slot[e.reading_id], e.experimenter) for e in entries},
        "discrepancy": {d.pk: slot[d.reading_id] for d in discrepancies},
    }
    records = ChangeRecord.objects.filter(entity__in=row_of).order_by("id")
    return {
        "readings": sorted(
            Reading.objects.filter(animal=animal).values_list(
                "footpad", "application", "state", "value", "behavior", "version"
            )
        ),
        "entries": sorted(
            (*slot[e.reading_id], e.experimenter, e.value, e.behavior, e.version, e.entered_by_id)
            for e in entries
        ),
        "discrepancies": sorted(
            (
                *slot[d.reading_id],
                d.status,
                d.values,
                d.resolved_value,
                d.reason,
                d.note,
                d.resolved_by_id,
            )
            for d in discrepancies
        ),
        "records": [
            (r.entity, row_of[r.entity][r.object_id], r.action, r.old, r.new, r.reason, r.via)
            for r in records
            if r.object_id in row_of[r.entity]
        ],
    }


def test_a_batch_stores_the_same_rows_and_audit_records_as_its_values_saved_one_by_one(
    study, vf, bob, carol
):
    one_by_one, batch = study.animals.get(code="R01"), study.animals.get(code="R02")
    for animal in (one_by_one, batch):
        _prepared(vf, animal, bob, carol)

    prepared = len(_stored(batch)["records"])

    singles = [
        entry_save(session=vf, animal=one_by_one, experimenter="carol", user=carol, **item)
        for item in MIXED
    ]
    results = entries_save(
        session=vf, animal=batch, values=MIXED, experimenter="carol", user=carol, via="page"
    )

    stored = _stored(batch)
    assert stored == _stored(one_by_one)
    assert [state for *_, state, value, behavior, version in stored["readings"]] == [
        "verified",
        "disputed",
        "verified",
        "unverified",
        "disputed",
        "verified",
        "unverified",
    ]
    assert [record[:3] for record in stored["records"][prepared:]] == [
        ("entry", ("left", 1, "carol"), "create"),
        ("reading", ("left", 1), "update"),
        ("entry", ("left", 2, "carol"), "create"),
        ("discrepancy", ("left", 2), "create"),
        ("entry", ("right", 1, "carol"), "create"),
        ("entry", ("left", 5, "carol"), "update"),
        ("reading", ("left", 5), "update"),
        ("discrepancy", ("left", 5), "create"),
        ("entry", ("left", 6, "carol"), "update"),
        ("reading", ("left", 6), "update"),
        ("discrepancy", ("left", 6), "update"),
        ("entry", ("right", 1, "carol"), "update"),
    ]
    assert [(r.created, r.changed, r.entry.value, r.entry.version) for r in results] == [
        (r.created, r.changed, r.entry.value, r.entry.version) for r in singles
    ]
    assert [r.reading.state for r in results] == [r.reading.state for r in singles]


def test_a_refused_value_refuses_the_batch_with_the_reason_a_single_save_gives(
    study, vf, bob, carol
):
    one_by_one, batch = study.animals.get(code="R01"), study.animals.get(code="R02")
    for animal in (one_by_one, batch):
        _prepared(vf, animal, bob, carol)
    before = _stored(batch)
    # carol changes her verified value of left 3 without saying why.
    values = [*MIXED[:2], {"footpad": "left", "application": 3, "value": 12.4}, *MIXED[3:]]

    with pytest.raises(ValidationError) as single:
        entry_save(session=vf, animal=one_by_one, experimenter="carol", user=carol, **values[2])
    with pytest.raises(ValidationError) as caught:
        entries_save(session=vf, animal=batch, values=values, experimenter="carol", user=carol)

    assert caught.value.message_dict == {"values[2].reason": single.value.message_dict["reason"]}
    assert _stored(batch) == before


def test_a_batch_names_every_refused_value_however_it_is_refused(vf, r01, bob, carol, alice):
    save(vf, r01, bob, 12.0, application=1)
    save(vf, r01, carol, 12.0, application=1)
    values = [
        {"footpad": "left", "application": 1, "value": 12.0},  # a third experimenter
        {"footpad": "left", "application": 2, "value": 40},
        {"footpad": "left", "application": 3, "value": 12.0},
    ]
    with pytest.raises(ValidationError) as caught:
        entries_save(session=vf, animal=r01, values=values, experimenter="alice", user=alice)
    assert set(caught.value.message_dict) == {"values[0].experimenter", "values[1].value"}
    assert not Entry.objects.filter(experimenter="alice").exists()
    assert not Reading.objects.filter(application=3).exists()


def test_a_stale_version_in_a_batch_is_a_conflict_and_saves_nothing(vf, r01, bob):
    save(vf, r01, bob, 12.0, application=1)
    save(vf, r01, bob, 12.5, application=1)  # version 2
    values = [
        {"footpad": "left", "application": 2, "value": 13.0},
        {"footpad": "left", "application": 1, "value": 11.0, "expected_version": 1},
    ]
    with pytest.raises(ConflictError):
        entries_save(session=vf, animal=r01, values=values, experimenter="bob", user=bob)
    assert list(Entry.objects.values_list("value", flat=True)) == [12.5]


def test_a_save_that_meets_a_reading_created_meanwhile_is_saved_under_it(
    monkeypatch, vf, r01, bob, carol
):
    """Two saves found the slot empty; carol's committed first: bob's insert of the reading
    fails on the unique slot, and his save runs again under carol's reading."""
    from behavior import services

    save(vf, r01, carol, 12.0)
    real = services._slots_locked
    calls = []

    def found_empty_the_first_time(ctx, items):
        slots = real(ctx, items)
        calls.append(len(calls) + 1)
        if len(calls) == 1:
            for footpad, application in list(slots):
                reading = Reading(
                    session=ctx.session,
                    animal=ctx.animal,
                    assay=ctx.session.assay,
                    footpad=footpad,
                    application=application,
                )
                slots[(footpad, application)] = services._SlotWork(
                    reading=reading, entries=[], created=True
                )
        return slots

    monkeypatch.setattr(services, "_slots_locked", found_empty_the_first_time)
    result = save(vf, r01, bob, 12.0)

    assert calls == [1, 2]
    assert result.created and result.reading.state == Reading.State.VERIFIED
    assert Reading.objects.get().entries.count() == 2


# --- locks -------------------------------------------------------------------------------------


def test_a_locked_study_refuses_every_write(study, vf, r01, week3, discrepancy, alice, bob):
    Study.objects.filter(pk=study.pk).update(status=Study.Status.LOCKED)
    entries = Entry.objects.count()
    with pytest.raises(StudyLocked):
        save(vf, r01, bob, 12, application=2)
    with pytest.raises(StudyLocked):
        entries_save(
            session=vf,
            animal=r01,
            values=[{"footpad": "left", "application": 3, "value": 12}],
            experimenter="bob",
            user=bob,
        )
    with pytest.raises(StudyLocked):
        session_open(study=study, timepoint=week3, assay="hot_plate", user=alice)
    with pytest.raises(StudyLocked):
        discrepancy_resolve(discrepancy=discrepancy, value=14.2, reason="remeasured", user=alice)
    assert Entry.objects.count() == entries
    assert not MeasurementSession.objects.filter(assay="hot_plate").exists()


def test_a_locked_session_refuses_entries(vf, r01, bob):
    MeasurementSession.objects.filter(pk=vf.pk).update(status="locked")
    with pytest.raises(SessionLocked) as caught:
        save(vf, r01, bob, 12)
    assert isinstance(caught.value, StudyLocked)
    assert "session of day 21 is locked" in str(caught.value)


# --- admin -------------------------------------------------------------------------------------


def test_the_admin_shows_behavioural_data_but_cannot_change_or_delete_it(
    client, root, vf, r01, discrepancy
):
    client.force_login(root)
    reading = discrepancy.reading
    for name in ["measurementsession", "reading", "entry", "discrepancy"]:
        assert client.get(f"/admin/behavior/{name}/").status_code == 200
    page = client.get(f"/admin/behavior/reading/{reading.pk}/change/")
    assert page.status_code == 200
    assert b"14.2" in page.content and b"4.2" in page.content
    assert client.get("/admin/behavior/reading/add/").status_code == 403
    assert client.post(f"/admin/behavior/reading/{reading.pk}/delete/").status_code == 403
    assert Reading.objects.filter(pk=reading.pk).exists()
