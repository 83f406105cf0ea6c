"""Query-string filters of the studies API: one FilterSet per model.

A filter on a group takes what the user sees of it: the group's code, or its coded label for a
technician of a blinded study (``request.sees_allocation``, set by the API view), so that a
filter cannot be used to probe allocation.
"""

from __future__ import annotations

import django_filters
from django.db.models import Q

from studies.models import (
    Animal,
    BodyWeight,
    Comparison,
    DoseRecord,
    DosingSchedule,
    Study,
    Timepoint,
    TreatmentGroup,
)


def BoundedNumberFilter(**kwargs) -> django_filters.NumberFilter:  # noqa: N802
    """A whole-number filter with bounds, so that a huge number is a 400, not a database error."""
    kwargs.setdefault("min_value", -1_000_000)
    kwargs.setdefault("max_value", 1_000_000_000)
    return django_filters.NumberFilter(**kwargs)


def _sees_allocation(request) -> bool:
    return bool(getattr(request, "sees_allocation", False))


class GroupLabelFilter(django_filters.CharFilter):
    """Filters on a group (through ``field_path``) by code or, when blinded, by coded label."""

    def __init__(self, *, field_path: str = "group", **kwargs):
        self.field_path = field_path
        kwargs.setdefault("help_text", "A group's code (or coded label in a blinded study).")
        super().__init__(method=self.filter_group, **kwargs)

    def filter_group(self, queryset, name, value):
        if not value:
            return queryset
        lookup = "code" if _sees_allocation(self.parent.request) else "blind_label"
        return queryset.filter(**{f"{self.field_path}__{lookup}": value})


class StudyFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_q", help_text="Part of the slug or title.")

    class Meta:
        model = Study
        fields = ["status", "species", "blinded", "synthetic"]

    def filter_q(self, queryset, name, value):
        return queryset.filter(Q(slug__icontains=value) | Q(title__icontains=value))


class TreatmentGroupFilter(django_filters.FilterSet):
    class Meta:
        model = TreatmentGroup
        fields: list[str] = []


class AnimalFilter(django_filters.FilterSet):
    code = django_filters.CharFilter(lookup_expr="iexact")
    cage = django_filters.CharFilter(lookup_expr="iexact")
    group = GroupLabelFilter()

    class Meta:
        model = Animal
        fields = ["code", "cage", "status", "group"]


class DosingScheduleFilter(django_filters.FilterSet):
    group = GroupLabelFilter()
    route = django_filters.ChoiceFilter(choices=DosingSchedule._meta.get_field("route").choices)

    class Meta:
        model = DosingSchedule
        fields = ["group", "route"]


class DoseRecordFilter(django_filters.FilterSet):
    animal = django_filters.CharFilter(field_name="animal__code", lookup_expr="iexact")
    day = BoundedNumberFilter()
    day_min = BoundedNumberFilter(field_name="day", lookup_expr="gte")
    day_max = BoundedNumberFilter(field_name="day", lookup_expr="lte")
    schedule = BoundedNumberFilter(field_name="schedule_id")

    class Meta:
        model = DoseRecord
        fields = ["animal", "day", "status", "schedule"]


class BodyWeightFilter(django_filters.FilterSet):
    animal = django_filters.CharFilter(field_name="animal__code", lookup_expr="iexact")
    date_from = django_filters.DateFilter(field_name="date", lookup_expr="gte")
    date_to = django_filters.DateFilter(field_name="date", lookup_expr="lte")

    class Meta:
        model = BodyWeight
        fields = ["animal", "date"]


class TimepointFilter(django_filters.FilterSet):
    day = BoundedNumberFilter()

    class Meta:
        model = Timepoint
        fields = ["day", "label"]


class ComparisonFilter(django_filters.FilterSet):
    class Meta:
        model = Comparison
        fields = ["symbol"]
