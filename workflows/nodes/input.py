"""Input nodes: the values a run starts from (set in the editor, or given as run inputs)."""

from __future__ import annotations

from pydantic import Field, model_validator

from workflows.graph import Port, PortType

from .fields import LongText, MediaUrl
from .registry import ADVANCED, BaseParams, InputType, NodeType, register


class InputParams(BaseParams):
    # Folded under "Advanced" with the common params: the value is what a node is about.
    required: bool = Field(False, description="A run must supply this value.",
                           json_schema_extra=ADVANCED)


class TextParams(InputParams):
    text: LongText = Field("", description="The text (a run input may replace it).")


class MediaParams(InputParams):
    url: MediaUrl = Field("", description="URL of the file, or upload one.")


class NumberParams(InputParams):
    value: float = Field(0, description="The number.")


class BooleanParams(InputParams):
    value: bool = Field(False, description="On or off.")


class SelectParams(InputParams):
    options: list[str] = Field(default_factory=list, max_length=100,
                               description="The choices offered.")
    value: str = Field("", description="The chosen option.")

    @model_validator(mode="after")
    def _value_is_an_option(self) -> SelectParams:
        if self.value and self.value not in self.options:
            raise ValueError(f"value '{self.value}' is not one of the options")
        return self


def _media(kind: str, port_type: PortType, name: str, input_type: InputType) -> NodeType:
    return NodeType(
        node_type=f"input:{kind}", label=f"{name} input", category="input",
        description=f"{name} file, by URL or upload.", params=MediaParams,
        outputs=(Port(kind, port_type, name),), input_param="url", input_type=input_type,
    )


register(
    NodeType(
        node_type="input:text", label="Text input", category="input",
        description="A piece of text, such as a prompt.", params=TextParams,
        outputs=(Port("text", PortType.TEXT, "Text"),), output_aliases={"prompt": "text"},
        input_param="text", input_type="text",
    ),
    # docs/api.md's input types: video and audio files are given by URL like any other file.
    _media("image", PortType.IMAGE, "Image", "image"),
    _media("video", PortType.VIDEO, "Video", "url"),
    _media("audio", PortType.AUDIO, "Audio", "url"),
    NodeType(
        node_type="input:number", label="Number input", category="input",
        description="A number.", params=NumberParams,
        outputs=(Port("value", PortType.NUMBER, "Number"),),
        input_param="value", input_type="number",
    ),
    NodeType(
        node_type="input:boolean", label="Yes/no input", category="input",
        description="A true/false switch.", params=BooleanParams,
        outputs=(Port("value", PortType.BOOLEAN, "Value"),),
        input_param="value", input_type="boolean",
    ),
    NodeType(
        node_type="input:select", label="Choice input", category="input",
        description="One option out of a list.", params=SelectParams,
        outputs=(Port("value", PortType.TEXT, "Choice"),),
        input_param="value", input_type="select",
    ),
)
