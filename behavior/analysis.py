"""The statistics service: readings from the database into ``stats.py``, results out.

Selectors here read a study in a fixed number of queries, whatever its size: readings come out
with one ``values_list`` query into a long DataFrame (never model instances), and everything
after that is pure pandas in :mod:`behavior.stats`. The statistics document of interchange.md
section 3 is built here for the ``study_stats`` command, the stats API and the dashboard alike.

Blinding is decided by the caller (``studies.access.sees_allocation``): it passes
``group_labels``, a mapping from group code to coded label, and every group in the results is
then named by its coded label only.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from django.db import connection
from django.db.models import Count

from behavior import stats
from behavior.forms_dashboard import FOOTPADS, StatsOptions
from behavior.models import FootpadSummary, MeasurementSession, Reading
from studies.models import (
    ASSAY_UNITS,
    Agent,
    Animal,
    BodyWeight,
    Comparison,
    DoseRecord,
    DosingSchedule,
    Study,
    StudyAssay,
    Timepoint,
    TreatmentGroup,
)

READINGS_COLUMNS = [*stats.READING_COLUMNS, "animal_status"]
REASON_ANIMAL_EXCLUDED = "animal excluded from the study"
Y_TITLES = {
    "von_frey": "Paw withdrawal threshold (g)",
    "hot_plate": "Latency (s)",
}
Y_TITLES_PERCENT = {
    "von_frey": "Paw withdrawal threshold (% of baseline)",
    "hot_plate": "Latency (% of baseline)",
}


# --------------------------------------------------------------------------------------------
# Reading the database
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GroupInfo:
    code: str
    name: str
    colour: str
    blind_label: str
    control: bool


@dataclass(frozen=True)
class StudyDesign:
    """What the statistics need besides the readings: four queries, whatever the study's size."""

    study: Study
    assays: dict[str, StudyAssay]
    groups: list[GroupInfo]
    timepoints: list[tuple[str, int]]
    comparisons: list[dict[str, str]] = field(default_factory=list)

    @property
    def baseline_day(self) -> int | None:
        """The earliest timepoint is the baseline each animal's values are a percentage of."""
        return self.timepoints[0][1] if self.timepoints else None


# The reads of a study's design and state that every dashboard view makes are written in SQL:
# each is a fixed statement of a handful of rows, and Django spent several times as long
# building and compiling their querysets as the database spent answering them (at 200 animals
# these reads took a quarter of the page on PostgreSQL). Tables and relations are those of the
# models; the tests of these selectors compare them with the ORM.


def _tables(model, *related) -> list[str]:
    """The quoted table names of ``model`` and ``related`` models, for a statement."""
    return [connection.ops.quote_name(m._meta.db_table) for m in (model, *related)]


def _fetch(statement: str, params) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall()


def _fetch_binary(statement: str, params) -> list[tuple]:
    """:func:`_fetch` of numbers, bytes and text, on PostgreSQL with the result in binary
    format: numbers arrive as numbers and bytes as bytes, instead of text to parse or hex
    digits to decode (the footpad summaries, packed, are 300 kB at 200 animals).

    Only for columns of numbers, bytes and text: Django sets its loaders of JSON and timestamps
    for the text format alone. The cursor binds its parameters on the server (Django's binds
    them on the client), so the statement is logged with ``$1, $2, ...`` rather than the
    values; it is wrapped as Django wraps its own, so that the query is logged, counted and
    its errors translated."""
    if connection.vendor != "postgresql":
        return _fetch(statement, params)
    from django.db.backends.postgresql.psycopg_any import is_psycopg3

    if not is_psycopg3:  # psycopg2 has no binary results
        return _fetch(statement, params)
    import psycopg
    from django.db.backends.utils import CursorDebugWrapper, CursorWrapper

    connection.validate_thread_sharing()
    connection.ensure_connection()
    raw = psycopg.Cursor(connection.connection)
    raw.format = psycopg.pq.Format.BINARY
    wrapper = CursorDebugWrapper if connection.queries_logged else CursorWrapper
    with wrapper(raw, connection) as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall()


def study_design(*, study: Study) -> StudyDesign:
    """The study's assays, groups, timepoints and comparisons (four queries)."""
    study_assay, group, timepoint, comparison = _tables(
        StudyAssay, TreatmentGroup, Timepoint, Comparison
    )
    order = connection.ops.quote_name("order")
    # A RawQuerySet converts each column as its field does (the footpads' JSON, for one).
    assays = {
        row.assay: row
        for row in StudyAssay.objects.raw(
            f"SELECT * FROM {study_assay} WHERE study_id = %s", [study.pk]
        )
    }
    groups = [
        GroupInfo(code, name, colour, blind_label, control)
        for code, name, colour, blind_label, control in _fetch(
            f"SELECT code, name, colour, blind_label, control FROM {group} "
            f"WHERE study_id = %s ORDER BY {order}, code",
            [study.pk],
        )
    ]
    timepoints = _fetch(
        f"SELECT label, day FROM {timepoint} WHERE study_id = %s ORDER BY day", [study.pk]
    )
    comparisons = [
        {"reference": reference, "group": compared, "symbol": symbol}
        for reference, compared, symbol in _fetch(
            f"SELECT r.code, g.code, c.symbol FROM {comparison} c "
            f"JOIN {group} r ON r.id = c.reference_id JOIN {group} g ON g.id = c.group_id "
            f"WHERE c.study_id = %s ORDER BY c.{order}, c.id",
            [study.pk],
        )
    ]
    return StudyDesign(
        study=study, assays=assays, groups=groups, timepoints=timepoints, comparisons=comparisons
    )


def _readings_query(*, study: Study):
    return (
        Reading.objects.filter(session__study=study, animal__group__isnull=False)
        # A fixed order: what is listed by first appearance (left out, dropped) must not
        # depend on the database's plan.
        .order_by("animal__code", "session__timepoint__day", "footpad", "application")
        .values_list(
            "assay",
            "animal__code",
            "animal__group__code",
            "session__timepoint__label",
            "session__timepoint__day",
            "footpad",
            "application",
            "value",
            "state",
            "animal__status",
        )
    )


def _frame(rows) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(rows, columns=READINGS_COLUMNS)
    frame["value"] = frame["value"].astype("float64")
    return frame


def readings_frame(*, study: Study, assay: str) -> pd.DataFrame:
    """One assay's readings of the study as the long frame ``stats.py`` takes (one query).

    Columns ``animal, group, timepoint, day, footpad, application, value, state`` (animal and
    group codes, the timepoint's label and day) plus ``animal_status``. Animals not yet
    allocated to a group have nothing to contribute and are left out. Group codes are real
    codes: a caller showing them to someone who may not see the allocation must code them.
    """
    rows = [row[1:] for row in _readings_query(study=study).filter(assay=assay)]
    return _frame(rows)


def readings_frames(*, study: Study, assays) -> dict[str, pd.DataFrame]:
    """The readings of several assays at once (one query), as :func:`readings_frame` each."""
    by_assay: dict[str, list] = {assay: [] for assay in assays}
    for row in _readings_query(study=study).filter(assay__in=list(assays)):
        by_assay[row[0]].append(row[1:])
    return {assay: _frame(rows) for assay, rows in by_assay.items()}


# Slot counts per state that a footpad frame carries, in ``stats.STATES`` order.
STATE_COUNT_COLUMNS = ("n_verified", "n_resolved", "n_unverified", "n_disputed")
FOOTPAD_COLUMNS = [*READINGS_COLUMNS, *STATE_COUNT_COLUMNS]


def study_animals(*, study: Study) -> list[tuple[int, str, str | None, str, int]]:
    """Every animal of the study as ``(pk, code, group code or None, status, summaries
    revision)``, by pk (one query): for :func:`footpad_frames`, :func:`animals_by_group` and
    :func:`statistics_key` on one page."""
    animal, group = _tables(Animal, TreatmentGroup)
    return sorted(
        _fetch(
            f"SELECT a.id, a.code, g.code, a.status, a.summaries_revision FROM {animal} a "
            f"LEFT JOIN {group} g ON g.id = a.group_id WHERE a.study_id = %s",
            [study.pk],
        )
    )


def study_sessions(*, study: Study, assays) -> list[tuple[int, str, str, int]]:
    """The study's sessions of ``assays`` as ``(pk, assay, timepoint label, day)``, by pk (one
    query, none without assays): for :func:`footpad_frames` and :func:`statistics_key`."""
    assays = list(assays)
    if not assays:
        return []
    session, timepoint = _tables(MeasurementSession, Timepoint)
    return sorted(
        _fetch(
            f"SELECT s.id, s.assay, t.label, t.day FROM {session} s "
            f"JOIN {timepoint} t ON t.id = s.timepoint_id "
            f"WHERE s.study_id = %s AND s.assay IN ({', '.join(['%s'] * len(assays))})",
            [study.pk, *assays],
        )
    )


def statistics_key(
    *, design: StudyDesign, animals: list[tuple], sessions: list[tuple], extra=()
) -> str:
    """A key that changes whenever statistics computed from the study's footpad summaries
    could: with its design, its animals (group, status) and their summaries' revisions (renewed
    in every transaction that rewrites an animal's summaries), its sessions, and ``extra`` (the
    options, the viewer's blinding).

    ``animals`` as :func:`study_animals` lists them and ``sessions`` as :func:`study_sessions`,
    both read before the summaries: a summary written after them can only make the entry
    stored under this key newer than the key says, never older.
    """
    assays = [
        (name, [(f.attname, getattr(row, f.attname)) for f in row._meta.concrete_fields])
        for name, row in sorted(design.assays.items())
    ]
    described = (
        design.study.pk,
        design.study.slug,
        assays,
        design.groups,
        design.timepoints,
        design.comparisons,
        animals,
        sessions,
        extra,
    )
    return hashlib.sha256(repr(described).encode()).hexdigest()


def footpad_frames(
    *,
    study: Study,
    assays,
    animals: list[tuple] | None = None,
    sessions: list[tuple] | None = None,
) -> dict[str, pd.DataFrame]:
    """The readings of several assays reduced to one row per footpad (von Frey) or per
    animal's trials (hot plate) and session, from the stored summaries
    (:mod:`behavior.summaries`): three queries.

    Each row is what :func:`stats.animal_values` makes of the slots under it, so the
    statistics are those of :func:`readings_frame`: ``value`` is the mean of the slots' values
    (NULL when any slot has none), ``state`` the slots' worst (``disputed``, then
    ``unverified``, else ``verified``), ``application`` 0 for "all of them". The
    ``n_<state>`` columns count the slots in each state, for the completeness table. A large
    study has ten or twenty times fewer rows to carry into pandas than slots.

    The summaries are read without joins, their sessions and animals looked up in two small
    queries (none if ``animals`` and ``sessions`` are given, as :func:`study_animals` and
    :func:`study_sessions` list them): joining four tables for every row costs more than the
    rest of the read. The summary rows go into columns without a Python step per row: at 200
    animals a loop over them cost as much as the statistics. Rows are in the order of
    :func:`readings_frame` (animal code, day, footpad).
    """
    assays = list(assays)
    if sessions is None:
        sessions = study_sessions(study=study, assays=assays)
    if animals is None:
        animals = study_animals(study=study)
    animals = sorted(row for row in animals if row[2] is not None)
    if not sessions:
        return {assay: _empty_footpad_frame() for assay in assays}
    session_ids, animal_ids, footpad, value, slots, resolved, unverified, disputed = (
        _summary_columns([pk for pk, *_ in sessions])
    )
    if not session_ids.size or not animals:
        return {assay: _empty_footpad_frame() for assay in assays}

    # Sessions and animals by position in their sorted ids; an animal not found is not
    # allocated to a group and has nothing to contribute.
    session_pks = np.array([row[0] for row in sessions], dtype=np.int64)
    of_session = np.searchsorted(session_pks, session_ids)
    animal_pks = np.array([row[0] for row in animals], dtype=np.int64)
    of_animal = np.minimum(np.searchsorted(animal_pks, animal_ids), len(animal_pks) - 1)
    keep = animal_pks[of_animal] == animal_ids

    def looked_up(table_rows, index, position, dtype=object):
        return np.array([row[position] for row in table_rows], dtype=dtype)[index]

    code = looked_up(animals, of_animal, 1)
    day = looked_up(sessions, of_session, 3, np.int64)
    worst = np.where(disputed > 0, 2, np.where(unverified > 0, 1, 0))
    data = {
        "animal": code,
        "group": looked_up(animals, of_animal, 2),
        "timepoint": looked_up(sessions, of_session, 2),
        "day": day,
        "footpad": footpad,
        "application": np.zeros(session_ids.size, dtype=np.int64),
        "value": value,
        "state": _WORST_STATES[worst],
        "animal_status": looked_up(animals, of_animal, 3),
        "n_verified": slots - resolved - unverified - disputed,
        "n_resolved": resolved,
        "n_unverified": unverified,
        "n_disputed": disputed,
    }
    assay_of_row = looked_up(sessions, of_session, 1)
    # Sorted on integer keys: an animal's rank by code, a footpad's by name.
    code_rank = np.empty(len(animals), dtype=np.int64)
    code_rank[np.argsort(np.array([row[1] for row in animals], dtype=object), kind="stable")] = (
        np.arange(len(animals))
    )
    footpad_rank, _ = pd.factorize(footpad, sort=True)
    order = np.lexsort((footpad_rank, day, code_rank[of_animal]))
    order = order[keep[order]]
    frames = {}
    for assay in assays:
        chosen = order[assay_of_row[order] == assay]
        frames[assay] = _typed_frame({name: column[chosen] for name, column in data.items()})
    return frames


# A footpad's state as the statistics see it, by the worst of its slots (see footpad_frames).
_WORST_STATES = np.array(["verified", "unverified", "disputed"], dtype=object)


def _summary_columns(session_ids: list[int]) -> tuple[np.ndarray, ...]:
    """The footpad summaries of the sessions as columns: session id, animal id, footpad, the
    footpad's value (NaN unless every slot has one), slots, and slots resolved, unverified and
    disputed (one query, without joins)."""
    if connection.vendor == "postgresql":
        return _summary_columns_packed(session_ids)
    table = connection.ops.quote_name(FootpadSummary._meta.db_table)
    rows = _fetch(
        "SELECT session_id, animal_id, footpad, CASE WHEN with_value = slots THEN mean END, "
        f"slots, n_resolved, n_unverified, n_disputed FROM {table} "
        f"WHERE session_id IN ({', '.join(['%s'] * len(session_ids))})",
        session_ids,
    )
    if not rows:
        return _no_summary_columns()
    # NULL as NaN for the value, the one column that may be NULL.
    return tuple(
        np.array(column, dtype=dtype)
        for column, dtype in zip(zip(*rows, strict=True), _SUMMARY_DTYPES, strict=True)
    )


_SUMMARY_DTYPES = (np.int64, np.int64, object, np.float64, np.int64, np.int64, np.int64, np.int64)


def _no_summary_columns() -> tuple[np.ndarray, ...]:
    return tuple(np.array([], dtype=dtype) for dtype in _SUMMARY_DTYPES)


def _summary_columns_packed(session_ids: list[int]) -> tuple[np.ndarray, ...]:
    """:func:`_summary_columns` on PostgreSQL: each column comes packed into one value, the
    numbers in their binary forms end to end (``int8send`` of the ids, ``float8send`` of the
    value, ``int4send`` of the counts), the footpads joined by commas, so that the answer is
    one row that NumPy reads without a Python object per value. Sent as 4,800 rows of eight
    columns (200 animals), the same numbers took five times as long to arrive (3 to 4 ms,
    text or binary, rows or COPY) as to find (0.6 ms): the server's and the client's work per
    row and value. Packed, the whole read takes half the time it took as rows.

    The aggregates of one ``SELECT`` are fed the same rows in the same order (in a parallel
    plan, each worker's part of every column is combined with the others as one), so the
    columns line up row for row; their order among rows does not matter: the caller sorts. A
    footpad never holds a comma (its choices), and the lengths are checked all the same. A
    value that is NULL goes as NaN, never skipped: ``string_agg`` leaves NULLs out."""
    table = connection.ops.quote_name(FootpadSummary._meta.db_table)
    (packed,) = _fetch_binary(
        "SELECT string_agg(int8send(session_id), ''), string_agg(int8send(animal_id), ''), "
        "string_agg(footpad, ','), "
        "string_agg(float8send(COALESCE(CASE WHEN with_value = slots THEN mean END, 'NaN')), ''), "
        "string_agg(int4send(slots), ''), string_agg(int4send(n_resolved), ''), "
        "string_agg(int4send(n_unverified), ''), string_agg(int4send(n_disputed), '') "
        f"FROM {table} WHERE session_id = ANY(%s)",
        [list(session_ids)],
    )
    if packed[0] is None:  # no rows: each aggregate is NULL
        return _no_summary_columns()
    columns = (
        *(np.frombuffer(packed[p], dtype=">i8").astype(np.int64) for p in (0, 1)),
        np.array(packed[2].split(","), dtype=object),
        np.frombuffer(packed[3], dtype=">f8").astype(np.float64),
        *(np.frombuffer(packed[p], dtype=">i4").astype(np.int64) for p in range(4, 8)),
    )
    if len({column.size for column in columns}) != 1:
        raise RuntimeError("The footpad summaries' columns came back of different lengths.")
    return columns


_INT_COLUMNS = frozenset({"day", "application", *STATE_COUNT_COLUMNS})


def _typed_frame(columns: dict[str, np.ndarray]) -> pd.DataFrame:
    """Columns of ``FOOTPAD_COLUMNS`` as a frame: integers, the float value, text as ``str``."""
    data = {
        name: (column if name in _INT_COLUMNS or name == "value" else pd.array(column, dtype="str"))
        for name, column in columns.items()
    }
    return pd.DataFrame(data, copy=False)


def _empty_footpad_frame() -> pd.DataFrame:
    return _typed_frame(
        {
            name: np.array(
                [],
                dtype=np.int64
                if name in _INT_COLUMNS
                else np.float64
                if name == "value"
                else object,
            )
            for name in FOOTPAD_COLUMNS
        }
    )


def footpad_frame(*, study: Study, assay: str) -> pd.DataFrame:
    """One assay's :func:`footpad_frames` (three queries)."""
    return footpad_frames(study=study, assays=[assay])[assay]


def _state_counts(frame: pd.DataFrame) -> list[tuple[int, str, int]]:
    """Value slots per day and state, ``(day, state, n)`` for each state a day has, of a
    readings or a footpad frame."""
    if STATE_COUNT_COLUMNS[0] not in frame.columns:
        sizes = frame.groupby(["day", "state"]).size()
        return [(int(day), state, int(n)) for (day, state), n in sizes.items()]
    columns = ["day", *STATE_COUNT_COLUMNS]
    if all(frame[column].dtype == np.int64 for column in columns):
        # A footpad frame as footpad_frames makes it: sums by day without a groupby (the
        # float sums of counts are exact).
        day_of_row, days = pd.factorize(frame["day"].to_numpy(), sort=True)
        by_day = np.column_stack(
            [
                np.bincount(day_of_row, weights=frame[column].to_numpy(), minlength=len(days))
                for column in STATE_COUNT_COLUMNS
            ]
        ).astype(np.int64)
    else:
        sums = frame.groupby("day")[list(STATE_COUNT_COLUMNS)].sum()
        days, by_day = sums.index, sums.itertuples(index=False)
    return [
        (int(day), state, int(n))
        for day, day_counts in zip(days, by_day, strict=True)
        for state, n in zip(stats.STATES, day_counts, strict=True)
        if n
    ]


# --------------------------------------------------------------------------------------------
# Statistics of one assay
# --------------------------------------------------------------------------------------------


@dataclass
class AssayStatistics:
    """Everything computed for one assay; group names are display labels (coded if blinded)."""

    assay: str
    unit: str
    options: StatsOptions
    values: pd.DataFrame  # animal, group, timepoint, day, value (the outcome analysed)
    summary: pd.DataFrame
    comparisons: pd.DataFrame
    excluded: pd.DataFrame  # animal, day, footpad, reason
    dropped: pd.DataFrame  # animal, reason: left out of % of baseline
    group_order: list[str]
    comparison_specs: list[dict[str, str]]
    counts: list[tuple[int, str, int]]  # (day, state, n): value slots per timepoint and state
    baseline_day: int | None = None


def _by_day_animal_footpad(excluded: pd.DataFrame) -> pd.DataFrame:
    """The excluded rows sorted by day, animal and footpad, ties in their order (a stable sort,
    as ``sort_values(kind="mergesort")``); a frame already in that order is returned as it is.
    A handful of rows, mostly: sorted as Python tuples rather than by pandas."""
    keys = list(
        zip(
            excluded["day"].tolist(),
            excluded["animal"].tolist(),
            excluded["footpad"].tolist(),
            strict=True,
        )
    )
    order = sorted(range(len(keys)), key=keys.__getitem__)
    if order == list(range(len(keys))):
        return excluded
    return excluded.take(order).reset_index(drop=True)


def display_labels(*, design: StudyDesign, blinded_view: bool) -> dict[str, str]:
    """Group code to the label shown: the code itself, or the coded label when blinded."""
    if blinded_view:
        return {group.code: group.blind_label for group in design.groups}
    return {group.code: group.code for group in design.groups}


def assay_statistics(
    *,
    design: StudyDesign,
    frame: pd.DataFrame,
    assay: str,
    options: StatsOptions,
    group_labels: Mapping[str, str] | None = None,
) -> AssayStatistics:
    """Run the statistics of one assay on its readings frame, or its footpad frame (the same
    numbers from fewer rows), with no queries.

    ``group_labels`` maps group codes to the labels to show (coded labels for a blinded
    viewer); groups are then ordered by label, so that the order does not reveal the control.
    """
    labels = dict(group_labels) if group_labels else {g.code: g.code for g in design.groups}
    if group_labels:
        group_order = sorted(labels[g.code] for g in design.groups)
    else:
        group_order = [g.code for g in design.groups]
    comparison_specs = [
        {
            "reference": labels.get(c["reference"], c["reference"]),
            "group": labels.get(c["group"], c["group"]),
            "symbol": c["symbol"],
        }
        for c in design.comparisons
    ]

    if group_labels:
        # A study has a handful of group codes: map each once rather than each row.
        coded = {code: labels.get(code, code) for code in frame["group"].unique()}
        frame = frame.assign(group=frame["group"].map(coded))
    is_out = frame["animal_status"].to_numpy() == Animal.Status.EXCLUDED
    left_out = None
    if is_out.any():
        left_out = frame.loc[is_out, ["animal", "day", "footpad"]].drop_duplicates()
        if assay != "von_frey":
            left_out = left_out.assign(footpad="").drop_duplicates()
        left_out = left_out.assign(reason=REASON_ANIMAL_EXCLUDED)
        frame = frame.loc[~is_out]
    counts = _state_counts(frame)

    values, excluded = stats.animal_values(
        frame,
        assay=assay,
        footpads=FOOTPADS[options.footpads],
        include_unverified=options.include_unverified,
    )
    if left_out is not None:
        excluded = pd.concat([excluded, left_out], ignore_index=True)
    excluded = _by_day_animal_footpad(excluded)

    unit = ASSAY_UNITS[assay]
    dropped = pd.DataFrame(columns=["animal", "reason"])
    baseline_day = design.baseline_day
    if options.outcome == "percent_baseline":
        unit = "%"
        if baseline_day is not None:
            values, dropped_by_group = stats.percent_of_baseline(values, baseline_day=baseline_day)
            # The group of an animal stays out of the document: a blinded reader must not be
            # able to tie animals to (coded) groups.
            dropped = dropped_by_group.loc[:, ["animal", "reason"]]

    summary, results = stats.summary_and_comparisons(
        values,
        comparison_specs,
        group_order=group_order,
        test=options.test,
        correction=options.correction,
    )
    return AssayStatistics(
        assay=assay,
        unit=unit,
        options=options,
        values=values,
        summary=summary,
        comparisons=results,
        excluded=excluded,
        dropped=dropped,
        group_order=group_order,
        comparison_specs=comparison_specs,
        counts=counts,
        baseline_day=baseline_day if options.outcome == "percent_baseline" else None,
    )


def stats_document_from(*, design: StudyDesign, result: AssayStatistics) -> dict:
    """The interchange.md section 3 document of computed statistics, plus additions."""
    options = result.options
    document = {
        "study": design.study.slug,
        "assay": result.assay,
        "unit": result.unit,
        "test": options.test,
        "summary": stats.to_records(result.summary),
        "comparisons": stats.to_records(result.comparisons),
        "excluded": stats.to_records(result.excluded),
        # Additions: everything needed to reproduce the numbers above.
        "correction": options.correction,
        "outcome": options.outcome,
        "footpads": list(FOOTPADS[options.footpads]) if result.assay == "von_frey" else [],
        "include_unverified": options.include_unverified,
        "groups": result.group_order,
        "symbols": result.comparison_specs,
    }
    if options.outcome == "percent_baseline":
        document["baseline_day"] = result.baseline_day
        document["dropped"] = stats.to_records(result.dropped)
    return document


def study_stats_document(
    *,
    study: Study,
    assay: str,
    test: str = "student",
    correction: str = "none",
    outcome: str = "raw",
    footpads: str = "both",
    include_unverified: bool = False,
    group_labels: Mapping[str, str] | None = None,
) -> dict:
    """The statistics document of one assay of a study (interchange.md section 3).

    Keys ``study, assay, unit, test, summary, comparisons, excluded`` exactly as the contract
    fixes them (numbers unrounded, NaN as None, markers from the study's comparison symbols),
    plus ``correction``, ``outcome``, ``footpads``, ``include_unverified``, ``groups``,
    ``symbols`` and, for the percentage of baseline, ``baseline_day`` and ``dropped``.
    Comparison rows carry the adjusted P, the CI of the difference and Hedges' g with its CI.

    Seven queries whatever the study's size. Raises ``ValueError`` naming the option for an
    assay the study does not have or an unknown option.
    """
    options = StatsOptions(
        test=test,
        correction=correction,
        outcome=outcome,
        footpads=footpads,
        include_unverified=include_unverified,
    )
    _check_options(options)
    design = study_design(study=study)
    if assay not in design.assays:
        raise ValueError(
            f"assay: {assay} is not an assay of study {study.slug}; it has "
            f"{', '.join(design.assays) or 'none'}."
        )
    result = assay_statistics(
        design=design,
        frame=footpad_frame(study=study, assay=assay),
        assay=assay,
        options=options,
        group_labels=group_labels,
    )
    return stats_document_from(design=design, result=result)


def _check_options(options: StatsOptions) -> None:
    allowed = {
        "test": stats.TESTS,
        "correction": stats.CORRECTIONS,
        "outcome": ("raw", "percent_baseline"),
        "footpads": tuple(FOOTPADS),
    }
    for name, choices in allowed.items():
        if getattr(options, name) not in choices:
            raise ValueError(
                f"{name}: {getattr(options, name)!r} is not one of {', '.join(choices)}."
            )


# --------------------------------------------------------------------------------------------
# Group x time models, for the dashboard
# --------------------------------------------------------------------------------------------


@dataclass
class GroupTimeModels:
    mixed: stats.MixedModelResult | None
    mixed_problem: str
    anova: pd.DataFrame | None
    anova_problem: str


def group_time_models(result: AssayStatistics) -> GroupTimeModels:
    """The mixed model and, where every animal has every day, the repeated-measures ANOVA.

    Either may be impossible for the data at hand; the reason is returned instead, in words.
    """
    mixed = anova = None
    mixed_problem = anova_problem = ""
    if result.values.empty:
        reason = "No counted values yet."
        return GroupTimeModels(None, reason, None, reason)
    try:
        mixed = stats.mixed_model(result.values, group_order=result.group_order)
    except (ValueError, ArithmeticError, np.linalg.LinAlgError) as error:
        mixed_problem = str(error)
    try:
        anova = stats.rm_anova(result.values, group_order=result.group_order)
    except (ValueError, ArithmeticError) as error:
        anova_problem = str(error)
    return GroupTimeModels(mixed, mixed_problem, anova, anova_problem)


# --------------------------------------------------------------------------------------------
# The rest of the dashboard: animals, weights, doses, completeness
# --------------------------------------------------------------------------------------------


def animals_by_group(
    *, study: Study, animals: list[tuple] | None = None
) -> dict[str | None, dict[str, int]]:
    """Counts of animals per group code and status (one query, none if ``animals`` are
    given as :func:`study_animals` lists them)."""
    counts: dict[str | None, dict[str, int]] = {}
    if animals is not None:
        for _, _, group, status, *_ in animals:
            by_status = counts.setdefault(group, {})
            by_status[status] = by_status.get(status, 0) + 1
        return counts
    rows = (
        Animal.objects.filter(study=study)
        .order_by()
        .values_list("group__code", "status")
        .annotate(n=Count("id"))
    )
    for group, status, n in rows:
        counts.setdefault(group, {})[status] = n
    return counts


def body_weight_values(
    *, study: Study, group_labels: Mapping[str, str] | None = None
) -> pd.DataFrame:
    """Body weights as a values frame (``animal, group, timepoint, day, value``; one query).

    The day counts from day 0 of the study, or from the first weighing when day 0 is not set.
    """
    weight, animal, group = _tables(BodyWeight, Animal, TreatmentGroup)
    rows = _fetch(
        f"SELECT a.code, g.code, w.date, w.grams FROM {weight} w "
        f"JOIN {animal} a ON a.id = w.animal_id JOIN {group} g ON g.id = a.group_id "
        "WHERE a.study_id = %s AND a.status <> %s ORDER BY w.date, a.code",
        [study.pk, Animal.Status.EXCLUDED],
    )
    if not rows:
        return pd.DataFrame(columns=list(stats.VALUE_COLUMNS))
    frame = pd.DataFrame.from_records(rows, columns=["animal", "group", "date", "value"])
    origin = study.day0 or min(frame["date"])
    frame["day"] = [(date - origin).days for date in frame["date"]]
    frame["timepoint"] = [f"day {day}" for day in frame["day"]]
    if group_labels:
        frame["group"] = frame["group"].map(lambda code: group_labels.get(code, code))
    frame["value"] = frame["value"].astype("float64")
    return frame.loc[:, list(stats.VALUE_COLUMNS)]


@dataclass
class DoseProgress:
    label: str  # "VEH: paclitaxel 1 mg/kg ip", or "All doses" for a blinded view
    due: int
    given: int
    missed: int

    @property
    def outstanding(self) -> int:
        return max(self.due - self.given - self.missed, 0)


def dose_progress(
    *, study: Study, today: dt.date, active_per_group: Mapping[str, int], blinded_view: bool
) -> list[DoseProgress]:
    """Doses due so far (by day 0 and today) against doses recorded (one query).

    Due doses are each schedule's days up to today times the group's active animals. Without
    day 0 every scheduled dose counts as due. A blinded view gets one total: schedules by
    group would reveal which coded group receives which agent.
    """
    today_day = (today - study.day0).days if study.day0 else None
    schedule, group, agent, record = _tables(DosingSchedule, TreatmentGroup, Agent, DoseRecord)
    order = connection.ops.quote_name("order")
    counted = f"(SELECT COUNT(*) FROM {record} r WHERE r.schedule_id = s.id AND r.status = %s)"
    schedules = [
        # The days come as JSON text from both databases (Django reads jsonb as text).
        (*row[:5], json.loads(row[5]), *row[6:])
        for row in _fetch(
            f"SELECT g.code, ag.name, s.dose, s.unit, s.route, s.days, {counted}, {counted} "
            f"FROM {schedule} s JOIN {group} g ON g.id = s.group_id "
            f"JOIN {agent} ag ON ag.id = s.agent_id "
            f"WHERE s.study_id = %s ORDER BY g.{order}, ag.name",
            [DoseRecord.Status.GIVEN, DoseRecord.Status.MISSED, study.pk],
        )
    ]
    rows = []
    for group, agent, dose, unit, route, days, given, missed in schedules:
        due_days = [d for d in days or [] if today_day is None or d <= today_day]
        rows.append(
            DoseProgress(
                label=f"{group}: {agent} {dose:g} {unit} {route}",
                due=len(due_days) * active_per_group.get(group, 0),
                given=given,
                missed=missed,
            )
        )
    if blinded_view and rows:
        return [
            DoseProgress(
                label="All doses",
                due=sum(r.due for r in rows),
                given=sum(r.given for r in rows),
                missed=sum(r.missed for r in rows),
            )
        ]
    return rows


@dataclass
class CompletenessRow:
    timepoint: str
    day: int
    expected: int
    counted: int
    unverified: int
    disputed: int

    @property
    def missing(self) -> int:
        return max(self.expected - self.counted - self.unverified - self.disputed, 0)

    @property
    def percent(self) -> float:
        return 100.0 * self.counted / self.expected if self.expected else math.nan


def completeness(
    *, design: StudyDesign, result: AssayStatistics, active_animals: int
) -> list[CompletenessRow]:
    """Value slots per timepoint: expected (active allocated animals x footpads x
    applications), counted, waiting for a second entry, in an open discrepancy (no queries)."""
    settings = design.assays[result.assay]
    footpads = max(len(settings.footpads or []), 1) if result.assay == "von_frey" else 1
    expected = active_animals * footpads * settings.applications
    by_day: dict[int, dict[str, int]] = {}
    for day, state, n in result.counts:
        by_day.setdefault(day, {})[state] = n
    rows = []
    for label, day in design.timepoints:
        states = by_day.get(day, {})
        rows.append(
            CompletenessRow(
                timepoint=label,
                day=day,
                expected=expected,
                counted=states.get("verified", 0) + states.get("resolved", 0),
                unverified=states.get("unverified", 0),
                disputed=states.get("disputed", 0),
            )
        )
    return rows
