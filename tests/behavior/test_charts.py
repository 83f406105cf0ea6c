"""Figures from statistics frames: no database, no Django."""

from __future__ import annotations

import math
import subprocess
import sys

import pandas as pd
import pytest

from behavior import charts, stats

COLOURS = {"VEH": "#4d4d4d", "PTX-SAL": "#d62728", "PTX-IVIG": "#1f77b4"}
SYMBOLS = [
    {"reference": "VEH", "group": "PTX-SAL", "symbol": "#"},
    {"reference": "PTX-SAL", "group": "PTX-IVIG", "symbol": "*"},
]


def values_frame() -> pd.DataFrame:
    """Fig. 1a in miniature: baseline equal, then PTX-SAL falls and IVIg protects."""
    means = {
        -1: {"VEH": 15.0, "PTX-SAL": 15.0, "PTX-IVIG": 15.0},
        21: {"VEH": 15.0, "PTX-SAL": 8.0, "PTX-IVIG": 12.0},
        28: {"VEH": 15.0, "PTX-SAL": 14.0, "PTX-IVIG": 14.5},
    }
    labels = {-1: "baseline", 21: "week 3", 28: "week 4"}
    rows = []
    for day, by_group in means.items():
        for g, (group, mean) in enumerate(by_group.items()):
            for i, offset in enumerate((-0.6, -0.2, 0.1, 0.3, 0.4)):
                rows.append((f"{group}-{i}", group, labels[day], day, mean + offset * (g + 1)))
    return pd.DataFrame(rows, columns=list(stats.VALUE_COLUMNS))


@pytest.fixture
def figure_data():
    values = values_frame()
    summary = stats.describe(values, group_order=list(COLOURS))
    comparisons = stats.compare(values, SYMBOLS)
    return values, summary, comparisons


def make_figure(summary, comparisons):
    return charts.group_means_figure(
        summary,
        comparisons,
        colours=COLOURS,
        names={"VEH": "Vehicle", "PTX-SAL": "PTX + saline", "PTX-IVIG": "PTX + IVIg"},
        group_order=list(COLOURS),
        symbols=SYMBOLS,
        y_title="Paw withdrawal threshold (g)",
        ticks=[("baseline", -1), ("week 3", 21), ("week 4", 28)],
    )


def test_each_group_is_a_line_with_sem_error_bars(figure_data):
    _, summary, comparisons = figure_data
    figure = make_figure(summary, comparisons)
    assert [trace.legendgroup for trace in figure.data] == ["VEH", "PTX-SAL", "PTX-IVIG"]
    for trace in figure.data:
        rows = summary[summary["group"] == trace.legendgroup].sort_values("day")
        assert list(trace.x) == rows["day"].tolist()
        assert list(trace.y) == pytest.approx(rows["mean"].tolist())
        assert list(trace.error_y.array) == pytest.approx(rows["sem"].tolist())
        assert trace.line.color == COLOURS[trace.legendgroup]


def test_the_legend_gives_each_groups_n(figure_data):
    _, summary, comparisons = figure_data
    figure = make_figure(summary, comparisons)
    assert figure.data[0].name == "Vehicle (n = 5)"


def test_the_legend_gives_a_range_when_n_varies(figure_data):
    values, _, _ = figure_data
    fewer = values.drop(values.index[(values["animal"] == "VEH-0") & (values["day"] == 28)])
    summary = stats.describe(fewer, group_order=list(COLOURS))
    figure = make_figure(summary, None)
    assert figure.data[0].name == "Vehicle (n = 4–5)"


def test_markers_sit_above_the_timepoints_where_the_comparison_is_significant(figure_data):
    _, summary, comparisons = figure_data
    figure = make_figure(summary, comparisons)
    placed = [(a.x, a.text) for a in figure.layout.annotations if a.xref == "x"]
    expected = [
        (int(row.day), row.marker)
        for row in comparisons.itertuples()
        if row.marker not in ("n.s.", "n < 2", "no variance")
    ]
    assert placed == expected
    assert (21, "##") in placed  # PTX-SAL far below vehicle at week 3
    assert all(day != -1 for day, _ in placed)  # nothing at baseline
    tops = (summary["mean"] + summary["sem"]).groupby(summary["day"]).max()
    for annotation in figure.layout.annotations:
        if annotation.xref == "x":
            assert annotation.y == pytest.approx(tops[annotation.x])
            assert annotation.yanchor == "bottom" and annotation.yshift > 0


def test_several_markers_at_one_timepoint_are_stacked(figure_data):
    _, summary, comparisons = figure_data
    figure = make_figure(summary, comparisons)
    at_week3 = [a for a in figure.layout.annotations if a.xref == "x" and a.x == 21]
    assert [a.text for a in at_week3] == ["##", "**"]
    assert at_week3[1].yshift > at_week3[0].yshift
    # The y axis leaves room for the stack above the highest error bar.
    top = float((summary["mean"] + summary["sem"]).max())
    assert figure.layout.yaxis.range[1] > top * 1.2


def test_hover_shows_n_sem_and_p(figure_data):
    _, summary, comparisons = figure_data
    figure = make_figure(summary, comparisons)
    ptx = figure.data[1]
    week3 = list(ptx.x).index(21)
    n, sem, timepoint, p_text = ptx.customdata[week3]
    assert (n, timepoint) == (5, "week 3")
    assert sem == pytest.approx(summary.query("group == 'PTX-SAL' and day == 21")["sem"].item())
    assert p_text.startswith("vs VEH: P ")
    assert "SEM" in ptx.hovertemplate and "n = " in ptx.hovertemplate


def test_axis_titles_and_timepoint_labels(figure_data):
    _, summary, comparisons = figure_data
    figure = make_figure(summary, comparisons)
    assert figure.layout.yaxis.title.text == "Paw withdrawal threshold (g)"
    assert list(figure.layout.xaxis.ticktext) == ["baseline", "week 3", "week 4"]
    assert list(figure.layout.xaxis.tickvals) == [-1, 21, 28]


def test_an_empty_summary_gives_a_figure_that_says_so():
    empty = stats.describe(pd.DataFrame(columns=list(stats.VALUE_COLUMNS)))
    figure = charts.group_means_figure(empty, None, colours={}, y_title="Latency (s)")
    assert len(figure.data) == 0
    assert figure.layout.annotations[0].text == "No counted values yet"


def test_animal_curves_draw_one_line_per_animal_with_one_legend_entry_per_group(figure_data):
    values, _, _ = figure_data
    figure = charts.animal_curves_figure(
        values, colours=COLOURS, group_order=list(COLOURS), y_title="Latency (s)"
    )
    assert len(figure.data) == 15
    assert sum(1 for trace in figure.data if trace.showlegend) == 3
    assert figure.layout.yaxis.title.text == "Latency (s)"


def test_body_weight_figure_plots_mean_and_sem_in_grams():
    rows = [(f"R{i}", "VEH", f"day {d}", d, 250.0 + d + i) for i in range(4) for d in (0, 7, 14)]
    weights = pd.DataFrame(rows, columns=list(stats.VALUE_COLUMNS))
    summary = stats.describe(weights)
    figure = charts.body_weight_figure(summary, colours=COLOURS)
    assert figure.layout.yaxis.title.text == "Body weight (g)"
    assert list(figure.data[0].y) == pytest.approx([251.5, 258.5, 265.5])
    sd = math.sqrt(sum((x - 1.5) ** 2 for x in range(4)) / 3)
    assert list(figure.data[0].error_y.array) == pytest.approx([sd / 2] * 3)


def test_figure_rows_carry_p_and_marker_of_each_comparison(figure_data):
    _, summary, comparisons = figure_data
    rows = charts.figure_rows(summary, comparisons)
    row = next(r for r in rows if r["group"] == "PTX-SAL" and r["day"] == 21)
    assert (row["compared_with"], row["marker"]) == ("VEH", "##")
    assert float(row["p"]) < 0.01
    assert next(r for r in rows if r["group"] == "VEH")["compared_with"] == ""


def test_charts_import_no_django():
    code = "import sys, behavior.charts; print(any(m.startswith('django') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
