"""The per-footpad summaries and entry tallies stay equal to their readings and entries after
every write path.

The statistics read ``FootpadSummary`` rows instead of the slots; a summary out of step would
silently change a published number. Blind double entry reads ``EntryTally`` rows to decide
when agreement may be shown; a tally out of step would show it too early or never. Each test
writes through a service and compares every summary and tally with the same reduction
computed from the readings and entries by the ORM.
"""

from __future__ import annotations

import io
import threading
import time

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection, transaction
from django.db.models import Avg, Count, Q

from behavior.models import Discrepancy, Entry, EntryTally, FootpadSummary, Reading
from behavior.readings_io import parse_readings_csv
from behavior.services import (
    discrepancy_resolve,
    entries_save,
    entry_save,
    readings_import,
    session_open,
)
from behavior.summaries import summaries_refresh, summaries_refresh_saved
from studies.errors import ImportProblems
from studies.models import Animal

pytestmark = pytest.mark.django_db

HEADER = "animal,day,assay,footpad,application,value,experimenter,behavior"


def from_readings() -> set[tuple]:
    """The summaries as they must be: one aggregate over the readings."""
    rows = (
        Reading.objects.values_list("session_id", "animal_id", "assay", "footpad")
        .annotate(
            slots=Count("id"),
            with_value=Count("value"),
            mean=Avg("value"),
            **{
                f"n_{state}": Count("id", filter=Q(state=state))
                for state in ("verified", "resolved", "unverified", "disputed")
            },
        )
        .order_by()
    )
    return {_rounded(row) for row in rows}


def stored() -> set[tuple]:
    return {
        _rounded(row)
        for row in FootpadSummary.objects.values_list(
            "session_id",
            "animal_id",
            "assay",
            "footpad",
            "slots",
            "with_value",
            "mean",
            "n_verified",
            "n_resolved",
            "n_unverified",
            "n_disputed",
        )
    }


def _rounded(row: tuple) -> tuple:
    mean = row[6]
    return (*row[:6], None if mean is None else round(mean, 9), *row[7:])


def tallies_from_entries() -> set[tuple]:
    """The tallies as they must be: entries counted per session, animal and experimenter."""
    return set(
        Entry.objects.values_list("reading__session_id", "reading__animal_id", "experimenter")
        .annotate(Count("id"))
        .order_by()
    )


def stored_tallies() -> set[tuple]:
    return set(EntryTally.objects.values_list("session_id", "animal_id", "experimenter", "entries"))


def assert_in_step():
    expected = from_readings()
    assert expected, "the test wrote no readings"
    assert stored() == expected
    tallies = tallies_from_entries()
    assert tallies, "the test wrote no entries"
    assert stored_tallies() == tallies


class Revisions:
    """The animals' summaries revisions, to tell which a write renewed: a dashboard caches
    statistics under them, and one left unchanged would show statistics of older summaries."""

    def __init__(self):
        self.seen = self.now()

    @staticmethod
    def now() -> dict[str, int]:
        return dict(Animal.objects.values_list("code", "summaries_revision"))

    def renewed(self) -> set[str]:
        """The animals whose revision changed since the last call."""
        now = self.now()
        changed = {code for code, revision in now.items() if revision != self.seen.get(code)}
        self.seen = now
        return changed


@pytest.fixture
def revisions(study):
    return Revisions()


@pytest.fixture
def vf(study, alice):
    return session_open(
        study=study, timepoint=study.timepoints.get(day=21), assay="von_frey", user=alice
    )


@pytest.fixture
def r01(study):
    return study.animals.get(code="R01")


def save(vf, animal, user, value, application=1, footpad="left", **kw):
    return entry_save(
        session=vf,
        animal=animal,
        footpad=footpad,
        application=application,
        value=value,
        experimenter=user.username,
        user=user,
        **kw,
    )


def test_entries_agreement_dispute_resolution_and_edit_keep_the_summaries_in_step(
    vf, r01, bob, carol, alice, revisions
):
    save(vf, r01, bob, 10.0)
    assert_in_step()
    assert FootpadSummary.objects.get().n_unverified == 1
    assert revisions.renewed() == {"R01"}

    save(vf, r01, carol, 10.0)
    assert revisions.renewed() == {"R01"}
    save(vf, r01, bob, 12.0, application=2)
    save(vf, r01, carol, 15.0, application=2)
    assert_in_step()
    summary = FootpadSummary.objects.get()
    assert (summary.n_verified, summary.n_disputed, summary.slots) == (1, 1, 2)

    discrepancy = Discrepancy.objects.get(status=Discrepancy.Status.OPEN)
    revisions.renewed()
    discrepancy_resolve(discrepancy=discrepancy, value=14.0, reason="remeasured", user=alice)
    assert_in_step()
    summary = FootpadSummary.objects.get()
    assert (summary.n_resolved, summary.mean) == (1, 12.0)
    assert revisions.renewed() == {"R01"}

    save(vf, r01, bob, 11.0, reason="misread the display")
    assert_in_step()
    assert revisions.renewed() == {"R01"}


def test_a_batch_of_one_animals_values_keeps_the_summaries_in_step(vf, r01, bob, revisions):
    entries_save(
        session=vf,
        animal=r01,
        experimenter="bob",
        user=bob,
        values=[
            {"footpad": footpad, "application": n, "value": 8.0 + n}
            for footpad in ("left", "right")
            for n in range(1, 11)
        ],
    )
    assert_in_step()
    assert revisions.renewed() == {"R01"}
    # One experimenter of two: nothing counts yet, every slot waits for the second entry.
    assert sorted(
        FootpadSummary.objects.values_list("footpad", "slots", "with_value", "n_unverified")
    ) == [("left", 10, 0, 10), ("right", 10, 0, 10)]


def test_a_refused_save_leaves_the_summaries_as_they_were(vf, r01, bob, revisions):
    save(vf, r01, bob, 10.0)
    before, tallies_before = stored(), stored_tallies()
    assert revisions.renewed() == {"R01"}
    with pytest.raises(ValidationError):
        entries_save(
            session=vf,
            animal=r01,
            experimenter="bob",
            user=bob,
            values=[
                {"footpad": "left", "application": 2, "value": 9.0},
                {"footpad": "left", "application": 3, "value": 99.0},
            ],
        )
    assert (stored(), stored_tallies()) == (before, tallies_before)
    assert_in_step()
    assert revisions.renewed() == set()


def test_an_import_keeps_the_summaries_in_step(study, vf, r01, bob, revisions):
    save(vf, r01, bob, 10.0)
    revisions.renewed()
    lines = [
        f"{animal},{day},von_frey,{footpad},{n},{10 + n / 10:.1f},{who},"
        for animal in ("R02", "R03")
        for day in (-1, 21)
        for footpad in ("left", "right")
        for who in ("tech1", "tech2")
        for n in range(1, 11)
    ] + ["R02,21,hot_plate,,1,12.5,tech1,lick"]
    readings_import(
        study=study, rows=parse_readings_csv("\n".join([HEADER, *lines]) + "\n"), user=bob
    )
    assert_in_step()
    # Two animals x two days x two footpads of von Frey, the hot plate, and R01's footpad.
    assert FootpadSummary.objects.count() == 8 + 1 + 1
    # The import rebuilds the summaries of every session it wrote to: all the study's animals.
    assert revisions.renewed() == set(Revisions.now())


def test_imports_into_stored_sessions_advance_the_tallies_they_add_to(study, vf, r01, bob):
    # An import advances the tallies by the entries it adds instead of counting the sessions'
    # entries again: a tally it adds to, one it creates beside stored ones, and one of a
    # session it opens must all come out as the entries counted afresh.
    save(vf, r01, bob, 10.0)  # bob's tally of R01 on day 21: 1

    def import_lines(*lines):
        readings_import(
            study=study, rows=parse_readings_csv("\n".join([HEADER, *lines]) + "\n"), user=bob
        )

    def footpad(animal, day, side, who, applications=range(1, 11)):
        return [
            f"{animal},{day},von_frey,{side},{n},{10 + n / 10:.1f},{who}," for n in applications
        ]

    import_lines(*footpad("R01", 21, "right", "tech1"), *footpad("R02", 21, "left", "tech1"))
    assert_in_step()
    import_lines(
        *footpad("R01", 21, "left", "bob", range(2, 11)),  # bob's tally: 1 + 9
        *footpad("R01", 21, "right", "tech2"),  # the second experimenter of stored readings
        *footpad("R02", 21, "right", "tech1"),  # tech1's tally of R02: 10 + 10
        *footpad("R01", -1, "left", "tech1"),  # a session the import opens
        "R01,21,hot_plate,,1,12.5,tech1,lick",
    )
    assert_in_step()
    day21 = vf.pk
    assert {
        (animal, who): entries
        for session, animal, who, entries in stored_tallies()
        if session == day21
    } == {
        (r01.pk, "bob"): 10,
        (r01.pk, "tech1"): 10,
        (r01.pk, "tech2"): 10,
        (study.animals.get(code="R02").pk, "tech1"): 20,
    }

    # A refused import advances nothing.
    before = stored_tallies()
    with pytest.raises(ImportProblems):
        import_lines(*footpad("R03", 21, "left", "tech1"), "R03,21,von_frey,left,1,99,tech2,")
    assert stored_tallies() == before
    assert_in_step()


def test_refresh_summaries_rebuilds_them_from_the_readings(study, vf, r01, bob, carol, revisions):
    save(vf, r01, bob, 10.0)
    save(vf, r01, carol, 10.0)
    expected, tallies = stored(), stored_tallies()
    assert tallies == {(vf.pk, r01.pk, "bob", 1), (vf.pk, r01.pk, "carol", 1)}
    FootpadSummary.objects.all().delete()
    EntryTally.objects.all().delete()
    out = io.StringIO()
    call_command("refresh_summaries", study.slug, stdout=out)
    assert (stored(), stored_tallies()) == (expected, tallies)
    assert "Rebuilt 1 footpad summaries of study" in out.getvalue()
    assert revisions.renewed() == set(Revisions.now())
    FootpadSummary.objects.update(mean=1.0)
    EntryTally.objects.update(entries=7)
    call_command("refresh_summaries", stdout=io.StringIO())
    assert (stored(), stored_tallies()) == (expected, tallies)
    assert revisions.renewed() == set(Revisions.now())


def refresh_all(session, animal, footpad):
    summaries_refresh(session=session, animals=[animal.pk])


def refresh_as_an_entry_save(session, animal, footpad):
    summaries_refresh_saved(
        session_id=session.pk, animal_id=animal.pk, footpads=[footpad], experimenter=None
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("refresh", [refresh_all, refresh_as_an_entry_save])
def test_two_transactions_refreshing_one_animal_wait_for_each_other(
    study, alice, bob, carol, refresh
):
    """Two experimenters save different footpads of one animal at the same moment: on
    PostgreSQL the second refresh must wait for the first transaction and then see its rows,
    or it fails on the unique summary or leaves the first one's values out. (SQLite lets one
    writer in at a time: there is nothing to race.)"""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises writers: the race exists only on PostgreSQL")
    session = session_open(
        study=study, timepoint=study.timepoints.get(day=21), assay="von_frey", user=alice
    )
    animal = study.animals.get(code="R01")
    save(session, animal, bob, 10.0, footpad="left")
    save(session, animal, bob, 10.0, footpad="right")
    left, right = (
        Reading.objects.get(session=session, animal=animal, footpad=footpad)
        for footpad in ("left", "right")
    )
    first_refreshed = threading.Event()
    errors: list[BaseException] = []

    def first():
        try:
            with transaction.atomic():
                Reading.objects.filter(pk=left.pk).update(value=12.0, state="verified")
                refresh(session, animal, "left")
                first_refreshed.set()
                time.sleep(0.5)  # still uncommitted while the second refreshes
        except BaseException as error:
            errors.append(error)
        finally:
            first_refreshed.set()
            connection.close()

    def second():
        try:
            first_refreshed.wait(timeout=30)
            with transaction.atomic():
                Reading.objects.filter(pk=right.pk).update(value=14.0, state="verified")
                refresh(session, animal, "right")
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert_in_step()
    assert sorted(FootpadSummary.objects.values_list("footpad", "mean", "n_verified")) == [
        ("left", 12.0, 1),
        ("right", 14.0, 1),
    ]


def test_an_entry_save_writes_over_its_footpads_summary_and_its_experimenters_tally(
    vf, r01, bob, carol, revisions
):
    save(vf, r01, bob, 10.0)
    save(vf, r01, bob, 12.0, footpad="right")
    ids = set(FootpadSummary.objects.values_list("pk", flat=True))
    tally = EntryTally.objects.get(experimenter="bob")
    revisions.renewed()

    save(vf, r01, bob, 11.0, application=2)
    save(vf, r01, carol, 10.0)
    save(vf, r01, bob, 9.0, application=2)  # an edit: the reading changes, the tally does not

    assert_in_step()
    assert set(FootpadSummary.objects.values_list("pk", flat=True)) == ids
    assert EntryTally.objects.get(experimenter="bob").pk == tally.pk
    assert revisions.renewed() == {"R01"}
