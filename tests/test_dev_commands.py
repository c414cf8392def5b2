"""The operator commands the README shows work in a second terminal of a `make dev` checkout,
with nothing exported: they find the development settings `make dev` left in var/dev.env."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
UNSET = {"SECRET_KEY", "DEBUG", "DATABASE_URL", "REDIS_URL", "SITE_URL", "WIREFLOW_ENV_FILE",
         "DJANGO_SETTINGS_MODULE", "WIREFLOW_SIMULATORS"}


def manage(var: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in UNSET}
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT,
                          env={**env, "WIREFLOW_VAR_DIR": str(var)},
                          capture_output=True, text=True, timeout=300, check=False)


def test_createapikey_setplan_and_grantcredits_work_in_a_dev_checkout(tmp_path):
    (tmp_path / "dev.env").write_text("DEBUG=1\nSITE_URL=http://127.0.0.1:8000\n")
    assert manage(tmp_path, "migrate", "--noinput", "-v0").returncode == 0

    created = manage(tmp_path, "createapikey", "--email", "you@example.com")
    assert created.returncode == 0, created.stderr
    assert created.stdout.splitlines()[-1].startswith("sk-wf_")
    plan = manage(tmp_path, "setplan", "you@example.com", "pro")
    assert plan.returncode == 0, plan.stderr
    assert "now on the pro plan" in plan.stdout
    granted = manage(tmp_path, "grantcredits", "you@example.com", "100")
    assert granted.returncode == 0, granted.stderr
    assert "Granted 100 credits" in granted.stdout
    assert (tmp_path / "db.sqlite3").exists()  # the embedded database make dev serves


def test_without_the_development_settings_a_command_asks_for_a_secret_key(tmp_path):
    done = manage(tmp_path, "createapikey", "--email", "you@example.com")
    assert done.returncode != 0
    assert "SECRET_KEY is not set" in done.stderr
