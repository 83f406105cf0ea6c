"""Summaries of the readings and entries, kept in step with them.

A large study has tens of thousands of value slots, and the statistics need only one number per
footpad and session (the mean of its applications) and how many of its slots are in each state
(:class:`~behavior.models.FootpadSummary`); blind double entry needs only how many values each
experimenter has entered in a session (:class:`~behavior.models.EntryTally`).
:func:`summaries_refresh` recomputes both from the readings and entries of the animals a write
touched (the animals' rows locked and their ``summaries_revision`` renewed, then a DELETE and
an INSERT ... SELECT per table); every service that writes readings or entries calls it in its
own transaction, so a summary is never seen out of step with what it summarises. An import,
which only adds entries and knows how many, advances the tallies by them instead of counting
the sessions' entries again (:func:`summaries_rebuild`'s ``entries_added``).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping

from django.db import connection, transaction
from django.db.models import Subquery

from behavior.models import Entry, EntryTally, FootpadSummary, MeasurementSession, Reading
from studies.models import Animal

# A summary's ``n_<state>`` column for each state of a reading, and the sum that fills it.
_STATE_COLUMNS = ", ".join(f"n_{state}" for state in Reading.State.values)
_COUNTS = ", ".join(
    f"SUM(CASE WHEN state = '{state}' THEN 1 ELSE 0 END)" for state in Reading.State.values
)


def _table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


# Both statements read the readings as ``r``: ``where`` names their columns so.


def _summarise(where: str) -> str:
    """The footpad summaries of the readings that ``where`` selects."""
    return (
        f"INSERT INTO {_table(FootpadSummary)} (session_id, animal_id, assay, footpad, slots, "
        f"with_value, mean, {_STATE_COLUMNS}) "
        f"SELECT session_id, animal_id, assay, footpad, COUNT(*), COUNT(value), AVG(value), "
        f"{_COUNTS} FROM {_table(Reading)} r WHERE {where} "
        "GROUP BY session_id, animal_id, assay, footpad"
    )


def _tally(where: str) -> str:
    """The entry tallies of the readings that ``where`` selects."""
    return (
        f"INSERT INTO {_table(EntryTally)} (session_id, animal_id, experimenter, entries) "
        f"SELECT r.session_id, r.animal_id, e.experimenter, COUNT(*) "
        f"FROM {_table(Entry)} e JOIN {_table(Reading)} r ON r.id = e.reading_id "
        f"WHERE {where} GROUP BY r.session_id, r.animal_id, e.experimenter"
    )


def _lock(animals) -> None:
    """Lock the animals' rows and give them a new summaries revision (one statement).

    The lock (PostgreSQL; SQLite lets one writer in at a time anyway): two transactions
    refreshing the same animal's summaries, say two experimenters saving different footpads of
    it at once, would otherwise each delete what the other cannot see yet and insert rows
    computed without the other's readings. Under the lock the second waits for the first to
    commit, and its next statement sees what the first wrote. The rows are locked in the
    order of their ids, so that two refreshes of overlapping animals cannot deadlock.

    The revision (``Animal.summaries_revision``) tells a reader whose cached statistics were
    computed from these summaries that they no longer hold.
    """
    locked = animals.order_by("pk").select_for_update().values("pk")
    Animal.objects.filter(pk__in=Subquery(locked)).update(summaries_revision=secrets.randbits(63))


def _write(where: str, params: list, *, tallies: bool = True) -> int:
    """Insert the summaries (and unless told otherwise the tallies) of what ``where`` selects;
    the summary rows written."""
    with connection.cursor() as cursor:
        cursor.execute(_summarise(where), params)
        written = cursor.rowcount
        if tallies:
            cursor.execute(_tally(where), params)
    return written


def _tallies_advance(counts: Mapping[tuple[int, int, str], int]) -> None:
    """Add ``counts``, entries by (session id, animal id, experimenter), to the tallies in one
    statement; a tally that does not exist yet starts at its count."""
    if not counts:
        return
    table = _table(EntryTally)
    insert = f"INSERT INTO {table} (session_id, animal_id, experimenter, entries) "
    advance = (
        "ON CONFLICT (session_id, animal_id, experimenter) "
        f"DO UPDATE SET entries = {table}.entries + excluded.entries"
    )
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # One statement whatever the number of tallies: the rows as four arrays.
            sessions, animals, experimenters = zip(*counts, strict=True)
            cursor.execute(
                f"{insert}SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::text[], "
                f"%s::integer[]) {advance}",
                [list(sessions), list(animals), list(experimenters), list(counts.values())],
            )
        else:
            cursor.executemany(
                f"{insert}VALUES (%s, %s, %s, %s) {advance}",
                [(*key, count) for key, count in counts.items()],
            )


def summaries_refresh(
    *, session: MeasurementSession | int, animals: Iterable[int] | None = None
) -> None:
    """Recompute the footpad summaries and entry tallies of ``animals`` (ids; all animals when
    ``None``) in ``session``.

    Call it inside the transaction that wrote the readings or entries: five queries.
    """
    session_id = session if isinstance(session, int) else session.pk
    stale = {"session_id": session_id}
    where, params = "r.session_id = %s", [session_id]
    if animals is not None:
        ids = sorted(set(animals))
        if not ids:
            return
        _lock(Animal.objects.filter(pk__in=ids))
        stale["animal_id__in"] = ids
        where += f" AND r.animal_id IN ({', '.join(['%s'] * len(ids))})"
        params += ids
    else:
        _lock(Animal.objects.filter(study__sessions=session_id))
    FootpadSummary.objects.filter(**stale).delete()
    EntryTally.objects.filter(**stale).delete()
    _write(where, params)


@transaction.atomic
def summaries_rebuild(
    *,
    sessions: Iterable[int] | None = None,
    entries_added: Mapping[tuple[int, int, str], int] | None = None,
) -> int:
    """Recompute the footpad summaries and entry tallies of ``sessions`` (ids; every session
    when ``None``) from their readings and entries; returns the number of summary rows
    written.

    ``entries_added``: the entries that the caller's transaction added to ``sessions``, by
    (session id, animal id, experimenter), when it changed no other entry of theirs (an
    import only adds entries). The tallies are then advanced by these counts rather than
    recounted: a count joins the sessions' readings to the entries, which PostgreSQL does by
    reading the whole entry table, while the tallies already hold the entries there before,
    kept in step by every writer under the animals' locks (taken here before the tallies are
    written, so a save that committed meanwhile is in them)."""
    if sessions is None:
        if entries_added is not None:
            raise ValueError("entries_added needs the sessions they were added to.")
        _lock(Animal.objects.all())
        FootpadSummary.objects.all().delete()
        EntryTally.objects.all().delete()
        return _write("1 = 1", [])
    ids = sorted(set(sessions))
    if not ids:
        return 0
    _lock(Animal.objects.filter(study__sessions__in=ids))
    FootpadSummary.objects.filter(session_id__in=ids).delete()
    where = f"r.session_id IN ({', '.join(['%s'] * len(ids))})"
    if entries_added is None:
        EntryTally.objects.filter(session_id__in=ids).delete()
        return _write(where, ids)
    written = _write(where, ids, tallies=False)
    _tallies_advance(entries_added)
    return written


def _replacing(statement: str, key: str, columns: str) -> str:
    """``statement``, an INSERT of summaries or tallies, replacing the rows of the same ``key``
    (the columns of their unique constraint) instead of failing on them."""
    sets = ", ".join(f"{column} = excluded.{column}" for column in columns.split(", "))
    return f"{statement} ON CONFLICT ({key}) DO UPDATE SET {sets}"


def summaries_refresh_saved(
    *, session_id: int, animal_id: int, footpads: Iterable[str], experimenter: str | None
) -> None:
    """:func:`summaries_refresh` of what an entry save wrote: the summaries of one animal's
    ``footpads`` whose readings it inserted or changed, and ``experimenter``'s tally if it
    inserted entries (None: it only edited them). Three queries at most instead of five: an
    entry save adds readings and entries and never removes one, so each row it needs
    afterwards exists or is new, and is written over (``ON CONFLICT ... DO UPDATE``) instead of
    deleted and inserted again. The animal is locked and its revision renewed first, as there
    (see :func:`_lock`), by a plain UPDATE of its row: one row needs no locking order, and the
    UPDATE locks it as the SELECT ... FOR UPDATE of ``_lock`` does for others.

    Call it inside the transaction that wrote the readings and entries.
    """
    footpads = sorted(set(footpads))
    if not footpads and experimenter is None:
        return
    where = "r.session_id = %s AND r.animal_id = %s"
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {_table(Animal)} SET summaries_revision = %s WHERE id = %s",
            [secrets.randbits(63), animal_id],
        )
        if footpads:
            cursor.execute(
                _replacing(
                    _summarise(f"{where} AND r.footpad IN ({', '.join(['%s'] * len(footpads))})"),
                    "session_id, animal_id, footpad",
                    f"slots, with_value, mean, {_STATE_COLUMNS}",
                ),
                [session_id, animal_id, *footpads],
            )
        if experimenter is not None:
            cursor.execute(
                _replacing(
                    _tally(f"{where} AND e.experimenter = %s"),
                    "session_id, animal_id, experimenter",
                    "entries",
                ),
                [session_id, animal_id, experimenter],
            )
