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
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from workflows import secretbox
from workflows.graph import Port, PortType

from .fields import LongText, WebUrl
from .registry import BaseParams, NodeType, register
from .utility import check_json_path

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
    ),
)
