"""``python manage.py study_member SLUG USERNAME ROLE``: give a user a role in a study."""

from __future__ import annotations

import sys

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from studies.models import Membership, Study
from studies.services import membership_set


class Command(BaseCommand):
    help = "Give USERNAME the ROLE (pi, technician or viewer) in the study SLUG, or change it."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("username")
        # Not argparse choices: a wrong role exits with status 1 like every other refusal.
        parser.add_argument("role", help="pi, technician or viewer")

    def handle(self, *args, slug: str, username: str, role: str, **options):
        problems = []
        study = Study.objects.filter(slug=slug).first()
        if study is None:
            problems.append(f"slug: no study is called {slug!r}")
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            problems.append(f"username: no user is called {username!r}")
        if role not in Membership.Role.values:
            choices = ", ".join(Membership.Role.values)
            problems.append(f"role: must be one of {choices} (got {role!r})")
        if problems:
            for problem in problems:
                self.stderr.write(problem)
            sys.exit(1)
        membership_set(study=study, user=user, role=role, via="command")
        self.stdout.write(f"{user.get_username()} is now {role} of {study.slug}")
