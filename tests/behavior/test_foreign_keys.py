"""A bulk write's foreign keys checked once per row referred to (behavior.foreign_keys): every
value the written rows refer to is checked and locked as PostgreSQL's own triggers check and
lock it, a missing one is named and nothing is written, the triggers are back on when the
block ends however it ends, and a connection that may not turn them off, or a table that has
more than foreign keys to lose, gets every row checked by its trigger."""

from __future__ import annotations

import re
import uuid

import psycopg
import pytest
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from behavior.foreign_keys import Ledger, checked_once_per_key, may_turn_off_triggers
from behavior.models import Entry, MeasurementSession, Reading
from behavior.services import _RowWriter, readings_import
from studies.models import Animal
from tests.behavior.test_import_readings import csv_rows, footpad_lines
from tests.factories import make_study

pytestmark = pytest.mark.django_db
postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="row triggers and session_replication_role"
)
User = get_user_model()
READING = ["session", "animal", "assay", "footpad", "application", "value", "behavior", "state"]


def role() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('session_replication_role')")
        return cursor.fetchone()[0]


def a_session(study) -> MeasurementSession:
    return MeasurementSession.objects.create(
        study=study, timepoint=study.timepoints.get(day=21), assay="von_frey"
    )


def write_readings(ledger, session_id: int, *animal_ids: int) -> None:
    """A reading of each animal (given by id) in the session, written as an import writes."""
    rows = [
        (session_id, animal_id, "von_frey", "left", n, 10.0, "", "unverified")
        for n, animal_id in enumerate(animal_ids, start=1)
    ]
    _RowWriter().insert(
        Reading, READING, rows, same={"updated_at": _RowWriter().now, "version": 1}, ledger=ledger
    )


def test_the_ledger_names_what_the_rows_refer_to_but_the_rows_written_with_them():
    ledger = Ledger([Reading, Entry])
    ledger.rows(Reading, ["id", *READING]).extend(
        [(101, 7, 3, "von_frey", "left", 1, 9.0, "", "verified"), (102, 7, 4, "", "", 1, 9, "", "")]
    )
    entries = ledger.rows(Entry, ["id", "reading", "value"], same={"entered_by": 5})
    entries.extend([(1, 101, 9.0), (2, 102, 9.0), (3, 55, 9.0)])
    ledger.rows(Entry, ["reading", "value"], same={"entered_by": None}).append((101, 9.0))

    referred = {
        (field.model._meta.label, field.name): values
        for field, values in ledger.referred_to().items()
    }

    # Readings 101 and 102 are the block's own; reading 55 and entry ids are not referred to
    # from elsewhere; a null user is no reference.
    assert referred == {
        ("behavior.MeasurementSession", "id"): {7},
        ("studies.Animal", "id"): {3, 4},
        ("behavior.Reading", "id"): {55},
        (User._meta.label, "id"): {5},
    }
    with pytest.raises(ValueError, match="studies.Animal is not among the block's written"):
        ledger.rows(Animal, ["code"])


def test_inside_the_block_a_key_is_not_updated_without_its_check():
    study = make_study()
    session = a_session(study)
    with pytest.raises(
        ValueError, match=r"Keys are not updated without their checks: \['animal'\]"
    ):
        _RowWriter().update(Reading, ["value", "animal"], [], ledger=Ledger([Reading]))
    # Without a ledger (triggers on), the writer updates as before.
    _RowWriter().update(MeasurementSession, ["instrument"], [("Dynamic plantar", session.pk)])
    assert MeasurementSession.objects.get().instrument == "Dynamic plantar"


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's own checks")
def test_on_sqlite_the_block_leaves_the_checks_to_sqlite():
    study = make_study()
    session, animal = a_session(study), study.animals.get(code="R01")
    with checked_once_per_key(connection, written=[Reading]) as ledger:
        write_readings(ledger, session.pk, animal.pk)
    assert ledger is None
    assert Reading.objects.get().animal_id == animal.pk


@postgresql_only
def test_inside_the_block_the_row_triggers_are_off_and_after_it_they_are_on_again():
    study = make_study()
    session, animal = a_session(study), study.animals.get(code="R01")
    assert role() == "origin"
    with checked_once_per_key(connection, written=[Reading]) as ledger:
        assert role() == "replica"
        write_readings(ledger, session.pk, animal.pk)
    assert ledger is not None
    assert role() == "origin"
    assert Reading.objects.get().animal_id == animal.pk

    # Back on: a reading of an animal that does not exist is refused again.
    with pytest.raises(IntegrityError, match="animal_id"), transaction.atomic():
        write_readings(None, session.pk, animal.pk + 10_000)
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


@postgresql_only
def test_a_row_referred_to_that_is_not_stored_is_named_and_nothing_is_written():
    study = make_study()
    session, animal = a_session(study), study.animals.get(code="R01")

    with (
        pytest.raises(IntegrityError) as refused,
        checked_once_per_key(connection, written=[Reading]) as ledger,
    ):
        write_readings(ledger, session.pk, animal.pk, animal.pk + 10_001, animal.pk + 10_000)

    assert str(refused.value) == (
        f"studies.Animal id {animal.pk + 10_000}, {animal.pk + 10_001}: referred to by the rows "
        "being written, but not stored"
    )
    assert not Reading.objects.exists()
    assert role() == "origin"


@postgresql_only
def test_an_error_inside_the_block_undoes_its_rows_and_turns_the_triggers_back_on():
    study = make_study()
    session, animal = a_session(study), study.animals.get(code="R01")

    with pytest.raises(ZeroDivisionError), checked_once_per_key(connection, written=[Reading]):
        write_readings(None, session.pk, animal.pk)
        1 / 0  # noqa: B018 - an error of the caller's, the database still usable

    assert not Reading.objects.exists()
    assert role() == "origin"


def other_connection() -> psycopg.Connection:
    """A second connection to the test database, in autocommit: another user's session."""
    settings = connection.settings_dict
    return psycopg.connect(
        dbname=settings["NAME"],
        user=settings["USER"],
        host=settings["HOST"],
        port=settings["PORT"] or 5432,
        password=settings["PASSWORD"] or None,
        autocommit=True,
    )


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_a_row_referred_to_cannot_be_deleted_until_the_writing_transaction_ends():
    """As a foreign key's trigger locks the row it checked: another connection's DELETE waits
    (here, until its lock timeout), and once the rows are committed it is refused by the
    foreign key, as it would be had every row been checked."""
    study = make_study()
    session = a_session(study)
    animal, spare = study.animals.get(code="R01"), study.animals.get(code="R02")
    with other_connection() as other:
        other.execute("SET lock_timeout = '200ms'")
        with transaction.atomic():
            with checked_once_per_key(connection, written=[Reading]) as ledger:
                write_readings(ledger, session.pk, animal.pk)
            assert ledger is not None
            with pytest.raises(psycopg.errors.LockNotAvailable):
                other.execute("DELETE FROM studies_animal WHERE id = %s", [animal.pk])
            # A row the block does not refer to is not held.
            other.execute("DELETE FROM studies_animal WHERE id = %s", [spare.pk])

        with pytest.raises(psycopg.errors.ForeignKeyViolation):
            other.execute("DELETE FROM studies_animal WHERE id = %s", [animal.pk])
    assert Reading.objects.get().animal_id == animal.pk
    assert not Animal.objects.filter(pk=spare.pk).exists()


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_a_row_deleted_while_the_block_writes_fails_the_block():
    """The rows are checked when the block ends, as deferred triggers check them at the
    commit: an animal deleted by another connection after its readings were written, but
    before the block ends, is found missing."""
    study = make_study()
    session, animal = a_session(study), study.animals.get(code="R01")
    with (
        other_connection() as other,
        pytest.raises(IntegrityError, match=f"studies.Animal id {animal.pk}: referred to"),
        checked_once_per_key(connection, written=[Reading]) as ledger,
    ):
        write_readings(ledger, session.pk, animal.pk)
        other.execute("DELETE FROM studies_animal WHERE id = %s", [animal.pk])
    assert not Reading.objects.exists()


def plain_role(*grants: str) -> str:
    """A role that is not a superuser, with the tables' and sequences' privileges and the
    given grants, taken for the rest of the test's transaction."""
    name = f"cipn_plain_{uuid.uuid4().hex[:8]}"
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE ROLE {name} NOSUPERUSER")
        cursor.execute(f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {name}")
        cursor.execute(f"GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {name}")
        for grant in grants:
            cursor.execute(grant.format(role=name))
        cursor.execute(f"SET LOCAL ROLE {name}")
    return name


def import_with_queries(study, rows, **kwargs):
    with CaptureQueriesContext(connection) as queries:
        summary = readings_import(study=study, rows=rows, **kwargs)
    return summary, [q["sql"] for q in queries]


def turned_off(sql: list[str]) -> bool:
    return any("'session_replication_role', 'replica'" in s for s in sql)


@postgresql_only
def test_a_role_that_may_not_turn_the_triggers_off_imports_with_every_row_checked():
    study = make_study()
    plain_role()
    try:
        assert may_turn_off_triggers(connection, [Reading, Entry]) is False
        summary, sql = import_with_queries(study, csv_rows(*footpad_lines()))
        assert summary.values == 20
        assert not turned_off(sql)

        # The triggers are on: a reading of an animal that does not exist is refused.
        session, animal = MeasurementSession.objects.get(), study.animals.get(code="R01")
        with pytest.raises(IntegrityError, match="animal_id"), transaction.atomic():
            with checked_once_per_key(connection, written=[Reading]) as ledger:
                write_readings(ledger, session.pk, animal.pk + 10_000)
            assert ledger is None
            with connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET ROLE")
    assert Reading.objects.count() == 10


@postgresql_only
def test_a_role_granted_the_parameter_imports_with_its_keys_checked_once_each():
    """The deployment the README describes: the application's role is no superuser, and
    was granted SET on session_replication_role."""
    study = make_study()
    plain_role("GRANT SET ON PARAMETER session_replication_role TO {role}")
    try:
        assert may_turn_off_triggers(connection, [Reading, Entry]) is True
        summary, sql = import_with_queries(study, csv_rows(*footpad_lines()))
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET ROLE")
    assert summary.values == 20 and turned_off(sql)
    assert Entry.objects.count() == 20


@postgresql_only
def test_a_table_with_a_trigger_of_its_own_is_written_with_every_row_checked():
    """session_replication_role would turn off any trigger, not only the foreign keys': a
    table that has one is left to its triggers."""
    study = make_study()
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION cipn_test_noop() RETURNS trigger LANGUAGE plpgsql "
            "AS $$ BEGIN RETURN NEW; END $$"
        )
        cursor.execute(
            "CREATE TRIGGER cipn_test_noop BEFORE INSERT ON behavior_entry "
            "FOR EACH ROW EXECUTE FUNCTION cipn_test_noop()"
        )
    assert may_turn_off_triggers(connection, [Reading]) is True
    assert may_turn_off_triggers(connection, [Reading, Entry]) is False
    summary, sql = import_with_queries(study, csv_rows(*footpad_lines()))
    assert summary.values == 20 and not turned_off(sql)


def locked(sql: str) -> tuple[str, list[int]]:
    """The table and the ids of a ``FOR KEY SHARE`` lock of the ledger's, as logged."""
    match = re.fullmatch(
        r'SELECT "id" FROM "(\w+)" WHERE "id" = ANY\(\'\{([\d,]+)\}\'::int\d\[\]\) '
        r'ORDER BY "id" FOR KEY SHARE',
        sql,
    )
    assert match, sql
    return match[1], [int(n) for n in match[2].split(",")]


@postgresql_only
def test_an_import_checks_each_row_its_rows_refer_to_once(study, bob):
    readings_import(study=study, rows=csv_rows(*footpad_lines(experimenters=("tech1",))))
    stored = set(Reading.objects.values_list("pk", flat=True))
    rows = csv_rows(
        *footpad_lines(experimenters=("tech2",)),  # the second entry of stored readings
        *footpad_lines(animal="R02", footpad="right"),
    )

    summary, sql = import_with_queries(study, rows, user=bob)

    off = next(i for i, s in enumerate(sql) if "'session_replication_role', 'replica'" in s)
    on = next(i for i, s in enumerate(sql) if "'session_replication_role', 'origin'" in s)
    # Between them: the readings' and entries' COPYs (which the query log does not show), the
    # update of the stored readings that their second entries verify, and one lock per table
    # referred to, each of its rows once: the session and the animal of the new readings (R01's
    # are stored, and updated), the ten stored readings the second entries refer to (not the
    # ten new ones) and the user.
    assert sql[off + 1].startswith('10 times: UPDATE "behavior_reading" SET')
    locks = sql[off + 2 : on]
    session = MeasurementSession.objects.get(timepoint__day=21, assay="von_frey")
    r02 = study.animals.get(code="R02")
    assert [locked(s) for s in locks] == [
        (User._meta.db_table, [bob.pk]),
        ("behavior_measurementsession", [session.pk]),
        ("behavior_reading", sorted(stored)),
        ("studies_animal", [r02.pk]),
    ]
    assert (summary.readings_created, summary.values) == (10, 30)
    assert Entry.objects.filter(entered_by=bob).count() == 30
    assert Reading.objects.filter(state="verified").count() == 20
    assert role() == "origin"
