"""Settings come from the environment and fail loudly: production needs a SECRET_KEY."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _django_setup(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items()
             if k not in {"SECRET_KEY", "DEBUG", "DATABASE_URL", "REDIS_URL"}}
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); print('started')"],
        cwd=ROOT, env={**clean, "DJANGO_SETTINGS_MODULE": "wireflow_site.settings", **env},
        capture_output=True, text=True, timeout=60, check=False)


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    done = _django_setup(WIREFLOW_VAR_DIR=str(tmp_path))
    assert done.returncode != 0
    assert "SECRET_KEY is not set" in done.stderr


def test_development_generates_a_secret_key_outside_git(tmp_path):
    first = _django_setup(DEBUG="1", WIREFLOW_VAR_DIR=str(tmp_path))
    assert first.returncode == 0, first.stderr
    key = (tmp_path / "secret_key").read_text()
    assert len(key) >= 50
    assert _django_setup(DEBUG="1", WIREFLOW_VAR_DIR=str(tmp_path)).returncode == 0
    assert (tmp_path / "secret_key").read_text() == key  # kept, not regenerated


def test_a_malformed_boolean_setting_stops_the_process(tmp_path):
    done = _django_setup(DEBUG="maybe", WIREFLOW_VAR_DIR=str(tmp_path))
    assert done.returncode != 0
    assert "DEBUG must be a boolean" in done.stderr
