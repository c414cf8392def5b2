"""`make bench`: run every benchmark against a production-like site and print the table.

    python -m bench            # all
    python -m bench B1 B2      # some
"""

import importlib
import sys
import traceback

from .common import Result, Site, machine, print_table, redis_rtt_ms, write_results

BENCHMARKS = {"B1": "bench.b1_overhead", "B2": "bench.b2_fanout", "B3Q": "bench.b3_waiting",
              "B8": "bench.b8_editor", "DASH": "bench.dashboard"}


def main(wanted: list[str]) -> int:
    chosen = [b.upper() for b in wanted] or list(BENCHMARKS)
    facts = {**machine(), "redisRttMs": redis_rtt_ms()}
    results: list[Result] = []
    with Site() as site:
        for bench_id in chosen:
            module = importlib.import_module(BENCHMARKS[bench_id])
            try:
                results.extend(module.run(site))
            except Exception as exc:  # a benchmark that cannot run says why, never a figure
                traceback.print_exc()
                results.append(Result(id=bench_id, what="could not run", figure=None, unit="",
                                      baseline=None, goal="-", met=None,
                                      note=f"{exc.__class__.__name__}: {exc}"))
    print_table(facts, results)
    print(f"\nwritten to {write_results(facts, results)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
