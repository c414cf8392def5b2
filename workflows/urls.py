from django.urls import path

from . import gallery_views, settings_views, sharing_views, views

urlpatterns = [
    path("workflows/", views.workflow_list, name="workflow_list"),
    path("workflows/new", views.workflow_new, name="workflow_new"),
    path("workflows/<str:workflow_id>/edit", views.workflow_edit, name="workflow_edit"),
    # A workflow shared by link: its public page, "Use this workflow", the canvas's catalogue.
    path("workflows/<str:workflow_id>/", sharing_views.workflow_shared, name="workflow_shared"),
    path("workflows/<str:workflow_id>/use", sharing_views.workflow_shared_use,
         name="workflow_shared_use"),
    path("workflows/<str:workflow_id>/shared/nodes", sharing_views.workflow_shared_nodes,
         name="workflow_shared_nodes"),
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
