"""Param field types shared by the node families, so each rule is written once."""

from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import urlsplit

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


def regex_problem(pattern: str) -> str | None:
    try:
        re.compile(pattern)
    except (re.error, OverflowError, RecursionError) as exc:  # huge repeats overflow
        return f"'{pattern}' is not a valid regular expression ({exc})"
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
Regex = Annotated[str, AfterValidator(_regex), Field(max_length=1000)]
LongText = Annotated[str, Field(max_length=100_000, json_schema_extra=TEXTAREA)]
Seed = Annotated[int | None, Field(ge=0, le=MAX_SEED,
                                   description="Same seed, same params: the same result. "
                                               "Empty for a random seed.")]
