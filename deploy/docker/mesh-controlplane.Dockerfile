# The control plane image (mesh-controlplane, meshctl and the injection
# webhook mesh-injector): Debian 12 with the shared libraries they link
# (tests/integration/test_images.py checks this list against the binaries),
# and the binaries from `make build`.
#   docker build -f deploy/docker/mesh-controlplane.Dockerfile -t mesh-controlplane:0.1.0 .
FROM debian:12-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libabsl20220623 libboost-json1.81.0 libc-ares2 libgrpc++1.51 libgrpc29 \
      libprometheus-cpp-core1.0 libprotobuf32 libre2-9 libssl3 libyaml-cpp0.7 zlib1g \
      ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY build/bin/mesh-controlplane build/bin/meshctl build/bin/mesh-injector /usr/local/bin/
USER 65532:65532
EXPOSE 15010 15014 15017
ENTRYPOINT ["/usr/local/bin/mesh-controlplane"]
