#!/usr/bin/env bash
# The whole test suite: exactly what CI runs (.ci/run calls this script).
# It installs what it needs and leaves the work tree unchanged.
set -euo pipefail
cd "$(dirname "$0")"

step() { printf '\n==> %s\n' "$*"; }

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

step "the flagship example runs"
cargo run --quiet --locked --example wire_check > /dev/null

step "tests"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
cargo test --workspace --all-targets --locked 2>&1 | tee "$log"
cargo test --workspace --doc --locked 2>&1 | tee -a "$log"
# One closing line for the whole run (cargo prints one per test binary).
awk '/^test result:/ { p += $4; f += $6 } END { printf "\nall tests: %d passed, %d failed\n", p, f }' "$log"
