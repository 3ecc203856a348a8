"""``natsgate gateway --workers N``: N gateway processes sharing one listening port.

::

    parent (supervisor)                  reserves host:port: a SO_REUSEPORT socket,
      |                                  bound, never listening (port 0 -> chosen here)
      +-- worker 1: natsgate gateway --listen host:port --reuse-port   listening
      +-- worker 2: natsgate gateway --listen host:port --reuse-port   listening
            the kernel spreads new connections over the listening sockets

    every worker ready --> parent writes --ready-file {"pid", "url", "workers": [pids]}
    SIGTERM/SIGINT     --> SIGTERM to each worker, wait (shutdown_timeout + 5 s), kill the
                           rest, exit 0
    a worker dies      --> logged and restarted on the same port; a sixth death within
                           60 s stops the others and exits 1

Workers run in their own process group, so a terminal's Ctrl-C reaches the
parent alone and shutdown has one order; each worker watches its parent and
stops by itself if the parent disappears (no orphan keeps the port).
Each worker has its own NATS connection and upstream pools: nothing is shared
but the port. SO_REUSEPORT is Linux (3.9+) and BSD; elsewhere use one worker.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from natsgate.gateway.ready import write_ready_file
from natsgate.routes import Config

__all__ = ["RESTART_LIMIT", "RESTART_WINDOW", "Supervisor"]

logger = logging.getLogger("natsgate.gateway")

RESTART_LIMIT = 5  # restarts allowed within RESTART_WINDOW before the supervisor gives up
RESTART_WINDOW = 60.0
READY_TIMEOUT = 30.0
_POLL = 0.1


@dataclass
class Worker:
    slot: int
    ready_file: Path
    process: subprocess.Popen[bytes]
    ready: bool = False
    started: float = field(default_factory=time.monotonic)


@dataclass
class Supervisor:
    """Starts, watches and stops the worker processes; :meth:`run` returns the exit code."""

    config: Config
    config_path: Path
    count: int
    nats_urls: list[str] | None = None
    ready_file: Path | None = None

    workers: list[Worker] = field(default_factory=list, init=False)
    port: int = field(default=0, init=False)
    _stop: bool = field(default=False, init=False)
    _restarts: deque[float] = field(default_factory=deque, init=False)

    @property
    def url(self) -> str:
        host = self.config.gateway.host
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"

    def run(self) -> int:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._on_signal)
        workdir = Path(tempfile.mkdtemp(prefix="natsgate-workers-"))
        try:
            with _reserve_port(self.config.gateway.host, self.config.gateway.port) as reserved:
                self.port = reserved.getsockname()[1]
                return self._supervise(workdir)
        except OSError as exc:
            logger.error("cannot reserve %s:%d: %s", self.config.gateway.host, self.port, exc)
            return 1
        finally:
            self._stop_all()
            shutil.rmtree(workdir, ignore_errors=True)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self._stop = True

    def _supervise(self, workdir: Path) -> int:
        self.workers = [self._spawn(slot, workdir) for slot in range(self.count)]
        logger.info("supervisor %d: %d workers on %s", os.getpid(), self.count, self.url)
        while not self._stop:
            time.sleep(_POLL)
            for worker in self.workers:
                if not self._check(worker, workdir):
                    return 1
        logger.info("supervisor stopping %d workers", len(self.workers))
        return 0

    def _check(self, worker: Worker, workdir: Path) -> bool:
        """Note readiness, restart a dead worker; False when the supervisor must give up."""
        code = worker.process.poll()
        if code is None:
            if not worker.ready and worker.ready_file.exists():
                worker.ready = True
                self._write_ready()
            elif not worker.ready and time.monotonic() - worker.started > READY_TIMEOUT:
                logger.error("worker %d not ready within %gs", worker.slot, READY_TIMEOUT)
                return False
            return True
        if self._stop:
            return True
        logger.error(
            "worker %d (pid %d) exited with code %d", worker.slot, worker.process.pid, code
        )
        if not worker.ready and not any(w.ready for w in self.workers):
            return False  # fails before serving: a restart would fail the same way
        if not self._may_restart():
            limit, window = RESTART_LIMIT, RESTART_WINDOW
            logger.error("more than %d restarts within %gs: giving up", limit, window)
            return False
        self.workers[worker.slot] = self._spawn(worker.slot, workdir)
        return True

    def _may_restart(self) -> bool:
        now = time.monotonic()
        while self._restarts and now - self._restarts[0] > RESTART_WINDOW:
            self._restarts.popleft()
        if len(self._restarts) >= RESTART_LIMIT:
            return False
        self._restarts.append(now)
        return True

    def _spawn(self, slot: int, workdir: Path) -> Worker:
        ready_file = workdir / f"worker-{slot}-{time.monotonic_ns()}.json"
        host = self.config.gateway.host
        listen = f"[{host}]:{self.port}" if ":" in host else f"{host}:{self.port}"
        command = [
            sys.executable,
            "-m",
            "natsgate.cli",
            "gateway",
            "--config",
            str(self.config_path),
            "--listen",
            listen,
            "--reuse-port",
            "--parent-pid",
            str(os.getpid()),
            "--ready-file",
            str(ready_file),
        ]
        for url in self.nats_urls or []:
            command += ["--nats-url", url]
        process = subprocess.Popen(command, process_group=0)
        logger.info("worker %d started (pid %d)", slot, process.pid)
        return Worker(slot, ready_file, process)

    def _write_ready(self) -> None:
        if self.ready_file is None or not all(w.ready for w in self.workers):
            return
        pids = [w.process.pid for w in self.workers]
        write_ready_file(self.ready_file, {"pid": os.getpid(), "url": self.url, "workers": pids})
        logger.info("all %d workers ready: %s", len(pids), json.dumps(pids))

    def _stop_all(self) -> None:
        """SIGTERM every worker, wait for them (bounded), kill whoever is left."""
        alive = [w.process for w in self.workers if w.process.poll() is None]
        for process in alive:
            process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.config.gateway.shutdown_timeout + 5.0
        for process in alive:
            try:
                process.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                logger.error("worker pid %d did not stop in time: killed", process.pid)
                process.kill()
                process.wait()


@contextmanager
def _reserve_port(host: str, port: int) -> Iterator[socket.socket]:
    """A bound, not listening SO_REUSEPORT socket: fixes the port every worker binds."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
        yield sock
