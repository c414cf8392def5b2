"""What the tests of the built-in fal simulator share: a clean simulator, the key header fal
takes, and submitting to it through the Django test client."""

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.test import Client

from executions.providers.fal import platform_key
from executions.simulators.state import reset_simulator


@contextmanager
def fresh_fal_simulator(settings: Any, latency: float,
                        image_scale: float | None = None) -> Iterator[None]:
    """The simulator emptied before and after, its jobs taking `latency` seconds by default and
    (when given) its pictures drawn at `image_scale` of their size."""
    if image_scale is not None:
        settings.SIM_IMAGE_SCALE = image_scale
    settings.SIM_DEFAULT_LATENCY = latency
    reset_simulator()
    yield
    reset_simulator()


def auth(key: str | None = None) -> dict[str, str]:
    """fal's key header; by default with the key the site's own fal client sends (no FAL_KEY in
    the tests: the simulator's)."""
    return {"Authorization": f"Key {platform_key() if key is None else key}"}


def submit(client: Client, model_id: str, payload: Any, query: str = "",
           headers: dict[str, str] | None = None) -> Any:
    return client.post(f"/_sim/fal/{model_id}{query}", data=json.dumps(payload),
                       content_type="application/json",
                       headers=auth() if headers is None else headers)


def path_of(url: str) -> str:
    """The path (and query) of an absolute URL the simulator answered."""
    return "/" + url.split("/", 3)[3]
