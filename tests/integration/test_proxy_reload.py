"""Live configuration reload (SIGHUP): the new snapshot takes over without
dropping a request, a bad file is rejected and the last good configuration
keeps serving, and warm upstream connections survive."""
import json
import signal
import subprocess
import threading
import time

import pytest

from conftest import backend, cluster, forward_to, free_port, listener


@pytest.fixture
def versions():
    """Two backends answering "v1" and "v2"; yields their ports."""
    ports = {"v1": free_port(), "v2": free_port()}
    servers = [backend.start(port, name) for name, port in ports.items()]
    yield ports
    for server in servers:
        server.shutdown()
        server.server_close()


def config_to(port, versions, target, extra_route=None):
    route = {"match": {"prefix": "/"}, "forward": forward_to((target, 1)), **(extra_route or {})}
    return {
        "version": f"to-{target}",
        "listeners": [listener("web", port, route_table="web")],
        "route_tables": [{"name": "web", "virtual_hosts": [{"routes": [route]}]}],
        "clusters": [cluster(name, p) for name, p in versions.items()],
    }


def write(proxy, config):
    full = dict(config)
    full["admin"] = {"address": {"host": "127.0.0.1", "port": proxy.admin_port},
                     "metrics_address": {"host": "127.0.0.1", "port": proxy.metrics_port}}
    proxy.config_path.write_text(json.dumps(full))


def get(port):
    return subprocess.run(["curl", "-sS", "--max-time", "5", f"http://127.0.0.1:{port}/"],
                          capture_output=True, text=True, timeout=10).stdout


def test_reload_moves_traffic_without_errors(start_proxy, versions):
    port = free_port()
    proxy = start_proxy(config_to(port, versions, "v1"), concurrency=2)
    assert get(port) == "v1\n"

    load = {}
    wrk = threading.Thread(target=lambda: load.update(result=subprocess.run(
        ["wrk", "-t1", "-c8", "-d3s", f"http://127.0.0.1:{port}/"], capture_output=True, text=True,
        timeout=30).stdout))
    wrk.start()
    time.sleep(1)
    write(proxy, config_to(port, versions, "v2"))
    sent = time.monotonic()
    proxy.process.send_signal(signal.SIGHUP)
    while get(port) != "v2\n":
        assert time.monotonic() - sent < 1.0, "traffic did not follow the new route within 1 s"
        time.sleep(0.02)
    wrk.join(30)
    assert "Non-2xx" not in load["result"] and "Socket errors" not in load["result"], load["result"]
    assert proxy.metric("mesh_config_reloads_total", result="applied") == 1
    assert proxy.metric("mesh_listener_requests_total", listener="web", status_class="5xx") == 0


def test_bad_reload_keeps_the_last_good_configuration(start_proxy, versions):
    port = free_port()
    proxy = start_proxy(config_to(port, versions, "v1"))
    proxy.config_path.write_text(proxy.config_path.read_text().replace('"clusters"', '"clustres"', 1))
    proxy.process.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 5
    while proxy.metric("mesh_config_reloads_total", result="rejected") < 1:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert "unknown field 'clustres'" in proxy.log_text() and "did you mean 'clusters'" in proxy.log_text()
    assert get(port) == "v1\n"

    moved = config_to(port, versions, "v2")
    moved["listeners"] = [listener("web", free_port(), route_table="web")]
    write(proxy, moved)
    proxy.process.send_signal(signal.SIGHUP)
    while proxy.metric("mesh_config_reloads_total", result="rejected") < 2:
        assert time.monotonic() < deadline + 5
        time.sleep(0.05)
    assert "restart the proxy to apply it" in proxy.log_text()
    assert get(port) == "v1\n"
    assert proxy.metric("mesh_config_reloads_total", result="applied") == 0


def test_reload_keeps_warm_upstream_connections(start_proxy, versions):
    port = free_port()
    proxy = start_proxy(config_to(port, versions, "v1"))
    assert get(port) == "v1\n"
    assert proxy.metric("mesh_upstream_connections_total", cluster="v1", kind="new") == 1
    write(proxy, config_to(port, versions, "v1", {"response_headers": {"set": [{"name": "x-rev", "value": "2"}]}}))
    proxy.process.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 5
    while "x-rev: 2" not in subprocess.run(["curl", "-si", f"http://127.0.0.1:{port}/"],
                                           capture_output=True, text=True).stdout:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    # The cluster did not change, so its pooled connection carried over.
    assert proxy.metric("mesh_upstream_connections_total", cluster="v1", kind="new") == 1


def test_a_reload_that_replaces_one_endpoint_keeps_the_others_warm(start_proxy, versions):
    """The pools are keyed by endpoint address: an endpoint the new
    configuration still lists (even at another position) keeps its pooled
    connection; only the new endpoint needs a new one."""
    third = free_port()
    server = backend.start(third, "v3")
    try:
        port = free_port()

        def app(ports, rev):
            route = {"match": {"prefix": "/"}, "forward": forward_to(("app", 1)),
                     "response_headers": {"set": [{"name": "x-rev", "value": rev}]}}
            return {"listeners": [listener("web", port, route_table="web")],
                    "route_tables": [{"name": "web", "virtual_hosts": [{"routes": [route]}]}],
                    # Round robin: two requests reach both endpoints.
                    "clusters": [cluster("app", *ports, load_balancer="LB_ROUND_ROBIN")]}

        proxy = start_proxy(app([versions["v1"], versions["v2"]], "1"))
        assert sorted(get(port) for _ in range(2)) == ["v1\n", "v2\n"]
        assert proxy.metric("mesh_upstream_connections_total", cluster="app", kind="new") == 2
        write(proxy, app([versions["v2"], third], "2"))
        proxy.process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 5
        answers = []
        before_reload = 0  # answered by the old configuration, on its pooled connections
        while not answers:
            head = subprocess.run(["curl", "-si", f"http://127.0.0.1:{port}/"],
                                  capture_output=True, text=True, timeout=10).stdout
            if "x-rev: 2" in head:
                answers.append(head.split("\n\n", 1)[1])  # text mode: newlines are \n
            else:
                before_reload += 1
            assert time.monotonic() < deadline
            time.sleep(0.02)
        answers.append(get(port))
        assert sorted(answers) == ["v2\n", "v3\n"]
        # v2's connection carried over; v3 needed the only new one.
        assert proxy.metric("mesh_upstream_connections_total", cluster="app", kind="new") == 3
        assert proxy.metric("mesh_upstream_connections_total", cluster="app",
                            kind="reused") == 1 + before_reload
    finally:
        server.shutdown()
        server.server_close()
