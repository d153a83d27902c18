#!/usr/bin/env bash
# E-mail ingest (issue 16): messages per second from an IMAP mailbox into tickets. Starts the
# test mail system (dovecot + postfix on loopback, crates/mail/tests/common: needs root and
# scripts/install-test-deps.sh), appends N messages over IMAP, times the fetcher filing them
# (crates/mail/examples/bench_ingest.rs) on SQLite and on a fresh PostgreSQL database
# (127.0.0.1:5432, trust auth). Prints the figures and the load average.
#
#   scripts/bench-mail-ingest.sh [messages]          (default 2000)
#   PROFILE=dev BACKENDS="sqlite" scripts/bench-mail-ingest.sh 500
#   BACKENDS=postgres INGEST_ARGS=--pg-async-commit scripts/bench-mail-ingest.sh
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-2000}"
BACKENDS="${BACKENDS:-sqlite postgres}"
PROFILE="${PROFILE:-release}"
PG_ADMIN="${CENTRALINO_TEST_PG:-postgres://postgres@127.0.0.1:5432/postgres}"
DB="bench_mail_$$"
cleanup() { psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true; }
trap cleanup EXIT

flag=(--release); [[ "$PROFILE" == dev ]] && flag=()
for backend in $BACKENDS; do
    case "$backend" in
        sqlite) extra=() ;;
        postgres)
            psql "$PG_ADMIN" -qc "CREATE DATABASE $DB"
            extra=(--pg "${PG_ADMIN%/*}/$DB") ;;
        *) echo "unknown backend $backend" >&2; exit 2 ;;
    esac
    echo "== $backend ($PROFILE)"
    # shellcheck disable=SC2086 # INGEST_ARGS is a list of flags
    cargo run -q "${flag[@]}" -p mail --example bench_ingest -- "$N" "${extra[@]}" ${INGEST_ARGS:-}
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
