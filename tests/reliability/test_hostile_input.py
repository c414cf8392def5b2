"""Hostile input, end to end: the corpus of tests/hostile.py (huge, NUL, lone surrogates, deep
nesting, regex and template bombs, huge numbers, wrong types) is fed to every text param of
every node type, to every JSON body of the API and to the public webhook trigger of the
running site (uvicorn, with a Celery worker on the provider simulators).

Every answer must be JSON: an error (4xx with an `error` message), or an acceptance whose
execution reaches a terminal state within a bound; never a 5xx, never HTML. Meanwhile /healthz
is polled from a thread, and must answer 200 every time.

The tables are derived, not written by hand: the text params from the node registry (a new node
type is covered as soon as it is registered), the bodies from the OpenAPI document the site
serves. Validation cases are the full cross product with the corpus (its big families sampled:
every member runs at the node level); executions are one per node type and hostile family,
with all the params that accepted that value set to it at once.

Found this way: a router's or a switch's regex of 10,000 characters ("[" * 10_000 + "]" *
10_000) pinned a worker process for minutes, past the regex timeout, and the execution stayed
RUNNING (see MAX_REGEX_LENGTH in workflows/nodes/fields.py).
"""

import io
import json
import logging
import re
import threading
import wave
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import httpx
import pytest

from executions.media import save_media
from executions.models import Execution, ExecutionStatus, NodeRun
from tests.builders import edge, node
from tests.conftest import ApiClient
from tests.harness import wait_until
from tests.hostile import HOSTILE, REGEX_BOMB_SUBJECT, TEMPLATE_BOMB_LABEL, Hostile
from workflows.graph import Port, PortType, compatible
from workflows.nodes.registry import NodeType, all_types, params_schema
from workflows.schemas import storable_json_problem

pytestmark = pytest.mark.django_db(transaction=True)

TERMINAL = {ExecutionStatus.COMPLETED, ExecutionStatus.FAILED, ExecutionStatus.CANCELLED}
# Bounds on a hang, not on a speed: a loaded two-core machine is slow, not wrong.
RUN_BOUND_SECONDS = 240.0
REQUEST_TIMEOUT_SECONDS = 60.0
HEALTHZ_TIMEOUT_SECONDS = 10.0
HEALTHZ_INTERVAL_SECONDS = 0.25
PARALLEL_REQUESTS = 4
# Where a hostile value goes in a body built with json.dumps: replaced by its raw JSON text.
SLOT = "\x01hostile\x01"
SLOT_JSON = json.dumps(SLOT).encode()
# A URL every URL field accepts and the SSRF guard refuses at once (not globally routable).
UNREACHABLE_URL = "http://127.0.0.1:9/hostile"
Json = dict[str, Any]
# Thousands of requests: httpx's line per request would drown a failure's report.
logging.getLogger("httpx").setLevel(logging.WARNING)


# --- The text params of every node type, from the registry ------------------------------------

@dataclass(frozen=True)
class TextParam:
    node_type: str
    name: str
    is_list: bool  # a list of texts (options, cases): the hostile value is one of its items

    @property
    def id(self) -> str:
        return f"{self.node_type}.{self.name}"


def _free_text(schema: Json) -> bool:
    """A string field the user types (not one of an enum), alone or as one choice of a union."""
    if schema.get("type") == "string" and "enum" not in schema and "const" not in schema:
        return True
    return any(_free_text(choice) for choice in schema.get("anyOf", []))


def text_params() -> list[TextParam]:
    found = []
    for nt in all_types():
        for name, prop in params_schema(nt.params)["properties"].items():
            if _free_text(prop):
                found.append(TextParam(nt.node_type, name, False))
            elif prop.get("type") == "array" and _free_text(prop.get("items", {})):
                found.append(TextParam(nt.node_type, name, True))
    return found


TEXT_PARAMS = text_params()
# The big families are sampled: each of their members runs against the node executors in
# tests/workflows/test_nodes_utility.py; here, across every param and body, two do.
SAMPLED_FAMILIES = {"regex-bomb", "compile-bomb", "template-scan"}
CORPUS = [hostile for hostile in HOSTILE if hostile.family not in SAMPLED_FAMILIES
          or [h for h in HOSTILE if h.family == hostile.family].index(hostile) < 2]
NODE_TYPES = {nt.node_type: nt for nt in all_types()}


def _base_value(prop: Json) -> Any:
    """A valid value for a required param without a default, from its schema."""
    choices = [c for c in prop.get("anyOf", [prop]) if c.get("type") != "null"]
    prop = choices[0] if choices else prop
    if "enum" in prop:
        return prop["enum"][0]
    kind = prop.get("type")
    if kind == "string":
        return UNREACHABLE_URL if prop.get("format") == "uri" else "a"
    if kind in ("integer", "number"):
        return prop.get("minimum", 1)
    if kind == "boolean":
        return False
    return [] if kind == "array" else {}


def base_params(nt: NodeType) -> Json:
    """The params a node of this type needs to be valid. An enum that offers `regex` is set
    to it: then the node's text params are patterns, their most hostile reading."""
    schema = params_schema(nt.params)
    params = {name: _base_value(prop) for name, prop in schema["properties"].items()
              if name in schema.get("required", [])}
    for name, prop in schema["properties"].items():
        if "regex" in prop.get("enum", []):
            params[name] = "regex"
    # Text that a rule between params asks for (a regex operator needs a value): an ordinary
    # one, param by param, kept when it makes the params more valid.
    for param in TEXT_PARAMS:
        errors = nt.param_errors(params, set())
        if not errors:
            break
        if param.node_type == nt.node_type:
            ordinary = _base_value(schema["properties"][param.name])
            trial = {**params, param.name: ordinary}
            if len(nt.param_errors(trial, set())) < len(errors):
                params = trial
    return params


# --- Graphs around a node under test -------------------------------------------------------


def _source_for(port: Port) -> NodeType:
    """The input node type that feeds this port: the same type first, else a compatible one;
    text first among those (input:text is registered first)."""
    inputs = [nt for nt in all_types() if nt.category == "input" and nt.input_param]
    for candidates in ([nt for nt in inputs if nt.outputs[0].type == port.type],
                       [nt for nt in inputs if compatible(nt.outputs[0].type, port.type)]):
        if candidates:
            return candidates[0]
    raise AssertionError(f"no input node type can feed {port.type} ports")


class Media:
    """Small real files on this site's storage, one per media port type, made once."""

    def __init__(self) -> None:
        self.urls: dict[PortType, str] = {}

    def url(self, port_type: PortType) -> str:
        if port_type not in self.urls:
            self.urls[port_type] = _save_media(port_type)
        return self.urls[port_type]


def _save_media(port_type: PortType) -> str:
    if port_type is PortType.IMAGE:
        from PIL import Image

        out = io.BytesIO()
        Image.new("RGB", (64, 48), "orange").save(out, format="PNG")
        return save_media(out.getvalue(), "png", "image/png", folder="hostile")
    if port_type is PortType.AUDIO:
        out = io.BytesIO()
        with wave.open(out, "wb") as sound:
            sound.setnchannels(1)
            sound.setsampwidth(2)
            sound.setframerate(8000)
            sound.writeframes(b"\0\0" * 8000)
        return save_media(out.getvalue(), "wav", "audio/wav", folder="hostile")
    return save_media(b"\0" * 64, "mp4", "video/mp4", folder="hostile")


def graph_around(nt: NodeType, params: Json, feed: str, media: Media,
                 unfed: frozenset[str] = frozenset()) -> Json:
    """input nodes -> the node under test (id `n`) -> a result. Required ports and optional
    text ports are connected (the text feed is labelled for the template bomb's placeholders),
    except those in `unfed`: a connected port replaces the param of the same name."""
    nodes = [node("n", nt.node_type, "n", **params)]
    edges = []
    for port in nt.inputs:
        text_port = port.type in (PortType.TEXT, PortType.ANY)
        if port.id in unfed or not (port.required or text_port):
            continue
        source = _source_for(port)
        assert source.input_param is not None
        source_id = f"in-{port.id}"
        value: Any = feed if source.input_type == "text" else media.url(port.type)
        nodes.append(node(source_id, source.node_type,
                          TEMPLATE_BOMB_LABEL if text_port else source_id,
                          **{source.input_param: value}))
        edges.append(edge(source_id, source.outputs[0].id, "n", port.id))
    if nt.outputs:
        nodes.append(node("out", "output:result", "out"))
        edges.append(edge("n", nt.outputs[0].id, "out", "value"))
    return {"nodes": nodes, "edges": edges}


def feed_for(hostile: Hostile) -> str:
    """What flows into the node's text ports: the value's subject, else the value itself when
    a text input node takes it, else an ordinary subject."""
    if hostile.subject is not None:
        return hostile.subject
    text_input = NODE_TYPES["input:text"]
    value = hostile.value
    if value is not None and storable_json_problem(value) is None and \
            not text_input.param_errors({text_input.input_param or "text": value}, set()):
        return value
    return REGEX_BOMB_SUBJECT


# --- Talking to the live site ----------------------------------------------------------------

def splice(body: Any, hostiles: list[Hostile]) -> bytes:
    """`body` as JSON with each SLOT, in order, replaced by a hostile value's raw JSON text."""
    pieces = json.dumps(body).encode().split(SLOT_JSON)
    assert len(pieces) == len(hostiles) + 1, body
    out = pieces[0]
    for hostile, piece in zip(hostiles, pieces[1:], strict=True):
        out += hostile.raw + piece
    return out


Answer = httpx.Response | Exception


@dataclass(frozen=True)
class Request:
    case: str
    method: str
    path: str
    body: Callable[[], bytes]  # built when sent: thousands of bodies, some of 2 MB
    anonymous: bool = False
    streams: bool = False  # the operation answers 200 with Server-Sent Events


@dataclass
class Report:
    """The problems found, case by case: reported together, so that one run shows them all."""

    problems: list[str] = field(default_factory=list)

    def check(self, case: str, answer: Answer, streams: bool = False) -> Json | None:
        """The answer's JSON body if it is a proper one; else a problem is recorded. An
        operation documented to stream may answer 200 with events instead: they must end
        with `done`, or with an `error` that says what went wrong."""
        if isinstance(answer, Exception):
            self.problems.append(f"{case}: no answer ({answer.__class__.__name__}: {answer})")
            return None
        status = answer.status_code
        content_type = answer.headers.get("content-type", "")
        if streams and status == 200 and content_type.startswith("text/event-stream"):
            self._check_stream(case, answer.text)
            return None
        if status >= 500 or not content_type.startswith("application/json"):
            self.problems.append(f"{case}: {status} {content_type}: {answer.text[:300]!r}")
            return None
        try:
            body = answer.json()
        except ValueError:
            self.problems.append(f"{case}: {status} with a body that is not JSON: "
                                 f"{answer.text[:300]!r}")
            return None
        if status >= 400 and not (isinstance(body, dict) and isinstance(body.get("error"), str)
                                  and body["error"]):
            self.problems.append(f"{case}: {status} without an error message: {body!r:.300}")
            return None
        return body if isinstance(body, dict) else {"_": body}

    def _check_stream(self, case: str, text: str) -> None:
        events = [(match[1], match[2]) for match in
                  re.finditer(r"^event: (\w+)\ndata: (.*)$", text, re.MULTILINE)]
        last, data = events[-1] if events else ("", "")
        if last == "done":
            return
        try:
            error = json.loads(data).get("error") if last == "error" else None
        except ValueError:
            error = None
        if not (isinstance(error, str) and error):
            self.problems.append(f"{case}: 200 stream that ends without done or an error: "
                                 f"{text[-300:]!r}")

    def assert_none(self, what: str) -> None:
        shown = "\n  ".join(self.problems[:40])
        assert not self.problems, f"{len(self.problems)} {what}:\n  {shown}"


class Site:
    """HTTP clients of the live site: with the team's API key, and anonymous (the webhook)."""

    def __init__(self, base: str, secret: str) -> None:
        self.base = base
        self.client = httpx.Client(base_url=base, timeout=REQUEST_TIMEOUT_SECONDS,
                                   headers={"Authorization": f"Bearer {secret}"})
        self.anonymous = httpx.Client(base_url=base, timeout=REQUEST_TIMEOUT_SECONDS)

    def send(self, request: Request) -> Answer:
        client = self.anonymous if request.anonymous else self.client
        try:
            return client.request(request.method, request.path, content=request.body(),
                                  headers={"Content-Type": "application/json"})
        except httpx.HTTPError as exc:
            return exc

    def send_all(self, requests: list[Request]) -> list[Answer]:
        """In order; a few at a time, so that the server always has one to read."""
        with ThreadPoolExecutor(max_workers=PARALLEL_REQUESTS) as pool:
            return list(pool.map(self.send, requests))

    def get(self, path: str) -> Answer:
        return self.send(Request(path, "GET", path, lambda: b""))

    def json(self, method: str, path: str, body: Any = None, expect: int = 200) -> Json:
        answer = self.client.request(method, path, json=body)
        assert answer.status_code == expect, (path, answer.status_code, answer.text[:2000])
        return dict(answer.json())

    def close(self) -> None:
        self.client.close()
        self.anonymous.close()


@pytest.fixture
def site(engine: str, api: ApiClient) -> Iterator[Site]:
    assert api.secret is not None
    client = Site(engine, api.secret)
    yield client
    client.close()


class Healthz:
    """GET /healthz from a thread, every quarter of a second, with a bounded timeout."""

    def __init__(self, base: str) -> None:
        self.url = f"{base}/healthz"
        self.answers: list[str] = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._poll, daemon=True)
        self.thread.start()

    def _poll(self) -> None:
        with httpx.Client(timeout=HEALTHZ_TIMEOUT_SECONDS) as client:
            while not self.stopped.is_set():
                try:
                    self.answers.append(str(client.get(self.url).status_code))
                except httpx.HTTPError as exc:
                    self.answers.append(f"{exc.__class__.__name__}: {exc}")
                self.stopped.wait(HEALTHZ_INTERVAL_SECONDS)

    def stop(self) -> list[str]:
        self.stopped.set()
        self.thread.join(timeout=HEALTHZ_TIMEOUT_SECONDS * 2)
        return self.answers

    def assert_answered(self) -> None:
        answers = self.stop()
        bad = [answer for answer in answers if answer != "200"]
        assert answers and not bad, (f"/healthz did not answer 200 {len(bad)} times out of "
                                     f"{len(answers)}: {bad[:10]}")


@pytest.fixture
def healthz(engine: str) -> Iterator[Healthz]:
    watcher = Healthz(engine)
    yield watcher
    watcher.stop()


def started_by(report: Report, requests: list[Request], answers: list[Answer]) -> dict[str, str]:
    """Checks every answer; the executions the accepted ones started, with their cases."""
    started = {}
    for request, answer in zip(requests, answers, strict=True):
        body = report.check(request.case, answer, request.streams)
        if body is not None and isinstance(body.get("executionId"), str):
            started[body["executionId"]] = request.case
    return started


def wait_terminal(site: Site, started: dict[str, str], report: Report) -> None:
    """Every execution started reaches a terminal state within the bound, and its poll answers
    a proper JSON body that says so."""
    running = Execution.objects.filter(pk__in=list(started), status=ExecutionStatus.RUNNING)

    def stuck() -> str:
        lines = []
        for execution in running:
            nodes = {run.node_id: run.status for run in NodeRun.objects.filter(
                execution=execution)}
            lines.append(f"{started[str(execution.pk)]}: {execution.pk} nodes {nodes}")
        return f"{len(lines)} executions still RUNNING:\n  " + "\n  ".join(lines[:30])

    wait_until(lambda: not running.exists(), RUN_BOUND_SECONDS, stuck, interval=0.2)
    polls = [Request(f"{case}: poll", "GET", f"/api/v1/workflows/executions/{execution_id}/poll",
                     lambda: b"") for execution_id, case in started.items()]
    for request, answer in zip(polls, site.send_all(polls), strict=True):
        polled = report.check(request.case, answer)
        if polled is None:
            continue
        if polled.get("status") not in TERMINAL:
            report.problems.append(f"{request.case}: polled {polled.get('status')}")
        elif polled["status"] == ExecutionStatus.FAILED and not polled.get("error"):
            report.problems.append(f"{request.case}: FAILED without an error message")


# --- The cheap tables ------------------------------------------------------------------------

def test_the_tables_cover_the_registry_and_the_corpus() -> None:
    """The derivations above find what a reader expects, so that they cannot silently shrink."""
    found = {param.id for param in TEXT_PARAMS}
    assert {"input:text.text", "utility:text_template.template", "utility:regex.pattern",
            "utility:regex.text", "logic:router.value", "logic:switch.cases",
            "generate:flux_2.prompt", "output:webhook.url"} <= found
    assert all(param.node_type in NODE_TYPES for param in TEXT_PARAMS)
    assert not {"utility:regex.mode", "generate:flux_2.image_size"} & found  # enums
    families = {hostile.family for hostile in CORPUS}
    assert {"huge", "nul", "surrogate", "deep-json", "deep-json-text", "regex-bomb",
            "compile-bomb", "template-bomb", "template-scan", "huge-number",
            "wrong-type"} == families
    assert max(len(hostile.raw) for hostile in CORPUS) >= 2_000_000
    assert base_params(NODE_TYPES["logic:router"])["operator"] == "regex"


# --- Every text param of every node type ------------------------------------------------------

def test_every_text_param_of_every_node_type_refuses_or_survives_hostile_values(
        site: Site, healthz: Healthz) -> None:
    report = Report()
    media = Media()

    # Validation: each param alone, each value; the param is not replaced by a connected port.
    # The graphs are valid without the hostile value: a refusal is the value's.
    for nt in {NODE_TYPES[param.node_type] for param in TEXT_PARAMS}:
        baseline = graph_around(nt, base_params(nt), "a fox", media)
        site.json("POST", "/api/v1/workflows", {"name": f"baseline {nt.node_type}",
                                                **baseline}, expect=201)
    requests, cases = [], []
    for param in TEXT_PARAMS:
        nt = NODE_TYPES[param.node_type]
        params = {**base_params(nt), param.name: [SLOT] if param.is_list else SLOT}
        graph = graph_around(nt, params, "a fox", media, unfed=frozenset({param.name}))
        for hostile in CORPUS:
            case = f"{param.id} = {hostile.id}"
            body = {"name": case[:200], **graph}
            requests.append(Request(case, "POST", "/api/v1/workflows",
                                    partial(splice, body, [hostile])))
            cases.append((param, hostile))
    accepted: dict[tuple[str, str], list[TextParam]] = defaultdict(list)  # (type, hostile id)
    for request, (param, hostile), answer in zip(requests, cases, site.send_all(requests),
                                                 strict=True):
        if report.check(request.case, answer) is not None and \
                isinstance(answer, httpx.Response) and answer.status_code == 201:
            accepted[(param.node_type, hostile.id)].append(param)

    # Executions: per node type and family, the first value some param took, in all of them.
    creations = []
    for nt in NODE_TYPES.values():
        done_families = set()
        for hostile in CORPUS:
            taken = accepted.get((nt.node_type, hostile.id))
            if not taken or hostile.family in done_families:
                continue
            done_families.add(hostile.family)
            case = f"run {nt.node_type} with {[p.name for p in taken]} = {hostile.id}"
            params = {**base_params(nt), **{p.name: [SLOT] if p.is_list else SLOT
                                            for p in taken}}
            body = {"name": case[:200], **graph_around(nt, params, feed_for(hostile), media)}
            creations.append(Request(case, "POST", "/api/v1/workflows",
                                     partial(splice, body, [hostile] * len(taken))))
    executes = []
    for request, answer in zip(creations, site.send_all(creations), strict=True):
        created = report.check(request.case, answer)
        if created is not None and "id" in created:  # else an error answer: a right one too
            executes.append(Request(request.case, "POST",
                                    f"/api/v1/workflows/{created['id']}/execute", lambda: b"{}"))
    started = started_by(report, executes, site.send_all(executes))

    wait_terminal(site, started, report)
    report.assert_none("hostile node params were not answered properly")
    takers = {node_type for node_type, _ in accepted}
    run = {case.split(" ")[1] for case in started.values()}
    assert takers <= run, f"took a hostile value but never ran: {takers - run}"
    assert len(run) >= len(NODE_TYPES) // 2, run  # the engine was really exercised
    healthz.assert_answered()


# --- Every JSON body of the API, and the webhook trigger --------------------------------------

def pipeline() -> Json:
    """Prompt -> a template, a regex, a JSON extract and a split -> one result: what a hostile
    input meets in a typical workflow (an owner's pattern that backtracks, a template that
    repeats its input 21 times: over the text limit for an input of 50 KB or more)."""
    def n(node_id: str, node_type: str, label: str, **params: Any) -> Json:
        return node(node_id, node_type, label, **params)

    nodes = [n("prompt", "input:text", "Prompt", text="a fox"),
             n("tpl", "utility:text_template", "tpl", template="{{prompt}}" * 21),
             n("rx", "utility:regex", "rx", pattern="(a|aa)+$"),
             n("js", "utility:json_extract", "js", path="$[0]"),
             n("split", "utility:split_list", "split"),
             n("out", "output:result", "out")]
    edges = [edge("prompt", "text", "tpl", "vars"), edge("prompt", "text", "rx", "text"),
             edge("prompt", "text", "js", "json"), edge("prompt", "text", "split", "text"),
             edge("tpl", "text", "out", "value"), edge("rx", "text", "out", "value"),
             edge("js", "value", "out", "value"), edge("split", "items", "out", "value")]
    return {"nodes": nodes, "edges": edges}


def resolve(schema: Json, document: Json) -> Json:
    """A schema with its $ref followed and its `X | None` union reduced to X."""
    while True:
        if "$ref" in schema:
            schema = document["components"]["schemas"][schema["$ref"].split("/")[-1]]
        elif "anyOf" in schema:
            schema = next(c for c in schema["anyOf"] if c.get("type") != "null")
        else:
            return schema


def bodies_of(schema: Json, graph: Json) -> dict[str, Any]:
    """The bodies that carry a hostile value (SLOT) somewhere, by where: the whole body, each
    property, the values of each object property, the items of each array property. Besides
    the slot, each is valid: the required properties from the schema, the graph properties
    from `graph`."""
    properties = schema.get("properties", {})
    base = {name: _base_value(prop) for name, prop in properties.items()
            if name in schema.get("required", [])}
    base.update({name: graph[name] for name in properties if name in graph})
    bodies: dict[str, Any] = {"the body": SLOT}
    for name, prop in properties.items():
        bodies[name] = {**base, name: SLOT}
        if prop.get("type") == "object" or "additionalProperties" in prop:
            bodies[f"{name}.Prompt"] = {**base, name: {"Prompt": SLOT}}
        if prop.get("type") == "array" or any(c.get("type") == "array"
                                                for c in prop.get("anyOf", [])):
            bodies[f"{name}[0]"] = {**base, name: [SLOT]}
    return bodies


# Deleting the caller's own team is the one body that ends the walk: another hostile request
# may well have renamed the team to exactly what this one confirms. Its refusals are covered in
# tests/accounts/test_team_api.py.
DESTRUCTIVE = {("delete", "/api/v1/team")}


def test_every_api_body_refuses_or_survives_hostile_values(site: Site,
                                                           healthz: Healthz) -> None:
    report = Report()
    graph = pipeline()
    workflow = site.json("POST", "/api/v1/workflows", {"name": "hostile api", **graph},
                         expect=201)
    execution = site.json("POST", f"/api/v1/workflows/{workflow['id']}/execute", {},
                          expect=201)
    template = site.json("POST", "/api/v1/templates",
                         {"workflowId": workflow["id"], "scope": "team"}, expect=201)
    invitation = site.json("POST", "/api/v1/team/invitations",
                           {"email": "hostile@example.com", "role": "viewer"}, expect=201)
    me = site.json("GET", "/api/v1/team/members")["members"][0]
    schedule = site.json("POST", f"/api/v1/workflows/{workflow['id']}/schedules",
                         {"cron": "0 9 * * *", "timezone": "UTC", "enabled": False},
                         expect=201)
    ids = {"workflow_id": workflow["id"], "execution_id": execution["executionId"],
           "number": "1", "a": "1", "b": "1", "template_id": template["id"],
           "invitation_id": invitation["id"], "user_id": me["userId"],
           "schedule_id": schedule["id"], "provider": "fal", "node_id": "tpl"}
    document = site.json("GET", "/api/v1/openapi.json")

    requests = []
    operations = 0
    for template, methods in document["paths"].items():
        for method, operation in methods.items():
            if (method, template) in DESTRUCTIVE:
                continue
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" not in content:
                continue
            operations += 1
            streams = "text/event-stream" in operation.get("responses", {}).get(
                "200", {}).get("content", {})
            names = re.findall(r"{(\w+)}", template)
            assert set(names) <= set(ids), f"no id for the path parameters of {template}"
            path = template.format(**ids)
            schema = resolve(content["application/json"]["schema"], document)
            for where, body in bodies_of(schema, graph).items():
                for hostile in CORPUS:
                    requests.append(Request(
                        f"{method.upper()} {template} {where} = {hostile.id}", method.upper(),
                        path, partial(splice, body, [hostile]), streams=streams))
    assert operations >= 5, "the OpenAPI document lost its JSON bodies"
    started = started_by(report, requests, site.send_all(requests))

    wait_terminal(site, started, report)
    report.assert_none("hostile API bodies were not answered properly")
    assert any("/execute inputs.Prompt" in case for case in started.values()), started
    healthz.assert_answered()


def test_the_webhook_trigger_refuses_or_survives_hostile_values(site: Site,
                                                                healthz: Healthz) -> None:
    report = Report()
    workflow = site.json("POST", "/api/v1/workflows", {"name": "hostile hook", **pipeline()},
                         expect=201)
    enabled = site.json("PUT", f"/api/v1/workflows/{workflow['id']}",
                        {"name": "hostile hook", "nodes": workflow["nodes"],
                         "edges": workflow["edges"], "webhookEnabled": True})
    path = f"/api/v1/workflow/{enabled['webhookId']}/trigger"

    requests = []
    for hostile in CORPUS:
        bodies: dict[str, Callable[[], bytes]] = {
            "the body": partial(bytes, hostile.raw),
            "Prompt": partial(splice, {"Prompt": SLOT}, [hostile]),
            "beside the inputs": partial(splice, {"Prompt": "a fox", "data": SLOT}, [hostile]),
            "a key": partial(b"".join, [b"{", hostile.raw, b": 1}"]),
        }
        if hostile.subject is not None:  # what the value works on: a regex bomb's subject
            bodies["Prompt = its subject"] = partial(splice, {"Prompt": hostile.subject}, [])
        requests += [Request(f"webhook {where} = {hostile.id}", "POST", path, body,
                             anonymous=True) for where, body in bodies.items()]
    started = started_by(report, requests, site.send_all(requests))

    wait_terminal(site, started, report)
    report.assert_none("hostile webhook triggers were not answered properly")
    assert any("Prompt = its subject" in case for case in started.values()), started
    healthz.assert_answered()
