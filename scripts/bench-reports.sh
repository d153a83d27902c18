#!/usr/bin/env bash
# Reports over a synthetic year (issue 15): generates the year of a 200,000-contact center
# with `centralino reports synth` into a fresh SQLite file and a fresh PostgreSQL database
# (127.0.0.1:5432, trust auth), then times the monthly SLA report and the yearly queue report
# through the functions the reports API calls, cold and warm (crates/console/examples/
# bench_reports.rs). Prints the figures and the load average.
#
#   scripts/bench-reports.sh [calls]          (default 200000)
#   BACKENDS="sqlite" scripts/bench-reports.sh
set -euo pipefail
cd "$(dirname "$0")/.."
CALLS="${1:-200000}"
BACKENDS="${BACKENDS:-sqlite postgres}"
PG_ADMIN="${CENTRALINO_TEST_PG:-postgres://postgres@127.0.0.1:5432/postgres}"

# Two builds: with --example, cargo builds only that example, not the package's binary.
cargo build --release -p centralino --bin centralino
cargo build --release -p console --example bench_reports
BIN=target/release/centralino
BENCH=target/release/examples/bench_reports
WORK="$(mktemp -d)"
DB="bench_reports_$$"
cleanup() {
    rm -rf "$WORK"
    psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
}
trap cleanup EXIT

for backend in $BACKENDS; do
    case "$backend" in
        sqlite) URL="sqlite://$WORK/centralino.db?mode=rwc" ;;
        postgres)
            psql "$PG_ADMIN" -qc "CREATE DATABASE $DB" >/dev/null
            URL="${PG_ADMIN%/*}/$DB" ;;
        *) echo "unknown backend $backend" >&2; exit 2 ;;
    esac
    echo "== $backend: $CALLS calls over 2025 (load average $(cut -d' ' -f1-3 /proc/loadavg))"
    start=$(date +%s.%N)
    DATABASE_URL="$URL" RUST_LOG=info "$BIN" reports synth --calls "$CALLS" --data "$WORK/data-$backend" 2>&1 \
        | grep -E "synthetic year written|report facts up to date" | sed 's/^/   /'
    echo "   generate + facts: $(echo "$(date +%s.%N) - $start" | bc) s"
    "$BENCH" "$URL" 2025 | sed 's/^/   /'
    echo "   load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
done
