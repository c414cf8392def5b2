"""The provider simulators on a server of their own, as a provider's API is:

    DJANGO_SETTINGS_MODULE=executions.simulators.server_settings \\
        uvicorn executions.simulators.asgi:application --port 8001

with the site's FAL_QUEUE_URL (and the other providers' URLs) pointing at it, e.g.
http://127.0.0.1:8001/_sim/fal. The site serves the same simulators at /_sim/ when they are on
(make dev); on their own they answer from the simulators' routes alone, with none of the
site's middleware (server_settings.py), which the benchmarks use so that the stand-in provider
takes as little as it can of the CPU the site under test runs on.
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "executions.simulators.server_settings")

from wireflow_site import heap  # noqa: E402
from wireflow_site.asgi_handler import get_asgi_application  # noqa: E402
from wireflow_site.bodylimit import BodySizeLimit, largest_body  # noqa: E402

django_application = get_asgi_application()  # Django set up: the routes below import models

from .asgi_routes import FalSubmit  # noqa: E402

# fal's submit straight from ASGI, the rest through Django (asgi_routes.py).
application = BodySizeLimit(FalSubmit(django_application), limit=largest_body())
heap.settle()
