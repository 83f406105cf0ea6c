"""The number formats of the dashboard's tables (display only: documents keep every digit)."""

from __future__ import annotations

import math

import pytest

from behavior.templatetags.dashboard_format import comparison_cells, dof, num, percent, pvalue


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
