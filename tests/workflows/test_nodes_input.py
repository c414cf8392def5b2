"""The input nodes' executor, called directly (no database, no worker): each `input:*` node
delivers its param (the value set in the editor, or the run input that replaced it) on its one
output port and as its output; a required input with a blank value fails naming its label; a
choice must be one of its options. How run inputs reach these params: tests/api/test_run.py;
the declarations (ports, param names): tests/workflows/test_nodes_catalogue.py."""

import re
from typing import Any

import pytest
from pydantic import ValidationError

from executions.engine.contracts import NodeContext, NodeFailure, NodeResult, inline
from executions.executors import executor_for
from workflows.graph_rules import is_blank
from workflows.nodes import catalogue

# One value each input node type delivers (with the other params it needs); every input type of
# the catalogue must have one (test_every_input_node_type_has_a_sample_here).
SAMPLES: dict[str, tuple[Any, dict[str, Any]]] = {
    "input:text": ("a red fox in the snow", {}),
    "input:image": ("/media/uploads/fox.png", {}),  # an upload: a path on this site
    "input:video": ("https://cdn.example/clips/fox.mp4", {}),
    "input:audio": ("https://cdn.example/sounds/fox.wav", {}),
    "input:number": (2.5, {}),
    "input:boolean": (True, {}),
    "input:select": ("watercolour", {"options": ["photo", "watercolour", "ink"]}),
}
INPUT_TYPES = sorted(nt.node_type for nt in catalogue.values() if nt.category == "input")
# The cases of workflows.graph_rules.is_blank, and those each input's param accepts: the others
# are refused by its params, so they never reach the executor.
BLANKS: list[Any] = ["", "   ", "\n\t ", None]
ACCEPTED_BLANKS: dict[str, list[Any]] = {
    "input:text": ["", "   ", "\n\t "],
    "input:image": [""],  # no file yet; spaces are not a URL
    "input:video": [""],
    "input:audio": [""],
    "input:select": [""],  # nothing chosen; spaces are not an option
    "input:number": [],  # 0 is a number, not a blank
    "input:boolean": [],  # off is a value
}
ACCEPTED = [(t, blank) for t, blanks in sorted(ACCEPTED_BLANKS.items()) for blank in blanks]
REFUSED = [(t, blank) for t, blanks in sorted(ACCEPTED_BLANKS.items()) for blank in BLANKS
           if blank not in blanks]


def context(node_type: str, params: dict[str, Any], label: str = "Subject") -> NodeContext:
    spec = catalogue[node_type]
    return NodeContext(execution_id="e", team_id=0, node_id="n", node_type=node_type,
                       label=label, params=spec.params.model_validate(params), inputs={},
                       input_labels={})


def run(node_type: str, params: dict[str, Any], label: str = "Subject") -> NodeResult:
    return inline(executor_for(node_type)).run(context(node_type, params, label))


def with_value(node_type: str, value: Any, **params: Any) -> dict[str, Any]:
    """The node's params with its input param set to `value`."""
    _, extra = SAMPLES[node_type]
    return {**extra, **params, str(catalogue[node_type].input_param): value}


def required_message(label: str) -> str:
    return re.escape(f"input '{label}' is required but has no value")


def test_every_input_node_type_has_a_sample_here() -> None:
    assert sorted(SAMPLES) == sorted(ACCEPTED_BLANKS) == INPUT_TYPES
    assert all(is_blank(blank) for blank in BLANKS)


# --- The value is delivered ---------------------------------------------------------------------

@pytest.mark.parametrize("node_type", INPUT_TYPES)
def test_the_param_is_delivered_on_the_one_output_port_and_as_the_output(node_type: str) -> None:
    value, _ = SAMPLES[node_type]
    [port] = catalogue[node_type].outputs
    result = run(node_type, with_value(node_type, value))
    assert result.ports == {port.id: value}
    assert result.output == {port.id: value}
    assert result.credits == 0


@pytest.mark.parametrize("node_type", INPUT_TYPES)
def test_a_required_input_with_a_value_is_delivered(node_type: str) -> None:
    value, _ = SAMPLES[node_type]
    [port] = catalogue[node_type].outputs
    assert run(node_type, with_value(node_type, value, required=True)).ports == {port.id: value}


@pytest.mark.parametrize("node_type", INPUT_TYPES)
def test_the_input_runs_inline_purely_and_may_run_again(node_type: str) -> None:
    executor = inline(executor_for(node_type))
    assert executor.pure and executor.repeatable


@pytest.mark.parametrize("node_type", INPUT_TYPES)
def test_the_other_params_and_editor_hints_are_not_delivered(node_type: str) -> None:
    value, _ = SAMPLES[node_type]
    result = run(node_type, with_value(node_type, value, retries=0, continueOnError=True,
                                       uiHint={"collapsed": True}))
    assert list(result.ports.values()) == [value] and list(result.output.values()) == [value]


def test_numbers_and_switches_deliver_their_types() -> None:
    assert run("input:number", {"value": "3"}).ports == {"value": 3.0}
    assert run("input:number", {"value": -0.5}).output == {"value": -0.5}
    assert run("input:boolean", {"value": False}).ports == {"value": False}
    assert run("input:text", {"text": "  keeps its spaces  "}).ports == {
        "text": "  keeps its spaces  "}


def test_a_media_input_delivers_its_url_as_it_is_given() -> None:
    """A site path stays a path: made absolute only where a provider needs it."""
    assert run("input:image", {"url": "/media/uploads/a b.png"}).ports == {
        "image": "/media/uploads/a b.png"}


# --- A required input needs a value -------------------------------------------------------------

@pytest.mark.parametrize(("node_type", "blank"), ACCEPTED)
def test_a_required_input_left_blank_fails_naming_its_label(node_type: str, blank: Any) -> None:
    with pytest.raises(NodeFailure, match=required_message("Subject")):
        run(node_type, with_value(node_type, blank, required=True))


@pytest.mark.parametrize(("node_type", "blank"), ACCEPTED)
def test_an_optional_blank_input_delivers_its_blank_value(node_type: str, blank: Any) -> None:
    [port] = catalogue[node_type].outputs
    result = run(node_type, with_value(node_type, blank))
    assert result.ports == result.output == {port.id: blank}


@pytest.mark.parametrize(("node_type", "blank"), REFUSED)
def test_a_blank_the_param_cannot_hold_is_refused_before_the_executor(node_type: str,
                                                                       blank: Any) -> None:
    for required in (True, False):
        with pytest.raises(ValidationError):
            context(node_type, with_value(node_type, blank, required=required))


def test_the_failure_names_the_node_s_own_label() -> None:
    with pytest.raises(NodeFailure, match=required_message("Product photo 'hero'")):
        run("input:image", {"url": "", "required": True}, label="Product photo 'hero'")


@pytest.mark.parametrize(("node_type", "value"), [("input:number", 0), ("input:number", 0.0),
                                                  ("input:boolean", False)])
def test_zero_and_off_are_values_not_blanks(node_type: str, value: Any) -> None:
    assert not is_blank(value)
    assert run(node_type, {"value": value, "required": True}).ports == {"value": value}


# --- A choice is one of its options -------------------------------------------------------------

def test_a_choice_in_the_options_is_delivered() -> None:
    params = {"options": ["photo", "ink"], "value": "ink", "required": True}
    assert run("input:select", params).ports == {"value": "ink"}


@pytest.mark.parametrize(("options", "value"), [
    (["photo", "ink"], "watercolour"),
    (["photo", "ink"], "Ink"),  # exactly as offered
    (["photo", "ink"], " ink"),
    (["photo", "ink"], "   "),  # blank text is not "nothing chosen" either
    ([], "ink"),
])
def test_a_choice_outside_the_options_is_a_params_error(options: list[str], value: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(f"value '{value}' is not one of the "
                                                        "options")):
        context("input:select", {"options": options, "value": value})


def test_a_select_offers_at_most_100_options() -> None:
    options = [f"o{i}" for i in range(101)]
    with pytest.raises(ValidationError, match="at most 100 items"):
        context("input:select", {"options": options, "value": "o1"})
    assert run("input:select", {"options": options[:100], "value": "o99"}).ports == {
        "value": "o99"}
