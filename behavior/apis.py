"""REST endpoints of the statistics under ``/api/studies/<slug>/``.

Thin: access through ``studies.access``, options through the same form as the dashboard, the
document from ``behavior.analysis``, errors in the one shape of ``cipn_lab.api_errors``.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from behavior import analysis
from behavior.forms_dashboard import (
    CORRECTION_CHOICES,
    FOOTPAD_CHOICES,
    OUTCOME_CHOICES,
    TEST_CHOICES,
    StatsOptionsForm,
)
from studies.access import sees_allocation, study_for
from studies.apis import errors


def _choices(choices) -> list[str]:
    return [code for code, _ in choices]


class StudyStatsApi(APIView):
    """The statistics document of one assay (interchange.md section 3).

    The same document as ``python manage.py study_stats``. A technician of a blinded study
    gets coded group labels in place of group codes.
    """

    @extend_schema(
        operation_id="study_stats",
        parameters=[
            OpenApiParameter("assay", str, required=True, enum=["von_frey", "hot_plate"]),
            OpenApiParameter("test", str, enum=_choices(TEST_CHOICES), default="student"),
            OpenApiParameter("correction", str, enum=_choices(CORRECTION_CHOICES), default="none"),
            OpenApiParameter("outcome", str, enum=_choices(OUTCOME_CHOICES), default="raw"),
            OpenApiParameter("footpads", str, enum=_choices(FOOTPAD_CHOICES), default="both"),
            OpenApiParameter("include_unverified", bool, default=False),
        ],
        responses={
            200: OpenApiResponse(OpenApiTypes.OBJECT, description="The statistics document."),
            **errors(400, 404),
        },
    )
    def get(self, request: Request, slug: str) -> Response:
        study, role = study_for(user=request.user, slug=slug)
        assays = list(study.assays.values_list("assay", flat=True))
        form = StatsOptionsForm(request.query_params, assays=assays, require_assay=True)
        if not form.is_valid():
            raise ValidationError({name: list(messages) for name, messages in form.errors.items()})
        options = form.options()
        group_labels = None
        if not sees_allocation(role=role, study=study):
            group_labels = {
                code: label for code, label in study.groups.values_list("code", "blind_label")
            }
        document = analysis.study_stats_document(
            study=study,
            assay=form.cleaned_data["assay"],
            test=options.test,
            correction=options.correction,
            outcome=options.outcome,
            footpads=options.footpads,
            include_unverified=options.include_unverified,
            group_labels=group_labels,
        )
        return Response(document)
