"""`replicate:custom`: any Replicate model, by "owner/name", "owner/name:<version>" or a
version id, with a JSON input whose strings may hold `{{port}}` placeholders.

Priced per run (PRICE_PER_RUN credits); a team running it on its own Replicate key pays 0.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import Field, field_validator

from workflows.graph import Port, PortType

from .registry import BaseParams, NodeType, register
from .utility import check_json_path

PRICE_PER_RUN = 5
TIMEOUT_SECONDS = 600
MAX_INPUT_CHARS = 100_000  # the input JSON, serialized
# "owner/name", "owner/name:<version>" or a bare 64-hex version id; bounded, no backtracking
# beyond the fixed lengths.
MODEL_REF = re.compile(r"(?:([A-Za-z0-9][\w.-]{0,63})/([A-Za-z0-9][\w.-]{0,127})"
                       r"(?::([0-9a-f]{64}))?|([0-9a-f]{64}))")


def model_ref(text: str) -> re.Match[str]:
    """The match of a model reference (groups: owner, name, version, bare version); raises
    ValueError when `text` is not one."""
    match = MODEL_REF.fullmatch(text.strip())
    if not match:
        raise ValueError('must be "owner/name", "owner/name:<version>" or a 64-hex version id')
    return match


class ReplicateParams(BaseParams):
    # A real official model by default, so a node dropped on the canvas is valid at once.
    model: str = Field("black-forest-labs/flux-schnell", max_length=300,
                       description='The model: "owner/name", "owner/name:<version>" or a '
                                   '64-hex version id.')
    input: dict[str, Any] = Field(default_factory=dict, description=(
        "The model's input as JSON. Strings may hold {{prompt}}, {{image_url}} or "
        "{{label}} placeholders filled from the connected nodes."))
    output_path: str = Field("", max_length=500, description="Optional JSON path into the "
                             "output, such as $[0] or $.text.")

    @field_validator("model")
    @classmethod
    def _model_ref(cls, value: str) -> str:
        model_ref(value)
        return value.strip()

    @field_validator("input")
    @classmethod
    def _input_size(cls, value: dict[str, Any]) -> dict[str, Any]:
        try:
            size = len(json.dumps(value))
        except (TypeError, ValueError, RecursionError) as exc:
            raise ValueError("must be a JSON object") from exc
        if size > MAX_INPUT_CHARS:
            raise ValueError(f"must be at most {MAX_INPUT_CHARS:,} characters of JSON")
        return value

    @field_validator("output_path")
    @classmethod
    def _path_syntax(cls, value: str) -> str:
        return check_json_path(value) if value else value


register(
    NodeType(
        node_type="replicate:custom", label="Replicate model", category="model",
        description="Runs any Replicate model with a JSON input; LLM tokens are joined into "
                    "text, image URLs come out as images.",
        params=ReplicateParams,
        inputs=(Port("prompt", PortType.TEXT, "Prompt"),
                Port("image_url", PortType.IMAGE, "Image"),
                Port("vars", PortType.ANY, "Values", multiple=True)),
        outputs=(Port("output", PortType.JSON, "Output"), Port("text", PortType.TEXT, "Text"),
                 Port("image", PortType.IMAGE, "Image"),
                 Port("images", PortType.IMAGE, "Images"),
                 Port("video", PortType.VIDEO, "Video"), Port("audio", PortType.AUDIO, "Audio")),
        timeout_seconds=TIMEOUT_SECONDS, credits=PRICE_PER_RUN, credit_unit="run",
        provider="replicate",
    ),
)
