"""Shared fixtures: the three personas, API clients, a live ASGI server and Chromium."""

import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
from django.test import Client
from pytest_django import DjangoDbBlocker, Settings

from accounts.models import Team, User
from accounts.services import api_key_create

from .harness import Worker, flush_broker, quiesce, settle_simulators, start_worker, wait_until

if TYPE_CHECKING:  # Playwright is imported when a browser is started (see _chromium)
    from playwright.sync_api import Browser, Page


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test has a node id of its own. pytest-xdist hands out tests by node id (make
    test's `--dist loadfile`): of tests that share one, one would run and the rest be lost
    without a word. (Schemathesis's tests, one per API operation, all had their function's id
    under pytest 9.2, which `pyproject.toml` therefore leaves out.)"""
    seen: set[str] = set()
    for item in items:
        if item.nodeid in seen:
            raise pytest.UsageError(f"two tests are collected as {item.nodeid}")
        seen.add(item.nodeid)


@pytest.fixture(autouse=True)
def _no_backlog_noted(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts without a backlog measure (engine/backlog.py): one noted by an earlier
    test's workers would make the sweeper wait longer than the test expects."""
    from django.core.cache import cache

    from executions.engine import backlog, nodectx

    cache.delete(backlog.LAG_KEY)
    monkeypatch.setattr(backlog, "_noted", {"value": 0.0, "at": float("-inf")})
    # Nor whether webhooks arrive, as an earlier test's pass read it (the cache's mark is each
    # test's own to set or delete).
    monkeypatch.setattr(nodectx, "_known_at", None)


@pytest.fixture(autouse=True)
def _celery_app_kept() -> Iterator[None]:
    """Wireflow's Celery app stays the current one. A test's own app (one that pings a
    throwaway Redis's workers) made current would take every shared task sent afterwards in
    this process, by any later test, to that Redis: made with `set_as_current=False`."""
    from celery import current_app

    from wireflow_site.celery import app

    yield
    current = current_app._get_current_object()  # type: ignore[attr-defined]  # a proxy
    app.set_current()  # the tests after it are not to fail for it
    assert current is app, f"the test left {current!r} as Celery's current app, not {app!r}"


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """No Celery and no in-process scheduler: the executions the code under test asks to
    advance are recorded, and the test advances them itself (tests/engine/inprocess.py drive)
    or only looks at what was started."""
    calls: list[str] = []
    monkeypatch.setattr("executions.dispatch._send",
                        lambda execution_id, delay: calls.append(execution_id))
    return calls


@pytest.fixture
def make_user(db: None) -> Callable[..., User]:
    counter = iter(range(10_000))

    def make(email: str | None = None, password: str = "correct-horse-battery") -> User:
        user = User.objects.create_user(email=email or f"user{next(counter)}@example.com",
                                        password=password)
        return user

    return make


@pytest.fixture
def owner(make_user: Callable[..., User]) -> User:
    return make_user("owner@example.com")


@pytest.fixture
def team(owner: User) -> Team:
    assert owner.current_team is not None
    return owner.current_team


@pytest.fixture
def member_of(make_user: Callable[..., User], team: Team) -> Callable[..., User]:
    """member_of(role, email=None) -> a new member of the owner's team, working in it."""
    from accounts.models import Membership

    def make(role: str, email: str | None = None) -> User:
        user = make_user(email)
        Membership.objects.create(team=team, user=user, role=role)
        user.current_team = team
        user.save(update_fields=["current_team"])
        return user

    return make


@pytest.fixture
def teammate(member_of: Callable[..., User]) -> User:
    """An editor of the owner's team, working in it."""
    return member_of("editor", "teammate@example.com")


@pytest.fixture
def viewer(member_of: Callable[..., User]) -> User:
    """A member of the owner's team who may only look, working in that team."""
    return member_of("viewer", "viewer@example.com")


@pytest.fixture
def admin(member_of: Callable[..., User]) -> User:
    return member_of("admin", "admin@example.com")


@pytest.fixture
def stranger(make_user: Callable[..., User]) -> User:
    return make_user("stranger@example.com")


class ApiClient:
    """The Django test client with a Bearer key, JSON bodies and the /api/v1 prefix."""

    def __init__(self, secret: str | None) -> None:
        self.client = Client()
        self.secret = secret

    def _headers(self, extra: dict[str, str] | None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.secret}"} if self.secret else {}
        return {**headers, **(extra or {})}

    def request(self, method: str, path: str, body: Any = None,
                headers: dict[str, str] | None = None, raw: bytes | str | None = None) -> Any:
        import json

        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        call = getattr(self.client, method.lower())
        kwargs: dict[str, Any] = {"headers": self._headers(headers)}
        if data is not None:
            kwargs.update(data=data, content_type="application/json")
        return call(f"/api/v1{path}", **kwargs)

    def get(self, path: str, **kw: Any) -> Any:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.request("POST", path, body, **kw)

    def put(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.request("PUT", path, body, **kw)

    def delete(self, path: str, **kw: Any) -> Any:
        return self.request("DELETE", path, **kw)


@pytest.fixture
def api_for(db: None) -> Callable[..., ApiClient]:
    """api_for(user, scopes=None) -> a client authenticated with a new key of the user's team."""

    def make(user: User, scopes: list[str] | None = None) -> ApiClient:
        assert user.current_team is not None
        created = api_key_create(user=user, team=user.current_team, name="test", scopes=scopes)
        return ApiClient(created.secret)

    return make


@pytest.fixture
def api(api_for: Callable[..., ApiClient], owner: User) -> ApiClient:
    return api_for(owner)


# --- A live ASGI server (HTTP and WebSockets) in a thread -----------------------------------

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class LiveServer:
    url: str
    server: Any  # the uvicorn.Server

    def wait_idle(self) -> None:
        """Until no request is being answered: one left over from a test (a closed browser's,
        a provider webhook's) must not write while the test database is being emptied."""
        tasks = self.server.server_state.tasks
        wait_until(lambda: not tasks, 120, lambda: f"{len(tasks)} requests still answered")


@pytest.fixture(scope="session")
def _asgi_server(django_db_setup: None,
                 django_db_blocker: DjangoDbBlocker) -> Iterator[LiveServer]:
    import uvicorn

    from wireflow_site.asgi import application

    port = _free_port()
    config = uvicorn.Config(application, host="127.0.0.1", port=port, log_level="warning",
                            lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    with django_db_blocker.unblock():
        thread.start()
        wait_until(lambda: server.started, 120, "the live ASGI server did not start")
        yield LiveServer(f"http://127.0.0.1:{port}", server)
        server.should_exit = True
        thread.join(timeout=5)


@pytest.fixture
def live_site(_asgi_server: LiveServer, transactional_db: None) -> Iterator[str]:
    """The base URL of the site served by uvicorn, on the test database (data committed)."""
    yield _asgi_server.url
    # Before transactional_db empties the database: the simulators' callbacks, then the
    # requests still being answered.
    settle_simulators()
    _asgi_server.wait_idle()


# --- Chromium through Playwright -------------------------------------------------------------

PAGE_TIMEOUT_MS = 60_000
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def _chromium() -> "Iterator[Browser]":
    # Playwright's sync API runs an event loop on this thread while it is open (so asyncio.run
    # fails in other tests: hence one browser per module, not per session). The test code's
    # ORM calls are still synchronous and ordered, so Django's async guard is relaxed.
    # Only while the browser is open: later tests (and the processes they start, which
    # inherit the environment) keep the guard.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        from playwright.sync_api import expect, sync_playwright

        # Waits bound a hang, not a speed: Chromium on a busy two-core machine is slow, not
        # wrong.
        expect.set_options(timeout=PAGE_TIMEOUT_MS)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                                 headless=True, args=CHROMIUM_ARGS)
            yield browser
            browser.close()


@pytest.fixture
def page(_chromium: "Browser") -> "Iterator[Page]":
    context = _chromium.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    page = context.new_page()
    yield page
    context.close()


# --- The engine harness: Celery workers and the fal simulator ------------------------------

@pytest.fixture
def worker_factory(_asgi_server: LiveServer) -> Iterator[Callable[..., Worker]]:
    """Start workers for one test; they are stopped, and the broker emptied, when it ends."""
    started: list[Worker] = []

    def start(name: str = "w1", **kwargs: Any) -> Worker:
        started.append(start_worker(_asgi_server.url, name, **kwargs))
        return started[-1]

    yield start
    for worker in started:
        worker.stop()
    flush_broker()


@pytest.fixture(scope="module")
def _module_worker(_asgi_server: LiveServer) -> Iterator[Worker]:
    flush_broker()
    worker = start_worker(_asgi_server.url, "module")
    yield worker
    worker.stop()
    flush_broker()


@pytest.fixture
def sim_site(live_site: str, settings: Settings) -> str:
    """The live site with the simulators as every provider, and a clean fal simulator."""
    settings.SITE_URL = live_site
    settings.FAL_QUEUE_URL = f"{live_site}/_sim/fal"
    settings.REPLICATE_API_URL = f"{live_site}/_sim/replicate"
    settings.OPENAI_BASE_URL = f"{live_site}/_sim/openai/v1"
    settings.ANTHROPIC_BASE_URL = f"{live_site}/_sim/anthropic"
    settings.STABILITY_API_URL = f"{live_site}/_sim/stability"
    from executions.simulators.state import reset_simulator

    reset_simulator()
    return live_site


@pytest.fixture
def engine(sim_site: str, _module_worker: Worker, _asgi_server: LiveServer) -> Iterator[str]:
    """The live site with the simulator as fal, and a worker running executions. Afterwards,
    executions still running are cancelled and waited for, so that the worker is not writing
    while the test database is emptied. Requests still being answered go first: one sent by
    a browser just before it closed may start an execution after the engine looked."""
    yield sim_site
    _asgi_server.wait_idle()
    quiesce()
