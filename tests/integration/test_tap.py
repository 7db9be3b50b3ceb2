"""meshctl tap (docs/controlplane.md): the requests a sidecar handles, live,
from its admin /tap, which is off unless mesh-proxy runs with --tap
(meshctl up turns it on)."""
import json
import subprocess
import time
import urllib.error

import pytest

from conftest import cluster, forward_to, free_port, http_get, listener
from test_controlplane import MESHCTL, LocalMesh
from test_workload_metrics import request


def web_config(port, backend_port):
    return {
        "listeners": [listener("front", port, route_table="front")],
        "route_tables": [{"name": "front", "virtual_hosts": [{"domains": ["*"], "routes": [
            {"match": {"prefix": "/"}, "forward": forward_to(("app", 1))}]}]}],
        "clusters": [cluster("app", backend_port)],
    }


def test_tap_is_off_unless_asked_for(start_proxy, backend_port):
    proxy = start_proxy(web_config(free_port(), backend_port))
    with pytest.raises(urllib.error.HTTPError) as refused:
        http_get(proxy.admin("/tap"))
    assert refused.value.code == 404
    assert "start mesh-proxy with --tap" in refused.value.read().decode()


def test_tap_hands_out_each_request_once_from_when_it_was_asked(start_proxy, backend_port):
    port = free_port()
    proxy = start_proxy(web_config(port, backend_port), extra_args=("--tap",))
    request(port, "http://app/before")  # nobody watching: not kept
    first = json.loads(http_get(proxy.admin("/tap?wait_ms=0"))[1])
    assert first["requests"] == [] and first["missed"] == 0
    for path in ("/one", "/two", "/three"):
        request(port, f"http://app{path}")
    seen = []
    since = first["next"]
    deadline = time.monotonic() + 5
    while len(seen) < 3 and time.monotonic() < deadline:
        answer = json.loads(http_get(proxy.admin(f"/tap?since={since}&max=2&wait_ms=500"))[1])
        assert len(answer["requests"]) <= 2
        seen += answer["requests"]
        since = answer["next"]
    assert [r["path"] for r in seen] == ["/one", "/two", "/three"]
    assert all(r["status"] == 200 and r["listener"] == "front" for r in seen)
    assert proxy.metric("mesh_tap_requests_total", outcome="published") == 3


@pytest.fixture
def mesh(tmp_path):
    m = LocalMesh(tmp_path)
    yield m
    m.stop()


def test_meshctl_tap_streams_a_sidecars_requests(mesh):
    tap = subprocess.Popen(
        [str(MESHCTL), "--status", mesh.status_address, "tap", "client-0", "--max", "3",
         "--duration", "20s", "-o", "json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    try:
        # Until the tap's first poll arrives, requests are not kept: send
        # until three show.
        outbound = mesh.workloads["client-0"]["outbound"]
        deadline = time.monotonic() + 15
        while tap.poll() is None and time.monotonic() < deadline:
            request(outbound, "http://reviews:9080/status/503")
            time.sleep(0.2)
        out, err = tap.communicate(timeout=20)
    finally:
        if tap.poll() is None:
            tap.kill()
            tap.wait()
    assert tap.returncode == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert len(lines) == 3, out
    for line in lines:
        assert (line["method"], line["path"], line["status"]) == ("GET", "/status/503", 503)
        assert line["source_workload"] == "client" and "outbound" in line["listener"]
        assert line["destination_workload"].startswith("reviews-v")
    table = mesh.meshctl("tap", "client-0", "--duration", "2s").stdout
    assert table == "" or " GET " in table
    bad = mesh.meshctl("tap", "nobody", "--duration", "1s", check=False)
    assert bad.returncode == 1 and "no connected proxy default/nobody" in bad.stderr
