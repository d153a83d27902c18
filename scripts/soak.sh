#!/usr/bin/env bash
# Soak (issue 14; not part of the tests, see docs/PERFORMANCE.md "Issue 14: soak"): N
# concurrent calls held for a long time with churn, calls ending and new ones starting all the
# time, while the server's resources are sampled every minute. It shows whether anything
# grows: resident memory, live SIP transactions and dialogs, media legs, open descriptors (two
# per RTP port pair), threads.
#
#   scripts/soak.sh                                   # 500 calls, 30 minutes, 30 s calls
#   SOAK_MINUTES=3 SOAK_CALLS=100 scripts/soak.sh     # a quick look
#
# Calls: SIPp's uac_load_stream.xml (1 kHz PCMU toward the server, 50 packets/s each), at most
# SOAK_CALLS at once (-l), each SOAK_HOLD_S long, started at SOAK_CALLS / SOAK_HOLD_S per
# second, so about SOAK_CALLS are up at any time and the whole population turns over every
# SOAK_HOLD_S. The server plays hold music to every caller and listens for keys.
#
# Knobs: SOAK_BIN (default target/release/centralino, built unless SOAK_NO_BUILD=1),
# SOAK_MINUTES (30), SOAK_CALLS (500), SOAK_HOLD_S (30, a multiple of 5), SOAK_WARMUP_S (180:
# the first sample compared), SOAK_SAMPLE_S (60), SOAK_SIP_PORT (17060), SOAK_HTTP_PORT (18280),
# SOAK_CONFIG_EXTRA (TOML appended to the server's configuration), SOAK_HEAPTRACK=1 (run the
# server under heaptrack; its recording is left in the work directory for heaptrack_print).
# SIPp is bounded (-m, -timeout, timeout(1)); only 127.0.0.1 is used.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root_dir="$(pwd)"
sipp_dir="$root_dir/tests/sipp"
MINUTES=${SOAK_MINUTES:-30}
CALLS=${SOAK_CALLS:-500}
HOLD=${SOAK_HOLD_S:-30}
WARMUP=${SOAK_WARMUP_S:-180}
SAMPLE=${SOAK_SAMPLE_S:-60}
SIP_PORT=${SOAK_SIP_PORT:-17060}
HTTP_PORT=${SOAK_HTTP_PORT:-18280}
SIPP_PORT=$((SIP_PORT + 10))
SIPP_MEDIA_PORT=$((SIP_PORT + 20))
SIPP_STREAM_PORT=${SOAK_STREAM_PORT:-40000}
say() { printf '[soak] %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

command -v sipp >/dev/null || die "sipp is not installed (scripts/install-test-deps.sh)"
command -v curl >/dev/null || die "curl is needed to read /metrics"
((HOLD % 5 == 0)) || die "SOAK_HOLD_S must be a multiple of 5 (the scenario's rounds)"
((WARMUP < MINUTES * 60)) || WARMUP=$((MINUTES * 60 / 4))

BIN=${SOAK_BIN:-$root_dir/target/release/centralino}
if [[ -z "${SOAK_NO_BUILD:-}" && -z "${SOAK_BIN:-}" ]]; then
    say "cargo build --release -p centralino"
    cargo build --release -p centralino >&2
fi
[[ -x "$BIN" ]] || die "no binary at $BIN"

work="$(mktemp -d /tmp/centralino-soak.XXXXXX)"
say "logs and samples in $work"
cat >"$work/soak.toml" <<EOF
[sip]
max_calls = 5000

[media]
rtp_port_min = 20000
rtp_port_max = 29999

[call]
answer_delay_ms = 0

# Every caller hears the hold music while the IVR listens for keys until SIPp hangs up.
[ivr]
default_entry = "listen"
[ivr.nodes.listen]
kind = "collect"
prompts = "hold_music"
store = "digits"
max_digits = 64
terminator = ""
digit_timeout_ms = 3600000
inter_digit_timeout_ms = 3600000
next = "bye"
[ivr.nodes.bye]
kind = "hangup"
EOF
# Extra configuration for an experiment, appended as is (e.g. a [database] setting).
if [[ -n "${SOAK_CONFIG_EXTRA:-}" ]]; then printf '%s\n' "$SOAK_CONFIG_EXTRA" >>"$work/soak.toml"; fi

ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

server_pid=""
sipp_pid=""
cleanup() {
    if [[ -n "$sipp_pid" ]]; then kill -KILL -- "-$sipp_pid" 2>/dev/null || true; fi
    if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        for _ in $(seq 1 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$server_pid" 2>/dev/null || true
    fi
}
trap cleanup EXIT

say "starting $BIN serve (SIP 127.0.0.1:$SIP_PORT, HTTP 127.0.0.1:$HTTP_PORT)"
wrapper=()
if [[ -n "${SOAK_HEAPTRACK:-}" ]]; then
    command -v heaptrack >/dev/null || die "SOAK_HEAPTRACK needs heaptrack (apt-get install heaptrack)"
    wrapper=(heaptrack -o "$work/heaptrack")
    say "under heaptrack: $work/heaptrack.*"
fi
RUST_LOG=${RUST_LOG:-warn} NO_COLOR=1 setsid "${wrapper[@]}" "$BIN" serve --config "$work/soak.toml" \
    --data "$work/data" --sip-listen "127.0.0.1:$SIP_PORT" --http-listen "127.0.0.1:$HTTP_PORT" \
    </dev/null >"$work/server.log" 2>&1 &
server_pid=$!
if ((${#wrapper[@]})); then
    # heaptrack runs the server as its child: sample the server itself.
    for _ in $(seq 1 100); do
        child="$(pgrep -n -f -- "^$BIN serve" || true)"
        [[ -n "$child" ]] && break
        sleep 0.1
    done
    [[ -n "$child" ]] || die "no server process under heaptrack"
    server_pid=$child
fi
for _ in $(seq 1 200); do
    curl -fsS -m 1 "http://127.0.0.1:$HTTP_PORT/api/v1/health" >/dev/null 2>&1 && break
    kill -0 "$server_pid" 2>/dev/null || { tail -20 "$work/server.log" >&2; die "the server exited"; }
    sleep 0.1
done
curl -fsS -m 1 "http://127.0.0.1:$HTTP_PORT/api/v1/health" >/dev/null || die "the server is not healthy"

# shellcheck source=bench-lib.sh
source "$root_dir/scripts/bench-lib.sh"

duration=$((MINUTES * 60))
# Calls per second that keep CALLS up when each lasts HOLD; SIPp's -l caps them anyway.
rate=$(awk -v n="$CALLS" -v h="$HOLD" 'BEGIN {printf "%.2f", n / h}')
total=$(awk -v r="$rate" -v d="$duration" 'BEGIN {printf "%d", r * d}')
say "$CALLS calls of ${HOLD}s at $rate cps for $MINUTES min ($total calls in all)"
(cd "$sipp_dir" && exec setsid -w timeout --signal=KILL $((duration + 300)) sipp "127.0.0.1:$SIP_PORT" \
    -s 800100200 -i 127.0.0.1 -p "$SIPP_PORT" -mp "$SIPP_STREAM_PORT" -nostdin -buff_size 4194304 \
    -sf uac_load_stream.xml -key loops $((HOLD / 5)) -r "$rate" -l "$CALLS" -m "$total" \
    -timeout "$((duration + 240))s" -timeout_error -trace_stat -stf "$work/sipp.csv" -fd 10 \
    -trace_err -error_file "$work/sipp.errors.log" </dev/null >"$work/sipp.out" 2>&1) &
sipp_pid=$!

gauge() { awk -v m="$1" '$1 == m {print $2; found = 1} END {if (!found) print "n/a"}' "$2"; }
# A /proc/<pid>/status field in MB (RssAnon: the heap and stacks; RssFile: mapped files).
status_mb() { awk -v f="$1:" '$1 == f {printf "%.0f", $2 / 1024}' "/proc/$2/status" 2>/dev/null || echo 0; }
# The SQLite database with its WAL, in MB.
db_mb() { du -cm "$work"/data/*.db* 2>/dev/null | awk 'END {print $1 + 0}'; }
samples="$work/samples.tsv"
printf 'elapsed_s\trss_mb\tanon_mb\tfile_mb\tcalls_active\ttransactions\tdialogs\tmedia_legs\tfds\tthreads\tevents_backlog\tdb_mb\tsipp_ok\tsipp_failed\n' >"$samples"
start=$(date +%s)
while :; do
    now=$(date +%s)
    elapsed=$((now - start))
    ((elapsed > duration)) && break
    kill -0 "$server_pid" 2>/dev/null || die "the server died after ${elapsed}s (see $work/server.log)"
    metrics >"$work/metrics.now"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$elapsed" "$(rss_mb "$server_pid")" \
        "$(status_mb RssAnon "$server_pid")" "$(status_mb RssFile "$server_pid")" \
        "$(gauge centralino_calls_active "$work/metrics.now")" \
        "$(gauge centralino_sip_transactions_active "$work/metrics.now")" \
        "$(gauge centralino_sip_dialogs_active "$work/metrics.now")" \
        "$(gauge centralino_media_legs_active "$work/metrics.now")" \
        "$(find "/proc/$server_pid/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)" \
        "$(awk '/^Threads:/ {print $2}' "/proc/$server_pid/status")" \
        "$(gauge centralino_events_backlog "$work/metrics.now")" "$(db_mb)" \
        "$(sipp_stat "$work/sipp.csv" "SuccessfulCall(C)" 2>/dev/null || echo '?')" \
        "$(sipp_stat "$work/sipp.csv" "FailedCall(C)" 2>/dev/null || echo '?')" | tee -a "$samples" >&2
    sleep "$SAMPLE"
done

# Stop starting calls; let those up finish, then read what is left.
kill -USR1 "$sipp_pid" 2>/dev/null || true
kill -KILL -- "-$sipp_pid" 2>/dev/null || true
wait "$sipp_pid" 2>/dev/null || true
sipp_pid=""
# SIPp is killed with its calls up: the server ends each at the media time-out (30 s) and
# sends a BYE nobody answers, whose transaction (and the dialog) lasts Timer F (32 s) more.
# Wait for all of that before the final reading.
sleep 75
metrics >"$work/metrics.end"
end_row="$(printf 'after the calls (75 s later)\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s' \
    "$(rss_mb "$server_pid")" "$(status_mb RssAnon "$server_pid")" "$(status_mb RssFile "$server_pid")" \
    "$(gauge centralino_calls_active "$work/metrics.end")" \
    "$(gauge centralino_sip_transactions_active "$work/metrics.end")" \
    "$(gauge centralino_sip_dialogs_active "$work/metrics.end")" \
    "$(gauge centralino_media_legs_active "$work/metrics.end")" \
    "$(find "/proc/$server_pid/fd" -mindepth 1 -maxdepth 1 | wc -l)" \
    "$(awk '/^Threads:/ {print $2}' "/proc/$server_pid/status")" \
    "$(gauge centralino_events_backlog "$work/metrics.end")" "$(db_mb)")"

{
    echo
    echo "## Soak, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
    echo
    echo "SOAK_MINUTES=$MINUTES SOAK_CALLS=$CALLS SOAK_HOLD_S=$HOLD scripts/soak.sh; server \`$BIN\`"
    echo
    echo "| elapsed s | RSS MB | anonymous MB | file MB | calls | SIP transactions | SIP dialogs | media legs | descriptors | threads | events backlog | database MB | SIPp successful | SIPp failed |"
    echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    tail -n +2 "$samples" | tr '\t' '|' | sed 's/^/|/; s/$/|/'
    echo "|$(tr '\t' '|' <<<"$end_row")| | |"
    echo
    awk -F'\t' -v w="$WARMUP" 'NR > 1 && $1 >= w {if (!first) {first = $2; t0 = $1}; last = $2; t1 = $1;
            if ($2 > max) max = $2}
        END {if (first) printf "RSS from %d s (%s MB) to %d s (%s MB): %+.1f %%, highest %s MB.\n",
            t0, first, t1, last, 100 * (last - first) / first, max}' "$samples"
} | tee "$work/report.md"
say "report: $work/report.md"
