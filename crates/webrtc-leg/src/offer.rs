//! What the leg needs to know of a browser's offer before anything is bound: sans-IO, so every
//! refusal is decided (and tested) without a socket.
//!
//! The checks are the ones a WebRTC answerer must make anyway (RFC 8829 §5.8, RFC 8827 §6.5):
//! media over DTLS-SRTP (`UDP/TLS/RTP/SAVPF`, RFC 5764 §8), a certificate fingerprint to pin
//! the DTLS handshake to (RFC 8122 §5), and a codec the trunk side speaks (G.711, RFC 3551
//! §4.5.14). Doing them here, before the peer connection is built, is what lets a refused
//! offer leave nothing bound.

use crate::error::LegError;

/// The G.711 law the leg relays (RFC 3551 §4.5.14).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum G711 {
    /// µ-law, static payload type 0.
    Pcmu,
    /// A-law, static payload type 8.
    Pcma,
}

impl G711 {
    /// The static payload type (RFC 3551 Table 4).
    pub fn static_payload_type(self) -> u8 {
        match self {
            G711::Pcmu => 0,
            G711::Pcma => 8,
        }
    }
}

/// The audio the offer allows and the leg will relay, with the offer's payload type numbers
/// (the plain RTP side uses the same numbers, so the media engine is configured with them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferedAudio {
    /// The first G.711 law in the offer's format list (the offerer's preference, RFC 3264 §5.1).
    pub codec: G711,
    /// Its payload type in the offer.
    pub payload_type: u8,
    /// The other G.711 law, if also offered.
    pub alternative: Option<(G711, u8)>,
    /// `telephone-event/8000` (RFC 4733 §7.1.1), if offered.
    pub telephone_event: Option<u8>,
    /// The offer's `a=setup` for the audio section (RFC 4145 §4), if any.
    pub setup: Option<String>,
}

/// Checks an offer and reads its audio section.
///
/// Refuses, in this order: no audio m-line; an audio m-line not on `UDP/TLS/RTP/SAVPF` (or
/// `UDP/TLS/RTP/SAVP`); no `a=fingerprint` at session or audio level; no PCMU or PCMA among
/// the audio formats.
pub fn check_offer(sdp: &str) -> Result<OfferedAudio, LegError> {
    let mut session_fingerprint = false;
    let mut in_session = true;
    let mut audio: Option<AudioSection> = None;
    let mut current_is_audio = false;

    for line in sdp.lines() {
        let line = line.trim_end_matches('\r');
        if let Some(m) = line.strip_prefix("m=") {
            in_session = false;
            let mut fields = m.split_whitespace();
            let media = fields.next().unwrap_or_default();
            current_is_audio = media == "audio" && audio.is_none();
            if current_is_audio {
                let _port = fields.next();
                let proto = fields.next().unwrap_or_default().to_owned();
                let formats = fields.filter_map(|f| f.parse::<u8>().ok()).collect();
                audio = Some(AudioSection {
                    proto,
                    formats,
                    rtpmaps: Vec::new(),
                    fingerprint: false,
                    setup: None,
                });
            }
            continue;
        }
        if in_session {
            if line.starts_with("a=fingerprint:") {
                session_fingerprint = true;
            }
            continue;
        }
        if !current_is_audio {
            continue;
        }
        let Some(section) = audio.as_mut() else {
            continue;
        };
        if line.starts_with("a=fingerprint:") {
            section.fingerprint = true;
        } else if let Some(setup) = line.strip_prefix("a=setup:") {
            section.setup = Some(setup.trim().to_owned());
        } else if let Some(rtpmap) = line.strip_prefix("a=rtpmap:") {
            let mut parts = rtpmap.splitn(2, ' ');
            if let (Some(pt), Some(encoding)) = (parts.next(), parts.next())
                && let Ok(pt) = pt.parse::<u8>()
            {
                section
                    .rtpmaps
                    .push((pt, encoding.trim().to_ascii_lowercase()));
            }
        }
    }

    let audio = audio.ok_or(LegError::NoAudio)?;
    if audio.proto != "UDP/TLS/RTP/SAVPF" && audio.proto != "UDP/TLS/RTP/SAVP" {
        return Err(LegError::NotDtlsSrtp { proto: audio.proto });
    }
    if !session_fingerprint && !audio.fingerprint {
        return Err(LegError::NoFingerprint);
    }

    let mut g711 = Vec::new();
    let mut telephone_event = None;
    for &pt in &audio.formats {
        match audio.encoding(pt) {
            Some(e) if e.starts_with("pcmu/8000") => g711.push((G711::Pcmu, pt)),
            Some(e) if e.starts_with("pcma/8000") => g711.push((G711::Pcma, pt)),
            Some(e) if e.starts_with("telephone-event/8000") => {
                telephone_event.get_or_insert(pt);
            }
            // Static payload types may come without an rtpmap (RFC 4566 §6).
            None if pt == 0 => g711.push((G711::Pcmu, pt)),
            None if pt == 8 => g711.push((G711::Pcma, pt)),
            _ => {}
        }
    }
    let Some(&(codec, payload_type)) = g711.first() else {
        return Err(LegError::NoG711 {
            offered: audio
                .formats
                .iter()
                .map(|&pt| match audio.encoding(pt) {
                    Some(e) => format!("{pt} {e}"),
                    None => pt.to_string(),
                })
                .collect::<Vec<_>>()
                .join(", "),
        });
    };
    let alternative = g711.iter().copied().find(|&(c, _)| c != codec);
    Ok(OfferedAudio {
        codec,
        payload_type,
        alternative,
        telephone_event,
        setup: audio.setup,
    })
}

struct AudioSection {
    proto: String,
    formats: Vec<u8>,
    rtpmaps: Vec<(u8, String)>,
    fingerprint: bool,
    setup: Option<String>,
}

impl AudioSection {
    fn encoding(&self, pt: u8) -> Option<&str> {
        self.rtpmaps
            .iter()
            .find(|(p, _)| *p == pt)
            .map(|(_, e)| e.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BROWSER_OFFER: &str = "v=0\r\n\
o=- 1 2 IN IP4 127.0.0.1\r\n\
s=-\r\n\
t=0 0\r\n\
a=group:BUNDLE 0\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 111 0 8 101\r\n\
c=IN IP4 0.0.0.0\r\n\
a=ice-ufrag:abcd\r\n\
a=ice-pwd:abcdefghijklmnopqrstuvwx\r\n\
a=fingerprint:sha-256 AA:BB\r\n\
a=setup:actpass\r\n\
a=mid:0\r\n\
a=rtcp-mux\r\n\
a=rtpmap:111 opus/48000/2\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n";

    #[test]
    fn a_browser_offer_gives_its_first_g711_and_telephone_event() {
        let audio = check_offer(BROWSER_OFFER).unwrap();
        assert_eq!(audio.codec, G711::Pcmu);
        assert_eq!(audio.payload_type, 0);
        assert_eq!(audio.alternative, Some((G711::Pcma, 8)));
        assert_eq!(audio.telephone_event, Some(101));
        assert_eq!(audio.setup.as_deref(), Some("actpass"));
    }

    #[test]
    fn a_session_level_fingerprint_is_enough() {
        let offer = BROWSER_OFFER
            .replace("a=fingerprint:sha-256 AA:BB\r\n", "")
            .replace("t=0 0\r\n", "t=0 0\r\na=fingerprint:sha-256 AA:BB\r\n");
        assert!(check_offer(&offer).is_ok());
    }

    #[test]
    fn an_offer_without_fingerprint_is_refused_naming_it() {
        let offer = BROWSER_OFFER.replace("a=fingerprint:sha-256 AA:BB\r\n", "");
        let error = check_offer(&offer).unwrap_err();
        assert!(matches!(error, LegError::NoFingerprint));
        assert!(error.to_string().contains("a=fingerprint"), "{error}");
    }

    #[test]
    fn an_offer_on_plain_rtp_is_refused() {
        let offer = BROWSER_OFFER.replace("UDP/TLS/RTP/SAVPF", "RTP/AVP");
        let error = check_offer(&offer).unwrap_err();
        assert!(matches!(error, LegError::NotDtlsSrtp { ref proto } if proto == "RTP/AVP"));
    }

    #[test]
    fn an_offer_without_g711_is_refused_listing_what_came() {
        let offer = BROWSER_OFFER.replace("111 0 8 101", "111 101");
        let error = check_offer(&offer).unwrap_err();
        assert!(error.to_string().contains("111 opus/48000/2"), "{error}");
    }

    #[test]
    fn an_offer_without_audio_is_refused() {
        let offer = BROWSER_OFFER.replace("m=audio", "m=video");
        assert!(matches!(check_offer(&offer), Err(LegError::NoAudio)));
    }

    #[test]
    fn static_payload_types_need_no_rtpmap() {
        let offer = BROWSER_OFFER.replace("a=rtpmap:0 PCMU/8000\r\n", "");
        let audio = check_offer(&offer).unwrap();
        assert_eq!((audio.codec, audio.payload_type), (G711::Pcmu, 0));
    }
}
