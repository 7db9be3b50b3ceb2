"""Metrics merging: with --app-metrics, the proxy's /stats/prometheus serves
the application's own metrics after its own, so a Pod whose prometheus.io/*
annotations injection pointed at the proxy keeps its scrape. Real promtool
and a real Prometheus read the merged endpoint."""
import http.server
import json
import subprocess
import threading
import time
import urllib.parse

import pytest

from conftest import PROXY_BIN, free_port, http_get, listener

APP_METRICS = """# HELP app_orders_total Orders taken.
# TYPE app_orders_total counter
app_orders_total{shop="berlin"} 7
# HELP app_latency_seconds Order latency.
# TYPE app_latency_seconds histogram
app_latency_seconds_bucket{le="0.1"} 3
app_latency_seconds_bucket{le="+Inf"} 4
app_latency_seconds_sum 0.5
app_latency_seconds_count 4
"""


class AppHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path != "/custom/metrics":
            self.send_error(404)
            return
        body = APP_METRICS.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def app():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), AppHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def proxy_config():
    return {"listeners": [listener("front", free_port(), route_table="front")],
            "route_tables": [{"name": "front", "virtual_hosts": []}], "clusters": []}


def promtool_accepts(text):
    result = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                            text=True, timeout=10)
    # promtool exits 0, or 3 for lint warnings only; 1 means the format is broken.
    return result.returncode in (0, 3), result.stdout + result.stderr


def test_the_applications_metrics_follow_the_proxys(start_proxy, app):
    port = app.server_address[1]
    proxy = start_proxy(proxy_config(), extra_args=("--app-metrics",
                                                    f"127.0.0.1:{port}/custom/metrics"))
    text = proxy.metrics_text()
    assert 'app_orders_total{shop="berlin"} 7' in text
    assert "app_latency_seconds_bucket" in text
    assert "mesh_downstream_connections_active" in text
    accepted, output = promtool_accepts(text)
    assert accepted, output
    assert proxy.metric("mesh_app_metrics_scrapes_total", result="ok") >= 1


def test_an_unreachable_application_leaves_the_proxys_metrics(start_proxy):
    proxy = start_proxy(proxy_config(), extra_args=("--app-metrics",
                                                    f"127.0.0.1:{free_port()}/metrics"))
    status, text = http_get(f"http://127.0.0.1:{proxy.metrics_port}/stats/prometheus")
    assert status == 200 and "mesh_downstream_connections_active" in text
    assert "app_orders_total" not in text
    assert proxy.metric("mesh_app_metrics_scrapes_total", result="failed") >= 2
    assert "application metrics at 127.0.0.1:" in proxy.log_text()


def test_a_bad_target_is_refused_naming_the_flag():
    result = subprocess.run([PROXY_BIN, "--app-metrics", "localhost:9100", "--check"],
                            capture_output=True, text=True, timeout=10)
    assert result.returncode == 2
    assert "--app-metrics" in result.stderr


def test_prometheus_scrapes_both_sets_from_the_proxy(start_proxy, app, tmp_path):
    port = app.server_address[1]
    proxy = start_proxy(proxy_config(), extra_args=("--app-metrics",
                                                    f"127.0.0.1:{port}/custom/metrics"))
    web = free_port()
    (tmp_path / "prometheus.yml").write_text(json.dumps({
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s"},
        "scrape_configs": [{"job_name": "pod", "metrics_path": "/stats/prometheus",
                            "static_configs": [{"targets": [f"127.0.0.1:{proxy.metrics_port}"]}]}],
    }))
    prometheus = subprocess.Popen(
        ["prometheus", f"--config.file={tmp_path / 'prometheus.yml'}",
         f"--storage.tsdb.path={tmp_path / 'data'}", f"--web.listen-address=127.0.0.1:{web}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def query(expr):
            url = f"http://127.0.0.1:{web}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
            try:
                return json.loads(http_get(url)[1])["data"]["result"]
            except OSError:
                return []
        deadline = time.monotonic() + 30
        found = {}
        while time.monotonic() < deadline and len(found) < 2:
            for expr in ('app_orders_total{shop="berlin"}', "mesh_downstream_connections_active"):
                if expr not in found and query(expr):
                    found[expr] = True
            time.sleep(0.5)
        assert len(found) == 2, found
        assert query('app_orders_total{shop="berlin"}')[0]["value"][1] == "7"
    finally:
        prometheus.terminate()
        prometheus.wait(timeout=10)
