//! What goes into and comes out of the [`crate::Engine`].

use std::fmt;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// A customer found by a PIN or caller-number lookup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customer {
    /// CRM customer id.
    pub id: i64,
    /// Display name.
    pub name: String,
}

/// How the caller was identified (R-IVR-4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentifiedBy {
    /// PIN typed on the keypad.
    Pin,
    /// Caller number.
    Ani,
    /// Not identified.
    None,
}

/// The call, as the engine needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallInfo {
    /// Caller number as received (From user), if any.
    pub caller: Option<String>,
    /// Dialled number (Request-URI user), if any.
    pub dialled: Option<String>,
    /// Language for prompts (e.g. `it`); empty means the tree's default.
    pub language: String,
}

/// Events the switchboard feeds the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A DTMF key (RFC 4733 §3.2 event codes 0-15 as `0`-`9`, `*`, `#`, `A`-`D`).
    Digit(char),
    /// The last [`Action::Play`] ended; `interrupted` when a digit or
    /// [`Action::StopPlayback`] cut it. Media reports exactly one per `Play`.
    PlaybackDone {
        /// Cut short rather than played to the end.
        interrupted: bool,
    },
    /// Answer to [`Action::LookupPin`] or [`Action::LookupAni`].
    LookupResult(Option<Customer>),
    /// Answer to [`Action::LookupPin`]: the PIN was not looked up (too many failed PINs from
    /// this caller, or from everyone, lately). The identification ends at once, unidentified:
    /// no second attempt, the `on_failure` node.
    IdentificationRefused,
}

/// Commands the engine gives the switchboard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Play these prompts in order. With `barge_in`, media stops playing on a digit (and still
    /// reports the digit and `PlaybackDone { interrupted: true }`, in either order).
    Play {
        /// Prompt names for the call's language.
        prompts: Vec<String>,
        /// Whether a digit may cut the prompts.
        barge_in: bool,
    },
    /// Stop the current playback (harmless if it already stopped); a `PlaybackDone` follows.
    StopPlayback,
    /// Look up a customer by PIN; answer with [`Input::LookupResult`].
    LookupPin {
        /// The digits typed.
        pin: String,
    },
    /// Look up a customer by caller number (the switchboard normalises it to E.164 through
    /// the CRM); answer with [`Input::LookupResult`].
    LookupAni {
        /// The caller number as received.
        caller: String,
    },
    /// Terminal: queue the call.
    RouteToQueue {
        /// ACD queue name.
        queue: String,
        /// Service area.
        area: Option<String>,
        /// Service Request type.
        sr_type: Option<String>,
        /// Identified customer.
        customer: Option<Customer>,
        /// How the customer was identified.
        identified_by: IdentifiedBy,
    },
    /// Terminal: hand the call to a mailbox (the voicemail crate records).
    Voicemail {
        /// Mailbox name.
        mailbox: String,
        /// Identified customer.
        customer: Option<Customer>,
        /// How the customer was identified.
        identified_by: IdentifiedBy,
    },
    /// Terminal: hang up.
    Hangup,
}

impl Action {
    /// Whether this action ends the IVR part of the call.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            Action::RouteToQueue { .. } | Action::Voicemail { .. } | Action::Hangup
        )
    }
}

/// Why a menu or identification attempt failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Failure {
    /// A key that is not an option.
    Invalid(char),
    /// Nothing typed before the digit timeout.
    NoInput,
}

/// One line of the call card's IVR path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// When it happened.
    pub at: Instant,
    /// Time since the call entered the IVR.
    pub offset: Duration,
    /// What happened.
    pub kind: StepKind,
}

/// What happened, for the call card. `Display` gives the short line the CRM stores
/// (`crm::Store::record_ivr_step`), e.g. `main: chose 2` or `pin_area2: pin hit, customer 42`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StepKind {
    /// The call entered a node.
    Entered {
        /// Node name.
        node: String,
    },
    /// A menu choice.
    Choice {
        /// Menu node.
        node: String,
        /// The key.
        digit: char,
        /// What the option is, in words, when the menu labels it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        label: Option<String>,
    },
    /// A failed menu attempt; the menu is repeated or `on_failure` follows.
    Retry {
        /// Menu node.
        node: String,
        /// Invalid key or no input.
        failure: Failure,
        /// Attempt number (1-based).
        attempt: u32,
        /// Attempts allowed.
        of: u32,
    },
    /// Digits stored by a collect node.
    Collected {
        /// Collect node.
        node: String,
        /// Variable name.
        store: String,
        /// Digits typed (may be empty).
        digits: String,
    },
    /// An identification attempt and its result.
    Identification {
        /// Identify node.
        node: String,
        /// `pin` or `ani`.
        method: IdentifiedBy,
        /// Attempt number (1-based).
        attempt: u32,
        /// The customer found, if any.
        customer_id: Option<i64>,
        /// Nothing typed (PIN) or no caller number (ANI): no lookup made.
        no_input: bool,
    },
    /// A schedule decision.
    Schedule {
        /// Schedule node.
        node: String,
        /// Schedule name.
        schedule: String,
        /// Open or closed.
        open: bool,
        /// Why closed (`outside_hours`, `holiday: …`, `closure: …`).
        reason: Option<String>,
    },
    /// The terminal action: `route <queue>`, `voicemail <mailbox>` or `hangup`.
    Final {
        /// As displayed.
        outcome: String,
    },
}

impl fmt::Display for StepKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StepKind::Entered { node } => write!(f, "enter {node}"),
            StepKind::Choice { node, digit, .. } => write!(f, "{node}: chose {digit}"),
            StepKind::Retry {
                node,
                failure,
                attempt,
                of,
            } => match failure {
                Failure::Invalid(d) => write!(f, "{node}: invalid {d} (attempt {attempt} of {of})"),
                Failure::NoInput => write!(f, "{node}: no input (attempt {attempt} of {of})"),
            },
            StepKind::Collected {
                node,
                store,
                digits,
            } => write!(f, "{node}: {store}={digits}"),
            StepKind::Identification {
                node,
                method,
                attempt,
                customer_id,
                no_input,
            } => {
                let m = match method {
                    IdentifiedBy::Pin => "pin",
                    IdentifiedBy::Ani => "ani",
                    IdentifiedBy::None => "none",
                };
                match (customer_id, no_input) {
                    (Some(id), _) => {
                        write!(f, "{node}: {m} hit, customer {id} (attempt {attempt})")
                    }
                    (None, true) => write!(f, "{node}: {m} no input (attempt {attempt})"),
                    (None, false) => write!(f, "{node}: {m} miss (attempt {attempt})"),
                }
            }
            StepKind::Schedule {
                node,
                schedule,
                open,
                reason,
            } => {
                let state = if *open { "open" } else { "closed" };
                write!(f, "{node}: schedule {schedule} {state}")?;
                match reason {
                    Some(r) => write!(f, " ({r})"),
                    None => Ok(()),
                }
            }
            StepKind::Final { outcome } => f.write_str(outcome),
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "+{}.{:03}s {}",
            self.offset.as_secs(),
            self.offset.subsec_millis(),
            self.kind
        )
    }
}
