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
# Runs an nginx backend and mesh-proxy (one worker) under callgrind, warms up
# with 1,000 requests, then counts user-space instructions over `requests`
# HTTP/1.1 requests from h2load (10 connections, keep-alive).
set -euo pipefail
build_dir=$(cd "${1:-build}" && pwd)
requests=${2:-3000}
route_policy=""
[[ "${3:-}" == retry ]] && route_policy=", retry: {attempts: 3, retry_on: [5xx]}"
source "$(dirname "$0")/../scripts/lib.sh"
work_dir weft-instructions

backend=$(free_port); listen=$(free_port); admin=$(free_port); metrics=$(free_port)
cat > "$work/nginx.conf" <<CONF
worker_processes 1; daemon off; pid $work/nginx.pid; error_log $work/nginx.err warn;
events { worker_connections 1024; }
http { access_log off; keepalive_requests 100000000;
  client_body_temp_path $work; proxy_temp_path $work; fastcgi_temp_path $work; uwsgi_temp_path $work; scgi_temp_path $work;
  server { listen 127.0.0.1:$backend; location / { return 200 "hello\n"; } } }
CONF
nginx -p "$work" -c "$work/nginx.conf" -e "$work/nginx.err" & pids+=($!)
cat > "$work/proxy.yaml" <<YAML
admin: {address: {host: 127.0.0.1, port: $admin}, metrics_address: {host: 127.0.0.1, port: $metrics}}
listeners: [{name: bench, address: {host: 127.0.0.1, port: $listen}, route_table: bench}]
route_tables: [{name: bench, virtual_hosts: [{routes: [{match: {prefix: /}, forward: {clusters: [{name: backend}]}$route_policy}]}]}]
clusters: [{name: backend, endpoints: [{address: 127.0.0.1, port: $backend}]}]
YAML
valgrind --tool=callgrind --callgrind-out-file="$work/callgrind.out" \
  "$build_dir/bin/mesh-proxy" --config "$work/proxy.yaml" --concurrency 1 --log-level warning \
  >"$work/proxy.log" 2>&1 & proxy=$!; pids+=($proxy)
for _ in $(seq 150); do curl -sf -o /dev/null "http://127.0.0.1:$admin/ready" && break; sleep 0.2; done
h2load --h1 -t1 -c10 -n 1000 "http://127.0.0.1:$listen/" > /dev/null
callgrind_control -z "$proxy" > /dev/null 2>&1
h2load --h1 -t1 -c10 -n "$requests" "http://127.0.0.1:$listen/" | grep -E '^requests:'
callgrind_control -d "$proxy" > /dev/null 2>&1
total=$(grep -h '^summary' "$work/callgrind.out.1" | awk '{print $2}')
echo "mesh-proxy: $((total / requests)) instructions per request (user space, callgrind)"
