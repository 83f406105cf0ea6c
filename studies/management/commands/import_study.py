"""``python manage.py import_study PATH``: create or update a study from its study.json."""

from __future__ import annotations

import json
import sys

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from studies.errors import ImportProblems, StudyLocked
from studies.interchange import study_import_report


class Command(BaseCommand):
    help = (
        "Create the study described by a study.json file (interchange.md section 1), or update "
        "the study with its slug. Invalid input: every problem with its JSON path, exit status "
        "1, nothing written."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="the study.json file")
        parser.add_argument(
            "--user", help="username to name in the audit trail as the importer (optional)"
        )

    def handle(self, *args, path: str, user: str | None = None, **options):
        importer = None
        if user:
            importer = get_user_model().objects.filter(username=user).first()
            if importer is None:
                self._fail([("--user", f"no user is called {user!r}")])
        try:
            with open(path, encoding="utf-8") as handle:
                data = json.load(handle)
        except OSError as exc:
            self._fail([(path, f"cannot be read: {exc.strerror or exc}")])
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            self._fail([("$", f"{path} is not valid JSON: {exc}")])
        try:
            report = study_import_report(data=data, user=importer, via="command")
        except ImportProblems as exc:
            self._fail(exc.problems)
        except StudyLocked as exc:
            self._fail([("$.slug", str(exc))])
        verb = "Created" if report.created else "Updated"
        self.stdout.write(f"{verb} study {report.study.slug}: {report.study.title}")
        lines = report.lines()
        for line in lines:
            self.stdout.write(f"  {line}")
        if not lines:
            self.stdout.write("  no changes: the study already matches the file")

    def _fail(self, problems: list[tuple[str, str]]) -> None:
        for where, reason in problems:
            self.stderr.write(f"{where}: {reason}")
        self.stderr.write(f"Nothing was imported ({len(problems)} problem(s)).")
        sys.exit(1)
