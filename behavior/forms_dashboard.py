"""The statistics options, checked the same way for the dashboard, the API and the command."""

from __future__ import annotations

from dataclasses import dataclass

from django import forms
from django.forms.utils import flatatt
from django.utils.html import format_html, format_html_join

from studies.models import Assay

TEST_CHOICES = [("student", "Student (pooled variance, as in the paper)"), ("welch", "Welch")]
CORRECTION_CHOICES = [("none", "None (as in the paper)"), ("holm", "Holm")]
OUTCOME_CHOICES = [("raw", "Raw values"), ("percent_baseline", "% of baseline")]
FOOTPAD_CHOICES = [("both", "Both hind paws"), ("left", "Left only"), ("right", "Right only")]
FOOTPADS = {"both": ("left", "right"), "left": ("left",), "right": ("right",)}


@dataclass(frozen=True)
class StatsOptions:
    test: str = "student"
    correction: str = "none"
    outcome: str = "raw"
    footpads: str = "both"
    include_unverified: bool = False

    def as_query(self) -> dict[str, str]:
        """The options as GET parameters, leaving out the defaults."""
        query = {}
        for name, default in vars(StatsOptions()).items():
            value = getattr(self, name)
            if value != default:
                query[name] = "1" if value is True else str(value)
        return query


class OptionSelect(forms.Select):
    """Django's ``Select`` rendered in Python: Django renders a template per option, which
    made the options form a third of the dashboard's template time.

    For one choice among flat choices with text values, as the options have: no optgroups,
    no ``multiple``, no template overrides."""

    def render(self, name, value, attrs=None, renderer=None):
        if any(isinstance(label, (list, tuple)) for _, label in self.choices):
            raise ValueError(f"{name}: OptionSelect renders flat choices only, not optgroups.")
        chosen = set(self.format_value(value))
        options = format_html_join(
            "\n",
            '<option value="{}"{}>{}</option>',
            (
                (str(code), " selected" if str(code) in chosen else "", label)
                for code, label in self.choices
            ),
        )
        return format_html(
            '<select name="{}"{}>\n{}\n</select>',
            name,
            flatatt(self.build_attrs(self.attrs, attrs)),
            options,
        )


class StatsOptionsForm(forms.Form):
    """The options of the statistics; ``assays`` limits ``assay`` to the study's own assays.

    Every field is optional and falls back to the default the paper used, so a bare URL works.
    """

    assay = forms.ChoiceField(required=False)
    test = forms.ChoiceField(
        choices=TEST_CHOICES, required=False, label="Test", widget=OptionSelect
    )
    correction = forms.ChoiceField(
        choices=CORRECTION_CHOICES,
        required=False,
        label="Multiple comparisons",
        widget=OptionSelect,
    )
    outcome = forms.ChoiceField(
        choices=OUTCOME_CHOICES, required=False, label="Outcome", widget=OptionSelect
    )
    footpads = forms.ChoiceField(
        choices=FOOTPAD_CHOICES, required=False, label="von Frey paws", widget=OptionSelect
    )
    include_unverified = forms.BooleanField(
        required=False, label="Include values not yet verified by a second entry"
    )

    def __init__(self, *args, assays: list[str], require_assay: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        labels = dict(Assay.choices)
        self.fields["assay"].choices = [(code, labels.get(code, code)) for code in assays]
        self.fields["assay"].required = require_assay
        self.fields["assay"].error_messages["invalid_choice"] = (
            "%(value)s is not an assay of this study; it has "
            + (", ".join(assays) if assays else "no assays")
            + "."
        )
        if require_assay:
            self.fields["assay"].error_messages["required"] = (
                "Name the assay: " + (", ".join(assays) if assays else "the study has none") + "."
            )
        for name, choices in (
            ("test", TEST_CHOICES),
            ("correction", CORRECTION_CHOICES),
            ("outcome", OUTCOME_CHOICES),
            ("footpads", FOOTPAD_CHOICES),
        ):
            allowed = ", ".join(code for code, _ in choices)
            self.fields[name].error_messages["invalid_choice"] = (
                f"%(value)s is not a {name} option; use one of {allowed}."
            )

    def options(self) -> StatsOptions:
        data = self.cleaned_data
        defaults = StatsOptions()
        return StatsOptions(
            test=data.get("test") or defaults.test,
            correction=data.get("correction") or defaults.correction,
            outcome=data.get("outcome") or defaults.outcome,
            footpads=data.get("footpads") or defaults.footpads,
            include_unverified=bool(data.get("include_unverified")),
        )
