"""The executor of `replicate:custom`: the node's input JSON (placeholders filled from its
ports) becomes a Replicate prediction, created with the engine's webhook, checked (polled) and
fetched through ReplicateClient; the prediction's output becomes ports."""

import re
from dataclasses import dataclass
from typing import Any, Literal

from django.conf import settings

from executions.engine.contracts import (
    NodeContext,
    NodeFailure,
    NodeResult,
    RemoteJob,
    RemoteStatus,
)
from executions.providers.credentials import NoProviderKey
from executions.providers.replicate import (
    Prediction,
    ReplicateClient,
    parse_webhook,
    replicate_client,
)
from workflows.nodes.replicate import PRICE_PER_RUN

from .runtime import TextBudget, absolute
from .table import executes
from .text import fill_placeholders, placeholder_values, read_json_path, whole_placeholder

PROVIDER = "replicate"
MAX_DEPTH = 20  # how deep placeholders are looked for inside the input JSON
_STEP = re.compile(r"\b(\d{1,9})\s*/\s*(\d{1,9})\b")
_IMAGE = (".png", ".jpg", ".jpeg", ".webp", ".gif")
_VIDEO = (".mp4", ".webm", ".mov")
_AUDIO = (".wav", ".mp3", ".ogg", ".flac", ".m4a")


def client(ctx: NodeContext) -> ReplicateClient:
    """The node's team's key and base URL when it set one (Settings > Providers), else the
    platform's (REPLICATE_API_TOKEN, or the built-in simulator's own token)."""
    if ctx.credentials is None:
        raise NodeFailure(str(NoProviderKey(PROVIDER)))
    return ReplicateClient(ctx.credentials.base_url, ctx.credentials.api_key)


@dataclass(frozen=True)
class ReplicateExecutor:
    price: float
    kind: Literal["remote"] = "remote"

    def payload(self, ctx: NodeContext) -> dict[str, Any]:
        params: Any = ctx.params
        by_name: dict[str, Any] = placeholder_values(ctx, "vars")
        for port in ("prompt", "image_url"):
            if ctx.inputs.get(port) not in (None, ""):
                by_name[port] = absolute(ctx.inputs[port])
        budget = TextBudget("The filled input")
        body: dict[str, Any] = _fill(dict(params.input), by_name, budget, {}, 0)
        if "prompt" in by_name and "prompt" not in body:
            body["prompt"] = by_name["prompt"]
        simulate = (params.model_extra or {}).get("simulate")
        if settings.SIMULATORS_ENABLED and isinstance(simulate, str):
            body["simulate"] = simulate
        return body

    async def submit(self, ctx: NodeContext) -> RemoteJob:
        body = self.payload(ctx)
        prediction = await client(ctx).create(getattr(ctx.params, "model", ""), body,
                                              webhook_url=ctx.webhook_url or None)
        return RemoteJob(request_id=prediction.id,
                         urls={"get": prediction.get_url, "cancel": prediction.cancel_url},
                         webhook=bool(ctx.webhook_url))

    async def check(self, ctx: NodeContext, job: RemoteJob) -> RemoteStatus:
        prediction = _delivered(job)
        if prediction is None or not prediction.done:
            prediction = await client(ctx).get(job.urls["get"])
        _raise_unless_fine(prediction)
        return RemoteStatus(done=prediction.done, progress=_progress(prediction),
                            logs=prediction.logs.splitlines()[-50:])

    async def fetch(self, ctx: NodeContext, job: RemoteJob) -> NodeResult:
        prediction = _delivered(job)
        if prediction is None or not prediction.done:
            prediction = await client(ctx).get(job.urls["get"])
        _raise_unless_fine(prediction)
        if not prediction.succeeded:
            raise NodeFailure(f"the prediction is still {prediction.status}")
        ports = self.ports(ctx, prediction.output)
        credits = 0.0 if ctx.credentials is not None and ctx.credentials.source == "team" \
            else self.price
        output = {"output": ports["output"], "predictionId": prediction.id}
        if prediction.simulated:
            output["simulated"] = True  # labelled in the UI, like the fal simulator's
        return NodeResult(ports=ports, output=output, credits=credits)

    async def cancel(self, job: RemoteJob) -> None:
        if job.urls.get("cancel"):
            key = job.credentials  # the team's own key when the job runs on it
            replicate = ReplicateClient(key.base_url, key.api_key) if key is not None \
                else replicate_client()
            await replicate.cancel(job.urls["cancel"])

    def ports(self, ctx: NodeContext, output: Any) -> dict[str, Any]:
        path = getattr(ctx.params, "output_path", "") or ""
        value = read_json_path(output, path) if path else output
        return output_ports(value)


def output_ports(value: Any) -> dict[str, Any]:
    """`output` always; `text` for a string or a list of strings (an LLM's streamed tokens,
    joined); `image`/`images`, `video`, `audio` for media URLs."""
    ports: dict[str, Any] = {"output": value}
    items = value if isinstance(value, list) else [value]
    urls = [item for item in items if isinstance(item, str) and _is_url(item)]
    if urls and len(urls) == len(items):
        images = [url for url in urls if _ext_in(url, _IMAGE)]
        if images:
            ports.update(image=images[0], images=images)
        videos = [url for url in urls if _ext_in(url, _VIDEO)]
        if videos:
            ports["video"] = videos[0]
        audios = [url for url in urls if _ext_in(url, _AUDIO)]
        if audios:
            ports["audio"] = audios[0]
        if images or videos or audios:
            return ports
    if isinstance(value, str):
        ports["text"] = value
    elif isinstance(value, list) and value and all(isinstance(item, str) for item in value):
        ports["text"] = "".join(value)
    return ports


def _is_url(text: str) -> bool:
    return text.startswith(("https://", "http://", "/"))


def _ext_in(url: str, extensions: tuple[str, ...]) -> bool:
    return url.split("?", 1)[0].lower().endswith(extensions)


def _fill(value: Any, by_name: dict[str, Any], budget: TextBudget,
          texts: dict[str, tuple[str, int]], depth: int) -> Any:
    """`{{name}}` placeholders filled in every string of the input JSON; a string that is only
    one placeholder takes the value itself (a number stays a number, a list a list)."""
    if depth > MAX_DEPTH:
        raise NodeFailure(f"the input JSON is nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, str):
        name = whole_placeholder(value)
        if name is not None and name in by_name:
            return by_name[name]
        return fill_placeholders(value, by_name, budget, texts)
    if isinstance(value, dict):
        return {key: _fill(item, by_name, budget, texts, depth + 1)
                for key, item in value.items()}
    if isinstance(value, list):
        return [_fill(item, by_name, budget, texts, depth + 1) for item in value]
    return value


def _delivered(job: RemoteJob) -> Prediction | None:
    """Replicate's webhook body is the finished prediction; one we cannot read is ignored (the
    prediction is then polled)."""
    if job.delivered is None:
        return None
    try:
        prediction = parse_webhook(job.delivered)
    except ValueError:
        return None
    return prediction if prediction.id == job.request_id else None


def _raise_unless_fine(prediction: Prediction) -> None:
    if prediction.status == "failed":
        raise NodeFailure(prediction.error or "the model reported an error")
    if prediction.status == "canceled":
        raise NodeFailure("the prediction was canceled on Replicate")


def _progress(prediction: Prediction) -> float | None:
    if prediction.done:
        return 1.0
    for line in reversed(prediction.logs.splitlines()[-50:]):
        if step := _STEP.search(line):
            done, total = int(step.group(1)), int(step.group(2))
            if total > 0:
                return min(done / total, 1.0)
    return None


executes("replicate:custom", ReplicateExecutor(price=PRICE_PER_RUN))
