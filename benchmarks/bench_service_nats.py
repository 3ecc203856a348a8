"""The service runtime over NATS against a bare nats-py responder, in the same run.

::

    requester (this process) --nc.request--> nats-server --> bare responder   (baseline)
                                                         --> natsgate service (catalog)

Both answer ``GET /items/1``; the requester is the same loop for both, so the
ratio says what the runtime (mapping, routing, Services API bookkeeping)
costs on top of nats-py itself. Rounds alternate between the two so drift on
a shared machine lands on both.

    python benchmarks/bench_service_nats.py [--seconds 3] [--rounds 3] [--concurrency 1 16]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import uvloop

from natsgate import catalog
from natsgate.mapping import nats_request, parse_reply, path_tokens
from natsgate.natsconn import HeaderLines, connect
from natsgate.natsserver import NatsServer

BARE_RESPONDER = """
import asyncio, sys
import nats

async def main():
    nc = await nats.connect(sys.argv[1])
    body = sys.argv[2].encode()

    async def answer(msg):
        await nc.publish(msg.reply, body, headers={"Http-Status": "200"})

    await nc.subscribe("bare.>", queue="bare", cb=answer)
    await nc.flush()
    print("ready", flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


def _start(command: list[str], ready_file: Path | None = None) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    if ready_file is None:
        assert process.stdout is not None
        process.stdout.readline()
        return process
    while not ready_file.exists():
        if time.monotonic() > deadline or process.poll() is not None:
            raise SystemExit(f"{command[:4]} did not start")
        time.sleep(0.05)
    return process


async def _drive(url: str, prefix: str, concurrency: int, seconds: float) -> float:
    """Requests/s of ``concurrency`` request loops for ``seconds``; every reply checked."""
    nc = await connect([url], name="bench-service-nats")
    subject = ".".join([prefix, "GET", *path_tokens("/items/1")])
    request = nats_request(subject, "GET", "/items/1", "", [], b"")
    expected = catalog.expected_item_body("1")
    done = 0
    stop = time.monotonic() + seconds

    async def loop() -> None:
        nonlocal done
        while time.monotonic() < stop:
            msg = await nc.request(subject, b"", timeout=5, headers=HeaderLines(request.headers))
            reply = parse_reply(list(msg.headers.items()) if msg.headers else None, msg.data)
            if reply.status != 200 or reply.body != expected:
                raise SystemExit(f"bad reply from {prefix}: {reply.status} {reply.body[:80]!r}")
            done += 1

    started = time.monotonic()
    await asyncio.gather(*(loop() for _ in range(concurrency)))
    elapsed = time.monotonic() - started
    await nc.close()
    return done / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16])
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="bench-service-nats-"))
    with NatsServer(workdir) as server:
        ready = workdir / "service.json"
        body = catalog.expected_item_body("1").decode()
        service = [
            sys.executable, "-m", "natsgate.cli", "service", "--no-http",
            "--nats-url", server.url, "--ready-file", str(ready),
        ]  # fmt: skip
        bare = [sys.executable, "-c", BARE_RESPONDER, server.url, body]
        processes = [_start(service, ready), _start(bare)]
        try:
            print(f"{'concurrency':>11}  {'bare nats-py':>12}  {'natsgate':>9}  ratio")
            for concurrency in args.concurrency:
                rates: dict[str, list[float]] = {"bare": [], "catalog": []}
                for _ in range(args.rounds):
                    for prefix in ("bare", "catalog"):
                        rate = uvloop.run(_drive(server.url, prefix, concurrency, args.seconds))
                        rates[prefix].append(rate)
                bare_rate = statistics.median(rates["bare"])
                ours = statistics.median(rates["catalog"])
                print(
                    f"{concurrency:>11}  {bare_rate:>12,.0f}  {ours:>9,.0f}  {ours / bare_rate:.2f}"
                )
        finally:
            for process in processes:
                process.terminate()
                process.wait(10)


if __name__ == "__main__":
    main()
