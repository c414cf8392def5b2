from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, JsonResponse
from django.urls import include, path, re_path
from django.views.decorators.csrf import csrf_exempt
from django.views.static import serve

from executions import triggers
from executions import views as execution_views

from . import health
from .api import api
from .errors import NotFound, render_error

handler500 = "wireflow_site.middleware.server_error"


@csrf_exempt  # no session is used here, and an unknown path is 404 for every method
def api_not_found(request: HttpRequest, rest: str = "") -> JsonResponse:
    return render_error(NotFound())


urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    # The public webhook trigger, before the API (it takes no API key) and its catch-all.
    re_path(r"^api/v1/workflow/(?P<webhook_id>[^/]+)/trigger/?$", triggers.trigger,
            name="webhook_trigger"),
    re_path(r"^workflow/(?P<webhook_id>[^/]+)/trigger/?$", triggers.trigger,
            name="webhook_trigger_short"),
    path("api/v1/", api.urls),
    re_path(r"^api(?:/(?P<rest>.*))?$", api_not_found),
    # Providers' webhooks (and the simulators' calls, when they are on) come in bursts of
    # thousands: matched here, before the pages' patterns, which they would otherwise be tried
    # against one by one first (allauth's alone are dozens).
    path("hooks/provider/<str:token>/", execution_views.provider_hook, name="provider_hook"),
    *([path("_sim/", include("executions.simulators.urls"))] if settings.SIMULATORS_ENABLED
      else []),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("", include("accounts.urls")),
    path("", include("workflows.urls")),
    path("", include("executions.urls")),
]

if settings.SERVE_MEDIA:
    # Media written through the default (filesystem) storage; a deployment with object storage
    # turns this off and serves media from the bucket.
    urlpatterns += [re_path(r"^media/(?P<path>.*)$", serve,
                            {"document_root": settings.MEDIA_ROOT})]
