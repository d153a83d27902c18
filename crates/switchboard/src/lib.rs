//! # switchboard
//!
//! The call controller. For each call the gateway offers, the switchboard allocates a media
//! leg, runs the call's flow (today the placeholder of [`flow`]; the IVR tree and the ACD
//! next), carries the flow's decisions out as gateway and media commands, and publishes every
//! step on the [`events::EventBus`].
//!
//! ## Run loop
//! [`Switchboard::run`] consumes the gateway's events until the gateway stops or a shutdown
//! is asked for and every call has ended. Each call lives in its own task; the run loop only
//! routes gateway events to them, so a slow call never delays another.

mod call;
pub mod events;
pub mod flow;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use media::{EngineStats, MediaEngine, Prompt, PromptLibrary};
use sip_gateway::gateway::{Gateway, GatewayStats};
use sip_gateway::ua::{CallRef, UaEvent};
use tokio::sync::{mpsc, watch};
use tracing::{info, warn};

use call::CallInput;
pub use events::{Event, EventBus, Outcome};
use flow::PlaceholderSettings;

/// How calls to one dialled number are handled.
#[derive(Debug, Clone)]
pub struct CallSettings {
    /// Prompt language (a folder of the prompt library).
    pub language: String,
    /// Ringing time before the answer (180 Ringing is sent when it is not zero).
    pub answer_delay: Duration,
    pub placeholder: PlaceholderSettings,
}

/// Call handling: the default and per dialled number.
#[derive(Debug, Clone)]
pub struct SwitchboardConfig {
    pub default: CallSettings,
    pub numbers: HashMap<String, CallSettings>,
}

/// What every call task shares.
pub(crate) struct Shared {
    gateway: Gateway,
    media: MediaEngine,
    prompts: Arc<PromptLibrary>,
    bus: EventBus,
    config: SwitchboardConfig,
    active: Arc<AtomicU64>,
    finished: mpsc::UnboundedSender<()>,
}

impl Shared {
    fn settings_for(&self, dialled: Option<&str>) -> CallSettings {
        dialled
            .and_then(|number| self.config.numbers.get(number))
            .unwrap_or(&self.config.default)
            .clone()
    }

    fn prompt(&self, language: &str, name: &str) -> Option<Arc<Prompt>> {
        self.prompts.get(language, name)
    }

    fn call_finished(&self) {
        self.active.fetch_sub(1, Ordering::Relaxed);
        let _ = self.finished.send(());
    }
}

/// Live figures for metrics and health.
#[derive(Debug, Clone)]
pub struct Telemetry {
    pub calls_active: u64,
    /// `None` when the gateway has stopped.
    pub sip: Option<GatewayStats>,
    pub media: EngineStats,
}

/// Reads [`Telemetry`] without disturbing calls.
#[derive(Clone)]
pub struct TelemetrySource {
    gateway: Gateway,
    media: MediaEngine,
    active: Arc<AtomicU64>,
}

impl TelemetrySource {
    pub async fn snapshot(&self) -> Telemetry {
        Telemetry {
            calls_active: self.active.load(Ordering::Relaxed),
            sip: self.gateway.stats().await,
            media: self.media.stats(),
        }
    }
}

/// The call controller.
pub struct Switchboard {
    shared: Arc<Shared>,
    finished: mpsc::UnboundedReceiver<()>,
}

impl Switchboard {
    pub fn new(
        gateway: Gateway,
        media: MediaEngine,
        prompts: Arc<PromptLibrary>,
        bus: EventBus,
        config: SwitchboardConfig,
    ) -> Self {
        let (finished_tx, finished) = mpsc::unbounded_channel();
        Switchboard {
            shared: Arc::new(Shared {
                gateway,
                media,
                prompts,
                bus,
                config,
                active: Arc::new(AtomicU64::new(0)),
                finished: finished_tx,
            }),
            finished,
        }
    }

    pub fn telemetry(&self) -> TelemetrySource {
        TelemetrySource {
            gateway: self.shared.gateway.clone(),
            media: self.shared.media.clone(),
            active: self.shared.active.clone(),
        }
    }

    /// Routes gateway events to call tasks until the gateway stops, or until `shutdown` turns
    /// true and every call has ended (new calls are then refused with 503).
    pub async fn run(
        mut self,
        mut gateway_events: mpsc::UnboundedReceiver<UaEvent>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let mut calls: HashMap<CallRef, mpsc::UnboundedSender<CallInput>> = HashMap::new();
        let mut stopping = false;
        loop {
            if stopping && self.shared.active.load(Ordering::Relaxed) == 0 {
                info!("all calls ended");
                return;
            }
            tokio::select! {
                event = gateway_events.recv() => match event {
                    Some(UaEvent::IncomingCall(incoming)) => {
                        if stopping {
                            self.shared.gateway.reject(incoming.call, 503);
                            continue;
                        }
                        let (tx, rx) = mpsc::unbounded_channel();
                        calls.insert(incoming.call, tx);
                        self.shared.active.fetch_add(1, Ordering::Relaxed);
                        call::spawn(self.shared.clone(), new_call_id(), *incoming, rx);
                    }
                    Some(UaEvent::MediaChanged { call, media }) => {
                        if let Some(tx) = calls.get(&call) {
                            let _ = tx.send(CallInput::MediaChanged(media));
                        }
                    }
                    // The switchboard places no calls yet (the ACD will ring agents).
                    Some(UaEvent::Progress { call, .. } | UaEvent::Answered { call, .. }) => {
                        tracing::debug!(?call, "event for a call the switchboard did not place");
                    }
                    Some(UaEvent::CallEnded { call, reason }) => {
                        if let Some(tx) = calls.remove(&call) {
                            let _ = tx.send(CallInput::Ended(reason));
                        }
                    }
                    None => {
                        warn!("gateway stopped");
                        return;
                    }
                },
                changed = shutdown.changed(), if !stopping => {
                    if changed.is_err() || *shutdown.borrow() {
                        info!(calls = calls.len(), "shutting down: ending calls in progress");
                        stopping = true;
                        for tx in calls.values() {
                            let _ = tx.send(CallInput::Shutdown);
                        }
                    }
                }
                Some(()) = self.finished.recv() => {}
            }
        }
    }
}

/// A call id unique across nodes and ordered by time (UUID v7: 48-bit milliseconds and 74
/// random bits).
fn new_call_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_ids_are_uuid_v7_and_distinct() {
        let a = new_call_id();
        let b = new_call_id();
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "7", "version nibble: {a}");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"), "variant: {a}");
    }
}
