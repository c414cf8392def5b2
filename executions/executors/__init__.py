"""How each node type runs: the engine looks a node's executor up here by its type.

`workflows/nodes/<family>.py` declares a family's node types (ports, params, price, timeout);
`executions/executors/<family>.py` holds how they run and enters each in the table. Every node
type of the catalogue has exactly one executor (tests/workflows/test_nodes_catalogue.py).
"""

from executions.engine.contracts import Executor

# isort: off
from . import input, fal, llm, audio, stability  # noqa: F401  (each enters its executors)
from . import fal_custom, replicate, http_request  # noqa: F401
from . import utility, logic, output  # noqa: F401
# isort: on
from .table import EXECUTORS


def executor_for(node_type: str) -> Executor:
    """The executor of a node type of the catalogue (a graph that validated has no other)."""
    return EXECUTORS[node_type]


__all__ = ["EXECUTORS", "executor_for"]
