"""meshctl why SRC DST (docs/tasks/why.md): every object that shapes the
path from a workload to a Service, from the control plane's current mesh
under `meshctl up`, checked against what the sidecars then do."""
import json

import pytest

from test_controlplane import LocalMesh, answers, reviews_condition


@pytest.fixture
def mesh(tmp_path):
    m = LocalMesh(tmp_path)
    yield m
    m.stop()


def why(mesh, *args, check=True):
    result = mesh.meshctl("why", *args, check=check)
    return json.loads(result.stdout) if "-o" in args and check else result


def route_results(answer):
    return [(r["object"], r["rule"], r["result"]) for r in answer["routes"]]


def shares(answer):
    return {b["cluster"]["name"]: b["share_percent"] for b in answer["backends"]}


def test_why_names_the_rule_and_backends_the_sidecar_uses(mesh):
    answer = why(mesh, "client", "reviews", "-o", "json")
    assert answer["source"]["pod"] == "default/client-0"
    assert answer["source"]["workload"]["name"] == "client"
    assert answer["sidecar"]["in_sync"] is True
    assert answer["destination"]["service"] == "default/reviews"
    assert route_results(answer) == [("HTTPRoute default/reviews", 0, "no match"),
                                     ("HTTPRoute default/reviews", 1, "picked")]
    assert shares(answer) == {"reviews-v1.default:9080": 90, "reviews-v2.default:9080": 10}
    route = [o for o in answer["objects"] if o["object"] == "HTTPRoute default/reviews"][0]
    assert route["source"].endswith("route.yaml:3"), route
    assert {(c["type"], c["status"]) for c in route["conditions"]} == {
        ("Accepted", "True"), ("ResolvedRefs", "True")}
    assert answer["problems"] == []

    canary = why(mesh, "client-0", "reviews:9080", "-H", "x-canary: 1", "-o", "json")
    assert route_results(canary) == [("HTTPRoute default/reviews", 0, "picked"),
                                     ("HTTPRoute default/reviews", 1, "shadowed")]
    assert shares(canary) == {"reviews-v2.default:9080": 100}
    # What the sidecar does agrees.
    assert set(answers(mesh, 10, {"x-canary": "1"})) == {(200, "reviews-v2")}

    text = why(mesh, "client", "reviews").stdout
    assert "picked    default/reviews.rule1.match0  HTTPRoute default/reviews rule 1" in text
    assert "Sidecar: connected, in sync" in text
    assert "Problems: none" in text


def test_why_shows_a_rejected_edit_and_the_version_that_keeps_serving(mesh):
    route = mesh.dir / "route.yaml"
    route.write_text(route.read_text().replace("weight: 90", "weight: -90"))
    reviews_condition(mesh, "Accepted", lambda c: c["status"] == "False")
    answer = why(mesh, "client", "reviews", "-o", "json")
    # The last accepted rules still route, and the answer says why the edit
    # is not in force.
    assert route_results(answer)[1] == ("HTTPRoute default/reviews", 1, "picked")
    assert shares(answer) == {"reviews-v1.default:9080": 90, "reviews-v2.default:9080": 10}
    problems = " ".join(answer["problems"])
    assert "HTTPRoute default/reviews Accepted=False" in problems, problems
    assert "must not be negative" in problems and "keeps serving" in problems, problems


def test_why_reports_unknown_names_and_answers_offline_from_manifests(mesh):
    missing = why(mesh, "client", "ratings", check=False)
    assert missing.returncode == 1
    assert "no Service default/ratings is known" in missing.stderr
    nobody = why(mesh, "nobody", "reviews", check=False)
    assert nobody.returncode == 1 and "no Pod or workload default/nobody" in nobody.stderr
    bad = why(mesh, "client", "reviews:http", check=False)
    assert bad.returncode == 2 and "is not a port" in bad.stderr

    # The same manifests the control plane reads (the user's and the Pods
    # `meshctl up` generated), read by meshctl itself: the same answer but
    # for the sidecar's state, which only the control plane knows.
    offline = why(mesh, "client", "reviews", "--manifests", str(mesh.dir), "--manifests",
                  str(mesh.state / "generated"), "-o", "json")
    live = why(mesh, "client", "reviews", "-o", "json")
    assert "sidecar" not in offline
    live.pop("sidecar")
    assert offline == live
