"""The compose deployment in deploy/ is consistent (Docker is not run here).

::

    compose.yaml  services, their commands and ports
    routes.toml   upstreams and NATS servers: must name compose services and their ports
    nats-N.conf   each node routes to every other node of the cluster
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from natsgate.routes import PrefixRoute, load_config

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
NATS_NODES = ["nats-1", "nats-2", "nats-3"]


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    found: dict[str, Any] = compose["services"]
    return found


def _command(service: dict[str, Any]) -> list[str]:
    return [str(part) for part in service["command"]]


def _option(service: dict[str, Any], name: str) -> list[str]:
    """Values of ``--name=value`` or ``--name value`` in a service's command."""
    command = _command(service)
    values = [part.split("=", 1)[1] for part in command if part.startswith(f"{name}=")]
    values += [command[i + 1] for i, part in enumerate(command[:-1]) if part == name]
    return values


def _nats_conf(node: str) -> str:
    return (DEPLOY / f"{node}.conf").read_text()


def _nats_port(node: str) -> int:
    found = re.search(r"^port:\s*(\d+)", _nats_conf(node), re.M)
    assert found, f"{node}.conf names no client port"
    return int(found.group(1))


def _http_port(service: dict[str, Any]) -> int:
    return int(_option(service, "--http")[0].rsplit(":", 1)[1])


def test_the_deployment_has_a_gateway_two_catalogs_and_three_nats_nodes(
    services: dict[str, Any],
) -> None:
    assert set(services) == {"gateway", "catalog-1", "catalog-2", *NATS_NODES}
    for node in NATS_NODES:
        assert services[node]["image"].startswith("nats:")
        assert f"./{node}.conf:/etc/nats/nats.conf:ro" in services[node]["volumes"]
    assert services["gateway"]["image"] == services["catalog-1"]["image"]
    assert services["catalog-1"]["build"]["dockerfile"] == "deploy/Dockerfile"
    assert (DEPLOY / "Dockerfile").read_text().startswith("# natsgate")
    assert "FROM python:3.11-slim" in (DEPLOY / "Dockerfile").read_text()


def test_every_nats_node_routes_to_the_others() -> None:
    for node in NATS_NODES:
        text = _nats_conf(node)
        assert re.search(rf"^server_name:\s*{node}$", text, re.M)
        assert re.search(r"name:\s*natsgate", text)
        cluster_port = re.search(r"cluster\s*{[^}]*?port:\s*(\d+)", text, re.S)
        assert cluster_port and cluster_port.group(1) == "6222"
        routes = set(re.findall(r"nats-route://([\w-]+):(\d+)", text))
        assert routes == {(other, "6222") for other in NATS_NODES if other != node}


def test_routes_toml_names_compose_services_on_their_ports(services: dict[str, Any]) -> None:
    config = load_config(DEPLOY / "routes.toml")
    http_routes = [r for r in config.routes.routes if isinstance(r, PrefixRoute) and r.upstreams]

    assert {r.prefix for r in config.routes.routes} == {"/http", "/http-close", "/nats"}
    for route in http_routes:
        for url in route.upstreams:
            parts = urlsplit(url)
            assert parts.hostname in services, url
            assert _http_port(services[parts.hostname]) == parts.port, url
    for url in config.nats.servers:
        parts = urlsplit(url)
        assert parts.hostname in NATS_NODES, url
        assert _nats_port(str(parts.hostname)) == parts.port, url
    assert sorted(urlsplit(u).hostname or "" for u in config.nats.servers) == NATS_NODES


def test_the_services_join_the_cluster_and_the_gateway_publishes_its_port(
    services: dict[str, Any],
) -> None:
    config = load_config(DEPLOY / "routes.toml")
    for name in ("catalog-1", "catalog-2"):
        service = services[name]
        assert _command(service)[0] == "service"
        urls = _option(service, "--nats-url")
        assert sorted(urlsplit(u).hostname or "" for u in urls) == NATS_NODES
    gateway = services["gateway"]
    command = _command(gateway)
    assert command[:3] == ["gateway", "--config", "/etc/natsgate/routes.toml"]
    assert "./routes.toml:/etc/natsgate/routes.toml:ro" in gateway["volumes"]
    assert f"{config.gateway.port}:{config.gateway.port}" in gateway["ports"]
    assert config.gateway.host == "0.0.0.0"
