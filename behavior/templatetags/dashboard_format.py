"""Number formats of the statistics tables. Rounding happens here, for display only: the
documents, the API and the CSV keep every digit."""

from __future__ import annotations

import html
import math

from django import template
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


# The statistics tables, a tag per table: at 200 animals the dashboard prints about 1,500
# numbers and a hundred excluded footpads, and a template variable with a filter per cell, or
# even a tag per row, took longer than the statistics of an assay. Texts are escaped with
# ``html.escape``, which is what the template's own escaping calls.


@register.simple_tag
def summary_table(section) -> str:
    """The bodies of a section's group-means table, a row group per timepoint: the timepoint
    heads it, then each group's name (with its colour), n, mean, SD and SEM."""
    days = section["summary_by_day"]
    if not days:
        return mark_safe(
            '<tbody><tr><td colspan="6" class="muted">No counted values yet.</td></tr></tbody>'
        )
    return mark_safe("".join(_summary_body(day) for day in days))


def _summary_body(day) -> str:
    rows = day["rows"]
    head = f'<th scope="rowgroup" rowspan="{len(rows)}">{_escape(day["timepoint"])}</th>'
    return (
        "<tbody>"
        + "".join(
            f'<tr>{head if index == 0 else ""}<td><span class="swatch" style="background: '
            f'{_escape(row["colour"])}"></span>{_escape(row["group"])}</td>'
            f'<td class="num">{_escape(row["n"])}</td><td class="num">{num(row["mean"])}</td>'
            f'<td class="num">{num(row["sd"])}</td><td class="num">{num(row["sem"])}</td></tr>'
            for index, row in enumerate(rows)
        )
        + "</tbody>"
    )


@register.simple_tag
def completeness_rows(rows) -> str:
    """A row per timepoint of value slots: expected, verified, waiting, disputed, missing,
    complete."""
    return mark_safe(
        "".join(
            f"<tr><td>{_escape(row.timepoint)} (day {row.day})</td>"
            f'<td class="num">{row.expected}</td><td class="num">{row.counted}</td>'
            f'<td class="num">{row.unverified}</td><td class="num">{row.disputed}</td>'
            f'<td class="num">{row.missing}</td><td class="num">{percent(row.percent)}</td></tr>'
            for row in rows
        )
    )


@register.simple_tag
def comparison_rows(comparisons, correction: str) -> str:
    """The rows of the comparisons table (see :func:`comparison_cells`); the first row of each
    comparison after the first is marked, for the line between comparisons."""
    if not comparisons:
        return mark_safe(
            '<tr><td colspan="10" class="muted">The study has no comparisons, or no values to '
            "compare yet.</td></tr>"
        )
    first = comparisons[0]["timepoint"]
    marked = ' class="next-comparison"'
    return mark_safe(
        "".join(
            f"<tr{marked if index and row['timepoint'] == first else ''}>"
            f"{comparison_cells(row, correction)}</tr>"
            for index, row in enumerate(comparisons)
        )
    )


def comparison_cells(row, correction: str) -> str:
    """The cells of a comparison row: groups, timepoint, n, t, df, P (and Holm's P under
    ``correction`` "holm"), marker, the difference and Hedges' g with their confidence
    intervals.

    The texts are escaped; the numbers are what ``num``, ``dof`` and ``pvalue`` print (digits,
    a sign, a point, a dash) or whole numbers, safe as they are but for the "<" of a small P.
    """
    text = {key: _escape(row[key]) for key in ("group", "reference", "timepoint", "marker")}
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
def excluded_items(excluded) -> str:
    """A list item per footpad or animal and day left out of the statistics, and why:
    "R07, day 21, left paw: not verified"."""
    return mark_safe("".join(f"<li>{_escape(_excluded_text(row))}</li>" for row in excluded))


def _excluded_text(row) -> str:
    paw = f", {row['footpad']} paw" if row["footpad"] else ""
    return f"{row['animal']}, day {row['day']}{paw}: {row['reason']}"


def _escape(value) -> str:
    return html.escape(str(value))
