"""The hostile input corpus: pathological values, shared by the bounded-time tests of the node
executors (tests/workflows/test_nodes_utility.py) and the end-to-end hostile input test of the
site (tests/reliability/test_hostile_input.py). Each is compact to build and really
pathological: huge, NUL, lone surrogates, deep nesting, regex and template bombs, numbers that
JSON allows and nothing can hold, wrong types."""

import json
from dataclasses import dataclass

# --- Templates -----------------------------------------------------------------------------

# Placeholder scans that backtracked (the lazy `\{\{\s*([^{}]+?)\s*\}\}` took hours on the
# first one): each must be scanned in linear time and left as written.
PATHOLOGICAL_TEMPLATES = {
    "the issue's example": "{{" + " " * 20_000 + "x",
    "an unclosed placeholder of spaces and tabs": "{{" + " \t\n" * 30_000,
    "many unclosed placeholders": "{{ x " * 20_000,
    "only opening braces": "{" * 100_000,
    "openings and single closings": "{{ a }" * 16_000,
    "spaces around a name never closed": "{{" + " " * 30_000 + "a" + " " * 30_000 + "}",
    "alternating braces": "{{}" * 33_000,
}

# 20,000 placeholders over a 100 KB value: 2 GB of text, if it were built.
TEMPLATE_BOMB_LABEL = "v"
TEMPLATE_BOMB = ("{{" + TEMPLATE_BOMB_LABEL + "}}") * 20_000
TEMPLATE_BOMB_VALUE = "x" * 100_000

# --- Regular expressions -------------------------------------------------------------------

# Catastrophic backtracking on a subject that almost matches.
REGEX_BOMBS = ["(a+)+$", "(a|aa)+$", "(a|a)+$", "(?:a|a)*$", "^(a|a?)+$", "(\\w+\\s?)+$",
               "(.*a){20}$"]
REGEX_BOMB_SUBJECT = "a" * 5000 + "b"
# Patterns whose counted repeats the regex package writes out when it compiles them, holding
# the GIL: `(?:a{65535}){65535}` would take it hours, before any timeout applies.
COMPILE_BOMBS = ["(?:a{1000}){1000}", "a{1000000}", "(?:a{65535}){65535}",
                 "((((a{100}){100}){100}){100})", "(?:(?:ab{0,9}){50}){300}"]

# --- Values as JSON text ---------------------------------------------------------------------


@dataclass(frozen=True)
class Hostile:
    """One hostile value. `raw` is its JSON text, spliced into a request body as is: some of
    these cannot be written by Python's json module (10,000 levels of nesting, a raw NUL byte,
    invalid UTF-8, 10**5000). `value` is the Python string when it is one. `subject` is what a
    node working on this value should be given as its input (the text a regex bomb runs on,
    the value a template bomb multiplies), when that is not the value itself."""

    family: str
    name: str
    raw: bytes
    value: str | None = None
    subject: str | None = None

    @property
    def id(self) -> str:
        return f"{self.family}: {self.name}"


def text(family: str, name: str, value: str, subject: str | None = None) -> Hostile:
    # ensure_ascii: a NUL or a lone surrogate travels as a \u escape, as a client would send it.
    return Hostile(family, name, json.dumps(value).encode(), value, subject)


def raw(family: str, name: str, raw_json: bytes) -> Hostile:
    return Hostile(family, name, raw_json)


HOSTILE: list[Hostile] = [
    text("huge", "2 MB", "x" * 2_000_000),
    text("huge", "200 KB, under the body limit", "y" * 200_000),
    text("nul", "escaped NUL inside text", "a\x00b"),
    raw("nul", "escaped NUL as \\u0000", b'"a\\u0000b"'),
    raw("nul", "a raw NUL byte inside a string", b'"a\x00b"'),
    text("surrogate", "lone high surrogate", "a\ud800b"),
    text("surrogate", "lone low surrogate", "\udfff"),
    text("surrogate", "reversed pair", "\udc00\ud800"),
    raw("surrogate", "a surrogate encoded in UTF-8 (invalid UTF-8)", b'"\xed\xa0\x80"'),
    raw("surrogate", "bytes that are not UTF-8", b'"\xff\xfe\xc3"'),
    raw("deep-json", "10,000 nested arrays", b"[" * 10_000 + b"]" * 10_000),
    raw("deep-json", "100 nested objects", b'{"a":' * 100 + b"1" + b"}" * 100),
    raw("deep-json", "100,000 arrays never closed", b"[" * 100_000),
    text("deep-json-text", "10,000 nested arrays as text", "[" * 10_000 + "]" * 10_000),
    *[text("regex-bomb", pattern, pattern, subject=REGEX_BOMB_SUBJECT) for pattern in REGEX_BOMBS],
    *[text("compile-bomb", pattern, pattern) for pattern in COMPILE_BOMBS],
    text("template-bomb", "20,000 placeholders over 50 KB", TEMPLATE_BOMB,
         subject=TEMPLATE_BOMB_VALUE[:50_000]),
    *[text("template-scan", name, template) for name, template in PATHOLOGICAL_TEMPLATES.items()],
    raw("huge-number", "1e400", b"1e400"),
    raw("huge-number", "-1e400", b"-1e400"),
    raw("huge-number", "10**5000", b"1" + b"0" * 5000),
    raw("huge-number", "NaN", b"NaN"),
    raw("huge-number", "-Infinity", b"-Infinity"),
    raw("wrong-type", "an object", b'{"text": ["a", {"b": null}]}'),
    raw("wrong-type", "a number", b"12345"),
    raw("wrong-type", "true", b"true"),
    raw("wrong-type", "null", b"null"),
    raw("wrong-type", "a list", b'["a", "b"]'),
]
