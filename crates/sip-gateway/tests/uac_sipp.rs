//! Our UAC against a real third-party UAS: SIPp's built-in `uas` scenario answers our INVITE
//! (180, 200 with SDP), takes our ACK, and answers our BYE.

use std::net::UdpSocket;
use std::process::{Command, Stdio};
use std::time::Duration;

use sip_gateway::gateway::{Gateway, GatewayConfig};
use sip_gateway::transaction::{Peer, TransportKind};
use sip_gateway::ua::{EndReason, OutgoingCall, UaEvent, UserAgentConfig};

fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn sipp_available() -> bool {
    Command::new("sipp")
        .arg("-v")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

#[tokio::test]
async fn we_call_sipp_uas_it_answers_and_our_bye_ends_the_call() {
    assert!(
        sipp_available(),
        "sipp is required (scripts/install-test-deps.sh installs it)"
    );
    let uas_port = free_udp_port();
    let media_port = free_udp_port();
    let dir = tempfile::tempdir().unwrap();
    let sipp = tokio::process::Command::new("sipp")
        .args(["-sn", "uas", "-i", "127.0.0.1", "-p", &uas_port.to_string()])
        .args(["-mp", &media_port.to_string(), "-m", "1", "-nostdin"])
        .args(["-timeout", "20s", "-timeout_error", "-trace_err"])
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("sipp starts");

    let (gateway, mut events) = Gateway::start(GatewayConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        ua: UserAgentConfig::default(),
    })
    .await
    .unwrap();
    let target = format!("sip:1001@127.0.0.1:{uas_port}");
    let out = OutgoingCall {
        target: rsip::Uri::try_from(target.as_str()).unwrap(),
        peer: Peer {
            addr: format!("127.0.0.1:{uas_port}").parse().unwrap(),
            transport: TransportKind::Udp,
        },
        to: format!("<{target}>"),
        from_user: "0600000001".into(),
        from_display: None,
        local_rtp: "127.0.0.1:20400".parse().unwrap(),
        dtmf_payload_type: 101,
        external_offer: None,
    };
    // SIPp needs a moment to bind; our INVITE is retransmitted (Timer A) until it answers.
    let call = gateway.call(out).await.unwrap();
    let answered = tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            match events.recv().await.expect("gateway running") {
                UaEvent::Answered { call: c, media } if c == call => return media,
                UaEvent::CallEnded { reason, .. } => panic!("call ended: {reason:?}"),
                _ => {}
            }
        }
    })
    .await
    .expect("SIPp answers within 15 s");
    assert_eq!(
        answered.codec.encoding_name(),
        "PCMU",
        "SIPp's uas answers PCMU"
    );
    assert_eq!(answered.remote_rtp.port(), media_port);

    gateway.hangup(call);
    let reason = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let UaEvent::CallEnded { call: c, reason } = events.recv().await.unwrap()
                && c == call
            {
                return reason;
            }
        }
    })
    .await
    .expect("BYE answered within 10 s");
    assert_eq!(reason, EndReason::LocalHangup);

    let output = tokio::time::timeout(Duration::from_secs(10), sipp.wait_with_output())
        .await
        .expect("sipp exits after its one call")
        .unwrap();
    assert!(
        output.status.success(),
        "sipp uas failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}
