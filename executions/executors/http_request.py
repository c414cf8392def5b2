"""`http:request`: one request to the URL the user chose, through the SSRF guard
(executions/ssrf.py, the only module that fetches user URLs). The body template is filled by
text.fill_body; the answer's JSON (or text) becomes the ports."""

import json
from dataclasses import dataclass
from typing import Any, Literal, cast

from django.conf import settings

from executions import ssrf
from executions.engine.contracts import NodeContext, NodeFailure, NodeResult
from executions.providers.errors import ProviderError, is_retryable_status, parse_retry_after
from workflows import secretbox
from workflows.nodes.http_request import EXCERPT_CHARS, HttpRequestParams

from .runtime import max_text_bytes
from .table import executes
from .text import as_text, fill_body, placeholder_values, read_json_path


def max_response_bytes() -> int:
    return min(int(settings.HTTP_REQUEST_MAX_BYTES), max_text_bytes())


def _body(ctx: NodeContext, params: HttpRequestParams) -> tuple[bool, Any]:
    """(whether there is a body, the body as a JSON value)."""
    values = placeholder_values(ctx, "vars")
    if "body" in ctx.inputs:
        values["body"] = ctx.inputs["body"]
    if params.body_template.strip():
        return True, fill_body(params.body_template, values)
    if "body" in ctx.inputs:
        return True, ctx.inputs["body"]
    return False, None


def _headers(params: HttpRequestParams, has_body: bool) -> dict[str, str]:
    headers = {"User-Agent": "Wireflow-HTTP/1", "Accept": "application/json, */*;q=0.5"}
    if has_body:
        headers["Content-Type"] = "application/json"
    secret = secretbox.reveal_param(params.secret_header_value)
    if secret is None:  # validated already; SECRET_KEY changed since: fail closed
        raise NodeFailure("the secret header's value cannot be read: enter it again")
    given = dict(params.headers)
    if secret:
        given[params.secret_header_name] = secret
    for name, value in given.items():  # a user's header replaces a default of any case
        for default in [d for d in headers if d.lower() == name.lower()]:
            del headers[default]
        headers[name] = value
    return headers


def excerpt(content: bytes) -> str:
    text = " ".join(content[:EXCERPT_CHARS * 4].decode("utf-8", "replace").split())
    return text[:EXCERPT_CHARS] + ("…" if len(text) > EXCERPT_CHARS else "")


def _parsed(content: bytes) -> tuple[bool, Any]:
    """(whether the body is JSON, its value)."""
    if not content.strip():
        return False, None
    try:
        return True, json.loads(content)
    except (ValueError, RecursionError):
        return False, None


@dataclass(frozen=True)
class HttpRequestExecutor:
    """One request through the SSRF guard. A refusal (the guard's, a 4xx, a body too large or
    not JSON) fails the node at once; a timeout, a refused connection, 408, 409, 429 and 5xx are
    retried like any node's retryable failure."""

    kind: Literal["inline"] = "inline"
    pure: bool = False
    # A request may have side effects (a POST): if the worker making it is lost, the engine
    # does not make it again; the node fails at its deadline instead.
    repeatable: bool = False

    def run(self, ctx: NodeContext) -> NodeResult:
        params = cast(HttpRequestParams, ctx.params)
        has_body, body = _body(ctx, params)
        if has_body and params.method == "GET":
            raise NodeFailure("a GET request has no body: choose POST, PUT, PATCH or DELETE")
        content = json.dumps(body, ensure_ascii=False).encode() if has_body else None
        try:
            response = ssrf.fetch(params.method, params.url, headers=_headers(params, has_body),
                                  content=content, timeout=params.timeout,
                                  max_bytes=max_response_bytes())
        except (ssrf.BlockedUrl, ssrf.ResponseTooLarge, ssrf.TooManyRedirects) as exc:
            raise NodeFailure(f"the request failed: {exc}") from exc
        except ssrf.FetchError as exc:  # a timeout or a refused connection: try again
            raise ProviderError(f"the request failed: {exc}", retryable=True) from exc
        if not 200 <= response.status_code < 300:
            raise _refused(response)
        ports = _ports(response, params.result_path)
        return NodeResult(ports=ports, output={"status": response.status_code,
                                               "url": response.url,
                                               "value": ports.get("json", ports["text"])})


def _refused(response: Any) -> ProviderError:
    status = response.status_code
    retryable = is_retryable_status(status)
    shown = excerpt(response.content)
    message = f"the server answered HTTP {status}" + (f": {shown}" if shown else "")
    return ProviderError(message, http_status=status, retryable=retryable,
                         retry_after=parse_retry_after(response.headers.get("retry-after"))
                         if retryable else None)


def _ports(response: Any, path: str) -> dict[str, Any]:
    is_json, value = _parsed(response.content)
    ports: dict[str, Any] = {"status": response.status_code}
    if path:
        if not is_json:
            kind = response.headers.get("content-type", "").split(";")[0].strip() or "no type"
            raise NodeFailure(f"the response is not JSON ({kind}: {excerpt(response.content)!r}),"
                              f" so {path} cannot be read from it")
        value = read_json_path(value, path)
        return {**ports, "json": value, "text": as_text(value)}
    ports["text"] = response.content.decode("utf-8", "replace")
    if is_json:
        ports["json"] = value
    return ports


executes("http:request", HttpRequestExecutor())
