#!/usr/bin/env bash
# The whole check, as CI runs it (.ci/run): test dependencies, formatting, clippy with warnings
# as errors, every test of the workspace (unit, integration, SIP end-to-end with SIPp), doc tests.
# Exits non-zero on the first failing step (the test step itself runs every test: no fail-fast).
#
#   scripts/test.sh
#   CARGO_TARGET_DIR=/somewhere scripts/test.sh
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n==> %s\n' "$*"; }

step "test dependencies (scripts/install-test-deps.sh)"
bash scripts/install-test-deps.sh

step "cargo fmt --all -- --check"
cargo fmt --all -- --check

step "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

step "cargo test --workspace --doc"
cargo test --workspace --doc

# The whole suite last, so the run closes on its summary (CI reads the closing lines).
echo "(browser screenshots: ${CENTRALINO_ARTIFACTS:-target/test-artifacts}/e2e_web/)"
if cargo nextest --version >/dev/null 2>&1; then
    step "cargo nextest run --workspace --no-fail-fast"
    cargo nextest run --workspace --no-fail-fast
else
    step "cargo test --workspace --no-fail-fast (cargo-nextest not installed)"
    cargo test --workspace --no-fail-fast
fi
