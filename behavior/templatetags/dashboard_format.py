"""Number formats of the statistics tables. Rounding happens here, for display only: the
documents, the API and the CSV keep every digit."""

from __future__ import annotations

import math

from django import template
from django.utils.html import format_html, format_html_join

register = template.Library()

DASH = "—"


def _missing(value) -> bool:
    return value is None or value == "" or (isinstance(value, float) and math.isnan(value))


@register.filter
def num(value, digits: int = 2) -> str:
    """A number with ``digits`` decimals, a dash when undefined."""
    if _missing(value):
        return DASH
    return f"{float(value):.{int(digits)}f}"


@register.filter
def dof(value) -> str:
    """Degrees of freedom: whole for Student's test, two decimals for Welch's."""
    if _missing(value):
        return DASH
    number = float(value)
    return f"{number:.0f}" if number.is_integer() else f"{number:.2f}"


@register.filter
def pvalue(value) -> str:
    """A P value as papers print it: four decimals, or "< 0.0001"."""
    if _missing(value):
        return DASH
    number = float(value)
    return "< 0.0001" if number < 0.0001 else f"{number:.4f}"


@register.filter
def percent(value) -> str:
    if _missing(value):
        return DASH
    return f"{float(value):.0f}%"


# Rows of the statistics tables, a tag per row: at 200 animals the dashboard prints about 1,500
# numbers, and a template variable with a filter per cell took longer than the statistics of
# an assay. The cells are escaped by ``format_html`` as the template would escape them.


@register.simple_tag
def summary_rows(day) -> str:
    """The rows of one timepoint in the group-means table: the timepoint heads the row group,
    then group, n, mean, SD and SEM."""
    rows = day["rows"]
    return format_html_join(
        "",
        '<tr>{}<td><span class="swatch" style="background: {}"></span>{}</td>'
        '<td class="num">{}</td><td class="num">{}</td><td class="num">{}</td>'
        '<td class="num">{}</td></tr>',
        (
            (
                format_html(
                    '<th scope="rowgroup" rowspan="{}">{}</th>', len(rows), day["timepoint"]
                )
                if index == 0
                else "",
                row["colour"],
                row["group"],
                row["n"],
                num(row["mean"]),
                num(row["sd"]),
                num(row["sem"]),
            )
            for index, row in enumerate(rows)
        ),
    )


@register.simple_tag
def completeness_row(row) -> str:
    """A timepoint's value slots: expected, verified, waiting, disputed, missing, complete."""
    return format_html(
        '<tr><td>{} (day {})</td><td class="num">{}</td><td class="num">{}</td>'
        '<td class="num">{}</td><td class="num">{}</td><td class="num">{}</td>'
        '<td class="num">{}</td></tr>',
        row.timepoint,
        row.day,
        row.expected,
        row.counted,
        row.unverified,
        row.disputed,
        row.missing,
        percent(row.percent),
    )


@register.simple_tag
def comparison_cells(row, correction: str) -> str:
    """The cells of a comparison row: groups, timepoint, n, t, df, P (and Holm's P under
    ``correction`` "holm"), marker, the difference and Hedges' g with their confidence
    intervals."""
    adjusted = ""
    if correction == "holm":
        adjusted = format_html('<td class="num">{}</td>', pvalue(row["p_adjusted"]))
    return format_html(
        '<td>{} vs {}</td><td>{}</td><td class="num">{} / {}</td><td class="num">{}</td>'
        '<td class="num" data-df>{}</td><td class="num">{}</td>{}<td class="marker">{}</td>'
        '<td class="num">{} [{}, {}]</td><td class="num">{} [{}, {}]</td>',
        row["group"],
        row["reference"],
        row["timepoint"],
        row["n_group"],
        row["n_reference"],
        num(row["statistic"], 3),
        dof(row["df"]),
        pvalue(row["p"]),
        adjusted,
        row["marker"],
        num(row["mean_difference"]),
        num(row["ci_low"]),
        num(row["ci_high"]),
        num(row["hedges_g"]),
        num(row["g_ci_low"]),
        num(row["g_ci_high"]),
    )


@register.simple_tag
def excluded_text(row) -> str:
    """What was left out of the statistics and why: "R07, day 21, left paw: not verified"."""
    paw = f", {row['footpad']} paw" if row["footpad"] else ""
    return f"{row['animal']}, day {row['day']}{paw}: {row['reason']}"
