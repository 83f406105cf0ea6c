"""Small builders for test data. They write straight through the ORM so that tests of a service
do not depend on another service; tests of the services themselves call the services."""

from __future__ import annotations

import datetime as dt
import itertools

from django.contrib.auth import get_user_model

from studies.models import (
    Agent,
    Animal,
    Assay,
    ChangeRecord,
    Comparison,
    DosingSchedule,
    Membership,
    Study,
    StudyAssay,
    Timepoint,
    TreatmentGroup,
)
from studies.selectors_history import imported_reading

PASSWORD = "correct-horse-battery-staple"
COLOURS = ["#4d4d4d", "#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e"]
_counter = itertools.count(1)


def make_user(username: str, *, staff: bool = False):
    user_model = get_user_model()
    user = user_model.objects.create_user(
        username=username, password=PASSWORD, email=f"{username}@lab.example"
    )
    if staff:
        user.is_staff = True
        user.is_superuser = True
        user.save(update_fields=["is_staff", "is_superuser"])
    return user


def make_study(
    *,
    slug: str | None = None,
    groups: tuple[str, ...] = ("VEH", "PTX-SAL", "PTX-IVIG"),
    animals_per_group: int = 3,
    timepoints: tuple[tuple[str, int], ...] = (("baseline", -1), ("week 3", 21)),
    blinded: bool = False,
    species: str = "rat",
    day0: dt.date | None = None,
    von_frey_double_entry: bool = True,
    hot_plate: bool = True,
    members: dict | None = None,
) -> Study:
    """A study with groups, animals (R01..), timepoints, both assays and the paper's two
    comparisons (the first group against the second, the second against the third)."""
    slug = slug or f"study-{next(_counter)}"
    study = Study.objects.create(
        slug=slug,
        title=f"Study {slug}",
        species=species,
        blinded=blinded,
        day0=day0,
        status=Study.Status.RUNNING,
    )
    StudyAssay.objects.create(
        study=study,
        assay=Assay.VON_FREY,
        applications=10,
        footpads=["left", "right"],
        max_value=26,
        double_entry=von_frey_double_entry,
    )
    if hot_plate:
        StudyAssay.objects.create(
            study=study,
            assay=Assay.HOT_PLATE,
            applications=1,
            max_value=30,
            temperature_c=54.5,
            double_entry=False,
        )
    made = []
    for i, code in enumerate(groups):
        made.append(
            TreatmentGroup.objects.create(
                study=study,
                code=code,
                name=code.replace("-", " + "),
                control=(i == 0),
                order=i,
                colour=COLOURS[i % len(COLOURS)],
                blind_label=chr(ord("A") + i),
            )
        )
    number = 1
    for group in made:
        for _ in range(animals_per_group):
            Animal.objects.create(study=study, code=f"R{number:02d}", group=group)
            number += 1
    for label, day in timepoints:
        Timepoint.objects.create(study=study, label=label, day=day)
    for order, (ref, grp, symbol) in enumerate(zip(made, made[1:], "#*$", strict=False)):
        Comparison.objects.create(study=study, reference=ref, group=grp, symbol=symbol, order=order)
    for user, role in (members or {}).items():
        Membership.objects.create(study=study, user=user, role=role)
    return study


def add_schedule(study: Study, group_code: str, agent: str, **kwargs) -> DosingSchedule:
    defaults = {"dose": 1.0, "unit": "g/kg", "route": "iv", "days": [0, 7, 14, 21]}
    defaults.update(kwargs)
    return DosingSchedule.objects.create(
        study=study,
        group=study.groups.get(code=group_code),
        agent=Agent.objects.get_or_create(name=agent)[0],
        **defaults,
    )


def imported_readings(**filters) -> dict[int, tuple]:
    """What the import records hold of each reading they created: reading id -> (the record,
    the reading's state ``{"state", "value", "behavior", "entries"[, "behaviors"]}``). An import
    writes one ``import`` record per session for the readings it creates there."""
    return {
        reading_id: (record, imported_reading(record.new, reading_id))
        for record in ChangeRecord.objects.filter(entity="import", action="create", **filters)
        for reading_id in record.new["readings"]
    }
