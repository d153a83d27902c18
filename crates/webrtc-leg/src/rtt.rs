//! The round trip to the browser, from its reception reports of our stream.
//!
//! rtc 0.21.1 keeps the browser's reports' loss and jitter but never computes the round trip
//! (it passes 0 with a "would require additional tracking" note), and inbound RTCP stops at its
//! interceptor chain's end. So the leg puts its own interceptor in the chain, wire-side of the
//! report interceptors: it reads the reception blocks about our SSRC, in the browser's SR (a
//! browser that sends reports in its SR) or RR, and computes RFC 3550 §6.4.1's `A - LSR -
//! DLSR`. Both ends of that subtraction are this host's wall clock (our SR's NTP time, written
//! by the sender-report interceptor, and the report's arrival), so no clock sync is needed.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use rtc::interceptor::{Interceptor, Packet, StreamInfo, TaggedPacket};
use rtc::rtcp::receiver_report::ReceiverReport;
use rtc::rtcp::sender_report::SenderReport;
use rtc::sansio::Protocol;
use rtc::shared::error::Error;

/// Where in the chain: below the receiver-report interceptor (10 000), which only reads.
pub(crate) const SLOT: usize = 9_500;

/// Reads the round trip off inbound reports; passes everything on unchanged.
pub(crate) struct RoundTrip {
    /// Our SSRC: the reports about it are the browser's view of our stream.
    ssrc: u32,
    /// The last round trip in µs, 0 before the first; the leg's stats read it.
    micros: Arc<AtomicU64>,
    read: VecDeque<TaggedPacket>,
    write: VecDeque<TaggedPacket>,
}

impl RoundTrip {
    pub(crate) fn new(ssrc: u32, micros: Arc<AtomicU64>) -> Self {
        RoundTrip {
            ssrc,
            micros,
            read: VecDeque::new(),
            write: VecDeque::new(),
        }
    }

    fn observe(&self, packet: &Packet) {
        let Packet::Rtcp(packets) = packet else {
            return;
        };
        for packet in packets {
            let any = packet.as_any();
            let reports = if let Some(sr) = any.downcast_ref::<SenderReport>() {
                &sr.reports
            } else if let Some(rr) = any.downcast_ref::<ReceiverReport>() {
                &rr.reports
            } else {
                continue;
            };
            for report in reports.iter().filter(|r| r.ssrc == self.ssrc) {
                if let Some(rtt) =
                    round_trip(ntp_middle_now(), report.last_sender_report, report.delay)
                {
                    self.micros.store(rtt.as_micros().max(1) as u64, Relaxed);
                }
            }
        }
    }
}

impl Protocol<TaggedPacket, TaggedPacket, ()> for RoundTrip {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = Error;
    type Time = Instant;

    fn handle_read(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        self.observe(&msg.message.packet);
        self.read.push_back(msg);
        Ok(())
    }

    fn poll_read(&mut self) -> Option<Self::Rout> {
        self.read.pop_front()
    }

    fn handle_write(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        self.write.push_back(msg);
        Ok(())
    }

    fn poll_write(&mut self) -> Option<Self::Wout> {
        self.write.pop_front()
    }
}

impl Interceptor for RoundTrip {
    fn bind_local_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_local_stream(&mut self, _info: &StreamInfo) {}
    fn bind_remote_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_remote_stream(&mut self, _info: &StreamInfo) {}
}

/// The middle 32 bits of the NTP time now (RFC 3550 §4: seconds since 1900 in the high 16,
/// the fraction's high 16 in the low).
fn ntp_middle_now() -> u32 {
    const NTP_UNIX_OFFSET: u64 = 2_208_988_800;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let seconds = now.as_secs() + NTP_UNIX_OFFSET;
    let fraction = (u64::from(now.subsec_nanos()) << 32) / 1_000_000_000;
    (((seconds & 0xffff) << 16) | (fraction >> 16)) as u32
}

/// RFC 3550 §6.4.1: the round trip from a reception report received at `arrival` (NTP
/// middle 32 bits), whose last-SR time is `lsr` and delay since that SR `dlsr` (both in
/// 1/65536 s). `None` when the peer has had no SR of ours (LSR 0) or the result is not
/// plausible (negative, or over a minute: clocks stepped).
pub(crate) fn round_trip(arrival: u32, lsr: u32, dlsr: u32) -> Option<Duration> {
    if lsr == 0 {
        return None;
    }
    let rtt = arrival.wrapping_sub(lsr).wrapping_sub(dlsr);
    if rtt > 60 << 16 {
        return None;
    }
    Some(Duration::from_micros(u64::from(rtt) * 1_000_000 / 65_536))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_round_trip_is_arrival_less_last_sr_less_its_delay() {
        // RFC 3550 §6.4.1's example: A = 0xb710:8000 (46864.500 s), LSR = 0xb705:2000
        // (46853.125 s), DLSR = 0x0005:4000 (5.250 s): the round trip is 6.125 s.
        let rtt = round_trip(0xb710_8000, 0xb705_2000, 0x0005_4000).unwrap();
        assert_eq!(rtt, Duration::from_millis(6125));
        // Across the 16-bit seconds wrap.
        let rtt = round_trip(0x0000_1000, 0xffff_f000, 0).unwrap();
        assert_eq!(rtt, Duration::from_millis(125));
    }

    #[test]
    fn no_round_trip_without_a_sender_report_or_when_implausible() {
        assert_eq!(round_trip(0xb710_8000, 0, 0), None);
        // DLSR larger than the time since the SR: the clock went back.
        assert_eq!(round_trip(0xb710_8000, 0xb710_0000, 0x0001_0000), None);
    }
}
