"""Query-string filters of the behaviour API: one FilterSet per model."""

from __future__ import annotations

import django_filters

from behavior.models import Discrepancy, MeasurementSession
from studies.filters import BoundedNumberFilter
from studies.models import Assay


class MeasurementSessionFilter(django_filters.FilterSet):
    day = BoundedNumberFilter(field_name="timepoint__day")
    assay = django_filters.ChoiceFilter(choices=Assay.choices)

    class Meta:
        model = MeasurementSession
        fields = ["day", "assay", "status"]


class DiscrepancyFilter(django_filters.FilterSet):
    session = BoundedNumberFilter(field_name="reading__session_id")
    day = BoundedNumberFilter(field_name="reading__session__timepoint__day")
    assay = django_filters.ChoiceFilter(field_name="reading__assay", choices=Assay.choices)
    animal = django_filters.CharFilter(field_name="reading__animal__code", lookup_expr="iexact")

    class Meta:
        model = Discrepancy
        fields = ["status", "session", "day", "assay", "animal"]
