"""Helpers shared by the service tests: one request sent over HTTP or over NATS."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import aiohttp
from yarl import URL

from natsgate import mapping
from natsgate.natsconn import Client, HeaderLines, header_lines

# What each transport frames for itself; everything else must be identical.
FRAMING = frozenset({"date", "server", "content-length", "connection", "transfer-encoding"})


@dataclass(frozen=True)
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def nats_subject(prefix: str, method: str, path: str) -> str:
    tokens = [mapping.escape_token(method.encode()), *mapping.path_tokens(path)]
    return mapping.build_subject(prefix, tokens)


async def over_http(
    session: aiohttp.ClientSession,
    base: str,
    method: str,
    path: str,
    query: str = "",
    headers: Sequence[tuple[str, str]] = (),
    body: bytes = b"",
) -> Answer:
    url = URL(base + path + (f"?{query}" if query else ""), encoded=True)
    async with session.request(method, url, headers=list(headers), data=body or None) as resp:
        data = await resp.read()
        lines = [
            (k.decode(), v.decode())
            for k, v in resp.raw_headers
            if k.decode().lower() not in FRAMING
        ]
        return Answer(resp.status, lines, data)


async def over_nats(
    nc: Client,
    prefix: str,
    method: str,
    path: str,
    query: str = "",
    headers: Sequence[tuple[str, str]] = (),
    body: bytes = b"",
) -> Answer:
    request = mapping.nats_request(
        nats_subject(prefix, method, path), method, path, query, list(headers), body
    )
    msg = await nc.request(
        request.subject, request.body, timeout=5, headers=HeaderLines(request.headers)
    )
    reply = mapping.parse_reply(header_lines(msg.headers), msg.data)
    return Answer(reply.status, reply.headers, reply.body)
