//! StreamFramer (RFC 3261 §18.3, RFC 5626 §3.5.1).

use super::super::*;
use super::invite;

fn drain(framer: &mut StreamFramer) -> Vec<Result<Vec<u8>, FrameError>> {
    std::iter::from_fn(|| framer.next_message()).collect()
}

#[test]
fn frames_messages_split_at_every_byte() {
    let first = invite("", "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\n");
    let second = invite("Subject: two\r\n", "");
    let mut stream = b"\r\n\r\n".to_vec();
    stream.extend_from_slice(&first);
    stream.extend_from_slice(b"\r\n");
    stream.extend_from_slice(&second);
    for chunk in 1..=stream.len() {
        let mut framer = StreamFramer::new();
        let mut out = Vec::new();
        for piece in stream.chunks(chunk) {
            framer.push(piece);
            out.extend(drain(&mut framer));
        }
        assert_eq!(
            out,
            vec![Ok(first.clone()), Ok(second.clone())],
            "chunk {chunk}"
        );
        assert_eq!(framer.buffered(), 0);
        assert_eq!(
            framer.take_pings(),
            1,
            "one double-CRLF ping before the first message"
        );
    }
}

#[test]
fn compact_content_length_and_lf_only() {
    let msg = b"MESSAGE sip:a@b SIP/2.0\nl: 5\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\n\nhello";
    let mut framer = StreamFramer::new();
    framer.push(msg);
    framer.push(b"OPTIONS");
    assert_eq!(framer.next_message(), Some(Ok(msg.to_vec())));
    assert_eq!(framer.next_message(), None);
    assert_eq!(framer.buffered(), 7);
}

#[test]
fn keepalives_are_counted() {
    let mut framer = StreamFramer::new();
    framer.push(b"\r\n\r\n\r\n\r\n\r\n");
    assert_eq!(framer.next_message(), None);
    assert_eq!(framer.take_pings(), 2);
    assert_eq!(framer.take_pings(), 0);
    assert_eq!(framer.buffered(), 0);
}

#[test]
fn stream_errors_are_final() {
    let mut framer = StreamFramer::new();
    framer.push(b"OPTIONS sip:a@b SIP/2.0\r\nVia: x\r\n\r\n");
    assert_eq!(
        framer.next_message(),
        Some(Err(FrameError::MissingContentLength))
    );
    framer.push(b"more");
    assert_eq!(framer.next_message(), None);

    let mut framer = StreamFramer::new();
    framer.push(b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: -1\r\n\r\n");
    assert!(matches!(
        framer.next_message(),
        Some(Err(FrameError::InvalidContentLength(_)))
    ));

    let mut framer = StreamFramer::new();
    framer.push(b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 1\r\nl: 2\r\n\r\n");
    assert!(matches!(
        framer.next_message(),
        Some(Err(FrameError::InvalidContentLength(_)))
    ));

    let mut framer = StreamFramer::with_limits(64, 10);
    framer.push(b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 11\r\n\r\n");
    assert_eq!(
        framer.next_message(),
        Some(Err(FrameError::BodyTooLarge {
            length: 11,
            limit: 10
        }))
    );

    let mut framer = StreamFramer::with_limits(64, 10);
    framer.push(&[b'A'; 65]);
    assert_eq!(
        framer.next_message(),
        Some(Err(FrameError::HeaderTooLarge { limit: 64 }))
    );
}

#[test]
fn framed_messages_parse() {
    let mut framer = StreamFramer::new();
    framer.push(&invite("", "abc"));
    let message = framer.next_message().unwrap().unwrap();
    assert_eq!(parse(&message).unwrap().body(), b"abc");
}
