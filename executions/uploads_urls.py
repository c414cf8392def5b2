"""The uploads pages."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
