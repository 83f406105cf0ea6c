"""The number formats of the dashboard's tables (display only: documents keep every digit)."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest

from behavior.templatetags.dashboard_format import (
    comparison_cells,
    comparison_rows,
    completeness_rows,
    dof,
    excluded_items,
    num,
    percent,
    pvalue,
    summary_table,
)


@pytest.mark.parametrize(
    ("share", "shown"),
    [(100.0, "100%"), (99.625, "99%"), (99.99, "99%"), (0.4, "0%"), (math.nan, "—"), (None, "—")],
)
def test_a_share_done_is_rounded_down(share, shown):
    assert percent(share) == shown


def test_numbers_p_values_and_degrees_of_freedom():
    assert (num(1.005), num(-0.8912, 3), num(math.nan)) == ("1.00", "-0.891", "—")
    assert (pvalue(0.00004), pvalue(0.0766), pvalue(None)) == ("< 0.0001", "0.0766", "—")
    assert (dof(23.0), dof(17.456)) == ("23", "17.46")


def test_a_comparison_row_escapes_its_texts():
    row = {
        "group": "<b>A</b>",
        "reference": "VEH & co",
        "timepoint": "day 7",
        "n_group": 10,
        "n_reference": 9,
        "statistic": -2.5,
        "df": 17.0,
        "p": 0.00001,
        "p_adjusted": 0.02,
        "marker": "#",
        "mean_difference": -1.0,
        "ci_low": -2.0,
        "ci_high": 0.0,
        "hedges_g": -1.1,
        "g_ci_low": -2.0,
        "g_ci_high": -0.2,
    }
    html = comparison_cells(row, "holm")
    assert "<td>&lt;b&gt;A&lt;/b&gt; vs VEH &amp; co</td>" in html
    assert '<td class="num">&lt; 0.0001</td><td class="num">0.0200</td>' in html
    assert "<b>" not in html
    assert "P (Holm)" not in comparison_cells(row, "none")
    assert html.count("<td") == 10 and comparison_cells(row, "none").count("<td") == 9


def test_the_group_means_table_heads_each_timepoint_and_escapes_its_texts():
    section = {
        "summary_by_day": [
            {
                "timepoint": "day <7>",
                "rows": [
                    {
                        "group": "A&B",
                        "colour": "#123",
                        "n": 8,
                        "mean": 12.345,
                        "sd": 1.0,
                        "sem": 0.35,
                    },
                    {
                        "group": "C",
                        "colour": "#456",
                        "n": 1,
                        "mean": 9.0,
                        "sd": math.nan,
                        "sem": None,
                    },
                ],
            }
        ]
    }
    html = summary_table(section)
    assert html.count("<tbody>") == 1 and html.count("<tr>") == 2
    assert '<th scope="rowgroup" rowspan="2">day &lt;7&gt;</th>' in html
    assert '<span class="swatch" style="background: #123"></span>A&amp;B</td>' in html
    assert '<td class="num">8</td><td class="num">12.35</td><td class="num">1.00</td>' in html
    assert '<td class="num">1</td><td class="num">9.00</td><td class="num">—</td>' in html
    assert "No counted values yet." in summary_table({"summary_by_day": []})


def test_comparison_rows_mark_where_the_next_comparison_begins():
    row = {
        "group": "PTX",
        "reference": "VEH",
        "n_group": 10,
        "n_reference": 9,
        "statistic": math.nan,
        "df": math.nan,
        "p": math.nan,
        "p_adjusted": math.nan,
        "marker": "n < 2",
        "mean_difference": math.nan,
        "ci_low": math.nan,
        "ci_high": math.nan,
        "hedges_g": math.nan,
        "g_ci_low": math.nan,
        "g_ci_high": math.nan,
    }
    rows = [{**row, "timepoint": day} for day in ("baseline", "day 7", "baseline", "day 7")]
    html = comparison_rows(rows, "none")
    assert html.count("<tr") == 4
    assert html.count('<tr class="next-comparison">') == 1
    assert html.index('class="next-comparison"') > html.index("day 7")
    assert '<td class="marker">n &lt; 2</td>' in html
    assert "no values to compare yet" in comparison_rows([], "none")


def test_completeness_rows_and_excluded_items_escape_their_texts():
    row = SimpleNamespace(
        timepoint="<day 7>",
        day=7,
        expected=40,
        counted=39,
        unverified=1,
        disputed=0,
        missing=0,
        percent=97.5,
    )
    assert completeness_rows([row]) == (
        '<tr><td>&lt;day 7&gt; (day 7)</td><td class="num">40</td><td class="num">39</td>'
        '<td class="num">1</td><td class="num">0</td><td class="num">0</td>'
        '<td class="num">97%</td></tr>'
    )
    excluded = [
        {"animal": "R<1>", "day": 21, "footpad": "left", "reason": "not verified"},
        {"animal": "R2", "day": 21, "footpad": "", "reason": "open discrepancy"},
    ]
    assert excluded_items(excluded) == (
        "<li>R&lt;1&gt;, day 21, left paw: not verified</li><li>R2, day 21: open discrepancy</li>"
    )
