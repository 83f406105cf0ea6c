"""``python manage.py refresh_summaries [SLUG]``: rebuild the per-footpad summaries that the
statistics read and the entry tallies that blind double entry reads, from the readings and
entries, for one study or all of them (after restoring readings written outside the
application, for instance)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from behavior.models import MeasurementSession
from behavior.summaries import summaries_rebuild
from studies.models import Study


class Command(BaseCommand):
    help = "Rebuild the footpad summaries and entry tallies of a study (all studies without SLUG)."

    def add_arguments(self, parser):
        parser.add_argument("slug", nargs="?", help="the study's slug (all studies if left out)")

    def handle(self, *args, slug: str | None = None, **options):
        sessions = None
        if slug is not None:
            study = Study.objects.filter(slug=slug).first()
            if study is None:
                raise CommandError(f"No study with slug {slug!r}.")
            sessions = MeasurementSession.objects.filter(study=study).values_list("pk", flat=True)
        written = summaries_rebuild(sessions=sessions)
        where = f"study {slug}" if slug else "every study"
        self.stdout.write(f"Rebuilt {written} footpad summaries of {where}.")
