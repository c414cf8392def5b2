"""The logic nodes' executors, called directly (no database, no worker): the router's
conditions, the switch's cases, the merge's modes, and `holds`, the comparison both use.
Through the engine they are covered by tests/engine/test_semantics.py (branches skipped, merges
joining them)."""

from typing import Any

import pytest
from pydantic import ValidationError

from executions.engine.contracts import NodeFailure
from executions.executors.logic import holds
from workflows.nodes import catalogue
from workflows.nodes.logic import MAX_SWITCH_CASES

from .test_nodes_utility import run_inline


def route(value: Any, operator: str, operand: Any = None, **params: Any) -> dict[str, Any]:
    return run_inline("logic:router", {"operator": operator, "value": operand, **params},
                      {"value": value})


def switch(value: Any, cases: list[str], operator: str = "equals") -> dict[str, Any]:
    return run_inline("logic:switch", {"cases": cases, "operator": operator}, {"value": value})


# --- holds -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("operator", "value", "operand", "expected"), [
    ("equals", "fox", "fox", True),
    ("equals", "fox", "Fox", False),
    ("equals", 3, "3.0", True),  # numbers compare as numbers
    ("equals", "3", 3, True),
    ("equals", {"a": 1}, '{"a": 1}', True),  # JSON compares as its text
    ("not_equals", "fox", "owl", True),
    ("not_equals", 2, "2", False),
    ("contains", "a red fox", "red", True),
    ("contains", "a red fox", "blue", False),
    ("contains", 123, "2", True),  # contains is always textual
    ("gt", 5, "3", True),
    ("gt", "3", 5, False),
    ("gte", 3, 3, True),
    ("lt", -1, "0", True),
    ("lte", 2.5, "2.5", True),
    ("regex", "order-1234", r"\d{4}$", True),
    ("regex", "order-12", r"\d{4}$", False),
    ("is_empty", "  ", None, True),
    ("is_empty", 0, None, False),
    ("is_not_empty", ["x"], None, True),
])
def test_holds(operator: str, value: Any, operand: Any, expected: bool) -> None:
    assert holds(operator, value, operand) is expected


def test_case_insensitive_comparisons_fold_case() -> None:
    assert holds("equals", "Straße", "STRASSE", case_sensitive=False)
    assert holds("contains", "A Red Fox", "red", case_sensitive=False)
    assert holds("regex", "FOX", "^fox$", case_sensitive=False)
    assert not holds("regex", "FOX", "^fox$")


@pytest.mark.parametrize("value", ["many", None, True, [1]])
def test_a_numeric_comparison_of_what_is_not_a_number_fails_the_node(value: Any) -> None:
    with pytest.raises(NodeFailure, match="is not a number"):
        holds("gt", value, "1")


# --- logic:router ----------------------------------------------------------------------------

def test_the_router_sends_the_input_down_exactly_one_branch() -> None:
    assert route("a red fox", "contains", "fox") == {"true": "a red fox"}
    assert route("a red owl", "contains", "fox") == {"false": "a red owl"}
    assert route({"n": 1}, "is_not_empty") == {"true": {"n": 1}}  # the value goes on unchanged


def test_the_router_honours_case_sensitivity() -> None:
    assert route("FOX", "equals", "fox") == {"false": "FOX"}
    assert route("FOX", "equals", "fox", case_sensitive=False) == {"true": "FOX"}


@pytest.mark.parametrize(("operator", "operand"), [
    ("equals", None), ("contains", ""), ("gt", "many"), ("regex", "(unclosed"),
])
def test_a_router_whose_operand_does_not_fit_its_operator_is_refused(operator: str,
                                                                      operand: Any) -> None:
    with pytest.raises(ValidationError):
        catalogue["logic:router"].params.model_validate({"operator": operator, "value": operand})


# --- logic:switch ----------------------------------------------------------------------------

def test_the_switch_takes_the_first_matching_case() -> None:
    assert switch("b", ["a", "b", "b"]) == {"case_2": "b"}
    assert switch("a grey wolf", ["fox", "wolf", "grey"], "contains") == {"case_2": "a grey wolf"}
    assert switch("id-42", [r"^id-\d+$"], "regex") == {"case_1": "id-42"}


def test_what_no_case_matches_goes_to_default() -> None:
    assert switch("z", ["a", "b"]) == {"default": "z"}
    assert switch("z", []) == {"default": "z"}


def test_a_switch_has_at_most_its_outputs_worth_of_cases() -> None:
    params = catalogue["logic:switch"].params
    params.model_validate({"cases": ["x"] * MAX_SWITCH_CASES})
    with pytest.raises(ValidationError):
        params.model_validate({"cases": ["x"] * (MAX_SWITCH_CASES + 1)})
    outputs = {port.id for port in catalogue["logic:switch"].outputs}
    assert outputs == {f"case_{n}" for n in range(1, MAX_SWITCH_CASES + 1)} | {"default"}


def test_a_switch_with_a_broken_regex_case_is_refused() -> None:
    with pytest.raises(ValidationError):
        catalogue["logic:switch"].params.model_validate({"cases": ["(a"], "operator": "regex"})


# --- logic:merge -----------------------------------------------------------------------------

def test_merge_first_passes_the_first_value_that_arrived_and_all_passes_them_all() -> None:
    values = {"values": ["from a", {"b": 2}, None]}
    assert run_inline("logic:merge", {"mode": "first"}, values) == {"value": "from a"}
    assert run_inline("logic:merge", {"mode": "all"}, values) == {"value": ["from a", {"b": 2},
                                                                              None]}
