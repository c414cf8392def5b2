"""The hosted API's command-line client, verb by verb, as its documentation describes it.

The vendor's client (`wf.sh`, a shell script over curl and jq, configured by WIREFLOW_API_KEY and
WIREFLOW_BASE_URL) must work against a self-hosted Wireflow by changing only its base URL. This
module does what each of its verbs is documented to do, in Python: the same requests (method,
path, body, headers, following redirects) and the same fields read from the answers, with the
same rules for what counts as success. A verb returns what the script would have left behind:
its exit status and what it printed. Where the script accepts two shapes (`.data.x // .x`), so
does this; where it reads only one (`.data.id` after duplicate), so does this, which is what
makes the difference between "answers 201" and "works with the client".
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

MIME_BY_SUFFIX = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png",
                  ".gif": "image/gif", ".webp": "image/webp", ".mp4": "video/mp4",
                  ".webm": "video/webm", ".mp3": "audio/mpeg", ".wav": "audio/wav"}


@dataclass
class Outcome:
    """What a verb leaves behind: its exit status, and what it printed."""

    status: int
    out: list[str] = field(default_factory=list)
    err: list[str] = field(default_factory=list)

    def line(self, prefix: str) -> str:
        """The value of the printed line `prefix value` (the client's `id:  X` style)."""
        for text in self.out:
            if text.startswith(prefix):
                return text[len(prefix):].strip()
        raise AssertionError(f"no line starting {prefix!r} in {self.out}")

    def json(self) -> Any:
        return json.loads("\n".join(self.out))


def _first(body: Any, *paths: str) -> Any:
    """jq's `.a.b // .c`: the first path present and neither null nor false."""
    for path in paths:
        value = body
        for part in path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if value not in (None, False):
            return value
    return None


def _parse(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


class HostedClient:
    def __init__(self, base_url: str, api_key: str, *, backoff: Callable[[int], float] | None
                 = None, max_retries: int = 4) -> None:
        self.base = base_url.rstrip("/")
        self.http = httpx.Client(headers={"Authorization": f"Bearer {api_key}"},
                                 follow_redirects=True, timeout=60)
        # The script waits (tries + 1) * 15 s after a 429 on a write; a test may wait less.
        self.backoff = backoff or (lambda tries: (tries + 1) * 15.0)
        self.max_retries = max_retries

    def close(self) -> None:
        self.http.close()

    # --- transport --------------------------------------------------------------------------

    def _send(self, method: str, path: str, body: Any = None, **kwargs: Any) -> httpx.Response:
        if body is not None:
            kwargs["content"] = body if isinstance(body, bytes | str) else json.dumps(body)
            kwargs.setdefault("headers", {})["Content-Type"] = "application/json"
        return self.http.request(method, f"{self.base}{path}", **kwargs)

    def _write(self, method: str, path: str, body: Any = None) -> httpx.Response:
        """The script's status-aware write: a 429 is retried after a linear back-off."""
        tries = 0
        while True:
            response = self._send(method, path, body)
            if response.status_code != 429 or tries >= self.max_retries:
                return response
            time.sleep(self.backoff(tries))
            tries += 1

    @staticmethod
    def _printed(response: httpx.Response, status: int = 0) -> Outcome:
        return Outcome(status, out=[response.text])

    def _updated_at(self, workflow_id: str) -> str:
        body = _parse(self._send("GET", f"/workflows/{workflow_id}")) or {}
        return str(((body.get("data") or body) or {}).get("updatedAt") or "")

    # --- the verbs -----------------------------------------------------------------------------

    def nodes(self) -> Outcome:
        return self._printed(self._send("GET", "/nodes"))

    def lint(self, graph: dict[str, Any]) -> tuple[int, bool, list[str]]:
        """The script's lint gate: (status, unverified, findings). 0 clean, 1 violations."""
        response = self._write("POST", "/workflows/lint", graph)
        if response.status_code != 200:
            return 0, True, [f"server-side lint returned HTTP {response.status_code}"]
        body = _parse(response) or {}
        data = body.get("data")
        if isinstance(data, dict) and "ok" in data:
            ok = data["ok"]
        elif "ok" in body:
            ok = body["ok"]
        else:
            return 0, True, ["unrecognized lint response"]
        found = [f"✗ {v.get('rule', 'error')}: {v.get('message', '')}"
                 for v in _first(body, "data.violations", "violations") or []]
        found += [f"⚠ {w.get('rule', 'warning')}: {w.get('message', '')}"
                  for w in _first(body, "data.warnings", "warnings") or []]
        return (0 if ok is True else 1), False, found

    def check(self, graph: dict[str, Any]) -> Outcome:
        status, unverified, found = self.lint(graph)
        if status == 0 and unverified:
            return Outcome(2, err=found + ["check could NOT verify the graph"])
        return Outcome(status, err=found)

    def create(self, workflow: dict[str, Any]) -> Outcome:
        status, _, found = self.lint(workflow)
        if status:
            return Outcome(1, err=[*found, "create blocked"])
        return self._printed(self._send("POST", "/workflows", workflow))

    def update(self, workflow_id: str, workflow: dict[str, Any]) -> Outcome:
        status, _, found = self.lint(workflow)
        if status:
            return Outcome(1, err=[*found, "update blocked"])
        body = dict(workflow)
        base = self._updated_at(workflow_id)
        if base:
            body["baseUpdatedAt"] = base
        response = self._write("PUT", f"/workflows/{workflow_id}", body)
        if response.status_code == 409:
            return Outcome(2, out=[response.text], err=["CONFLICT (409)"])
        return Outcome(0 if response.is_success else 1, out=[response.text])

    def patch_node(self, workflow_id: str, node_id: str, patch: str) -> Outcome:
        try:
            body = json.loads(patch)
        except ValueError:
            return Outcome(2, err=["patch-node: missing or invalid JSON body"])
        if isinstance(body, dict) and "baseUpdatedAt" not in body:
            base = self._updated_at(workflow_id)
            if base:
                body = {**body, "baseUpdatedAt": base}
        response = self._write("PATCH", f"/workflows/{workflow_id}/nodes/{node_id}", body)
        answer = _parse(response)
        if response.is_success:
            patched = _first(answer, "data.node.id")
            if not patched:
                return Outcome(1, err=["patch-node returned no node", response.text])
            out = [f"patched node: {patched}"]
            label = _first(answer, "data.node.data.label", "data.node.label")
            updated = _first(answer, "data.updatedAt")
            out += [f"label:        {label}"] if label else []
            out += [f"updatedAt:    {updated}"] if updated else []
            return Outcome(0, out=out)
        if response.status_code == 409:
            err = ["CONFLICT (409)"]
            for name in ("currentUpdatedAt", "yourBaseUpdatedAt"):
                if _first(answer, name):
                    err.append(f"{name}: {answer[name]}")
            return Outcome(1, err=err)
        return Outcome(1, err=[f"patch-node failed (HTTP {response.status_code})", response.text])

    def run(self, workflow_id: str, inputs: dict[str, Any]) -> Outcome:
        return self._printed(self._send("POST", f"/workflows/{workflow_id}/run", inputs))

    def _execute_saved(self, workflow_id: str, extra: dict[str, Any]) -> httpx.Response:
        saved = _parse(self._send("GET", f"/workflows/{workflow_id}")) or {}
        body = {"nodes": saved.get("nodes", []), "edges": saved.get("edges", []), **extra}
        return self._write("POST", f"/workflows/{workflow_id}/execute", body)

    def run_node(self, workflow_id: str, node_id: str) -> Outcome:
        response = self._execute_saved(workflow_id, {"targetNodeId": node_id})
        if not response.is_success:
            return Outcome(1, out=[response.text], err=["run-node FAILED"])
        answer = _parse(response)
        if not isinstance(answer, dict):
            return Outcome(1, out=[response.text], err=["run-node: non-JSON response"])
        runs = answer.get("executionRuns") or []
        if not (runs and runs[0].get("id")) and not answer.get("executionId"):
            return Outcome(1, out=[response.text], err=["run-node: no executionId"])
        return Outcome(0, out=[response.text])

    def run_force(self, workflow_id: str) -> Outcome:
        response = self._execute_saved(workflow_id, {"force": True})
        return Outcome(0 if response.is_success else 1, out=[response.text])

    def poll(self, execution_id: str) -> Outcome:
        return self._printed(self._send("GET", f"/workflows/executions/{execution_id}/poll"))

    def wait(self, execution_id: str, interval: float = 0.2, max_ticks: int = 600) -> Outcome:
        outcome = Outcome(1)
        for _ in range(max_ticks):
            response = self._send("GET", f"/workflows/executions/{execution_id}/poll")
            if response.status_code == 429:
                time.sleep(self.backoff(1))
                continue
            if response.status_code != 200:
                outcome.err.append(f"poll HTTP {response.status_code}: {response.text}")
                return outcome
            body = _parse(response) or {}
            status = str(_first(body, "status", "data.status") or "UNKNOWN").upper()
            states = _first(body, "nodeStates", "data.nodeStates") or []
            outcome.out.append(f"[{status}] " + "  ".join(
                f"{s.get('label') or s.get('nodeId')}:{s.get('status')}" for s in states))
            if status == "COMPLETED":
                outcome.status = 0
                for state in states:
                    name = state.get("label") or state.get("nodeId")
                    urls = state.get("outputUrls") or ([state["outputUrl"]]
                                                       if state.get("outputUrl") else [])
                    outcome.out += [f"  → {name}: {url}" for url in urls]
                    if state.get("text"):
                        outcome.out.append(f"  ✎ {name}: {' '.join(state['text'].split())[:140]}")
                return outcome
            if status == "FAILED":
                outcome.err += [f"  ✗ {s.get('label') or s.get('nodeId')}: "
                                f"{s.get('error') or 'no error detail'}"
                                for s in states if s.get("status") == "FAILED"]
                if _first(body, "error", "data.error"):
                    outcome.err.append(str(_first(body, "error", "data.error")))
                return outcome
            time.sleep(interval)
        outcome.err.append("timed out")
        return outcome

    def list(self) -> Outcome:
        return self._printed(self._send("GET", "/workflows"))

    def get(self, workflow_id: str) -> Outcome:
        return self._printed(self._send("GET", f"/workflows/{workflow_id}"))

    def delete(self, workflow_id: str) -> Outcome:
        return self._printed(self._send("DELETE", f"/workflows/{workflow_id}"))

    def duplicate(self, workflow_id: str, name: str | None = None) -> Outcome:
        body = {"name": name} if name else {}
        response = self._write("POST", f"/workflows/{workflow_id}/duplicate", body)
        if not response.is_success:
            return Outcome(1, err=[f"duplicate failed (HTTP {response.status_code})",
                                   response.text])
        answer = _parse(response)
        new_id, url = _first(answer, "data.id"), _first(answer, "data.url")
        if not new_id:
            return Outcome(1, err=["duplicate returned no workflow id", response.text])
        return Outcome(0, out=[f"id:  {new_id}", *([f"url: {url}"] if url else [])])

    def publish(self, workflow_id: str, public: bool = True) -> Outcome:
        visibility = "view" if public else "private"
        response = self._write("POST", f"/workflows/{workflow_id}/visibility",
                               {"visibility": visibility})
        if response.status_code == 404:
            return Outcome(1, err=["workflow not found, not yours, or no /visibility endpoint"])
        if not response.is_success:
            return Outcome(1, err=[f"failed (HTTP {response.status_code})", response.text])
        answer = _parse(response)
        permission = _first(answer, "linkPermission", "data.linkPermission")
        url = _first(answer, "url", "data.url")
        if not permission:
            return Outcome(1, err=["no linkPermission in the response", response.text])
        return Outcome(0, out=[f"linkPermission: {permission}", *([f"url: {url}"] if url
                                                                    else [])])

    def unpublish(self, workflow_id: str) -> Outcome:
        return self.publish(workflow_id, public=False)

    def inputs(self, workflow_id: str) -> Outcome:
        return self._printed(self._send("GET", f"/workflows/{workflow_id}/run"))

    def upload(self, source: str | Path) -> Outcome:
        if isinstance(source, str) and source.startswith(("http://", "https://")):
            response = self._send("POST", "/media/upload", {"url": source})
        else:
            path = Path(source)
            if not path.is_file():
                return Outcome(2, err=[f"file not found: {path}"])
            mime = MIME_BY_SUFFIX.get(path.suffix.lower(), "application/octet-stream")
            with path.open("rb") as handle:
                response = self.http.post(f"{self.base}/media/upload",
                                          files={"file": (path.name, handle, mime)})
        url = _first(_parse(response), "data.url")
        if not isinstance(url, str):
            return Outcome(1, err=[response.text])
        return Outcome(0, out=[url])

    def media(self) -> Outcome:
        return self._printed(self._send("GET", "/media"))

    def generate(self, prompt: str) -> Outcome:
        """curl -N: the event stream printed as it arrives, whatever the status."""
        lines: list[str] = []
        with self.http.stream("POST", f"{self.base}/workflows/generate/stream",
                              content=json.dumps({"prompt": prompt}),
                              headers={"Content-Type": "application/json"}) as response:
            for line in response.iter_lines():
                lines.append(line)
        return Outcome(0, out=lines)

    def credits(self) -> Outcome:
        return self._printed(self._send("GET", "/developer/usage"))

    def estimate(self, workflow_id: str) -> Outcome:
        return self._printed(self._send("POST", f"/workflows/{workflow_id}/estimate", {}))

