"""A backup restores the same study: the dumpdata/loaddata round trip into an emptied database
gives identical statistics, and the online backup copies every row."""

from __future__ import annotations

import datetime as dt
import sqlite3

import pytest
from django.core.management import call_command
from django.db import connection

from behavior.analysis import study_stats_document
from behavior.demo import demo_readings_rows
from behavior.models import Discrepancy, Entry, Reading
from behavior.services import readings_import
from studies.models import ChangeRecord, Study
from tests.fuzz.helpers import row_counts

pytestmark = pytest.mark.django_db

# What `make backup` (README "Backup and restore") leaves out: rows that migrate recreates
# (content types, permissions) and logins that a restore should not bring back (sessions).
DUMP_ARGS = [
    "--natural-foreign",
    "--natural-primary",
    "--exclude=contenttypes",
    "--exclude=auth.permission",
    "--exclude=sessions",
]


@pytest.fixture
def measured(study, alice):
    """The study with the demo's readings for every timepoint: double entries, verified
    values and the demo's open discrepancies."""
    rows = demo_readings_rows(study=study, today=dt.date(2100, 1, 1))
    for number, row in enumerate(rows, start=2):
        row.setdefault("_row", number)
    readings_import(study=study, rows=rows, user=alice, via="command")
    assert Entry.objects.exists() and Discrepancy.objects.exists()
    return study


def documents(slug: str) -> dict:
    study = Study.objects.get(slug=slug)
    return {
        (assay, test): study_stats_document(study=study, assay=assay, test=test)
        for assay in ("von_frey", "hot_plate")
        for test in ("student", "welch")
    }


# Committed rows, as in a real backup: PostgreSQL cannot empty tables (flush) whose deferred
# foreign-key checks are still pending in an open transaction.
@pytest.mark.django_db(transaction=True)
def test_dumpdata_and_loaddata_into_an_empty_database_restore_identical_statistics(
    measured, tmp_path
):
    before = documents(measured.slug)
    counts = row_counts()
    states = sorted(Reading.objects.values_list("state", flat=True))
    backup = tmp_path / "backup.json"

    call_command("dumpdata", *DUMP_ARGS, "--output", str(backup), verbosity=0)
    call_command("flush", "--no-input", verbosity=0)
    assert not Study.objects.exists() and not Entry.objects.exists()
    call_command("loaddata", str(backup), verbosity=0)

    assert documents(measured.slug) == before
    assert row_counts() == counts
    assert sorted(Reading.objects.values_list("state", flat=True)) == states
    assert before[("von_frey", "student")]["summary"], "nothing was compared"


# Committed rows, as a running server has them: SQLite waits for the end of an open write
# transaction before it copies a page, so a backup cannot run inside the test's transaction.
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "sqlite", reason="the SQLite online backup")
def test_the_online_backup_of_sqlite_holds_every_row(measured, tmp_path):
    target = tmp_path / "backup.sqlite3"

    call_command("backup_database", str(target), verbosity=0)

    copy = sqlite3.connect(target)
    try:
        (entries,) = copy.execute("SELECT COUNT(*) FROM behavior_entry").fetchone()
        (changes,) = copy.execute("SELECT COUNT(*) FROM studies_changerecord").fetchone()
    finally:
        copy.close()
    assert entries == Entry.objects.count() > 0
    assert changes == ChangeRecord.objects.count() > 0


def test_a_backup_never_overwrites_a_file(tmp_path):
    target = tmp_path / "backup.sqlite3"
    target.write_bytes(b"an earlier backup")

    with pytest.raises(Exception, match="already exists"):
        call_command("backup_database", str(target), verbosity=0)

    assert target.read_bytes() == b"an earlier backup"
