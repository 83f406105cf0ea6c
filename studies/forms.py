"""Forms of the studies pages. They parse and check input; the services do the writing."""

from __future__ import annotations

import secrets

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError

from studies.models import DoseRecord, DoseUnit, Membership, Route, Species, TreatmentGroup

DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def apply_errors(form: forms.Form, error: ValidationError) -> None:
    """Put a service's ``ValidationError`` on the form: on the field it names when the form has
    that field, otherwise at the top with the field's name in front."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for name, errors in error.message_dict.items():
        if name in form.fields:
            form.add_error(name, errors)
        elif name == NON_FIELD_ERRORS:
            form.add_error(None, errors)
        else:
            form.add_error(None, [f"{name}: {message}" for message in errors])


class StudyCreateForm(forms.Form):
    slug = forms.SlugField(
        max_length=80, help_text="Short name used in addresses and files, e.g. rat-ptx-ivig."
    )
    title = forms.CharField(max_length=300)
    species = forms.ChoiceField(choices=Species.choices)
    strain = forms.CharField(max_length=100, required=False)
    sex = forms.CharField(max_length=10, required=False)
    day0 = forms.DateField(
        label="Day 0", required=False, widget=DATE_INPUT, help_text="Date of the first dose."
    )
    blinded = forms.BooleanField(
        required=False, help_text="Technicians see coded group labels only."
    )
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    von_frey = forms.BooleanField(label="von Frey", required=False, initial=True)
    vf_applications = forms.IntegerField(
        label="Applications per footpad", min_value=1, max_value=50, initial=10
    )
    vf_max_force = forms.FloatField(label="Maximum force (g)", min_value=0.1, initial=26)
    vf_double_entry = forms.BooleanField(
        label="Two experimenters verify each value", required=False, initial=True
    )
    hot_plate = forms.BooleanField(label="Hot plate", required=False, initial=True)
    hp_temperature = forms.FloatField(label="Plate temperature (°C)", initial=54.5)
    hp_cutoff = forms.FloatField(label="Cut-off (s)", min_value=0.1, initial=30)
    hp_double_entry = forms.BooleanField(
        label="Two experimenters verify each latency", required=False
    )

    def assays(self) -> dict:
        data = self.cleaned_data
        assays = {}
        if data["von_frey"]:
            assays["von_frey"] = {
                "applications_per_footpad": data["vf_applications"],
                "footpads": ["left", "right"],
                "max_force_g": data["vf_max_force"],
                "double_entry": data["vf_double_entry"],
            }
        if data["hot_plate"]:
            assays["hot_plate"] = {
                "temperature_c": data["hp_temperature"],
                "cutoff_s": data["hp_cutoff"],
                "double_entry": data["hp_double_entry"],
            }
        return assays

    def study_fields(self) -> dict:
        names = ("slug", "title", "species", "strain", "sex", "day0", "blinded", "description")
        return {name: self.cleaned_data[name] for name in names}


class DesignForm(forms.Form):
    slug = forms.SlugField(max_length=80)
    title = forms.CharField(max_length=300, required=False, help_text="Empty: the design's title.")
    day0 = forms.DateField(
        label="Day 0", required=False, widget=DATE_INPUT, help_text="Date of the first dose."
    )


class StudyEditForm(forms.Form):
    title = forms.CharField(max_length=300)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    strain = forms.CharField(max_length=100, required=False)
    sex = forms.CharField(max_length=10, required=False)
    supplier = forms.CharField(max_length=200, required=False)
    day0 = forms.DateField(label="Day 0", required=False, widget=DATE_INPUT)
    blinded = forms.BooleanField(required=False)
    version = forms.IntegerField(widget=forms.HiddenInput)

    def changes(self) -> dict:
        return {k: v for k, v in self.cleaned_data.items() if k != "version"}


class GroupForm(forms.Form):
    code = forms.CharField(max_length=30, help_text="e.g. PTX-IVIG")
    name = forms.CharField(max_length=200, required=False, help_text="e.g. Paclitaxel + IVIg")
    control = forms.BooleanField(required=False)


class TimepointForm(forms.Form):
    label = forms.CharField(max_length=50, help_text="e.g. week 3")
    day = forms.IntegerField(help_text="Relative to day 0; a baseline may be negative.")


class _StudyGroupsForm(forms.Form):
    def __init__(self, *args, study, **kwargs):
        super().__init__(*args, **kwargs)
        groups = TreatmentGroup.objects.filter(study=study).order_by("order", "code")
        for name, field in self.fields.items():
            if isinstance(field, forms.ModelChoiceField) and name in ("group", "reference"):
                field.queryset = groups


class ComparisonForm(_StudyGroupsForm):
    reference = forms.ModelChoiceField(queryset=TreatmentGroup.objects.none())
    group = forms.ModelChoiceField(queryset=TreatmentGroup.objects.none())
    symbol = forms.CharField(max_length=3, help_text="Marks P < 0.05; doubled for P < 0.01.")


class ScheduleForm(_StudyGroupsForm):
    group = forms.ModelChoiceField(queryset=TreatmentGroup.objects.none())
    agent = forms.CharField(max_length=100, help_text="e.g. paclitaxel, IVIg, saline")
    dose = forms.FloatField(min_value=0.0000001)
    unit = forms.ChoiceField(choices=DoseUnit.choices)
    route = forms.ChoiceField(choices=Route.choices)
    days = forms.CharField(help_text="e.g. 0-4, 7-11, 14, 15")
    vehicle = forms.CharField(max_length=200, required=False)
    stock_concentration = forms.FloatField(
        label="Stock concentration (mg/mL)",
        required=False,
        min_value=0.0000001,
        help_text="Needed for mg/kg, g/kg, µg/kg and mg/body doses.",
    )

    def clean_days(self):
        from studies.services import parse_days

        try:
            return parse_days(self.cleaned_data["days"])
        except ValidationError as exc:
            raise ValidationError(exc.message_dict["days"]) from None


class StockForm(forms.Form):
    stock_concentration = forms.FloatField(
        label="Stock (mg/mL)", required=False, min_value=0.0000001
    )


class MemberForm(forms.Form):
    username = forms.CharField(max_length=150)
    role = forms.ChoiceField(choices=Membership.Role.choices)


class AnimalsForm(forms.Form):
    text = forms.CharField(
        label="Animals, one a line: code, cage, sex, weight (g)",
        widget=forms.Textarea(
            attrs={"rows": 12, "placeholder": "R01\tC1\tmale\t251\nR02\tC1\tmale\t248"}
        ),
    )


class AnimalStatusForm(forms.Form):
    status = forms.ChoiceField(
        choices=[("excluded", "Excluded"), ("dead", "Dead"), ("active", "Active")]
    )
    reason = forms.CharField(max_length=300, required=False)
    date = forms.DateField(required=False, widget=DATE_INPUT)


class AllocateForm(forms.Form):
    seed = forms.IntegerField(
        min_value=0, max_value=2**62, help_text="The same seed gives the same allocation."
    )
    balance_on = forms.ChoiceField(
        choices=[("weight", "Body weight"), ("baseline", "Baseline von Frey value")],
        widget=forms.RadioSelect,
        initial="weight",
    )

    def __init__(self, *args, targets: dict[str, int], **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("seed", secrets.randbelow(10**9))
        for code, n in targets.items():
            self.fields[f"n_{code}"] = forms.IntegerField(
                label=f"n in {code}", min_value=0, initial=n
            )
        self.group_codes = list(targets)

    def targets(self) -> dict[str, int]:
        return {code: self.cleaned_data[f"n_{code}"] for code in self.group_codes}

    def size_fields(self):
        return [self[f"n_{code}"] for code in self.group_codes]


class DoseForm(forms.Form):
    schedule = forms.IntegerField(widget=forms.HiddenInput)
    animal = forms.IntegerField(widget=forms.HiddenInput)
    day = forms.IntegerField(widget=forms.HiddenInput)
    status = forms.ChoiceField(choices=DoseRecord.Status.choices)
    reason = forms.CharField(max_length=300, required=False)


class WeightForm(forms.Form):
    animal = forms.IntegerField(widget=forms.HiddenInput)
    grams = forms.FloatField(label="Weight (g)")
    date = forms.DateField(required=False, widget=DATE_INPUT)
