# mcp-gateway in a small image: built in the Rust image, run from
# distroless as a non-root user, configured by a mounted TOML file.
#
#   docker build -f deploy/gateway.Dockerfile -t mcp-gateway .
#   docker run --rm -p 8080:8080 -v $PWD/gateway.toml:/etc/mcp-gateway/gateway.toml:ro mcp-gateway
#
# It listens on 0.0.0.0:$PORT (8080 here; Cloud Run sets its own) when the
# file's [listen] bind is 0.0.0.0, logs JSON lines on stderr, answers
# /healthz, /readyz and /metrics beside the endpoint, reloads the file
# when it changes (a ConfigMap update) or on SIGHUP, and on SIGTERM lets
# requests in flight finish ([listen] grace_secs) before it exits.
# Secrets are files under the [secrets] dir (mount them there). Stdio
# upstreams must be programs present in the image: build on this one
# (`FROM mcp-gateway` + `COPY`) to add them.

FROM rust:1.88-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p mcp-gateway \
    && cp target/release/mcp-gateway /usr/local/bin/mcp-gateway

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /usr/local/bin/mcp-gateway /usr/local/bin/mcp-gateway
USER nonroot:nonroot
ENV PORT=8080 \
    RUST_LOG=info \
    LOG_FORMAT=json
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=6s --start-period=5s --retries=3 \
    CMD ["/usr/local/bin/mcp-gateway", "probe"]
ENTRYPOINT ["/usr/local/bin/mcp-gateway", "serve"]
CMD ["/etc/mcp-gateway/gateway.toml"]
