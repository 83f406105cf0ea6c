from django.urls import path

from studies import views, views_exports, views_history

app_name = "studies"

urlpatterns = [
    path("", views.today, name="today"),
    path("studies/", views.study_list, name="list"),
    path("studies/new/", views.study_new, name="new"),
    path("studies/new/<slug:key>/", views.study_new_from_design, name="new_from_design"),
    path("studies/<slug:slug>/", views.study_detail, name="detail"),
    path("studies/<slug:slug>/edit/", views.study_edit, name="edit"),
    path(
        "studies/<slug:slug>/edit/<slug:item>/add/", views.design_item_add, name="design_item_add"
    ),
    path(
        "studies/<slug:slug>/schedules/<int:schedule_id>/stock/",
        views.schedule_stock,
        name="schedule_stock",
    ),
    path("studies/<slug:slug>/members/", views.members, name="members"),
    path("studies/<slug:slug>/animals/", views.animals, name="animals"),
    path(
        "studies/<slug:slug>/animals/<int:animal_id>/status/",
        views.animal_status,
        name="animal_status",
    ),
    path("studies/<slug:slug>/allocate/", views.allocate, name="allocate"),
    path("studies/<slug:slug>/status/", views.study_status, name="status"),
    path("studies/<slug:slug>/doses/", views.dose_record, name="dose_record"),
    path("studies/<slug:slug>/weights/", views.weight_record, name="weight_record"),
    path("studies/<slug:slug>/export/<str:kind>/", views_exports.study_export, name="export"),
    path("studies/<slug:slug>/history/", views_history.study_history, name="history"),
    path(
        "studies/<slug:slug>/history/readings/<int:reading_id>/",
        views_history.reading_history,
        name="reading_history",
    ),
]
