//! Bad input from the browser side: each refused with a clear error, nothing left bound.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::browser::Browser;
use tokio::time::timeout;
use webrtc_leg::{CloseReason, LegConfig, LegError, LegState, WebRtcLeg, live_legs};

/// Open sockets of this process (from /proc/self/fd).
fn open_sockets() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|target| target.to_string_lossy().starts_with("socket:"))
        .count()
}

/// Waits (bounded) until `addr` can be bound again, i.e. the leg released it.
async fn rebindable(addr: SocketAddr) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        match std::net::UdpSocket::bind(addr) {
            Ok(_) => return,
            Err(error) if tokio::time::Instant::now() >= deadline => {
                panic!("{addr} still bound 5 s after the leg closed: {error}")
            }
            // The driver drops its socket on its own task after close; give it a turn.
            Err(_) => tokio::task::yield_now().await,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offer_without_fingerprint_is_refused_and_binds_nothing() {
    let mut browser = Browser::new().await;
    let offer = browser.offer().await;
    let stripped: String = offer
        .lines()
        .filter(|l| !l.starts_with("a=fingerprint:"))
        .map(|l| format!("{l}\r\n"))
        .collect();
    let sockets = open_sockets();

    let error = WebRtcLeg::answer(&stripped, &LegConfig::default())
        .await
        .unwrap_err();

    assert!(matches!(error, LegError::NoFingerprint), "{error:?}");
    assert!(error.to_string().contains("a=fingerprint"), "{error}");
    assert_eq!(open_sockets(), sockets, "a refused offer binds no socket");
    assert_eq!(live_legs(), 0);
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_that_never_connects_is_closed_at_the_deadline_and_its_ports_released() {
    let mut browser = Browser::new().await;
    let offer = browser.offer().await;
    let sockets = open_sockets();
    let config = LegConfig {
        establish_timeout: Duration::from_millis(500),
        ..LegConfig::default()
    };

    // The browser never applies the answer: no ICE check, no DTLS.
    let (leg, _answer) = WebRtcLeg::answer(&offer, &config).await.unwrap();
    assert_eq!(live_legs(), 1);
    assert_eq!(leg.state(), LegState::Connecting);
    let (ice, plain) = (leg.ice_addr(), leg.plain_rtp_addr());

    let reason = timeout(Duration::from_secs(5), leg.closed())
        .await
        .expect("the leg closes itself at its deadline");

    assert!(
        matches!(reason, CloseReason::EstablishTimeout { timeout, .. } if timeout == config.establish_timeout),
        "{reason:?}"
    );
    assert!(
        reason.to_string().contains("not established within"),
        "{reason}"
    );
    assert_eq!(live_legs(), 0);
    rebindable(ice).await;
    rebindable(plain).await;
    assert_eq!(open_sockets(), sockets, "the leg's sockets are closed");
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dtls_handshake_that_cannot_finish_closes_the_leg_in_time() {
    // ICE completes, but the offer pins a certificate the browser does not have: the DTLS
    // handshake cannot be verified, so the leg must not come up and must close itself.
    let mut browser = Browser::new().await;
    let offer = browser.offer().await;
    let forged: String = offer
        .lines()
        .map(|l| {
            if l.starts_with("a=fingerprint:sha-256 ") {
                let mut forged = String::from("a=fingerprint:sha-256 ");
                forged.push_str(&vec!["00"; 32].join(":"));
                forged
            } else {
                l.to_owned()
            }
        })
        .map(|l| format!("{l}\r\n"))
        .collect();
    let config = LegConfig {
        establish_timeout: Duration::from_secs(2),
        ..LegConfig::default()
    };
    let (leg, answer) = WebRtcLeg::answer(&forged, &config).await.unwrap();
    browser.accept(answer).await;
    let (ice, plain) = (leg.ice_addr(), leg.plain_rtp_addr());

    let connected = timeout(Duration::from_secs(10), leg.connected())
        .await
        .expect("the leg settles in time");
    let reason = connected.expect_err("a forged fingerprint must not connect");
    assert!(
        matches!(
            reason,
            CloseReason::EstablishTimeout { .. } | CloseReason::Failed(_)
        ),
        "{reason:?}"
    );
    assert_eq!(live_legs(), 0);
    rebindable(ice).await;
    rebindable(plain).await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_releases_a_connecting_leg_at_once() {
    let mut browser = Browser::new().await;
    let offer = browser.offer().await;
    let (leg, _answer) = WebRtcLeg::answer(&offer, &LegConfig::default())
        .await
        .unwrap();
    let (ice, plain) = (leg.ice_addr(), leg.plain_rtp_addr());

    let reason = timeout(Duration::from_secs(5), leg.close())
        .await
        .expect("close completes");

    assert_eq!(reason, CloseReason::Local);
    assert_eq!(live_legs(), 0);
    rebindable(ice).await;
    rebindable(plain).await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_that_goes_away_after_connecting_closes_the_leg() {
    let mut browser = Browser::new().await;
    let offer = browser.offer().await;
    let config = LegConfig {
        consent_timeout: Duration::from_secs(2),
        ..LegConfig::default()
    };
    let (leg, answer) = WebRtcLeg::answer(&offer, &config).await.unwrap();
    browser.accept(answer).await;
    timeout(Duration::from_secs(10), leg.connected())
        .await
        .expect("connects in time")
        .expect("connects");
    let (ice, plain) = (leg.ice_addr(), leg.plain_rtp_addr());

    // The tab is closed: no more consent checks (RFC 7675), maybe a DTLS close_notify.
    browser.close().await;
    drop(browser);

    let reason = timeout(Duration::from_secs(15), leg.closed())
        .await
        .expect("the leg notices the browser is gone within its consent timeout");
    assert!(
        matches!(reason, CloseReason::PeerClosed | CloseReason::Failed(_)),
        "{reason:?}"
    );
    assert_eq!(live_legs(), 0);
    rebindable(ice).await;
    rebindable(plain).await;
}
