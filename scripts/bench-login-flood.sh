#!/usr/bin/env bash
# SIP OPTIONS latency while 50 clients send wrong logins back to back (issue 13; not part of
# the tests; see docs/PERFORMANCE.md "Issue 13").
#
# Starts the release binary on loopback (demo data: its users and argon2id at the default
# cost, 19 MiB and 2 passes), then measures the round trip of SIP OPTIONS sent every 20 ms
# (scripts/bench-login-flood.py probe) first idle, then while BENCH_WORKERS (50) threads each
# post wrong logins back to back (… flood). The login limits are raised for the run
# ([http.login]), so every login pays its argon2 check instead of being answered 429;
# BENCH_DEFAULT_LIMITS=1 keeps the defaults (the flood then mostly gets 429s).
#
#   scripts/bench-login-flood.sh
#   BENCH_NO_BUILD=1 BENCH_SECONDS=20 scripts/bench-login-flood.sh
#   BENCH_BIN=/path/to/other/centralino BENCH_NO_BUILD=1 scripts/bench-login-flood.sh
#
# Knobs (environment): BENCH_SECONDS (15 per phase), BENCH_WORKERS (50), BENCH_SIP_PORT
# (15160), BENCH_HTTP_PORT (18180), BENCH_HASH_THREADS (0: the default), BENCH_BIN, BENCH_NO_BUILD.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root_dir="$(pwd)"
SECONDS_PER_PHASE=${BENCH_SECONDS:-15}
WORKERS=${BENCH_WORKERS:-50}
SIP_PORT=${BENCH_SIP_PORT:-15160}
HTTP_PORT=${BENCH_HTTP_PORT:-18180}

say() { printf '[bench] %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }
command -v python3 >/dev/null || die "python3 is needed"
command -v curl >/dev/null || die "curl is needed"

work="$(mktemp -d /tmp/centralino-login-bench.XXXXXX)"
say "logs in $work"

target="${CARGO_TARGET_DIR:-$root_dir/target}"
if [[ -z "${BENCH_NO_BUILD:-}" ]]; then
    say "cargo build --release -p centralino"
    cargo build --release -p centralino >&2
fi
bin="${BENCH_BIN:-$target/release/centralino}"
[[ -x "$bin" ]] || die "no binary at $bin"

{
    printf '[database]\ndemo_data = true\n\n'
    if [[ -z "${BENCH_DEFAULT_LIMITS:-}" ]]; then
        printf '[http.login]\nmax_failures_per_login = 1000\nmax_failures_per_address = 1000000\n'
        [[ "${BENCH_HASH_THREADS:-0}" != 0 ]] && printf 'hash_threads = %s\n' "$BENCH_HASH_THREADS"
    fi
} >"$work/bench.toml"
# A binary older than [http.login] refuses the section: give it the database part only.
if ! "$bin" check-config "$work/bench.toml" >/dev/null 2>&1; then
    say "this binary does not know [http.login]: running it without"
    printf '[database]\ndemo_data = true\n' >"$work/bench.toml"
fi

server_pid=""
cleanup() {
    if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        for _ in $(seq 1 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$server_pid" 2>/dev/null || true
    fi
}
trap cleanup EXIT

say "starting $bin serve (SIP 127.0.0.1:$SIP_PORT, HTTP 127.0.0.1:$HTTP_PORT)"
RUST_LOG=${RUST_LOG:-error} NO_COLOR=1 "$bin" serve --config "$work/bench.toml" --data "$work/data" \
    --sip-listen "127.0.0.1:$SIP_PORT" --http-listen "127.0.0.1:$HTTP_PORT" \
    </dev/null >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 300); do
    curl -fsS -m 1 "http://127.0.0.1:$HTTP_PORT/api/v1/health" >/dev/null 2>&1 && break
    kill -0 "$server_pid" 2>/dev/null || { tail -20 "$work/server.log" >&2; die "the server exited"; }
    sleep 0.1
done
curl -fsS -m 1 "http://127.0.0.1:$HTTP_PORT/api/v1/health" >/dev/null || die "the server is not healthy"

py="$root_dir/scripts/bench-login-flood.py"
say "idle: OPTIONS every 20 ms for $SECONDS_PER_PHASE s"
idle=$(python3 "$py" probe "$SIP_PORT" "$SECONDS_PER_PHASE")
say "flood: $WORKERS concurrent wrong logins for $SECONDS_PER_PHASE s, OPTIONS every 20 ms meanwhile"
python3 "$py" flood "$HTTP_PORT" "$((SECONDS_PER_PHASE + 2))" "$WORKERS" >"$work/flood.json" &
flood_pid=$!
sleep 1 # let the flood ramp up before the probe starts measuring
busy=$(python3 "$py" probe "$SIP_PORT" "$SECONDS_PER_PHASE")
wait "$flood_pid"
printf 'idle  OPTIONS: %s\n' "$idle"
printf 'flood OPTIONS: %s\n' "$busy"
printf 'flood logins : %s\n' "$(cat "$work/flood.json")"
