//! What the leg writes into its answer beyond what the WebRTC core does.

use std::net::IpAddr;

/// The answer with `public` in place of `bind` in its candidates and connection lines: the
/// host candidate a browser outside the 1:1 NAT can reach (RFC 8445 §5.1.1.1 allows a host
/// candidate to be the address a NAT maps one-to-one).
pub(crate) fn advertise(sdp: &str, bind: IpAddr, public: IpAddr) -> String {
    let bind = bind.to_string();
    let public = public.to_string();
    let family = if public.contains(':') { "IP6" } else { "IP4" };
    let mut out = String::with_capacity(sdp.len());
    for line in sdp.lines() {
        let line = line.trim_end_matches('\r');
        if let Some(candidate) = line.strip_prefix("a=candidate:") {
            let fields: Vec<&str> = candidate.split(' ').collect();
            if fields.len() > 5 && fields[4] == bind {
                let mut fields = fields;
                fields[4] = &public;
                out.push_str("a=candidate:");
                out.push_str(&fields.join(" "));
                out.push_str("\r\n");
                continue;
            }
        } else if let Some(address) = line
            .strip_prefix("c=IN IP4 ")
            .or_else(|| line.strip_prefix("c=IN IP6 "))
            && address == bind
        {
            out.push_str(&format!("c=IN {family} {public}\r\n"));
            continue;
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
/// The port of the first `a=candidate` line of an SDP (RFC 8839 §5.1: foundation, component,
/// transport, priority, address, port, …).
fn candidate_port(sdp: &str) -> Option<u16> {
    sdp.lines()
        .find_map(|l| l.trim_end().strip_prefix("a=candidate:"))
        .and_then(|c| c.split_whitespace().nth(5))
        .and_then(|p| p.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_public_address_replaces_the_bound_one_in_candidates_and_connection_lines() {
        let sdp = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\nc=IN IP4 10.0.0.5\r\n\
a=candidate:1 1 udp 2130706431 10.0.0.5 40000 typ host\r\n\
a=candidate:2 1 udp 2130706431 10.0.0.6 40002 typ host\r\n";
        let out = advertise(
            sdp,
            "10.0.0.5".parse().unwrap(),
            "203.0.113.9".parse().unwrap(),
        );
        assert_eq!(
            out,
            "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\nc=IN IP4 203.0.113.9\r\n\
a=candidate:1 1 udp 2130706431 203.0.113.9 40000 typ host\r\n\
a=candidate:2 1 udp 2130706431 10.0.0.6 40002 typ host\r\n"
        );
        assert_eq!(candidate_port(&out), Some(40000));
    }
}
