"""Reads of the audit trail: a study's change history and the full history of one reading.

The audit trail (``ChangeRecord``) is written by the services; these selectors shape it for the
history pages. A record's ``old`` and ``new`` are shown side by side, one line per field.

An import records the readings it creates in a session as one ``import`` record of the session
(a table of them by columns, see ``behavior.services._CreatedReadings``): the study's history
shows it as the number of readings created, and a reading's history shows the reading's own
part of it (:func:`imported_reading`) as the reading's creation.

Blinding: a record that names a group (a group, schedule, comparison or allocation record, or a
``group``/``agent`` field of any other) reveals the allocation, so for a viewer who may not see
it such records are left out and such fields are dropped (``sees_allocation=False``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import Q, QuerySet

from behavior.models import Discrepancy, Entry, Reading
from studies.models import ChangeRecord, Study

PAGE_SIZE = 100

# Entities whose every record names a group, its treatment or the allocation.
ALLOCATION_ENTITIES = frozenset({"group", "schedule", "comparison", "design", "allocation"})
# Fields that name a group or what a group receives, in records of other entities.
ALLOCATION_FIELDS = frozenset({"group", "agent", "allocation", "reference", "product", "dose"})


def _shown(value: Any) -> Any:
    """A value as the history shows it: a mapping, such as the values of an import's reading
    by experimenter, as ``tech1: 10.2, tech2: 10.2``; anything else as it is."""
    if isinstance(value, dict):
        return ", ".join(f"{key}: {_shown(item)}" for key, item in value.items())
    return value


@dataclass(frozen=True)
class FieldChange:
    """One field of a change: its name and its value before and after (None when absent)."""

    name: str
    old: Any
    new: Any

    @property
    def old_shown(self) -> Any:
        return _shown(self.old)

    @property
    def new_shown(self) -> Any:
        return _shown(self.new)


# The entity of the record an import writes for the readings it creates in a session.
IMPORT_ENTITY = "import"


@dataclass
class HistoryItem:
    """One audit record with its fields laid out as old → new lines; ``entity`` is what it
    is shown as changing (the record's entity, or ``reading`` for a reading's part of an
    import's record)."""

    record: ChangeRecord
    fields: list[FieldChange] = field(default_factory=list)
    entity: str = ""

    def __post_init__(self):
        self.entity = self.entity or self.record.entity


def imported_reading(new: Any, reading_id: int) -> dict | None:
    """The part of an ``import`` record's ``new`` about one reading it created, as a record of
    the reading alone would hold it: ``{"state", "value", "behavior", "entries":
    {experimenter: value}}``, plus ``"behaviors": {experimenter: behaviour}`` when an entry
    has one; None when the record did not create that reading."""
    ids = new.get("readings") if isinstance(new, dict) else None
    if not isinstance(ids, list) or reading_id not in ids:
        return None
    i = ids.index(reading_id)
    entries = {name: column[i] for name, column in new["entries"].items() if column[i] is not None}
    state = {
        "state": new["state"][i],
        "value": new["value"][i],
        "behavior": new["behavior"][i],
        "entries": entries,
    }
    behaviors = {name: column[i] for name, column in new.get("behaviors", {}).items()}
    if any(behaviors.values()):
        state["behaviors"] = {name: behaviors.get(name) or "" for name in entries}
    return state


def _field_changes(record: ChangeRecord, *, sees_allocation: bool) -> list[FieldChange]:
    old = record.old if isinstance(record.old, dict) else {}
    new = record.new if isinstance(record.new, dict) else {}
    if record.entity == IMPORT_ENTITY and isinstance(new.get("readings"), list):
        # Thousands of readings: their number here, each one's part in its own history.
        return [FieldChange(name="readings", old=None, new=f"{len(new['readings'])} created")]
    names = list(dict.fromkeys([*old, *new]))
    if not sees_allocation:
        names = [name for name in names if name not in ALLOCATION_FIELDS]
    return [FieldChange(name=name, old=old.get(name), new=new.get(name)) for name in names]


def history_items(
    records: list[ChangeRecord] | Page, *, sees_allocation: bool
) -> list[HistoryItem]:
    """The records as ``HistoryItem`` rows (no queries: the records are already loaded)."""
    return [
        HistoryItem(record=record, fields=_field_changes(record, sees_allocation=sees_allocation))
        for record in records
        if sees_allocation or record.entity not in ALLOCATION_ENTITIES
    ]


def study_history_queryset(
    *,
    study: Study,
    entity: str = "",
    object_id: int | None = None,
    session_id: int | None = None,
    sees_allocation: bool = True,
) -> QuerySet[ChangeRecord]:
    """The study's audit records, newest first, with who made them; optionally only one
    entity (``"entry"``, ``"dose"``, ...), one object of it, or what happened in one
    measurement session (the session, its readings, their entries and discrepancies)."""
    records = ChangeRecord.objects.filter(study=study).select_related("user")
    if entity:
        records = records.filter(entity=entity)
    if object_id is not None:
        records = records.filter(object_id=object_id)
    if session_id is not None:
        # Subqueries, so that a session of 1,000 values is still one query.
        records = records.filter(
            Q(entity__in=["session", IMPORT_ENTITY], object_id=session_id)
            | Q(
                entity="reading",
                object_id__in=Reading.objects.filter(session_id=session_id).values("pk"),
            )
            | Q(
                entity="entry",
                object_id__in=Entry.objects.filter(reading__session_id=session_id).values("pk"),
            )
            | Q(
                entity="discrepancy",
                object_id__in=Discrepancy.objects.filter(reading__session_id=session_id).values(
                    "pk"
                ),
            )
        )
    if not sees_allocation:
        records = records.exclude(entity__in=ALLOCATION_ENTITIES)
    return records.order_by("-at", "-id")


def study_history_page(
    *,
    study: Study,
    entity: str = "",
    object_id: int | None = None,
    session_id: int | None = None,
    page: int | str = 1,
    sees_allocation: bool = True,
) -> tuple[Page, list[HistoryItem]]:
    """One page of ``PAGE_SIZE`` audit records of the study, and the records as history rows.

    Two queries: the count for the paginator, and the page's records with their users.
    """
    paginator = Paginator(
        study_history_queryset(
            study=study,
            entity=entity,
            object_id=object_id,
            session_id=session_id,
            sees_allocation=sees_allocation,
        ),
        PAGE_SIZE,
    )
    current = paginator.get_page(page)
    return current, history_items(list(current.object_list), sees_allocation=sees_allocation)


def history_entities(*, study: Study) -> list[str]:
    """The kinds of object the study's audit trail names, for the filter (one query)."""
    return sorted(
        ChangeRecord.objects.filter(study=study)
        .order_by()
        .values_list("entity", flat=True)
        .distinct()
    )


@dataclass
class ReadingHistory:
    """Everything that happened to one value slot: its entries, discrepancies and records."""

    reading: Reading
    entries: list[Entry]
    discrepancies: list[Discrepancy]
    items: list[HistoryItem]


def reading_get(*, study: Study, pk: int) -> Reading | None:
    """The study's reading ``pk`` with its session, timepoint, animal and group (one query)."""
    return (
        Reading.objects.filter(session__study=study, pk=pk)
        .select_related("session__timepoint", "animal__group")
        .first()
    )


def reading_history(*, reading: Reading, sees_allocation: bool) -> ReadingHistory:
    """The full history of ``reading``: every experimenter's entry, every discrepancy with its
    resolution, and every audit record of the reading, its entries and its discrepancies,
    oldest first (who, when, old → new, why, through what). A reading created by an import is
    created in its session's ``import`` record, which holds its entries' values: that part of
    the record is shown as the reading's ``create`` (an earlier import's record per reading,
    as it was written, is shown as it is).

    Three queries: the entries, the discrepancies with who resolved them, and the records with
    their users (the session's import records among them, with every reading they created).
    """
    entries = list(
        Entry.objects.filter(reading=reading).select_related("entered_by").order_by("entered_at")
    )
    discrepancies = list(
        Discrepancy.objects.filter(reading=reading)
        .select_related("resolved_by")
        .order_by("opened_at", "pk")
    )
    records = list(
        ChangeRecord.objects.filter(study_id=reading.session.study_id)
        .filter(
            Q(entity="reading", object_id=reading.pk)
            | Q(entity=IMPORT_ENTITY, object_id=reading.session_id)
            | Q(entity="entry", object_id__in=[e.pk for e in entries])
            | Q(entity="discrepancy", object_id__in=[d.pk for d in discrepancies])
        )
        .select_related("user")
        .order_by("at", "id")
    )
    items = []
    for record in records:
        if record.entity != IMPORT_ENTITY:
            items.extend(history_items([record], sees_allocation=sees_allocation))
            continue
        state = imported_reading(record.new, reading.pk)
        if state is not None:  # else another import into the session, of other readings
            fields = [
                FieldChange(name=name, old=None, new=value)
                for name, value in state.items()
                if sees_allocation or name not in ALLOCATION_FIELDS
            ]
            items.append(HistoryItem(record=record, fields=fields, entity="reading"))
    return ReadingHistory(
        reading=reading, entries=entries, discrepancies=discrepancies, items=items
    )
