//! Prometheus metrics (CONTRACT.md names). Event-driven counters are derived from the event
//! log ([`crate::figures::Figures`]: live from its writer, rebuilt from today's log at start);
//! SIP and RTP figures are read from the engines at scrape time and carried into counters.

use ::events::{Event, Outcome};
use events::live::LiveView;
use events::telemetry::{Histogram, Telemetry};
use prometheus::core::Collector;
use prometheus::{
    Encoder, GaugeVec, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

/// Every metric we expose.
pub struct Metrics {
    registry: Registry,
    calls_active: IntGauge,
    calls_total: IntCounterVec,
    dtmf_total: IntCounter,
    sip_received: IntCounter,
    sip_sent: IntCounter,
    sip_malformed: IntCounter,
    sip_denied: IntCounter,
    sip_transactions: IntGauge,
    sip_tcp_connections: IntGauge,
    sip_ws_connections: IntGauge,
    sip_ws_refused: IntCounterVec,
    rtp_sent: IntCounter,
    rtp_received: IntCounter,
    rtcp_sent: IntCounter,
    media_legs: IntGauge,
    media_late_ticks: IntCounter,
    rtp_foreign: IntCounter,
    sip_dialogs: IntGauge,
    rtp_relayed: IntCounter,
    sip_auth_failures: IntCounter,
    sip_registers_dropped: IntCounter,
    registered_phones: IntGauge,
    queue_waiting: IntGaugeVec,
    queue_oldest: GaugeVec,
    agents: IntGaugeVec,
    tickets_created: IntCounterVec,
    http_requests: IntCounterVec,
    http_duration: HistogramVec,
    sip_transactions_total: IntCounterVec,
    sip_retransmissions: IntCounterVec,
    sip_transaction_timeouts: IntCounterVec,
    event_log_refused: IntCounter,
    event_stream_resyncs: IntCounter,
    events_spilled: IntCounter,
    events_backlog: IntGauge,
    /// The recorded bus whose spill and backlog are read at scrape time.
    recorder: std::sync::OnceLock<events::EventBus>,
    web_form: IntCounterVec,
}

/// `le` bounds of the HTTP request duration histogram, in seconds.
const HTTP_DURATION_BOUNDS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// `centralino_web_form_requests_total{outcome}`, every outcome present from the start.
fn web_form_counter(registry: &Registry) -> IntCounterVec {
    let c = register(
        registry,
        IntCounterVec::new(
            Opts::new(
                "centralino_web_form_requests_total",
                "Submissions of the public web form, by outcome (opened, honeypot, rate_limited, invalid, too_large).",
            ),
            &["outcome"],
        )
        .expect("valid metric"),
    );
    for outcome in crate::api::web_form::Outcome::ALL {
        c.with_label_values(&[outcome.as_str()]);
    }
    c
}

fn register<C: Collector + Clone + 'static>(registry: &Registry, collector: C) -> C {
    registry
        .register(Box::new(collector.clone()))
        .expect("metric names are unique");
    collector
}

fn counter(registry: &Registry, name: &str, help: &str) -> IntCounter {
    register(
        registry,
        IntCounter::with_opts(Opts::new(name, help)).expect("valid metric"),
    )
}

fn gauge(registry: &Registry, name: &str, help: &str) -> IntGauge {
    register(
        registry,
        IntGauge::with_opts(Opts::new(name, help)).expect("valid metric"),
    )
}

/// Moves a counter up to a total read elsewhere (counters only go up; a smaller total means
/// the source restarted and is ignored).
fn catch_up(counter: &IntCounter, total: u64) {
    let current = counter.get();
    if total > current {
        counter.inc_by(total - current);
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let r = Registry::new();
        let calls_total = register(
            &r,
            IntCounterVec::new(
                Opts::new("centralino_calls_total", "Finished calls by outcome."),
                &["outcome"],
            )
            .expect("valid metric"),
        );
        for outcome in Outcome::ALL {
            calls_total.with_label_values(&[outcome.as_str()]);
        }
        // Filled from the ACD's snapshot at scrape time; queue series appear with the queues.
        let queue_waiting = register(
            &r,
            IntGaugeVec::new(
                Opts::new("centralino_queue_waiting", "Calls waiting in each queue."),
                &["queue"],
            )
            .expect("valid metric"),
        );
        let queue_oldest = register(
            &r,
            GaugeVec::new(
                Opts::new(
                    "centralino_queue_oldest_wait_seconds",
                    "Wait of the oldest call in each queue.",
                ),
                &["queue"],
            )
            .expect("valid metric"),
        );
        // Every agent state and ticket channel exists from the start at 0; queue series appear
        // with the queues.
        let agents = register(
            &r,
            IntGaugeVec::new(
                Opts::new("centralino_agents", "Agents by state."),
                &["state"],
            )
            .expect("valid metric"),
        );
        for state in [
            "logged_out",
            "ready",
            "ringing",
            "talking",
            "wrap_up",
            "not_ready",
        ] {
            agents.with_label_values(&[state]);
        }
        let tickets = register(
            &r,
            IntCounterVec::new(
                Opts::new(
                    "centralino_tickets_created_total",
                    "Service Requests created, by channel.",
                ),
                &["channel"],
            )
            .expect("valid metric"),
        );
        for channel in ["phone", "email", "voicemail", "web", "fax"] {
            tickets.with_label_values(&[channel]);
        }
        let http_requests = register(
            &r,
            IntCounterVec::new(
                Opts::new(
                    "centralino_http_requests_total",
                    "HTTP requests answered, by method, route pattern and status code.",
                ),
                &["method", "route", "status"],
            )
            .expect("valid metric"),
        );
        let http_duration = register(
            &r,
            HistogramVec::new(
                HistogramOpts::new(
                    "centralino_http_request_duration_seconds",
                    "Time to answer HTTP requests (to the response head; a WebSocket counts \
                     until its upgrade), by route pattern.",
                )
                .buckets(HTTP_DURATION_BOUNDS.to_vec()),
                &["route"],
            )
            .expect("valid metric"),
        );
        let labelled = |name: &str, help: &str, label: &str, values: &[&str]| {
            let v = register(
                &r,
                IntCounterVec::new(Opts::new(name, help), &[label]).expect("valid metric"),
            );
            for value in values {
                v.with_label_values(&[value]);
            }
            v
        };
        let sip_transactions_total = labelled(
            "centralino_sip_transactions_total",
            "SIP transactions created: server (requests received) and client (requests sent).",
            "side",
            &["server", "client"],
        );
        let sip_retransmissions = labelled(
            "centralino_sip_retransmissions_total",
            "SIP retransmissions: sent by our timers, or received and absorbed.",
            "kind",
            &["sent", "absorbed"],
        );
        let sip_transaction_timeouts = labelled(
            "centralino_sip_transaction_timeouts_total",
            "SIP transactions that timed out: no final answer (Timers B, F) or no ACK (Timer H).",
            "kind",
            &["no_answer", "no_ack"],
        );
        let sip_ws_refused = labelled(
            "centralino_sip_ws_refused_total",
            "SIP over WebSocket (/ws) refused: upgrades (outside allow_from, over the limit), \
             messages (not SIP, too large: each closed its flow), flows closed for silence.",
            "what",
            &["upgrade", "message", "timeout"],
        );
        Metrics {
            sip_ws_refused,
            http_requests,
            http_duration,
            sip_transactions_total,
            sip_retransmissions,
            sip_transaction_timeouts,
            queue_waiting,
            queue_oldest,
            agents,
            tickets_created: tickets,
            web_form: web_form_counter(&r),
            rtp_relayed: counter(
                &r,
                "centralino_rtp_packets_relayed_total",
                "RTP packets relayed between the two legs of bridged calls.",
            ),
            sip_auth_failures: counter(
                &r,
                "centralino_sip_auth_failures_total",
                "Failed digest authentications of agents' phones (wrong password, unknown user, replay).",
            ),
            sip_registers_dropped: counter(
                &r,
                "centralino_sip_registers_dropped_total",
                "REGISTERs without valid credentials dropped unanswered: their source address was over registrar.challenge_rate_per_address (a REGISTER flood).",
            ),
            registered_phones: gauge(
                &r,
                "centralino_sip_registered_users",
                "Agents whose phone has at least one registered contact.",
            ),
            calls_active: gauge(&r, "centralino_calls_active", "Calls in progress."),
            calls_total,
            dtmf_total: counter(
                &r,
                "centralino_dtmf_digits_received_total",
                "Keypad digits received (RFC 4733), each key press once.",
            ),
            sip_received: counter(
                &r,
                "centralino_sip_messages_received_total",
                "SIP messages received (UDP and TCP).",
            ),
            sip_sent: counter(
                &r,
                "centralino_sip_messages_sent_total",
                "SIP messages sent.",
            ),
            sip_malformed: counter(
                &r,
                "centralino_sip_malformed_total",
                "SIP messages that could not be parsed (answered 400 when possible).",
            ),
            sip_denied: counter(
                &r,
                "centralino_sip_denied_total",
                "SIP requests dropped because their source is outside sip.allow_from.",
            ),
            sip_transactions: gauge(
                &r,
                "centralino_sip_transactions_active",
                "Live SIP transactions.",
            ),
            sip_tcp_connections: gauge(
                &r,
                "centralino_sip_tcp_connections",
                "Open SIP TCP connections.",
            ),
            sip_ws_connections: gauge(
                &r,
                "centralino_sip_ws_connections",
                "Open SIP-over-WebSocket flows (browser phones on /ws).",
            ),
            rtp_sent: counter(&r, "centralino_rtp_packets_sent_total", "RTP packets sent."),
            rtp_received: counter(
                &r,
                "centralino_rtp_packets_received_total",
                "RTP packets received.",
            ),
            rtcp_sent: counter(
                &r,
                "centralino_rtcp_packets_sent_total",
                "RTCP packets sent.",
            ),
            media_legs: gauge(
                &r,
                "centralino_media_legs_active",
                "Media legs (RTP port pairs) in use.",
            ),
            media_late_ticks: counter(
                &r,
                "centralino_media_late_ticks_total",
                "Media send ticks that ran late.",
            ),
            rtp_foreign: counter(
                &r,
                "centralino_rtp_foreign_packets_total",
                "RTP and RTCP datagrams dropped because they came from a source other than the leg's peer (off-path injection, hijack attempts, stray streams).",
            ),
            sip_dialogs: gauge(
                &r,
                "centralino_sip_dialogs_active",
                "SIP dialogs (calls) the gateway holds: offered, answered or hanging up.",
            ),
            event_log_refused: counter(
                &r,
                "centralino_event_log_refused_total",
                "Events the database refused to log (a bug, not an outage: outages are journaled).",
            ),
            event_stream_resyncs: counter(
                &r,
                "centralino_event_stream_resyncs_total",
                "Times an event stream client fell behind the bus and was sent a fresh snapshot.",
            ),
            events_spilled: counter(
                &r,
                "centralino_events_spilled_total",
                "Events written to the spill file because the event log's writer was behind by events.memory_limit (none lost: the writer reads them first).",
            ),
            events_backlog: gauge(
                &r,
                "centralino_events_backlog",
                "Events published and not yet taken by the event log's writer, in memory and spilled.",
            ),
            recorder: std::sync::OnceLock::new(),
            registry: r,
        }
    }

    /// Counts an event from the bus.
    pub fn observe(&self, event: &Event) {
        match event {
            Event::CallEnded { outcome, .. } => {
                self.calls_total
                    .with_label_values(&[outcome.as_str()])
                    .inc();
            }
            Event::Dtmf { .. } => self.dtmf_total.inc(),
            Event::TicketCreated { channel, .. } => {
                self.tickets_created
                    .with_label_values(&[channel.as_str()])
                    .inc();
            }
            _ => {}
        }
    }

    /// The counters derived from events (calls by outcome, keypad digits, Service Requests by
    /// channel) in the text format: what a restart must give back from the event log.
    pub fn render_event_counters(&self) -> String {
        let families: Vec<_> = self
            .registry
            .gather()
            .into_iter()
            .filter(|f| {
                matches!(
                    f.name(),
                    "centralino_calls_total"
                        | "centralino_dtmf_digits_received_total"
                        | "centralino_tickets_created_total"
                )
            })
            .collect();
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&families, &mut out)
            .expect("text encoding to a Vec cannot fail");
        String::from_utf8(out).expect("the text format is UTF-8")
    }

    /// Reads `bus`'s spill and backlog at every scrape (the first bus given is kept).
    pub fn watch_recorder(&self, bus: events::EventBus) {
        let _ = self.recorder.set(bus);
    }

    /// Counts an event the database refused to log.
    pub fn event_log_refused(&self) {
        self.event_log_refused.inc();
    }

    /// Counts one submission of the public web form by what became of it
    /// ([`crate::api::web_form::Outcome`]).
    pub fn web_form(&self, outcome: &str) {
        self.web_form.with_label_values(&[outcome]).inc();
    }

    /// Counts an event stream client resynchronised after falling behind.
    pub fn event_stream_resync(&self) {
        self.event_stream_resyncs.inc();
    }

    /// Counts one answered HTTP request. `route` is the matched route's pattern
    /// (`/api/v1/tickets/{number}`), never the raw path, so the series stay bounded.
    pub fn observe_http(
        &self,
        method: &str,
        route: &str,
        status: u16,
        elapsed: std::time::Duration,
    ) {
        self.http_requests
            .with_label_values(&[method, route, &status.to_string()])
            .inc();
        self.http_duration
            .with_label_values(&[route])
            .observe(elapsed.as_secs_f64());
    }

    /// Renders the text exposition format with the engines' current figures.
    pub fn render(&self, telemetry: &Telemetry) -> String {
        self.render_with(telemetry, None)
    }

    /// [`Metrics::render`] with the ACD's live queues and agents.
    pub fn render_with(&self, telemetry: &Telemetry, acd: Option<&LiveView>) -> String {
        if let Some(acd) = acd {
            for q in &acd.queues {
                self.queue_waiting
                    .with_label_values(&[&q.name])
                    .set((q.waiting + q.ringing) as i64);
                self.queue_oldest
                    .with_label_values(&[&q.name])
                    .set(q.oldest_wait.map_or(0.0, |d| d.as_secs_f64()));
            }
            for state in events::AgentStatus::ALL {
                let n = acd.agents.iter().filter(|a| a.status == state).count();
                self.agents
                    .with_label_values(&[state.as_str()])
                    .set(n as i64);
            }
        }
        if let Some(bus) = self.recorder.get() {
            catch_up(&self.events_spilled, bus.spilled_total());
            self.events_backlog
                .set(i64::try_from(bus.record_backlog()).unwrap_or(i64::MAX));
        }
        self.calls_active.set(telemetry.calls_active as i64);
        if let Some(sip) = &telemetry.sip {
            catch_up(&self.sip_auth_failures, sip.auth_failures);
            catch_up(&self.sip_registers_dropped, sip.registers_dropped);
            if let Some(registered) = sip.registered_phones {
                self.registered_phones.set(registered as i64);
            }
            catch_up(&self.sip_received, sip.datagrams_received);
            catch_up(&self.sip_sent, sip.datagrams_sent);
            catch_up(&self.sip_malformed, sip.malformed);
            catch_up(&self.sip_denied, sip.denied);
            self.sip_transactions.set(sip.transactions_live as i64);
            for (vec, label, total) in [
                (
                    &self.sip_transactions_total,
                    "server",
                    sip.server_transactions,
                ),
                (
                    &self.sip_transactions_total,
                    "client",
                    sip.client_transactions,
                ),
                (&self.sip_retransmissions, "sent", sip.retransmissions_sent),
                (
                    &self.sip_retransmissions,
                    "absorbed",
                    sip.retransmissions_absorbed,
                ),
                (
                    &self.sip_transaction_timeouts,
                    "no_answer",
                    sip.timeouts_no_answer,
                ),
                (
                    &self.sip_transaction_timeouts,
                    "no_ack",
                    sip.timeouts_no_ack,
                ),
            ] {
                catch_up(&vec.with_label_values(&[label]), total);
            }
            self.sip_tcp_connections.set(sip.tcp_connections as i64);
            self.sip_ws_connections.set(sip.ws_connections as i64);
            for (label, total) in [
                ("upgrade", sip.ws_refused_upgrades),
                ("message", sip.ws_refused_messages),
                ("timeout", sip.ws_timed_out),
            ] {
                catch_up(&self.sip_ws_refused.with_label_values(&[label]), total);
            }
            self.sip_dialogs.set(sip.dialogs_active as i64);
        }
        let media = &telemetry.media;
        catch_up(&self.rtp_sent, media.rtp_packets_sent);
        catch_up(&self.rtp_received, media.rtp_packets_received);
        catch_up(&self.rtcp_sent, media.rtcp_packets_sent);
        catch_up(&self.media_late_ticks, media.late_ticks);
        catch_up(&self.rtp_relayed, media.rtp_packets_relayed);
        catch_up(&self.rtp_foreign, media.rtp_foreign_packets);
        self.media_legs.set(media.legs_active as i64);
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("text encoding to a Vec cannot fail");
        let mut text = String::from_utf8(out).expect("the text format is UTF-8");
        send_interval_histogram(&mut text, &media.send_interval);
        text
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// The media engine keeps its own histogram (atomics on the hot path); it is written here in
/// the exposition format as `centralino_rtp_send_interval_seconds`, so scrapes can be diffed
/// and `histogram_quantile` works.
fn send_interval_histogram(out: &mut String, h: &Histogram) {
    use std::fmt::Write;
    let name = "centralino_rtp_send_interval_seconds";
    let _ = writeln!(
        out,
        "# HELP {name} Interval between successive send ticks of a media shard (each tick sends every due RTP packet of its legs).\n# TYPE {name} histogram"
    );
    for (bound, count) in &h.buckets {
        let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {count}");
    }
    let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", h.count);
    let _ = writeln!(out, "{name}_sum {}", h.sum.as_secs_f64());
    let _ = writeln!(out, "{name}_count {}", h.count);
}

#[cfg(test)]
mod tests {
    use super::*;
    use events::telemetry::{MediaFigures, SipFigures};

    fn telemetry(dialogs: u64, foreign: u64) -> Telemetry {
        Telemetry {
            calls_active: 0,
            sip: Some(SipFigures {
                dialogs_active: dialogs,
                registers_dropped: foreign * 2,
                ws_connections: dialogs + 1,
                ws_refused_messages: foreign,
                ..SipFigures::default()
            }),
            media: MediaFigures {
                rtp_foreign_packets: foreign,
                ..MediaFigures::default()
            },
        }
    }

    /// The soak watches live dialogs (a gauge: it goes down too) and the media engine's
    /// foreign RTP (a counter carried up to the engine's total).
    #[test]
    fn dialogs_foreign_rtp_and_websocket_flows_are_exported() {
        let m = Metrics::new();
        let text = m.render(&telemetry(3, 7));
        assert!(
            text.contains(
                "# TYPE centralino_sip_dialogs_active gauge\ncentralino_sip_dialogs_active 3\n"
            ),
            "{text}"
        );
        assert!(text.contains("# TYPE centralino_rtp_foreign_packets_total counter\ncentralino_rtp_foreign_packets_total 7\n"), "{text}");
        // Browser phones' WebSocket flows (issue 17): open now, and refusals carried up.
        assert!(
            text.contains("\ncentralino_sip_ws_connections 4\n"),
            "{text}"
        );
        assert!(
            text.contains("\ncentralino_sip_ws_refused_total{what=\"message\"} 7\n"),
            "{text}"
        );
        assert!(
            text.contains("\ncentralino_sip_ws_refused_total{what=\"upgrade\"} 0\n"),
            "{text}"
        );
        let text = m.render(&telemetry(1, 12));
        assert!(
            text.contains("\ncentralino_sip_dialogs_active 1\n"),
            "{text}"
        );
        assert!(
            text.contains("\ncentralino_rtp_foreign_packets_total 12\n"),
            "{text}"
        );
        assert!(
            text.contains("\ncentralino_sip_ws_connections 2\n"),
            "{text}"
        );
        assert!(
            text.contains("\ncentralino_sip_ws_refused_total{what=\"message\"} 12\n"),
            "{text}"
        );
    }
}
