"""One meaning of "empty": a required input left blank is refused by validation, skipped by the
engine, missing for a run's inputs and for an input node, and `is_empty` for a router's
condition — the same values everywhere (they once disagreed on whitespace-only text and on
`{}`). Pure: no database, no worker."""

from typing import Any

import pytest

from executions.engine.contracts import NodeFailure
from executions.executors.logic import holds
from executions.run_inputs import require_inputs, run_inputs
from wireflow_site.errors import InvalidRequest
from workflows import dataflow
from workflows.nodes import catalogue
from workflows.services import graph_lint

from .test_nodes_utility import run_inline

BLANK: list[Any] = [None, "", " ", "  \t\n", [], {}]
PRESENT: list[Any] = ["x", " x ", 0, 0.0, False, [""], [None], {"a": None}]
BLANK_TEXT = [v for v in BLANK if isinstance(v, str)]
PRESENT_TEXT = [v for v in PRESENT if isinstance(v, str)]


def _flux_with_prompt(prompt: Any) -> tuple[list[Any], list[Any]]:
    params = {} if prompt is None else {"prompt": prompt}
    node = {"id": "flux", "type": "basedNode", "position": {"x": 0, "y": 0},
            "data": {"label": "Flux", "nodeType": "generate:flux_2", "params": params}}
    return [node], []


def _rules(prompt: Any) -> set[str]:
    violations, _ = graph_lint(*_flux_with_prompt(prompt))
    return {v["rule"] for v in violations if v.get("nodeId") == "flux"}


def _decision(prompt: Any) -> Any:
    params = {} if prompt is None else {"prompt": prompt}
    return dataflow.decide(catalogue["generate:flux_2"], params, [], {}, {})


@pytest.mark.parametrize("value", BLANK, ids=repr)
def test_a_blank_required_input_is_skipped_by_the_engine(value: Any) -> None:
    assert isinstance(_decision(value), dataflow.Skip)


@pytest.mark.parametrize("value", PRESENT, ids=repr)
def test_a_present_required_input_runs(value: Any) -> None:
    assert isinstance(_decision(value), dataflow.Run)


@pytest.mark.parametrize("value", [None, *BLANK_TEXT], ids=repr)
def test_validation_refuses_the_same_blank_text_the_engine_skips(value: Any) -> None:
    assert "missing_required_input" in _rules(value)
    assert isinstance(_decision(value), dataflow.Skip)


@pytest.mark.parametrize("value", PRESENT_TEXT, ids=repr)
def test_validation_accepts_the_same_text_the_engine_runs(value: Any) -> None:
    assert "missing_required_input" not in _rules(value)
    assert isinstance(_decision(value), dataflow.Run)


@pytest.mark.parametrize("value", BLANK + PRESENT, ids=repr)
def test_a_routers_is_empty_agrees_with_the_engine(value: Any) -> None:
    blank = isinstance(_decision(value), dataflow.Skip)
    assert holds("is_empty", value, None) is blank
    assert holds("is_not_empty", value, None) is not blank


# --- Input nodes: a run's required input ------------------------------------------------------

def _prompt_input(text: str) -> list[Any]:
    return [{"id": "p", "type": "basedNode", "position": {"x": 0, "y": 0},
             "data": {"label": "Prompt", "nodeType": "input:text",
                      "params": {"text": text, "required": True}}}]


@pytest.mark.parametrize("value", BLANK_TEXT, ids=repr)
def test_a_required_input_given_blank_text_is_missing_for_the_api_and_the_engine(
        value: str) -> None:
    with pytest.raises(InvalidRequest, match="Missing required input: 'Prompt'"):
        require_inputs(run_inputs(_prompt_input("")), {"p": value})
    assert run_inputs(_prompt_input(value))[0].default is None
    with pytest.raises(NodeFailure, match="is required but has no value"):
        run_inline("input:text", {"text": value, "required": True})


@pytest.mark.parametrize("value", PRESENT_TEXT, ids=repr)
def test_a_required_input_given_text_runs(value: str) -> None:
    require_inputs(run_inputs(_prompt_input("")), {"p": value})
    assert run_inline("input:text", {"text": value, "required": True}) == {"text": value}
