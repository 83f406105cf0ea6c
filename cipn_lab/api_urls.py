"""The REST API's routes: /api/...

Everything about one study is nested under ``studies/<slug>/``; the error shape and status codes
are described in ``cipn_lab.api_errors``.
"""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from behavior import api_entry as entry_apis
from behavior import apis as behavior_apis
from studies import apis as study_apis

STUDY = "studies/<slug:slug>/"

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    path("studies/", study_apis.StudyListApi.as_view(), name="api-studies"),
    path(STUDY, study_apis.StudyDetailApi.as_view(), name="api-study"),
    path(STUDY + "groups/", study_apis.GroupListApi.as_view(), name="api-groups"),
    path(STUDY + "animals/", study_apis.AnimalListApi.as_view(), name="api-animals"),
    path(STUDY + "allocation/", study_apis.AllocationApi.as_view(), name="api-allocation"),
    path(STUDY + "schedules/", study_apis.ScheduleListApi.as_view(), name="api-schedules"),
    path(STUDY + "calendar/", study_apis.CalendarApi.as_view(), name="api-calendar"),
    path(STUDY + "doses/", study_apis.DoseListApi.as_view(), name="api-doses"),
    path(STUDY + "weights/", study_apis.WeightListApi.as_view(), name="api-weights"),
    path(STUDY + "timepoints/", study_apis.TimepointListApi.as_view(), name="api-timepoints"),
    path(STUDY + "comparisons/", study_apis.ComparisonListApi.as_view(), name="api-comparisons"),
    path(STUDY + "sessions/", entry_apis.SessionListApi.as_view(), name="api-sessions"),
    path(STUDY + "sessions/<int:id>/", entry_apis.SessionDetailApi.as_view(), name="api-session"),
    path(
        STUDY + "sessions/<int:id>/readings/",
        entry_apis.SessionReadingsApi.as_view(),
        name="api-session-readings",
    ),
    path(
        STUDY + "discrepancies/", entry_apis.DiscrepancyListApi.as_view(), name="api-discrepancies"
    ),
    path(
        STUDY + "discrepancies/<int:id>/resolve/",
        entry_apis.DiscrepancyResolveApi.as_view(),
        name="api-discrepancy-resolve",
    ),
    path(STUDY + "stats/", behavior_apis.StudyStatsApi.as_view(), name="api-study-stats"),
]
