"""Seed a database for the load test, and count what it stored afterwards.

    python load/seed.py seed PLAN.json    # users, studies, readings; writes the plan locust reads
    python load/seed.py count PLAN.json   # entries stored per technician in the load's sessions

Ten rat studies of three groups of ten (the paper's vehicle, paclitaxel + saline, paclitaxel +
IVIg), von Frey under double entry, with baseline and week 3 already measured (the demo's
synthetic readings, so that each dashboard computes real statistics) and week 4 open for entry.
Technicians tech01..tech20 work in pairs, two per study; pi01..pi05 lead two studies each.
Everything goes through the application's services, as the pages would.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cipn_lab.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db.models import Count  # noqa: E402
from django.utils import timezone  # noqa: E402

from behavior.demo import demo_readings_rows  # noqa: E402
from behavior.models import Entry  # noqa: E402
from behavior.services import readings_import, session_open  # noqa: E402
from studies.interchange import study_import  # noqa: E402
from studies.models import Timepoint  # noqa: E402
from studies.services import membership_set  # noqa: E402

STUDIES = 10
ANIMALS_PER_GROUP = 10
ENTRY_DAY = 28
PASSWORD = os.environ.get("LOAD_PASSWORD", "load-test-password-not-for-production")
GROUPS = [("VEH", "Vehicle"), ("PTX-SAL", "Paclitaxel + saline"), ("PTX-IVIG", "Paclitaxel + IVIg")]


def study_data(number: int, day0: dt.date) -> dict:
    animals = [
        {"code": f"R{g * ANIMALS_PER_GROUP + i + 1:02d}", "group": code, "cage": f"C{g + 1}"}
        for g, (code, _name) in enumerate(GROUPS)
        for i in range(ANIMALS_PER_GROUP)
    ]
    return {
        "format": "cipn-study/1",
        "slug": f"load-{number:02d}",
        "title": f"Load test study {number} (synthetic)",
        "species": "rat",
        "day0": day0.isoformat(),
        "blinded": False,
        "assays": {"von_frey": {"applications_per_footpad": 10, "double_entry": True}},
        "groups": [{"code": code, "name": name, "control": code == "VEH"} for code, name in GROUPS],
        "timepoints": [
            {"label": "baseline", "day": -1},
            {"label": "week 3", "day": 21},
            {"label": "week 4", "day": ENTRY_DAY},
        ],
        "comparisons": [
            {"reference": "VEH", "group": "PTX-SAL", "symbol": "#"},
            {"reference": "PTX-SAL", "group": "PTX-IVIG", "symbol": "*"},
        ],
        "animals": animals,
    }


def user(username: str):
    account, _ = get_user_model().objects.get_or_create(username=username)
    account.set_password(PASSWORD)
    account.save()
    return account


def seed(plan_path: Path) -> None:
    admin = user("load-admin")
    admin.is_staff = admin.is_superuser = True
    admin.save()
    # Week 4 is today; baseline and week 3 lie in the past and are filled in.
    day0 = timezone.localdate() - dt.timedelta(days=ENTRY_DAY)
    plan = {"password": PASSWORD, "day": ENTRY_DAY, "technicians": [], "pis": []}
    pis = {f"pi{n:02d}": [] for n in range(1, STUDIES // 2 + 1)}
    for number in range(1, STUDIES + 1):
        study, _ = study_import(data=study_data(number, day0), user=admin, via="command")
        pi_name = f"pi{(number + 1) // 2:02d}"
        membership_set(study=study, user=user(pi_name), role="pi", by=admin, via="command")
        pis[pi_name].append(study.slug)
        rows = demo_readings_rows(study=study, today=day0 + dt.timedelta(days=ENTRY_DAY))
        for row_number, row in enumerate(rows, start=2):
            row.setdefault("_row", row_number)
        readings_import(study=study, rows=rows, user=admin, via="command")
        timepoint = Timepoint.objects.get(study=study, day=ENTRY_DAY)
        session_open(study=study, timepoint=timepoint, assay="von_frey", user=admin)
        animals = list(study.animals.order_by("code").values_list("pk", flat=True))
        for partner in (0, 1):
            username = f"tech{2 * number - 1 + partner:02d}"
            membership_set(
                study=study, user=user(username), role="technician", by=admin, via="command"
            )
            plan["technicians"].append(
                {"username": username, "slug": study.slug, "animals": animals, "partner": partner}
            )
    plan["pis"] = [{"username": name, "slugs": slugs} for name, slugs in pis.items()]
    plan_path.write_text(json.dumps(plan, indent=1))
    print(f"Seeded {STUDIES} studies, {len(plan['technicians'])} technicians, {len(pis)} PIs.")


def count(plan_path: Path) -> None:
    """Print, as JSON, the entries stored in the load's sessions per technician."""
    plan = json.loads(plan_path.read_text())
    slugs = sorted({t["slug"] for t in plan["technicians"]})
    stored = dict(
        Entry.objects.filter(
            reading__session__study__slug__in=slugs,
            reading__session__timepoint__day=plan["day"],
        )
        .values_list("experimenter")
        .annotate(n=Count("id"))
        .values_list("experimenter", "n")
    )
    print(json.dumps(stored))


if __name__ == "__main__":
    action, path = sys.argv[1], Path(sys.argv[2])
    {"seed": seed, "count": count}[action](path)
