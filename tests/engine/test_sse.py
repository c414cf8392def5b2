"""Server-Sent Events: a snapshot, then every event once and in order, resumable with
Last-Event-ID, ending after the terminal event; auth and lookups like the rest of the API."""

import json
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import httpx
import pytest
import redis

from accounts.models import User
from accounts.services import api_key_create
from executions.models import ExecutionEvent
from tests.conftest import ApiClient
from tests.harness import wait_until

from .helpers import RUN_TIMEOUT, create_workflow, edge, execute, node, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def _path(execution_id: str) -> str:
    return f"/workflows/executions/{execution_id}/events"


def _secret(user: Any, scopes: list[str] | None = None) -> str:
    return api_key_create(user=user, team=user.current_team, name="sse", scopes=scopes).secret


def parse(lines: Iterator[str]) -> Iterator[dict[str, Any]]:
    """SSE frames as dicts: {"event", "id", "data"} (data parsed as JSON), or {"comment"}."""
    fields: dict[str, str] = {}
    for line in lines:
        if line.startswith(":"):
            yield {"comment": line[1:].strip()}
        elif line:
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")
        elif fields:
            yield {"event": fields.get("event", "message"), "id": int(fields["id"]),
                   "data": json.loads(fields["data"])}
            fields = {}


class Stream:
    """One SSE connection to the live site; `frames()` reads it as it arrives."""

    def __init__(self, site: str, secret: str, execution_id: str, timeout: float = 30,
                 headers: dict[str, str] | None = None) -> None:
        self.client = httpx.Client(base_url=f"{site}/api/v1", timeout=timeout)
        self.context = self.client.stream(
            "GET", _path(execution_id),
            headers={"Authorization": f"Bearer {secret}", **(headers or {})})
        self.response = self.context.__enter__()

    def frames(self) -> Iterator[dict[str, Any]]:
        return parse(self.response.iter_lines())

    def events(self) -> list[dict[str, Any]]:
        """Every frame until the server ends the stream, comments left out."""
        return [frame for frame in self.frames() if "comment" not in frame]

    def close(self) -> None:
        self.context.__exit__(None, None, None)
        self.client.close()

    def __enter__(self) -> "Stream":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _pipeline(api: Any, latency: str = "3s", hang: bool = False) -> str:
    """Text into a model into a result. The default latency is far longer than opening a stream
    takes, so that a stream opened just after `execute` starts while the run is going."""
    directives = f"latency={latency}" + (" hang" if hang else "")
    nodes = [node("p", "input:text", text=f"a fox [sim {directives}]"),
             node("g", "generate:flux_2", image_size="square"),
             node("out", "output:result")]
    edges = [edge("p", "text", "g", "prompt"), edge("g", "image", "out", "value")]
    return create_workflow(api, nodes, edges)


def _stored_seqs(execution_id: str) -> list[int]:
    return list(ExecutionEvent.objects.filter(execution_id=execution_id)
                .order_by("seq").values_list("seq", flat=True))


def _stored_after(execution_id: str, seq: int) -> bool:
    return ExecutionEvent.objects.filter(execution_id=execution_id, seq__gt=seq).exists()


def _done_in(snapshot: dict[str, Any]) -> set[str]:
    return {s["nodeId"] for s in snapshot["data"]["nodeStates"] if s["status"] == "COMPLETED"}


def test_the_stream_sends_a_snapshot_then_ordered_events_and_ends(engine: str, api: ApiClient,
                                                                  owner: User) -> None:
    execution_id = execute(api, _pipeline(api))
    with Stream(engine, _secret(owner), execution_id) as stream:
        assert stream.response.status_code == 200
        assert stream.response.headers["content-type"] == "text/event-stream"
        assert stream.response.headers["cache-control"] == "no-cache"
        assert stream.response.headers["x-accel-buffering"] == "no"
        assert stream.response.headers["x-request-id"]
        frames = stream.events()
    snapshot, events = frames[0], frames[1:]
    assert snapshot["event"] == "snapshot"
    assert snapshot["data"]["executionId"] == execution_id
    assert [e["id"] for e in events] == _stored_seqs(execution_id)[snapshot["id"]:]
    assert {e["event"] for e in events[:-1]} == {"node"}
    assert events[-1]["event"] == "execution"
    assert events[-1]["data"]["status"] == "COMPLETED"
    completed = {e["data"]["nodeId"] for e in events[:-1] if e["data"]["status"] == "COMPLETED"}
    assert completed == {"p", "g", "out"} - _done_in(snapshot)


def test_live_events_come_by_broadcast_without_waiting_for_a_recheck(
        engine: str, api: ApiClient, owner: User, monkeypatch: pytest.MonkeyPatch) -> None:
    from executions import sse

    # With no recheck (and so no keep-alive either), only broadcasts can wake the stream: were
    # they ignored, it would fall silent after the snapshot and the read timeout would end it.
    monkeypatch.setattr(sse, "RECHECK_SECONDS", 3600.0)
    execution_id = execute(api, _pipeline(api))
    with Stream(engine, _secret(owner), execution_id, timeout=RUN_TIMEOUT) as stream:
        try:
            frames = stream.events()
        except httpx.ReadTimeout:
            pytest.fail(f"the stream fell silent for {RUN_TIMEOUT} s: broadcasts did not wake it")
    assert frames[-1]["event"] == "execution"
    assert frames[-1]["data"]["status"] == "COMPLETED"
    assert [f["id"] for f in frames[1:]] == _stored_seqs(execution_id)[frames[0]["id"]:]


def test_a_finished_execution_streams_its_snapshot_alone(engine: str, api: ApiClient,
                                                         owner: User) -> None:
    execution_id = execute(api, _pipeline(api, latency="0s"))
    wait_for(api, execution_id)
    with Stream(engine, _secret(owner), execution_id) as stream:
        frames = stream.events()
    assert [f["event"] for f in frames] == ["snapshot"]
    assert frames[0]["id"] == _stored_seqs(execution_id)[-1]
    assert frames[0]["data"]["status"] == "COMPLETED"
    assert frames[0]["data"]["finalOutput"]["out"]


def test_last_event_id_replays_exactly_the_events_after_it(engine: str, api: ApiClient,
                                                           owner: User) -> None:
    execution_id = execute(api, _pipeline(api, latency="0s"))
    wait_for(api, execution_id)
    stored = _stored_seqs(execution_id)
    with Stream(engine, _secret(owner), execution_id, headers={"Last-Event-ID": "2"}) as stream:
        frames = stream.events()
    assert [f["id"] for f in frames] == stored[2:]
    assert frames[-1]["event"] == "execution"


def test_the_last_event_id_query_parameter_works_like_the_header(engine: str, api: ApiClient,
                                                                 owner: User) -> None:
    execution_id = execute(api, _pipeline(api, latency="0s"))
    wait_for(api, execution_id)
    stored = _stored_seqs(execution_id)
    response = httpx.get(f"{engine}/api/v1{_path(execution_id)}?lastEventId=1", timeout=30,
                         headers={"Authorization": f"Bearer {_secret(owner)}"})
    frames = list(parse(iter(response.text.split("\n"))))
    assert [f["id"] for f in frames] == stored[1:]


def test_resuming_after_the_terminal_event_answers_204_so_clients_stop(engine: str, api: ApiClient,
                                                                       owner: User) -> None:
    execution_id = execute(api, _pipeline(api, latency="0s"))
    wait_for(api, execution_id)
    last = _stored_seqs(execution_id)[-1]
    response = httpx.get(f"{engine}/api/v1{_path(execution_id)}", timeout=30,
                         headers={"Authorization": f"Bearer {_secret(owner)}",
                                  "Last-Event-ID": str(last)})
    assert response.status_code == 204
    assert response.content == b""


def test_a_client_that_reconnects_with_last_event_id_gets_every_event_exactly_once(
        engine: str, api: ApiClient, owner: User) -> None:
    execution_id = execute(api, _pipeline(api))
    secret, resumes = _secret(owner), 0
    received: list[dict[str, Any]] = []
    with Stream(engine, secret, execution_id) as stream:
        snapshot = next(stream.frames())
    last = snapshot["id"]
    while not received or received[-1]["event"] != "execution":
        # Reconnect once the next event is stored, so that resuming replays it from the database.
        wait_until(partial(_stored_after, execution_id, last), RUN_TIMEOUT,
                   f"no event after #{last} was stored")
        with Stream(engine, secret, execution_id,
                    headers={"Last-Event-ID": str(last)}) as stream:
            frame = next(f for f in stream.frames() if "comment" not in f)  # then hang up
        received.append(frame)
        last, resumes = frame["id"], resumes + 1
    seqs = [f["id"] for f in received]
    assert seqs == _stored_seqs(execution_id)[snapshot["id"]:]  # all of them, once, in order
    assert resumes >= 3 and snapshot["data"]["status"] == "RUNNING"


def test_a_stream_left_mid_run_leaves_the_execution_group(engine: str, api: ApiClient,
                                                          owner: User) -> None:
    from django.conf import settings

    from executions.events import group_name

    execution_id = execute(api, _pipeline(api, hang=True))  # still running when left
    # The pub/sub layer subscribes a process to a group's Redis channel while one of its
    # listeners is in the group ("<prefix>__group__<group>", channels-redis's naming).
    group_channel = f"asgi__group__{group_name(execution_id)}"
    store = redis.Redis.from_url(settings.REDIS_URL)

    def subscribers() -> int:
        return int(dict(store.pubsub_numsub(group_channel))[group_channel.encode()])

    with Stream(engine, _secret(owner), execution_id) as stream:
        frames = stream.frames()  # dropping the reader would close the connection
        next(frames)
        during = subscribers()
    assert during == 1
    # The server notices the disconnect, then leaves the group.
    wait_until(lambda: subscribers() == 0, RUN_TIMEOUT,
               "the stream's channel is still in the execution's group")


def test_without_a_channel_layer_the_stream_reads_the_database(
        engine: str, api: ApiClient, owner: User, monkeypatch: pytest.MonkeyPatch) -> None:
    from executions import sse

    monkeypatch.setattr(sse, "get_channel_layer", lambda: None)
    monkeypatch.setattr(sse, "POLL_SECONDS", 0.1)
    execution_id = execute(api, _pipeline(api))
    with Stream(engine, _secret(owner), execution_id) as stream:
        frames = stream.events()
    assert [f["id"] for f in frames[1:]] == _stored_seqs(execution_id)[frames[0]["id"]:]
    assert frames[-1]["data"]["status"] == "COMPLETED"


def test_a_quiet_stream_sends_keep_alive_comments(engine: str, api: ApiClient, owner: User,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from executions import sse

    monkeypatch.setattr(sse, "PING_SECONDS", 0.2)
    monkeypatch.setattr(sse, "RECHECK_SECONDS", 0.1)
    # The model never answers, so the stream stays quiet until the test cancels the run.
    execution_id = execute(api, _pipeline(api, hang=True))
    with Stream(engine, _secret(owner), execution_id) as stream:
        frames = stream.frames()
        assert next(frames)["event"] == "snapshot"
        assert next((frame for frame in frames if "comment" in frame), None) == {"comment": "ping"}
        assert api.post(f"/workflows/executions/{execution_id}/cancel").status_code == 202
        rest = list(frames)
    assert rest[-1]["event"] == "execution"
    assert rest[-1]["data"]["status"] == "CANCELLED"


def test_the_stream_ends_when_its_execution_is_deleted(engine: str, api: ApiClient, owner: User,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from executions import sse

    monkeypatch.setattr(sse, "RECHECK_SECONDS", 0.2)
    # No keep-alive could hold a stream that failed to end open; the run never ends by itself.
    monkeypatch.setattr(sse, "PING_SECONDS", 3600.0)
    workflow_id = _pipeline(api, hang=True)
    execution_id = execute(api, workflow_id)
    with Stream(engine, _secret(owner), execution_id, timeout=RUN_TIMEOUT) as stream:
        frames = stream.frames()
        assert next(frames)["event"] == "snapshot"
        assert api.delete(f"/workflows/{workflow_id}").status_code == 204
        try:
            rest = list(frames)  # returns once the server ends the stream
        except httpx.ReadTimeout:
            pytest.fail(f"the stream was still open {RUN_TIMEOUT} s after the deletion")
    assert all(frame.get("event") != "execution" for frame in rest)


# --- Errors before the stream starts are the API's JSON error bodies --------------------------

def test_without_credentials_the_answer_is_401(engine: str, api: ApiClient) -> None:
    execution_id = execute(api, _pipeline(api, latency="0s"))
    response = httpx.get(f"{engine}/api/v1{_path(execution_id)}", timeout=10)
    assert response.status_code == 401
    assert response.json() == {"error": "Missing Authorization header",
                               "code": "missing_authorization"}


def test_a_malformed_key_is_401(engine: str, api: ApiClient) -> None:
    execution_id = execute(api, _pipeline(api, latency="0s"))
    response = httpx.get(f"{engine}/api/v1{_path(execution_id)}", timeout=10,
                         headers={"Authorization": "Token abc"})
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_api_key_format"


def test_a_key_without_executions_read_is_403(engine: str, api: ApiClient,
                                              api_for: Callable[..., ApiClient],
                                              owner: User) -> None:
    execution_id = execute(api, _pipeline(api, latency="0s"))
    response = api_for(owner, scopes=["workflows:read"]).get(_path(execution_id))
    assert response.status_code == 403
    assert response.json() == {"error": "Forbidden: missing scope executions:read",
                               "code": "forbidden"}


def test_a_stranger_gets_404(engine: str, api: ApiClient, api_for: Callable[..., ApiClient],
                             stranger: User) -> None:
    execution_id = execute(api, _pipeline(api, latency="0s"))
    response = api_for(stranger).get(_path(execution_id))
    assert response.status_code == 404
    assert response.json() == {"error": "Execution not found", "code": "not_found"}


def test_a_teammate_may_listen(engine: str, api: ApiClient, teammate: User) -> None:
    execution_id = execute(api, _pipeline(api, latency="0s"))
    wait_for(api, execution_id)
    with Stream(engine, _secret(teammate), execution_id) as stream:
        frames = stream.events()
    assert frames[0]["data"]["executionId"] == execution_id


@pytest.mark.parametrize("execution_id", ["not-a-uuid", "00000000-0000-0000-0000-000000000000"])
def test_an_unknown_execution_is_404(api: ApiClient, execution_id: str) -> None:
    response = api.get(_path(execution_id))
    assert response.status_code == 404
    assert response.json()["error"] == "Execution not found"


@pytest.mark.parametrize("value", ["abc", "-1", "99999999999999999999999"])
def test_a_bad_last_event_id_is_400_naming_it(engine: str, api: ApiClient, value: str) -> None:
    execution_id = execute(api, _pipeline(api, latency="0s"))
    response = api.get(_path(execution_id), headers={"Last-Event-ID": value})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_request"
    assert "Last-Event-ID" in response.json()["error"]
