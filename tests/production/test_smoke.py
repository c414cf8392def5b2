"""The README's production path, end to end: a clean copy of the tree (no editor build, no
collected static files), `make serve` there with a PostgreSQL cluster and a Redis server of its
own on free ports (tests/reliability/services.py), then in Chromium a new person signs up,
opens a starter template in the editor and runs it through the Celery worker to COMPLETED; the
editor's hashed assets carry long-lived cache headers and /readyz is green. Every process it
started is stopped at the end.

The copy shares this checkout's virtualenv and editor/node_modules (symlinks, with file times
kept so make sees them up to date): installing those again is what `make test` already proved;
what is checked here is that `make serve` builds and serves everything else by itself."""

import os
import re
import signal
import subprocess
import tarfile
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.editor_page import PASSWORD, node, wait_for_editor
from tests.conftest import _free_port
from tests.harness import POOLS, ROOT, wait_until
from tests.reliability.services import throwaway_services

pytestmark = pytest.mark.browser

START_TIMEOUT = 600  # the editor build on a loaded two-core machine
RUN_TIMEOUT_MS = 120_000
STARTER = "seed-pipeline"  # "Prompt to upscaled image"


def _tracked_files() -> list[str]:
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others",
                             "--exclude-standard"], cwd=ROOT, check=True,
                            capture_output=True).stdout
    return [name for name in listed.decode().split("\0") if name and (ROOT / name).is_file()]


def _copy_tree(target: Path) -> None:
    """The project's files as a fresh clone has them (file times kept), nothing built."""
    archive = target.with_suffix(".tar")
    with tarfile.open(archive, "w") as tar:
        for name in _tracked_files():
            tar.add(ROOT / name, arcname=name, recursive=False)
    target.mkdir()
    with tarfile.open(archive) as tar:
        tar.extractall(target, filter="tar")
    archive.unlink()
    assert not (target / "static" / "editor").exists()
    (target / ".venv").symlink_to(ROOT / ".venv")
    (target / "editor" / "node_modules").symlink_to(ROOT / "editor" / "node_modules")


class Served:
    """`make serve` in a directory, in its own process group."""

    def __init__(self, tree: Path, env: dict[str, str]) -> None:
        self.url = env["SITE_URL"]
        self.log_path = tree / "serve.log"
        self.log = self.log_path.open("w")
        self.survivors = ""
        self.process = subprocess.Popen(["make", "serve"], cwd=tree, env=env, stdout=self.log,
                                        stderr=subprocess.STDOUT, start_new_session=True)

    def log_text(self) -> str:
        if not self.log.closed:
            self.log.flush()
        return self.log_path.read_text(errors="replace")[-6000:]

    def ready(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"make serve exited:\n{self.log_text()}")
        try:
            return httpx.get(f"{self.url}/readyz", timeout=5).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> bool:
        """SIGTERM to every process `make serve` started; True if all of them were gone
        within a minute (a Celery warm shutdown takes a few seconds), else they are killed."""
        group = self.process.pid
        if _group_alive(group):
            os.killpg(group, signal.SIGTERM)
        try:
            # poll() reaps make itself, which would otherwise stay in the group as a zombie.
            wait_until(lambda: self.process.poll() is not None and not _group_alive(group), 60,
                       "make serve did not stop", interval=0.2)
            stopped = True
        except AssertionError:
            # Every thread of every survivor, with its parent, what it waits in, and the whole
            # command line: enough to tell the worker from beat, and a stuck child from a
            # stuck parent.
            self.survivors = subprocess.run(
                ["ps", "-ww", "-L", "-o", "pid,tid,ppid,stat,etime,wchan:24,args", "-g",
                 str(group)], capture_output=True, text=True).stdout
            os.killpg(group, signal.SIGKILL)
            stopped = False
        self.process.wait(timeout=10)
        self.log.close()
        return stopped


def _group_alive(pid: int) -> bool:
    """Whether a process of the group is still running. An exited process its parent has not
    reaped yet (a zombie: the parent died first and the machine's init does not reap) has
    stopped all the same."""
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return False
    states = subprocess.run(["ps", "-o", "stat=", "-g", str(pid)], capture_output=True,
                            text=True).stdout.split()
    return any(not state.startswith("Z") for state in states)


@pytest.fixture(params=POOLS)
def served(request: pytest.FixtureRequest) -> Iterator[Served]:
    """`make serve` with each of its worker pools (CELERY_POOL)."""
    with ExitStack() as cleanup:
        base, postgres, redis_server = throwaway_services(cleanup, "wireflow-smoke-")
        tree = base / "wireflow"
        _copy_tree(tree)
        site = f"http://127.0.0.1:{_free_port()}"
        unset = {"DJANGO_SETTINGS_MODULE", "DEBUG", "WIREFLOW_DB_POOL_SIZE",
                 "WIREFLOW_ENV_FILE", "DJANGO_ALLOW_ASYNC_UNSAFE"}
        env = {**{k: v for k, v in os.environ.items() if k not in unset},
               "DATABASE_URL": postgres.url, "REDIS_URL": redis_server.url,
               "SECRET_KEY": "smoke-test-secret-key-" + "x" * 40, "SITE_URL": site,
               "ALLOWED_HOSTS": "127.0.0.1", "HOST": "127.0.0.1", "PORT": site.rsplit(":", 1)[1],
               "WEB_WORKERS": "1", "CELERY_CONCURRENCY": "2", "WIREFLOW_SIMULATORS": "1",
               "WIREFLOW_SIM_LATENCY": "0.2", "CELERY_POOL": request.param}
        serve = Served(tree, env)
        try:
            wait_until(serve.ready, START_TIMEOUT,
                       lambda: f"make serve never became ready:\n{serve.log_text()}",
                       interval=0.5)
            # Celery's banner names the pool it runs: prefork, or thread.
            banner = f"concurrency: 2 ({request.param.removesuffix('s')})"
            wait_until(lambda: banner in serve.log_path.read_text(errors="replace"), START_TIMEOUT,
                       lambda: f"no worker started with {banner!r}:\n{serve.log_text()}")
            yield serve
        finally:
            stopped = serve.stop()
        assert stopped, ("a process make serve started outlived SIGTERM by a minute:\n"
                         f"{serve.survivors}\n{serve.log_text()}")


def test_make_serve_from_a_clean_tree_serves_the_editor_and_runs_a_starter(
        served: Served, page: Page) -> None:
    site = served.url
    ready = httpx.get(f"{site}/readyz", timeout=10)
    assert ready.status_code == 200 and ready.json()["status"] == "ok", ready.text

    page.goto(f"{site}/accounts/signup/")
    page.fill("input[name=email]", "operator@example.com")
    page.fill("input[name=password1]", PASSWORD)
    page.fill("input[name=password2]", PASSWORD)
    page.locator("form button[type=submit]").last.click()
    page.wait_for_url(f"{site}/workflows/")

    _open_starter(page, STARTER)
    wait_for_editor(page)
    script = page.locator("script[type=module]").first.get_attribute("src")
    assert script and re.fullmatch(r"/static/editor/assets/.+\.js", script), script
    asset = httpx.get(f"{site}{script}", timeout=10)
    assert asset.status_code == 200
    assert "immutable" in asset.headers["Cache-Control"], asset.headers
    assert "max-age=315360000" in asset.headers["Cache-Control"]

    page.get_by_test_id("run-button").click()
    page.get_by_test_id("run-dialog-submit").click()
    expect(page.get_by_test_id("run-dialog")).to_be_hidden()
    for node_type in ["input:text", "generate:nano_banana_pro", "upscale:crystal_upscaler",
                      "output:result"]:
        expect(node(page, node_type)).to_have_attribute("data-status", "completed",
                                                        timeout=RUN_TIMEOUT_MS)
    # The last node's state reaches the page in the same pass that ends the execution, but
    # the two are separate writes: wait for the execution to say so too.
    wait_until(lambda: [run["status"] for run in _executions(page, site)] == ["COMPLETED"],
               RUN_TIMEOUT_MS / 1000, lambda: f"the run did not end: {_executions(page, site)}")


def _open_starter(page: Page, slug: str) -> None:
    """From the empty workflow list, which offers the starter templates: Use this template."""
    page.get_by_test_id(f"starter-{slug}").get_by_test_id("use-starter").click()
    page.wait_for_url(re.compile(r"/workflows/[0-9a-f-]+/edit"))


def _executions(page: Page, site: str) -> Any:
    workflow_id = re.search(r"/workflows/([0-9a-f-]+)/edit", page.url)
    assert workflow_id, page.url
    response = page.request.get(f"{site}/api/v1/workflows/{workflow_id.group(1)}/executions")
    assert response.status == 200, response.text()
    return response.json()["executions"]
