//! The IVR (R-IVR-1..5): the tree as configuration ([`IvrConfig`], the `[ivr]` section of the
//! main TOML file), checked into an immutable [`Tree`], and a sans-IO [`Engine`] that walks one
//! call through it: welcome by schedule, menus with two-attempt rules, identification by PIN or
//! caller number, direct-dial entries, routing to a queue, voicemail or a polite hang-up.
//!
//! # Run loop
//!
//! One [`Engine`] per call, created with the `Arc<Tree>` current when the call arrives (a
//! reload builds a new tree; calls in progress keep theirs). The engine never reads the clock,
//! spawns or touches sockets; the switchboard's call task drives it:
//!
//! ```text
//! let mut engine = Engine::new(tree, call, Instant::now(), Utc::now());
//! loop {
//!     while let Some(step) = engine.poll_step() { card.record_ivr_step(step.kind.to_string()) }
//!     while let Some(action) = engine.poll_action() {
//!         // Play → media; StopPlayback → media; LookupPin/LookupAni → CRM, then
//!         // engine.handle_input(Input::LookupResult(..), now); RouteToQueue / Voicemail /
//!         // Hangup → the IVR is over (exactly one of them, always last).
//!     }
//!     if engine.is_finished() { break }
//!     select! {
//!         digit = media.dtmf()       => engine.handle_input(Input::Digit(digit), now),
//!         done = media.play_done()   => engine.handle_input(Input::PlaybackDone { interrupted }, now),
//!         _ = sleep_until(engine.poll_timeout()) => engine.handle_timeout(now),
//!     }
//! }
//! ```
//!
//! The one invariant: after every `handle_*` call, drain `poll_action` and re-read
//! `poll_timeout` (it may have moved or gone). Media must report exactly one
//! `PlaybackDone` for every `Play`, including those cut by a digit or by `StopPlayback`;
//! the engine accepts the digit and the `PlaybackDone { interrupted: true }` in either order,
//! and goes on by itself if no `PlaybackDone` comes within [`STOP_GRACE`] of a stop.
//!
//! Digit timers (first digit 5 s, inter-digit 3 s by default) start when the prompt ends or
//! is interrupted. Steps ([`Engine::poll_step`]) render, via `Display`, as the short lines the
//! CRM call card stores.

mod build;
mod config;
mod engine;
mod problem;
mod tree;
mod types;
mod validate;

pub use config::{
    AnnouncementConfig, CollectConfig, HangupConfig, IdentifyConfig, IdentifyMethod, IvrConfig,
    MenuConfig, NodeConfig, Prompts, RouteConfig, ScheduleBranchConfig, ScheduleConfig,
    TimersConfig, VoicemailConfig,
};
pub use engine::{Engine, STOP_GRACE};
pub use problem::{Problem, Severity};
pub use tree::Tree;
pub use types::{Action, CallInfo, Customer, Failure, IdentifiedBy, Input, Step, StepKind};
