"""`fal:custom`: any fal endpoint id with a JSON input, its output mapped to ports by JSON path.

It runs through the same queue protocol as the named fal nodes (executions/engine/fal_executor:
the team's key via ctx.credentials, webhook, polling, cancel). The submit URL is always
`{fal base URL}/{endpoint}`: the endpoint is a bounded id of path segments, never a host.

The input is a JSON object whose strings may hold `{{name}}` placeholders: `{{prompt}}` and
`{{image_url}}` (the ports), and the labels of the nodes connected to `vars`. A string that is
exactly one placeholder becomes the value itself. When the input has no `prompt` (or
`image_url`) key and the port or param has a value, it is added under that key.

Each output port reads a JSON path of fal's output (`images[0].url` or `$.images[0].url`). A path
that finds nothing leaves its port empty; when no path finds anything the node fails, quoting
the output. `images` lists every item of the image path's list; `json` is the whole output.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal, cast

from pydantic import BeforeValidator, Field, field_validator

from executions.engine.contracts import (
    NodeContext,
    NodeFailure,
    NodeResult,
    RemoteJob,
    RemoteStatus,
)
from executions.engine.fal_executor import (
    FalModelExecutor,
    absolute,
    check_job,
    client,
    submit_job,
)
from workflows.graph import Port, PortType

from .fields import LongText, MediaUrl
from .http_request import fill_body, json_depth
from .registry import BaseParams, NodeType, register
from .utility import _STEP, JSON_PATH, as_text, placeholder_values, read_json_path

CREDITS_PER_RUN = 5.0
TIMEOUT_SECONDS = 600
MAX_ENDPOINT_LENGTH = 200
MAX_INPUT_CHARS = 100_000
MAX_INPUT_DEPTH = 32
MAX_PATH_LENGTH = 500
EXCERPT_CHARS = 300
# 2 to 8 segments of letters, digits, `.`, `_`, `-` (each starting with a letter or digit):
# "fal-ai/flux/dev". No scheme, host, query, spaces or `..`; a fixed, linear pattern.
ENDPOINT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}(?:/[A-Za-z0-9][A-Za-z0-9._-]{0,99}){1,7}")
AUDIO_FALLBACK = ("audio.url", "audio_file.url")
DEFAULT_ENDPOINT = "fal-ai/flux/dev"  # an example a new node starts with


def check_endpoint(value: str) -> str:
    if len(value) > MAX_ENDPOINT_LENGTH:
        raise ValueError(f"an endpoint id is at most {MAX_ENDPOINT_LENGTH} characters long")
    if ".." in value or not ENDPOINT.fullmatch(value):
        raise ValueError('must be a fal endpoint id such as "fal-ai/flux/dev" (no scheme, host, '
                         'spaces or query)')
    return value


def json_path(value: str) -> str:
    """A path as written (`images[0].url`) as the JSON path utility.py reads (`$.images[0].url`)."""
    value = value.strip()
    if not value or value.startswith("$"):
        return value
    return "$" + value if value.startswith("[") else "$." + value


def _check_path(value: str) -> str:
    if value.strip() and not JSON_PATH.fullmatch(json_path(value)):
        raise ValueError("must be a JSON path like images[0].url")
    return value


def _object_from_text(value: Any) -> Any:
    """The editor may send the input as JSON text: it is read as the object it holds."""
    if isinstance(value, str):
        if len(value) > MAX_INPUT_CHARS:
            raise ValueError(f"the input is at most {MAX_INPUT_CHARS:,} characters of JSON")
        if not value.strip():
            return {}
        try:
            return json.loads(value)
        except (ValueError, RecursionError) as exc:
            raise ValueError(f"must be a JSON object ({str(exc)[:100]})") from None
    return value


Path = Annotated[str, Field(max_length=MAX_PATH_LENGTH)]


class FalCustomParams(BaseParams):
    endpoint: str = Field(DEFAULT_ENDPOINT, max_length=MAX_ENDPOINT_LENGTH, title="Endpoint id",
                          description='The fal endpoint id, e.g. "fal-ai/flux/dev" (the model '
                                      "page's id; no URL).")
    input: Annotated[dict[str, Any], BeforeValidator(_object_from_text)] = Field(
        default_factory=dict, title="Input (JSON)",
        description='The input fal expects, as a JSON object; strings may hold {{prompt}}, '
                    '{{image_url}} or {{label}} of a node connected to Values.')
    prompt: LongText = Field("", description="Sent as prompt, unless a text is connected.")
    image_url: MediaUrl = Field("", title="Image URL",
                                description="Sent as image_url, unless an image is connected.")
    image_path: Path = Field("images[0].url", title="Image path",
                             description="Where the output holds the image.")
    video_path: Path = Field("video.url", title="Video path",
                             description="Where the output holds the video.")
    audio_path: Path = Field("audio.url", title="Audio path",
                             description="Where the output holds the audio (the default also "
                                         "tries audio_file.url).")
    text_path: Path = Field("", title="Text path",
                            description="Where the output holds a text, if anywhere.")

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, value: str) -> str:
        return check_endpoint(value)

    @field_validator("input")
    @classmethod
    def _bounded(cls, value: dict[str, Any]) -> dict[str, Any]:
        if json_depth(value) > MAX_INPUT_DEPTH:
            raise ValueError(f"nests deeper than {MAX_INPUT_DEPTH} levels")
        if len(json.dumps(value, ensure_ascii=False)) > MAX_INPUT_CHARS:
            raise ValueError(f"the input is at most {MAX_INPUT_CHARS:,} characters of JSON")
        return value

    @field_validator("image_path", "video_path", "audio_path", "text_path")
    @classmethod
    def _path(cls, value: str) -> str:
        return _check_path(value)


# --- Executor ------------------------------------------------------------------------------

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
    indexes = [step for step in _STEP.finditer(steps) if step.group(2) is not None]
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
    provider: str = "fal"  # whose key it runs on (executions.providers.credentials)

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

register(
    NodeType(
        node_type="fal:custom", label="fal model (any)", category="model",
        description="Calls any fal.ai endpoint by its id with a JSON input, and picks the "
                    "image, video, audio or text out of its output.",
        params=FalCustomParams,
        inputs=(Port("prompt", PortType.TEXT, "Prompt"),
                Port("image_url", PortType.IMAGE, "Image"),
                Port("vars", PortType.ANY, "Values", multiple=True)),
        outputs=(Port("image", PortType.IMAGE, "Image"), Port("images", PortType.IMAGE, "Images"),
                 Port("video", PortType.VIDEO, "Video"), Port("audio", PortType.AUDIO, "Audio"),
                 Port("text", PortType.TEXT, "Text"), Port("json", PortType.JSON, "JSON")),
        timeout_seconds=TIMEOUT_SECONDS, credits=CREDITS_PER_RUN, credit_unit="run",
        executor=FalCustomExecutor(price=CREDITS_PER_RUN),
    ),
)
