"""The simulators' server's routes: the simulators alone, where the site mounts them (/_sim/),
so that the URLs they hand out (a fal request's status and result) are the same on both."""

from django.urls import URLResolver, include, path

urlpatterns: list[URLResolver] = [path("_sim/", include("executions.simulators.urls"))]
