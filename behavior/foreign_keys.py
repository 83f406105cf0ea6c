"""A bulk write's foreign keys checked once per row referred to instead of once per row written.

PostgreSQL checks a foreign key with a trigger per written row: at the commit (Django's
constraints are deferred) it looks up the row referred to and locks it ``FOR KEY SHARE``, so
that it cannot be deleted, nor its key changed, before the writing transaction ends. An import
of 32,000 readings and their 64,000 entries makes about 190,000 such checks (each reading's
session and animal, each entry's reading and user) of a few hundred distinct rows, and they
take longer than copying the rows in (see the README's "Performance").

Inside :func:`checked_once_per_key` the rows are written with the row triggers off for this
transaction only (``session_replication_role = replica``, as logical replication applies rows)
and kept in a :class:`Ledger` as they go. When the block ends, the ledger makes the same check
once per distinct value: every foreign-key value of every row written, except the rows the
block wrote itself, is looked up and locked ``FOR KEY SHARE``, and if any is missing the block
fails with an :class:`IntegrityError` naming them, and its savepoint takes back what it wrote.
Then the triggers are on again.

What else ``replica`` would turn off is not allowed to exist: the block checks rows only as
the ledger's, and falls back to the triggers, for tables that have no trigger but their foreign
keys' and no rule (so no deferrable unique or exclusion constraint, whose checks are triggers
too). Their primary keys, non-deferrable unique and check constraints and NOT NULL are
enforced inside the block as everywhere else.

Setting ``session_replication_role`` takes a superuser, or from PostgreSQL 15 a role granted
``SET ON PARAMETER session_replication_role``. Without it, and on SQLite, the block writes as
any other write: every row is checked by the triggers (or by SQLite itself), and the ledger is
not used.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from operator import attrgetter

from django.db import IntegrityError, models, transaction
from django.db.models import Model


def foreign_keys(model: type[Model]) -> list[models.ForeignKey]:
    """The model's fields that the database holds a foreign-key constraint for (one-to-one
    fields included)."""
    return [
        field
        for field in model._meta.concrete_fields
        if isinstance(field, models.ForeignKey) and field.db_constraint
    ]


def may_turn_off_triggers(connection, written: Collection[type[Model]]) -> bool:
    """Whether this connection may set ``session_replication_role`` (PostgreSQL only), and
    nothing but foreign keys would be turned off on the written models' tables by it."""
    if connection.vendor != "postgresql":
        return False
    may = (
        "has_parameter_privilege('session_replication_role', 'SET')"
        if connection.pg_version >= 150000
        else "current_setting('is_superuser') = 'on'"
    )
    tables = [model._meta.db_table for model in written]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {may} AND NOT EXISTS ("
            "  SELECT FROM pg_trigger t LEFT JOIN pg_constraint c ON c.oid = t.tgconstraint"
            "  WHERE t.tgrelid = ANY(%s::text[]::regclass[]) AND c.contype IS DISTINCT FROM 'f'"
            ") AND NOT EXISTS ("
            "  SELECT FROM pg_rewrite r"
            "  WHERE r.ev_class = ANY(%s::text[]::regclass[]) AND r.rulename <> '_RETURN'"
            ")",
            [tables, tables],
        )
        return bool(cursor.fetchone()[0])


class Ledger:
    """The rows written inside a :func:`checked_once_per_key` block, by model, as the tuples
    of the fields they were written with; what every row shares (``same``) once."""

    def __init__(self, written: Collection[type[Model]]):
        self.written = set(written)
        self._tables: list[tuple[type[Model], list[str], dict, list[tuple]]] = []

    def rows(self, model: type[Model], fields: list[str], *, same: dict | None = None) -> list:
        """A list to append each written row of ``model`` to, ``fields``' values in order."""
        if model not in self.written:
            raise ValueError(f"{model._meta.label} is not among the block's written models")
        rows: list[tuple] = []
        self._tables.append((model, list(fields), dict(same or {}), rows))
        return rows

    def referred_to(self) -> dict[models.Field, set]:
        """Target field (a primary key, or a foreign key's ``to_field``) -> the values the
        written rows refer to, leaving out rows the block wrote itself with given keys."""
        values: dict[models.Field, set] = defaultdict(set)
        own: dict[models.Field, set] = defaultdict(set)
        for model, fields, same, rows in self._tables:
            position = {name: i for i, name in enumerate(fields)}
            pk = model._meta.pk
            for name in {pk.name, pk.attname}:
                if name in position:
                    i = position[name]
                    own[pk].update(row[i] for row in rows)
            for field in foreign_keys(model):
                target = field.target_field
                for name in (field.name, field.attname):
                    if name in position:
                        i = position[name]
                        values[target].update(row[i] for row in rows)
                    if name in same:
                        values[target].add(same[name])
        found = {}
        for target, seen in values.items():
            seen.discard(None)
            seen -= own.get(target, set())
            if seen:
                found[target] = seen
        return found

    def check(self, connection) -> None:
        """Lock each row referred to ``FOR KEY SHARE``, as a foreign key's trigger does, and
        raise :class:`IntegrityError` naming those that are not stored."""
        quote = connection.ops.quote_name
        referred = self.referred_to()
        with connection.cursor() as cursor:
            for target in sorted(referred, key=attrgetter("model._meta.label", "column")):
                wanted = sorted(referred[target])
                column, table = quote(target.column), quote(target.model._meta.db_table)
                # In one order (table, then key) however many blocks lock them.
                cursor.execute(
                    f"SELECT {column} FROM {table} WHERE {column} = ANY(%s) "
                    f"ORDER BY {column} FOR KEY SHARE",
                    [wanted],
                )
                stored = {row[0] for row in cursor.fetchall()}
                missing = [value for value in wanted if value not in stored]
                if missing:
                    shown = ", ".join(map(str, missing[:10]))
                    raise IntegrityError(
                        f"{target.model._meta.label} {target.name} "
                        f"{shown}{' ...' if len(missing) > 10 else ''}: referred to by the rows "
                        "being written, but not stored"
                    )


@contextmanager
def checked_once_per_key(
    connection, *, written: Collection[type[Model]]
) -> Iterator[Ledger | None]:
    """A block that writes rows of the ``written`` models with their foreign keys checked once
    per row referred to, at its end. Yields the :class:`Ledger` the block records each row it
    writes in (:meth:`Ledger.rows`), or ``None`` where the rows are checked as usual, one by
    one, and need not be recorded.

    Inside the block, only record-keeping writes (inserts through the ledger, and updates of
    columns that are neither keys nor foreign keys) are allowed. The block is atomic (a
    savepoint inside a transaction): an error, a missing row among them, undoes its writes and
    its setting.
    """
    with transaction.atomic(using=connection.alias):
        if not may_turn_off_triggers(connection, written):
            yield None
            return
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT current_setting('session_replication_role'), "
                "set_config('session_replication_role', 'replica', true)"
            )
            before = cursor.fetchone()[0]
        ledger = Ledger(written)
        yield ledger
        # Still without the triggers: the locks below are the checks. After an error, leaving
        # the atomic block rolls the setting back with the writes.
        ledger.check(connection)
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('session_replication_role', %s, true)", [before])
