"""A study with something of every kind in it, built through the services: schedules with their
agents, a recorded dose and weight, both assays' sessions, a verified value, an open and a
resolved discrepancy. The security tests crawl, post to and lock it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone

from behavior import services as entry_services
from behavior.models import Discrepancy, MeasurementSession, Reading
from studies import services
from studies.models import Animal, DosingSchedule, Study
from tests.factories import add_schedule

# Agents named so that a scan finds them only where the study's own data are shown.
AGENTS = {"VEH": "cremophor-vehicle", "PTX-SAL": "paclitaxel-teva", "PTX-IVIG": "ivig-kedrion"}


@dataclass
class Scenario:
    study: Study
    animal: Animal
    schedule: DosingSchedule
    von_frey: MeasurementSession
    hot_plate: MeasurementSession
    verified: Reading
    open_discrepancy: Discrepancy
    resolved_discrepancy: Discrepancy

    @property
    def secrets(self) -> list[str]:
        """Every text that would reveal the allocation: group codes, names and agents."""
        words = set(AGENTS.values())
        for group in self.study.groups.all():
            words |= {group.code, group.name}
        return sorted(words)


def build(study: Study, *, pi, first, second) -> Scenario:
    """Fill ``study`` (from ``tests.factories.make_study``) through the services, as its PI
    ``pi`` and two technicians ``first`` and ``second`` would."""
    schedules = {
        code: add_schedule(study, code, agent, days=[0, 7, 14, 21], stock_concentration=10.0)
        for code, agent in AGENTS.items()
    }
    animal = study.animals.get(code="R01")
    today = timezone.localdate()
    for a in study.animals.all():
        services.body_weight_record(animal=a, date=today - dt.timedelta(days=1), grams=250, user=pi)
    schedule = schedules[animal.group.code]
    services.dose_record(schedule=schedule, animal=animal, day=0, status="given", user=first)

    baseline = study.timepoints.get(day=-1)
    von_frey = entry_services.session_open(
        study=study, timepoint=baseline, assay="von_frey", user=first
    )
    hot_plate = entry_services.session_open(
        study=study, timepoint=baseline, assay="hot_plate", user=first
    )
    for user, values in ((first, (12.0, 14.0, 9.0)), (second, (12.0, 18.0, 11.0))):
        for application, value in enumerate(values, start=1):
            entry_services.entry_save(
                session=von_frey,
                animal=animal,
                footpad="left",
                application=application,
                value=value,
                experimenter=user.get_username(),
                user=user,
            )
    entry_services.entry_save(
        session=hot_plate,
        animal=animal,
        footpad="",
        application=1,
        value=8.5,
        behavior="lick",
        experimenter=first.get_username(),
        user=first,
    )
    readings = {r.application: r for r in Reading.objects.filter(session=von_frey, animal=animal)}
    resolved = Discrepancy.objects.get(reading=readings[3])
    entry_services.discrepancy_resolve(
        discrepancy=resolved, value=10.0, reason="remeasured", user=pi
    )
    return Scenario(
        study=study,
        animal=animal,
        schedule=schedule,
        von_frey=von_frey,
        hot_plate=hot_plate,
        verified=readings[1],
        open_discrepancy=Discrepancy.objects.get(reading=readings[2]),
        resolved_discrepancy=Discrepancy.objects.get(pk=resolved.pk),
    )
