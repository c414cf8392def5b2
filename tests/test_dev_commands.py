"""The operator commands the README shows work in a second terminal of a `make dev` checkout,
with nothing exported: they find the development settings `make dev` left in var/dev.env."""

from pathlib import Path

from tests.harness import dev_checkout, dev_manage


def test_createapikey_setplan_and_grantcredits_work_in_a_dev_checkout(tmp_path: Path) -> None:
    dev_checkout(tmp_path)
    assert dev_manage(tmp_path, "migrate", "--noinput", "-v0").returncode == 0

    created = dev_manage(tmp_path, "createapikey", "--email", "you@example.com")
    assert created.returncode == 0, created.stderr
    assert created.stdout.splitlines()[-1].startswith("sk-wf_")
    plan = dev_manage(tmp_path, "setplan", "you@example.com", "pro")
    assert plan.returncode == 0, plan.stderr
    assert "now on the pro plan" in plan.stdout
    granted = dev_manage(tmp_path, "grantcredits", "you@example.com", "100")
    assert granted.returncode == 0, granted.stderr
    assert "Granted 100 credits" in granted.stdout
    assert (tmp_path / "db.sqlite3").exists()  # the embedded database make dev serves


def test_without_the_development_settings_a_command_asks_for_a_secret_key(tmp_path: Path) -> None:
    done = dev_manage(tmp_path, "createapikey", "--email", "you@example.com")
    assert done.returncode != 0
    assert "SECRET_KEY is not set" in done.stderr
