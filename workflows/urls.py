from django.urls import path

from . import settings_views, views

urlpatterns = [
    path("workflows/", views.workflow_list, name="workflow_list"),
    path("workflows/new", views.workflow_new, name="workflow_new"),
    path("workflows/new/from-starter/<str:slug>", views.workflow_from_starter,
         name="workflow_from_starter"),
    path("workflows/<str:workflow_id>/edit", views.workflow_edit, name="workflow_edit"),
    path("workflows/<str:workflow_id>/settings/", settings_views.workflow_settings,
         name="workflow_settings"),
]
