# The example MCP server (`examples/examples/http_server.rs`) in a small
# image: built in the Rust image, run from distroless as a non-root user.
#
#   docker build -f deploy/http_server.Dockerfile -t mcp-http-server .
#   docker run --rm -p 8080:8080 -e MCP_ALLOWED_HOSTS=localhost mcp-http-server
#
# It listens on 0.0.0.0:$PORT (8080 here; Cloud Run sets its own), logs
# JSON lines on stderr, answers /healthz, /readyz and /metrics beside /mcp,
# and on SIGTERM lets requests in flight finish (--grace, 10 s) before it
# exits. Options go after the image name: `... mcp-http-server --redis
# redis://redis:6379/ --state-key-file /run/secrets/mcp-state-key`.

FROM rust:1.88-bookworm AS build
WORKDIR /src
COPY . .
# Caches survive between builds (BuildKit); the binary is copied out of
# the cached target directory.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p examples --example http_server \
    && cp target/release/examples/http_server /usr/local/bin/http_server

# glibc, CA certificates and a `nonroot` user (65532), nothing else: no
# shell, no package manager.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /usr/local/bin/http_server /usr/local/bin/http_server
USER nonroot:nonroot
ENV PORT=8080 \
    RUST_LOG=info
EXPOSE 8080
# The binary probes itself: no curl in the image.
HEALTHCHECK --interval=15s --timeout=6s --start-period=5s --retries=3 \
    CMD ["/usr/local/bin/http_server", "--probe"]
ENTRYPOINT ["/usr/local/bin/http_server", "--log-json"]
