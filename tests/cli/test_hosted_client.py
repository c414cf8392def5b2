"""The hosted API's command-line client against `make dev`: every verb it documents, driven the
way it drives them (tests/cli/hosted_client.py), against the embedded default run exactly as
`make dev` runs it — uvicorn on a fresh SQLite database with the in-process executor, the
in-memory channel layer and the provider simulators, seeded with the demo account — and only
the base URL changed. An API key comes from `manage.py createapikey`, as the README says."""

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from tests.builders import edge, node
from tests.harness import wait_until

from .hosted_client import HostedClient, Outcome

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
# What the test run sets that `make dev` does not: without them the settings are the embedded
# default (settings.py), with var/dev.env's DEBUG=1 and SITE_URL given explicitly below.
UNSET = {"SECRET_KEY", "DEBUG", "DATABASE_URL", "REDIS_URL", "SITE_URL", "WIREFLOW_ENV_FILE",
         "DJANGO_SETTINGS_MODULE", "WIREFLOW_SIMULATORS", "CELERY_BROKER_URL",
         "DJANGO_ALLOW_ASYNC_UNSAFE"}
DEMO = "demo@wireflow.local"


@dataclass(frozen=True)
class DevSite:
    url: str
    key: str

    @property
    def api(self) -> str:
        return f"{self.url}/api/v1"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def dev_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevSite]:
    var = tmp_path_factory.mktemp("make-dev")
    port = _free_port()
    env = {**{k: v for k, v in os.environ.items() if k not in UNSET},
           "WIREFLOW_ENV_FILE": "", "WIREFLOW_VAR_DIR": str(var), "DEBUG": "1",
           "SITE_URL": f"http://127.0.0.1:{port}", "WIREFLOW_SIM_LATENCY": "0.05"}

    def manage(*args: str) -> str:
        done = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=300, check=False)
        assert done.returncode == 0, f"manage.py {' '.join(args)}:\n{done.stdout}{done.stderr}"
        return done.stdout

    manage("migrate", "--noinput")
    manage("seed")
    # The README's next steps: a plan whose request limit suits a script, and a key.
    manage("setplan", DEMO, "enterprise")
    key = manage("createapikey", "--email", DEMO).strip().splitlines()[-1]
    log = (var / "uvicorn.log").open("w")
    server = subprocess.Popen(
        [str(BIN / "uvicorn"), "wireflow_site.asgi:application", "--host", "127.0.0.1",
         "--port", str(port)], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True)
    site = DevSite(f"http://127.0.0.1:{port}", key)

    def answering() -> bool:
        if server.poll() is not None:
            raise RuntimeError((var / "uvicorn.log").read_text())
        try:
            return httpx.get(f"{site.url}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(answering, 120, "make dev's server never answered")
        yield site
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        log.close()


@pytest.fixture
def wf(dev_site: DevSite) -> Iterator[HostedClient]:
    client = HostedClient(dev_site.api, dev_site.key, backoff=lambda tries: 1.0)
    yield client
    client.close()


def picture_workflow(name: str = "Fox picture") -> dict[str, Any]:
    """Prompt → Flux → Upscale → output: two paid model calls, so cached and fresh runs
    differ in what they charge."""
    return {"name": name, "description": "A picture from a sentence",
            "nodes": [node("prompt", "input:text", "Prompt", 0, text="a red fox"),
                      node("flux", "generate:flux_2", "Flux", 300, image_size="square"),
                      node("up", "upscale:crystal_upscaler", "Upscale", 600),
                      node("out", "output:result", "Result", 900)],
            "edges": [edge("prompt", "text", "flux", "prompt"),
                      edge("flux", "image", "up", "image_url"),
                      edge("up", "image", "out", "value")]}


def created(wf: HostedClient, workflow: dict[str, Any]) -> dict[str, Any]:
    outcome = wf.create(workflow)
    assert outcome.status == 0, outcome
    body = outcome.json()
    assert body["id"], body
    return dict(body)


def execution_of(outcome: Outcome) -> str:
    assert outcome.status == 0, outcome
    body = outcome.json()
    runs = body.get("executionRuns") or []
    return str(body.get("executionId") or runs[0]["id"])


def details(dev_site: DevSite, execution_id: str) -> dict[str, Any]:
    answer = httpx.get(f"{dev_site.api}/workflows/executions/{execution_id}",
                       headers={"Authorization": f"Bearer {dev_site.key}"}, timeout=30)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def credits_by_node(dev_site: DevSite, execution_id: str) -> dict[str, int]:
    return {s["nodeId"]: s["credits"] for s in details(dev_site, execution_id)["nodeStates"]}


# --- reading ---------------------------------------------------------------------------------

def test_nodes_list_get_inputs_credits_and_estimate_read_what_the_client_reads(
        wf: HostedClient) -> None:
    catalogue = wf.nodes().json()["nodes"]
    assert {"generate:flux_2", "input:text", "llm:chat"} <= {n["nodeType"] for n in catalogue}
    workflow = created(wf, picture_workflow("Readable"))

    assert workflow["id"] in {w["id"] for w in wf.list().json()}
    assert wf.get(workflow["id"]).json()["updatedAt"]
    inputs = wf.inputs(workflow["id"]).json()["inputs"]
    assert [(i["nodeId"], i["label"]) for i in inputs] == [("prompt", "Prompt")]
    usage = wf.credits().json()
    assert usage["plan"] == "enterprise" and usage["creditBalance"] > 0
    assert wf.estimate(workflow["id"]).json()["estimatedCredits"] > 0


# --- writing ---------------------------------------------------------------------------------

def test_check_gates_a_broken_graph_and_passes_a_sound_one(wf: HostedClient) -> None:
    assert wf.check(picture_workflow()).status == 0

    broken = picture_workflow()
    broken["edges"].append(edge("prompt", "text", "nowhere", "value"))
    outcome = wf.check(broken)
    assert outcome.status == 1
    assert any("dangling_edge" in line for line in outcome.err), outcome
    assert wf.create(broken).status == 1  # create is gated on the same lint


def test_update_sends_the_current_updated_at_and_lands(wf: HostedClient) -> None:
    workflow = created(wf, picture_workflow("Before"))
    changed = picture_workflow("After")
    changed["nodes"][0]["data"]["params"]["text"] = "a grey wolf"

    outcome = wf.update(workflow["id"], changed)

    assert outcome.status == 0, outcome
    saved = wf.get(workflow["id"]).json()
    assert saved["name"] == "After"
    assert saved["nodes"][0]["data"]["params"]["text"] == "a grey wolf"


def test_patch_node_changes_one_node_and_reports_it(wf: HostedClient, dev_site: DevSite) -> None:
    workflow = created(wf, picture_workflow())

    outcome = wf.patch_node(workflow["id"], "flux",
                            '{"config": {"prompt": "a snowy owl", "seed": 7}, "label": "Owl"}')

    assert outcome.status == 0, outcome
    assert outcome.line("patched node:") == "flux"
    assert outcome.line("label:") == "Owl"
    assert outcome.line("updatedAt:") != workflow["updatedAt"]
    node = next(n for n in wf.get(workflow["id"]).json()["nodes"] if n["id"] == "flux")
    assert node["data"]["label"] == "Owl"
    assert node["data"]["params"]["seed"] == 7
    assert node["data"]["params"]["image_size"] == "square"  # merged, not replaced

    # A key set to null is deleted.
    assert wf.patch_node(workflow["id"], "flux", '{"params": {"seed": null}}').status == 0
    node = next(n for n in wf.get(workflow["id"]).json()["nodes"] if n["id"] == "flux")
    assert "seed" not in node["data"]["params"]


def test_patch_node_refuses_what_the_client_reports_as_failures(wf: HostedClient) -> None:
    workflow = created(wf, picture_workflow())

    structural = wf.patch_node(workflow["id"], "flux", '{"nodeType": "generate:imagen4"}')
    assert structural.status == 1 and "invalid_field" in " ".join(structural.err)
    missing = wf.patch_node(workflow["id"], "ghost", '{"label": "Boo"}')
    assert missing.status == 1 and "Node not found" in " ".join(missing.err)
    stale = wf.patch_node(workflow["id"], "flux", '{"label": "Late", '
                                                  '"baseUpdatedAt": "2020-01-01T00:00:00.000Z"}')
    assert stale.status == 1
    assert any(line.startswith("currentUpdatedAt: ") for line in stale.err), stale
    assert "yourBaseUpdatedAt: 2020-01-01T00:00:00.000Z" in stale.err
    assert wf.patch_node(workflow["id"], "flux", "{not json").status == 2
    # None of them changed the workflow.
    assert wf.get(workflow["id"]).json()["updatedAt"] == workflow["updatedAt"]


def test_duplicate_prints_the_new_id_and_url(wf: HostedClient) -> None:
    workflow = created(wf, picture_workflow("Original"))

    named = wf.duplicate(workflow["id"], "My copy")
    unnamed = wf.duplicate(workflow["id"])

    assert named.status == 0 and unnamed.status == 0, (named, unnamed)
    assert wf.get(named.line("id:")).json()["name"] == "My copy"
    assert wf.get(unnamed.line("id:")).json()["name"].startswith("Original")
    assert named.line("url:").endswith(f"/workflows/{named.line('id:')}/edit")


def test_delete_removes_the_workflow(wf: HostedClient) -> None:
    workflow = created(wf, picture_workflow("Throwaway"))
    wf.delete(workflow["id"])
    assert "Workflow not found" in wf.get(workflow["id"]).out[0]


# --- running ---------------------------------------------------------------------------------

def test_run_then_wait_prints_every_node_and_the_output(wf: HostedClient) -> None:
    workflow = created(wf, picture_workflow())

    execution_id = execution_of(wf.run(workflow["id"], {"inputs": {"Prompt": "a blue jay"}}))
    waited = wf.wait(execution_id)

    assert waited.status == 0, waited
    assert waited.out[-2].startswith("[COMPLETED]") or any(
        line.startswith("[COMPLETED]") for line in waited.out)
    assert any(line.startswith("  → Upscale: http") for line in waited.out), waited.out
    assert wf.poll(execution_id).json()["status"] == "COMPLETED"


def test_wait_reports_a_failed_node_with_its_error(wf: HostedClient) -> None:
    failing = picture_workflow()
    failing["nodes"][0]["data"]["params"]["text"] = "no good [sim fail=job]"
    workflow = created(wf, failing)

    waited = wf.wait(execution_of(wf.run(workflow["id"], {})))

    assert waited.status == 1
    assert any(line.startswith("  ✗ Flux: ") for line in waited.err), waited.err


def test_run_node_reuses_upstream_results_and_run_force_reuses_none(wf: HostedClient,
                                                                    dev_site: DevSite) -> None:
    workflow = created(wf, picture_workflow())
    first = execution_of(wf.run(workflow["id"], {}))
    assert wf.wait(first).status == 0
    paid = credits_by_node(dev_site, first)
    assert paid["flux"] > 0 and paid["up"] > 0

    again = execution_of(wf.run_node(workflow["id"], "up"))
    assert wf.wait(again).status == 0
    reused = credits_by_node(dev_site, again)
    assert reused["flux"] == 0 and reused["up"] == paid["up"]  # the target ran afresh

    forced = execution_of(wf.run_force(workflow["id"]))
    assert wf.wait(forced).status == 0
    assert credits_by_node(dev_site, forced) == paid


# --- sharing, media, generating ----------------------------------------------------------------

def test_publish_shows_the_page_to_anyone_and_unpublish_hides_it(wf: HostedClient) -> None:
    workflow = created(wf, picture_workflow("Shown around"))

    published = wf.publish(workflow["id"])

    assert published.status == 0, published
    assert published.line("linkPermission:") == "view"
    page = httpx.get(published.line("url:"), timeout=30)  # no key, no session
    assert page.status_code == 200 and "Shown around" in page.text

    hidden = wf.unpublish(workflow["id"])
    assert hidden.line("linkPermission:") == "private"
    assert httpx.get(published.line("url:"), timeout=30).status_code == 404


def _png(tmp_path: Path) -> Path:
    buffer = BytesIO()
    Image.new("RGB", (8, 8), (200, 40, 40)).save(buffer, format="PNG")
    path = tmp_path / "logo.png"
    path.write_bytes(buffer.getvalue())
    return path


def test_upload_a_file_or_a_url_and_list_the_media(wf: HostedClient, tmp_path: Path) -> None:
    uploaded = wf.upload(_png(tmp_path))
    assert uploaded.status == 0, uploaded
    url = uploaded.out[0]
    assert httpx.get(url, timeout=30).content.startswith(b"\x89PNG")

    rehosted = wf.upload(url)
    assert rehosted.status == 0, rehosted
    assert rehosted.out[0] != url

    listed = wf.media().json()["data"]
    assert [item["url"] for item in listed[:2]] == [rehosted.out[0], url]  # newest first
    assert listed[0]["contentType"] == "image/png"

    text = tmp_path / "notes.txt"
    text.write_text("not media")
    assert wf.upload(text).status == 1
    assert wf.upload(tmp_path / "missing.png").status == 2


def _events(lines: list[str]) -> list[tuple[str, str]]:
    """(event, data) pairs of a Server-Sent Events stream."""
    events: list[tuple[str, str]] = []
    data: list[str] = []
    name = "message"
    for line in [*lines, ""]:
        if not line:
            if data:
                events.append((name, "\n".join(data)))
            name, data = "message", []
        elif line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())
    return events


def test_generate_streams_a_workflow_the_client_can_create(wf: HostedClient) -> None:
    import json

    outcome = wf.generate("an image of a fox, upscaled, then turned into a video")

    events = _events(outcome.out)
    names = [name for name, _ in events]
    assert names[0] == "progress" and names[-2:] == ["workflow", "done"], names
    graph = json.loads(dict(events)["workflow"])
    kinds = {n["data"]["nodeType"] for n in graph["nodes"]}
    assert "generate:flux_2" in kinds and "upscale:crystal_upscaler" in kinds, kinds
    assert any(kind.startswith("video:") for kind in kinds), kinds
    assert wf.check(graph).status == 0
    assert created(wf, {"name": "Generated", **graph})["id"]
