"""The benchmarks' CPU accounting by command name (bench/common.py): a PostgreSQL backend that
exits between two readings must still be counted, through the postmaster that reaped it."""

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.common import _named_cpu_seconds

NAME = "wfcpuprobe"
BURN = "import time\nend = time.process_time() + 0.4\nwhile time.process_time() < end: pass\n"


@pytest.fixture
def renamed() -> Iterator[None]:
    """This process under a name no other process has, for the length of the test."""
    comm = Path("/proc/self/comm")
    before = comm.read_text().strip()
    comm.write_text(NAME)
    try:
        yield
    finally:
        comm.write_text(before)


def test_a_named_process_counts_its_own_cpu_and_its_reaped_children(renamed: None) -> None:
    before = _named_cpu_seconds(NAME)
    subprocess.run([sys.executable, "-c", BURN], check=True)  # a child that exits, reaped
    after = _named_cpu_seconds(NAME)
    assert after - before >= 0.35, (before, after)


def test_other_names_are_not_counted(renamed: None) -> None:
    assert _named_cpu_seconds(NAME + "-none") == 0
