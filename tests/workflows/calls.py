"""The executor of a node type that makes one direct provider call, for tests that call it."""

from executions.engine.calls import Direct
from executions.executors import executor_for


def direct(node_type: str) -> Direct:
    executor = executor_for(node_type)
    assert isinstance(executor, Direct), f"{node_type} does not make one direct call"
    return executor
