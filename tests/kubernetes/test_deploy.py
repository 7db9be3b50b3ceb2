"""deploy/ installs with real kubectl: `kubectl apply -f deploy/` and
`meshctl install` give the same objects (deploy/weft.yaml is the rendering),
and `meshctl uninstall` removes it all. (The CRDs' rejection of bad custom
resources is in test_apiserver.py.)"""
import json
import os
import pathlib
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from apiserver_harness import ROOT, apiserver_fixture  # noqa: E402

MESHCTL = pathlib.Path(os.environ.get("WEFT_BUILD_DIR", ROOT / "build")) / "bin" / "meshctl"


apiserver = apiserver_fixture()


def installed(api):
    deployment = json.loads(api.kubectl("get", "deployment", "mesh-controlplane", "-n",
                                        "mesh-system", "-o", "json").stdout)
    crds = json.loads(api.kubectl("get", "crd", "-o", "json").stdout)
    return deployment, sorted(c["metadata"]["name"] for c in crds["items"])


def test_kubectl_apply_of_deploy_installs_the_control_plane(apiserver):
    result = apiserver.kubectl("apply", "-f", str(ROOT / "deploy/"))
    assert "namespace/mesh-system created" in result.stdout
    deployment, crds = installed(apiserver)
    assert deployment["spec"]["replicas"] == 2
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["resources"]["limits"]["memory"]
    assert crds == ["authorizationpolicies.mesh.weft.io", "meshconfigs.mesh.weft.io",
                    "trafficpolicies.mesh.weft.io"]
    role = json.loads(apiserver.kubectl("get", "clusterrole", "weft-mesh-controlplane",
                                        "-o", "json").stdout)
    verbs = {verb for rule in role["rules"] for verb in rule["verbs"]}
    creates = [rule for rule in role["rules"] if "create" in rule["verbs"]]
    assert "delete" not in verbs, "read and status writes only"
    assert creates == [{"apiGroups": ["authentication.k8s.io"], "resources": ["tokenreviews"],
                        "verbs": ["create"]}], "create only reviews proxies' tokens, stores nothing"
    # Injection: the webhook beside the control plane, its certificate in a
    # Secret only the control plane may write, the configuration failing closed.
    containers = [c["name"] for c in deployment["spec"]["template"]["spec"]["containers"]]
    assert containers == ["mesh-controlplane", "mesh-injector"]
    role = json.loads(apiserver.kubectl("get", "role", "mesh-controlplane-leader-election", "-n",
                                        "mesh-system", "-o", "json").stdout)
    secret_rules = [r for r in role["rules"] if r["resources"] == ["secrets"]]
    assert {v for r in secret_rules if r.get("resourceNames") for v in r["verbs"]} == {"get", "update"}
    webhook = json.loads(apiserver.kubectl("get", "mutatingwebhookconfiguration",
                                           "weft-sidecar-injector", "-o", "json").stdout)
    hook = webhook["webhooks"][0]
    assert hook["failurePolicy"] == "Fail" and hook["sideEffects"] == "None"
    assert hook["namespaceSelector"]["matchLabels"] == {"mesh.weft.io/inject": "enabled"}
    assert hook["clientConfig"]["service"]["port"] == 15017
    # It serves a failurePolicy Fail webhook: spread, and never all away.
    spec = deployment["spec"]["template"]["spec"]
    assert {c["topologyKey"] for c in spec["topologySpreadConstraints"]} == {
        "kubernetes.io/hostname", "topology.kubernetes.io/zone"}
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    pdb = json.loads(apiserver.kubectl("get", "pdb", "mesh-controlplane", "-n", "mesh-system",
                                       "-o", "json").stdout)
    assert pdb["spec"]["maxUnavailable"] == 1
    assert pdb["spec"]["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]
    crd = json.loads(apiserver.kubectl("get", "crd", "trafficpolicies.mesh.weft.io",
                                       "-o", "json").stdout)
    columns = [c["name"] for c in crd["spec"]["versions"][0]["additionalPrinterColumns"]]
    assert columns == ["Target", "Accepted", "Age"]


def test_meshctl_install_dry_run_is_the_deploy_bundle():
    out = subprocess.run([str(MESHCTL), "install", "--dry-run"], capture_output=True, text=True,
                         timeout=10, check=True).stdout
    assert out == (ROOT / "deploy/weft.yaml").read_text()


def test_meshctl_install_then_uninstall(apiserver):
    run = lambda *args: subprocess.run(  # noqa: E731
        [str(MESHCTL), *args, "--kubeconfig", str(apiserver.kubeconfig)],
        capture_output=True, text=True, timeout=60)
    result = run("install")
    assert result.returncode == 0, result.stderr
    deployment, crds = installed(apiserver)
    assert "trafficpolicies.mesh.weft.io" in crds
    result = run("uninstall")
    assert result.returncode == 0, result.stderr
    assert apiserver.kubectl("get", "namespace", "mesh-system", check=False).returncode != 0
    assert apiserver.kubectl("get", "crd", "trafficpolicies.mesh.weft.io",
                             check=False).returncode != 0


def test_meshctl_install_flags_choose_namespace_images_and_replicas(apiserver):
    result = subprocess.run(
        [str(MESHCTL), "install", "--namespace", "weft", "--hub", "registry.example/mesh",
         "--tag", "9.9", "--replicas", "3", "--kubeconfig", str(apiserver.kubeconfig)],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    deployment = json.loads(apiserver.kubectl("get", "deployment", "mesh-controlplane", "-n",
                                              "weft", "-o", "json").stdout)
    assert deployment["spec"]["replicas"] == 3
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert containers[0]["image"] == "registry.example/mesh/mesh-controlplane:9.9"
    assert "--controlplane=mesh-controlplane.weft.svc:15010" in containers[1]["args"]
    binding = json.loads(apiserver.kubectl("get", "clusterrolebinding", "-o", "json").stdout)
    subjects = [s for b in binding["items"] for s in b.get("subjects", [])]
    assert subjects and all(s["namespace"] == "weft" for s in subjects), subjects
    assert apiserver.kubectl("get", "pdb", "mesh-controlplane", "-n", "weft").returncode == 0
    assert apiserver.kubectl("get", "namespace", "mesh-system", check=False).returncode != 0
    bad = subprocess.run([str(MESHCTL), "install", "--dry-run", "--namespace", "Weft"],
                         capture_output=True, text=True, timeout=10)
    assert bad.returncode == 2 and "not a DNS label" in bad.stderr
