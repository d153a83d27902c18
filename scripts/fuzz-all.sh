#!/usr/bin/env bash
# Runs every cargo-fuzz target (fuzz/fuzz_targets) until 10 million executions or the time
# limit, whichever comes first, and prints a row per target for docs/SECURITY.md "Fuzzing":
# executions, seconds, peak RSS, result. Not part of the tests (issue 14 asks for long runs).
#
#   scripts/fuzz-all.sh                         # every target, 30 min at most each, one at a time
#   FUZZ_TARGETS="sip_parse sdp_parse" FUZZ_JOBS=2 scripts/fuzz-all.sh
#
# Knobs: FUZZ_TARGETS (default: every target), FUZZ_RUNS (10000000), FUZZ_SECONDS (1800),
# FUZZ_JOBS (targets run side by side, 1), FUZZ_NICE (19: the fuzzers take only idle CPU),
# FUZZ_SANITIZER (address; "none" builds without a sanitizer: several times faster, and safe
# Rust has no undefined behaviour for it to catch, but unsafe code in dependencies then goes
# unchecked). Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz --locked`).
# A crash leaves its input in fuzz/artifacts/<target>/ and the row says so.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../fuzz"
RUNS=${FUZZ_RUNS:-10000000}
SECONDS_MAX=${FUZZ_SECONDS:-1800}
JOBS=${FUZZ_JOBS:-1}
NICE=${FUZZ_NICE:-19}
SAN=${FUZZ_SANITIZER:-address}
say() { printf '[fuzz-all] %s\n' "$*" >&2; }

cargo fuzz --version >/dev/null 2>&1 || { say "cargo-fuzz is missing: cargo install cargo-fuzz --locked"; exit 1; }
if [[ -n "${FUZZ_TARGETS:-}" ]]; then
    read -r -a targets <<<"$FUZZ_TARGETS"
else
    mapfile -t targets < <(cargo fuzz list)
fi
logs="$(mktemp -d /tmp/centralino-fuzz.XXXXXX)"
say "logs in $logs; building ${targets[*]} (sanitizer: $SAN)"
nice -n "$NICE" cargo +nightly fuzz build -s "$SAN" >&2

one() {
    local t="$1" log="$logs/$1.log" start end rc
    mkdir -p "corpus/$t" "seeds/$t"
    start=$(date +%s)
    # -runs and -max_total_time: whichever comes first; -print_final_stats for the counts.
    nice -n "$NICE" cargo +nightly fuzz run -s "$SAN" "$t" "corpus/$t" "seeds/$t" -- \
        -runs="$RUNS" -max_total_time="$SECONDS_MAX" -print_final_stats=1 >"$log" 2>&1 \
        && rc=0 || rc=$?
    end=$(date +%s)
    local execs rss result
    # "stat::number_of_executed_units: 123": the value is the last field.
    execs=$(awk '/^stat::number_of_executed_units/ {print $NF}' "$log" | tail -1)
    rss=$(awk '/^stat::peak_rss_mb/ {print $NF}' "$log" | tail -1)
    if [[ "$rc" == 0 ]]; then result="no crash"; else
        result="exit $rc: $(grep -m1 -E 'ERROR: libFuzzer|panicked at|SUMMARY' "$log" | cut -c1-160) (artifact in fuzz/artifacts/$t/)"
    fi
    printf '| %s | `%s` | %s | %s s | %s, peak RSS %s MB | `FUZZ_TARGETS=%s FUZZ_SANITIZER=%s scripts/fuzz-all.sh` |\n' \
        "$(date -u +%Y-%m-%d)" "$t" "$(printf "%'d" "${execs:-0}")" "$((end - start))" "$result" \
        "${rss:-?}" "$t" "$SAN" | tee "$logs/$t.row"
}

running=0
for t in "${targets[@]}"; do
    one "$t" &
    running=$((running + 1))
    if ((running >= JOBS)); then wait -n || true; running=$((running - 1)); fi
done
wait || true
say "rows:"
cat "$logs"/*.row
