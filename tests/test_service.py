"""The service runtime against a real nats-server: Services API, backpressure, stop, routing."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator

import aiohttp
import pytest
from nats.errors import NoRespondersError, SlowConsumerError

from natsgate import mapping
from natsgate.natsconn import Client, HeaderLines, connect, header_lines
from natsgate.natsserver import NatsServer
from natsgate.service import (
    HTTPError,
    Request,
    Response,
    ServeConfig,
    Service,
    ServiceServer,
)
from natsgate.service.router import Router
from test_service_support import nats_subject, over_http, over_nats


def slow_service() -> tuple[Service, asyncio.Event, list[str]]:
    service = Service("slow", version="1.2.3", description="waits for a release")
    release = asyncio.Event()
    entered: list[str] = []

    @service.get("/wait/{tag}")
    async def wait(request: Request) -> str:
        entered.append(request.path_params["tag"])
        await release.wait()
        return "done " + request.path_params["tag"]

    @service.get("/fail")
    async def fail(request: Request) -> Response:
        raise HTTPError(422, "no")

    return service, release, entered


async def _patient_request(nc: Client, subject: str, *args: object, **kwargs: object) -> object:
    """``nc.request``, retried for up to 2 s while it finds no responders.

    Twice in about ten full runs on the loaded 2-core build machine, a request sent
    just after a service subscribed and flushed on another connection got "no
    responders"; the cause is not understood. Retrying keeps that out of these
    tests, which are about what the service answers; a test that expects no
    responders still gets them, 2 s later.
    """
    request = Client.request
    for _ in range(20):
        try:
            return await request(nc, subject, *args, **kwargs)
        except NoRespondersError:
            await asyncio.sleep(0.1)
    return await request(nc, subject, *args, **kwargs)


@pytest.fixture
async def client(shared_nats: NatsServer) -> AsyncIterator[Client]:
    nc = await connect([shared_nats.url], name="test-client")
    nc.request = lambda *a, **k: _patient_request(nc, *a, **k)  # type: ignore[method-assign]
    yield nc
    await nc.close()


async def _until(predicate: object, what: str) -> None:
    for _ in range(500):
        if predicate():  # type: ignore[operator]
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


async def test_services_api_ping_info_stats(nats_server: NatsServer) -> None:
    service, release, _ = slow_service()
    release.set()
    config = ServeConfig(http=None, nats_urls=(nats_server.url,))
    async with ServiceServer(service, config):
        nc = await connect([nats_server.url], name="test-client")
        for _ in range(3):
            answer = await over_nats(nc, "slow", "GET", "/wait/x")
            assert answer.status == 200 and answer.body == b"done x"
        assert (await over_nats(nc, "slow", "GET", "/fail")).status == 422
        assert (await over_nats(nc, "slow", "GET", "/nowhere")).status == 404

        ping = json.loads((await nc.request("$SRV.PING.slow", b"", timeout=2)).data)
        assert ping["name"] == "slow" and ping["version"] == "1.2.3"

        info = json.loads((await nc.request("$SRV.INFO.slow", b"", timeout=2)).data)
        (endpoint,) = info["endpoints"]
        assert endpoint["subject"] == "slow.>" and endpoint["queue_group"] == "slow"
        assert info["metadata"]["routes"] == "GET /wait/{tag}, GET /fail"

        stats = json.loads((await nc.request("$SRV.STATS.slow", b"", timeout=2)).data)
        (endpoint,) = stats["endpoints"]
        assert endpoint["num_requests"] == 5
        assert endpoint["num_errors"] == 2
        assert endpoint["last_error"] == "404"
        assert endpoint["processing_time"] > 0
        assert endpoint["data"]["nats_requests"] == 5
        await nc.close()


async def test_error_reply_carries_service_error_headers(
    shared_nats: NatsServer, client: Client
) -> None:
    service, _, _ = slow_service()
    async with ServiceServer(service, ServeConfig(http=None, nats_urls=(shared_nats.url,))):
        request = mapping.nats_request(
            nats_subject("slow", "GET", "/fail"), "GET", "/fail", "", [], b""
        )
        msg = await client.request(request.subject, b"", headers=HeaderLines(request.headers))
        lines = header_lines(msg.headers)
        assert ("Http-Status", "422") in lines
        assert (mapping.SERVICE_ERROR_CODE, "422") in lines
        assert (mapping.SERVICE_ERROR_DESCRIPTION, "Unprocessable Entity") in lines
        assert msg.data == b'{"error":"no"}'


async def test_subject_must_match_path_and_path_header_is_required(
    shared_nats: NatsServer, client: Client
) -> None:
    service, release, entered = slow_service()
    release.set()
    async with ServiceServer(service, ServeConfig(http=None, nats_urls=(shared_nats.url,))):
        # Http-Path says /wait/a but the subject says b: refused, the handler never runs.
        request = mapping.nats_request("slow.GET.wait.b", "GET", "/wait/a", "", [], b"")
        msg = await client.request(request.subject, b"", headers=HeaderLines(request.headers))
        assert mapping.parse_reply(header_lines(msg.headers), msg.data).status == 400
        # No mapping headers at all.
        msg = await client.request("slow.GET.wait.a", b"")
        assert mapping.parse_reply(header_lines(msg.headers), msg.data).status == 400
        assert entered == []


async def test_subscriptions_gone_after_stop(shared_nats: NatsServer, client: Client) -> None:
    service, release, _ = slow_service()
    release.set()
    server = ServiceServer(
        service, ServeConfig(http=("127.0.0.1", 0), nats_urls=(shared_nats.url,))
    )
    await server.start()
    assert (await over_nats(client, "slow", "GET", "/wait/x")).status == 200
    url = server.http_url
    await server.stop()
    with pytest.raises(NoRespondersError):
        await over_nats(client, "slow", "GET", "/wait/x")
    with pytest.raises(NoRespondersError):
        await client.request("$SRV.PING.slow", b"", timeout=2)
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientConnectionError):
            await over_http(session, str(url), "GET", "/wait/x")


async def test_stop_lets_in_flight_requests_finish(shared_nats: NatsServer, client: Client) -> None:
    service, release, entered = slow_service()
    server = ServiceServer(
        service, ServeConfig(http=("127.0.0.1", 0), nats_urls=(shared_nats.url,))
    )
    await server.start()
    async with aiohttp.ClientSession() as session:
        http = asyncio.create_task(over_http(session, str(server.http_url), "GET", "/wait/h"))
        nats = asyncio.create_task(over_nats(client, "slow", "GET", "/wait/n"))
        await _until(lambda: len(entered) == 2, "both requests in their handler")
        stopping = asyncio.create_task(server.stop())
        await asyncio.sleep(0.05)
        release.set()
        await stopping
        assert (await http).body == b"done h"
        assert (await nats).body == b"done n"


async def test_backpressure_http_503_and_nats_waits(
    shared_nats: NatsServer, client: Client
) -> None:
    service, release, entered = slow_service()
    config = ServeConfig(http=("127.0.0.1", 0), nats_urls=(shared_nats.url,), max_in_flight=2)
    async with ServiceServer(service, config) as server, aiohttp.ClientSession() as session:
        base = str(server.http_url)
        held = [asyncio.create_task(over_http(session, base, "GET", f"/wait/{i}")) for i in (1, 2)]
        await _until(lambda: len(entered) == 2, "two requests holding the budget")

        rejected = await over_http(session, base, "GET", "/wait/3")
        assert rejected.status == 503
        assert ("Retry-After", "1") in rejected.headers
        assert rejected.body == b'{"error":"service is overloaded"}'

        # Over NATS the request waits for a slot instead of failing.
        waiting = asyncio.create_task(over_nats(client, "slow", "GET", "/wait/4"))
        await asyncio.sleep(0.1)
        assert not waiting.done() and len(entered) == 2
        release.set()
        assert [(await t).status for t in held] == [200, 200]
        assert (await waiting).body == b"done 4"
        assert server.stats.http_rejected == 1


async def test_slow_consumer_is_logged_and_counted(
    shared_nats: NatsServer, caplog: pytest.LogCaptureFixture
) -> None:
    service, _, _ = slow_service()
    async with ServiceServer(service, ServeConfig(http=None, nats_urls=(shared_nats.url,))) as srv:
        assert srv.nc is not None
        caplog.set_level(logging.WARNING, logger="natsgate.service")
        # What nats-py hands the error callback when a subscription's pending queue is full.
        await srv.nc._error_cb(SlowConsumerError(subject="slow.GET.x", reply="", sid=1, sub=None))
        assert srv.stats.slow_consumers == 1
        assert any("slow.GET.x" in r.getMessage() for r in caplog.records)


async def test_unhandled_exception_is_500_logged_not_leaked(
    shared_nats: NatsServer, caplog: pytest.LogCaptureFixture
) -> None:
    service = Service("boom")

    @service.get("/")
    def boom(request: Request) -> str:
        raise ValueError("database password is hunter2")

    config = ServeConfig(http=("127.0.0.1", 0), nats_urls=())
    async with ServiceServer(service, config) as server, aiohttp.ClientSession() as session:
        answer = await over_http(session, str(server.http_url), "GET", "/")
    assert answer.status == 500
    assert b"hunter2" not in answer.body
    (record,) = [r for r in caplog.records if r.name == "natsgate.service" and r.exc_info]
    assert "GET /" in record.getMessage()


async def test_unreachable_nats_fails_fast() -> None:
    service, _, _ = slow_service()
    config = ServeConfig(
        http=("127.0.0.1", 0), nats_urls=("nats://127.0.0.1:1",), connect_timeout=1
    )
    with pytest.raises(ConnectionError, match=r"nats://127.0\.0\.1:1"):
        await ServiceServer(service, config).start()


def test_router_matches_templates_and_methods() -> None:
    router = Router()
    router.add("GET", "/items", "list")
    router.add("GET", "/items/{id}", "item")
    router.add("PUT", "/items/{id}", "put")
    router.add("GET", "/items/{id}/parts/{part}", "part")
    assert router.match("GET", "/items").handler == "list"
    match = router.match("GET", "/items/a%2Fb")
    assert (match.handler, match.params) == ("item", {"id": "a/b"})
    assert router.match("HEAD", "/items/1").handler == "item"
    assert router.match("GET", "/items/1/parts/%C3%A9").params == {"id": "1", "part": "é"}
    assert router.match("GET", "/items/").status == 404
    assert router.match("GET", "/nope").status == 404
    wrong = router.match("DELETE", "/items/1")
    assert (wrong.status, wrong.allow) == (405, "GET, HEAD, PUT")
    assert router.match("GET", "/items/%G1").status == 400


@pytest.mark.parametrize("template", ["items", "/a/{x}/{x}", "/a//b", "/a/{x"])
def test_router_refuses_bad_templates(template: str) -> None:
    with pytest.raises(ValueError):
        Router().add("GET", template, "h")


def test_router_refuses_duplicates() -> None:
    router = Router()
    router.add("GET", "/a", "h")
    with pytest.raises(ValueError, match="already"):
        router.add("get", "/a", "h")


def test_response_conversions() -> None:
    assert Response.convert(b"x").headers == [("Content-Type", "application/octet-stream")]
    assert Response.convert("é").body == "é".encode()
    assert Response.convert({"a": [1]}).body == b'{"a":[1]}'
    assert Response.convert(None).status == 204
    with pytest.raises(TypeError):
        Response.convert(3)


def test_request_headers_and_query_are_multi_valued() -> None:
    request = Request(
        "GET", "/", "a=1&b=2&a=3&c", [("X-Tag", "a"), ("x-tag", "b"), ("Host", "h")], b"{}", "http"
    )
    assert request.headers.getall("X-TAG") == ["a", "b"]
    assert request.headers.get("host") == "h" and "HOST" in request.headers
    assert list(request.headers)[1] == ("x-tag", "b")
    assert request.query.getall("a") == ["1", "3"]
    assert request.query.get("c") == ""
    assert request.json() == {}


def test_mapping_reply_keeps_a_runtime_error_reply_empty_body() -> None:
    lines = [("Http-Status", "404"), (mapping.SERVICE_ERROR_CODE, "404")]
    reply = mapping.parse_reply(lines, b"")
    assert (reply.status, reply.body) == (404, b"")


async def test_reply_over_max_payload_is_a_prompt_502_over_nats(
    shared_nats: NatsServer, client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    service = Service("big", subject_prefix="big")

    @service.get("/blob")
    async def blob(request: Request) -> Response:
        return Response(200, body=b"x" * (100 * 1024))  # the test server's max_payload: 64 KiB

    config = ServeConfig(http=("127.0.0.1", 0), nats_urls=(shared_nats.url,))
    async with ServiceServer(service, config) as server, aiohttp.ClientSession() as session:
        assert server.http_url is not None
        http = await over_http(session, server.http_url, "GET", "/blob")
        request = mapping.nats_request(
            nats_subject("big", "GET", "/blob"), "GET", "/blob", "", [], b""
        )
        msg = await client.request(
            request.subject, b"", timeout=3, headers=HeaderLines(request.headers)
        )

    assert http.status == 200 and len(http.body) == 100 * 1024
    lines = header_lines(msg.headers)
    assert ("Http-Status", "502") in lines
    assert (mapping.SERVICE_ERROR_CODE, "502") in lines
    assert json.loads(msg.data) == {"error": "reply too large for NATS max_payload"}
    assert [r.levelname for r in caplog.records if "max_payload" in r.getMessage()] == ["WARNING"]
