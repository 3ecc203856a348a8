"""Mapping changes made for the gateway."""

from __future__ import annotations

import pytest

from natsgate import mapping
from natsgate.errors import BadRequest


def test_reply_headers_drop_fields_named_in_connection() -> None:
    lines = mapping.reply_headers(
        200,
        [("Connection", "X-Hop, close"), ("X-Hop", "1"), ("Keep-Alive", "t=5"), ("X-Keep", "2")],
    )

    assert lines == [("Http-Status", "200"), ("X-Keep", "2")]


@pytest.mark.parametrize("path", ["/..", "/a/../b", "/.", "/a/.", "/%2E%2E", "/%2e.", "/a/%2E/"])
def test_dot_segments_are_refused(path: str) -> None:
    with pytest.raises(BadRequest, match="segment"):
        mapping.refuse_dot_segments(path)


@pytest.mark.parametrize("path", ["", "/", "/a.b", "/...", "/.a", "/a..", "/%2E%2E%2E", "/%252E"])
def test_dots_inside_a_segment_pass(path: str) -> None:
    mapping.refuse_dot_segments(path)


def test_reply_keeps_its_content_length_apart_from_the_headers() -> None:
    reply = mapping.parse_reply([("Http-Status", "200"), ("Content-Length", "182")], b"")

    assert reply.content_length == "182"
    assert reply.headers == []
    assert mapping.parse_reply([("Content-Length", "x")], b"").content_length is None


CLIENT_IP_FIELDS = ["X-Real-IP", "True-Client-IP", "X-Client-IP", "CF-Connecting-IP"]


@pytest.mark.parametrize("name", CLIENT_IP_FIELDS)
@pytest.mark.parametrize("trusted", [False, True])
def test_client_ip_fields_kept_from_trusted_proxies_only(name: str, trusted: bool) -> None:
    out = mapping.edge_request_headers(
        [(name, "6.6.6.6"), ("X-Other", "1")],
        client_ip="10.0.0.1",
        scheme="http",
        host="h",
        trusted_proxy=trusted,
    )

    assert ((name, "6.6.6.6") in out) is trusted
    assert ("X-Other", "1") in out
