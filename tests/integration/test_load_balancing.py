"""Endpoint selection and circuit breaking through the real mesh-proxy:
PeakEWMA (the default) steering away from a slow, a failing and a refusing
endpoint; the other algorithms spreading load; maxRequests and maxRetries
failing fast with upstream_overflow. Load comes from real h2load (HTTP/1.1
and HTTP/2 clients) against backends of ours that count what they serve."""
import http.server
import json
import socket
import socketserver
import subprocess
import threading
import time
import urllib.error
from collections import Counter
import urllib.request
from datetime import datetime, timezone

import pytest

import grpc_backend
from conftest import cluster, free_port, http_get, listener


class Backend:
    """An HTTP/1.1 backend on a free loopback port that answers `status`
    after `delay` seconds and counts the requests it served."""

    def __init__(self, status=200, delay=0.0, health_status=200):
        self.status, self.delay, self.served = status, delay, 0
        self.health_status, self.probes = health_status, 0  # GET /healthz
        self.in_flight = self.most_in_flight = 0
        self.lock = threading.Lock()
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Head and body are two writes: without it the body waits for
            # a delayed ACK (~40 ms).
            disable_nagle_algorithm = True

            def do_GET(self):  # noqa: N802 (the http.server interface)
                if self.path == "/healthz":
                    owner.probes += 1
                    self.send_response(owner.health_status)
                    self.send_header("content-length", "0")
                    self.end_headers()
                    return
                with owner.lock:
                    owner.served += 1
                    owner.in_flight += 1
                    owner.most_in_flight = max(owner.most_in_flight, owner.in_flight)
                try:
                    if owner.delay:
                        time.sleep(owner.delay)
                    body = b"ok\n" if owner.status < 400 else b"failed\n"
                    self.send_response(owner.status)
                    self.send_header("x-backend", str(owner.port))
                    self.send_header("content-length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                finally:
                    with owner.lock:
                        owner.in_flight -= 1

            def log_message(self, *args):
                pass

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
            request_queue_size = 128

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def backends():
    started = []

    def start(**kwargs):
        backend = Backend(**kwargs)
        started.append(backend)
        return backend

    yield start
    for backend in started:
        backend.stop()


def proxy_config(port, *ports, **cluster_fields):
    return {
        "listeners": [listener("front", port, route_table="front")],
        "route_tables": [{"name": "front", "virtual_hosts": [{"domains": ["*"], "routes": [
            {"match": {"prefix": "/"}, "forward": {"clusters": [{"name": "app"}]}}]}]}],
        "clusters": [cluster("app", *ports, **cluster_fields)],
    }


def h2load(url, client, requests, clients):
    """Real h2load: `requests` requests over `clients` connections, HTTP/1.1
    or HTTP/2 (prior knowledge). Returns its counts of 2xx and 5xx answers."""
    version = ["--h1"] if client == "http1" else []
    result = subprocess.run(["h2load", *version, "-n", str(requests), "-c", str(clients),
                             "-m", "1", "-T", "10", url],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr + result.stdout
    for line in result.stdout.splitlines():
        if line.startswith("status codes:"):
            # status codes: 600 2xx, 0 3xx, 0 4xx, 0 5xx
            counts = [int(part.split()[0]) for part in line.split(":", 1)[1].split(",")]
            return {"2xx": counts[0], "5xx": counts[3]}
    raise AssertionError(result.stdout)


CLIENTS = ["http1", "http2"]


@pytest.mark.parametrize("client", CLIENTS)
def test_peak_ewma_sends_little_to_a_slow_endpoint(start_proxy, backends, client):
    fast = [backends(), backends()]
    slow = backends(delay=0.05)
    port = free_port()
    start_proxy(proxy_config(port, fast[0].port, slow.port, fast[1].port))  # the default balancer
    answers = h2load(f"http://127.0.0.1:{port}/", client, 1000, 4)
    assert answers["2xx"] == 1000
    served = sum(b.served for b in fast) + slow.served
    # Round robin would send it a third (about 333).
    assert slow.served < 0.05 * served, (slow.served, [b.served for b in fast])
    assert min(b.served for b in fast) > 0.3 * served


@pytest.mark.parametrize("client", CLIENTS)
def test_round_robin_still_shares_evenly(start_proxy, backends, client):
    """The contrast to the test above: RoundRobin ignores latency."""
    fast, slow = backends(), backends(delay=0.02)
    port = free_port()
    start_proxy(proxy_config(port, fast.port, slow.port, load_balancer="LB_ROUND_ROBIN"))
    assert h2load(f"http://127.0.0.1:{port}/", client, 200, 2)["2xx"] == 200
    assert abs(fast.served - slow.served) <= 2


def test_peak_ewma_avoids_an_endpoint_that_fails_fast(start_proxy, backends):
    good = [backends(delay=0.002), backends(delay=0.002)]
    failing = backends(status=500)
    port = free_port()
    proxy = start_proxy(proxy_config(port, good[0].port, failing.port, good[1].port))
    answers = h2load(f"http://127.0.0.1:{port}/", "http1", 1000, 4)
    # Every request the failing endpoint gets is a 500 the client sees.
    assert answers["5xx"] == failing.served
    assert failing.served < 0.05 * 1000, failing.served
    assert proxy.metric("mesh_upstream_requests_total", cluster="app") == 1000


def test_peak_ewma_avoids_an_endpoint_that_refuses_connections(start_proxy, backends):
    good = [backends(), backends()]
    refusing = free_port()  # nothing listens there
    port = free_port()
    proxy = start_proxy(proxy_config(port, good[0].port, refusing, good[1].port))
    answers = h2load(f"http://127.0.0.1:{port}/", "http1", 1000, 4)
    refused = proxy.metric("mesh_upstream_connect_failures_total", cluster="app", reason="refused")
    assert answers["5xx"] == refused
    assert refused < 0.05 * 1000, refused
    assert answers["2xx"] == 1000 - refused


@pytest.mark.parametrize("algorithm", ["LB_RANDOM", "LB_LEAST_REQUEST"])
def test_random_and_least_request_spread_over_every_endpoint(start_proxy, backends, algorithm):
    servers = [backends(delay=0.001) for _ in range(3)]
    port = free_port()
    start_proxy(proxy_config(port, *[b.port for b in servers], load_balancer=algorithm))
    assert h2load(f"http://127.0.0.1:{port}/", "http1", 900, 3)["2xx"] == 900
    for b in servers:
        assert 200 < b.served < 400, [s.served for s in servers]


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, dict(answer.headers)
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers)


@pytest.mark.parametrize("client", CLIENTS)
def test_max_requests_fails_fast_past_the_limit(start_proxy, backends, client):
    slow = backends(delay=1.0)
    port = free_port()
    proxy = start_proxy(proxy_config(port, slow.port, circuit_breakers={"max_requests": 2}))
    url = f"http://127.0.0.1:{port}/"
    version = ["--http2-prior-knowledge"] if client == "http2" else ["--http1.1"]
    started = time.monotonic()
    calls = [subprocess.Popen(["curl", "-s", "-o", "/dev/null", "-D", "-", "--max-time", "10",
                               *version, url], stdout=subprocess.PIPE, text=True)
             for _ in range(6)]
    # While two are upstream, the gauge shows them.
    assert proxy.settled_metric("mesh_upstream_requests_active", 2, cluster="app") == 2
    heads = [call.communicate(timeout=20)[0].lower() for call in calls]
    overflowed = [h for h in heads if "x-weft-error: upstream_overflow" in h]
    assert len(overflowed) == 4 and all(h.split()[1] == "503" for h in overflowed), heads
    assert sum(" 200" in h.splitlines()[0] for h in heads) == 2
    assert slow.most_in_flight == 2 and slow.served == 2
    assert time.monotonic() - started < 5
    assert proxy.metric("mesh_upstream_overflows_total", cluster="app", limit="requests") == 4
    assert proxy.settled_metric("mesh_upstream_requests_active", 0, cluster="app") == 0
    records = proxy.access_records(6)
    assert sum(r.get("error") == "upstream_overflow" for r in records) == 4, records


@pytest.mark.parametrize("client", CLIENTS)
def test_max_connections_queues_and_max_pending_refuses(start_proxy, backends, client):
    """One connection upstream: requests wait for it in turn, up to two
    waiting; the rest are refused at once."""
    slow = backends(delay=0.5)
    port = free_port()
    proxy = start_proxy(proxy_config(
        port, slow.port, protocol="PROTOCOL_HTTP1",
        circuit_breakers={"max_connections": 1, "max_pending_requests": 2}))
    url = f"http://127.0.0.1:{port}/"
    version = ["--http2-prior-knowledge"] if client == "http2" else ["--http1.1"]
    calls = []
    for _ in range(5):
        calls.append(subprocess.Popen(["curl", "-s", "-o", "/dev/null", "-D", "-", "--max-time",
                                       "10", *version, url], stdout=subprocess.PIPE, text=True))
        time.sleep(0.05)
    assert proxy.settled_metric("mesh_upstream_requests_pending", 2, cluster="app") == 2
    assert proxy.metric("mesh_upstream_connections_active", cluster="app") == 1
    heads = [call.communicate(timeout=20)[0].lower() for call in calls]
    overflowed = [h for h in heads if "x-weft-error: upstream_overflow" in h]
    assert len(overflowed) == 2 and all(h.split()[1] == "503" for h in overflowed), heads
    assert sum(" 200" in h.splitlines()[0] for h in heads) == 3, heads
    assert slow.most_in_flight == 1 and slow.served == 3
    assert proxy.metric("mesh_upstream_overflows_total", cluster="app", limit="pending") == 2
    assert proxy.metric("mesh_upstream_connection_waits_total", cluster="app") == 2
    assert proxy.settled_metric("mesh_upstream_requests_pending", 0, cluster="app") == 0


def test_max_retries_stops_retries_past_the_limit(start_proxy, backends):
    failing = backends(status=503, delay=0.3)
    port = free_port()
    config = proxy_config(port, failing.port, circuit_breakers={"max_retries": 1})
    config["route_tables"][0]["virtual_hosts"][0]["routes"][0]["retry"] = {
        "attempts": 3, "retry_on": ["5xx"], "base_interval": "0.001s", "max_interval": "0.002s"}
    proxy = start_proxy(config)
    url = f"http://127.0.0.1:{port}/"
    calls = [subprocess.Popen(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                               "--max-time", "10", url], stdout=subprocess.PIPE, text=True)
             for _ in range(4)]
    codes = [call.communicate(timeout=20)[0] for call in calls]
    assert codes == ["503"] * 4
    refused = proxy.metric("mesh_upstream_overflows_total", cluster="app", limit="retries")
    made = proxy.metric("mesh_upstream_retries_total", cluster="app", reason="status_503")
    # Four requests fail at once, and one retry may be in flight: one of
    # them is retried (twice, the place its own), three are refused.
    assert (made, refused) == (2, 3)
    assert failing.served == 4 + made


def test_outlier_detection_ejects_a_failing_endpoint_and_returns_it(start_proxy, backends):
    """Three endpoints, one answering 500: after three in a row it is
    ejected (round robin would send it a third of the traffic), counted,
    and after the ejection time it is back and, now healthy, stays."""
    good = [backends(), backends()]
    failing = backends(status=500)
    port = free_port()
    proxy = start_proxy(proxy_config(port, good[0].port, failing.port, good[1].port,
                                     load_balancer="LB_ROUND_ROBIN",
                                     outlier_detection={"consecutive_5xx": 3,
                                                        "base_ejection_time": "3s"}),
                        concurrency=2)
    url = f"http://127.0.0.1:{port}/"
    started = time.monotonic()
    answers = h2load(url, "http1", 300, 2)
    assert time.monotonic() - started < 2.5, "the run must end within the ejection"
    # Three failures per worker at most before the proxy-wide ejection.
    assert 3 <= failing.served <= 6 and answers["5xx"] == failing.served
    assert proxy.metric("mesh_upstream_ejections_total", cluster="app",
                        reason="consecutive_5xx") == 1
    assert proxy.metric("mesh_upstream_endpoints_ejected", cluster="app") == 1

    failing.status = 200  # it recovers
    time.sleep(max(0.0, started + 3.2 - time.monotonic()))
    assert proxy.metric("mesh_upstream_endpoints_ejected", cluster="app") == 0
    before = failing.served
    assert h2load(url, "http1", 300, 2)["2xx"] == 300
    assert 80 <= failing.served - before <= 120  # its third again
    assert proxy.metric("mesh_upstream_ejections_total", cluster="app",
                        reason="consecutive_5xx") == 1


class HungBackend:
    """Accepts connections and reads requests, never answers."""

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.accepted = 0
        self.sockets = []
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.accepted += 1
            self.sockets.append(conn)  # held open, never written to

    def stop(self):
        self.listener.close()
        for conn in self.sockets:
            conn.close()


@pytest.fixture
def hung_backend():
    backend = HungBackend()
    yield backend
    backend.stop()


@pytest.mark.parametrize("client", CLIENTS)
def test_a_hung_endpoint_is_ejected_and_its_requests_retried(start_proxy, backends, hung_backend,
                                                            client):
    """One of three endpoints accepts and never answers: each attempt on it
    ends at the 0.2 s per-try timeout and is retried elsewhere; after two
    such timeouts it is ejected (local-origin failures), so every request
    succeeds and few meet it. Round robin, so it meets its turns: PeakEWMA
    may avoid it after one timeout and never eject it (that steering is
    tested above)."""
    good = [backends(), backends()]
    port = free_port()
    config = proxy_config(port, good[0].port, hung_backend.port, good[1].port,
                          load_balancer="LB_ROUND_ROBIN",
                          outlier_detection={"consecutive_local_origin_failures": 2,
                                             "base_ejection_time": "30s"})
    config["route_tables"][0]["virtual_hosts"][0]["routes"][0].update(
        per_try_timeout="0.2s",
        retry={"attempts": 3, "retry_on": ["gateway-error"], "base_interval": "0.01s"})
    proxy = start_proxy(config)
    answers = h2load(f"http://127.0.0.1:{port}/", client, 300, 4)
    assert answers["2xx"] == 300, answers
    assert proxy.metric("mesh_upstream_ejections_total", cluster="app",
                        reason="consecutive_local_origin_failures") == 1
    assert endpoints_view(proxy)["app"][f"127.0.0.1:{hung_backend.port}"]["health"] == "ejected"
    assert served(good) == 300


def served(group):
    return sum(b.served for b in group)


def test_outlier_detection_ejects_an_endpoint_that_refuses_connections(start_proxy, backends):
    good = backends()
    refusing = free_port()
    port = free_port()
    proxy = start_proxy(proxy_config(port, good.port, refusing, load_balancer="LB_ROUND_ROBIN",
                                     outlier_detection={"consecutive_local_origin_failures": 2,
                                                        "max_ejection_percent": 50}))
    answers = h2load(f"http://127.0.0.1:{port}/", "http1", 200, 1)
    assert answers["5xx"] == 2 and answers["2xx"] == 198
    assert proxy.metric("mesh_upstream_ejections_total", cluster="app",
                        reason="consecutive_local_origin_failures") == 1


@pytest.mark.parametrize("threshold,fails_most", [(None, True), (0, False)])
def test_panic_threshold_spreads_over_every_endpoint(start_proxy, backends, threshold,
                                                     fails_most):
    """Two of three endpoints fail and are ejected: one healthy in three is
    below the default panic threshold (50%), so all three take requests
    again, failures and all, rather than overload the one; at 0 the healthy
    one takes them all."""
    good = backends()
    failing = [backends(status=500), backends(status=500)]
    port = free_port()
    fields = {"load_balancer": "LB_ROUND_ROBIN",
              "outlier_detection": {"consecutive_5xx": 1, "max_ejection_percent": 67}}
    if threshold is not None:
        fields["panic_threshold"] = threshold
    proxy = start_proxy(proxy_config(port, good.port, *(b.port for b in failing), **fields))
    answers = h2load(f"http://127.0.0.1:{port}/", "http1", 300, 2)
    assert proxy.metric("mesh_upstream_endpoints_ejected", cluster="app") == 2
    panics = proxy.metric("mesh_upstream_panic_total", cluster="app")
    if fails_most:
        assert answers["5xx"] > 150 and good.served < 150, (answers, good.served)
        assert panics > 150
    else:
        # A failing endpoint may take both clients' requests before its first
        # failure ejects it.
        assert answers["5xx"] <= 4 and answers["2xx"] >= 296, answers
        assert panics == 0


def two_services(port, app_ports, backup_port, **app_fields):
    """`app`, which fails over to `backup`."""
    config = proxy_config(port, *app_ports, **app_fields)
    config["clusters"][0]["failover"] = [{"cluster": "backup", "name": "reviews-backup"}]
    config["clusters"].append(cluster("backup", backup_port))
    return config


def curl_head(url, client):
    version = ["--http2-prior-knowledge"] if client == "http2" else ["--http1.1"]
    result = subprocess.run(["curl", "-s", "-o", "/dev/null", "-D", "-", "--max-time", "10",
                             *version, url], capture_output=True, text=True, timeout=20)
    return result.stdout.lower()


@pytest.mark.parametrize("client", CLIENTS)
def test_failover_to_a_backup_service_and_back(start_proxy, backends, client):
    """The app's only endpoint fails and is ejected: requests go to the
    backup Service, marked x-weft-failover and counted; once the ejection
    is over and the app answers again, they come back."""
    app, backup = backends(status=503), backends()
    port = free_port()
    proxy = start_proxy(two_services(port, [app.port], backup.port,
                                     outlier_detection={"consecutive_gateway_errors": 2,
                                                        "base_ejection_time": "2s"}))
    url = f"http://127.0.0.1:{port}/"
    started = time.monotonic()
    heads = [curl_head(url, client) for _ in range(6)]
    assert [h.split()[1] for h in heads[:2]] == ["503", "503"], heads
    for head in heads[2:]:
        assert head.split()[1] == "200" and "x-weft-failover: reviews-backup" in head, head
    assert app.served == 2 and backup.served == 4
    assert proxy.metric("mesh_upstream_failovers_total", cluster="app", to="reviews-backup") == 4
    assert time.monotonic() - started < 1.8, "all within the ejection"

    app.status = 200
    time.sleep(max(0.0, started + 2.2 - time.monotonic()))
    head = curl_head(url, client)
    assert head.split()[1] == "200" and "x-weft-failover" not in head, head
    assert app.served == 3


def test_no_healthy_upstream_without_a_backup_or_panic(start_proxy, backends):
    app = backends(status=503)
    port = free_port()
    start_proxy(proxy_config(port, app.port, panic_threshold=0,
                             outlier_detection={"consecutive_5xx": 1,
                                                "max_ejection_percent": 100}))
    url = f"http://127.0.0.1:{port}/"
    assert curl_head(url, "http1").split()[1] == "503"
    head = curl_head(url, "http1")
    assert "x-weft-error: no_healthy_upstream" in head, head
    assert app.served == 1


def test_success_rate_ejects_the_endpoint_failing_more_than_its_peers(start_proxy, backends):
    """No consecutive threshold: one endpoint of five always fails, and the
    sweep at the end of the interval ejects it for its success rate."""
    good = [backends() for _ in range(4)]
    failing = backends(status=500)
    port = free_port()
    proxy = start_proxy(proxy_config(
        port, *(b.port for b in good), failing.port, load_balancer="LB_ROUND_ROBIN",
        outlier_detection={"interval": "1s", "success_rate": {
            "minimum_hosts": 5, "request_volume": 20, "stdev_factor": 1.9}}))
    url = f"http://127.0.0.1:{port}/"
    first = h2load(url, "http1", 200, 2)
    assert 30 <= first["5xx"] <= 50, first  # a fifth: not ejected yet
    time.sleep(1.1)
    second = h2load(url, "http1", 200, 2)
    assert second["5xx"] <= 1, second  # the first answer ends the interval
    assert proxy.metric("mesh_upstream_ejections_total", cluster="app",
                        reason="success_rate") == 1


def served_by(url, client, *headers):
    """The x-backend and set-cookie of one curl request."""
    version = ["--http2-prior-knowledge"] if client == "http2" else ["--http1.1"]
    args = [arg for header in headers for arg in ("-H", header)]
    result = subprocess.run(["curl", "-s", "-o", "/dev/null", "-D", "-", "--max-time", "10",
                             *version, *args, url], capture_output=True, text=True, timeout=20)
    fields = dict(line.split(": ", 1) for line in result.stdout.lower().splitlines()
                  if ": " in line)
    return fields.get("x-backend"), fields.get("set-cookie")


@pytest.mark.parametrize("algorithm", ["LB_MAGLEV", "LB_RING_HASH"])
@pytest.mark.parametrize("client", CLIENTS)
def test_consistent_hashing_keeps_each_key_on_one_endpoint(start_proxy, backends, algorithm,
                                                            client):
    """Each user (header x-user) reaches one endpoint every time, and the
    users spread over all three; a query parameter key likewise."""
    servers = [backends() for _ in range(3)]
    port = free_port()
    start_proxy(proxy_config(port, *(b.port for b in servers), load_balancer=algorithm,
                             hash_policy={"header": "x-user"}))
    url = f"http://127.0.0.1:{port}/"
    homes = {}
    for user in range(40):
        seen = {served_by(url, client, f"x-user: u{user}")[0] for _ in range(2)}
        assert len(seen) == 1, (user, seen)
        homes[user] = seen.pop()
    assert len(set(homes.values())) == 3, homes
    # Without the key, any endpoint.
    assert len({served_by(url, client)[0] for _ in range(30)}) > 1


def test_hash_cookie_is_made_once_then_followed(start_proxy, backends):
    servers = [backends() for _ in range(3)]
    port = free_port()
    start_proxy(proxy_config(port, *(b.port for b in servers), load_balancer="LB_MAGLEV",
                             hash_policy={"cookie": {"name": "sticky", "ttl": "3600s"}}))
    url = f"http://127.0.0.1:{port}/"
    homes = set()
    for _ in range(12):
        home, cookie = served_by(url, "http1")
        assert cookie.startswith("sticky=") and "max-age=3600" in cookie, cookie
        value = cookie.split(";")[0]
        for _ in range(3):
            again, set_again = served_by(url, "http1", f"cookie: a=1; {value}")
            assert again == home and set_again is None
        homes.add(home)
    assert len(homes) > 1, "fresh cookies land anywhere"


def test_hash_on_a_query_parameter(start_proxy, backends):
    servers = [backends() for _ in range(3)]
    port = free_port()
    start_proxy(proxy_config(port, *(b.port for b in servers), load_balancer="LB_RING_HASH",
                             hash_policy={"query_parameter": "user"}))
    homes = {}
    for user in range(15):
        url = f"http://127.0.0.1:{port}/items?page=2&user=u{user}"
        seen = {served_by(url, "http1")[0] for _ in range(3)}
        assert len(seen) == 1, seen
        homes[user] = seen.pop()
    assert len(set(homes.values())) > 1


def test_http_health_check_takes_out_and_brings_back(start_proxy, backends):
    """The app answers, but its health endpoint says 503: after two failed
    probes the endpoint takes no requests, with no request failing first;
    when the probe passes again it is back."""
    good = [backends(), backends()]
    sick = backends(health_status=503)
    port = free_port()
    proxy = start_proxy(proxy_config(
        port, good[0].port, sick.port, good[1].port, load_balancer="LB_ROUND_ROBIN",
        health_check={"interval": "0.1s", "timeout": "0.5s", "unhealthy_threshold": 2,
                      "http": {"path": "/healthz", "expected_statuses": [200, 204]}}))
    assert proxy.settled_metric("mesh_upstream_endpoints_failing_check", 1, cluster="app") == 1
    assert proxy.metric("mesh_upstream_health_checks_total", cluster="app", result="failed") >= 2
    before = sick.served
    assert h2load(f"http://127.0.0.1:{port}/", "http1", 300, 2)["2xx"] == 300
    assert sick.served == before
    sick.health_status = 204
    assert proxy.settled_metric("mesh_upstream_endpoints_failing_check", 0, cluster="app") == 0
    assert h2load(f"http://127.0.0.1:{port}/", "http1", 300, 2)["2xx"] == 300
    assert 80 <= sick.served - before <= 120  # its third again
    assert sick.probes >= 3 and good[0].probes >= 3


@pytest.fixture
def grpc_servers():
    """Starts gRPC backends of ours (grpc_backend): (port, state) each."""
    started = []

    def start():
        port = free_port()
        server, state = grpc_backend.start(port)
        started.append(server)
        return port, state

    yield start
    for server in started:
        server.stop(0)


def grpc_health_config(port, *ports, service):
    """gRPC endpoints behind round robin, checked by grpc.health.v1 Check
    calls for `service` every 0.1 s."""
    return proxy_config(port, *ports, protocol="PROTOCOL_HTTP2", load_balancer="LB_ROUND_ROBIN",
                        health_check={"interval": "0.1s", "timeout": "0.5s",
                                      "unhealthy_threshold": 2, "grpc": {"service": service}})


def test_grpc_health_check_takes_out_and_brings_back(start_proxy, grpc_servers):
    """A gRPC caller through the proxy; one endpoint's health service says
    NOT_SERVING for the Echo service: after two failed Check calls it takes
    no calls, none failing; when it says SERVING again it is back."""
    (good, good_state), (sick, sick_state) = grpc_servers(), grpc_servers()
    sick_state.health[grpc_backend.SERVICE] = grpc_backend.NOT_SERVING
    port = free_port()
    proxy = start_proxy(grpc_health_config(port, good, sick, service=grpc_backend.SERVICE))
    assert proxy.settled_metric("mesh_upstream_endpoints_failing_check", 1, cluster="app") == 1
    client = grpc_backend.Client(f"127.0.0.1:{port}")
    unary = client.unary()
    before = sick_state.calls
    for _ in range(40):
        assert unary(b"ping", timeout=5) == b"ping"
    assert sick_state.calls == before
    sick_state.health[grpc_backend.SERVICE] = grpc_backend.SERVING
    assert proxy.settled_metric("mesh_upstream_endpoints_failing_check", 0, cluster="app") == 0
    for _ in range(40):
        assert unary(b"ping", timeout=5) == b"ping"
    assert 10 <= sick_state.calls - before <= 30  # its half again
    assert good_state.probes >= 3 and sick_state.probes >= 3
    client.close()


@pytest.mark.parametrize("service, failing", [
    ("", 0),                      # the server's own health
    (grpc_backend.SERVICE, 0),    # a service it serves
    ("no.such.Service", 2),       # NOT_FOUND: fails on every endpoint
])
def test_grpc_health_check_asks_after_the_named_service(start_proxy, grpc_servers, service,
                                                       failing):
    ports = [grpc_servers()[0], grpc_servers()[0]]
    port = free_port()
    proxy = start_proxy(grpc_health_config(port, *ports, service=service))
    result = "failed" if failing else "passed"
    assert proxy.settled_metric("mesh_upstream_health_checks_total", lambda n: n >= 4,
                                cluster="app", result=result) >= 4
    assert proxy.settled_metric("mesh_upstream_endpoints_failing_check", failing,
                                cluster="app") == failing
    other = "passed" if failing else "failed"
    assert proxy.metric("mesh_upstream_health_checks_total", cluster="app", result=other) == 0


def test_grpc_health_check_of_a_server_without_http2_fails(start_proxy, backends, grpc_servers):
    """An HTTP/1.1-only endpoint cannot answer a Check call: it fails (the
    probe gives up within its timeout) and the gRPC endpoint stays in."""
    http1_only = backends()
    grpc_port, _ = grpc_servers()
    port = free_port()
    proxy = start_proxy(grpc_health_config(port, grpc_port, http1_only.port, service=""))
    assert proxy.settled_metric("mesh_upstream_endpoints_failing_check", 1, cluster="app") == 1
    assert proxy.metric("mesh_upstream_health_checks_total", cluster="app",
                        result="passed") >= 1


def test_tcp_health_check_spares_requests_to_a_dead_endpoint(start_proxy, backends):
    """An endpoint that refuses connections fails its TCP probe before any
    request meets it: round robin then sends every request to the other."""
    good = backends()
    dead = free_port()
    port = free_port()
    proxy = start_proxy(proxy_config(
        port, good.port, dead, load_balancer="LB_ROUND_ROBIN",
        health_check={"interval": "0.1s", "unhealthy_threshold": 1, "tcp": {}}))
    assert proxy.settled_metric("mesh_upstream_endpoints_failing_check", 1, cluster="app") == 1
    answers = h2load(f"http://127.0.0.1:{port}/", "http1", 200, 1)
    assert answers["2xx"] == 200
    assert proxy.metric("mesh_upstream_connect_failures_total", cluster="app",
                        reason="refused") == 0


def endpoints_view(proxy):
    """The proxy's admin /endpoints: {cluster: {address: endpoint}}."""
    view = json.loads(http_get(proxy.admin("/endpoints"))[1])
    return {c["name"]: {e["address"]: e for e in c["endpoints"]} for c in view["clusters"]}


def request_status(url):
    try:
        return http_get(url)[0]
    except urllib.error.HTTPError as error:
        return error.code


def test_admin_endpoints_show_ejection_failing_check_and_passing(start_proxy, backends):
    """/endpoints says what the balancer knows: an endpoint ejected by
    outlier detection and until when, one failing its health check, and
    the ones passing; over two workers."""
    good, bad, sick = backends(), backends(status=500), backends(health_status=503)
    port = free_port()
    proxy = start_proxy(proxy_config(
        port, good.port, bad.port, sick.port, load_balancer="LB_ROUND_ROBIN",
        outlier_detection={"consecutive_5xx": 2, "base_ejection_time": "30s"},
        health_check={"interval": "0.1s", "unhealthy_threshold": 1,
                      "http": {"path": "/healthz"}}), concurrency=2)
    assert proxy.settled_metric("mesh_upstream_endpoints_failing_check", 1, cluster="app") == 1
    for _ in range(8):  # round robin over the two left: bad gets its two 500s
        request_status(f"http://127.0.0.1:{port}/")
        if proxy.metric("mesh_upstream_ejections_total", cluster="app",
                        reason="consecutive_5xx") == 1:
            break
    view = endpoints_view(proxy)["app"]
    at = lambda backend: view[f"127.0.0.1:{backend.port}"]  # noqa: E731
    assert at(good)["health"] == "passing" and at(good)["weight"] == 1
    assert at(sick)["health"] == "failing_check"
    assert at(bad)["health"] == "ejected" and at(bad)["ejections"] == 1, view
    until = datetime.fromisoformat(at(bad)["ejected_until"].replace("Z", "+00:00"))
    left = (until - datetime.now(timezone.utc)).total_seconds()
    assert 20 < left <= 31, left
    assert all(e["in_flight"] == 0 for e in view.values())


def test_admin_endpoints_list_a_not_ready_endpoint_that_gets_nothing(start_proxy, backends):
    """An endpoint Kubernetes reports not ready is in the live view as
    not_ready and takes no request."""
    ready, not_ready = backends(), backends()
    port = free_port()
    config = proxy_config(port, ready.port)
    config["clusters"][0]["not_ready_endpoints"] = [{"address": "127.0.0.1",
                                                     "port": not_ready.port}]
    proxy = start_proxy(config)
    assert h2load(f"http://127.0.0.1:{port}/", "http1", 100, 2)["2xx"] == 100
    assert (ready.served, not_ready.served) == (100, 0)
    view = endpoints_view(proxy)["app"]
    assert view[f"127.0.0.1:{not_ready.port}"]["health"] == "not_ready"
    assert view[f"127.0.0.1:{ready.port}"]["health"] == "passing"


def test_admin_endpoints_count_in_flight_over_every_worker(start_proxy, backends):
    """Requests still waiting on a slow endpoint count in flight, whichever
    worker took them; once answered, PeakEWMA's estimate shows their time."""
    slow = backends(delay=1.5)
    port = free_port()
    proxy = start_proxy(proxy_config(port, slow.port), concurrency=2)
    threads = [threading.Thread(target=request_status, args=(f"http://127.0.0.1:{port}/",))
               for _ in range(4)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 5
    in_flight = 0
    while in_flight < 4 and time.monotonic() < deadline:
        in_flight = endpoints_view(proxy)["app"][f"127.0.0.1:{slow.port}"]["in_flight"]
        time.sleep(0.05)
    assert in_flight == 4
    for thread in threads:
        thread.join(10)
    endpoint = endpoints_view(proxy)["app"][f"127.0.0.1:{slow.port}"]
    assert endpoint["in_flight"] == 0
    assert endpoint["latency_ms"] >= 1000, endpoint


def grpc_calls(port, count, workers=1):
    """`count` Unary calls through the proxy by grpcio callers (`workers`
    threads, one channel): how many ended with each status code."""
    client = grpc_backend.Client(f"127.0.0.1:{port}")
    unary = client.unary()
    codes = Counter()
    lock = threading.Lock()

    def call(n):
        for _ in range(n):
            try:
                unary(b"ping", timeout=10)
                code = "OK"
            except grpc_backend.grpc.RpcError as error:
                code = error.code().name
            with lock:
                codes[code] += 1

    threads = [threading.Thread(target=call, args=(count // workers,)) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    client.close()
    return codes


def grpc_cluster_config(port, *ports, **fields):
    return proxy_config(port, *ports, protocol="PROTOCOL_HTTP2", **fields)


def test_grpc_callers_eject_an_endpoint_whose_calls_fail(start_proxy, grpc_servers):
    """A gRPC server failing every call UNAVAILABLE answers HTTP 200: its
    grpc-status is what outlier detection judges (as a 503), so after three
    failures in a row it is ejected and the rest of the calls succeed."""
    (good, _), (bad, bad_state) = grpc_servers(), grpc_servers()
    bad_state.fail_code = "UNAVAILABLE"
    port = free_port()
    proxy = start_proxy(grpc_cluster_config(
        port, good, bad, load_balancer="LB_ROUND_ROBIN",
        outlier_detection={"consecutive_5xx": 3, "base_ejection_time": "30s"}))
    codes = grpc_calls(port, 60)
    assert codes == {"OK": 57, "UNAVAILABLE": 3}, codes
    assert proxy.metric("mesh_upstream_ejections_total", cluster="app",
                        reason="consecutive_5xx") == 1
    assert endpoints_view(proxy)["app"][f"127.0.0.1:{bad}"]["health"] == "ejected"


@pytest.mark.parametrize("trouble", ["slow", "failing"])
def test_grpc_callers_peak_ewma_avoids_a_slow_or_failing_endpoint(start_proxy, grpc_servers,
                                                                   trouble):
    """PeakEWMA (the default) with gRPC callers: little goes to a server
    50 ms slower than the other two, or to one whose calls fail fast
    (INTERNAL, judged a 500)."""
    fast = [grpc_servers(), grpc_servers()]
    odd_port, odd = grpc_servers()
    if trouble == "slow":
        odd.delay = 0.05
    else:
        odd.fail_code = "INTERNAL"
    port = free_port()
    start_proxy(grpc_cluster_config(port, fast[0][0], odd_port, fast[1][0]))
    codes = grpc_calls(port, 400, workers=4)
    served = sum(state.calls for _, state in fast) + odd.calls
    assert sum(codes.values()) == served == 400
    # Round robin would send it a third (about 133).
    assert odd.calls < 0.05 * served, (odd.calls, served)
    assert codes["INTERNAL"] == (odd.calls if trouble == "failing" else 0), codes


def test_grpc_callers_overflow_fails_fast_unavailable(start_proxy, grpc_servers):
    """maxRequests 2 and eight slow calls at once: the ones over the limit
    fail at once with UNAVAILABLE (upstream_overflow), never queued."""
    port_, state = grpc_servers()
    state.delay = 0.5
    port = free_port()
    proxy = start_proxy(grpc_cluster_config(port, port_, circuit_breakers={"max_requests": 2}))
    started = time.monotonic()
    codes = grpc_calls(port, 8, workers=8)
    assert codes["OK"] >= 2 and codes["UNAVAILABLE"] >= 4, codes
    assert codes["OK"] + codes["UNAVAILABLE"] == 8, codes
    assert time.monotonic() - started < 5
    assert proxy.metric("mesh_upstream_overflows_total", cluster="app",
                        limit="requests") == codes["UNAVAILABLE"]
