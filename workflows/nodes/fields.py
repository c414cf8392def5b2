"""Param field types shared by the node families, so each rule is written once."""

from __future__ import annotations

import importlib
import re
from typing import Annotated, Any
from urllib.parse import urlsplit

import regex
from pydantic import AfterValidator, Field

from .registry import TEXTAREA, URL

MAX_SEED = 2**32 - 1


def _media_url(value: str) -> str:
    """Empty (filled at run time), an http(s) URL, or a path on this site (an upload)."""
    if value == "" or value.startswith("/"):
        return value
    parts = urlsplit(value)
    if parts.scheme in ("http", "https") and parts.netloc:
        return value
    raise ValueError("must be an http(s) URL")


def _web_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme in ("http", "https") and parts.netloc:
        return value
    raise ValueError("must be an http(s) URL")


MAX_REGEX_SIZE = 10_000
# Longer literal text makes the regex package's first search prepare its fast string search in
# time cubic in the literal's length when the literal repeats itself ("]" * 10_000, "ab" * 2000:
# minutes, holding the GIL, before its timeout is looked at); 1,000 characters take under a
# second. Every user pattern (utility:regex, the router's and the switch's regex operator)
# is held to it here.
MAX_REGEX_LENGTH = 1000
# The stdlib's own pattern parser. Private, so typeshed's stubs for it come and go between
# type checker releases: looked up by name, it type-checks the same on all of them.
sre_parser: Any = importlib.import_module("re._parser")
_REPEATS = frozenset({sre_parser.MAX_REPEAT, sre_parser.MIN_REPEAT,
                      sre_parser.POSSESSIVE_REPEAT})


def regex_size(pattern: str) -> int:
    """How many items a pattern has once its counted repeats are written out (`(?:ab){3}c`: 7):
    what the regex package's compiler builds, so what compiling it costs (`(?:a{1000}){1000}`
    takes it seconds, holding the GIL, and `(?:a{65535}){65535}` hours). Counted without
    recursion (deep nesting cannot exhaust the stack), and only until it passes the cap."""
    total = 0
    stack: list[tuple[Any, int]] = [(sre_parser.parse(pattern), 1)]
    while stack and total <= MAX_REGEX_SIZE:
        node, weight = stack.pop()
        if isinstance(node, sre_parser.SubPattern):
            for op, av in node:
                if op in _REPEATS:
                    low, _high, body = av
                    stack.append((body, min(weight * max(low, 1), MAX_REGEX_SIZE + 1)))
                else:
                    total += weight
                    stack.append((av, weight))
        elif isinstance(node, tuple | list):
            stack.extend((child, weight) for child in node)
    return total


def regex_problem(pattern: str) -> str | None:
    """Why a user's pattern cannot be used, or None. It must be Python syntax, cheap to compile
    and accepted by the regex package, which runs it (with a timeout: runtime.py)."""
    if len(pattern) > MAX_REGEX_LENGTH:
        return (f"a regular expression is at most {MAX_REGEX_LENGTH:,} characters long "
                f"(this one has {len(pattern):,})")
    try:
        size = regex_size(pattern)
        if size <= MAX_REGEX_SIZE:
            regex.compile(pattern)
    except (re.error, regex.error, OverflowError, RecursionError) as exc:  # huge repeats overflow
        return f"'{pattern}' is not a valid regular expression ({exc})"
    if size > MAX_REGEX_SIZE:
        return (f"'{pattern}' repeats too much: more than {MAX_REGEX_SIZE:,} items once its "
                "counted repeats are written out")
    return None


def _regex(value: str) -> str:
    problem = regex_problem(value)
    if problem:
        raise ValueError(problem)
    return value


MediaUrl = Annotated[str, AfterValidator(_media_url), Field(max_length=4096,
                                                            json_schema_extra=URL)]
WebUrl = Annotated[str, AfterValidator(_web_url), Field(min_length=1, max_length=2048,
                                                        json_schema_extra=URL)]
Regex = Annotated[str, AfterValidator(_regex), Field(max_length=MAX_REGEX_LENGTH)]
LongText = Annotated[str, Field(max_length=100_000, json_schema_extra=TEXTAREA)]
Seed = Annotated[int | None, Field(ge=0, le=MAX_SEED,
                                   description="Same seed, same params: the same result. "
                                               "Empty for a random seed.")]
