"""The gateway's route table and its TOML file, validated once into frozen dataclasses.

::

    routes.toml --load_config()--> Config
                                   +-- gateway: GatewaySettings (listen, backlog, proxies)
                                   +-- nats:    NatsSettings    (servers, credentials, TLS)
                                   +-- routes:  RouteTable
                                        +-- TemplateRoute GET /orders/{id} -> orders.get.{id}
                                        +-- PrefixRoute   /nats -> catalog.<METHOD>.<tokens>
                                        +-- PrefixRoute   /http -> http://127.0.0.1:8081

Schema (every key optional except each route's target)::

    [gateway]
    listen = "127.0.0.1:8080"          # host:port; port 0 = any free port
    backlog = 4096                     # listen backlog
    trusted_proxies = []               # CIDRs of proxies whose X-Forwarded-* chain is kept
    max_body = 1048576                 # default request body limit of a route, bytes
    shutdown_timeout = 10.0            # seconds in-flight requests get on SIGTERM
    body_timeout = 10.0                # seconds to receive a whole request body, else 408
    header_timeout = 10.0              # seconds a new connection gets to send a request head
    keepalive_timeout = 75.0           # seconds an idle keep-alive connection is kept
    metrics = true                     # false: no Prometheus updates on the hot path

    [nats]
    servers = ["nats://127.0.0.1:4222"]
    name = "natsgate-gateway"
    connect_timeout = 5.0              # seconds for the first connect at start (then exit 1)
    user = ""                          # with password
    password = ""
    token = ""
    nkey_seed_file = ""
    creds_file = ""
    tls_ca = ""                        # any of the three TLS keys -> an ssl.SSLContext
    tls_cert = ""
    tls_key = ""

    [[route]]                          # prefix route to HTTP
    prefix = "/http"
    upstream = "http://127.0.0.1:8081" # may carry a base path: "http://h:1/api"
    # or several, round robin over the healthy ones (not both keys):
    # upstreams = ["http://127.0.0.1:8081", "http://127.0.0.1:8082"]
    keepalive = true                   # false: a new upstream connection per request
    timeout = 5.0                      # seconds, whole exchange
    max_body = 1048576

    [[route]]                          # prefix route to NATS
    prefix = "/nats"
    subject = "catalog"                # request -> catalog.<METHOD>.<escaped path tokens>
    timeout = 5.0

    [[route]]                          # template route to a named subject
    method = "GET"
    path = "/orders/{id}"
    subject = "orders.get.{id}"        # {id} -> the escaped segment, one token

Matching: template routes first (method and every literal segment equal, each
``{name}`` one non-empty segment), then the longest prefix at a segment
boundary (``/nats`` matches ``/nats`` and ``/nats/x``, not ``/natsx``).
"""

from __future__ import annotations

import ipaddress
import ssl
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from natsgate.mapping import path_tokens, validate_subject_prefix

__all__ = [
    "Config",
    "ConfigError",
    "GatewaySettings",
    "Match",
    "NatsSettings",
    "PrefixRoute",
    "Route",
    "RouteTable",
    "TemplateRoute",
    "load_config",
    "parse_config",
    "parse_listen",
]

DEFAULT_LISTEN = "127.0.0.1:8080"
DEFAULT_BACKLOG = 4096
DEFAULT_MAX_BODY = 1024 * 1024
DEFAULT_TIMEOUT = 5.0

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class ConfigError(ValueError):
    """A route file that cannot be used; the message says where and why."""


# -- settings -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GatewaySettings:
    host: str = "127.0.0.1"
    port: int = 8080
    backlog: int = DEFAULT_BACKLOG
    trusted_proxies: tuple[Network, ...] = ()
    max_body: int = DEFAULT_MAX_BODY
    shutdown_timeout: float = 10.0
    metrics: bool = True
    body_timeout: float = 10.0
    header_timeout: float = 10.0
    keepalive_timeout: float = 75.0


@dataclass(frozen=True, slots=True)
class NatsSettings:
    servers: tuple[str, ...] = ("nats://127.0.0.1:4222",)
    name: str = "natsgate-gateway"
    connect_timeout: float = 5.0  # the first connect only; reconnects retry forever
    user: str = ""
    password: str = field(default="", repr=False)
    token: str = field(default="", repr=False)
    nkey_seed_file: str = ""
    creds_file: str = ""
    tls_ca: str = ""
    tls_cert: str = ""
    tls_key: str = ""

    def ssl_context(self) -> ssl.SSLContext | None:
        """A client TLS context when any TLS file is configured, else None."""
        if not (self.tls_ca or self.tls_cert or self.tls_key):
            return None
        context = ssl.create_default_context(cafile=self.tls_ca or None)
        if self.tls_cert:
            context.load_cert_chain(self.tls_cert, self.tls_key or None)
        return context

    def connect_options(self) -> dict[str, Any]:
        """Keyword arguments for nats-py's ``connect`` (credentials and TLS only)."""
        options: dict[str, Any] = {}
        if self.user:
            options["user"] = self.user
            options["password"] = self.password
        if self.token:
            options["token"] = self.token
        if self.nkey_seed_file:
            options["nkeys_seed"] = self.nkey_seed_file
        if self.creds_file:
            options["user_credentials"] = self.creds_file
        context = self.ssl_context()
        if context is not None:
            options["tls"] = context
        return options


# -- routes ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PrefixRoute:
    """Requests under ``prefix`` go to an HTTP upstream or to a NATS subject prefix."""

    index: int
    prefix: str  # without a trailing "/"; "" is the root
    timeout: float
    max_body: int
    upstream: str = ""  # http(s)://host:port of the first upstream, no path
    upstream_path: str = ""  # base path of the first upstream URL, without a trailing "/"
    keepalive: bool = True
    subject: str = ""
    # Every upstream as origin + base path, in file order; (upstream + upstream_path,)
    # when the route was made with ``upstream`` alone.
    upstreams: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.upstream and not self.upstreams:
            object.__setattr__(self, "upstreams", (self.upstream + self.upstream_path,))

    @property
    def transport(self) -> str:
        if self.subject:
            return "nats"
        return "http" if self.keepalive else "http-close"

    @property
    def name(self) -> str:
        return self.prefix or "/"


@dataclass(frozen=True, slots=True)
class TemplateRoute:
    """``METHOD /a/{x}/b`` to a named subject whose ``{x}`` tokens come from the path."""

    index: int
    method: str
    path: str
    subject: str
    timeout: float
    max_body: int
    # One entry per path segment: (is_param, literal or name).
    segments: tuple[tuple[bool, str], ...] = ()
    # One entry per subject token, same shape.
    tokens: tuple[tuple[bool, str], ...] = ()

    transport = "nats"

    @property
    def name(self) -> str:
        return f"{self.method} {self.path}"

    def match(self, parts: Sequence[str]) -> dict[str, str] | None:
        """Raw segment values by name when ``parts`` fits the template, else None."""
        if len(parts) != len(self.segments):
            return None
        params: dict[str, str] = {}
        for (is_param, text), part in zip(self.segments, parts, strict=True):
            if is_param:
                if not part:
                    return None
                params[text] = part
            elif part != text:
                return None
        return params

    def subject_tokens(self, params: Mapping[str, str]) -> list[str]:
        """Subject tokens, each ``{name}`` the escaped, decoded segment (400 if malformed)."""
        out = []
        for is_param, text in self.tokens:
            out.append(path_tokens("/" + params[text])[0] if is_param else text)
        return out


Route = PrefixRoute | TemplateRoute


@dataclass(frozen=True, slots=True)
class Match:
    """A routed request: the route, the raw path it carries on, template parameters."""

    route: Route
    path: str
    params: Mapping[str, str] | None = None


@dataclass(frozen=True, slots=True)
class RouteTable:
    routes: tuple[Route, ...]
    prefixes: tuple[PrefixRoute, ...] = ()  # longest first
    templates: tuple[TemplateRoute, ...] = ()

    @classmethod
    def of(cls, routes: Sequence[Route]) -> RouteTable:
        prefixes = [r for r in routes if isinstance(r, PrefixRoute)]
        prefixes.sort(key=lambda r: len(r.prefix), reverse=True)
        templates = [r for r in routes if isinstance(r, TemplateRoute)]
        return cls(tuple(routes), tuple(prefixes), tuple(templates))

    @property
    def uses_nats(self) -> bool:
        return any(r.transport == "nats" for r in self.routes)

    def match(self, method: str, path: str) -> Match | None:
        """The route for a raw path (no query string), or None."""
        if self.templates:
            parts = path[1:].split("/")
            for template in self.templates:
                if template.method == method:
                    params = template.match(parts)
                    if params is not None:
                        return Match(template, path, params)
        for route in self.prefixes:
            prefix = route.prefix
            if path.startswith(prefix) and (len(path) == len(prefix) or path[len(prefix)] == "/"):
                return Match(route, path[len(prefix) :])
        return None

    def allowed_methods(self, path: str) -> list[str]:
        """Methods of template routes whose shape fits ``path`` (for a 405's Allow)."""
        parts = path[1:].split("/")
        return [t.method for t in self.templates if t.match(parts) is not None]


@dataclass(frozen=True, slots=True)
class Config:
    gateway: GatewaySettings
    nats: NatsSettings
    routes: RouteTable


# -- loading --------------------------------------------------------------------


def load_config(path: str | Path) -> Config:
    """Read and validate a route file; ConfigError says which line or route is wrong."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # tomllib's message ends with "(at line N, column M)".
        raise ConfigError(f"{path}: TOML syntax error: {exc}") from None
    try:
        return parse_config(data)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def parse_config(data: Mapping[str, Any]) -> Config:
    """Validate decoded TOML into a Config."""
    _only_keys(data, {"gateway", "nats", "route"}, "top level")
    gateway = _gateway(_table(data, "gateway"))
    nats = _nats(_table(data, "nats"))
    raw_routes = data.get("route", [])
    if not isinstance(raw_routes, list) or not all(isinstance(r, dict) for r in raw_routes):
        raise ConfigError("'route' must be an array of tables ([[route]])")
    routes = [_route(i + 1, raw, gateway) for i, raw in enumerate(raw_routes)]
    _check_unique(routes)
    return Config(gateway, nats, RouteTable.of(routes))


def _table(data: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, dict):
        raise ConfigError(f"[{name}] must be a table")
    return value


def _only_keys(data: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}")


def _get(data: Mapping[str, Any], key: str, kind: type | tuple[type, ...], default: Any) -> Any:
    value = data.get(key, default)
    # bool is an int in Python; a number key must not accept true/false.
    if isinstance(value, bool) and kind is not bool:
        raise ConfigError(f"{key} must be {_kind_name(kind)}, not a boolean")
    if not isinstance(value, kind):
        raise ConfigError(f"{key} must be {_kind_name(kind)}, got {type(value).__name__}")
    return value


def _kind_name(kind: type | tuple[type, ...]) -> str:
    names = {
        str: "a string",
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        list: "a list",
    }
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _positive(value: float, key: str) -> float:
    if value <= 0:
        raise ConfigError(f"{key} must be > 0, got {value}")
    return value


def _gateway(data: Mapping[str, Any]) -> GatewaySettings:
    keys = {
        "listen",
        "backlog",
        "trusted_proxies",
        "max_body",
        "shutdown_timeout",
        "metrics",
        "body_timeout",
        "header_timeout",
        "keepalive_timeout",
    }
    _only_keys(data, keys, "[gateway]")
    host, port = parse_listen(_get(data, "listen", str, DEFAULT_LISTEN))
    proxies = _get(data, "trusted_proxies", list, [])
    networks = []
    for cidr in proxies:
        try:
            networks.append(ipaddress.ip_network(str(cidr), strict=False))
        except ValueError as exc:
            raise ConfigError(f"[gateway] trusted_proxies: {exc}") from None
    return GatewaySettings(
        host=host,
        port=port,
        backlog=int(_positive(_get(data, "backlog", int, DEFAULT_BACKLOG), "backlog")),
        trusted_proxies=tuple(networks),
        max_body=int(_positive(_get(data, "max_body", int, DEFAULT_MAX_BODY), "max_body")),
        shutdown_timeout=_seconds(data, "shutdown_timeout", 10.0),
        metrics=_get(data, "metrics", bool, True),
        body_timeout=_seconds(data, "body_timeout", 10.0),
        header_timeout=_seconds(data, "header_timeout", 10.0),
        keepalive_timeout=_seconds(data, "keepalive_timeout", 75.0),
    )


def _seconds(data: Mapping[str, Any], key: str, default: float) -> float:
    return float(_positive(_get(data, key, (int, float), default), key))


def parse_listen(listen: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:80`` for IPv6) as a pair; port 0 means any free port."""
    host, sep, port_text = listen.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port_text.isdigit() or int(port_text) > 65535:
        raise ConfigError(f"listen must be host:port, got {listen!r}")
    return host, int(port_text)


def _nats(data: Mapping[str, Any]) -> NatsSettings:
    strings = [
        "name",
        "user",
        "password",
        "token",
        "nkey_seed_file",
        "creds_file",
        "tls_ca",
        "tls_cert",
        "tls_key",
    ]
    _only_keys(data, {"servers", "connect_timeout", *strings}, "[nats]")
    servers = _get(data, "servers", list, ["nats://127.0.0.1:4222"])
    if not servers or not all(isinstance(s, str) and s for s in servers):
        raise ConfigError("[nats] servers must be a non-empty list of URLs")
    defaults = {f.name: f.default for f in fields(NatsSettings)}
    try:
        values = {key: _get(data, key, str, defaults[key]) for key in strings}
        timeout = _seconds(data, "connect_timeout", 5.0)
    except ConfigError as exc:
        raise ConfigError(f"[nats] {exc}") from None
    return NatsSettings(servers=tuple(servers), connect_timeout=timeout, **values)


_ROUTE_KEYS = {
    "prefix",
    "upstream",
    "upstreams",
    "keepalive",
    "timeout",
    "max_body",
    "subject",
    "method",
    "path",
}


def _route(index: int, data: Mapping[str, Any], gateway: GatewaySettings) -> Route:
    label = f"route {index}"
    if "prefix" in data:
        label += f" (prefix {data['prefix']})"
    elif "path" in data:
        label += f" ({str(data.get('method', 'GET')).upper()} {data['path']})"
    try:
        _only_keys(data, _ROUTE_KEYS, "route")
        timeout = _seconds(data, "timeout", DEFAULT_TIMEOUT)
        max_body = int(_positive(_get(data, "max_body", int, gateway.max_body), "max_body"))
        if "path" in data or "method" in data:
            return _template_route(index, data, timeout, max_body)
        return _prefix_route(index, data, timeout, max_body)
    except ConfigError as exc:
        raise ConfigError(f"{label}: {exc}") from None


def _prefix_route(index: int, data: Mapping[str, Any], timeout: float, max_body: int) -> Route:
    prefix = _get(data, "prefix", str, None) if "prefix" in data else None
    if prefix is None:
        raise ConfigError("needs a prefix (or method and path for a template route)")
    if not prefix.startswith("/") or "?" in prefix or "#" in prefix or "//" in prefix:
        raise ConfigError("prefix must start with '/' and hold no '?', '#' or '//'")
    prefix = prefix.rstrip("/")
    if prefix in _RESERVED_PATHS:
        raise ConfigError(f"prefix {prefix} is reserved for the gateway itself")
    if "upstream" in data and "upstreams" in data:
        raise ConfigError("takes upstream (one URL) or upstreams (a list), not both")
    has_upstream = "upstream" in data or "upstreams" in data
    if has_upstream == ("subject" in data):
        raise ConfigError("needs exactly one of upstream(s) (HTTP) or subject (NATS)")
    if not has_upstream:
        if "keepalive" in data:
            raise ConfigError("keepalive applies to HTTP routes only")
        subject = _subject_prefix(_get(data, "subject", str, ""))
        return PrefixRoute(index, prefix, timeout, max_body, subject=subject)
    bases = [_upstream(url) for url in _upstream_urls(data)]
    origin, base_path = bases[0]
    keepalive = _get(data, "keepalive", bool, True)
    upstreams = tuple(o + p for o, p in bases)
    return PrefixRoute(
        index, prefix, timeout, max_body, origin, base_path, keepalive, upstreams=upstreams
    )


def _upstream_urls(data: Mapping[str, Any]) -> list[str]:
    """The route's upstream URLs: ``upstream`` as a one-element list, or ``upstreams``."""
    if "upstream" in data:
        return [_get(data, "upstream", str, "")]
    urls = _get(data, "upstreams", list, [])
    if not urls or not all(isinstance(url, str) for url in urls):
        raise ConfigError("upstreams must be a non-empty list of URLs")
    if len(set(urls)) != len(urls):
        raise ConfigError("upstreams names the same URL twice")
    return list(urls)


_RESERVED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


def _subject_prefix(subject: str) -> str:
    try:
        return validate_subject_prefix(subject)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _upstream(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ConfigError("upstream must be http:// or https://")
    if not parts.hostname:
        raise ConfigError("upstream has no host")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise ConfigError("upstream has a bad port") from None
    if parts.query or parts.fragment:
        raise ConfigError("upstream may not carry a query string or fragment")
    return f"{parts.scheme}://{parts.netloc}", parts.path.rstrip("/")


def _template_route(index: int, data: Mapping[str, Any], timeout: float, max_body: int) -> Route:
    for key in ("prefix", "upstream", "upstreams", "keepalive"):
        if key in data:
            raise ConfigError(f"a template route (method, path) takes no {key}")
    method = _get(data, "method", str, "GET").upper()
    path = _get(data, "path", str, "")
    subject = _get(data, "subject", str, "")
    if not method.isalpha():
        raise ConfigError(f"method {method!r} is not an HTTP method")
    if not path.startswith("/") or path == "/":
        raise ConfigError("path must start with '/' and name at least one segment")
    segments = tuple(_template_part(part, "path segment") for part in path[1:].split("/"))
    if any(not text for _, text in segments):
        raise ConfigError("path has an empty segment")
    if not subject:
        raise ConfigError("needs a subject")
    tokens = tuple(_template_part(token, "subject token") for token in subject.split("."))
    names = [text for is_param, text in segments if is_param]
    if len(set(names)) != len(names):
        raise ConfigError("path names a parameter twice")
    for is_param, text in tokens:
        if is_param and text not in names:
            raise ConfigError(f"subject uses {{{text}}}, which the path does not define")
        if not is_param:
            _subject_prefix(text)
    return TemplateRoute(index, method, path, subject, timeout, max_body, segments, tokens)


def _template_part(part: str, what: str) -> tuple[bool, str]:
    if part.startswith("{") and part.endswith("}"):
        name = part[1:-1]
        if not name.isidentifier():
            raise ConfigError(f"{what} {part!r}: parameter name must be an identifier")
        return True, name
    if "{" in part or "}" in part:
        raise ConfigError(f"{what} {part!r}: a parameter must be the whole {what}")
    return False, part


def _check_unique(routes: Sequence[Route]) -> None:
    seen: dict[str, int] = {}
    for route in routes:
        key = route.name
        if key in seen:
            raise ConfigError(f"route {route.index} ({key}): same as route {seen[key]}")
        seen[key] = route.index
