"""Engine time of a 10,000-line footprint, on one core, and peak RSS.

Run: python bench/engine.py [--lines N] [--repeat R]

The engine is pure, so this feeds it what the real contracts answer over the
factor records from data/, run in memory (built once, outside the timing), and
times `compute()` alone: the work a resolver does after its one read per channel. The target
is 200 ms for 10,000 lines. Side by side in the same run it times a
1,000-line footprint, to show how the time scales.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import time

from datachannels.channel_connectors.memory import engine_answer, factor_channels
from datachannels.resolvers import engine, geo


def _answer_from_records():
    # The real contracts in memory, holding the real records; each need is read once, as in a
    # request.
    return engine_answer(factor_channels())


def _request(lines: int) -> engine.FootprintRequest:
    quarter = lines // 4
    regions = ["CAMX", "ERCT", "NYUP", "SRMW", "RFCE", "US"]
    routes = [("LHR", "JFK"), ("LHR", "CDG"), ("SFO", "NRT"), ("LHR", "EDI"), ("FRA", "SIN")]
    return engine.FootprintRequest(
        electricity=tuple(
            engine.ElectricityActivity(100.0 + i, grid_region=regions[i % 6])
            for i in range(quarter)
        ),
        freight=tuple(
            engine.FreightActivity(
                ["road", "rail", "sea"][i % 3], tonnes=1.0 + i % 50, km=100.0 + i
            )
            for i in range(quarter)
        ),
        flights=tuple(
            engine.FlightActivity(
                *routes[i % 5], cabin_class=["average", "economy", "business"][i % 3]
            )
            for i in range(quarter)
        ),
        purchases=tuple(
            engine.PurchaseActivity(
                amount_usd=1000.0 + i, naics=["331110", "484121", "211130"][i % 3]
            )
            if i % 2
            else engine.PurchaseActivity(
                tonnes=1.0 + i % 9, commodity="Plastics: PET (incl. forming)"
            )
            for i in range(lines - 3 * quarter)
        ),
    )


def _time(request: engine.FootprintRequest, answer, repeat: int) -> tuple[float, int]:
    samples, n = [], 0
    for _ in range(repeat):
        started = time.perf_counter()
        result = engine.compute(request, answer)
        samples.append(time.perf_counter() - started)
        n = len(result.lines)
    return statistics.median(samples), n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    answer = _answer_from_records()
    small, big = _request(args.lines // 10), _request(args.lines)
    geo.airport_distance_km(
        "LHR", "JFK"
    )  # load the airport table outside the timing, as a warm server has it
    engine.compute(small, answer)  # warm the answers and caches
    engine.compute(big, answer)
    t_small, n_small = _time(small, answer, args.repeat)
    t_big, n_big = _time(big, answer, args.repeat)
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"engine, {n_small} lines: median {t_small * 1000:.1f} ms over {args.repeat} runs")
    print(
        f"engine, {n_big} lines: median {t_big * 1000:.1f} ms over {args.repeat} runs "
        f"(target 200 ms: {'met' if t_big <= 0.2 else 'NOT met'}; {t_big / t_small:.1f}× the "
        f"{n_small}-line time)"
    )
    print(
        f"peak RSS of this process: {rss_mib:.0f} MiB (includes the factor data and airport table)"
    )


if __name__ == "__main__":
    main()
