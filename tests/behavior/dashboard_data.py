"""Readings with known animal values for the statistics and dashboard tests.

Written straight through the ORM (``bulk_create``), so that these tests do not depend on the
entry services; the services have tests of their own.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction

from behavior.models import MeasurementSession, Reading
from behavior.summaries import summaries_refresh
from studies.models import Animal, BodyWeight, DoseRecord, Study, Timepoint
from tests.factories import add_schedule, make_study

# R's `sleep` data set: extra hours of sleep under two drugs, ten subjects each.
# R: t.test(extra ~ group, data = sleep, var.equal = TRUE)
#    t = -1.8608, df = 18, p-value = 0.07919
# R: t.test(extra ~ group, data = sleep)
#    t = -1.8608, df = 17.776, p-value = 0.07939
SLEEP_1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]
SLEEP_2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4]
# Forces must be positive: a shift changes neither t, df nor P.
SHIFT = 10.0


def session_for(study: Study, *, day: int, assay: str) -> MeasurementSession:
    timepoint = Timepoint.objects.get(study=study, day=day)
    session, _ = MeasurementSession.objects.get_or_create(
        study=study, timepoint=timepoint, assay=assay
    )
    return session


def add_von_frey(
    study: Study,
    *,
    day: int,
    values: dict[str, float],
    state: str = Reading.State.VERIFIED,
    applications: int = 10,
    footpads: tuple[str, ...] = ("left", "right"),
    spread: float = 0.5,
    states: dict[tuple[str, str], str] | None = None,
) -> None:
    """Readings whose footpad means (and so animal means) are exactly ``values[animal]``.

    Applications alternate ``value - spread`` and ``value + spread``. ``states`` overrides the
    state of one (animal, footpad): its first application gets that state.
    """
    session = session_for(study, day=day, assay="von_frey")
    animals = {a.code: a for a in Animal.objects.filter(study=study, code__in=list(values))}
    rows = []
    for code, value in values.items():
        for footpad in footpads:
            for application in range(1, applications + 1):
                offset = spread if application % 2 else -spread
                slot_state = state
                if states and application == 1 and (code, footpad) in states:
                    slot_state = states[(code, footpad)]
                rows.append(
                    Reading(
                        session=session,
                        animal=animals[code],
                        assay="von_frey",
                        footpad=footpad,
                        application=application,
                        value=None if slot_state == Reading.State.DISPUTED else value + offset,
                        state=slot_state,
                    )
                )
    _write(session, rows)


def _write(session, rows: list[Reading]) -> None:
    """Readings written directly, as no service would, and their summaries refreshed in the
    same transaction, as every service does."""
    with transaction.atomic():
        Reading.objects.bulk_create(rows)
        summaries_refresh(session=session)


def add_hot_plate(study: Study, *, day: int, values: dict[str, float], state="verified") -> None:
    session = session_for(study, day=day, assay="hot_plate")
    animals = {a.code: a for a in Animal.objects.filter(study=study, code__in=list(values))}
    _write(
        session,
        [
            Reading(
                session=session,
                animal=animals[code],
                assay="hot_plate",
                footpad="",
                application=1,
                value=value,
                state=state,
            )
            for code, value in values.items()
        ],
    )


def sleep_study(**kwargs) -> Study:
    """Two groups of ten (VEH = sleep group 1, PTX-SAL = sleep group 2) at baseline and week 3.

    At week 3 the animals' von Frey values are the sleep data + 10; at baseline all animals are
    near 15 g. The comparison is VEH against PTX-SAL as reference, so that t has R's sign.
    """
    study = make_study(groups=("VEH", "PTX-SAL"), animals_per_group=10, **kwargs)
    study.comparisons.all().delete()
    veh, ptx = study.groups.get(code="VEH"), study.groups.get(code="PTX-SAL")
    study.comparisons.create(reference=ptx, group=veh, symbol="#", order=0)
    codes = list(Animal.objects.filter(study=study).order_by("code").values_list("code", flat=True))
    week3 = {code: x + SHIFT for code, x in zip(codes, SLEEP_1 + SLEEP_2, strict=True)}
    baseline = {code: 15.0 + (i % 3) * 0.5 for i, code in enumerate(codes)}
    add_von_frey(study, day=-1, values=baseline)
    add_von_frey(study, day=21, values=week3)
    return study


def populated_study(*, animals_per_group: int, slug: str, members: dict | None = None) -> Study:
    """A study of the given size with every kind of data a dashboard shows: readings of both
    assays at every timepoint (one footpad disputed, one unverified), body weights, schedules
    and dose records."""
    study = make_study(
        slug=slug,
        animals_per_group=animals_per_group,
        timepoints=(("baseline", -1), ("week 3", 21), ("week 4", 28)),
        day0=dt.date(2026, 1, 12),
        members=members,
    )
    animals = list(Animal.objects.filter(study=study).select_related("group").order_by("code"))
    effect = {"VEH": 15.0, "PTX-SAL": 8.0, "PTX-IVIG": 12.0}
    for t, (_, day) in enumerate(((None, -1), (None, 21), (None, 28))):
        values = {
            a.code: (15.0 if day < 0 else effect[a.group.code]) + (i % 4) * 0.4 + t * 0.1
            for i, a in enumerate(animals)
        }
        states = {(animals[0].code, "left"): "disputed", (animals[1].code, "right"): "unverified"}
        add_von_frey(study, day=day, values=values, states=states)
        add_hot_plate(study, day=day, values={k: v for k, v in values.items()})
    schedule = add_schedule(study, "PTX-SAL", "paclitaxel", unit="mg/kg", route="ip", days=[0, 1])
    BodyWeight.objects.bulk_create(
        BodyWeight(animal=a, date=study.day0 + dt.timedelta(days=d), grams=250 + d + i)
        for i, a in enumerate(animals)
        for d in (0, 7, 14)
    )
    DoseRecord.objects.bulk_create(
        DoseRecord(
            schedule=schedule,
            animal=a,
            day=0,
            status="given",
            given_at=dt.datetime(2026, 1, 12, 9, tzinfo=dt.UTC),
        )
        for a in animals
        if a.group.code == "PTX-SAL"
    )
    return study


def fig1a_like_study(*, slug: str, members: dict | None = None) -> Study:
    """Like the paper's Fig. 1a: vehicle, PTX + saline, PTX + IVIg (n = 8), baseline and weeks
    3-5; paclitaxel lowers the threshold and IVIg keeps it up. Fixed numbers, no randomness."""
    study = make_study(
        slug=slug,
        animals_per_group=8,
        timepoints=(("baseline", -1), ("week 3", 21), ("week 4", 28), ("week 5", 35)),
        day0=dt.date(2026, 1, 12),
        members=members,
    )
    study.groups.filter(code="VEH").update(name="Vehicle")
    study.groups.filter(code="PTX-SAL").update(name="Paclitaxel + saline")
    study.groups.filter(code="PTX-IVIG").update(name="Paclitaxel + IVIg")
    means = {
        "VEH": {-1: 15.2, 21: 15.0, 28: 15.4, 35: 15.1},
        "PTX-SAL": {-1: 15.0, 21: 9.1, 28: 8.6, 35: 9.4},
        "PTX-IVIG": {-1: 15.3, 21: 12.4, 28: 13.1, 35: 12.0},
    }
    scatter = (-1.4, -0.9, -0.5, -0.1, 0.2, 0.6, 0.9, 1.2)
    animals = list(Animal.objects.filter(study=study).select_related("group").order_by("code"))
    for day in (-1, 21, 28, 35):
        values = {}
        for i, animal in enumerate(animals):
            # Unequal spreads, as real groups have: Welch's df then differs from Student's.
            spread = {"VEH": 0.8, "PTX-SAL": 1.6, "PTX-IVIG": 1.1}[animal.group.code]
            values[animal.code] = (
                means[animal.group.code][day] + spread * scatter[(i * 3 + day) % 8]
            )
        add_von_frey(study, day=day, values=values)
    return study
