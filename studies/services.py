"""Writes in the studies domain: studies, members, design, animals, allocation, doses, weights.

Every function here is the one code path for its operation (pages, API and commands call it),
runs in one transaction, refuses to write into a locked study (``StudyLocked``) and writes the
audit trail (``ChangeRecord``) itself: old value, new value, who, when and why.
"""

from __future__ import annotations

import datetime as dt
import random
import re
import secrets
import statistics
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Model
from django.utils import timezone

from studies import access
from studies.errors import ConflictError, ImportProblems, StudyLocked
from studies.models import (
    Agent,
    Allocation,
    Animal,
    Assay,
    BodyWeight,
    ChangeRecord,
    Comparison,
    DoseRecord,
    DosingSchedule,
    Membership,
    Study,
    StudyAssay,
    Timepoint,
    TreatmentGroup,
)
from studies.selectors import (
    baseline_timepoint,
    baseline_values,
    dose_volume_ml,
    latest_weights,
)

# Coded labels of groups added one by one are drawn from this many letters (A to H).
CODED_LABEL_POOL = 8
GROUP_COLOURS = ["#4d4d4d", "#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]


# --- audit trail and guards -------------------------------------------------------------------


def _plain(value):
    """A value as JSON can hold it (dates as ISO text)."""
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, Model):
        return str(value)
    return value


def _change(
    *,
    study: Study,
    entity: str,
    object_id: int,
    action: str,
    user,
    old: dict | None = None,
    new: dict | None = None,
    reason: str = "",
    via: str = "page",
) -> ChangeRecord:
    """An unsaved audit row, so that callers can save one or ``bulk_create`` many."""
    return ChangeRecord(
        study=study,
        entity=entity,
        object_id=object_id,
        action=action,
        old={k: _plain(v) for k, v in old.items()} if old is not None else None,
        new={k: _plain(v) for k, v in new.items()} if new is not None else None,
        reason=reason[:300],
        user=user if getattr(user, "is_authenticated", False) else None,
        via=via,
    )


def _ensure_unlocked(study: Study) -> None:
    if study.is_locked:
        raise StudyLocked(study.slug)


def _fresh_study(study: Study) -> Study:
    """The study row locked for this transaction, so that a concurrent lock is seen."""
    fresh = Study.objects.select_for_update().get(pk=study.pk)
    _ensure_unlocked(fresh)
    return fresh


# --- studies ----------------------------------------------------------------------------------

DEFAULT_ASSAYS = {
    "von_frey": {
        "applications_per_footpad": 10,
        "footpads": ["left", "right"],
        "max_force_g": 26,
        "double_entry": True,
    },
    "hot_plate": {"temperature_c": 54.5, "cutoff_s": 30, "double_entry": False},
}


def _assay_rows(study: Study, assays: dict) -> list[StudyAssay]:
    rows = []
    for name, settings in assays.items():
        if name == Assay.VON_FREY:
            rows.append(
                StudyAssay(
                    study=study,
                    assay=name,
                    applications=settings.get("applications_per_footpad", 10),
                    footpads=list(settings.get("footpads", ["left", "right"])),
                    max_value=settings.get("max_force_g", 26),
                    double_entry=bool(settings.get("double_entry", True)),
                )
            )
        elif name == Assay.HOT_PLATE:
            rows.append(
                StudyAssay(
                    study=study,
                    assay=name,
                    applications=settings.get("trials", 1),
                    footpads=[],
                    max_value=settings.get("cutoff_s", 30),
                    temperature_c=settings.get("temperature_c"),
                    double_entry=bool(settings.get("double_entry", False)),
                )
            )
        else:
            raise ValidationError({"assays": [f"Unknown assay {name!r}."]})
    return rows


@transaction.atomic
def study_create(
    *,
    user,
    slug: str,
    title: str,
    species: str,
    strain: str = "",
    sex: str = "",
    supplier: str = "",
    day0: dt.date | None = None,
    blinded: bool = False,
    description: str = "",
    assays: dict | None = None,
    via: str = "page",
) -> Study:
    """Create an empty study with its assay settings and make ``user`` its PI.

    ``assays`` has the shape of interchange.md section 1 (``{"von_frey": {...}, ...}``); by
    default both assays with the paper's settings. Groups, timepoints, comparisons and schedules
    are added afterwards.
    """
    study = Study(
        slug=slug,
        title=title,
        species=species,
        strain=strain,
        sex=sex,
        supplier=supplier,
        day0=day0,
        blinded=blinded,
        description=description,
    )
    study.full_clean()
    study.save()
    rows = _assay_rows(study, DEFAULT_ASSAYS if assays is None else assays)
    for row in rows:
        row.full_clean()
    StudyAssay.objects.bulk_create(rows)
    _change(
        study=study,
        entity="study",
        object_id=study.pk,
        action=ChangeRecord.Action.CREATE,
        user=user,
        new={
            "slug": slug,
            "title": title,
            "species": species,
            "assays": sorted(a.assay for a in rows),
        },
        via=via,
    ).save()
    membership_set(study=study, user=user, role=access.PI, by=user, via=via)
    return study


@transaction.atomic
def study_from_design(
    *, key: str, slug: str, user, title: str | None = None, day0: dt.date | None = None
) -> Study:
    """Create a study from one of the paper's designs (``studies.designs.DESIGNS``) and make
    ``user`` its PI. The design's ``n_per_group`` hints are kept in the creation record, where
    the allocation page finds them."""
    from studies.designs import DESIGNS, design_for
    from studies.interchange import study_import

    if key not in DESIGNS:
        raise ValidationError({"design": [f"Unknown design {key!r}."]})
    if Study.objects.filter(slug=slug).exists():
        raise ValidationError({"slug": [f"A study with the slug {slug!r} already exists."]})
    data = design_for(key, slug=slug, title=title or None, day0=day0)
    study, _created = study_import(data=data, user=user, via="page")
    hints = {
        group["code"]: group["n_per_group"]
        for group in data.get("groups", [])
        if isinstance(group.get("n_per_group"), int)
    }
    _change(
        study=study,
        entity="design",
        object_id=study.pk,
        action=ChangeRecord.Action.CREATE,
        user=user,
        new={"design": key, "n_per_group": hints},
        reason=f"created from the design {key}",
    ).save()
    membership_set(study=study, user=user, role=access.PI, by=user)
    return study


STUDY_EDITABLE = ("title", "description", "strain", "sex", "supplier", "day0", "blinded")


@transaction.atomic
def study_update(
    *, study: Study, user, expected_version: int, via: str = "page", **fields
) -> Study:
    """Change the study's own fields (``title``, ``description``, ``strain``, ``sex``,
    ``supplier``, ``day0``, ``blinded``).

    Raises ``ConflictError`` when the study changed since the editor read ``expected_version``,
    so two people editing it never overwrite each other silently.
    """
    unknown = set(fields) - set(STUDY_EDITABLE)
    if unknown:
        raise ValidationError({name: ["This field cannot be changed here."] for name in unknown})
    fresh = _fresh_study(study)
    if fresh.version != expected_version:
        raise ConflictError(
            f"Study {fresh.slug} was changed by someone else (version {fresh.version}, "
            f"you edited version {expected_version}). Reload it and make your change again."
        )
    old = {name: getattr(fresh, name) for name in fields if getattr(fresh, name) != fields[name]}
    if not old:
        return fresh
    for name in old:
        setattr(fresh, name, fields[name])
    fresh.version += 1
    fresh.full_clean()
    fresh.save()
    _change(
        study=fresh,
        entity="study",
        object_id=fresh.pk,
        action=ChangeRecord.Action.UPDATE,
        user=user,
        old=old,
        new={name: fields[name] for name in old},
        via=via,
    ).save()
    return fresh


@transaction.atomic
def study_set_status(*, study: Study, status: str, user, via: str = "page") -> Study:
    """Move a study between planning and running. Locking goes through ``study_lock``."""
    if status not in (Study.Status.PLANNING, Study.Status.RUNNING):
        raise ValidationError({"status": ["Status must be planning or running; lock to finish."]})
    fresh = _fresh_study(study)
    if fresh.status == status:
        return fresh
    old = fresh.status
    fresh.status = status
    fresh.version += 1
    fresh.full_clean()
    fresh.save(update_fields=["status", "version", "updated_at"])
    _change(
        study=fresh,
        entity="study",
        object_id=fresh.pk,
        action=ChangeRecord.Action.UPDATE,
        user=user,
        old={"status": old},
        new={"status": status},
        via=via,
    ).save()
    return fresh


@transaction.atomic
def study_lock(*, study: Study, user, reason: str = "", via: str = "page") -> Study:
    """Lock a finished study: from now on it is read-only. Only its PI (or staff) may."""
    if access.role_in_study(user=user, study=study) != access.PI:
        raise PermissionDenied("Only the study's PI may lock it.")
    fresh = _fresh_study(study)
    old = fresh.status
    fresh.status = Study.Status.LOCKED
    fresh.version += 1
    fresh.save(update_fields=["status", "version", "updated_at"])
    _change(
        study=fresh,
        entity="study",
        object_id=fresh.pk,
        action=ChangeRecord.Action.UPDATE,
        user=user,
        old={"status": old},
        new={"status": Study.Status.LOCKED},
        reason=reason or "study finished",
        via=via,
    ).save()
    return fresh


# --- members ----------------------------------------------------------------------------------


@transaction.atomic
def membership_set(*, study: Study, user, role: str, by=None, via: str = "page") -> Membership:
    """Give ``user`` the ``role`` (pi, technician, viewer) in the study, or change it.

    Allowed in a locked study too: access to a finished study (for a reviewer, say) is not a
    change to its research data.
    """
    if role not in Membership.Role.values:
        raise ValidationError({"role": ["Role must be pi, technician or viewer."]})
    membership = Membership.objects.select_for_update().filter(study=study, user=user).first()
    if membership is not None and membership.role == role:
        return membership
    old = {"user": user.get_username(), "role": membership.role} if membership else None
    if membership is None:
        membership = Membership(study=study, user=user, role=role)
    membership.role = role
    membership.full_clean()
    membership.save()
    _change(
        study=study,
        entity="membership",
        object_id=membership.pk,
        action=ChangeRecord.Action.UPDATE if old else ChangeRecord.Action.CREATE,
        user=by,
        old=old,
        new={"user": user.get_username(), "role": role},
        via=via,
    ).save()
    return membership


def membership_set_by_username(
    *, study: Study, username: str, role: str, by, via: str = "page"
) -> Membership:
    """``membership_set`` for a user named by username, with a message naming the field."""
    user = get_user_model().objects.filter(username=username.strip()).first()
    if user is None:
        raise ValidationError({"username": [f"No user is called {username.strip()!r}."]})
    return membership_set(study=study, user=user, role=role, by=by, via=via)


# --- design: groups, timepoints, comparisons, schedules ----------------------------------------


def _save_new(obj: Model, *, study: Study, entity: str, user, new: dict, via: str) -> Model:
    obj.full_clean()
    obj.save()
    _change(
        study=study,
        entity=entity,
        object_id=obj.pk,
        action=ChangeRecord.Action.CREATE,
        user=user,
        new=new,
        via=via,
    ).save()
    return obj


@transaction.atomic
def group_add(
    *,
    study: Study,
    code: str,
    name: str,
    user,
    control: bool = False,
    colour: str | None = None,
    blind_label: str | None = None,
    label_seed: int | None = None,
    via: str = "page",
) -> TreatmentGroup:
    """Add a treatment group. Unless ``blind_label`` is given, its coded label is a free letter
    drawn at random (``label_seed`` makes the draw reproducible) from the first
    ``CODED_LABEL_POOL`` letters: the next letter in order would tell technicians of a blinded
    study that "A" is the group added first, usually the control."""
    study = _fresh_study(study)
    existing = list(TreatmentGroup.objects.filter(study=study).values_list("blind_label", "order"))
    used = {label for label, _ in existing}
    if blind_label is None:
        letters = [chr(ord("A") + i) for i in range(26)]
        pool = letters[: max(CODED_LABEL_POOL, len(existing) + 1)]
        free = [letter for letter in pool if letter not in used]
        rng = random.Random(label_seed if label_seed is not None else secrets.randbits(64))
        blind_label = rng.choice(free) if free else f"G{len(existing) + 1}"
    order = max((o for _, o in existing), default=-1) + 1
    group = TreatmentGroup(
        study=study,
        code=code.strip(),
        name=name.strip() or code.strip(),
        control=control,
        order=order,
        colour=colour or GROUP_COLOURS[order % len(GROUP_COLOURS)],
        blind_label=blind_label,
    )
    return _save_new(
        group,
        study=study,
        entity="group",
        user=user,
        new={"code": group.code, "name": group.name, "control": control},
        via=via,
    )


@transaction.atomic
def timepoint_add(*, study: Study, label: str, day: int, user, via: str = "page") -> Timepoint:
    """Add a measurement timepoint on ``day`` (relative to day 0; a baseline may be negative)."""
    study = _fresh_study(study)
    timepoint = Timepoint(study=study, label=label.strip(), day=day)
    return _save_new(
        timepoint,
        study=study,
        entity="timepoint",
        user=user,
        new={"label": label, "day": day},
        via=via,
    )


@transaction.atomic
def comparison_add(
    *, study: Study, reference: TreatmentGroup, group: TreatmentGroup, symbol: str, user, via="page"
) -> Comparison:
    """Add a comparison tested at every timepoint, marked with ``symbol`` (e.g. ``#``)."""
    study = _fresh_study(study)
    if reference.study_id != study.pk or group.study_id != study.pk:
        raise ValidationError({"group": ["Both groups must belong to this study."]})
    order = Comparison.objects.filter(study=study).count()
    comparison = Comparison(
        study=study, reference=reference, group=group, symbol=symbol.strip(), order=order
    )
    return _save_new(
        comparison,
        study=study,
        entity="comparison",
        user=user,
        new={"reference": reference.code, "group": group.code, "symbol": comparison.symbol},
        via=via,
    )


def parse_days(text: str) -> list[int]:
    """Days written as ``0-4, 7, 14`` (ranges allowed) as a sorted list of whole numbers."""
    days: set[int] = set()
    for part in re.split(r"[,\s;]+", text.strip()):
        if not part:
            continue
        match = re.fullmatch(r"(-?\d+)(?:\.\.|-)(-?\d+)", part)
        if match:
            first, last = int(match.group(1)), int(match.group(2))
            if last < first or last - first > 400:
                raise ValidationError({"days": [f"{part!r} is not a range of days."]})
            days.update(range(first, last + 1))
        elif re.fullmatch(r"-?\d+", part):
            days.add(int(part))
        else:
            raise ValidationError({"days": [f"{part!r} is not a whole number of days."]})
    if not days:
        raise ValidationError({"days": ["Give at least one day."]})
    return sorted(days)


@transaction.atomic
def schedule_add(
    *,
    study: Study,
    group: TreatmentGroup,
    agent: str,
    dose: float,
    unit: str,
    route: str,
    days: list[int],
    user,
    vehicle: str = "",
    stock_concentration: float | None = None,
    via: str = "page",
) -> DosingSchedule:
    """Add a dosing schedule: ``agent`` given to ``group`` on ``days`` (relative to day 0)."""
    study = _fresh_study(study)
    if group.study_id != study.pk:
        raise ValidationError({"group": ["The group must belong to this study."]})
    if not agent.strip():
        raise ValidationError({"agent": ["Name the agent, e.g. paclitaxel."]})
    agent_row, _ = Agent.objects.get_or_create(name=agent.strip())
    schedule = DosingSchedule(
        study=study,
        group=group,
        agent=agent_row,
        dose=dose,
        unit=unit,
        route=route,
        days=sorted(set(days)),
        vehicle=vehicle,
        stock_concentration=stock_concentration,
    )
    return _save_new(
        schedule,
        study=study,
        entity="schedule",
        user=user,
        new={
            "group": group.code,
            "agent": agent_row.name,
            "dose": dose,
            "unit": unit,
            "route": route,
            "days": schedule.days,
            "stock_concentration": stock_concentration,
        },
        via=via,
    )


@transaction.atomic
def schedule_set_stock(
    *, schedule: DosingSchedule, stock_concentration: float | None, user, via: str = "page"
) -> DosingSchedule:
    """Set the stock concentration (mg/mL) from which injection volumes are computed."""
    _fresh_study(schedule.study)
    old = schedule.stock_concentration
    if old == stock_concentration:
        return schedule
    schedule.stock_concentration = stock_concentration
    schedule.full_clean()
    schedule.save(update_fields=["stock_concentration"])
    _change(
        study=schedule.study,
        entity="schedule",
        object_id=schedule.pk,
        action=ChangeRecord.Action.UPDATE,
        user=user,
        old={"stock_concentration": old},
        new={"stock_concentration": stock_concentration},
        via=via,
    ).save()
    return schedule


# --- animals ----------------------------------------------------------------------------------

SEXES = {"m": "male", "male": "male", "f": "female", "female": "female"}
_WEIGHT = re.compile(r"^(\d+(?:[.,]\d+)?)\s*g?$", re.IGNORECASE)


@dataclass
class _AnimalLine:
    number: int
    code: str
    cage: str = ""
    sex: str = ""
    weight: float | None = None


def _parse_weight(token: str) -> float | None:
    match = _WEIGHT.match(token)
    return float(match.group(1).replace(",", ".")) if match else None


def _parse_animal_line(number: int, line: str) -> tuple[_AnimalLine | None, str | None]:
    """One pasted line as an animal, or the reason it is not one."""
    if "\t" in line or ("," in line and not re.search(r"\d,\d", line)):
        fields = [f.strip() for f in re.split(r"[\t,]", line)]
    else:
        fields = line.split()
    while fields and fields[-1] == "":
        fields.pop()
    if len(fields) > 4:
        return None, f"too many fields ({len(fields)}): expected code, cage, sex, weight"
    if not fields or not fields[0]:
        return None, "the animal code is missing"
    animal = _AnimalLine(number=number, code=fields[0])
    rest = fields[1:]
    if len(fields) == 4:
        # Four fields are positional: code, cage, sex, weight (a field may be left empty).
        animal.cage, sex, weight = rest
        rest_sex, rest_weight = sex, weight
    else:
        rest = [token for token in rest if token]
        rest_weight = rest.pop() if rest and _parse_weight(rest[-1]) is not None else ""
        rest_sex = ""
        for token in list(rest):
            if token.lower() in SEXES:
                rest_sex = token
                rest.remove(token)
                break
        if len(rest) > 1:
            return None, f"cannot tell {', '.join(rest)} apart: write code, cage, sex, weight"
        animal.cage = rest[0] if rest else ""
    if rest_sex:
        if rest_sex.lower() not in SEXES:
            return None, f"sex {rest_sex!r} must be male or female (m/f)"
        animal.sex = SEXES[rest_sex.lower()]
    if rest_weight:
        weight = _parse_weight(rest_weight)
        if weight is None:
            return None, f"weight {rest_weight!r} is not a number of grams"
        if not 0 < weight < 5000:
            return None, f"weight {weight:g} g must be between 0 and 5000 g"
        animal.weight = weight
    if len(animal.code) > 30:
        return None, f"code {animal.code!r} is longer than 30 characters"
    if len(animal.cage) > 30:
        return None, f"cage {animal.cage!r} is longer than 30 characters"
    return animal, None


@transaction.atomic
def animals_register(*, study: Study, text: str, user, via: str = "page") -> list[Animal]:
    """Register animals from a pasted list, one a line: ``code [cage] [sex] [weight g]``.

    Fields are separated by tabs, commas or spaces; with four fields they are positional and may
    be empty. Blank lines, ``#`` comments and a header line starting with ``code`` are skipped.
    A weight is recorded as today's body weight. Raises ``ImportProblems`` naming every bad line
    (``("line 3", reason)``) and writes nothing when there is one. The same list registered
    again changes nothing and returns no animals.
    """
    study = _fresh_study(study)
    parsed: list[_AnimalLine] = []
    problems: list[tuple[str, str]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if number == 1 and line.lower().split()[0].rstrip(",") in ("code", "animal"):
            continue
        animal, problem = _parse_animal_line(number, line)
        if problem:
            problems.append((f"line {number}", problem))
        else:
            parsed.append(animal)
    if parsed and not problems and _is_repeat(study, parsed):
        # The same list again (a form posted twice, an API call retried): nothing to do.
        return []
    existing = set(Animal.objects.filter(study=study).values_list("code", flat=True))
    seen: dict[str, int] = {}
    for animal in parsed:
        if animal.code in existing:
            problems.append(
                (f"line {animal.number}", f"animal {animal.code} is already in the study")
            )
        elif animal.code in seen:
            problems.append(
                (f"line {animal.number}", f"animal {animal.code} repeats line {seen[animal.code]}")
            )
        else:
            seen[animal.code] = animal.number
    if not parsed and not problems:
        problems.append(("line 1", "no animals: paste one animal a line"))
    if problems:
        raise ImportProblems(sorted(problems, key=lambda p: int(p[0].split()[1])))

    animals = [
        Animal(study=study, code=a.code, cage=a.cage, sex=a.sex or study.sex) for a in parsed
    ]
    for animal in animals:
        # The unique code was checked above for the whole list at once.
        animal.full_clean(validate_constraints=False)
    animals = Animal.objects.bulk_create(animals)
    today = timezone.localdate()
    weights = [
        BodyWeight(animal=animal, date=today, grams=line.weight, recorded_by=_user_or_none(user))
        for animal, line in zip(animals, parsed, strict=True)
        if line.weight is not None
    ]
    BodyWeight.objects.bulk_create(weights)
    by_code = {w.animal.code: w.grams for w in weights}
    ChangeRecord.objects.bulk_create(
        _change(
            study=study,
            entity="animal",
            object_id=animal.pk,
            action=ChangeRecord.Action.CREATE,
            user=user,
            new={"code": animal.code, "cage": animal.cage, "sex": animal.sex}
            | ({"weight_g": by_code[animal.code]} if animal.code in by_code else {}),
            reason="registered from a pasted list",
            via=via,
        )
        for animal in animals
    )
    return animals


def _is_repeat(study: Study, parsed: list[_AnimalLine]) -> bool:
    """Whether every line is an animal already registered exactly so (same cage, sex and, when
    given, today's weight). A list that only partly repeats is refused line by line instead:
    it is more likely a mistake than a retry."""
    stored = {
        a.code: a for a in Animal.objects.filter(study=study, code__in=[p.code for p in parsed])
    }
    if len(stored) != len(parsed):
        return False
    weights = dict(
        BodyWeight.objects.filter(
            animal__in=stored.values(), date=timezone.localdate()
        ).values_list("animal__code", "grams")
    )
    return all(
        stored[line.code].cage == line.cage
        and stored[line.code].sex == (line.sex or study.sex)
        and (line.weight is None or weights.get(line.code) == line.weight)
        for line in parsed
    )


def _user_or_none(user):
    return user if getattr(user, "is_authenticated", False) else None


@transaction.atomic
def animal_set_status(
    *,
    animal: Animal,
    status: str,
    user,
    reason: str = "",
    date: dt.date | None = None,
    via: str = "page",
) -> Animal:
    """Exclude an animal, record it dead, or make it active again. Animals are never deleted:
    their data stay, and the statistics leave out what the status says."""
    _fresh_study(animal.study)
    if status not in Animal.Status.values:
        raise ValidationError({"status": ["Status must be active, excluded or dead."]})
    if status != Animal.Status.ACTIVE and not reason.strip():
        raise ValidationError({"reason": [f"Say why the animal is {status}."]})
    old = {"status": animal.status, "reason": animal.status_reason, "date": animal.status_date}
    animal.status = status
    animal.status_reason = reason.strip() if status != Animal.Status.ACTIVE else ""
    animal.status_date = (date or timezone.localdate()) if status != Animal.Status.ACTIVE else None
    animal.version += 1
    animal.full_clean()
    animal.save(update_fields=["status", "status_reason", "status_date", "version"])
    _change(
        study=animal.study,
        entity="animal",
        object_id=animal.pk,
        action=ChangeRecord.Action.UPDATE,
        user=user,
        old=old,
        new={"status": status, "reason": animal.status_reason, "date": animal.status_date},
        reason=reason,
        via=via,
    ).save()
    return animal


# --- allocation -------------------------------------------------------------------------------


def _block_allocation(
    ordered_codes: list[str], targets: dict[str, int], rng: random.Random
) -> dict[str, str]:
    """Permuted blocks over animals sorted by the balancing value.

    Consecutive animals form blocks of as many animals as there are groups with places left;
    each block gets a random permutation of those groups, so every group receives animals from
    the whole range of the balancing value.
    """
    remaining = dict(targets)
    result: dict[str, str] = {}
    position = 0
    while position < len(ordered_codes):
        open_groups = [code for code, left in remaining.items() if left > 0]
        block = ordered_codes[position : position + len(open_groups)]
        chosen = rng.sample(open_groups, len(block))
        for animal_code, group_code in zip(block, chosen, strict=True):
            result[animal_code] = group_code
            remaining[group_code] -= 1
        position += len(block)
    return result


def equal_targets(group_codes: list[str], n_animals: int) -> dict[str, int]:
    """Group sizes as equal as they can be; the first groups take one more when it is uneven."""
    base, extra = divmod(n_animals, len(group_codes)) if group_codes else (0, 0)
    return {code: base + (1 if i < extra else 0) for i, code in enumerate(group_codes)}


@transaction.atomic
def animals_allocate(
    *,
    study: Study,
    seed: int,
    balance_on: str = "weight",
    user,
    targets: dict[str, int] | None = None,
    via: str = "page",
) -> Allocation:
    """Allocate the study's active animals to its groups at random, seeded and reproducible.

    The animals are sorted by their latest body weight (``balance_on="weight"``) or by their
    mean counted von Frey value at the baseline timepoint (``"baseline"``), then allocated in
    permuted blocks so that group means stay close. ``targets`` gives each group's size by
    code; by default the sizes are equal. The same seed on the same animals gives the same
    allocation. The method, seed and result are kept in an ``Allocation``, and each animal that
    changes group gets a ``ChangeRecord``.

    Refused in a locked study, once readings exist after the baseline, or once doses have been
    recorded: from then on the groups carry data.
    """
    from behavior.models import Reading

    study = _fresh_study(study)
    if balance_on not in ("weight", "baseline"):
        raise ValidationError({"balance_on": ["Balance on weight or baseline."]})
    if not -(2**63) <= seed < 2**63:
        raise ValidationError({"seed": ["The seed must be a whole number of at most 18 digits."]})
    baseline = baseline_timepoint(study=study)
    later = Reading.objects.filter(session__study=study)
    if baseline is not None:
        later = later.filter(session__timepoint__day__gt=baseline.day)
    if later.exists():
        raise ValidationError(
            {"__all__": ["Readings after the baseline exist: the allocation can no longer change."]}
        )
    if DoseRecord.objects.filter(animal__study=study).exists():
        raise ValidationError(
            {"__all__": ["Doses have been recorded: the allocation can no longer change."]}
        )
    groups = list(TreatmentGroup.objects.filter(study=study).order_by("order", "code"))
    if not groups:
        raise ValidationError({"__all__": ["The study has no groups to allocate to."]})
    animals = list(Animal.objects.filter(study=study, status=Animal.Status.ACTIVE).order_by("code"))
    if not animals:
        raise ValidationError({"__all__": ["The study has no active animals to allocate."]})

    group_codes = [g.code for g in groups]
    if targets is None:
        targets = equal_targets(group_codes, len(animals))
    else:
        unknown = sorted(set(targets) - set(group_codes))
        if unknown:
            raise ValidationError({"targets": [f"Unknown group {', '.join(unknown)}."]})
        targets = {code: int(targets.get(code, 0)) for code in group_codes}
        if any(n < 0 for n in targets.values()):
            raise ValidationError({"targets": ["A group size cannot be negative."]})
        if sum(targets.values()) != len(animals):
            raise ValidationError(
                {
                    "targets": [
                        f"The group sizes add up to {sum(targets.values())}, but there are "
                        f"{len(animals)} active animals."
                    ]
                }
            )

    if balance_on == "weight":
        values = latest_weights(animal_ids=[a.pk for a in animals])
        missing = [a.code for a in animals if a.pk not in values]
        if missing:
            raise ValidationError(
                {"balance_on": [f"No body weight for {', '.join(missing)}: weigh them first."]}
            )
        value_of = {a.code: values[a.pk][1] for a in animals}
    else:
        if baseline is None:
            raise ValidationError({"balance_on": ["The study has no baseline timepoint."]})
        values = baseline_values(study=study, timepoint=baseline)
        missing = [a.code for a in animals if a.pk not in values]
        if missing:
            raise ValidationError(
                {"balance_on": [f"No counted baseline von Frey value for {', '.join(missing)}."]}
            )
        value_of = {a.code: values[a.pk] for a in animals}

    ordered = sorted(value_of, key=lambda code: (value_of[code], code))
    assigned = _block_allocation(ordered, targets, random.Random(seed))

    by_code = {g.code: g for g in groups}
    old_group = {a.code: (a.group.code if a.group_id else None) for a in animals}
    moved = []
    for animal in animals:
        new_group = by_code[assigned[animal.code]]
        if animal.group_id != new_group.pk:
            animal.group = new_group
            animal.version += 1
            moved.append(animal)
    Animal.objects.bulk_update(moved, ["group", "version"])

    summary = {}
    for code in group_codes:
        members = [value_of[a] for a, g in assigned.items() if g == code]
        summary[code] = {
            "n": len(members),
            "mean": statistics.fmean(members) if members else None,
            "sd": statistics.stdev(members) if len(members) > 1 else None,
        }
    allocation = Allocation(
        study=study,
        method="permuted blocks after sorting",
        balanced_on=balance_on,
        seed=seed,
        created_by=_user_or_none(user),
        result={
            "animals": dict(sorted(assigned.items())),
            "targets": targets,
            "groups": summary,
            "values": value_of,
        },
    )
    allocation.full_clean()
    allocation.save()
    ChangeRecord.objects.bulk_create(
        _change(
            study=study,
            entity="animal",
            object_id=animal.pk,
            action=ChangeRecord.Action.UPDATE,
            user=user,
            old={"group": old_group[animal.code]},
            new={"group": animal.group.code, "allocation": allocation.pk},
            reason=f"random allocation, seed {seed}, balanced on {balance_on}",
            via=via,
        )
        for animal in moved
    )
    return allocation


# --- doses and body weights -------------------------------------------------------------------


@transaction.atomic
def dose_record(
    *,
    schedule: DosingSchedule,
    animal: Animal,
    day: int,
    status: str,
    user,
    given_at: dt.datetime | None = None,
    weight_g: float | None = None,
    reason: str = "",
    via: str = "page",
) -> DoseRecord:
    """Record one due dose as given (who, when, the weight and volume used) or missed (why).

    Recording the same status again returns the stored record unchanged, so a double tap does
    no harm; changing given to missed (or back) is kept in the audit trail with the old values.
    """
    study = _fresh_study(schedule.study)
    if animal.study_id != study.pk:
        raise ValidationError({"animal": [f"Animal {animal.code} is not in study {study.slug}."]})
    if animal.group_id != schedule.group_id:
        raise ValidationError(
            {"animal": [f"Animal {animal.code} is not in the group this schedule doses."]}
        )
    if animal.status != Animal.Status.ACTIVE:
        raise ValidationError({"animal": [f"Animal {animal.code} is {animal.status}."]})
    if day not in schedule.days:
        raise ValidationError({"day": [f"The schedule has no dose on day {day}."]})
    if status not in DoseRecord.Status.values:
        raise ValidationError({"status": ["Status must be given or missed."]})
    reason = reason.strip()
    if status == DoseRecord.Status.MISSED and not reason:
        raise ValidationError({"reason": ["Say why the dose was missed."]})
    if weight_g is None and status == DoseRecord.Status.GIVEN:
        latest = latest_weights(animal_ids=[animal.pk]).get(animal.pk)
        weight_g = latest[1] if latest else None
    volume = dose_volume_ml(schedule=schedule, weight_g=weight_g) if weight_g else None
    values = {
        "status": status,
        "given_at": (given_at or timezone.now()) if status == DoseRecord.Status.GIVEN else None,
        "weight_g": weight_g if status == DoseRecord.Status.GIVEN else None,
        "volume_ml": volume if status == DoseRecord.Status.GIVEN else None,
        "reason": reason,
    }
    record = (
        DoseRecord.objects.select_for_update()
        .filter(schedule=schedule, animal=animal, day=day)
        .first()
    )
    if record is not None and record.status == status:
        return record
    old = None
    if record is None:
        record = DoseRecord(schedule=schedule, animal=animal, day=day)
    else:
        old = {name: getattr(record, name) for name in values}
        record.version += 1
    for name, value in values.items():
        setattr(record, name, value)
    record.recorded_by = _user_or_none(user)
    record.full_clean()
    record.save()
    _change(
        study=study,
        entity="dose",
        object_id=record.pk,
        action=ChangeRecord.Action.UPDATE if old else ChangeRecord.Action.CREATE,
        user=user,
        old=old,
        new={"animal": animal.code, "agent": schedule.agent.name, "day": day} | values,
        reason=reason,
        via=via,
    ).save()
    return record


@transaction.atomic
def body_weight_record(
    *, animal: Animal, date: dt.date, grams: float, user, reason: str = "", via: str = "page"
) -> BodyWeight:
    """Record an animal's body weight on ``date``. The same weight again changes nothing; a
    different weight for a day that has one is a correction kept in the audit trail."""
    _fresh_study(animal.study)
    if grams is None or not 0 < grams < 5000:
        raise ValidationError({"grams": ["A body weight must be between 0 and 5000 g."]})
    if date > timezone.localdate():
        raise ValidationError({"date": ["A body weight cannot be recorded for a future date."]})
    weight = BodyWeight.objects.select_for_update().filter(animal=animal, date=date).first()
    if weight is not None and weight.grams == grams:
        return weight
    old = None
    if weight is None:
        weight = BodyWeight(animal=animal, date=date, grams=grams)
    else:
        old = {"grams": weight.grams}
        weight.grams = grams
        weight.version += 1
    weight.recorded_by = _user_or_none(user)
    weight.full_clean()
    weight.save()
    _change(
        study=animal.study,
        entity="weight",
        object_id=weight.pk,
        action=ChangeRecord.Action.UPDATE if old else ChangeRecord.Action.CREATE,
        user=user,
        old=old,
        new={"animal": animal.code, "date": date, "grams": grams},
        reason=reason or ("corrected" if old else ""),
        via=via,
    ).save()
    return weight
