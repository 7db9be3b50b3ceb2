#!/usr/bin/env bash
# `make demo`: runs mesh-proxy in front of two versions of the demo app on
# 127.0.0.1 and shows, with real curl traffic, a 90/10 canary split, header
# routing to the canary, a strict-parsing rejection and the proxy's metrics.
# Prints `demo: ok` and exits 0 only if every check passes.
set -euo pipefail
build_dir=$(cd "${1:-build}" && pwd)
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/scripts/lib.sh"
work_dir weft-demo

step() { printf '\n== %s\n' "$*"; }
die() { echo "demo: FAILED: $*" >&2; exit 1; }

v1=$(free_port); v2=$(free_port); web=$(free_port); admin=$(free_port); metrics=$(free_port)
cat > "$work/proxy.yaml" <<YAML
version: demo-1
admin:
  address: {host: 127.0.0.1, port: $admin}
  metrics_address: {host: 127.0.0.1, port: $metrics}
listeners:
  - {name: reviews, address: {host: 127.0.0.1, port: $web}, route_table: reviews}
route_tables:
  - name: reviews
    virtual_hosts:
      - name: reviews
        domains: ["*"]
        routes:
          - name: canary-header
            match: {prefix: /, headers: [{name: x-canary, exact: "1"}]}
            forward: {clusters: [{name: reviews-v2}]}
          - name: split
            match: {prefix: /}
            forward: {clusters: [{name: reviews-v1, weight: 90}, {name: reviews-v2, weight: 10}]}
clusters:
  - {name: reviews-v1, endpoints: [{address: 127.0.0.1, port: $v1}]}
  - {name: reviews-v2, endpoints: [{address: 127.0.0.1, port: $v2}]}
YAML

step "starting the demo app (reviews v1 on :$v1, v2 on :$v2) and mesh-proxy on :$web"
/usr/bin/python3 "$root/deploy/examples/demo/app.py" --port "$v1" --name reviews-v1 2>/dev/null & pids+=($!)
/usr/bin/python3 "$root/deploy/examples/demo/app.py" --port "$v2" --name reviews-v2 2>/dev/null & pids+=($!)
"$build_dir/bin/mesh-proxy" --config "$work/proxy.yaml" --concurrency 2 >"$work/proxy.log" 2>&1 & pids+=($!)
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$admin/ready" >/dev/null 2>&1 && curl -sf "http://127.0.0.1:$v1/" >/dev/null 2>&1 \
    && curl -sf "http://127.0.0.1:$v2/" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -sf "http://127.0.0.1:$admin/ready" >/dev/null || { cat "$work/proxy.log"; die "proxy not ready"; }
sed 's/^/  /' "$work/proxy.log"

step "1000 requests through the proxy, route 'split' (90/10)"
urls=(); for _ in $(seq 1000); do urls+=("http://127.0.0.1:$web/"); done
curl -s "${urls[@]}" > "$work/split.txt"
n1=$(grep -c '^reviews-v1$' "$work/split.txt" || true); n2=$(grep -c '^reviews-v2$' "$work/split.txt" || true)
echo "  reviews-v1: $n1   reviews-v2: $n2"
[ $((n1 + n2)) -eq 1000 ] || die "expected 1000 answers, got $((n1 + n2))"
[ "$n2" -ge 50 ] && [ "$n2" -le 150 ] || die "v2 share $n2/1000 is not near 10%"

step "20 requests with x-canary: 1 (route 'canary-header')"
canary=$(for _ in $(seq 20); do curl -s -H 'x-canary: 1' "http://127.0.0.1:$web/"; done | sort | uniq -c)
echo "$canary" | sed 's/^/ /'
[ "$(echo "$canary" | awk '{print $2}')" = "reviews-v2" ] || die "canary header did not route to v2"

step "a request smuggling attempt (Content-Length with Transfer-Encoding) is refused"
answer=$(printf 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n' \
  | curl -s --max-time 3 telnet://127.0.0.1:$web 2>/dev/null | head -1 | tr -d '\r' || true)
echo "  proxy answered: $answer"
[[ "$answer" == "HTTP/1.1 400"* ]] || die "malformed request was not refused"

step "metrics at :$metrics/stats/prometheus"
curl -s "http://127.0.0.1:$metrics/stats/prometheus" \
  | grep -E '^mesh_(requests_total\{.*2xx|upstream_requests_total|http1_parse_rejections_total\{reason="bad_transfer_encoding"|upstream_connections_total)' \
  | sed 's/^/  /'

echo
echo "demo: ok"
