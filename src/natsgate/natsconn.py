"""The NATS connection natsgate uses: nats-py, with header fields that repeat.

NATS headers may repeat a field (``X-Tag: a`` and ``X-Tag: b`` on two lines),
as HTTP fields do, but nats-py's API models headers as a ``dict[str, str]``:
on publish it writes one line per dict item, and on receipt it keeps the last
line of each name. Two small seams give natsgate every line both ways:

- publishing: :class:`HeaderLines` is a ``dict`` (so nats-py accepts it) whose
  ``items()`` yields every line in order, repeats included; nats-py still
  checks each name and strips CR/LF from each value as it writes them.
- receiving: :class:`Client` overrides nats-py's private ``_process_headers``
  to attach the raw lines to the dict it returns. This relies on a private
  method, which is why ``pyproject.toml`` pins nats-py to a minor version and
  ``tests/test_natsconn.py`` checks repeated lines against a real server.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

from nats.aio.client import Client as _NatsClient

__all__ = ["Client", "HeaderLines", "connect", "header_lines"]

logger = logging.getLogger("natsgate.nats")

_STATUS_LINE_END = b"\r\n"


class HeaderLines(dict[str, str]):
    """A header dict that also remembers every line, repeats included.

    ``self[name]`` is the last value, as nats-py would give; :attr:`lines` is
    the full list in wire order and is what ``items()`` returns.
    """

    __slots__ = ("lines",)

    def __init__(self, lines: Iterable[tuple[str, str]]) -> None:
        self.lines = list(lines)
        super().__init__(self.lines)

    def items(self) -> list[tuple[str, str]]:  # type: ignore[override]
        # nats-py writes one header line per item: give it every line.
        return list(self.lines)


def _parse_lines(raw: bytes) -> list[tuple[str, str]]:
    """Every ``Name: value`` line after the ``NATS/1.0`` status line."""
    end = raw.find(_STATUS_LINE_END)
    lines = []
    for line in raw[end + 2 :].split(b"\r\n"):
        name, sep, value = line.partition(b":")
        if not sep or not name.strip():
            continue
        key = name.strip().decode("ascii", "replace")
        lines.append((key, value.strip().decode("utf-8", "replace")))
    return lines


def header_lines(headers: dict[str, str] | None) -> list[tuple[str, str]]:
    """Every header line of a received message (repeats included), in order."""
    if headers is None:
        return []
    if isinstance(headers, HeaderLines):
        return list(headers.lines)
    return list(headers.items())


class Client(_NatsClient):  # type: ignore[misc]
    """nats-py's client, keeping repeated header lines of received messages."""

    async def _process_headers(self, headers: bytes) -> dict[str, str] | None:
        parsed: dict[str, str] | None = await super()._process_headers(headers)
        if parsed is None:
            return None
        # nats-py's dict holds the inline status (Status, Description) that the
        # server writes on the first line; keep those and add the real lines.
        lines = [(k, v) for k, v in parsed.items() if k in ("Status", "Description")]
        lines.extend(_parse_lines(headers))
        return HeaderLines(lines)


async def connect(servers: Sequence[str], *, name: str, **options: Any) -> Client:
    """Connect with logging callbacks and reconnect forever, as a long-running process should.

    ``options`` go to nats-py's ``connect`` (credentials, TLS, timeouts...).
    """

    async def on_error(exc: Exception) -> None:
        logger.warning("NATS error on %s: %s", name, exc)

    async def on_disconnected() -> None:
        # nats-py reports its own close() as a disconnect too; that one is expected.
        if client.is_closed:
            logger.info("NATS disconnected (%s) on close", name)
        else:
            logger.warning("NATS disconnected (%s)", name)

    async def on_reconnected() -> None:
        logger.info("NATS reconnected (%s) to %s", name, client.connected_url)

    async def on_closed() -> None:
        logger.info("NATS connection closed (%s)", name)

    options.setdefault("max_reconnect_attempts", -1)
    options.setdefault("reconnect_time_wait", 0.25)
    options.setdefault("connect_timeout", 2)
    callbacks = {
        "error_cb": on_error,
        "disconnected_cb": on_disconnected,
        "reconnected_cb": on_reconnected,
        "closed_cb": on_closed,
    }
    for key, callback in callbacks.items():
        options.setdefault(key, callback)
    client = Client()
    await client.connect(servers=list(servers), name=name, **options)
    return client
