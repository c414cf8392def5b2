"""`make bench`: run every benchmark against a production-like site and print the table.

    python -m bench               # all
    python -m bench B1 B2         # some
    python -m bench --quick B5    # shorter runs, fewer samples, the same figures
"""

import importlib
import sys
import traceback
from typing import Any

from .common import (
    Result,
    Site,
    machine,
    print_table,
    redis_rtt_ms,
    wait_until_quiet,
    write_results,
)

BENCHMARKS = {"B1": "bench.b1_overhead", "B2": "bench.b2_fanout", "B3": "bench.b3_capacity",
              "B3Q": "bench.b3_waiting",
              "B4": "bench.b4_trigger", "B5": "bench.b5_throughput", "B6": "bench.b6_api_load",
              "B7": "bench.b7_live", "B8": "bench.b8_editor", "DASH": "bench.dashboard",
              "CPU": "bench.cpu_parts"}
# --quick: B4-B7 read site.quick; the others run with fewer repetitions of the same measurement
# (their module constants, read when they run). The sizes that define a figure stay (B1's chain,
# B2's N, B3's 30 s wait, the dashboard's 100,000 executions, B8's graph).
QUICK = {"B1": {"RUNS": 2}, "B3Q": {"BEHIND_RUNS": 4}, "CPU": {"REPEATS": 1},
         "B8": {"LOADS": 3, "DRAGS": 1}, "DASH": {"RUNS": 2}}


def main(args: list[str]) -> int:
    quick = "--quick" in args
    wanted = [a.upper() for a in args if a != "--quick"]
    unknown = [b for b in wanted if b not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
        return 2
    chosen = wanted or list(BENCHMARKS)
    facts = {**machine(), "redisRttMs": redis_rtt_ms(), "quick": quick}
    results: list[Result] = []
    # A benchmark whose module names SITE_OPTIONS (B3: one worker process) gets a site of its
    # own; the others share one.
    modules = {bench_id: importlib.import_module(BENCHMARKS[bench_id]) for bench_id in chosen}
    shared = [b for b in chosen if not hasattr(modules[b], "SITE_OPTIONS")]
    own = [b for b in chosen if hasattr(modules[b], "SITE_OPTIONS")]
    if shared:
        with Site(quick=quick) as site:
            for bench_id in shared:
                results.extend(_run(bench_id, modules[bench_id], site, quick))
    for bench_id in own:
        with Site(quick=quick, **modules[bench_id].SITE_OPTIONS) as site:
            results.extend(_run(bench_id, modules[bench_id], site, quick))
    print_table(facts, results)
    print(f"\nwritten to {write_results(facts, results)}")
    return 0


def _run(bench_id: str, module: Any, site: Site, quick: bool) -> list[Result]:
    try:
        for name, value in (QUICK.get(bench_id, {}) if quick else {}).items():
            setattr(module, name, value)
        left = site.wait_until_idle(timeout=600)
        if left:
            raise RuntimeError(f"{left} executions of the benchmarks before were still running")
        waited = wait_until_quiet()
        if waited > 2:
            print(f"{bench_id}: waited {waited:.0f} s for the machine to quiet down")
        return list(module.run(site))
    except Exception as exc:  # a benchmark that cannot run says why, never a figure
        traceback.print_exc()
        return [Result(id=bench_id, what="could not run", figure=None, unit="", baseline=None,
                       goal="-", met=None, note=f"{exc.__class__.__name__}: {exc}")]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
