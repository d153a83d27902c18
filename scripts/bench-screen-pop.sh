#!/usr/bin/env bash
# Screen-pop latency benchmark (issue 6; not part of the tests; see docs/PERFORMANCE.md): the
# time from the agent phone's 200 OK to call.connected (with the Service Request) on the
# agent's WebSocket /api/v1/events, p50/p99/max over N calls, against a release
# `centralino serve` with the demo configuration on free loopback ports.
#
#   scripts/bench-screen-pop.sh                 # 200 calls, 5 calls per second offered
#   BENCH_CALLS=50 BENCH_RATE=2 scripts/bench-screen-pop.sh
#   BENCH_NO_BUILD=1 scripts/bench-screen-pop.sh
#   BENCH_SAMPLES=/tmp/pop.csv scripts/bench-screen-pop.sh   # every call's figures as CSV
#
# The program (crates/console/examples/screen_pop_latency.rs) is the agent's phone and the
# agent's desktop at once, so both instants come from one monotonic clock; SIPp plays the
# callers. Bounded: SIPp has -m and -timeout, every wait in the program has a deadline.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
CALLS=${BENCH_CALLS:-200}
RATE=${BENCH_RATE:-5}
target="${CARGO_TARGET_DIR:-target}"

if [[ -z "${BENCH_NO_BUILD:-}" ]]; then
    cargo build --release -p centralino
    cargo build --release -p console --example screen_pop_latency
fi
echo "command: $0 (BENCH_CALLS=$CALLS BENCH_RATE=$RATE) on $(nproc) CPUs, $(date -u +%FT%TZ)"
exec "$target/release/examples/screen_pop_latency" \
    --centralino "$target/release/centralino" --calls "$CALLS" --rate "$RATE" \
    ${BENCH_SAMPLES:+--samples "$BENCH_SAMPLES"}
