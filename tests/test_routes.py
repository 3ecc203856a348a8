"""The route table: TOML loading, validation messages and matching."""

from __future__ import annotations

import ipaddress
import tomllib
from pathlib import Path

import pytest

from natsgate.routes import (
    ConfigError,
    PrefixRoute,
    TemplateRoute,
    load_config,
    parse_config,
)

EXAMPLE = """
[gateway]
listen = "127.0.0.1:8080"
backlog = 4096
trusted_proxies = ["127.0.0.1/32", "10.0.0.0/8"]
max_body = 1048576
shutdown_timeout = 10.0

[nats]
servers = ["nats://127.0.0.1:4222"]
name = "natsgate-gateway"

[[route]]
prefix = "/http"
upstream = "http://127.0.0.1:8081"
keepalive = true
timeout = 5.0
max_body = 1048576

[[route]]
prefix = "/http-close/"
upstream = "http://127.0.0.1:8081/base/"
keepalive = false

[[route]]
prefix = "/nats"
subject = "catalog"
timeout = 2

[[route]]
method = "get"
path = "/orders/{id}"
subject = "orders.get.{id}"
"""


def test_example_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "routes.toml"
    path.write_text(EXAMPLE)
    config = load_config(path)

    assert (config.gateway.host, config.gateway.port, config.gateway.backlog) == (
        "127.0.0.1",
        8080,
        4096,
    )
    assert ipaddress.ip_address("10.1.2.3") in config.gateway.trusted_proxies[1]
    assert config.nats.servers == ("nats://127.0.0.1:4222",)
    http, close, nats, template = config.routes.routes
    assert isinstance(http, PrefixRoute) and http.transport == "http"
    assert (close.prefix, close.upstream, close.upstream_path) == (  # type: ignore[union-attr]
        "/http-close",
        "http://127.0.0.1:8081",
        "/base",
    )
    assert close.transport == "http-close"
    assert isinstance(nats, PrefixRoute) and (nats.subject, nats.timeout) == ("catalog", 2.0)
    assert isinstance(template, TemplateRoute) and template.method == "GET"
    assert template.max_body == 1048576
    assert config.routes.uses_nats


def test_nats_credentials_become_connect_options() -> None:
    config = parse_config({"nats": {"user": "u", "password": "p", "creds_file": "/x.creds"}})

    assert config.nats.connect_options() == {
        "user": "u",
        "password": "p",
        "user_credentials": "/x.creds",
    }
    assert "p" not in repr(config.nats)


def test_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "routes.toml"
    path.write_text('[gateway]\nlisten = "a:1"\nbacklog = = 3\n')

    with pytest.raises(ConfigError, match=r"routes\.toml: TOML syntax error: .*line 3"):
        load_config(path)


BAD_ROUTES = [
    ({"prefix": "/x", "upstream": "ftp://h"}, "route 1 (prefix /x): upstream must be http://"),
    ({"prefix": "/x"}, "route 1 (prefix /x): needs exactly one of upstream"),
    ({"prefix": "/x", "upstream": "http://h", "subject": "s"}, "needs exactly one of"),
    ({"prefix": "x", "subject": "s"}, "prefix must start with '/'"),
    ({"prefix": "/x", "subject": "a.*"}, "must be dot-separated tokens"),
    ({"prefix": "/x", "subject": "a..b"}, "must be dot-separated tokens"),
    ({"prefix": "/x", "subject": ""}, "must be dot-separated tokens"),
    ({"prefix": "/x", "subject": "s", "keepalive": False}, "keepalive applies to HTTP"),
    ({"prefix": "/x", "subject": "s", "timeout": 0}, "timeout must be > 0"),
    ({"prefix": "/x", "subject": "s", "timeout": "5"}, "timeout must be an integer or a number"),
    ({"prefix": "/x", "subject": "s", "max_body": True}, "max_body must be an integer"),
    ({"prefix": "/x", "subject": "s", "colour": 1}, "unknown key(s) colour"),
    ({"prefix": "/healthz", "subject": "s"}, "reserved for the gateway"),
    ({"prefix": "/x", "upstream": "http://h:99999"}, "bad port"),
    ({"prefix": "/x", "upstream": "http://h/?q=1"}, "query string"),
    ({"path": "/o/{id}", "subject": "o.{oid}"}, "route 1 (GET /o/{id}): subject uses {oid}"),
    ({"path": "/o/x{id}", "subject": "o"}, "must be the whole path segment"),
    ({"path": "/o/{id}", "subject": "o.x{id}"}, "must be the whole subject token"),
    ({"path": "/o/{id}", "subject": "o.*"}, "must be dot-separated tokens"),
    ({"path": "/o/{id}/{id}", "subject": "o"}, "names a parameter twice"),
    ({"path": "/o//x", "subject": "o"}, "empty segment"),
    ({"path": "/o", "method": "G T", "subject": "o"}, "is not an HTTP method"),
    ({"path": "/o", "subject": "o", "upstream": "http://h"}, "takes no upstream"),
    (
        {"prefix": "/x", "upstream": "http://a", "upstreams": ["http://b"]},
        "route 1 (prefix /x): takes upstream (one URL) or upstreams (a list), not both",
    ),
    ({"prefix": "/x", "upstreams": []}, "upstreams must be a non-empty list of URLs"),
    ({"prefix": "/x", "upstreams": "http://a"}, "upstreams must be a list"),
    ({"prefix": "/x", "upstreams": ["http://a", 1]}, "upstreams must be a non-empty list"),
    ({"prefix": "/x", "upstreams": ["http://a", "http://a"]}, "same URL twice"),
    ({"prefix": "/x", "upstreams": ["http://a", "ftp://b"]}, "upstream must be http://"),
    ({"prefix": "/x", "upstreams": ["http://a"], "subject": "s"}, "needs exactly one of"),
    ({"path": "/o", "subject": "o", "upstreams": ["http://h"]}, "takes no upstreams"),
]


def test_several_upstreams_keep_their_order_and_base_paths() -> None:
    route = parse_config(
        {"route": [{"prefix": "/x", "upstreams": ["http://a:1/api/", "http://b:2"]}]}
    ).routes.routes[0]

    assert isinstance(route, PrefixRoute)
    assert route.upstreams == ("http://a:1/api", "http://b:2")
    assert (route.upstream, route.upstream_path) == ("http://a:1", "/api")
    assert route.transport == "http"


def test_one_upstream_is_a_one_element_list() -> None:
    route = parse_config({"route": [{"prefix": "/x", "upstream": "http://a:1/p"}]}).routes.routes[0]
    made = PrefixRoute(1, "/x", 5.0, 10, "http://a:1", "/p")

    assert isinstance(route, PrefixRoute)
    assert route.upstreams == made.upstreams == ("http://a:1/p",)


@pytest.mark.parametrize(("route", "words"), BAD_ROUTES)
def test_bad_route_is_refused_with_reason(route: dict[str, object], words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({"route": [route]})

    assert words in str(caught.value)


BAD_SETTINGS = [
    ({"gateway": {"listen": "8080"}}, "listen must be host:port"),
    ({"gateway": {"listen": "h:70000"}}, "listen must be host:port"),
    ({"gateway": {"trusted_proxies": ["10.0.0.0/33"]}}, "trusted_proxies"),
    ({"gateway": {"backlog": 0}}, "backlog must be > 0"),
    ({"nats": {"servers": []}}, "servers must be a non-empty list"),
    ({"nats": {"name": 3}}, "[nats] name must be a string"),
    ({"routes": []}, "unknown key(s) routes"),
    ({"route": {"prefix": "/x"}}, "array of tables"),
]


@pytest.mark.parametrize(("data", "words"), BAD_SETTINGS)
def test_bad_settings_are_refused(data: dict[str, object], words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(data)

    assert words in str(caught.value)


def test_duplicate_routes_are_refused() -> None:
    routes = [{"prefix": "/x", "subject": "a"}, {"prefix": "/x/", "subject": "b"}]

    with pytest.raises(ConfigError, match=r"route 2 \(/x\): same as route 1"):
        parse_config({"route": routes})


TABLE = parse_config(
    tomllib.loads(
        """
        [[route]]
        prefix = "/"
        upstream = "http://root"
        [[route]]
        prefix = "/nats"
        subject = "n"
        [[route]]
        prefix = "/nats/deep"
        subject = "d"
        [[route]]
        method = "GET"
        path = "/nats/orders/{id}"
        subject = "o.{id}"
        """
    )
).routes

MATCH_CASES = [
    # method, raw path, route name, path passed on
    ("GET", "/nats", "/nats", ""),
    ("GET", "/nats/", "/nats", "/"),
    ("GET", "/nats/x", "/nats", "/x"),
    ("GET", "/natsx", "/", "/natsx"),
    ("GET", "/nats/deep", "/nats/deep", ""),
    ("GET", "/nats/deeper", "/nats", "/deeper"),
    ("GET", "/nats/deep/x/y", "/nats/deep", "/x/y"),
    ("GET", "/nats/orders/7", "GET /nats/orders/{id}", "/nats/orders/7"),
    ("POST", "/nats/orders/7", "/nats", "/orders/7"),
    ("GET", "/nats/orders/", "/nats", "/orders/"),
    ("GET", "/", "/", "/"),
    ("GET", "/a%2Fb", "/", "/a%2Fb"),
]


@pytest.mark.parametrize(("method", "path", "route", "rest"), MATCH_CASES)
def test_longest_prefix_at_a_segment_boundary(
    method: str, path: str, route: str, rest: str
) -> None:
    match = TABLE.match(method, path)

    assert match is not None
    assert (match.route.name, match.path) == (route, rest)


def test_template_subject_tokens_are_escaped() -> None:
    match = TABLE.match("GET", "/nats/orders/a.b%2A")

    assert match is not None and isinstance(match.route, TemplateRoute)
    assert match.params is not None
    assert match.route.subject_tokens(match.params) == ["o", "a~2Eb~2A"]


def test_no_match_without_a_root_route() -> None:
    table = parse_config({"route": [{"prefix": "/a", "subject": "a"}]}).routes

    assert table.match("GET", "/b") is None
    assert table.match("GET", "/ab") is None
