"""Logic nodes: route values down one branch or another, and join branches again."""

from __future__ import annotations

import json
from typing import Any, Literal, cast

import regex
from pydantic import Field, model_validator

from executions.engine.contracts import NodeContext, NodeFailure
from workflows.graph import Port, PortType
from workflows.graph_rules import is_blank

from .fields import regex_problem
from .registry import BaseParams, NodeType, register
from .runtime import REGEX_TIMEOUT_SECONDS, Inline, regex_bounds

MAX_SWITCH_CASES = 8
NUMERIC_OPERATORS = frozenset({"gt", "lt", "gte", "lte"})
UNARY_OPERATORS = frozenset({"is_empty", "is_not_empty"})
Operator = Literal["equals", "not_equals", "contains", "regex", "gt", "lt", "gte", "lte",
                   "is_empty", "is_not_empty"]


class RouterParams(BaseParams):
    operator: Operator = Field("equals", description="How the input is compared with value.")
    value: str | float | None = Field(
        None, description="What the input is compared with (not used by is_empty and "
                          "is_not_empty).")
    case_sensitive: bool = Field(True, description="For equals, not_equals and contains.")

    @model_validator(mode="after")
    def _value_fits_operator(self) -> RouterParams:
        problem = _operand_problem(self.operator, self.value)
        if problem:
            raise ValueError(problem)
        return self


def _operand_problem(operator: str, value: str | float | None) -> str | None:
    if operator in UNARY_OPERATORS:
        return None
    if value is None or value == "":
        return f"the {operator} operator needs a value to compare with"
    if operator in NUMERIC_OPERATORS and not _is_number(value):
        return f"the {operator} operator needs a number, not '{value}'"
    if operator == "regex":
        return regex_problem(str(value))
    return None


def _is_number(value: str | float) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


class SwitchParams(BaseParams):
    cases: list[str] = Field(default_factory=list, max_length=MAX_SWITCH_CASES,
                             description="Case n sends the input to output case_n when it "
                                         "matches; otherwise it goes to default.")
    operator: Literal["equals", "contains", "regex"] = Field(
        "equals", description="How the input is compared with each case.")

    @model_validator(mode="after")
    def _cases_compile(self) -> SwitchParams:
        for case in self.cases if self.operator == "regex" else ():
            problem = regex_problem(case)
            if problem:
                raise ValueError(problem)
        return self


class MergeParams(BaseParams):
    mode: Literal["first", "all"] = Field(
        "first", description="first: the first value that arrived (edge order); all: a list "
                             "of every value that arrived.")


# --- Executors ---------------------------------------------------------------------------


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


# --- Declarations ------------------------------------------------------------------------

def _any(port_id: str, label: str, **flags: bool) -> Port:
    return Port(port_id, PortType.ANY, label, **flags)


register(
    NodeType(
        node_type="logic:router", label="If / else", category="logic",
        description="Sends the input to the true or the false output by a condition; the "
                    "other branch is skipped.",
        params=RouterParams, inputs=(_any("value", "Input", required=True),),
        outputs=(_any("true", "True"), _any("false", "False")),
        executor=Inline(_route, pure=True),
        ports_override_params=False,
    ),
    NodeType(
        node_type="logic:switch", label="Switch", category="logic",
        description=f"Sends the input to the first of up to {MAX_SWITCH_CASES} matching "
                    "cases, or to default.",
        params=SwitchParams, inputs=(_any("value", "Input", required=True),),
        outputs=tuple(_any(f"case_{n}", f"Case {n}")
                      for n in range(1, MAX_SWITCH_CASES + 1)) + (_any("default", "Default"),),
        executor=Inline(_switch, pure=True),
    ),
    NodeType(
        node_type="logic:merge", label="Merge", category="logic",
        description="Joins branches: runs with whatever arrived.",
        params=MergeParams, inputs=(_any("values", "Values", required=True, multiple=True),),
        outputs=(_any("value", "Value"),),
        executor=Inline(_merge, pure=True),
    ),
)
