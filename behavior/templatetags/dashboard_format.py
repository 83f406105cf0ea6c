"""Number formats of the statistics tables. Rounding happens here, for display only: the
documents, the API and the CSV keep every digit."""

from __future__ import annotations

import math

from django import template
from django.utils.html import escape, format_html, format_html_join
from django.utils.safestring import mark_safe

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
    """A share done, rounded down: 797 of 800 values verified must not read as 100%."""
    if _missing(value):
        return DASH
    return f"{math.floor(float(value))}%"


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
    intervals.

    The texts are escaped; the numbers are what ``num``, ``dof`` and ``pvalue`` print (digits,
    a sign, a point, a dash) or whole numbers, safe as they are but for the "<" of a small P.
    """
    text = {key: escape(row[key]) for key in ("group", "reference", "timepoint", "marker")}
    adjusted = ""
    if correction == "holm":
        adjusted = f'<td class="num">{_p_html(row["p_adjusted"])}</td>'
    return mark_safe(
        f"<td>{text['group']} vs {text['reference']}</td><td>{text['timepoint']}</td>"
        f'<td class="num">{int(row["n_group"])} / {int(row["n_reference"])}</td>'
        f'<td class="num">{num(row["statistic"], 3)}</td>'
        f'<td class="num" data-df>{dof(row["df"])}</td><td class="num">{_p_html(row["p"])}</td>'
        f'{adjusted}<td class="marker">{text["marker"]}</td>'
        f'<td class="num">{num(row["mean_difference"])} [{num(row["ci_low"])}, '
        f'{num(row["ci_high"])}]</td><td class="num">{num(row["hedges_g"])} '
        f"[{num(row['g_ci_low'])}, {num(row['g_ci_high'])}]</td>"
    )


def _p_html(value) -> str:
    return pvalue(value).replace("<", "&lt;")


@register.simple_tag
def excluded_text(row) -> str:
    """What was left out of the statistics and why: "R07, day 21, left paw: not verified"."""
    paw = f", {row['footpad']} paw" if row["footpad"] else ""
    return f"{row['animal']}, day {row['day']}{paw}: {row['reason']}"
