"""Utility nodes: text and image helpers that run inline, free of charge."""

import io
import json
from typing import Any, cast

import regex

from executions.engine.contracts import NodeContext, NodeFailure
from workflows.nodes.utility import (
    ConcatParams,
    JsonExtractParams,
    RegexParams,
    ResizeParams,
    SplitParams,
    TemplateParams,
    UpscaleParams,
)

from .runtime import (
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
from .table import executes
from .text import as_text, fill_placeholders, placeholder_values, read_json_path


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
            piece: str = match.expand(replacement)
        except (IndexError, regex.error) as exc:
            raise NodeFailure(f"invalid replacement: {exc}") from None
        budget.spend(text_size(piece) - text_size(match.group(0)))
        return piece

    replaced: str = pattern.sub(expand, text, timeout=REGEX_TIMEOUT_SECONDS)
    return replaced


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


executes("utility:prompt_concat", Inline(_concat, pure=True))
executes("utility:text_template", Inline(_template, pure=True))
executes("utility:json_extract", Inline(_extract, pure=True))
executes("utility:regex", Inline(_regex, pure=True))
executes("utility:split_list", Inline(_split, pure=True))
executes("utility:image_resize", Inline(_resize))
executes("utility:image_upscale", Inline(_upscale))
