from django.urls import include, path

urlpatterns = [
    path("", include("executions.runs_urls")),
    path("", include("executions.stats_urls")),
    path("", include("executions.schedules_urls")),
    path("", include("executions.batches_urls")),
    path("", include("executions.uploads_urls")),
]
