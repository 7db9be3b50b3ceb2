#!/usr/bin/env bash
# `make demo`: `meshctl up deploy/examples/demo` runs a local mesh on
# 127.0.0.1 (control plane, a client and reviews v1/v2, each with its
# sidecar). Real traffic from the client's sidecar shows the 90/10 split and
# header routing of the HTTPRoute, then the route is rewritten to 50/50
# while traffic flows: the new split shows with zero failed requests, and
# both sidecars of each hop count the same requests (mesh_requests_total).
# Prints `demo: ok` and exits 0 only if every check passes.
set -euo pipefail
build_dir=$(cd "${1:-build}" && pwd)
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/scripts/lib.sh"
work_dir weft-demo

step() { printf '\n== %s\n' "$*"; }
die() {
  echo "demo: FAILED: $*" >&2
  tail -n 20 "$work"/run/logs/*.log 2>/dev/null >&2 || true
  exit 1
}
meshctl() { "$build_dir/bin/meshctl" --status "127.0.0.1:$status" "$@"; }
# The mesh in a copy of the example, so the live edit leaves the repository alone.
cp -r "$root/deploy/examples/demo" "$work/demo"
status=$(free_port)

step "meshctl up deploy/examples/demo"
"$build_dir/bin/meshctl" up "$work/demo" --state-dir "$work/run" --status-address "127.0.0.1:$status" \
  > "$work/up.log" 2>&1 & pids+=($!)
for _ in $(seq 200); do grep -q '^mesh up' "$work/up.log" 2>/dev/null && break; sleep 0.1; done
sed 's/^/  /' "$work/up.log"
grep -q '^mesh up: every sidecar' "$work/up.log" || die "the mesh did not come up"
read -r outbound metrics < <(/usr/bin/python3 -c '
import json, sys
w = [w for w in json.load(open(sys.argv[1]))["workloads"] if w["name"] == "client-0"][0]
print(w["outbound"], w["metrics"])' "$work/run/mesh.json")

# Requests as the client application makes them: through its sidecar
# (http_proxy), addressed to the Service by name.
split() {
  local urls=(); for _ in $(seq "$1"); do urls+=("http://reviews:9080/"); done
  curl -s -x "http://127.0.0.1:$outbound" "${urls[@]}" > "$work/split.txt"
  n1=$(grep -c '^reviews-v1$' "$work/split.txt" || true); n2=$(grep -c '^reviews-v2$' "$work/split.txt" || true)
  echo "  reviews-v1: $n1   reviews-v2: $n2"
  [ $((n1 + n2)) -eq "$1" ] || die "expected $1 answers, got $((n1 + n2))"
}

step "1000 requests from the client to http://reviews:9080/ (HTTPRoute: 90/10)"
split 1000
[ "$n2" -ge 50 ] && [ "$n2" -le 150 ] || die "v2 share $n2/1000 is not near 10%"

step "20 requests with x-canary: 1"
canary=$(for _ in $(seq 20); do curl -s -x "http://127.0.0.1:$outbound" -H 'x-canary: 1' http://reviews:9080/; done | sort | uniq -c)
echo "$canary" | sed 's/^/ /'
[ "$(echo "$canary" | awk '{print $2}')" = "reviews-v2" ] || die "canary header did not route to v2"

step "rewrite the route to 50/50 while the client sends traffic"
/usr/bin/python3 - "$outbound" "$work/load.txt" "$work/stop" <<'PY' & loader=$!
# Keep-alive requests through the sidecar until told to stop (at most 30 s).
import http.client, os, sys, time
port, out, stop = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ok = failed = 0
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
deadline = time.time() + 30
while not os.path.exists(stop) and time.time() < deadline:
    try:
        conn.request("GET", "http://reviews:9080/")
        response = conn.getresponse()
        response.read()
        ok, failed = (ok + 1, failed) if response.status == 200 else (ok, failed + 1)
    except (OSError, http.client.HTTPException):
        failed += 1
        conn.close()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
open(out, "w").write(f"{ok} {failed}\n")
PY
sleep 0.5
before=$(meshctl status -o json | /usr/bin/python3 -c 'import json,sys; print([p["version_acked"] for p in json.load(sys.stdin)["proxies"] if p["name"]=="client-0"][0])')
sed -i 's/weight: 90/weight: 50/; s/weight: 10/weight: 50/' "$work/demo/route.yaml"
echo "  route.yaml now: $(grep -o 'weight: [0-9]*' "$work/demo/route.yaml" | tr '\n' ' ')"
for _ in $(seq 100); do
  now=$(meshctl status -o json | /usr/bin/python3 -c 'import json,sys; print([p["version_acked"] for p in json.load(sys.stdin)["proxies"] if p["name"]=="client-0"][0])')
  [ "$now" != "$before" ] && break
  sleep 0.1
done
[ "$now" != "$before" ] || die "the client's sidecar did not receive the new route"
echo "  client-0 moved from version $before to $now"
sleep 0.5
touch "$work/stop"; wait "$loader"
read -r ok failed < "$work/load.txt"
echo "  during the change: $ok requests succeeded, $failed failed"
[ "$failed" -eq 0 ] && [ "$ok" -gt 0 ] || die "requests failed while the route changed"

step "1000 requests after the change (HTTPRoute: 50/50)"
split 1000
[ "$n2" -ge 400 ] && [ "$n2" -le 600 ] || die "v2 share $n2/1000 is not near 50%"

step "a request smuggling attempt (Content-Length with Transfer-Encoding) is refused"
answer=$(printf 'POST / HTTP/1.1\r\nHost: reviews:9080\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n' \
  | curl -s --max-time 3 telnet://127.0.0.1:$outbound 2>/dev/null | head -1 | tr -d '\r' || true)
echo "  sidecar answered: $answer"
[[ "$answer" == "HTTP/1.1 400"* ]] || die "malformed request was not refused"

step "workload identities: every hop between sidecars is mutual TLS"
meshctl identity reviews-v1-0 | head -3 | sed 's/^/  /'
handshakes=$(curl -s "http://127.0.0.1:$metrics/stats/prometheus" \
  | grep '^mesh_tls_handshakes_total{direction="outbound"' || true)
echo "$handshakes" | sed 's/^/  client-0 sidecar: /'
echo "$handshakes" | grep -q 'result="ok"} [1-9]' || die "the client's sidecar made no mutual TLS handshake"
if echo "$handshakes" | grep -v 'result="ok"' | grep -q ' [1-9]'; then die "mutual TLS handshakes failed"; fi

step "the caller reviews' sidecar verified, as the application sees it"
xfcc=$(curl -s -x "http://127.0.0.1:$outbound" http://reviews:9080/echo | /usr/bin/python3 -c '
import json, sys
print({k.lower(): v for k, v in json.load(sys.stdin)["headers"].items()}.get("x-forwarded-client-cert", ""))')
echo "  x-forwarded-client-cert: $xfcc"
[[ "$xfcc" == *"URI=spiffe://cluster.local/ns/default/sa/client" ]] || die "reviews did not learn the client's identity"

step "an AuthorizationPolicy denies the client's service account"
cat > "$work/demo/deny-client.yaml" <<'YAML'
apiVersion: mesh.weft.io/v1alpha1
kind: AuthorizationPolicy
metadata: {name: deny-client}
spec:
  targetRef: {kind: Service, name: reviews}
  action: DENY
  rules: [{from: [{serviceAccounts: [default/client]}]}]
YAML
sed 's/^/  /' "$work/demo/deny-client.yaml"
for _ in $(seq 100); do
  code=$(curl -s -o /dev/null -w '%{http_code}' -x "http://127.0.0.1:$outbound" http://reviews:9080/)
  [ "$code" = 403 ] && break
  sleep 0.1
done
curl -s -D - -o /dev/null -x "http://127.0.0.1:$outbound" http://reviews:9080/ \
  | grep -iE '^(HTTP|x-weft-error)' | tr -d '\r' | sed 's/^/  /'
[ "$code" = 403 ] || die "the policy did not deny the client"
reviews_metrics=$(/usr/bin/python3 -c '
import json, sys
print([w for w in json.load(open(sys.argv[1]))["workloads"] if w["name"] == "reviews-v1-0"][0]["metrics"])' "$work/run/mesh.json")
curl -s "http://127.0.0.1:$reviews_metrics/stats/prometheus" | grep '^mesh_authz_denied_total' \
  | sed 's/^/  reviews-v1-0 sidecar: /' || true
rm "$work/demo/deny-client.yaml"
for _ in $(seq 100); do
  code=$(curl -s -o /dev/null -w '%{http_code}' -x "http://127.0.0.1:$outbound" http://reviews:9080/)
  [ "$code" = 200 ] && break
  sleep 0.1
done
echo "  policy removed: the client gets $code"
[ "$code" = 200 ] || die "removing the policy did not allow the client again"

step "meshctl status"
meshctl status | sed 's/^/  /'
meshctl check > "$work/check.txt" || { cat "$work/check.txt"; die "meshctl check found problems"; }
tail -1 "$work/check.txt" | sed 's/^/  meshctl check: /'

step "the client sidecar's metrics (:$metrics/stats/prometheus)"
curl -s "http://127.0.0.1:$metrics/stats/prometheus" \
  | grep -E '^mesh_(listener_requests_total\{.*2xx|upstream_requests_total|discovery_events_total\{event="ack"|config_reloads_total\{result="applied")' \
  | sed 's/^/  /'

step "requests by workload (mesh_requests_total), as each side of a hop counted them"
/usr/bin/python3 "$root/scripts/request_totals.py" "$work/run/mesh.json" \
  || die "the two sidecars of a hop counted different requests"

step "stopping the mesh"
kill -TERM "${pids[0]}"; wait "${pids[0]}" || die "meshctl up did not stop cleanly"
pids=()
tail -1 "$work/up.log" | sed 's/^/  /'

echo
echo "demo: ok"
