"""The webhook trigger from a web page on another origin, in Chromium: CORS lets `fetch()` POST
JSON with an Idempotency-Key and read the answer; bad signatures are refused; and the workflow's
settings page turns the webhook on and shows its URL."""

import json
import threading
import time
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from accounts.models import User
from executions.models import Execution
from tests.harness import LocalHTTPServer
from wireflow_site.signing import sign
from workflows.models import Workflow
from workflows.services import WorkflowData, workflow_create, workflow_webhook_set

from .editor_page import log_in

pytestmark = pytest.mark.browser
SECRET = "browser-signing-secret-0123"

# The page's script: POST JSON to the trigger and hand back what the page itself could read.
POST_FROM_PAGE = """async ({url, body, headers}) => {
  const response = await fetch(url, {method: "POST", body,
    headers: {"Content-Type": "application/json", ...headers}});
  return {status: response.status, body: await response.json(),
          replayed: response.headers.get("Idempotent-Replayed")};
}"""


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def other_origin(tmp_path: Path) -> Iterator[str]:
    """A static site on another port, so another origin: a customer's form page."""
    (tmp_path / "index.html").write_text(
        "<!doctype html><title>Order form</title><h1>Order form</h1>")
    server = LocalHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(tmp_path)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def site(live_site: str, settings: Any) -> str:
    settings.SITE_URL = live_site  # the URLs the site shows point at the live server
    settings.RATE_LIMITS_ENABLED = False
    return live_site


@pytest.fixture
def workflow(owner: User) -> Workflow:
    prompt = {"id": "prompt", "type": "basedNode", "position": {"x": 0, "y": 0},
              "data": {"label": "Prompt", "nodeType": "input:text", "params": {"text": "a fox"}}}
    result = {"id": "result", "type": "basedNode", "position": {"x": 300, "y": 0},
              "data": {"label": "Result", "nodeType": "output:result", "params": {}}}
    edge = {"id": "e1", "source": "prompt", "target": "result", "sourceHandle": "out-text",
            "targetHandle": "in-value"}
    assert owner.current_team is not None
    return workflow_create(user=owner, team=owner.current_team, data=WorkflowData(
        name="Order pipeline", nodes=[prompt, result], edges=[edge]))


def trigger_url(site: str, workflow: Workflow) -> str:
    return f"{site}/api/v1/workflow/{workflow.webhook_id}/trigger"


def post_from(page: Page, url: str, body: dict[str, Any], **headers: str) -> dict[str, Any]:
    answer: dict[str, Any] = page.evaluate(
        POST_FROM_PAGE, {"url": url, "body": json.dumps(body), "headers": headers})
    return answer


def test_a_page_on_another_origin_posts_json_with_an_idempotency_key(
        site: str, other_origin: str, page: Page, owner: User, workflow: Workflow) -> None:
    workflow = workflow_webhook_set(workflow, user=owner, enabled=True)
    page.goto(f"{other_origin}/index.html")
    url = trigger_url(site, workflow)

    order = {"Prompt": "a red fox", "order": 42}
    first = post_from(page, url, order, **{"Idempotency-Key": "o-42"})
    again = post_from(page, url, order, **{"Idempotency-Key": "o-42"})

    assert first["status"] == 202
    assert first["body"]["status"] == "queued"
    assert first["body"]["message"] == "Workflow execution queued successfully"
    assert (again["status"], again["body"], again["replayed"]) == (202, first["body"], "true")
    execution = Execution.objects.get()
    assert str(execution.pk) == first["body"]["executionId"]
    assert execution.inputs == {"prompt": "a red fox"}
    assert execution.trigger_data == {"Prompt": "a red fox", "order": 42}


def test_the_same_page_cannot_read_the_rest_of_the_api(site: str, other_origin: str,
                                                       page: Page) -> None:
    """The control: without the trigger's CORS headers the browser blocks the answer."""
    page.goto(f"{other_origin}/index.html")
    blocked = page.evaluate("""async (url) => {
      try { await fetch(url); return "read"; } catch (error) { return "blocked"; }
    }""", f"{site}/api/v1/nodes")
    assert blocked == "blocked"


def test_a_signed_webhook_refuses_wrong_and_old_signatures_from_the_page(
        site: str, other_origin: str, page: Page, owner: User, workflow: Workflow) -> None:
    workflow = workflow_webhook_set(workflow, user=owner, enabled=True, secret=SECRET)
    page.goto(f"{other_origin}/index.html")
    url, body = trigger_url(site, workflow), {"Prompt": "a signed fox"}
    raw = json.dumps(body).encode()

    now = int(time.time())
    unsigned = post_from(page, url, body)
    wrong = post_from(page, url, body, **{"X-Wireflow-Signature": sign("guess", raw, now)})
    old = post_from(page, url, body, **{"X-Wireflow-Signature": sign(SECRET, raw, now - 600)})
    good = post_from(page, url, body, **{"X-Wireflow-Signature": sign(SECRET, raw, now)})

    for refused in (unsigned, wrong, old):
        assert (refused["status"], refused["body"]["code"]) == (401, "invalid_signature")
    assert good["status"] == 202
    assert Execution.objects.count() == 1


def test_the_settings_page_enables_the_webhook_and_shows_its_url(
        site: str, page: Page, owner: User, workflow: Workflow) -> None:
    settings_path = f"/workflows/{workflow.pk}/settings/"
    log_in(page, site, owner, next_path=settings_path)
    expect(page.get_by_test_id("webhook-status")).to_have_text("Disabled")

    page.get_by_test_id("enable-webhook").click()

    expect(page.get_by_test_id("webhook-status")).to_have_text("Enabled")
    workflow.refresh_from_db()
    expect(page.get_by_test_id("webhook-url")).to_have_text(trigger_url(site, workflow))
    expect(page.get_by_test_id("webhook-curl")).to_contain_text(trigger_url(site, workflow))

    page.get_by_label("Signing secret", exact=True).fill(SECRET)
    page.get_by_test_id("save-secret").click()
    expect(page.get_by_test_id("secret-status")).to_have_text("A secret is set")
    assert SECRET not in page.content()

    page.get_by_test_id("rotate-webhook").click()
    page.get_by_test_id("confirm-rotate").click()
    old_url = trigger_url(site, workflow)
    expect(page.get_by_test_id("webhook-url")).not_to_have_text(old_url)
    workflow.refresh_from_db()
    expect(page.get_by_test_id("webhook-url")).to_have_text(trigger_url(site, workflow))
