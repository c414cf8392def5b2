"""The generic HTTP node (`http:request`): calls a URL the user chose, through the SSRF guard.

Every request goes through executions/ssrf.py (the only module that fetches user URLs): it
resolves the host, refuses non-public addresses (before connecting, and again on every
redirect), and bounds the response's size and the whole call's time. The node runs inline: the
engine's heartbeat bounds it by the node's deadline as well.

The body is a JSON template: it is parsed as JSON first, then its strings are filled. A string
that is exactly one placeholder (`"{{count}}"`) becomes the value itself (a number stays a
number, an object an object); placeholders inside a longer string are filled as text. Values
are never pasted into JSON source, so no value can break out of its string.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal, cast

from pydantic import Field, field_validator, model_validator

from executions.engine.contracts import NodeContext, NodeFailure, NodeResult
from executions.providers.errors import ProviderError, is_retryable_status, parse_retry_after
from workflows import secretbox
from workflows.graph import Port, PortType

from .fields import LongText, WebUrl
from .registry import BaseParams, NodeType, register
from .runtime import TextBudget, max_text_bytes, text_size
from .utility import (
    as_text,
    check_json_path,
    fill_placeholders,
    placeholder_values,
    read_json_path,
    whole_placeholder,
)

MAX_REQUEST_TIMEOUT_SECONDS = 60
MAX_HEADERS = 20
MAX_HEADER_NAME_LENGTH = 100
MAX_HEADER_VALUE_LENGTH = 4000
SECRET_MAX_LENGTH = 4000
# How deep a body template may nest (the filling walks it recursively).
MAX_TEMPLATE_DEPTH = 32
EXCERPT_CHARS = 200
# RFC 9110 token characters: a fixed pattern over a name of at most 100 characters.
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}")
# Set by the HTTP client from the request itself: a user value would only confuse the server.
_RESERVED_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})
Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]


def _header_name(name: Any) -> str:
    if not isinstance(name, str) or not _HEADER_NAME.fullmatch(name):
        raise ValueError(f"{str(name)[:MAX_HEADER_NAME_LENGTH]!r} is not a valid header name")
    if name.lower() in _RESERVED_HEADERS:
        raise ValueError(f"the {name} header is set by the request itself")
    return name


def _header_value(name: str, value: Any) -> str:
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise ValueError(f"header {name}: the value must be text")
    text = str(value)
    if len(text) > MAX_HEADER_VALUE_LENGTH:
        raise ValueError(f"header {name}: at most {MAX_HEADER_VALUE_LENGTH} characters")
    if "\r" in text or "\n" in text or "\0" in text:
        raise ValueError(f"header {name}: the value must be on one line")
    return text


def json_depth(value: Any) -> int:
    """How deeply `value` nests, counted without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(item, dict):
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
    return deepest


class HttpRequestParams(BaseParams):
    method: Method = Field("GET", description="The HTTP method.")
    url: WebUrl = Field(title="URL", description="The URL to call (http or https, a public "
                                                 "address), unless a URL is connected.")
    headers: dict[str, str] = Field(
        default_factory=dict,
        description='Headers to send, as {"Name": "value"} (or a list of {name, value}); '
                    f"at most {MAX_HEADERS}. Put keys in the secret header instead.")
    secret_header_name: str = Field(
        "Authorization", max_length=MAX_HEADER_NAME_LENGTH, title="Secret header name",
        description="The header that carries the secret value, when one is set.")
    # Write-only: stored sealed (workflows/node_secrets.py), shown as a placeholder; the length
    # is checked on the plaintext, so the bound is in the schema, not on the stored token.
    secret_header_value: str = Field(
        "", title="Secret header value",
        description="Sent in the secret header (e.g. Bearer sk-...); never shown again.",
        json_schema_extra={"format": "password", "writeOnly": True,
                           "maxLength": SECRET_MAX_LENGTH})
    body_template: LongText = Field(
        "", title="JSON body",
        description='JSON sent as the body, with {{name}} placeholders in its strings filled '
                    'from the connected values by their labels ({{body}}: the Body input). '
                    '"{{name}}" alone becomes the value itself (a number, a list...).')
    result_path: str = Field(
        "", max_length=500, title="Result path",
        description="A JSON path such as $.data[0].url picking the result out of the "
                    "response; empty: the whole response.")
    timeout: int = Field(30, ge=1, le=MAX_REQUEST_TIMEOUT_SECONDS, title="Timeout (s)",
                         description="How long the request may take, redirects included.")

    @field_validator("headers", mode="before")
    @classmethod
    def _headers_as_object(cls, value: Any) -> Any:
        """A list of {name, value} becomes an object; names and values are checked."""
        if isinstance(value, list):
            if len(value) > MAX_HEADERS:
                raise ValueError(f"at most {MAX_HEADERS} headers")
            pairs = []
            for item in value:
                if not isinstance(item, dict) or set(item) != {"name", "value"}:
                    raise ValueError("each header must be {name, value}")
                pairs.append((item["name"], item["value"]))
        elif isinstance(value, dict):
            pairs = list(value.items())
        else:
            return value  # the type check reports it
        if len(pairs) > MAX_HEADERS:
            raise ValueError(f"at most {MAX_HEADERS} headers")
        headers: dict[str, str] = {}
        for name, header_value in pairs:
            checked = _header_name(name)
            if checked.lower() in {known.lower() for known in headers}:
                raise ValueError(f"the {checked} header is given twice")
            headers[checked] = _header_value(checked, header_value)
        return headers

    @field_validator("secret_header_name")
    @classmethod
    def _secret_header_name(cls, value: str) -> str:
        return _header_name(value)

    @field_validator("secret_header_value")
    @classmethod
    def _readable_and_short(cls, value: str) -> str:
        plaintext = secretbox.reveal_param(value)
        if plaintext is None:
            raise ValueError("the stored secret cannot be read any more: enter it again")
        _header_value("secret", plaintext[:SECRET_MAX_LENGTH + 1])
        if len(plaintext) > SECRET_MAX_LENGTH:
            raise ValueError(f"String should have at most {SECRET_MAX_LENGTH} characters")
        return value  # kept sealed: it is revealed only to send the request

    @field_validator("body_template")
    @classmethod
    def _json_template(cls, value: str) -> str:
        if value.strip():
            try:
                parsed = json.loads(value)
            except (ValueError, RecursionError) as exc:
                raise ValueError(f"must be JSON ({str(exc)[:100]})") from None
            if json_depth(parsed) > MAX_TEMPLATE_DEPTH:
                raise ValueError(f"nests deeper than {MAX_TEMPLATE_DEPTH} levels")
        return value

    @field_validator("result_path")
    @classmethod
    def _path_syntax(cls, value: str) -> str:
        return check_json_path(value) if value else value

    @model_validator(mode="after")
    def _no_body_on_get(self) -> HttpRequestParams:
        if self.method == "GET" and self.body_template.strip():
            raise ValueError("a GET request has no body: choose POST, PUT, PATCH or DELETE")
        return self


# --- Executor ------------------------------------------------------------------------------

def max_response_bytes() -> int:
    from django.conf import settings

    return min(int(settings.HTTP_REQUEST_MAX_BYTES), max_text_bytes())


def fill_body(template: str, values: dict[str, Any]) -> Any:
    """The template's JSON with its strings filled from `values` (see the module docstring);
    its size is counted before it is built. Only called on a template that validated."""
    budget = TextBudget("The request body")
    texts: dict[str, tuple[str, int]] = {}

    def fill(item: Any) -> Any:
        if isinstance(item, str):
            name = whole_placeholder(item)
            if name is not None and name in values:
                value = values[name]
                if name not in texts:
                    text = as_text(value)
                    texts[name] = (text, text_size(text))
                budget.spend(texts[name][1])
                # A whole number arrives as a float (input:number): sent as 20, not 20.0,
                # as the placeholder would read in text.
                return int(value) if isinstance(value, float) and value.is_integer() else value
            return fill_placeholders(item, values, budget, texts)
        if isinstance(item, dict):
            return {key: fill(child) for key, child in item.items()}
        if isinstance(item, list):
            return [fill(child) for child in item]
        return item

    return fill(json.loads(template))


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
    # A request may have side effects (a POST): if the worker making it is lost, the engine
    # does not make it again; the node fails at its deadline instead.
    repeatable: bool = False

    def run(self, ctx: NodeContext) -> NodeResult:
        from executions import ssrf

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


register(
    NodeType(
        node_type="http:request", label="HTTP request", category="utility",
        description="Calls a URL (any public API) with a JSON body and picks a value out of "
                    "the JSON answer.",
        params=HttpRequestParams,
        inputs=(Port("url", PortType.TEXT, "URL"),
                Port("body", PortType.ANY, "Body"),
                Port("vars", PortType.ANY, "Values", multiple=True)),
        outputs=(Port("json", PortType.JSON, "JSON"), Port("text", PortType.TEXT, "Text"),
                 Port("status", PortType.NUMBER, "Status")),
        # Room for the request's own timeout (at most 60 s) and its retries.
        timeout_seconds=120, credits=0.0,
        executor=HttpRequestExecutor(),
    ),
)
