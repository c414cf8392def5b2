"""The schedules pages."""

from django.urls import URLPattern, path

from . import schedules_views as views

urlpatterns: list[URLPattern] = [
    path("workflows/<str:workflow_id>/schedules/", views.schedules_page,
         name="workflow_schedules"),
    path("workflows/<str:workflow_id>/schedules/preview", views.schedule_preview,
         name="workflow_schedule_preview"),
    path("workflows/<str:workflow_id>/schedules/<str:schedule_id>/", views.schedule_edit,
         name="workflow_schedule_edit"),
    path("workflows/<str:workflow_id>/schedules/<str:schedule_id>/pause", views.schedule_pause,
         name="workflow_schedule_pause"),
    path("workflows/<str:workflow_id>/schedules/<str:schedule_id>/resume",
         views.schedule_resume, name="workflow_schedule_resume"),
    path("workflows/<str:workflow_id>/schedules/<str:schedule_id>/delete",
         views.schedule_delete, name="workflow_schedule_delete"),
]
