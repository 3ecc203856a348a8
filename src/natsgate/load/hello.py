"""A trivial aiohttp hello server in a child process, to calibrate the generator against.

::

    hello_server() ──spawn──> python -m natsgate.load.hello --port 0
                   <── "PORT 41234" on stdout ──┘   GET /  -> 200 "Hello, World!"
    yields "http://127.0.0.1:41234"; terminates the child on exit

A separate process, so the server's CPU is not the generator's.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from aiohttp import web

from natsgate import eventloop

__all__ = ["HELLO_BODY", "hello_server", "main"]

HELLO_BODY = b"Hello, World!"

_STARTUP_TIMEOUT = 20.0


@contextmanager
def hello_server(host: str = "127.0.0.1") -> Iterator[str]:
    """Run the hello server in a child process; yield its base URL."""
    child = subprocess.Popen(
        [sys.executable, "-m", "natsgate.load.hello", "--host", host, "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        if not line.startswith("PORT "):
            raise RuntimeError(f"hello server did not start (said {line!r})")
        yield f"http://{host}:{int(line.split()[1])}"
    finally:
        child.terminate()
        try:
            child.wait(timeout=5)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


async def _hello(_request: web.Request) -> web.Response:
    return web.Response(body=HELLO_BODY, content_type="text/plain")


async def _serve(host: str, port: int) -> None:
    app = web.Application()
    app.router.add_get("/", _hello)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=4096)
    await site.start()
    bound = runner.addresses[0][1]
    print(f"PORT {bound}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="hello server for load calibration")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    eventloop.run(_serve(args.host, args.port))


if __name__ == "__main__":
    main()
