"""Settings come from the environment and fail loudly: production needs a SECRET_KEY."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _django_setup(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items()
             if k not in {"SECRET_KEY", "DEBUG", "DATABASE_URL", "REDIS_URL"}}
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); print('started')"],
        cwd=ROOT, env={**clean, "DJANGO_SETTINGS_MODULE": "wireflow_site.settings", **env},
        capture_output=True, text=True, timeout=60, check=False)


def test_production_refuses_to_start_without_a_secret_key(tmp_path: Path) -> None:
    done = _django_setup(WIREFLOW_VAR_DIR=str(tmp_path))
    assert done.returncode != 0
    assert "SECRET_KEY is not set" in done.stderr


def test_development_generates_a_secret_key_outside_git(tmp_path: Path) -> None:
    first = _django_setup(DEBUG="1", WIREFLOW_VAR_DIR=str(tmp_path))
    assert first.returncode == 0, first.stderr
    key = (tmp_path / "secret_key").read_text()
    assert len(key) >= 50
    assert _django_setup(DEBUG="1", WIREFLOW_VAR_DIR=str(tmp_path)).returncode == 0
    assert (tmp_path / "secret_key").read_text() == key  # kept, not regenerated


def test_a_malformed_boolean_setting_stops_the_process(tmp_path: Path) -> None:
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


def test_commands_find_the_development_settings_make_dev_left_in_var(tmp_path: Path) -> None:
    (tmp_path / "dev.env").write_text("DEBUG=1\nSITE_URL=http://127.0.0.1:9000\n")
    done = _print_setting("SITE_URL", WIREFLOW_VAR_DIR=str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "http://127.0.0.1:9000"


def test_the_environment_wins_over_the_development_settings(tmp_path: Path) -> None:
    (tmp_path / "dev.env").write_text("DEBUG=1\nSITE_URL=http://127.0.0.1:9000\n")
    done = _print_setting("SITE_URL", WIREFLOW_VAR_DIR=str(tmp_path),
                          SITE_URL="https://flows.example.com")
    assert done.stdout.strip() == "https://flows.example.com", done.stderr


def test_production_ignores_the_development_settings_and_still_needs_a_secret_key(
        tmp_path: Path) -> None:
    (tmp_path / "dev.env").write_text("DEBUG=1\n")
    done = _print_setting("DEBUG", WIREFLOW_VAR_DIR=str(tmp_path), WIREFLOW_ENV_FILE="")
    assert done.returncode != 0
    assert "SECRET_KEY is not set" in done.stderr


def test_serve_reads_no_development_settings() -> None:
    assert 'export WIREFLOW_ENV_FILE=""' in (ROOT / "scripts" / "serve.sh").read_text()


# --- Production defaults (simulators, fal, HTTPS) -------------------------------------------

PRODUCTION = {"SECRET_KEY": "x7-Qm2pL9vR4tZ8wK1nB6yH3jF5dS0aG-" * 2, "WIREFLOW_ENV_FILE": "",
              "SITE_URL": "https://flows.example.com", "ALLOWED_HOSTS": "flows.example.com"}
# The HTTPS settings the README's "Running it for real" sets.
HTTPS_ONLY = {"SECURE_SSL_REDIRECT": "1", "SECURE_HSTS_SECONDS": "31536000",
              "SECURE_HSTS_INCLUDE_SUBDOMAINS": "1", "SECURE_HSTS_PRELOAD": "1"}


def _run(code: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`code` in a fresh interpreter after django.setup(), with `env` as the only settings from
    outside."""
    return _interpreter(f"import django; django.setup(); {code}", tmp_path, env)


def _read(code: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """The same for code that reads settings alone: only the settings module is imported, about
    a third of the time of django.setup(), which imports every app."""
    return _interpreter(code, tmp_path, env)


def _interpreter(code: str, tmp_path: Path,
                 env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items()
             if k not in {"SECRET_KEY", "DEBUG", "DATABASE_URL", "REDIS_URL", "SITE_URL",
                          "WIREFLOW_ENV_FILE", "WIREFLOW_SIMULATORS", "FAL_KEY", "FAL_QUEUE_URL",
                          "ALLOWED_HOSTS", *HTTPS_ONLY, *PROVIDER_BASES,
                          *(key for key, _, _ in PROVIDER_BASES.values())}}
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "wireflow_site.settings",
             "WIREFLOW_VAR_DIR": str(tmp_path), **env},
        capture_output=True, text=True, timeout=120, check=False)


SERVES_SIMULATORS = ("from django.urls import Resolver404, resolve\n"
                     "try:\n    resolve('/_sim/fal/fal-ai/flux-2')\n"
                     "except Resolver404:\n    print('not served')\n"
                     "else:\n    print('served')")


def test_production_does_not_serve_the_simulators(tmp_path: Path) -> None:
    done = _run(SERVES_SIMULATORS, tmp_path, **PRODUCTION)
    assert done.stdout.strip() == "not served", done.stderr


def test_the_simulators_are_served_with_debug_off_only_when_switched_on(tmp_path: Path) -> None:
    done = _run(SERVES_SIMULATORS, tmp_path, **PRODUCTION, WIREFLOW_SIMULATORS="1")
    assert done.stdout.strip() == "served", done.stderr


def test_development_serves_the_simulators(tmp_path: Path) -> None:
    done = _run(SERVES_SIMULATORS, tmp_path, DEBUG="1", WIREFLOW_ENV_FILE="")
    assert done.stdout.strip() == "served", done.stderr


FAL_QUEUE = "from django.conf import settings; print(settings.FAL_QUEUE_URL)"


def test_production_sends_model_calls_to_fal_s_queue(tmp_path: Path) -> None:
    for extra in ({}, {"FAL_KEY": "fal-key"}, {"FAL_KEY": "fal-key", "WIREFLOW_SIMULATORS": "1"}):
        done = _read(FAL_QUEUE, tmp_path, **PRODUCTION, **extra)
        assert done.stdout.strip() == "https://queue.fal.run", (extra, done.stderr)


def test_without_a_fal_key_the_simulators_stand_in_when_they_are_served(tmp_path: Path) -> None:
    done = _read(FAL_QUEUE, tmp_path, **PRODUCTION, WIREFLOW_SIMULATORS="1")
    assert done.stdout.strip() == "https://flows.example.com/_sim/fal", done.stderr
    done = _read(FAL_QUEUE, tmp_path, DEBUG="1", WIREFLOW_ENV_FILE="",
                 SITE_URL="http://127.0.0.1:8000")
    assert done.stdout.strip() == "http://127.0.0.1:8000/_sim/fal", done.stderr


# Each provider's base URL setting: its key's setting, the real API, the simulator's path.
PROVIDER_BASES = {
    "OPENAI_BASE_URL": ("OPENAI_API_KEY", "https://api.openai.com/v1", "/_sim/openai/v1"),
    "ANTHROPIC_BASE_URL": ("ANTHROPIC_API_KEY", "https://api.anthropic.com", "/_sim/anthropic"),
    "STABILITY_API_URL": ("STABILITY_API_KEY", "https://api.stability.ai", "/_sim/stability"),
    "REPLICATE_API_URL": ("REPLICATE_API_TOKEN", "https://api.replicate.com",
                          "/_sim/replicate"),
}


@pytest.mark.parametrize("setting", sorted(PROVIDER_BASES))
def test_each_provider_is_its_real_api_unless_the_simulators_stand_in(tmp_path: Path,
                                                                      setting: str) -> None:
    key, real, simulated = PROVIDER_BASES[setting]
    code = f"from django.conf import settings; print(settings.{setting})"
    for extra in ({}, {key: "a-key"}, {key: "a-key", "WIREFLOW_SIMULATORS": "1"}):
        done = _read(code, tmp_path, **PRODUCTION, **extra)
        assert done.stdout.strip() == real, (extra, done.stderr)
    done = _read(code, tmp_path, **PRODUCTION, WIREFLOW_SIMULATORS="1")
    assert done.stdout.strip() == f"https://flows.example.com{simulated}", done.stderr
    done = _read(code, tmp_path, **PRODUCTION, **{setting: "https://llm.internal/v1"})
    assert done.stdout.strip() == "https://llm.internal/v1", done.stderr


CHECK_DEPLOY = ("from django.core.management import call_command\n"
                "call_command('check', deploy=True, fail_level='WARNING')\n"
                "print('no issues')")


def test_check_deploy_finds_nothing_with_the_documented_production_settings(tmp_path: Path) -> None:
    done = _run(CHECK_DEPLOY, tmp_path, **PRODUCTION, **HTTPS_ONLY)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("no issues")
    assert "WARNINGS" not in done.stderr and "security.W" not in done.stderr


def test_check_deploy_names_what_is_missing_without_them(tmp_path: Path) -> None:
    done = _run(CHECK_DEPLOY, tmp_path, **PRODUCTION)
    assert done.returncode != 0
    for warning in ("security.W004", "security.W008"):  # HSTS, the HTTPS redirect
        assert warning in done.stderr


def test_https_settings_come_from_the_environment(tmp_path: Path) -> None:
    names = ["SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS",
             "SECURE_HSTS_PRELOAD", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE"]
    code = ("from django.conf import settings; "
            f"print([getattr(settings, name) for name in {names!r}])")
    assert _read(code, tmp_path, **PRODUCTION, **HTTPS_ONLY).stdout.strip() == \
        "[True, 31536000, True, True, True, True]"
    plain = _read(code, tmp_path, **{**PRODUCTION, "SITE_URL": "http://127.0.0.1:8000"})
    assert plain.stdout.strip() == "[False, 0, False, False, False, False]", plain.stderr


def test_health_probes_are_not_redirected_to_https(tmp_path: Path) -> None:
    code = ("from django.test import Client\n"
            "client = Client()\n"
            "print(client.get('/healthz').status_code, client.get('/workflows/').status_code)")
    done = _run(code, tmp_path, **{**PRODUCTION, **HTTPS_ONLY, "ALLOWED_HOSTS": "testserver"})
    assert done.stdout.strip() == "200 301", done.stderr


# --- Time limits ----------------------------------------------------------------------------

CELERY_LIMITS = ("from wireflow_site.celery import app\n"
                 "print(app.conf.task_soft_time_limit, app.conf.task_time_limit)")


def test_every_celery_task_runs_under_the_configured_time_limits(tmp_path: Path) -> None:
    assert _run(CELERY_LIMITS, tmp_path, **PRODUCTION).stdout.split() == ["300", "360"]
    chosen = _run(CELERY_LIMITS, tmp_path, **PRODUCTION, CELERY_TASK_SOFT_TIME_LIMIT="50",
                  CELERY_TASK_TIME_LIMIT="60")
    assert chosen.stdout.split() == ["50", "60"], chosen.stderr


@pytest.mark.parametrize(("soft", "hard"), [("60", "60"), ("90", "60"), ("0", "60")])
def test_a_soft_limit_not_below_the_hard_one_is_refused(tmp_path: Path, soft: str,
                                                        hard: str) -> None:
    done = _run(CELERY_LIMITS, tmp_path, **PRODUCTION, CELERY_TASK_SOFT_TIME_LIMIT=soft,
                CELERY_TASK_TIME_LIMIT=hard)
    assert done.returncode != 0
    assert "CELERY_TASK_SOFT_TIME_LIMIT must be positive and below" in done.stderr


REDIS_URL_HERE_AND_IN_A_CHILD = (
    "import subprocess, sys\n"
    "from django.conf import settings\n"
    "child = 'from django.conf import settings; print(settings.REDIS_URL)'\n"
    "print(settings.REDIS_URL)\n"
    "print(subprocess.run([sys.executable, '-c', child], capture_output=True, text=True,\n"
    "                     check=True).stdout.strip())")


@pytest.mark.parametrize(("worker", "database"), [("", 14), ("gw0", 14), ("gw1", 13), ("gw2", 12)])
def test_each_test_process_has_a_redis_database_of_its_own_and_its_children_share_it(
        tmp_path: Path, worker: str, database: int) -> None:
    """make test's pytest-xdist processes count down from TEST_REDIS_URL's database; a worker
    or server that a test starts inherits its process's database, not one further down."""
    done = _read(REDIS_URL_HERE_AND_IN_A_CHILD, tmp_path,
                 DJANGO_SETTINGS_MODULE="wireflow_site.settings_test",
                 REDIS_URL="redis://127.0.0.1:6379/14", PYTEST_XDIST_WORKER=worker,
                 WIREFLOW_TEST_REDIS_OF="")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [f"redis://127.0.0.1:6379/{database}"] * 2
