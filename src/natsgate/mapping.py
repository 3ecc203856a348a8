"""The wire mapping between an HTTP request/response and a NATS message.

No IO here: pure functions over strings, bytes and header lists, so every edge
case is a fast unit test. Both the gateway and the service runtime use it, and
a service written in another language can follow it from this picture::

    HTTP request                          NATS request message
    ------------                          --------------------
    GET /nats/items/a%2Eb?x=1             subject  catalog.GET.items.a~2Eb
    Host: example.com                     Http-Method: GET
    X-Tag: a                              Http-Path: /items/a%2Eb
    X-Tag: b                              Http-Query: x=1
    Connection: keep-alive                X-Tag: a
                                          X-Tag: b
                                          X-Forwarded-For: 127.0.0.1
                                          X-Forwarded-Proto: http
                                          X-Forwarded-Host: example.com
                                          (body: raw bytes)

    NATS reply message                    HTTP response
    ------------------                    -------------
    Http-Status: 404                      404 Not Found
    Content-Type: application/json        Content-Type: application/json
    (body)                                (body)

Header lists are ``list[tuple[str, str]]`` in wire order, so a field with
several values is several tuples. Names are compared case-insensitively
everywhere (NATS keeps them case-sensitive, HTTP does not).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes

from natsgate.errors import BadReply, BadRequest, URITooLong

__all__ = [
    "DEFAULT_MAX_SUBJECT_LENGTH",
    "HEADER_METHOD",
    "HEADER_PATH",
    "HEADER_QUERY",
    "HEADER_STATUS",
    "HOP_BY_HOP",
    "SERVICE_ERROR_CODE",
    "SERVICE_ERROR_DESCRIPTION",
    "Headers",
    "NatsRequest",
    "Reply",
    "ServiceRequest",
    "build_subject",
    "edge_request_headers",
    "edge_response_headers",
    "escape_token",
    "get_header",
    "header_block_size",
    "nats_request",
    "parse_reply",
    "parse_service_request",
    "path_tokens",
    "refuse_dot_segments",
    "reply_headers",
    "unescape_token",
    "validate_subject_prefix",
]

Headers = list[tuple[str, str]]

HEADER_METHOD = "Http-Method"
HEADER_PATH = "Http-Path"
HEADER_QUERY = "Http-Query"
HEADER_STATUS = "Http-Status"

# Set by a NATS Services API responder that reports an error.
SERVICE_ERROR_CODE = "Nats-Service-Error-Code"
SERVICE_ERROR_DESCRIPTION = "Nats-Service-Error"

DEFAULT_MAX_SUBJECT_LENGTH = 1024

# RFC 9110 7.6.1 names Connection, Proxy-Connection, Keep-Alive, TE,
# Transfer-Encoding and Upgrade; Proxy-Authenticate, Proxy-Authorization and
# Trailer are hop-by-hop by long proxy practice (RFC 2616 13.5.1).
HOP_BY_HOP = frozenset(
    {
        "connection",
        "proxy-connection",
        "keep-alive",
        "te",
        "transfer-encoding",
        "upgrade",
        "proxy-authenticate",
        "proxy-authorization",
        "trailer",
    }
)

# Framing that each transport sets for itself rather than copying.
_FRAMING = frozenset({"host", "content-length"})

# Names a client may not send: the mapping's own (Http-*), NATS's (Nats-* is
# read by JetStream and the Services API; Status and Description are the names
# nats-py gives an inline server status such as 503 no-responders) and the
# gateway's own namespace.
_RESERVED_PREFIXES = ("http-", "nats-", "natsgate-")
_RESERVED_NAMES = frozenset({"status", "description"})

_FORWARDED = frozenset({"x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "forwarded"})

# Other client-address fields services and frameworks trust: kept from trusted proxies only.
_CLIENT_IP = frozenset({"x-real-ip", "true-client-ip", "x-client-ip", "cf-connecting-ip"})

# RFC 9110 5.6.2 token: what a header name and a method may consist of.
_TOKEN_RE = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_SUBJECT_TOKEN_RE = re.compile(r"[A-Za-z0-9_\-$]+")
_SAFE_BYTES = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
_BAD_PERCENT_RE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_ESCAPED_RE = re.compile(r"~([0-9A-F]{2})")
_ENCODED_DOT_RE = re.compile(r"%2e", re.IGNORECASE)


# -- subjects ----------------------------------------------------------------


def escape_token(segment: bytes) -> str:
    """One decoded path segment as one subject token: safe bytes kept, others ``~XX``."""
    return "".join(chr(b) if b in _SAFE_BYTES else f"~{b:02X}" for b in segment)


def unescape_token(token: str) -> bytes:
    """The inverse of :func:`escape_token`."""
    return _ESCAPED_RE.sub(lambda m: chr(int(m.group(1), 16)), token).encode("latin-1")


def path_tokens(path: str) -> list[str]:
    """Subject tokens for a raw (percent-encoded) path, one per segment.

    ``/`` and the empty path give no tokens; an empty segment (``//``, a
    trailing ``/``) or a malformed percent escape is a 400.
    """
    if path in ("", "/"):
        return []
    if not path.startswith("/"):
        raise BadRequest(f"path does not start with '/': {path[:64]!r}")
    tokens = []
    for segment in path[1:].split("/"):
        if not segment:
            raise BadRequest("empty path segment")
        if _BAD_PERCENT_RE.search(segment):
            raise BadRequest("malformed percent-encoding in path")
        tokens.append(escape_token(unquote_to_bytes(segment)))
    return tokens


def refuse_dot_segments(path: str) -> None:
    """400 for a ``.`` or ``..`` segment, raw or percent-encoded (``%2E``, any case).

    An HTTP upstream (or a proxy in front of it) may resolve such a segment
    (RFC 3986 5.2.4) and so leave the base path the route is confined to.
    """
    if "." not in path and "%" not in path:
        return
    for segment in path.split("/"):
        if segment and _ENCODED_DOT_RE.sub(".", segment) in (".", ".."):
            raise BadRequest("path has a '.' or '..' segment")


def build_subject(
    prefix: str, tokens: Iterable[str], max_length: int = DEFAULT_MAX_SUBJECT_LENGTH
) -> str:
    """Join an already validated prefix and escaped tokens; 414 past ``max_length``."""
    subject = ".".join([prefix, *tokens]) if prefix else ".".join(tokens)
    if len(subject) > max_length:
        raise URITooLong(f"subject of {len(subject)} bytes is over the limit of {max_length}")
    return subject


def validate_subject_prefix(prefix: str) -> str:
    """Check a configured subject prefix: dot-separated literal tokens, no wildcards."""
    if not prefix or not all(_SUBJECT_TOKEN_RE.fullmatch(t) for t in prefix.split(".")):
        raise ValueError(
            f"subject prefix {prefix!r} must be dot-separated tokens of A-Z a-z 0-9 - _ $"
        )
    return prefix


# -- headers -----------------------------------------------------------------


def get_header(headers: Iterable[tuple[str, str]], name: str) -> str | None:
    """The first value of ``name``, compared case-insensitively, or None."""
    wanted = name.lower()
    for key, value in headers:
        if key.lower() == wanted:
            return value
    return None


def _connection_tokens(headers: Sequence[tuple[str, str]]) -> set[str]:
    named: set[str] = set()
    for key, value in headers:
        if key.lower() == "connection":
            named.update(t.strip().lower() for t in value.split(",") if t.strip())
    return named


def _is_reserved(lname: str) -> bool:
    return lname in _RESERVED_NAMES or lname.startswith(_RESERVED_PREFIXES)


def _clean_value(value: str) -> str:
    # The HTTP parser already refuses CR and LF in a field value; this keeps the
    # NATS header block intact even if a caller hands us one anyway.
    if "\r" in value or "\n" in value or "\0" in value:
        raise BadRequest("header value contains CR, LF or NUL")
    return value


def _end_to_end(headers: Sequence[tuple[str, str]]) -> Headers:
    """Drop hop-by-hop fields, those named in Connection, and framing fields."""
    dropped = HOP_BY_HOP | _FRAMING | _connection_tokens(headers)
    return [(k, v) for k, v in headers if k.lower() not in dropped]


def edge_request_headers(
    headers: Sequence[tuple[str, str]],
    *,
    client_ip: str,
    scheme: str,
    host: str | None,
    trusted_proxy: bool = False,
) -> Headers:
    """End-to-end request headers as the gateway forwards them, on either transport.

    Hop-by-hop fields go (RFC 9110 7.6.1), reserved names a client might use to
    spoof the mapping go, client-address fields (``X-Real-IP``...) go unless
    the peer is a trusted proxy, and the ``X-Forwarded-*`` trio is set. An incoming
    forwarding chain is kept, and appended to, only when the peer is a trusted
    proxy; otherwise it is replaced by what the gateway saw itself.
    """
    out: Headers = []
    incoming_for: list[str] = []
    incoming: dict[str, str] = {}
    for key, value in _end_to_end(headers):
        lname = key.lower()
        if not _TOKEN_RE.fullmatch(key):
            raise BadRequest(f"header name is not a token: {key[:64]!r}")
        if _is_reserved(lname):
            continue
        if lname in _FORWARDED:
            if lname == "x-forwarded-for":
                incoming_for.append(value)
            else:
                incoming.setdefault(lname, value)
            continue
        if lname in _CLIENT_IP and not trusted_proxy:
            continue
        out.append((key, _clean_value(value)))

    chain = [*incoming_for, client_ip] if trusted_proxy else [client_ip]
    out.append(("X-Forwarded-For", _clean_value(", ".join(chain))))
    proto = incoming.get("x-forwarded-proto", scheme) if trusted_proxy else scheme
    out.append(("X-Forwarded-Proto", _clean_value(proto)))
    fwd_host = incoming.get("x-forwarded-host", host) if trusted_proxy else host
    if fwd_host:
        out.append(("X-Forwarded-Host", _clean_value(fwd_host)))
    if trusted_proxy and "forwarded" in incoming:
        out.append(("Forwarded", _clean_value(incoming["forwarded"])))
    return out


def edge_response_headers(headers: Sequence[tuple[str, str]]) -> Headers:
    """Upstream response headers as the gateway returns them to the client.

    Hop-by-hop and framing fields go (the gateway frames its own response), and
    so do the mapping's and NATS's reserved names.
    """
    return [(k, v) for k, v in _end_to_end(headers) if not _is_reserved(k.lower())]


def header_block_size(headers: Iterable[tuple[str, str]]) -> int:
    """Bytes of the NATS header block for ``headers`` (counts toward max_payload)."""
    size = len(b"NATS/1.0\r\n\r\n")
    for key, value in headers:
        size += len(key.encode()) + 2 + len(value.encode()) + 2
    return size


# -- requests ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NatsRequest:
    """A request ready to publish: subject, header lines, payload."""

    subject: str
    headers: Headers
    body: bytes

    @property
    def size(self) -> int:
        """Bytes that count toward the server's max_payload."""
        return header_block_size(self.headers) + len(self.body)


def nats_request(
    subject: str,
    method: str,
    path: str,
    query: str,
    headers: Sequence[tuple[str, str]],
    body: bytes,
) -> NatsRequest:
    """The NATS message for an HTTP request whose edge headers are already cleaned.

    ``path`` is the raw path after the route prefix and ``query`` the raw query
    string; they travel in headers and are never rebuilt from the subject.
    """
    if not _TOKEN_RE.fullmatch(method):
        raise BadRequest(f"method is not a token: {method[:32]!r}")
    lines: Headers = [(HEADER_METHOD, method), (HEADER_PATH, _clean_value(path))]
    if query:
        lines.append((HEADER_QUERY, _clean_value(query)))
    lines.extend(headers)
    return NatsRequest(subject, lines, body)


@dataclass(frozen=True, slots=True)
class ServiceRequest:
    """What a service reads from a NATS request message."""

    method: str
    path: str
    query: str
    headers: Headers


def parse_service_request(headers: Sequence[tuple[str, str]] | None) -> ServiceRequest:
    """Read the mapping's request headers, case-insensitively.

    A message without ``Http-Path`` was not sent through the mapping: that is a
    400, since the service cannot know which handler it is for.
    """
    method, path, query = "GET", None, ""
    rest: Headers = []
    for key, value in headers or ():
        lname = key.lower()
        if lname == "http-method":
            method = value
        elif lname == "http-path":
            path = value
        elif lname == "http-query":
            query = value
        else:
            rest.append((key, value))
    if path is None:
        raise BadRequest(f"request has no {HEADER_PATH} header")
    if not path.startswith("/"):
        path = "/" + path
    return ServiceRequest(method, path, query, rest)


# -- replies -----------------------------------------------------------------


def reply_headers(status: int, headers: Sequence[tuple[str, str]]) -> Headers:
    """Header lines of a service's NATS reply: the status first, then the fields.

    Hop-by-hop fields and those a ``Connection`` field names are dropped here,
    since the gateway cannot see the ``Connection`` field once it is gone.
    """
    dropped = HOP_BY_HOP | _connection_tokens(headers)
    lines: Headers = [(HEADER_STATUS, str(status))]
    lines.extend((k, v) for k, v in headers if k.lower() not in dropped)
    return lines


@dataclass(frozen=True, slots=True)
class Reply:
    """A NATS reply decoded into an HTTP response."""

    status: int
    headers: Headers
    body: bytes
    # The reply's own Content-Length (dropped from headers as framing): what a
    # HEAD response announces, since its body is empty.
    content_length: str | None = None


def _parse_status(value: str, name: str) -> int:
    try:
        status = int(value.strip())
    except ValueError:
        raise BadReply(f"reply has a {name} that is not a number: {value[:32]!r}") from None
    return status


def parse_reply(headers: Sequence[tuple[str, str]] | None, body: bytes) -> Reply:
    """Decode a reply: the ``Http-Status`` header, or a Services API error, or 200.

    A reply with neither (a plain NATS responder that does not speak the
    mapping) is a 200 with its body, so existing NATS services can be exposed.
    """
    lines: Sequence[tuple[str, str]] = headers or ()
    length = get_header(lines, "Content-Length")
    if length is not None and not length.strip().isdigit():
        length = None
    error_code = get_header(lines, SERVICE_ERROR_CODE)
    if error_code is not None:
        code = _parse_status(error_code, SERVICE_ERROR_CODE)
        status = code if 400 <= code <= 599 else 500
        # A runtime speaking the mapping (Http-Status set) sends its own body, even an
        # empty one (a HEAD reply); only a plain Services API error gets one made up.
        if not body and get_header(lines, HEADER_STATUS) is None:
            description = get_header(lines, SERVICE_ERROR_DESCRIPTION) or ""
            body = _error_json(description)
            lines = [("Content-Type", "application/json")]
        return Reply(status, edge_response_headers(lines), body, length)

    raw_status = get_header(lines, HEADER_STATUS)
    if raw_status is None:
        return Reply(200, edge_response_headers(lines), body, length)
    status = _parse_status(raw_status, HEADER_STATUS)
    if not 100 <= status <= 599:
        raise BadReply(f"reply has {HEADER_STATUS} {status} outside 100-599")
    return Reply(status, edge_response_headers(lines), body, length)


def _error_json(description: str) -> bytes:
    return json.dumps({"error": description}).encode()
