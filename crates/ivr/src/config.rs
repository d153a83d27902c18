//! The IVR as configuration: the serde types of the `[ivr]` section of the main TOML file.
//! Unknown keys are refused everywhere; [`crate::Tree::build`] checks the rest and reports each
//! problem with a path such as `ivr.nodes.main.options.1`.

use std::collections::BTreeMap;

use calendar::CalendarConfig;
use serde::{Deserialize, Serialize};

/// The `[ivr]` section.
///
/// ```toml
/// [ivr]
/// default_entry = "main_hours"          # numbers not listed in [ivr.entries]
/// [ivr.entries]
/// "800100201" = "area1"                 # direct dial: skips the main menu
/// [ivr.schedules.office.calendar]
/// mon = ["08:00-19:00"]
/// [ivr.nodes.main_hours]
/// kind = "schedule"
/// schedule = "office"
/// open = "main"
/// closed = "after_hours"
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IvrConfig {
    /// Language used when a call's language has no prompts of its own (default `it`).
    #[serde(default = "default_language")]
    pub default_language: String,
    /// Digit timers for every node that does not set its own.
    #[serde(default)]
    pub timers: TimersConfig,
    /// Entry node for dialled numbers not listed in `entries` (and calls without one).
    pub default_entry: String,
    /// Dialled number (Request-URI user part, as received) → entry node.
    #[serde(default)]
    pub entries: BTreeMap<String, String>,
    /// Named business calendars for `schedule` nodes.
    #[serde(default)]
    pub schedules: BTreeMap<String, ScheduleConfig>,
    /// The nodes, by name.
    pub nodes: BTreeMap<String, NodeConfig>,
}

fn default_language() -> String {
    "it".to_string()
}

/// Digit timers, milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimersConfig {
    /// Wait for the first digit after a prompt ends (default 5000).
    #[serde(default = "default_digit_timeout")]
    pub digit_timeout_ms: u64,
    /// Wait for each further digit (default 3000).
    #[serde(default = "default_inter_digit_timeout")]
    pub inter_digit_timeout_ms: u64,
}

fn default_digit_timeout() -> u64 {
    5000
}

fn default_inter_digit_timeout() -> u64 {
    3000
}

impl Default for TimersConfig {
    fn default() -> Self {
        TimersConfig {
            digit_timeout_ms: default_digit_timeout(),
            inter_digit_timeout_ms: default_inter_digit_timeout(),
        }
    }
}

/// A named schedule: a business calendar and what to say when it is closed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleConfig {
    /// Opening windows, holidays, closures.
    pub calendar: CalendarConfig,
    /// Played by `schedule` nodes branching to `closed` unless the node says otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out_of_hours: Option<Prompts>,
}

/// Prompt names, resolved by the switchboard as `prompts/<language>/<name>.wav`.
///
/// Written as one name (`"welcome"`), a list (`["invalid_choice", "menu_main"]`), or per
/// language with an optional `default` list: `{ default = ["welcome"], en = ["welcome_en"] }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Prompts {
    /// One prompt, every language.
    One(String),
    /// Prompts in order, every language.
    List(Vec<String>),
    /// Per language (`default` for the others).
    ByLanguage(BTreeMap<String, Vec<String>>),
}

impl Default for Prompts {
    fn default() -> Self {
        Prompts::List(Vec::new())
    }
}

fn prompt(name: &str) -> Prompts {
    Prompts::One(name.to_string())
}

fn yes() -> bool {
    true
}

fn two() -> u32 {
    2
}

fn hash() -> String {
    "#".to_string()
}

/// One node of the tree; `kind` selects the variant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NodeConfig {
    /// Plays prompts, then goes on.
    Announcement(AnnouncementConfig),
    /// Plays a menu and waits for one digit (R-IVR-2, R-IVR-3).
    Menu(MenuConfig),
    /// Collects several digits into a call variable.
    Collect(CollectConfig),
    /// Identifies the caller by PIN or caller number (R-IVR-4).
    Identify(IdentifyConfig),
    /// Branches on a schedule (R-IVR-1, R-IVR-5).
    Schedule(ScheduleBranchConfig),
    /// Hands the call to a queue (terminal).
    Route(RouteConfig),
    /// Hands the call to a voicemail box (terminal).
    Voicemail(VoicemailConfig),
    /// Ends the call (terminal).
    Hangup(HangupConfig),
}

/// `kind = "announcement"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnnouncementConfig {
    /// What to play.
    pub prompts: Prompts,
    /// Where to go afterwards.
    pub next: String,
    /// A digit skips the rest and is kept for the next node (type-ahead). Default false.
    #[serde(default)]
    pub barge_in: bool,
}

/// `kind = "menu"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MenuConfig {
    /// The menu itself.
    pub prompts: Prompts,
    /// Digit (`0`-`9`, `*`, `#`) → node.
    pub options: BTreeMap<String, String>,
    /// Digit → what the option is, in words (e.g. `"2" = "Assistenza tecnica"`): the agent's
    /// screen pop shows the caller's choices with them. Optional, per option.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Tries before `on_failure` (default 2).
    #[serde(default = "two")]
    pub attempts: u32,
    /// Played before the menu again after a wrong digit (default `invalid_choice`).
    #[serde(default = "invalid_choice")]
    pub invalid_prompts: Prompts,
    /// Played before the menu again after no digit (default `no_input`).
    #[serde(default = "no_input")]
    pub no_input_prompts: Prompts,
    /// Where to go after the last failed attempt: a goodbye `hangup` node at the top level, the
    /// area's default `route` in a sub-menu.
    pub on_failure: String,
    /// A digit stops the prompts (default true).
    #[serde(default = "yes")]
    pub barge_in: bool,
    /// Overrides `timers.digit_timeout_ms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digit_timeout_ms: Option<u64>,
}

fn invalid_choice() -> Prompts {
    prompt("invalid_choice")
}

fn no_input() -> Prompts {
    prompt("no_input")
}

/// `kind = "collect"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectConfig {
    /// What to ask.
    pub prompts: Prompts,
    /// Call variable that receives the digits (empty when none were typed).
    pub store: String,
    /// Stop after this many digits.
    pub max_digits: u32,
    /// Key that ends the input early (default `#`; `""` for none).
    #[serde(default = "hash")]
    pub terminator: String,
    /// Where to go afterwards.
    pub next: String,
    /// A digit stops the prompts (default true).
    #[serde(default = "yes")]
    pub barge_in: bool,
    /// Overrides `timers.digit_timeout_ms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digit_timeout_ms: Option<u64>,
    /// Overrides `timers.inter_digit_timeout_ms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inter_digit_timeout_ms: Option<u64>,
}

/// How an `identify` node recognises the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentifyMethod {
    /// A PIN typed on the keypad.
    Pin,
    /// The caller number, without asking anything.
    Ani,
}

/// `kind = "identify"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentifyConfig {
    /// `pin` or `ani`.
    pub method: IdentifyMethod,
    /// The PIN request (default `pin_request`); for `ani`, used only by `fallback_to_pin`.
    #[serde(default = "pin_request")]
    pub prompts: Prompts,
    /// PIN length limit (default 5).
    #[serde(default = "five")]
    pub max_digits: u32,
    /// Shorter input is a miss without a lookup (default 1).
    #[serde(default = "one")]
    pub min_digits: u32,
    /// Optional key that ends the PIN (default `#`; `""` for none).
    #[serde(default = "hash")]
    pub terminator: String,
    /// PIN tries (default 2).
    #[serde(default = "two")]
    pub attempts: u32,
    /// Explains a wrong PIN before the next try (default `pin_invalid`).
    #[serde(default = "pin_invalid")]
    pub invalid_prompts: Prompts,
    /// Explains a missing PIN before the next try (default `no_input`).
    #[serde(default = "no_input")]
    pub no_input_prompts: Prompts,
    /// Played on success (default `identified`).
    #[serde(default = "identified")]
    pub identified_prompts: Prompts,
    /// Played when the call goes on unidentified (default `not_identified`).
    #[serde(default = "not_identified")]
    pub not_identified_prompts: Prompts,
    /// For `ani`: an unknown caller number asks for the PIN instead of going on.
    #[serde(default)]
    pub fallback_to_pin: bool,
    /// Where an identified caller goes.
    pub on_success: String,
    /// Where an unidentified caller goes (often the same node).
    pub on_failure: String,
    /// A digit stops the prompts (default true).
    #[serde(default = "yes")]
    pub barge_in: bool,
    /// Overrides `timers.digit_timeout_ms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digit_timeout_ms: Option<u64>,
    /// Overrides `timers.inter_digit_timeout_ms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inter_digit_timeout_ms: Option<u64>,
}

fn pin_request() -> Prompts {
    prompt("pin_request")
}
fn pin_invalid() -> Prompts {
    prompt("pin_invalid")
}
fn identified() -> Prompts {
    prompt("identified")
}
fn not_identified() -> Prompts {
    prompt("not_identified")
}
fn five() -> u32 {
    5
}
fn one() -> u32 {
    1
}

/// `kind = "schedule"`: decides open/closed by the call's wall time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleBranchConfig {
    /// A name from `[ivr.schedules]`.
    pub schedule: String,
    /// Where to go when open.
    pub open: String,
    /// Where to go when closed.
    pub closed: String,
    /// Played when open (e.g. the business-hours welcome).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_prompts: Option<Prompts>,
    /// Played when closed; default: the schedule's `out_of_hours`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_prompts: Option<Prompts>,
    /// Played when closed for a holiday or a closure; default: as when closed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holiday_prompts: Option<Prompts>,
}

/// `kind = "route"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// ACD queue name.
    pub queue: String,
    /// Service area, for the Service Request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub area: Option<String>,
    /// Service Request type (crm `TicketType` name, e.g. `technical_problem`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sr_type: Option<String>,
    /// Played before the transfer (e.g. `transfer`).
    #[serde(default)]
    pub prompts: Prompts,
}

/// `kind = "voicemail"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoicemailConfig {
    /// Mailbox name.
    pub mailbox: String,
    /// Played before the hand-off (e.g. `voicemail_offer`).
    #[serde(default)]
    pub prompts: Prompts,
}

/// `kind = "hangup"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HangupConfig {
    /// Played before hanging up (e.g. `goodbye`).
    #[serde(default)]
    pub prompts: Prompts,
}
