"""The LLM and speech nodes in the editor, in Chromium, with the engine running for real (a
Celery worker, the simulators as providers): an LLM node's text grows on the canvas while it
runs, and the content pipeline's voiceover plays in the node's audio preview."""

import json

import pytest
from playwright.sync_api import Page, expect

from accounts.models import User
from workflows.models import Workflow
from workflows.services import starter_templates

from .editor_page import graph_edge, graph_node, log_in, node

pytestmark = pytest.mark.browser

RUN_TIMEOUT_MS = 60_000


def run_from_dialog(page: Page) -> None:
    page.get_by_test_id("run-button").click()
    page.get_by_test_id("run-dialog-submit").click()


def test_an_llm_nodes_text_grows_on_the_canvas_before_it_completes(engine: str, page: Page,
                                                                   owner: User) -> None:
    n, e = graph_node, graph_edge
    nodes = [n("prompt", "input:text", "Prompt", 0,
               text="Tell the story of a lighthouse keeper and a storm [sim latency=6s]"),
             n("llm", "llm:chat", "Storyteller", 360, max_tokens=300)]
    assert owner.current_team is not None
    workflow = Workflow.objects.create(team=owner.current_team, created_by=owner, name="Story",
                                       nodes=nodes, edges=[e("prompt", "text", "llm", "prompt")])
    log_in(page, engine, owner, next_path=f"/workflows/{workflow.pk}/edit")
    run_from_dialog(page)

    llm = node(page, "llm:chat")
    streamed = llm.get_by_test_id("node-stream-text")
    expect(streamed).to_be_visible(timeout=RUN_TIMEOUT_MS)
    first = streamed.inner_text()
    # Later, still running, it says more than it did.
    page.wait_for_function(
        """([first]) => {
             const node = document.querySelector('[data-node-type="llm:chat"]');
             const text = node && node.querySelector('[data-testid="node-stream-text"]');
             return node && node.dataset.status === "running" && text
               && text.innerText.length > first.length;
           }""", arg=[first], timeout=RUN_TIMEOUT_MS)
    expect(llm).to_have_attribute("data-status", "completed", timeout=RUN_TIMEOUT_MS)
    expect(streamed).to_have_count(0)  # the streamed text gives way to the output
    final = llm.get_by_test_id("node-preview-text").inner_text()
    assert final.rstrip("…").startswith(first.lstrip("…")[:20])


def test_the_content_pipelines_voiceover_plays_in_the_editor(engine: str, page: Page,
                                                             owner: User) -> None:
    template = starter_templates()["content-pipeline"]
    assert owner.current_team is not None
    workflow = Workflow.objects.create(
        team=owner.current_team, created_by=owner, name=template["name"],
        nodes=json.loads(json.dumps(template["nodes"])), edges=template["edges"])
    log_in(page, engine, owner, next_path=f"/workflows/{workflow.pk}/edit")
    run_from_dialog(page)

    expect(page.get_by_test_id("run-status")).to_have_text("COMPLETED", timeout=RUN_TIMEOUT_MS)
    player = node(page, "audio:tts").get_by_test_id("node-preview-audio")
    expect(player).to_be_visible()
    # It loads, knows its length, and plays (muted: no user gesture needed) past its start.
    played = player.evaluate("""async (audio) => {
        audio.muted = true;
        if (audio.readyState < 1) {
          await new Promise((ok, fail) => {
            audio.addEventListener("loadedmetadata", ok, { once: true });
            audio.addEventListener("error", () => fail(new Error("cannot load the audio")),
                                   { once: true });
            audio.load();
          });
        }
        await audio.play();
        await new Promise((ok) => {
          const done = () => audio.currentTime > 0.2 ? ok() : requestAnimationFrame(done);
          done();
        });
        audio.pause();
        return { duration: audio.duration, at: audio.currentTime, error: audio.error };
    }""")
    assert played["error"] is None and played["duration"] > 1 and played["at"] > 0.2
    for node_type in ("llm:chat", "generate:flux_2"):
        expect(node(page, node_type)).to_have_attribute("data-status", "completed")
    expect(node(page, "generate:flux_2").get_by_test_id("node-preview-image")).to_be_visible()
