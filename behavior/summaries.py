"""Per-footpad summaries of the readings, kept in step with them.

A large study has tens of thousands of value slots, and the statistics need only one number per
footpad and session (the mean of its applications) and how many of its slots are in each state.
:func:`footpad_summaries_refresh` recomputes those rows from the readings of the animals a write
touched (the animals' rows locked, one DELETE, one INSERT ... SELECT); every service that writes
readings calls it in its own transaction, so a summary is never seen out of step with its
readings.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection, transaction

from behavior.models import FootpadSummary, MeasurementSession, Reading
from studies.models import Animal

_COUNTS = ", ".join(
    f"SUM(CASE WHEN state = '{state}' THEN 1 ELSE 0 END)"
    for state in ("verified", "resolved", "unverified", "disputed")
)


def _insert_select(where: str) -> str:
    summary = connection.ops.quote_name(FootpadSummary._meta.db_table)
    reading = connection.ops.quote_name(Reading._meta.db_table)
    return (
        f"INSERT INTO {summary} (session_id, animal_id, assay, footpad, slots, with_value, mean, "
        "n_verified, n_resolved, n_unverified, n_disputed) "
        f"SELECT session_id, animal_id, assay, footpad, COUNT(*), COUNT(value), AVG(value), "
        f"{_COUNTS} FROM {reading} WHERE {where} "
        "GROUP BY session_id, animal_id, assay, footpad"
    )


def _lock(animals) -> None:
    """Lock the animals' rows (PostgreSQL; SQLite lets one writer in at a time anyway).

    Two transactions refreshing the same animal's summaries, say two experimenters saving
    different footpads of it at once, would otherwise each delete what the other cannot see yet
    and insert rows computed without the other's readings. Under the lock the second waits for
    the first to commit, and its next statement sees what the first wrote.
    """
    list(animals.order_by("pk").select_for_update().values_list("pk", flat=True))


def footpad_summaries_refresh(
    *, session: MeasurementSession | int, animals: Iterable[int] | None = None
) -> None:
    """Recompute the summaries of ``animals`` (ids; all animals when ``None``) in ``session``.

    Call it inside the transaction that wrote the readings: three queries.
    """
    session_id = session if isinstance(session, int) else session.pk
    stale = FootpadSummary.objects.filter(session_id=session_id)
    where, params = "session_id = %s", [session_id]
    if animals is not None:
        ids = sorted(set(animals))
        if not ids:
            return
        _lock(Animal.objects.filter(pk__in=ids))
        stale = stale.filter(animal_id__in=ids)
        where += f" AND animal_id IN ({', '.join(['%s'] * len(ids))})"
        params += ids
    else:
        _lock(Animal.objects.filter(study__sessions=session_id))
    stale.delete()
    with connection.cursor() as cursor:
        cursor.execute(_insert_select(where), params)


@transaction.atomic
def footpad_summaries_rebuild(*, sessions: Iterable[int] | None = None) -> int:
    """Recompute the summaries of ``sessions`` (ids; every session when ``None``) from their
    readings; returns the number of summary rows written."""
    if sessions is None:
        _lock(Animal.objects.all())
        FootpadSummary.objects.all().delete()
        where, params = "1 = 1", []
    else:
        ids = sorted(set(sessions))
        if not ids:
            return 0
        _lock(Animal.objects.filter(study__sessions__in=ids))
        stale = FootpadSummary.objects.filter(session_id__in=ids)
        stale.delete()
        where, params = f"session_id IN ({', '.join(['%s'] * len(ids))})", ids
    with connection.cursor() as cursor:
        cursor.execute(_insert_select(where), params)
        return cursor.rowcount
