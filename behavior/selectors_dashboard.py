"""Reads for the overview of a user's studies: a fixed number of queries, however many studies,
animals or readings there are."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, IntegerField, Max, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce

from behavior.models import Entry, Reading
from studies.models import Animal, Membership, Study, StudyAssay, Timepoint

RECENT_ENTRIES = 12


def _count(queryset, key: str):
    """A correlated COUNT(*) subquery, 0 when nothing matches."""
    counted = queryset.order_by().values(key).annotate(c=Count("pk")).values("c")[:1]
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


@dataclass
class StudyProgress:
    slug: str
    title: str
    status: str
    status_label: str
    role: str
    blinded: bool
    synthetic: bool
    active_animals: int
    timepoints: int
    counted: int
    unverified: int
    disputed: int
    expected: int
    last_entry_at: object
    discrepancies_url: str | None = None

    @property
    def percent(self) -> float | None:
        return 100.0 * self.counted / self.expected if self.expected else None


@dataclass
class RecentEntry:
    study: str
    animal: str
    assay: str
    timepoint: str
    footpad: str
    application: int
    experimenter: str
    entered_at: object


def overview_for_user(*, user) -> tuple[list[StudyProgress], list[RecentEntry]]:
    """The user's studies (all studies for staff) with progress, and the latest entries.

    Three queries: the studies with their counts as correlated subqueries, their assay
    settings, and the latest entries. Entries are listed without their values: under blind
    double entry a technician must not see another experimenter's value.
    """
    studies = Study.objects.all() if user.is_staff else Study.objects.filter(memberships__user=user)
    readings = Reading.objects.filter(session__study=OuterRef("pk"))
    role = Membership.objects.filter(study=OuterRef("pk"), user=user).values("role")[:1]
    rows = list(
        studies.order_by("-created_at", "slug").annotate(
            my_role=Subquery(role),
            n_active=_count(
                Animal.objects.filter(
                    study=OuterRef("pk"), status=Animal.Status.ACTIVE, group__isnull=False
                ),
                "study",
            ),
            n_timepoints=_count(Timepoint.objects.filter(study=OuterRef("pk")), "study"),
            n_counted=_count(
                readings.filter(state__in=[Reading.State.VERIFIED, Reading.State.RESOLVED]),
                "session__study",
            ),
            n_unverified=_count(readings.filter(state=Reading.State.UNVERIFIED), "session__study"),
            n_disputed=_count(readings.filter(state=Reading.State.DISPUTED), "session__study"),
            last_entry_at=Subquery(
                Entry.objects.filter(reading__session__study=OuterRef("pk"))
                .order_by()
                .values("reading__session__study")
                .annotate(last=Max("entered_at"))
                .values("last")[:1]
            ),
        )
    )
    ids = [study.pk for study in rows]
    slots: dict[int, int] = {}
    for study_id, assay, applications, footpads in StudyAssay.objects.filter(
        study_id__in=ids
    ).values_list("study_id", "assay", "applications", "footpads"):
        per_animal = applications * (max(len(footpads or []), 1) if assay == "von_frey" else 1)
        slots[study_id] = slots.get(study_id, 0) + per_animal
    progress = [
        StudyProgress(
            slug=study.slug,
            title=study.title,
            status=study.status,
            status_label=study.get_status_display(),
            role="pi" if user.is_staff and not study.my_role else (study.my_role or ""),
            blinded=study.blinded,
            synthetic=study.synthetic,
            active_animals=study.n_active,
            timepoints=study.n_timepoints,
            counted=study.n_counted,
            unverified=study.n_unverified,
            disputed=study.n_disputed,
            expected=study.n_active * study.n_timepoints * slots.get(study.pk, 0),
            last_entry_at=study.last_entry_at,
        )
        for study in rows
    ]
    entries = Entry.objects.filter(reading__session__study_id__in=ids)
    recent = [
        RecentEntry(*row)
        for row in entries.order_by("-entered_at", "-id").values_list(
            "reading__session__study__slug",
            "reading__animal__code",
            "reading__assay",
            "reading__session__timepoint__label",
            "reading__footpad",
            "reading__application",
            "experimenter",
            "entered_at",
        )[:RECENT_ENTRIES]
    ]
    return progress, recent
