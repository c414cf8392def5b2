"""Output nodes: the result collected into the execution's finalOutput, or POSTed to a
webhook, signed when a secret is set."""

import json
import time
from dataclasses import dataclass
from typing import Any, Literal, cast

from executions import ssrf
from executions.engine.contracts import NodeContext, NodeFailure, NodeResult
from executions.providers.errors import ProviderError, is_retryable_status, parse_retry_after
from wireflow_site.signing import sign
from workflows import secretbox
from workflows.nodes.output import WEBHOOK_TIMEOUT_SECONDS, ResultParams, WebhookParams

from .table import executes


def _collected(ctx: NodeContext) -> Any:
    values = list(ctx.inputs.get("value", []))
    return values[0] if len(values) == 1 else values


@dataclass(frozen=True)
class ResultExecutor:
    kind: Literal["inline"] = "inline"
    pure: bool = True
    repeatable: bool = True

    def run(self, ctx: NodeContext) -> NodeResult:
        params = cast(ResultParams, ctx.params)
        return NodeResult(ports={}, output={"name": params.name or ctx.label,
                                            "value": _collected(ctx)})


@dataclass(frozen=True)
class WebhookExecutor:
    """POSTs the result as JSON through the SSRF guard; a delivery that fails is retried by the
    engine like any node (5xx, 408, 409, 429 and timeouts are retryable)."""

    kind: Literal["inline"] = "inline"
    pure: bool = False
    # A delivery is a side effect: if the worker making it is lost, the engine does not make
    # it again (it may have arrived); the node fails at its deadline instead.
    repeatable: bool = False

    def run(self, ctx: NodeContext) -> NodeResult:
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


executes("output:result", ResultExecutor())
executes("output:webhook", WebhookExecutor())
