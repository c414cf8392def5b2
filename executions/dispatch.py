"""The one dispatcher seam: `advance_later` sends the Celery task in production and schedules
the same `advance` on the in-process scheduler in the embedded mode. Always after commit.

The two ways of sending are connected when the app is ready (executions/apps.py), so that this
module, which the engine imports, imports neither of them."""

from collections.abc import Callable
from functools import partial

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction

# (execution id, delay in seconds) -> None
Sender = Callable[[str, float], None]
_senders: dict[str, Sender] = {}


def connect(*, embedded: Sender, distributed: Sender) -> None:
    _senders.update(embedded=embedded, distributed=distributed)


def advance_later(execution_id: str, delay: float = 0.0) -> None:
    transaction.on_commit(partial(_send, str(execution_id), delay))


def _send(execution_id: str, delay: float) -> None:
    sender = _senders.get("embedded" if settings.EMBEDDED else "distributed")
    if sender is None:
        raise ImproperlyConfigured("the executions app is not ready: nothing sends advances")
    sender(execution_id, delay)
