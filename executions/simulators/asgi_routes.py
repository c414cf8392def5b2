"""fal's submit answered straight from ASGI on the simulators' own server (asgi.py).

A submit is the call the engine makes most of the simulators: one per model node. On the machine
the benchmarks share with the site under test, what the simulators' server spends on it is CPU
a remote provider would not take from the site. As a Django view, most of it was Django's
request cycle (the request and response objects, the hop to a request's thread, the handler's
bookkeeping), not the view's work (the key, the webhook's check, the job stored in Redis, the
answer's JSON). Here the route reads the request from the ASGI scope and answers through the
same code as the view (`fal.check_key`, then `fal.submitted`), on the event loop when that
waits on nothing but Redis, else on one hop to a thread. Measured in process (the ASGI
application called directly, 4 submits side by side, alternated): 0.69-0.86 ms of CPU a submit
against 1.62-1.97 ms through Django.

Everything else, and any submit this route cannot read as Django would (simulators off, a Host
not allowed, a query that is not UTF-8, proxy headers to honour), goes to Django unchanged,
which answers it as before. The site's own /_sim/ routes (make dev) are Django's alone.
"""

import asyncio
import contextvars
import functools
import hmac
import ipaddress
import json
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.serializers.json import DjangoJSONEncoder
from django.db import close_old_connections
from django.http import QueryDict
from django.http.request import split_domain_port, validate_host
from django.urls import Resolver404, resolve

from executions.providers.fal import platform_key
from wireflow_site.bodylimit import App, Receive, Scope, Send

from . import fal
from .views import failure_answer

MAX_PATH = 512  # longer paths (no model's) go to Django: the routes remembered stay small


class FalSubmit:
    """The ASGI application `inner` (Django's), with fal's submit taken off its hands."""

    def __init__(self, inner: App) -> None:
        self.inner = inner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        submit = _readable_submit(scope)
        if submit is None:
            await self.inner(scope, receive, send)
            return
        body = await _body(receive)
        if body is None:  # the client has gone
            return
        if submit.waits_on_redis_alone():
            status, answer, headers = _answer(submit, body)
        else:
            status, answer, headers = await asyncio.get_running_loop().run_in_executor(
                None, functools.partial(contextvars.copy_context().run, _answer, submit, body))
        content = json.dumps(answer, cls=DjangoJSONEncoder).encode()
        await send({"type": "http.response.start", "status": status, "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(content)).encode()),
            *((name.lower().encode("latin-1"), value.encode("latin-1"))
              for name, value in headers.items())]})
        await send({"type": "http.response.body", "body": content})


class _Submit:
    """A submit as Django's request would show it to fal.submit_view."""

    def __init__(self, scope: Scope, headers: dict[str, str], model_id: str, origin: str,
                 webhook: str | None) -> None:
        self.method, self.path = scope["method"], scope["path"]
        self.model_id, self.origin, self.webhook = model_id, origin, webhook
        self.key = fal.key_in(headers.get("AUTHORIZATION", ""))
        self.declared_length = headers.get("CONTENT_LENGTH", "")

    def waits_on_redis_alone(self) -> bool:
        """Whether its answer waits on nothing but Redis, so that it can be made on the event
        loop without the hop to a thread (a quarter of a submit's CPU): the platform's key
        (another is looked up among the teams', and Django makes no query on an event loop),
        and no webhook or one whose host is an IP address (a name is resolved)."""
        if not hmac.compare_digest(self.key.encode(), platform_key().encode()):
            return False
        if not self.webhook:
            return True
        try:
            ipaddress.ip_address((urlsplit(self.webhook).hostname or "").strip("[]"))
        except ValueError:
            return False
        return True


class _Body:
    """The body as HttpRequest.body gives it: refused (RequestDataTooBig) when its declared
    length, or its own, is over DATA_UPLOAD_MAX_MEMORY_SIZE; a declared length that is not a
    number raises ValueError there too."""

    def __init__(self, raw: bytes, declared: str) -> None:
        self.raw, self.declared = raw, declared

    @property
    def body(self) -> bytes:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        for size in (int(self.declared or 0), len(self.raw)):
            if limit is not None and size > limit:
                raise RequestDataTooBig("Request body exceeded "
                                        "settings.DATA_UPLOAD_MAX_MEMORY_SIZE.")
        return self.raw


def _readable_submit(scope: Scope) -> _Submit | None:
    """The submit this request is, if this route can read it exactly as Django would."""
    if scope["type"] != "http" or scope["method"] != "POST" \
            or not settings.SIMULATORS_ENABLED or scope.get("root_path") \
            or settings.FORCE_SCRIPT_NAME or settings.USE_X_FORWARDED_HOST \
            or settings.SECURE_PROXY_SSL_HEADER:
        return None
    model_id = _submitted_model(scope["path"]) if len(scope["path"]) <= MAX_PATH else None
    if model_id is None:
        return None
    try:  # Django reads the query at the view, whose failures its view answers (a 500)
        webhook = QueryDict(scope.get("query_string", b"").decode(),
                            encoding=settings.DEFAULT_CHARSET).get("fal_webhook")
    except (UnicodeDecodeError, SuspiciousOperation):
        return None
    headers = _headers(scope)
    host = headers.get("HOST", "")
    domain, _ = split_domain_port(host)
    allowed = settings.ALLOWED_HOSTS  # as HttpRequest.get_host has them
    if settings.DEBUG and not allowed:
        allowed = [".localhost", "127.0.0.1", "[::1]"]
    if not domain or not validate_host(domain, allowed):
        return None  # Django's answer to that (its own error) is Django's to give
    return _Submit(scope, headers, model_id, f"{scope.get('scheme', 'http')}://{host}", webhook)


@functools.lru_cache(maxsize=1024)
def _submitted_model(path: str) -> str | None:
    """The model id, if Django's routes take `path` to fal's submit (a URL of each model in
    use, remembered: resolving one walks the simulators' routes)."""
    try:
        match = resolve(path)
    except Resolver404:
        return None
    return match.kwargs["model_id"] if match.url_name == "sim-fal-submit" else None


def _headers(scope: Scope) -> dict[str, str]:
    """The request's headers as Django's META holds them (HTTP_ dropped): names upper-cased
    with - as _, a name with _ skipped, repeated ones joined by commas."""
    joined: dict[str, list[str]] = {}
    for name, value in scope.get("headers", []):
        text = name.decode("latin-1")
        if "_" not in text:
            joined.setdefault(text.upper().replace("-", "_"), []).append(value.decode("latin-1"))
    return {name: ",".join(values) for name, values in joined.items()}


async def _body(receive: Receive) -> bytes | None:
    """The whole body (BodySizeLimit, around this, bounds it); None if the client went."""
    parts = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        parts.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(parts)


def _answer(submit: _Submit, body: bytes) -> tuple[int, dict[str, Any], dict[str, str]]:
    """fal.submit_view's answer, as fal_view's checks and error handling give it (the
    simulators are on and the method is POST, or this route would not have it)."""
    try:
        fal.check_key(submit.key)
        return 200, fal.submitted(submit.model_id, submit.key, submit.webhook,
                                  _Body(body, submit.declared_length),
                                  lambda path: submit.origin + path), {}
    except Exception as failure:
        return failure_answer("fal", submit.method, submit.path, failure,
                              lambda: dict(fal.CRASHED))
    finally:
        close_old_connections()  # as a request's end does: a team key's lookup used one

