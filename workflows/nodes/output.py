"""Output nodes: where a run's results go (the execution's finalOutput, or a webhook)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Literal, cast

from pydantic import Field, field_validator

from executions.engine.contracts import NodeContext, NodeFailure, NodeResult
from executions.providers.errors import ProviderError, is_retryable_status, parse_retry_after
from wireflow_site.signing import sign
from workflows import secretbox
from workflows.graph import Port, PortType

from .fields import WebUrl
from .registry import BaseParams, NodeType, register

WEBHOOK_TIMEOUT_SECONDS = 30


class ResultParams(BaseParams):
    name: str = Field("", max_length=200, description="A name for this result (optional).")


SECRET_MAX_LENGTH = 500


class WebhookParams(BaseParams):
    url: WebUrl = Field(description="Where the result is POSTed as JSON.")
    # Write-only: stored sealed (workflows/node_secrets.py), shown as a placeholder. The length
    # is checked on the plaintext, so the bound is in the schema, not on the stored token.
    secret: str = Field("", description="Signs each delivery with X-Wireflow-Signature when set.",
                        json_schema_extra={"format": "password", "writeOnly": True,
                                           "maxLength": SECRET_MAX_LENGTH})

    @field_validator("secret")
    @classmethod
    def _readable_and_short(cls, value: str) -> str:
        plaintext = secretbox.reveal_param(value)
        if plaintext is None:
            raise ValueError("the stored secret cannot be read any more: enter it again")
        if len(plaintext) > SECRET_MAX_LENGTH:
            raise ValueError(f"String should have at most {SECRET_MAX_LENGTH} characters")
        return value  # kept sealed: it is revealed only to sign a delivery


# --- Executors ---------------------------------------------------------------------------

def _collected(ctx: NodeContext) -> Any:
    values = list(ctx.inputs.get("value", []))
    return values[0] if len(values) == 1 else values


@dataclass(frozen=True)
class ResultExecutor:
    kind: Literal["inline"] = "inline"
    pure: bool = True

    def run(self, ctx: NodeContext) -> NodeResult:
        params = cast(ResultParams, ctx.params)
        return NodeResult(ports={}, output={"name": params.name or ctx.label,
                                            "value": _collected(ctx)})


@dataclass(frozen=True)
class WebhookExecutor:
    """POSTs the result as JSON through the SSRF guard; a delivery that fails is retried by the
    engine like any node (5xx, 408, 409, 429 and timeouts are retryable)."""

    kind: Literal["inline"] = "inline"
    # A delivery is a side effect: if the worker making it is lost, the engine does not make
    # it again (it may have arrived); the node fails at its deadline instead.
    repeatable: bool = False

    def run(self, ctx: NodeContext) -> NodeResult:
        from executions import ssrf

        params = cast(WebhookParams, ctx.params)
        body = json.dumps({"executionId": ctx.execution_id, "nodeId": ctx.node_id,
                           "value": _collected(ctx)}).encode()
        headers = {"Content-Type": "application/json", "User-Agent": "Wireflow-Webhook/1"}
        secret = secretbox.reveal_param(params.secret)
        if secret is None:  # validated already; SECRET_KEY changed since: fail closed
            raise NodeFailure("the webhook's signing secret cannot be read: enter it again")
        if secret:
            headers["X-Wireflow-Signature"] = sign(secret, body, int(time.time()))
        try:
            response = ssrf.fetch("POST", params.url, headers=headers, content=body,
                                  timeout=WEBHOOK_TIMEOUT_SECONDS, max_bytes=64 * 1024)
        except (ssrf.BlockedUrl, ssrf.ResponseTooLarge, ssrf.TooManyRedirects) as exc:
            raise NodeFailure(f"webhook delivery failed: {exc}") from exc
        except ssrf.FetchError as exc:  # a timeout or a refused connection: try again
            raise ProviderError(f"webhook delivery failed: {exc}", retryable=True) from exc
        if response.status_code >= 400:
            raise _refused(response.status_code, response.headers)
        return NodeResult(ports={}, output={"delivered": True, "status": response.status_code,
                                            "url": params.url})


def _refused(status: int, headers: dict[str, str]) -> ProviderError:
    """The receiver's error answer; retryable as any provider's (408, 409, 429, 5xx), after
    its Retry-After when it sends one."""
    retryable = is_retryable_status(status)
    return ProviderError(f"webhook answered HTTP {status}", http_status=status,
                         retryable=retryable,
                         retry_after=parse_retry_after(headers.get("retry-after"))
                         if retryable else None)


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
