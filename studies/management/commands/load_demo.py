"""``python manage.py load_demo``: the seed paper's four experiments as synthetic demo studies,
complete, and a fifth study in progress for the Today page."""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand

from studies.demo import DEMO_STUDIES, demo_memberships_set, demo_study_load
from studies.errors import ImportProblems, StudyLocked


class Command(BaseCommand):
    help = (
        "Load (or complete, without duplicating anything) the demo studies: the seed paper's "
        "four experiments, complete, and one in progress: "
        + ", ".join(DEMO_STUDIES)
        + ". Their animals, weights, doses and readings are synthetic."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--without-readings",
            action="store_true",
            help="load the studies, weights and doses but no behavioural readings",
        )

    def handle(self, *args, without_readings: bool = False, **options):
        readings_load = None if without_readings else self._readings_loader()
        loaded = []
        for key in DEMO_STUDIES:
            try:
                demo = demo_study_load(key=key)
            except StudyLocked as exc:
                self.stdout.write(f"{key}: skipped, {exc}")
                continue
            study = demo.study
            loaded.append(study)
            what = "created" if demo.created else "already there"
            self.stdout.write(
                f"{study.slug}: {what}; {study.animals.count()} animals, day 0 {study.day0}, "
                f"{demo.weights_added} weights and {demo.doses_added} doses added"
            )
            if readings_load is not None:
                try:
                    summary = readings_load(study=study)
                except ImportProblems as exc:
                    for where, reason in exc.problems:
                        self.stderr.write(f"{study.slug} readings {where}: {reason}")
                    sys.exit(1)
                self.stdout.write(f"  readings: {_describe(summary)}")
        demo_memberships_set(studies=loaded)
        self.stdout.write(
            f"Loaded {len(loaded)} demo studies (synthetic data). "
            "Run create_demo_users for the demo logins."
        )

    def _readings_loader(self):
        try:
            from behavior.demo import demo_readings_load
        except ImportError:
            self.stdout.write("Synthetic readings are not available yet: loading without them.")
            return None
        return demo_readings_load


def _describe(summary) -> str:
    parts = []
    for name in ("values", "already_there", "verified_sets", "open_discrepancies"):
        if hasattr(summary, name):
            parts.append(f"{name.replace('_', ' ')} {getattr(summary, name)}")
    return ", ".join(parts) or str(summary)
