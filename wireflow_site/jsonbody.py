"""JSON in and out of the API, one way everywhere.

In: request bodies (the API's parser, the webhook trigger, batches, idempotency fingerprints):
every malformed body — bad bytes, bad syntax, nesting deep enough to exhaust the parser's
recursion — is one error, never an unhandled exception.

Out: the API's renderer (wireflow_site/api.py), also used by the idempotency layer when it
renders a view's result itself, so that a first response and its replays are the same bytes.
"""

import json
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja.renderers import JSONRenderer

RENDERER = JSONRenderer()
CONTENT_TYPE = f"{RENDERER.media_type}; charset={RENDERER.charset}"


def json_response(request: HttpRequest, data: Any, status: int,
                  into: HttpResponse | None = None) -> HttpResponse:
    """`data` rendered as the API renders it; into `into` (a response a view already set
    headers on) when given."""
    content = RENDERER.render(request, data, response_status=status)
    if into is None:
        return HttpResponse(content, status=status, content_type=CONTENT_TYPE)
    into.status_code = status
    into.content = content
    return into


class MalformedJson(ValueError):
    pass


def parse_json(raw: bytes | str) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise MalformedJson(str(exc)) from exc
