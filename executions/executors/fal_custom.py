"""`fal:custom`'s executor: the fal queue like every fal node (fal.FalModelExecutor), for the
endpoint in the params, with the input's placeholders filled and the output mapped to ports by
the params' JSON paths (the rules are in workflows/nodes/fal_custom.py's docstring)."""

import json
from dataclasses import dataclass
from typing import Any, Literal, cast

from executions.engine.contracts import (
    NodeContext,
    NodeFailure,
    NodeResult,
    RemoteJob,
    RemoteStatus,
)
from workflows.nodes.fal_custom import (
    AUDIO_FALLBACK,
    CREDITS_PER_RUN,
    EXCERPT_CHARS,
    FalCustomParams,
    json_path,
)

from .fal import FalModelExecutor, check_job, client, submit_job
from .runtime import absolute
from .table import executes
from .text import STEP, as_text, fill_body, placeholder_values, read_json_path


def fal_input(ctx: NodeContext) -> dict[str, Any]:
    """The JSON sent to fal: the input with its placeholders filled (see the module docstring)."""
    params = cast(FalCustomParams, ctx.params)
    values = placeholder_values(ctx, "vars")
    own = {"prompt": params.prompt, "image_url": absolute(params.image_url)}
    values.update({name: value for name, value in own.items() if value})
    body = fill_body(json.dumps(params.input, ensure_ascii=False), values)
    if not isinstance(body, dict):  # validated as an object: filling keeps it one
        raise NodeFailure("the input must be a JSON object")
    for name, value in own.items():
        if value and name not in body:
            body[name] = value
    return body


def _read(output: Any, path: str) -> Any:
    try:
        return read_json_path(output, json_path(path))
    except NodeFailure:
        return None


def _url(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("url")
    return value if isinstance(value, str) and value else None


def _all_images(output: Any, path: str) -> list[str]:
    """Every URL of the list the image path indexes (`images[0].url`: each `images[i].url`)."""
    steps = json_path(path)[1:]
    indexes = [step for step in STEP.finditer(steps) if step.group(2) is not None]
    if not indexes:
        found = _url(_read(output, path))
        return [found] if found else []
    last = indexes[-1]
    items = _read(output, "$" + steps[:last.start()])
    if not isinstance(items, list):
        return []
    rest = "$" + steps[last.end():]
    urls = [_url(_read(item, rest)) for item in items[:100]]
    return [url for url in urls if url]


def map_output(params: FalCustomParams, output: dict[str, Any]) -> dict[str, Any]:
    """The output's ports by the params' paths; fails when no path finds anything."""
    ports: dict[str, Any] = {}
    if params.image_path.strip():
        images = _all_images(output, params.image_path)
        image = _url(_read(output, params.image_path))
        if image:
            ports["image"] = image
            ports["images"] = images or [image]
    if params.video_path.strip() and (video := _url(_read(output, params.video_path))):
        ports["video"] = video
    audio_paths = AUDIO_FALLBACK if params.audio_path.strip() == AUDIO_FALLBACK[0] \
        else (params.audio_path,)
    for path in audio_paths:
        if path.strip() and (audio := _url(_read(output, path))):
            ports["audio"] = audio
            break
    if params.text_path.strip():
        text = _read(output, params.text_path)
        if text is not None:
            ports["text"] = as_text(text)
    if not ports:
        tried = ", ".join(path for path in (params.image_path, params.video_path,
                                            *audio_paths, params.text_path) if path.strip())
        shown = json.dumps(output, ensure_ascii=False)
        shown = shown[:EXCERPT_CHARS] + ("…" if len(shown) > EXCERPT_CHARS else "")
        raise NodeFailure(f"the output has nothing at {tried}: {shown}")
    return {**ports, "json": output}


@dataclass(frozen=True)
class FalCustomExecutor:
    """The fal queue like every fal node (FalModelExecutor), for the endpoint in the params."""

    price: float = CREDITS_PER_RUN
    kind: Literal["remote"] = "remote"

    async def submit(self, ctx: NodeContext) -> RemoteJob:
        params = cast(FalCustomParams, ctx.params)
        return await submit_job(ctx, params.endpoint, fal_input(ctx))

    async def check(self, ctx: NodeContext, job: RemoteJob) -> RemoteStatus:
        return await check_job(ctx, job)

    async def fetch(self, ctx: NodeContext, job: RemoteJob) -> NodeResult:
        delivered = job.delivered
        output = FalModelExecutor._from_webhook(delivered) if delivered is not None else None
        if output is None:
            output = await client(ctx).result(job.urls["response"])
        ports = map_output(cast(FalCustomParams, ctx.params), output)
        team = ctx.credentials is not None and ctx.credentials.source == "team"
        return NodeResult(ports=ports, output=output, credits=0.0 if team else self.price)

    async def cancel(self, job: RemoteJob) -> None:
        await _SHARED.cancel(job)


# Cancelling needs nothing of a model: the named nodes' executor does it the same way.
_SHARED = FalModelExecutor(model_id="", output="images", price=0, unit="image")


executes("fal:custom", FalCustomExecutor(price=CREDITS_PER_RUN))
