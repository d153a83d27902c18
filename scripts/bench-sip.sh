#!/usr/bin/env bash
# SIP/RTP benchmark of centralino on loopback (not part of the tests; see docs/PERFORMANCE.md).
#
#   (a) call setup rate: SIPp uac_answer_bye.xml calls (-d 500 ms) at increasing -r with -m
#       2000 each; the highest rate with 0 failed calls and 0 retransmissions wins.
#   (b) concurrent calls: hold N calls (uac_load_stream.xml: 1 kHz PCMU toward the server, 50
#       packets/s per call from SIPp's RTP streaming engine; and uac_load_nomedia.xml: silent
#       callers) while the server plays hold music to each; over a steady window measure the
#       server's CPU (utime+stime from /proc/PID/stat), RSS, the RTP packets it sent and
#       received (its own counters, diffed over the window) against calls x 50/s, the send
#       interval p50/p99 from the diff of two scrapes of centralino_rtp_send_interval_seconds,
#       and SIPp's own CPU. BENCH_VARIANTS="media" runs uac_load_media.xml instead (pcap
#       playback: one SIPp thread per call, root only, saturates 2 cores near 500 calls).
#
#   scripts/bench-sip.sh                      # everything (about 6 minutes)
#   BENCH_RATES="100 250" BENCH_CALLS="250" scripts/bench-sip.sh
#   BENCH_SKIP_SETUP=1 scripts/bench-sip.sh   # only (b);   BENCH_SKIP_CONCURRENT=1: only (a)
#
# Knobs (environment): BENCH_RATES (cps list), BENCH_SETUP_CALLS (2000), BENCH_CALLS (concurrent
# list), BENCH_RAMP_CPS (200), BENCH_WINDOW (10 s), BENCH_SIP_PORT (15060), BENCH_HTTP_PORT
# (18080), BENCH_RTP_MIN/MAX (20000/29999), BENCH_VARIANTS ("stream nomedia"),
# BENCH_STREAM_PORT (40000), BENCH_SHARDS (media shards; 0 = one per CPU),
# BENCH_PRIORITY (media.priority: high or normal), BENCH_NEIGHBOURS (busy loops beside the
# server, 0), BENCH_NO_BUILD=1.
# Every SIPp run is bounded (-m, -timeout, timeout(1)); only 127.0.0.1 is used.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root_dir="$(pwd)"
sipp_dir="$root_dir/tests/sipp"

RATES=(${BENCH_RATES:-100 250 500 750 1000})
SETUP_CALLS=${BENCH_SETUP_CALLS:-2000}
CALLS=(${BENCH_CALLS:-250 500 1000 2000})
RAMP_CPS=${BENCH_RAMP_CPS:-200}
WINDOW=${BENCH_WINDOW:-10}
SIP_PORT=${BENCH_SIP_PORT:-15060}
HTTP_PORT=${BENCH_HTTP_PORT:-18080}
RTP_MIN=${BENCH_RTP_MIN:-20000}
RTP_MAX=${BENCH_RTP_MAX:-29999}
SIPP_PORT=$((SIP_PORT + 10))
SIPP_MEDIA_PORT=$((SIP_PORT + 20))
# rtp_stream gives every call four ports of its own (audio and video RTP/RTCP) from -mp
# upward: 2,000 calls need 8,000 ports, kept clear of the server's SIP, HTTP and RTP ports.
SIPP_STREAM_PORT=${BENCH_STREAM_PORT:-40000}
HZ=$(getconf CLK_TCK)

say() { printf '[bench] %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

command -v sipp >/dev/null || die "sipp is not installed (scripts/install-test-deps.sh)"
command -v curl >/dev/null || die "curl is needed to read /metrics"

work="$(mktemp -d /tmp/centralino-bench.XXXXXX)"
say "logs and raw statistics in $work"

# --- the server ------------------------------------------------------------------------------
target="${CARGO_TARGET_DIR:-$root_dir/target}"
if [[ -z "${BENCH_NO_BUILD:-}" ]]; then
    say "cargo build --release -p centralino"
    cargo build --release -p centralino >&2
fi
server_cmd=("$target/release/centralino")
[[ -x "${server_cmd[0]}" ]] || die "no binary at ${server_cmd[0]}"

cat >"$work/bench.toml" <<EOF
[sip]
max_calls = 5000

[media]
rtp_port_min = $RTP_MIN
rtp_port_max = $RTP_MAX
shards = ${BENCH_SHARDS:-0}
priority = "${BENCH_PRIORITY:-high}"
# "nomedia" callers send no RTP: the media time-out would end them.
rtp_timeout_s = 0

[call]
answer_delay_ms = 0

# Continuous audio toward every caller during the measurement window: the IVR plays the hold
# music and listens for an hour.
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

# 2 sockets (RTP + RTCP) per call, plus SIPp's: raise the descriptor limit for both.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

server_pid=""
cleanup() {
    local pids
    if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        for _ in $(seq 1 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$server_pid" 2>/dev/null || true
    fi
    # The server's session leader is the server: its process group holds the neighbours.
    [[ -n "$server_pid" ]] && kill -KILL -- "-$server_pid" 2>/dev/null || true
    # SIPp processes this script started (recorded by PID), if any survived a timeout.
    if [[ -f "$work/sipp.pids" ]]; then
        # each was started with setsid: its process group is its PID
        while read -r pids; do
            kill -KILL -- "-$pids" 2>/dev/null || kill -KILL "$pids" 2>/dev/null || true
        done <"$work/sipp.pids"
    fi
}
trap cleanup EXIT

say "starting ${server_cmd[*]} serve (SIP 127.0.0.1:$SIP_PORT, HTTP 127.0.0.1:$HTTP_PORT, RTP $RTP_MIN-$RTP_MAX)"
# Its own session (setsid): SIPp's threads must not share the scheduler group with it.
# BENCH_NEIGHBOURS=N adds N busy loops in the server's session (the scheduler group it shares
# with other work of the same service: a database, encoders), each bounded by timeout(1) and
# killed with the server's process group.
RUST_LOG=${RUST_LOG:-warn} NO_COLOR=1 setsid sh -c '
    for _ in $(seq 1 "$1"); do timeout --foreground 900 sh -c "while :; do :; done" & done
    shift; exec "$@"' sh "${BENCH_NEIGHBOURS:-0}" "${server_cmd[@]}" serve --config "$work/bench.toml" \
    --data "$work/data" --sip-listen "127.0.0.1:$SIP_PORT" --http-listen "127.0.0.1:$HTTP_PORT" \
    </dev/null >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 200); do
    curl -fsS -m 1 "http://127.0.0.1:$HTTP_PORT/api/v1/health" >/dev/null 2>&1 && break
    kill -0 "$server_pid" 2>/dev/null || { tail -20 "$work/server.log" >&2; die "the server exited"; }
    sleep 0.1
done
curl -fsS -m 1 "http://127.0.0.1:$HTTP_PORT/api/v1/health" >/dev/null || die "the server is not healthy"

# --- helpers ---------------------------------------------------------------------------------
# cpu_ticks, rss_mb, sipp_stat, metrics, interval_quantiles
# shellcheck source=bench-lib.sh
source "$root_dir/scripts/bench-lib.sh"

# Runs SIPp in the background in its own session (setsid -w keeps its exit status); sets
# sipp_pid for `wait`.
sipp_pid=""
sipp_bg() {
    local name="$1"; shift
    (cd "$sipp_dir" && exec setsid -w timeout --signal=KILL 900 sipp "127.0.0.1:$SIP_PORT" \
        -s 800100200 -i 127.0.0.1 -p "$SIPP_PORT" -mp "$SIPP_MEDIA_PORT" -nostdin \
        -buff_size 4194304 -timeout_error -trace_stat -stf "$work/$name.csv" -fd 1 \
        -trace_err -error_file "$work/$name.errors.log" "$@" </dev/null >"$work/$name.out" 2>&1) &
    sipp_pid=$!
    echo "$sipp_pid" >>"$work/sipp.pids"
}

# --- (a) call setup rate ---------------------------------------------------------------------
setup_rows=()
best_rate="none"
if [[ -z "${BENCH_SKIP_SETUP:-}" ]]; then
    for rate in "${RATES[@]}"; do
        name="setup-r$rate"
        bound=$((SETUP_CALLS / rate + 60))
        say "(a) $SETUP_CALLS calls at $rate cps (uac_answer_bye.xml, -d 500)"
        before=$(cpu_ticks "$server_pid")
        start=$(date +%s.%N)
        sipp_bg "$name" -sf uac_answer_bye.xml -r "$rate" -m "$SETUP_CALLS" -d 500 \
            -timeout "${bound}s"
        wait "$sipp_pid" && rc=0 || rc=$?
        end=$(date +%s.%N)
        after=$(cpu_ticks "$server_pid")
        ok=$(sipp_stat "$work/$name.csv" "SuccessfulCall(C)")
        failed=$(sipp_stat "$work/$name.csv" "FailedCall(C)")
        retrans=$(sipp_stat "$work/$name.csv" "Retransmissions(C)")
        achieved=$(awk -v n="$ok" -v s="$start" -v e="$end" 'BEGIN {printf "%.0f", n / (e - s - 0.5)}')
        cpu=$(awk -v d=$((after - before)) -v hz="$HZ" -v s="$start" -v e="$end" \
            'BEGIN {printf "%.0f", 100 * d / hz / (e - s)}')
        setup_rows+=("| $rate | $ok | $failed | $retrans | $achieved | $cpu | $rc |")
        if [[ "$rc" == 0 && "$failed" == 0 && "$retrans" == 0 ]]; then
            best_rate=$rate
        fi
        kill -0 "$server_pid" 2>/dev/null || die "the server died during the $rate cps run"
        sleep 2
    done
fi

# --- (b) concurrent calls --------------------------------------------------------------------
conc_rows=()
if [[ -z "${BENCH_SKIP_CONCURRENT:-}" ]]; then
    variants=(nomedia)
    # Caller audio comes from SIPp's RTP streaming engine (uac_load_stream.xml: a few threads
    # for all calls); pcap playback (uac_load_media.xml, one thread per call) saturates both
    # cores near 500 calls and would measure SIPp. BENCH_VARIANTS="media" still runs it.
    read -r -a variants <<<"${BENCH_VARIANTS:-stream nomedia}"
    for calls in "${CALLS[@]}"; do
        for variant in "${variants[@]}"; do
            name="conc-$variant-$calls"
            ramp=$(((calls + RAMP_CPS - 1) / RAMP_CPS))
            hold=$((ramp + 3 + WINDOW + 3))
            loops=$(((hold + 4) / 5))
            say "(b) $calls concurrent calls, uac_load_$variant.xml, ramp ${ramp}s at $RAMP_CPS cps, window ${WINDOW}s"
            media_port=()
            [[ "$variant" == stream ]] && media_port=(-mp "$SIPP_STREAM_PORT")
            sipp_bg "$name" -sf "uac_load_$variant.xml" -key loops "$loops" -r "$RAMP_CPS" "${media_port[@]}" \
                -l "$calls" -m "$calls" -timeout "$((loops * 5 + ramp + 60))s"
            pid=$sipp_pid
            sleep $((ramp + 3))
            # the sipp process itself (a child of timeout), found by its unique -stf path
            sipp_proc=$(pgrep -n -f -- "-stf $work/$name.csv" || echo "")
            metrics >"$work/$name.metrics.before"
            t0=$(date +%s.%N); c0=$(cpu_ticks "$server_pid")
            s0=$([[ -n "$sipp_proc" ]] && cpu_ticks "$sipp_proc" || echo 0)
            sleep "$WINDOW"
            t1=$(date +%s.%N); c1=$(cpu_ticks "$server_pid")
            s1=$([[ -n "$sipp_proc" ]] && cpu_ticks "$sipp_proc" || echo 0)
            metrics >"$work/$name.metrics.after"
            rss=$(rss_mb "$server_pid")
            active=$(awk '/^centralino_calls_active / {print $2}' "$work/$name.metrics.after")
            wait "$pid" && rc=0 || rc=$?
            failed=$(sipp_stat "$work/$name.csv" "FailedCall(C)")
            ok=$(sipp_stat "$work/$name.csv" "SuccessfulCall(C)")
            # RTP the server itself counted over the window (the kernel's UDP counters would
            # include SIPp's streams too).
            rtp() { awk -v m="$1" '$1 == m {print $2}' "$2"; }
            tx=$(( $(rtp centralino_rtp_packets_sent_total "$work/$name.metrics.after") - $(rtp centralino_rtp_packets_sent_total "$work/$name.metrics.before") ))
            rx=$(( $(rtp centralino_rtp_packets_received_total "$work/$name.metrics.after") - $(rtp centralino_rtp_packets_received_total "$work/$name.metrics.before") ))
            read -r cpu per_call sent received sipp_cpu < <(awk -v dc=$((c1 - c0)) -v tx="$tx" -v rx="$rx" \
                -v ds=$((s1 - s0)) -v hz="$HZ" -v t0="$t0" -v t1="$t1" -v n="$calls" 'BEGIN {
                    w = t1 - t0; cpu = 100 * dc / hz / w; want = n * 50 * w
                    printf "%.1f %.4f %.1f %.1f %.0f\n", cpu, cpu / n, 100 * tx / want, 100 * rx / want, 100 * ds / hz / w }')
            p50=$(interval_quantiles "$work/$name.metrics.before" "$work/$name.metrics.after" 0.5)
            p99=$(interval_quantiles "$work/$name.metrics.before" "$work/$name.metrics.after" 0.99)
            conc_rows+=("| $calls | $variant | ${active:-?} | $cpu | $per_call | ${rss} | $sent | $received | $p50 | $p99 | $sipp_cpu | $ok | $failed |")
            kill -0 "$server_pid" 2>/dev/null || die "the server died with $calls calls"
            sleep 3
        done
    done
fi

# --- report ----------------------------------------------------------------------------------
final_metrics="$work/final.metrics"
metrics >"$final_metrics"
{
    echo
    echo "## SIP benchmark, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, $(uname -r)"
    echo
    echo "Command: \`$(printf '%q ' "$0" | sed 's/ $//')\` with BENCH_RATES=\"${RATES[*]}\" BENCH_SETUP_CALLS=$SETUP_CALLS BENCH_CALLS=\"${CALLS[*]}\" BENCH_RAMP_CPS=$RAMP_CPS BENCH_WINDOW=$WINDOW; server: \`${server_cmd[*]}\`"
    if [[ ${#setup_rows[@]} -gt 0 ]]; then
        echo
        echo "### (a) Call setup rate ($SETUP_CALLS calls per rate, uac_answer_bye.xml -d 500)"
        echo
        echo "| target cps | successful | failed | retransmissions | achieved cps | server CPU % | SIPp exit |"
        echo "|---:|---:|---:|---:|---:|---:|---:|"
        printf '%s\n' "${setup_rows[@]}"
        echo
        echo "Highest rate with 0 failed calls and 0 retransmissions: **$best_rate cps**."
    fi
    if [[ ${#conc_rows[@]} -gt 0 ]]; then
        echo
        echo "### (b) Concurrent calls (server plays hold_music to each; ${WINDOW} s window)"
        echo
        echo "| calls | caller audio | calls_active | server CPU % of a core | % per call | RSS MB | RTP sent / (calls x 50/s) % | RTP received / (calls x 50/s) % | send interval p50 ms | p99 ms | SIPp CPU % | SIPp successful | failed |"
        echo "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        printf '%s\n' "${conc_rows[@]}"
    fi
    echo
    echo "RTP send-interval metrics exposed at the end:"
    echo
    echo '```'
    grep -E '^centralino_rtp_send_interval_seconds' "$final_metrics" | head -40 || echo "(none: centralino_rtp_send_interval_seconds not exposed)"
    echo '```'
} | tee "$work/report.md"
say "report: $work/report.md"
