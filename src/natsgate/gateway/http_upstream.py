"""The HTTP upstream of a prefix route: an aiohttp client session with its own pool.

::

    client --GET /http/items?x=1--> gateway --GET <upstream path>/items?x=1--> upstream
                                     pool: keep-alive connections (keepalive = true)
                                           or a new TCP connection per request (false)

With several upstreams (``upstreams = [...]``) each request goes to the next
healthy one of a :class:`~natsgate.gateway.balancer.Rotation`::

    forward() --pick--> a: connect refused --> eject(a), retry once --pick--> b --> answer
              --pick--> b: sent, then reset --> 502 (never retried: b may have acted on it)

A request is retried only when its connect failed, so nothing reached any
server and the retry is safe for every method.

The request target after the route prefix is appended to the upstream URL
unchanged (``encoded=True``: yarl must not requote it), bodies pass as bytes
(no decompression, no automatic Content-Type or User-Agent), and aiohttp's
errors become natsgate's here: refused or unreachable -> UpstreamConnectError
(502), no complete answer within the route timeout -> UpstreamTimeout (504).
"""

from __future__ import annotations

from typing import Any

import aiohttp
from multidict import CIMultiDict
from yarl import URL

from natsgate.errors import UpstreamConnectError, UpstreamTimeout
from natsgate.gateway.balancer import Rotation, Target
from natsgate.mapping import Headers, edge_response_headers
from natsgate.routes import PrefixRoute

__all__ = ["HttpUpstream", "UpstreamResponse"]

# Room for the benchmark's 2,500 concurrent flows, with headroom.
POOL_LIMIT = 4096

# aiohttp's client would add these on its own; a proxy forwards only what it got.
_SKIP_AUTO_HEADERS = ("User-Agent", "Accept", "Accept-Encoding", "Content-Type")

UpstreamResponse = tuple[int, Headers, bytes, str | None]


class HttpUpstream:
    """One route's upstream: ``forward()`` returns status, headers, body, Content-Length."""

    def __init__(self, route: PrefixRoute) -> None:
        self.route = route
        self.rotation = Rotation(route.name, route.upstreams)
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        # aiohttp refuses a keep-alive timeout on a connector that never keeps alive.
        pooling: dict[str, Any] = (
            {"keepalive_timeout": 30.0} if self.route.keepalive else {"force_close": True}
        )
        connector = aiohttp.TCPConnector(
            limit=POOL_LIMIT, limit_per_host=0, ttl_dns_cache=300, **pooling
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=self.route.timeout),
            auto_decompress=False,
            skip_auto_headers=_SKIP_AUTO_HEADERS,
            cookie_jar=aiohttp.DummyCookieJar(),
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def forward(
        self, method: str, path: str, sep: str, query: str, headers: Headers, body: bytes
    ) -> UpstreamResponse:
        """Send one request to the next healthy upstream and read the whole response."""
        rotation = self.rotation
        target = rotation.pick()
        if target is None:
            raise UpstreamConnectError(self._all_out())
        request = (method, path, sep + query, headers, body)
        try:
            return await self._send(target, *request)
        except _ConnectFailed as exc:
            first = exc.reason
            rotation.eject(target, first)
        retry = rotation.pick(exclude=target)
        if retry is None:
            raise UpstreamConnectError(first)
        try:
            return await self._send(retry, *request)
        except _ConnectFailed as exc:
            rotation.eject(retry, exc.reason)
            raise UpstreamConnectError(f"{first}; retried: {exc.reason}") from None

    def _all_out(self) -> str:
        count = len(self.rotation.targets)
        wait = self.rotation.next_retry()
        return f"all {count} upstreams refused connections; next retry in {wait:.1f}s"

    async def _send(
        self, target: Target, method: str, path: str, tail: str, headers: Headers, body: bytes
    ) -> UpstreamResponse:
        assert self._session is not None
        if not path and target.root:
            path = "/"
        url = URL(target.base + path + tail, encoded=True)
        try:
            async with self._session.request(
                method,
                url,
                headers=CIMultiDict(headers),
                data=body if body or method not in _BODYLESS else None,
                allow_redirects=False,
            ) as resp:
                data = await resp.read()
                length = resp.headers.get("Content-Length")
                answer = resp.status, edge_response_headers(list(resp.headers.items()))
        except TimeoutError:
            reason = f"upstream gave no answer within {self.route.timeout:g}s"
            raise UpstreamTimeout(reason) from None
        except aiohttp.ClientConnectorError as exc:
            # Raised before a byte of the request was written: safe to send elsewhere.
            reason = f"cannot connect to upstream {target.base}: {exc.os_error}"
            raise _ConnectFailed(reason) from None
        except aiohttp.ClientResponseError as exc:
            # Its str() carries the URL, query string included: keep that out of the logs.
            raise UpstreamConnectError(f"bad upstream response: {exc.message}") from None
        except (aiohttp.ClientError, OSError) as exc:
            reason = type(exc).__name__ + (f": {exc}" if str(exc) else "")
            raise UpstreamConnectError(f"upstream failed: {reason}") from None
        if not target.healthy:
            self.rotation.restore(target)
        return answer[0], answer[1], data, length


class _ConnectFailed(Exception):
    """The connect to one upstream failed; nothing was sent."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


_BODYLESS = frozenset({"GET", "HEAD", "DELETE", "OPTIONS", "TRACE"})
