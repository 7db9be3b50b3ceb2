#!/usr/bin/env bash
# Installs every Debian package that Weft's build, tests, demo and benchmarks
# use. Idempotent: installs only what is missing, refreshes the package lists
# only when they are absent or a package cannot be found. Runs as root.
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config ccache mold clang-format clang-tidy
  # the sanitizer and fuzzing tree: clang, libFuzzer's runtime, llvm-symbolizer
  clang libclang-rt-14-dev llvm
  # libraries (DESIGN.md §9)
  libboost1.81-dev libboost-json1.81-dev libnghttp2-dev libssl-dev
  libgrpc++-dev protobuf-compiler-grpc protobuf-compiler libprotobuf-dev
  libyaml-cpp-dev libspdlog-dev libfmt-dev prometheus-cpp-dev libre2-dev
  libcli11-dev libexpected-dev libgtest-dev libgmock-dev libbenchmark-dev libmimalloc-dev
  # real parts for tests, demo and benchmarks
  iptables iproute2 curl nghttp2-client nghttp2-server nghttp2-proxy wrk haproxy nginx prometheus
  slowhttptest
  openssl
  python3-pytest python3-grpcio python3-protobuf python3-h2 python3-requests python3-yaml
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages present"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "setup: missing packages (${missing[*]}); run 'make setup' as root" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
lists_present() { compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; }
all_known() { apt-cache show "${missing[@]}" >/dev/null 2>&1; }
if ! lists_present || ! all_known; then
  echo "setup: refreshing package lists"
  apt-get update -qq
fi
echo "setup: installing ${missing[*]}"
# Debian's nginx and haproxy start system services on install; the tests and
# benchmarks run their own instances, so keep the packaged ones from starting.
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
chmod +x /usr/sbin/policy-rc.d
trap 'rm -f /usr/sbin/policy-rc.d' EXIT
apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "setup: done"
