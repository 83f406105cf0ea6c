"""``python manage.py create_demo_users``: the demo's PI, technicians and viewer."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from studies.demo import demo_users_create


class Command(BaseCommand):
    help = (
        "Create the demo users (pi, tech1, tech2, viewer) if missing and give them their roles "
        "in every synthetic (demo) study. Their passwords are for the demo only."
    )

    def handle(self, *args, **options):
        users = demo_users_create()
        self.stdout.write("Demo logins (DEMO ONLY: never use these accounts with real data)")
        for user in users:
            note = "" if user.created else "  (already there: password not changed)"
            self.stdout.write(
                f"  {user.username:<8} {user.role:<11} password: {user.password}{note}"
            )
