"""The utility nodes' executors on hostile input: bounded in time (no backtracking on user text,
a timeout on user patterns) and in size (text counted before it is built; images checked
before they are decoded). Pathological runs go through `run_node`, in a child process with a
deadline, so that a regression fails the test instead of hanging it."""

import io
import re
import struct
import zlib
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from executions.engine.contracts import NodeContext, NodeFailure, inline
from executions.executors import executor_for
from executions.executors.runtime import save_image
from tests.hostile import (
    COMPILE_BOMBS,
    PATHOLOGICAL_TEMPLATES,
    REGEX_BOMBS,
    TEMPLATE_BOMB,
    TEMPLATE_BOMB_LABEL,
    TEMPLATE_BOMB_VALUE,
)
from workflows.nodes import catalogue
from workflows.nodes.utility import MAX_IMAGE_SIDE

from .bounded import Outcome, run_node

MB = 1_000_000


def run_inline(node_type: str, params: dict[str, Any], inputs: dict[str, Any] | None = None,
               labels: dict[str, list[str]] | None = None) -> dict[str, Any]:
    spec = catalogue[node_type]
    ctx = NodeContext(execution_id="e", team_id=0, node_id="n", node_type=node_type, label="n",
                      params=spec.params.model_validate(params), inputs=inputs or {},
                      input_labels=labels or {})
    return dict(inline(executor_for(node_type)).run(ctx).ports)


def template(text: str, **values: Any) -> dict[str, Any]:
    return run_inline("utility:text_template", {"template": text},
                      {"vars": list(values.values())}, {"vars": list(values)})


def failed(outcome: Outcome, message: str) -> bool:
    assert outcome.crash is None, outcome.crash
    return outcome.failure is not None and message in outcome.failure


# --- utility:text_template ---------------------------------------------------------------

def test_a_template_fills_placeholders_by_label_whatever_the_case_and_spaces() -> None:
    filled = template("{{ Animal }} and {{animal}}, {{ COUNT}}x", animal="fox", count=3)
    assert filled["text"] == "fox and fox, 3x"


def test_a_template_leaves_placeholders_that_name_no_value_as_written() -> None:
    assert template("{{ other }} {{}} {{a}b}} {x}", a="A")["text"] == "{{ other }} {{}} {{a}b}} {x}"


# The pattern the linear one replaced: the oracle of what filling means, on inputs too small to
# make it backtrack for long.
_OLD_PLACEHOLDER = re.compile(r"\{\{\s*([^{}]+?)\s*\}\}")


@hypothesis_settings(max_examples=300, deadline=None)
@given(st.text(alphabet="{} \tab\n", max_size=40), st.sampled_from(["a", " a ", "b", ""]))
def test_a_template_fills_exactly_what_the_old_pattern_did(text: str, label: str) -> None:
    def fill(match: re.Match[str]) -> str:
        return "VALUE" if match.group(1).strip().lower() == label.strip().lower() else \
            match.group(0)

    filled = run_inline("utility:text_template", {"template": text}, {"vars": ["VALUE"]},
                        {"vars": [label]})
    assert filled["text"] == _OLD_PLACEHOLDER.sub(fill, text)




@pytest.mark.parametrize("text", PATHOLOGICAL_TEMPLATES.values(), ids=PATHOLOGICAL_TEMPLATES)
def test_a_pathological_template_finishes_and_leaves_the_text_as_written(text: str) -> None:
    outcome = run_node("utility:text_template", {"template": text}, {"vars": ["fox"]},
                       {"vars": ["animal"]})
    assert outcome.text == text


def test_a_template_bomb_fails_before_the_text_is_built() -> None:
    """20,000 placeholders over a 100 KB value would be 2 GB of text."""
    outcome = run_node("utility:text_template", {"template": TEMPLATE_BOMB},
                       {"vars": [TEMPLATE_BOMB_VALUE]}, {"vars": [TEMPLATE_BOMB_LABEL]})
    assert failed(outcome, f"The filled template would be larger than {MB:,} bytes")


def test_a_template_of_exactly_the_limit_is_filled_and_one_byte_more_fails() -> None:
    filled = template("{{v}}" * 99 + "!" * 10_000, v="x" * 10_000)
    assert len(filled["text"]) == MB  # 99 × 10,000 + 10,000
    with pytest.raises(NodeFailure, match="larger than"):
        template("{{v}}" * 99 + "!" * 10_001, v="x" * 10_000)


def test_the_template_limit_counts_bytes_not_characters(settings: Any) -> None:
    settings.MAX_TEXT_BYTES = 10
    assert template("{{v}}", v="é" * 5)["text"] == "é" * 5  # 10 bytes
    with pytest.raises(NodeFailure, match="larger than 10 bytes"):
        template("{{v}}!", v="é" * 5)


# --- utility:regex -------------------------------------------------------------------------



@pytest.mark.parametrize("pattern", REGEX_BOMBS)
@pytest.mark.parametrize("mode", ["extract", "replace", "test"])
def test_a_regex_bomb_finishes_with_an_answer_or_a_timeout(pattern: str, mode: str) -> None:
    outcome = run_node("utility:regex", {"pattern": pattern, "mode": mode, "replacement": "x",
                                         "text": "a" * 50 + "b"})
    assert outcome.crash is None, outcome.crash
    assert outcome.ports is not None or "took longer than 1 s" in str(outcome.failure)


def test_a_catastrophic_regex_fails_the_node_on_its_timeout() -> None:
    outcome = run_node("utility:regex", {"pattern": "(a|aa)+$", "text": "a" * 50 + "b"})
    assert failed(outcome, "the regular expression took longer than 1 s on this text")


def test_a_replacement_that_multiplies_the_text_fails_before_it_is_built() -> None:
    """An empty match at each of 100,000 places, each replaced by 10 KB: 1 GB of text."""
    outcome = run_node("utility:regex", {"pattern": "", "mode": "replace",
                                         "replacement": "y" * 10_000, "text": "x" * 100_000})
    assert failed(outcome, f"The replaced text would be larger than {MB:,} bytes")


def test_matches_that_overlap_through_a_lookahead_fail_before_they_are_gathered() -> None:
    """`(?=(.*))` captures every suffix of the text: quadratic in its length."""
    outcome = run_node("utility:regex", {"pattern": "(?=(.*))", "mode": "extract_all",
                                         "text": "x" * 100_000})
    assert failed(outcome, f"The list of matches would be larger than {MB:,} bytes") or \
        failed(outcome, "took longer than 1 s")


def test_a_replacement_keeps_its_meaning() -> None:
    ports = run_inline("utility:regex", {"pattern": r"(\w)(\d)?", "mode": "replace",
                                         "replacement": r"[\2\1]", "text": "a1b c"})
    assert ports["text"] == "[1a][b] [c]"
    assert run_inline("utility:regex", {"pattern": "x*", "mode": "replace", "replacement": "-",
                                        "text": "axxb"})["text"] == "-a--b-"


def test_a_replacement_naming_a_missing_group_fails_the_node() -> None:
    with pytest.raises(NodeFailure, match="invalid replacement"):
        run_inline("utility:regex", {"pattern": "a", "mode": "replace", "replacement": r"\2",
                                     "text": "a"})


def test_a_replacement_is_counted_as_what_it_adds_to_the_text(settings: Any) -> None:
    """100 bytes in, 100 out: the 50 replacements take the place of what they match."""
    settings.MAX_TEXT_BYTES = 150
    ports = run_inline("utility:regex", {"pattern": "aa", "mode": "replace", "replacement": "bb",
                                         "text": "a" * 100})
    assert ports["text"] == "b" * 100




@pytest.mark.parametrize("pattern", COMPILE_BOMBS)
def test_a_pattern_too_costly_to_compile_is_refused_by_the_params_check(pattern: str) -> None:
    """The regex package writes counted repeats out when it compiles, holding the GIL:
    `(?:a{65535}){65535}` would take it hours, before any timeout applies."""
    cases: list[tuple[str, dict[str, Any]]] = [
        ("utility:regex", {"pattern": pattern}),
        ("logic:router", {"operator": "regex", "value": pattern}),
        ("logic:switch", {"operator": "regex", "cases": [pattern]})]
    for node_type, params in cases:
        [error] = catalogue[node_type].param_errors(params, set())
        assert "repeats too much" in error


@pytest.mark.parametrize("pattern", [r"\d{4}-\d{2}-\d{2}", "[0-9a-f]{8}(?:-[0-9a-f]{4}){3}",
                                     "(?:a{0,65535}){0,65535}", "x{10000}", r"\w+@\w+\.\w{2,}"])
def test_ordinary_patterns_pass_the_params_check(pattern: str) -> None:
    assert catalogue["utility:regex"].param_errors({"pattern": pattern}, set()) == []


def test_a_pattern_the_regex_package_refuses_is_refused_by_the_params_check() -> None:
    """Python's re accepts `a{2}{3}`; the regex package, which runs the patterns, does not."""
    [error] = catalogue["utility:regex"].param_errors({"pattern": "a{2}{3}"}, set())
    assert "not a valid regular expression" in error


# --- utility:image_resize and utility:image_upscale ----------------------------------------

def png(width: int, height: int, bit_depth: int = 1, rows: int | None = None) -> bytes:
    """A grey PNG of one colour, compressed row by row without ever holding the picture: a
    decompression bomb is a few hundred KB. With `rows`, only that many rows are present."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\0" + bytes((width * bit_depth + 7) // 8)
    packer = zlib.compressobj(9)
    data = b"".join(packer.compress(row) for _ in range(height if rows is None else rows))
    header = struct.pack(">IIBBBBB", width, height, bit_depth, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", data + packer.flush()) + chunk(b"IEND", b""))


@pytest.fixture
def media(settings: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Media saved under a temporary folder, seen by this process and by `run_node`'s child."""
    settings.MEDIA_ROOT = tmp_path
    monkeypatch.setenv("MEDIA_ROOT", str(tmp_path))
    yield


def upload(content: bytes) -> str:
    return save_image(content, "png")


@pytest.mark.parametrize("size", [(20_000, 20_000), (10_000, 10_000), (MAX_IMAGE_SIDE + 1,
                                                                       MAX_IMAGE_SIDE)])
@pytest.mark.parametrize("node_type, params", [("utility:image_resize", {"width": 64}),
                                               ("utility:image_upscale", {"scale_factor": 1})])
def test_a_decompression_bomb_fails_the_node_clearly(media: None, size: tuple[int, int],
                                                     node_type: str,
                                                     params: dict[str, Any]) -> None:
    outcome = run_node(node_type, params, {"image": upload(png(*size))})
    assert failed(outcome, "the image is too large")
    assert f"at most {MAX_IMAGE_SIDE * MAX_IMAGE_SIDE:,} pixels" in str(outcome.failure)


def test_an_image_s_pixel_count_is_checked_before_it_is_decoded(media: None) -> None:
    """Only the header of this one is whole: decoding it would fail on the missing rows, so
    the node's error shows which came first."""
    truncated = upload(png(10_000, 10_000, bit_depth=8, rows=10))
    with pytest.raises(NodeFailure, match=r"too large \(10000x10000\)"):
        run_inline("utility:image_upscale", {"scale_factor": 1}, {"image": truncated})


def test_a_file_in_a_format_the_nodes_do_not_read_is_not_an_image(media: None) -> None:
    from PIL import Image

    bmp = io.BytesIO()
    Image.new("RGB", (4, 4)).save(bmp, format="BMP")
    with pytest.raises(NodeFailure, match="not an image"):
        run_inline("utility:image_upscale", {"scale_factor": 2}, {"image": upload(bmp.getvalue())})


def test_a_resize_whose_other_side_would_be_huge_fails_before_resizing(media: None) -> None:
    """A width for a 1x4000 image: keeping the ratio, the height would be 32,768,000."""
    outcome = run_node("utility:image_resize", {"width": MAX_IMAGE_SIDE},
                       {"image": upload(png(1, 4000, bit_depth=8))})
    assert failed(outcome, f"would exceed {MAX_IMAGE_SIDE} pixels per side")


def test_an_ordinary_image_is_resized_and_upscaled(media: None) -> None:
    from PIL import Image

    from executions.media import open_media_by_url

    source = upload(png(40, 20, bit_depth=8))
    resized = run_inline("utility:image_resize", {"width": 20}, {"image": source})["image"]
    upscaled = run_inline("utility:image_upscale", {"scale_factor": 2}, {"image": source})["image"]
    assert Image.open(io.BytesIO(open_media_by_url(resized) or b"")).size == (20, 10)
    assert Image.open(io.BytesIO(open_media_by_url(upscaled) or b"")).size == (80, 40)


# --- utility:prompt_concat -----------------------------------------------------------------

def test_joining_texts_counts_the_result_before_building_it(settings: Any) -> None:
    settings.MAX_TEXT_BYTES = 11
    texts = {"texts": ["abcde", 7, "", None, "é"]}
    assert run_inline("utility:prompt_concat", {"separator": "-"}, texts)["text"] == "abcde-7-é"
    with pytest.raises(NodeFailure, match="The joined text would be larger than 11 bytes"):
        run_inline("utility:prompt_concat", {"separator": "--"}, texts)


# --- utility:regex: the four modes ----------------------------------------------------------

@pytest.mark.parametrize("mode, text, answer, matches", [
    ("extract", "2024-05-01", "2024", ["2024", "05", "01"]),
    ("extract_all", "2024 and 1999", "2024\n1999", ["2024", "1999"]),
    ("test", "no digits", "false", []),
    ("test", "route 66", "true", ["66"]),
    ("replace", "a1b22", "a#b#", ["1", "22"]),
])
def test_each_regex_mode_answers_its_text_the_matches_and_whether_it_matched(
        mode: str, text: str, answer: str, matches: list[str]) -> None:
    ports = run_inline("utility:regex", {"pattern": r"\d+", "mode": mode, "replacement": "#",
                                         "text": text})
    assert ports == {"text": answer, "matches": matches, "matched": bool(matches)}


def test_a_regex_with_a_group_extracts_the_group_and_can_ignore_case() -> None:
    ports = run_inline("utility:regex", {"pattern": r"id=(\w+)", "ignore_case": True},
                       {"text": "ID=ab12 id=cd34"})
    assert ports["text"] == "ab12" and ports["matches"] == ["ab12", "cd34"]


# --- utility:json_extract -------------------------------------------------------------------

DOCUMENT = {"images": [{"url": "a.png"}, {"url": "b.png"}], "a key": {"n": 3}, "list": [1, 2]}


@pytest.mark.parametrize("path, value", [
    ("$", DOCUMENT), ("$.images[0].url", "a.png"), ("$.images[-1].url", "b.png"),
    ('$["a key"].n', 3), ("$['a key']", {"n": 3}), ("$.list[1]", 2),
])
def test_json_extract_reads_the_value_at_its_path(path: str, value: Any) -> None:
    assert run_inline("utility:json_extract", {"path": path}, {"json": DOCUMENT}) == \
        {"value": value}


def test_json_extract_reads_json_that_arrives_as_text_and_passes_other_text_through() -> None:
    assert run_inline("utility:json_extract", {"path": "$.a"}, {"json": '{"a": [1]}'}) == \
        {"value": [1]}
    assert run_inline("utility:json_extract", {"path": "$"}, {"json": "not json"}) == \
        {"value": "not json"}


@pytest.mark.parametrize("path", ["$.missing", "$.images[5].url", "$.list.key", "$.list[0].x"])
def test_json_extract_fails_the_node_when_nothing_is_at_the_path(path: str) -> None:
    with pytest.raises(NodeFailure, match="nothing at"):
        run_inline("utility:json_extract", {"path": path}, {"json": DOCUMENT})


# --- utility:split_list ---------------------------------------------------------------------

@pytest.mark.parametrize("params, items", [
    ({}, ["a", "b", "c"]),
    ({"trim": False}, [" a ", " b", "c "]),
    ({"drop_empty": False}, ["a", "", "b", "c"]),
    ({"trim": False, "drop_empty": False}, [" a ", "", " b", "c "]),
    ({"separator": ","}, ["a \n\n b\nc"]),
])
def test_split_list_cuts_trims_and_drops_empty_items(params: dict[str, Any],
                                                      items: list[str]) -> None:
    assert run_inline("utility:split_list", params, {"text": " a \n\n b\nc "}) == \
        {"items": items, "count": len(items)}


def test_split_list_reads_an_escaped_separator_and_its_text_param() -> None:
    assert run_inline("utility:split_list", {"separator": "\\t", "text": "x\ty"}) == \
        {"items": ["x", "y"], "count": 2}
