"""Statistics for behavioural readings: a long-format DataFrame in, tidy DataFrames out.

This module is pure: it imports pandas, NumPy, SciPy and statsmodels, never Django. A selector
turns querysets into the readings frame described below; everything after that happens here and
can be tested without a database. The JSON document of ``study_stats`` and of the stats API is
built by :func:`stats_document` (interchange.md, section 3).

Pipeline
--------
1. :func:`animal_values` reduces readings (one row per value slot) to one value per animal and
   timepoint, and lists what it left out and why. The animal is the unit of analysis.
2. :func:`describe` gives n, mean, SD and SEM per group and timepoint.
3. :func:`compare` runs the study's comparisons (two-sample t-tests) at every timepoint.
4. Alternatives: :func:`percent_of_baseline`, :func:`area_under_curve`, :func:`mixed_model`
   (group x time, tolerates missing timepoints), :func:`rm_anova` (group x time, complete data),
   :func:`rm_anova2`, :func:`one_way_anova` and :func:`holm`.

Readings frame
--------------
``animal`` (str), ``group`` (str), ``timepoint`` (str), ``day`` (int), ``footpad`` ("left" or
"right" for von Frey, "" for hot plate), ``application`` (int; trial number for hot plate),
``value`` (float, NaN while nothing is agreed), ``state`` ("verified", "resolved",
"unverified" or "disputed").

Values frame
------------
``animal``, ``group``, ``timepoint``, ``day``, ``value``: one row per animal and day.

Missing and undefined values
----------------------------
Each kind of gap is handled in exactly one place:

* In readings, a slot that does not count (open discrepancy, not verified, or no value) removes
  its whole footpad (von Frey) or the animal's trials (hot plate) for that day; this happens in
  :func:`animal_values`, which lists every such removal in its ``excluded`` frame.
* In a values frame, a NaN ``value`` means "no value for this animal on this day"; such rows are
  dropped by ``_observed``, which every function taking a values frame calls first.
* Quantities that are undefined (the SD of one animal, a t statistic with fewer than two animals
  or without variance) are NaN in the frames, with the reason stated where a reader sees it
  (``marker`` in comparisons). :func:`to_records` turns every NaN into ``None`` for JSON.

No function rounds: numbers are returned at full double precision.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from scipy import linalg, special, stats

__all__ = [
    "ASSAYS",
    "COMPARISON_COLUMNS",
    "EXCLUDED_COLUMNS",
    "SUMMARY_COLUMNS",
    "VALUE_COLUMNS",
    "MixedModelResult",
    "animal_values",
    "area_under_curve",
    "compare",
    "describe",
    "hedges_g",
    "holm",
    "mixed_model",
    "one_way_anova",
    "percent_of_baseline",
    "rm_anova",
    "rm_anova2",
    "stats_document",
    "summary_and_comparisons",
    "to_records",
]

VON_FREY = "von_frey"
HOT_PLATE = "hot_plate"
ASSAYS = (VON_FREY, HOT_PLATE)
UNITS = {VON_FREY: "g", HOT_PLATE: "s"}
FOOTPADS = ("left", "right")

STATES = ("verified", "resolved", "unverified", "disputed")
COUNTED_STATES = frozenset({"verified", "resolved"})

REASON_OPEN_DISCREPANCY = "open discrepancy"
REASON_NOT_VERIFIED = "not verified"
REASON_NO_VALUE = "no value"
# When a footpad has several problems, the one a person must act on first is reported.
_REASON_RANK = {REASON_NO_VALUE: 1, REASON_NOT_VERIFIED: 2, REASON_OPEN_DISCREPANCY: 3}
_RANK_REASON = {rank: reason for reason, rank in _REASON_RANK.items()}

TESTS = ("student", "welch")
CORRECTIONS = ("none", "holm")
MARKER_NOT_SIGNIFICANT = "n.s."
MARKER_TOO_FEW = "n < 2"
MARKER_NO_VARIANCE = "no variance"
ALPHA = 0.05
ALPHA_STRONG = 0.01
CONFIDENCE = 0.95

READING_COLUMNS = (
    "animal",
    "group",
    "timepoint",
    "day",
    "footpad",
    "application",
    "value",
    "state",
)
VALUE_COLUMNS = ("animal", "group", "timepoint", "day", "value")
EXCLUDED_COLUMNS = ("animal", "day", "footpad", "reason")
SUMMARY_COLUMNS = ("group", "timepoint", "day", "n", "mean", "sd", "sem")
COMPARISON_COLUMNS = (
    "reference",
    "group",
    "timepoint",
    "day",
    "test",
    "statistic",
    "df",
    "p",
    "p_adjusted",
    "marker",
    "mean_difference",
    "ci_low",
    "ci_high",
    "hedges_g",
    "g_ci_low",
    "g_ci_high",
    "n_reference",
    "n_group",
)
ANOVA_COLUMNS = (
    "source",
    "ss",
    "df",
    "ms",
    "ss_error",
    "df_error",
    "ms_error",
    "f",
    "p",
    "eps_gg",
    "p_gg",
    "np2",
    "ng2",
)
ONE_WAY_COLUMNS = ("source", "ss", "df", "ms", "ss_error", "df_error", "ms_error", "f", "p", "np2")
PERCENT_DROPPED_COLUMNS = ("animal", "group", "reason")
AUC_COLUMNS = ("animal", "group", "auc", "days_used")
COEFFICIENT_COLUMNS = ("term", "estimate", "se", "z", "p")
WALD_COLUMNS = ("effect", "chi2", "df", "p")


# --------------------------------------------------------------------------------------------
# Input checks and small helpers
# --------------------------------------------------------------------------------------------


def _require_columns(frame: Any, columns: Iterable[str], what: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"{what} must be a pandas DataFrame, not {type(frame).__name__}.")
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise ValueError(f"{what} is missing column(s): {', '.join(missing)}.")


# What ``astype(str)`` makes of a column: pandas' text dtype (missing values stay NaN).
_TEXT = pd.Series(dtype=str).dtype
# Whole numbers up to this size come back unchanged from float64, which ``_as_int`` goes through.
_EXACT_INT = 2**53


def _as_float(series: pd.Series, name: str) -> pd.Series:
    if isinstance(series, pd.Series) and series.dtype == np.float64:
        return series
    try:
        return pd.to_numeric(series, errors="raise").astype("float64")
    except (TypeError, ValueError) as error:
        raise ValueError(f"column {name!r} must be numeric: {error}") from None


def _as_int(series: pd.Series, name: str) -> pd.Series:
    if isinstance(series, pd.Series) and series.dtype == np.int64:
        numbers = series.to_numpy()
        if not numbers.size or (numbers.min() >= -_EXACT_INT and numbers.max() <= _EXACT_INT):
            return series
    numbers = _as_float(series, name)
    if numbers.isna().any() or not np.all(np.equal(np.mod(numbers.to_numpy(), 1), 0)):
        raise ValueError(f"column {name!r} must hold whole numbers.")
    return numbers.astype("int64")


def _text(series: pd.Series) -> pd.Series:
    """``series.astype(str)``, without the copy when the column already is text."""
    return series if series.dtype == _TEXT else series.astype(str)


def _appearance(series: pd.Series) -> list:
    return list(pd.unique(series.to_numpy()))


def _group_ranks(groups_seen: Sequence[str], group_order: Sequence[str] | None) -> dict[str, int]:
    """Rank groups: those in ``group_order`` first, in that order, then the rest as seen."""
    ordered: list[str] = []
    if group_order is not None:
        if isinstance(group_order, str):
            raise ValueError("group_order must be a list of group codes, not a string.")
        ordered = [code for code in group_order if code in set(groups_seen)]
    ordered += [code for code in groups_seen if code not in ordered]
    return {code: rank for rank, code in enumerate(ordered)}


def _renumber(keys: np.ndarray) -> tuple[np.ndarray, int]:
    """Renumber non-negative ``keys`` 0, 1, ... in order of first appearance; -1 stays -1."""
    valid = keys >= 0
    if valid.all():
        codes, uniques = pd.factorize(keys)
        return codes, len(uniques)
    codes = np.full(len(keys), -1, dtype=np.intp)
    codes[valid], uniques = pd.factorize(keys[valid])
    return codes, len(uniques)


def _factorize(column: pd.Series | np.ndarray) -> tuple[np.ndarray, int]:
    """Codes of ``column``'s values in order of first appearance (-1 if missing), and their
    number."""
    # A text column's objects factorize in half the time of the column (or its array) itself.
    if isinstance(column, (pd.Series, pd.api.extensions.ExtensionArray)):
        column = column.to_numpy()
    codes, uniques = pd.factorize(column)
    return codes, len(uniques)


def _combine(*coded: tuple[np.ndarray, int]) -> tuple[np.ndarray, int]:
    """Codes of the distinct combinations of several :func:`_factorize` results, numbered in
    order of first appearance; -1 where any part is missing. This is how
    ``groupby(keys, sort=False)`` orders its groups and which rows it drops, and grouping by
    one integer code is far cheaper than by several text columns."""
    combined, bound = coded[0][0].astype(np.int64), max(coded[0][1], 1)
    for codes, size in coded[1:]:
        width = max(size, 1)
        if bound > np.iinfo(np.int64).max // width:
            combined, bound = _renumber(combined)
        combined = np.where((combined < 0) | (codes < 0), -1, combined * width + codes)
        bound *= width
    return _renumber(combined)


def _codes(*columns: pd.Series | np.ndarray) -> tuple[np.ndarray, int]:
    """:func:`_combine` of the columns' codes."""
    return _combine(*(_factorize(column) for column in columns))


def _first_rows(codes: np.ndarray) -> np.ndarray:
    """Position of the first row of each code, for codes numbered in order of first appearance
    (as :func:`_codes` numbers them): a row opens its code when no earlier row reached it."""
    reached = np.maximum.accumulate(np.concatenate(([-1], codes[:-1])))
    return np.flatnonzero(codes > reached)


def _group_means(codes: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Mean of ``values`` per code 0, 1, ... (rows coded -1 left out), as
    ``groupby(keys, sort=False).mean()`` gives it for the keys :func:`_combine` coded: NaN
    values are skipped, and a code with no value left has the mean NaN.

    The sums are taken in row order (``np.bincount``), where pandas compensates them; the two
    agree to the last bit or two (a relative 1e-16 per value summed), and a mean of one or two
    values, which is all a footpad summary's row or an animal's two footpads give, is the same
    bit for bit. A pandas groupby cost ten times as much, most of it in building its index.
    """
    size = int(codes.max()) + 1 if codes.size else 0
    counted = (codes >= 0) & ~np.isnan(values)
    sums = np.bincount(codes[counted], weights=values[counted], minlength=size)
    counts = np.bincount(codes[counted], minlength=size)
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / counts


def _observed(values: pd.DataFrame) -> pd.DataFrame:
    """Validate a values frame and drop rows without a value.

    This is the one place where a missing animal value (NaN) is handled for every function
    that takes a values frame: the row is dropped, so the animal does not count at that day.

    The frame comes back with a fresh index, text columns as text, ``day`` as int64 and
    ``value`` as float64; columns already of those types are not copied (a values frame is
    checked once per function that takes it, so that check must cost little).
    """
    _require_columns(values, VALUE_COLUMNS, "values")
    value = _as_float(values["value"], "value").to_numpy()
    present = ~np.isnan(value)
    everything = bool(present.all())
    columns = {
        "animal": _text(values["animal"]).array,
        "group": _text(values["group"]).array,
        "timepoint": _text(values["timepoint"]).array,
        "day": _as_int(values["day"], "day").to_numpy(),
        "value": value,
    }
    if not everything:
        columns = {name: column[present] for name, column in columns.items()}
    if np.isinf(columns["value"]).any():
        raise ValueError("values must be finite.")
    frame = pd.DataFrame(columns, copy=False)
    animal, n_animals = _factorize(columns["animal"])
    # Missing animal codes count as one animal here, as ``duplicated`` counts them.
    day, n_days = _factorize(columns["day"])
    if _repeats(np.where(animal < 0, n_animals, animal), day, max(n_days, 1)):
        duplicated = frame.duplicated(["animal", "day"], keep=False)
        pairs = frame.loc[duplicated, ["animal", "day"]].drop_duplicates()
        listed = ", ".join(f"{a} (day {d})" for a, d in pairs.itertuples(index=False))
        raise ValueError(f"values must hold one value per animal and day; repeated: {listed}.")
    group, n_groups = _factorize(columns["group"])
    known = (animal >= 0) & (group >= 0)
    # An animal in two groups: a row whose group is not the one its animal was last given.
    group_of = np.full(max(n_animals, 1), -1, dtype=np.int64)
    group_of[animal[known]] = group[known]
    if (group_of[animal[known]] != group[known]).any():
        groups_per_animal = frame.groupby("animal", sort=False)["group"].nunique()
        listed = ", ".join(groups_per_animal[groups_per_animal > 1].index)
        raise ValueError(f"each animal must belong to one group; in several: {listed}.")
    return frame


def _repeats(first: np.ndarray, second: np.ndarray, width: int) -> bool:
    """Whether a pair of non-negative codes occurs twice (``second`` below ``width``)."""
    keys = first.astype(np.int64) * width + second
    if keys.size and keys.max() <= 4 * keys.size + 1024:
        # Keys as dense as a values frame's (animals x days): counted, which needs no sort.
        return bool(np.bincount(keys).max() > 1)
    return np.unique(keys).size < keys.size


def _mean_sd(x: np.ndarray) -> tuple[int, float, float]:
    """Return n, mean and the sample SD (n - 1) of ``x``.

    Uses the corrected two-pass algorithm (Chan, Golub & LeVeque 1983), which keeps the NIST
    StRD NumAcc data sets (values near 1e7 differing in the 8th digit) accurate:

    .. math:: \\bar x = \\frac{1}{n}\\sum x_i,\\quad d_i = x_i - \\bar x,\\quad
              s^2 = \\frac{\\sum d_i^2 - (\\sum d_i)^2 / n}{n - 1}

    The SD of fewer than two values is undefined: NaN.
    """
    n = int(x.size)
    if n == 0:
        return 0, math.nan, math.nan
    # x.sum() / n is np.mean(x) bit for bit (the same pairwise sum, one division), without
    # its argument handling: this runs once per group and timepoint.
    mean = float(x.sum()) / n
    deviations = x - mean
    total = float(deviations.sum())
    mean += total / n
    if n < 2:
        return n, mean, math.nan
    sum_squares = float(np.dot(deviations, deviations)) - total * total / n
    return n, mean, math.sqrt(max(sum_squares, 0.0) / (n - 1))


def _marker(p: float, symbol: str) -> str:
    if p < ALPHA_STRONG:
        return symbol * 2
    if p < ALPHA:
        return symbol
    return MARKER_NOT_SIGNIFICANT


# --------------------------------------------------------------------------------------------
# From readings to one value per animal
# --------------------------------------------------------------------------------------------


def animal_values(
    readings: pd.DataFrame,
    *,
    assay: str,
    footpads: Sequence[str] = FOOTPADS,
    include_unverified: bool = False,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Reduce readings to one value per animal and timepoint; list what was left out.

    Parameters
    ----------
    readings : pandas.DataFrame
        Long format, one row per value slot, columns ``animal, group, timepoint, day, footpad,
        application, value, state`` (see the module docstring).
    assay : {"von_frey", "hot_plate"}
        Which reduction to apply.
    footpads : sequence of {"left", "right"}, default ("left", "right")
        Von Frey only: the footpads that make the animal's value. Ignored for hot plate.
    include_unverified : bool, default False
        Count values entered by one experimenter only (state "unverified"). Open discrepancies
        ("disputed") never count.

    Returns
    -------
    values : pandas.DataFrame
        Columns ``animal, group, timepoint, day, value``, sorted by day, group (first seen
        first) and animal (first seen first).
    excluded : pandas.DataFrame
        Columns ``animal, day, footpad, reason``: one row per von Frey footpad (or hot-plate
        animal, footpad "") and day left out, sorted by day, animal and footpad.

    Notes
    -----
    A slot counts when its state is "verified" or "resolved" (or "unverified" with
    ``include_unverified``) and it holds a value. Von Frey: the value of footpad :math:`f` is
    the mean of its :math:`m_f` applications, :math:`\\bar x_f = \\frac{1}{m_f}\\sum_j x_{fj}`,
    and the animal's value is the mean of its remaining selected footpads,
    :math:`\\frac{1}{|F|}\\sum_{f \\in F} \\bar x_f`. A footpad with any slot that does not count
    is left out for that day. Hot plate: the animal's value is the mean of its trials, and any
    trial that does not count leaves the animal out for that day.

    The reason listed is "open discrepancy" if any slot is disputed, else "not verified" if any
    slot is unverified (and not included), else "no value" (a counted slot without a value,
    which the application should never produce).
    """
    _require_columns(readings, READING_COLUMNS, "readings")
    if assay not in ASSAYS:
        raise ValueError(f"unknown assay {assay!r}; expected one of {', '.join(ASSAYS)}.")
    value = _as_float(readings["value"], "value").to_numpy()
    day = _as_int(readings["day"], "day").to_numpy()
    animal, group, timepoint, state = (
        _text(readings[column]).to_numpy() for column in ("animal", "group", "timepoint", "state")
    )
    footpad = readings["footpad"]
    footpad = _text(footpad.fillna("") if footpad.hasnans else footpad).to_numpy()
    state_code, state_names = pd.factorize(state)
    if (state_code < 0).any() or not set(state_names) <= set(STATES):
        unknown = sorted(set(state) - set(STATES))
        raise ValueError(
            f"unknown state(s) {', '.join(map(repr, unknown))}; expected one of "
            f"{', '.join(STATES)}."
        )

    footpad_code, footpad_names = pd.factorize(footpad)
    if assay == VON_FREY:
        if isinstance(footpads, str) or not footpads:
            raise ValueError("footpads must be a non-empty list drawn from 'left', 'right'.")
        wrong = sorted(set(footpads) - set(FOOTPADS))
        if wrong:
            raise ValueError(f"unknown footpad(s) {', '.join(map(repr, wrong))} in footpads.")
        wrong = sorted(set(footpad_names) - set(FOOTPADS))
        if wrong:
            raise ValueError(
                f"von Frey readings must have footpad 'left' or 'right', found "
                f"{', '.join(map(repr, wrong))}."
            )
        chosen = np.array([name in footpads for name in footpad_names], dtype=bool)
        chosen = chosen[footpad_code]
        if not chosen.all():
            value, day, animal, group, timepoint, state_code, footpad_code = (
                column[chosen]
                for column in (value, day, animal, group, timepoint, state_code, footpad_code)
            )
    else:
        footpad_code, footpad_names = np.zeros(len(value), dtype=np.intp), np.array([""])
    footpad_names = np.asarray(footpad_names, dtype=object)

    counted = set(COUNTED_STATES) | ({"unverified"} if include_unverified else set())
    state_rank = np.array(
        [
            _REASON_RANK[REASON_OPEN_DISCREPANCY]
            if name == "disputed"
            else _REASON_RANK[REASON_NOT_VERIFIED]
            if name not in counted
            else 0
            for name in state_names
        ],
        dtype=np.int64,
    )
    problem = state_rank[state_code]
    problem[(problem == 0) & np.isnan(value)] = _REASON_RANK[REASON_NO_VALUE]

    # A unit is one footpad (von Frey) or one animal's trials (hot plate) on one day, a cell
    # one animal on one day; both are numbered as groupby(sort=False) numbers its groups, and
    # the animal and group codes (first appearance) rank animals and groups for the sorting.
    animal_code, n_animals = _factorize(animal)
    group_code, n_groups = _factorize(group)
    cell, n_cells = _combine(
        (animal_code, n_animals), (group_code, n_groups), _factorize(timepoint), _factorize(day)
    )
    unit, n_units = _combine((cell, n_cells), (footpad_code, len(footpad_names)))
    kept = unit >= 0
    first = _first_rows(unit)
    worst = np.zeros(n_units, dtype=np.int64)
    np.maximum.at(worst, unit[kept], problem[kept])
    unit_means = _group_means(unit, value)
    bad = worst > 0

    rows = first[bad]
    right = (footpad_names == "right")[footpad_code]
    order = np.lexsort((right[rows], animal_code[rows], day[rows]))
    rows = rows[order]
    reasons = np.array([_RANK_REASON.get(rank, "") for rank in range(4)], dtype=object)
    excluded = pd.DataFrame(
        {
            "animal": pd.array(animal[rows], dtype=_TEXT),
            "day": day[rows],
            "footpad": pd.array(footpad_names[footpad_code[rows]], dtype=_TEXT),
            "reason": pd.array(reasons[worst[bad][order]], dtype=_TEXT),
        }
    )

    animal_value, _ = _renumber(cell[first[~bad]])
    rows = first[~bad][_first_rows(animal_value)]
    means = _group_means(animal_value, unit_means[~bad])
    order = np.lexsort((animal_code[rows], group_code[rows], day[rows]))
    rows = rows[order]
    values = pd.DataFrame(
        {
            "animal": pd.array(animal[rows], dtype=_TEXT),
            "group": pd.array(group[rows], dtype=_TEXT),
            "timepoint": pd.array(timepoint[rows], dtype=_TEXT),
            "day": day[rows],
            "value": means[order],
        }
    )
    return values, excluded


# --------------------------------------------------------------------------------------------
# Description and comparisons
# --------------------------------------------------------------------------------------------


def describe(values: pd.DataFrame, *, group_order: Sequence[str] | None = None) -> pd.DataFrame:
    """Summarise each group at each timepoint.

    Parameters
    ----------
    values : pandas.DataFrame
        Columns ``animal, group, timepoint, day, value`` (one row per animal and day).
    group_order : list of str, optional
        Group codes in display order; groups not listed follow in order of first appearance.

    Returns
    -------
    pandas.DataFrame
        Columns ``group, timepoint, day, n, mean, sd, sem``; a row for each group and
        timepoint with at least one animal, sorted by day then group order.

    Notes
    -----
    .. math:: \\bar x = \\frac{1}{n}\\sum x_i,\\quad
              s = \\sqrt{\\frac{1}{n-1}\\sum (x_i - \\bar x)^2},\\quad
              \\mathrm{SEM} = s / \\sqrt{n}

    With one animal, ``sd`` and ``sem`` are undefined: NaN here, ``null`` in JSON.
    """
    frame = _observed(values)
    return _describe(frame, _cells(frame, ("day", "timepoint", "group")), group_order)


class _Cells(NamedTuple):
    """An observed values frame gathered by cell, cells in order of first appearance."""

    rows: np.ndarray
    """Each cell's first row in the frame (for its keys)."""
    n: np.ndarray
    mean: np.ndarray
    sd: np.ndarray


def _cells(frame: pd.DataFrame, columns: Sequence[str]) -> _Cells:
    """Group an observed values frame as ``groupby(columns, sort=False)`` does and summarise
    each cell's values, in row order, with :func:`_mean_sd`."""
    codes, size = _codes(*(frame[column] for column in columns))
    kept = np.flatnonzero(codes >= 0)
    order = kept[np.argsort(codes[kept], kind="stable")]
    values = frame["value"].to_numpy(dtype=float)[order]
    ends = np.cumsum(np.bincount(codes[kept], minlength=size)).tolist()
    summaries = [
        _mean_sd(values[start:end]) for start, end in zip([0, *ends][:-1], ends, strict=True)
    ]
    return _Cells(
        rows=_first_rows(codes),
        n=np.array([n for n, _, _ in summaries], dtype=np.int64),
        mean=np.array([mean for _, mean, _ in summaries], dtype=float),
        sd=np.array([sd for _, _, sd in summaries], dtype=float),
    )


def _describe(
    frame: pd.DataFrame, cells: _Cells, group_order: Sequence[str] | None
) -> pd.DataFrame:
    """:func:`describe` of an observed frame, from its (day, timepoint, group) cells."""
    ranks = _group_ranks(_appearance(frame["group"]), group_order)
    if not len(cells.rows):
        empty = pd.DataFrame([], columns=list(SUMMARY_COLUMNS))
        return empty.astype({"day": "int64", "n": "int64"})
    day = frame["day"].to_numpy()[cells.rows]
    rank = np.array([ranks[group] for group in frame["group"].array.take(cells.rows)])
    order = np.lexsort((rank, day))
    rows, n, sd = cells.rows[order], cells.n[order], cells.sd[order]
    return pd.DataFrame(
        {
            "group": frame["group"].array.take(rows),
            "timepoint": frame["timepoint"].array.take(rows),
            "day": day[order],
            "n": n,
            "mean": cells.mean[order],
            "sd": sd,
            "sem": np.where(n >= 2, sd / np.sqrt(n), math.nan),
        }
    )


def hedges_g(
    *,
    mean_reference: float,
    sd_reference: float,
    n_reference: int,
    mean_group: float,
    sd_group: float,
    n_group: int,
    confidence: float = CONFIDENCE,
) -> tuple[float, float, float]:
    """Hedges' g (group minus reference) and its normal-approximation confidence interval.

    Parameters
    ----------
    mean_reference, sd_reference, n_reference : float, float, int
        Summary of the reference group (SD with n - 1).
    mean_group, sd_group, n_group : float, float, int
        Summary of the compared group.
    confidence : float, default 0.95

    Returns
    -------
    g, ci_low, ci_high : float
        NaN when either group has fewer than two animals or the pooled SD is zero.

    Notes
    -----
    With the pooled SD :math:`s_p = \\sqrt{((n_1-1)s_1^2 + (n_2-1)s_2^2)/(n_1+n_2-2)}`,

    .. math::

        d = \\frac{\\bar x_2 - \\bar x_1}{s_p},\\qquad
        J = 1 - \\frac{3}{4(n_1+n_2) - 9},\\qquad g = J d,

        \\mathrm{SE}_g = J\\sqrt{\\frac{n_1+n_2}{n_1 n_2} + \\frac{d^2}{2(n_1+n_2)}},\\qquad
        g \\pm z_{1-\\alpha/2}\\,\\mathrm{SE}_g .

    This is the large-sample (normal) approximation of Hedges & Olkin (1985), with the
    variance of g taken as :math:`J^2 V_d` as in Borenstein et al. (2009, ch. 4). It is not the
    exact noncentral-t interval, and it differs slightly from R ``effsize::cohen.d`` (which
    uses g in place of d inside the square root and a t quantile).

    References
    ----------
    * Hedges, L. V. & Olkin, I. (1985). Statistical Methods for Meta-Analysis. Academic Press.
    * Borenstein, M., Hedges, L. V., Higgins, J. P. T. & Rothstein, H. R. (2009). Introduction
      to Meta-Analysis. Wiley. Chapter 4.
    """
    n1, n2 = int(n_reference), int(n_group)
    if n1 < 2 or n2 < 2:
        return math.nan, math.nan, math.nan
    df = n1 + n2 - 2
    pooled = math.sqrt(((n1 - 1) * sd_reference**2 + (n2 - 1) * sd_group**2) / df)
    if not pooled > 0:
        return math.nan, math.nan, math.nan
    d = (mean_group - mean_reference) / pooled
    j = 1 - 3 / (4 * (n1 + n2) - 9)
    g = j * d
    se = j * math.sqrt((n1 + n2) / (n1 * n2) + d * d / (2 * (n1 + n2)))
    z = float(special.ndtri(1 - (1 - confidence) / 2))
    return g, g - z * se, g + z * se


def _two_sample(
    reference: tuple[int, float, float], group: tuple[int, float, float], test: str
) -> tuple[dict[str, Any], float]:
    """Two-sample t-test of ``group`` against ``reference`` (group minus reference), each
    given by its n, mean and SD (:func:`_mean_sd`).

    Returns the row and the standard error of the difference; the row's ``p``, ``ci_low``
    and ``ci_high`` are left for :func:`_t_distribution`, which evaluates the t distribution
    for all rows of a comparison table at once. A row that is not tested has a ``marker``
    saying why, and the standard error NaN.
    """
    n1, m1, s1 = reference
    n2, m2, s2 = group
    row: dict[str, Any] = {
        "test": test,
        "statistic": math.nan,
        "df": math.nan,
        "p": math.nan,
        "marker": None,
        "mean_difference": m2 - m1 if n1 and n2 else math.nan,
        "ci_low": math.nan,
        "ci_high": math.nan,
        "hedges_g": math.nan,
        "g_ci_low": math.nan,
        "g_ci_high": math.nan,
        "n_reference": n1,
        "n_group": n2,
    }
    if n1 < 2 or n2 < 2:
        row["marker"] = MARKER_TOO_FEW
        return row, math.nan
    v1, v2 = s1 * s1, s2 * s2
    if test == "student":
        df = float(n1 + n2 - 2)
        se = math.sqrt(((n1 - 1) * v1 + (n2 - 1) * v2) / df * (1 / n1 + 1 / n2))
    else:
        a, b = v1 / n1, v2 / n2
        se = math.sqrt(a + b)
        df = (a + b) ** 2 / (a * a / (n1 - 1) + b * b / (n2 - 1)) if a + b > 0 else math.nan
    # Same rule as R's t.test ("data are essentially constant"): a standard error this small
    # is rounding noise, and a t computed from it would be meaningless.
    if not se > 10 * np.finfo(float).eps * max(abs(m1), abs(m2)):
        row["marker"] = MARKER_NO_VARIANCE
        return row, math.nan
    g, g_low, g_high = hedges_g(
        mean_reference=m1,
        sd_reference=s1,
        n_reference=n1,
        mean_group=m2,
        sd_group=s2,
        n_group=n2,
    )
    row.update(
        statistic=(m2 - m1) / se,
        df=df,
        hedges_g=g,
        g_ci_low=g_low,
        g_ci_high=g_high,
    )
    return row, se


def _t_distribution(rows: Sequence[dict[str, Any]], se: Sequence[float]) -> None:
    """Add P and the CI of the mean difference to the tested rows of :func:`_two_sample`.

    scipy.special's functions are what stats.t.ppf and stats.t.sf evaluate, bit for bit,
    without the distribution object's argument handling (about 0.3 ms a call); called once
    for the whole table, they cost what a single row's call would.
    """
    tested = [index for index, row in enumerate(rows) if row["marker"] is None]
    if not tested:
        return
    df = np.array([rows[index]["df"] for index in tested], dtype=float)
    t = np.array([rows[index]["statistic"] for index in tested], dtype=float)
    quantiles = special.stdtrit(df, 1 - (1 - CONFIDENCE) / 2).tolist()
    p_values = (2 * special.stdtr(df, -np.abs(t))).tolist()
    for index, quantile, p in zip(tested, quantiles, p_values, strict=True):
        row, half_width = rows[index], quantile * se[index]
        difference = row["mean_difference"]
        row.update(p=p, ci_low=difference - half_width, ci_high=difference + half_width)


def _check_comparisons(comparisons: Any) -> list[dict[str, str]]:
    if isinstance(comparisons, (str, Mapping)) or not isinstance(comparisons, Iterable):
        raise ValueError("comparisons must be a list of {'reference', 'group', 'symbol'} dicts.")
    checked = []
    for index, comparison in enumerate(comparisons):
        if not isinstance(comparison, Mapping):
            raise ValueError(f"comparisons[{index}] must be a dict.")
        missing = [key for key in ("reference", "group", "symbol") if key not in comparison]
        if missing:
            raise ValueError(f"comparisons[{index}] is missing {', '.join(missing)}.")
        reference, group, symbol = (
            comparison["reference"],
            comparison["group"],
            comparison["symbol"],
        )
        if not isinstance(symbol, str) or not symbol:
            raise ValueError(f"comparisons[{index}].symbol must be a non-empty string.")
        if str(reference) == str(group):
            raise ValueError(f"comparisons[{index}] compares group {group!r} with itself.")
        checked.append({"reference": str(reference), "group": str(group), "symbol": symbol})
    return checked


def compare(
    values: pd.DataFrame,
    comparisons: Sequence[Mapping[str, str]],
    *,
    test: str = "student",
    correction: str = "none",
) -> pd.DataFrame:
    """Run each comparison at each timepoint with a two-sided two-sample t-test.

    Parameters
    ----------
    values : pandas.DataFrame
        Columns ``animal, group, timepoint, day, value``.
    comparisons : list of dict
        Each ``{"reference": code, "group": code, "symbol": "#"}``.
    test : {"student", "welch"}, default "student"
        Student: pooled variance. Welch: separate variances, Welch-Satterthwaite df.
    correction : {"none", "holm"}, default "none"
        Holm's step-down adjustment across the timepoints of each comparison separately.

    Returns
    -------
    pandas.DataFrame
        One row per comparison and timepoint (comparisons in the given order, then by day),
        columns ``reference, group, timepoint, day, test, statistic, df, p, p_adjusted,
        marker, mean_difference, ci_low, ci_high, hedges_g, g_ci_low, g_ci_high,
        n_reference, n_group``.

    Notes
    -----
    With reference :math:`(n_1, \\bar x_1, s_1)` and group :math:`(n_2, \\bar x_2, s_2)`, the
    statistic is :math:`t = (\\bar x_2 - \\bar x_1)/\\mathrm{SE}`, positive when the group's mean
    is above the reference's. Student (1908):

    .. math:: \\mathrm{SE} = \\sqrt{s_p^2 (1/n_1 + 1/n_2)},\\quad
              s_p^2 = \\frac{(n_1-1)s_1^2 + (n_2-1)s_2^2}{n_1+n_2-2},\\quad
              \\nu = n_1 + n_2 - 2

    Welch (1947), Satterthwaite (1946):

    .. math:: \\mathrm{SE} = \\sqrt{s_1^2/n_1 + s_2^2/n_2},\\quad
              \\nu = \\frac{(s_1^2/n_1 + s_2^2/n_2)^2}
                         {\\frac{(s_1^2/n_1)^2}{n_1-1} + \\frac{(s_2^2/n_2)^2}{n_2-1}}

    :math:`p = 2 P(T_\\nu > |t|)`; the 95% CI of :math:`\\bar x_2 - \\bar x_1` is
    :math:`\\pm t_{\\nu, 0.975}\\mathrm{SE}`, as R's ``t.test`` reports it. ``hedges_g`` and its CI
    come from :func:`hedges_g` (always the pooled SD, whichever test).

    ``marker`` is the symbol twice for P < 0.01, once for P < 0.05, else "n.s.", judged on
    ``p_adjusted`` (equal to ``p`` without correction). Degenerate cases give a stated result:

    * either group has fewer than two animals (none at all included, for instance a group
      code absent at that timepoint): ``statistic``, ``df``, ``p`` and the CIs are NaN and
      ``marker`` is "n < 2";
    * no variance in either group (the standard error is zero, or below R's "essentially
      constant" threshold :math:`10\\,\\epsilon \\max(|\\bar x_1|, |\\bar x_2|)`): the same
      fields are NaN and ``marker`` is "no variance". This holds whether or not the means
      differ: an infinite t says nothing a reader can use, so no P is claimed.

    Rows with no P take no part in the Holm adjustment.

    References
    ----------
    * Student (1908). The probable error of a mean. Biometrika 6, 1-25.
    * Welch, B. L. (1947). The generalization of "Student's" problem when several different
      population variances are involved. Biometrika 34, 28-35.
    * Holm, S. (1979). A simple sequentially rejective multiple test procedure. Scandinavian
      Journal of Statistics 6, 65-70.
    """
    checked = _checked_options(comparisons, test, correction)
    frame = _observed(values)
    return _compare(
        frame, _cells(frame, ("day", "group")), _timepoints(frame), checked, test, correction
    )


def _checked_options(comparisons: Any, test: str, correction: str) -> list[dict[str, str]]:
    if test not in TESTS:
        raise ValueError(f"unknown test {test!r}; expected one of {', '.join(TESTS)}.")
    if correction not in CORRECTIONS:
        raise ValueError(
            f"unknown correction {correction!r}; expected one of {', '.join(CORRECTIONS)}."
        )
    return _check_comparisons(comparisons)


def _timepoints(frame: pd.DataFrame) -> list[tuple[int, Any]]:
    """The (day, timepoint) pairs of an observed frame as they first appear, sorted by day."""
    day = frame["day"].to_numpy()
    timepoint = frame["timepoint"].to_numpy()
    labels, names = pd.factorize(timepoint, use_na_sentinel=False)
    pairs, _ = _combine(_factorize(day), (labels, len(names)))
    rows = _first_rows(pairs)
    rows = rows[np.argsort(day[rows], kind="stable")]
    return list(zip(day[rows].tolist(), timepoint[rows].tolist(), strict=True))


def _compare(
    frame: pd.DataFrame,
    cells: _Cells,
    timepoints: list[tuple[int, Any]],
    checked: list[dict[str, str]],
    test: str,
    correction: str,
) -> pd.DataFrame:
    """:func:`compare` of an observed frame, from its (day, group) cells and timepoints."""
    days = frame["day"].to_numpy()[cells.rows].tolist()
    groups = list(frame["group"].array.take(cells.rows))
    summaries = dict(
        zip(
            zip(days, groups, strict=True),
            zip(cells.n.tolist(), cells.mean.tolist(), cells.sd.tolist(), strict=True),
            strict=True,
        )
    )
    nobody = (0, math.nan, math.nan)

    rows, errors = [], []
    for comparison in checked:
        for day, timepoint in timepoints:
            row, se = _two_sample(
                summaries.get((day, comparison["reference"]), nobody),
                summaries.get((day, comparison["group"]), nobody),
                test,
            )
            rows.append(
                {
                    "reference": comparison["reference"],
                    "group": comparison["group"],
                    "timepoint": timepoint,
                    "day": day,
                    **row,
                }
            )
            errors.append(se)
    _t_distribution(rows, errors)
    for index, comparison in enumerate(checked):
        family = rows[index * len(timepoints) : (index + 1) * len(timepoints)]
        p = np.array([row["p"] for row in family], dtype=float)
        adjusted = holm(p) if correction == "holm" else p
        for row, p_adjusted in zip(family, adjusted.tolist(), strict=True):
            row["p_adjusted"] = p_adjusted
            if row["marker"] is None:
                row["marker"] = _marker(p_adjusted, comparison["symbol"])
    if not rows:
        result = pd.DataFrame([], columns=list(COMPARISON_COLUMNS))
        return result.astype({"day": "int64", "n_reference": "int64", "n_group": "int64"})
    # The dtypes pandas would infer from the rows, given at once.
    dtypes = dict.fromkeys(("day", "n_reference", "n_group"), np.int64)
    dtypes |= dict.fromkeys(
        ("statistic", "df", "p", "p_adjusted", "mean_difference", "ci_low", "ci_high"), np.float64
    )
    dtypes |= dict.fromkeys(("hedges_g", "g_ci_low", "g_ci_high"), np.float64)
    return pd.DataFrame(
        {
            column: np.array([row[column] for row in rows], dtype=dtypes[column])
            if column in dtypes
            else [row[column] for row in rows]
            for column in COMPARISON_COLUMNS
        }
    )


def summary_and_comparisons(
    values: pd.DataFrame,
    comparisons: Sequence[Mapping[str, str]],
    *,
    group_order: Sequence[str] | None = None,
    test: str = "student",
    correction: str = "none",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`describe` and :func:`compare` of one values frame, validated and grouped once.

    Returns ``describe(values, group_order=group_order)`` and ``compare(values, comparisons,
    test=test, correction=correction)``, number for number, and refuses bad input as the two
    calls in that order would. The statistics document and the dashboard need both.
    """
    frame = _observed(values)
    cells = _cells(frame, ("day", "timepoint", "group"))
    summary = _describe(frame, cells, group_order)
    checked = _checked_options(comparisons, test, correction)
    timepoints = _timepoints(frame)
    # With one timepoint a day (and none missing), grouping by day and group gives the very
    # same cells as grouping by day, timepoint and group.
    one_a_day = len({day for day, _ in timepoints}) == len(timepoints)
    if not (one_a_day and frame["timepoint"].notna().all()):
        cells = _cells(frame, ("day", "group"))
    return summary, _compare(frame, cells, timepoints, checked, test, correction)


def holm(pvalues: Iterable[float]) -> np.ndarray:
    """Holm's step-down adjusted P values, as R ``p.adjust(p, method = "holm")``.

    Parameters
    ----------
    pvalues : array-like of float
        P values of one family, each in [0, 1]. NaN entries (tests not run) are ignored and
        stay NaN; the family size m counts only the others.

    Returns
    -------
    numpy.ndarray
        Adjusted P values, in the input order.

    Notes
    -----
    With :math:`p_{(1)} \\le \\dots \\le p_{(m)}`,

    .. math:: \\tilde p_{(i)} = \\min\\Bigl(1, \\max_{j \\le i} (m - j + 1)\\, p_{(j)}\\Bigr)

    References
    ----------
    Holm, S. (1979). A simple sequentially rejective multiple test procedure. Scandinavian
    Journal of Statistics 6, 65-70.
    """
    try:
        p = np.asarray(list(pvalues), dtype=float)
    except (TypeError, ValueError):
        raise ValueError("pvalues must be numbers.") from None
    if p.ndim != 1:
        raise ValueError("pvalues must be one-dimensional.")
    adjusted = np.full(p.shape, math.nan)
    present = ~np.isnan(p)
    q = p[present]
    if np.any((q < 0) | (q > 1)):
        raise ValueError("P values must lie between 0 and 1.")
    m = q.size
    if m == 0:
        return adjusted
    order = np.argsort(q, kind="mergesort")
    stepped = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * q[order]))
    result = np.empty(m)
    result[order] = stepped
    adjusted[present] = result
    return adjusted


# --------------------------------------------------------------------------------------------
# Alternative outcomes per animal
# --------------------------------------------------------------------------------------------


def percent_of_baseline(
    values: pd.DataFrame, *, baseline_day: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Express each animal's values as a percentage of its own baseline.

    Parameters
    ----------
    values : pandas.DataFrame
        Columns ``animal, group, timepoint, day, value``.
    baseline_day : int
        The day of the baseline timepoint.

    Returns
    -------
    percent : pandas.DataFrame
        Columns ``animal, group, timepoint, day, value`` with
        :math:`100 \\cdot x_{d} / x_{\\text{baseline}}`; the baseline row itself is 100.
    dropped : pandas.DataFrame
        Columns ``animal, group, reason``: animals left out because they have no baseline value
        ("no baseline value") or a baseline of zero ("baseline value is zero").
    """
    frame = _observed(values)
    try:
        baseline_day = int(baseline_day)
    except (TypeError, ValueError):
        raise ValueError("baseline_day must be a whole number.") from None
    animal, group = frame["animal"].to_numpy(), frame["group"].to_numpy()
    # A missing animal code is one animal here, as drop_duplicates and index lookups have it.
    code, animals = pd.factorize(animal, use_na_sentinel=False)
    at_baseline = frame["day"].to_numpy() == baseline_day
    # NaN where an animal has no baseline: a value in an observed frame is never NaN.
    baseline = np.full(len(animals), math.nan)
    baseline[code[at_baseline]] = frame["value"].to_numpy()[at_baseline]
    reasons = [
        (
            animal[row],
            group[row],
            "no baseline value" if math.isnan(base) else "baseline value is zero",
        )
        for row, base in zip(_first_rows(code).tolist(), baseline.tolist(), strict=True)
        if math.isnan(base) or base == 0
    ]
    dropped = pd.DataFrame(reasons, columns=list(PERCENT_DROPPED_COLUMNS))
    scale = baseline[code]
    kept = ~(np.isnan(scale) | (scale == 0))
    percent = frame if kept.all() else frame.loc[kept]
    if len(percent):
        percent = percent.assign(value=percent["value"].to_numpy() / scale[kept] * 100.0)
    else:
        # Nothing kept: ``value`` is an object column, as dividing by an empty mapping makes it.
        percent = percent.assign(value=percent["value"].astype(object))
    return percent.reset_index(drop=True), dropped


def area_under_curve(values: pd.DataFrame) -> pd.DataFrame:
    """Area under each animal's time course, by the trapezoidal rule over day.

    Parameters
    ----------
    values : pandas.DataFrame
        Columns ``animal, group, timepoint, day, value``.

    Returns
    -------
    pandas.DataFrame
        Columns ``animal, group, auc, days_used``; ``auc`` is in value units x days and
        ``days_used`` is the sorted list of days the animal contributed. Animals keep the order
        in which they first appear.

    Notes
    -----
    .. math:: \\mathrm{AUC} = \\sum_{k=1}^{K-1} (t_{k+1} - t_k)\\,\\frac{x_k + x_{k+1}}{2}

    over the animal's own days :math:`t_1 < \\dots < t_K`. An animal with a missing timepoint
    gets the area over the days it has, so compare ``days_used`` before comparing areas. With a
    single day there is no area: ``auc`` is NaN and ``days_used`` shows the one day.
    """
    frame = _observed(values)
    rows = []
    for (animal, group), sub in frame.groupby(["animal", "group"], sort=False):
        sub = sub.sort_values("day", kind="mergesort")
        days = sub["day"].to_numpy(dtype=float)
        y = sub["value"].to_numpy(dtype=float)
        auc = float(np.trapezoid(y, days)) if len(days) >= 2 else math.nan
        rows.append((animal, group, auc, [int(day) for day in sub["day"]]))
    return pd.DataFrame(rows, columns=list(AUC_COLUMNS))


# --------------------------------------------------------------------------------------------
# Group x time
# --------------------------------------------------------------------------------------------


class MixedModelResult(NamedTuple):
    """Result of :func:`mixed_model`."""

    coefficients: pd.DataFrame
    """Fixed effects: ``term, estimate, se, z, p``."""
    effects: pd.DataFrame
    """Wald tests per effect: ``effect, chi2, df, p`` for group, day and group*day."""
    animal_variance: float
    """Variance of the random intercept per animal (0 at the boundary)."""
    residual_variance: float
    n_animals: int
    n_observations: int
    converged: bool
    """Whether the REML estimate was found (a boundary estimate is a found estimate)."""
    messages: tuple[str, ...]
    """What a reader must know about the fit: a boundary estimate, or why it failed."""
    at_boundary: bool = False
    """The animal variance is estimated at 0 and the fit is ordinary least squares."""


MIXED_MESSAGE_BOUNDARY = (
    "animal variance estimated at 0: the model reduces to ordinary least squares"
)
# Tried in turn until one converges. BFGS is statsmodels' own first choice; the derivative-free
# Powell and Nelder-Mead get there when a gradient method stalls near a zero animal variance.
# L-BFGS is left out: on such data its first step can reach a singular covariance and raise.
_MIXED_METHODS = ("bfgs", "powell", "nm")
# Log-likelihood units on the standardised scale: a likelihood-ratio statistic of 2e-6, far
# below anything a test could notice, so a fit this close to the boundary's is the boundary.
_BOUNDARY_TOLERANCE = 1e-6


def _difference_contrasts(levels: int) -> np.ndarray:
    """Rows e_i - e_0, i = 1..levels-1: any full set of contrasts gives the same Wald test."""
    contrasts = np.zeros((levels - 1, levels))
    contrasts[:, 0] = -1.0
    contrasts[np.arange(levels - 1), np.arange(1, levels)] = 1.0
    return contrasts


class _Fit(NamedTuple):
    estimate: np.ndarray
    covariance: np.ndarray
    animal_variance: float
    residual_variance: float
    converged: bool
    at_boundary: bool
    messages: tuple[str, ...]


def _ols_reml(y: np.ndarray, exog: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Fixed effects, their covariance, the residual variance and the REML log-likelihood of
    the model with no animal variance.

    With :math:`\\sigma_b^2 = 0` the model is ordinary least squares: :math:`\\hat\\beta =
    (X^\\top X)^{-1}X^\\top y`, :math:`\\hat\\sigma^2 = RSS/(N - p)` and
    :math:`\\widehat{\\mathrm{Cov}}(\\hat\\beta) = \\hat\\sigma^2 (X^\\top X)^{-1}`. The
    log-likelihood is statsmodels' profiled REML criterion at that point,

    .. math:: -\\tfrac{N-p}{2}\\log RSS - \\tfrac12\\log|X^\\top X|
              - \\tfrac{N-p}{2}\\bigl(\\log 2\\pi - \\log(N-p) + 1\\bigr),

    written out because statsmodels cannot evaluate it at a zero variance.
    """
    n, p = exog.shape
    xtx = exog.T @ exog
    estimate = linalg.solve(xtx, exog.T @ y, assume_a="pos")
    rss = float(np.sum((y - exog @ estimate) ** 2))
    if rss <= 1e-12 * float(np.sum((y - y.mean()) ** 2)):
        raise ValueError(
            "the mixed model needs some spread within each group and day; every value equals "
            "its group and day mean, so there is no residual variance to test against."
        )
    residual_variance = rss / (n - p)
    covariance = residual_variance * linalg.inv(xtx)
    _, logdet = np.linalg.slogdet(xtx)
    llf = -(n - p) / 2 * (math.log(rss) + math.log(2 * math.pi) - math.log(n - p) + 1) - logdet / 2
    return estimate, covariance, residual_variance, llf


def _reml_random_intercept(y: np.ndarray, exog: pd.DataFrame, animals: np.ndarray) -> _Fit:
    """REML fit of ``y = X beta + b_animal + e``, on a standardised ``y``, boundary included.

    ``y`` is centred and divided by its SD before fitting and the estimates scaled back, which
    changes no test: statsmodels judges convergence and flags a "boundary" with absolute
    thresholds (an animal variance below 0.01), so on raw data the same design would fit in
    grams and fail in kilograms. The optimisers of ``_MIXED_METHODS`` are tried in turn.

    A random-intercept variance of exactly 0 is a legitimate REML estimate (the animals differ
    no more than the residual noise says they should, as with values in % of a baseline that is
    100 for every animal), but it lies on the edge of the parameter space where gradient
    optimisers stall. So the REML log-likelihood at zero is computed exactly
    (:func:`_ols_reml`); when the optimiser found nothing better, the estimate is the boundary
    and the fit is the ordinary least-squares one, stated in ``messages``.
    """
    from statsmodels.regression.mixed_linear_model import MixedLM

    centre = float(np.mean(y))
    spread = float(np.std(y, ddof=1))
    z = (y - centre) / spread
    x = exog.to_numpy(dtype=float)
    unscale = np.full(x.shape[1], spread)  # the design's first column is the intercept

    ols_estimate, ols_covariance, ols_residual, ols_llf = _ols_reml(z, x)

    # Starting from a moment estimate of the variance ratio rather than statsmodels' 1 halves
    # the time to converge and lets BFGS converge on data whose animal variance is near 0.
    start = np.array([math.sqrt(_moment_ratio(z - x @ ols_estimate, animals))])
    best = None
    problems: list[str] = []
    for method in _MIXED_METHODS:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                fit = MixedLM(z, x, groups=animals).fit(
                    reml=True, method=method, start_params=start
                )
            except (np.linalg.LinAlgError, ValueError) as error:
                problems.append(f"{method}: {error}")
                continue
        said = [str(w.message) for w in caught]
        hessian_ok = not any("Hessian" in message for message in said)
        if best is None or fit.llf > best[0].llf:
            best = (fit, said)
        if fit.converged and hessian_ok:
            best = (fit, said)
            break
        problems.append(f"{method}: {'; '.join(dict.fromkeys(said)) or 'did not converge'}")

    if best is None or ols_llf >= best[0].llf - _BOUNDARY_TOLERANCE:
        # Nothing beats no animal variance at all: the REML estimate is the boundary, and every
        # optimiser's complaint was about approaching it.
        return _Fit(
            estimate=_unstandardise(ols_estimate, centre, unscale),
            covariance=ols_covariance * spread**2,
            animal_variance=0.0,
            residual_variance=ols_residual * spread**2,
            converged=True,
            at_boundary=True,
            messages=(MIXED_MESSAGE_BOUNDARY,),
        )

    fit, said = best
    k = x.shape[1]
    converged = bool(fit.converged) and not any("Hessian" in message for message in said)
    return _Fit(
        estimate=_unstandardise(np.asarray(fit.fe_params, dtype=float), centre, unscale),
        covariance=np.asarray(fit.cov_params(), dtype=float)[:k, :k] * spread**2,
        animal_variance=float(np.asarray(fit.cov_re)[0, 0]) * spread**2,
        residual_variance=float(fit.scale) * spread**2,
        converged=converged,
        at_boundary=False,
        messages=() if converged else ("the REML fit did not converge", *problems),
    )


def _moment_ratio(residuals: np.ndarray, animals: np.ndarray) -> float:
    """A method-of-moments estimate of :math:`\\sigma_b^2/\\sigma^2`, floored at 0.01.

    From the least-squares residuals :math:`r_{ij}` of animal i's :math:`m_i` values:
    :math:`\\hat\\sigma^2 = \\sum_{ij}(r_{ij} - \\bar r_i)^2 / \\sum_i(m_i - 1)` and
    :math:`\\hat\\sigma_b^2 = \\overline{\\bar r_i^2} - \\hat\\sigma^2\\,\\overline{1/m_i}`.
    Only a starting point for the optimiser, which is why the floor keeps it off the boundary.
    """
    by_animal = pd.Series(residuals).groupby(animals, sort=False)
    sizes = by_animal.size().to_numpy()
    means = by_animal.mean()
    within = float(np.sum((residuals - means.reindex(animals).to_numpy()) ** 2))
    pairs = int(np.sum(sizes - 1))
    if pairs == 0 or within == 0:
        return 1.0
    residual = within / pairs
    animal = float(np.mean(means.to_numpy() ** 2)) - residual * float(np.mean(1 / sizes))
    return max(animal / residual, 0.01)


def _unstandardise(estimate: np.ndarray, centre: float, unscale: np.ndarray) -> np.ndarray:
    """Coefficients of the standardised fit in the data's units (the intercept takes the mean)."""
    raw = estimate * unscale
    raw[0] += centre
    return raw


def mixed_model(
    values: pd.DataFrame, *, group_order: Sequence[str] | None = None
) -> MixedModelResult:
    """Linear mixed-effects model ``value ~ C(group) * C(day)`` with a random intercept per animal.

    Unlike :func:`rm_anova`, it keeps animals with a missing timepoint: each animal contributes
    the days it has.

    Parameters
    ----------
    values : pandas.DataFrame
        Columns ``animal, group, timepoint, day, value``.
    group_order : list of str, optional
        The first group is the reference level (usually the control group); otherwise the
        first group seen. The reference day is the earliest day.

    Returns
    -------
    MixedModelResult
        ``coefficients`` (``term, estimate, se, z, p``; terms ``Intercept``, ``group[G]``,
        ``day[D]``, ``group[G]:day[D]``, treatment coding), ``effects`` (``effect, chi2, df,
        p``), the variance components, counts, and whether the fit converged.

    Notes
    -----
    The model, fitted by REML with statsmodels ``MixedLM`` (Laird & Ware 1982), is

    .. math:: y_{ij} = \\mu_{g(i), d_j} + b_i + \\varepsilon_{ij},\\quad
              b_i \\sim N(0, \\sigma_b^2),\\ \\varepsilon_{ij} \\sim N(0, \\sigma^2)

    with one fixed mean per group and day (the design of ``C(group) * C(day)``). The design
    matrix is built here rather than by a formula engine, so the term names are fixed.

    ``effects`` holds Wald :math:`\\chi^2` tests of type III hypotheses on the unweighted cell
    means :math:`\\mu = X_c \\hat\\beta`: for a contrast matrix :math:`L`,
    :math:`\\chi^2 = (L\\mu)^\\top (L X_c V X_c^\\top L^\\top)^{-1} L\\mu` with
    :math:`V = \\widehat{\\mathrm{Cov}}(\\hat\\beta)`. Group compares groups averaged over
    days, day compares days averaged over groups, group*day is the interaction. With complete
    data and a positive animal variance, :math:`\\chi^2 / \\mathrm{df}` equals the F of
    :func:`rm_anova`.

    Every group must have at least one animal on every day; otherwise the group x day means
    are not all estimable and a ValueError says which cells are empty.

    The REML estimate of :math:`\\sigma_b^2` may be 0: the animals differ no more than the
    residual noise explains (typically with values in % of a baseline that is 100 for every
    animal). That is a result, not a failure: ``animal_variance`` is 0, ``at_boundary`` is
    true, the fixed effects and their covariance are those of ordinary least squares, and
    ``messages`` says so. ``converged`` is false only when no optimiser found the estimate,
    and ``messages`` then says what each one reported.

    References
    ----------
    Laird, N. M. & Ware, J. H. (1982). Random-effects models for longitudinal data.
    Biometrics 38, 963-974.
    """
    frame = _observed(values)
    ranks = _group_ranks(_appearance(frame["group"]), group_order)
    groups = sorted(ranks, key=ranks.get)
    days = sorted(frame["day"].unique().tolist())
    if len(groups) < 2 or len(days) < 2:
        raise ValueError("the mixed model needs at least two groups and two days.")
    counts = pd.crosstab(frame["group"], frame["day"]).reindex(
        index=groups, columns=days, fill_value=0
    )
    empty = [(g, d) for g in groups for d in days if counts.loc[g, d] == 0]
    if empty:
        listed = ", ".join(f"{g} on day {d}" for g, d in empty)
        raise ValueError(f"the group x day model needs every cell; no animal for {listed}.")

    def design(group_of: np.ndarray, day_of: np.ndarray) -> pd.DataFrame:
        columns = {"Intercept": np.ones(len(group_of))}
        for g in groups[1:]:
            columns[f"group[{g}]"] = (group_of == g).astype(float)
        for d in days[1:]:
            columns[f"day[{d}]"] = (day_of == d).astype(float)
        for g in groups[1:]:
            for d in days[1:]:
                columns[f"group[{g}]:day[{d}]"] = ((group_of == g) & (day_of == d)).astype(float)
        return pd.DataFrame(columns)

    exog = design(frame["group"].to_numpy(), frame["day"].to_numpy())
    if frame["animal"].nunique() <= len(groups):
        raise ValueError("the mixed model needs more animals than groups.")

    y = frame["value"].to_numpy(dtype=float)
    if np.ptp(y) == 0:
        raise ValueError(f"the mixed model needs values that vary; every value is {y[0]:g}.")
    fit = _reml_random_intercept(y, exog, frame["animal"].to_numpy())

    estimate = fit.estimate
    covariance = fit.covariance
    se = np.sqrt(np.diag(covariance))
    z = estimate / se
    coefficients = pd.DataFrame(
        {
            "term": list(exog.columns),
            "estimate": estimate,
            "se": se,
            "z": z,
            "p": 2 * stats.norm.sf(np.abs(z)),
        }
    )

    cell_groups = np.repeat(np.array(groups, dtype=object), len(days))
    cell_days = np.tile(np.array(days), len(groups))
    cells = design(cell_groups, cell_days).to_numpy()
    mu = cells @ estimate
    mu_cov = cells @ covariance @ cells.T
    k_groups, k_days = len(groups), len(days)
    hypotheses = {
        "group": np.kron(_difference_contrasts(k_groups), np.full((1, k_days), 1 / k_days)),
        "day": np.kron(np.full((1, k_groups), 1 / k_groups), _difference_contrasts(k_days)),
        "group*day": np.kron(_difference_contrasts(k_groups), _difference_contrasts(k_days)),
    }
    effects = []
    for name, contrast in hypotheses.items():
        value = contrast @ mu
        chi2 = float(value @ np.linalg.solve(contrast @ mu_cov @ contrast.T, value))
        df = contrast.shape[0]
        effects.append((name, chi2, df, float(stats.chi2.sf(chi2, df))))

    return MixedModelResult(
        coefficients=coefficients,
        effects=pd.DataFrame(effects, columns=list(WALD_COLUMNS)),
        animal_variance=fit.animal_variance,
        residual_variance=fit.residual_variance,
        n_animals=int(frame["animal"].nunique()),
        n_observations=len(frame),
        converged=fit.converged,
        messages=fit.messages,
        at_boundary=fit.at_boundary,
    )


def _gg_epsilon(covariance: np.ndarray, contrasts: np.ndarray) -> float:
    """Greenhouse-Geisser epsilon from a covariance matrix and orthonormal contrasts.

    .. math:: \\hat\\varepsilon = \\frac{\\operatorname{tr}(M)^2}{k \\operatorname{tr}(M^2)},
              \\quad M = C^\\top \\Sigma C,\\quad k = \\text{columns of } C
    """
    m = contrasts.T @ covariance @ contrasts
    trace = float(np.trace(m))
    trace_squared = float(np.trace(m @ m))
    if not trace_squared > 0:
        return 1.0
    return min(1.0, trace * trace / (m.shape[0] * trace_squared))


def _orthonormal_contrasts(levels: int) -> np.ndarray:
    return linalg.helmert(levels, full=False).T


def _anova_row(
    source: str,
    ss: float,
    df: float,
    ss_error: float,
    df_error: float,
    *,
    eps: float = 1.0,
    ng2_denominator: float | None = None,
) -> dict[str, Any]:
    ms, ms_error = ss / df, ss_error / df_error
    if not ms_error > 0:
        raise ValueError(f"no residual variance for {source}: its F ratio is undefined.")
    f = ms / ms_error
    return {
        "source": source,
        "ss": ss,
        "df": df,
        "ms": ms,
        "ss_error": ss_error,
        "df_error": df_error,
        "ms_error": ms_error,
        "f": f,
        "p": float(stats.f.sf(f, df, df_error)),
        "eps_gg": eps,
        "p_gg": float(stats.f.sf(f, eps * df, eps * df_error)),
        "np2": ss / (ss + ss_error),
        "ng2": ss / (ss + ng2_denominator) if ng2_denominator is not None else math.nan,
    }


def rm_anova(values: pd.DataFrame, *, group_order: Sequence[str] | None = None) -> pd.DataFrame:
    """Mixed-design ANOVA: group between animals, day within animals (complete data only).

    Parameters
    ----------
    values : pandas.DataFrame
        Columns ``animal, group, timepoint, day, value``; every animal needs a value on every
        day present. Use :func:`mixed_model` when some are missing.
    group_order : list of str, optional
        Display order only; the results do not depend on it.

    Returns
    -------
    pandas.DataFrame
        Rows ``group``, ``day``, ``group*day``; columns ``source, ss, df, ms, ss_error,
        df_error, ms_error, f, p, eps_gg, p_gg, np2, ng2``.

    Raises
    ------
    ValueError
        If an animal misses a day, or there are fewer than two groups or days, or no more
        animals than groups.

    Notes
    -----
    With N animals in k groups (:math:`n_g` each) measured on t days, grand mean
    :math:`\\bar y`, animal means :math:`\\bar y_i`, group means :math:`\\bar y_g`, day means
    :math:`\\bar y_j` and cell means :math:`\\bar y_{gj}`:

    .. math::

        SS_G = t\\sum_g n_g(\\bar y_g - \\bar y)^2,\\quad
        SS_{S(G)} = t\\sum_i(\\bar y_i - \\bar y)^2 - SS_G,\\quad
        SS_T = N\\sum_j(\\bar y_j - \\bar y)^2,

        SS_{GT} = \\sum_{g,j} n_g(\\bar y_{gj} - \\bar y)^2 - SS_G - SS_T,\\quad
        SS_{TS(G)} = SS_{total} - t\\sum_i(\\bar y_i - \\bar y)^2 - SS_T - SS_{GT}

    F(group) = :math:`MS_G / MS_{S(G)}` on (k - 1, N - k) df; F(day) and F(group*day) use
    :math:`MS_{TS(G)}` on ((t - 1)(N - k)) df. Because every animal has every day, group and
    day are orthogonal and type I, II and III sums of squares agree.

    ``eps_gg`` is the Greenhouse-Geisser epsilon of the within-animal effects, from the pooled
    within-group covariance matrix of the days (Greenhouse & Geisser 1959), and ``p_gg`` the P
    value with both df multiplied by it; for the between-animal effect sphericity does not
    apply, so ``eps_gg`` is 1 and ``p_gg`` equals ``p``. ``np2`` is partial eta squared,
    :math:`SS/(SS + SS_{error})`, and ``ng2`` generalised eta squared with all factors
    manipulated, :math:`SS/(SS + SS_{S(G)} + SS_{TS(G)})` (Olejnik & Algina 2003).

    References
    ----------
    * Greenhouse, S. W. & Geisser, S. (1959). On methods in the analysis of profile data.
      Psychometrika 24, 95-112.
    * Olejnik, S. & Algina, J. (2003). Generalized eta and omega squared statistics.
      Psychological Methods 8, 434-447.
    """
    frame = _observed(values)
    ranks = _group_ranks(_appearance(frame["group"]), group_order)
    wide = frame.pivot(index="animal", columns="day", values="value")
    days = sorted(wide.columns.tolist())
    wide = wide.loc[:, days]
    gaps = wide.isna()
    if gaps.to_numpy().any():
        listed = ", ".join(
            f"{animal} (day {day})"
            for animal, row in gaps.iterrows()
            for day, missing in row.items()
            if missing
        )
        raise ValueError(
            "rm_anova needs a value for every animal on every day; missing: "
            f"{listed}. Use mixed_model for incomplete data."
        )
    group_of = frame.drop_duplicates("animal").set_index("animal")["group"].reindex(wide.index)
    groups = sorted(set(group_of), key=ranks.get)
    y = wide.to_numpy(dtype=float)
    n_animals, n_days = y.shape
    n_groups = len(groups)
    if n_groups < 2 or n_days < 2:
        raise ValueError("rm_anova needs at least two groups and two days.")
    if n_animals <= n_groups:
        raise ValueError("rm_anova needs more animals than groups.")

    grand = y.mean()
    animal_means = y.mean(axis=1)
    day_means = y.mean(axis=0)
    ss_total = float(((y - grand) ** 2).sum())
    ss_animals = n_days * float(((animal_means - grand) ** 2).sum())
    ss_time = n_animals * float(((day_means - grand) ** 2).sum())
    ss_group = 0.0
    ss_cells = 0.0
    pooled = np.zeros((n_days, n_days))
    for group in groups:
        rows = y[(group_of == group).to_numpy()]
        ss_group += n_days * len(rows) * float((rows.mean() - grand) ** 2)
        ss_cells += len(rows) * float(((rows.mean(axis=0) - grand) ** 2).sum())
        centred = rows - rows.mean(axis=0)
        pooled += centred.T @ centred
    pooled /= n_animals - n_groups
    ss_between_error = ss_animals - ss_group
    ss_interaction = ss_cells - ss_group - ss_time
    ss_within_error = ss_total - ss_animals - ss_time - ss_interaction

    df_group, df_between_error = n_groups - 1, n_animals - n_groups
    df_time = n_days - 1
    df_interaction = df_group * df_time
    df_within_error = df_between_error * df_time
    eps = _gg_epsilon(pooled, _orthonormal_contrasts(n_days))
    errors = ss_between_error + ss_within_error
    rows = [
        _anova_row(
            "group",
            ss_group,
            df_group,
            ss_between_error,
            df_between_error,
            ng2_denominator=errors,
        ),
        _anova_row(
            "day",
            ss_time,
            df_time,
            ss_within_error,
            df_within_error,
            eps=eps,
            ng2_denominator=errors,
        ),
        _anova_row(
            "group*day",
            ss_interaction,
            df_interaction,
            ss_within_error,
            df_within_error,
            eps=eps,
            ng2_denominator=errors,
        ),
    ]
    return pd.DataFrame(rows, columns=list(ANOVA_COLUMNS))


def rm_anova2(data: pd.DataFrame, dv: str, within: Sequence[str], subject: str) -> pd.DataFrame:
    """Two-way repeated-measures ANOVA with both factors within subjects (complete data only).

    Parameters
    ----------
    data : pandas.DataFrame
        Long format: one row per subject and cell.
    dv : str
        Column of the measured values.
    within : [str, str]
        The two within-subject factors A and B.
    subject : str
        Column identifying subjects.

    Returns
    -------
    pandas.DataFrame
        Rows A, B and ``A*B``; columns ``source, ss, df, ms, ss_error, df_error, ms_error, f,
        p, eps_gg, p_gg, np2, ng2``.

    Notes
    -----
    For n subjects, a levels of A and b of B, each effect is tested against its interaction
    with subjects:

    .. math::

        SS_A = nb\\sum_j(\\bar y_{\\cdot j\\cdot} - \\bar y)^2,\\quad
        SS_{AS} = b\\sum_{i,j}(\\bar y_{ij\\cdot} - \\bar y_{i\\cdot\\cdot}
                  - \\bar y_{\\cdot j\\cdot} + \\bar y)^2,

        SS_{AB} = n\\sum_{j,k}(\\bar y_{\\cdot jk} - \\bar y_{\\cdot j\\cdot}
                  - \\bar y_{\\cdot\\cdot k} + \\bar y)^2

    (and likewise B, BS, ABS), F(A) = :math:`MS_A/MS_{AS}` on ((a-1), (a-1)(n-1)) df.
    ``eps_gg`` is the Greenhouse-Geisser epsilon from the covariance of each subject's
    orthonormal contrasts (for A*B the Kronecker product of both factors' contrasts).
    ``ng2`` is :math:`SS/(SS + SS_S + SS_{AS} + SS_{BS} + SS_{ABS})` (Bakeman 2005).

    References
    ----------
    * Bakeman, R. (2005). Recommended effect size statistics for repeated measures designs.
      Behavior Research Methods 37, 379-384.
    * Greenhouse, S. W. & Geisser, S. (1959). Psychometrika 24, 95-112.
    """
    if isinstance(within, str) or len(within) != 2 or within[0] == within[1]:
        raise ValueError("within must name two different columns.")
    a_name, b_name = within
    _require_columns(data, [dv, a_name, b_name, subject], "data")
    frame = data.loc[:, [subject, a_name, b_name, dv]].copy()
    frame[dv] = _as_float(frame[dv], dv)
    if frame[dv].isna().any():
        raise ValueError(f"rm_anova2 needs complete data; {dv!r} has missing values.")
    subjects = _appearance(frame[subject])
    a_levels, b_levels = _appearance(frame[a_name]), _appearance(frame[b_name])
    if len(a_levels) < 2 or len(b_levels) < 2:
        raise ValueError("each within factor needs at least two levels.")
    if len(subjects) < 2:
        raise ValueError("rm_anova2 needs at least two subjects.")
    if frame.duplicated([subject, a_name, b_name]).any():
        raise ValueError("rm_anova2 needs one value per subject and cell; some are repeated.")
    full = pd.MultiIndex.from_product([subjects, a_levels, b_levels])
    cube = frame.set_index([subject, a_name, b_name])[dv].reindex(full)
    if cube.isna().any():
        raise ValueError("rm_anova2 needs a value for every subject in every cell.")
    y = cube.to_numpy(dtype=float).reshape(len(subjects), len(a_levels), len(b_levels))
    n, a, b = y.shape

    grand = y.mean()
    m_s = y.mean(axis=(1, 2))
    m_a = y.mean(axis=(0, 2))
    m_b = y.mean(axis=(0, 1))
    m_sa = y.mean(axis=2)
    m_sb = y.mean(axis=1)
    m_ab = y.mean(axis=0)
    ss_s = a * b * float(((m_s - grand) ** 2).sum())
    ss_a = n * b * float(((m_a - grand) ** 2).sum())
    ss_b = n * a * float(((m_b - grand) ** 2).sum())
    ss_ab = n * float(((m_ab - m_a[:, None] - m_b[None, :] + grand) ** 2).sum())
    ss_as = b * float(((m_sa - m_s[:, None] - m_a[None, :] + grand) ** 2).sum())
    ss_bs = a * float(((m_sb - m_s[:, None] - m_b[None, :] + grand) ** 2).sum())
    residual = (
        y
        - m_sa[:, :, None]
        - m_sb[:, None, :]
        - m_ab[None, :, :]
        + m_s[:, None, None]
        + m_a[None, :, None]
        + m_b[None, None, :]
        - grand
    )
    ss_abs = float((residual**2).sum())

    c_a, c_b = _orthonormal_contrasts(a), _orthonormal_contrasts(b)
    eps_a = _gg_epsilon(np.cov(m_sa, rowvar=False), c_a)
    eps_b = _gg_epsilon(np.cov(m_sb, rowvar=False), c_b)
    eps_ab = _gg_epsilon(np.cov(y.reshape(n, a * b), rowvar=False), np.kron(c_a, c_b))
    errors = ss_s + ss_as + ss_bs + ss_abs
    rows = [
        _anova_row(
            str(a_name),
            ss_a,
            a - 1,
            ss_as,
            (a - 1) * (n - 1),
            eps=eps_a,
            ng2_denominator=errors,
        ),
        _anova_row(
            str(b_name),
            ss_b,
            b - 1,
            ss_bs,
            (b - 1) * (n - 1),
            eps=eps_b,
            ng2_denominator=errors,
        ),
        _anova_row(
            f"{a_name}*{b_name}",
            ss_ab,
            (a - 1) * (b - 1),
            ss_abs,
            (a - 1) * (b - 1) * (n - 1),
            eps=eps_ab,
            ng2_denominator=errors,
        ),
    ]
    return pd.DataFrame(rows, columns=list(ANOVA_COLUMNS))


def one_way_anova(data: pd.DataFrame, dv: str = "value", group: str = "group") -> pd.DataFrame:
    """One-way ANOVA between independent groups, as R ``anova(lm(dv ~ group))``.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per independent observation (for animal values, one day at a time).
    dv : str, default "value"
        Column of the measured values; NaN rows are dropped.
    group : str, default "group"
        Column of the group labels.

    Returns
    -------
    pandas.DataFrame
        One row; columns ``source, ss, df, ms, ss_error, df_error, ms_error, f, p, np2``
        (``source`` is the group column's name; the error terms are R's "Residuals" line).

    Notes
    -----
    .. math:: SS_B = \\sum_g n_g(\\bar y_g - \\bar y)^2,\\quad
              SS_W = \\sum_g \\sum_i (y_{gi} - \\bar y_g)^2,\\quad
              F = \\frac{SS_B/(k-1)}{SS_W/(N-k)}
    """
    _require_columns(data, [dv, group], "data")
    frame = data.loc[:, [group, dv]].copy()
    frame[dv] = _as_float(frame[dv], dv)
    frame = frame[frame[dv].notna()]
    samples = [series.to_numpy() for _, series in frame.groupby(group, sort=False)[dv]]
    n_total, k = len(frame), len(samples)
    if k < 2:
        raise ValueError("one_way_anova needs at least two groups.")
    if n_total <= k:
        raise ValueError("one_way_anova needs more observations than groups.")
    grand = frame[dv].to_numpy().mean()
    ss_between = float(sum(len(x) * (x.mean() - grand) ** 2 for x in samples))
    ss_within = float(sum(((x - x.mean()) ** 2).sum() for x in samples))
    row = _anova_row(str(group), ss_between, k - 1, ss_within, n_total - k)
    return pd.DataFrame([{column: row[column] for column in ONE_WAY_COLUMNS}])


# --------------------------------------------------------------------------------------------
# Serialisation
# --------------------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(item) for item in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        number = float(value)
        # NaN means "undefined" (see the module docstring); JSON says that with null.
        return number if math.isfinite(number) else None
    return value


def to_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Turn a result frame into JSON-ready dicts: NaN becomes None, NumPy scalars Python ones.

    This is the one place where undefined numbers become ``null``; nothing is rounded.
    """
    columns = list(frame.columns)
    if not columns:
        return [{} for _ in range(len(frame))]
    if len(set(columns)) == len(columns):
        values = [_plain_column(frame[column]) for column in columns]
    else:
        values = [_plain_column(frame.iloc[:, index]) for index in range(len(columns))]
    return [dict(zip(columns, row, strict=True)) for row in zip(*values, strict=True)]


def _plain_column(column: pd.Series) -> list[Any]:
    """:func:`_plain` of each value of a column; NumPy numbers are converted all at once."""
    kind = column.dtype.kind if isinstance(column.dtype, np.dtype) else "O"
    if kind == "f":
        return [number if math.isfinite(number) else None for number in column.tolist()]
    if kind in "iub":
        return column.tolist()
    # Text, mostly: a string needs no conversion.
    return [value if type(value) is str else _plain(value) for value in column.tolist()]


def stats_document(
    readings: pd.DataFrame,
    *,
    study: str,
    assay: str,
    comparisons: Sequence[Mapping[str, str]],
    test: str = "student",
    correction: str = "none",
    unit: str | None = None,
    footpads: Sequence[str] = FOOTPADS,
    include_unverified: bool = False,
    group_order: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Build the statistics document of interchange.md section 3.

    Parameters
    ----------
    readings : pandas.DataFrame
        The readings frame of one assay (see :func:`animal_values`).
    study : str
        The study's slug.
    assay : {"von_frey", "hot_plate"}
    comparisons : list of dict
        The study's comparisons, ``{"reference", "group", "symbol"}``.
    test : {"student", "welch"}, default "student"
    correction : {"none", "holm"}, default "none"
    unit : str, optional
        Defaults to "g" for von Frey and "s" for hot plate.
    footpads, include_unverified
        Passed to :func:`animal_values`.
    group_order : list of str, optional
        Order of groups in ``summary``.

    Returns
    -------
    dict
        ``study, assay, unit, test, summary, comparisons, excluded`` as the contract fixes
        them, plus ``correction``, ``footpads`` and ``include_unverified``. Comparison entries
        carry, beyond the contract, ``p_adjusted``, the CI of the mean difference, Hedges' g
        with its CI, and both n. Numbers are unrounded; undefined ones are ``None``.
    """
    if test not in TESTS:
        raise ValueError(f"unknown test {test!r}; expected one of {', '.join(TESTS)}.")
    if correction not in CORRECTIONS:
        raise ValueError(
            f"unknown correction {correction!r}; expected one of {', '.join(CORRECTIONS)}."
        )
    values, excluded = animal_values(
        readings, assay=assay, footpads=footpads, include_unverified=include_unverified
    )
    summary, results = summary_and_comparisons(
        values, comparisons, group_order=group_order, test=test, correction=correction
    )
    return {
        "study": study,
        "assay": assay,
        "unit": unit if unit is not None else UNITS[assay],
        "test": test,
        "correction": correction,
        "footpads": list(footpads) if assay == VON_FREY else [],
        "include_unverified": bool(include_unverified),
        "summary": to_records(summary),
        "comparisons": to_records(results),
        "excluded": to_records(excluded),
    }
