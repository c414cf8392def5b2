"""The table of executors by node type. The catalogue (workflows/nodes) declares what each node
type is; the module of the same name here says how it runs and enters it in this table."""

from executions.engine.contracts import Executor

EXECUTORS: dict[str, Executor] = {}


def executes(node_type: str, executor: Executor) -> None:
    if node_type in EXECUTORS:
        raise ValueError(f"node type {node_type} has two executors")
    EXECUTORS[node_type] = executor
