"""Reads in the studies domain: the dosing calendar, Today, study lists and overviews.

Selectors own every ``select_related``, ``prefetch_related`` and ``annotate``; each page's query
count does not grow with the number of animals. Whatever a selector returns for a technician of a
blinded study carries coded group labels only (``access.sees_allocation``).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Count, OuterRef, Q, Subquery
from django.urls import NoReverseMatch, reverse

from studies import access
from studies.models import (
    Allocation,
    Animal,
    BodyWeight,
    ChangeRecord,
    Comparison,
    DoseRecord,
    DoseUnit,
    DosingSchedule,
    Membership,
    Study,
    StudyAssay,
    Timepoint,
    TreatmentGroup,
)

WEIGHT_EVERY_DAYS = 7
SESSION_GRACE_DAYS = 2

# --- dose volumes -----------------------------------------------------------------------------

# Doses per kg of body weight, as mg per kg (the stock concentration is in mg/mL).
_MG_PER_KG_FACTOR = {DoseUnit.MG_PER_KG: 1.0, DoseUnit.G_PER_KG: 1000.0, DoseUnit.UG_PER_KG: 0.001}


def dose_volume_ml(*, schedule: DosingSchedule, weight_g: float | None) -> float | None:
    """The volume to inject in mL, or None when it cannot be computed.

    - mg/kg, g/kg, µg/kg: dose (as mg/kg) x body weight (kg) / stock concentration (mg/mL);
    - mL/kg: dose x body weight (kg), no stock needed;
    - mg/body: dose / stock concentration; mL/body: the dose itself.

    None when a per-kg dose has no body weight, or a mass dose has no stock concentration.
    Example: a 250 g rat, IVIg 1 g/kg, stock 50 mg/mL: 1000 x 0.25 / 50 = 5.0 mL.
    """
    unit = schedule.unit
    conc = schedule.stock_concentration
    kg = weight_g / 1000.0 if weight_g else None
    if unit in _MG_PER_KG_FACTOR:
        if kg is None or not conc:
            return None
        return schedule.dose * _MG_PER_KG_FACTOR[unit] * kg / conc
    if unit == DoseUnit.ML_PER_KG:
        return schedule.dose * kg if kg is not None else None
    if unit == DoseUnit.MG_PER_BODY:
        return schedule.dose / conc if conc else None
    if unit == DoseUnit.ML_PER_BODY:
        return schedule.dose
    return None


def volume_note(*, schedule: DosingSchedule, weight_g: float | None) -> str:
    """Why ``dose_volume_ml`` gives no volume, or "" when it gives one."""
    per_kg = schedule.unit in _MG_PER_KG_FACTOR or schedule.unit == DoseUnit.ML_PER_KG
    if per_kg and not weight_g:
        return "no weight"
    needs_stock = schedule.unit in _MG_PER_KG_FACTOR or schedule.unit == DoseUnit.MG_PER_BODY
    if needs_stock and not schedule.stock_concentration:
        return "no stock concentration"
    return ""


# --- small shared reads -----------------------------------------------------------------------


def group_label(group: TreatmentGroup | None, *, sees: bool) -> str:
    """The group as this reader may see it: code, or the coded label for a blinded technician."""
    if group is None:
        return "not allocated"
    return group.code if sees else f"Group {group.blind_label}"


def product_label(schedule: DosingSchedule, *, sees: bool) -> str:
    """What to inject. A blinded technician sees a coded solution: the agent and dose would
    reveal the group."""
    if not sees:
        return f"Solution {schedule.group.blind_label}-{schedule.pk}"
    return f"{schedule.agent.name} {schedule.dose:g} {schedule.get_unit_display()}"


def latest_weights(
    *, animal_ids: list[int], on_or_before: dt.date | None = None
) -> dict[int, tuple[dt.date, float]]:
    """Each animal's latest body weight as ``{animal_id: (date, grams)}`` (one query)."""
    weights = BodyWeight.objects.filter(animal_id__in=animal_ids)
    if on_or_before is not None:
        weights = weights.filter(date__lte=on_or_before)
    latest: dict[int, tuple[dt.date, float]] = {}
    for animal_id, date, grams in weights.order_by("animal_id", "date").values_list(
        "animal_id", "date", "grams"
    ):
        latest[animal_id] = (date, grams)
    return latest


def baseline_timepoint(*, study: Study) -> Timepoint | None:
    """The timepoint labelled "baseline", else the last one on or before day 0."""
    timepoints = list(Timepoint.objects.filter(study=study, day__lte=0).order_by("day"))
    for timepoint in timepoints:
        if timepoint.label.strip().lower() == "baseline":
            return timepoint
    return timepoints[-1] if timepoints else None


def baseline_values(*, study: Study, timepoint: Timepoint) -> dict[int, float]:
    """Each animal's counted von Frey value at ``timepoint``: the mean of each footpad's counted
    applications, then the mean of the footpads (the animal is the unit, interchange.md §3)."""
    from behavior.models import Reading

    rows = Reading.objects.filter(
        session__study=study,
        session__timepoint=timepoint,
        assay="von_frey",
        state__in=[Reading.State.VERIFIED, Reading.State.RESOLVED],
        value__isnull=False,
    ).values_list("animal_id", "footpad", "value")
    per_footpad: dict[tuple[int, str], list[float]] = defaultdict(list)
    for animal_id, footpad, value in rows:
        per_footpad[(animal_id, footpad)].append(value)
    per_animal: dict[int, list[float]] = defaultdict(list)
    for (animal_id, _footpad), values in per_footpad.items():
        per_animal[animal_id].append(sum(values) / len(values))
    return {animal_id: sum(means) / len(means) for animal_id, means in per_animal.items()}


def study_day(study: Study, date: dt.date) -> int | None:
    return (date - study.day0).days if study.day0 else None


# --- the dosing calendar ----------------------------------------------------------------------


@dataclass
class DueDose:
    """One dose due for one animal on one day, and what has been recorded for it."""

    study: Study
    schedule: DosingSchedule
    animal: Animal
    day: int
    date: dt.date
    group_label: str
    product: str
    route: str
    weight_g: float | None
    weight_date: dt.date | None
    volume_ml: float | None
    note: str
    record: DoseRecord | None = None

    @property
    def done(self) -> bool:
        return self.record is not None


def _animals_with_latest_weight(animals, date: dt.date):
    """Annotate each animal with its latest weight on or before ``date`` (in the same query)."""
    latest = BodyWeight.objects.filter(animal=OuterRef("pk"), date__lte=date).order_by("-date")
    return animals.annotate(
        last_weight_g=Subquery(latest.values("grams")[:1]),
        last_weight_date=Subquery(latest.values("date")[:1]),
    )


def _due_doses(
    *, studies: list[Study], date: dt.date, sees: dict[int, bool], animals_by_group=None
) -> dict[int, list[DueDose]]:
    """The doses due on ``date`` in each study, batched across studies (three or four queries,
    whatever the number of animals)."""
    dosing = [s for s in studies if s.day0 is not None]
    if not dosing:
        return {}
    day_of = {s.pk: study_day(s, date) for s in dosing}
    schedules = [
        schedule
        for schedule in DosingSchedule.objects.filter(study__in=dosing).select_related(
            "group", "agent"
        )
        if day_of[schedule.study_id] in schedule.days
    ]
    if not schedules:
        return {}
    if animals_by_group is None:
        animals = _animals_with_latest_weight(
            Animal.objects.filter(
                group_id__in={s.group_id for s in schedules}, status=Animal.Status.ACTIVE
            ),
            date,
        ).order_by("code")
        animals_by_group = defaultdict(list)
        for animal in animals:
            animals_by_group[animal.group_id].append(animal)
    records = {
        (r.schedule_id, r.animal_id, r.day): r
        for r in DoseRecord.objects.filter(
            schedule__in=schedules, day__in=set(day_of.values())
        ).select_related("recorded_by")
    }
    study_of = {s.pk: s for s in dosing}
    due: dict[int, list[DueDose]] = defaultdict(list)
    for schedule in schedules:
        study = study_of[schedule.study_id]
        day = day_of[study.pk]
        for animal in animals_by_group.get(schedule.group_id, []):
            weight = animal.last_weight_g
            due[study.pk].append(
                DueDose(
                    study=study,
                    schedule=schedule,
                    animal=animal,
                    day=day,
                    date=date,
                    group_label=group_label(schedule.group, sees=sees[study.pk]),
                    product=product_label(schedule, sees=sees[study.pk]),
                    route=schedule.get_route_display(),
                    weight_g=weight,
                    weight_date=animal.last_weight_date,
                    volume_ml=dose_volume_ml(schedule=schedule, weight_g=weight),
                    note=volume_note(schedule=schedule, weight_g=weight),
                    record=records.get((schedule.pk, animal.pk, day)),
                )
            )
    for doses in due.values():
        doses.sort(key=lambda d: (d.animal.cage, d.animal.code, d.schedule.pk))
    return due


def calendar_for_day(*, study: Study, date: dt.date, sees_allocation: bool = True) -> list[DueDose]:
    """The doses due in ``study`` on ``date`` (day 0 + each schedule's days), one per animal and
    schedule, with the volume from the animal's latest weight on or before that date and the
    schedule's stock concentration. Pass ``sees_allocation=False`` for a blinded technician."""
    return _due_doses(studies=[study], date=date, sees={study.pk: sees_allocation}).get(
        study.pk, []
    )


# --- Today ------------------------------------------------------------------------------------


@dataclass
class WeightDue:
    animal: Animal
    why: str
    last_weight_g: float | None
    last_weight_date: dt.date | None


@dataclass
class SessionDue:
    timepoint: Timepoint
    date: dt.date
    assay: str
    assay_label: str
    status: str
    url: str | None


@dataclass
class TodayStudy:
    study: Study
    role: str
    sees_allocation: bool
    day: int | None = None
    doses: list[DueDose] = field(default_factory=list)
    weights_due: list[WeightDue] = field(default_factory=list)
    sessions_due: list[SessionDue] = field(default_factory=list)

    @property
    def doses_left(self) -> int:
        return sum(1 for dose in self.doses if not dose.done)

    @property
    def empty(self) -> bool:
        return not (self.doses or self.weights_due or self.sessions_due)


@dataclass
class Today:
    date: dt.date
    studies: list[TodayStudy]

    @property
    def empty(self) -> bool:
        return all(s.empty for s in self.studies)


def session_entry_url(*, study: Study, timepoint: Timepoint, assay: str) -> str | None:
    """The measurement session's entry page, when the entry pages are installed."""
    candidates = (
        {"slug": study.slug, "day": timepoint.day, "assay": assay},
        {"slug": study.slug, "timepoint": timepoint.pk, "assay": assay},
        {"slug": study.slug, "timepoint_id": timepoint.pk, "assay": assay},
    )
    for kwargs in candidates:
        try:
            return reverse("behavior:session_entry", kwargs=kwargs)
        except NoReverseMatch:
            continue
    return None


def studies_with_roles(*, user) -> list[tuple[Study, str]]:
    """The studies the user may read, each with the user's role (staff: every study, as PI)."""
    if user.is_staff:
        return [(study, access.PI) for study in Study.objects.all()]
    memberships = Membership.objects.filter(user=user).select_related("study")
    return [(m.study, m.role) for m in memberships.order_by("-study__created_at", "study__slug")]


def today_for_user(*, user, date: dt.date) -> Today:
    """The day's work across the user's unlocked studies: doses due (with volumes), weights due
    (no weight in the last 7 days, or a dosing day without today's weight) and measurement
    sessions due (a timepoint today or in the past two days without an entered session).

    A constant number of queries, whatever the number of studies and animals.
    """
    from behavior.models import MeasurementSession

    pairs = [(s, r) for s, r in studies_with_roles(user=user) if not s.is_locked]
    if not pairs:
        return Today(date=date, studies=[])
    studies = [s for s, _ in pairs]
    rows = {
        s.pk: TodayStudy(
            study=s,
            role=r,
            sees_allocation=access.sees_allocation(role=r, study=s),
            day=study_day(s, date),
        )
        for s, r in pairs
    }
    sees = {pk: row.sees_allocation for pk, row in rows.items()}

    animals = _animals_with_latest_weight(
        Animal.objects.filter(study__in=studies, status=Animal.Status.ACTIVE), date
    ).order_by("cage", "code")
    animals_by_group: dict[int | None, list[Animal]] = defaultdict(list)
    animals_by_study: dict[int, list[Animal]] = defaultdict(list)
    for animal in animals:
        animals_by_group[animal.group_id].append(animal)
        animals_by_study[animal.study_id].append(animal)

    due = _due_doses(studies=studies, date=date, sees=sees, animals_by_group=animals_by_group)
    stale_before = date - dt.timedelta(days=WEIGHT_EVERY_DAYS - 1)
    for study in studies:
        row = rows[study.pk]
        row.doses = due.get(study.pk, [])
        dosed = {d.animal.pk for d in row.doses}
        for animal in animals_by_study.get(study.pk, []):
            last = animal.last_weight_date
            if last is None or last < stale_before:
                why = "no weight yet" if last is None else f"last weighed {last:%d %b}"
            elif animal.pk in dosed and last != date:
                why = "dosing day"
            else:
                continue
            row.weights_due.append(
                WeightDue(
                    animal=animal,
                    why=why,
                    last_weight_g=animal.last_weight_g,
                    last_weight_date=last,
                )
            )

    window = {
        s.pk: (study_day(s, date) - SESSION_GRACE_DAYS, study_day(s, date))
        for s in studies
        if s.day0
    }
    if window:
        condition = Q()
        for pk, (first, last) in window.items():
            condition |= Q(study_id=pk, day__gte=first, day__lte=last)
        timepoints = list(Timepoint.objects.filter(condition).order_by("day"))
        assays = defaultdict(list)
        for assay in StudyAssay.objects.filter(study__in=window.keys()):
            assays[assay.study_id].append(assay)
        status_of = {
            (timepoint_id, assay): status
            for timepoint_id, assay, status in MeasurementSession.objects.filter(
                timepoint__in=timepoints
            ).values_list("timepoint_id", "assay", "status")
        }
        finished = {
            MeasurementSession.Status.ENTERED,
            MeasurementSession.Status.VERIFIED,
            MeasurementSession.Status.LOCKED,
        }
        for timepoint in timepoints:
            study = rows[timepoint.study_id].study
            for assay in assays[timepoint.study_id]:
                status = status_of.get((timepoint.pk, assay.assay))
                if status in finished:
                    continue
                rows[timepoint.study_id].sessions_due.append(
                    SessionDue(
                        timepoint=timepoint,
                        date=study.day0 + dt.timedelta(days=timepoint.day),
                        assay=assay.assay,
                        assay_label=assay.get_assay_display(),
                        status=status or "not started",
                        url=session_entry_url(study=study, timepoint=timepoint, assay=assay.assay),
                    )
                )
    return Today(date=date, studies=[rows[s.pk] for s in studies])


# --- study lists and the study page -----------------------------------------------------------


@dataclass
class StudyRow:
    study: Study
    role: str
    n_animals: int

    @property
    def role_label(self) -> str:
        return Membership.Role(self.role).label


def study_list_for_user(*, user) -> list[StudyRow]:
    """The user's studies (staff: all) with the user's role and the number of animals."""
    if user.is_staff:
        studies = Study.objects.annotate(n_animals=Count("animals"))
        return [StudyRow(study=s, role=access.PI, n_animals=s.n_animals) for s in studies]
    memberships = (
        Membership.objects.filter(user=user)
        .select_related("study")
        .annotate(n_animals=Count("study__animals"))
        .order_by("-study__created_at", "study__slug")
    )
    return [StudyRow(study=m.study, role=m.role, n_animals=m.n_animals) for m in memberships]


@dataclass
class GroupRow:
    group: TreatmentGroup
    label: str
    name: str
    n: int
    n_active: int


@dataclass
class ScheduleRow:
    schedule: DosingSchedule
    group_label: str
    product: str
    days: str
    doses_due: int


def days_text(days: list[int]) -> str:
    """Days as ``0-4, 7-11, 14``: runs of consecutive days as ranges."""
    parts: list[str] = []
    ordered = sorted(days)
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        parts.append(str(ordered[i]) if i == j else f"{ordered[i]}-{ordered[j]}")
        i = j + 1
    return ", ".join(parts)


def study_overview(*, study: Study, role: str, date: dt.date) -> dict:
    """Everything the study page shows, blinded as the role requires; ten queries whatever the
    size of the study."""
    sees = access.sees_allocation(role=role, study=study)
    today_day = study_day(study, date)
    groups = list(
        TreatmentGroup.objects.filter(study=study)
        .annotate(
            n=Count("animals"),
            n_active=Count("animals", filter=Q(animals__status=Animal.Status.ACTIVE)),
        )
        .order_by("order", "code")
    )
    group_rows = [
        GroupRow(
            group=g,
            label=group_label(g, sees=sees),
            name=g.name if sees else "",
            n=g.n,
            n_active=g.n_active,
        )
        for g in groups
    ]
    active_in = {g.pk: g.n_active for g in groups}
    schedules = list(DosingSchedule.objects.filter(study=study).select_related("group", "agent"))
    schedule_rows = []
    due_so_far = 0
    for s in schedules:
        days_done = sum(1 for d in s.days if today_day is not None and d <= today_day)
        due_so_far += days_done * active_in.get(s.group_id, 0)
        schedule_rows.append(
            ScheduleRow(
                schedule=s,
                group_label=group_label(s.group, sees=sees),
                product=product_label(s, sees=sees),
                days=days_text(s.days),
                doses_due=len(s.days) * active_in.get(s.group_id, 0),
            )
        )
    timepoints = [
        (t, study.day0 + dt.timedelta(days=t.day) if study.day0 else None)
        for t in Timepoint.objects.filter(study=study).order_by("day")
    ]
    comparisons = [
        (group_label(c.reference, sees=sees), group_label(c.group, sees=sees), c.symbol)
        for c in Comparison.objects.filter(study=study).select_related("reference", "group")
    ]
    animal_counts = Animal.objects.filter(study=study).aggregate(
        total=Count("id"),
        active=Count("id", filter=Q(status=Animal.Status.ACTIVE)),
        allocated=Count("id", filter=Q(group__isnull=False)),
    )
    dose_counts = DoseRecord.objects.filter(animal__study=study).aggregate(
        given=Count("id", filter=Q(status=DoseRecord.Status.GIVEN)),
        missed=Count("id", filter=Q(status=DoseRecord.Status.MISSED)),
    )
    weighed = (
        BodyWeight.objects.filter(
            animal__study=study,
            animal__status=Animal.Status.ACTIVE,
            date__gt=date - dt.timedelta(days=WEIGHT_EVERY_DAYS),
            date__lte=date,
        )
        .values("animal_id")
        .distinct()
        .count()
    )
    allocation = (
        Allocation.objects.filter(study=study).select_related("created_by").first()
        if sees
        else None
    )
    members = list(Membership.objects.filter(study=study).select_related("user"))
    return {
        "sees_allocation": sees,
        "today_day": today_day,
        "groups": group_rows,
        "schedules": schedule_rows,
        "timepoints": timepoints,
        "comparisons": comparisons,
        "assays": list(StudyAssay.objects.filter(study=study)),
        "animals": animal_counts,
        "doses": dose_counts | {"due_so_far": due_so_far},
        "weighed_recently": weighed,
        "allocation": allocation,
        "members": members,
    }


def animals_for_study(*, study: Study, date: dt.date) -> list[Animal]:
    """The study's animals with their group and latest weight (one query)."""
    return list(
        _animals_with_latest_weight(
            Animal.objects.filter(study=study).select_related("group"), date
        ).order_by("code")
    )


def allocation_targets(*, study: Study, n_animals: int) -> dict[str, int]:
    """Suggested group sizes for an allocation: the design's ``n_per_group`` hints when the
    study was created from a design and they add up to the number of animals, else equal."""
    codes = list(TreatmentGroup.objects.filter(study=study).values_list("code", flat=True))
    record = (
        ChangeRecord.objects.filter(study=study, entity="design")
        .only("new")
        .order_by("-at")
        .first()
    )
    hints = (record.new or {}).get("n_per_group", {}) if record else {}
    if hints and set(hints) == set(codes) and sum(hints.values()) == n_animals:
        return {code: hints[code] for code in codes}
    base, extra = divmod(n_animals, len(codes)) if codes else (0, 0)
    return {code: base + (1 if i < extra else 0) for i, code in enumerate(codes)}
