from django.urls import path

from . import gallery_views, settings_views, views

urlpatterns = [
    path("workflows/", views.workflow_list, name="workflow_list"),
    path("workflows/new", views.workflow_new, name="workflow_new"),
    path("workflows/<str:workflow_id>/edit", views.workflow_edit, name="workflow_edit"),
    path("workflows/<str:workflow_id>/settings/", settings_views.workflow_settings,
         name="workflow_settings"),
    path("workflows/<str:workflow_id>/publish", gallery_views.workflow_publish,
         name="workflow_publish"),
    path("templates/", gallery_views.template_gallery, name="template_gallery"),
    path("templates/<str:template_id>/", gallery_views.template_detail, name="template_detail"),
    path("templates/<str:template_id>/use", gallery_views.template_use, name="template_use"),
    path("templates/<str:template_id>/unpublish", gallery_views.template_unpublish,
         name="template_unpublish"),
    path("templates/<str:template_id>/republish", gallery_views.template_republish,
         name="template_republish"),
]
