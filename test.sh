#!/usr/bin/env bash
# The whole test suite: exactly what CI runs (.ci/run calls this script).
# It installs what it needs and leaves the work tree unchanged.
set -euo pipefail
cd "$(dirname "$0")"

step() { printf '\n==> %s\n' "$*"; }
bin="${CARGO_TARGET_DIR:-$PWD/target}/debug/examples"

step "formatting"
cargo fmt --all --check

step "lints"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "docs"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked --quiet

step "mcp-core has no async runtime or HTTP stack in its default tree"
if cargo tree -p mcp-core -e normal --locked | grep -E '\b(tokio|hyper|reqwest)\b'; then
    echo "error: mcp-core's default dependency tree must not contain tokio, hyper or reqwest" >&2
    exit 1
fi

step "each crate's features build alone, and pull in only their layer"
# refuse_in_tree CRATE FEATURES PATTERN: fails when the normal dependency
# tree of CRATE with only FEATURES has a crate matching PATTERN.
refuse_in_tree() {
    if cargo tree -p "$1" --no-default-features --features "$2" -e normal --locked | grep -E "$3"; then
        echo "error: $1 with features '$2' must not depend on the crates above" >&2
        exit 1
    fi
}
refuse_in_tree mcp-server stdio '\b(hyper|tower-http|reqwest)\b'
refuse_in_tree mcp-client stdio '\b(reqwest|rustls)\b'
refuse_in_tree mcp-auth server '\bmcp-client\b'
for build in "mcp-server stdio" "mcp-server http" "mcp-server otel" "mcp-server redis" "mcp-client stdio" "mcp-client http" "mcp-client otel" \
             "mcp-auth server" "mcp-auth client"; do
    set -- $build
    cargo clippy --quiet --locked -p "$1" --no-default-features --features "$2" -- -D warnings
done
echo "features: stdio, http and otel of mcp-server and mcp-client, redis of mcp-server, server and client of mcp-auth, each alone"

step "the examples run"
cargo build --quiet --locked --examples
out="$("$bin/stdio_client" --call echo --args '{"message":"flagship"}' "$bin/stdio_server" 2> /dev/null)"
grep -q flagship <<< "$out" || { echo "error: stdio_client could not call the stdio_server example" >&2; exit 1; }
"$bin/wire_check" > /dev/null
# call_over_http EXAMPLE MESSAGE: http_client calls echo on EXAMPLE, which
# binds a free port and prints its URL.
call_over_http() {
    local pid url out
    exec 3< <("$bin/$1" --bind 127.0.0.1:0 2> /dev/null)
    pid=$!
    read -r url <&3
    out="$("$bin/http_client" --call echo --args "{\"message\":\"$2\"}" "$url" 2> /dev/null)" || true
    kill "$pid"
    exec 3<&-
    grep -q "$2" <<< "$out" || { echo "error: http_client could not call the $1 example" >&2; exit 1; }
}
call_over_http http_server over-http
call_over_http axum_mount inside-axum

step "the getting-started programs build from the guide, as printed"
# The workspace's dev profile, so that the scratch crates below reuse the
# dependencies already built instead of building them again with other settings.
scratch_profile="$(awk '/^\[profile\.dev/ { on = 1 } /^\[/ && !/^\[profile\.dev/ { on = 0 } on' Cargo.toml)"
# printed_crate GUIDE N NAME: the guide's N-th dependency block and the Rust
# block after it, as a crate of its own with the repository's crates patched
# to these folders and the rest fetched as a newcomer's build would: the
# guide cannot drift from what builds.
printed_crate() {
    local dir="$PWD/target/scratch/$3"
    rm -rf "$dir"
    mkdir -p "$dir/src"
    block() { awk -v lang="$1" -v n="$2" '/^```toml/ { t++ }
        t == n && $0 ~ "^```" lang { on = 1; next }
        on && /^```/ { exit }
        on' "$GUIDE"; }
    GUIDE="$1" block rust "$2" > "$dir/src/main.rs"
    {
        printf '[package]\nname = "%s"\nversion = "0.0.0"\nedition = "2024"\npublish = false\n\n[workspace]\n\n%s\n' "$3" "$scratch_profile"
        GUIDE="$1" block toml "$2" | sed -E "s|^(mcp-[a-z]+) = \{ git = \"[^\"]+\" \}|\1 = { path = \"$PWD/\1\" }|"
    } > "$dir/Cargo.toml"
    if grep -q 'git = ' "$dir/Cargo.toml" || [ ! -s "$dir/src/main.rs" ]; then
        echo "error: $1 block $2: no program, or a dependency this check does not patch" >&2
        exit 1
    fi
    CARGO_TARGET_DIR="$PWD/target" cargo build --quiet --manifest-path "$dir/Cargo.toml"
}
printed_crate docs/getting-started.md 1 getting-started
scratch="$PWD/target/scratch/getting-started"
lines="$(wc -l < "$scratch/src/main.rs")"
sdk_deps="$(grep -c '^mcp-' "$scratch/Cargo.toml" || true)"
if [ "$lines" -gt 12 ] || [ "$sdk_deps" -ne 1 ]; then
    echo "error: the getting-started server must be at most 12 lines with one SDK dependency ($lines lines, $sdk_deps SDK dependencies)" >&2
    exit 1
fi
echo "getting-started: $lines lines of Rust, one SDK dependency, builds as printed"
printed_crate docs/getting-started.md 2 getting-started-axum
echo "getting-started: the server mounted in axum builds as printed"

step "the server, client and auth guides build as crates of their own"
# guide_crate GUIDE NAME: a crate made of the guide alone: its first toml
# block as the manifest (the repository's crates patched to
# these folders), each Rust block that is not `ignore` as a module of one
# test file, its hidden lines shown and wrapped in `main` as rustdoc does.
guide_crate() {
    local dir="$PWD/target/scratch/$2"
    rm -rf "$dir"
    mkdir -p "$dir/src" "$dir/tests"
    : > "$dir/src/lib.rs"
    {
        printf '[package]\nname = "%s"\nversion = "0.0.0"\nedition = "2024"\npublish = false\n\n[workspace]\n\n%s\n' "$2" "$scratch_profile"
        awk '/^```toml/ { on = 1; next } on && /^```/ { exit } on' "$1" \
            | sed -E "s|^(mcp-[a-z]+) = \{ git = \"[^\"]+\" \}|\1 = { path = \"$PWD/\1\" }|"
    } > "$dir/Cargo.toml"
    if grep -q 'git = ' "$dir/Cargo.toml"; then
        echo "error: $1 depends on a repository this check does not patch" >&2
        exit 1
    fi
    awk '
        /^```rust/ && !/ignore/ { on = 1; n++; code = ""; next }
        on && /^```/ {
            on = 0
            print "#[allow(dead_code, unused)]\nmod block_" n " {"
            if (code ~ /fn main/) print code; else print "pub fn main() {\n" code "}"
            print "}"
            next
        }
        on {
            line = $0
            if (line ~ /^[ \t]*#$/) line = ""
            else if (line ~ /^[ \t]*# /) sub(/# /, "", line)
            code = code line "\n"
        }
    ' "$1" > "$dir/tests/guide.rs"
    CARGO_TARGET_DIR="$PWD/target" cargo test --quiet --no-run --manifest-path "$dir/Cargo.toml"
    echo "$1: $(grep -c '^mod block_' "$dir/tests/guide.rs") blocks build as a crate of their own"
}
guide_crate docs/server-guide.md server-guide
guide_crate docs/client-guide.md client-guide
guide_crate docs/auth.md auth-guide

step "interop: the MCP Inspector CLI lists and calls the example server's tools"
# The Inspector needs Node 22.19+; a pinned Node 22 comes from npm, so the
# machine's own Node version does not matter.
tools="$PWD/.tools/npm"
if [ ! -x "$tools/node_modules/.bin/mcp-inspector" ]; then
    npm install --silent --no-audit --no-fund --prefix "$tools" \
        node@22.23.3 @modelcontextprotocol/inspector@2.12.0 > /dev/null
fi
server="$bin/stdio_server"
# expect PATTERN ARGS…: the Inspector's output for ARGS contains PATTERN.
expect() {
    local pattern="$1" out
    shift
    out="$(PATH="$tools/node_modules/.bin:$PATH" mcp-inspector --cli "$@" -- "$server" 2> /dev/null)" || true
    grep -qF "$pattern" <<< "$out" || { echo "error: Inspector CLI $*: no '$pattern' in: $out" >&2; exit 1; }
}
expect '"name": "echo"' --method tools/list
expect '"text": "inspector-says-hi"' --method tools/call --tool-name echo --tool-arg message=inspector-says-hi
expect '"uri": "memo://readme"' --method resources/read --uri memo://readme
echo "inspector: tools/list, tools/call and resources/read answered"

step "conformance: the official MCP conformance suites, server and client side"
# Two pinned lines of @modelcontextprotocol/conformance, side by side under
# npm aliases; they run on the Node 22 installed above.
for pkg in conformance-0.1.16@npm:@modelcontextprotocol/conformance@0.1.16 \
           conformance-0.2.0@npm:@modelcontextprotocol/conformance@0.2.0-alpha.12; do
    if [ ! -f "$tools/node_modules/${pkg%%@*}/package.json" ]; then
        npm install --silent --no-audit --no-fund --prefix "$tools" "$pkg" > /dev/null
    fi
done
node="$tools/node_modules/.bin/node"
conformance() {
    local version="$1" out
    shift
    out="$(PATH="$tools/node_modules/.bin:$PATH" "$node" \
        "$tools/node_modules/conformance-$version/dist/index.js" "$@" 2>&1)" || {
        echo "$out" | tail -40 >&2
        echo "error: conformance $version $* failed" >&2
        exit 1
    }
    printf 'conformance %s %s: %s\n' "$version" "$*" "$(grep -E '^(Total: |Passed: )' <<< "$out" | tail -1)"
}
exec 3< <("$bin/conformance_server" --bind 127.0.0.1:0 2> /dev/null)
server_pid=$!
read -r url <&3
conformance 0.1.16 server --url "$url" --suite all
for version in 2025-06-18 2025-11-25 2026-07-28; do
    conformance 0.2.0 server --url "$url" --suite all --spec-version "$version"
done
kill "$server_pid"
exec 3<&-
# Client scenarios one at a time: sse-retry measures reconnect timing.
for scenario in initialize tools_call elicitation-sep1034-client-defaults sse-retry \
                request-metadata sep-2322-client-request-state http-standard-headers \
                http-custom-headers http-invalid-tool-headers json-schema-ref-no-deref \
                json-schema-2020-12-preservation; do
    conformance 0.2.0 client --command "$bin/conformance_client" --scenario "$scenario"
done
# auth_scenario NAME [REVISION…]: an auth scenario at each revision it
# belongs to (none for an extension).
auth_scenario() {
    local scenario="$1" version
    shift
    if [ $# -eq 0 ]; then
        conformance 0.2.0 client --command "$bin/conformance_client" --scenario "$scenario"
    fi
    for version in "$@"; do
        conformance 0.2.0 client --command "$bin/conformance_client" --scenario "$scenario" \
            --spec-version "$version"
    done
}
auth_scenario auth/metadata-default 2025-11-25 2026-07-28
auth_scenario auth/metadata-var1 2025-11-25 2026-07-28
auth_scenario auth/metadata-var2 2025-11-25 2026-07-28
auth_scenario auth/metadata-var3 2025-11-25 2026-07-28
auth_scenario auth/basic-cimd 2025-11-25 2026-07-28
auth_scenario auth/scope-from-www-authenticate 2025-11-25 2026-07-28
auth_scenario auth/scope-from-scopes-supported 2025-11-25 2026-07-28
auth_scenario auth/scope-omitted-when-undefined 2025-11-25 2026-07-28
auth_scenario auth/scope-step-up 2025-11-25 2026-07-28
auth_scenario auth/scope-retry-limit 2025-11-25 2026-07-28
auth_scenario auth/token-endpoint-auth-basic 2025-06-18 2025-11-25 2026-07-28
auth_scenario auth/token-endpoint-auth-post 2025-06-18 2025-11-25 2026-07-28
auth_scenario auth/token-endpoint-auth-none 2025-06-18 2025-11-25 2026-07-28
auth_scenario auth/pre-registration 2025-11-25 2026-07-28
auth_scenario auth/2025-03-26-oauth-metadata-backcompat 2025-03-26
auth_scenario auth/2025-03-26-oauth-endpoint-fallback 2025-03-26
auth_scenario auth/resource-mismatch 2026-07-28
auth_scenario auth/offline-access-scope 2026-07-28
auth_scenario auth/offline-access-not-supported 2026-07-28
auth_scenario auth/authorization-server-migration 2026-07-28
auth_scenario auth/iss-supported 2026-07-28
auth_scenario auth/iss-not-advertised 2026-07-28
auth_scenario auth/iss-supported-missing 2026-07-28
auth_scenario auth/iss-wrong-issuer 2026-07-28
auth_scenario auth/iss-unexpected 2026-07-28
auth_scenario auth/iss-normalized 2026-07-28
auth_scenario auth/metadata-issuer-mismatch 2026-07-28
auth_scenario auth/client-credentials-jwt
auth_scenario auth/client-credentials-basic

step "the auth example against the test authorization server"
# The authorization tests run a real OAuth server, examples/oidc/as.mjs, on
# the Node 22 above; oidc-provider is pinned here and in
# examples/oidc/package.json. The tests find both through these variables.
if ! grep -qs '"version": "9.13.3"' "$tools/node_modules/oidc-provider/package.json"; then
    npm install --silent --no-audit --no-fund --save-exact --prefix "$tools" oidc-provider@9.13.3 > /dev/null
fi
export MCP_TEST_NODE="$node" MCP_TEST_NODE_MODULES="$tools/node_modules"
# The OAuth flows are in the Rust tests (examples/tests/it/auth_e2e.rs); here
# the binary, as documented: no token gets 401 naming the metadata URL, an API
# key gets in.
key="test-sh-api-key-0123456789abcdef0123456789abcdef"
exec 4< <("$node" examples/oidc/as.mjs 2> /dev/null)
as_pid=$!
read -r -t 60 ready <&4 || true
issuer="${ready#READY }"
exec 5< <("$bin/auth_server" --issuer "$issuer" --bind 127.0.0.1:0 \
    --api-key-hash "$(printf %s "$key" | sha256sum | cut -d' ' -f1):test-sh:mcp:read" 2> /dev/null)
auth_pid=$!
read -r -t 60 url <&5 || true
refused="$("$bin/http_client" "$url" 2>&1 > /dev/null)" || true
out="$(MCP_AUTHORIZATION="Bearer $key" "$bin/http_client" --call whoami "$url" 2> /dev/null)" || true
kill "$auth_pid" "$as_pid" 2> /dev/null || true
exec 4<&- 5<&-
grep -qF "HTTP 401 (WWW-Authenticate: Bearer resource_metadata=\"${url%/mcp}/.well-known/oauth-protected-resource/mcp\"" <<< "$refused" \
    || { echo "error: auth_server (issuer '$issuer', url '$url') did not refuse a call without a token: $refused" >&2; exit 1; }
grep -qF '"subject":"test-sh"' <<< "$out" \
    || { echo "error: auth_server did not accept its API key: $out" >&2; exit 1; }
echo "auth_server: 401 without a token, whoami with an API key"

step "test tools from PyPI: the Prometheus text parser, OpenTelemetry's protobuf definitions, the MCP Python SDK"
# A virtual environment under .tools/, pinned; the telemetry tests and the
# gateway's peer tests (the official Python SDK) find its Python through
# MCP_TEST_PYTHON.
venv="$PWD/.tools/venv"
if ! "$venv/bin/python" -c 'import prometheus_client, opentelemetry.proto, mcp' 2> /dev/null; then
    python3 -m venv "$venv" 2> /dev/null || {
        rm -rf "$venv"
        apt-get update -qq && apt-get install -y -qq python3-venv > /dev/null
        python3 -m venv "$venv"
    }
    "$venv/bin/pip" install --quiet --disable-pip-version-check \
        prometheus-client==0.26.0 opentelemetry-proto==1.45.2 protobuf==7.36.2 mcp==1.30.0
fi
export MCP_TEST_PYTHON="$venv/bin/python"
echo "python: $("$MCP_TEST_PYTHON" --version), $("$venv/bin/pip" list 2> /dev/null | grep -E '^(prometheus-client|opentelemetry-proto|protobuf|mcp) ' | tr -s ' ' | paste -sd,)"

step "Redis: instances of the example server sharing one"
# Debian's redis-server; the Redis tests start servers of their own with it
# (they stop and restart them), found through MCP_TEST_REDIS_SERVER.
if ! command -v redis-server > /dev/null; then
    apt-get update -qq && apt-get install -y -qq redis-server > /dev/null
fi
export MCP_TEST_REDIS_SERVER="$(command -v redis-server)"
redis_port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
redis-server --bind 127.0.0.1 --port "$redis_port" --save '' --appendonly no > /dev/null &
redis_pid=$!
for _ in $(seq 100); do redis-cli -p "$redis_port" ping > /dev/null 2>&1 && break; sleep 0.1; done
state_key="$(mktemp)"
printf 'a request-state key shared by the instances of test.sh' > "$state_key"
# A session opened on one instance answers on the other.
exec 6< <("$bin/http_server" --bind 127.0.0.1:0 --redis "redis://127.0.0.1:$redis_port/" --state-key-file "$state_key" 2> /dev/null)
a_pid=$!
exec 7< <("$bin/http_server" --bind 127.0.0.1:0 --redis "redis://127.0.0.1:$redis_port/" --state-key-file "$state_key" 2> /dev/null)
b_pid=$!
read -r -t 60 url_a <&6 || true
read -r -t 60 url_b <&7 || true
legacy=(-s -H 'content-type: application/json' -H 'accept: application/json, text/event-stream' -H 'mcp-protocol-version: 2025-11-25')
session="$(curl "${legacy[@]}" -D - -o /dev/null "$url_a" -d '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"test.sh","version":"1"}}}' \
    | tr -d '\r' | awk -F': ' 'tolower($1) == "mcp-session-id" { print $2 }')"
curl "${legacy[@]}" -o /dev/null -H "mcp-session-id: $session" "$url_b" -d '{"jsonrpc":"2.0","method":"notifications/initialized"}'
out="$(curl "${legacy[@]}" -H "mcp-session-id: $session" "$url_b" -d '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"message":"across-instances"}}}')"
kill "$a_pid" "$b_pid" "$redis_pid" 2> /dev/null || true
exec 6<&- 7<&-
rm -f "$state_key"
grep -q across-instances <<< "$out" \
    || { echo "error: a session opened on one http_server did not answer on another: $out" >&2; exit 1; }
echo "redis $(redis-server --version | awk '{print $3}'): a session opened on one instance answered on another"

step "tests"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
cargo test --workspace --all-targets --locked 2>&1 | tee "$log"
cargo test --workspace --doc --locked 2>&1 | tee -a "$log"
# One closing line for the whole run (cargo prints one per test binary).
awk '/^test result:/ { p += $4; f += $6 } END { printf "\nall tests: %d passed, %d failed\n", p, f }' "$log"
