import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wireflow_site.settings")

from .asgi_handler import get_asgi_application  # noqa: E402

django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from . import heap  # noqa: E402
from .bodylimit import BodySizeLimit, largest_body  # noqa: E402
from .routing import websocket_urlpatterns  # noqa: E402


def _start_embedded_executor() -> None:
    # Without a broker, executions run on an in-process scheduler; start it now so that runs
    # left in flight by a previous process are swept up and resumed.
    from django.conf import settings

    if settings.EMBEDDED:
        from executions.inprocess import scheduler

        scheduler()


_start_embedded_executor()


application = ProtocolTypeRouter(
    {
        "http": BodySizeLimit(django_asgi_app, limit=largest_body()),
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
    }
)
heap.settle()  # everything a request needs is loaded: see heap.py
