from django.urls import include, path

from . import views

urlpatterns = [
    path("", include("executions.runs_urls")),
    path("", include("executions.stats_urls")),
    path("", include("executions.schedules_urls")),
    path("", include("executions.batches_urls")),
    path("", include("executions.uploads_urls")),
    path("hooks/provider/<str:token>/", views.provider_hook, name="provider_hook"),
]
