"""The runs pages."""

from django.urls import URLPattern, path

from . import runs_views

urlpatterns: list[URLPattern] = [
    path("runs/", runs_views.runs_page, name="runs"),
    path("runs/<str:execution_id>/", runs_views.run_page, name="run_detail"),
]
