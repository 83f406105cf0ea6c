"""Reads that shape behavioural data for the entry pages: sessions, the entry grid, progress and
discrepancies.

Blind double entry is enforced here: the entry grid carries only the values of the experimenter
who asks, and the state of each reading (which tells whether the two experimenters agreed) only
once both have entered the whole session.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import Count, F, FilteredRelation, Prefetch, Q, Sum

from behavior.models import (
    Discrepancy,
    Entry,
    EntryTally,
    FootpadSummary,
    MeasurementSession,
    Reading,
)
from studies.access import role_read, with_role
from studies.models import Animal, Study, StudyAssay, Timepoint

# The reading states a footpad summary counts, each in its ``n_<state>`` column.
READING_STATES = tuple(Reading.State.values)

# ---------------------------------------------------------------------------------------------
# Building blocks


def value_text(value: float | None) -> str:
    """A stored value as typed: never rounded for display (12.25 stays 12.25), 12.0 as 12."""
    if value is None:
        return ""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def study_assay_get(*, study: Study, assay: str) -> StudyAssay | None:
    """The study's settings for ``assay``, or None when the study does not measure it."""
    return StudyAssay.objects.filter(study=study, assay=assay).first()


def slot_footpads(study_assay: StudyAssay) -> list[str]:
    """The footpads of one animal's slots: left/right for von Frey, one unnamed slot for the
    hot plate (whose readings have an empty footpad)."""
    return list(study_assay.footpads) if study_assay.footpads else [""]


def slots_per_animal(study_assay: StudyAssay) -> int:
    return len(slot_footpads(study_assay)) * study_assay.applications


def session_get(*, study: Study, day: int, assay: str) -> MeasurementSession | None:
    """The study's session for the timepoint on ``day`` and ``assay``, if it has been opened."""
    return (
        MeasurementSession.objects.select_related("timepoint", "study")
        .filter(study=study, timepoint__day=day, assay=assay)
        .first()
    )


def timepoint_get(*, study: Study, day: int) -> Timepoint | None:
    return Timepoint.objects.filter(study=study, day=day).first()


def session_animals(*, session: MeasurementSession) -> list[Animal]:
    """The animals measured in a session: the study's active animals, and any other animal that
    already has a reading in it (an animal excluded later keeps its values visible)."""
    return list(
        Animal.objects.select_related("group").filter(_measured_in(session)).order_by("code")
    )


def _measured_in(session: MeasurementSession) -> Q:
    # A subquery rather than a join: no duplicate rows to remove with DISTINCT.
    measured = Reading.objects.filter(session=session).values("animal_id")
    return Q(study_id=session.study_id) & (Q(status=Animal.Status.ACTIVE) | Q(pk__in=measured))


def animal_label(animal: Animal, *, show_groups: bool, blinded: bool) -> str:
    """What may be shown of an animal's group: its code, the coded label for technicians of a
    blinded study, or nothing when it is not allocated."""
    if animal.group is None:
        return ""
    if show_groups:
        return animal.group.code
    return animal.group.blind_label if blinded else ""


def experimenter_counts(*, session: MeasurementSession) -> dict[str, int]:
    """How many values each experimenter has entered in the session, from the entry tallies
    (a row per animal and experimenter) rather than the session's entries."""
    rows = (
        EntryTally.objects.filter(session=session)
        .values("experimenter")
        .annotate(n=Sum("entries"))
        .order_by("experimenter")
    )
    return {row["experimenter"]: row["n"] for row in rows}


# ---------------------------------------------------------------------------------------------
# Sessions of a study


@dataclass
class SessionRow:
    timepoint: Timepoint
    study_assay: StudyAssay
    session: MeasurementSession | None
    expected: int  # values per experimenter
    by_experimenter: dict[str, int] = field(default_factory=dict)
    states: dict[str, int] = field(default_factory=dict)

    @property
    def assay(self) -> str:
        return self.study_assay.assay

    @property
    def verified(self) -> int:
        return self.states.get("verified", 0) + self.states.get("resolved", 0)

    @property
    def disputed(self) -> int:
        return self.states.get("disputed", 0)

    @property
    def percent_verified(self) -> int:
        # Rounded down: 739 of 740 must not read as 100 %.
        return 100 * self.verified // self.expected if self.expected else 0


def sessions_overview(*, study: Study) -> list[SessionRow]:
    """Every timepoint × configured assay of the study, with its session (or None if not yet
    opened) and progress: values entered per experimenter and readings per state.

    Six queries whatever the size of the study: timepoints, assays, active animals, sessions,
    reading states and entries per experimenter (the last two summed from the footpad
    summaries and entry tallies, not counted over every slot).
    """
    timepoints = list(Timepoint.objects.filter(study=study).order_by("day"))
    assays = list(StudyAssay.objects.filter(study=study).order_by("assay"))
    n_animals = Animal.objects.filter(study=study, status=Animal.Status.ACTIVE).count()
    sessions = {
        (s.timepoint_id, s.assay): s for s in MeasurementSession.objects.filter(study=study)
    }
    states: dict[int, dict[str, int]] = defaultdict(dict)
    for session_id, *counts in (
        FootpadSummary.objects.filter(session__study=study)
        .values_list("session_id")
        .annotate(*(Sum(f"n_{state}") for state in READING_STATES))
        .order_by()
    ):
        states[session_id] = {s: n for s, n in zip(READING_STATES, counts, strict=True) if n}
    entered: dict[int, dict[str, int]] = defaultdict(dict)
    for session_id, experimenter, n in (
        EntryTally.objects.filter(session__study=study)
        .values_list("session_id", "experimenter")
        .annotate(Sum("entries"))
        .order_by("experimenter")
    ):
        entered[session_id][experimenter] = n
    rows = []
    for timepoint in timepoints:
        for study_assay in assays:
            session = sessions.get((timepoint.id, study_assay.assay))
            rows.append(
                SessionRow(
                    timepoint=timepoint,
                    study_assay=study_assay,
                    session=session,
                    expected=n_animals * slots_per_animal(study_assay),
                    by_experimenter=entered.get(session.id, {}) if session else {},
                    states=states.get(session.id, {}) if session else {},
                )
            )
    return rows


# ---------------------------------------------------------------------------------------------
# The entry grid


@dataclass
class GridCell:
    footpad: str
    application: int
    value: float | None = None
    behavior: str = ""
    version: int | None = None
    # The reading's state, only once agreement may be shown (see ``entry_grid``).
    state: str | None = None

    @property
    def key(self) -> str:
        return f"{self.footpad}:{self.application}"

    @property
    def text(self) -> str:
        return value_text(self.value)


@dataclass
class GridRow:
    animal: Animal
    label: str
    cells: list[GridCell]
    means: dict[str, float | None]

    def cells_of(self, footpad: str) -> list[GridCell]:
        return [c for c in self.cells if c.footpad == footpad]

    @property
    def by_footpad(self) -> list[tuple[str, list[GridCell], float | None]]:
        footpads = list(dict.fromkeys(c.footpad for c in self.cells))
        return [(fp, self.cells_of(fp), self.means.get(fp)) for fp in footpads]


@dataclass
class EntryGrid:
    session: MeasurementSession
    study_assay: StudyAssay
    experimenter: str
    footpads: list[str]
    applications: list[int]
    rows: list[GridRow]
    expected: int  # values per experimenter
    entered: int  # values this experimenter has entered
    others_complete: list[str]  # other experimenters who have entered the whole session
    agreement_visible: bool

    @property
    def complete(self) -> bool:
        return self.expected > 0 and self.entered >= self.expected

    @property
    def first_empty(self) -> tuple[int, str] | None:
        """(animal id, cell key) of the first cell without a value, where entry resumes."""
        for row in self.rows:
            for cell in row.cells:
                if cell.value is None:
                    return row.animal.id, cell.key
        return None

    @property
    def disputed(self) -> int:
        return sum(1 for r in self.rows for c in r.cells if c.state == "disputed")


def entry_grid(
    *, session: MeasurementSession, study_assay: StudyAssay, experimenter: str, show_groups: bool
) -> EntryGrid:
    """The entry grid of one experimenter: a row per animal, a cell per footpad and application
    (von Frey) or trial (hot plate), holding only this experimenter's own values.

    Under double entry the other experimenter's values are never returned, and the state of a
    reading (verified, disputed, resolved) only once this experimenter and another have both
    entered every value of the session: until then agreement would hint at the other value.
    ``show_groups`` is ``studies.access.sees_allocation`` for the user; without it only the coded
    label of a blinded study is shown.

    Three queries whatever the size: animals with their groups, this experimenter's entries,
    values per experimenter.
    """
    animals = session_animals(session=session)
    own_entries = Entry.objects.filter(reading__session=session, experimenter=experimenter)
    mine = {
        (animal_id, footpad, application): (value, behavior, version, state)
        for animal_id, footpad, application, value, behavior, version, state in (
            own_entries.values_list(
                "reading__animal_id",
                "reading__footpad",
                "reading__application",
                "value",
                "behavior",
                "version",
                "reading__state",
            )
        )
    }
    counts = experimenter_counts(session=session)
    footpads = slot_footpads(study_assay)
    applications = list(range(1, study_assay.applications + 1))
    expected = len(animals) * len(footpads) * len(applications)
    entered = counts.get(experimenter, 0)
    others_complete = [
        name for name, n in counts.items() if name != experimenter and expected and n >= expected
    ]
    if study_assay.double_entry:
        agreement_visible = bool(expected and entered >= expected and others_complete)
    else:
        # A single entry verifies its reading: there is no other value to hide.
        agreement_visible = True
    rows = []
    for animal in animals:
        cells = []
        means: dict[str, float | None] = {}
        for footpad in footpads:
            values = []
            for application in applications:
                found = mine.get((animal.id, footpad, application))
                cell = GridCell(footpad=footpad, application=application)
                if found:
                    cell.value, cell.behavior, cell.version, state = found
                    cell.state = state if agreement_visible else None
                    values.append(cell.value)
                cells.append(cell)
            means[footpad] = sum(values) / len(values) if values else None
        rows.append(
            GridRow(
                animal=animal,
                label=animal_label(animal, show_groups=show_groups, blinded=session.study.blinded),
                cells=cells,
                means=means,
            )
        )
    return EntryGrid(
        session=session,
        study_assay=study_assay,
        experimenter=experimenter,
        footpads=footpads,
        applications=applications,
        rows=rows,
        expected=expected,
        entered=entered,
        others_complete=others_complete,
        agreement_visible=agreement_visible,
    )


@dataclass(frozen=True)
class SlotStatus:
    """What the entry endpoint answers about one slot after a save."""

    footpad_mean: float | None
    entered: int
    expected: int
    agreement_visible: bool


def _table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _slot_numbers(
    *, session: MeasurementSession, animal: Animal, footpads: list[str], experimenter: str
) -> tuple[dict[str, int], int, dict[str, float]]:
    """Values per experimenter in the session (summed tallies, as
    :func:`experimenter_counts`), the number of animals measured in it (the rule of
    :func:`_measured_in`), and the experimenter's mean of each of the animal's ``footpads``
    that has values: one statement, the three answers stacked with ``UNION ALL``.

    Written in SQL because every saved value asks it: built by the ORM, the three queries
    cost Django 3 to 4 ms to build on SQLite (6 to 7 ms with PostgreSQL's round trips), more
    than the database takes to answer them; as one subquery-annotated ORM query, more still.
    """
    footpad_marks = ", ".join(["%s"] * len(footpads))
    reading, entry = _table(Reading), _table(Entry)
    sql = (
        f"SELECT 'tally', experimenter, SUM(entries) FROM {_table(EntryTally)} "
        "WHERE session_id = %s GROUP BY experimenter "
        f"UNION ALL SELECT 'animals', '', COUNT(*) FROM {_table(Animal)} "
        f"WHERE study_id = %s AND (status = %s OR id IN "
        f"(SELECT animal_id FROM {reading} WHERE session_id = %s)) "
        f"UNION ALL SELECT 'mean', r.footpad, AVG(e.value) FROM {entry} e "
        f"JOIN {reading} r ON r.id = e.reading_id WHERE r.session_id = %s AND r.animal_id = %s "
        f"AND r.footpad IN ({footpad_marks}) AND e.experimenter = %s GROUP BY r.footpad"
    )
    params = [session.pk, session.study_id, Animal.Status.ACTIVE, session.pk]
    params += [session.pk, animal.pk, *footpads, experimenter]
    counts, n_animals, means = {}, 0, {}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for kind, name, number in cursor.fetchall():
            # PostgreSQL gives the column the type of the means: the counts come as floats.
            if kind == "tally":
                counts[name] = int(number)
            elif kind == "animals":
                n_animals = int(number)
            else:
                means[name] = number
    return counts, n_animals, means


def slot_status(
    *,
    session: MeasurementSession,
    study_assay: StudyAssay,
    animal: Animal,
    footpad: str,
    experimenter: str,
) -> SlotStatus:
    """The experimenter's running mean of one animal's footpad (or trials), and whether the
    session is complete enough to show agreement (same rule as ``entry_grid``).

    One query: see :func:`slot_statuses`.
    """
    return slot_statuses(
        session=session,
        study_assay=study_assay,
        animal=animal,
        footpads=[footpad],
        experimenter=experimenter,
    )[footpad]


def slot_statuses(
    *,
    session: MeasurementSession,
    study_assay: StudyAssay,
    animal: Animal,
    footpads: list[str],
    experimenter: str,
) -> dict[str, SlotStatus]:
    """:func:`slot_status` of several footpads of one animal, in one query (see
    :func:`_slot_numbers`)."""
    counts, n_animals, means = _slot_numbers(
        session=session, animal=animal, footpads=footpads, experimenter=experimenter
    )
    expected = n_animals * slots_per_animal(study_assay)
    entered = counts.get(experimenter, 0)
    if study_assay.double_entry:
        visible = bool(
            expected
            and entered >= expected
            and any(n >= expected for name, n in counts.items() if name != experimenter)
        )
    else:
        visible = True
    return {
        footpad: SlotStatus(
            footpad_mean=means.get(footpad),
            entered=entered,
            expected=expected,
            agreement_visible=visible,
        )
        for footpad in footpads
    }


def entry_of_slot(
    *,
    session: MeasurementSession,
    animal: Animal,
    footpad: str,
    application: int,
    experimenter: str,
) -> Entry | None:
    """One experimenter's entry in one slot, if any (for a conflict answer)."""
    return Entry.objects.filter(
        reading__session=session,
        reading__animal=animal,
        reading__footpad=footpad,
        reading__application=application,
        experimenter=experimenter,
    ).first()


@dataclass(frozen=True)
class EntryTarget:
    """Where a value is saved: a session, the study's settings of its assay, and the
    animal."""

    session: MeasurementSession
    study_assay: StudyAssay | None  # None: the study no longer measures the session's assay
    animal: Animal | None  # None: no such animal in the session's study
    role: str | None = None  # the user's role in the study, when asked for


def _entry_targets(animal_id: int, *related: str):
    """Sessions with the study's settings of their assay and the animal ``animal_id`` of their
    study (each None when there is none), and the ``related`` rows of the session, in one
    query: a value saved needs them all, read by the page and again in the save's
    transaction. Fetched with ``get`` (the session is unique), not ``first``, whose ordering
    costs Django as much to build as the rest of the query."""
    return (
        MeasurementSession.objects.annotate(
            assay_settings=FilteredRelation(
                "study__assays", condition=Q(study__assays__assay=F("assay"))
            ),
            target_animal=FilteredRelation(
                "study__animals", condition=Q(study__animals__pk=animal_id)
            ),
        )
        .select_related("assay_settings", "target_animal", *related)
        .order_by()
    )


def _settings_and_animal(session: MeasurementSession) -> tuple[StudyAssay | None, Animal | None]:
    # A filtered relation that matched no row leaves its attribute unset, not None.
    return getattr(session, "assay_settings", None), getattr(session, "target_animal", None)


def entry_target(*, study: Study, day: int, assay: str, animal_id: int) -> EntryTarget | None:
    """The study's session of ``day`` and ``assay`` with what a value saved into it for the
    animal ``animal_id`` needs (:class:`EntryTarget`), or None if the session is not open."""
    try:
        session = _entry_targets(animal_id).get(study=study, timepoint__day=day, assay=assay)
    except MeasurementSession.DoesNotExist:
        return None
    return EntryTarget(session, *_settings_and_animal(session))


def entry_target_get(*, session_id: int, animal_id: int, user) -> EntryTarget:
    """:func:`entry_target` of a session by id, with its study and ``user``'s role in the
    study (None for no user: a command run by the admin)."""
    sessions = _entry_targets(animal_id, "study")
    if user is not None:
        sessions = with_role(sessions, user=user, study="study__")
    session = sessions.get(pk=session_id)
    role = role_read(session, user=user) if user is not None else None
    return EntryTarget(session, *_settings_and_animal(session), role)


# ---------------------------------------------------------------------------------------------
# Progress


@dataclass
class ProgressRow:
    animal: Animal
    footpad: str
    expected: int
    by_experimenter: dict[str, int]
    states: dict[str, int]

    @property
    def verified(self) -> int:
        return self.states.get("verified", 0) + self.states.get("resolved", 0)

    @property
    def disputed(self) -> int:
        return self.states.get("disputed", 0)

    @property
    def waiting(self) -> int:
        return self.states.get("unverified", 0)

    @property
    def status(self) -> str:
        """done when every value counts, disputed when any is disputed, else partial/empty."""
        if self.disputed:
            return "disputed"
        if self.verified >= self.expected:
            return "verified"
        if any(self.by_experimenter.values()):
            return "partial"
        return "empty"


@dataclass
class SessionProgress:
    session: MeasurementSession
    study_assay: StudyAssay
    experimenters: list[str]
    rows: list[ProgressRow]

    def total(self, attr: str) -> int:
        return sum(getattr(r, attr) for r in self.rows)

    @property
    def expected(self) -> int:
        return self.total("expected")

    @property
    def verified(self) -> int:
        return self.total("verified")

    @property
    def disputed(self) -> int:
        return self.total("disputed")

    @property
    def waiting(self) -> int:
        return self.total("waiting")


def session_progress(*, session: MeasurementSession, study_assay: StudyAssay) -> SessionProgress:
    """Per animal and footpad: values entered by each experimenter, and readings verified
    (or resolved), disputed and waiting for a second entry. Counts only, never values, so it is
    safe to show to either experimenter before both are done.

    Three queries: animals, reading states and entries, both grouped in the database.
    """
    animals = session_animals(session=session)
    states: dict[tuple[int, str], dict[str, int]] = defaultdict(dict)
    for row in (
        Reading.objects.filter(session=session)
        .values("animal_id", "footpad", "state")
        .annotate(n=Count("id"))
        .order_by()
    ):
        states[(row["animal_id"], row["footpad"])][row["state"]] = row["n"]
    entered: dict[tuple[int, str], dict[str, int]] = defaultdict(dict)
    experimenters: set[str] = set()
    for row in (
        Entry.objects.filter(reading__session=session)
        .values("reading__animal_id", "reading__footpad", "experimenter")
        .annotate(n=Count("id"))
        .order_by()
    ):
        entered[(row["reading__animal_id"], row["reading__footpad"])][row["experimenter"]] = row[
            "n"
        ]
        experimenters.add(row["experimenter"])
    names = sorted(experimenters)
    rows = [
        ProgressRow(
            animal=animal,
            footpad=footpad,
            expected=study_assay.applications,
            by_experimenter={n: entered[(animal.id, footpad)].get(n, 0) for n in names},
            states=states[(animal.id, footpad)],
        )
        for animal in animals
        for footpad in slot_footpads(study_assay)
    ]
    return SessionProgress(session=session, study_assay=study_assay, experimenters=names, rows=rows)


# ---------------------------------------------------------------------------------------------
# Discrepancies


def discrepancy_list(
    *, study: Study, session: MeasurementSession | None = None, status: str | None = None
) -> list[Discrepancy]:
    """The study's discrepancies (optionally of one session or status), open ones first, each
    with its reading, animal, timepoint and every experimenter's entry prefetched so that both
    values can be shown side by side.

    Two queries: the discrepancies with their joins, and the entries.
    """
    qs = Discrepancy.objects.filter(reading__session__study=study)
    if session is not None:
        qs = qs.filter(reading__session=session)
    if status:
        qs = qs.filter(status=status)
    return list(
        qs.select_related("reading__animal", "reading__session__timepoint", "resolved_by")
        .prefetch_related(
            Prefetch("reading__entries", queryset=Entry.objects.order_by("experimenter"))
        )
        .order_by(
            "status",  # "open" sorts before "resolved"
            "reading__session__timepoint__day",
            "reading__session__assay",
            "reading__animal__code",
            "reading__footpad",
            "reading__application",
        )
    )


def discrepancy_get(*, study: Study, pk: int) -> Discrepancy | None:
    """One discrepancy of the study, or None (another study's is not found)."""
    return (
        Discrepancy.objects.select_related("reading__session__timepoint", "reading__animal")
        .filter(reading__session__study=study, pk=pk)
        .first()
    )
