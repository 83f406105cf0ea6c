"""Figures of the statistics: frames in, Plotly figures out.

Pure: imports pandas, neither Django nor Plotly. A figure is a plain dict in Plotly's JSON
figure format (``{"data": [...], "layout": {...}}``): ``plotly.graph_objects`` validated every
property of every trace, which cost far more than the figures' numbers (the tests validate each
figure with it instead). The views send ``figure_json(figure)`` to the page, where
``Plotly.newPlot`` draws it. The look follows the seed paper's figures: group mean ± SEM
by timepoint, lines with markers, the comparison symbols (#, ##, *, ** ...) above each
timepoint where the comparison is significant, n per group in the legend.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

Figure = dict[str, Any]

FALLBACK_COLOURS = ("#4d4d4d", "#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e")
# Filled and open symbols tell the groups apart in a black-and-white print, as in the paper.
SYMBOLS = ("circle", "square", "triangle-up", "diamond", "circle-open", "square-open")
NOT_MARKED = {"n.s.", "n < 2", "no variance", "", None}
FONT = {"family": "Arial, Helvetica, sans-serif", "size": 14, "color": "#111"}
MARKER_FONT = {"family": "Arial, Helvetica, sans-serif", "size": 15, "color": "#111"}
# Each stacked row of comparison symbols sits this many pixels above the previous one.
MARKER_STEP_PX = 17
MARKER_FIRST_PX = 6
TEMPLATE = "simple_white"


@functools.cache
def _template_json(name: str) -> str:
    """A Plotly template as JSON text, read from the installed plotly package once a process.

    plotly.js knows no templates by name, so a figure carries its template whole, as
    ``Figure.to_json`` sent it. The package is found without importing plotly.
    """
    spec = importlib.util.find_spec("plotly")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "The plotly package is not installed: it provides the figures' template."
        )
    package = Path(next(iter(spec.submodule_search_locations)))
    return (package / "package_data" / "templates" / f"{name}.json").read_text(encoding="utf-8")


def _colour(colours: Mapping[str, str], group: str, index: int) -> str:
    return colours.get(group) or FALLBACK_COLOURS[index % len(FALLBACK_COLOURS)]


def _n_text(ns: Sequence[int]) -> str:
    low, high = min(ns), max(ns)
    return f"n = {low}" if low == high else f"n = {low}–{high}"


def _p_text(p: float | None) -> str:
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "no P"
    return "P < 0.0001" if p < 0.0001 else f"P = {p:.4f}"


def _base_layout(*, y_title: str, x_title: str, ticks: Sequence[tuple[str, int]] | None) -> dict:
    xaxis = {
        "title": {"text": x_title},
        "showline": True,
        "linecolor": "#111",
        "ticks": "outside",
        "zeroline": False,
        "showgrid": False,
    }
    if ticks:
        xaxis["tickmode"] = "array"
        xaxis["tickvals"] = [day for _, day in ticks]
        xaxis["ticktext"] = [label for label, _ in ticks]
        span = max(day for _, day in ticks) - min(day for _, day in ticks)
        pad = max(span * 0.06, 1)
        xaxis["range"] = [min(day for _, day in ticks) - pad, max(day for _, day in ticks) + pad]
    return {
        "template": json.loads(_template_json(TEMPLATE)),
        "font": dict(FONT),
        "height": 440,
        "margin": {"l": 70, "r": 20, "t": 30, "b": 60},
        "xaxis": xaxis,
        "yaxis": {
            "title": {"text": y_title},
            "showline": True,
            "linecolor": "#111",
            "ticks": "outside",
            "rangemode": "tozero",
            "zeroline": False,
        },
        "legend": {
            "orientation": "h",
            "yanchor": "top",
            "y": -0.17,
            "xanchor": "left",
            "x": 0,
        },
        "hovermode": "closest",
    }


def group_means_figure(
    summary: pd.DataFrame,
    comparisons: pd.DataFrame | None = None,
    *,
    colours: Mapping[str, str],
    names: Mapping[str, str] | None = None,
    group_order: Sequence[str] | None = None,
    symbols: Sequence[Mapping[str, str]] = (),
    y_title: str,
    x_title: str = "Time after the first dose",
    ticks: Sequence[tuple[str, int]] | None = None,
    unit: str = "",
) -> Figure:
    """Group mean ± SEM by day, one line per group, with the comparison markers.

    Parameters
    ----------
    summary : DataFrame
        ``group, timepoint, day, n, mean, sd, sem`` (``stats.describe``).
    comparisons : DataFrame, optional
        ``reference, group, day, p, p_adjusted, marker`` (``stats.compare``); each marker
        that is not "n.s." (or a degenerate reason) is drawn above its day. Several significant
        comparisons at one day are stacked, in the order of the comparisons.
    colours, names : mapping of group to colour / legend name
        Groups without one get a fallback colour / their own label.
    symbols : list of ``{"reference", "group", "symbol"}``
        The comparisons' symbols, explained under the plot.
    ticks : list of (label, day), optional
        Timepoint labels on the x axis; days keep their true spacing.
    """
    names = names or {}
    layout = _base_layout(y_title=y_title, x_title=x_title, ticks=ticks)
    if summary.empty:
        layout["annotations"] = [
            {
                "text": "No counted values yet",
                "xref": "paper",
                "yref": "paper",
                "x": 0.5,
                "y": 0.5,
                "showarrow": False,
                "font": {**FONT, "color": "#5b6573"},
            }
        ]
        return {"data": [], "layout": layout}

    order = list(group_order or []) + [
        g for g in pd.unique(summary["group"]) if g not in (group_order or [])
    ]
    comparisons = comparisons if comparisons is not None else pd.DataFrame()
    p_column = "p_adjusted" if "p_adjusted" in comparisons else "p"
    # Hover text per (group, day): the P of each comparison in which the group is compared.
    hover_p: dict[tuple[str, int], list[str]] = {}
    if not comparisons.empty:
        for group, day, reference, p, marker in _rows(
            comparisons, "group", "day", "reference", p_column, "marker"
        ):
            hover_p.setdefault((group, int(day)), []).append(
                f"vs {reference}: {_p_text(p)} ({marker})"
            )

    # Each group's rows by day, in one pass over plain lists rather than a sub-frame each.
    by_group: dict[Any, list[tuple]] = {}
    for row in zip(
        summary["group"].tolist(),
        summary["day"].tolist(),
        summary["mean"].tolist(),
        summary["sem"].tolist(),
        summary["n"].tolist(),
        summary["timepoint"].tolist(),
        strict=True,
    ):
        by_group.setdefault(row[0], []).append(row)
    traces = []
    for index, group in enumerate(order):
        rows = sorted(by_group.get(group, []), key=lambda row: row[1])
        if not rows:
            continue
        colour = _colour(colours, group, index)
        days = [int(day) for _, day, _, _, _, _ in rows]
        sem = [0.0 if math.isnan(s) else float(s) for _, _, _, s, _, _ in rows]
        ns = [int(n) for _, _, _, _, n, _ in rows]
        customdata = [
            [n, s, tp, "<br>".join(hover_p.get((group, day), []))]
            for n, s, tp, day in zip(ns, sem, [r[5] for r in rows], days, strict=True)
        ]
        traces.append(
            {
                "type": "scatter",
                "x": days,
                "y": [float(mean) for _, _, mean, _, _, _ in rows],
                "mode": "lines+markers",
                "name": f"{names.get(group, group)} ({_n_text(ns)})",
                "legendgroup": group,
                "line": {"color": colour, "width": 2},
                "marker": {
                    "color": colour,
                    "size": 9,
                    "symbol": SYMBOLS[index % len(SYMBOLS)],
                    "line": {"color": colour, "width": 1.5},
                },
                "error_y": {
                    "type": "data",
                    "array": sem,
                    "visible": True,
                    "color": colour,
                    "thickness": 1.5,
                    "width": 5,
                },
                "customdata": customdata,
                "hovertemplate": (
                    "<b>%{fullData.name}</b><br>%{customdata[2]}<br>"
                    f"mean %{{y:.3g}} {unit} ± SEM %{{customdata[1]:.3g}}<br>"
                    "n = %{customdata[0]}<br>%{customdata[3]}<extra></extra>"
                ),
            }
        )

    annotations = comparison_markers(summary, comparisons)
    top = float((summary["mean"] + summary["sem"].fillna(0.0)).max())
    if annotations and top > 0:
        rows_needed = max(a["_stack"] for a in annotations) + 1
        # Leave room above the highest error bar for the stacked symbols (about 8% of the
        # plot height per row).
        layout["yaxis"]["range"] = [0, top * (1.08 + 0.09 * rows_needed)]
    for annotation in annotations:
        del annotation["_stack"]
    if symbols:
        legend_text = "   ".join(
            f"{s['symbol']} {names.get(s['group'], s['group'])} vs "
            f"{names.get(s['reference'], s['reference'])}"
            for s in symbols
        )
        annotations.append(
            {
                "text": legend_text + "   (once: P < 0.05, twice: P < 0.01)",
                "xref": "paper",
                "yref": "paper",
                "x": 0,
                "y": 0,
                # Below the x-axis title and the legend, so that an exported figure keeps it.
                "yshift": -96,
                "xanchor": "left",
                "yanchor": "top",
                "showarrow": False,
                "font": {**FONT, "size": 12, "color": "#444"},
            }
        )
        layout["margin"] = {**layout["margin"], "b": 120}
        layout["height"] = layout["height"] + 30
    if annotations:
        # Plotly's JSON leaves out an empty list of annotations.
        layout["annotations"] = annotations
    return {"data": traces, "layout": layout}


def _rows(frame: pd.DataFrame, *columns: str):
    """The frame's rows as tuples of the named columns, in plain Python values: for a few
    dozen rows ``to_dict("records")`` costs a millisecond, this a tenth of it."""
    return zip(*(frame[column].tolist() for column in columns), strict=True)


def comparison_markers(summary: pd.DataFrame, comparisons: pd.DataFrame) -> list[dict]:
    """Annotations for the significant comparisons, stacked above each timepoint.

    Each sits above the highest mean + SEM of any group on its day; a second significant
    comparison on the same day goes one row higher. The key ``_stack`` holds the row (0 = the
    lowest) for the caller to size the axis; remove it before giving the layout to Plotly.
    """
    if comparisons is None or comparisons.empty or summary.empty:
        return []
    # The highest mean + SEM of each day (a few dozen rows: plain Python beats a groupby).
    tops: dict[int, float] = {}
    for day, mean, sem in _rows(summary, "day", "mean", "sem"):
        top = mean + (0.0 if math.isnan(sem) else sem)
        if day not in tops or top > tops[day] or math.isnan(tops[day]):
            tops[day] = top
    stack: dict[int, int] = {}
    annotations = []
    for marker, day, group, reference in _rows(comparisons, "marker", "day", "group", "reference"):
        if marker in NOT_MARKED:
            continue
        day = int(day)
        if day not in tops:
            continue
        level = stack.get(day, 0)
        stack[day] = level + 1
        annotations.append(
            {
                "x": day,
                "y": float(tops[day]),
                "xref": "x",
                "yref": "y",
                "text": marker,
                "showarrow": False,
                "yanchor": "bottom",
                "yshift": MARKER_FIRST_PX + MARKER_STEP_PX * level,
                "font": dict(MARKER_FONT),
                "hovertext": f"{group} vs {reference}",
                "_stack": level,
            }
        )
    return annotations


def animal_curves_figure(
    values: pd.DataFrame,
    *,
    colours: Mapping[str, str],
    names: Mapping[str, str] | None = None,
    group_order: Sequence[str] | None = None,
    y_title: str,
    x_title: str = "Time after the first dose",
    ticks: Sequence[tuple[str, int]] | None = None,
) -> Figure:
    """One thin line per animal, coloured by group; the legend toggles a whole group."""
    names = names or {}
    order = list(group_order or []) + [
        g for g in pd.unique(values["group"]) if g not in (group_order or [])
    ]
    # One pass over the rows sorted by animal and day, rather than a sub-frame per animal:
    # group -> animal -> (days, values), animals in sorted order.
    curves: dict[Any, dict[Any, tuple[list, list]]] = {}
    ordered = values.sort_values(["animal", "day"], kind="stable")
    for group, animal, day, value in zip(
        ordered["group"].tolist(),
        ordered["animal"].tolist(),
        ordered["day"].tolist(),
        ordered["value"].tolist(),
        strict=True,
    ):
        days, points = curves.setdefault(group, {}).setdefault(animal, ([], []))
        days.append(day)
        points.append(value)
    traces = []
    for index, group in enumerate(order):
        colour = _colour(colours, group, index)
        for position, (animal, (days, points)) in enumerate(curves.get(group, {}).items()):
            traces.append(
                {
                    "type": "scatter",
                    "x": days,
                    "y": points,
                    "mode": "lines+markers",
                    "name": names.get(group, group),
                    "legendgroup": group,
                    "showlegend": position == 0,
                    "line": {"color": colour, "width": 1},
                    "marker": {"color": colour, "size": 5},
                    "opacity": 0.75,
                    "text": [animal] * len(days),
                    "hovertemplate": "<b>%{text}</b><br>day %{x}: %{y:.3g}<extra></extra>",
                }
            )
    layout = _base_layout(y_title=y_title, x_title=x_title, ticks=ticks)
    layout["showlegend"] = True
    return {"data": traces, "layout": layout}


def body_weight_figure(
    summary: pd.DataFrame,
    *,
    colours: Mapping[str, str],
    names: Mapping[str, str] | None = None,
    group_order: Sequence[str] | None = None,
) -> Figure:
    """Body weight, group mean ± SEM by day (``summary`` as from ``stats.describe``)."""
    figure = group_means_figure(
        summary,
        None,
        colours=colours,
        names=names,
        group_order=group_order,
        y_title="Body weight (g)",
        x_title="Day after the first dose",
        unit="g",
    )
    if not summary.empty:
        figure["layout"]["yaxis"]["rangemode"] = "normal"
    return figure


def figure_json(figure: Mapping[str, Any]) -> str:
    """The figure as JSON text for ``Plotly.newPlot`` in a page's ``<script>``.

    Strict JSON, as Plotly's own: NaN and infinities become ``null`` (a gap in the line), numpy
    numbers and arrays plain numbers and lists. ``<``, ``>`` and ``&`` are escaped, so that no
    text in the figure (hover templates hold ``<br>``) can end the script element.
    """
    try:
        text = json.dumps(figure, default=_json_default, allow_nan=False, separators=(",", ":"))
    except ValueError:
        # A NaN or an infinity somewhere, rarely: only then is the whole figure walked.
        text = json.dumps(
            _finite(figure), default=_json_default, allow_nan=False, separators=(",", ":")
        )
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _finite(value: Any) -> Any:
    """``value`` with each NaN or infinite number replaced by None, numpy values made plain."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    if isinstance(value, (np.ndarray, np.generic)):
        return _finite(value.tolist())
    return value


def _json_default(value: Any) -> Any:
    """numpy scalars and arrays, which ``json`` does not know, as plain numbers and lists."""
    if isinstance(value, (np.ndarray, np.generic)):
        return _finite(value.tolist())
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def figure_rows(summary: pd.DataFrame, comparisons: pd.DataFrame | None) -> list[dict]:
    """The plotted numbers as flat rows for a CSV: one per group and timepoint, with the P and
    marker of every comparison in which the group is the compared group."""
    rows = []
    comparisons = comparisons if comparisons is not None else pd.DataFrame()
    p_column = "p_adjusted" if "p_adjusted" in comparisons else "p"
    lookup: dict[tuple[str, int], list[dict]] = {}
    for row in comparisons.to_dict("records"):
        lookup.setdefault((row["group"], int(row["day"])), []).append(row)
    for row in summary.to_dict("records"):
        tested = lookup.get((row["group"], int(row["day"])), [])
        rows.append(
            {
                "group": row["group"],
                "timepoint": row["timepoint"],
                "day": int(row["day"]),
                "n": int(row["n"]),
                "mean": row["mean"],
                "sd": row["sd"],
                "sem": row["sem"],
                "compared_with": "; ".join(str(t["reference"]) for t in tested),
                "p": "; ".join(
                    "" if pd.isna(t[p_column]) else repr(float(t[p_column])) for t in tested
                ),
                "marker": "; ".join(str(t["marker"]) for t in tested),
            }
        )
    return rows
