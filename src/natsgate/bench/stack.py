"""The system under test: nats-server, the catalog service and the gateway, as processes.

::

    load generator --HTTP--> gateway --/http, /http-close--> service (HTTP)
                                     --/nats--> nats-server --> service (NATS queue group)

Each part runs in a process of its own (started with this Python's
``natsgate`` command), so its CPU and memory can be read separately and a
reader can see which one was the bottleneck. A process is ready when it has
written its ready file, never after a sleep.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from natsgate.natsserver import NatsCluster, NatsServer, log_tail, terminate

__all__ = ["ManagedProcess", "Stack", "StackError"]

logger = logging.getLogger("natsgate.bench")

READY_TIMEOUT = 30.0

# Gateway routes, one per transport; the same paths follow each prefix.
ROUTE_PREFIXES = {"http": "/http", "http-close": "/http-close", "nats": "/nats"}


class StackError(RuntimeError):
    """A process of the system under test did not start."""


@dataclass
class ManagedProcess:
    """A ``natsgate`` subcommand run as a child process, ready once it writes its ready file."""

    name: str
    args: list[str]
    workdir: Path
    process: subprocess.Popen[bytes] | None = None
    ready: dict[str, Any] = field(default_factory=dict)

    @property
    def log_path(self) -> Path:
        return self.workdir / f"{self.name}.log"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> ManagedProcess:
        ready_file = self.workdir / f"{self.name}.ready.json"
        ready_file.unlink(missing_ok=True)
        command = [
            sys.executable,
            "-m",
            "natsgate.cli",
            *self.args,
            "--ready-file",
            str(ready_file),
        ]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        deadline = time.monotonic() + READY_TIMEOUT
        while not ready_file.exists():
            if self.process.poll() is not None:
                raise StackError(
                    f"{self.name} exited with status {self.process.returncode} before it was "
                    f"ready; its log ({self.log_path}) ends with:\n{log_tail(self.log_path, 20)}"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise StackError(
                    f"{self.name} not ready after {READY_TIMEOUT}s; see {self.log_path}"
                )
            time.sleep(0.02)
        self.ready = json.loads(ready_file.read_text())
        logger.info("%s ready (pid %d)", self.name, self.pid)
        return self

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM (the graceful stop), then SIGKILL if it is still there after ``timeout``."""
        if self.process is None or self.process.poll() is not None:
            return
        terminate(self.process, self.name, timeout)


@dataclass
class Stack:
    """Starts and stops the parts in order: NATS, service instances, gateway."""

    workdir: Path
    nats_urls: list[str] = field(default_factory=list)  # external servers; empty = embedded
    cluster: int = 1
    service_instances: int = 1
    gateway_workers: int = 1
    route_timeout: float = 30.0  # the gateway's per-route timeout, for every transport
    max_payload: int = 1024 * 1024
    nats: NatsServer | NatsCluster | None = None
    services: list[ManagedProcess] = field(default_factory=list)
    gateway: ManagedProcess | None = None

    def start(self) -> Stack:
        self.workdir.mkdir(parents=True, exist_ok=True)
        try:
            self._start_nats()
            for index in range(self.service_instances):
                self._start_service(index)
            self._start_gateway()
        except BaseException:
            self.stop()
            raise
        return self

    def _start_nats(self) -> None:
        if self.nats_urls:
            logger.info("using external NATS at %s", ", ".join(self.nats_urls))
            return
        if self.cluster > 1:
            cluster = NatsCluster(self.workdir, size=self.cluster, max_payload=self.max_payload)
            self.nats = cluster.start()
            self.nats_urls = cluster.urls
        else:
            server = NatsServer(self.workdir, max_payload=self.max_payload)
            self.nats = server.start()
            self.nats_urls = [server.url]

    def _service_args(self, index: int, http: str) -> list[str]:
        # Instance i lists node i first, so instances spread over a cluster's nodes
        # (the client still shuffles the list unless told otherwise).
        shift = index % len(self.nats_urls)
        urls = self.nats_urls[shift:] + self.nats_urls[:shift]
        args = ["service", "--http", http]
        for url in urls:
            args += ["--nats-url", url]
        return args

    def _start_service(self, index: int) -> None:
        name = "service" if self.service_instances == 1 else f"service-{index + 1}"
        process = ManagedProcess(name, self._service_args(index, "127.0.0.1:0"), self.workdir)
        self.services.append(process.start())

    def restart_service(self, index: int) -> None:
        """Start a stopped or killed instance again on its old HTTP port."""
        process = self.services[index]
        port = process.ready["http"].rsplit(":", 1)[1]
        process.stop()
        process.args = self._service_args(index, f"127.0.0.1:{port}")
        process.start()

    def kill_service(self, index: int) -> None:
        """SIGKILL one instance: a crash, for the failover trials."""
        process = self.services[index].process
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()
            logger.info("killed %s", self.services[index].name)

    def _start_gateway(self) -> None:
        config = self.workdir / "routes.toml"
        config.write_text(self.routes_toml())
        args = ["gateway", "--config", str(config)]
        if self.gateway_workers > 1:
            args += ["--workers", str(self.gateway_workers)]
        self.gateway = ManagedProcess("gateway", args, self.workdir).start()

    @property
    def service(self) -> ManagedProcess:
        return self.services[0]

    @property
    def service_http_url(self) -> str:
        url: str = self.service.ready["http"]
        return url

    @property
    def gateway_url(self) -> str:
        assert self.gateway is not None
        url: str = self.gateway.ready["url"]
        return url

    @property
    def subject_prefix(self) -> str:
        prefix: str = self.service.ready.get("subject_prefix", "catalog")
        return prefix

    def _upstream_line(self) -> str:
        urls = [s.ready["http"] for s in self.services]
        if len(urls) == 1:
            return f'upstream = "{urls[0]}"'
        return "upstreams = [" + ", ".join(f'"{u}"' for u in urls) + "]"

    def routes_toml(self) -> str:
        """The gateway's route file: one route per transport, all to the same service."""
        servers = ", ".join(f'"{u}"' for u in self.nats_urls)
        upstream = self._upstream_line()
        return "\n".join(
            [
                "[gateway]",
                'listen = "127.0.0.1:0"',
                "backlog = 4096",
                "",
                "[nats]",
                f"servers = [{servers}]",
                'name = "natsgate-bench-gateway"',
                "",
                "[[route]]",
                f'prefix = "{ROUTE_PREFIXES["http"]}"',
                upstream,
                "keepalive = true",
                f"timeout = {self.route_timeout}",
                "",
                "[[route]]",
                f'prefix = "{ROUTE_PREFIXES["http-close"]}"',
                upstream,
                "keepalive = false",
                f"timeout = {self.route_timeout}",
                "",
                "[[route]]",
                f'prefix = "{ROUTE_PREFIXES["nats"]}"',
                f'subject = "{self.subject_prefix}"',
                f"timeout = {self.route_timeout}",
                "",
            ]
        )

    def pids(self) -> dict[str, list[int]]:
        """Process ids by role, for CPU and memory accounting (external NATS is not ours)."""
        roles: dict[str, list[int]] = {}
        if isinstance(self.nats, NatsServer) and self.nats.pid:
            roles["nats-server"] = [self.nats.pid]
        elif isinstance(self.nats, NatsCluster):
            roles["nats-server"] = [n.pid for n in self.nats.nodes if n.pid]
        roles["service"] = [s.pid for s in self.services if s.process]
        if self.gateway:
            roles["gateway"] = list(self.gateway.ready.get("workers") or [self.gateway.pid])
        return roles

    def stop(self) -> None:
        for part in (self.gateway, *self.services):
            if part is not None:
                part.stop()
        if self.nats is not None:
            self.nats.stop()

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
