"""Locality-aware balancing through the real mesh-proxy: requests stay in
the proxy's zone while it is healthy, spill to its region (then anywhere)
in proportion as the zone's endpoints fail their health checks, and come
back when they recover; with HTTP/1.1 and HTTP/2 clients (real h2load) and
grpcio callers."""
import time

import pytest

import grpc_backend
from conftest import free_port
from test_load_balancing import (CLIENTS, backends, endpoints_view, grpc_servers,  # noqa: F401
                                 h2load, proxy_config)

HERE = {"region": "eu-west", "zone": "eu-west-1a"}
REGION = {"region": "eu-west", "zone": "eu-west-1b"}
FAR = {"region": "us-east", "zone": "us-east-1a"}


def placed(ports_by_locality):
    return [{"address": "127.0.0.1", "port": port, "locality": locality}
            for locality, ports in ports_by_locality for port in ports]


def locality_config(port, ports_by_locality, **fields):
    """A proxy in eu-west-1a over endpoints placed by locality, round robin
    within a tier, health-checked every 0.1 s."""
    fields.setdefault("load_balancer", "LB_ROUND_ROBIN")
    config = proxy_config(port, **fields)
    config["clusters"][0]["endpoints"] = placed(ports_by_locality)
    config["locality"] = HERE
    return config


HTTP_CHECK = {"interval": "0.1s", "timeout": "0.5s", "unhealthy_threshold": 1,
              "http": {"path": "/healthz"}}


def served(group):
    return sum(b.served for b in group)


def settled(proxy, failing):
    """Waits until `failing` endpoints fail their check, then two of the
    workers' 50 ms recounts: the tiers' shares follow health within one."""
    assert proxy.settled_metric("mesh_upstream_endpoints_failing_check", failing,
                                cluster="app") == failing
    time.sleep(0.12)


@pytest.mark.parametrize("client", CLIENTS)
def test_requests_stay_in_the_zone_spill_over_and_come_back(start_proxy, backends, client):
    zone, region, far = [backends() for _ in range(3)], [backends() for _ in range(2)], [backends()]
    port = free_port()
    proxy = start_proxy(locality_config(
        port, [(HERE, [b.port for b in zone]), (REGION, [b.port for b in region]),
               (FAR, [b.port for b in far])], health_check=HTTP_CHECK), concurrency=2)
    url = f"http://127.0.0.1:{port}/"

    assert h2load(url, client, 300, 2)["2xx"] == 300
    assert (served(zone), served(region), served(far)) == (300, 0, 0)
    assert proxy.settled_metric("mesh_upstream_locality_requests_total", 300, cluster="app",
                                tier="zone") == 300
    view = endpoints_view(proxy)["app"]
    assert view[f"127.0.0.1:{zone[0].port}"]["tier"] == "zone"
    assert view[f"127.0.0.1:{region[0].port}"]["locality"] == REGION
    assert view[f"127.0.0.1:{far[0].port}"]["tier"] == "other"

    # Two of three out: the zone's healthy third, scaled by 100/70, takes
    # 47.6%; the region the rest; nothing goes further.
    for b in zone[1:]:
        b.health_status = 503
    settled(proxy, 2)
    before = [b.served for b in zone], served(region)
    assert h2load(url, client, 1000, 2)["2xx"] == 1000
    kept = zone[0].served - before[0][0]
    assert [b.served for b in zone[1:]] == before[0][1:], "failing endpoints get nothing"
    assert 380 <= kept <= 580, kept
    assert served(region) - before[1] == 1000 - kept
    assert served(far) == 0
    assert proxy.metric("mesh_upstream_locality_requests_total", cluster="app",
                        tier="region") == served(region)

    # The whole zone out: the region takes everything.
    zone[0].health_status = 503
    settled(proxy, 3)
    before = served(zone), served(region)
    assert h2load(url, client, 300, 2)["2xx"] == 300
    assert (served(zone) - before[0], served(region) - before[1], served(far)) == (0, 300, 0)

    # Recovered: back in the zone.
    for b in zone:
        b.health_status = 200
    settled(proxy, 0)
    before = served(zone), served(region)
    assert h2load(url, client, 300, 2)["2xx"] == 300
    assert (served(zone) - before[0], served(region) - before[1]) == (300, 0)


def test_the_region_gone_too_spills_to_anywhere(start_proxy, backends):
    """The zone and the region both failing: the far endpoint takes it all,
    rather than no_healthy_upstream."""
    zone, region, far = backends(health_status=503), backends(health_status=503), backends()
    port = free_port()
    proxy = start_proxy(locality_config(
        port, [(HERE, [zone.port]), (REGION, [region.port]), (FAR, [far.port])],
        health_check=HTTP_CHECK, panic_threshold=0))
    settled(proxy, 2)
    assert h2load(f"http://127.0.0.1:{port}/", "http1", 200, 1)["2xx"] == 200
    assert (zone.served, region.served, far.served) == (0, 0, 200)


def test_locality_disabled_balances_over_every_endpoint(start_proxy, backends):
    zone, region = backends(), backends()
    port = free_port()
    proxy = start_proxy(locality_config(port, [(HERE, [zone.port]), (REGION, [region.port])],
                                        locality={"disabled": True}))
    assert h2load(f"http://127.0.0.1:{port}/", "http1", 200, 1)["2xx"] == 200
    assert (zone.served, region.served) == (100, 100)
    assert "tier" not in endpoints_view(proxy)["app"][f"127.0.0.1:{zone.port}"]
    assert proxy.metric("mesh_upstream_locality_requests_total", cluster="app", tier="zone") == 0


def test_grpc_callers_stay_in_the_zone_and_fail_over_to_the_region(start_proxy, grpc_servers):
    """grpcio callers: every call to the zone's server; when its health
    service says NOT_SERVING, every call to the region's; then back."""
    (here, here_state), (there, there_state) = grpc_servers(), grpc_servers()
    port = free_port()
    proxy = start_proxy(locality_config(
        port, [(HERE, [here]), (REGION, [there])], protocol="PROTOCOL_HTTP2",
        health_check={"interval": "0.1s", "timeout": "0.5s", "unhealthy_threshold": 1,
                      "grpc": {"service": grpc_backend.SERVICE}}))
    client = grpc_backend.Client(f"127.0.0.1:{port}")
    unary = client.unary()

    def calls(n):
        before = here_state.calls, there_state.calls
        for _ in range(n):
            assert unary(b"ping", timeout=5) == b"ping"
        return here_state.calls - before[0], there_state.calls - before[1]

    assert calls(40) == (40, 0)
    here_state.health[grpc_backend.SERVICE] = grpc_backend.NOT_SERVING
    settled(proxy, 1)
    assert calls(40) == (0, 40)
    here_state.health[grpc_backend.SERVICE] = grpc_backend.SERVING
    settled(proxy, 0)
    assert calls(40) == (40, 0)
    client.close()
