"""Utility nodes: text and image helpers that run inline, free of charge."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from workflows.graph import Port, PortType

from .fields import LongText, Regex
from .registry import BaseParams, NodeType, register

# `$`, then `.key`, `[3]`, `[-1]` or `["any key"]` steps: a small JSON path, no filters or code.
JSON_PATH = re.compile(r"""\$(\.[A-Za-z_][\w-]*|\[-?\d+\]|\["[^"]*"\]|\['[^']*'\])*""")
ImageFormat = Literal["png", "jpeg", "webp"]
MAX_IMAGE_SIDE = 8192  # of an image the local image nodes decode or make


class ConcatParams(BaseParams):
    separator: str = Field(" ", max_length=100, description="Put between the texts.")


class TemplateParams(BaseParams):
    template: LongText = Field("", description="Text with {{name}} placeholders, filled from "
                                              "the connected nodes by their labels.")


class JsonExtractParams(BaseParams):
    path: str = Field("$", max_length=500, description='A JSON path such as $.items[0].url '
                                                     'or $["a key"].')

    @field_validator("path")
    @classmethod
    def _path_syntax(cls, value: str) -> str:
        return check_json_path(value)


def check_json_path(value: str) -> str:
    """A params validator: `value` must be a JSON path such as $.items[0].url."""
    if not JSON_PATH.fullmatch(value):
        raise ValueError("must be a JSON path like $.items[0].url")
    return value


class RegexParams(BaseParams):
    pattern: Regex = Field(description="A regular expression (Python syntax).")
    mode: Literal["extract", "extract_all", "replace", "test"] = Field(
        "extract", description="extract: the first match (or its first group); extract_all: "
                               "every match; replace: substitute; test: does it match?")
    replacement: str = Field("", max_length=10_000, description="Used by replace; \\1 for "
                                                                 "a group.")
    ignore_case: bool = Field(False, description="Match letters of either case.")
    text: LongText = Field("", description="The text to search, unless one is connected.")


class SplitParams(BaseParams):
    separator: str = Field("\n", min_length=1, max_length=100,
                           description="Where to cut the text (a new line by default).")
    trim: bool = Field(True, description="Strip spaces around each item.")
    drop_empty: bool = Field(True, description="Leave out empty items.")
    text: LongText = Field("", description="The text to split, unless one is connected.")


class ResizeParams(BaseParams):
    width: int | None = Field(None, ge=1, le=MAX_IMAGE_SIDE, description="Pixels; empty "
                                                                          "keeps the ratio.")
    height: int | None = Field(None, ge=1, le=MAX_IMAGE_SIDE, description="Pixels; empty "
                                                                           "keeps the ratio.")
    fit: Literal["contain", "cover", "fill"] = Field(
        "contain", description="contain: fit inside; cover: fill and crop; fill: stretch.")
    output_format: ImageFormat = Field("png", description="File format of the result.")

    @model_validator(mode="after")
    def _some_size(self) -> ResizeParams:
        if self.width is None and self.height is None:
            raise ValueError("set a width, a height or both")
        return self


class UpscaleParams(BaseParams):
    scale_factor: float = Field(2, ge=1, le=4, description="Multiplies width and height.")
    resample: Literal["lanczos", "bicubic", "bilinear", "nearest"] = Field(
        "lanczos", description="The resampling filter.")


# --- Declarations ------------------------------------------------------------------------

def _text(port_id: str = "text", label: str = "Text", **flags: bool) -> Port:
    return Port(port_id, PortType.TEXT, label, **flags)


def _image(label: str = "Image", required: bool = False) -> Port:
    return Port("image", PortType.IMAGE, label, required=required)


register(
    NodeType(
        node_type="utility:prompt_concat", label="Join texts", category="utility",
        description="Joins the connected texts, in edge order, with a separator.",
        params=ConcatParams, inputs=(_text("texts", "Texts", required=True, multiple=True),),
        outputs=(_text(),),
    ),
    NodeType(
        node_type="utility:text_template", label="Text template", category="utility",
        description="Fills {{name}} placeholders with the values of the connected nodes.",
        params=TemplateParams,
        inputs=(Port("vars", PortType.ANY, "Values", multiple=True),), outputs=(_text(),),
    ),
    NodeType(
        node_type="utility:json_extract", label="Extract from JSON", category="utility",
        description="Picks one value out of JSON with a path such as $.images[0].url.",
        params=JsonExtractParams, inputs=(Port("json", PortType.ANY, "JSON", required=True),),
        outputs=(Port("value", PortType.ANY, "Value"),),
    ),
    NodeType(
        node_type="utility:regex", label="Regular expression", category="utility",
        description="Finds, extracts or replaces text with a regular expression.",
        params=RegexParams, inputs=(_text(required=True),),
        outputs=(_text(), Port("matches", PortType.JSON, "All matches"),
                 Port("matched", PortType.BOOLEAN, "Matched")),
    ),
    NodeType(
        node_type="utility:split_list", label="Split into list", category="utility",
        description="Cuts a text into a list of items, one per line by default.",
        params=SplitParams, inputs=(_text(required=True),),
        outputs=(Port("items", PortType.JSON, "Items"),
                 Port("count", PortType.NUMBER, "Count")),
    ),
    NodeType(
        node_type="utility:image_resize", label="Resize image", category="utility",
        description="Resizes an image on this server (Pillow).", params=ResizeParams,
        inputs=(_image(required=True),), outputs=(_image(),),
    ),
    NodeType(
        node_type="utility:image_upscale", label="Upscale image (local)", category="utility",
        description="Enlarges an image on this server with a resampling filter (Pillow).",
        params=UpscaleParams, inputs=(_image(required=True),), outputs=(_image(),),
    ),
)
