"""The wire mapping as pure unit tests: subjects, escaping, headers, statuses."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from natsgate import mapping
from natsgate.errors import BadReply, BadRequest, URITooLong

# -- subjects ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "tokens"),
    [
        ("/", []),
        ("", []),
        ("/items", ["items"]),
        ("/items/1", ["items", "1"]),
        ("/a-b_c/XYZ09", ["a-b_c", "XYZ09"]),
        ("/a.b", ["a~2Eb"]),
        ("/a%2Eb", ["a~2Eb"]),
        ("/*", ["~2A"]),
        ("/>", ["~3E"]),
        ("/a%20b", ["a~20b"]),
        ("/a b", ["a~20b"]),
        ("/a%2Fb", ["a~2Fb"]),
        ("/..", ["~2E~2E"]),
        ("/.", ["~2E"]),
        ("/~", ["~7E"]),
        ("/%E2%82%AC", ["~E2~82~AC"]),
        ("/a%00b", ["a~00b"]),
        ("/tab%09", ["tab~09"]),
    ],
)
def test_path_tokens(path: str, tokens: list[str]) -> None:
    assert mapping.path_tokens(path) == tokens


@pytest.mark.parametrize("path", ["//", "/a//b", "/a/", "/%zz", "/a%2", "items"])
def test_path_tokens_rejects(path: str) -> None:
    with pytest.raises(BadRequest):
        mapping.path_tokens(path)


def test_build_subject_and_limit() -> None:
    assert mapping.build_subject("catalog", ["GET", "items"]) == "catalog.GET.items"
    assert mapping.build_subject("catalog", []) == "catalog"
    with pytest.raises(URITooLong):
        mapping.build_subject("p", ["x" * 100], max_length=50)


@given(st.binary(min_size=1, max_size=64))
def test_escape_round_trips_and_is_one_safe_token(segment: bytes) -> None:
    token = mapping.escape_token(segment)
    assert mapping.unescape_token(token) == segment
    assert token and all(c.isascii() and (c.isalnum() or c in "-_~") for c in token)


@given(st.text(max_size=80))
def test_no_path_makes_a_wildcard_or_extra_token(text: str) -> None:
    path = "/" + text
    try:
        tokens = mapping.path_tokens(path)
    except BadRequest:
        return
    subject = mapping.build_subject("svc.GET", tokens)
    assert subject.count(".") == 1 + len(tokens)
    assert not set(subject) & set("*> \t\r\n")


@pytest.mark.parametrize("prefix", ["", "a..b", "a.*", "a.>", "a b", ".a", "a."])
def test_validate_subject_prefix_rejects(prefix: str) -> None:
    with pytest.raises(ValueError, match="subject prefix"):
        mapping.validate_subject_prefix(prefix)


# -- request headers --------------------------------------------------------


def _edge(headers: list[tuple[str, str]], trusted: bool = False) -> list[tuple[str, str]]:
    return mapping.edge_request_headers(
        headers, client_ip="10.0.0.9", scheme="http", host="gw.example", trusted_proxy=trusted
    )


def test_hop_by_hop_and_connection_named_headers_are_dropped() -> None:
    out = _edge(
        [
            ("Connection", "keep-alive, X-Secret"),
            ("Keep-Alive", "timeout=5"),
            ("TE", "trailers"),
            ("Transfer-Encoding", "chunked"),
            ("Upgrade", "h2c"),
            ("Proxy-Authorization", "Basic x"),
            ("X-Secret", "1"),
            ("Host", "gw.example"),
            ("Content-Length", "3"),
            ("Accept", "*/*"),
        ]
    )
    assert [k for k, _ in out] == [
        "Accept",
        "X-Forwarded-For",
        "X-Forwarded-Proto",
        "X-Forwarded-Host",
    ]


def test_reserved_names_cannot_be_spoofed() -> None:
    out = _edge(
        [
            ("Http-Method", "DELETE"),
            ("http-path", "/admin"),
            ("Nats-Msg-Id", "x"),
            ("Natsgate-Internal", "y"),
            ("Status", "503"),
            ("X-Ok", "1"),
        ]
    )
    assert ("X-Ok", "1") in out
    assert not any(k.lower().startswith(("http-", "nats")) or k == "Status" for k, _ in out)


def test_multi_value_headers_keep_order() -> None:
    out = _edge([("X-Tag", "a"), ("Accept", "*/*"), ("X-Tag", "b")])
    assert [v for k, v in out if k == "X-Tag"] == ["a", "b"]


@pytest.mark.parametrize(
    ("trusted", "expected_for", "expected_proto", "expected_host"),
    [
        (False, "10.0.0.9", "http", "gw.example"),
        (True, "1.1.1.1, 2.2.2.2, 10.0.0.9", "https", "public.example"),
    ],
)
def test_forwarded_headers(
    trusted: bool, expected_for: str, expected_proto: str, expected_host: str
) -> None:
    incoming = [
        ("X-Forwarded-For", "1.1.1.1"),
        ("X-Forwarded-For", "2.2.2.2"),
        ("X-Forwarded-Proto", "https"),
        ("X-Forwarded-Host", "public.example"),
    ]
    out = dict(_edge(incoming, trusted=trusted))
    assert out["X-Forwarded-For"] == expected_for
    assert out["X-Forwarded-Proto"] == expected_proto
    assert out["X-Forwarded-Host"] == expected_host


@pytest.mark.parametrize("value", ["a\r\nX-Evil: 1", "a\nb", "a\0b"])
def test_cr_lf_nul_in_values_are_refused(value: str) -> None:
    with pytest.raises(BadRequest):
        _edge([("X-Bad", value)])


def test_header_name_must_be_a_token() -> None:
    with pytest.raises(BadRequest):
        _edge([("Bad Name", "x")])


def test_nats_request_carries_method_path_query_in_headers() -> None:
    req = mapping.nats_request(
        "catalog.GET.items", "GET", "/items", "a=1&a=2&b=&c=%26", [("X-Tag", "t")], b"body"
    )
    assert req.headers[:3] == [
        ("Http-Method", "GET"),
        ("Http-Path", "/items"),
        ("Http-Query", "a=1&a=2&b=&c=%26"),
    ]
    assert req.size == mapping.header_block_size(req.headers) + 4


def test_nats_request_rejects_a_bad_method() -> None:
    with pytest.raises(BadRequest):
        mapping.nats_request("s", "GE T", "/", "", [], b"")


def test_parse_service_request_reads_names_case_insensitively() -> None:
    parsed = mapping.parse_service_request(
        [("http-method", "POST"), ("HTTP-PATH", "/echo"), ("http-query", "x=1"), ("A", "b")]
    )
    assert (parsed.method, parsed.path, parsed.query, parsed.headers) == (
        "POST",
        "/echo",
        "x=1",
        [("A", "b")],
    )
    with pytest.raises(BadRequest):
        mapping.parse_service_request([("Http-Method", "GET")])


# -- replies ----------------------------------------------------------------


def test_reply_round_trip() -> None:
    lines = mapping.reply_headers(
        201, [("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"), ("Connection", "close")]
    )
    reply = mapping.parse_reply(lines, b"ok")
    assert reply.status == 201
    assert reply.headers == [("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")]
    assert reply.body == b"ok"


def test_reply_status_name_is_case_insensitive() -> None:
    assert mapping.parse_reply([("http-status", "404")], b"").status == 404


def test_reply_without_status_is_200() -> None:
    assert mapping.parse_reply(None, b"raw").status == 200


@pytest.mark.parametrize(
    ("code", "status"), [("404", 404), ("503", 503), ("399", 500), ("600", 500), ("42", 500)]
)
def test_service_error_codes(code: str, status: int) -> None:
    reply = mapping.parse_reply(
        [(mapping.SERVICE_ERROR_CODE, code), (mapping.SERVICE_ERROR_DESCRIPTION, "boom")], b""
    )
    assert reply.status == status
    assert reply.body == b'{"error": "boom"}'


@pytest.mark.parametrize("value", ["abc", "", "99", "600"])
def test_undecodable_status_is_bad_reply(value: str) -> None:
    with pytest.raises(BadReply):
        mapping.parse_reply([("Http-Status", value)], b"")
