"""The entry pages at the bench (namespace ``behavior:``)."""

from django.urls import path, register_converter

from behavior import views


class DayConverter:
    """A timepoint's day: baselines are on negative days (day -1)."""

    regex = r"-?[0-9]+"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value) -> str:
        return str(int(value))


register_converter(DayConverter, "entry_day")

SESSION = "studies/<slug:slug>/sessions/<entry_day:day>/<str:assay>/"

urlpatterns = [
    path("studies/<slug:slug>/sessions/", views.sessions, name="sessions"),
    path(SESSION, views.session_entry, name="session_entry"),
    path(SESSION + "value/", views.entry_value, name="entry_value"),
    path(SESSION + "progress/", views.session_progress, name="session_progress"),
    path("studies/<slug:slug>/discrepancies/", views.discrepancies, name="discrepancies"),
    path(
        "studies/<slug:slug>/discrepancies/<int:pk>/resolve/",
        views.discrepancy_resolve,
        name="discrepancy_resolve",
    ),
    path("studies/<slug:slug>/readings/upload/", views.upload, name="upload"),
]
