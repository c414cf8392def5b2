"""Output nodes: where a run's results go (the execution's finalOutput, or a webhook)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any, Literal, cast

from pydantic import Field

from executions.engine.contracts import NodeContext, NodeFailure, NodeResult
from workflows.graph import Port, PortType

from .fields import WebUrl
from .registry import BaseParams, NodeType, register

WEBHOOK_TIMEOUT_SECONDS = 30


class ResultParams(BaseParams):
    name: str = Field("", max_length=200, description="A name for this result (optional).")


class WebhookParams(BaseParams):
    url: WebUrl = Field(description="Where the result is POSTed as JSON.")
    secret: str = Field("", max_length=500, description="Signs each delivery with "
                                                        "X-Wireflow-Signature when set.",
                        json_schema_extra={"format": "password", "writeOnly": True})


# --- Executors ---------------------------------------------------------------------------

def _collected(ctx: NodeContext) -> Any:
    values = list(ctx.inputs.get("value", []))
    return values[0] if len(values) == 1 else values


@dataclass(frozen=True)
class ResultExecutor:
    kind: Literal["inline"] = "inline"

    def run(self, ctx: NodeContext) -> NodeResult:
        params = cast(ResultParams, ctx.params)
        return NodeResult(ports={}, output={"name": params.name or ctx.label,
                                            "value": _collected(ctx)})


def sign(secret: str, body: bytes, timestamp: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


@dataclass(frozen=True)
class WebhookExecutor:
    """POSTs the result as JSON through the SSRF guard; a delivery that fails is retried by the
    engine like any node (5xx, 408, 429 are retryable)."""

    kind: Literal["inline"] = "inline"

    def run(self, ctx: NodeContext) -> NodeResult:
        from executions import ssrf

        params = cast(WebhookParams, ctx.params)
        body = json.dumps({"executionId": ctx.execution_id, "nodeId": ctx.node_id,
                           "value": _collected(ctx)}).encode()
        headers = {"Content-Type": "application/json", "User-Agent": "Wireflow-Webhook/1"}
        if params.secret:
            headers["X-Wireflow-Signature"] = sign(params.secret, body, int(time.time()))
        try:
            response = ssrf.fetch("POST", params.url, headers=headers, content=body,
                                  timeout=WEBHOOK_TIMEOUT_SECONDS, max_bytes=64 * 1024)
        except ssrf.FetchError as exc:
            raise NodeFailure(f"webhook delivery failed: {exc}") from exc
        if response.status_code >= 400:
            raise NodeFailure(f"webhook answered HTTP {response.status_code}")
        return NodeResult(ports={}, output={"delivered": True, "status": response.status_code,
                                            "url": params.url})


register(
    NodeType(
        node_type="output:result", label="Result", category="output",
        description="Collects its inputs into the execution's final output.",
        params=ResultParams,
        inputs=(Port("value", PortType.ANY, "Value", required=True, multiple=True),),
        executor=ResultExecutor(),
    ),
    NodeType(
        node_type="output:webhook", label="Send to webhook", category="output",
        description="POSTs the result to a URL, signed when a secret is set.",
        params=WebhookParams, timeout_seconds=WEBHOOK_TIMEOUT_SECONDS,
        inputs=(Port("value", PortType.ANY, "Value", required=True, multiple=True),),
        executor=WebhookExecutor(),
    ),
)
