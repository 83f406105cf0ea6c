"""Dashboards (namespace ``behavior:``)."""

from django.urls import path

from behavior import views_dashboard

urlpatterns = [
    path("overview/", views_dashboard.overview, name="overview"),
    path("studies/<slug:slug>/dashboard/", views_dashboard.dashboard, name="dashboard"),
    path(
        "studies/<slug:slug>/dashboard/figure.csv",
        views_dashboard.dashboard_csv,
        name="dashboard_csv",
    ),
    path(
        "studies/<slug:slug>/dashboard/<str:part>/",
        views_dashboard.dashboard_part,
        name="dashboard_part",
    ),
]
