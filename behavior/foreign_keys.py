"""A bulk write's foreign keys checked once per referenced row instead of once per written row.

PostgreSQL checks a foreign key with a trigger per inserted row: it looks the referenced row
up and locks it ``FOR KEY SHARE``, so that it cannot be deleted, nor its key changed, before
the writing transaction ends. An import of 32,000 readings and their 64,000 entries makes
about 190,000 such checks (each reading's session and animal, each entry's reading and user)
against a few hundred distinct rows, and at the commit, where Django's deferred constraints
run them, they take longer than copying the rows in (see the README's "Performance").

:func:`checked_once_per_key` does the same check once per distinct key: it locks the
referenced rows ``FOR KEY SHARE`` itself and fails if any is missing, then writes the block's
rows with the row-by-row triggers off for this transaction only
(``session_replication_role = replica``, as ``pg_restore --disable-triggers`` does). The rows
of the block may then refer only to rows it was given, which it has checked and locked, or to
rows written inside it, in this transaction: :func:`checked_once_per_key` refuses a block
whose tables have a foreign key to any other table. Unique and check constraints are indexes
and expressions, not triggers: they hold inside the block as anywhere else.

Setting ``session_replication_role`` takes a superuser, or from PostgreSQL 15 a role granted
``SET ON PARAMETER session_replication_role``. Without it, and on SQLite, the block runs as
any other write: the triggers (or SQLite's own checks) check every row.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from contextlib import contextmanager

from django.db import IntegrityError, transaction
from django.db.models import Model

# What the block's references may be: a model and the ids of its rows that are referred to.
References = dict[type[Model], Collection[int]]


def foreign_keys(model: type[Model]) -> list:
    """The model's fields that the database holds a foreign-key constraint for."""
    return [
        field
        for field in model._meta.concrete_fields
        if field.is_relation and field.many_to_one and field.db_constraint
    ]


def unchecked_targets(written: Collection[type[Model]], referenced: References) -> list[str]:
    """``model.field -> target`` of each foreign key of the written models whose target is
    neither written in the block nor among the rows given to check: what the block cannot
    vouch for."""
    return [
        f"{model._meta.label}.{field.name} -> {field.related_model._meta.label}"
        for model in written
        for field in foreign_keys(model)
        if field.related_model not in written and field.related_model not in referenced
    ]


def may_turn_off_triggers(connection) -> bool:
    """Whether this connection may set ``session_replication_role`` (PostgreSQL only)."""
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        if connection.pg_version >= 150000:
            cursor.execute("SELECT has_parameter_privilege('session_replication_role', 'SET')")
        else:
            cursor.execute("SELECT current_setting('is_superuser') = 'on'")
        return bool(cursor.fetchone()[0])


def lock_referenced(connection, referenced: References) -> None:
    """Lock the referenced rows ``FOR KEY SHARE``, as a foreign key's trigger locks each, and
    raise :class:`IntegrityError` naming those that do not exist."""
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for model, ids in referenced.items():
            ids = sorted(set(ids))
            if not ids:
                continue
            pk = quote(model._meta.pk.column)
            # In id order, as every lock of these rows by this code is taken.
            cursor.execute(
                f"SELECT {pk} FROM {quote(model._meta.db_table)} WHERE {pk} = ANY(%s) "
                f"ORDER BY {pk} FOR KEY SHARE",
                [ids],
            )
            found = {row[0] for row in cursor.fetchall()}
            if len(found) != len(ids):
                missing = [pk for pk in ids if pk not in found]
                shown = ", ".join(map(str, missing[:10])) + (" ..." if len(missing) > 10 else "")
                raise IntegrityError(
                    f"{model._meta.label} {shown}: referred to by the rows being written, "
                    "but no longer stored"
                )


@contextmanager
def checked_once_per_key(
    connection, *, written: Collection[type[Model]], referenced: References
) -> Iterator[bool]:
    """Inside the block, rows of the ``written`` models are stored without a foreign-key
    check per row, once every row in ``referenced`` has been checked and locked; yields
    whether it is so (else every row is checked as usual).

    The caller vouches that each foreign key of each written row refers to a row of
    ``referenced`` or to a row written inside the block; a foreign key of a written model to
    any other model is refused here, before anything is written. The block is atomic (a
    savepoint inside a transaction): an error inside it undoes its writes and its setting, and
    the triggers are back on when it ends either way.
    """
    unchecked = unchecked_targets(written, referenced)
    if unchecked:
        raise ValueError("Foreign keys this block would not check: " + "; ".join(unchecked))
    with transaction.atomic(using=connection.alias):
        if not may_turn_off_triggers(connection):
            yield False
            return
        lock_referenced(connection, referenced)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT current_setting('session_replication_role'), "
                "set_config('session_replication_role', 'replica', true)"
            )
            before = cursor.fetchone()[0]
        yield True
        # On an error, leaving the atomic block rolls the setting back with the writes.
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('session_replication_role', %s, true)", [before])
