"""The test API server behaves as the real one where Weft and kubectl rely
on it: real kubectl applies (client-side and server-side), CRD schemas
reject bad input, watches deliver every change and expire with 410,
lists paginate, and requests without the token are refused."""
import http.client
import json
import pathlib
import sys
import threading
from urllib.parse import urlsplit

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from apiserver_harness import ROOT, TOKEN, apiserver_fixture  # noqa: E402

apiserver = apiserver_fixture("--bookmark-seconds", "0.3")


SERVICE = {"apiVersion": "v1", "kind": "Service",
           "metadata": {"name": "reviews", "labels": {"app": "reviews"}},
           "spec": {"selector": {"app": "reviews"}, "ports": [{"name": "http", "port": 9080}]}}


def test_kubectl_apply_creates_then_patches_by_merge_key(apiserver, tmp_path):
    apiserver.kubectl("apply", "-f", str(ROOT / "deploy/examples/demo/services.yaml"))
    service = json.loads(apiserver.kubectl("get", "service", "reviews", "-o", "json").stdout)
    assert service["spec"]["ports"] == [{"name": "http", "port": 9080, "targetPort": "http"}]
    assert service["spec"]["clusterIP"].startswith("10.96."), "a ClusterIP is allocated"
    changed = (ROOT / "deploy/examples/demo/services.yaml").read_text().replace(
        "port: 9080, targetPort: http}", "port: 9090, targetPort: http}", 1)
    (tmp_path / "services.yaml").write_text(changed)
    out = apiserver.kubectl("apply", "-f", str(tmp_path / "services.yaml")).stdout
    assert "service/reviews configured" in out
    service = json.loads(apiserver.kubectl("get", "service", "reviews", "-o", "json").stdout)
    assert service["spec"]["ports"] == [{"name": "http", "port": 9090, "targetPort": "http"}], \
        "the strategic merge patch replaced the element with merge key port 9080"
    assert service["spec"]["clusterIP"].startswith("10.96."), "fields kubectl did not set stay"


def test_crd_schema_rejects_bad_custom_resources_with_field_paths(apiserver, tmp_path):
    apiserver.kubectl("apply", "-f", str(ROOT / "deploy/crds/"))
    good = tmp_path / "good.yaml"
    good.write_text("apiVersion: mesh.weft.io/v1alpha1\nkind: TrafficPolicy\n"
                    "metadata: {name: reviews}\n"
                    "spec: {targetRef: {kind: Service, name: reviews}}\n")
    apiserver.kubectl("apply", "-f", str(good))
    policy = json.loads(apiserver.kubectl("get", "trafficpolicy", "reviews", "-o", "json").stdout)
    assert policy["spec"]["targetRef"]["group"] == "", "schema defaults are applied"

    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: mesh.weft.io/v1alpha1\nkind: TrafficPolicy\n"
                   "metadata: {name: bad}\n"
                   "spec: {targetRef: {kind: Deployment, name: x, port: 70000}}\n")
    result = apiserver.kubectl("apply", "-f", str(bad), check=False)
    assert result.returncode != 0
    assert 'spec.targetRef.kind: Unsupported value: "Deployment"' in result.stderr
    assert "spec.targetRef.port: Invalid value: 70000" in result.stderr
    assert apiserver.kubectl("get", "trafficpolicy", "bad", check=False).returncode != 0

    typo = tmp_path / "typo.yaml"
    typo.write_text("apiVersion: mesh.weft.io/v1alpha1\nkind: TrafficPolicy\n"
                    "metadata: {name: typo}\n"
                    "spec: {targetRef: {kind: Service, name: x}, timeout: {request: 1s}}\n")
    result = apiserver.kubectl("apply", "-f", str(typo), check=False)
    assert result.returncode != 0 and 'unknown field "spec.timeout"' in result.stderr


def test_server_side_apply_removes_what_the_manager_stopped_applying(apiserver, tmp_path):
    path = tmp_path / "svc.json"
    with_labels = json.loads(json.dumps(SERVICE))
    with_labels["metadata"]["labels"]["tier"] = "backend"
    path.write_text(json.dumps(with_labels))
    apiserver.kubectl("apply", "--server-side", "-f", str(path))
    path.write_text(json.dumps(SERVICE))
    apiserver.kubectl("apply", "--server-side", "-f", str(path))
    service = json.loads(apiserver.kubectl("get", "service", "reviews", "-o", "json").stdout)
    assert service["metadata"]["labels"] == {"app": "reviews"}


def test_watch_delivers_changes_bookmarks_and_ends_at_timeout(apiserver):
    status, _, created = apiserver.request("POST", "/api/v1/namespaces/default/services", SERVICE)
    assert status == 201
    status, _, listed = apiserver.request("GET", "/api/v1/namespaces/default/services")
    since = listed["metadata"]["resourceVersion"]

    def change():
        patch = {"metadata": {"labels": {"v": "2"}}}
        apiserver.request("PATCH", "/api/v1/namespaces/default/services/reviews", patch,
                          content_type="application/merge-patch+json")
        apiserver.request("DELETE", "/api/v1/namespaces/default/services/reviews")
    threading.Timer(0.2, change).start()
    events = apiserver.watch(f"/api/v1/namespaces/default/services?watch=1&resourceVersion={since}"
                             "&allowWatchBookmarks=true&timeoutSeconds=2")
    kinds = [e["type"] for e in events]
    assert [k for k in kinds if k != "BOOKMARK"] == ["MODIFIED", "DELETED"]
    assert "BOOKMARK" in kinds
    versions = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
    assert versions == sorted(versions) and versions[0] > int(since)


def test_watch_from_a_compacted_version_is_410(apiserver):
    apiserver.request("POST", "/api/v1/namespaces/default/services", SERVICE)
    status, _, listed = apiserver.request("GET", "/api/v1/namespaces/default/services")
    old = listed["metadata"]["resourceVersion"]
    apiserver.request("PATCH", "/api/v1/namespaces/default/services/reviews",
                      {"metadata": {"labels": {"v": "2"}}},
                      content_type="application/merge-patch+json")
    apiserver.request("POST", "/_test/compact")
    events = apiserver.watch(f"/api/v1/services?watch=1&resourceVersion={old}&timeoutSeconds=2")
    assert events[0]["type"] == "ERROR" and events[0]["object"]["code"] == 410
    apiserver.request("POST", "/_test/gone-as-http")
    status, _, body = apiserver.request("GET", f"/api/v1/services?watch=1&resourceVersion={old}")
    assert status == 410 and body["reason"] == "Expired"


def test_list_pages_with_limit_and_continue(apiserver):
    for i in range(7):
        svc = json.loads(json.dumps(SERVICE))
        svc["metadata"]["name"] = f"s{i}"
        svc["metadata"]["labels"] = {"app": "even" if i % 2 == 0 else "odd"}
        assert apiserver.request("POST", "/api/v1/namespaces/default/services", svc)[0] == 201
    names, token = [], ""
    while True:
        _, _, page = apiserver.request("GET", f"/api/v1/services?limit=3&continue={token}")
        names += [item["metadata"]["name"] for item in page["items"]]
        token = page["metadata"].get("continue")
        if not token:
            break
    assert names == [f"s{i}" for i in range(7)]
    _, _, even = apiserver.request("GET", "/api/v1/services?labelSelector=app%3Deven")
    assert [i["metadata"]["name"] for i in even["items"]] == ["s0", "s2", "s4", "s6"]


def test_errors_are_kubernetes_status_objects(apiserver):
    status, _, body = apiserver.request("GET", "/api/v1/namespaces/default/services", token=None)
    assert status == 401 and body["kind"] == "Status"
    status, _, body = apiserver.request("GET", "/api/v1/namespaces/default/services", token="nope")
    assert status == 401
    status, _, body = apiserver.request("GET", "/api/v1/namespaces/default/services/missing")
    assert (status, body["reason"], body["message"]) == (404, "NotFound",
                                                           'services "missing" not found')
    apiserver.request("POST", "/api/v1/namespaces/default/services", SERVICE)
    status, _, body = apiserver.request("POST", "/api/v1/namespaces/default/services", SERVICE)
    assert (status, body["reason"]) == (409, "AlreadyExists")
    status, _, body = apiserver.request("POST", "/api/v1/namespaces/nowhere/services", SERVICE)
    assert (status, body["message"]) == (404, 'namespaces "nowhere" not found')


def test_aggregated_and_legacy_discovery(apiserver):
    accept = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"
    status, headers, body = apiserver.request("GET", "/apis", accept=accept)
    assert "as=APIGroupDiscoveryList" in headers["Content-Type"]
    groups = {item["metadata"]["name"] for item in body["items"]}
    assert {"apps", "discovery.k8s.io", "apiextensions.k8s.io"} <= groups
    status, headers, body = apiserver.request("GET", "/apis")
    assert body["kind"] == "APIGroupList"
    resources = apiserver.kubectl("api-resources").stdout
    assert "endpointslices" in resources and "customresourcedefinitions" in resources


def review(apiserver, token, audiences=("mesh.weft.io",)):
    code, _, body = apiserver.request("POST", "/apis/authentication.k8s.io/v1/tokenreviews", {
        "apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
        "spec": {"token": token, "audiences": list(audiences)}})
    assert code == 201, body
    return body["status"]


def test_kubectl_create_token_bound_to_a_pod_and_its_review(apiserver):
    """`kubectl create token` (TokenRequest) and TokenReview as the mesh
    uses them: the review names the service account and the bound Pod,
    checks the audience, and fails once the Pod is gone."""
    apiserver.kubectl("create", "serviceaccount", "productpage")
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "productpage-0"},
           "spec": {"serviceAccountName": "productpage", "containers": [{"name": "app"}]}}
    assert apiserver.request("POST", "/api/v1/namespaces/default/pods", pod)[0] == 201
    token = apiserver.kubectl("create", "token", "productpage", "--audience", "mesh.weft.io",
                              "--bound-object-kind", "Pod", "--bound-object-name",
                              "productpage-0").stdout.strip()
    assert token
    status = review(apiserver, token)
    assert status["authenticated"] is True
    assert status["audiences"] == ["mesh.weft.io"]
    assert status["user"]["username"] == "system:serviceaccount:default:productpage"
    assert status["user"]["extra"]["authentication.kubernetes.io/pod-name"] == ["productpage-0"]

    other_audience = review(apiserver, token, ["https://kubernetes.default.svc.cluster.local"])
    assert not other_audience.get("authenticated") and "audiences" in other_audience["error"]
    assert not review(apiserver, "forged").get("authenticated")
    apiserver.kubectl("create", "serviceaccount", "default")  # no controller makes it here
    refused = apiserver.kubectl("create", "token", "default", "--bound-object-kind", "Pod",
                                "--bound-object-name", "productpage-0", check=False)
    assert refused.returncode != 0 and "different serviceaccount" in refused.stderr

    assert apiserver.request("DELETE", "/api/v1/namespaces/default/pods/productpage-0")[0] == 200
    gone = review(apiserver, token)
    assert not gone.get("authenticated") and "not found" in gone["error"]



def test_a_request_answered_without_reading_its_body_leaves_the_connection_usable(apiserver):
    """kubectl delete sends DeleteOptions in the body, over a kept-alive
    connection: the next request on that connection is answered as itself
    (the body left unread was once taken for its head: a 400)."""
    gone = json.loads(json.dumps(SERVICE))
    gone["metadata"]["name"] = "gone"
    assert apiserver.request("POST", "/api/v1/namespaces/default/services", gone)[0] == 201
    url = urlsplit(apiserver.url)
    conn = http.client.HTTPSConnection(url.hostname, url.port, context=apiserver.context,
                                       timeout=10)
    auth = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    try:
        options = json.dumps({"kind": "DeleteOptions", "apiVersion": "v1",
                              "propagationPolicy": "Background"})
        conn.request("DELETE", "/api/v1/namespaces/default/services/gone", options, auth)
        deleted = conn.getresponse()
        deleted.read()
        assert deleted.status == 200
        conn.request("POST", "/api/v1/namespaces/default/services", json.dumps(gone),
                     {"Content-Type": "application/json", "Authorization": "Bearer wrong"})
        unauthorized = conn.getresponse()
        unauthorized.read()
        assert unauthorized.status == 401
        conn.request("GET", "/api/v1/namespaces/default/services", headers=auth)
        listed = conn.getresponse()
        body = listed.read()
        assert listed.status == 200, body
        assert "gone" not in {s["metadata"]["name"] for s in json.loads(body)["items"]}
    finally:
        conn.close()
