"""Writes for behavioural measurements: sessions, entries, double entry, discrepancies, imports.

Rules these services apply, stated once:

- **Agreement.** Two entries of one reading agree when their values differ by no more than
  :data:`AGREEMENT_TOLERANCE` (half the resolution the instrument displays: 0.05 g for von Frey,
  whose anesthesiometer shows 0.1 g, and 0.005 s for the hot-plate stopwatch's 0.01 s); on the hot
  plate under double entry the behaviours must be the same too. The value that counts is the mean
  of the two (identical values count as typed).
- **Double entry.** The reading is recomputed after every entry: one entry leaves it
  ``unverified`` (no counted value), two that agree verify it, two that disagree make it
  ``disputed`` and open a :class:`~behavior.models.Discrepancy`. Without double entry the single
  entry verifies the reading.
- **Third experimenter.** A reading takes at most two experimenters under double entry and one
  without; any further experimenter is refused. A disagreement is settled by resolving the
  discrepancy (or by one of the two correcting their own entry), never by a third vote.
- **Edits.** Saving the same value again changes nothing. A different value is an edit kept in
  the audit trail; while the reading does not count yet the reason defaults to "corrected during
  entry", once it is verified or resolved an explicit reason is required. An edit recomputes the
  reading: a verified or resolved reading can become disputed again (and a new discrepancy
  opens); a disputed one whose entries now agree is verified and its discrepancy closed.
- **Animals.** An excluded or dead animal gets no readings measured on or after its status
  date; readings from sessions dated before it (late data entry) are still accepted.
- **Locks.** Nothing changes in a locked study or a locked session.
- **Audit.** Every entry created or edited, every change of a reading's counted value, every
  discrepancy opened or resolved and every session opened writes a
  :class:`studies.models.ChangeRecord`; imports write them in bulk beside their rows, and the
  readings an import creates in a session get one record (entity ``import``, the session's id)
  that holds each reading's entries (who typed what), in place of one record per reading or
  per entry. Nothing is deleted.
- **Summaries.** Every write of readings refreshes the per-footpad summaries of the animals it
  touched, in the same transaction (:mod:`behavior.summaries`).
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connections, transaction
from django.db.models import F, Sum
from django.utils import timezone

from behavior import selectors
from behavior.foreign_keys import checked_once_per_key
from behavior.models import (
    BEHAVIOUR_VALUES,
    Discrepancy,
    Entry,
    EntryTally,
    FootpadSummary,
    MeasurementSession,
    Reading,
)
from behavior.readings_io import ReadingsTable, cycle_collection_paused
from behavior.summaries import summaries_rebuild, summaries_refresh, summaries_refresh_saved
from studies.access import RECORD, RESOLVE, can, role_in_study
from studies.errors import ConflictError, ImportProblems, StudyLocked
from studies.models import Animal, Assay, ChangeRecord, Study, StudyAssay, Timepoint

# Half the instrument's display resolution: entries typed from the same read-out agree.
AGREEMENT_TOLERANCE: dict[str, float] = {Assay.VON_FREY: 0.05, Assay.HOT_PLATE: 0.005}
# Float subtraction of two one-decimal values can exceed 0.05 by a rounding error (15.15 - 15.1).
_FLOAT_SLACK = 1e-9

DEFAULT_EDIT_REASON = "corrected during entry"
# The "why" of every audit record an import writes.
IMPORT_REASON = "readings import"
COUNTED_STATES = (Reading.State.VERIFIED, Reading.State.RESOLVED)
EXPERIMENTER_MAX_LENGTH = Entry._meta.get_field("experimenter").max_length
REASON_MAX_LENGTH = ChangeRecord._meta.get_field("reason").max_length
NOTE_MAX_LENGTH = Discrepancy._meta.get_field("note").max_length

VALUE_LABEL = {Assay.VON_FREY: "Force", Assay.HOT_PLATE: "Latency"}
FIELD_LABEL = {
    "animal": "Animal",
    "day": "Day",
    "assay": "Assay",
    "footpad": "Footpad",
    "application": "Application",
    "experimenter": "Experimenter",
    "behavior": "Behaviour",
    "reason": "Reason",
    "note": "Note",
}
# Sets, not the enums' ``values`` lists, which are rebuilt on every access (64,000 rows).
ASSAYS = frozenset(Assay.values)
BEHAVIOURS = frozenset(BEHAVIOUR_VALUES)
IMPORT_COLUMNS = ("animal", "day", "assay", "footpad", "application", "value", "experimenter")


class SessionLocked(StudyLocked):
    """The measurement session is locked: its readings may no longer change."""

    def __init__(self, session: MeasurementSession):
        Exception.__init__(
            self,
            f"The {session.assay} session of day {session.timepoint.day} is locked: "
            "it is read-only.",
        )


@dataclass(frozen=True)
class EntryResult:
    entry: Entry
    reading: Reading
    created: bool
    changed: bool


@dataclass
class ImportSummary:
    """What an import did, and what the study holds after it.

    ``values``, ``already_there``, ``sessions_opened`` and ``readings_created`` count this
    import; ``study_values``, ``verified_sets`` and ``open_discrepancies`` are the study's
    totals afterwards. A *set* is what the statistics use as one unit: a von Frey footpad in a
    session, or an animal's hot-plate trials in a session; it is verified when every reading in
    it counts (verified or resolved).
    """

    values: int = 0
    already_there: int = 0
    sessions_opened: int = 0
    readings_created: int = 0
    study_values: int = 0
    verified_sets: int = 0
    open_discrepancies: int = 0


# --- rules shared by single saves and imports -------------------------------------------------


@dataclass(frozen=True)
class AssayRules:
    """The limits of one assay in one study, read once from its :class:`StudyAssay`."""

    assay: str
    applications: int
    footpads: tuple[str, ...]
    max_value: float
    double_entry: bool
    temperature_c: float | None

    @classmethod
    def of(cls, study_assay: StudyAssay) -> AssayRules:
        footpads = tuple(study_assay.footpads or ("left", "right"))
        if study_assay.assay == Assay.HOT_PLATE:
            footpads = ("",)
        return cls(
            assay=study_assay.assay,
            applications=study_assay.applications,
            footpads=footpads,
            max_value=study_assay.max_value,
            double_entry=study_assay.double_entry,
            temperature_c=study_assay.temperature_c,
        )

    @property
    def unit(self) -> str:
        return "g" if self.assay == Assay.VON_FREY else "s"

    @property
    def max_experimenters(self) -> int:
        return 2 if self.double_entry else 1


def _clean_text(raw) -> str:
    if type(raw) is str:  # the usual case, first: an import calls this for every cell
        return raw.strip()
    if raw is None:
        return ""
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)  # a spreadsheet cell holding the code 7 arrives as 7.0
    return str(raw).strip()


def parse_value(raw, rules: AssayRules) -> tuple[float | None, str | None]:
    """The value as a float, or None and the reason it is refused (a phrase after the field)."""
    if isinstance(raw, bool):
        return None, "must be a number"
    if isinstance(raw, int | float):
        number = float(raw)
    else:
        text = _clean_text(raw)
        if text == "":
            return None, "is missing"
        try:
            number = float(text)
        except ValueError:
            return None, f"must be a number, not {text[:40]!r}"
    if not math.isfinite(number):
        return None, "must be a finite number"
    if number <= 0:
        return None, f"must be greater than 0 {rules.unit}"
    if number > rules.max_value:
        if rules.assay == Assay.HOT_PLATE:
            return None, f"must be at most the {rules.max_value:g} s cut-off"
        return None, f"must be at most {rules.max_value:g} g"
    return number, None


def parse_footpad(raw, rules: AssayRules) -> tuple[str | None, str | None]:
    text = _clean_text(raw).lower()
    if rules.assay == Assay.HOT_PLATE:
        return ("", None) if text == "" else (None, "must be empty for the hot plate")
    if text in rules.footpads:
        return text, None
    allowed = " or ".join(rules.footpads)
    if text in ("left", "right"):
        return None, f"must be {allowed}: the study measures only that footpad"
    return None, f"must be {allowed}"


def parse_application(raw, rules: AssayRules) -> tuple[int | None, str | None]:
    reason = f"must be a whole number from 1 to {rules.applications}"
    if isinstance(raw, bool):
        return None, reason
    if isinstance(raw, float):
        number = int(raw) if raw.is_integer() else None
    elif isinstance(raw, int):
        number = raw
    else:
        text = _clean_text(raw)
        try:
            number = int(text)
        except ValueError:
            try:
                as_float = float(text)
            except ValueError:
                as_float = math.nan
            number = int(as_float) if as_float.is_integer() else None
    if number is None or not 1 <= number <= rules.applications:
        return None, reason
    return number, None


def parse_behavior(raw, rules: AssayRules, value: float | None) -> tuple[str | None, str | None]:
    text = _clean_text(raw).lower()
    if rules.assay == Assay.VON_FREY:
        return ("", None) if text == "" else (None, "must be empty for von Frey")
    if text not in BEHAVIOURS:
        return None, "must be lick, flutter, raise, jump or empty"
    if text and value is not None and value >= rules.max_value:
        # The animal did not react before the cut-off: the value is censored, not a behaviour.
        return None, f"must be empty at the {rules.max_value:g} s cut-off"
    return text, None


def parse_experimenter(raw) -> tuple[str | None, str | None]:
    text = _clean_text(raw)
    if text == "":
        return None, "is missing"
    if len(text) > EXPERIMENTER_MAX_LENGTH:
        return None, f"must be at most {EXPERIMENTER_MAX_LENGTH} characters"
    return text, None


def animal_refusal(animal: Animal, on: dt.date | None) -> str | None:
    """Why no reading may be entered for the animal in a session on ``on``, or None."""
    if animal.status == Animal.Status.ACTIVE:
        return None
    if on is not None and animal.status_date is not None and on < animal.status_date:
        return None
    since = f" on {animal.status_date.isoformat()}" if animal.status_date else ""
    why = f" ({animal.status_reason})" if animal.status_reason else ""
    return f"{animal.code} was {animal.get_status_display().lower()}{since}{why}"


def entries_agree(first: tuple[float, str], second: tuple[float, str], rules: AssayRules) -> bool:
    """Whether two (value, behaviour) entries agree under the study's agreement rule."""
    close = abs(first[0] - second[0]) <= AGREEMENT_TOLERANCE[rules.assay] + _FLOAT_SLACK
    return close and first[1] == second[1]


def reconcile(entries: list[tuple[float, str]], rules: AssayRules) -> tuple[str, float | None, str]:
    """The reading's (state, counted value, behaviour) from its entries' (value, behaviour)."""
    if not entries:
        return Reading.State.UNVERIFIED, None, ""
    if not rules.double_entry:
        value, behavior = entries[0]
        return Reading.State.VERIFIED, value, behavior
    if len(entries) < 2:
        return Reading.State.UNVERIFIED, None, ""
    first, second = entries[0], entries[1]
    if entries_agree(first, second, rules):
        return Reading.State.VERIFIED, (first[0] + second[0]) / 2, first[1]
    return Reading.State.DISPUTED, None, ""


def planned_date(study: Study, day: int) -> dt.date | None:
    return study.day0 + dt.timedelta(days=day) if study.day0 else None


def _require(*, user, study: Study, action: str) -> None:
    """Refuse a user without the right in the study; ``None`` is a command run by the admin."""
    if user is None:
        return
    _require_role(role_in_study(user=user, study=study), study=study, action=action)


def _require_role(role: str | None, *, study: Study, action: str) -> None:
    if not can(role, action):
        raise PermissionDenied(
            f"Your role in study {study.slug} ({role or 'none'}) does not allow this."
        )


def _user_or_none(user):
    return user if user is not None and user.is_authenticated else None


def _message(field_name: str, phrase: str, rules: AssayRules | None = None) -> str:
    label = VALUE_LABEL[rules.assay] if field_name == "value" and rules else None
    label = label or FIELD_LABEL.get(field_name, field_name.capitalize())
    return f"{label} {phrase}."


# --- sessions ----------------------------------------------------------------------------------


@transaction.atomic
def session_open(
    *,
    study: Study,
    timepoint: Timepoint,
    assay: str,
    user,
    date: dt.date | None = None,
    instrument: str = "",
    temperature_c: float | None = None,
) -> MeasurementSession:
    """The study's session for ``assay`` at ``timepoint``, opened if it does not exist yet.

    The date defaults to the timepoint's planned date (day 0 + day) or, without a day 0, to
    today; the hot plate's temperature defaults to the study's setting. Given values replace
    those of an existing session (kept in the audit trail). Refuses an assay the study does not
    measure and a timepoint of another study.
    """
    study = Study.objects.get(pk=study.pk)
    if study.is_locked:
        raise StudyLocked(study.slug)
    _require(user=user, study=study, action=RECORD)
    if timepoint.study_id != study.pk:
        raise ValidationError({"timepoint": [f"Timepoint {timepoint} is not in this study."]})
    if assay not in ASSAYS:
        raise ValidationError({"assay": ["Assay must be von_frey or hot_plate."]})
    study_assay = StudyAssay.objects.filter(study=study, assay=assay).first()
    if study_assay is None:
        raise ValidationError({"assay": [f"This study does not measure {assay}."]})
    if temperature_c is not None and not math.isfinite(float(temperature_c)):
        raise ValidationError({"temperature_c": ["Temperature must be a finite number."]})

    session = (
        MeasurementSession.objects.select_for_update()
        .select_related("timepoint")
        .filter(study=study, timepoint=timepoint, assay=assay)
        .first()
    )
    if session is None:
        session = MeasurementSession(
            study=study,
            timepoint=timepoint,
            assay=assay,
            date=date or planned_date(study, timepoint.day) or timezone.localdate(),
            instrument=instrument,
            temperature_c=temperature_c if temperature_c is not None else study_assay.temperature_c,
        )
        session.full_clean(exclude=["study", "timepoint"])
        try:
            with transaction.atomic():
                session.save()
        except IntegrityError:
            # Someone opened the same session a moment ago: use theirs.
            return MeasurementSession.objects.get(study=study, timepoint=timepoint, assay=assay)
        ChangeRecord.objects.create(
            study=study,
            entity="session",
            object_id=session.pk,
            action=ChangeRecord.Action.CREATE,
            new=_session_state(session),
            user=_user_or_none(user),
            via="page",
        )
        return session

    if session.status == MeasurementSession.Status.LOCKED:
        raise SessionLocked(session)
    old = _session_state(session)
    if date is not None:
        session.date = date
    if instrument:
        session.instrument = instrument
    if temperature_c is not None:
        session.temperature_c = temperature_c
    new = _session_state(session)
    if new != old:
        session.version += 1
        session.full_clean(exclude=["study", "timepoint"])
        session.save()
        ChangeRecord.objects.create(
            study=study,
            entity="session",
            object_id=session.pk,
            action=ChangeRecord.Action.UPDATE,
            old=old,
            new=new,
            user=_user_or_none(user),
            via="page",
        )
    return session


def _session_state(session: MeasurementSession) -> dict:
    return {
        "assay": session.assay,
        "day": session.timepoint.day,
        "date": session.date.isoformat() if session.date else None,
        "instrument": session.instrument,
        "temperature_c": session.temperature_c,
    }


# --- entries -----------------------------------------------------------------------------------


@dataclass
class _EntryContext:
    """What every entry of one session and animal needs, read once."""

    study: Study
    session: MeasurementSession
    rules: AssayRules
    animal: Animal
    user: object
    via: str


def _entry_context(*, session, animal, user, via: str) -> _EntryContext:
    """The session, its study and settings, the animal and the user's role, read again in the
    save's transaction (one query), and checked: refuses a locked study or session, a user
    without the right to record, an assay the study no longer measures, an animal of another
    study or one excluded or dead before the session."""
    target = selectors.entry_target_get(session_id=session.pk, animal_id=animal.pk, user=user)
    session, study = target.session, target.session.study
    if study.is_locked:
        raise StudyLocked(study.slug)
    if session.status == MeasurementSession.Status.LOCKED:
        raise SessionLocked(session)  # reads the timepoint, for its day
    if user is not None:
        _require_role(target.role, study=study, action=RECORD)
    if target.study_assay is None:
        raise ValidationError({"assay": [f"This study does not measure {session.assay}."]})
    animal = target.animal
    if animal is None:
        raise ValidationError({"animal": ["Animal is not in this study."]})
    refusal = animal_refusal(animal, session.date or timezone.localdate())
    if refusal:
        raise ValidationError({"animal": [f"Animal {refusal}: no readings can be entered."]})
    return _EntryContext(
        study=study,
        session=session,
        rules=AssayRules.of(target.study_assay),
        animal=animal,
        user=user,
        via=via,
    )


def _validated_entry(ctx: _EntryContext, *, footpad, application, value, experimenter, behavior):
    """The typed fields as clean values, or a ValidationError naming every bad field."""
    rules = ctx.rules
    errors: dict[str, list[str]] = {}
    clean_value, problem = parse_value(value, rules)
    if problem:
        errors["value"] = [_message("value", problem, rules)]
    clean_footpad, problem = parse_footpad(footpad, rules)
    if problem:
        errors["footpad"] = [_message("footpad", problem)]
    clean_application, problem = parse_application(application, rules)
    if problem:
        errors["application"] = [_message("application", problem)]
    clean_behavior, problem = parse_behavior(behavior, rules, clean_value)
    if problem:
        errors["behavior"] = [_message("behavior", problem)]
    clean_experimenter, problem = parse_experimenter(experimenter)
    if problem:
        errors["experimenter"] = [_message("experimenter", problem)]
    if errors:
        raise ValidationError(errors)
    return clean_footpad, clean_application, clean_value, clean_experimenter, clean_behavior


# An entry's constraints are checked by the parse_* functions above, which name the field and
# the reason, and enforced again by the database; ``full_clean`` checking them once more would
# cost a query each (four, each in a savepoint) on every value typed at the bench.
_FIELDS_ONLY = {"validate_unique": False, "validate_constraints": False}


def _entry_new_state(entry: Entry) -> dict:
    return {"experimenter": entry.experimenter, "value": entry.value, "behavior": entry.behavior}


@dataclass(frozen=True)
class _Item:
    """One value of an entry save, its fields checked."""

    index: int
    footpad: str
    application: int
    value: float
    behavior: str
    reason: str
    expected_version: int | None


@dataclass
class _SlotWork:
    """One reading under an entry save: its entries in the order ``reconcile`` reads them, and
    whether the save inserts it or changes it."""

    reading: Reading
    entries: list[Entry]
    created: bool
    changed: bool = False
    open_discrepancy: Discrepancy | None = None


@dataclass
class _EntryWrites:
    """The rows an entry save writes, collected while its items are checked in order and then
    written a statement per table. A change record's row gets its id when it is written."""

    new_entries: list[Entry] = field(default_factory=list)
    edited_entries: list[Entry] = field(default_factory=list)
    new_discrepancies: list[Discrepancy] = field(default_factory=list)
    closed_discrepancies: list[Discrepancy] = field(default_factory=list)
    changes: list[tuple] = field(default_factory=list)  # (entity, row, action, old, new, reason)


def _item_checked(ctx: _EntryContext, item: dict, index: int, experimenter: str) -> _Item:
    """The item's fields as clean values, or a ValidationError naming every bad field."""
    footpad, application, value, _, behavior = _validated_entry(
        ctx,
        footpad=item.get("footpad", ""),
        application=item.get("application"),
        value=item.get("value"),
        experimenter=experimenter,
        behavior=item.get("behavior", ""),
    )
    reason = (item.get("reason") or "").strip()
    if len(reason) > REASON_MAX_LENGTH:
        raise ValidationError(
            {"reason": [_message("reason", f"must be at most {REASON_MAX_LENGTH} characters")]}
        )
    return _Item(index, footpad, application, value, behavior, reason, item.get("expected_version"))


def _entries_save(
    ctx: _EntryContext, items: list[dict], *, experimenter: str, error_key
) -> list[EntryResult]:
    """Check and save one experimenter's ``items``, all or none, as if one by one in order.

    Every refused item is named in one ``ValidationError`` (``error_key(index, field)``), the
    first stale ``expected_version`` raises ``ConflictError``, and nothing is written. The
    queries do not grow with the number of items: the readings of their slots are locked and
    read in one query, their entries in one more, and each table is written with one
    statement. Items that repeat a slot are saved in a later round, after the earlier ones.
    """
    errors: dict[str, list[str]] = {}
    rounds: list[list[_Item]] = [[]]
    in_round: set[tuple[str, int]] = set()
    for index, item in enumerate(items):
        try:
            checked = _item_checked(ctx, item, index, experimenter)
        except ValidationError as exc:
            for name, messages in exc.message_dict.items():
                errors[error_key(index, name)] = messages
            continue
        slot = (checked.footpad, checked.application)
        if slot in in_round:
            rounds.append([])
            in_round.clear()
        rounds[-1].append(checked)
        in_round.add(slot)

    experimenter = parse_experimenter(experimenter)[0]  # None when every item was refused
    results: dict[int, EntryResult] = {}
    footpads_written: set[str] = set()
    entries_inserted = False
    for number, round_items in enumerate(rounds, start=1):
        slots = _slots_locked(ctx, round_items)
        writes = _EntryWrites()
        for item in round_items:
            try:
                results[item.index] = _entry_apply(
                    ctx, slots[(item.footpad, item.application)], item, experimenter, writes
                )
            except ValidationError as exc:
                for name, messages in exc.message_dict.items():
                    errors[error_key(item.index, name)] = messages
            except ConflictError as exc:
                exc.field = error_key(item.index, "expected_version")
                raise
        # A later round must see what this one saved, even if something was refused already.
        if not errors or number < len(rounds):
            footpads_written |= _entry_writes_save(ctx, slots.values(), writes)
            entries_inserted |= bool(writes.new_entries)
    if errors:
        raise ValidationError(errors)
    # The summaries are made of the readings only: an edit that leaves its reading as it was
    # changes none; the tally counts entries, which only an inserted one changes.
    summaries_refresh_saved(
        session_id=ctx.session.pk,
        animal_id=ctx.animal.pk,
        footpads=footpads_written,
        experimenter=experimenter if entries_inserted else None,
    )
    return [results[index] for index in sorted(results)]


def _slots_locked(ctx: _EntryContext, items: list[_Item]) -> dict[tuple[str, int], _SlotWork]:
    """The readings of the items' slots, locked, with their entries; an unsaved reading for a
    slot without one (inserted with the entries, if an item is accepted).

    The reading row is the lock that serialises two experimenters saving the same slot: on
    PostgreSQL ``SELECT ... FOR UPDATE`` (in id order, and missing readings are inserted in slot
    order, so that two saves never wait for each other crosswise); on SQLite the transaction
    holds the database's write lock from its start. Two saves creating the same reading at
    once: the second insert fails on the unique slot, and ``_saved`` runs that save again,
    which then finds the reading.
    """
    wanted = {(item.footpad, item.application) for item in items}
    if not wanted:
        return {}
    applications: dict[str, list[int]] = defaultdict(list)
    for footpad, application in sorted(wanted):
        applications[footpad].append(application)
    # Both statements written here (RawQuerySet still converts each column as the model's
    # field does): built by the ORM, the two cost Django 3 to 4 ms on every value saved, more
    # than the database takes to answer them.
    connection = connections[DEFAULT_DB_ALIAS]
    quote = connection.ops.quote_name
    slots_sql = " OR ".join(
        f"(footpad = %s AND application IN ({', '.join(['%s'] * len(numbers))}))"
        for numbers in applications.values()
    )
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    stored = {
        (reading.footpad, reading.application): reading
        for reading in Reading.objects.raw(
            f"SELECT * FROM {quote(Reading._meta.db_table)} "
            f"WHERE session_id = %s AND animal_id = %s AND ({slots_sql}) ORDER BY id{lock}",
            [ctx.session.pk, ctx.animal.pk]
            + [value for footpad, numbers in applications.items() for value in (footpad, *numbers)],
        )
    }
    entries: dict[int, list[Entry]] = defaultdict(list)
    if stored:
        ids = [reading.pk for reading in stored.values()]
        for entry in Entry.objects.raw(
            f"SELECT * FROM {quote(Entry._meta.db_table)} "
            f"WHERE reading_id IN ({', '.join(['%s'] * len(ids))}) ORDER BY entered_at, id",
            ids,
        ):
            entries[entry.reading_id].append(entry)
    # A disputed reading has exactly one open discrepancy: the one an agreeing edit closes.
    disputed = [r.pk for r in stored.values() if r.state == Reading.State.DISPUTED]
    open_discrepancies = (
        {
            discrepancy.reading_id: discrepancy
            for discrepancy in Discrepancy.objects.filter(
                reading_id__in=disputed, status=Discrepancy.Status.OPEN
            )
        }
        if disputed
        else {}
    )
    slots = {}
    for footpad, application in sorted(wanted):
        reading = stored.get((footpad, application))
        if reading is None:
            new = Reading(
                session=ctx.session,
                animal=ctx.animal,
                assay=ctx.session.assay,
                footpad=footpad,
                application=application,
            )
            slots[(footpad, application)] = _SlotWork(reading=new, entries=[], created=True)
        else:
            slots[(footpad, application)] = _SlotWork(
                reading=reading,
                entries=entries[reading.pk],
                created=False,
                open_discrepancy=open_discrepancies.get(reading.pk),
            )
    return slots


def _entry_apply(
    ctx: _EntryContext, slot: _SlotWork, item: _Item, experimenter: str, writes: _EntryWrites
) -> EntryResult:
    """Apply one item to its slot in memory, by the module's rules; raises what refuses it."""
    reading, entries = slot.reading, slot.entries
    mine = next((e for e in entries if e.experimenter == experimenter), None)
    if mine is None:
        if item.expected_version:
            raise ConflictError(
                f"The value of {experimenter} was expected to exist (version "
                f"{item.expected_version}) but is not there: reload before saving."
            )
        if len(entries) >= ctx.rules.max_experimenters:
            names = " and ".join(e.experimenter for e in entries)
            if ctx.rules.double_entry:
                phrase = (
                    f"cannot add a third value: {names} already entered this one; "
                    "a disagreement is settled by resolving the discrepancy"
                )
            else:
                phrase = f"cannot add a second value: {ctx.session.assay} is single entry "
                phrase += f"in this study and {names} already entered this one"
            raise ValidationError({"experimenter": [_message("experimenter", phrase)]})
        entry = Entry(
            reading=reading,
            experimenter=experimenter,
            value=item.value,
            behavior=item.behavior,
            max_value=ctx.rules.max_value,
            entered_by=_user_or_none(ctx.user),
        )
        entry.full_clean(exclude=["reading", "entered_by"], **_FIELDS_ONLY)
        entries.append(entry)
        writes.new_entries.append(entry)
        writes.changes.append(
            ("entry", entry, ChangeRecord.Action.CREATE, None, _entry_new_state(entry), "")
        )
        _reading_recompute(ctx, slot, writes, experimenter=experimenter, reason="")
        return EntryResult(entry=entry, reading=reading, created=True, changed=False)

    if mine.value == item.value and mine.behavior == item.behavior:
        return EntryResult(entry=mine, reading=reading, created=False, changed=False)
    if item.expected_version is not None and item.expected_version != mine.version:
        raise ConflictError(
            f"The value of {experimenter} changed since it was read (now {mine.value:g}): "
            "reload before saving."
        )
    if reading.state in COUNTED_STATES and not item.reason:
        raise ValidationError({"reason": ["Reason is required: this value is already verified."]})
    reason = item.reason or DEFAULT_EDIT_REASON
    old = _entry_new_state(mine)
    mine.value = item.value
    mine.behavior = item.behavior
    mine.max_value = ctx.rules.max_value
    mine.version += 1
    mine.full_clean(exclude=["reading", "entered_by"], **_FIELDS_ONLY)
    writes.edited_entries.append(mine)
    writes.changes.append(
        ("entry", mine, ChangeRecord.Action.UPDATE, old, _entry_new_state(mine), reason)
    )
    _reading_recompute(ctx, slot, writes, experimenter=experimenter, reason=reason)
    return EntryResult(entry=mine, reading=reading, created=False, changed=True)


def _reading_recompute(
    ctx: _EntryContext, slot: _SlotWork, writes: _EntryWrites, *, experimenter: str, reason: str
) -> None:
    """Apply the double-entry rule after an entry changed, opening or closing a discrepancy."""
    reading, entries = slot.reading, slot.entries
    state, value, behavior = reconcile([(e.value, e.behavior) for e in entries], ctx.rules)
    old = {"state": reading.state, "value": reading.value, "behavior": reading.behavior}
    if (state, value, behavior) != (reading.state, reading.value, reading.behavior):
        reading.state, reading.value, reading.behavior = state, value, behavior
        reading.version += 1
        slot.changed = True
        if old["value"] != value:
            new = {"state": state, "value": value, "behavior": behavior}
            writes.changes.append(
                ("reading", reading, ChangeRecord.Action.UPDATE, old, new, reason)
            )

    # A disputed reading has exactly one open discrepancy, so the old state tells whether one
    # must be opened or closed.
    was_disputed = old["state"] == Reading.State.DISPUTED
    if state == Reading.State.DISPUTED and not was_disputed:
        discrepancy = Discrepancy(
            reading=reading, values={e.experimenter: e.value for e in entries}
        )
        writes.new_discrepancies.append(discrepancy)
        new = {"status": discrepancy.status, "values": discrepancy.values}
        writes.changes.append(
            ("discrepancy", discrepancy, ChangeRecord.Action.CREATE, None, new, "")
        )
    elif state != Reading.State.DISPUTED and was_disputed:
        # The two entries agree again after an edit: the disagreement is settled by it.
        discrepancy = slot.open_discrepancy
        discrepancy.status = Discrepancy.Status.RESOLVED
        discrepancy.resolved_value = value
        discrepancy.resolved_behavior = behavior
        discrepancy.reason = Discrepancy.Reason.OTHER
        note = f"The entries agree after {experimenter} changed theirs ({reason})."
        discrepancy.note = note[:NOTE_MAX_LENGTH]
        discrepancy.resolved_by = _user_or_none(ctx.user)
        discrepancy.resolved_at = timezone.now()
        writes.closed_discrepancies.append(discrepancy)
        writes.changes.append(
            (
                "discrepancy",
                discrepancy,
                ChangeRecord.Action.UPDATE,
                {"status": Discrepancy.Status.OPEN},
                _discrepancy_state(discrepancy),
                reason,
            )
        )


def _entry_writes_save(ctx: _EntryContext, slots, writes: _EntryWrites) -> set[str]:
    """Write what the items of one round did, a statement per table and kind of write; the
    footpads of the readings inserted or changed.

    The readings and entries inserted get their ids back, which the entries, discrepancies
    and change records written after them refer to.
    """
    now = timezone.now()
    new_readings, changed_readings = [], []
    for slot in slots:
        if slot.created and slot.entries:
            new_readings.append(slot.reading)
        elif slot.changed and not slot.created:
            slot.reading.updated_at = now
            changed_readings.append(slot.reading)
    if new_readings:
        # A round holds each slot once: the slot tells which id is whose.
        ids = {
            (footpad, application): pk
            for pk, footpad, application in _rows_insert(
                Reading,
                ["session", "animal", "assay", "footpad", "application", "value", "behavior"]
                + ["state", "version"],
                [
                    (r.session_id, r.animal_id, r.assay, r.footpad, r.application, r.value)
                    + (r.behavior, r.state, r.version)
                    for r in new_readings
                ],
                same={"updated_at": now},
                returning=["id", "footpad", "application"],
            )
        }
        for reading in new_readings:
            _inserted(reading, ids[(reading.footpad, reading.application)])
            reading.updated_at = now
    if writes.new_entries:
        # One entry of this experimenter per reading: the reading tells which id is whose.
        ids = {
            reading_id: pk
            for pk, reading_id in _rows_insert(
                Entry,
                ["reading", "experimenter", "value", "behavior", "max_value", "entered_by"]
                + ["version"],
                [
                    (e.reading.pk, e.experimenter, e.value, e.behavior, e.max_value)
                    + (e.entered_by_id, e.version)
                    for e in writes.new_entries
                ],
                same={"entered_at": now, "updated_at": now},
                returning=["id", "reading_id"],
            )
        }
        for entry in writes.new_entries:
            entry.reading_id = entry.reading.pk
            _inserted(entry, ids[entry.reading_id])
            entry.entered_at = entry.updated_at = now
    for entry in writes.edited_entries:
        entry.updated_at = now
    _rows_update(
        Entry, writes.edited_entries, ["value", "behavior", "max_value", "version", "updated_at"]
    )
    _rows_update(Reading, changed_readings, ["state", "value", "behavior", "version", "updated_at"])
    if writes.new_discrepancies:
        Discrepancy.objects.bulk_create(writes.new_discrepancies)
    _rows_update(
        Discrepancy,
        writes.closed_discrepancies,
        [
            "status",
            "resolved_value",
            "resolved_behavior",
            "reason",
            "note",
            "resolved_by",
            "resolved_at",
        ],
    )
    if writes.changes:
        user = _user_or_none(ctx.user)
        _rows_insert(
            ChangeRecord,
            ["entity", "object_id", "action", "old", "new", "reason"],
            [
                (entity, row.pk, action, _json_text(old), _json_text(new))
                + (reason[:REASON_MAX_LENGTH],)
                for entity, row, action, old, new, reason in writes.changes
            ],
            same={
                "study": ctx.study.pk,
                "user": user.pk if user else None,
                "at": now,
                "via": ctx.via,
            },
        )
    return {reading.footpad for reading in [*new_readings, *changed_readings]}


def _json_text(value) -> str | None:
    """A JSON field's value as the ORM stores it: its JSON text, or NULL for None."""
    return None if value is None else json.dumps(value)


def _inserted(row, pk: int) -> None:
    """Mark a model instance as the stored row ``pk``, as ``bulk_create`` leaves its objects."""
    row.pk = pk
    row._state.adding = False
    row._state.db = DEFAULT_DB_ALIAS


def _cast_type(field, connection) -> str:
    """The type a value of ``field`` is cast to from JSON text on PostgreSQL: the column's,
    without a length, so that an over-long text is refused by the column, not cut by the
    cast (as the ORM's own bulk insert casts)."""
    return field.db_type(connection).split("(")[0]


def _rows_insert(
    model, fields: list[str], rows: list[tuple], *, same: dict, returning: Sequence[str] = ()
) -> list[tuple]:
    """Insert ``rows``, each the values of ``fields`` as the database stores them (numbers,
    text, None; a foreign key's id; a JSON field's JSON text), with one statement; ``same``
    holds the fields every row shares (the time, the user), given once. Returns the
    ``returning`` columns of the inserted rows, in no particular order.

    ``bulk_create`` prepares every field of every object in Python, and on PostgreSQL then has
    psycopg quote each column as an array literal for its ``UNNEST``, element by element, in
    Python (the client-side binding Django uses): the audit records of one animal's 20 values,
    40 rows of 10 columns with JSON texts full of quotes to escape, took 4 to 9 ms. PostgreSQL
    gets the rows here as one JSON document, one literal to quote, which it takes apart itself
    (``jsonb_array_elements``), each value cast to its column's type: under 1 ms. SQLite, which
    binds values without quoting them, gets a multi-row ``VALUES`` (a JSON document would make
    it parse each float from text).
    """
    if not rows:
        return []
    connection = connections[DEFAULT_DB_ALIAS]
    quote = connection.ops.quote_name
    columns = [model._meta.get_field(name) for name in fields]
    shared = [model._meta.get_field(name) for name in same]
    shared_values = [
        field.get_db_prep_save(value, connection)
        for field, value in zip(shared, same.values(), strict=True)
    ]
    names = ", ".join(quote(field.column) for field in [*columns, *shared])
    table = quote(model._meta.db_table)
    back = f" RETURNING {', '.join(quote(name) for name in returning)}" if returning else ""
    out: list[tuple] = []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            values = ", ".join(
                [
                    f"(x.v ->> {index})::{_cast_type(field, connection)}"
                    for index, field in enumerate(columns)
                ]
                + ["%s"] * len(shared)
            )
            cursor.execute(
                f"INSERT INTO {table} ({names}) SELECT {values} "
                f"FROM jsonb_array_elements(%s::jsonb) AS x (v){back}",
                [*shared_values, json.dumps(rows)],
            )
            if returning:
                out.extend(cursor.fetchall())
            return out
        width = len(columns) + len(shared)
        per_statement = max(1, connection.features.max_query_params // width)
        marks = f"({', '.join(['%s'] * width)})"
        for start in range(0, len(rows), per_statement):
            chunk = rows[start : start + per_statement]
            cursor.execute(
                f"INSERT INTO {table} ({names}) VALUES {', '.join([marks] * len(chunk))}{back}",
                [value for row in chunk for value in (*row, *shared_values)],
            )
            if returning:
                out.extend(cursor.fetchall())
    return out


def _json_value(value):
    """A value for PostgreSQL's JSON document of rows: a time as ISO text, to the
    microsecond."""
    if isinstance(value, dt.datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} has no JSON form here")


def _rows_update(model, rows: list, fields: list[str]) -> None:
    """Write ``fields`` of each of ``rows`` with one statement. ``bulk_update`` would build a
    CASE per field and row: 10 ms for one animal's 20 readings. SQLite runs an ``executemany``
    of ``UPDATE ... WHERE id = %s`` in 0.1 ms; PostgreSQL would run it as 20 statements, and
    takes the rows as one JSON document instead (see :func:`_rows_insert`)."""
    if not rows:
        return
    connection = connections[DEFAULT_DB_ALIAS]
    quote = connection.ops.quote_name
    columns = [model._meta.get_field(name) for name in fields]
    table, pk = quote(model._meta.db_table), quote(model._meta.pk.column)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            assignments = ", ".join(
                f"{quote(column.column)} = (x.v ->> {index})::{_cast_type(column, connection)}"
                for index, column in enumerate(columns, start=1)
            )
            document = json.dumps(
                [[row.pk, *(getattr(row, column.attname) for column in columns)] for row in rows],
                default=_json_value,
            )
            cursor.execute(
                f"UPDATE {table} SET {assignments} "
                f"FROM jsonb_array_elements(%s::jsonb) AS x (v) "
                f"WHERE {table}.{pk} = (x.v ->> 0)::{_cast_type(model._meta.pk, connection)}",
                [document],
            )
            return
        assignments = ", ".join(f"{quote(column.column)} = %s" for column in columns)
        cursor.executemany(
            f"UPDATE {table} SET {assignments} WHERE {pk} = %s",
            [
                [
                    column.get_db_prep_save(getattr(row, column.attname), connection)
                    for column in columns
                ]
                + [row.pk]
                for row in rows
            ],
        )


def _discrepancy_state(discrepancy: Discrepancy) -> dict:
    return {
        "status": discrepancy.status,
        "value": discrepancy.resolved_value,
        "behavior": discrepancy.resolved_behavior,
        "reason": discrepancy.reason,
        "note": discrepancy.note,
    }


def _saved(save):
    """``save()`` in a transaction, run once more if it failed on a row that another save
    inserted meanwhile.

    On PostgreSQL two saves may both find a slot without a reading; the second one's insert
    waits for the first's commit and then fails on the unique slot. The second run finds the
    reading, locks it and reads the first save's entry, as if it had come a moment later.
    """
    try:
        with transaction.atomic():
            return save()
    except IntegrityError:
        with transaction.atomic():
            return save()


def entry_save(
    *,
    session: MeasurementSession,
    animal: Animal,
    footpad: str,
    application: int,
    value: float,
    experimenter: str,
    user,
    behavior: str = "",
    reason: str = "",
    expected_version: int | None = None,
    via: str = "page",
) -> EntryResult:
    """Save one experimenter's value for one slot, and reconcile the reading under it.

    Validates every field (a ``ValidationError`` names each bad one, e.g.
    ``{"value": ["Force must be at most 26 g."]}``). Saving the value already stored is a
    no-op; a different value is an edit (see the module's rules for reasons). A stale
    ``expected_version`` (the entry's version when it was read; 0 for "not entered yet") raises
    :class:`ConflictError`; a locked study or session raises :class:`StudyLocked`. Atomic.
    """
    item = {
        "footpad": footpad,
        "application": application,
        "value": value,
        "behavior": behavior,
        "reason": reason,
        "expected_version": expected_version,
    }

    def save() -> EntryResult:
        ctx = _entry_context(session=session, animal=animal, user=user, via=via)
        results = _entries_save(
            ctx, [item], experimenter=experimenter, error_key=lambda index, name: name
        )
        return results[0]

    return _saved(save)


def entries_save(
    *,
    session: MeasurementSession,
    animal: Animal,
    values: list[dict],
    experimenter: str,
    user,
    via: str = "api",
) -> list[EntryResult]:
    """Save several values of one animal (e.g. a footpad's applications) all or none.

    Each item has ``footpad``, ``application`` and ``value`` and may have ``behavior``,
    ``reason`` and ``expected_version``. The items are checked as if saved one by one in their
    order (an item may edit what an earlier one saved), under the rules of :func:`entry_save`.
    Every bad item is reported in one ``ValidationError`` keyed ``values[i].field``; then
    nothing is saved. Atomic; the number of queries does not grow with the number of items.
    """

    def save() -> list[EntryResult]:
        ctx = _entry_context(session=session, animal=animal, user=user, via=via)
        results = _entries_save(
            ctx,
            values,
            experimenter=experimenter,
            error_key=lambda index, name: f"values[{index}].{name}",
        )
        return results

    return _saved(save)


# --- discrepancies -----------------------------------------------------------------------------


@transaction.atomic
def discrepancy_resolve(
    *,
    discrepancy: Discrepancy,
    value: float,
    reason: str,
    user,
    behavior: str = "",
    note: str = "",
    via: str = "page",
) -> Discrepancy:
    """Settle an open discrepancy: the reading counts ``value`` from now on, marked resolved.

    ``reason`` is one of :class:`Discrepancy.Reason` (``other`` needs a note). The value obeys
    the same limits as an entry. The discrepancy keeps each experimenter's values, and who
    resolved it, when and why; the reading's change is in the audit trail.
    """
    discrepancy = (
        Discrepancy.objects.select_for_update()
        .select_related("reading__session__study", "reading__session__timepoint")
        .get(pk=discrepancy.pk)
    )
    reading = discrepancy.reading
    session = reading.session
    study = session.study
    if study.is_locked:
        raise StudyLocked(study.slug)
    if session.status == MeasurementSession.Status.LOCKED:
        raise SessionLocked(session)
    _require(user=user, study=study, action=RESOLVE)
    if discrepancy.status != Discrepancy.Status.OPEN:
        raise ValidationError(
            {"discrepancy": ["This discrepancy is already resolved: reload the list."]}
        )
    rules = AssayRules.of(StudyAssay.objects.get(study=study, assay=session.assay))
    errors: dict[str, list[str]] = {}
    clean_value, problem = parse_value(value, rules)
    if problem:
        errors["value"] = [_message("value", problem, rules)]
    clean_behavior, problem = parse_behavior(behavior, rules, clean_value)
    if problem:
        errors["behavior"] = [_message("behavior", problem)]
    if reason not in Discrepancy.Reason.values:
        choices = ", ".join(Discrepancy.Reason.values)
        errors["reason"] = [_message("reason", f"must be one of {choices}")]
    note = (note or "").strip()
    if reason == Discrepancy.Reason.OTHER and not note:
        errors["note"] = [_message("note", "is required when the reason is other")]
    if len(note) > NOTE_MAX_LENGTH:
        errors["note"] = [_message("note", f"must be at most {NOTE_MAX_LENGTH} characters")]
    if errors:
        raise ValidationError(errors)

    user = _user_or_none(user)
    discrepancy.status = Discrepancy.Status.RESOLVED
    discrepancy.resolved_value = clean_value
    discrepancy.resolved_behavior = clean_behavior
    discrepancy.reason = reason
    discrepancy.note = note
    discrepancy.resolved_by = user
    discrepancy.resolved_at = timezone.now()
    discrepancy.full_clean(exclude=["reading", "resolved_by"])
    discrepancy.save()

    old = {"state": reading.state, "value": reading.value, "behavior": reading.behavior}
    reading.state = Reading.State.RESOLVED
    reading.value = clean_value
    reading.behavior = clean_behavior
    reading.version += 1
    reading.save(update_fields=["state", "value", "behavior", "version", "updated_at"])
    new_reading = {"state": reading.state, "value": reading.value, "behavior": reading.behavior}
    why = discrepancy.get_reason_display() + (f": {note}" if note else "")
    ChangeRecord.objects.bulk_create(
        [
            ChangeRecord(
                study=study,
                entity="discrepancy",
                object_id=discrepancy.pk,
                action=ChangeRecord.Action.UPDATE,
                old={"status": Discrepancy.Status.OPEN, "values": discrepancy.values},
                new=_discrepancy_state(discrepancy),
                reason=why[:REASON_MAX_LENGTH],
                user=user,
                via=via,
            ),
            ChangeRecord(
                study=study,
                entity="reading",
                object_id=reading.pk,
                action=ChangeRecord.Action.UPDATE,
                old=old,
                new=new_reading,
                reason=why[:REASON_MAX_LENGTH],
                user=user,
                via=via,
            ),
        ]
    )
    summaries_refresh(session=session, animals=[reading.animal_id])
    return discrepancy


# --- imports -----------------------------------------------------------------------------------


IMPORT_KEY_TEXT = "this animal, day, assay, footpad, application and experimenter"
# What the fast check of an import row reads, in this order.
_FAST_COLUMNS = (
    "animal",
    "day",
    "assay",
    "footpad",
    "application",
    "value",
    "experimenter",
    "behavior",
    "resolved_value",
)


@cycle_collection_paused
@transaction.atomic
def readings_import(
    *, study: Study, rows: Sequence[dict], user=None, via: str = "command"
) -> ImportSummary:
    """Import readings rows (interchange.md section 2) into the study, all or none.

    Each row is a dict with the section's columns (strings or numbers) and ``_row``, its row
    number in the file (the header is row 1); a file's :class:`ReadingsTable` serves them
    (see :meth:`_RowChecker.grouped`). Every problem of every row is collected and raised
    together as :class:`ImportProblems` (``("row 7", "value: must be at most 26 g")``); then
    nothing is written. A row identical to a stored entry is skipped and counted as already
    there; the same key with another value is refused. Missing sessions are opened.

    Validation runs in Python against what a handful of queries read; rows are grouped by
    *slot*, the place of one reading: ``(timepoint id, assay, animal id, footpad,
    application)``. The few sessions and discrepancies are written with ``bulk_create``;
    readings, entries and change records, the bulk of an import, each with one
    ``executemany`` (SQLite) or ``COPY`` (PostgreSQL) of prepared rows (see
    :class:`_RowWriter`). The number of queries does not grow with the number of rows.

    Audit: a change record for the readings created in each session, every entry added to a
    stored reading, every stored reading whose counted value changes, every session opened and
    every discrepancy opened. The readings an import creates in a session are one ``create``
    record of entity ``import`` whose object is the session: each reading's id, state, counted
    value and behaviour and each experimenter's value and behaviour, a table by columns (see
    :class:`_CreatedReadings`). With the record's user, time, channel (``via``) and reason,
    that is all that a record per reading or per entry would say; a reading's history shows
    its part of the record as the reading's creation
    (``studies.selectors_history.reading_history``), the session's history shows the record.
    One record per session rather than one per reading spares an import of 32,000 readings as
    many rows, with their indexes and the foreign-key checks of their study and user at the
    commit: about a sixth of its time on PostgreSQL.
    An entry added to a reading that was already stored (the second experimenter's file) keeps
    a ``create`` record of its own, as when it is typed at the bench, and the reading's
    ``update`` record says how its counted value changed.
    """
    # A write to the study row first: on PostgreSQL it serialises imports into one study, on
    # SQLite it takes the database's write lock, so what is read below stays true until the
    # commit and the ids drawn for the inserts stay free.
    Study.objects.filter(pk=study.pk).update(version=F("version"))
    study = Study.objects.get(pk=study.pk)
    if study.is_locked:
        raise StudyLocked(study.slug)
    _require(user=user, study=study, action=RECORD)
    author = _user_or_none(user)

    rules = {sa.assay: AssayRules.of(sa) for sa in StudyAssay.objects.filter(study=study)}
    timepoints = {tp.day: tp for tp in Timepoint.objects.filter(study=study)}
    animals = {a.code: a for a in Animal.objects.filter(study=study)}
    sessions = {
        (s.timepoint_id, s.assay): s
        for s in MeasurementSession.objects.filter(study=study).select_related("timepoint")
    }
    first = not sessions  # nothing of the study is stored yet

    problems: list[tuple[int, str, str]] = []  # (row number, column, reason)
    if rows:
        header = {name for name in rows[0] if name != "_row"}
        missing = [name for name in IMPORT_COLUMNS if name not in header]
        missing = [name for name in missing if name != "footpad"]  # hot-plate-only files
        if missing:
            raise ImportProblems([("row 1", f"{name}: column missing") for name in missing])

    checker = _RowChecker(
        study=study, rules=rules, timepoints=timepoints, animals=animals, sessions=sessions
    )
    # slot -> [(experimenter, value, behaviour, row number)]; slot -> an export's resolution
    slots, resolutions = checker.grouped(rows, problems)

    # What is stored already, for the sessions these rows touch: three queries at most.
    touched = {key[:2] for key in slots}  # (timepoint id, assay) of the sessions written to
    session_ids = [sessions[key].pk for key in touched if key in sessions]
    # slot -> [id, state, value, behavior, version]
    stored_readings: dict[tuple, list] = {}
    stored_entries: dict[int, list[tuple[str, float, str]]] = defaultdict(list)
    open_disputes: set[int] = set()
    if session_ids:
        session_key = {s.pk: key for key, s in sessions.items()}
        for pk, session_id, animal_id, footpad, application, *state in Reading.objects.filter(
            session_id__in=session_ids
        ).values_list(
            "id",
            "session_id",
            "animal_id",
            "footpad",
            "application",
            "state",
            "value",
            "behavior",
            "version",
        ):
            tp_id, assay = session_key[session_id]
            stored_readings[(tp_id, assay, animal_id, footpad, application)] = [pk, *state]
        for reading_id, experimenter, value, behavior in (
            Entry.objects.filter(reading__session_id__in=session_ids)
            .order_by("entered_at", "pk")
            .values_list("reading_id", "experimenter", "value", "behavior")
        ):
            stored_entries[reading_id].append((experimenter, value, behavior))
        open_disputes = set(
            Discrepancy.objects.filter(
                reading__session_id__in=session_ids, status=Discrepancy.Status.OPEN
            ).values_list("reading_id", flat=True)
        )

    already_there = 0
    limits = {assay: r.max_experimenters for assay, r in rules.items()}
    # Only a slot of a stored reading, or with more experimenters than a reading takes, has
    # anything to check: on a first import, only those that are refused.
    to_check = (
        slots.items()
        if stored_readings
        else [(key, new) for key, new in slots.items() if len(new) > limits[key[1]]]
    )
    for key, new in to_check:
        reading = stored_readings.get(key)
        if reading is None:
            if len(new) <= limits[key[1]]:
                continue  # the usual case: a new reading, within its number of experimenters
            stored = {}
        else:
            stored = {e[0]: e for e in stored_entries[reading[0]]}
        fresh = []
        for experimenter, value, behavior, number in new:
            if experimenter in stored:
                _, old_value, old_behavior = stored[experimenter]
                if old_value == value and old_behavior == behavior:
                    already_there += 1
                else:
                    was = f"{old_value:g}" + (f" ({old_behavior})" if old_behavior else "")
                    problems.append(
                        (
                            number,
                            "value",
                            f"conflicts with the stored {was} for {IMPORT_KEY_TEXT}: "
                            "a stored value changes only through an edit with a reason",
                        )
                    )
            else:
                fresh.append((experimenter, value, behavior, number))
        limit = limits[key[1]]
        names = list(stored)
        for experimenter, _, _, number in fresh:
            if len(names) >= limit:
                who = " and ".join(names)
                extra = "a third" if limit == 2 else "a second (single entry in this study)"
                problems.append(
                    (
                        number,
                        "experimenter",
                        f"{who} already entered this value: {extra} experimenter is not accepted",
                    )
                )
            else:
                names.append(experimenter)
        new[:] = fresh

    if problems:
        problems.sort(key=lambda p: p[0])
        raise ImportProblems(
            [(f"row {n}", f"{column}: {reason}") for n, column, reason in problems]
        )

    summary = ImportSummary(already_there=already_there)
    if stored_readings:  # else every slot still has all its entries
        slots = {key: new for key, new in slots.items() if new}
        touched = {key[:2] for key in slots}
    if not slots:
        _summarise(summary, first=first, sessions=[s.pk for s in sessions.values()])
        return summary

    writer = _RowWriter()
    now = timezone.now()
    changes: list[tuple] = []
    user_id = author.pk if author else None
    # Plain text: a database driver adapts an enum member several times slower than a str.
    create, update = ChangeRecord.Action.CREATE.value, ChangeRecord.Action.UPDATE.value

    def change(entity, object_id, action, old: str | None, new: str | None):
        """A change record of the import, its states as JSON text (study, reason, user, time
        and channel are the import's: ``record_same``)."""
        changes.append((entity, object_id, action, old, new))

    # 1. Sessions that these rows open (a few rows: the ORM is fine).
    missing_sessions = sorted(touched - set(sessions))
    if missing_sessions:
        by_tp = {tp.pk: tp for tp in timepoints.values()}
        opened = [
            MeasurementSession(
                study=study,
                timepoint=by_tp[tp_id],
                assay=assay,
                date=planned_date(study, by_tp[tp_id].day),
                temperature_c=rules[assay].temperature_c,
            )
            for tp_id, assay in missing_sessions
        ]
        MeasurementSession.objects.bulk_create(opened)
        if any(s.pk is None for s in opened):  # a backend that cannot return ids
            opened = list(
                MeasurementSession.objects.filter(study=study).select_related("timepoint")
            )
        for s in opened:
            if (s.timepoint_id, s.assay) in missing_sessions:
                sessions[(s.timepoint_id, s.assay)] = s
                change("session", s.pk, create, None, writer.json(_session_state(s)))
        summary.sessions_opened = len(missing_sessions)
    session_of = {key: s.pk for key, s in sessions.items()}

    # 2. Readings, their entries and their records, in one pass over the slots: new readings
    # inserted in their final state, stored ones recomputed. Ids are drawn first, so that
    # entries and records are built with the readings they belong to (see _RowWriter.ids).
    stored_slots = added_entries = 0
    if stored_readings:
        for key, new in slots.items():
            if key in stored_readings:
                stored_slots += 1
                added_entries += len(new)
    summary.readings_created = len(slots) - stored_slots
    reading_id_of = iter(writer.ids(Reading, summary.readings_created))
    entry_id_of = iter(writer.ids(Entry, added_entries))
    reading_updates: list[tuple] = []
    entry_rows: list[tuple] = []  # entries of new readings
    added_rows: list[tuple] = []  # entries added to stored readings, with their ids
    disputes: list[tuple[tuple, int]] = []  # (slot, reading id) of readings that need one
    disputed, resolved = Reading.State.DISPUTED.value, Reading.State.RESOLVED.value
    state_text = {state: state.value for state in Reading.State}
    max_values = {assay: r.max_value for assay, r in rules.items()}
    entry_json = writer.entry_json
    # (timepoint id, assay) -> the readings created in the session, for its import record
    created: dict[tuple, _CreatedReadings] = defaultdict(_CreatedReadings)
    # (session id, animal id, experimenter) -> entries added, by which the tallies advance
    entries_added: dict[tuple[int, int, str], int] = {}

    def new_readings():
        """Yield the new readings' rows and collect everything else of the pass as it goes:
        on PostgreSQL the database stores each batch of readings while the next is computed,
        and the last batches while the import records are built.

        The slots go in the order of the readings' unique index, (session, animal, footpad,
        application), rather than the file's: the sessions an import opens are the newest,
        so each reading's key then lands at the end of that index and of the (session,
        state) one, next to the previous reading's, instead of on a page anywhere in them."""
        for key in sorted(slots):
            new = slots[key]
            tp_id, assay, animal_id, footpad, application = key
            stored = stored_readings.get(key) if stored_readings else None
            entries = [(e[1], e[2]) for e in new]
            if stored:
                entries[:0] = [(v, b) for _, v, b in stored_entries[stored[0]]]
            state, value, behavior = reconcile(entries, rules[assay])
            state = state_text[state]
            resolution = resolutions.get(key) if resolutions else None
            if resolution is not None and state == disputed:
                state = resolved
                value, behavior = resolution[0], resolution[1]
            max_value = max_values[assay]
            session_id = session_of[tp_id, assay]
            for entry in new:
                tally = (session_id, animal_id, entry[0])
                entries_added[tally] = entries_added.get(tally, 0) + 1
            if stored is None:
                pk = next(reading_id_of)
                created[tp_id, assay].add(pk, state, value, behavior, new)
                for experimenter, entry_value, entry_behavior, _ in new:
                    entry_rows.append((pk, experimenter, entry_value, entry_behavior, max_value))
            else:
                pk, old_state, old_value, old_behavior, version = stored
                for experimenter, entry_value, entry_behavior, _ in new:
                    entry_pk = next(entry_id_of)
                    added_rows.append(
                        (entry_pk, pk, experimenter, entry_value, entry_behavior, max_value)
                    )
                    entry_state = entry_json(experimenter, entry_value, entry_behavior)
                    change("entry", entry_pk, create, None, entry_state)
                if (state, value, behavior) != (old_state, old_value, old_behavior):
                    reading_updates.append((state, value, behavior, version + 1, writer.now, pk))
                if value != old_value:
                    old = {"state": old_state, "value": old_value, "behavior": old_behavior}
                    now_state = {"state": state, "value": value, "behavior": behavior}
                    change("reading", pk, update, writer.json(old), writer.json(now_state))
            if (state == disputed and (stored is None or pk not in open_disputes)) or (
                state == resolved and resolution is not None
            ):
                disputes.append((key, pk))
            if stored is None:
                yield (
                    pk,
                    session_id,
                    animal_id,
                    assay,
                    footpad,
                    application,
                    value,
                    behavior,
                    state,
                )
        # One record per session for the readings created in it, after the records of entries
        # added to stored readings and before the discrepancies' records.
        for session_key, readings in created.items():
            change("import", session_of[session_key], create, None, readings.json())

    # Where the connection may (see behavior.foreign_keys), the readings' and entries' foreign
    # keys are checked once per session, animal, reading and user they refer to: a few hundred
    # checks instead of about three per value.
    with checked_once_per_key(writer.connection, written=[Reading, Entry]) as ledger:
        writer.insert(
            Reading,
            [
                "id",
                "session",
                "animal",
                "assay",
                "footpad",
                "application",
                "value",
                "behavior",
                "state",
            ],
            new_readings(),
            same={"updated_at": writer.now, "version": 1},
            ledger=ledger,
        )
        writer.update(
            Reading,
            ["state", "value", "behavior", "version", "updated_at"],
            reading_updates,
            ledger=ledger,
        )
        entry_fields = ["reading", "experimenter", "value", "behavior", "max_value"]
        entry_same = {
            "entered_by": user_id,
            "entered_at": writer.now,
            "updated_at": writer.now,
            "version": 1,
        }
        # Those with drawn ids first: on SQLite the others then take ids above them.
        writer.insert(Entry, ["id", *entry_fields], added_rows, same=entry_same, ledger=ledger)
        writer.insert(Entry, entry_fields, entry_rows, same=entry_same, ledger=ledger)
    summary.values = len(added_rows) + len(entry_rows)

    # 3. Discrepancies for readings that became disputed (a handful: the ORM is fine).
    opened_disputes: list[Discrepancy] = []
    for key, reading_id in disputes:
        values = {e[0]: e[1] for e in stored_entries.get(reading_id, [])}
        values.update({e[0]: e[1] for e in slots[key]})
        discrepancy = Discrepancy(reading_id=reading_id, values=values)
        resolution = resolutions.get(key)
        if resolution is not None:
            value, behavior, reason, note = resolution
            discrepancy.status = Discrepancy.Status.RESOLVED
            discrepancy.resolved_value = value
            discrepancy.resolved_behavior = behavior
            discrepancy.reason = reason
            discrepancy.note = note
            discrepancy.resolved_by = author
            discrepancy.resolved_at = now
        opened_disputes.append(discrepancy)
    if opened_disputes:
        Discrepancy.objects.bulk_create(opened_disputes)
    for discrepancy in opened_disputes:
        new_state = {"values": discrepancy.values, **_discrepancy_state(discrepancy)}
        change("discrepancy", discrepancy.pk, create, None, writer.json(new_state))

    # 4. The audit trail of all of it.
    record_same = {
        "study": study.pk,
        "reason": IMPORT_REASON,
        "user": user_id,
        "at": writer.now,
        "via": via,
    }
    writer.insert(
        ChangeRecord, ["entity", "object_id", "action", "old", "new"], changes, same=record_same
    )
    summaries_rebuild(sessions={session_of[key] for key in touched}, entries_added=entries_added)
    _summarise(summary, first=first, sessions=[s.pk for s in sessions.values()])
    return summary


def _sqlite_literal(value) -> str:
    """A value of ours (None, a number or text) as an SQLite literal."""
    if value is None:
        return "NULL"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


# PostgreSQL's type of a column of each kind of field, for a binary COPY (see _RowWriter.insert).
# JSON is not among them: a table with a JSON column is copied as text.
_BINARY_COPY_TYPES = {
    "AutoField": "int4",
    "BigAutoField": "int8",
    "IntegerField": "int4",
    "BigIntegerField": "int8",
    "PositiveIntegerField": "int4",
    "PositiveSmallIntegerField": "int2",
    "SmallIntegerField": "int2",
    "FloatField": "float8",
    "CharField": "text",
    "TextField": "text",
    "DateTimeField": "timestamptz",
}


class _JsonNames(dict):
    """Experimenter -> the name as a JSON string, encoded once per name."""

    def __missing__(self, name: str) -> str:
        text = self[name] = json.dumps(name)
        return text


class _CreatedReadings:
    """The readings an import creates in one session, as the JSON of its ``import`` record.

    The record is a table by columns: position ``i`` of every list is the ``i``-th reading::

        {"readings": [id, ...], "state": [...], "value": [...], "behavior": [...],
         "entries": {experimenter: [value, ...]},
         "behaviors": {experimenter: [behaviour, ...]}}

    An experimenter's ``null`` is no entry in that reading (in ``behaviors``, no behaviour);
    ``behaviors`` only names experimenters who entered one (hot plate). Columns rather than
    an object per reading: PostgreSQL builds its ``jsonb`` two to three times faster without
    two objects per reading to sort the keys of, and the table still reads in the admin.
    ``studies.selectors_history.imported_reading`` reads one reading's part back.
    """

    def __init__(self):
        self.ids: list[int] = []
        self.states: list[str] = []
        self.values: list[float | None] = []
        self.behaviors: list[str] = []
        self.entries: dict[str, list] = {}
        self.entry_behaviors: dict[str, list] = {}

    @staticmethod
    def _column(columns: dict[str, list], name: str, length: int) -> list:
        """``name``'s column, ``length`` long: nulls for the readings it has no value in."""
        column = columns.get(name)
        if column is None:
            column = columns[name] = [None] * length
        elif len(column) < length:
            column += [None] * (length - len(column))
        return column

    def add(self, pk: int, state: str, value: float | None, behavior: str, entries) -> None:
        """A created reading; ``entries`` are the import's ``(experimenter, value, behaviour,
        row)``."""
        n = len(self.ids)
        self.ids.append(pk)
        self.states.append(state)
        self.values.append(value)
        self.behaviors.append(behavior)
        for experimenter, entry_value, entry_behavior, _ in entries:
            self._column(self.entries, experimenter, n).append(entry_value)
            if entry_behavior:
                self._column(self.entry_behaviors, experimenter, n).append(entry_behavior)

    def json(self) -> str:
        n = len(self.ids)
        for columns in (self.entries, self.entry_behaviors):
            for name in columns:
                self._column(columns, name, n)
        record = {
            "readings": self.ids,
            "state": self.states,
            "value": self.values,
            "behavior": self.behaviors,
            "entries": self.entries,
        }
        if self.entry_behaviors:
            record["behaviors"] = self.entry_behaviors
        return json.dumps(record)


class _RowWriter:
    """Writes many rows with one ``executemany`` (SQLite) or ``COPY`` (PostgreSQL) per table.

    ``bulk_create`` builds a model instance for each row and prepares every field of it; for
    an import of 64,000 values that is most of the time. Here each row is a tuple of plain
    values already in the form the database takes (times and JSON as text), and what every
    row of a table shares (the time, the user) is given once. Ids that other rows refer to are
    drawn before the insert (:meth:`ids`), so that rows referring to them (entries to
    readings, change records to both) are built in Python.
    """

    def __init__(self):
        # The connection itself rather than the thread-local proxy: the proxy's lookup is paid
        # on every call.
        self.connection = connections[DEFAULT_DB_ALIAS]
        self.quote = self.connection.ops.quote_name
        self.postgresql = self.connection.vendor == "postgresql"
        now = timezone.now()
        # A datetime for PostgreSQL's binary COPY; SQLite's text, prepared once.
        self.now = (
            now
            if self.postgresql
            else ChangeRecord._meta.get_field("at").get_db_prep_value(now, self.connection)
        )
        self._names = _JsonNames()

    @staticmethod
    def json(value) -> str | None:
        """A JSON field's value as text (SQL NULL for None), as the ORM writes it."""
        return None if value is None else json.dumps(value)

    def entry_json(self, experimenter: str, value: float, behavior: str) -> str:
        """``json.dumps({"experimenter", "value", "behavior"})`` of an entry, written directly:
        the names repeat (encoded once each), a finite float's repr is JSON, and a behaviour is
        one of four plain words."""
        name = self._names[experimenter]
        return f'{{"experimenter": {name}, "value": {value!r}, "behavior": "{behavior}"}}'

    def ids(self, model, count: int) -> Sequence[int]:
        """``count`` new ids of the model's table, for rows inserted next: on PostgreSQL from
        the table's own sequence, on SQLite above the table's highest id ever used, which is
        safe because the import holds SQLite's write lock from its first statement (see
        ``readings_import``) and inserts these rows before any others of the table."""
        if count == 0:
            return []
        table = model._meta.db_table
        with self.connection.cursor() as cursor:
            if self.postgresql:
                # The sequence's name looked up once: pg_get_serial_sequence in the select list
                # would search the catalogue for every id, nine tenths of the draw's time.
                draw = (
                    "WITH seq AS MATERIALIZED (SELECT pg_get_serial_sequence(%s, %s)::regclass "
                    "AS name) SELECT nextval(seq.name) FROM seq, generate_series(1, %s)"
                )
                params = [table, model._meta.pk.column, count]
                # ``count`` distinct ids from min to max are all the ids between: a range, told
                # in one row. Otherwise another session drew some in between: draw again, all.
                cursor.execute(f"SELECT MIN(id), MAX(id) FROM ({draw}) AS drawn (id)", params)
                first, last = cursor.fetchone()
                if last - first + 1 == count:
                    return range(first, last + 1)
                cursor.execute(draw, params)
                return [row[0] for row in cursor.fetchall()]
            if self.connection.vendor == "sqlite":
                # AUTOINCREMENT never reuses an id, even of a rolled-back row: sqlite_sequence
                # remembers the highest one.
                cursor.execute(
                    f"SELECT MAX({self.quote(model._meta.pk.column)}) FROM {self.quote(table)}"
                )
                highest = cursor.fetchone()[0] or 0
                cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
                row = cursor.fetchone()
                start = max(highest, row[0] if row else 0) + 1
                return list(range(start, start + count))
        raise NotImplementedError(
            f"Imports support SQLite and PostgreSQL, not {self.connection.vendor}."
        )

    def insert(
        self, model, fields: list[str], rows: Iterable[tuple], *, same: dict, ledger=None
    ) -> None:
        """Insert the rows, each the values of ``fields``, with one command, taking them as
        they come; ``same`` holds the fields whose value every row shares (the time, the
        user...), given once rather than in each row. Inside a block of
        ``behavior.foreign_keys.checked_once_per_key``, its ``ledger`` keeps every row."""
        rows = iter(rows)
        first = next(rows, None)
        if first is None:
            return
        rows = itertools.chain((first,), rows)
        kept = None if ledger is None else ledger.rows(model, fields, same=same)
        table = self.quote(model._meta.db_table)
        columns = ", ".join(
            self.quote(model._meta.get_field(name).column) for name in [*fields, *same]
        )
        with self.connection.cursor() as cursor:
            if self.postgresql:
                # COPY streams the rows in one command: PostgreSQL's fastest way in, several
                # times faster than executemany or multi-row VALUES through client binding;
                # the server stores each batch of rows while the next is prepared. In binary
                # the server reads each value as it is stored instead of parsing its text (a
                # time, a float): a third less time for the entries. A table with a JSON column
                # (the few change records) goes as text.
                shared = tuple(same.values())
                types = [_BINARY_COPY_TYPES.get(self._type(model, n)) for n in [*fields, *same]]
                binary = None not in types
                command = f"COPY {table} ({columns}) FROM STDIN" + (
                    " (FORMAT BINARY)" if binary else ""
                )
                with cursor.cursor.copy(command) as copy:
                    if binary:
                        copy.set_types(types)
                    write_row = copy.write_row
                    if kept is None:
                        for row in rows:
                            write_row(row + shared)
                    else:
                        keep = kept.append
                        for row in rows:
                            write_row(row + shared)
                            keep(row)
            else:
                # SQLite runs one prepared statement over all rows: its fastest insert. The
                # shared values are written into the statement, as each bound value costs
                # (a % doubled: Django's placeholders are %s).
                if kept is not None:
                    rows = list(rows)
                    kept.extend(rows)
                shared = [_sqlite_literal(v).replace("%", "%%") for v in same.values()]
                marks = ", ".join(["%s"] * len(fields) + shared)
                cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows)

    @staticmethod
    def _type(model, name: str) -> str:
        """The kind of field whose values a column holds (of a foreign key, its target's)."""
        field = model._meta.get_field(name)
        return (field.target_field if field.is_relation else field).get_internal_type()

    def update(self, model, fields: list[str], rows: list[tuple], *, ledger=None) -> None:
        """``UPDATE ... WHERE id = %s`` for each row: the fields' values, then the id. Inside a
        block of ``behavior.foreign_keys.checked_once_per_key`` (its ``ledger`` given), the
        fields may be neither the key nor a foreign key: nothing would check them."""
        if ledger is not None:
            fields_of = map(model._meta.get_field, fields)
            keys = [f.name for f in fields_of if f.is_relation or f.primary_key]
            if keys:
                raise ValueError(f"Keys are not updated without their checks: {keys}")
        if not rows:
            return
        sets = ", ".join(f"{self.quote(model._meta.get_field(n).column)} = %s" for n in fields)
        with self.connection.cursor() as cursor:
            cursor.executemany(
                f"UPDATE {self.quote(model._meta.db_table)} SET {sets} "
                f"WHERE {self.quote(model._meta.pk.column)} = %s",
                rows,
            )


class _RowChecker:
    """Checks import rows against one study's animals, timepoints, assays and sessions.

    ``checked`` is the rule book: it cleans every cell (spaces, case, spreadsheet numbers) and
    names every problem. ``grouped``'s fast check accepts only rows already in their clean
    form and hands anything else to ``checked``; an export or a lab's script writes such rows,
    and it makes the import of tens of thousands of them several times faster. A row comes out
    as its slot ``(timepoint id, assay, animal id, footpad, application)``, experimenter, value
    and behaviour, and from ``checked`` also an export's resolution.
    """

    def __init__(self, *, study, rules, timepoints, animals, sessions):
        self.study = study
        self.rules = rules
        self.timepoints = timepoints
        self.animals = animals
        self.sessions = sessions
        self.locked = {
            key for key, s in sessions.items() if s.status == MeasurementSession.Status.LOCKED
        }
        self.active = {
            code: a.pk for code, a in animals.items() if a.status == Animal.Status.ACTIVE
        }
        # (day, assay) of every session a clean row may write to -> (timepoint id, assay,
        # footpads, applications, maximum value, whether it takes a behaviour). The day as
        # text or as a number: 21, "21" and a spreadsheet's 21.0 all find the same key (21.0
        # == 21 and they hash alike); 21.5 and "21.0" find none. So does the application.
        self.targets: dict[tuple, tuple] = {}
        for assay, r in rules.items():
            applications = {
                **{n: n for n in range(1, r.applications + 1)},
                **{str(n): n for n in range(1, r.applications + 1)},
            }
            hot_plate = assay == Assay.HOT_PLATE
            for day, timepoint in timepoints.items():
                if (timepoint.id, assay) not in self.locked:
                    target = (
                        timepoint.id,
                        assay,
                        r.footpads,
                        applications,
                        r.max_value,
                        hot_plate,
                    )
                    self.targets[(day, assay)] = self.targets[(str(day), assay)] = target

    def grouped(self, rows: Sequence[dict], problems: list) -> tuple[dict, dict]:
        """The rows' entries by slot, ``{slot: [(experimenter, value, behaviour, row)]}`` in
        the rows' order, and any export resolution by slot; each problem is appended to
        ``problems`` as (row number, column, reason).

        A :class:`~behavior.readings_io.ReadingsTable` is read cell by cell, without building
        a dict for a row that the fast check accepts; other rows are dicts."""
        slots: dict[tuple, list] = {}
        resolutions: dict[tuple, tuple] = {}
        if isinstance(rows, ReadingsTable):
            # The last column of a name, as in the row's dict; a missing one is all None.
            by_name = dict(zip(rows.names, rows.columns, strict=True))
            nothing = itertools.repeat(None)
            columns = [by_name.get(name, nothing) for name in _FAST_COLUMNS]
            numbers = rows.numbers
        else:
            columns = [[row.get(name) for row in rows] for name in _FAST_COLUMNS]
            numbers = [row.get("_row", index + 2) for index, row in enumerate(rows)]
        targets, active, checked = self.targets, self.active, self.checked
        # Not strict: a missing column repeats None for ever, the row numbers end it.
        for index, cells in enumerate(zip(numbers, *columns, strict=False)):
            # The fast check: every cell already in its clean form, as an export or a lab's
            # script writes it. Anything else goes to the rule book, ``checked``.
            (
                number,
                animal,
                day,
                assay,
                footpad,
                application,
                value,
                experimenter,
                behavior,
                resolved,
            ) = cells
            try:
                if type(day) is bool or type(application) is bool or type(value) is bool:
                    raise TypeError  # True == 1 would find day or application 1
                tp_id, assay, footpads, applications, max_value, hot_plate = targets[day, assay]
                key = (tp_id, assay, active[animal], footpad or "", applications[application])
                value = float(value)
                behavior = behavior or ""
                if (
                    not 0 < value <= max_value  # NaN fails this too
                    or key[3] not in footpads
                    or (
                        behavior
                        and (not hot_plate or behavior not in BEHAVIOURS or value >= max_value)
                    )
                    or type(experimenter) is not str
                    or not experimenter
                    or experimenter != experimenter.strip()
                    or len(experimenter) > EXPERIMENTER_MAX_LENGTH
                    or resolved not in ("", None)
                ):
                    raise ValueError
                resolution = None
            except (KeyError, TypeError, ValueError):
                parsed, row_problems = checked(rows[index])
                if row_problems:
                    problems.extend((number, column, reason) for column, reason in row_problems)
                    continue
                key, experimenter, value, behavior, resolution = parsed
            entries = slots.get(key)
            if entries is None:
                slots[key] = [(experimenter, value, behavior, number)]
            else:
                for other in entries:
                    if other[0] == experimenter:
                        break
                else:
                    other = None
                if other is not None:
                    problems.append(
                        (
                            number,
                            "experimenter",
                            f"repeats row {other[3]}: one value per animal, day, assay, footpad, "
                            "application and experimenter",
                        )
                    )
                    continue
                entries.append((experimenter, value, behavior, number))
            if resolution is not None and key not in resolutions:
                resolutions[key] = resolution
        return slots, resolutions

    def checked(self, row: dict):
        """The row's slot, experimenter, value, behaviour and resolution, and its problems as
        (column, reason) pairs."""
        row_problems: list[tuple[str, str]] = []

        code = _clean_text(row.get("animal"))
        animal = self.animals.get(code)
        if code == "":
            row_problems.append(("animal", "is missing"))
        elif animal is None:
            row_problems.append(("animal", f"{code} is not an animal of this study"))

        day_text = _clean_text(row.get("day"))
        timepoint = None
        try:
            day = int(day_text)
        except ValueError:
            row_problems.append(("day", f"must be a whole number, not {day_text[:20]!r}"))
        else:
            timepoint = self.timepoints.get(day)
            if timepoint is None:
                known = ", ".join(str(d) for d in sorted(self.timepoints)) or "none"
                row_problems.append(("day", f"no timepoint on day {day} (days: {known})"))

        assay = _clean_text(row.get("assay")).lower()
        assay_rules = self.rules.get(assay)
        if assay not in ASSAYS:
            row_problems.append(("assay", "must be von_frey or hot_plate"))
        elif assay_rules is None:
            row_problems.append(("assay", f"{assay} is not measured in this study"))

        experimenter, problem = parse_experimenter(row.get("experimenter"))
        if problem:
            row_problems.append(("experimenter", problem))

        footpad = application = value = behavior = None
        if assay_rules is not None:
            value, problem = parse_value(row.get("value"), assay_rules)
            if problem:
                row_problems.append(("value", problem))
            footpad, problem = parse_footpad(row.get("footpad"), assay_rules)
            if problem:
                row_problems.append(("footpad", problem))
            application, problem = parse_application(row.get("application"), assay_rules)
            if problem:
                row_problems.append(("application", problem))
            behavior, problem = parse_behavior(row.get("behavior"), assay_rules, value)
            if problem:
                row_problems.append(("behavior", problem))

        if animal is not None and timepoint is not None and assay_rules is not None:
            if animal.status != Animal.Status.ACTIVE:
                session = self.sessions.get((timepoint.id, assay))
                on = (session.date if session else None) or planned_date(self.study, timepoint.day)
                refusal = animal_refusal(animal, on)
                if refusal:
                    row_problems.append(("animal", refusal))
            if (timepoint.id, assay) in self.locked:
                row_problems.append(
                    ("day", f"the {assay} session of day {timepoint.day} is locked")
                )

        resolution = None
        if assay_rules is not None and _clean_text(row.get("resolved_value")) != "":
            resolution, resolution_problems = _parse_resolution(row, assay_rules)
            row_problems.extend(resolution_problems)

        if row_problems:
            return None, row_problems
        key = (timepoint.id, assay, animal.id, footpad, application)
        return (key, experimenter, value, behavior, resolution), []


def _parse_resolution(row: dict, rules: AssayRules):
    """A settled discrepancy carried by an export's resolution columns, and its problems."""
    problems = []
    value, problem = parse_value(row.get("resolved_value"), rules)
    if problem:
        problems.append(("resolved_value", problem))
    behavior, problem = parse_behavior(row.get("resolved_behavior"), rules, value)
    if problem:
        problems.append(("resolved_behavior", problem))
    reason = _clean_text(row.get("resolution_reason")).lower()
    if reason not in Discrepancy.Reason.values:
        problems.append(("resolution_reason", "must be one of " + ", ".join(Discrepancy.Reason)))
    note = _clean_text(row.get("resolution_note"))[:NOTE_MAX_LENGTH]
    if reason == Discrepancy.Reason.OTHER and not note:
        problems.append(("resolution_note", "is required when the reason is other"))
    return (None if problems else (value, behavior, reason, note)), problems


def _summarise(summary: ImportSummary, *, first: bool, sessions: Iterable[int]) -> None:
    """Fill the study totals of an import summary from all the study's ``sessions`` (ids):
    three queries, or two when the import is the study's ``first`` (the study had no session
    before it): then the import's values are all the values the study holds.

    The values and the verified sets are read from the entry tallies and the footpad
    summaries, which the import has just brought up to date: a few rows per animal and
    session rather than every entry and reading of the study. The sessions' ids rather than
    the study: the tables are read through their unique indexes, which begin with the
    session, instead of whole."""
    sessions = list(sessions)
    if first:
        summary.study_values = summary.values
    else:
        summary.study_values = (
            EntryTally.objects.filter(session_id__in=sessions).aggregate(n=Sum("entries"))["n"] or 0
        )
    # A summary covers one set (a footpad, or an animal's hot-plate trials, in a session): it
    # is verified when each of its slots counts.
    summary.verified_sets = FootpadSummary.objects.filter(
        session_id__in=sessions, slots=F("n_verified") + F("n_resolved")
    ).count()
    summary.open_discrepancies = Discrepancy.objects.filter(
        reading__session_id__in=sessions, status=Discrepancy.Status.OPEN
    ).count()
