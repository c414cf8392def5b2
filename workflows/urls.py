from django.urls import path

from . import views

urlpatterns = [
    path("workflows/", views.workflow_list, name="workflow_list"),
    path("workflows/new", views.workflow_new, name="workflow_new"),
    path("workflows/<str:workflow_id>/edit", views.workflow_edit, name="workflow_edit"),
]
