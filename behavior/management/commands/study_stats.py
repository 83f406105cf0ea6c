"""``python manage.py study_stats SLUG --assay ASSAY [--test student|welch]``: print the
statistics document of interchange.md section 3 as JSON, the same as the stats API returns."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from behavior.analysis import study_stats_document
from behavior.forms_dashboard import StatsOptionsForm
from studies.models import Study


class Command(BaseCommand):
    help = (
        "Print one assay's statistics of a study as JSON (interchange.md section 3): group "
        "n, mean, SD, SEM per timepoint, the study's comparisons by t-test, and what was left "
        "out. Bad slug, assay or option: exit status 1 with the reason."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug", help="the study's slug")
        # Checked here rather than with argparse choices, whose refusal exits with status 2.
        parser.add_argument("--assay", required=True, help="von_frey or hot_plate")
        parser.add_argument("--test", default="student", help="student (default) or welch")
        parser.add_argument("--correction", default="none", help="none (default) or holm")
        parser.add_argument("--outcome", default="raw", help="raw (default) or percent_baseline")
        parser.add_argument("--footpads", default="both", help="both (default), left or right")
        parser.add_argument(
            "--include-unverified",
            action="store_true",
            help="count values entered by one experimenter only (off by default)",
        )
        parser.add_argument("--indent", type=int, default=2, help="JSON indent (default 2)")

    def handle(self, *args, slug: str, **options):
        study = Study.objects.filter(slug=slug).first()
        if study is None:
            raise CommandError(f"No study with slug {slug!r}.")
        assays = list(study.assays.values_list("assay", flat=True))
        form = StatsOptionsForm(
            {
                "assay": options["assay"],
                "test": options["test"],
                "correction": options["correction"],
                "outcome": options["outcome"],
                "footpads": options["footpads"],
                "include_unverified": options["include_unverified"],
            },
            assays=assays,
            require_assay=True,
        )
        if not form.is_valid():
            raise CommandError(
                " ".join(
                    f"--{name.replace('_', '-')}: {message}"
                    for name, messages in form.errors.items()
                    for message in messages
                )
            )
        chosen = form.options()
        document = study_stats_document(
            study=study,
            assay=form.cleaned_data["assay"],
            test=chosen.test,
            correction=chosen.correction,
            outcome=chosen.outcome,
            footpads=chosen.footpads,
            include_unverified=chosen.include_unverified,
        )
        self.stdout.write(json.dumps(document, indent=options["indent"] or None, allow_nan=False))
