"""The study package: ``study.json`` in and out (interchange.md section 1).

``validate_study_json`` lists every problem of a study design with its JSON path;
``study_import`` creates the study or updates the one with that slug, all or nothing, and keeps
every change in the audit trail; ``study_export_json`` writes a study back out so that it
imports into an identical study.

How an update treats what the file says and what it leaves out:

- A key that is left out leaves that part of the study as it is: ``"animals"`` missing keeps the
  animals, ``"colour"`` missing keeps a group's colour. A list that is given states that part of
  the study completely.
- Groups are matched by code, timepoints by day, animals by code, assays by name, and dosing
  schedules by group and agent (in the order given, when a group gets one agent twice).
- Something the study has but a given list leaves out is removed only when nothing hangs off it
  (a timepoint without measurement sessions, an animal without readings, doses or weights, a
  schedule without recorded doses, a group without animals). Otherwise the import is refused
  with a problem naming it: recorded data are never deleted by an import. Every removal is kept
  in the audit trail with the old values.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import re
import secrets
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from studies.errors import ImportProblems, StudyLocked
from studies.models import (
    Agent,
    Animal,
    Assay,
    ChangeRecord,
    Comparison,
    DoseRecord,
    DoseUnit,
    DosingSchedule,
    Route,
    Species,
    Study,
    StudyAssay,
    Timepoint,
    TreatmentGroup,
)

FORMAT = "cipn-study/1"

# Grey for the vehicle group, red for the drug, blue for drug + IVIg, as in the paper's figures;
# then further distinct colours for more groups.
PALETTE = [
    "#7f7f7f",
    "#d62728",
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#bcbd22",
]

SLUG_RE = re.compile(r"^[-a-zA-Z0-9_]+\Z")
COLOUR_RE = re.compile(r"^#[0-9a-fA-F]{6}\Z")
FOOTPADS = ["left", "right"]
STUDY_STATUSES = [choice.value for choice in Study.Status]
ANIMAL_STATUSES = [choice.value for choice in Animal.Status]
# Spellings accepted on input for the stored unit and route values.
UNIT_ALIASES = {"µg/kg": DoseUnit.UG_PER_KG.value, "μg/kg": DoseUnit.UG_PER_KG.value}
ROUTE_ALIASES = {"i.p.": "ip", "i.v.": "iv", "s.c.": "sc", "p.o.": "po"}
DAY_LIMIT = 1000  # a day beyond this is a typo (a date, a year), not a study day

# Defaults of the assay settings a file may leave out (interchange.md section 1).
VON_FREY_DEFAULTS = {
    "applications": 10,
    "footpads": FOOTPADS,
    "max_value": 26.0,
    "temperature_c": None,
    "double_entry": True,
}
HOT_PLATE_DEFAULTS = {
    "applications": 1,
    "footpads": [],
    "max_value": 30.0,
    "temperature_c": 54.5,
    "double_entry": False,
}

_MISSING = object()


# --------------------------------------------------------------------------------------------
# Reading and checking a study.json dict


class _Reader:
    """Collects every problem with its JSON path while turning the JSON into model values."""

    def __init__(self) -> None:
        self.problems: list[tuple[str, str]] = []

    def add(self, path: str, reason: str) -> None:
        self.problems.append((path, reason))

    def _get(self, obj: dict, key: str, path: str, required: bool) -> Any:
        if key not in obj:
            if required:
                self.add(f"{path}.{key}", "is required")
            return _MISSING
        return obj[key]

    def text(
        self,
        obj: dict,
        key: str,
        path: str,
        *,
        max_length: int,
        required: bool = False,
        choices: list[str] | None = None,
    ) -> Any:
        """A string; required ones may not be empty, optional ones may be null (empty)."""
        value = self._get(obj, key, path, required)
        where = f"{path}.{key}"
        if value is _MISSING:
            return _MISSING
        if value is None and not required:
            return ""
        if not isinstance(value, str):
            self.add(where, f"must be a string, not {_json_type(value)}")
            return _MISSING
        value = value.strip()
        if required and not value:
            self.add(where, "must not be empty")
            return _MISSING
        if choices is not None and value not in choices:
            self.add(where, f"must be one of {', '.join(choices)} (got {value!r})")
            return _MISSING
        if len(value) > max_length:
            self.add(where, f"must be at most {max_length} characters (got {len(value)})")
            return _MISSING
        return value

    def boolean(self, obj: dict, key: str, path: str) -> Any:
        value = self._get(obj, key, path, False)
        if value is _MISSING:
            return _MISSING
        if not isinstance(value, bool):
            self.add(f"{path}.{key}", f"must be true or false, not {_json_type(value)}")
            return _MISSING
        return value

    def number(
        self,
        obj: dict,
        key: str,
        path: str,
        *,
        required: bool = False,
        nullable: bool = False,
        above: float | None = None,
        at_least: float | None = None,
        at_most: float | None = None,
        unit: str = "",
    ) -> Any:
        value = self._get(obj, key, path, required)
        where = f"{path}.{key}"
        if value is _MISSING:
            return _MISSING
        if value is None and nullable:
            return None
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            self.add(where, f"must be a number, not {_json_type(value)}")
            return _MISSING
        suffix = f" {unit}" if unit else ""
        if above is not None and not value > above:
            self.add(where, f"must be greater than {above:g}{suffix} (got {value:g})")
            return _MISSING
        if at_least is not None and value < at_least:
            self.add(where, f"must be at least {at_least:g}{suffix} (got {value:g})")
            return _MISSING
        if at_most is not None and value > at_most:
            self.add(where, f"must be at most {at_most:g}{suffix} (got {value:g})")
            return _MISSING
        return float(value)

    def whole(self, value: Any, where: str, *, low: int, high: int) -> Any:
        if isinstance(value, bool) or not isinstance(value, int):
            self.add(where, f"must be a whole number, not {_json_value(value)}")
            return _MISSING
        if not low <= value <= high:
            self.add(where, f"must be between {low} and {high} (got {value})")
            return _MISSING
        return value

    def date(self, obj: dict, key: str, path: str) -> Any:
        value = self._get(obj, key, path, False)
        where = f"{path}.{key}"
        if value is _MISSING:
            return _MISSING
        if value is None:
            return None
        if not isinstance(value, str):
            self.add(where, f"must be an ISO date such as 2026-01-12, not {_json_type(value)}")
            return _MISSING
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            self.add(where, f"must be an ISO date such as 2026-01-12 (got {value!r})")
            return _MISSING

    def items(self, obj: dict, key: str, *, required: bool = False) -> Any:
        """The list under ``key``; each element must be an object."""
        value = self._get(obj, key, "$", required)
        where = f"$.{key}"
        if value is _MISSING:
            return _MISSING
        if not isinstance(value, list):
            self.add(where, f"must be a list, not {_json_type(value)}")
            return _MISSING
        good = []
        for i, item in enumerate(value):
            if isinstance(item, dict):
                good.append((f"{where}[{i}]", item))
            else:
                self.add(f"{where}[{i}]", f"must be an object, not {_json_type(item)}")
        return good


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _json_value(value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return repr(value)
    return _json_type(value)


def _present(values: dict) -> dict:
    return {k: v for k, v in values.items() if v is not _MISSING}


@dataclass
class _Spec:
    """A checked study.json: model field values of what the file gives (absent keys left out)."""

    study: dict
    assays: dict[str, dict] | None = None
    groups: list[dict] = field(default_factory=list)
    schedules: list[dict] | None = None
    timepoints: list[dict] | None = None
    comparisons: list[dict] | None = None
    animals: list[dict] | None = None


def _read(data: Any) -> tuple[_Spec | None, list[tuple[str, str]]]:
    r = _Reader()
    if not isinstance(data, dict):
        r.add("$", f"must be a JSON object, not {_json_type(data)}")
        return None, r.problems

    fmt = r._get(data, "format", "$", True)
    if fmt is not _MISSING and fmt != FORMAT:
        r.add("$.format", f"must be {FORMAT!r} (got {fmt!r})")

    slug = r.text(data, "slug", "$", max_length=80, required=True)
    if slug is not _MISSING and not SLUG_RE.match(slug):
        r.add("$.slug", f"must use only letters, digits, hyphens and underscores (got {slug!r})")
        slug = _MISSING
    study = _present(
        {
            "slug": slug,
            "title": r.text(data, "title", "$", max_length=300, required=True),
            "species": r.text(
                data, "species", "$", max_length=10, required=True, choices=Species.values
            ),
            "strain": r.text(data, "strain", "$", max_length=100),
            "sex": r.text(data, "sex", "$", max_length=10),
            "supplier": r.text(data, "supplier", "$", max_length=200),
            "description": r.text(data, "description", "$", max_length=10_000),
            "day0": r.date(data, "day0", "$"),
            "blinded": r.boolean(data, "blinded", "$"),
            "synthetic": r.boolean(data, "synthetic", "$"),
            "status": r.text(data, "status", "$", max_length=10, choices=STUDY_STATUSES),
        }
    )
    spec = _Spec(study=study)
    spec.assays = _read_assays(r, data)
    codes = _read_groups(r, data, spec)
    spec.schedules = _read_dosing(r, data, codes)
    spec.timepoints = _read_timepoints(r, data)
    spec.comparisons = _read_comparisons(r, data, codes)
    spec.animals = _read_animals(r, data, codes)
    return (None if r.problems else spec), r.problems


def _read_assays(r: _Reader, data: dict) -> dict[str, dict] | None:
    assays = r._get(data, "assays", "$", True)
    if assays is _MISSING:
        return None
    if not isinstance(assays, dict):
        r.add("$.assays", f"must be an object, not {_json_type(assays)}")
        return None
    if not assays:
        r.add("$.assays", "must configure at least one assay: von_frey or hot_plate")
    result = {}
    for name, settings in assays.items():
        path = f"$.assays.{name}"
        if name not in Assay.values:
            r.add(path, f"is not an assay: use {' or '.join(Assay.values)}")
            continue
        if not isinstance(settings, dict):
            r.add(path, f"must be an object, not {_json_type(settings)}")
            continue
        double_entry = r.boolean(settings, "double_entry", path)
        if name == Assay.VON_FREY:
            applications = settings.get("applications_per_footpad", _MISSING)
            if applications is not _MISSING:
                applications = r.whole(
                    applications, f"{path}.applications_per_footpad", low=1, high=50
                )
            footpads = _read_footpads(r, settings, path)
            max_value = r.number(settings, "max_force_g", path, above=0, at_most=300, unit="g")
            result[name] = _present(
                {
                    "applications": applications,
                    "footpads": footpads,
                    "max_value": max_value,
                    "double_entry": double_entry,
                }
            )
        else:
            trials = settings.get("trials", _MISSING)
            if trials is not _MISSING:
                trials = r.whole(trials, f"{path}.trials", low=1, high=50)
            result[name] = _present(
                {
                    "applications": trials,
                    "max_value": r.number(
                        settings, "cutoff_s", path, above=0, at_most=120, unit="s"
                    ),
                    "temperature_c": r.number(
                        settings,
                        "temperature_c",
                        path,
                        nullable=True,
                        at_least=30,
                        at_most=70,
                        unit="°C",
                    ),
                    "double_entry": double_entry,
                }
            )
    return result


def _read_footpads(r: _Reader, settings: dict, path: str) -> Any:
    footpads = settings.get("footpads", _MISSING)
    where = f"{path}.footpads"
    if footpads is _MISSING:
        return _MISSING
    if not isinstance(footpads, list) or not footpads:
        r.add(where, 'must be a list of "left" and/or "right"')
        return _MISSING
    ok = True
    for i, footpad in enumerate(footpads):
        if footpad not in FOOTPADS:
            r.add(f"{where}[{i}]", f'must be "left" or "right" (got {footpad!r})')
            ok = False
    if ok and len(set(footpads)) != len(footpads):
        r.add(where, "names a footpad twice")
        ok = False
    # Stored in a fixed order so that an export does not depend on how the file listed them.
    return [f for f in FOOTPADS if f in footpads] if ok else _MISSING


def _read_groups(r: _Reader, data: dict, spec: _Spec) -> set[str]:
    """Reads the groups into ``spec.groups``; returns every code given (even a bad group's)."""
    items = r.items(data, "groups", required=True)
    codes: set[str] = set()
    if items is _MISSING:
        return codes
    if not items and data["groups"] == []:
        r.add("$.groups", "must list at least one group")
    labels: dict[str, str] = {}
    for order, (path, item) in enumerate(items):
        code = r.text(item, "code", path, max_length=30, required=True)
        if code is not _MISSING:
            if code in codes:
                r.add(f"{path}.code", f"repeats the group code {code!r}")
            codes.add(code)
        colour = r.text(item, "colour", path, max_length=7)
        if colour not in (_MISSING, "") and not COLOUR_RE.match(colour):
            r.add(f"{path}.colour", f"must be a hex colour such as #1f77b4 (got {colour!r})")
            colour = _MISSING
        if colour == "":
            colour = _MISSING  # null or empty: the palette colour
        label = r.text(item, "blind_label", path, max_length=10)
        if label == "":
            label = _MISSING  # null or empty: a coded label is assigned
        if label is not _MISSING:
            if label in labels:
                r.add(f"{path}.blind_label", f"repeats the coded label {label!r}")
            labels[label] = code
        spec.groups.append(
            _present(
                {
                    "code": code,
                    "name": r.text(item, "name", path, max_length=200),
                    "control": r.boolean(item, "control", path),
                    "colour": colour,
                    "blind_label": label,
                    "order": order,
                }
            )
        )
    return codes


def _group_ref(r: _Reader, item: dict, key: str, path: str, codes: set[str], **kw) -> Any:
    code = r.text(item, key, path, max_length=30, **kw)
    if code in (_MISSING, ""):
        return code
    if code not in codes:
        r.add(f"{path}.{key}", f"names no group of this study (got {code!r})")
        return _MISSING
    return code


def _read_dosing(r: _Reader, data: dict, codes: set[str]) -> list[dict] | None:
    items = r.items(data, "dosing")
    if items is _MISSING:
        return None
    schedules = []
    for path, item in items:
        unit = r._get(item, "unit", path, True)
        if isinstance(unit, str):
            unit = UNIT_ALIASES.get(unit.strip(), unit.strip())
            if unit not in DoseUnit.values:
                r.add(f"{path}.unit", f"must be one of {', '.join(DoseUnit.labels)} (got {unit!r})")
                unit = _MISSING
        elif unit is not _MISSING:
            r.add(f"{path}.unit", f"must be a string, not {_json_type(unit)}")
            unit = _MISSING
        route = r._get(item, "route", path, True)
        if isinstance(route, str):
            route = ROUTE_ALIASES.get(route.strip().lower(), route.strip().lower())
            if route not in Route.values:
                r.add(f"{path}.route", f"must be one of {', '.join(Route.values)} (got {route!r})")
                route = _MISSING
        elif route is not _MISSING:
            r.add(f"{path}.route", f"must be a string, not {_json_type(route)}")
            route = _MISSING
        schedules.append(
            _present(
                {
                    "group": _group_ref(r, item, "group", path, codes, required=True),
                    "agent": r.text(item, "agent", path, max_length=100, required=True),
                    "dose": r.number(item, "dose", path, required=True, above=0),
                    "unit": unit,
                    "route": route,
                    "vehicle": r.text(item, "vehicle", path, max_length=200),
                    "days": _read_days(r, item, path),
                    "stock_concentration": r.number(
                        item, "stock_concentration", path, nullable=True, above=0, unit="mg/mL"
                    ),
                }
            )
        )
    return schedules


def _read_days(r: _Reader, item: dict, path: str) -> Any:
    days = r._get(item, "days", path, True)
    where = f"{path}.days"
    if days is _MISSING:
        return _MISSING
    if not isinstance(days, list) or not days:
        r.add(where, "must be a list of at least one day, such as [0, 7, 14]")
        return _MISSING
    good = [r.whole(d, f"{where}[{i}]", low=-DAY_LIMIT, high=DAY_LIMIT) for i, d in enumerate(days)]
    if _MISSING in good:
        return _MISSING
    repeated = sorted({d for d in good if good.count(d) > 1})
    if repeated:
        r.add(where, f"names day {', '.join(map(str, repeated))} more than once")
        return _MISSING
    return sorted(good)


def _read_timepoints(r: _Reader, data: dict) -> list[dict] | None:
    items = r.items(data, "timepoints")
    if items is _MISSING:
        return None
    timepoints, labels, days = [], set(), set()
    for path, item in items:
        label = r.text(item, "label", path, max_length=50, required=True)
        day = r._get(item, "day", path, True)
        if day is not _MISSING:
            day = r.whole(day, f"{path}.day", low=-DAY_LIMIT, high=DAY_LIMIT)
        if label is not _MISSING:
            if label in labels:
                r.add(f"{path}.label", f"repeats the timepoint label {label!r}")
            labels.add(label)
        if day is not _MISSING:
            if day in days:
                r.add(f"{path}.day", f"repeats day {day}: one timepoint per day")
            days.add(day)
        timepoints.append(_present({"label": label, "day": day}))
    return timepoints


def _read_comparisons(r: _Reader, data: dict, codes: set[str]) -> list[dict] | None:
    items = r.items(data, "comparisons")
    if items is _MISSING:
        return None
    comparisons, pairs = [], set()
    for order, (path, item) in enumerate(items):
        reference = _group_ref(r, item, "reference", path, codes, required=True)
        group = _group_ref(r, item, "group", path, codes, required=True)
        symbol = r.text(item, "symbol", path, max_length=3, required=True)
        if reference is not _MISSING and reference == group:
            r.add(f"{path}.group", f"must differ from the reference group (both {group!r})")
        elif reference is not _MISSING and group is not _MISSING:
            if (reference, group) in pairs:
                r.add(path, f"repeats the comparison of {group!r} with {reference!r}")
            pairs.add((reference, group))
        comparisons.append(
            _present({"reference": reference, "group": group, "symbol": symbol, "order": order})
        )
    return comparisons


def _read_animals(r: _Reader, data: dict, codes: set[str]) -> list[dict] | None:
    items = r.items(data, "animals")
    if items is _MISSING:
        return None
    animals, seen = [], set()
    for path, item in items:
        code = r.text(item, "code", path, max_length=30, required=True)
        if code is not _MISSING:
            if code in seen:
                r.add(f"{path}.code", f"repeats the animal code {code!r}")
            seen.add(code)
        status = r.text(item, "status", path, max_length=10, choices=ANIMAL_STATUSES)
        reason = r.text(item, "status_reason", path, max_length=300)
        when = r.date(item, "status_date", path)
        if status not in (_MISSING, "", Animal.Status.ACTIVE):
            if reason in (_MISSING, ""):
                r.add(f"{path}.status_reason", f"is required for a {status} animal")
            if when in (_MISSING, None):
                r.add(f"{path}.status_date", f"is required for a {status} animal")
        if status == "":
            status = Animal.Status.ACTIVE.value
        animals.append(
            _present(
                {
                    "code": code,
                    "group": _group_ref(r, item, "group", path, codes),
                    "cage": r.text(item, "cage", path, max_length=30),
                    "sex": r.text(item, "sex", path, max_length=10),
                    "status": status,
                    "status_reason": reason,
                    "status_date": when,
                }
            )
        )
    return animals


def validate_study_json(data: dict) -> list[tuple[str, str]]:
    """Every problem of a study.json dict as ``(JSON path, reason)``; empty when it is valid.

    Checks the format alone, without the database: what an update would do to an existing study
    (removing something that has data) is checked by ``study_import``.
    """
    return _read(data)[1]


# --------------------------------------------------------------------------------------------
# Export


def _num(value: float | None) -> float | int | None:
    """Whole numbers as JSON integers (``1`` rather than ``1.0``), for people reading the file."""
    if value is None:
        return None
    return int(value) if float(value).is_integer() else value


def _study_json(study: Study) -> dict:
    return {
        "slug": study.slug,
        "title": study.title,
        "species": study.species,
        "strain": study.strain,
        "sex": study.sex,
        "supplier": study.supplier,
        "day0": study.day0.isoformat() if study.day0 else None,
        "blinded": study.blinded,
        "status": study.status,
        "synthetic": study.synthetic,
        "description": study.description,
    }


def _assay_json(assay: StudyAssay) -> dict:
    if assay.assay == Assay.VON_FREY:
        return {
            "applications_per_footpad": assay.applications,
            "footpads": list(assay.footpads),
            "max_force_g": _num(assay.max_value),
            "double_entry": assay.double_entry,
        }
    return {
        "temperature_c": _num(assay.temperature_c),
        "cutoff_s": _num(assay.max_value),
        "trials": assay.applications,
        "double_entry": assay.double_entry,
    }


def _group_json(group: TreatmentGroup) -> dict:
    return {
        "code": group.code,
        "name": group.name,
        "control": group.control,
        "colour": group.colour,
        "blind_label": group.blind_label,
    }


def _schedule_json(schedule: DosingSchedule) -> dict:
    return {
        "group": schedule.group.code,
        "agent": schedule.agent.name,
        "dose": _num(schedule.dose),
        "unit": schedule.unit,
        "route": schedule.route,
        "vehicle": schedule.vehicle,
        "days": list(schedule.days),
        "stock_concentration": _num(schedule.stock_concentration),
    }


def _timepoint_json(timepoint: Timepoint) -> dict:
    return {"label": timepoint.label, "day": timepoint.day}


def _comparison_json(comparison: Comparison) -> dict:
    return {
        "reference": comparison.reference.code,
        "group": comparison.group.code,
        "symbol": comparison.symbol,
    }


def _animal_json(animal: Animal) -> dict:
    row = {
        "code": animal.code,
        "group": animal.group.code if animal.group_id else None,
        "cage": animal.cage,
        "sex": animal.sex,
        "status": animal.status,
    }
    if animal.status != Animal.Status.ACTIVE or animal.status_reason or animal.status_date:
        row["status_reason"] = animal.status_reason
        row["status_date"] = animal.status_date.isoformat() if animal.status_date else None
    return row


def study_export_json(*, study: Study) -> dict:
    """The study as an interchange.md section 1 dict, which ``study_import`` turns back into an
    identical study (same slug: no change; another slug: a copy). Seven queries."""
    return {
        "format": FORMAT,
        **_study_json(study),
        "assays": {a.assay: _assay_json(a) for a in study.assays.order_by("assay")},
        "groups": [_group_json(g) for g in study.groups.order_by("order", "code")],
        "dosing": [
            _schedule_json(s)
            for s in study.schedules.select_related("group", "agent").order_by(
                "group__order", "group__code", "agent__name", "id"
            )
        ],
        "timepoints": [_timepoint_json(t) for t in study.timepoints.order_by("day")],
        "comparisons": [
            _comparison_json(c)
            for c in study.comparisons.select_related("reference", "group").order_by("order", "id")
        ],
        "animals": [
            _animal_json(a) for a in study.animals.select_related("group").order_by("code")
        ],
    }


# --------------------------------------------------------------------------------------------
# Import


@dataclass
class StudyImportReport:
    """What one import did: the study, whether it was created, and counts of the changes by
    ``(entity, action)`` as written to the audit trail."""

    study: Study
    created: bool
    changes: Counter = field(default_factory=Counter)

    def lines(self) -> list[str]:
        """One line per kind of change, such as ``created 40 animals``, for people to read."""
        words = {"create": "created", "update": "changed", "delete": "removed"}
        out = []
        for (entity, action), count in sorted(self.changes.items()):
            noun = _ENTITY_NAMES.get(entity, entity)
            out.append(f"{words.get(action, action)} {count} {noun if count == 1 else noun + 's'}")
        return out


_ENTITY_NAMES = {
    "study": "study",
    "assay": "assay setting",
    "group": "group",
    "schedule": "dosing schedule",
    "timepoint": "timepoint",
    "comparison": "comparison",
    "animal": "animal",
}


class _Writer:
    """Applies a checked spec to one study and collects the audit trail rows."""

    def __init__(self, study: Study, *, user, via: str):
        self.study = study
        self.user = user if getattr(user, "is_authenticated", False) else None
        self.via = via
        self.records: list[ChangeRecord] = []
        self.changes: Counter = Counter()

    def record(self, entity: str, obj, action: str, old=None, new=None) -> None:
        self.records.append(
            ChangeRecord(
                study=self.study,
                entity=entity,
                object_id=obj.pk,
                action=action,
                old=old,
                new=new,
                user=self.user,
                via=self.via,
                reason="study import",
            )
        )
        self.changes[(entity, action)] += 1

    def save(self, obj, where: str) -> None:
        """Checks the row against every model rule; a rule the file breaks becomes a problem."""
        try:
            obj.full_clean()
        except ValidationError as exc:
            raise ImportProblems(
                [
                    (f"{where}.{name}" if name != "__all__" else where, message)
                    for name, messages in exc.message_dict.items()
                    for message in messages
                ]
            ) from None
        obj.save()

    def create(self, entity: str, obj, to_json, where: str) -> None:
        self.save(obj, where)
        self.record(entity, obj, ChangeRecord.Action.CREATE, new=_jsonable(to_json(obj)))

    def update(self, entity: str, obj, values: dict, to_json, where: str) -> bool:
        before = to_json(obj)
        for name, value in values.items():
            setattr(obj, name, value)
        after = to_json(obj)
        changed = [k for k in after if after[k] != before.get(k)]
        if not changed:
            return False
        if hasattr(obj, "version"):
            obj.version += 1
        self.save(obj, where)
        self.record(
            entity,
            obj,
            ChangeRecord.Action.UPDATE,
            old=_jsonable({k: before[k] for k in changed}),
            new=_jsonable({k: after[k] for k in changed}),
        )
        return True

    def delete(self, entity: str, obj, to_json) -> None:
        self.record(entity, obj, ChangeRecord.Action.DELETE, old=_jsonable(to_json(obj)))
        obj.delete()


def _jsonable(values: dict) -> dict:
    return {k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in values.items()}


def study_import(*, data: dict, user=None, via: str = "command") -> tuple[Study, bool]:
    """Creates the study of an interchange.md section 1 dict, or updates the one with its slug.

    Returns ``(study, created)``. Raises ``ImportProblems`` listing every problem with its JSON
    path, having written nothing; ``StudyLocked`` for a locked study. Every row created, changed
    or removed gets a ``ChangeRecord``. See the module docstring for how an update matches rows.
    """
    report = study_import_report(data=data, user=user, via=via)
    return report.study, report.created


@transaction.atomic
def study_import_report(*, data: dict, user=None, via: str = "command") -> StudyImportReport:
    """``study_import``, returning what it did as a ``StudyImportReport`` (for the command)."""
    spec, problems = _read(data)
    if problems:
        raise ImportProblems(problems)

    study = Study.objects.select_for_update().filter(slug=spec.study["slug"]).first()
    created = study is None
    if study is not None and study.is_locked:
        raise StudyLocked(study.slug)
    if created:
        study = Study(**spec.study)
        writer = _Writer(study, user=user, via=via)
        writer.save(study, "$")
        writer.record("study", study, ChangeRecord.Action.CREATE, new=_study_json(study))
        current = _Current.empty()
    else:
        writer = _Writer(study, user=user, via=via)
        current = _Current.load(study)
        refused = current.refusals(spec)
        if refused:
            raise ImportProblems(refused)
        writer.update("study", study, spec.study, _study_json, "$")

    _remove_dropped(writer, current, spec)
    groups = _apply_groups(writer, current, spec)
    agents = _agents(spec)
    _apply_assays(writer, current, spec)
    _apply_schedules(writer, current, spec, groups, agents)
    _apply_timepoints(writer, current, spec)
    _apply_comparisons(writer, current, spec, groups)
    _apply_animals(writer, current, spec, groups)
    ChangeRecord.objects.bulk_create(writer.records)
    return StudyImportReport(study=study, created=created, changes=writer.changes)


@dataclass
class _Current:
    """The study's rows before the import, keyed the way the file names them."""

    assays: dict[str, StudyAssay]
    groups: dict[str, TreatmentGroup]
    schedules: dict[tuple[str, str], list[DosingSchedule]]
    timepoints: dict[int, Timepoint]
    comparisons: dict[tuple[str, str], Comparison]
    animals: dict[str, Animal]
    study: Study | None = None

    @classmethod
    def empty(cls) -> _Current:
        return cls({}, {}, {}, {}, {}, {})

    @classmethod
    def load(cls, study: Study) -> _Current:
        schedules: dict[tuple[str, str], list[DosingSchedule]] = {}
        for s in study.schedules.select_related("group", "agent").order_by("id"):
            schedules.setdefault((s.group.code, s.agent.name), []).append(s)
        return cls(
            assays={a.assay: a for a in study.assays.all()},
            groups={g.code: g for g in study.groups.all()},
            schedules=schedules,
            timepoints={t.day: t for t in study.timepoints.all()},
            comparisons={
                (c.reference.code, c.group.code): c
                for c in study.comparisons.select_related("reference", "group")
            },
            animals={a.code: a for a in study.animals.select_related("group")},
            study=study,
        )

    def matched_schedules(self, spec: _Spec) -> tuple[list, list[DosingSchedule]]:
        """Pairs each file schedule with the one it updates (or None); returns the leftovers too."""
        pool = {key: list(rows) for key, rows in self.schedules.items()}
        pairs = []
        for i, item in enumerate(spec.schedules or []):
            rows = pool.get((item["group"], item["agent"]), [])
            pairs.append((i, item, rows.pop(0) if rows else None))
        leftovers = [s for rows in pool.values() for s in rows]
        return pairs, leftovers

    def refusals(self, spec: _Spec) -> list[tuple[str, str]]:
        """Problems of an update: removing or changing what recorded data depend on."""
        study = self.study
        problems = []
        if spec.assays is not None:
            used = set(study.sessions.values_list("assay", flat=True).distinct())
            for name in sorted(set(self.assays) - set(spec.assays)):
                if name in used:
                    problems.append(
                        ("$.assays", f"leaves out {name}, which has measurement sessions")
                    )
        kept_codes = {g["code"] for g in spec.groups}
        dropped_groups = [g for code, g in self.groups.items() if code not in kept_codes]
        if dropped_groups:
            with_animals = set(
                study.animals.filter(group__in=dropped_groups).values_list("group__code", flat=True)
            )
            dosed = set(
                DoseRecord.objects.filter(schedule__group__in=dropped_groups).values_list(
                    "schedule__group__code", flat=True
                )
            )
            for code in sorted(with_animals | dosed):
                held = "animals" if code in with_animals else "recorded doses"
                problems.append(("$.groups", f"leaves out group {code!r}, which has {held}"))
        if spec.schedules is not None:
            problems += self._schedule_refusals(spec)
        if spec.timepoints is not None:
            days = {t["day"] for t in spec.timepoints}
            dropped = [t for day, t in self.timepoints.items() if day not in days]
            used = set(
                study.sessions.filter(timepoint__in=dropped).values_list(
                    "timepoint__day", flat=True
                )
            )
            for t in sorted(dropped, key=lambda t: t.day):
                if t.day in used:
                    problems.append(
                        (
                            "$.timepoints",
                            f"leaves out {t.label!r} (day {t.day}), which has measurement sessions",
                        )
                    )
        if spec.animals is not None:
            codes = {a["code"] for a in spec.animals}
            dropped = [a for code, a in self.animals.items() if code not in codes]
            for a in dropped:
                held = [
                    what
                    for what, rows in (
                        ("readings", a.readings),
                        ("recorded doses", a.dose_records),
                        ("body weights", a.weights),
                    )
                    if rows.exists()
                ]
                if held:
                    problems.append(
                        (
                            "$.animals",
                            f"leaves out animal {a.code!r}, which has {' and '.join(held)}",
                        )
                    )
        return problems

    def _schedule_refusals(self, spec: _Spec) -> list[tuple[str, str]]:
        pairs, leftovers = self.matched_schedules(spec)
        touched = [s for _, _, s in pairs if s is not None] + leftovers
        recorded: dict[int, set[int]] = {}
        for schedule_id, day in DoseRecord.objects.filter(schedule__in=touched).values_list(
            "schedule_id", "day"
        ):
            recorded.setdefault(schedule_id, set()).add(day)
        problems = []
        for i, item, schedule in pairs:
            if schedule is None or "days" not in item:
                continue
            lost = sorted(recorded.get(schedule.pk, set()) - set(item["days"]))
            if lost:
                problems.append(
                    (
                        f"$.dosing[{i}].days",
                        f"leaves out day {', '.join(map(str, lost))}, which has recorded doses",
                    )
                )
        for s in leftovers:
            if recorded.get(s.pk):
                problems.append(
                    (
                        "$.dosing",
                        f"leaves out {s.agent.name} for group {s.group.code!r}, "
                        "which has recorded doses",
                    )
                )
        return problems


def _remove_dropped(writer: _Writer, current: _Current, spec: _Spec) -> None:
    """Removes what given lists leave out (``refusals`` has made sure no data hang off it).

    Runs before anything is created, so that a new row may take a freed code, label or day.
    """
    kept_groups = {g["code"] for g in spec.groups}
    if spec.comparisons is not None:
        kept = {(c["reference"], c["group"]) for c in spec.comparisons}
    else:
        kept = {k for k in current.comparisons if set(k) <= kept_groups}
    for key, comparison in current.comparisons.items():
        if key not in kept:
            writer.delete("comparison", comparison, _comparison_json)
    if spec.schedules is not None:
        leftovers = current.matched_schedules(spec)[1]
    else:
        leftovers = [
            s
            for rows in current.schedules.values()
            for s in rows
            if s.group.code not in kept_groups
        ]
    for schedule in leftovers:
        writer.delete("schedule", schedule, _schedule_json)
    if spec.animals is not None:
        codes = {a["code"] for a in spec.animals}
        for code, animal in current.animals.items():
            if code not in codes:
                writer.delete("animal", animal, _animal_json)
    for code, group in current.groups.items():
        if code not in kept_groups:
            writer.delete("group", group, _group_json)
    if spec.timepoints is not None:
        days = {t["day"] for t in spec.timepoints}
        for day, timepoint in current.timepoints.items():
            if day not in days:
                writer.delete("timepoint", timepoint, _timepoint_json)
    if spec.assays is not None:
        for name, assay in current.assays.items():
            if name not in spec.assays:
                writer.delete("assay", assay, lambda a: {"assay": a.assay, **_assay_json(a)})


def _apply_groups(writer: _Writer, current: _Current, spec: _Spec) -> dict[str, TreatmentGroup]:
    kept = {g["code"] for g in spec.groups}
    taken = {g.blind_label for code, g in current.groups.items() if code in kept}
    taken |= {g["blind_label"] for g in spec.groups if "blind_label" in g}
    # Labels in the design order would give the allocation away ("A" is the control group):
    # the new groups without a label of their own share the first free labels in random order.
    unlabelled = [
        g for g in spec.groups if g["code"] not in current.groups and "blind_label" not in g
    ]
    free = (label for label in _coded_labels() if label not in taken)
    pool = [next(free) for _ in unlabelled]
    random.Random(label_seed()).shuffle(pool)
    free_labels = iter(pool)
    groups = {}
    for i, item in enumerate(spec.groups):
        where = f"$.groups[{i}]"
        group = current.groups.get(item["code"])
        if group is None:
            values = {
                "name": item["code"],
                "colour": PALETTE[item["order"] % len(PALETTE)],
                **item,
            }
            if "blind_label" not in values:
                values["blind_label"] = next(free_labels)
            group = TreatmentGroup(study=writer.study, **values)
            writer.create("group", group, _group_json, where)
        else:
            writer.update(
                "group", group, item, lambda g: {**_group_json(g), "order": g.order}, where
            )
        groups[group.code] = group
    return groups


def label_seed() -> int:
    """A fresh seed for shuffling coded labels, from the system's source of randomness: a seed
    derived from the study (its slug, say) would let anyone work the labels out."""
    return secrets.randbits(64)


def _coded_labels():
    """A, B, ..., Z, then AA, AB, ...: enough coded labels for any number of groups."""
    letters = [chr(ord("A") + i) for i in range(26)]
    yield from letters
    for first in letters:
        for second in letters:
            yield first + second


def _agents(spec: _Spec) -> dict[str, Agent]:
    return {
        name: Agent.objects.get_or_create(name=name)[0]
        for name in dict.fromkeys(s["agent"] for s in spec.schedules or [])
    }


def _apply_assays(writer: _Writer, current: _Current, spec: _Spec) -> None:
    for name, settings in (spec.assays or {}).items():
        where = f"$.assays.{name}"
        assay = current.assays.get(name)
        if assay is None:
            defaults = VON_FREY_DEFAULTS if name == Assay.VON_FREY else HOT_PLATE_DEFAULTS
            assay = StudyAssay(study=writer.study, assay=name, **{**defaults, **settings})
            writer.create("assay", assay, lambda a: {"assay": a.assay, **_assay_json(a)}, where)
        else:
            writer.update("assay", assay, settings, _assay_json, where)


def _apply_schedules(writer, current: _Current, spec: _Spec, groups, agents) -> None:
    if spec.schedules is None:
        return
    for i, item, schedule in current.matched_schedules(spec)[0]:
        where = f"$.dosing[{i}]"
        values = {**item, "group": groups[item["group"]], "agent": agents[item["agent"]]}
        if schedule is None:
            schedule = DosingSchedule(study=writer.study, **values)
            writer.create("schedule", schedule, _schedule_json, where)
        else:
            # A file that leaves out the vehicle or the stock concentration keeps them.
            writer.update("schedule", schedule, values, _schedule_json, where)


def _apply_timepoints(writer: _Writer, current: _Current, spec: _Spec) -> None:
    for i, item in enumerate(spec.timepoints or []):
        where = f"$.timepoints[{i}]"
        timepoint = current.timepoints.get(item["day"])
        if timepoint is None:
            writer.create(
                "timepoint", Timepoint(study=writer.study, **item), _timepoint_json, where
            )
        else:
            writer.update("timepoint", timepoint, item, _timepoint_json, where)


def _apply_comparisons(writer: _Writer, current: _Current, spec: _Spec, groups) -> None:
    for i, item in enumerate(spec.comparisons or []):
        where = f"$.comparisons[{i}]"
        values = {
            **item,
            "reference": groups[item["reference"]],
            "group": groups[item["group"]],
        }
        comparison = current.comparisons.get((item["reference"], item["group"]))
        if comparison is None:
            comparison = Comparison(study=writer.study, **values)
            writer.create("comparison", comparison, _comparison_json, where)
        else:
            writer.update(
                "comparison",
                comparison,
                values,
                lambda c: {**_comparison_json(c), "order": c.order},
                where,
            )


def _apply_animals(writer: _Writer, current: _Current, spec: _Spec, groups) -> None:
    for i, item in enumerate(spec.animals or []):
        where = f"$.animals[{i}]"
        values = dict(item)
        if "group" in values:
            values["group"] = groups[values["group"]] if values["group"] else None
        animal = current.animals.get(item["code"])
        if animal is None:
            animal = Animal(study=writer.study, **values)
            writer.create("animal", animal, _animal_json, where)
        else:
            writer.update("animal", animal, values, _animal_json, where)
