"""A bulk write's foreign keys checked once per referenced row (behavior.foreign_keys): the
rows referred to are checked and locked as PostgreSQL's own triggers check and lock them, a
missing one is named and nothing is written, the triggers are back on when the block ends
however it ends, and a connection that may not turn them off writes with every row checked."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from behavior.foreign_keys import checked_once_per_key, may_turn_off_triggers, unchecked_targets
from behavior.models import Entry, MeasurementSession, Reading
from behavior.services import readings_import
from studies.models import Animal
from tests.behavior.test_import_readings import csv_rows, footpad_lines
from tests.factories import make_study

pytestmark = pytest.mark.django_db
postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="row triggers and session_replication_role"
)
User = get_user_model()


def role() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('session_replication_role')")
        return cursor.fetchone()[0]


def a_session(study) -> MeasurementSession:
    return MeasurementSession.objects.create(
        study=study, timepoint=study.timepoints.get(day=21), assay="von_frey"
    )


def write_reading(session, animal_id: int, application: int = 1) -> None:
    """One reading of the session's, its animal given by id, in plain SQL as an import writes."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO behavior_reading (session_id, animal_id, assay, footpad, application, "
            "value, behavior, state, updated_at, version) "
            "VALUES (%s, %s, 'von_frey', 'left', %s, 10, '', 'unverified', CURRENT_TIMESTAMP, 1)",
            [session.pk, animal_id, application],
        )


def all_references(session, animal, user=None) -> dict:
    return {
        MeasurementSession: [session.pk],
        Animal: [animal.pk],
        Reading: [],
        User: [user.pk] if user else [],
    }


def test_every_foreign_key_of_a_written_table_is_checked_or_points_into_the_block():
    study = make_study()
    session, animal = a_session(study), study.animals.get(code="R01")
    references = all_references(session, animal)
    assert unchecked_targets([Reading, Entry], references) == []

    del references[User]
    assert unchecked_targets([Reading, Entry], references) == [
        f"behavior.Entry.entered_by -> {User._meta.label}"
    ]
    with (
        pytest.raises(ValueError, match="behavior.Entry.entered_by"),
        checked_once_per_key(connection, written=[Reading, Entry], referenced=references),
    ):
        write_reading(session, animal.pk)
    assert not Reading.objects.exists()


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's own checks")
def test_on_sqlite_the_block_leaves_the_checks_to_sqlite():
    study = make_study()
    session, animal = a_session(study), study.animals.get(code="R01")
    with checked_once_per_key(
        connection, written=[Reading], referenced=all_references(session, animal)
    ) as once:
        write_reading(session, animal.pk)
    assert once is False
    assert Reading.objects.get().animal_id == animal.pk


@postgresql_only
def test_inside_the_block_the_row_triggers_are_off_and_after_it_they_are_on_again():
    study = make_study()
    session, animal = a_session(study), study.animals.get(code="R01")
    assert role() == "origin"
    with checked_once_per_key(
        connection, written=[Reading], referenced=all_references(session, animal)
    ) as once:
        assert role() == "replica"
        write_reading(session, animal.pk)
    assert once is True
    assert role() == "origin"
    assert Reading.objects.get().animal_id == animal.pk

    # Back on: a reading of an animal that does not exist is refused again.
    with pytest.raises(IntegrityError, match="animal_id"), transaction.atomic():
        write_reading(session, animal.pk + 10_000, application=2)
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


@postgresql_only
def test_a_referenced_row_that_is_gone_is_named_and_nothing_is_written():
    study = make_study()
    session, animal = a_session(study), study.animals.get(code="R01")
    references = all_references(session, animal)
    references[Animal] = [animal.pk, animal.pk + 10_000, animal.pk + 10_001]

    with (
        pytest.raises(IntegrityError) as refused,
        checked_once_per_key(connection, written=[Reading], referenced=references),
    ):
        write_reading(session, animal.pk)

    assert str(refused.value) == (
        f"studies.Animal {animal.pk + 10_000}, {animal.pk + 10_001}: referred to by the rows "
        "being written, but no longer stored"
    )
    assert not Reading.objects.exists()
    assert role() == "origin"


@postgresql_only
def test_an_error_inside_the_block_undoes_its_rows_and_turns_the_triggers_back_on():
    study = make_study()
    session, animal = a_session(study), study.animals.get(code="R01")

    with (
        pytest.raises(ZeroDivisionError),
        checked_once_per_key(
            connection, written=[Reading], referenced=all_references(session, animal)
        ),
    ):
        write_reading(session, animal.pk)
        1 / 0  # noqa: B018 - an error of the caller's, the database still usable

    assert not Reading.objects.exists()
    assert role() == "origin"


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_a_row_referred_to_cannot_be_deleted_until_the_writing_transaction_ends():
    """As a foreign key's trigger locks the row it checked: another connection's DELETE waits
    (here, until its lock timeout), and once the rows are committed it is refused by the
    foreign key as it would be had every row been checked."""
    study = make_study()
    session = a_session(study)
    animal, spare = study.animals.get(code="R01"), study.animals.get(code="R02")
    settings = connection.settings_dict
    other = psycopg.connect(
        dbname=settings["NAME"],
        user=settings["USER"],
        host=settings["HOST"],
        port=settings["PORT"] or 5432,
        password=settings["PASSWORD"] or None,
        autocommit=True,
    )
    try:
        other.execute("SET lock_timeout = '200ms'")
        with transaction.atomic():
            with checked_once_per_key(
                connection, written=[Reading], referenced=all_references(session, animal)
            ) as once:
                write_reading(session, animal.pk)
            assert once is True
            with pytest.raises(psycopg.errors.LockNotAvailable):
                other.execute("DELETE FROM studies_animal WHERE id = %s", [animal.pk])
            # A row the block does not refer to is not held.
            other.execute("DELETE FROM studies_animal WHERE id = %s", [spare.pk])

        with pytest.raises(psycopg.errors.ForeignKeyViolation):
            other.execute("DELETE FROM studies_animal WHERE id = %s", [animal.pk])
    finally:
        other.close()
    assert Reading.objects.get().animal_id == animal.pk
    assert not Animal.objects.filter(pk=spare.pk).exists()


@postgresql_only
def test_a_connection_that_may_not_turn_the_triggers_off_imports_with_every_row_checked():
    """A role that is not a superuser, and was not granted SET on the parameter, writes as
    any other write: each row checked by its trigger."""
    study = make_study()
    name = f"cipn_plain_{uuid.uuid4().hex[:8]}"
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE ROLE {name} NOSUPERUSER")
        cursor.execute(f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {name}")
        cursor.execute(f"GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {name}")
        cursor.execute(f"SET LOCAL ROLE {name}")
    try:
        assert may_turn_off_triggers(connection) is False
        with CaptureQueriesContext(connection) as queries:
            summary = readings_import(study=study, rows=csv_rows(*footpad_lines()))
        assert summary.values == 20
        assert not any("session_replication_role', 'replica'" in q["sql"] for q in queries)

        # The triggers are on: a reading of an animal that does not exist is refused.
        session, animal = MeasurementSession.objects.get(), study.animals.get(code="R01")
        with pytest.raises(IntegrityError, match="animal_id"), transaction.atomic():
            with checked_once_per_key(
                connection, written=[Reading], referenced=all_references(session, animal)
            ) as once:
                write_reading(session, animal.pk + 10_000, application=2)
            assert once is False
            with connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET ROLE")
    assert Reading.objects.count() == 10


@postgresql_only
def test_an_import_checks_its_rows_references_once_each_and_stores_them_all(study, bob):
    readings_import(study=study, rows=csv_rows(*footpad_lines(experimenters=("tech1",))))
    rows = csv_rows(
        *footpad_lines(experimenters=("tech2",)),  # the second entry of stored readings
        *footpad_lines(animal="R02", footpad="right"),
    )

    with CaptureQueriesContext(connection) as queries:
        summary = readings_import(study=study, rows=rows, user=bob)

    sql = [q["sql"] for q in queries]
    locks = [s for s in sql if "FOR KEY SHARE" in s]
    assert [s.split(" FROM ")[1].split()[0] for s in locks] == [
        '"behavior_measurementsession"',
        '"studies_animal"',
        '"behavior_reading"',
        f'"{User._meta.db_table}"',
    ]
    off = next(i for i, s in enumerate(sql) if "'session_replication_role', 'replica'" in s)
    on = next(i for i, s in enumerate(sql) if "'session_replication_role', 'origin'" in s)
    assert off < on
    # Between them the readings' and entries' COPYs (which the query log does not show) and
    # the update of the stored readings that their second entries verify.
    assert [s.split(" SET ")[0] for s in sql[off + 1 : on]] == [
        '10 times: UPDATE "behavior_reading"'
    ]
    assert (summary.readings_created, summary.values) == (10, 30)
    assert Entry.objects.filter(entered_by=bob).count() == 30
    assert Reading.objects.filter(state="verified").count() == 20
    assert role() == "origin"
