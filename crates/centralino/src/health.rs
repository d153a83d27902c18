//! The components' availability as `serve` records it (issue 15): every `[availability]
//! heartbeat_s` the in-process probes ask each component whether it works, a change of
//! answer is published as `component.state` and the round as `system.heartbeat`; the event
//! log keeps both, and `reports::availability` folds them (with `system.started` /
//! `system.stopping`) into the SLA's availability lines.
//!
//! The probes:
//! - **ACD**: its actor answers a snapshot request within the probe timeout.
//! - **CTI** (web/API and event stream): the HTTP server answers its own `/api/v1/health`
//!   with 200 within the timeout (over HTTPS: it accepts the connection); the event stream
//!   is served by the same server from the bus the heartbeat itself is published on.
//! - **IVR**: the call side's run loop is alive, and the SIP gateway and the media engine
//!   answer their telemetry within the timeout with the gateway running.
//!
//! [`Health`] is the sans-IO part (what the answers mean as events); [`spawn`] drives it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use events::{Component, Event, EventBus};
use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::task::JoinHandle;
use tracing::warn;

/// `[availability]`: how often the service records that it is alive and probes its parts.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AvailabilitySection {
    /// Seconds between two heartbeats (and probe rounds). A crash costs at most this much
    /// up time counted as down.
    pub heartbeat_s: u64,
    /// How long a probe may take before its component counts as down.
    pub probe_timeout_ms: u64,
}

impl Default for AvailabilitySection {
    fn default() -> Self {
        AvailabilitySection {
            heartbeat_s: 60,
            probe_timeout_ms: 2_000,
        }
    }
}

impl AvailabilitySection {
    /// Problems as (field, message).
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if !(1..=3600).contains(&self.heartbeat_s) {
            out.push((
                "availability.heartbeat_s".to_owned(),
                "must be from 1 to 3600 seconds".to_owned(),
            ));
        }
        if self.probe_timeout_ms < 100 || self.probe_timeout_ms >= self.heartbeat_s * 1000 {
            out.push((
                "availability.probe_timeout_ms".to_owned(),
                "must be at least 100 ms and shorter than heartbeat_s".to_owned(),
            ));
        }
        out
    }
}

/// What each component answered last; the start counts every component up (the
/// `system.started` event says so).
#[derive(Debug)]
pub struct Health {
    down: [Option<String>; 3],
}

fn slot(c: Component) -> usize {
    match c {
        Component::Acd => 0,
        Component::Cti => 1,
        Component::Ivr => 2,
    }
}

impl Default for Health {
    fn default() -> Self {
        Health::new()
    }
}

impl Health {
    pub fn new() -> Health {
        Health {
            down: [None, None, None],
        }
    }

    /// One probe round's answers (`Err` with why a component is down): the events to
    /// publish, a `component.state` for each change and the heartbeat last.
    pub fn round(
        &mut self,
        answers: [(Component, Result<(), String>); 3],
        at: DateTime<Utc>,
    ) -> Vec<Event> {
        let mut out = Vec::new();
        for (component, answer) in answers {
            let was = &mut self.down[slot(component)];
            match (answer, was.is_some()) {
                (Err(reason), false) => {
                    warn!(component = component.as_str(), %reason, "component down");
                    *was = Some(reason.clone());
                    out.push(Event::ComponentState {
                        component,
                        up: false,
                        reason,
                        at,
                    });
                }
                (Ok(()), true) => {
                    warn!(component = component.as_str(), "component up again");
                    *was = None;
                    out.push(Event::ComponentState {
                        component,
                        up: true,
                        reason: "answers again".to_owned(),
                        at,
                    });
                }
                _ => {}
            }
        }
        out.push(Event::SystemHeartbeat { at });
        out
    }
}

/// What the probes ask.
pub struct Probes {
    pub acd: switchboard::AcdHandle,
    pub http: SocketAddr,
    pub https: bool,
    pub telemetry: switchboard::TelemetrySource,
    /// The call side's run loop is alive while this sender is not closed.
    pub calls_alive: Arc<dyn Fn() -> bool + Send + Sync>,
}

impl Probes {
    async fn acd(&self, limit: Duration) -> Result<(), String> {
        match tokio::time::timeout(limit, self.acd.snapshot()).await {
            Ok(Some(_)) => Ok(()),
            Ok(None) => Err("the ACD task has stopped".to_owned()),
            Err(_) => Err(format!(
                "the ACD did not answer in {} ms",
                limit.as_millis()
            )),
        }
    }

    async fn cti(&self, limit: Duration) -> Result<(), String> {
        http_health(self.http, self.https, limit).await
    }

    async fn ivr(&self, limit: Duration) -> Result<(), String> {
        if !(self.calls_alive)() {
            return Err("the call side has stopped".to_owned());
        }
        match tokio::time::timeout(limit, self.telemetry.snapshot()).await {
            Ok(t) if t.sip.is_some() => Ok(()),
            Ok(_) => Err("the SIP gateway has stopped".to_owned()),
            Err(_) => Err(format!(
                "the gateway and media engine did not answer in {} ms",
                limit.as_millis()
            )),
        }
    }
}

/// Whether the HTTP server at `addr` answers `/api/v1/health` with 200 within `limit`
/// (over HTTPS, whether it accepts the connection).
async fn http_health(addr: SocketAddr, https: bool, limit: Duration) -> Result<(), String> {
    let ask = async {
        let mut stream = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| format!("HTTP does not accept connections: {e}"))?;
        if https {
            return Ok(());
        }
        stream
            .write_all(
                b"GET /api/v1/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
            )
            .await
            .map_err(|e| format!("HTTP request not sent: {e}"))?;
        let mut head = [0u8; 16];
        let mut read = 0;
        while read < 12 {
            let n = stream
                .read(&mut head[read..])
                .await
                .map_err(|e| format!("HTTP answer not read: {e}"))?;
            if n == 0 {
                break;
            }
            read += n;
        }
        let status = String::from_utf8_lossy(&head[..read]).to_string();
        if status.starts_with("HTTP/1.1 200") {
            Ok(())
        } else {
            Err(format!("/api/v1/health answered {:?}", status.trim()))
        }
    };
    match tokio::time::timeout(limit, ask).await {
        Ok(answer) => answer,
        Err(_) => Err(format!("HTTP did not answer in {} ms", limit.as_millis())),
    }
}

/// Probes every `heartbeat_s` and publishes what [`Health`] makes of it, until aborted
/// (before `system.stopping`).
pub fn spawn(probes: Probes, bus: EventBus, section: &AvailabilitySection) -> JoinHandle<()> {
    let every = Duration::from_secs(section.heartbeat_s);
    let limit = Duration::from_millis(section.probe_timeout_ms);
    tokio::spawn(async move {
        let mut health = Health::new();
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The first tick is immediate: the start's own `system.started` covers it.
        ticks.tick().await;
        loop {
            ticks.tick().await;
            let (acd, cti, ivr) =
                tokio::join!(probes.acd(limit), probes.cti(limit), probes.ivr(limit));
            let answers = [
                (Component::Acd, acd),
                (Component::Cti, cti),
                (Component::Ivr, ivr),
            ];
            for event in health.round(answers, Utc::now()) {
                bus.publish(event);
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> DateTime<Utc> {
        "2026-03-02T09:00:00Z".parse().unwrap()
    }

    fn kinds(events: &[Event]) -> Vec<(&'static str, Option<bool>)> {
        events
            .iter()
            .map(|e| match e {
                Event::ComponentState { up, .. } => (e.kind(), Some(*up)),
                _ => (e.kind(), None),
            })
            .collect()
    }

    #[test]
    fn only_changes_are_published_and_every_round_ends_with_a_heartbeat() {
        let mut h = Health::new();
        let ok = || {
            [
                (Component::Acd, Ok(())),
                (Component::Cti, Ok(())),
                (Component::Ivr, Ok(())),
            ]
        };
        assert_eq!(kinds(&h.round(ok(), at())), [("system.heartbeat", None)]);
        let acd_down = || {
            [
                (Component::Acd, Err("no answer".to_owned())),
                (Component::Cti, Ok(())),
                (Component::Ivr, Ok(())),
            ]
        };
        let first = h.round(acd_down(), at());
        assert_eq!(
            kinds(&first),
            [("component.state", Some(false)), ("system.heartbeat", None)]
        );
        assert!(matches!(
            &first[0],
            Event::ComponentState { component: Component::Acd, reason, .. } if reason == "no answer"
        ));
        // Still down: nothing new but the heartbeat.
        assert_eq!(
            kinds(&h.round(acd_down(), at())),
            [("system.heartbeat", None)]
        );
        assert_eq!(
            kinds(&h.round(ok(), at())),
            [("component.state", Some(true)), ("system.heartbeat", None)]
        );
    }

    #[test]
    fn the_section_names_its_wrong_fields() {
        let zero = AvailabilitySection {
            heartbeat_s: 0,
            probe_timeout_ms: 2_000,
        };
        let fields: Vec<String> = zero.problems().into_iter().map(|(f, _)| f).collect();
        assert_eq!(
            fields,
            ["availability.heartbeat_s", "availability.probe_timeout_ms"]
        );
        assert!(AvailabilitySection::default().problems().is_empty());
    }

    #[tokio::test]
    async fn the_cti_probe_reads_the_status_of_a_real_http_server() {
        // A real listener that answers 503 then a closed port: both are down, with why.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 256];
            let _ = s.read(&mut buf).await.unwrap();
            s.write_all(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n")
                .await
                .unwrap();
        });
        let answer = cti_of(addr).await;
        server.await.unwrap();
        assert!(answer.unwrap_err().contains("503"));
    }

    async fn cti_of(addr: SocketAddr) -> Result<(), String> {
        http_health(addr, false, Duration::from_secs(2)).await
    }

    #[tokio::test]
    async fn a_closed_port_is_down() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        assert!(cti_of(addr).await.unwrap_err().contains("connections"));
    }
}
