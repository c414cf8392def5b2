"""Turning a node run plus what arrived on its ports into an executor's context: params merged
with connected inputs and validated, run inputs applied to input nodes, the cache key."""

import hashlib
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from pydantic import ValidationError

from executions.executors import executor_for
from executions.models import Execution, NodePhase, NodeRun, NodeStatus
from executions.providers.credentials import (
    Credentials,
    NoProviderKey,
    platform_credentials,
    provider_credentials,
    team_credentials,
    withdrawn_team_key,
)
from workflows import dataflow
from workflows.nodes.registry import BaseParams, NodeType

from .contracts import Executor, NodeContext, NodeFailure
from .graphview import GraphView

_NOT_CACHED = frozenset({"retries", "timeoutSeconds", "continueOnError"})
HOOK_SALT = "wireflow.provider-hook"
# Whose key a job was submitted on, in NodeRun.remote: a bool, never taken for one of the job's
# URLs (remote.job_urls keeps the strings).
TEAM_KEY = "teamKey"
logger = logging.getLogger("wireflow.engine")


@dataclass(frozen=True)
class NodeInput:
    """Everything needed to (re)build a NodeContext, and what is stored as the run's input."""

    execution_id: str
    team_id: int
    node_id: str
    label: str
    spec: NodeType
    params: BaseParams
    inputs: dict[str, Any]
    input_labels: dict[str, list[str]]
    credentials: Credentials | None = None

    @property
    def billed_by_team(self) -> bool:
        """Runs on the team's own provider key: the provider bills the team, we charge 0."""
        return self.credentials is not None and self.credentials.source == "team"

    @property
    def executor(self) -> Executor:
        return executor_for(self.spec.node_type)

    @property
    def stored(self) -> dict[str, Any]:
        return {"params": self.params.model_dump(mode="json"), "inputs": self.inputs,
                "inputLabels": self.input_labels}

    @property
    def cache_key(self) -> str:
        params = {k: v for k, v in self.params.model_dump(mode="json").items()
                  if k not in _NOT_CACHED}
        blob = json.dumps({"type": self.spec.node_type, "params": params, "inputs": self.inputs},
                          sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()

    @property
    def timeout_seconds(self) -> int:
        return self.params.timeoutSeconds or self.spec.timeout_seconds

    def context(self, *, attempt: int, webhook: str) -> NodeContext:
        return NodeContext(
            execution_id=self.execution_id, team_id=self.team_id, node_id=self.node_id,
            node_type=self.spec.node_type, label=self.label, params=self.params,
            inputs=self.inputs, input_labels=self.input_labels, attempt=attempt,
            webhook_url=webhook, credentials=self.credentials,
        )

    @classmethod
    def from_stored(cls, ex: Execution, run: NodeRun, graph: GraphView,
                    keys: "KeyRing | None" = None) -> "NodeInput":
        stored = run.input or {}
        spec = graph.specs[run.node_id]
        return cls(
            execution_id=str(ex.pk), team_id=ex.team_id, node_id=run.node_id,
            label=graph.label(run.node_id), spec=spec,
            params=spec.params.model_validate(stored.get("params") or {}),
            inputs=stored.get("inputs") or {}, input_labels=stored.get("inputLabels") or {},
            credentials=job_credentials(ex.team_id, spec, keys, submitted_on_team_key(run)),
        )


def prepare(ex: Execution, run: NodeRun, graph: GraphView, decision: dataflow.Run,
            keys: "KeyRing | None" = None) -> NodeInput:
    spec: NodeType = graph.specs[run.node_id]
    raw = graph.params(run.node_id)
    if spec.input_param and run.node_id in ex.inputs:
        raw[spec.input_param] = ex.inputs[run.node_id]
    fields = spec.params.model_fields if spec.ports_override_params else {}
    merged = {**raw, **{port: value for port, value in decision.inputs.items() if port in fields}}
    try:
        params = spec.params.model_validate(merged)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise NodeFailure(f"Invalid params: {problems}") from exc
    labels = {port: [graph.label(source) for source in sources]
              for port, sources in decision.sources.items()}
    provider = spec.provider
    try:
        credentials = (keys or KeyRing(ex.team_id)).get(provider) if provider else None
    except NoProviderKey as exc:  # production, no key anywhere: fail before submitting
        raise NodeFailure(str(exc)) from exc
    return NodeInput(execution_id=str(ex.pk), team_id=ex.team_id, node_id=run.node_id,
                     label=graph.label(run.node_id), spec=spec, params=params,
                     inputs=dict(decision.inputs), input_labels=labels,
                     credentials=credentials)


def job_credentials(team_id: int, spec: NodeType, keys: "KeyRing | None" = None,
                    team_key: bool | None = None) -> Credentials | None:
    """For a node already submitted (checks, retries, cancels): the executor fails it when
    None. `team_key`: whether its job was submitted on the team's own key (False: on the
    platform's, whose account holds the job and pays for it, whatever key the team has set
    since; None: not known, the key a new submit would use). Sync: read before the provider
    calls, which run in an event loop."""
    provider = spec.provider
    if not provider:
        return None
    ring = keys or KeyRing(team_id)
    try:
        if team_key is False:
            return platform_credentials(provider)  # no read of the team's keys
        if team_key:  # never the platform's key, which the job is not on
            return ring.team(provider) or withdrawn_team_key(provider)
        return ring.get(provider)
    except NoProviderKey:
        return None


def submitted_on_team_key(run: NodeRun) -> bool | None:
    """Whose key the job of the run's current attempt was submitted on, as its claim recorded
    it (`remote["teamKey"]`); None when not known: no job in flight (a retry waits to submit
    anew, on the key the team has then) or claimed before this was recorded."""
    if run.phase not in (NodePhase.SUBMITTING, NodePhase.SUBMITTED):
        return None
    found = (run.remote or {}).get(TEAM_KEY)
    return found if isinstance(found, bool) else None



class KeyRing:
    """A team's provider credentials for one engine pass, each provider's read once: a pass
    that submits or checks a 100-way fan-out reads the team's fal key once, not 100 times. A
    pass lasts seconds at most; a key changed meanwhile is used from the next one.
    `keyed`: the providers the team has keys for, when read with the lease (state.py): a
    provider not among them is known to have none, without a read."""

    def __init__(self, team_id: int, keyed: frozenset[str] | None = None) -> None:
        self.team_id = team_id
        self._found: dict[str, Credentials | None] = {}  # None: no key (NoProviderKey)
        # The team's own only; None: none.
        self._team: dict[str, Credentials | None] = {}
        self._keyed = keyed

    def get(self, provider: str) -> Credentials:
        """provider_credentials, remembered; raises NoProviderKey as it does."""
        if provider not in self._found:
            try:
                self._found[provider] = (
                    platform_credentials(provider) if self._known_keyless(provider)
                    else provider_credentials(self.team_id, provider))
            except NoProviderKey:
                self._found[provider] = None
        found = self._found[provider]
        if found is None:
            raise NoProviderKey(provider)
        return found

    def team(self, provider: str) -> Credentials | None:
        """The team's own key for `provider`, None when it has none (never the platform's);
        raises NoProviderKey for a key sealed with a secret no longer configured."""
        found = self._found.get(provider)
        if found is not None and found.source == "team":
            return found
        if provider not in self._team:
            self._team[provider] = (None if self._known_keyless(provider)
                                    else team_credentials(self.team_id, provider))
        return self._team[provider]

    def _known_keyless(self, provider: str) -> bool:
        return self._keyed is not None and provider not in self._keyed


@dataclass(frozen=True)
class Flags:
    retries: int
    timeout_seconds: int
    continue_on_error: bool


def common_flags(graph: GraphView, node_id: str) -> Flags:
    """The params every node has, read leniently: a node whose params fail validation still
    needs to know whether to continue on error."""
    spec = graph.specs[node_id]
    try:
        base = BaseParams.model_validate(graph.params(node_id))
    except ValidationError:
        base = BaseParams.model_validate({})
    return Flags(retries=base.retries,
                 timeout_seconds=base.timeoutSeconds or spec.timeout_seconds,
                 continue_on_error=base.continueOnError)


def cached_result(team_id: int, cache_key: str) -> NodeRun | None:
    """The newest completed run of the same node type, params and inputs in this team."""
    return (NodeRun.objects.filter(cache_key=cache_key, status=NodeStatus.COMPLETED,
                                   execution__team_id=team_id)
            .order_by("-finished_at").first())


def webhook_url(run: NodeRun) -> str:
    token = signing.dumps({"run": run.pk, "attempt": run.attempt}, salt=HOOK_SALT, compress=True)
    return f"{settings.SITE_URL}/hooks/provider/{token}/"


# Set by every completion webhook that reaches the site over HTTP: while it is there, the
# provider's callbacks are known to arrive, and safety-net polls can be rare (retry.poll_delay).
WEBHOOKS_ARRIVE_KEY = "wireflow:webhooks-arrive"
WEBHOOKS_ARRIVE_SECONDS = 3600


_noted_at: float | None = None  # when this process last renewed the mark (time.monotonic)
NOTE_EVERY_SECONDS = 60.0
_known_at: float | None = None  # when this process last read the mark as set
READ_EVERY_SECONDS = 60.0


def note_webhook_arrived() -> None:
    """Renew the mark, at most once a minute per process: a burst of deliveries costs one
    cache write, not one each."""
    global _noted_at
    now = time.monotonic()
    if _noted_at is not None and now - _noted_at < NOTE_EVERY_SECONDS:
        return
    try:
        cache.set(WEBHOOKS_ARRIVE_KEY, 1, WEBHOOKS_ARRIVE_SECONDS)
    except Exception:  # the cache is down: the delivery itself was taken, which is what counts
        logger.warning("could not note that a webhook arrived", exc_info=True)
        return
    _noted_at = now


def webhooks_arrive() -> bool:
    """Whether a provider's completion webhook reached the site within the past hour. A site
    whose SITE_URL the providers cannot reach never sets it, and keeps polling every job at the
    shorter safety-net interval. It only spaces polls out: a cache that cannot answer (Redis
    restarting) reads as "not known", never as an error in the write that asked.

    Once read as set, the answer is kept by the process for a minute (READ_EVERY_SECONDS), so a
    worker submitting thousands of jobs reads the cache once a minute, not once per pass: at
    worst a job submitted in the minute after an hour without webhooks waits for its first
    poll as if they still arrived (a minute rather than 10 s)."""
    global _known_at
    now = time.monotonic()
    if _known_at is not None and now - _known_at < READ_EVERY_SECONDS:
        return True
    try:
        found = cache.get(WEBHOOKS_ARRIVE_KEY) is not None
    except Exception:
        logger.warning("could not read whether webhooks arrive", exc_info=True)
        return False
    _known_at = now if found else None
    return found


def read_hook_token(token: str) -> tuple[int, int] | None:
    try:
        data = signing.loads(token, salt=HOOK_SALT, max_age=7 * 24 * 3600)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict):
        return None
    run, attempt = data.get("run"), data.get("attempt")
    return (run, attempt) if isinstance(run, int) and isinstance(attempt, int) else None


__all__ = ["Executor", "Flags", "NodeInput", "cached_result", "common_flags", "prepare",
           "note_webhook_arrived", "read_hook_token", "webhook_url", "webhooks_arrive"]
