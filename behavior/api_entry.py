"""REST endpoints of behavioural capture under ``/api/studies/<slug>/``: measurement sessions,
the entry grid and batches of values, discrepancies and their resolution.

The experimenter of every value is the logged-in user, as on the entry pages, so that blind
double entry holds: a user reads back only their own values, and a reading's state only once
agreement may be shown. Writes call the same services as the pages
(``behavior.services.session_open``, ``entries_save``, ``discrepancy_resolve``).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from behavior import selectors as entry_selectors
from behavior import selectors_api as selectors
from behavior import services
from behavior.filters import DiscrepancyFilter, MeasurementSessionFilter
from behavior.models import Discrepancy, MeasurementSession
from behavior.serializers import (
    DiscrepancyResolveSerializer,
    DiscrepancySerializer,
    EntriesBatchResultSerializer,
    EntriesBatchSerializer,
    GridRowSerializer,
    SessionDetailSerializer,
    SessionOpenSerializer,
    SessionSerializer,
)
from studies import access
from studies.apis import SLUG, StudyScopedApi, errors
from studies.models import StudyAssay, Timepoint

SESSION_ID = OpenApiParameter("id", int, OpenApiParameter.PATH, description="The session's id.")
DISCREPANCY_ID = OpenApiParameter(
    "id", int, OpenApiParameter.PATH, description="The discrepancy's id."
)


class SessionScopedApi(StudyScopedApi):
    """An endpoint under ``/api/studies/<slug>/sessions/<id>/``."""

    session: MeasurementSession
    study_assay: StudyAssay

    def load_session(self, action: str = access.READ) -> MeasurementSession:
        study = self.load_study(action)
        session = selectors.session_of_study(study=study, pk=self.kwargs["id"])
        if session is None:
            raise Http404("No such session in this study.")
        study_assay = entry_selectors.study_assay_get(study=study, assay=session.assay)
        if study_assay is None:
            raise Http404("The study no longer measures this assay.")
        self.session, self.study_assay = session, study_assay
        return session

    @property
    def experimenter(self) -> str:
        return self.request.user.get_username()


# ---------------------------------------------------------------------------------------------
# Sessions


class SessionListApi(StudyScopedApi):
    queryset = MeasurementSession.objects.none()  # the model, for the schema
    filterset_class = MeasurementSessionFilter
    serializer_class = SessionSerializer

    @extend_schema(
        summary="The measurement sessions",
        parameters=[SLUG],
        responses={200: SessionSerializer(many=True), **errors(400, 404)},
        tags=["readings"],
    )
    def get(self, request: Request, slug: str) -> Response:
        study = self.load_study()
        return self.paginated(selectors.sessions_of_study(study=study), SessionSerializer)

    @extend_schema(
        summary="Open the session of a timepoint and assay",
        description="Returns the session, opening it if needed (201 when it was opened now).",
        parameters=[SLUG],
        request=SessionOpenSerializer,
        responses={200: SessionSerializer, 201: SessionSerializer, **errors(400, 403, 404)},
        tags=["readings"],
    )
    def post(self, request: Request, slug: str) -> Response:
        study = self.load_study(access.RECORD)
        data = self.parse(SessionOpenSerializer)
        timepoint = Timepoint.objects.filter(study=study, day=data["day"]).first()
        if timepoint is None:
            raise ValidationError(
                {"day": [f"Study {study.slug} has no timepoint on day {data['day']}."]}
            )
        existed = MeasurementSession.objects.filter(
            study=study, timepoint=timepoint, assay=data["assay"]
        ).exists()
        session = services.session_open(
            study=study,
            timepoint=timepoint,
            assay=data["assay"],
            user=request.user,
            date=data["date"],
            instrument=data["instrument"],
            temperature_c=data["temperature_c"],
        )
        session = selectors.session_of_study(study=study, pk=session.pk)
        return Response(
            SessionSerializer(session).data,
            status=status.HTTP_200_OK if existed else status.HTTP_201_CREATED,
        )


class SessionDetailApi(SessionScopedApi):
    queryset = MeasurementSession.objects.none()
    serializer_class = SessionDetailSerializer

    @extend_schema(
        summary="One session with its progress",
        description="Counts only, never values: safe to show either experimenter.",
        parameters=[SLUG, SESSION_ID],
        responses={200: SessionDetailSerializer, **errors(404)},
        tags=["readings"],
    )
    def get(self, request: Request, slug: str, id: int) -> Response:
        session = self.load_session()
        progress = entry_selectors.session_progress(session=session, study_assay=self.study_assay)
        session.progress = {
            "expected": progress.expected,
            "verified": progress.verified,
            "disputed": progress.disputed,
            "waiting": progress.waiting,
            "experimenters": progress.experimenters,
        }
        return Response(SessionDetailSerializer(session).data)


class SessionReadingsApi(SessionScopedApi):
    queryset = MeasurementSession.objects.none()
    serializer_class = GridRowSerializer

    @extend_schema(
        summary="Your values in a session: a row per animal",
        description=(
            "Only the logged-in experimenter's own values (blind double entry). A cell's "
            "`state` is shown once you and another experimenter have entered the whole session."
        ),
        parameters=[
            SLUG,
            SESSION_ID,
            OpenApiParameter("animal", str, description="Only this animal (its code)."),
        ],
        responses={200: GridRowSerializer(many=True), **errors(404)},
        tags=["readings"],
    )
    def get(self, request: Request, slug: str, id: int) -> Response:
        session = self.load_session()
        grid = entry_selectors.entry_grid(
            session=session,
            study_assay=self.study_assay,
            experimenter=self.experimenter,
            show_groups=self.sees_allocation,
        )
        rows = grid.rows
        animal = request.query_params.get("animal", "").strip()
        if animal:
            rows = [row for row in rows if row.animal.code.lower() == animal.lower()]
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(GridRowSerializer(page, many=True).data)

    @extend_schema(
        summary="Save a whole animal's or footpad's values in one go",
        description=(
            "All values are saved or none. Saving a value again is a no-op; a different value "
            "for an entry you made is an edit kept in the audit trail (after verification it "
            "needs a `reason`). A stale `expected_version` is refused with 409."
        ),
        parameters=[SLUG, SESSION_ID],
        request=EntriesBatchSerializer,
        responses={
            200: EntriesBatchResultSerializer,
            201: EntriesBatchResultSerializer,
            **errors(400, 403, 404, 409),
        },
        tags=["readings"],
    )
    def post(self, request: Request, slug: str, id: int) -> Response:
        session = self.load_session(access.RECORD)
        data = self.parse(EntriesBatchSerializer)
        animal = self.animal_by_code(data["animal"])
        results = services.entries_save(
            session=session,
            animal=animal,
            values=[dict(value) for value in data["values"]],
            experimenter=self.experimenter,
            user=request.user,
            via="api",
        )
        slot = entry_selectors.slot_status(
            session=session,
            study_assay=self.study_assay,
            animal=animal,
            footpad=data["values"][0]["footpad"],
            experimenter=self.experimenter,
        )
        body = {
            "animal": animal.code,
            "experimenter": self.experimenter,
            "results": [
                {
                    "footpad": result.reading.footpad,
                    "application": result.reading.application,
                    "value": result.entry.value,
                    "behavior": result.entry.behavior,
                    "version": result.entry.version,
                    # Under blind double entry the state would tell whether the other
                    # experimenter typed the same value: withheld until both have finished.
                    "state": result.reading.state if slot.agreement_visible else "entered",
                    "created": result.created,
                    "changed": result.changed,
                }
                for result in results
            ],
            "entered": slot.entered,
            "expected": slot.expected,
        }
        created = any(result.created for result in results)
        return Response(
            EntriesBatchResultSerializer(body).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


# ---------------------------------------------------------------------------------------------
# Discrepancies


class DiscrepancyListApi(StudyScopedApi):
    queryset = Discrepancy.objects.none()
    filterset_class = DiscrepancyFilter
    serializer_class = DiscrepancySerializer

    @extend_schema(
        summary="The discrepancies between two experimenters, open ones first",
        parameters=[SLUG],
        responses={200: DiscrepancySerializer(many=True), **errors(400, 404)},
        tags=["readings"],
    )
    def get(self, request: Request, slug: str) -> Response:
        study = self.load_study()
        return self.paginated(selectors.discrepancies_of_study(study=study), DiscrepancySerializer)


class DiscrepancyResolveApi(StudyScopedApi):
    queryset = Discrepancy.objects.none()
    serializer_class = DiscrepancySerializer

    @extend_schema(
        summary="Resolve a discrepancy with the value that counts and a reason",
        parameters=[SLUG, DISCREPANCY_ID],
        request=DiscrepancyResolveSerializer,
        responses={200: DiscrepancySerializer, **errors(400, 403, 404, 409)},
        tags=["readings"],
    )
    def post(self, request: Request, slug: str, id: int) -> Response:
        study = self.load_study(access.RESOLVE)
        discrepancy = entry_selectors.discrepancy_get(study=study, pk=id)
        if discrepancy is None:
            raise Http404("No such discrepancy in this study.")
        data = self.parse(DiscrepancyResolveSerializer)
        services.discrepancy_resolve(
            discrepancy=discrepancy,
            value=data["value"],
            reason=data["reason"],
            behavior=data["behavior"],
            note=data["note"],
            user=request.user,
            via="api",
        )
        discrepancy = selectors.discrepancies_of_study(study=study).get(pk=id)
        return Response(DiscrepancySerializer(discrepancy).data)
