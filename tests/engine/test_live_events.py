"""The WebSocket: a snapshot first, then every event in order, resumable by sequence number."""

import json
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.test import Client
from websockets.sync.client import ClientConnection, connect

from accounts.models import User
from tests.conftest import ApiClient

from .helpers import create_workflow, edge, execute, node, wait_for

pytestmark = pytest.mark.django_db(transaction=True)
RECEIVE_TIMEOUT = 60  # bounds a hang: a busy machine delivers late, not never


def _session_cookie(user: User) -> str:
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def _socket(site: str, user: User, execution_id: str, query: str = "") -> ClientConnection:
    host = urlsplit(site).netloc
    return connect(f"ws://{host}/ws/executions/{execution_id}/{query}",
                   additional_headers={"Cookie": _session_cookie(user), "Origin": site},
                   open_timeout=RECEIVE_TIMEOUT)


def _receive_until_done(socket: ClientConnection) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    while True:
        message = json.loads(socket.recv(timeout=RECEIVE_TIMEOUT))
        messages.append(message)
        if message["type"] == "execution" or (
                message["type"] == "snapshot" and message["data"]["status"] != "RUNNING"):
            return messages


def _pipeline(api: ApiClient) -> str:
    # The latency is far longer than opening a socket takes: it opens while the run is going.
    nodes = [node("p", "input:text", text="live [sim latency=3s]"),
             node("g", "generate:flux_2", image_size="square"),
             node("out", "output:result")]
    edges = [edge("p", "text", "g", "prompt"), edge("g", "image", "out", "value")]
    return create_workflow(api, nodes, edges)


def test_the_socket_sends_a_snapshot_then_ordered_events(engine: str, api: ApiClient,
                                                         owner: User) -> None:
    execution_id = execute(api, _pipeline(api))
    with _socket(engine, owner, execution_id) as socket:
        messages = _receive_until_done(socket)
    assert messages[0]["type"] == "snapshot"
    assert messages[0]["data"]["executionId"] == execution_id
    seqs = [m["seq"] for m in messages[1:]]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert messages[-1]["type"] == "execution"
    assert messages[-1]["data"]["status"] == "COMPLETED"
    completed = {m["data"]["nodeId"] for m in messages
                 if m["type"] == "node" and m["data"]["status"] == "COMPLETED"}
    assert completed == {"p", "g", "out"} - _done_in_snapshot(messages[0])


def _done_in_snapshot(snapshot: dict[str, Any]) -> set[str]:
    return {s["nodeId"] for s in snapshot["data"]["nodeStates"] if s["status"] == "COMPLETED"}


def test_resuming_after_a_sequence_number_replays_exactly_the_missed_events(
        engine: str, api: ApiClient, owner: User) -> None:
    execution_id = execute(api, _pipeline(api))
    wait_for(api, execution_id)
    with _socket(engine, owner, execution_id) as socket:
        first = json.loads(socket.recv(timeout=RECEIVE_TIMEOUT))
    assert first["type"] == "snapshot"
    last = first["seq"]
    assert last >= 4
    with _socket(engine, owner, execution_id, "?after=2") as socket:
        replayed = [json.loads(socket.recv(timeout=RECEIVE_TIMEOUT)) for _ in range(last - 2)]
    assert [m["seq"] for m in replayed] == list(range(3, last + 1))


def test_a_stranger_cannot_listen(engine: str, api: ApiClient, stranger: User) -> None:
    from websockets.exceptions import ConnectionClosed, InvalidStatus

    execution_id = execute(api, _pipeline(api))
    with pytest.raises((ConnectionClosed, InvalidStatus)), \
            _socket(engine, stranger, execution_id) as socket:
        socket.recv(timeout=RECEIVE_TIMEOUT)
