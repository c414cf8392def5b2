"""The stats pages: the Dashboard and a workflow's statistics."""

from django.urls import path

from . import stats_views

urlpatterns = [
    path("dashboard/", stats_views.dashboard, name="dashboard"),
    path("workflows/<str:workflow_id>/stats/", stats_views.workflow_stats,
         name="workflow_stats"),
]
