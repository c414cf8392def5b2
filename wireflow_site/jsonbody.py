"""Request bodies parsed as JSON in one way everywhere (the API's parser, the webhook trigger,
batches, idempotency fingerprints): every malformed body — bad bytes, bad syntax, nesting deep
enough to exhaust the parser's recursion — is one error, never an unhandled exception."""

import json
from typing import Any


class MalformedJson(ValueError):
    pass


def parse_json(raw: bytes | str) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise MalformedJson(str(exc)) from exc
