"""mesh-proxy as a process: configuration errors, admin endpoints, metrics
format, drain on SIGTERM."""
import json
import pathlib
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

from conftest import BUILD, PROXY_BIN, ROOT, cluster, forward_to, free_port, http_get, listener


def web_config(port, backend_port):
    return {
        "listeners": [listener("web", port, route_table="web")],
        "route_tables": [{"name": "web", "virtual_hosts": [{"domains": ["*"], "routes": [
            {"match": {"prefix": "/"}, "forward": forward_to(("app", 1))}]}]}],
        "clusters": [cluster("app", backend_port)],
        "drain": {"timeout": "5s"},
    }


def test_static_example_is_valid():
    result = subprocess.run([str(PROXY_BIN), "--check", "--config",
                             str(ROOT / "deploy/examples/static/proxy.yaml")],
                            capture_output=True, text=True, timeout=10)
    assert result.returncode == 0, result.stderr
    assert "ok" in result.stdout


def test_misspelled_field_names_file_line_and_field(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("listeners:\n  - name: web\n    adress: {host: 127.0.0.1, port: 1}\n")
    result = subprocess.run([str(PROXY_BIN), "--config", str(path)], capture_output=True, text=True,
                            timeout=10)
    assert result.returncode == 1
    assert f"{path}:3:5:" in result.stderr
    assert "unknown field 'adress'" in result.stderr and "did you mean 'address'" in result.stderr


def test_config_file_is_read_by_a_child_that_writes_binary_protobuf(tmp_path):
    """--config is parsed by `mesh-proxy --compile-config FILE` in a child
    process, so the YAML reader never becomes resident in the sidecar; the
    child's contract: binary mesh.v1.ProxyConfig on stdout, or exit 1 with the
    reader's error."""
    sys.path.insert(0, str(BUILD / "python"))
    from mesh.v1 import config_pb2
    example = ROOT / "deploy/examples/static/proxy.yaml"
    result = subprocess.run([str(PROXY_BIN), "--compile-config", str(example)], capture_output=True,
                            timeout=10)
    assert result.returncode == 0, result.stderr
    config = config_pb2.ProxyConfig.FromString(result.stdout)
    assert [listener.address.port for listener in config.listeners] == [10000, 10001]
    assert config.clusters[0].endpoints[0].port == 18080

    bad = tmp_path / "bad.yaml"
    bad.write_text("listeners:\n  - name: web\n    adress: {host: 127.0.0.1, port: 1}\n")
    result = subprocess.run([str(PROXY_BIN), "--compile-config", str(bad)], capture_output=True,
                            text=True, timeout=10)
    assert result.returncode == 1 and result.stdout == ""
    assert f"{bad}:3:5:" in result.stderr


def test_dangling_reference_is_refused(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(json.dumps({"listeners": [listener("web", 1, route_table="nope")]}))
    result = subprocess.run([str(PROXY_BIN), "--config", str(path)], capture_output=True, text=True,
                            timeout=10)
    assert result.returncode == 1
    assert "route_table 'nope' is not defined" in result.stderr


def test_admin_endpoints(start_proxy, backend_port):
    port = free_port()
    proxy = start_proxy(web_config(port, backend_port))
    assert http_get(proxy.admin("/ready")) == (200, "LIVE\n")
    dump = json.loads(http_get(proxy.admin("/config_dump"))[1])
    assert dump["listeners"][0]["name"] == "web"
    http_get(f"http://127.0.0.1:{port}/")
    assert proxy.settled_metric("mesh_listener_requests_total", 1, listener="web", status_class="2xx") == 1
    stats = http_get(proxy.admin("/stats"))[1]
    assert 'mesh_listener_requests_total{listener="web",status_class="2xx"} 1' in stats
    assert http_get(proxy.admin("/logging?level=debug"), method="POST")[1] == "level: debug\n"
    try:
        http_get(proxy.admin("/logging?level=loud"), method="POST")
        raise AssertionError("bad level accepted")
    except urllib.error.HTTPError as e:
        assert e.code == 400


def test_the_proxy_allocates_with_mimalloc(start_proxy, backend_port):
    """mimalloc is linked ahead of libc, so it serves every allocation (the
    benchmarks' instruction counts assume it; docs/benchmarks.md)."""
    proxy = start_proxy(web_config(free_port(), backend_port))
    maps = pathlib.Path(f"/proc/{proxy.process.pid}/maps").read_text()
    assert "libmimalloc.so" in maps
    needed = subprocess.run(["readelf", "-d", str(PROXY_BIN)], capture_output=True, text=True,
                            check=True, timeout=30).stdout
    libraries = [line.split("[")[1].rstrip("]") for line in needed.splitlines() if "(NEEDED)" in line]
    assert libraries.index("libmimalloc.so.2") < libraries.index("libc.so.6"), libraries


def test_prometheus_output_passes_promtool(start_proxy, backend_port):
    port = free_port()
    proxy = start_proxy(web_config(port, backend_port))
    http_get(f"http://127.0.0.1:{port}/")
    text = proxy.metrics_text()
    for family in ("mesh_listener_requests_total", "mesh_listener_request_duration_seconds_bucket",
                   "mesh_downstream_connections_active", "mesh_tcp_bytes_total",
                   "mesh_http1_parse_rejections_total", "mesh_upstream_connect_failures_total"):
        assert family in text, family
    result = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                            text=True, timeout=10)
    # promtool exits 0, or 3 for lint warnings only; 1 means the format is broken.
    assert result.returncode in (0, 3), result.stdout + result.stderr


def test_sigterm_drains_in_flight_requests(start_proxy, backend_port):
    port = free_port()
    proxy = start_proxy(web_config(port, backend_port))
    idle = socket.create_connection(("127.0.0.1", port))
    idle.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    answer = b""
    while not answer.endswith(b"v1\n"):
        answer += idle.recv(4096)
    assert answer.startswith(b"HTTP/1.1 200")  # now an idle keep-alive connection

    result = {}

    def slow_request():
        result["response"] = http_get(f"http://127.0.0.1:{port}/slow?ms=1000", timeout=10)

    thread = threading.Thread(target=slow_request)
    thread.start()
    time.sleep(0.3)
    started = time.monotonic()
    proxy.process.send_signal(signal.SIGTERM)
    time.sleep(0.2)
    # Idle keep-alive connections are closed, new connections refused.
    idle.settimeout(3)
    assert idle.recv(4096) == b""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        raise AssertionError("still accepting after SIGTERM")
    except ConnectionRefusedError:
        pass
    thread.join(10)
    assert result["response"] == (200, "slow\n")
    assert proxy.process.wait(timeout=10) == 0
    assert time.monotonic() - started < 5


def test_access_log_lines_are_json_whatever_the_request_says(start_proxy, backend_port):
    port = free_port()
    proxy = start_proxy(web_config(port, backend_port), extra_args=("--log-level", "error"))
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b'GET /a\\b?"x" HTTP/1.1\r\nHost: evil"host\\\r\nConnection: close\r\n\r\n')
        while s.recv(4096):
            pass
    deadline = time.monotonic() + 5
    while "evil" not in proxy.log_text():
        assert time.monotonic() < deadline, proxy.log_text()
        time.sleep(0.05)
    lines = [line for line in proxy.log_text().splitlines() if line.startswith("{")]
    entry = json.loads(lines[-1])
    assert entry["authority"] == 'evil"host\\'
    assert entry["path"] == '/a\\b?"x"'
    assert entry["status"] == 200 and entry["cluster"] == "app"


def test_sigterm_before_any_configuration_exits_at_once(tmp_path):
    """A proxy still waiting for its first configuration (no control plane
    answering) has nothing to drain: SIGTERM ends it at once, not after the
    Pod's grace period."""
    proxy = subprocess.Popen(
        [str(PROXY_BIN), "--controlplane", f"127.0.0.1:{free_port()}", "--node", "waiting",
         "--concurrency", "1"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        time.sleep(0.5)
        assert proxy.poll() is None
        proxy.send_signal(signal.SIGTERM)
        assert proxy.wait(timeout=5) == 0
        assert "before any configuration" in proxy.stdout.read()
    finally:
        if proxy.poll() is None:
            proxy.kill()
            proxy.wait()


def test_an_unreadable_token_file_is_reported_and_counted_as_unauthenticated(tmp_path):
    """An explicit --token-file that is missing is an error on every attempt, not a silent
    stream without a token."""
    missing = tmp_path / "no-such-token"
    proxy = subprocess.Popen(
        [str(PROXY_BIN), "--controlplane", f"127.0.0.1:{free_port()}", "--node", "waiting",
         "--concurrency", "1", "--token-file", str(missing)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        time.sleep(1)
        proxy.send_signal(signal.SIGTERM)
        proxy.wait(timeout=5)
        assert f"token file {missing}: cannot read it" in proxy.stdout.read()
    finally:
        if proxy.poll() is None:
            proxy.kill()
            proxy.wait()
