"""What the engine agrees to store for a node: the one place where its resolved input, each port
value and its output are checked before they are written.

Each must be JSON that PostgreSQL can store (no NUL characters, lone surrogates, NaN, runaway
nesting) and at most MAX_TEXT_BYTES of JSON: text and data travel through ports, media travel
by URL, so a bigger value is a mistake (a template bomb, a runaway split) and fails its node
with a message that says so, instead of exhausting memory or the database.
"""

from collections.abc import Mapping
from typing import Any

from executions.executors.runtime import max_text_bytes
from workflows.schemas import storable_json_problem

from .contracts import NodeResult


def exceeds(value: Any, limit: int) -> bool:
    """Whether the value's JSON (as json.dumps writes it) is over `limit` bytes, counted without
    building it and stopping as soon as the count passes the limit. Iterative: deep nesting
    cannot exhaust the stack."""
    total = 0
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):  # quotes and the separator after it
            total += 4 + (len(item) if item.isascii()
                          else len(item.encode("utf-8", "surrogatepass")))
        elif isinstance(item, Mapping):
            total += 2
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            total += 2
            stack.extend(item)
        else:  # numbers, booleans, null
            total += 2 + len(str(item))
        if total > limit:
            return True
    return False


def value_problem(value: Any, what: str) -> str | None:
    limit = max_text_bytes()
    if exceeds(value, limit):
        return (f"{what} is larger than {limit:,} bytes (the limit on text and data passed "
                "between nodes; media go by URL)")
    problem = storable_json_problem(value)
    return f"{what} cannot be stored: it {problem}" if problem else None


def input_problem(stored: Any) -> str | None:
    return value_problem(stored, "The node's input")


def result_problem(result: NodeResult) -> str | None:
    for port, value in result.ports.items():
        problem = value_problem(value, f"The value of output '{port}'")
        if problem:
            return problem
    return value_problem(result.output, "The node's output")
