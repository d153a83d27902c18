# Shared by the benchmark scripts (sourced): process figures, SIPp statistics, /metrics.
# Expects HTTP_PORT set by the sourcing script.

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
rss_mb() { awk '/^VmRSS:/ {printf "%.0f", $2 / 1024}' "/proc/$1/status" 2>/dev/null || echo 0; }

# A column of the last line of a SIPp -trace_stat CSV: sipp_stat FILE COLUMN.
sipp_stat() {
    awk -F';' -v col="$2" 'NR == 1 {for (i = 1; i <= NF; i++) if ($i == col) c = i}
        END {if (c) print $c; else print "?"}' "$1"
}

metrics() { curl -fsS -m 5 "http://127.0.0.1:$HTTP_PORT/metrics" 2>/dev/null || true; }

# p50/p99 in ms of the send-interval histogram between two /metrics snapshots (bucket deltas,
# linear interpolation), or of its quantile gauges; "n/a" when the server exposes neither.
interval_quantiles() {
    awk -v q="$3" '
        FNR == 1 {file++}
        /^centralino_rtp_send_interval_seconds_bucket/ {
            match($0, /le="[^"]*"/); le = substr($0, RSTART + 4, RLENGTH - 5)
            v = $NF + 0
            if (file == 1) before[le] = v; else { after[le] = v; les[le] = 1 }
        }
        /^centralino_rtp_send_interval_seconds\{.*quantile="/ && file == 2 {
            match($0, /quantile="[^"]*"/); qq = substr($0, RSTART + 10, RLENGTH - 11)
            gauge[qq + 0] = $NF
        }
        END {
            n = 0
            for (le in les) { bound[++n] = (le == "+Inf") ? 1e308 : le + 0; cnt[n] = after[le] - before[le] }
            for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (bound[j] < bound[i]) {
                t = bound[i]; bound[i] = bound[j]; bound[j] = t; t = cnt[i]; cnt[i] = cnt[j]; cnt[j] = t }
            if (n > 0 && cnt[n] > 0) {
                target = q * cnt[n]; prev_b = 0; prev_c = 0
                for (i = 1; i <= n; i++) if (cnt[i] >= target) {
                    if (bound[i] >= 1e308) { printf "> %.1f", prev_b * 1000; exit }
                    f = (cnt[i] > prev_c) ? (target - prev_c) / (cnt[i] - prev_c) : 1
                    printf "%.2f", (prev_b + f * (bound[i] - prev_b)) * 1000; exit
                } else { prev_b = bound[i]; prev_c = cnt[i] }
            } else if ((q + 0) in gauge) printf "%.2f", gauge[q + 0] * 1000
            else printf "n/a"
        }' "$1" "$2"
}
