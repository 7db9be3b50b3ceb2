#!/usr/bin/env bash
# Instructions per proxied request, counted by valgrind's callgrind: exact and
# repeatable whatever else the machine is doing, so it shows a change of a
# few percent that wall-clock CPU on a shared machine cannot. (This machine
# has no hardware performance counters.)
#
#   bench/instructions.sh [build-dir] [requests] [retry]
#
# With `retry`, the route has a retry policy (attempts 3 on 5xx) that never
# fires: the cost of a policy being configured.
#
# WEFT_LB (LB_PEAK_EWMA, the default, LB_ROUND_ROBIN, LB_RANDOM,
# LB_LEAST_REQUEST, LB_RING_HASH, LB_MAGLEV) picks the cluster's balancer,
# and WEFT_ENDPOINTS (1) its endpoint count: endpoint i is 127.0.x.y (the
# i-th loopback address) on the backend's port, which nginx serves on every
# address. RingHash and Maglev hash on the query parameter `user`, which
# the requests take from 1,000 values in turn (h2load -i).
#
# WEFT_LOCALITY=1 places the proxy in zone a and the endpoints alternately
# in zones a and b of one region: the cost of locality-aware balancing
# (every request stays in zone a).
#
# WEFT_MESH=1 gives the proxy a workload and the listener the outbound
# direction, and the cluster a Service with a meshed endpoint: the cost of
# the workload-labelled request metrics and the x-weft-peer field.
#
# WEFT_TRACING=PERCENT turns tracing on at that sampling percentage, the
# spans exported as OTLP JSON to the nginx backend (which answers 200): the
# cost of tracing, export included (callgrind counts every thread).
#
# WEFT_ACCESS_LOG=FORMAT (json or text) writes an access log line per
# request to a file in the work directory: the cost of formatting and of
# the writer thread (callgrind counts every thread).
#
# WEFT_CALLGRIND_OUT=FILE keeps the callgrind profile of the counted
# requests there, for callgrind_annotate.
#
# Runs an nginx backend and mesh-proxy (one worker) under callgrind, warms up
# with 1,000 requests (5 per endpoint with more endpoints), then counts
# user-space instructions over `requests` HTTP/1.1 requests from h2load (10
# connections, keep-alive).
set -euo pipefail
build_dir=$(cd "${1:-build}" && pwd)
requests=${2:-3000}
route_policy=""
[[ "${3:-}" == retry ]] && route_policy=", retry: {attempts: 3, retry_on: [5xx]}"
source "$(dirname "$0")/../scripts/lib.sh"
work_dir weft-instructions

balancer=${WEFT_LB:-LB_PEAK_EWMA}
endpoint_count=${WEFT_ENDPOINTS:-1}
backend=$(free_port); listen=$(free_port); admin=$(free_port); metrics=$(free_port)
backend_listen="127.0.0.1:$backend"
((endpoint_count > 1)) && backend_listen="$backend"  # every loopback address
endpoints=""
proxy_locality=""
[[ "${WEFT_LOCALITY:-}" == 1 ]] && proxy_locality="locality: {region: r, zone: a}"
mesh_workload="" mesh_direction="" mesh_service="" mesh_endpoint=""
if [[ "${WEFT_MESH:-}" == 1 ]]; then
  mesh_workload="workload: {name: bench-client, namespace: bench, app: bench, version: v1}"
  mesh_direction=", direction: DIRECTION_OUTBOUND"
  mesh_service=", service: backend.bench.svc.cluster.local"
  mesh_endpoint=", workload: {name: backend, namespace: bench}"
fi
tracing=""
[[ -n "${WEFT_TRACING:-}" ]] &&
  tracing="tracing: {sampling_percent: $WEFT_TRACING, otlp_endpoint: \"http://127.0.0.1:$backend/v1/traces\"}"
access_log=""
if [[ -n "${WEFT_ACCESS_LOG:-}" ]]; then
  format=FORMAT_JSON
  [[ "$WEFT_ACCESS_LOG" == text ]] && format=FORMAT_TEXT
  access_log="access_log: {format: $format, path: \"$work/access.log\"}"
fi
for ((i = 0; i < endpoint_count; i++)); do
  locality="$mesh_endpoint"
  [[ -n $proxy_locality ]] && locality+=", locality: {region: r, zone: $([[ $((i % 2)) == 0 ]] && echo a || echo b)}"
  endpoints+="${endpoints:+, }{address: 127.0.$((i / 250)).$((i % 250 + 1)), port: $backend$locality}"
done
hash_policy=""
targets=("http://127.0.0.1:$listen/")
if [[ $balancer == LB_RING_HASH || $balancer == LB_MAGLEV ]]; then
  hash_policy=", hash_policy: {query_parameter: user}"
  for ((u = 0; u < 1000; u++)); do echo "http://127.0.0.1:$listen/?user=$u"; done > "$work/urls"
  targets=(-i "$work/urls")
fi
cat > "$work/nginx.conf" <<CONF
worker_processes 1; daemon off; pid $work/nginx.pid; error_log $work/nginx.err warn;
events { worker_connections 8192; }
http { access_log off; keepalive_requests 100000000;
  client_body_temp_path $work; proxy_temp_path $work; fastcgi_temp_path $work; uwsgi_temp_path $work; scgi_temp_path $work;
  server { listen $backend_listen; location / { return 200 "hello\n"; } } }
CONF
nginx -p "$work" -c "$work/nginx.conf" -e "$work/nginx.err" & pids+=($!)
cat > "$work/proxy.yaml" <<YAML
$proxy_locality
$mesh_workload
$tracing
$access_log
admin: {address: {host: 127.0.0.1, port: $admin}, metrics_address: {host: 127.0.0.1, port: $metrics}}
listeners: [{name: bench, address: {host: 127.0.0.1, port: $listen}, route_table: bench$mesh_direction}]
route_tables: [{name: bench, virtual_hosts: [{routes: [{match: {prefix: /}, forward: {clusters: [{name: backend}]}$route_policy}]}]}]
clusters: [{name: backend, load_balancer: $balancer, endpoints: [$endpoints]$hash_policy$mesh_service}]
YAML
valgrind --tool=callgrind --callgrind-out-file="$work/callgrind.out" \
  "$build_dir/bin/mesh-proxy" --config "$work/proxy.yaml" --concurrency 1 --log-level warning \
  >"$work/proxy.log" 2>&1 & proxy=$!; pids+=($proxy)
for _ in $(seq 150); do curl -sf -o /dev/null "http://127.0.0.1:$admin/ready" && break; sleep 0.2; done
# Enough to open a pooled connection to nearly every endpoint (e^-5 left cold).
warmup=$((endpoint_count * 5 > 1000 ? endpoint_count * 5 : 1000))
h2load --h1 -t1 -c10 -n "$warmup" "${targets[@]}" > /dev/null
callgrind_control -z "$proxy" > /dev/null 2>&1
measured=$(h2load --h1 -t1 -c10 -n "$requests" "${targets[@]}")
echo "$measured" | grep -E '^requests:'
# Failed requests cost other instructions: a count over them would mislead.
if ! echo "$measured" | grep -qE "^status codes: $requests 2xx"; then
  echo "instructions.sh: not every request was answered 2xx" >&2
  exit 1
fi
callgrind_control -d "$proxy" > /dev/null 2>&1
total=$(grep -h '^summary' "$work/callgrind.out.1" | awk '{print $2}')
[[ -n "${WEFT_CALLGRIND_OUT:-}" ]] && cp "$work/callgrind.out.1" "$WEFT_CALLGRIND_OUT"
echo "mesh-proxy: $((total / requests)) instructions per request (user space, callgrind)"
# WEFT_CALLGRIND_OUT=FILE keeps the profile, for callgrind_annotate.
[[ -n "${WEFT_CALLGRIND_OUT:-}" ]] && cp "$work/callgrind.out.1" "$WEFT_CALLGRIND_OUT"
exit 0
