//! RTP header writing (RFC 3550 §5.1) into a caller's buffer; parsing is `rtp_rs::RtpReader`.

/// Length of an RTP header without CSRCs or extension.
pub const HEADER_LEN: usize = 12;

/// The fields we set on every packet we send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpHeader {
    pub payload_type: u8,
    pub marker: bool,
    pub sequence: u16,
    pub timestamp: u32,
    pub ssrc: u32,
}

impl RtpHeader {
    /// Writes the 12-byte header (version 2, no padding, extension or CSRC) into `buf[..12]`.
    #[inline]
    pub fn write(&self, buf: &mut [u8]) {
        buf[0] = 0x80;
        buf[1] = (self.payload_type & 0x7F) | if self.marker { 0x80 } else { 0 };
        buf[2..4].copy_from_slice(&self.sequence.to_be_bytes());
        buf[4..8].copy_from_slice(&self.timestamp.to_be_bytes());
        buf[8..12].copy_from_slice(&self.ssrc.to_be_bytes());
    }
}

/// Tells RTP from RTCP when both share a port (RFC 5761 §4): RTCP packet types 192-223 fall in
/// the second byte's range 64-95 after masking the marker bit.
pub fn looks_like_rtcp(packet: &[u8]) -> bool {
    packet.len() >= 2 && (192..=223).contains(&packet[1])
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rtp_rs::RtpReader;

    proptest! {
        #[test]
        fn written_header_parses_back(pt in 0u8..128, marker in any::<bool>(), seq in any::<u16>(),
                                      ts in any::<u32>(), ssrc in any::<u32>(),
                                      payload in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut buf = vec![0u8; HEADER_LEN + payload.len()];
            RtpHeader { payload_type: pt, marker, sequence: seq, timestamp: ts, ssrc }.write(&mut buf);
            buf[HEADER_LEN..].copy_from_slice(&payload);
            let r = RtpReader::new(&buf).unwrap();
            prop_assert_eq!(r.payload_type(), pt);
            prop_assert_eq!(r.mark(), marker);
            prop_assert_eq!(u16::from(r.sequence_number()), seq);
            prop_assert_eq!(r.timestamp(), ts);
            prop_assert_eq!(r.ssrc(), ssrc);
            prop_assert_eq!(r.payload(), &payload[..]);
        }

        #[test]
        fn reader_never_panics_on_garbage(data in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(r) = RtpReader::new(&data) {
                let _ = (r.payload_type(), r.sequence_number(), r.timestamp(), r.ssrc(), r.payload().len());
            }
        }
    }

    #[test]
    fn rtcp_is_told_apart() {
        assert!(looks_like_rtcp(&[0x80, 200]));
        assert!(looks_like_rtcp(&[0x81, 201]));
        assert!(!looks_like_rtcp(&[0x80, 0]));
        assert!(!looks_like_rtcp(&[0x80, 0x80 | 101]));
    }
}
