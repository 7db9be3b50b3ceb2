# Sourced by scripts that run the mesh locally (demo, instruction counts):
#   work_dir PREFIX   makes $work, a temporary folder removed on exit
#   pids+=($!)        processes to stop on exit
#   free_port         prints a free loopback port
pids=()

work_dir() {
  work=$(mktemp -d "/tmp/$1.XXXXXX")
}

cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -n "${work:-}" ] && rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
