"""Logic nodes: route values down one branch or another, and join branches again."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from workflows.graph import Port, PortType

from .fields import regex_problem
from .registry import BaseParams, NodeType, register

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
        ports_override_params=False,
    ),
    NodeType(
        node_type="logic:switch", label="Switch", category="logic",
        description=f"Sends the input to the first of up to {MAX_SWITCH_CASES} matching "
                    "cases, or to default.",
        params=SwitchParams, inputs=(_any("value", "Input", required=True),),
        outputs=tuple(_any(f"case_{n}", f"Case {n}")
                      for n in range(1, MAX_SWITCH_CASES + 1)) + (_any("default", "Default"),),
    ),
    NodeType(
        node_type="logic:merge", label="Merge", category="logic",
        description="Joins branches: runs with whatever arrived.",
        params=MergeParams, inputs=(_any("values", "Values", required=True, multiple=True),),
        outputs=(_any("value", "Value"),),
    ),
)
