"""The demo: the seed paper's four experiments as complete studies, a fifth still in progress,
all with synthetic data, and the demo users who work in them.

The studies go through ``study_import`` and the memberships through ``membership_set``. The
synthetic body weights and given doses, a few thousand rows, are written in bulk with their
audit rows beside them (``ChangeRecord``, reason "synthetic demo data"), as an import would:
row by row through ``body_weight_record`` and ``dose_record`` the demo took a minute to load.
Loading again adds only what is missing.

Each demo study has a planned day, the study day that today is when it is first loaded. The
demo writes a study's history (weights, doses, readings) only before that day: in the paper's
four studies that is the day after the last timepoint, so their dashboards show the whole of
the paper's figures; in the study in progress it is a dosing and measurement day, whose work
is left to the people trying the demo, and a later load never writes over what they entered.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.db import transaction
from django.utils import timezone

from studies import access
from studies.designs import DESIGNS, design_for
from studies.interchange import study_import_report
from studies.models import Animal, BodyWeight, ChangeRecord, DoseRecord, DosingSchedule, Study
from studies.selectors import dose_volume_ml
from studies.services import membership_set


@dataclass(frozen=True)
class DemoPlan:
    """How one demo study is made: from which of the paper's designs, under which title, and
    which study day today is when it is first loaded (``planned_day``)."""

    design: str
    planned_day: int
    title: str = ""  # empty: the design's title
    blinded: bool | None = None  # None: as the design says


# The paper's four studies are complete: today is the day after their last timepoint (week 5,
# day 35, in rats; day 14 in mice). The fifth, from Figure 1a's design, is at day 21: the
# IVIg or saline dose and the week-3 von Frey session are due today, with the baseline done.
# It is blinded, as fig3 is, so that technicians see coded groups on the Today and entry pages.
DEMO_STUDIES: dict[str, DemoPlan] = {
    "fig1a-rat-paclitaxel": DemoPlan(design="fig1a-rat-paclitaxel", planned_day=36),
    "fig1b-rat-doxorubicin": DemoPlan(design="fig1b-rat-doxorubicin", planned_day=36),
    "fig2-mouse-paclitaxel": DemoPlan(design="fig2-mouse-paclitaxel", planned_day=15),
    "fig3-rat-clodronate": DemoPlan(design="fig3-rat-clodronate", planned_day=36),
    "demo-today-rat-paclitaxel": DemoPlan(
        design="fig1a-rat-paclitaxel",
        planned_day=21,
        title="IVIg in paclitaxel-induced neuropathy (rat), in progress",
        blinded=True,
    ),
}
DEMO_TODAY_DAY = {slug: plan.planned_day for slug, plan in DEMO_STUDIES.items()}

# Body weight on day -1 (g, mean and SD) and weekly gain (g) of vehicle and drug-treated
# animals: young adult Crl:CD (SD) rats and ICR mice; chemotherapy slows the gain.
WEIGHTS = {
    "rat": {"mean": 250.0, "sd": 12.0, "gain": 35.0, "drug_gain": 25.0, "step": 1.0},
    "mouse": {"mean": 30.0, "sd": 1.5, "gain": 1.2, "drug_gain": 0.6, "step": 0.1},
}
CAGE_SIZE = {"rat": 3, "mouse": 5}
DOSE_TIME = dt.time(10, 0)

# username, role in every demo study, password. For the demo only: printed on the console.
DEMO_USERS = [
    ("pi", access.PI, "cipn-demo-pi-2026"),
    ("tech1", access.TECHNICIAN, "cipn-demo-tech1-2026"),
    ("tech2", access.TECHNICIAN, "cipn-demo-tech2-2026"),
    ("viewer", access.VIEWER, "cipn-demo-viewer-2026"),
]


@dataclass
class DemoStudy:
    """One demo study after loading, with what this load added."""

    study: Study
    created: bool
    weights_added: int
    doses_added: int


def demo_until(*, study: Study) -> dt.date | None:
    """The date before which the demo writes ``study``'s history: day 0 plus its planned day;
    None for a study that is not a demo study or has no day 0."""
    plan = DEMO_STUDIES.get(study.slug)
    if plan is None or study.day0 is None:
        return None
    return study.day0 + dt.timedelta(days=plan.planned_day)


def demo_study_data(*, key: str, day0: dt.date) -> dict:
    """The study.json of the demo study ``key`` (a slug of ``DEMO_STUDIES``): its design,
    marked synthetic and running, with the paper's group sizes as animals R01.. (rats) or M01..
    (mice)."""
    plan = DEMO_STUDIES[key]
    title = plan.title or DESIGNS[plan.design]["title"]
    design = design_for(plan.design, slug=key, title=f"{title} (synthetic demo)", day0=day0)
    if plan.blinded is not None:
        design["blinded"] = plan.blinded
    design["synthetic"] = True
    design["status"] = Study.Status.RUNNING.value
    prefix = "R" if design["species"] == "rat" else "M"
    slots = [g["code"] for g in design["groups"] for _ in range(g["n_per_group"])]
    if design["blinded"]:
        # In a blinded study consecutive codes must not give the groups away.
        random.Random(key).shuffle(slots)
    cage_size = CAGE_SIZE[design["species"]]
    cages: dict[str, int] = {}
    animals = []
    for number, code in enumerate(slots, start=1):
        # Cage mates share a group, as when each cage is dosed together.
        in_group = sum(1 for a in animals if a["group"] == code)
        if in_group % cage_size == 0:
            cages[code] = len({a["cage"] for a in animals}) + 1
        animals.append(
            {
                "code": f"{prefix}{number:02d}",
                "group": code,
                "cage": f"C{cages[code]:02d}",
                "sex": design["sex"],
            }
        )
    design["animals"] = animals
    return design


@transaction.atomic
def demo_study_load(*, key: str, today: dt.date | None = None) -> DemoStudy:
    """Create or complete the demo study ``key`` (a slug of ``DEMO_STUDIES``).

    A new study gets the day 0 that makes today its planned day; an existing one keeps its day
    0, so that its data stay where they are. Body weights (day -1, then weekly) and the doses
    due (given) are added where missing, up to the day before today or before the planned day,
    whichever comes first.
    """
    today = today or timezone.localdate()
    existing = Study.objects.filter(slug=key).only("day0").first()
    day0 = (existing.day0 if existing else None) or today - dt.timedelta(DEMO_TODAY_DAY[key])
    report = study_import_report(data=demo_study_data(key=key, day0=day0), via="command")
    study = report.study
    until = min(today, demo_until(study=study) or today)
    animals = list(study.animals.select_related("group").order_by("code"))
    weights = _weights_add(study, animals, until)
    doses = _doses_add(study, animals, until)
    return DemoStudy(study=study, created=report.created, weights_added=weights, doses_added=doses)


def _weights_add(study: Study, animals: list[Animal], until: dt.date) -> int:
    """Day -1 and then weekly weights before ``until``, the same numbers at every load."""
    params = WEIGHTS[study.species]
    have = set(BodyWeight.objects.filter(animal__study=study).values_list("animal_id", "date"))
    new = []
    for animal in animals:
        rng = random.Random(f"{study.slug}:{animal.code}")
        grams = rng.gauss(params["mean"], params["sd"])
        gain = params["gain"] if animal.group and animal.group.control else params["drug_gain"]
        date = study.day0 - dt.timedelta(1)
        while date < until:
            if (animal.pk, date) not in have:
                rounded = round(round(grams / params["step"]) * params["step"], 1)
                new.append(BodyWeight(animal=animal, date=date, grams=rounded))
            grams += rng.gauss(gain, gain / 4)
            date += dt.timedelta(7)
    created = BodyWeight.objects.bulk_create(new)
    ChangeRecord.objects.bulk_create(
        _change(study, "weight", w.pk, {"animal": w.animal.code, "date": w.date, "grams": w.grams})
        for w in created
    )
    return len(created)


def _doses_add(study: Study, animals: list[Animal], until: dt.date) -> int:
    """Every dose due before ``until``, recorded as given at 10:00 with the latest weight and the
    volume that weight gives."""
    have = set(
        DoseRecord.objects.filter(animal__study=study).values_list(
            "schedule_id", "animal_id", "day"
        )
    )
    weights: dict[int, list[tuple[dt.date, float]]] = {}
    for animal_id, date, grams in BodyWeight.objects.filter(animal__study=study).values_list(
        "animal_id", "date", "grams"
    ):
        weights.setdefault(animal_id, []).append((date, grams))
    by_group: dict[int, list[Animal]] = {}
    for animal in animals:
        if animal.status == Animal.Status.ACTIVE and animal.group_id:
            by_group.setdefault(animal.group_id, []).append(animal)
    new = []
    for schedule in DosingSchedule.objects.filter(study=study).select_related("agent"):
        for day in schedule.days:
            date = study.day0 + dt.timedelta(day)
            if date >= until:
                continue
            given_at = timezone.make_aware(dt.datetime.combine(date, DOSE_TIME))
            for animal in by_group.get(schedule.group_id, []):
                if (schedule.pk, animal.pk, day) in have:
                    continue
                known = [
                    grams for when, grams in sorted(weights.get(animal.pk, [])) if when <= date
                ]
                weight = known[-1] if known else None
                new.append(
                    DoseRecord(
                        schedule=schedule,
                        animal=animal,
                        day=day,
                        status=DoseRecord.Status.GIVEN,
                        given_at=given_at,
                        weight_g=weight,
                        volume_ml=dose_volume_ml(schedule=schedule, weight_g=weight),
                    )
                )
    created = DoseRecord.objects.bulk_create(new)
    ChangeRecord.objects.bulk_create(
        _change(
            study,
            "dose",
            r.pk,
            {
                "animal": r.animal.code,
                "agent": r.schedule.agent.name,
                "day": r.day,
                "status": r.status,
                "given_at": r.given_at.isoformat(),
                "weight_g": r.weight_g,
                "volume_ml": r.volume_ml,
            },
        )
        for r in created
    )
    return len(created)


def _change(study: Study, entity: str, object_id: int, new: dict) -> ChangeRecord:
    return ChangeRecord(
        study=study,
        entity=entity,
        object_id=object_id,
        action=ChangeRecord.Action.CREATE,
        new={k: v.isoformat() if isinstance(v, dt.date) else v for k, v in new.items()},
        reason="synthetic demo data",
        via="command",
    )


def demo_memberships_set(*, studies: list[Study] | None = None) -> int:
    """Gives each demo user that exists their role in every synthetic study (or ``studies``);
    returns how many memberships were checked."""
    if studies is None:
        studies = list(Study.objects.filter(synthetic=True).order_by("slug"))
    users = get_user_model().objects.in_bulk([u for u, _, _ in DEMO_USERS], field_name="username")
    count = 0
    for study in studies:
        for username, role, _password in DEMO_USERS:
            if username in users:
                membership_set(study=study, user=users[username], role=role, via="command")
                count += 1
    return count


@dataclass
class DemoUser:
    username: str
    role: str
    password: str
    created: bool


@transaction.atomic
def demo_users_create() -> list[DemoUser]:
    """Creates the demo users that are missing (an existing one keeps its password) and gives
    them their roles in every synthetic study."""
    user_model = get_user_model()
    made = []
    for username, role, password in DEMO_USERS:
        user = user_model.objects.filter(username=username).first()
        created = user is None
        if created:
            user = user_model(username=username, email=f"{username}@demo.invalid")
            validate_password(password, user)
            user.set_password(password)
            user.full_clean()
            user.save()
        made.append(DemoUser(username=username, role=role, password=password, created=created))
    demo_memberships_set()
    return made
