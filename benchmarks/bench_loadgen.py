"""How fast is natsgate's load generator, as a ratio of baselines measured in the same run.

::

    python benchmarks/bench_loadgen.py [--duration S] [--rounds N] [--concurrency 1 50 ...]

    one hello server (aiohttp + uvloop, own process)
      for each concurrency, N rounds, interleaved so machine noise hits all alike:
        natsgate load (1 worker, in process) | aiohttp client (same process) | wrk -t1 (if on PATH)
      -> median req/s of each, and ours as a ratio of each baseline

The ratio is what to read: on a shared 2-core machine the absolute rates move with
whatever else runs, the ratios much less. No figure here is asserted.
"""

from __future__ import annotations

import argparse
import statistics
import sys

from natsgate.load import LoadPlan, RequestSpec, run_load
from natsgate.load.calibrate import aiohttp_client_rate, environment, wrk_rate
from natsgate.load.hello import HELLO_BODY, hello_server


def measure(url: str, concurrency: int, duration: float, rounds: int) -> dict[str, list[float]]:
    """Interleaved rounds of each generator against the same server."""
    rates: dict[str, list[float]] = {"natsgate": [], "aiohttp": [], "wrk": []}
    flow = (RequestSpec("GET", "/", expect_body=HELLO_BODY),)
    for _ in range(rounds):
        plan = LoadPlan(url, flow, concurrency=concurrency, duration=duration, warmup=0.3)
        result = run_load(plan)
        if result.ok != result.requests:
            raise SystemExit(f"natsgate load saw errors: {result.errors}")
        rates["natsgate"].append(result.requests_per_second)
        rates["aiohttp"].append(aiohttp_client_rate(url + "/", concurrency, duration))
        wrk = wrk_rate(url + "/", concurrency, duration)
        if wrk is not None:
            rates["wrk"].append(wrk)
    return rates


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=2.0, help="seconds per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per setting")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 50])
    args = parser.parse_args(argv)

    for key, value in environment().items():
        print(f"# {key}: {value}")
    print(f"# {args.rounds} round(s) of {args.duration:g} s each; median req/s")
    columns = (("flows", 6), ("natsgate", 10), ("aiohttp", 10), ("x aiohttp", 10))
    columns += (("wrk -t1", 10), ("x wrk", 7))
    print(" ".join(f"{name:>{width}}" for name, width in columns))
    with hello_server() as url:
        for concurrency in args.concurrency:
            rates = measure(url, concurrency, args.duration, args.rounds)
            ours = statistics.median(rates["natsgate"])
            aio = statistics.median(rates["aiohttp"])
            wrk = statistics.median(rates["wrk"]) if rates["wrk"] else None
            print(
                f"{concurrency:>6} {ours:>10,.0f} {aio:>10,.0f} {ours / aio:>10.2f} "
                + (f"{wrk:>10,.0f} {ours / wrk:>7.2f}" if wrk else f"{'-':>10} {'-':>7}"),
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
