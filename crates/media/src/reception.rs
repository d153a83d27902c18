//! Receive statistics for one source (RFC 3550 appendix A.1, A.3, A.8): extended highest
//! sequence number, packets lost, fraction lost since the last report, interarrival jitter.

/// RFC 3550 A.1: a jump larger than this is a restart, not loss.
const MAX_DROPOUT: u16 = 3000;
/// RFC 3550 A.1: packets this far behind are late duplicates, not a wrap.
const MAX_MISORDER: u16 = 100;
const RTP_SEQ_MOD: u32 = 1 << 16;

/// One RTCP report block's numbers (RFC 3550 §6.4.1), without LSR/DLSR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LossReport {
    pub ssrc: u32,
    /// Fraction lost since the previous report, in 1/256.
    pub fraction_lost: u8,
    /// Cumulative packets lost (24-bit signed on the wire; duplicates can make it negative).
    pub cumulative_lost: i32,
    pub extended_highest_seq: u32,
    /// Interarrival jitter in timestamp units.
    pub jitter: u32,
}

/// Statistics for one sending source.
#[derive(Debug, Clone)]
pub struct ReceptionStats {
    ssrc: u32,
    max_seq: u16,
    cycles: u32,
    base_seq: u32,
    bad_seq: u32,
    received: u32,
    expected_prior: u32,
    received_prior: u32,
    transit: Option<i32>,
    /// Jitter ×16, the integer form of RFC 3550 A.8.
    jitter_q4: u32,
}

impl ReceptionStats {
    /// Starts tracking `ssrc` with its first packet's sequence number (RFC 3550 A.1 `init_seq`;
    /// no probation: a call's peer is known from signalling).
    pub fn new(ssrc: u32, seq: u16) -> Self {
        ReceptionStats {
            ssrc,
            max_seq: seq,
            cycles: 0,
            base_seq: seq as u32,
            bad_seq: RTP_SEQ_MOD + 1,
            received: 1,
            expected_prior: 0,
            received_prior: 0,
            transit: None,
            jitter_q4: 0,
        }
    }

    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    fn restart(&mut self, seq: u16) {
        let ssrc = self.ssrc;
        *self = ReceptionStats::new(ssrc, seq);
    }

    /// RFC 3550 A.1 `update_seq` for every packet after the first; `false` when the packet was
    /// judged bad (a big jump not yet confirmed).
    pub fn update_seq(&mut self, seq: u16) -> bool {
        let udelta = seq.wrapping_sub(self.max_seq);
        if udelta < MAX_DROPOUT {
            if seq < self.max_seq {
                self.cycles += RTP_SEQ_MOD;
            }
            self.max_seq = seq;
        } else if udelta <= (RTP_SEQ_MOD as u16).wrapping_sub(MAX_MISORDER) {
            // Big jump: two sequential packets confirm a restart.
            if seq as u32 == self.bad_seq {
                self.restart(seq);
                return true;
            }
            self.bad_seq = (seq as u32 + 1) & (RTP_SEQ_MOD - 1);
            return false;
        }
        // Otherwise a duplicate or reordered packet: counted, max unchanged.
        self.received += 1;
        true
    }

    /// RFC 3550 A.8 with the arrival time already in timestamp units.
    pub fn update_jitter(&mut self, rtp_timestamp: u32, arrival_units: u32) {
        let transit = arrival_units.wrapping_sub(rtp_timestamp) as i32;
        if let Some(prev) = self.transit {
            let d = transit.wrapping_sub(prev).unsigned_abs();
            // J += (|D| - J) / 16, kept ×16: J16 += |D| - J16/16 (with rounding as in A.8).
            let j = self.jitter_q4 as i64;
            let next = j + d as i64 - ((j + 8) >> 4);
            self.jitter_q4 = next.clamp(0, u32::MAX as i64) as u32;
        }
        self.transit = Some(transit);
    }

    pub fn extended_max(&self) -> u32 {
        self.cycles.wrapping_add(self.max_seq as u32)
    }

    /// Interarrival jitter in timestamp units.
    pub fn jitter(&self) -> u32 {
        self.jitter_q4 >> 4
    }

    /// Packets counted so far.
    pub fn received(&self) -> u32 {
        self.received
    }

    /// RFC 3550 A.3: the numbers for a report block; resets the "since last report" interval.
    pub fn report(&mut self) -> LossReport {
        let extended_max = self.extended_max();
        let expected = extended_max.wrapping_sub(self.base_seq).wrapping_add(1);
        let lost = expected as i64 - self.received as i64;
        let cumulative_lost = lost.clamp(-0x80_0000, 0x7F_FFFF) as i32;
        let expected_interval = expected.wrapping_sub(self.expected_prior);
        self.expected_prior = expected;
        let received_interval = self.received.wrapping_sub(self.received_prior);
        self.received_prior = self.received;
        let lost_interval = expected_interval as i64 - received_interval as i64;
        let fraction_lost = if expected_interval == 0 || lost_interval <= 0 {
            0
        } else {
            ((lost_interval << 8) / expected_interval as i64).min(255) as u8
        };
        LossReport {
            ssrc: self.ssrc,
            fraction_lost,
            cumulative_lost,
            extended_highest_seq: extended_max,
            jitter: self.jitter(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(seqs: &[u16]) -> ReceptionStats {
        let mut s = ReceptionStats::new(9, seqs[0]);
        for &q in &seqs[1..] {
            s.update_seq(q);
        }
        s
    }

    #[test]
    fn no_loss_in_order() {
        let seqs: Vec<u16> = (100..200).collect();
        let r = feed(&seqs).report();
        assert_eq!(
            (r.fraction_lost, r.cumulative_lost, r.extended_highest_seq),
            (0, 0, 199)
        );
    }

    #[test]
    fn loss_counts_and_fraction() {
        // 100 expected, every 4th lost: 25 lost, fraction 64/256.
        let seqs: Vec<u16> = (0..100u16).filter(|q| q % 4 != 1).collect();
        let mut s = feed(&seqs);
        let r = s.report();
        assert_eq!(r.cumulative_lost, 25);
        assert_eq!(r.extended_highest_seq, 99);
        assert_eq!(r.fraction_lost, 64);
        // Next interval without loss: fraction back to 0, cumulative kept.
        for q in 100..200 {
            s.update_seq(q);
        }
        let r = s.report();
        assert_eq!((r.fraction_lost, r.cumulative_lost), (0, 25));
    }

    #[test]
    fn sequence_wrap_extends_the_counter() {
        let seqs: Vec<u16> = (0..20u32).map(|i| (65530 + i) as u16).collect();
        let r = feed(&seqs).report();
        assert_eq!(r.extended_highest_seq, 65536 + 13);
        assert_eq!(r.cumulative_lost, 0);
    }

    #[test]
    fn reordering_and_duplicates_do_not_count_as_loss() {
        let r = feed(&[1, 3, 2, 4, 4, 5]).report();
        assert_eq!(r.extended_highest_seq, 5);
        assert_eq!(
            r.cumulative_lost, -1,
            "the duplicate makes it negative, as RFC 3550 says"
        );
    }

    #[test]
    fn big_jump_needs_two_packets_to_restart() {
        let mut s = feed(&[10, 11, 12]);
        assert!(!s.update_seq(30000));
        assert!(s.update_seq(30001));
        assert_eq!(s.extended_max(), 30001);
        assert_eq!(s.report().cumulative_lost, 0);
    }

    #[test]
    fn jitter_is_zero_for_constant_transit_and_tracks_alternating_delay() {
        let mut s = ReceptionStats::new(1, 0);
        for i in 0..100u32 {
            s.update_jitter(i * 160, 5000 + i * 160);
        }
        assert_eq!(s.jitter(), 0);
        // Arrivals alternate 0 and 80 units late: |D| = 80 every packet, J converges to 80.
        let mut s = ReceptionStats::new(1, 0);
        for i in 0..400u32 {
            s.update_jitter(i * 160, i * 160 + if i % 2 == 0 { 0 } else { 80 });
        }
        assert!((78..=80).contains(&s.jitter()), "jitter {}", s.jitter());
    }

    #[test]
    fn jitter_survives_timestamp_wrap() {
        let mut s = ReceptionStats::new(1, 0);
        for i in 0..50u32 {
            let ts = (u32::MAX - 1000).wrapping_add(i * 160);
            s.update_jitter(ts, ts.wrapping_add(77));
        }
        assert_eq!(s.jitter(), 0);
    }
}
