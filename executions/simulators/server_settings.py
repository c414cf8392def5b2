"""Settings of the provider simulators on a server of their own (executions/simulators/asgi.py):
the site's settings, with the simulators' routes alone and none of the site's middleware.

A provider's API is not behind our sessions, CSRF checks, rate limits, request ids or static
files, and its CPU is not ours to pay: on the site's machine (the benchmarks), the simulators
should cost as little of it as a remote provider's server would, nothing, so they cost what
serving their own routes takes.
"""

from wireflow_site.settings import *  # noqa: F403 - the site's, overridden below

ROOT_URLCONF = "executions.simulators.server_urls"
# allauth refuses to start without its middleware listed (it sets two attributes per request).
MIDDLEWARE = ["allauth.account.middleware.AccountMiddleware"]
