"""Idempotency-Key (docs/api.md), Stripe-like, for the endpoints that start an execution.

The protocol, per team and key:
- The first request claims the key with one `INSERT ... ON CONFLICT DO NOTHING`, committed at
  once, so of any number of concurrent requests exactly one wins; the others read the row back.
- The winner runs the endpoint. Its response is stored in the same transaction as the work
  (the execution row), so either both are saved or neither is.
- A later request with the same key: the stored response is replayed (`Idempotent-Replayed:
  true`); while the first is still running, 409 `idempotency_conflict` with `Retry-After: 1`;
  with another method, path or body, 422 `idempotency_key_reused`.
- Nothing is stored when the request changed nothing: an error raised by the endpoint rolls its
  transaction back, and the 400/401/402/403/404/413/422/429 answers release the claim, so the
  client can fix the cause and retry with the same key.
- A claim still "processing" after PROCESSING_TIMEOUT (a crashed worker) may be taken over;
  rows live RETENTION (24 h), then `idempotency_purge` (beat, or the in-process sweeper)
  deletes them and the key is free again.

Keys are unique per team; the method and path are part of the request's fingerprint, which is
how the same key sent to another endpoint is recognised as reused.
"""

import functools
import hashlib
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Status

from accounts.models import Team
from executions.models import IdempotencyRecord, IdempotencyState

from .errors import Conflict, InvalidRequest, Unprocessable
from .jsonbody import MalformedJson, json_response, parse_json

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
RETENTION = timedelta(hours=24)
PROCESSING_TIMEOUT = timedelta(seconds=60)
NOT_STORED = frozenset({400, 401, 402, 403, 404, 413, 422, 429})
STORED_HEADERS = ("Content-Type", "Location")
MAX_KEY_LENGTH = 255
_PRINTABLE = re.compile(r"[\x20-\x7e]+")
# An RFC 8941 sf-string: printable ASCII in quotes, with only \" and \\ escaped.
_SF_STRING = re.compile(r'"((?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\])*)"')
_SF_ESCAPE = re.compile(r'\\(["\\])')
# For `openapi_extra=` of the endpoints that take the header.
OPENAPI: dict[str, Any] = {"parameters": [{
    "in": "header", "name": HEADER, "required": False, "schema": {"type": "string"},
    "description": "Makes retries safe: a second request with the same key within 24 hours "
                   "gets the first response (Idempotent-Replayed: true) and starts nothing.",
}]}


# --- The key --------------------------------------------------------------------------------

def parse_key(raw: str | None) -> str | None:
    """The key of an Idempotency-Key header value, None when there is no header; raises 400
    for a value that is not 1-255 printable ASCII characters (bare, or a quoted sf-string)."""
    if raw is None:
        return None
    value = raw.strip(" \t")
    quoted = _SF_STRING.fullmatch(value)
    key = _SF_ESCAPE.sub(r"\1", quoted.group(1)) if quoted else value
    if (value.startswith('"') and not quoted) or not _PRINTABLE.fullmatch(key) \
            or len(key) > MAX_KEY_LENGTH:
        raise InvalidRequest(
            f"Invalid {HEADER} header: use 1 to {MAX_KEY_LENGTH} printable ASCII characters "
            'or a quoted string such as "order-123"', fields=[HEADER])
    return key


def fingerprint(method: str, path: str, body: bytes) -> str:
    """sha256 of the request; JSON bodies are compared by value, not by their whitespace or
    key order."""
    digest = hashlib.sha256(f"{method.upper()} {path}\n".encode())
    digest.update(_canonical(body))
    return digest.hexdigest()


def _canonical(body: bytes) -> bytes:
    try:
        parsed = parse_json(body) if body.strip() else None
        return json.dumps(parsed, sort_keys=True, separators=(",", ":")).encode()
    except MalformedJson:
        return body


# --- Claim, store, release ------------------------------------------------------------------

@dataclass(frozen=True)
class Claim:
    record_id: int
    token: uuid.UUID


def _record_fields(method: str, path: str, digest: str, token: uuid.UUID) -> dict[str, Any]:
    now = timezone.now()
    # The path is kept for people reading the table; the fingerprint holds the exact one.
    return {"method": method[:10], "path": path.replace("\x00", "")[:500], "fingerprint": digest,
            "state": IdempotencyState.PROCESSING, "token": token, "status_code": None,
            "body": "", "headers": {}, "created_at": now, "claimed_at": now}


def claim(team: Team, key: str, method: str, path: str, digest: str) -> Claim | IdempotencyRecord:
    """Claim the key for this request (a Claim), or the finished record to replay. Raises 422
    for a key used with another request and 409 while the first one is still running."""
    for _ in range(3):  # the row changed under us (released, taken over): look again
        token = uuid.uuid4()
        IdempotencyRecord.objects.bulk_create(
            [IdempotencyRecord(team=team, key=key, **_record_fields(method, path, digest, token))],
            ignore_conflicts=True)
        record = IdempotencyRecord.objects.filter(team=team, key=key).first()
        if record is None:
            continue
        if record.token == token:
            return Claim(record.pk, token)
        if not _stale(record, timezone.now()):
            return _existing(record, digest)
        if _take_over(record, method, path, digest, token):
            return Claim(record.pk, token)
    raise _in_progress()


def _stale_q(now: datetime) -> Q:
    """Records that may be taken over: expired, or a claim abandoned mid-processing."""
    return (Q(state=IdempotencyState.PROCESSING, claimed_at__lt=now - PROCESSING_TIMEOUT)
            | Q(created_at__lt=now - RETENTION))


def _stale(record: IdempotencyRecord, now: datetime) -> bool:
    return record.created_at < now - RETENTION or (
        record.state == IdempotencyState.PROCESSING
        and record.claimed_at < now - PROCESSING_TIMEOUT)


def _take_over(record: IdempotencyRecord, method: str, path: str, digest: str,
               token: uuid.UUID) -> bool:
    """One conditional UPDATE, so of two requests racing for a stale record one wins."""
    return bool(IdempotencyRecord.objects
                .filter(_stale_q(timezone.now()), pk=record.pk, token=record.token)
                .update(**_record_fields(method, path, digest, token)))


def _existing(record: IdempotencyRecord, digest: str) -> IdempotencyRecord:
    if record.fingerprint != digest:
        raise Unprocessable(
            f"This {HEADER} was already used for a different request (another method, path "
            "or body). Use a new key for a new request.", code="idempotency_key_reused")
    if record.state != IdempotencyState.DONE:
        raise _in_progress()
    return record


def _in_progress() -> Conflict:
    return Conflict(f"A request with this {HEADER} is still being processed. Retry shortly.",
                    code="idempotency_conflict", headers={"Retry-After": "1"})


def store(held: Claim, response: HttpResponse) -> bool:
    """Save the finished response on the claim; False if the claim was lost (taken over)."""
    headers = {name: response[name] for name in STORED_HEADERS if response.has_header(name)}
    return bool(IdempotencyRecord.objects.filter(pk=held.record_id, token=held.token).update(
        state=IdempotencyState.DONE, status_code=response.status_code,
        body=response.content.decode("utf-8", errors="replace"), headers=headers))


def release(held: Claim) -> None:
    IdempotencyRecord.objects.filter(pk=held.record_id, token=held.token).delete()


def replay(record: IdempotencyRecord) -> HttpResponse:
    response = HttpResponse(record.body, status=record.status_code or 200)
    for name, value in record.headers.items():
        response[name] = value
    response[REPLAYED_HEADER] = "true"
    return response


def idempotency_purge() -> int:
    """Delete the records older than RETENTION; returns how many."""
    deleted, _ = IdempotencyRecord.objects.filter(
        created_at__lt=timezone.now() - RETENTION).delete()
    return deleted


# --- Wrapping an endpoint -------------------------------------------------------------------

def respond_once(request: HttpRequest, team: Team, produce: Callable[[], HttpResponse], *,
                 path: str | None = None) -> HttpResponse:
    """`produce()`'s response, at most once per Idempotency-Key of the team (no header: just
    `produce()`). `path` names the resource when it has several URLs."""
    key = parse_key(request.headers.get(HEADER))
    if key is None:
        return produce()
    method = request.method or "POST"
    held = claim(team, key, method, path or request.path,
                 fingerprint(method, path or request.path, request.body))
    if isinstance(held, IdempotencyRecord):
        return replay(held)
    try:
        return _produce_and_store(held, produce)
    except BaseException:
        release(held)  # the work's transaction rolled back: nothing changed
        raise


def _produce_and_store(held: Claim, produce: Callable[[], HttpResponse]) -> HttpResponse:
    with transaction.atomic():
        response = produce()
        if response.status_code in NOT_STORED or response.status_code >= 500:
            transaction.set_rollback(True)
        elif not store(held, response):
            raise _in_progress()  # taken over as stale: the new owner's work counts, not ours
        else:
            return response
    release(held)
    return response


def idempotent(view: Callable[..., Any]) -> Callable[..., Any]:
    """Apply Idempotency-Key to a ninja view of an authenticated endpoint (the team is the
    caller's). The view's `Status` result is rendered here, with the API's renderer, so it
    can be stored; its OpenAPI schema is unchanged."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, **kwargs: Any) -> Any:
        if request.headers.get(HEADER) is None:
            return view(request, **kwargs)  # rendered by ninja as usual
        team = cast(Team, request.auth.team)  # type: ignore[attr-defined]
        return respond_once(request, team, lambda: _render(request, view(request, **kwargs),
                                                           kwargs))

    return wrapper


def _render(request: HttpRequest, result: Any, kwargs: dict[str, Any]) -> HttpResponse:
    if isinstance(result, HttpResponse):
        return result
    status, body = (result.status_code, result.value) if isinstance(result, Status) \
        else (200, result)
    # Headers the view set (Location) live on the response ninja handed it.
    temporal = next((v for v in kwargs.values() if isinstance(v, HttpResponse)), None)
    return json_response(request, body, status, into=temporal)
