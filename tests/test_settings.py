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


def _print_setting(name: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items()
             if k not in {"SECRET_KEY", "DEBUG", "DATABASE_URL", "REDIS_URL", "SITE_URL",
                          "WIREFLOW_ENV_FILE"}}
    code = ("import django; django.setup(); from django.conf import settings; "
            f"print(settings.{name})")
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "wireflow_site.settings", **env},
        capture_output=True, text=True, timeout=60, check=False)


def test_commands_find_the_development_settings_make_dev_left_in_var(tmp_path):
    (tmp_path / "dev.env").write_text("DEBUG=1\nSITE_URL=http://127.0.0.1:9000\n")
    done = _print_setting("SITE_URL", WIREFLOW_VAR_DIR=str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "http://127.0.0.1:9000"


def test_the_environment_wins_over_the_development_settings(tmp_path):
    (tmp_path / "dev.env").write_text("DEBUG=1\nSITE_URL=http://127.0.0.1:9000\n")
    done = _print_setting("SITE_URL", WIREFLOW_VAR_DIR=str(tmp_path),
                          SITE_URL="https://flows.example.com")
    assert done.stdout.strip() == "https://flows.example.com", done.stderr


def test_production_ignores_the_development_settings_and_still_needs_a_secret_key(tmp_path):
    (tmp_path / "dev.env").write_text("DEBUG=1\n")
    done = _print_setting("DEBUG", WIREFLOW_VAR_DIR=str(tmp_path), WIREFLOW_ENV_FILE="")
    assert done.returncode != 0
    assert "SECRET_KEY is not set" in done.stderr


def test_serve_reads_no_development_settings():
    assert 'export WIREFLOW_ENV_FILE=""' in (ROOT / "scripts" / "serve.sh").read_text()
