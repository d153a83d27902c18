#!/usr/bin/env python3
"""SIP OPTIONS latency while HTTP logins flood the server (issue 13; scripts/bench-login-flood.sh).

  bench-login-flood.py probe SIP_PORT SECONDS        # OPTIONS every 20 ms; prints RTT figures
  bench-login-flood.py flood HTTP_PORT SECONDS N     # N concurrent wrong logins, back to back

Loopback only. The probe and the flood run as separate processes so the flood's threads do not
delay the probe's own measurements. Each prints one JSON line.
"""
import http.client
import json
import socket
import sys
import threading
import time


def percentile(values, p):
    if not values:
        return None
    values = sorted(values)
    k = min(len(values) - 1, max(0, round(p / 100 * (len(values) - 1))))
    return values[k]


def probe(sip_port, seconds):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(2.0)
    local = sock.getsockname()[1]
    rtts, lost, n = [], 0, 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        n += 1
        msg = (
            f"OPTIONS sip:127.0.0.1:{sip_port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{local};branch=z9hG4bK-probe-{n};rport\r\n"
            "Max-Forwards: 70\r\n"
            "From: <sip:probe@127.0.0.1>;tag=probe\r\n"
            f"To: <sip:127.0.0.1:{sip_port}>\r\n"
            f"Call-ID: probe-{n}@127.0.0.1\r\n"
            f"CSeq: {n} OPTIONS\r\n"
            "Content-Length: 0\r\n\r\n"
        ).encode()
        sent = time.perf_counter()
        sock.sendto(msg, ("127.0.0.1", sip_port))
        while True:
            try:
                data, _ = sock.recvfrom(65536)
            except socket.timeout:
                lost += 1
                break
            if f"branch=z9hG4bK-probe-{n};".encode() in data or f"branch=z9hG4bK-probe-{n}\r".encode() in data:
                if data.startswith(b"SIP/2.0 200"):
                    rtts.append((time.perf_counter() - sent) * 1000)
                else:
                    lost += 1
                break
        time.sleep(0.02)
    print(json.dumps({
        "probes": n,
        "answered": len(rtts),
        "lost": lost,
        "p50_ms": round(percentile(rtts, 50), 3) if rtts else None,
        "p90_ms": round(percentile(rtts, 90), 3) if rtts else None,
        "p99_ms": round(percentile(rtts, 99), 3) if rtts else None,
        "max_ms": round(max(rtts), 3) if rtts else None,
    }))


def flood(http_port, seconds, workers):
    end = time.monotonic() + seconds
    lock = threading.Lock()
    statuses, latencies = {}, []
    start = threading.Barrier(workers)

    def worker(i):
        conn = http.client.HTTPConnection("127.0.0.1", http_port, timeout=30)
        body = json.dumps({"login": f"flood{i}", "password": "wrong"})
        start.wait()
        while time.monotonic() < end:
            t = time.perf_counter()
            try:
                conn.request("POST", "/api/v1/session", body, {"content-type": "application/json"})
                r = conn.getresponse()
                r.read()
                status = r.status
            except OSError:
                status = "error"
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", http_port, timeout=30)
            ms = (time.perf_counter() - t) * 1000
            with lock:
                statuses[status] = statuses.get(status, 0) + 1
                latencies.append(ms)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(json.dumps({
        "workers": workers,
        "requests": len(latencies),
        "per_s": round(len(latencies) / seconds, 1),
        "statuses": {str(k): v for k, v in sorted(statuses.items(), key=lambda kv: str(kv[0]))},
        "login_p50_ms": round(percentile(latencies, 50), 1) if latencies else None,
        "login_p99_ms": round(percentile(latencies, 99), 1) if latencies else None,
    }))


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "probe":
        probe(int(sys.argv[2]), float(sys.argv[3]))
    elif len(sys.argv) >= 5 and sys.argv[1] == "flood":
        flood(int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]))
    else:
        sys.exit(__doc__)
