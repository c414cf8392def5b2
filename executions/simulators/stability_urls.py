"""Routes of the simulated Stability AI API (Stable Image generate), under /_sim/stability/."""

from django.urls import URLPattern, path

from . import stability

urlpatterns: list[URLPattern] = [
    path("stability/v2beta/stable-image/generate/<str:model>", stability.generate_view,
         name="sim-stability-generate"),
    path("stability/_stats", stability.stats_view, name="sim-stability-stats"),
    path("stability/_reset", stability.reset_view, name="sim-stability-reset"),
]
