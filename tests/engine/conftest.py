"""Fixtures for the engine tests that drive it in the test process (see inprocess.py)."""

from collections.abc import Iterator
from typing import Any

import pytest

from .inprocess import Receiver


@pytest.fixture
def receiver(settings: Any) -> Iterator[Receiver]:
    """A webhook receiver on this machine, which the SSRF guard lets the engine reach."""
    settings.SSRF_ALLOW_HOSTS = ["127.0.0.1"]
    hook = Receiver()
    yield hook
    hook.close()
