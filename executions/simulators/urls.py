"""Routes of the built-in provider simulators, mounted at /_sim/ when SIMULATORS_ENABLED.

fal model ids contain slashes, so submit takes the rest of the path; the request routes come
first because their URLs keep only the model's "<owner>/<app>" (as fal's do).
"""

from django.urls import URLPattern, URLResolver, include, path

from . import anthropic_urls, fal, openai_audio_urls, openai_chat_urls, replicate, stability_urls

_REQUEST = "fal/<str:owner>/<str:app>/requests/<str:request_id>"

urlpatterns: list[URLPattern | URLResolver] = [
    path("fal/_stats", fal.stats_view, name="sim-fal-stats"),
    path("fal/_reset", fal.reset_view, name="sim-fal-reset"),
    path(f"{_REQUEST}/status", fal.status_view, name="sim-fal-status"),
    path(f"{_REQUEST}/cancel", fal.cancel_view, name="sim-fal-cancel"),
    path(_REQUEST, fal.result_view, name="sim-fal-result"),
    path("fal/<path:model_id>", fal.submit_view, name="sim-fal-submit"),
    path("replicate/_stats", replicate.stats_view, name="sim-replicate-stats"),
    path("replicate/_reset", replicate.reset_view, name="sim-replicate-reset"),
    path("replicate/v1/predictions", replicate.create_view, name="sim-replicate-create"),
    path("replicate/v1/predictions/<str:prediction_id>", replicate.get_view,
         name="sim-replicate-get"),
    path("replicate/v1/predictions/<str:prediction_id>/cancel", replicate.cancel_view,
         name="sim-replicate-cancel"),
    path("replicate/v1/models/<str:owner>/<str:name>/predictions",
         replicate.create_for_model_view, name="sim-replicate-model-create"),
    # OpenAI-compatible chat and audio share the /openai/v1/ prefix; Anthropic, Stability theirs.
    path("", include(openai_chat_urls)),
    path("", include(openai_audio_urls)),
    path("", include(anthropic_urls)),
    path("", include(stability_urls)),
]
