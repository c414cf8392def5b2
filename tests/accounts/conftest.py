"""Personas and fixtures for the accounts tests (the shared ones live in tests/conftest.py)."""

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from accounts.models import User

from .helpers import logged_in


@pytest.fixture(autouse=True)
def _no_allauth_rate_limits(settings: Any) -> None:
    # allauth counts failed logins in the (Redis) cache, which outlives a test run; these
    # tests fail logins on purpose and must not lock each other out.
    settings.ACCOUNT_RATE_LIMITS = False


@pytest.fixture
def browser_for(db: None) -> Callable[[User], Client]:
    """browser_for(user) -> a Django test client logged in as that user."""
    return logged_in
