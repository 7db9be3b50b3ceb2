"""A quiet configuration stream stays open: the proxy PINGs the control
plane after --controlplane-keepalive of silence, and the control plane's
gRPC ping policy must welcome those PINGs (gRPC's default answers the third
with GOAWAY "too_many_pings", and every proxy reconnected for a full push)."""
import subprocess
import time

from conftest import BUILD, PROXY_BIN, free_port, http_get

CONTROLPLANE_BIN = BUILD / "bin" / "mesh-controlplane"


def metric_lines(port, name):
    text = http_get(f"http://127.0.0.1:{port}/stats/prometheus")[1]
    return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
            for line in text.splitlines() if line.startswith(name + "{")}


def wait_ready(url, log):
    deadline = time.monotonic() + 10
    while True:
        try:
            if http_get(url, timeout=1)[0] == 200:
                return
        except OSError:
            pass
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.1)


def test_a_quiet_stream_survives_many_keepalive_periods(tmp_path):
    ports = {name: free_port() for name in ("grpc", "status", "outbound", "admin", "metrics")}
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    # A Pod as meshctl up writes one: its sidecar's local ports, on loopback.
    (manifests / "pod.yaml").write_text(f"""
apiVersion: v1
kind: Pod
metadata:
  name: quiet
  namespace: default
  annotations:
    mesh.weft.io/local-ports: "outbound={ports['outbound']},admin={ports['admin']},metrics={ports['metrics']}"
spec:
  containers: [{{name: app, image: app}}]
status: {{podIP: 127.0.0.1}}
""")
    logs = [open(tmp_path / name, "w") for name in ("controlplane.log", "proxy.log")]
    controlplane = subprocess.Popen(
        [str(CONTROLPLANE_BIN), "--manifests", str(manifests),
         "--grpc-address", f"127.0.0.1:{ports['grpc']}",
         "--status-address", f"127.0.0.1:{ports['status']}"],
        stdout=logs[0], stderr=subprocess.STDOUT)
    proxy = None
    try:
        wait_ready(f"http://127.0.0.1:{ports['status']}/ready", tmp_path / "controlplane.log")
        proxy = subprocess.Popen(
            [str(PROXY_BIN), "--controlplane", f"127.0.0.1:{ports['grpc']}", "--node", "quiet",
             "--namespace", "default", "--concurrency", "1", "--controlplane-keepalive", "2"],
            stdout=logs[1], stderr=subprocess.STDOUT)
        wait_ready(f"http://127.0.0.1:{ports['admin']}/ready", tmp_path / "proxy.log")
        # Six keepalive periods with nothing to push: six PINGs, no GOAWAY.
        time.sleep(13)
        assert proxy.poll() is None
        events = metric_lines(ports["metrics"], "mesh_discovery_events_total")
        assert events['mesh_discovery_events_total{event="connected"}'] == 1, \
            (tmp_path / "proxy.log").read_text()
        reconnects = metric_lines(ports["metrics"], "mesh_discovery_reconnects_total")
        assert len(reconnects) == 9  # every cause is exported, at zero
        assert all(value == 0 for value in reconnects.values()), reconnects
        assert "Too many pings" not in (tmp_path / "proxy.log").read_text()

        # The cause of a reconnect is counted: stop the control plane.
        controlplane.terminate()
        controlplane.wait(timeout=10)
        deadline = time.monotonic() + 10
        while sum(metric_lines(ports["metrics"], "mesh_discovery_reconnects_total").values()) == 0:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        reconnects = metric_lines(ports["metrics"], "mesh_discovery_reconnects_total")
        ended = {k for k, v in reconnects.items() if v > 0}
        assert ended & {'mesh_discovery_reconnects_total{cause="goaway"}',
                        'mesh_discovery_reconnects_total{cause="stream_closed"}',
                        'mesh_discovery_reconnects_total{cause="read_error"}'}, reconnects
    finally:
        for process in (proxy, controlplane):
            if process and process.poll() is None:
                process.terminate()
                process.wait(timeout=10)
        for log in logs:
            log.close()
