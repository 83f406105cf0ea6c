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
  :class:`studies.models.ChangeRecord`; imports write them in bulk beside their rows. Nothing
  is deleted.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections import defaultdict
from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connections, transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from behavior.models import BEHAVIOUR_VALUES, Discrepancy, Entry, MeasurementSession, Reading
from behavior.summaries import footpad_summaries_rebuild, footpad_summaries_refresh
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
    role = role_in_study(user=user, study=study)
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


def _entry_context(*, session, animal, user, via: str, study_assay=None) -> _EntryContext:
    session = MeasurementSession.objects.select_related("study", "timepoint").get(pk=session.pk)
    study = session.study
    if study.is_locked:
        raise StudyLocked(study.slug)
    if session.status == MeasurementSession.Status.LOCKED:
        raise SessionLocked(session)
    _require(user=user, study=study, action=RECORD)
    # The entry page reads the settings for its answer anyway and passes them on: one query
    # less on every value typed. Settings of another study or assay are not trusted.
    if study_assay is None or (study_assay.study_id, study_assay.assay) != (
        study.pk,
        session.assay,
    ):
        study_assay = StudyAssay.objects.filter(study=study, assay=session.assay).first()
    if study_assay is None:
        raise ValidationError({"assay": [f"This study does not measure {session.assay}."]})
    animal = Animal.objects.filter(pk=animal.pk).first()
    if animal is None or animal.study_id != study.pk:
        raise ValidationError({"animal": ["Animal is not in this study."]})
    refusal = animal_refusal(animal, session.date or timezone.localdate())
    if refusal:
        raise ValidationError({"animal": [f"Animal {refusal}: no readings can be entered."]})
    return _EntryContext(
        study=study,
        session=session,
        rules=AssayRules.of(study_assay),
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


def _entry_save(
    ctx: _EntryContext,
    *,
    footpad,
    application,
    value,
    experimenter,
    behavior,
    reason: str,
    expected_version: int | None,
) -> EntryResult:
    footpad, application, value, experimenter, behavior = _validated_entry(
        ctx,
        footpad=footpad,
        application=application,
        value=value,
        experimenter=experimenter,
        behavior=behavior,
    )
    reason = (reason or "").strip()
    if len(reason) > REASON_MAX_LENGTH:
        raise ValidationError(
            {"reason": [_message("reason", f"must be at most {REASON_MAX_LENGTH} characters")]}
        )
    # The reading row is the lock that serialises two experimenters saving the same slot.
    reading, reading_created = Reading.objects.select_for_update().get_or_create(
        session=ctx.session,
        animal=ctx.animal,
        footpad=footpad,
        application=application,
        defaults={"assay": ctx.session.assay},
    )
    # A reading created a moment ago under this lock has no entries to ask for.
    entries = [] if reading_created else list(reading.entries.order_by("entered_at", "pk"))
    mine = next((e for e in entries if e.experimenter == experimenter), None)
    user = _user_or_none(ctx.user)

    if mine is None:
        if expected_version:
            raise ConflictError(
                f"The value of {experimenter} was expected to exist (version "
                f"{expected_version}) but is not there: reload before saving."
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
            value=value,
            behavior=behavior,
            max_value=ctx.rules.max_value,
            entered_by=user,
        )
        entry.full_clean(exclude=["reading", "entered_by"], **_FIELDS_ONLY)
        entry.save()
        entries.append(entry)
        _record(ctx, "entry", entry.pk, ChangeRecord.Action.CREATE, None, _entry_new_state(entry))
        reading = _reading_recompute(ctx, reading, entries, experimenter=experimenter, reason="")
        return EntryResult(entry=entry, reading=reading, created=True, changed=False)

    if mine.value == value and mine.behavior == behavior:
        return EntryResult(entry=mine, reading=reading, created=False, changed=False)
    if expected_version is not None and expected_version != mine.version:
        raise ConflictError(
            f"The value of {experimenter} changed since it was read (now {mine.value:g}): "
            "reload before saving."
        )
    if reading.state in COUNTED_STATES and not reason:
        raise ValidationError({"reason": ["Reason is required: this value is already verified."]})
    reason = reason or DEFAULT_EDIT_REASON
    old = _entry_new_state(mine)
    mine.value = value
    mine.behavior = behavior
    mine.max_value = ctx.rules.max_value
    mine.version += 1
    mine.full_clean(exclude=["reading", "entered_by"], **_FIELDS_ONLY)
    mine.save()
    _record(ctx, "entry", mine.pk, ChangeRecord.Action.UPDATE, old, _entry_new_state(mine), reason)
    reading = _reading_recompute(ctx, reading, entries, experimenter=experimenter, reason=reason)
    return EntryResult(entry=mine, reading=reading, created=False, changed=True)


def _record(ctx: _EntryContext, entity: str, object_id: int, action, old, new, reason=""):
    ChangeRecord.objects.create(
        study=ctx.study,
        entity=entity,
        object_id=object_id,
        action=action,
        old=old,
        new=new,
        reason=reason[:REASON_MAX_LENGTH],
        user=_user_or_none(ctx.user),
        via=ctx.via,
    )


def _reading_recompute(
    ctx: _EntryContext, reading: Reading, entries: list[Entry], *, experimenter: str, reason: str
) -> Reading:
    """Apply the double-entry rule after an entry changed, opening or closing a discrepancy."""
    state, value, behavior = reconcile([(e.value, e.behavior) for e in entries], ctx.rules)
    old = {"state": reading.state, "value": reading.value, "behavior": reading.behavior}
    if (state, value, behavior) != (reading.state, reading.value, reading.behavior):
        reading.state, reading.value, reading.behavior = state, value, behavior
        reading.version += 1
        reading.save(update_fields=["state", "value", "behavior", "version", "updated_at"])
        if old["value"] != value:
            new = {"state": state, "value": value, "behavior": behavior}
            _record(ctx, "reading", reading.pk, ChangeRecord.Action.UPDATE, old, new, reason)

    # A disputed reading has exactly one open discrepancy, so the old state tells whether one
    # must be opened or closed without asking the database.
    was_disputed = old["state"] == Reading.State.DISPUTED
    if state == Reading.State.DISPUTED and not was_disputed:
        discrepancy = Discrepancy.objects.create(
            reading=reading, values={e.experimenter: e.value for e in entries}
        )
        _record(
            ctx,
            "discrepancy",
            discrepancy.pk,
            ChangeRecord.Action.CREATE,
            None,
            {"status": discrepancy.status, "values": discrepancy.values},
        )
    elif state != Reading.State.DISPUTED and was_disputed:
        # The two entries agree again after an edit: the disagreement is settled by it.
        open_discrepancy = reading.discrepancies.get(status=Discrepancy.Status.OPEN)
        open_discrepancy.status = Discrepancy.Status.RESOLVED
        open_discrepancy.resolved_value = value
        open_discrepancy.resolved_behavior = behavior
        open_discrepancy.reason = Discrepancy.Reason.OTHER
        open_discrepancy.note = (
            f"The entries agree after {experimenter} changed theirs ({reason})."
        )[:NOTE_MAX_LENGTH]
        open_discrepancy.resolved_by = _user_or_none(ctx.user)
        open_discrepancy.resolved_at = timezone.now()
        open_discrepancy.save()
        _record(
            ctx,
            "discrepancy",
            open_discrepancy.pk,
            ChangeRecord.Action.UPDATE,
            {"status": Discrepancy.Status.OPEN},
            _discrepancy_state(open_discrepancy),
            reason,
        )
    return reading


def _discrepancy_state(discrepancy: Discrepancy) -> dict:
    return {
        "status": discrepancy.status,
        "value": discrepancy.resolved_value,
        "behavior": discrepancy.resolved_behavior,
        "reason": discrepancy.reason,
        "note": discrepancy.note,
    }


@transaction.atomic
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
    study_assay: StudyAssay | None = None,
) -> EntryResult:
    """Save one experimenter's value for one slot, and reconcile the reading under it.

    Validates every field (a ``ValidationError`` names each bad one, e.g.
    ``{"value": ["Force must be at most 26 g."]}``). Saving the value already stored is a
    no-op; a different value is an edit (see the module's rules for reasons). A stale
    ``expected_version`` (the entry's version when it was read; 0 for "not entered yet") raises
    :class:`ConflictError`; a locked study or session raises :class:`StudyLocked`.
    ``study_assay``, the study's settings of the session's assay, saves reading them again
    when the caller already has them.
    """
    ctx = _entry_context(
        session=session, animal=animal, user=user, via=via, study_assay=study_assay
    )
    result = _entry_save(
        ctx,
        footpad=footpad,
        application=application,
        value=value,
        experimenter=experimenter,
        behavior=behavior,
        reason=reason,
        expected_version=expected_version,
    )
    if result.created or result.changed:
        footpad_summaries_refresh(session=ctx.session, animals=[ctx.animal.pk])
    return result


@transaction.atomic
def entries_save(
    *,
    session: MeasurementSession,
    animal: Animal,
    values: list[dict],
    experimenter: str,
    user,
    via: str = "api",
    study_assay: StudyAssay | None = None,
) -> list[EntryResult]:
    """Save several values of one animal (e.g. a footpad's applications) all or none.

    Each item has ``footpad``, ``application`` and ``value`` and may have ``behavior``,
    ``reason`` and ``expected_version``. Every bad item is reported in one ``ValidationError``
    keyed ``values[i].field``; then nothing is saved. ``study_assay`` as in :func:`entry_save`.
    """
    ctx = _entry_context(
        session=session, animal=animal, user=user, via=via, study_assay=study_assay
    )
    results: list[EntryResult] = []
    errors: dict[str, list[str]] = {}
    for index, item in enumerate(values):
        try:
            # A savepoint per item, so that the items after a refused one are still checked.
            with transaction.atomic():
                results.append(
                    _entry_save(
                        ctx,
                        footpad=item.get("footpad", ""),
                        application=item.get("application"),
                        value=item.get("value"),
                        experimenter=experimenter,
                        behavior=item.get("behavior", ""),
                        reason=item.get("reason", ""),
                        expected_version=item.get("expected_version"),
                    )
                )
        except ValidationError as exc:
            for name, messages in exc.message_dict.items():
                errors[f"values[{index}].{name}"] = messages
    if errors:
        raise ValidationError(errors)
    if any(result.created or result.changed for result in results):
        footpad_summaries_refresh(session=ctx.session, animals=[ctx.animal.pk])
    return results


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
    footpad_summaries_refresh(session=session, animals=[reading.animal_id])
    return discrepancy


# --- imports -----------------------------------------------------------------------------------


@dataclass
class _Slot:
    """One reading's new entries in an import, and the reading they go under."""

    timepoint: Timepoint
    assay: str
    animal_id: int
    footpad: str
    application: int
    new: list[tuple[str, float, str, int]] = field(default_factory=list)  # exp, value, beh, row
    # From an export's resolution columns: (value, behaviour, reason, note) of a settled dispute.
    resolution: tuple[float, str, str, str] | None = None


IMPORT_KEY_TEXT = "this animal, day, assay, footpad, application and experimenter"


@transaction.atomic
def readings_import(
    *, study: Study, rows: list[dict], user=None, via: str = "command"
) -> ImportSummary:
    """Import readings rows (interchange.md section 2) into the study, all or none.

    Each row is a dict with the section's columns (strings or numbers) and ``_row``, its row
    number in the file (the header is row 1). Every problem of every row is collected and
    raised together as :class:`ImportProblems` (``("row 7", "value: must be at most 26 g")``);
    then nothing is written. A row identical to a stored entry is skipped and counted as
    already there; the same key with another value is refused. Missing sessions are opened.

    Validation runs in Python over dicts read in a handful of queries. The few sessions and
    discrepancies are written with ``bulk_create``; readings, entries and change records, the
    bulk of an import, each with one ``executemany`` (SQLite) or ``COPY`` (PostgreSQL) of
    prepared rows (see :class:`_RowWriter`). The number of queries does not grow with the
    number of rows.

    Audit: a change record for every entry created, every session opened, every discrepancy
    opened and every stored reading whose counted value changes. A reading created here, in
    its final state, has no record of its own: the records of the entries that make it say
    who, when and what.
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
    slots: dict[tuple, _Slot] = {}
    first_row_of: dict[tuple, int] = {}
    for index, row in enumerate(rows):
        number = row.get("_row", index + 2)
        parsed = checker.fast(row)
        if parsed is None:
            parsed, row_problems = checker.checked(row)
            if row_problems:
                problems.extend((number, column, reason) for column, reason in row_problems)
                continue
        (
            timepoint,
            assay,
            animal,
            footpad,
            application,
            value,
            experimenter,
            behavior,
            resolution,
        ) = parsed

        slot_key = (timepoint.id, assay, animal.id, footpad, application)
        entry_key = (*slot_key, experimenter)
        if entry_key in first_row_of:
            problems.append(
                (
                    number,
                    "experimenter",
                    f"repeats row {first_row_of[entry_key]}: one value per animal, day, "
                    "assay, footpad, application and experimenter",
                )
            )
            continue
        first_row_of[entry_key] = number
        slot = slots.get(slot_key)
        if slot is None:
            slot = slots[slot_key] = _Slot(timepoint, assay, animal.id, footpad, application)
        slot.new.append((experimenter, value, behavior, number))
        slot.resolution = slot.resolution or resolution

    # What is stored already, for the sessions these rows touch: three queries at most.
    touched = {(key[0], key[1]) for key in slots}
    session_ids = [sessions[key].pk for key in touched if key in sessions]
    # slot key -> [id, state, value, behavior, version]
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
    for key, slot in slots.items():
        reading = stored_readings.get(key)
        stored = {e[0]: e for e in stored_entries[reading[0]]} if reading else {}
        fresh = []
        for experimenter, value, behavior, number in slot.new:
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
        limit = rules[slot.assay].max_experimenters
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
        slot.new = fresh

    if problems:
        problems.sort(key=lambda p: p[0])
        raise ImportProblems(
            [(f"row {n}", f"{column}: {reason}") for n, column, reason in problems]
        )

    summary = ImportSummary(already_there=already_there)
    slots = {key: slot for key, slot in slots.items() if slot.new}
    if not slots:
        _summarise(study, summary)
        return summary

    writer = _RowWriter()
    now = timezone.now()
    changes: list[tuple] = []
    user_id = author.pk if author else None

    def change(entity, object_id, action, old, new):
        changes.append(
            (
                study.pk,
                entity,
                object_id,
                action,
                writer.json(old),
                writer.json(new),
                IMPORT_REASON,
                user_id,
                writer.now,
                via,
            )
        )

    # 1. Sessions that these rows open (a few rows: the ORM is fine).
    missing_sessions = sorted({(s.timepoint.pk, s.assay) for s in slots.values()} - set(sessions))
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
                change("session", s.pk, ChangeRecord.Action.CREATE, None, _session_state(s))
        summary.sessions_opened = len(missing_sessions)

    # 2. Readings: new ones inserted in their final state, stored ones recomputed.
    new_keys = [key for key in slots if key not in stored_readings]
    new_ids = iter(writer.ids(Reading, len(new_keys)))
    reading_rows: list[tuple] = []
    reading_updates: list[tuple] = []
    states: dict[tuple, str] = {}
    reading_ids: dict[tuple, int] = {}
    for key, slot in slots.items():
        stored = stored_readings.get(key)
        all_entries = [(v, b) for _, v, b, _ in slot.new]
        if stored:
            all_entries[:0] = [(v, b) for _, v, b in stored_entries[stored[0]]]
        state, value, behavior = reconcile(all_entries, rules[slot.assay])
        if state == Reading.State.DISPUTED and slot.resolution is not None:
            state = Reading.State.RESOLVED
            value, behavior = slot.resolution[0], slot.resolution[1]
        states[key] = state
        if stored is None:
            pk = next(new_ids)
            reading_rows.append(
                (
                    pk,
                    sessions[(slot.timepoint.pk, slot.assay)].pk,
                    slot.animal_id,
                    slot.assay,
                    slot.footpad,
                    slot.application,
                    value,
                    behavior,
                    state,
                    writer.now,
                    1,
                )
            )
            # No record of its own: a reading created here is documented by the records of
            # the entries that make it, written below in the same import.
        else:
            pk, old_state, old_value, old_behavior, version = stored
            if (state, value, behavior) != (old_state, old_value, old_behavior):
                reading_updates.append((state, value, behavior, version + 1, writer.now, pk))
            if value != old_value:
                old = {"state": old_state, "value": old_value, "behavior": old_behavior}
                new = {"state": state, "value": value, "behavior": behavior}
                change("reading", pk, ChangeRecord.Action.UPDATE, old, new)
        reading_ids[key] = pk
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
            "updated_at",
            "version",
        ],
        reading_rows,
    )
    writer.update(Reading, ["state", "value", "behavior", "version", "updated_at"], reading_updates)
    summary.readings_created = len(reading_rows)

    # 3. Entries.
    count = sum(len(slot.new) for slot in slots.values())
    entry_ids = iter(writer.ids(Entry, count))
    entry_rows: list[tuple] = []
    for key, slot in slots.items():
        reading_id = reading_ids[key]
        max_value = rules[slot.assay].max_value
        for experimenter, value, behavior, _ in slot.new:
            pk = next(entry_ids)
            entry_rows.append(
                (
                    pk,
                    reading_id,
                    experimenter,
                    value,
                    behavior,
                    max_value,
                    user_id,
                    writer.now,
                    writer.now,
                    1,
                )
            )
            changes.append(
                (
                    study.pk,
                    "entry",
                    pk,
                    ChangeRecord.Action.CREATE,
                    None,
                    writer.entry_json(experimenter, value, behavior),
                    IMPORT_REASON,
                    user_id,
                    writer.now,
                    via,
                )
            )
    writer.insert(
        Entry,
        [
            "id",
            "reading",
            "experimenter",
            "value",
            "behavior",
            "max_value",
            "entered_by",
            "entered_at",
            "updated_at",
            "version",
        ],
        entry_rows,
    )
    summary.values = len(entry_rows)

    # 4. Discrepancies for readings that became disputed (a handful: the ORM is fine).
    opened_disputes: list[Discrepancy] = []
    for key, slot in slots.items():
        reading_id = reading_ids[key]
        disputed = states[key] == Reading.State.DISPUTED and reading_id not in open_disputes
        settled = states[key] == Reading.State.RESOLVED and slot.resolution is not None
        if disputed or settled:
            values = {e[0]: e[1] for e in stored_entries.get(reading_id, [])}
            values.update({exp: value for exp, value, _, _ in slot.new})
            discrepancy = Discrepancy(reading_id=reading_id, values=values)
            if settled:
                value, behavior, reason, note = slot.resolution
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
        new = {"values": discrepancy.values, **_discrepancy_state(discrepancy)}
        change("discrepancy", discrepancy.pk, ChangeRecord.Action.CREATE, None, new)

    # 5. The audit trail of all of it.
    writer.insert(
        ChangeRecord,
        ["study", "entity", "object_id", "action", "old", "new", "reason", "user", "at", "via"],
        changes,
    )
    footpad_summaries_rebuild(
        sessions={sessions[(slot.timepoint.pk, slot.assay)].pk for slot in slots.values()}
    )
    _summarise(study, summary)
    return summary


def _as_is(text: str) -> str:
    return text


class _RowWriter:
    """Writes many rows with one ``executemany`` per table, ids drawn before the insert.

    ``bulk_create`` builds a model instance for each row and prepares every field of it; for
    an import of 64,000 values that is most of the time. Here each row is a tuple already in
    the database's form, and ids are allocated first so that rows referring to others
    (entries to readings, change records to both) are built in Python: on PostgreSQL from the
    table's own sequence, on SQLite above the table's highest id ever used, which is safe
    because the import holds SQLite's write lock from its first statement (see
    ``readings_import``).
    """

    def __init__(self):
        # The connection itself rather than the thread-local proxy: the proxy's lookup is paid
        # on every call, and the JSON adapter is called for every change record.
        self.connection = connections[DEFAULT_DB_ALIAS]
        self.quote = self.connection.ops.quote_name
        self.now = ChangeRecord._meta.get_field("at").get_db_prep_value(
            timezone.now(), self.connection
        )
        self._adapt_json = self.connection.ops.adapt_json_value
        if self.connection.vendor == "postgresql":
            from psycopg.types.json import Jsonb

            self._json_text = lambda text: Jsonb(text, dumps=_as_is)
        else:
            self._json_text = _as_is
        self._names: dict[str, str] = {}

    def json(self, value):
        """A JSON field's value as the database takes it (SQL NULL for None)."""
        return None if value is None else self._adapt_json(value, None)

    def entry_json(self, experimenter: str, value: float, behavior: str):
        """``{"experimenter", "value", "behavior"}`` of an entry as JSON, written directly: the
        names repeat (encoded once each), a finite float's repr is JSON, and a behaviour is one
        of four plain words. An import writes one of these per value."""
        name = self._names.get(experimenter)
        if name is None:
            name = self._names[experimenter] = json.dumps(experimenter)
        text = f'{{"experimenter": {name}, "value": {value!r}, "behavior": "{behavior}"}}'
        return self._json_text(text)

    def ids(self, model, count: int) -> list[int]:
        if count == 0:
            return []
        table = model._meta.db_table
        with self.connection.cursor() as cursor:
            if self.connection.vendor == "postgresql":
                cursor.execute(
                    "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                    [table, model._meta.pk.column, count],
                )
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

    def insert(self, model, fields: list[str], rows: list[tuple]) -> None:
        if not rows:
            return
        columns = ", ".join(self.quote(model._meta.get_field(name).column) for name in fields)
        marks = "(" + ", ".join(["%s"] * len(fields)) + ")"
        sql = f"INSERT INTO {self.quote(model._meta.db_table)} ({columns}) VALUES {marks}"
        with self.connection.cursor() as cursor:
            if self.connection.vendor == "postgresql":
                # COPY streams the rows in one command: PostgreSQL's fastest way in, several
                # times faster than executemany or multi-row VALUES through client binding.
                copy_sql = f"COPY {self.quote(model._meta.db_table)} ({columns}) FROM STDIN"
                with cursor.cursor.copy(copy_sql) as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                # SQLite runs one prepared statement over all rows: its fastest insert.
                cursor.executemany(sql, rows)

    def update(self, model, fields: list[str], rows: list[tuple]) -> None:
        """``UPDATE ... WHERE id = %s`` for each row: the fields' values, then the id."""
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
    names every problem. ``fast`` accepts only rows already in their clean form and hands
    anything else to ``checked``; an export or a lab's script writes such rows, and it makes
    the import of tens of thousands of them several times faster. Both return
    ``(timepoint, assay, animal, footpad, application, value, experimenter, behavior,
    resolution)``.
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
        self.active = {code: a for code, a in animals.items() if a.status == Animal.Status.ACTIVE}
        # Day and application as text or as numbers: 21, "21" and a spreadsheet's 21.0 all
        # find the same key (21.0 == 21 and they hash alike); 21.5 and "21.0" find none.
        self.days = {**timepoints, **{str(day): tp for day, tp in timepoints.items()}}
        self.applications = {
            assay: {
                **{n: n for n in range(1, r.applications + 1)},
                **{str(n): n for n in range(1, r.applications + 1)},
            }
            for assay, r in rules.items()
        }

    def fast(self, row: dict):
        """The row's clean values if every cell is already in its clean form, else None."""
        try:
            animal = self.active[row["animal"]]
            if type(row["day"]) is bool or type(row["application"]) is bool:
                return None  # True == 1 would find day or application 1
            timepoint = self.days[row["day"]]
            assay = row["assay"]
            rules = self.rules[assay]
            footpad = row.get("footpad") or ""
            if footpad not in rules.footpads or (timepoint.id, assay) in self.locked:
                return None
            application = self.applications[assay][row["application"]]
            raw = row["value"]
            if type(raw) is bool:
                return None
            value = float(raw)
            if not 0 < value <= rules.max_value:  # NaN fails this too
                return None
            behavior = row.get("behavior") or ""
            if behavior and (
                rules.assay != Assay.HOT_PLATE
                or behavior not in BEHAVIOURS
                or value >= rules.max_value
            ):
                return None
            experimenter = row["experimenter"]
            if (
                type(experimenter) is not str
                or not experimenter
                or experimenter != experimenter.strip()
                or len(experimenter) > EXPERIMENTER_MAX_LENGTH
            ):
                return None
            if row.get("resolved_value") not in (None, ""):
                return None
        except (KeyError, TypeError, ValueError):
            return None
        return (timepoint, assay, animal, footpad, application, value, experimenter, behavior, None)

    def checked(self, row: dict):
        """The row's clean values and its problems as (column, reason) pairs."""
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
        return (
            (
                timepoint,
                assay,
                animal,
                footpad,
                application,
                value,
                experimenter,
                behavior,
                resolution,
            ),
            [],
        )


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


def _summarise(study: Study, summary: ImportSummary) -> None:
    """Fill the study totals of an import summary: three queries."""
    summary.study_values = Entry.objects.filter(reading__session__study=study).count()
    summary.verified_sets = (
        Reading.objects.filter(session__study=study)
        .values("session_id", "animal_id", "footpad")
        .annotate(total=Count("id"), counted=Count("id", filter=Q(state__in=COUNTED_STATES)))
        .filter(total=F("counted"))
        .count()
    )
    summary.open_discrepancies = Discrepancy.objects.filter(
        reading__session__study=study, status=Discrepancy.Status.OPEN
    ).count()
