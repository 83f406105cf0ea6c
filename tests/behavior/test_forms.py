"""The entry endpoint's form: checking a value without building the form gives what the bound
form gives."""

from __future__ import annotations

import pytest
from django.test.html import parse_html

from behavior.forms import EntryValueForm

GOOD = {"animal": 7, "footpad": "left", "application": 3, "value": "12,5", "behavior": ""}


@pytest.mark.parametrize(
    "data",
    [
        GOOD,
        {**GOOD, "reason": "  typo  ", "expected_version": 2},
        {**GOOD, "value": 12.5, "application": "4", "animal": "7"},
        {},
        {"animal": 0, "application": 0, "value": "", "behavior": "sneeze"},
        {**GOOD, "value": [1], "footpad": "l" * 6, "reason": "r" * 301},
        {**GOOD, "animal": "seven", "application": 1.5, "expected_version": -1},
        {**GOOD, "value": None, "application": None, "behavior": None},
    ],
)
def test_checking_a_value_gives_the_bound_forms_cleaned_data_and_errors(data):
    form = EntryValueForm(data)
    valid = form.is_valid()

    cleaned, errors = EntryValueForm.checked(data)

    assert errors == {name: list(messages) for name, messages in form.errors.items()}
    assert list(errors) == list(form.errors)  # the first field named is the same
    if valid:
        assert cleaned == form.cleaned_data


@pytest.mark.parametrize(
    ("query", "refused_expected"),
    [
        ({}, {"correction"}),
        (
            {
                "test": "welch",
                "correction": "holm",
                "outcome": "percent_baseline",
                "footpads": "left",
            },
            set(),
        ),
        ({"test": "bogus", "footpads": "<b>&", "correction": "holm"}, {"test", "footpads"}),
    ],
)
def test_the_options_selects_render_what_djangos_select_renders(query, refused_expected):
    from django import forms
    from django.http import QueryDict

    from behavior.forms_dashboard import OptionSelect, StatsOptionsForm

    data = QueryDict(mutable=True)
    data.update(query)
    form = StatsOptionsForm(data, assays=["von_frey"])
    # What Django adds to a field's widget: required, disabled, help text's aria-describedby.
    form.fields["correction"].required = True
    form.fields["outcome"].disabled = True
    form.fields["footpads"].help_text = "Both, unless a paw was <injured>."
    form.is_valid()
    selects = [name for name, field in form.fields.items() if type(field.widget) is OptionSelect]
    assert selects == ["test", "correction", "outcome", "footpads"]

    for name in selects:
        ours = str(form[name])
        form.fields[name].widget = forms.Select(choices=form.fields[name].choices)
        # As HTML: the same elements, attributes, text and escaping, whitespace aside.
        assert parse_html(ours) == parse_html(form[name].as_widget())
        assert ('aria-invalid="true"' in ours) == bool(form[name].errors)
    refused = {name for name in selects if form[name].errors}
    assert refused == refused_expected
