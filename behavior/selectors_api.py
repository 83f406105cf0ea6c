"""Querysets behind the REST API's behaviour lists (sessions, discrepancies).

They return querysets so that the API's filters and pagination run in the database, and own
every ``select_related``/``prefetch_related``: a page costs the same number of queries whatever
its length. The entry grid and progress come from ``behavior.selectors``, as on the pages.
"""

from __future__ import annotations

from django.db.models import QuerySet

from behavior.models import Discrepancy, MeasurementSession
from studies.models import Study


def sessions_of_study(*, study: Study) -> QuerySet[MeasurementSession]:
    return (
        MeasurementSession.objects.filter(study=study)
        .select_related("timepoint")
        .order_by("timepoint__day", "assay")
    )


def session_of_study(*, study: Study, pk: int) -> MeasurementSession | None:
    """One session of the study, or None (another study's session is not found)."""
    return sessions_of_study(study=study).select_related("study").filter(pk=pk).first()


def discrepancies_of_study(*, study: Study) -> QuerySet[Discrepancy]:
    """Open ones first, then by timepoint, assay, animal and slot."""
    return (
        Discrepancy.objects.filter(reading__session__study=study)
        .select_related("reading__animal", "reading__session__timepoint", "resolved_by")
        .order_by(
            "status",  # "open" sorts before "resolved"
            "reading__session__timepoint__day",
            "reading__session__assay",
            "reading__animal__code",
            "reading__footpad",
            "reading__application",
        )
    )
