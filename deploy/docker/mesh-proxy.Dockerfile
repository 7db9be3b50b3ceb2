# The sidecar image: mesh-proxy links its dependencies statically but for
# the C++ runtime, prometheus-cpp and mimalloc (tests/integration/test_images.py checks
# this list against the binary).
#   docker build -f deploy/docker/mesh-proxy.Dockerfile -t mesh-proxy:0.1.0 .
FROM debian:12-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libprometheus-cpp-core1.0 libmimalloc2.0 ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY build/bin/mesh-proxy /usr/local/bin/
# The uid mesh-init's iptables rules exempt from capture (DESIGN.md §2).
USER 1337:1337
EXPOSE 15001 15006 15000 15090
ENTRYPOINT ["/usr/local/bin/mesh-proxy"]
