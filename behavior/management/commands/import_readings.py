"""``python manage.py import_readings SLUG PATH``: load a readings CSV or workbook, all or none."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from behavior.readings_io import parse_readings_file
from behavior.services import readings_import
from studies.errors import ImportProblems, StudyLocked
from studies.models import Study


class Command(BaseCommand):
    help = (
        "Import readings (interchange.md section 2) from a .csv or .xlsx file into a study. "
        "Any bad row: every problem is printed, nothing is written, exit status 1."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug", help="the study's slug")
        parser.add_argument("path", help="readings.csv, or an .xlsx whose first sheet has them")

    def handle(self, *args, slug: str, path: str, **options):
        study = Study.objects.filter(slug=slug).first()
        if study is None:
            raise CommandError(f"No study with slug {slug!r}.")
        file = Path(path)
        if not file.is_file():
            raise CommandError(f"{path}: no such file.")
        try:
            rows = parse_readings_file(file)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        except Exception as exc:  # a damaged workbook or an undecodable CSV
            raise CommandError(f"{path}: cannot be read ({exc}).") from None
        try:
            summary = readings_import(study=study, rows=rows, user=None, via="command")
        except ImportProblems as exc:
            for where, message in exc.problems:
                self.stderr.write(f"{where}, {message}")
            count = len(exc.problems)
            raise CommandError(
                f"{count} problem{'s' if count != 1 else ''} in {file.name}: nothing was imported."
            ) from None
        except StudyLocked as exc:
            raise CommandError(str(exc)) from None

        self.stdout.write(
            f"Imported {summary.values} values into {study.slug} "
            f"({summary.already_there} already there, {summary.sessions_opened} sessions opened)."
        )
        self.stdout.write(
            f"{study.slug} holds {summary.study_values} values, "
            f"{summary.verified_sets} verified sets and "
            f"{summary.open_discrepancies} open discrepancies."
        )
