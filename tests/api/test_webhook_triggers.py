"""Webhook triggers (docs/api.md): enabling and rotating through the API, then the public trigger
URL with no API key: inputs, CORS, signatures, idempotency, limits and every error."""

import json
import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from accounts.models import Membership, Role, Team, User
from executions.models import Execution
from tests.conftest import ApiClient
from wireflow_site.signing import sign
from workflows.models import Workflow

from .run_helpers import create_workflow, error_of, forget_rate_limits, inputs_graph

pytestmark = pytest.mark.django_db
QUEUED = {"status": "queued", "message": "Workflow execution queued successfully"}
NOT_FOUND = {"error": "Webhook not found", "code": "not_found"}
SECRET = "whsec-0123456789abcdef"


@pytest.fixture(autouse=True)
def _no_rate_limits(settings: Any) -> None:
    settings.RATE_LIMITS_ENABLED = False


def put(api: ApiClient, workflow: dict[str, Any], **fields: Any) -> Any:
    body = {"name": workflow["name"], "nodes": workflow["nodes"], "edges": workflow["edges"],
            **fields}
    return api.put(f"/workflows/{workflow['id']}", body)


@pytest.fixture
def workflow(api: ApiClient) -> dict[str, Any]:
    created = create_workflow(api, inputs_graph(), name="Fox hook")
    enabled = put(api, created, webhookEnabled=True)
    assert enabled.status_code == 200, enabled.content
    return enabled.json()  # type: ignore[no-any-return]


@pytest.fixture
def web() -> Client:
    """A client with no API key and no session: anyone on the internet."""
    return Client()


def trigger_url(workflow: dict[str, Any], short: bool = False) -> str:
    return f"{'' if short else '/api/v1'}/workflow/{workflow['webhookId']}/trigger"


def fire(web: Client, workflow: dict[str, Any], body: Any = None, *, raw: bytes | None = None,
         short: bool = False, headers: dict[str, str] | None = None) -> Any:
    data = raw if raw is not None else json.dumps({"Style": "photo"} if body is None else body)
    return web.post(trigger_url(workflow, short), data=data, content_type="application/json",
                    headers=headers or {})


# --- Enabling, disabling, rotating ----------------------------------------------------------

def test_enabling_gives_an_unguessable_id_and_the_trigger_url(workflow: dict[str, Any],
                                                              settings: Any) -> None:
    webhook_id = workflow["webhookId"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{32}", webhook_id)  # 24 random bytes: 192 bits
    assert workflow["webhookUrl"] == f"{settings.SITE_URL}/api/v1/workflow/{webhook_id}/trigger"
    assert (workflow["webhookEnabled"], workflow["webhookSecretSet"]) == (True, False)


def test_a_put_that_leaves_webhook_enabled_out_keeps_the_webhook(api: ApiClient,
                                                                 workflow: dict[str, Any]) -> None:
    saved = put(api, workflow, description="edited in the editor").json()
    assert saved["webhookId"] == workflow["webhookId"]


def test_disabling_leaves_nothing_reachable_and_enabling_again_gives_a_new_id(
        api: ApiClient, web: Client, workflow: dict[str, Any]) -> None:
    disabled = put(api, workflow, webhookEnabled=False).json()
    assert (disabled["webhookId"], disabled["webhookUrl"], disabled["webhookEnabled"]) == \
        (None, None, False)
    assert fire(web, workflow).json() == NOT_FOUND
    again = put(api, workflow, webhookEnabled=True).json()
    assert again["webhookId"] not in (None, workflow["webhookId"])
    assert fire(web, workflow).status_code == 404
    assert fire(web, again).status_code == 202


def test_rotating_gives_a_new_id_and_the_old_url_stops_working(
        api: ApiClient, web: Client, workflow: dict[str, Any]) -> None:
    rotated = api.post(f"/workflows/{workflow['id']}/webhook/rotate")
    assert rotated.status_code == 200
    assert rotated.json()["webhookId"] != workflow["webhookId"]
    assert rotated.json()["webhookUrl"].endswith(f"/workflow/{rotated.json()['webhookId']}/trigger")
    assert fire(web, workflow).json() == NOT_FOUND
    assert fire(web, rotated.json()).status_code == 202


def test_rotating_a_disabled_webhook_is_409(api: ApiClient) -> None:
    created = create_workflow(api)
    response = api.post(f"/workflows/{created['id']}/webhook/rotate")
    assert error_of(response) == (409, "webhook_disabled")


def test_rotating_is_for_the_team_s_editors_only(api_for: Callable[..., ApiClient],
                                                 stranger: User, make_user: Any, team: Team,
                                                 workflow: dict[str, Any]) -> None:
    path = f"/workflows/{workflow['id']}/webhook/rotate"
    assert error_of(api_for(stranger).post(path)) == (404, "not_found")
    viewer = make_user("viewer@example.com")
    Membership.objects.create(team=team, user=viewer, role=Role.VIEWER)
    viewer.current_team = team
    viewer.save(update_fields=["current_team"])
    assert error_of(api_for(viewer).post(path)) == (403, "forbidden_role")
    assert Workflow.objects.get().webhook_id == workflow["webhookId"]


# --- The signing secret is write-only ------------------------------------------------------

def test_the_secret_is_stored_encrypted_and_never_returned(api: ApiClient,
                                                           workflow: dict[str, Any]) -> None:
    saved = put(api, workflow, webhookSecret=SECRET)
    assert saved.status_code == 200
    assert saved.json()["webhookSecretSet"] is True
    for response in (saved, api.get(f"/workflows/{workflow['id']}"), api.get("/workflows")):
        assert SECRET not in response.content.decode()
        assert "webhookSecret\"" not in response.content.decode()
    stored = Workflow.objects.get().webhook_secret
    assert stored and SECRET not in stored


@pytest.mark.parametrize("clear", ["", None])
def test_an_empty_or_null_secret_clears_it(api: ApiClient, web: Client,
                                           workflow: dict[str, Any], clear: Any) -> None:
    put(api, workflow, webhookSecret=SECRET)
    assert put(api, workflow, webhookSecret=clear).json()["webhookSecretSet"] is False
    assert fire(web, workflow).status_code == 202  # no signature needed any more


def test_a_put_without_the_secret_keeps_it(api: ApiClient, workflow: dict[str, Any]) -> None:
    put(api, workflow, webhookSecret=SECRET)
    assert put(api, workflow, description="x").json()["webhookSecretSet"] is True


@pytest.mark.parametrize("bad", [123, "x" * 256, "nul\u0000char-long-enough",
                                 "x", "short-secret", "x" * 15])
def test_a_bad_secret_is_400(api: ApiClient, workflow: dict[str, Any], bad: Any) -> None:
    response = put(api, workflow, webhookSecret=bad)
    assert error_of(response) == (400, "invalid_request")
    assert "webhookSecret" in response.json()["fields"]
    assert Workflow.objects.get().webhook_secret == ""


def test_a_secret_shorter_than_16_characters_is_refused_and_16_are_enough(
        api: ApiClient, workflow: dict[str, Any]) -> None:
    response = put(api, workflow, webhookSecret="x" * 15)
    assert "at least 16 characters" in response.json()["error"]
    assert put(api, workflow, webhookSecret="x" * 16).json()["webhookSecretSet"] is True


# --- Triggering -------------------------------------------------------------------------------

def test_a_post_with_no_api_key_queues_a_run_with_inputs_by_label(
        web: Client, workflow: dict[str, Any]) -> None:
    body = {"style": "sketch", "PROMPT": "a grey wolf", "source": {"form": 7}}
    response = fire(web, workflow, body)
    assert response.status_code == 202
    execution = Execution.objects.get()
    assert response.json() == {"executionId": str(execution.pk), **QUEUED}
    assert execution.inputs == {"style": "sketch", "prompt": "a grey wolf"}  # "source": ignored
    assert execution.trigger_data == body
    assert (execution.trigger, execution.created_by) == ("webhook", None)


def test_node_ids_fill_inputs_too_and_win_over_labels(web: Client,
                                                      workflow: dict[str, Any]) -> None:
    assert fire(web, workflow, {"style": "photo", "count": 4}).status_code == 202
    assert Execution.objects.get().inputs == {"style": "photo", "count": 4}


def test_the_short_url_works_the_same(web: Client, workflow: dict[str, Any]) -> None:
    response = fire(web, workflow, short=True)
    assert response.status_code == 202
    assert response.json()["status"] == "queued"


def test_get_describes_the_webhook(web: Client, workflow: dict[str, Any]) -> None:
    for short in (False, True):
        response = web.get(trigger_url(workflow, short))
        assert response.status_code == 200
        described = response.json()
        assert set(described) == {"workflowId", "name", "isActive", "message"}
        assert (described["workflowId"], described["name"], described["isActive"]) == \
            (workflow["id"], "Fox hook", True)
        assert response["Access-Control-Allow-Origin"] == "*"


def test_no_cookie_is_honoured_and_no_csrf_token_is_needed(owner: User,
                                                           workflow: dict[str, Any]) -> None:
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(owner)
    assert fire(browser, workflow).status_code == 202
    assert Execution.objects.get().created_by is None


def test_an_inactive_workflow_is_409(api: ApiClient, web: Client,
                                     workflow: dict[str, Any]) -> None:
    put(api, workflow, isActive=False)
    assert web.get(trigger_url(workflow)).json()["isActive"] is False
    assert error_of(fire(web, workflow)) == (409, "workflow_inactive")


# --- Errors -------------------------------------------------------------------------------

@pytest.mark.parametrize("webhook_id", ["unknown-webhook-id", "x" * 65, "%00", "a%0Ab"])
def test_an_unknown_webhook_is_404(web: Client, webhook_id: str) -> None:
    for short in (False, True):
        url = f"{'' if short else '/api/v1'}/workflow/{webhook_id}/trigger"
        for response in (web.post(url, data="{}", content_type="application/json"),
                         web.get(url)):
            assert response.status_code == 404
            assert response.json() == NOT_FOUND
            assert response["Access-Control-Allow-Origin"] == "*"


@pytest.mark.parametrize(("raw", "code"), [(b"{not json", "invalid_json"),
                                           (b"", "invalid_json"),
                                           (b"\xff\xfe", "invalid_json"),
                                           (b"[1, 2]", "invalid_request"),
                                           (b'"text"', "invalid_request"),
                                           (b'{"a": "nul\\u0000"}', "invalid_request")])
def test_a_body_that_is_not_a_json_object_is_400(web: Client, workflow: dict[str, Any],
                                                 raw: bytes, code: str) -> None:
    response = fire(web, workflow, raw=raw)
    assert error_of(response) == (400, code)
    assert response["Access-Control-Allow-Origin"] == "*"
    assert Execution.objects.count() == 0


def test_a_wrongly_typed_input_is_400(web: Client, workflow: dict[str, Any]) -> None:
    response = fire(web, workflow, {"Count": "many"})
    assert error_of(response) == (400, "invalid_request")


def test_a_body_over_256_kb_is_413_with_cors(web: Client, workflow: dict[str, Any]) -> None:
    response = fire(web, workflow, {"Prompt": "x" * (256 * 1024)})
    assert error_of(response) == (413, "payload_too_large")
    assert response["Access-Control-Allow-Origin"] == "*"


def test_other_methods_are_405_with_allow(web: Client, workflow: dict[str, Any]) -> None:
    response = web.put(trigger_url(workflow), data="{}", content_type="application/json")
    assert error_of(response) == (405, "method_not_allowed")
    assert response["Allow"] == "GET, POST, OPTIONS"


# --- CORS -----------------------------------------------------------------------------------

def test_a_preflight_is_answered_204_with_the_allowed_methods_and_headers(
        web: Client, workflow: dict[str, Any]) -> None:
    for short in (False, True):
        response = web.options(trigger_url(workflow, short), headers={
            "Origin": "https://forms.example.com", "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, idempotency-key"})
        assert response.status_code == 204
        assert response["Access-Control-Allow-Origin"] == "*"
        assert response["Access-Control-Allow-Methods"] == "GET, POST, OPTIONS"
        assert response["Access-Control-Allow-Headers"] == \
            "Content-Type, Idempotency-Key, X-Wireflow-Signature"
        assert int(response["Access-Control-Max-Age"]) > 0


def test_successful_answers_carry_the_cors_header(web: Client, workflow: dict[str, Any]) -> None:
    response = fire(web, workflow)
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "Idempotent-Replayed" in response["Access-Control-Expose-Headers"]


def test_the_api_itself_does_not_send_cors_headers(api: ApiClient) -> None:
    assert not api.get("/workflows").has_header("Access-Control-Allow-Origin")


# --- Signatures -----------------------------------------------------------------------------

@pytest.fixture
def signed(api: ApiClient, workflow: dict[str, Any]) -> dict[str, Any]:
    assert put(api, workflow, webhookSecret=SECRET).status_code == 200
    return workflow


BODY = json.dumps({"Style": "photo"}).encode()


def test_a_correctly_signed_request_is_accepted(web: Client, signed: dict[str, Any]) -> None:
    header = sign(SECRET, BODY, int(time.time()))
    response = fire(web, signed, raw=BODY, headers={"X-Wireflow-Signature": header})
    assert response.status_code == 202, response.content


def test_any_matching_v1_of_several_is_accepted(web: Client, signed: dict[str, Any]) -> None:
    header = sign(SECRET, BODY, int(time.time())).replace(",v1=", ",v1=" + "0" * 64 + ",v1=")
    assert fire(web, signed, raw=BODY, headers={"X-Wireflow-Signature": header}).status_code == 202


def _now() -> int:
    return int(time.time())


# Built when the test runs (not when it is collected), so the clock offsets stay exact.
BAD_SIGNATURES: dict[str, Callable[[], str | None]] = {
    "missing": lambda: None,
    "empty": lambda: "",
    "garbage": lambda: "garbage",
    "no digest": lambda: "t=,v1=abc",
    "no v1": lambda: f"t={_now()}",
    "another secret": lambda: sign("another-secret-entirely", BODY, _now()),
    "changed body": lambda: sign(SECRET, BODY + b" ", _now()),
    "too old": lambda: sign(SECRET, BODY, _now() - 301),
    # Well past the 300 s window: the server reads its clock a moment after the test did.
    "from the future": lambda: sign(SECRET, BODY, _now() + 330),
    "not ascii": lambda: sign(SECRET, BODY, _now()).replace("v1=", "v1=\u00fc"),
}


@pytest.mark.parametrize("case", list(BAD_SIGNATURES))
def test_a_missing_wrong_or_stale_signature_is_401(web: Client, signed: dict[str, Any],
                                                   case: str) -> None:
    header = BAD_SIGNATURES[case]()
    headers = {} if header is None else {"X-Wireflow-Signature": header}
    response = fire(web, signed, raw=BODY, headers=headers)
    assert error_of(response) == (401, "invalid_signature")
    assert response["Access-Control-Allow-Origin"] == "*"
    assert Execution.objects.count() == 0


def test_a_signature_4_minutes_old_is_still_accepted(web: Client,
                                                     signed: dict[str, Any]) -> None:
    header = sign(SECRET, BODY, _now() - 240)
    assert fire(web, signed, raw=BODY, headers={"X-Wireflow-Signature": header}).status_code == 202


def test_a_signature_over_the_timestamp_as_sent_is_checked(web: Client,
                                                           signed: dict[str, Any]) -> None:
    header = sign(SECRET, BODY, int(time.time()))
    stamp, digest = header.split(",")
    tampered = f"t={int(stamp[2:]) + 1},{digest}"  # a fresh time cannot be pasted on
    assert fire(web, signed, raw=BODY,
                headers={"X-Wireflow-Signature": tampered}).status_code == 401


def _signature_variants(header: str) -> dict[str, str]:
    """The same signature written differently: each is the same signature used again."""
    stamp, digest = header.split(",")
    return {"as sent": header, "upper-case hex": f"{stamp},v1={digest[3:].upper()}",
            "with spaces": f" {stamp} , {digest} ",
            "after another digest": f"{stamp},v1={'0' * 64},{digest}",
            "before another digest": f"{stamp},{digest},v1={'f' * 64}"}


@pytest.mark.parametrize("variant", list(_signature_variants("t=1,v1=" + "a" * 64)))
@pytest.mark.parametrize("short", [False, True])
def test_a_signed_request_is_accepted_once_and_a_replay_is_401(
        web: Client, signed: dict[str, Any], variant: str, short: bool) -> None:
    header = sign(SECRET, BODY, int(time.time()))
    assert fire(web, signed, raw=BODY, headers={"X-Wireflow-Signature": header}).status_code == 202

    again = _signature_variants(header)[variant]
    replayed = fire(web, signed, raw=BODY, short=short, headers={"X-Wireflow-Signature": again})

    assert error_of(replayed) == (401, "invalid_signature")
    assert "already used" in replayed.json()["error"]
    assert replayed["Access-Control-Allow-Origin"] == "*"
    assert Execution.objects.count() == 1


def test_each_freshly_signed_request_is_accepted(web: Client, signed: dict[str, Any]) -> None:
    now = int(time.time())
    answers = [fire(web, signed, raw=BODY, headers={"X-Wireflow-Signature": sign(SECRET, BODY, t)})
               for t in (now - 2, now - 1, now)]
    assert [a.status_code for a in answers] == [202, 202, 202]


def test_a_replay_with_the_first_idempotency_key_is_answered_by_the_first_response(
        web: Client, signed: dict[str, Any]) -> None:
    headers = {"X-Wireflow-Signature": sign(SECRET, BODY, int(time.time())),
               "Idempotency-Key": "order-7"}
    first = fire(web, signed, raw=BODY, headers=headers)

    retried = fire(web, signed, raw=BODY, headers=headers)
    other_key = fire(web, signed, raw=BODY, headers={**headers, "Idempotency-Key": "order-8"})
    no_key = fire(web, signed, raw=BODY, headers={"X-Wireflow-Signature": headers[
        "X-Wireflow-Signature"]})

    assert (first.status_code, retried.status_code) == (202, 202)
    assert (retried.json(), retried["Idempotent-Replayed"]) == (first.json(), "true")
    assert error_of(other_key) == (401, "invalid_signature")
    assert error_of(no_key) == (401, "invalid_signature")
    assert Execution.objects.count() == 1


def test_a_signed_request_that_started_nothing_may_be_sent_again(
        api: ApiClient, web: Client, signed: dict[str, Any]) -> None:
    header = {"X-Wireflow-Signature": sign(SECRET, BODY, int(time.time()))}
    put(api, signed, isActive=False)
    assert error_of(fire(web, signed, raw=BODY, headers=header)) == (409, "workflow_inactive")
    put(api, signed, isActive=True)

    assert fire(web, signed, raw=BODY, headers=header).status_code == 202
    assert error_of(fire(web, signed, raw=BODY, headers=header)) == (401, "invalid_signature")


def test_a_signature_of_one_webhook_is_no_replay_on_another(
        api: ApiClient, web: Client, signed: dict[str, Any]) -> None:
    other = put(api, create_workflow(api, inputs_graph(), name="Other"), webhookEnabled=True,
                webhookSecret=SECRET).json()
    header = {"X-Wireflow-Signature": sign(SECRET, BODY, int(time.time()))}
    assert fire(web, signed, raw=BODY, headers=header).status_code == 202
    assert fire(web, other, raw=BODY, headers=header).status_code == 202


def test_an_unreadable_secret_refuses_every_request(web: Client, signed: dict[str, Any]) -> None:
    Workflow.objects.update(webhook_secret="not-a-fernet-token")
    header = sign(SECRET, BODY, int(time.time()))
    assert error_of(fire(web, signed, raw=BODY, headers={"X-Wireflow-Signature": header})) == \
        (401, "invalid_signature")


# --- Idempotency and limits ----------------------------------------------------------------

def test_the_same_idempotency_key_queues_one_run_on_either_url(web: Client,
                                                               workflow: dict[str, Any]) -> None:
    first = fire(web, workflow, headers={"Idempotency-Key": "form-42"})
    again = fire(web, workflow, short=True, headers={"Idempotency-Key": "form-42"})
    assert (first.status_code, again.status_code) == (202, 202)
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert again["Access-Control-Allow-Origin"] == "*"
    other = fire(web, workflow, {"Style": "sketch"}, headers={"Idempotency-Key": "form-42"})
    assert error_of(other) == (422, "idempotency_key_reused")
    assert Execution.objects.count() == 1


def test_triggers_count_against_the_team_s_execution_limit(web: Client, team: Team,
                                                           workflow: dict[str, Any],
                                                           settings: Any) -> None:
    settings.RATE_LIMITS_ENABLED = True
    forget_rate_limits(team)
    answers = [fire(web, workflow) for _ in range(11)]  # the free plan: 10 a minute
    forget_rate_limits(team)
    assert [a.status_code for a in answers] == [202] * 10 + [429]
    assert answers[-1].json()["code"] == "rate_limited"
    assert answers[-1]["Access-Control-Allow-Origin"] == "*"
    assert Execution.objects.count() == 10


def test_each_webhook_has_a_per_minute_limit_of_its_own(api: ApiClient, web: Client,
                                                        team: Team, workflow: dict[str, Any],
                                                        settings: Any) -> None:
    settings.RATE_LIMITS_ENABLED = True
    settings.WEBHOOK_RATE_LIMIT_PER_MINUTE = 3
    forget_rate_limits(team)
    other = put(api, create_workflow(api, inputs_graph(), name="Other"),
                webhookEnabled=True).json()

    answers = [fire(web, workflow) for _ in range(4)]
    rotated = api.post(f"/workflows/{workflow['id']}/webhook/rotate").json()
    after_rotating = fire(web, rotated)
    elsewhere = fire(web, other)
    forget_rate_limits(team)

    assert [a.status_code for a in answers] == [202, 202, 202, 429]
    refused = answers[-1]
    assert refused.json()["code"] == "rate_limited"
    wait = refused.json()["retryAfter"]
    assert refused["Retry-After"] == str(wait) and 1 <= wait <= 60
    assert refused.json()["error"] == f"Rate limit exceeded. Try again in {wait} seconds."
    assert refused["Access-Control-Allow-Origin"] == "*"
    assert error_of(after_rotating) == (429, "rate_limited")  # a new URL, the same webhook
    assert elsewhere.status_code == 202  # the team's other webhooks are not held back
    assert Execution.objects.count() == 4


def test_the_per_webhook_limit_can_be_switched_off(web: Client, team: Team,
                                                   workflow: dict[str, Any],
                                                   settings: Any) -> None:
    settings.RATE_LIMITS_ENABLED = True
    settings.WEBHOOK_RATE_LIMIT_PER_MINUTE = 0
    forget_rate_limits(team)
    answers = [fire(web, workflow) for _ in range(4)]
    forget_rate_limits(team)
    assert [a.status_code for a in answers] == [202] * 4
