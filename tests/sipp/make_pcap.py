#!/usr/bin/env python3
"""Write classic pcap files of Ethernet/IPv4/UDP/RTP for SIPp's play_pcap_audio.

Standard library only. Packets carry pcap timestamps at their real send time (20 ms audio
pacing) so SIPp replays them in real time. SIPp keeps only the UDP header and payload and
rewrites the ports (destination = the peer's SDP port + (dport - lowest dport in the file)), so
every packet here goes 127.0.0.1:6000 -> 127.0.0.1:6002.

  make_pcap.py tone --codec pcmu --freq 1000 --seconds 5 -o tone.pcap
  make_pcap.py dtmf --digits 123 --pt 101 --filler pcmu -o dtmf.pcap
  make_pcap.py all      # regenerate the committed files in pcap/ next to this script

RFC 4733 events: one SSRC and one contiguous sequence-number space shared with the filler audio,
marker bit on the first packet of each event, an update every --update-ms (default 50 ms, the
RFC's recommended rate) whose duration grows from 0, and the final (E bit) packet sent three
times with the same timestamp and duration (§2.5.1.4). By default each retransmission has its
own, next sequence number as in the RFC's examples (§5); --end-same-seq repeats the sequence
number instead, like the dtmf_2833_*.pcap files SIPp ships. Audio is suppressed while a digit is
being signalled and resumes after its end.

Check (port 6002 is the destination in these files):
  tshark -r pcap/dtmf_pt101_123.pcap -d udp.port==6002,rtp -Y rtpevent \
      -T fields -e rtp.seq -e rtp.timestamp -e rtp.marker -e rtpevent.event_id \
      -e rtpevent.end_of_event -e rtpevent.duration
  tshark -r pcap/dtmf_pt96_5.pcap -o rtpevent.event_payload_type_value:96 \
      -d udp.port==6002,rtp -Y rtpevent          # tshark assumes PT 101 for events otherwise
  tshark -r pcap/tone_1k_pcma_5s.pcap -d udp.port==6002,rtp -q -z rtp,streams
Checked with tshark 4.0 (Debian 12): 250 packets per 5 s tone, 20.000 ms deltas, no loss, no
checksum errors; events 1,2,3 with M on the first packet, E on the last three; encoders equal to
the reference G.711 tables (audioop) for all 65536 inputs.
"""
import argparse
import math
import os
import struct
import sys

SRC, DST = (127, 0, 0, 1), (127, 0, 0, 1)
SPORT, DPORT = 6000, 6002
SSRC = 0x43454E54  # "CENT"
RATE = 8000
FRAME = 160  # samples per 20 ms
EVENTS = {**{str(d): d for d in range(10)}, "*": 10, "#": 11, "A": 12, "B": 13, "C": 14, "D": 15}


def ulaw(sample):
    """16-bit linear PCM -> G.711 mu-law byte (the reference 14-bit algorithm, clip 8159)."""
    v = sample >> 2
    sign = 0x80 if v < 0 else 0
    mag = min(-v if v < 0 else v, 8159) + 0x21
    exp = max(mag.bit_length() - 6, 0)  # segment 0..7 (8 past the top: saturate)
    code = 0x7F if exp > 7 else (exp << 4) | ((mag >> (exp + 1)) & 0x0F)
    return ~(sign | code) & 0xFF


def alaw(sample):
    """16-bit linear PCM -> G.711 A-law byte (even bits inverted with 0x55)."""
    sign = 0x80 if sample >= 0 else 0
    mag = min(abs(sample) if sample >= 0 else -sample - 1, 32767) >> 3  # 13-bit magnitude
    if mag < 32:
        byte = mag >> 1
    else:
        exp = mag.bit_length() - 5  # 1..7
        byte = (exp << 4) | ((mag >> exp) & 0x0F)
    return (sign | byte) ^ 0x55


CODECS = {"pcmu": (0, ulaw), "pcma": (8, alaw)}


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def frame(payload, ident):
    """Ethernet + IPv4 + UDP around an RTP packet, with correct checksums."""
    udp_len = 8 + len(payload)
    pseudo = bytes(SRC) + bytes(DST) + struct.pack("!BBH", 0, 17, udp_len)
    udp = struct.pack("!HHHH", SPORT, DPORT, udp_len, 0) + payload
    udp_sum = checksum(pseudo + udp) or 0xFFFF
    udp = udp[:6] + struct.pack("!H", udp_sum) + udp[8:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0xB8, 20 + udp_len, ident & 0xFFFF, 0x4000, 64, 17, 0,
                     bytes(SRC), bytes(DST))
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    eth = bytes.fromhex("020000000002" "020000000001") + b"\x08\x00"
    return eth + ip + udp


def rtp(pt, seq, ts, payload, marker=False):
    return struct.pack("!BBHII", 0x80, (0x80 if marker else 0) | pt, seq & 0xFFFF,
                       ts & 0xFFFFFFFF, SSRC) + payload


def write_pcap(path, packets):
    """packets: list of (time in seconds, RTP bytes), in send order."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))  # LINKTYPE_ETHERNET
        for i, (t, payload) in enumerate(packets):
            data = frame(payload, i + 1)
            usec = round(t * 1e6)
            f.write(struct.pack("<IIII", usec // 1_000_000, usec % 1_000_000, len(data), len(data)))
            f.write(data)
    return len(packets)


def tone_frames(codec, freq, n_frames, start_sample=0, level_db=-10.0):
    """n_frames of 20 ms of a sine at level_db dBFS (0 Hz gives digital silence)."""
    enc = CODECS[codec][1]
    amp = 32767 * 10 ** (level_db / 20)
    for k in range(n_frames):
        base = start_sample + k * FRAME
        yield bytes(enc(round(amp * math.sin(2 * math.pi * freq * (base + i) / RATE)))
                    for i in range(FRAME))


def make_tone(path, codec, freq, seconds, ts0=1000):
    pt = CODECS[codec][0]
    n = round(seconds * 50)
    pkts = [(k * 0.02, rtp(pt, k + 1, ts0 + k * FRAME, p, marker=(k == 0)))
            for k, p in enumerate(tone_frames(codec, freq, n))]
    return write_pcap(path, pkts)


def make_dtmf(path, digits, pt, tone_ms=100, gap_ms=100, update_ms=50, filler="pcmu",
              lead_ms=200, tail_ms=200, end_same_seq=False, volume=10, ts0=1000):
    """RFC 4733 events for `digits` on payload type `pt`, optional G.711 filler audio."""
    timeline = []  # (ms, kind, data): kind "audio" (no data) or "event" (payload, marker, same_seq)
    t = lead_ms
    busy = []  # [start, end) in ms where audio is replaced by events
    for d in digits:
        ev = EVENTS[d.upper()]
        start, dur = t, tone_ms
        k = 0
        while k * update_ms < dur:  # updates: duration 0, update, 2*update, ...
            body = struct.pack("!BBH", ev, volume & 0x3F, k * update_ms * 8)
            timeline.append((start + k * update_ms, "event", (start, body, k == 0, False)))
            k += 1
        end_body = struct.pack("!BBH", ev, 0x80 | (volume & 0x3F), dur * 8)
        for r in range(3):  # final packet, three times at the update interval
            timeline.append((start + dur + r * update_ms, "event", (start, end_body, False, r > 0)))
        busy.append((start, start + dur))
        t = start + dur + gap_ms
    total = t - gap_ms + max(tail_ms, 2 * update_ms + 20) if digits else lead_ms + tail_ms
    if filler != "none":
        for ms in range(0, total, 20):
            if not any(s <= ms < e for s, e in busy):
                timeline.append((ms, "audio", None))
    timeline.sort(key=lambda x: (x[0], x[1] != "event"))
    pkts, seq, silence = [], 1, {}
    for ms, kind, data in timeline:
        ts = ts0 + ms * 8
        if kind == "audio":
            apt = CODECS[filler][0]
            if apt not in silence:
                silence[apt] = next(tone_frames(filler, 0, 1))
            pkts.append((ms / 1000, rtp(apt, seq, ts, silence[apt], marker=(seq == 1))))
        else:
            start, body, marker, repeat = data
            if repeat and end_same_seq:
                seq -= 1
            pkts.append((ms / 1000, rtp(pt, seq, ts0 + start * 8, body, marker=marker)))
        seq += 1
    return write_pcap(path, pkts)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("tone", help="G.711 sine tone")
    t.add_argument("--codec", choices=CODECS, default="pcmu")
    t.add_argument("--freq", type=float, default=1000.0)
    t.add_argument("--seconds", type=float, default=5.0)
    t.add_argument("-o", "--output", required=True)
    d = sub.add_parser("dtmf", help="RFC 4733 telephone-events")
    d.add_argument("--digits", required=True, help="0-9 * # A-D")
    d.add_argument("--pt", type=int, default=101)
    d.add_argument("--tone-ms", type=int, default=100)
    d.add_argument("--gap-ms", type=int, default=100)
    d.add_argument("--update-ms", type=int, default=50)
    d.add_argument("--filler", choices=[*CODECS, "none"], default="pcmu")
    d.add_argument("--end-same-seq", action="store_true",
                   help="repeat the end packet's sequence number (SIPp's shipped pcaps)")
    d.add_argument("-o", "--output", required=True)
    sub.add_parser("all", help="regenerate the committed pcaps")
    a = ap.parse_args()
    if a.cmd == "tone":
        n = make_tone(a.output, a.codec, a.freq, a.seconds)
    elif a.cmd == "dtmf":
        n = make_dtmf(a.output, a.digits, a.pt, a.tone_ms, a.gap_ms, a.update_ms, a.filler,
                      end_same_seq=a.end_same_seq)
    else:
        out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pcap")
        os.makedirs(out, exist_ok=True)
        for name, fn in [("tone_1k_pcmu_5s.pcap", lambda p: make_tone(p, "pcmu", 1000, 5)),
                         ("tone_1k_pcma_5s.pcap", lambda p: make_tone(p, "pcma", 1000, 5)),
                         ("dtmf_pt101_123.pcap", lambda p: make_dtmf(p, "123", 101)),
                         ("dtmf_pt96_5.pcap", lambda p: make_dtmf(p, "5", 96))]:
            print(f"{name}: {fn(os.path.join(out, name))} packets")
        return
    print(f"{a.output}: {n} packets", file=sys.stderr)


if __name__ == "__main__":
    main()
