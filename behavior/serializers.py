"""REST serializers of behavioural capture: sessions, the entry grid, batches of values,
discrepancies and their resolution.

Blind double entry: a response about values carries only the requesting experimenter's own
values, and a reading's state only once agreement may be shown (``behavior.selectors``).
"""

from __future__ import annotations

from rest_framework import serializers

from behavior.models import BEHAVIOUR_VALUES, Discrepancy, MeasurementSession
from studies.models import Assay, Footpad
from studies.serializers import StrictFloatField, StrictIntegerField

MAX_VALUES_PER_REQUEST = 200  # two footpads x 50 applications, twice over


class SessionSerializer(serializers.ModelSerializer):
    timepoint = serializers.CharField(source="timepoint.label")
    day = serializers.IntegerField(source="timepoint.day")

    class Meta:
        model = MeasurementSession
        fields = [
            "id",
            "timepoint",
            "day",
            "assay",
            "date",
            "instrument",
            "temperature_c",
            "status",
            "version",
        ]


class SessionProgressSerializer(serializers.Serializer):
    expected = serializers.IntegerField(help_text="Values expected per experimenter.")
    verified = serializers.IntegerField(help_text="Readings that count (verified or resolved).")
    disputed = serializers.IntegerField()
    waiting = serializers.IntegerField(help_text="Readings waiting for a second entry.")
    experimenters = serializers.ListField(child=serializers.CharField())


class SessionDetailSerializer(SessionSerializer):
    progress = SessionProgressSerializer(read_only=True)

    class Meta(SessionSerializer.Meta):
        fields = [*SessionSerializer.Meta.fields, "progress"]


class SessionOpenSerializer(serializers.Serializer):
    day = StrictIntegerField(
        min_value=-3650, max_value=3650, help_text="The day of one of the study's timepoints."
    )
    assay = serializers.ChoiceField(choices=Assay.choices)
    date = serializers.DateField(required=False, allow_null=True, default=None)
    instrument = serializers.CharField(required=False, allow_blank=True, default="", max_length=100)
    temperature_c = StrictFloatField(
        required=False, allow_null=True, default=None, min_value=-50, max_value=100
    )


# ---------------------------------------------------------------------------------------------
# The entry grid and batches of values


class GridCellSerializer(serializers.Serializer):
    footpad = serializers.CharField(allow_blank=True, help_text='"" for the hot plate.')
    application = serializers.IntegerField()
    value = serializers.FloatField(allow_null=True, help_text="Your value, if entered.")
    behavior = serializers.CharField(allow_blank=True)
    version = serializers.IntegerField(allow_null=True)
    state = serializers.CharField(
        allow_null=True,
        help_text="The reading's state, once agreement may be shown (both entries complete).",
    )


class GridRowSerializer(serializers.Serializer):
    animal = serializers.CharField(source="animal.code")
    group = serializers.CharField(
        source="label", allow_blank=True, help_text="Code, or coded label in a blinded study."
    )
    means = serializers.DictField(
        child=serializers.FloatField(allow_null=True), help_text="Your mean per footpad."
    )
    cells = GridCellSerializer(many=True)


class EntryValueSerializer(serializers.Serializer):
    footpad = serializers.ChoiceField(
        choices=[("", "hot plate"), *Footpad.choices], required=False, allow_blank=True, default=""
    )
    application = StrictIntegerField(min_value=1, max_value=50)
    value = StrictFloatField(help_text="Grams (von Frey) or seconds (hot plate).")
    behavior = serializers.ChoiceField(
        choices=[(v, v or "none") for v in BEHAVIOUR_VALUES],
        required=False,
        allow_blank=True,
        default="",
    )
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=300)
    expected_version = StrictIntegerField(
        required=False,
        allow_null=True,
        default=None,
        min_value=0,
        max_value=2**31 - 1,
        help_text="The version of your entry when you read it (0: not entered yet); a stale "
        "one is refused with 409.",
    )


class EntriesBatchSerializer(serializers.Serializer):
    animal = serializers.CharField(max_length=30, help_text="The animal's code.")
    values = EntryValueSerializer(many=True, allow_empty=False, max_length=MAX_VALUES_PER_REQUEST)


class EntryResultSerializer(serializers.Serializer):
    footpad = serializers.CharField(allow_blank=True)
    application = serializers.IntegerField()
    value = serializers.FloatField()
    behavior = serializers.CharField(allow_blank=True)
    version = serializers.IntegerField()
    state = serializers.CharField(
        help_text='The reading\'s state, or "entered" while agreement is withheld.'
    )
    created = serializers.BooleanField()
    changed = serializers.BooleanField()


class EntriesBatchResultSerializer(serializers.Serializer):
    animal = serializers.CharField()
    experimenter = serializers.CharField()
    results = EntryResultSerializer(many=True)
    entered = serializers.IntegerField(help_text="Values you have entered in the session.")
    expected = serializers.IntegerField(help_text="Values expected per experimenter.")


# ---------------------------------------------------------------------------------------------
# Discrepancies


class DiscrepancySerializer(serializers.ModelSerializer):
    animal = serializers.CharField(source="reading.animal.code")
    assay = serializers.CharField(source="reading.assay")
    timepoint = serializers.CharField(source="reading.session.timepoint.label")
    day = serializers.IntegerField(source="reading.session.timepoint.day")
    session = serializers.IntegerField(source="reading.session_id")
    footpad = serializers.CharField(source="reading.footpad")
    application = serializers.IntegerField(source="reading.application")
    resolved_by = serializers.CharField(
        source="resolved_by.username", default=None, allow_null=True, read_only=True
    )

    class Meta:
        model = Discrepancy
        fields = [
            "id",
            "status",
            "animal",
            "assay",
            "timepoint",
            "day",
            "session",
            "footpad",
            "application",
            "values",
            "opened_at",
            "resolved_value",
            "resolved_behavior",
            "reason",
            "note",
            "resolved_by",
            "resolved_at",
        ]


class DiscrepancyResolveSerializer(serializers.Serializer):
    value = StrictFloatField(help_text="The value that counts.")
    reason = serializers.ChoiceField(choices=Discrepancy.Reason.choices)
    behavior = serializers.ChoiceField(
        choices=[(v, v or "none") for v in BEHAVIOUR_VALUES],
        required=False,
        allow_blank=True,
        default="",
    )
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)
