# Tessera in a container: a multi-stage build, a small runtime image (no shell, no package manager), a
# non-root user, images mounted read-only at /images, configuration by TESSERA_* environment variables,
# and a health check on /health/ready (`tessera health`, so the image needs no curl).
#
#   docker build -t tessera .
#   docker run -p 8080:8080 -v /srv/images:/images:ro tessera
#
# Build arguments:
# - RUST_IMAGE: the toolchain the binary is compiled in (cargo and cc suffice: the C codecs are vendored).
# - RUNTIME_IMAGE: any glibc base; distroless/cc has just glibc, libgcc and CA certificates.
# - BINARY=prebuilt takes target/release/tessera from the build context instead of compiling it (how
#   tests/py/test_container.py builds it, with locally made base images and no registry).
# - NASM=0 skips installing Debian's nasm in the build stage; with it, mozjpeg assembles its SIMD code and
#   JPEG is written about 4x faster (scripts/test.sh does the same on the host). An offline build goes
#   on without it.
# - CARGO_FEATURES=nasm for faster AVIF output too (rav1e's assembly), when nasm is there.

ARG RUST_IMAGE=docker.io/library/rust:1-slim-bookworm
ARG RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot
ARG BINARY=compiled

FROM ${RUST_IMAGE} AS compiled
ARG CARGO_FEATURES=""
ARG NASM=1
RUN if [ "$NASM" = 1 ]; then \
      (apt-get update -q && apt-get install -y -q --no-install-recommends nasm \
        && rm -rf /var/lib/apt/lists/*) || echo "nasm not installed: JPEG is built without SIMD"; \
    fi
# No debug info in the image's binary (the workspace profile keeps it for profiling on the host).
ENV CARGO_PROFILE_RELEASE_DEBUG=0 \
    CARGO_PROFILE_RELEASE_STRIP=symbols
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p tessera --features "${CARGO_FEATURES}" \
 && install -D -m 0755 target/release/tessera /out/tessera

FROM scratch AS prebuilt
COPY target/release/tessera /out/tessera

FROM ${BINARY} AS binary

FROM ${RUNTIME_IMAGE}
COPY --from=binary /out/tessera /usr/local/bin/tessera
# The images (mount them read-only) and the sample config location; caches live under /tmp, which
# compose.yaml gives a volume.
ENV TESSERA_SERVER_LISTEN=0.0.0.0:8080 \
    TESSERA_IMAGES_ROOT=/images \
    TESSERA_CACHE_DIR=/tmp/tessera/derivatives \
    TESSERA_FETCH_CACHE_DIR=/tmp/tessera/source \
    TESSERA_LOG_FORMAT=json
# distroless's "nonroot" user; any unprivileged uid works (nothing in the image is written).
USER 65532:65532
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/tessera", "health"]
ENTRYPOINT ["/usr/local/bin/tessera"]
CMD ["serve"]
