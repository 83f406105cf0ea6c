"""REST serializers of the studies domain.

Blinding: every serializer that names a group reads ``sees_allocation`` from its context
(``studies.access.sees_allocation`` for the requesting user). Without it, a group is shown only
by its coded label, and nothing that would tell the groups apart (code, name, control flag,
colour, agent, dose) is ever put in the response.
"""

from __future__ import annotations

import math

from rest_framework import serializers

from studies.models import (
    Allocation,
    Animal,
    BodyWeight,
    Comparison,
    DoseRecord,
    DoseUnit,
    DosingSchedule,
    Route,
    Study,
    StudyAssay,
    Timepoint,
    TreatmentGroup,
)

MAX_TEXT = 100_000  # characters of pasted animal lines; a whole facility fits well below it


class StrictFloatField(serializers.FloatField):
    """A float that refuses booleans (``true`` is not a weight) besides NaN and infinity."""

    def to_internal_value(self, data):
        if isinstance(data, bool):
            self.fail("invalid")
        value = super().to_internal_value(data)
        if not math.isfinite(value):  # belt and braces: DRF refuses these already
            self.fail("invalid")
        return value


class StrictIntegerField(serializers.IntegerField):
    """An integer that refuses booleans and numbers with a fraction."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or (isinstance(data, float) and not data.is_integer()):
            self.fail("invalid")
        return super().to_internal_value(data)


def sees_allocation(context: dict) -> bool:
    return bool(context.get("sees_allocation", False))


def group_label(group: TreatmentGroup | None, context: dict) -> str | None:
    """The group as the requesting user may see it: its code, or its coded label."""
    if group is None:
        return None
    return group.code if sees_allocation(context) else group.blind_label


class ImportProblemSerializer(serializers.Serializer):
    where = serializers.CharField(help_text="The line or field, e.g. `line 3`.")
    message = serializers.CharField()


class ErrorExtraSerializer(serializers.Serializer):
    """The details of an error: the invalid fields, and the problems of an import."""

    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text=(
            "Each invalid field's messages, keyed by its name or path, e.g. "
            '`{"values[1].value": ["Force must be at most 26 g."]}`; empty for other errors.'
        ),
    )
    problems = ImportProblemSerializer(
        many=True, required=False, help_text="For an import: every problem, in order."
    )
    code = serializers.CharField(
        required=False, help_text="`study_locked` when a locked study refused a change."
    )


class ErrorSerializer(serializers.Serializer):
    """The one error shape of the API (``cipn_lab.api_errors``)."""

    message = serializers.CharField()
    extra = ErrorExtraSerializer()


# ---------------------------------------------------------------------------------------------
# Studies


class StudyAssaySerializer(serializers.ModelSerializer):
    unit = serializers.CharField(read_only=True)

    class Meta:
        model = StudyAssay
        fields = [
            "assay",
            "applications",
            "footpads",
            "max_value",
            "unit",
            "temperature_c",
            "double_entry",
        ]


class StudySerializer(serializers.ModelSerializer):
    role = serializers.SerializerMethodField(help_text="Your role in the study.")
    assays = StudyAssaySerializer(many=True, read_only=True)

    class Meta:
        model = Study
        fields = [
            "slug",
            "title",
            "species",
            "strain",
            "sex",
            "day0",
            "blinded",
            "status",
            "synthetic",
            "description",
            "version",
            "role",
            "assays",
        ]

    def get_role(self, study: Study) -> str | None:
        return getattr(study, "role", None) or self.context.get("role")


# ---------------------------------------------------------------------------------------------
# Groups


class GroupSerializer(serializers.ModelSerializer):
    """A treatment group, for users who see allocation."""

    class Meta:
        model = TreatmentGroup
        fields = ["id", "code", "name", "control", "order", "colour", "blind_label"]


class CodedGroupSerializer(serializers.ModelSerializer):
    """A treatment group as a technician of a blinded study sees it: its coded label only."""

    class Meta:
        model = TreatmentGroup
        fields = ["blind_label"]


# ---------------------------------------------------------------------------------------------
# Animals


class AnimalSerializer(serializers.ModelSerializer):
    group = serializers.SerializerMethodField(
        help_text="The group's code, or its coded label for a technician of a blinded study."
    )

    class Meta:
        model = Animal
        fields = [
            "id",
            "code",
            "group",
            "cage",
            "sex",
            "status",
            "status_reason",
            "status_date",
            "version",
        ]

    def get_group(self, animal: Animal) -> str | None:
        return group_label(animal.group, self.context)


class AnimalsRegisterSerializer(serializers.Serializer):
    text = serializers.CharField(
        max_length=MAX_TEXT,
        help_text="One animal per line: code, optional cage, sex, body weight in g.",
    )


# ---------------------------------------------------------------------------------------------
# Dosing


class ScheduleSerializer(serializers.ModelSerializer):
    group = serializers.SerializerMethodField()
    agent = serializers.CharField(source="agent.name")

    class Meta:
        model = DosingSchedule
        fields = [
            "id",
            "group",
            "agent",
            "dose",
            "unit",
            "route",
            "vehicle",
            "days",
            "stock_concentration",
        ]

    def get_group(self, schedule: DosingSchedule) -> str:
        return schedule.group.code


class CodedScheduleSerializer(serializers.ModelSerializer):
    """A schedule for a technician of a blinded study: the coded group, the route and the days.

    The agent and dose would tell the groups apart, so they are left out; the volume to give
    each animal is on the calendar.
    """

    group = serializers.CharField(source="group.blind_label")

    class Meta:
        model = DosingSchedule
        fields = ["id", "group", "route", "days"]


class DoseRecordSerializer(serializers.ModelSerializer):
    animal = serializers.CharField(source="animal.code")
    recorded_by = serializers.CharField(
        source="recorded_by.username",
        default=None,
        allow_null=True,
        help_text="Null once that user is deleted.",
    )
    agent = serializers.SerializerMethodField(help_text="Left out for a blinded technician.")

    class Meta:
        model = DoseRecord
        fields = [
            "id",
            "schedule",
            "agent",
            "animal",
            "day",
            "status",
            "given_at",
            "weight_g",
            "volume_ml",
            "reason",
            "recorded_by",
            "recorded_at",
            "version",
        ]

    def get_agent(self, record: DoseRecord) -> str | None:
        return record.schedule.agent.name if sees_allocation(self.context) else None


class DoseRecordInputSerializer(serializers.Serializer):
    schedule = StrictIntegerField(min_value=1)
    animal = serializers.CharField(max_length=30, help_text="The animal's code.")
    day = StrictIntegerField(min_value=-3650, max_value=3650)
    status = serializers.ChoiceField(choices=DoseRecord.Status.choices)
    given_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    weight_g = StrictFloatField(
        required=False, allow_null=True, default=None, min_value=0.001, max_value=5000
    )
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=300)


class DueDoseSerializer(serializers.Serializer):
    """One due dose of one animal on the calendar (``studies.selectors.calendar_for_day``)."""

    animal = serializers.CharField()
    cage = serializers.CharField(allow_blank=True)
    group = serializers.CharField(help_text="Code, or coded label in a blinded study.")
    schedule = serializers.IntegerField()
    product = serializers.CharField(
        help_text="What to give: agent and dose, or a coded solution in a blinded study."
    )
    day = serializers.IntegerField()
    route = serializers.CharField()
    weight_g = serializers.FloatField(allow_null=True, help_text="The latest body weight.")
    weight_date = serializers.DateField(allow_null=True)
    volume_ml = serializers.FloatField(allow_null=True)
    note = serializers.CharField(allow_blank=True, help_text="Why there is no volume.")
    status = serializers.CharField(allow_null=True, help_text="given, missed, or null when due.")
    record = serializers.IntegerField(allow_null=True, help_text="The dose record, if any.")


class CalendarSerializer(serializers.Serializer):
    date = serializers.DateField()
    day = serializers.IntegerField(allow_null=True)
    doses = DueDoseSerializer(many=True)


class CalendarQuerySerializer(serializers.Serializer):
    date = serializers.DateField(help_text="The day of the calendar, YYYY-MM-DD.")


# ---------------------------------------------------------------------------------------------
# Body weights


class BodyWeightSerializer(serializers.ModelSerializer):
    animal = serializers.CharField(source="animal.code")
    recorded_by = serializers.CharField(
        source="recorded_by.username",
        default=None,
        allow_null=True,
        help_text="Null once that user is deleted.",
    )

    class Meta:
        model = BodyWeight
        fields = ["id", "animal", "date", "grams", "recorded_by", "recorded_at", "version"]


class BodyWeightInputSerializer(serializers.Serializer):
    animal = serializers.CharField(max_length=30, help_text="The animal's code.")
    date = serializers.DateField()
    grams = StrictFloatField(min_value=0.001, max_value=4999.999)


# ---------------------------------------------------------------------------------------------
# Timepoints and comparisons


class TimepointSerializer(serializers.ModelSerializer):
    class Meta:
        model = Timepoint
        fields = ["id", "label", "day"]


class ComparisonSerializer(serializers.ModelSerializer):
    reference = serializers.SerializerMethodField()
    group = serializers.SerializerMethodField()

    class Meta:
        model = Comparison
        fields = ["id", "reference", "group", "symbol", "order"]

    def get_reference(self, comparison: Comparison) -> str:
        return group_label(comparison.reference, self.context)

    def get_group(self, comparison: Comparison) -> str:
        return group_label(comparison.group, self.context)


# ---------------------------------------------------------------------------------------------
# Design writes (PI)


class GroupInputSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=30)
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    control = serializers.BooleanField(required=False, default=False)


class TimepointInputSerializer(serializers.Serializer):
    label = serializers.CharField(max_length=50)
    day = StrictIntegerField(min_value=-3650, max_value=3650)


class ComparisonInputSerializer(serializers.Serializer):
    reference = serializers.CharField(max_length=30, help_text="The reference group's code.")
    group = serializers.CharField(max_length=30, help_text="The compared group's code.")
    symbol = serializers.CharField(max_length=3)


class ScheduleInputSerializer(serializers.Serializer):
    group = serializers.CharField(max_length=30, help_text="The group's code.")
    agent = serializers.CharField(max_length=100)
    dose = StrictFloatField(min_value=0.000001, max_value=1_000_000)
    unit = serializers.ChoiceField(choices=DoseUnit.choices)
    route = serializers.ChoiceField(choices=Route.choices)
    days = serializers.ListField(
        child=StrictIntegerField(min_value=-3650, max_value=3650), allow_empty=False, max_length=400
    )
    vehicle = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    stock_concentration = StrictFloatField(
        required=False, allow_null=True, default=None, min_value=0.000001, max_value=1_000_000
    )


class AllocationInputSerializer(serializers.Serializer):
    seed = StrictIntegerField(min_value=-(2**63), max_value=2**63 - 1)
    balance_on = serializers.ChoiceField(choices=["weight", "baseline"], default="weight")


class AllocationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Allocation
        fields = ["id", "method", "balanced_on", "seed", "created_at", "result"]
