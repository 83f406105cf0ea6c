from django.urls import path

from studies import views

app_name = "studies"

urlpatterns = [
    path("", views.today, name="today"),
    path("studies/", views.study_list, name="list"),
]
