#!/usr/bin/env bash
# ACD benchmark (issue 5): N concurrent bridged calls through the real `centralino serve`
# (release build), callers from SIPp streaming audio, agents' phones as SIPp UAS processes that
# answer and echo the audio back across the bridge. Loopback only, every process bounded.
#
#   scripts/bench-acd.sh
#
# Knobs (environment): BENCH_CALLS (200 concurrent calls), BENCH_PHONES (20 agent phones:
# SIPp processes, each the static contact of CALLS/PHONES agents), BENCH_RAMP_CPS (20),
# BENCH_WINDOW (10 s), BENCH_SIP_PORT (16060), BENCH_HTTP_PORT (19080), BENCH_NO_BUILD=1.
#
# Prints, and writes to a report under /tmp: calls answered by an agent (SIPp's and the
# server's count of agents talking), failed calls on both sides, the wait from queue to
# agent (the ACD's average answer time), RTP relayed per second against 2 x 50 x calls,
# server CPU and memory, and the media send-interval quantiles.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root_dir="$(pwd)"
sipp_dir="$root_dir/tests/sipp"

CALLS=${BENCH_CALLS:-200}
PHONES=${BENCH_PHONES:-20}
RAMP_CPS=${BENCH_RAMP_CPS:-20}
WINDOW=${BENCH_WINDOW:-10}
SIP_PORT=${BENCH_SIP_PORT:-16060}
HTTP_PORT=${BENCH_HTTP_PORT:-19080}
RTP_MIN=20000
RTP_MAX=24999
CALLER_PORT=$((SIP_PORT + 10))
CALLER_MEDIA_PORT=40000          # rtp_stream takes 4 ports per call from here
PHONE_PORT=$((SIP_PORT + 100))   # phone k listens on PHONE_PORT + 2k
PHONE_MEDIA_PORT=30000           # phone k echoes on PHONE_MEDIA_PORT + 10k
HZ=$(getconf CLK_TCK)
PER_PHONE=$(((CALLS + PHONES - 1) / PHONES))

say() { printf '[bench-acd] %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }
command -v sipp >/dev/null || die "sipp is not installed (scripts/install-test-deps.sh)"
command -v curl >/dev/null || die "curl is needed"

work="$(mktemp -d /tmp/centralino-bench-acd.XXXXXX)"
say "logs in $work"
target="${CARGO_TARGET_DIR:-$root_dir/target}"
if [[ -z "${BENCH_NO_BUILD:-}" ]]; then
    say "cargo build --release -p centralino"
    cargo build --release -p centralino >&2
fi
server_bin="$target/release/centralino"
[[ -x "$server_bin" ]] || die "no binary at $server_bin"

# --- configuration: one queue, CALLS agents with static contacts on PHONES phones ---------------
{
    cat <<EOF
[sip]
max_calls = $((CALLS * 3))

[media]
rtp_port_min = $RTP_MIN
rtp_port_max = $RTP_MAX

[database]
demo_data = true

[call]
answer_delay_ms = 0
max_duration_s = 600

[acd]
ring_timeout_s = 10
wrap_up_s = 1

[[acd.queues]]
name = "cittadini"

[ivr]
default_entry = "to_queue"

[ivr.nodes.to_queue]
kind = "route"
queue = "cittadini"
area = "cittadini"

EOF
    for ((i = 0; i < CALLS; i++)); do
        login=$(printf 'b%03d' "$i")
        phone=$((i / PER_PHONE))
        printf '[[acd.agents]]\nlogin = "%s"\nqueues = ["cittadini"]\n\n' "$login"
        printf '[[phones]]\nlogin = "%s"\ncontact = "sip:%s@127.0.0.1:%d"\n\n' \
            "$login" "$login" $((PHONE_PORT + 2 * phone))
    done
} >"$work/bench.toml"
"$server_bin" check-config "$work/bench.toml" >&2 || die "the generated configuration is invalid"

ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true; done
    if [[ -n "${server_pid:-}" ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        for _ in $(seq 1 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$server_pid" 2>/dev/null || true
    fi
}
trap cleanup EXIT

say "starting the server (SIP 127.0.0.1:$SIP_PORT, HTTP 127.0.0.1:$HTTP_PORT)"
RUST_LOG=${RUST_LOG:-warn} NO_COLOR=1 setsid "$server_bin" serve --config "$work/bench.toml" \
    --data "$work/data" --sip-listen "127.0.0.1:$SIP_PORT" --http-listen "127.0.0.1:$HTTP_PORT" \
    </dev/null >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 200); do
    curl -fsS -m 1 "http://127.0.0.1:$HTTP_PORT/api/v1/health" >/dev/null 2>&1 && break
    kill -0 "$server_pid" 2>/dev/null || { tail -20 "$work/server.log" >&2; die "the server exited"; }
    sleep 0.1
done

# shellcheck source=bench-lib.sh
source "$root_dir/scripts/bench-lib.sh"

# --- agents: phones up, everyone ready --------------------------------------------------------
hold_s=$((CALLS / RAMP_CPS + WINDOW + 20))
for ((k = 0; k < PHONES; k++)); do
    (cd "$sipp_dir" && exec setsid -w timeout --signal=KILL $((hold_s + 120)) sipp \
        -sf agent_answer_wait_bye.xml -i 127.0.0.1 -p $((PHONE_PORT + 2 * k)) \
        -mp $((PHONE_MEDIA_PORT + 10 * k)) -rtp_echo -m "$PER_PHONE" -nostdin \
        -timeout "$((hold_s + 90))s" -timeout_error -trace_stat -stf "$work/phone$k.csv" -fd 1 \
        -trace_err -error_file "$work/phone$k.errors.log" </dev/null >"$work/phone$k.out" 2>&1) &
    pids+=($!)
done
token=$(curl -fsS -m 5 -H 'content-type: application/json' \
    -d '{"login":"supervisor","password":"demo-supervisor"}' \
    "http://127.0.0.1:$HTTP_PORT/api/v1/session" | sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
[[ -n "$token" ]] || die "cannot log in as the demo supervisor"
for ((i = 0; i < CALLS; i++)); do
    curl -fsS -m 5 -X PUT -H "authorization: Bearer $token" -H 'content-type: application/json' \
        -d '{"state":"ready"}' "http://127.0.0.1:$HTTP_PORT/api/v1/agents/$(printf 'b%03d' "$i")/state" \
        >/dev/null || die "cannot set agent $i ready"
done
ready=$(metrics | awk '/^centralino_agents\{state="ready"\}/ {print $2}')
say "$ready agents ready on $PHONES phones ($PER_PHONE each)"

# --- callers ----------------------------------------------------------------------------------
loops=$(((hold_s + 4) / 5))
say "$CALLS callers at $RAMP_CPS cps, each streaming audio for ${loops}x5 s"
(cd "$sipp_dir" && exec setsid -w timeout --signal=KILL $((loops * 5 + 180)) sipp "127.0.0.1:$SIP_PORT" \
    -sf uac_load_stream.xml -key loops "$loops" -s 800100200 -i 127.0.0.1 -p "$CALLER_PORT" \
    -mp "$CALLER_MEDIA_PORT" -r "$RAMP_CPS" -l "$CALLS" -m "$CALLS" -nostdin -buff_size 4194304 \
    -timeout "$((loops * 5 + 120))s" -timeout_error -trace_stat -stf "$work/callers.csv" -fd 1 \
    -trace_err -error_file "$work/callers.errors.log" </dev/null >"$work/callers.out" 2>&1) &
callers=$!
pids+=("$callers")

# Wait until every agent talks (or the ramp plus a margin passed).
deadline=$((SECONDS + CALLS / RAMP_CPS + 30))
talking=0
while ((SECONDS < deadline)); do
    talking=$(metrics | awk '/^centralino_agents\{state="talking"\}/ {print $2}')
    [[ "${talking:-0}" -ge "$CALLS" ]] && break
    sleep 0.5
done
say "$talking agents talking; measuring ${WINDOW} s"
metrics >"$work/before.metrics"
t0=$(date +%s.%N); c0=$(cpu_ticks "$server_pid")
sleep "$WINDOW"
t1=$(date +%s.%N); c1=$(cpu_ticks "$server_pid")
metrics >"$work/after.metrics"
queues=$(curl -fsS -m 5 -H "authorization: Bearer $token" "http://127.0.0.1:$HTTP_PORT/api/v1/queues")
rss=$(rss_mb "$server_pid")

wait "$callers" && callers_rc=0 || callers_rc=$?
for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
callers_ok=$(sipp_stat "$work/callers.csv" "SuccessfulCall(C)")
callers_failed=$(sipp_stat "$work/callers.csv" "FailedCall(C)")
phones_ok=0; phones_failed=0
for ((k = 0; k < PHONES; k++)); do
    phones_ok=$((phones_ok + $(sipp_stat "$work/phone$k.csv" "SuccessfulCall(C)")))
    phones_failed=$((phones_failed + $(sipp_stat "$work/phone$k.csv" "FailedCall(C)")))
done
val() { awk -v m="$1" '$1 == m {print $2}' "$2"; }
relayed=$(( $(val centralino_rtp_packets_relayed_total "$work/after.metrics") - $(val centralino_rtp_packets_relayed_total "$work/before.metrics") ))
read -r cpu relayed_pct relayed_pps < <(awk -v dc=$((c1 - c0)) -v hz="$HZ" -v t0="$t0" -v t1="$t1" \
    -v r="$relayed" -v n="$CALLS" 'BEGIN { w = t1 - t0;
        printf "%.1f %.1f %.0f\n", 100 * dc / hz / w, 100 * r / (2 * 50 * n * w), r / w }')
p50=$(interval_quantiles "$work/before.metrics" "$work/after.metrics" 0.5)
p99=$(interval_quantiles "$work/before.metrics" "$work/after.metrics" 0.99)
avg_answer=$(printf '%s' "$queues" | sed -n 's/.*"avg_answer_time_s":\([0-9.]*\).*/\1/p')
answered=$(printf '%s' "$queues" | sed -n 's/.*"answered":\([0-9]*\).*/\1/p')

{
    echo
    echo "## ACD benchmark, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs"
    echo
    echo "Command: \`BENCH_CALLS=$CALLS BENCH_PHONES=$PHONES BENCH_RAMP_CPS=$RAMP_CPS BENCH_WINDOW=$WINDOW scripts/bench-acd.sh\`"
    echo
    echo "| calls | phones | agents talking | answered (ACD) | avg wait to agent s | callers ok / failed | phones ok / failed | RTP relayed / (2 x 50 x calls) | relayed packets/s | server CPU % | RSS MB | send interval p50 / p99 ms |"
    echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    echo "| $CALLS | $PHONES | $talking | ${answered:-?} | ${avg_answer:-?} | $callers_ok / $callers_failed | $phones_ok / $phones_failed | $relayed_pct % | $relayed_pps | $cpu | $rss | $p50 / $p99 |"
    echo
    echo "SIPp callers exit status: $callers_rc"
} | tee "$work/report.md"
say "report: $work/report.md"
