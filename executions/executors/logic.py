"""Logic nodes route a value down one branch or another (the router, the switch) and join
branches again (the merge); `holds` is the comparison both routes use."""

import json
from typing import Any, cast

import regex

from executions.engine.contracts import NodeContext, NodeFailure
from workflows.graph_rules import is_blank
from workflows.nodes.logic import MergeParams, RouterParams, SwitchParams

from .runtime import REGEX_TIMEOUT_SECONDS, Inline, regex_bounds
from .table import executes


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return "" if value is None else json.dumps(value, ensure_ascii=False)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _regex_search(pattern: str, text: str, ignore_case: bool = False) -> bool:
    flags = regex.IGNORECASE if ignore_case else 0
    try:
        compiled = regex.compile(pattern, flags)  # cheap: the params check bounded its size
    except regex.error as exc:
        raise NodeFailure(f"invalid regular expression: {exc}") from None
    with regex_bounds():
        return compiled.search(text, timeout=REGEX_TIMEOUT_SECONDS) is not None


def holds(operator: str, value: Any, operand: Any, case_sensitive: bool = True) -> bool:
    """Does `value <operator> operand` hold? (numbers compare as numbers; text as text)"""
    if operator == "is_empty":
        return is_blank(value)
    if operator == "is_not_empty":
        return not is_blank(value)
    if operator in ("gt", "lt", "gte", "lte"):
        left, right = _number(value), _number(operand)
        if left is None or right is None:
            raise NodeFailure(f"'{_text(value)[:100]}' is not a number")
        return {"gt": left > right, "lt": left < right, "gte": left >= right,
                "lte": left <= right}[operator]
    if operator == "regex":
        return _regex_search(str(operand), _text(value), not case_sensitive)
    left_text, right_text = _text(value), _text(operand)
    if _number(value) is not None and _number(operand) is not None and operator != "contains":
        equal = _number(value) == _number(operand)
    elif case_sensitive:
        equal = left_text == right_text
    else:
        equal = left_text.casefold() == right_text.casefold()
    if operator == "contains":
        return (right_text in left_text) if case_sensitive \
            else right_text.casefold() in left_text.casefold()
    return equal if operator == "equals" else not equal


def _route(ctx: NodeContext) -> dict[str, Any]:
    params = cast(RouterParams, ctx.params)
    value = ctx.inputs.get("value")
    taken = holds(params.operator, value, params.value, params.case_sensitive)
    return {"true" if taken else "false": value}


def _switch(ctx: NodeContext) -> dict[str, Any]:
    params = cast(SwitchParams, ctx.params)
    value = ctx.inputs.get("value")
    for number, case in enumerate(params.cases, start=1):
        if holds(params.operator, value, case):
            return {f"case_{number}": value}
    return {"default": value}


def _merge(ctx: NodeContext) -> dict[str, Any]:
    params = cast(MergeParams, ctx.params)
    values = list(ctx.inputs.get("values", []))
    return {"value": values if params.mode == "all" else values[0]}


executes("logic:router", Inline(_route, pure=True))
executes("logic:switch", Inline(_switch, pure=True))
executes("logic:merge", Inline(_merge, pure=True))
