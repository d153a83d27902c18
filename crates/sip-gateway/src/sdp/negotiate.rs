//! The offer/answer model (RFC 3264) for one G.711 audio stream with RFC 4733 telephone-events.

use std::net::{IpAddr, SocketAddr};

use media::Codec;

use super::{
    Attribute, Connection, Direction, MediaDescription, Origin, SessionDescription, Timing,
    direction_in, parse_ptime,
};

/// What we use from a negotiated audio stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    /// Where to send RTP (may be `0.0.0.0` on an RFC 2543-style hold: then we do not send).
    pub remote_rtp: SocketAddr,
    pub codec: Codec,
    /// The payload type to use for `codec` (the remote side's number for it).
    pub payload_type: u8,
    /// The remote side's `telephone-event/8000` payload type (RFC 4733 §7.1.1), if offered.
    pub dtmf_payload_type: Option<u8>,
    /// Packet time in ms (`a=ptime`, default 20).
    pub ptime_ms: u32,
    /// The direction the remote side declared, from its point of view.
    pub remote_direction: Direction,
    /// Our direction (RFC 3264 §6.1): `SendOnly` means we send and do not expect to receive.
    pub local_direction: Direction,
    /// Index of the audio m= line in the description.
    pub media_index: usize,
}

/// Why no audio stream could be agreed; the gateway answers an offer with 488 Not Acceptable
/// Here (RFC 3261 §21.4.26) on any of these.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NegotiationError {
    /// No audio m= line with a non-zero port.
    #[error("no audio stream offered")]
    NoAudio,
    /// Audio only over profiles we do not speak (we take RTP/AVP and RTP/AVPF; no SRTP).
    #[error("audio offered only over unsupported transport '{proto}'")]
    UnsupportedTransport { proto: String },
    /// None of the offered formats is a codec we support.
    #[error("no common codec: offered {}", offered.join(", "))]
    NoCommonCodec { offered: Vec<String> },
    /// Neither a media-level nor a session-level `c=` line.
    #[error("no connection address for the audio stream")]
    NoConnectionAddress,
    /// The `c=` address is not an IP literal (host names are not resolved).
    #[error("connection address '{0}' is not an IP address")]
    UnsupportedAddress(String),
    /// RFC 3264 §6: an answer has exactly as many m= lines as the offer.
    #[error("the answer has {answer} m= lines, the offer {offer}")]
    MediaCountMismatch { offer: usize, answer: usize },
    /// The answer set the port of our audio stream to 0 (RFC 3264 §6).
    #[error("the answer rejected the audio stream")]
    AudioRejected,
}

/// RTP profiles we accept (RFC 3551 `RTP/AVP`, RFC 4585 `RTP/AVPF`).
fn is_supported_profile(proto: &str) -> bool {
    proto.eq_ignore_ascii_case("RTP/AVP") || proto.eq_ignore_ascii_case("RTP/AVPF")
}

/// The first audio m= line with a non-zero port over RTP/AVP(F).
fn find_audio(sdp: &SessionDescription) -> Result<(usize, &MediaDescription), NegotiationError> {
    let mut unsupported = None;
    for (index, m) in sdp.media.iter().enumerate() {
        if !m.media.eq_ignore_ascii_case("audio") || m.port == 0 {
            continue;
        }
        if is_supported_profile(&m.proto) {
            return Ok((index, m));
        }
        unsupported.get_or_insert_with(|| m.proto.clone());
    }
    Err(match unsupported {
        Some(proto) => NegotiationError::UnsupportedTransport { proto },
        None => NegotiationError::NoAudio,
    })
}

/// The codec a payload type stands for in this m= section: its `a=rtpmap` if present (G.711 at
/// 8000 Hz, mono), else the static assignment of RFC 3551 §6 (0 PCMU, 8 PCMA).
fn codec_for(m: &MediaDescription, payload_type: u8) -> Option<Codec> {
    match m.rtpmap(payload_type) {
        Some(map) => Codec::from_encoding_name(&map.encoding)
            .filter(|_| map.clock_rate == 8000 && map.channels.unwrap_or(1) == 1),
        None => match payload_type {
            0 => Some(Codec::Pcmu),
            8 => Some(Codec::Pcma),
            _ => None,
        },
    }
}

/// The `telephone-event/8000` payload type listed in this m= section (RFC 4733 §7.1.1).
fn dtmf_for(m: &MediaDescription) -> Option<u8> {
    m.rtpmaps()
        .filter(|map| {
            map.encoding.eq_ignore_ascii_case("telephone-event") && map.clock_rate == 8000
        })
        .map(|map| map.payload_type)
        .find(|pt| m.payload_types().any(|listed| listed == *pt))
}

/// Human-readable offered formats, for [`NegotiationError::NoCommonCodec`].
fn describe_formats(m: &MediaDescription) -> Vec<String> {
    m.formats
        .iter()
        .filter_map(|format| {
            let Ok(pt) = format.parse::<u8>() else {
                return Some(format.clone());
            };
            match m.rtpmap(pt) {
                Some(map) if map.encoding.eq_ignore_ascii_case("telephone-event") => None,
                Some(map) => Some(match map.channels {
                    Some(channels) => format!("{}/{}/{channels}", map.encoding, map.clock_rate),
                    None => format!("{}/{}", map.encoding, map.clock_rate),
                }),
                None => Some(
                    match pt {
                        0 => "PCMU/8000",
                        3 => "GSM/8000",
                        4 => "G723/8000",
                        8 => "PCMA/8000",
                        9 => "G722/8000",
                        13 => "CN/8000",
                        18 => "G729/8000",
                        _ => return Some(format.clone()),
                    }
                    .to_owned(),
                ),
            }
        })
        .collect()
}

/// The remote RTP address: media-level `c=`, else session-level (RFC 4566 §5.7).
fn remote_address(
    sdp: &SessionDescription,
    m: &MediaDescription,
) -> Result<IpAddr, NegotiationError> {
    let connection = m
        .connection
        .as_ref()
        .or(sdp.connection.as_ref())
        .ok_or(NegotiationError::NoConnectionAddress)?;
    connection
        .ip()
        .ok_or_else(|| NegotiationError::UnsupportedAddress(connection.address.clone()))
}

/// The direction a side declared: media level wins over session level, default sendrecv
/// (RFC 3264 §5.1). A `c=` of `0.0.0.0` (RFC 2543 hold, RFC 3264 §8.4) means the side does not
/// want to receive.
fn declared_direction(sdp: &SessionDescription, m: &MediaDescription, ip: IpAddr) -> Direction {
    let direction = direction_in(&m.attributes)
        .or_else(|| sdp.direction())
        .unwrap_or(Direction::SendRecv);
    if ip.is_unspecified() {
        match direction {
            Direction::SendRecv => Direction::SendOnly,
            Direction::RecvOnly => Direction::Inactive,
            other => other,
        }
    } else {
        direction
    }
}

fn ptime(sdp: &SessionDescription, m: &MediaDescription) -> u32 {
    m.ptime()
        .or_else(|| sdp.attribute("ptime").and_then(parse_ptime))
        .unwrap_or(20)
}

fn direction_from(sends: bool, receives: bool) -> Direction {
    match (sends, receives) {
        (true, true) => Direction::SendRecv,
        (true, false) => Direction::SendOnly,
        (false, true) => Direction::RecvOnly,
        (false, false) => Direction::Inactive,
    }
}

/// Chooses what to use from a remote offer (RFC 3264 §6): the first audio m= line with a
/// non-zero port over RTP/AVP or RTP/AVPF; the first of its formats, in the offer's order, that
/// is a codec in `supported` (PT 0/8 without rtpmap, or any PT whose rtpmap says PCMU/PCMA at
/// 8000 Hz); its `telephone-event/8000` PT; its ptime (default 20); its address (media `c=`,
/// else session `c=`); its direction (media level over session level; `c=0.0.0.0` = hold).
pub fn negotiate(
    offer: &SessionDescription,
    supported: &[Codec],
) -> Result<Negotiated, NegotiationError> {
    let (media_index, m) = find_audio(offer)?;
    let (payload_type, codec) = m
        .payload_types()
        .find_map(|pt| {
            codec_for(m, pt)
                .filter(|c| supported.contains(c))
                .map(|c| (pt, c))
        })
        .ok_or_else(|| NegotiationError::NoCommonCodec {
            offered: describe_formats(m),
        })?;
    let ip = remote_address(offer, m)?;
    let remote_direction = declared_direction(offer, m, ip);
    Ok(Negotiated {
        remote_rtp: SocketAddr::new(ip, m.port),
        codec,
        payload_type,
        dtmf_payload_type: dtmf_for(m),
        ptime_ms: ptime(offer, m),
        remote_direction,
        local_direction: remote_direction.answer_to(),
        media_index,
    })
}

/// The audio attributes we write: rtpmaps, telephone-event fmtp `0-16` (RFC 4733 §7.1.1),
/// ptime and direction.
fn audio_attributes(
    codecs: &[(u8, Codec)],
    dtmf: Option<u8>,
    ptime_ms: u32,
    direction: Direction,
) -> Vec<Attribute> {
    let mut attributes: Vec<Attribute> = codecs
        .iter()
        .map(|(pt, codec)| {
            Attribute::new(
                "rtpmap",
                format!("{pt} {}/{}", codec.encoding_name(), codec.clock_rate()),
            )
        })
        .collect();
    if let Some(pt) = dtmf {
        attributes.push(Attribute::new(
            "rtpmap",
            format!("{pt} telephone-event/8000"),
        ));
        attributes.push(Attribute::new("fmtp", format!("{pt} 0-16")));
    }
    attributes.push(Attribute::new("ptime", ptime_ms.to_string()));
    attributes.push(Attribute::flag(direction.attribute()));
    attributes
}

fn session(
    origin: &Origin,
    local_rtp: SocketAddr,
    times: Vec<Timing>,
    media: Vec<MediaDescription>,
) -> SessionDescription {
    SessionDescription {
        version: 0,
        origin: origin.into(),
        session_name: "-".to_owned(),
        information: None,
        uri: None,
        emails: Vec::new(),
        phones: Vec::new(),
        connection: Some(Connection::new(local_rtp.ip())),
        bandwidths: Vec::new(),
        times,
        time_zones: None,
        encryption_key: None,
        attributes: Vec::new(),
        media,
    }
}

fn audio_section(
    proto: &str,
    port: u16,
    attributes: Vec<Attribute>,
    formats: Vec<String>,
) -> MediaDescription {
    MediaDescription {
        media: "audio".to_owned(),
        port,
        port_count: None,
        proto: proto.to_owned(),
        formats,
        title: None,
        connection: None,
        bandwidths: Vec::new(),
        encryption_key: None,
        attributes,
    }
}

/// Answers `offer` (RFC 3264 §6): as many m= lines as the offer, every one but the negotiated
/// audio stream rejected with port 0 and its first format; the audio stream with the chosen
/// codec and, if offered, telephone-event on the offer's payload type, `a=ptime`, our direction;
/// `c=` with our address; `t=` copied from the offer.
pub fn build_answer(
    offer: &SessionDescription,
    negotiated: &Negotiated,
    local_rtp: SocketAddr,
    origin: &Origin,
) -> SessionDescription {
    let media = offer
        .media
        .iter()
        .enumerate()
        .map(|(index, m)| {
            if index != negotiated.media_index {
                let mut rejected = audio_section(
                    &m.proto,
                    0,
                    Vec::new(),
                    m.formats.iter().take(1).cloned().collect(),
                );
                rejected.media = m.media.clone();
                return rejected;
            }
            let dtmf = negotiated.dtmf_payload_type;
            let mut formats = vec![negotiated.payload_type.to_string()];
            formats.extend(dtmf.map(|pt| pt.to_string()));
            let attributes = audio_attributes(
                &[(negotiated.payload_type, negotiated.codec)],
                dtmf,
                negotiated.ptime_ms,
                negotiated.local_direction,
            );
            audio_section(&m.proto, local_rtp.port(), attributes, formats)
        })
        .collect();
    session(origin, local_rtp, offer.times.clone(), media)
}

/// An offer for one audio stream (for calling agents' phones): `codecs` on their static payload
/// types in our order of preference, telephone-event on `dtmf_payload_type`, ptime 20.
pub fn build_offer(
    local_rtp: SocketAddr,
    codecs: &[Codec],
    dtmf_payload_type: u8,
    direction: Direction,
    origin: &Origin,
) -> SessionDescription {
    let mut listed: Vec<(u8, Codec)> = Vec::new();
    for codec in codecs {
        if !listed.iter().any(|(_, c)| c == codec) {
            listed.push((codec.static_payload_type(), *codec));
        }
    }
    let mut formats: Vec<String> = listed.iter().map(|(pt, _)| pt.to_string()).collect();
    formats.push(dtmf_payload_type.to_string());
    let attributes = audio_attributes(&listed, Some(dtmf_payload_type), 20, direction);
    let audio = audio_section("RTP/AVP", local_rtp.port(), attributes, formats);
    let times = vec![Timing {
        start: 0,
        stop: 0,
        repeats: Vec::new(),
    }];
    session(origin, local_rtp, times, vec![audio])
}

/// Reads what the answerer picked for the audio stream of an offer we sent (RFC 3264 §7): the
/// first of its formats that is a codec we offered, its telephone-event payload type, ptime,
/// address and direction; our direction is what we offered, narrowed by the answer.
pub fn negotiate_answer(
    offer_we_sent: &SessionDescription,
    answer: &SessionDescription,
) -> Result<Negotiated, NegotiationError> {
    let (media_index, ours) = find_audio(offer_we_sent)?;
    if answer.media.len() != offer_we_sent.media.len() {
        return Err(NegotiationError::MediaCountMismatch {
            offer: offer_we_sent.media.len(),
            answer: answer.media.len(),
        });
    }
    let theirs = &answer.media[media_index];
    if theirs.port == 0 {
        return Err(NegotiationError::AudioRejected);
    }
    let offered: Vec<Codec> = ours
        .payload_types()
        .filter_map(|pt| codec_for(ours, pt))
        .collect();
    let (payload_type, codec) = theirs
        .payload_types()
        .find_map(|pt| {
            codec_for(theirs, pt)
                .filter(|c| offered.contains(c))
                .map(|c| (pt, c))
        })
        .ok_or_else(|| NegotiationError::NoCommonCodec {
            offered: describe_formats(theirs),
        })?;
    let ip = remote_address(answer, theirs)?;
    let remote_direction = declared_direction(answer, theirs, ip);
    let ours_direction = direction_in(&ours.attributes)
        .or_else(|| offer_we_sent.direction())
        .unwrap_or(Direction::SendRecv);
    let local_direction = direction_from(
        ours_direction.sends() && remote_direction.receives(),
        ours_direction.receives() && remote_direction.sends(),
    );
    Ok(Negotiated {
        remote_rtp: SocketAddr::new(ip, theirs.port),
        codec,
        payload_type,
        dtmf_payload_type: dtmf_for(theirs),
        ptime_ms: ptime(answer, theirs),
        remote_direction,
        local_direction,
        media_index,
    })
}
