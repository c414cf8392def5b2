from django.urls import path

from . import views

urlpatterns = [
    path("hooks/provider/<str:token>/", views.provider_hook, name="provider_hook"),
]
