"""Querysets behind the REST API's study lists.

They return querysets (not lists) so that the API's filters and pagination run in the
database, and they own every ``select_related``/``prefetch_related`` so that a page of any
length costs the same number of queries.
"""

from __future__ import annotations

from django.db.models import OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from studies.models import (
    Animal,
    BodyWeight,
    Comparison,
    DoseRecord,
    DosingSchedule,
    Membership,
    Study,
    Timepoint,
    TreatmentGroup,
)


def studies_of_user(*, user) -> QuerySet[Study]:
    """The studies the user is a member of (every study for staff), each annotated with
    ``role``, the user's role in it, and its assays prefetched."""
    role = Membership.objects.filter(study=OuterRef("pk"), user=user).values("role")[:1]
    qs = Study.objects.prefetch_related("assays").order_by("slug")
    if user.is_staff:
        return qs.annotate(role=Coalesce(Subquery(role), Value(Membership.Role.PI)))
    return qs.filter(memberships__user=user).annotate(role=Subquery(role))


def groups_of_study(*, study: Study) -> QuerySet[TreatmentGroup]:
    return TreatmentGroup.objects.filter(study=study).order_by("order", "code")


def animals_of_study(*, study: Study) -> QuerySet[Animal]:
    return Animal.objects.filter(study=study).select_related("group").order_by("code")


def schedules_of_study(*, study: Study) -> QuerySet[DosingSchedule]:
    return (
        DosingSchedule.objects.filter(study=study)
        .select_related("group", "agent")
        .order_by("group__order", "agent__name", "id")
    )


def dose_records_of_study(*, study: Study) -> QuerySet[DoseRecord]:
    return (
        DoseRecord.objects.filter(animal__study=study)
        .select_related("animal", "schedule__group", "schedule__agent", "recorded_by")
        .order_by("day", "animal__code", "schedule_id")
    )


def body_weights_of_study(*, study: Study) -> QuerySet[BodyWeight]:
    return (
        BodyWeight.objects.filter(animal__study=study)
        .select_related("animal", "recorded_by")
        .order_by("date", "animal__code")
    )


def timepoints_of_study(*, study: Study) -> QuerySet[Timepoint]:
    return Timepoint.objects.filter(study=study).order_by("day")


def comparisons_of_study(*, study: Study) -> QuerySet[Comparison]:
    return (
        Comparison.objects.filter(study=study)
        .select_related("reference", "group")
        .order_by("order", "id")
    )
