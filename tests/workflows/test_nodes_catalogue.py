"""The node catalogue: its declarations, and GET /api/v1/nodes through the full API."""

import ast
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from hypothesis import given, settings
from hypothesis import strategies as st

from accounts.models import User
from accounts.scopes import USAGE_READ
from executions.executors import EXECUTORS, executor_for
from tests.conftest import ApiClient
from workflows.graph import Port, PortType
from workflows.nodes import all_types, catalogue, catalogue_entry, get, register
from workflows.nodes.registry import BaseParams, NodeType, params_schema

ENTRY_KEYS = {"nodeType", "label", "category", "description", "inputs", "outputs",
              "paramsSchema", "credits"}
PORT_KEYS = {"id", "label", "type", "required", "multiple"}
COMMON_PARAMS = {"retries", "timeoutSeconds", "continueOnError"}
FAL_NODES = {  # docs/nodes.md: node type -> (fal model id, credits, unit)
    "generate:flux_2": ("fal-ai/flux-2", 3, "image"),
    "edit:flux_2_edit": ("fal-ai/flux-2/edit", 4, "image"),
    "generate:imagen4": ("fal-ai/imagen4/preview", 10, "image"),
    "generate:nano_banana_pro": ("fal-ai/nano-banana-pro", 20, "image"),
    "video:kling_video_2_5_i2v": ("fal-ai/kling-video/v2.5-turbo/pro/image-to-video", 10,
                                  "second"),
    "talking:veed_fabric": ("veed/fabric-1.0", 15, "second"),
    "upscale:crystal_upscaler": ("clarityai/crystal-upscaler", 5, "megapixel"),
}
ALL_NODE_TYPES = sorted(catalogue)


def schema_of(node_type: str) -> dict[str, Any]:
    schema: dict[str, Any] = catalogue_entry(catalogue[node_type])["paramsSchema"]
    return schema


def ports(ports_: tuple[Port, ...]) -> list[tuple[str, PortType, bool, bool]]:
    return [(p.id, p.type, p.required, p.multiple) for p in ports_]


# --- Every entry ------------------------------------------------------------------------------

@pytest.mark.parametrize("node_type", ALL_NODE_TYPES)
def test_every_entry_has_the_api_md_keys(node_type: str) -> None:
    entry = catalogue_entry(catalogue[node_type])
    assert set(entry) >= ENTRY_KEYS
    assert entry["nodeType"] == node_type
    assert entry["category"] in {"input", "model", "utility", "logic", "output"}
    assert entry["label"] and entry["description"]
    for port in entry["inputs"] + entry["outputs"]:
        assert set(port) == PORT_KEYS
        assert port["type"] in {t.value for t in PortType}


@pytest.mark.parametrize("node_type", ALL_NODE_TYPES)
def test_every_params_schema_describes_a_form(node_type: str) -> None:
    schema = schema_of(node_type)
    assert schema["type"] == "object" and schema["additionalProperties"] is True
    properties = schema["properties"]
    assert set(properties) >= COMMON_PARAMS
    assert list(properties)[-3:] == ["retries", "timeoutSeconds", "continueOnError"]
    for name, prop in properties.items():
        assert prop.get("title") and prop.get("description"), name
        assert {"type", "anyOf", "enum"} & set(prop), name
        if "enum" in prop and "default" in prop:
            assert prop["default"] in prop["enum"], name


@pytest.mark.parametrize("node_type", ALL_NODE_TYPES)
def test_every_node_type_accepts_the_common_params(node_type: str) -> None:
    spec = catalogue[node_type]
    errors = spec.param_errors({"retries": 11, "timeoutSeconds": 0, "continueOnError": "x"},
                               set())
    assert {e.split(":")[0] for e in errors} >= COMMON_PARAMS
    assert not [e for e in spec.param_errors({"retries": 0, "continueOnError": True,
                                              "uiHint": {"x": 1}}, set())
                if e.split(":")[0] in COMMON_PARAMS | {"uiHint"}]


def test_only_model_nodes_cost_credits() -> None:
    for nt in all_types():
        assert (nt.credits > 0) is (nt.category == "model"), nt.node_type


def test_all_types_lists_the_palette_by_category() -> None:
    categories = [nt.category for nt in all_types()]
    assert categories == sorted(categories, key=["input", "model", "utility", "logic",
                                                 "output"].index)
    assert len(categories) == len(catalogue)


def test_get_finds_a_type_and_returns_none_for_an_unknown_one() -> None:
    assert get("input:text") is catalogue["input:text"]
    assert get("input:nothing") is None


def test_a_node_type_cannot_be_registered_twice() -> None:
    with pytest.raises(ValueError, match="registered twice"):
        register(NodeType(node_type="input:text", label="again", category="input",
                          description="", params=BaseParams))


# --- The core nodes' names (docs/nodes.md) -----------------------------------------------------

def test_a_text_input_has_a_text_param_and_a_text_output_aliased_prompt() -> None:
    spec = catalogue["input:text"]
    assert "text" in schema_of("input:text")["properties"]
    assert ports(spec.outputs) == [("text", PortType.TEXT, False, False)]
    assert spec.output_aliases == {"prompt": "text"}
    assert spec.input_param == "text"


@pytest.mark.parametrize(("node_type", "param", "output", "port_type"), [
    ("input:image", "url", "image", PortType.IMAGE),
    ("input:video", "url", "video", PortType.VIDEO),
    ("input:audio", "url", "audio", PortType.AUDIO),
    ("input:number", "value", "value", PortType.NUMBER),
    ("input:boolean", "value", "value", PortType.BOOLEAN),
    ("input:select", "value", "value", PortType.TEXT),
])
def test_each_input_node_fills_one_param_and_outputs_it(node_type: str, param: str, output: str,
                                                        port_type: PortType) -> None:
    spec = catalogue[node_type]
    assert spec.input_param == param and param in schema_of(node_type)["properties"]
    assert ports(spec.outputs) == [(output, port_type, False, False)]


def test_a_choice_must_be_one_of_the_options() -> None:
    spec = catalogue["input:select"]
    assert spec.param_errors({"options": ["a", "b"], "value": "b"}, set()) == []
    assert spec.param_errors({"options": ["a", "b"], "value": "c"}, set()) == [
        "params: value 'c' is not one of the options"]


def test_the_core_utility_and_logic_ports_have_the_documented_names() -> None:
    assert ports(catalogue["utility:prompt_concat"].inputs) == [
        ("texts", PortType.TEXT, True, True)]
    assert ports(catalogue["utility:text_template"].inputs) == [
        ("vars", PortType.ANY, False, True)]
    assert ports(catalogue["logic:router"].inputs) == [("value", PortType.ANY, True, False)]
    assert [p.id for p in catalogue["logic:router"].outputs] == ["true", "false"]
    assert ports(catalogue["logic:merge"].inputs) == [("values", PortType.ANY, True, True)]
    assert ports(catalogue["output:result"].inputs) == [("value", PortType.ANY, True, True)]
    assert catalogue["output:result"].outputs == ()


def test_the_router_offers_the_operators_of_providers_md() -> None:
    operators = schema_of("logic:router")["properties"]["operator"]["enum"]
    assert operators == ["equals", "not_equals", "contains", "regex", "gt", "lt", "gte", "lte",
                         "is_empty", "is_not_empty"]


@pytest.mark.parametrize(("params", "problem"), [
    ({"operator": "gt", "value": "tall"}, "needs a number"),
    ({"operator": "equals"}, "needs a value"),
    ({"operator": "regex", "value": "(["}, "not a valid regular expression"),
])
def test_the_router_checks_its_operand_against_the_operator(params: dict[str, Any],
                                                            problem: str) -> None:
    [error] = catalogue["logic:router"].param_errors(params, {"value"})
    assert problem in error


def test_the_router_needs_no_operand_to_test_emptiness() -> None:
    assert catalogue["logic:router"].param_errors({"operator": "is_empty"}, set()) == []
    assert catalogue["logic:router"].param_errors({"operator": "gte", "value": "2.5"}, set()) == []


def test_a_switch_has_one_output_per_case_and_a_default() -> None:
    outputs = [p.id for p in catalogue["logic:switch"].outputs]
    assert outputs[0] == "case_1" and outputs[-1] == "default" and len(outputs) == 9
    assert catalogue["logic:switch"].param_errors({"cases": ["a"] * 9}, set())


def test_a_webhook_output_needs_an_http_url_and_keeps_its_secret_write_only() -> None:
    spec = catalogue["output:webhook"]
    assert spec.param_errors({"url": "https://hooks.example.com/x", "secret": "s"}, set()) == []
    assert spec.param_errors({"url": "ftp://example.com"}, set()) == [
        "url: must be an http(s) URL"]
    assert spec.param_errors({}, set()) == ["url: Field required"]
    assert schema_of("output:webhook")["properties"]["secret"]["writeOnly"] is True


@pytest.mark.parametrize(("node_type", "params"), [
    ("utility:regex", {"pattern": "(unclosed"}),
    ("utility:json_extract", {"path": "items[0]"}),
    ("utility:image_resize", {}),
    ("utility:split_list", {"separator": ""}),
    ("input:image", {"url": "javascript:alert(1)"}),
])
def test_utility_and_input_params_are_checked(node_type: str, params: dict[str, Any]) -> None:
    assert catalogue[node_type].param_errors(params, set())


def test_long_texts_are_marked_as_textareas() -> None:
    for node_type, field in [("input:text", "text"), ("generate:flux_2", "prompt"),
                             ("utility:text_template", "template")]:
        assert schema_of(node_type)["properties"][field]["format"] == "textarea"


# --- The seven fal nodes ----------------------------------------------------------------------

@pytest.mark.parametrize(("node_type", "expected"), sorted(FAL_NODES.items()))
def test_the_fal_nodes_have_their_model_ids_and_prices(node_type: str,
                                                      expected: tuple[str, int, str]) -> None:
    spec = catalogue[node_type]
    assert (spec.fal_model_id, spec.credits, spec.credit_unit) == expected
    assert spec.category == "model"
    entry = catalogue_entry(spec)
    assert (entry["credits"], entry["creditUnit"]) == expected[1:]


def test_image_models_output_image_and_images_and_video_models_output_video() -> None:
    for node_type in FAL_NODES:
        outputs = [(p.id, p.type) for p in catalogue[node_type].outputs]
        if node_type.startswith(("video:", "talking:")):
            assert outputs == [("video", PortType.VIDEO)]
            assert catalogue[node_type].timeout_seconds == 600
        else:
            assert outputs == [("image", PortType.IMAGE), ("images", PortType.IMAGE)]
            assert catalogue[node_type].timeout_seconds == 300


@pytest.mark.parametrize(("node_type", "inputs"), [
    ("generate:flux_2", [("prompt", PortType.TEXT, True, False)]),
    ("edit:flux_2_edit", [("prompt", PortType.TEXT, True, False),
                          ("image_urls", PortType.IMAGE, True, True)]),
    ("generate:imagen4", [("prompt", PortType.TEXT, True, False)]),
    ("generate:nano_banana_pro", [("prompt", PortType.TEXT, True, False),
                                  ("image_urls", PortType.IMAGE, False, True)]),
    ("video:kling_video_2_5_i2v", [("prompt", PortType.TEXT, True, False),
                                   ("image_url", PortType.IMAGE, True, False)]),
    ("talking:veed_fabric", [("image_url", PortType.IMAGE, True, False),
                             ("audio_url", PortType.AUDIO, True, False)]),
    ("upscale:crystal_upscaler", [("image_url", PortType.IMAGE, True, False)]),
])
def test_fal_ports_are_named_as_fal_names_them(node_type: str,
                                               inputs: list[tuple[str, PortType, bool, bool]]
                                               ) -> None:
    assert ports(catalogue[node_type].inputs) == inputs


@pytest.mark.parametrize(("node_type", "field", "default", "enum"), [
    ("generate:flux_2", "image_size", "landscape_4_3",
     ["square_hd", "square", "portrait_4_3", "portrait_16_9", "landscape_4_3",
      "landscape_16_9"]),
    ("generate:flux_2", "output_format", "png", ["png", "jpeg", "webp"]),
    ("edit:flux_2_edit", "output_format", "png", ["png", "jpeg", "webp"]),
    ("generate:imagen4", "aspect_ratio", "1:1", ["1:1", "16:9", "9:16", "4:3", "3:4"]),
    ("generate:imagen4", "resolution", "1K", ["1K", "2K"]),
    ("generate:nano_banana_pro", "resolution", "1K", ["1K", "2K", "4K"]),
    ("video:kling_video_2_5_i2v", "duration", "5", ["5", "10"]),
    ("upscale:crystal_upscaler", "output_format", "png", ["png", "jpg"]),
])
def test_fal_enums_and_defaults_are_fal_s_own(node_type: str, field: str, default: str,
                                              enum: list[str]) -> None:
    prop = schema_of(node_type)["properties"][field]
    assert (prop["default"], prop["enum"]) == (default, enum)


@pytest.mark.parametrize(("node_type", "field", "default"), [
    ("generate:flux_2", "num_images", 1),
    ("generate:flux_2", "num_inference_steps", 28),
    ("generate:flux_2", "guidance_scale", 2.5),
    ("generate:nano_banana_pro", "aspect_ratio", "1:1"),
    ("video:kling_video_2_5_i2v", "cfg_scale", 0.5),
    ("upscale:crystal_upscaler", "scale_factor", 2),
    ("generate:imagen4", "seed", None),
])
def test_fal_numeric_defaults_are_fal_s_own(node_type: str, field: str, default: Any) -> None:
    assert schema_of(node_type)["properties"][field]["default"] == default


def test_the_seed_is_an_optional_integer() -> None:
    seed = schema_of("generate:flux_2")["properties"]["seed"]
    assert [option["type"] for option in seed["anyOf"]] == ["integer", "null"]


def test_veed_fabric_needs_a_resolution() -> None:
    errors = catalogue["talking:veed_fabric"].param_errors({}, set())
    assert errors == ["resolution: Field required"]
    assert "resolution" in schema_of("talking:veed_fabric")["required"]


def test_flux_edit_takes_at_most_four_images() -> None:
    urls = [f"https://example.com/{i}.png" for i in range(5)]
    assert catalogue["edit:flux_2_edit"].param_errors({"image_urls": urls}, set())
    assert catalogue["edit:flux_2_edit"].param_errors({"image_urls": urls}, {"image_urls"}) == []


def test_nano_banana_pro_switches_to_its_edit_model_for_images() -> None:
    assert catalogue["generate:nano_banana_pro"].fal_edit_model_id == "fal-ai/nano-banana-pro/edit"


@pytest.mark.parametrize(("node_type", "params", "credits"), [
    ("generate:flux_2", {}, 3),
    ("generate:flux_2", {"num_images": 3}, 9),
    ("edit:flux_2_edit", {"num_images": 2}, 8),
    ("generate:imagen4", {"num_images": 4}, 40),
    ("generate:nano_banana_pro", {"num_images": 2}, 40),
    ("video:kling_video_2_5_i2v", {}, 50),
    ("video:kling_video_2_5_i2v", {"duration": "10"}, 100),
    ("talking:veed_fabric", {"resolution": "720p"}, 150),  # assumes 10 s of speech
    ("upscale:crystal_upscaler", {}, 20),  # assumes a 1 MP input: 4 MP out at 2x
    ("upscale:crystal_upscaler", {"scale_factor": 4}, 80),
    ("generate:flux_2", {"num_images": "many"}, 12),  # invalid params: at the worst (4 images)
    ("input:text", {"text": "free"}, 0),
    ("utility:image_upscale", {"scale_factor": 4}, 0),
])
def test_estimate_credits_multiplies_the_price_by_the_units(node_type: str,
                                                            params: dict[str, Any],
                                                            credits: float) -> None:
    assert catalogue[node_type].estimate_credits(params) == credits


def test_the_params_schema_puts_the_node_s_own_fields_first() -> None:
    assert list(params_schema(catalogue["generate:flux_2"].params)["properties"])[0] == "prompt"


# --- GET /api/v1/nodes ------------------------------------------------------------------------

@pytest.mark.django_db
def test_get_nodes_lists_the_whole_catalogue(api: ApiClient) -> None:
    response = api.get("/nodes")
    assert response.status_code == 200
    nodes = response.json()["nodes"]
    assert [n["nodeType"] for n in nodes] == [nt.node_type for nt in all_types()]
    by_type = {n["nodeType"]: n for n in nodes}
    for node_type, (_, credits, unit) in FAL_NODES.items():
        assert (by_type[node_type]["credits"], by_type[node_type]["creditUnit"]) == (credits,
                                                                                     unit)
    assert by_type["input:text"] == catalogue_entry(catalogue["input:text"])


@pytest.mark.django_db
def test_get_nodes_needs_no_particular_scope(api_for: Callable[..., ApiClient],
                                             owner: User) -> None:
    response = api_for(owner, scopes=[USAGE_READ]).get("/nodes")
    assert response.status_code == 200 and len(response.json()["nodes"]) == len(catalogue)


@pytest.mark.django_db
def test_get_nodes_works_for_the_signed_in_editor(owner: User) -> None:
    client = Client()
    client.force_login(owner)
    assert client.get("/api/v1/nodes").status_code == 200


@pytest.mark.django_db
def test_get_nodes_without_authorization_is_401_missing_authorization() -> None:
    response = Client().get("/api/v1/nodes")
    assert response.status_code == 401
    assert response.json() == {"error": "Missing Authorization header",
                               "code": "missing_authorization"}


@pytest.mark.django_db
def test_get_nodes_with_a_bad_key_is_401_invalid_api_key() -> None:
    response = Client().get("/api/v1/nodes", headers={"Authorization": "Bearer sk-nope"})
    assert response.status_code == 401 and response.json()["code"] == "invalid_api_key"


@pytest.mark.parametrize("pattern", ["a{4294967296}", "(?P<x>a)(?P<x>b)", "\\", "["])
def test_a_bad_regex_is_an_error_message_not_an_exception(pattern: str) -> None:
    cases: list[tuple[str, dict[str, Any]]] = [
        ("utility:regex", {"pattern": pattern}),
        ("logic:router", {"operator": "regex", "value": pattern}),
        ("logic:switch", {"operator": "regex", "cases": ["ok", pattern]})]
    for node_type, params in cases:
        [error] = catalogue[node_type].param_errors(params, set())
        assert "not a valid regular expression" in error


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=8)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(ALL_NODE_TYPES), st.data())
def test_any_json_params_give_messages_and_an_estimate_never_an_exception(
        node_type: str, data: st.DataObject) -> None:
    spec = catalogue[node_type]
    fields = sorted(spec.params.model_fields)
    params = data.draw(st.dictionaries(st.sampled_from(fields) | st.text(max_size=4), JSON,
                                       max_size=5))
    assert all(isinstance(error, str) and error for error in spec.param_errors(params, set()))
    assert spec.estimate_credits(params) >= 0


def test_kling_takes_the_duration_as_text_or_as_a_number() -> None:
    spec = catalogue["video:kling_video_2_5_i2v"]
    assert spec.param_errors({"duration": 10}, set()) == []
    assert spec.estimate_credits({"duration": 10}) == 100
    assert spec.param_errors({"duration": 7}, set())
    assert spec.param_errors({"duration": True}, set())


def test_every_node_type_has_one_executor_and_every_executor_a_node_type() -> None:
    assert set(EXECUTORS) == set(catalogue)


def test_a_node_type_runs_remotely_exactly_when_it_runs_on_a_providers_key() -> None:
    for node_type in catalogue.values():
        runs_remotely = executor_for(node_type.node_type).kind == "remote"
        assert runs_remotely == (node_type.provider is not None), node_type.node_type


# --- Every node type has a direct test --------------------------------------------------------

# A family's direct test file, when it is not tests/workflows/test_nodes_<module>.py.
FAMILY_TEST_FILES = {"http_request": "test_nodes_http.py"}


def family_test_file(node_type: NodeType) -> Path:
    """The direct test file of the catalogue module that declared `node_type`."""
    module = node_type.params.__module__
    assert module.startswith("workflows.nodes."), (node_type.node_type, module)
    family = module.removeprefix("workflows.nodes.")
    return Path(__file__).parent / FAMILY_TEST_FILES.get(family, f"test_nodes_{family}.py")


def named_in(path: Path) -> set[str]:
    """The string literals of a test file's code; docstrings and comments do not count."""
    tree = ast.parse(path.read_text(), filename=str(path))
    docstrings = {id(node.value) for node in ast.walk(tree)
                  if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)}
    return {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant)
            and isinstance(node.value, str) and id(node) not in docstrings}


def test_every_node_type_is_named_in_its_family_s_direct_test_file() -> None:
    """Each node type of the catalogue must appear, as a string literal equal to its name
    ("input:video"), in the direct test file of its family: the catalogue module that declared
    it (`params.__module__`: workflows.nodes.input -> test_nodes_input.py, http_request ->
    test_nodes_http.py). A new node type, or a new family, fails here until a test calls it.

    Files that run the same tests over every type of their family name each type all the
    same: test_nodes_fal.py and test_nodes_input.py parametrize over the catalogue but need a
    sample of params per node type, keyed by its name, and check that the samples' keys are
    exactly the catalogue's types of the family. So a new fal or input type fails both there
    (no sample) and here (not named); a mention in a docstring or a comment does not count."""
    missing: dict[str, str] = {}
    literals: dict[Path, set[str]] = {}
    for node_type in catalogue.values():
        path = family_test_file(node_type)
        if not path.exists():
            missing[node_type.node_type] = f"{path.name} does not exist"
            continue
        if path not in literals:
            literals[path] = named_in(path)
        if node_type.node_type not in literals[path]:
            missing[node_type.node_type] = f"not named in {path.name}"
    assert not missing, f"node types without a direct test: {missing}"
