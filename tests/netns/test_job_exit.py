"""A Job's Pod with a classic sidecar: the kubelet would keep the regular
mesh-proxy container running after the Job's own container finished, so
the control plane, seeing the Pod's container statuses, tells the proxy to
exit. Here the control plane reads the Pod from a manifest directory and
the proxy runs in a network namespace with its pod ports (15001, 15006,
15021, ...) as it would in the Pod. Needs root."""
import os
import shutil
import subprocess
import tempfile
import time

import pytest

from conftest import PROXY_BIN
from netns_harness import PROXY_UID, Namespace, wait_port

CONTROLPLANE = PROXY_BIN.parent / "mesh-controlplane"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root")

POD = """apiVersion: v1
kind: Pod
metadata: {{name: report-x7k2p, namespace: batch}}
spec:
  restartPolicy: Never
  containers:
    - {{name: mesh-proxy}}
    - {{name: report, ports: [{{containerPort: 8080}}]}}
status:
  podIP: 10.0.1.5
  containerStatuses:
    - {{name: report, state: {state}}}
"""


def write_pod(directory, state):
    path = os.path.join(directory, "pod.yaml")
    with open(path + ".new", "w") as f:
        f.write(POD.format(state=state))
    os.replace(path + ".new", path)


def test_proxy_exits_when_the_jobs_containers_have_exited():
    ns = Namespace()
    workdir = tempfile.mkdtemp(prefix="weft-job-")
    os.chmod(workdir, 0o755)
    manifests = os.path.join(workdir, "manifests")
    os.mkdir(manifests)
    try:
        write_pod(manifests, "{running: {}}")
        ns.spawn(str(CONTROLPLANE), "--manifests", manifests, "--grpc-address", "127.0.0.1:15010",
                 "--status-address", "127.0.0.1:15014",
                 log=open(os.path.join(workdir, "controlplane.log"), "w"))
        wait_port(ns, "127.0.0.1", 15010)
        proxy = ns.spawn(str(PROXY_BIN), "--controlplane", "127.0.0.1:15010", "--node",
                         "report-x7k2p", "--namespace", "batch", "--concurrency", "1",
                         uid=PROXY_UID, log=open(os.path.join(workdir, "proxy.log"), "w"))
        held = ns.exec(str(PROXY_BIN), "--wait-ready", "--wait-ready-timeout", "20", check=False)
        assert held.returncode == 0, held.stderr
        time.sleep(0.5)
        assert proxy.poll() is None, "the proxy must keep running while the Job runs"

        write_pod(manifests, "{terminated: {exitCode: 0, reason: Completed}}")
        try:
            code = proxy.wait(timeout=15)
        except subprocess.TimeoutExpired:
            pytest.fail("the proxy did not exit: " + open(os.path.join(workdir, "proxy.log")).read())
        assert code == 0
        log = open(os.path.join(workdir, "proxy.log")).read()
        assert "application containers have exited" in log, log
    finally:
        ns.close()
        shutil.rmtree(workdir, ignore_errors=True)
