"""Utility nodes: text and image helpers that run inline, free of charge."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Mapping
from typing import Any, Literal, cast

import regex
from pydantic import Field, field_validator, model_validator

from executions.engine.contracts import NodeContext, NodeFailure
from workflows.graph import Port, PortType

from .fields import LongText, Regex
from .registry import BaseParams, NodeType, register
from .runtime import (
    MAX_IMAGE_SIDE,
    REGEX_TIMEOUT_SECONDS,
    Inline,
    TextBudget,
    check_output_size,
    decode_image,
    read_media,
    regex_bounds,
    save_image,
    text_size,
)

# `$`, then `.key`, `[3]`, `[-1]` or `["any key"]` steps: a small JSON path, no filters or code.
JSON_PATH = re.compile(r"""\$(\.[A-Za-z_][\w-]*|\[-?\d+\]|\["[^"]*"\]|\['[^']*'\])*""")
ImageFormat = Literal["png", "jpeg", "webp"]


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


# --- Executors ---------------------------------------------------------------------------

# `{{`, a name (no braces), `}}`. The possessive `++` cannot backtrack: each `{{` is followed
# by one scan to the next brace, so the search is linear whatever the text (the lazy
# `\{\{\s*([^{}]+?)\s*\}\}` it replaces took hours on `{{` and 20,000 spaces).
_PLACEHOLDER = re.compile(r"\{\{([^{}]++)\}\}")
_STEP = re.compile(r"""\.([A-Za-z_][\w-]*)|\[(-?\d+)\]|\["([^"]*)"\]|\['([^']*)'\]""")


def as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float | bool):
        return json.dumps(value)
    return json.dumps(value, ensure_ascii=False)


def _concat(ctx: NodeContext) -> dict[str, Any]:
    params = cast(ConcatParams, ctx.params)
    texts = [text for text in map(as_text, ctx.inputs.get("texts", [])) if text != ""]
    TextBudget("The joined text").spend(
        sum(map(text_size, texts)) + text_size(params.separator) * max(0, len(texts) - 1))
    return {"text": params.separator.join(texts)}


def _template(ctx: NodeContext) -> dict[str, Any]:
    params = cast(TemplateParams, ctx.params)
    by_name = placeholder_values(ctx, "vars")
    return {"text": fill_placeholders(params.template, by_name, TextBudget("The filled template"))}


def placeholder_values(ctx: NodeContext, port: str) -> dict[str, Any]:
    """The values on a multiple port by their source's label, as placeholders name them
    (trimmed, lower case)."""
    values = ctx.inputs.get(port, [])
    labels = ctx.input_labels.get(port, [])
    return {label.strip().lower(): value for label, value in zip(labels, values, strict=False)}


def fill_placeholders(template: str, by_name: Mapping[str, Any], budget: TextBudget,
                      texts: dict[str, tuple[str, int]] | None = None) -> str:
    """`template` with each `{{name}}` whose name is in `by_name` replaced by its value as text
    (other placeholders are left as written). The result's size is counted on `budget` before it
    is built, and each value is turned into text once (`texts` caches them across calls)."""
    texts = {} if texts is None else texts
    pieces: list[str] = []
    copied = 0
    for match in _PLACEHOLDER.finditer(template):
        name = match.group(1).strip().lower()
        if name not in by_name:
            continue  # not a value's name: left as written
        if name not in texts:
            text = as_text(by_name[name])
            texts[name] = (text, text_size(text))
        literal = template[copied:match.start()]
        text, size = texts[name]
        budget.spend(text_size(literal) + size)
        pieces += [literal, text]
        copied = match.end()
    rest = template[copied:]
    budget.spend(text_size(rest))
    return "".join([*pieces, rest])


def whole_placeholder(text: str) -> str | None:
    """The name when `text` is exactly one placeholder (`{{ name }}`), else None."""
    match = _PLACEHOLDER.fullmatch(text)
    return match.group(1).strip().lower() if match else None


def _json_value(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _extract(ctx: NodeContext) -> dict[str, Any]:
    params = cast(JsonExtractParams, ctx.params)
    return {"value": read_json_path(_json_value(ctx.inputs.get("json")), params.path)}


def read_json_path(value: Any, path: str) -> Any:
    """The value at `path` (checked against JSON_PATH already) inside `value`, or NodeFailure."""
    current = value
    for step in _STEP.finditer(path[1:]):
        key, index, dq, sq = step.groups()
        try:
            current = current[int(index)] if index is not None else current[key or dq or sq]
        except (KeyError, IndexError, TypeError):
            raise NodeFailure(f"nothing at {path}") from None
    return current


def _regex(ctx: NodeContext) -> dict[str, Any]:
    params = cast(RegexParams, ctx.params)
    text = as_text(ctx.inputs.get("text", params.text))
    flags = regex.IGNORECASE if params.ignore_case else 0
    try:
        pattern = regex.compile(params.pattern, flags)
    except regex.error as exc:
        raise NodeFailure(f"invalid regular expression: {exc}") from None
    with regex_bounds():
        matches = _matches(pattern, text)
        if params.mode == "replace":
            result = _replace(pattern, params.replacement, text)
        elif params.mode == "extract_all":
            result = "\n".join(matches)
        elif params.mode == "test":
            result = "true" if matches else "false"
        else:
            result = matches[0] if matches else ""
    return {"text": result, "matches": matches, "matched": bool(matches)}


def _matches(pattern: regex.Pattern[str], text: str) -> list[str]:
    """Each match (or its first group), counted as it is found: matches may overlap through
    groups in lookarounds (`(?=(.*))` captures every suffix: quadratic in the text)."""
    budget = TextBudget("The list of matches")
    found = []
    for match in pattern.finditer(text, timeout=REGEX_TIMEOUT_SECONDS):
        item = match.group(1) if match.groups() else match.group(0)
        budget.spend(text_size(item) + 1)
        found.append(item)
    return found


def _replace(pattern: regex.Pattern[str], replacement: str, text: str) -> str:
    """The substitution, its size counted match by match before the result is built: a long
    replacement for each of many (even empty) matches would multiply the text."""
    budget = TextBudget("The replaced text")
    budget.spend(text_size(text))

    def expand(match: regex.Match[str]) -> str:
        try:
            piece = match.expand(replacement)
        except (IndexError, regex.error) as exc:
            raise NodeFailure(f"invalid replacement: {exc}") from None
        budget.spend(text_size(piece) - text_size(match.group(0)))
        return piece

    return pattern.sub(expand, text, timeout=REGEX_TIMEOUT_SECONDS)


def _split(ctx: NodeContext) -> dict[str, Any]:
    params = cast(SplitParams, ctx.params)
    text = as_text(ctx.inputs.get("text", params.text))
    separator = params.separator.encode().decode("unicode_escape") if "\\" in params.separator \
        else params.separator
    items = text.split(separator)
    if params.trim:
        items = [item.strip() for item in items]
    if params.drop_empty:
        items = [item for item in items if item]
    return {"items": items, "count": len(items)}


_RESAMPLE = {"lanczos": "LANCZOS", "bicubic": "BICUBIC", "bilinear": "BILINEAR",
             "nearest": "NEAREST"}


def _open(ctx: NodeContext) -> Any:
    url = ctx.inputs.get("image")
    if not isinstance(url, str) or not url:
        raise NodeFailure("no image arrived")
    return decode_image(read_media(url))


def _store(image: Any, fmt: str) -> dict[str, Any]:
    out = io.BytesIO()
    if fmt == "jpeg" and image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    image.save(out, format=fmt.upper())
    return {"image": save_image(out.getvalue(), "jpg" if fmt == "jpeg" else fmt)}


def _resize(ctx: NodeContext) -> dict[str, Any]:
    from PIL import ImageOps

    params = cast(ResizeParams, ctx.params)
    image = _open(ctx)
    width = params.width or round(image.width * (params.height or image.height) / image.height)
    height = params.height or round(image.height * width / image.width)
    size = (max(1, width), max(1, height))
    check_output_size(size)  # one side given: the other follows the ratio, unbounded
    if params.fit == "fill":
        image = image.resize(size)
    elif params.fit == "cover":
        image = ImageOps.fit(image, size)
    else:
        image = ImageOps.contain(image, size)
    return _store(image, params.output_format)


def _upscale(ctx: NodeContext) -> dict[str, Any]:
    from PIL import Image

    params = cast(UpscaleParams, ctx.params)
    image = _open(ctx)
    size = (round(image.width * params.scale_factor), round(image.height * params.scale_factor))
    check_output_size(size)
    resample = getattr(Image.Resampling, _RESAMPLE[params.resample])
    return _store(image.resize(size, resample), "png")


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
        executor=Inline(_concat, pure=True),
    ),
    NodeType(
        node_type="utility:text_template", label="Text template", category="utility",
        description="Fills {{name}} placeholders with the values of the connected nodes.",
        params=TemplateParams,
        inputs=(Port("vars", PortType.ANY, "Values", multiple=True),), outputs=(_text(),),
        executor=Inline(_template, pure=True),
    ),
    NodeType(
        node_type="utility:json_extract", label="Extract from JSON", category="utility",
        description="Picks one value out of JSON with a path such as $.images[0].url.",
        params=JsonExtractParams, inputs=(Port("json", PortType.ANY, "JSON", required=True),),
        outputs=(Port("value", PortType.ANY, "Value"),),
        executor=Inline(_extract, pure=True),
    ),
    NodeType(
        node_type="utility:regex", label="Regular expression", category="utility",
        description="Finds, extracts or replaces text with a regular expression.",
        params=RegexParams, inputs=(_text(required=True),),
        outputs=(_text(), Port("matches", PortType.JSON, "All matches"),
                 Port("matched", PortType.BOOLEAN, "Matched")),
        executor=Inline(_regex, pure=True),
    ),
    NodeType(
        node_type="utility:split_list", label="Split into list", category="utility",
        description="Cuts a text into a list of items, one per line by default.",
        params=SplitParams, inputs=(_text(required=True),),
        outputs=(Port("items", PortType.JSON, "Items"),
                 Port("count", PortType.NUMBER, "Count")),
        executor=Inline(_split, pure=True),
    ),
    NodeType(
        node_type="utility:image_resize", label="Resize image", category="utility",
        description="Resizes an image on this server (Pillow).", params=ResizeParams,
        inputs=(_image(required=True),), outputs=(_image(),),
        executor=Inline(_resize),
    ),
    NodeType(
        node_type="utility:image_upscale", label="Upscale image (local)", category="utility",
        description="Enlarges an image on this server with a resampling filter (Pillow).",
        params=UpscaleParams, inputs=(_image(required=True),), outputs=(_image(),),
        executor=Inline(_upscale),
    ),
)
