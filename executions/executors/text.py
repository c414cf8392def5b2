"""Text shared by the executors: values as text, `{{name}}` placeholders filled from the
connected nodes, JSON templates filled without pasting values into JSON source, JSON paths read.
Every text built here is counted on a TextBudget before it is built."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from executions.engine.contracts import NodeContext, NodeFailure

from .runtime import TextBudget, text_size

# `{{`, a name (no braces), `}}`. The possessive `++` cannot backtrack: each `{{` is followed
# by one scan to the next brace, so the search is linear whatever the text (the lazy
# `\{\{\s*([^{}]+?)\s*\}\}` it replaces took hours on `{{` and 20,000 spaces).
_PLACEHOLDER = re.compile(r"\{\{([^{}]++)\}\}")
# One step of a JSON path already checked against workflows.nodes.utility.JSON_PATH.
STEP = re.compile(r"""\.([A-Za-z_][\w-]*)|\[(-?\d+)\]|\["([^"]*)"\]|\['([^']*)'\]""")


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


def fill_body(template: str, values: dict[str, Any]) -> Any:
    """The template's JSON with its strings filled from `values`; its size is counted before it
    is built. A string that is exactly one placeholder (`"{{count}}"`) becomes the value itself
    (a number stays a number, an object an object); placeholders inside a longer string are
    filled as text. Values are never pasted into JSON source, so no value can break out of its
    string. Only called on a template that validated."""
    budget = TextBudget("The request body")
    texts: dict[str, tuple[str, int]] = {}

    def fill(item: Any) -> Any:
        if isinstance(item, str):
            name = whole_placeholder(item)
            if name is not None and name in values:
                value = values[name]
                if name not in texts:
                    text = as_text(value)
                    texts[name] = (text, text_size(text))
                budget.spend(texts[name][1])
                # A whole number arrives as a float (input:number): sent as 20, not 20.0,
                # as the placeholder would read in text.
                return int(value) if isinstance(value, float) and value.is_integer() else value
            return fill_placeholders(item, values, budget, texts)
        if isinstance(item, dict):
            return {key: fill(child) for key, child in item.items()}
        if isinstance(item, list):
            return [fill(child) for child in item]
        return item

    return fill(json.loads(template))


def read_json_path(value: Any, path: str) -> Any:
    """The value at `path` (checked against JSON_PATH already) inside `value`, or NodeFailure."""
    current = value
    for step in STEP.finditer(path[1:]):
        key, index, dq, sq = step.groups()
        try:
            current = current[int(index)] if index is not None else current[key or dq or sq]
        except (KeyError, IndexError, TypeError):
            raise NodeFailure(f"nothing at {path}") from None
    return current
