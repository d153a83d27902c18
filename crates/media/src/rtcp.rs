//! RTCP packets (RFC 3550 §6): writing SR/RR + SDES CNAME (+ BYE) compounds into a caller's
//! buffer, and reading incoming compounds without trusting them.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

const PT_SR: u8 = 200;
const PT_RR: u8 = 201;
const PT_SDES: u8 = 202;
const PT_BYE: u8 = 203;
/// Seconds from 1900-01-01 (NTP era 0) to 1970-01-01.
const NTP_UNIX_OFFSET: u64 = 2_208_988_800;

/// A 64-bit NTP timestamp (RFC 3550 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NtpTime(pub u64);

impl NtpTime {
    pub fn from_system(t: SystemTime) -> NtpTime {
        let d = t.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
        let secs = d.as_secs() + NTP_UNIX_OFFSET;
        let frac = ((d.subsec_nanos() as u64) << 32) / 1_000_000_000;
        NtpTime((secs << 32) | frac)
    }

    /// The middle 32 bits, as used in LSR (RFC 3550 §6.4.1).
    pub fn middle(self) -> u32 {
        (self.0 >> 16) as u32
    }
}

/// Sender information of an SR (RFC 3550 §6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SenderInfo {
    pub ntp: NtpTime,
    pub rtp_timestamp: u32,
    pub packet_count: u32,
    pub octet_count: u32,
}

/// One reception report block (RFC 3550 §6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportBlock {
    pub ssrc: u32,
    pub fraction_lost: u8,
    pub cumulative_lost: i32,
    pub extended_highest_seq: u32,
    pub jitter: u32,
    pub last_sr: u32,
    /// Delay since last SR, in 1/65536 s.
    pub delay_since_last_sr: u32,
}

impl ReportBlock {
    const LEN: usize = 24;

    fn write(&self, out: &mut [u8]) {
        out[0..4].copy_from_slice(&self.ssrc.to_be_bytes());
        let lost = (self.cumulative_lost as u32) & 0x00FF_FFFF;
        out[4..8].copy_from_slice(&(((self.fraction_lost as u32) << 24) | lost).to_be_bytes());
        out[8..12].copy_from_slice(&self.extended_highest_seq.to_be_bytes());
        out[12..16].copy_from_slice(&self.jitter.to_be_bytes());
        out[16..20].copy_from_slice(&self.last_sr.to_be_bytes());
        out[20..24].copy_from_slice(&self.delay_since_last_sr.to_be_bytes());
    }

    fn read(b: &[u8]) -> ReportBlock {
        let word = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let lost_word = word(4);
        // Sign-extend the 24-bit cumulative loss.
        let cumulative_lost = ((lost_word << 8) as i32) >> 8;
        ReportBlock {
            ssrc: word(0),
            fraction_lost: (lost_word >> 24) as u8,
            cumulative_lost,
            extended_highest_seq: word(8),
            jitter: word(12),
            last_sr: word(16),
            delay_since_last_sr: word(20),
        }
    }
}

/// What goes into one compound report we send.
#[derive(Debug, Clone, Copy)]
pub struct OutgoingReport {
    pub ssrc: u32,
    /// `Some` → SR, `None` → RR (RFC 3550 §6.4: SR only if we sent data since the last report).
    pub sender: Option<SenderInfo>,
    pub block: Option<ReportBlock>,
    /// Append a BYE (RFC 3550 §6.6).
    pub bye: bool,
}

/// The CNAME we use: `centralino-` and the SSRC in hex; unique per stream, stable within it.
fn write_cname(ssrc: u32, out: &mut [u8; 19]) {
    out[..11].copy_from_slice(b"centralino-");
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for i in 0..8 {
        out[11 + i] = HEX[((ssrc >> (28 - 4 * i)) & 0xF) as usize];
    }
}

fn write_header(out: &mut [u8], count: u8, pt: u8, total_len: usize) {
    out[0] = 0x80 | (count & 0x1F);
    out[1] = pt;
    out[2..4].copy_from_slice(&((total_len / 4 - 1) as u16).to_be_bytes());
}

/// Largest compound [`write_compound`] produces.
pub const MAX_COMPOUND_LEN: usize = 28 + ReportBlock::LEN + 32 + 8;

/// Writes SR or RR, SDES CNAME and optionally BYE into `out` (at least
/// [`MAX_COMPOUND_LEN`] bytes); returns the length.
pub fn write_compound(report: &OutgoingReport, out: &mut [u8]) -> usize {
    let blocks = usize::from(report.block.is_some());
    let mut at = 0;
    // SR / RR (RFC 3550 §6.4.1, §6.4.2).
    let (pt, fixed) = if report.sender.is_some() {
        (PT_SR, 28)
    } else {
        (PT_RR, 8)
    };
    let len = fixed + blocks * ReportBlock::LEN;
    write_header(&mut out[at..], blocks as u8, pt, len);
    out[at + 4..at + 8].copy_from_slice(&report.ssrc.to_be_bytes());
    if let Some(s) = report.sender {
        out[at + 8..at + 16].copy_from_slice(&s.ntp.0.to_be_bytes());
        out[at + 16..at + 20].copy_from_slice(&s.rtp_timestamp.to_be_bytes());
        out[at + 20..at + 24].copy_from_slice(&s.packet_count.to_be_bytes());
        out[at + 24..at + 28].copy_from_slice(&s.octet_count.to_be_bytes());
    }
    if let Some(b) = report.block {
        b.write(&mut out[at + fixed..at + fixed + ReportBlock::LEN]);
    }
    at += len;
    // SDES with one chunk: SSRC, CNAME item, END, padding to a 32-bit boundary (§6.5).
    let mut cname = [0u8; 19];
    write_cname(report.ssrc, &mut cname);
    let items = 2 + cname.len() + 1;
    let sdes_len = 4 + 4 + items.div_ceil(4) * 4;
    out[at..at + sdes_len].fill(0);
    write_header(&mut out[at..], 1, PT_SDES, sdes_len);
    out[at + 4..at + 8].copy_from_slice(&report.ssrc.to_be_bytes());
    out[at + 8] = 1; // CNAME
    out[at + 9] = cname.len() as u8;
    out[at + 10..at + 10 + cname.len()].copy_from_slice(&cname);
    at += sdes_len;
    if report.bye {
        write_header(&mut out[at..], 1, PT_BYE, 8);
        out[at + 4..at + 8].copy_from_slice(&report.ssrc.to_be_bytes());
        at += 8;
    }
    at
}

/// Why an incoming RTCP datagram was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RtcpError {
    #[error("RTCP packet too short: expected at least 4 header bytes, got {0}")]
    Truncated(usize),
    #[error("RTCP version: expected 2, got {0}")]
    Version(u8),
    #[error("RTCP length field says {claimed} bytes, only {available} remain")]
    Length { claimed: usize, available: usize },
    #[error("RTCP compound must start with SR or RR (RFC 3550 §6.1), got packet type {0}")]
    FirstNotReport(u8),
}

/// What an incoming compound told us.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IncomingRtcp {
    /// The sender's SSRC and info, if it contained an SR.
    pub sender_report: Option<(u32, SenderInfo)>,
    /// The report block about `our_ssrc`, if any.
    pub report_about_us: Option<ReportBlock>,
    /// It contained a BYE.
    pub bye: bool,
}

/// Reads a compound RTCP datagram (RFC 3550 §6.1, validity checks of appendix A.2, relaxed on
/// padding). Never panics on garbage.
pub fn parse_compound(buf: &[u8], our_ssrc: u32) -> Result<IncomingRtcp, RtcpError> {
    let mut info = IncomingRtcp::default();
    let mut rest = buf;
    let mut first = true;
    if rest.len() < 4 {
        return Err(RtcpError::Truncated(rest.len()));
    }
    while !rest.is_empty() {
        if rest.len() < 4 {
            return Err(RtcpError::Truncated(rest.len()));
        }
        let version = rest[0] >> 6;
        if version != 2 {
            return Err(RtcpError::Version(version));
        }
        let count = (rest[0] & 0x1F) as usize;
        let pt = rest[1];
        let len = (u16::from_be_bytes([rest[2], rest[3]]) as usize + 1) * 4;
        if len > rest.len() {
            return Err(RtcpError::Length {
                claimed: len,
                available: rest.len(),
            });
        }
        if first && pt != PT_SR && pt != PT_RR {
            return Err(RtcpError::FirstNotReport(pt));
        }
        first = false;
        let body = &rest[..len];
        let word = |i: usize| -> Option<u32> {
            body.get(i..i + 4)
                .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        };
        let blocks_at = match pt {
            PT_SR => {
                if let (Some(ssrc), Some(hi), Some(lo), Some(ts), Some(pc), Some(oc)) =
                    (word(4), word(8), word(12), word(16), word(20), word(24))
                {
                    info.sender_report = Some((
                        ssrc,
                        SenderInfo {
                            ntp: NtpTime(((hi as u64) << 32) | lo as u64),
                            rtp_timestamp: ts,
                            packet_count: pc,
                            octet_count: oc,
                        },
                    ));
                }
                Some(28)
            }
            PT_RR => Some(8),
            PT_BYE => {
                info.bye = true;
                None
            }
            _ => None,
        };
        if let Some(start) = blocks_at {
            for i in 0..count {
                let at = start + i * ReportBlock::LEN;
                let Some(b) = body.get(at..at + ReportBlock::LEN) else {
                    break;
                };
                let block = ReportBlock::read(b);
                if block.ssrc == our_ssrc {
                    info.report_about_us = Some(block);
                }
            }
        }
        rest = &rest[len..];
    }
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn block() -> ReportBlock {
        ReportBlock {
            ssrc: 0xAABB_CCDD,
            fraction_lost: 64,
            cumulative_lost: -3,
            extended_highest_seq: 70_000,
            jitter: 12,
            last_sr: 0x1234_5678,
            delay_since_last_sr: 65536,
        }
    }

    #[test]
    fn sender_report_round_trips() {
        let sender = SenderInfo {
            ntp: NtpTime::from_system(UNIX_EPOCH + Duration::from_millis(1_500)),
            rtp_timestamp: 8000,
            packet_count: 50,
            octet_count: 8000,
        };
        assert_eq!(sender.ntp.0 >> 32, NTP_UNIX_OFFSET + 1);
        assert_eq!(sender.ntp.0 & 0xFFFF_FFFF, 1 << 31);
        let mut buf = [0u8; MAX_COMPOUND_LEN];
        let n = write_compound(
            &OutgoingReport {
                ssrc: 7,
                sender: Some(sender),
                block: Some(block()),
                bye: true,
            },
            &mut buf,
        );
        assert_eq!(n % 4, 0);
        assert_eq!(n, MAX_COMPOUND_LEN);
        let got = parse_compound(&buf[..n], 0xAABB_CCDD).unwrap();
        assert_eq!(got.sender_report, Some((7, sender)));
        assert_eq!(got.report_about_us, Some(block()));
        assert!(got.bye);
    }

    #[test]
    fn receiver_report_with_sdes_cname() {
        let mut buf = [0u8; MAX_COMPOUND_LEN];
        let n = write_compound(
            &OutgoingReport {
                ssrc: 0x0102_0304,
                sender: None,
                block: Some(block()),
                bye: false,
            },
            &mut buf,
        );
        assert_eq!(buf[1], PT_RR);
        assert_eq!(buf[0] & 0x1F, 1);
        let sdes = &buf[32..n];
        assert_eq!(sdes[1], PT_SDES);
        assert_eq!(&sdes[10..29], b"centralino-01020304");
        let got = parse_compound(&buf[..n], 0xAABB_CCDD).unwrap();
        assert_eq!(got.sender_report, None);
        assert_eq!(got.report_about_us, Some(block()));
        assert!(!got.bye);
    }

    #[test]
    fn garbage_is_refused_with_a_reason() {
        assert_eq!(parse_compound(&[], 1), Err(RtcpError::Truncated(0)));
        assert_eq!(
            parse_compound(&[0x40, 200, 0, 1], 1),
            Err(RtcpError::Version(1))
        );
        assert_eq!(
            parse_compound(&[0x80, 200, 0, 9, 0, 0, 0, 0], 1),
            Err(RtcpError::Length {
                claimed: 40,
                available: 8
            })
        );
        assert_eq!(
            parse_compound(&[0x81, 202, 0, 0], 1),
            Err(RtcpError::FirstNotReport(202))
        );
    }

    proptest! {
        #[test]
        fn parser_never_panics(data in proptest::collection::vec(any::<u8>(), 0..120)) {
            let _ = parse_compound(&data, 5);
        }

        #[test]
        fn parser_never_panics_on_valid_header_with_junk(count in 0u8..32, pt in 200u8..205, words in 0u16..20,
                                                         junk in proptest::collection::vec(any::<u8>(), 0..100)) {
            let mut data = vec![0x80 | count, pt];
            data.extend_from_slice(&words.to_be_bytes());
            data.extend_from_slice(&junk);
            let _ = parse_compound(&data, 5);
        }
    }
}
