#!/bin/sh
# Fault drills at the issue's lengths (issue 14): the end-to-end drills of tests/e2e_drills.rs
# with the database away for 60 s (the suite runs them with a 20 s outage). kill -9 and the
# full disk run as in the suite. Needs what the suite needs (sipp, sqlite3; root for the
# full disk). Prints nextest's summary; the outage drill alone takes about 2 minutes.
#
#   scripts/drill-faults.sh                 # every drill, 60 s outage
#   CENTRALINO_DRILL_OUTAGE_S=120 scripts/drill-faults.sh database_outage
set -eu
cd "$(dirname "$0")/.."
export CARGO_PROFILE_DEV_DEBUG=line-tables-only
export CENTRALINO_DRILL_OUTAGE_S="${CENTRALINO_DRILL_OUTAGE_S:-60}"
echo "drill: database outage of ${CENTRALINO_DRILL_OUTAGE_S} s; started $(date -u +%FT%TZ)"
cargo nextest run -p centralino --test e2e_drills --no-fail-fast "$@"
echo "drill: finished $(date -u +%FT%TZ)"
