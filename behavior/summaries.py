"""Per-footpad summaries of the readings, kept in step with them.

A large study has tens of thousands of value slots, and the statistics need only one number per
footpad and session (the mean of its applications) and how many of its slots are in each state.
:func:`footpad_summaries_refresh` recomputes those rows from the readings of the animals a write
touched, with one DELETE and one INSERT ... SELECT; every service that writes readings calls it
in its own transaction, so a summary is never seen out of step with its readings.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection, transaction

from behavior.models import FootpadSummary, MeasurementSession, Reading

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


def footpad_summaries_refresh(
    *, session: MeasurementSession | int, animals: Iterable[int] | None = None
) -> None:
    """Recompute the summaries of ``animals`` (ids; all animals when ``None``) in ``session``.

    Call it inside the transaction that wrote the readings: two queries.
    """
    session_id = session if isinstance(session, int) else session.pk
    stale = FootpadSummary.objects.filter(session_id=session_id)
    where, params = "session_id = %s", [session_id]
    if animals is not None:
        ids = sorted(set(animals))
        if not ids:
            return
        stale = stale.filter(animal_id__in=ids)
        where += f" AND animal_id IN ({', '.join(['%s'] * len(ids))})"
        params += ids
    stale.delete()
    with connection.cursor() as cursor:
        cursor.execute(_insert_select(where), params)


@transaction.atomic
def footpad_summaries_rebuild(*, sessions: Iterable[int] | None = None) -> int:
    """Recompute the summaries of ``sessions`` (ids; every session when ``None``) from their
    readings; returns the number of summary rows written."""
    if sessions is None:
        FootpadSummary.objects.all().delete()
        where, params = "1 = 1", []
    else:
        ids = sorted(set(sessions))
        if not ids:
            return 0
        stale = FootpadSummary.objects.filter(session_id__in=ids)
        stale.delete()
        where, params = f"session_id IN ({', '.join(['%s'] * len(ids))})", ids
    with connection.cursor() as cursor:
        cursor.execute(_insert_select(where), params)
        return cursor.rowcount
