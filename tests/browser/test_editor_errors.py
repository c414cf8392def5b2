"""No failure in the editor is silent: a refused save or run shows the server's message in a
toast, and where an input or a node is at fault, on it. Each refusal here is a real one from
the server (nothing is mocked), so no worker is needed: nothing starts."""

from typing import Any

import pytest
from playwright.sync_api import Page, expect
from pytest_django import Settings

from accounts.credits import credit_balance, credits_adjust
from accounts.models import User
from accounts.plans import limits_for
from wireflow_site import ratelimit
from workflows.models import Workflow

from .editor_page import graph_edge, graph_node, log_in, node

pytestmark = pytest.mark.browser


@pytest.fixture
def pipeline(owner: User) -> Workflow:
    n, e = graph_node, graph_edge
    nodes = [n("prompt", "input:text", "Prompt", 0, text="a red fox"),
             n("gen", "generate:nano_banana_pro", "Generate", 320),
             n("up", "upscale:crystal_upscaler", "Upscale", 640)]
    edges = [e("prompt", "text", "gen", "prompt"), e("gen", "image", "up", "image_url")]
    assert owner.current_team is not None
    return Workflow.objects.create(team=owner.current_team, created_by=owner, name="Refused",
                                   nodes=nodes, edges=edges)


def open_run_dialog(page: Page, site: str, owner: User, workflow: Workflow) -> Any:
    log_in(page, site, owner, next_path=f"/workflows/{workflow.pk}/edit")
    page.get_by_test_id("run-button").click()
    dialog = page.get_by_test_id("run-dialog")
    expect(dialog).to_be_visible()
    return dialog


def error_toast(page: Page) -> Any:
    return page.locator('[data-testid="toast"][role="alert"]')


def test_a_400_names_the_input_in_the_dialog_a_toast_and_on_the_node(live_site: str, page: Page,
                                                                     owner: User,
                                                                     pipeline: Workflow) -> None:
    dialog = open_run_dialog(page, live_site, owner, pipeline)
    dialog.get_by_role("textbox").fill("x" * 100_001)  # over the text input's limit
    page.get_by_test_id("run-dialog-submit").click()
    message = "Invalid value for input 'Prompt' (prompt)"
    expect(error_toast(page)).to_contain_text(f"Cannot run: {message}")
    expect(dialog).to_be_visible()  # kept open, the field at fault marked
    expect(page.get_by_test_id("run-input-prompt").get_by_role("alert")).to_contain_text(message)
    expect(node(page, "input:text").get_by_test_id("node-issues")).to_contain_text(message)
    assert not pipeline.executions.exists()


def test_a_402_shows_the_shortfall_and_what_each_node_costs(live_site: str, page: Page, owner: User,
                                                            pipeline: Workflow) -> None:
    team = owner.current_team
    assert team is not None
    credits_adjust(team, 3 - credit_balance(team.pk))
    open_run_dialog(page, live_site, owner, pipeline)
    page.get_by_test_id("run-dialog-submit").click()
    expect(error_toast(page)).to_contain_text(
        "Cannot run: Insufficient credits. Required: 40, Available: 3 — Generate 20, Upscale 20")
    expect(page.get_by_test_id("run-dialog-error")).to_contain_text("Generate 20, Upscale 20")
    assert credit_balance(team.pk) == 3


def test_a_422_on_save_marks_the_node_at_fault(live_site: str, page: Page, owner: User,
                                               pipeline: Workflow) -> None:
    log_in(page, live_site, owner, next_path=f"/workflows/{pipeline.pk}/edit")
    node(page, "input:text").locator(".wf-node__head").click()
    page.keyboard.press("Delete")  # the prompt goes: Generate has none now
    expect(page.locator(".react-flow__edge")).to_have_count(1)
    page.get_by_role("button", name="Save", exact=True).click()
    expect(error_toast(page)).to_contain_text("Not saved: Node 'Generate' (gen)")
    expect(node(page, "generate:nano_banana_pro").get_by_test_id("node-issues")
           ).to_contain_text("prompt")
    pipeline.refresh_from_db()
    assert len(pipeline.nodes) == 3


def test_a_429_says_how_long_to_wait(live_site: str, page: Page, owner: User, pipeline: Workflow,
                                     settings: Settings) -> None:
    settings.RATE_LIMITS_ENABLED = True
    team = owner.current_team
    assert team is not None
    per_minute = limits_for(team.plan).executions_per_minute
    for _ in range(per_minute):  # the team's executions this minute, through the real limiter
        assert ratelimit.limiter().hit(ratelimit.bucket_key(team.pk, ratelimit.EXECUTIONS),
                                       per_minute, ratelimit.MINUTE).allowed
    open_run_dialog(page, live_site, owner, pipeline)
    page.get_by_test_id("run-dialog-submit").click()
    expect(error_toast(page)).to_contain_text("Cannot run: Rate limit exceeded. Try again in")
    expect(page.get_by_test_id("run-dialog-error")).to_contain_text("seconds")
    assert not pipeline.executions.exists()
