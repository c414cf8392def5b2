"""Celery reads its configuration from a copy of Django's CELERY_* settings
(wireflow_site/celery_settings.py): every one of them must reach it, under Celery's own name."""

from typing import Any

import pytest
from django.conf import settings

from wireflow_site.celery import app

CELERY_NAMES = sorted(name for name in dir(settings) if name.startswith("CELERY_"))


def test_the_settings_are_there_to_compare() -> None:
    assert {"CELERY_BROKER_URL", "CELERY_TASK_ACKS_LATE", "CELERY_BEAT_SCHEDULE",
            "CELERY_TASK_TIME_LIMIT"} <= set(CELERY_NAMES)


@pytest.mark.parametrize("name", CELERY_NAMES)
def test_each_celery_setting_reaches_celery(name: str) -> None:
    expected: Any = getattr(settings, name)
    assert app.conf[name.removeprefix("CELERY_").lower()] == expected


def test_what_celery_was_not_given_keeps_its_default() -> None:
    assert app.conf.task_serializer == "json"
    assert app.conf.task_default_queue == "celery"
