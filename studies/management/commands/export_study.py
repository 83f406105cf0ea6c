"""``python manage.py export_study SLUG DIR``: write a study's export package into DIR."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from studies.exports import study_export_files
from studies.models import Study


class Command(BaseCommand):
    help = (
        "Write study.json and readings.csv (which import into an identical study), SLUG.xlsx "
        "and a GraphPad Prism SLUG.pzfx into DIR (interchange.md section 4)."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug", help="the study's slug")
        parser.add_argument("directory", help="where to write the files (made if missing)")

    def handle(self, *args, slug: str, directory: str, **options):
        study = Study.objects.filter(slug=slug).first()
        if study is None:
            raise CommandError(f"No study with slug {slug!r}.")
        target = Path(directory)
        if target.exists() and not target.is_dir():
            raise CommandError(f"{directory}: exists and is not a folder.")
        try:
            written = study_export_files(study=study, directory=target)
        except OSError as exc:
            raise CommandError(f"{directory}: cannot write there ({exc.strerror}).") from None
        for path in written:
            self.stdout.write(f"Wrote {path} ({path.stat().st_size} bytes).")
