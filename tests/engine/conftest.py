"""Fixtures for the engine tests that drive it in the test process (see inprocess.py)."""

from collections.abc import Iterator
from typing import Any

import pytest

from .inprocess import Receiver


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """No Celery: what the engine asks to advance is recorded, and the test advances."""
    calls: list[str] = []
    monkeypatch.setattr("executions.dispatch._send",
                        lambda execution_id, delay, contention: calls.append(execution_id))
    return calls


@pytest.fixture
def receiver(settings: Any) -> Iterator[Receiver]:
    """A webhook receiver on this machine, which the SSRF guard lets the engine reach."""
    settings.SSRF_ALLOW_HOSTS = ["127.0.0.1"]
    hook = Receiver()
    yield hook
    hook.close()
