"""``python manage.py backup_database DEST``: a consistent copy of the database while it runs.

SQLite: the online backup API (``sqlite3.Connection.backup``) copies the database page by page
under its own locks, so writers may go on meanwhile and the copy is a valid database file
(copying ``db.sqlite3`` with ``cp`` while the server writes can tear it, and misses the WAL).
PostgreSQL: ``pg_dump --format=custom``, which ``pg_restore`` reads back.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import connection


class Command(BaseCommand):
    help = (
        "Write a consistent backup of the database to DEST: a SQLite database file (SQLite) or "
        "a pg_dump custom-format archive (PostgreSQL), taken while the application runs."
    )

    def add_arguments(self, parser):
        parser.add_argument("dest", help="the backup file to write (it must not exist yet)")

    def handle(self, *args, dest: str, **options):
        target = Path(dest)
        if target.exists():
            raise CommandError(f"{dest}: already exists; a backup never overwrites a file.")
        if not target.parent.is_dir():
            raise CommandError(f"{target.parent}: no such folder.")
        if connection.vendor == "sqlite":
            self._sqlite(target)
        elif connection.vendor == "postgresql":
            self._postgresql(target)
        else:  # the settings accept only these two
            raise CommandError(f"Backups of {connection.vendor} databases are not supported.")
        self.stdout.write(f"Backed up to {target} ({target.stat().st_size} bytes).")

    def _sqlite(self, target: Path) -> None:
        if connection.in_atomic_block:
            # SQLite would wait for the end of this connection's own write transaction.
            raise CommandError("A backup cannot be taken inside a transaction.")
        connection.ensure_connection()
        copy = sqlite3.connect(target)
        try:
            connection.connection.backup(copy)
        except sqlite3.Error as exc:
            copy.close()
            target.unlink(missing_ok=True)
            raise CommandError(f"The backup failed: {exc}") from None
        copy.close()

    def _postgresql(self, target: Path) -> None:
        if shutil.which("pg_dump") is None:
            raise CommandError(
                "pg_dump is not installed (Debian: apt-get install postgresql-client)."
            )
        db = connection.settings_dict
        command = ["pg_dump", "--format=custom", "--no-owner", f"--file={target}"]
        for flag, key in (("--host", "HOST"), ("--port", "PORT"), ("--username", "USER")):
            if db.get(key):
                command.append(f"{flag}={db[key]}")
        command.append(db["NAME"])
        environment = {**os.environ}
        if db.get("PASSWORD"):
            environment["PGPASSWORD"] = db["PASSWORD"]
        result = subprocess.run(command, env=environment, capture_output=True, text=True)
        if result.returncode != 0:
            target.unlink(missing_ok=True)
            raise CommandError(f"pg_dump failed: {result.stderr.strip()}")
