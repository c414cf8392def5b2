"""Every long-running process freezes the heap it starts with and collects its young
generation less often (wireflow_site/heap.py): the web's and the simulators' ASGI applications
once built, a Celery worker once ready, and each prefork child after its fork without walking
the pages it shares with its parent. Each case runs in a fresh interpreter, which starts with
nothing frozen and CPython's default thresholds."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from wireflow_site.heap import YOUNG

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_YOUNG = 700


def _fresh(code: str, settings: str = "wireflow_site.settings_test") -> dict[str, list[int]]:
    """`code` run after a snapshot "before" of the gc's state; another, "after", at its end."""
    state = ("[gc.get_freeze_count(), gc.get_threshold()[0], gc.get_stats()[2]['collections']]")
    program = (f"import gc, json; before = {state}\n{code}\n"
               f"print(json.dumps({{'before': before, 'after': {state}}}))")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": settings}
    done = subprocess.run([sys.executable, "-c", program], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    result: dict[str, list[int]] = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["before"][:2] == [0, DEFAULT_YOUNG]  # what the interpreter starts with
    return result


@pytest.mark.parametrize("module", ["wireflow_site.asgi", "executions.simulators.asgi"])
def test_an_asgi_application_settles_the_heap_once_built(module: str) -> None:
    frozen, young, _ = _fresh(f"import {module}")["after"]
    assert frozen > 20_000  # Django and what the process serves with
    assert young == YOUNG


def test_a_celery_worker_settles_its_heap_once_ready() -> None:
    result = _fresh("import wireflow_site.celery\n"
                    "from celery import signals\n"
                    "signals.worker_ready.send(sender=None)")
    frozen, young, full_collections = result["after"]
    assert frozen > 20_000 and young == YOUNG
    assert full_collections > result["before"][2]  # its garbage collected before it froze


def test_a_prefork_child_freezes_what_it_inherited_without_walking_it() -> None:
    # Automatic collections off: only an explicit one could then be counted.
    result = _fresh("import django; django.setup()\n"
                    "import wireflow_site.celery, executions.tasks\n"
                    "from celery import signals\n"
                    "gc.disable()\n"
                    "collections = [g['collections'] for g in gc.get_stats()]\n"
                    "signals.worker_process_init.send(sender=None)\n"
                    "assert [g['collections'] for g in gc.get_stats()] == collections")
    frozen, young, _ = result["after"]
    assert frozen > 20_000 and young == YOUNG
