"""Figures from statistics frames: no database, no Django."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
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


def markers(figure):
    """The comparison symbols placed above the timepoints."""
    return [a for a in figure["layout"].get("annotations", []) if a["xref"] == "x"]


def test_each_group_is_a_line_with_sem_error_bars(figure_data):
    _, summary, comparisons = figure_data
    figure = make_figure(summary, comparisons)
    assert [trace["legendgroup"] for trace in figure["data"]] == ["VEH", "PTX-SAL", "PTX-IVIG"]
    for index, trace in enumerate(figure["data"]):
        rows = summary[summary["group"] == trace["legendgroup"]].sort_values("day")
        assert trace["type"] == "scatter" and trace["mode"] == "lines+markers"
        assert trace["x"] == rows["day"].tolist()
        assert trace["y"] == pytest.approx(rows["mean"].tolist())
        assert trace["error_y"]["array"] == pytest.approx(rows["sem"].tolist())
        assert trace["error_y"]["visible"] is True
        assert trace["line"]["color"] == COLOURS[trace["legendgroup"]]
        assert trace["marker"]["color"] == COLOURS[trace["legendgroup"]]
        assert trace["marker"]["symbol"] == charts.SYMBOLS[index]


def test_the_legend_gives_each_groups_n(figure_data):
    _, summary, comparisons = figure_data
    figure = make_figure(summary, comparisons)
    assert figure["data"][0]["name"] == "Vehicle (n = 5)"


def test_the_legend_gives_a_range_when_n_varies(figure_data):
    values, _, _ = figure_data
    fewer = values.drop(values.index[(values["animal"] == "VEH-0") & (values["day"] == 28)])
    summary = stats.describe(fewer, group_order=list(COLOURS))
    figure = make_figure(summary, None)
    assert figure["data"][0]["name"] == "Vehicle (n = 4–5)"


def test_markers_sit_above_the_timepoints_where_the_comparison_is_significant(figure_data):
    _, summary, comparisons = figure_data
    figure = make_figure(summary, comparisons)
    placed = [(a["x"], a["text"]) for a in markers(figure)]
    expected = [
        (int(row.day), row.marker)
        for row in comparisons.itertuples()
        if row.marker not in ("n.s.", "n < 2", "no variance")
    ]
    assert placed == expected
    assert (21, "##") in placed  # PTX-SAL far below vehicle at week 3
    assert all(day != -1 for day, _ in placed)  # nothing at baseline
    tops = (summary["mean"] + summary["sem"]).groupby(summary["day"]).max()
    for annotation in markers(figure):
        assert annotation["y"] == pytest.approx(tops[annotation["x"]])
        assert annotation["yanchor"] == "bottom" and annotation["yshift"] > 0
        assert annotation["showarrow"] is False


def test_several_markers_at_one_timepoint_are_stacked(figure_data):
    _, summary, comparisons = figure_data
    figure = make_figure(summary, comparisons)
    at_week3 = [a for a in markers(figure) if a["x"] == 21]
    assert [a["text"] for a in at_week3] == ["##", "**"]
    assert at_week3[1]["yshift"] > at_week3[0]["yshift"]
    # The y axis leaves room for the stack above the highest error bar.
    top = float((summary["mean"] + summary["sem"]).max())
    assert figure["layout"]["yaxis"]["range"][1] > top * 1.2


def test_the_symbols_are_explained_under_the_plot(figure_data):
    _, summary, comparisons = figure_data
    figure = make_figure(summary, comparisons)
    legend = figure["layout"]["annotations"][-1]
    assert legend["xref"] == legend["yref"] == "paper"
    assert legend["text"].startswith("# PTX + saline vs Vehicle   * PTX + IVIg vs PTX + saline")
    assert figure["layout"]["margin"]["b"] == 120


def test_hover_shows_n_sem_and_p(figure_data):
    _, summary, comparisons = figure_data
    figure = make_figure(summary, comparisons)
    ptx = figure["data"][1]
    week3 = ptx["x"].index(21)
    n, sem, timepoint, p_text = ptx["customdata"][week3]
    assert (n, timepoint) == (5, "week 3")
    assert sem == pytest.approx(summary.query("group == 'PTX-SAL' and day == 21")["sem"].item())
    assert p_text.startswith("vs VEH: P ")
    assert "SEM" in ptx["hovertemplate"] and "n = " in ptx["hovertemplate"]


def test_axis_titles_and_timepoint_labels(figure_data):
    _, summary, comparisons = figure_data
    figure = make_figure(summary, comparisons)
    layout = figure["layout"]
    assert layout["yaxis"]["title"]["text"] == "Paw withdrawal threshold (g)"
    assert layout["xaxis"]["ticktext"] == ["baseline", "week 3", "week 4"]
    assert layout["xaxis"]["tickvals"] == [-1, 21, 28]
    assert layout["xaxis"]["range"][0] < -1 and layout["xaxis"]["range"][1] > 28


def test_an_empty_summary_gives_a_figure_that_says_so():
    empty = stats.describe(pd.DataFrame(columns=list(stats.VALUE_COLUMNS)))
    figure = charts.group_means_figure(empty, None, colours={}, y_title="Latency (s)")
    assert figure["data"] == []
    assert figure["layout"]["annotations"][0]["text"] == "No counted values yet"


def test_animal_curves_draw_one_line_per_animal_with_one_legend_entry_per_group(figure_data):
    values, _, _ = figure_data
    figure = charts.animal_curves_figure(
        values, colours=COLOURS, group_order=list(COLOURS), y_title="Latency (s)"
    )
    assert len(figure["data"]) == 15
    assert sum(1 for trace in figure["data"] if trace["showlegend"]) == 3
    assert figure["layout"]["yaxis"]["title"]["text"] == "Latency (s)"
    first = figure["data"][0]
    assert (first["text"], first["x"]) == (["VEH-0"] * 3, [-1, 21, 28])
    assert first["line"]["color"] == COLOURS["VEH"] and first["opacity"] == 0.75


def test_animal_curves_follow_each_animal_by_day_whatever_the_row_order(figure_data):
    values, _, _ = figure_data
    shuffled = values.sample(frac=1, random_state=7)
    figure = charts.animal_curves_figure(
        shuffled, colours=COLOURS, group_order=["PTX-IVIG"], y_title="Latency (s)"
    )
    traces = figure["data"]
    # The listed group first, the others in order of appearance; animals sorted in each group.
    expected_groups = ["PTX-IVIG"] + [g for g in pd.unique(shuffled["group"]) if g != "PTX-IVIG"]
    assert [t["legendgroup"] for t in traces[::5]] == expected_groups
    assert [t["text"][0] for t in traces[:5]] == [f"PTX-IVIG-{i}" for i in range(5)]
    for trace in traces:
        rows = values[values["animal"] == trace["text"][0]].sort_values("day")
        assert trace["x"] == rows["day"].tolist()
        assert trace["y"] == rows["value"].tolist()


def test_body_weight_figure_plots_mean_and_sem_in_grams():
    rows = [(f"R{i}", "VEH", f"day {d}", d, 250.0 + d + i) for i in range(4) for d in (0, 7, 14)]
    weights = pd.DataFrame(rows, columns=list(stats.VALUE_COLUMNS))
    summary = stats.describe(weights)
    figure = charts.body_weight_figure(summary, colours=COLOURS)
    assert figure["layout"]["yaxis"]["title"]["text"] == "Body weight (g)"
    assert figure["layout"]["yaxis"]["rangemode"] == "normal"
    assert figure["data"][0]["y"] == pytest.approx([251.5, 258.5, 265.5])
    sd = math.sqrt(sum((x - 1.5) ** 2 for x in range(4)) / 3)
    assert figure["data"][0]["error_y"]["array"] == pytest.approx([sd / 2] * 3)


def test_figure_rows_carry_p_and_marker_of_each_comparison(figure_data):
    _, summary, comparisons = figure_data
    rows = charts.figure_rows(summary, comparisons)
    row = next(r for r in rows if r["group"] == "PTX-SAL" and r["day"] == 21)
    assert (row["compared_with"], row["marker"]) == ("VEH", "##")
    assert float(row["p"]) < 0.01
    assert next(r for r in rows if r["group"] == "VEH")["compared_with"] == ""


def blinded_figure(values):
    """As a blinded technician sees it: coded labels, fallback colours, "Group X" names."""
    code = {"VEH": "B", "PTX-SAL": "C", "PTX-IVIG": "A"}
    coded = values.assign(group=values["group"].map(code))
    specs = [{**s, "reference": code[s["reference"]], "group": code[s["group"]]} for s in SYMBOLS]
    labels = sorted(code.values())
    return charts.group_means_figure(
        stats.describe(coded, group_order=labels),
        stats.compare(coded, specs),
        colours={c: charts.FALLBACK_COLOURS[i] for i, c in enumerate(labels)},
        names={c: f"Group {c}" for c in labels},
        group_order=labels,
        symbols=specs,
        y_title="Paw withdrawal threshold (g)",
        ticks=[("baseline", -1), ("week 3", 21), ("week 4", 28)],
        unit="g",
    )


def one_animal_at_week4(values):
    """A SEM that is NaN: only one vehicle animal measured at week 4."""
    return values[
        ~((values["group"] == "VEH") & (values["day"] == 28) & (values["animal"] != "VEH-0"))
    ]


EMPTY_VALUES = pd.DataFrame(columns=list(stats.VALUE_COLUMNS))
FIGURES = {
    "group means with markers": lambda v: make_figure(
        stats.describe(v, group_order=list(COLOURS)), stats.compare(v, SYMBOLS)
    ),
    "group means, no comparisons": lambda v: charts.group_means_figure(
        stats.describe(v), None, colours={}, y_title="Latency (s)"
    ),
    "group means, NaN SEM": lambda v: make_figure(
        stats.describe(one_animal_at_week4(v), group_order=list(COLOURS)),
        stats.compare(one_animal_at_week4(v), SYMBOLS),
    ),
    "group means, empty": lambda v: make_figure(stats.describe(EMPTY_VALUES), None),
    "group means, blinded labels": blinded_figure,
    "animal curves": lambda v: charts.animal_curves_figure(
        v,
        colours=COLOURS,
        names={"VEH": "Vehicle"},
        group_order=list(COLOURS),
        y_title="Latency (s)",
        ticks=[("baseline", -1), ("week 3", 21), ("week 4", 28)],
    ),
    "animal curves, empty": lambda v: charts.animal_curves_figure(
        EMPTY_VALUES, colours=COLOURS, y_title="Latency (s)"
    ),
    "body weight": lambda v: charts.body_weight_figure(
        stats.describe(v.assign(value=v["value"] + 250)), colours=COLOURS
    ),
    "body weight, empty": lambda v: charts.body_weight_figure(
        stats.describe(EMPTY_VALUES), colours=COLOURS
    ),
}


def strict_loads(text):
    """json.loads that refuses NaN and Infinity, which JSON.parse in the page would refuse."""

    def refuse(constant):
        raise ValueError(f"{constant} in the JSON")

    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize("name", FIGURES)
def test_every_figure_is_a_valid_plotly_figure_and_its_json_is_plotlys(name):
    figure = FIGURES[name](values_frame())
    text = charts.figure_json(figure)
    # Plotly checks every property: an unknown or ill-typed one raises ValueError.
    validated = go.Figure(figure)
    assert strict_loads(text) == strict_loads(validated.to_json())
    assert "NaN" not in text and "Infinity" not in text
    assert "<" not in text and ">" not in text


def test_plotly_refuses_a_figure_with_an_unknown_property():
    with pytest.raises(ValueError, match="colour"):
        go.Figure({"data": [{"type": "scatter", "colour": "red"}]})


def test_a_nan_sem_draws_a_zero_error_bar_and_stays_out_of_the_json(figure_data):
    values, _, _ = figure_data
    thin = one_animal_at_week4(values)
    summary = stats.describe(thin, group_order=list(COLOURS))
    assert summary["sem"].isna().any()
    figure = make_figure(summary, stats.compare(thin, SYMBOLS))
    vehicle = strict_loads(charts.figure_json(figure))["data"][0]
    assert vehicle["name"] == "Vehicle (n = 1–5)"
    assert vehicle["error_y"]["array"][-1] == 0.0
    assert vehicle["customdata"][-1][:2] == [1, 0.0]


def test_blinded_figures_show_only_the_coded_labels(figure_data):
    values, _, _ = figure_data
    figure = blinded_figure(values)
    assert [t["name"] for t in figure["data"]] == [f"Group {c} (n = 5)" for c in "ABC"]
    assert [t["line"]["color"] for t in figure["data"]] == list(charts.FALLBACK_COLOURS[:3])
    text = charts.figure_json(figure)
    assert not any(code in text for code in ("VEH", "PTX", "Vehicle", "saline"))


def test_figure_json_writes_nan_and_infinity_as_null_and_numpy_as_plain_numbers():
    figure = {
        "data": [
            {
                "type": "scatter",
                "x": np.array([1, 2, 3]),
                "y": [1.5, float("nan"), np.float64("inf")],
                "customdata": [[np.int64(4), np.float32("nan"), np.float64(-np.inf)]],
                "error_y": {"array": np.array([0.5, np.nan, 0.25])},
            }
        ],
        "layout": {"height": np.int64(440)},
    }
    text = charts.figure_json(figure)
    assert strict_loads(text) == {
        "data": [
            {
                "type": "scatter",
                "x": [1, 2, 3],
                "y": [1.5, None, None],
                "customdata": [[4, None, None]],
                "error_y": {"array": [0.5, None, 0.25]},
            }
        ],
        "layout": {"height": 440},
    }
    assert "NaN" not in text and "Infinity" not in text


def test_a_nan_in_the_values_is_a_gap_in_the_animal_curve(figure_data):
    values, _, _ = figure_data
    values = values.copy()
    values.loc[(values["animal"] == "VEH-0") & (values["day"] == 21), "value"] = float("nan")
    figure = charts.animal_curves_figure(values, colours=COLOURS, y_title="Latency (s)")
    text = charts.figure_json(figure)
    assert strict_loads(text)["data"][0]["y"][1] is None
    assert "NaN" not in text


def test_figure_json_escapes_what_could_close_the_script_element():
    figure = {"data": [], "layout": {"title": {"text": "</script><b>A & B</b>"}}}
    text = charts.figure_json(figure)
    assert "<" not in text and ">" not in text and "&" not in text
    assert strict_loads(text)["layout"]["title"]["text"] == "</script><b>A & B</b>"


def test_figures_carry_the_simple_white_template_whole(figure_data):
    values, summary, comparisons = figure_data
    expected = pio.templates["simple_white"].to_plotly_json()
    for figure in (
        make_figure(summary, comparisons),
        charts.animal_curves_figure(values, colours=COLOURS, y_title="Latency (s)"),
    ):
        # plotly.js knows no template by name: the page needs the template itself.
        assert figure["layout"]["template"] == expected


def test_changing_one_figure_leaves_the_next_unchanged(figure_data):
    _, summary, comparisons = figure_data
    first = make_figure(summary, comparisons)
    first["layout"]["font"]["size"] = 99
    first["layout"]["annotations"][0]["font"]["size"] = 99
    first["layout"]["template"]["layout"]["font"] = {"size": 99}
    second = make_figure(summary, comparisons)
    assert second["layout"]["font"]["size"] == 14
    assert second["layout"]["annotations"][0]["font"]["size"] == 15
    assert second["layout"]["template"] == pio.templates["simple_white"].to_plotly_json()


def test_charts_import_neither_django_nor_plotly():
    code = (
        "import sys, pandas as pd, behavior.charts as c\n"
        "v = pd.DataFrame([('R1', 'VEH', 'baseline', 0, 1.0)], "
        "columns=['animal', 'group', 'timepoint', 'day', 'value'])\n"
        "c.figure_json(c.animal_curves_figure(v, colours={}, y_title='x'))\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'django', 'plotly'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
