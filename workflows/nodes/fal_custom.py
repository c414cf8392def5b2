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
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, field_validator

from workflows.graph import Port, PortType

from .fields import LongText, MediaUrl
from .http_request import json_depth
from .registry import BaseParams, NodeType, register
from .utility import JSON_PATH

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
        provider="fal",
    ),
)
