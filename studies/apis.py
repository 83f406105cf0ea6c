"""REST endpoints of the studies domain under ``/api/studies/``.

Thin views: each checks access with ``studies.access.study_for`` (an outsider gets 404, a
member without the right 403), parses input with a serializer, calls the same service or
selector as the pages, and renders. Errors take the one shape of ``cipn_lab.api_errors``.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
)
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from studies import access, services
from studies import selectors as study_selectors
from studies import selectors_api as selectors
from studies.filters import (
    AnimalFilter,
    BodyWeightFilter,
    ComparisonFilter,
    DoseRecordFilter,
    DosingScheduleFilter,
    StudyFilter,
    TimepointFilter,
    TreatmentGroupFilter,
)
from studies.models import (
    Allocation,
    Animal,
    BodyWeight,
    Comparison,
    DoseRecord,
    DosingSchedule,
    Study,
    Timepoint,
    TreatmentGroup,
)
from studies.serializers import (
    AllocationInputSerializer,
    AllocationSerializer,
    AnimalSerializer,
    AnimalsRegisterSerializer,
    BodyWeightInputSerializer,
    BodyWeightSerializer,
    CalendarQuerySerializer,
    CalendarSerializer,
    CodedGroupSerializer,
    CodedScheduleSerializer,
    ComparisonInputSerializer,
    ComparisonSerializer,
    DoseRecordInputSerializer,
    DoseRecordSerializer,
    ErrorSerializer,
    GroupInputSerializer,
    GroupSerializer,
    ScheduleInputSerializer,
    ScheduleSerializer,
    StudySerializer,
    TimepointInputSerializer,
    TimepointSerializer,
    group_label,
)

SLUG = OpenApiParameter("slug", str, OpenApiParameter.PATH, description="The study's slug.")


def errors(*codes: int) -> dict[int, OpenApiResponse]:
    """The error responses of an endpoint, all in the one error shape."""
    meaning = {
        400: "Invalid input: `extra.fields` names each field and its problem.",
        403: "Your role does not allow this, or the study is locked.",
        404: "No such study (or you are not a member of it), or no such object in it.",
        409: "Someone else changed this since you read it.",
    }
    return {code: OpenApiResponse(ErrorSerializer, description=meaning[code]) for code in codes}


def either(name: str, full, coded) -> PolymorphicProxySerializer:
    """A list whose rows are ``full`` for users who see allocation and ``coded`` for a technician
    of a blinded study (``cipn_lab.api_schema.close_coded_components`` keeps them apart)."""
    return PolymorphicProxySerializer(
        component_name=name, serializers=[full, coded], resource_type_field_name=None, many=True
    )


class StudyScopedApi(GenericAPIView):
    """An endpoint under ``/api/studies/<slug>/``: loads the study with the user's access."""

    study: Study
    role: str

    def load_study(self, action: str = access.READ) -> Study:
        self.study, self.role = access.study_for(
            user=self.request.user, slug=self.kwargs["slug"], action=action
        )
        # The group filters read it to match codes or coded labels.
        self.request.sees_allocation = access.sees_allocation(role=self.role, study=self.study)
        return self.study

    @property
    def sees_allocation(self) -> bool:
        return self.request.sees_allocation

    def get_serializer_context(self) -> dict:
        context = super().get_serializer_context()
        if hasattr(self, "study"):
            context["sees_allocation"] = self.sees_allocation
            context["role"] = self.role
        return context

    def paginated(self, queryset: QuerySet, serializer_class) -> Response:
        page = self.paginate_queryset(self.filter_queryset(queryset))
        data = serializer_class(page, many=True, context=self.get_serializer_context()).data
        return self.get_paginated_response(data)

    def parse(self, serializer_class) -> dict:
        serializer = serializer_class(data=self.request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def group_by_code(self, code: str, field: str = "group") -> TreatmentGroup:
        group = TreatmentGroup.objects.filter(study=self.study, code=code.strip()).first()
        if group is None:
            raise ValidationError({field: [f"No group {code.strip()!r} in study {self.study}."]})
        return group

    def animal_by_code(self, code: str, field: str = "animal") -> Animal:
        animal = (
            Animal.objects.select_related("study", "group")
            .filter(study=self.study, code=code.strip())
            .first()
        )
        if animal is None:
            raise ValidationError({field: [f"No animal {code.strip()!r} in study {self.study}."]})
        return animal


# ---------------------------------------------------------------------------------------------
# Studies


class StudyListApi(GenericAPIView):
    filterset_class = StudyFilter
    serializer_class = StudySerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema is built without a user
            return Study.objects.none()
        return selectors.studies_of_user(user=self.request.user)

    @extend_schema(
        summary="The studies you are a member of",
        responses={200: StudySerializer(many=True), **errors(400)},
        tags=["studies"],
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(StudySerializer(page, many=True).data)


class StudyDetailApi(StudyScopedApi):
    queryset = Study.objects.none()  # the model, for the schema; rows come from selectors
    serializer_class = StudySerializer

    @extend_schema(
        summary="One study, with its assays and your role",
        parameters=[SLUG],
        responses={200: StudySerializer, **errors(404)},
        tags=["studies"],
    )
    def get(self, request: Request, slug: str) -> Response:
        study = self.load_study()
        study = selectors.studies_of_user(user=request.user).get(pk=study.pk)
        return Response(StudySerializer(study, context=self.get_serializer_context()).data)


# ---------------------------------------------------------------------------------------------
# Groups


class GroupListApi(StudyScopedApi):
    queryset = TreatmentGroup.objects.none()  # the model, for the schema; rows come from selectors
    filterset_class = TreatmentGroupFilter
    serializer_class = GroupSerializer

    @extend_schema(
        summary="The treatment groups",
        description=(
            "A technician of a blinded study gets only each group's `blind_label`, the coded "
            "label shown instead of the group's code and name."
        ),
        parameters=[SLUG],
        responses={
            200: either("GroupOrCodedGroup", GroupSerializer, CodedGroupSerializer),
            **errors(404),
        },
        tags=["design"],
    )
    def get(self, request: Request, slug: str) -> Response:
        study = self.load_study()
        serializer = GroupSerializer if self.sees_allocation else CodedGroupSerializer
        return self.paginated(selectors.groups_of_study(study=study), serializer)

    @extend_schema(
        summary="Add a treatment group",
        description="Its coded label (A, B, ...) is the next free letter. PI only.",
        parameters=[SLUG],
        request=GroupInputSerializer,
        responses={201: GroupSerializer, **errors(400, 403, 404)},
        tags=["design"],
    )
    def post(self, request: Request, slug: str) -> Response:
        study = self.load_study(access.DESIGN)
        data = self.parse(GroupInputSerializer)
        group = services.group_add(
            study=study,
            code=data["code"],
            name=data["name"],
            control=data["control"],
            user=request.user,
            via="api",
        )
        return Response(GroupSerializer(group).data, status=status.HTTP_201_CREATED)


# ---------------------------------------------------------------------------------------------
# Animals


class AnimalListApi(StudyScopedApi):
    queryset = Animal.objects.none()  # the model, for the schema; rows come from selectors
    filterset_class = AnimalFilter
    serializer_class = AnimalSerializer

    @extend_schema(
        summary="The animals",
        description="`group` is the group's code, or its coded label in a blinded study.",
        parameters=[SLUG],
        responses={200: AnimalSerializer(many=True), **errors(400, 404)},
        tags=["animals"],
    )
    def get(self, request: Request, slug: str) -> Response:
        study = self.load_study()
        return self.paginated(selectors.animals_of_study(study=study), AnimalSerializer)

    @extend_schema(
        summary="Register animals from pasted lines",
        description=(
            "One animal per line: code, optional cage, sex, body weight in g. Every bad line is "
            "listed in `extra.problems` and nothing is saved. The same list again changes "
            "nothing (200, no animals). PI only."
        ),
        parameters=[SLUG],
        request=AnimalsRegisterSerializer,
        responses={
            200: AnimalSerializer(many=True),
            201: AnimalSerializer(many=True),
            **errors(400, 403, 404),
        },
        tags=["animals"],
    )
    def post(self, request: Request, slug: str) -> Response:
        study = self.load_study(access.DESIGN)
        data = self.parse(AnimalsRegisterSerializer)
        animals = services.animals_register(
            study=study, text=data["text"], user=request.user, via="api"
        )
        # A retried call registers nothing: 200 and no animals, rather than 201.
        return Response(
            AnimalSerializer(animals, many=True, context=self.get_serializer_context()).data,
            status=status.HTTP_201_CREATED if animals else status.HTTP_200_OK,
        )


# ---------------------------------------------------------------------------------------------
# Dosing


class ScheduleListApi(StudyScopedApi):
    queryset = DosingSchedule.objects.none()  # the model, for the schema; rows come from selectors
    filterset_class = DosingScheduleFilter
    serializer_class = ScheduleSerializer

    @extend_schema(
        summary="The dosing schedules",
        description=(
            "A technician of a blinded study gets the coded group, route and days only "
            "(`CodedSchedule`): the agent and dose would reveal the allocation."
        ),
        parameters=[SLUG],
        responses={
            200: either("ScheduleOrCodedSchedule", ScheduleSerializer, CodedScheduleSerializer),
            **errors(400, 404),
        },
        tags=["dosing"],
    )
    def get(self, request: Request, slug: str) -> Response:
        study = self.load_study()
        serializer = ScheduleSerializer if self.sees_allocation else CodedScheduleSerializer
        return self.paginated(selectors.schedules_of_study(study=study), serializer)

    @extend_schema(
        summary="Add a dosing schedule",
        description="`days` are relative to day 0. PI only.",
        parameters=[SLUG],
        request=ScheduleInputSerializer,
        responses={201: ScheduleSerializer, **errors(400, 403, 404)},
        tags=["dosing"],
    )
    def post(self, request: Request, slug: str) -> Response:
        study = self.load_study(access.DESIGN)
        data = self.parse(ScheduleInputSerializer)
        schedule = services.schedule_add(
            study=study,
            group=self.group_by_code(data["group"]),
            agent=data["agent"],
            dose=data["dose"],
            unit=data["unit"],
            route=data["route"],
            days=data["days"],
            vehicle=data["vehicle"],
            stock_concentration=data["stock_concentration"],
            user=request.user,
            via="api",
        )
        schedule = selectors.schedules_of_study(study=study).get(pk=schedule.pk)
        return Response(ScheduleSerializer(schedule).data, status=status.HTTP_201_CREATED)


class CalendarApi(StudyScopedApi):
    queryset = DosingSchedule.objects.none()  # the model, for the schema; rows come from selectors
    serializer_class = CalendarSerializer

    @extend_schema(
        summary="The doses due on a date",
        description=(
            "Each due dose per animal, with the volume to give from the latest body weight and "
            "the stock concentration, and its record if it has one. In a blinded study a "
            "technician sees coded groups and no agent."
        ),
        parameters=[SLUG, CalendarQuerySerializer],
        responses={200: CalendarSerializer, **errors(400, 404)},
        tags=["dosing"],
    )
    def get(self, request: Request, slug: str) -> Response:
        study = self.load_study()
        query = CalendarQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        date = query.validated_data["date"]
        due = study_selectors.calendar_for_day(
            study=study, date=date, sees_allocation=self.sees_allocation
        )
        context = self.get_serializer_context()
        doses = [
            {
                "animal": item.animal.code,
                "cage": item.animal.cage,
                "group": group_label(item.schedule.group, context),
                "schedule": item.schedule.pk,
                "product": item.product,
                "day": item.day,
                "route": item.schedule.route,
                "weight_g": item.weight_g,
                "weight_date": item.weight_date,
                "volume_ml": item.volume_ml,
                "note": item.note,
                "status": item.record.status if item.record else None,
                "record": item.record.pk if item.record else None,
            }
            for item in due
        ]
        day = study_selectors.study_day(study, date)
        return Response(CalendarSerializer({"date": date, "day": day, "doses": doses}).data)


class DoseListApi(StudyScopedApi):
    queryset = DoseRecord.objects.none()  # the model, for the schema; rows come from selectors
    filterset_class = DoseRecordFilter
    serializer_class = DoseRecordSerializer

    @extend_schema(
        summary="The recorded doses",
        parameters=[SLUG],
        responses={200: DoseRecordSerializer(many=True), **errors(400, 404)},
        tags=["dosing"],
    )
    def get(self, request: Request, slug: str) -> Response:
        study = self.load_study()
        return self.paginated(selectors.dose_records_of_study(study=study), DoseRecordSerializer)

    @extend_schema(
        summary="Record a due dose as given or missed",
        description=(
            "A given dose needs no weight: the latest body weight is used. A missed dose needs "
            "a reason. Recording the same status again changes nothing."
        ),
        parameters=[SLUG],
        request=DoseRecordInputSerializer,
        responses={201: DoseRecordSerializer, **errors(400, 403, 404)},
        tags=["dosing"],
    )
    def post(self, request: Request, slug: str) -> Response:
        study = self.load_study(access.RECORD)
        data = self.parse(DoseRecordInputSerializer)
        schedule = (
            DosingSchedule.objects.select_related("study", "agent", "group")
            .filter(study=study, pk=data["schedule"])
            .first()
        )
        if schedule is None:
            raise ValidationError({"schedule": ["No such dosing schedule in this study."]})
        record = services.dose_record(
            schedule=schedule,
            animal=self.animal_by_code(data["animal"]),
            day=data["day"],
            status=data["status"],
            user=request.user,
            given_at=data["given_at"],
            weight_g=data["weight_g"],
            reason=data["reason"],
            via="api",
        )
        record = selectors.dose_records_of_study(study=study).get(pk=record.pk)
        return Response(
            DoseRecordSerializer(record, context=self.get_serializer_context()).data,
            status=status.HTTP_201_CREATED,
        )


# ---------------------------------------------------------------------------------------------
# Body weights


class WeightListApi(StudyScopedApi):
    queryset = BodyWeight.objects.none()  # the model, for the schema; rows come from selectors
    filterset_class = BodyWeightFilter
    serializer_class = BodyWeightSerializer

    @extend_schema(
        summary="The body weights",
        parameters=[SLUG],
        responses={200: BodyWeightSerializer(many=True), **errors(400, 404)},
        tags=["animals"],
    )
    def get(self, request: Request, slug: str) -> Response:
        study = self.load_study()
        return self.paginated(selectors.body_weights_of_study(study=study), BodyWeightSerializer)

    @extend_schema(
        summary="Record an animal's body weight",
        description="A different weight for a day that has one is a correction, kept in the "
        "audit trail.",
        parameters=[SLUG],
        request=BodyWeightInputSerializer,
        responses={201: BodyWeightSerializer, **errors(400, 403, 404)},
        tags=["animals"],
    )
    def post(self, request: Request, slug: str) -> Response:
        study = self.load_study(access.RECORD)
        data = self.parse(BodyWeightInputSerializer)
        weight = services.body_weight_record(
            animal=self.animal_by_code(data["animal"]),
            date=data["date"],
            grams=data["grams"],
            user=request.user,
            via="api",
        )
        weight = selectors.body_weights_of_study(study=study).get(pk=weight.pk)
        return Response(BodyWeightSerializer(weight).data, status=status.HTTP_201_CREATED)


# ---------------------------------------------------------------------------------------------
# Timepoints and comparisons


class TimepointListApi(StudyScopedApi):
    queryset = Timepoint.objects.none()  # the model, for the schema; rows come from selectors
    filterset_class = TimepointFilter
    serializer_class = TimepointSerializer

    @extend_schema(
        summary="The measurement timepoints",
        parameters=[SLUG],
        responses={200: TimepointSerializer(many=True), **errors(400, 404)},
        tags=["design"],
    )
    def get(self, request: Request, slug: str) -> Response:
        study = self.load_study()
        return self.paginated(selectors.timepoints_of_study(study=study), TimepointSerializer)

    @extend_schema(
        summary="Add a measurement timepoint",
        parameters=[SLUG],
        request=TimepointInputSerializer,
        responses={201: TimepointSerializer, **errors(400, 403, 404)},
        tags=["design"],
    )
    def post(self, request: Request, slug: str) -> Response:
        study = self.load_study(access.DESIGN)
        data = self.parse(TimepointInputSerializer)
        timepoint = services.timepoint_add(
            study=study, label=data["label"], day=data["day"], user=request.user, via="api"
        )
        return Response(TimepointSerializer(timepoint).data, status=status.HTTP_201_CREATED)


class ComparisonListApi(StudyScopedApi):
    queryset = Comparison.objects.none()  # the model, for the schema; rows come from selectors
    filterset_class = ComparisonFilter
    serializer_class = ComparisonSerializer

    @extend_schema(
        summary="The comparisons tested at every timepoint",
        description="Groups are named by code, or by coded label in a blinded study.",
        parameters=[SLUG],
        responses={200: ComparisonSerializer(many=True), **errors(400, 404)},
        tags=["design"],
    )
    def get(self, request: Request, slug: str) -> Response:
        study = self.load_study()
        return self.paginated(selectors.comparisons_of_study(study=study), ComparisonSerializer)

    @extend_schema(
        summary="Add a comparison, tested at every timepoint",
        parameters=[SLUG],
        request=ComparisonInputSerializer,
        responses={201: ComparisonSerializer, **errors(400, 403, 404)},
        tags=["design"],
    )
    def post(self, request: Request, slug: str) -> Response:
        study = self.load_study(access.DESIGN)
        data = self.parse(ComparisonInputSerializer)
        comparison = services.comparison_add(
            study=study,
            reference=self.group_by_code(data["reference"], "reference"),
            group=self.group_by_code(data["group"]),
            symbol=data["symbol"],
            user=request.user,
            via="api",
        )
        comparison = selectors.comparisons_of_study(study=study).get(pk=comparison.pk)
        return Response(
            ComparisonSerializer(comparison, context=self.get_serializer_context()).data,
            status=status.HTTP_201_CREATED,
        )


class AllocationApi(StudyScopedApi):
    queryset = Allocation.objects.none()  # the model, for the schema
    serializer_class = AllocationSerializer

    @extend_schema(
        summary="Allocate the active animals to the groups at random",
        description=(
            "Seeded and reproducible, in permuted blocks after sorting by body weight or "
            "baseline von Frey value. Refused once doses or post-baseline readings exist. PI only."
        ),
        parameters=[SLUG],
        request=AllocationInputSerializer,
        responses={201: AllocationSerializer, **errors(400, 403, 404)},
        tags=["animals"],
    )
    def post(self, request: Request, slug: str) -> Response:
        study = self.load_study(access.DESIGN)
        data = self.parse(AllocationInputSerializer)
        allocation = services.animals_allocate(
            study=study,
            seed=data["seed"],
            balance_on=data["balance_on"],
            user=request.user,
            via="api",
        )
        return Response(AllocationSerializer(allocation).data, status=status.HTTP_201_CREATED)
