"""The suite's collection: every test has a node id of its own, or the run stops (pytest-xdist
hands out tests by node id, and of two that share one only one would run)."""

from dataclasses import dataclass
from typing import cast

import pytest

from tests.conftest import pytest_collection_modifyitems


@dataclass
class _Item:
    nodeid: str


def _collected(*nodeids: str) -> list[pytest.Item]:
    return cast("list[pytest.Item]", [_Item(nodeid) for nodeid in nodeids])


def test_tests_with_node_ids_of_their_own_are_collected() -> None:
    pytest_collection_modifyitems(_collected("tests/a.py::test_x[GET /nodes]",
                                             "tests/a.py::test_x[POST /nodes]",
                                             "tests/a.py::test_x"))


def test_two_tests_with_one_node_id_stop_the_run_naming_it() -> None:
    with pytest.raises(pytest.UsageError, match=r"two tests are collected as tests/a\.py::test_x$"):
        pytest_collection_modifyitems(_collected("tests/a.py::test_x[GET /nodes]",
                                                 "tests/a.py::test_x", "tests/a.py::test_x"))
