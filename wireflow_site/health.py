"""Liveness and readiness probes for load balancers and orchestrators."""

import uuid

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _check_cache() -> None:
    probe = uuid.uuid4().hex
    cache.set("readyz-probe", probe, 10)
    if cache.get("readyz-probe") != probe:
        raise RuntimeError("cache did not return what was written")


def _check_broker() -> None:
    if not settings.CELERY_BROKER_URL:
        return  # embedded mode: the executor runs in-process
    from wireflow_site.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)


def readyz(request: HttpRequest) -> JsonResponse:
    checks = {"database": _check_database, "cache": _check_cache, "broker": _check_broker}
    results: dict[str, str] = {}
    for name, check in checks.items():
        try:
            check()
            results[name] = "ok"
        except Exception as exc:  # a probe reports any failure rather than crashing
            results[name] = f"error: {exc.__class__.__name__}"
    ready = all(value == "ok" for value in results.values())
    return JsonResponse({"status": "ok" if ready else "unavailable", "checks": results},
                        status=200 if ready else 503)
