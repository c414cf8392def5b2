"""output:webhook through the engine: it signs with the secret it was given, and nothing a
client can read about the run (poll, details, the event stream, the WebSocket) carries it.

The delivery goes to the site's own webhook trigger, of a workflow signed with the same secret:
that endpoint accepts it only if the signature is right, so no test server is needed."""

import json
from typing import Any

import pytest

from accounts.models import User
from executions.models import Execution
from tests.conftest import ApiClient
from workflows import secretbox
from workflows.node_secrets import PLACEHOLDER

from .helpers import create_workflow, edge, execute, node, wait_for
from .test_live_events import _receive_until_done, _socket
from .test_sse import Stream, _secret

pytestmark = pytest.mark.django_db(transaction=True)
SECRET = "whsec-engine-0123456789-abcdef"


def receiver(api: ApiClient) -> str:
    """The trigger URL of a workflow that accepts only requests signed with SECRET."""
    workflow_id = create_workflow(api, [node("p", "input:text", text="x"),
                                        node("r", "output:result")],
                                  [edge("p", "text", "r", "value")], name="receiver")
    saved = api.put(f"/workflows/{workflow_id}", {
        "name": "receiver", "nodes": api.get(f"/workflows/{workflow_id}").json()["nodes"],
        "edges": [edge("p", "text", "r", "value")], "webhookEnabled": True,
        "webhookSecret": SECRET})
    assert saved.status_code == 200, saved.content
    return str(saved.json()["webhookUrl"])


def sender(api: ApiClient, url: str) -> str:
    return create_workflow(api, [node("p", "input:text", text="hello"),
                                 node("hook", "output:webhook", url=url, secret=SECRET)],
                           [edge("p", "text", "hook", "value")], name="sender")


def test_the_node_signs_with_its_secret_and_no_read_of_the_run_shows_it(
        engine: str, api: ApiClient, owner: User, settings: Any) -> None:
    settings.SITE_URL = engine  # the trigger URL the receiver gets is the live site's
    execution_id = execute(api, sender(api, receiver(api)))

    with Stream(engine, _secret(owner), execution_id) as stream:
        events = stream.events()
    with _socket(engine, owner, execution_id) as socket:
        messages = _receive_until_done(socket)
    poll = wait_for(api, execution_id)
    details = api.get(f"/workflows/executions/{execution_id}")

    assert poll["status"] == "COMPLETED", poll
    [state] = [s for s in details.json()["nodeStates"] if s["nodeId"] == "hook"]
    assert state["input"]["params"]["secret"] == PLACEHOLDER
    received = Execution.objects.exclude(pk=execution_id).get()  # the signature was accepted
    assert received.trigger_data["executionId"] == execution_id
    readable = [json.dumps(events), json.dumps(messages), json.dumps(poll),
                details.content.decode()]
    for text in readable:
        assert SECRET not in text
        assert secretbox.SEALED_PREFIX not in text
