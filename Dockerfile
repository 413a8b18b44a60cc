# tinyserver in a FROM scratch image: the static binary and nothing else.
#
#   docker build -t tinyserver .
#   docker run --rm -p 3000:3000 tinyserver
#
# The build stages run the same scripts as the host build (scripts/setup.sh,
# deps.sh, build.sh): there is no second recipe. They are kept textually
# identical to Dockerfile.alpine's, so the two images share their cached
# layers (a test checks that they match).
# Build arguments:
#   BUILDER_IMAGE  Debian 12 base for the build (default debian:bookworm-slim)
#   ALLOCATOR      mimalloc (default), mimalloc-secure, musl or jemalloc
#   VERSION, REVISION, SOURCE  version, VCS revision and repository URL for
#                  the OCI labels (scripts/container-images.sh passes them)

# --- builder: identical in Dockerfile and Dockerfile.alpine ------------------
ARG BUILDER_IMAGE=debian:bookworm-slim
# The application sources, gathered on an empty stage so that the builder
# takes them in one layer (each layer on top of the builder is a full copy
# with some storage drivers, e.g. podman's vfs). tests/ is needed because
# meson.build also builds the unit test programs.
FROM scratch AS sources
COPY meson.build meson.options meson_options.txt /src/
COPY tests/meson.build /src/tests/
COPY tests/unit/ /src/tests/unit/
COPY scripts/ /src/scripts/
COPY src/ /src/src/

# The builder runs on the machine that builds (BUILDPLATFORM) and
# cross-compiles for the image's architecture (TARGETARCH, set by
# --platform), so no stage needs emulation. Without BuildKit or buildah the
# two are unset: then it is a native build.
FROM --platform=$BUILDPLATFORM ${BUILDER_IMAGE} AS builder
WORKDIR /src
ARG TARGETARCH
# The dependency layer first: it depends only on the lock file and the scripts
# that fetch and build the pinned sources, so editing src/ reuses it.
COPY deps.lock ./
COPY scripts/setup.sh scripts/deps.sh scripts/
COPY scripts/lib/common.sh scripts/lib/arch.sh scripts/lib/apt-sources.sh scripts/lib/
COPY patches/ patches/
RUN arch=${TARGETARCH:-$(dpkg --print-architecture)} && \
    scripts/setup.sh build "cross-$arch" && scripts/deps.sh --arch "$arch"
# The application layer: rebuilt when any of the sources changes.
COPY --from=sources /src/ /src/
ARG ALLOCATOR=mimalloc
RUN scripts/build.sh --allocator "$ALLOCATOR" --arch "${TARGETARCH:-$(dpkg --print-architecture)}" \
    --builddir build
# --- end of builder -----------------------------------------------------------

FROM scratch
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG SOURCE=unknown
LABEL org.opencontainers.image.title="tinyserver" \
      org.opencontainers.image.description="Static musl HTTP microservice with mimalloc; GET /bench shows why the allocator matters" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="MIT AND LGPL-2.1-or-later"
# The binary is fully static and reads no files: no passwd, group, CA
# certificates or time zones are needed.
COPY --from=builder /src/build/src/tinyserver-stripped /tinyserver
# Numeric, so that Kubernetes runAsNonRoot can verify it without a passwd file.
USER 65532:65532
# 3000 is HTTP; 3443 serves HTTPS once TLS_CERT_FILE and TLS_KEY_FILE are set.
EXPOSE 3000 3443
STOPSIGNAL SIGTERM
# The binary checks itself (a scratch image has no shell or curl): GET
# /healthz on 127.0.0.1:$PORT. Set the port with the PORT variable, not
# --port, or the check will not know it.
HEALTHCHECK --interval=30s --timeout=3s --start-period=5s --retries=3 \
    CMD ["/tinyserver", "--healthcheck"]
ENTRYPOINT ["/tinyserver"]
