"""Routes of the simulated Anthropic Messages API."""

from django.urls import URLPattern, path

from . import anthropic

urlpatterns: list[URLPattern] = [
    path("anthropic/v1/messages", anthropic.messages_view, name="sim-anthropic-messages"),
    path("anthropic/_stats", anthropic.stats_view, name="sim-anthropic-stats"),
    path("anthropic/_reset", anthropic.reset_view, name="sim-anthropic-reset"),
]
