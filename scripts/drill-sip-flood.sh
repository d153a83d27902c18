#!/usr/bin/env bash
# SIP flood drill (issue 14; not part of the tests, see docs/PERFORMANCE.md "Issue 14: SIP
# floods"). Starts centralino with sip.allow_from = 127.0.0.1 only, then measures the setup
# time (INVITE -> 200, SIPp's rtd) of legitimate calls from 127.0.0.1:
#   (a) alone;
#   (b) during an INVITE flood from 127.0.0.2 (outside allow_from: dropped unanswered);
#   (c) during a REGISTER flood from 127.0.0.1 (no credentials: challenged with a 401 within
#       registrar.challenge_rate_per_address, dropped beyond it).
# Prints p50/p99/max setup time and failed calls for each, and the flood's achieved rate.
#
#   scripts/drill-sip-flood.sh
#   DRILL_FLOOD_RATE=2000 DRILL_SECONDS=10 DRILL_BIN=target/release/centralino scripts/drill-sip-flood.sh
#
# Knobs: DRILL_BIN (default target/debug/centralino, built with cargo build -p centralino),
# DRILL_FLOOD_RATE (messages/s, 1000), DRILL_SECONDS (flood length, 10), DRILL_CALL_RATE
# (legitimate calls/s, 10), DRILL_SIP_PORT (16060), DRILL_HTTP_PORT (18180), DRILL_EXTRA_TOML
# (appended to the drill's configuration, e.g. "[registrar]" lines: a challenge rate of
# 1000000 per address turns the REGISTER limit off, to measure without it).
# Every SIPp run is bounded (-m, -timeout, timeout(1)); only loopback is used.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root_dir="$(pwd)"
sipp_dir="$root_dir/tests/sipp"
BIN=${DRILL_BIN:-$root_dir/target/debug/centralino}
RATE=${DRILL_FLOOD_RATE:-1000}
SECONDS_=${DRILL_SECONDS:-10}
CALL_RATE=${DRILL_CALL_RATE:-10}
SIP_PORT=${DRILL_SIP_PORT:-16060}
HTTP_PORT=${DRILL_HTTP_PORT:-18180}
say() { printf '[drill-sip-flood] %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }
[[ -x "$BIN" ]] || die "no binary at $BIN (cargo build -p centralino)"

work="$(mktemp -d /tmp/drill-sip-flood.XXXXXX)"
say "logs in $work"
cat >"$work/drill.toml" <<TOML
[sip]
allow_from = ["127.0.0.1/32"]

[media]
rtp_port_min = 31000
rtp_port_max = 31999

[call]
answer_delay_ms = 0

[ivr]
default_entry = "listen"
[ivr.nodes.listen]
kind = "collect"
prompts = "welcome"
store = "digits"
max_digits = 64
terminator = ""
digit_timeout_ms = 60000
inter_digit_timeout_ms = 60000
next = "bye"
[ivr.nodes.bye]
kind = "hangup"
TOML
[[ -n "${DRILL_EXTRA_TOML:-}" ]] && printf '%s\n' "$DRILL_EXTRA_TOML" >>"$work/drill.toml"

server_pid=""
cleanup() {
    [[ -n "$server_pid" ]] && kill -TERM "$server_pid" 2>/dev/null || true
    [[ -n "$server_pid" ]] && sleep 1 && kill -KILL "$server_pid" 2>/dev/null || true
}
trap cleanup EXIT
RUST_LOG=${RUST_LOG:-warn} NO_COLOR=1 setsid "$BIN" serve --config "$work/drill.toml" \
    --data "$work/data" --sip-listen "127.0.0.1:$SIP_PORT" --http-listen "127.0.0.1:$HTTP_PORT" \
    </dev/null >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 300); do
    curl -fsS -m 1 "http://127.0.0.1:$HTTP_PORT/api/v1/health" >/dev/null 2>&1 && break
    kill -0 "$server_pid" 2>/dev/null || { tail -20 "$work/server.log" >&2; die "the server exited"; }
    sleep 0.1
done

calls=$((CALL_RATE * SECONDS_))
# Legitimate calls (uac_answer_bye.xml, 100 ms each) at CALL_RATE for the flood's length;
# prints "p50 p99 max failed" of the setup time in ms.
legit() {
    local name="$1" dir="$work/$1"
    mkdir -p "$dir"
    (cd "$dir" && timeout --signal=KILL $((SECONDS_ + 60)) sipp "127.0.0.1:$SIP_PORT" \
        -sf "$sipp_dir/uac_answer_bye.xml" -s 800100200 -i 127.0.0.1 -p 16070 -mp 16080 \
        -m "$calls" -r "$CALL_RATE" -d 100 -nostdin -timeout $((SECONDS_ + 30))s \
        -trace_rtt -rtt_freq 1 -trace_stat -stf "$dir/stat.csv" >"$dir/out.log" 2>&1) || true
    local failed
    failed=$(awk -F';' 'NR == 1 {for (i = 1; i <= NF; i++) if ($i == "FailedCall(C)") c = i}
        END {print (c ? $c : "?")}' "$dir/stat.csv")
    cat "$dir"/*_rtt.csv 2>/dev/null | awk -F';' '$2 ~ /^[0-9.]+$/ {print $2}' | sort -n |
        awk -v failed="$failed" '{v[NR] = $1} END {
            if (NR == 0) {print "n/a n/a n/a " failed; exit}
            p50 = v[int((NR - 1) * 0.50) + 1]; p99 = v[int((NR - 1) * 0.99) + 1]
            printf "%.1f %.1f %.1f %s\n", p50, p99, v[NR], failed}'
}
# A flood in the background: flood NAME SCENARIO SOURCE [args].
flood() {
    local name="$1" scenario="$2" source="$3"; shift 3
    mkdir -p "$work/$name"
    (cd "$work/$name" && exec timeout --signal=KILL $((SECONDS_ + 30)) sipp "127.0.0.1:$SIP_PORT" \
        -sf "$sipp_dir/$scenario" -i "$source" -p 16090 -r "$RATE" -m $((RATE * SECONDS_)) \
        -nostdin -timeout $((SECONDS_ + 20))s -trace_stat -stf "$work/$name/stat.csv" "$@" \
        >"$work/$name/out.log" 2>&1) &
    flood_pid=$!
}

printf '%-34s %8s %8s %8s %7s\n' "legitimate calls ($calls at ${CALL_RATE}/s)" p50_ms p99_ms max_ms failed
read -r a b c d < <(legit baseline)
printf '%-34s %8s %8s %8s %7s\n' "alone" "$a" "$b" "$c" "$d"
flood invite_flood uac_invite_flood.xml 127.0.0.2 -s 800100200 -nr
read -r a b c d < <(legit during_invite_flood)
wait "$flood_pid" || true
printf '%-34s %8s %8s %8s %7s\n' "INVITE flood ${RATE}/s from 127.0.0.2" "$a" "$b" "$c" "$d"
flood register_flood register_flood.xml 127.0.0.1 -s 1001
read -r a b c d < <(legit during_register_flood)
wait "$flood_pid" || true
printf '%-34s %8s %8s %8s %7s\n' "REGISTER flood ${RATE}/s" "$a" "$b" "$c" "$d"
for f in invite_flood register_flood; do
    say "$f: $(sipp_col() { awk -F';' -v col="$1" 'NR == 1 {for (i = 1; i <= NF; i++) if ($i == col) c = i} END {print (c ? $c : "?")}' "$work/$f/stat.csv"; }; echo "sent $(sipp_col 'OutgoingCall(C)') calls, failed $(sipp_col 'FailedCall(C)')")"
done
metric() { curl -fsS -m 5 "http://127.0.0.1:$HTTP_PORT/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
say "server: $(metric centralino_sip_registers_dropped_total) REGISTERs dropped over the challenge rate, $(metric centralino_sip_messages_sent_total) SIP messages sent"
say "server: $(grep -c 'WARN' "$work/server.log" || true) warnings in its log"
