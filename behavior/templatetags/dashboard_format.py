"""Number formats of the statistics tables. Rounding happens here, for display only: the
documents, the API and the CSV keep every digit."""

from __future__ import annotations

import math

from django import template

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
