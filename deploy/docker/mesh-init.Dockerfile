# The init container that programs a meshed pod's iptables (mesh-init):
# iptables-restore and ip6tables-restore, and the binary from `make build`.
# It runs as root with NET_ADMIN and NET_RAW only (see injector/inject.cc).
#   docker build -f deploy/docker/mesh-init.Dockerfile -t mesh-init:0.1.0 .
FROM debian:12-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends iptables \
 && rm -rf /var/lib/apt/lists/*
COPY build/bin/mesh-init /usr/local/bin/
ENTRYPOINT ["/usr/local/bin/mesh-init"]
