//! What goes into the machine ([`Input`]) and what comes out of it ([`Command`]), with the
//! settings and the call as offered that it starts from.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use events::{CallOutcome, Event, Outcome};
use sip_gateway::sdp::Negotiated;
use sip_gateway::ua::{CallRef, EndReason};

/// How a dialled number's calls are handled.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Prompt language (a folder of the prompt library).
    pub language: String,
    /// Ringing time before the answer (180 Ringing is sent when it is not zero).
    pub answer_delay: Duration,
    /// A call is ended after this long (from the answer) in any case.
    pub max_duration: Duration,
    /// The prompt looped while a caller waits in queue.
    pub hold_music: String,
    /// Leaving a message.
    pub voicemail: VoicemailLimits,
    /// Whether an ACD exists (without one a call routed to a queue ends).
    pub acd: bool,
}

/// What bounds a voicemail message (R-IVR-5).
#[derive(Debug, Clone)]
pub struct VoicemailLimits {
    pub greeting_prompt: String,
    pub max_length: Duration,
    /// Shorter messages are discarded.
    pub min_length: Duration,
}

/// The call as the trunk offered it.
#[derive(Debug, Clone)]
pub struct Setup {
    /// Our call id (UUID v7).
    pub id: String,
    pub sip_call_id: String,
    /// The caller's number (ANI: the asserted identity of a trusted trunk, else the From
    /// user), if any.
    pub caller: Option<String>,
    /// A trusted trunk asked that the caller's identity be withheld (RFC 3323 `Privacy: id`
    /// or `user`): the number still identifies the customer in the CRM and is written on
    /// the call card, but every agent-facing surface the call feeds (its events, the agent
    /// phone's INVITE, the Service Request's title) says [`events::ANONYMOUS_CALLER`].
    pub caller_withheld: bool,
    pub dialled: Option<String>,
    /// The caller's media as negotiated from the INVITE's offer.
    pub media: Negotiated,
    pub settings: Settings,
    /// The IVR tree the call walks (the one in force when it arrived).
    pub tree: Arc<ivr::Tree>,
    /// The wall-clock time that goes with the `now` of the first [`Call::new`] (schedules
    /// and the call card read wall time; everything else runs on the injected instants).
    pub wall: DateTime<Utc>,
}

/// A playback the machine asked for; the driver maps it to the media engine's own id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PlayToken(pub u32);

/// A media leg of the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Leg {
    /// The caller's (the trunk side).
    Caller,
    /// An agent's phone, by its SIP call.
    Agent(CallRef),
}

/// A customer found by the IVR's identification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Customer {
    pub id: i64,
    pub name: String,
}

/// What happens on a leg we placed toward an agent's phone.
#[derive(Debug, Clone, PartialEq)]
pub enum AgentLegEvent {
    Progress(u16),
    Answered(Negotiated),
    MediaChanged(Negotiated),
    /// The agent's phone asked by REFER to send the caller to the queue named by `user`
    /// (the user part of `Refer-To`), a blind transfer (R-ACD-6, RFC 3515).
    TransferRequested {
        user: Option<String>,
    },
    Ended(EndReason),
}

/// Why a voicemail box would not take a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VoicemailRefusal {
    /// The mailbox folder cannot be made.
    Unavailable(String),
    /// The quota or the disk is full.
    Full(String),
}

/// What became of a recorded message's hand-off to the CRM (R-VM-1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filing {
    /// A new Service Request.
    Opened { number: String, queue: String },
    /// Another article of the caller's still-new voicemail request.
    Joined { number: String },
    /// The database is away: the hand-off is journaled and becomes its ticket when it returns.
    Pending,
    /// No CRM is configured.
    NoCrm,
}

/// Why the ACD refused a transfer asked by an agent's phone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferRefused {
    /// The final NOTIFY's status for the phone (404 unknown queue, 503 otherwise).
    pub status: u16,
    pub reason: String,
}

/// Something that happened, for [`Call::handle`].
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// Answer to [`MediaCommand::AllocateCaller`]: our RTP address, or why there is none.
    CallerMediaAllocated(Result<SocketAddr, String>),
    /// The caller's re-INVITE changed the media.
    CallerMediaChanged(Negotiated),
    /// The caller's leg ended (their BYE or CANCEL, or the confirmation of ours).
    CallerEnded(EndReason),
    /// The process is stopping: end the call cleanly.
    Shutdown,
    /// A playback ended (played out, stopped, replaced or barged in).
    PlaybackFinished { token: PlayToken, interrupted: bool },
    /// None of a playback's prompts exists: nothing was played.
    PlaybackMissing { token: PlayToken },
    /// A DTMF digit from the caller (RFC 4733).
    Dtmf { digit: char, duration: Duration },
    /// The caller's recording ended (the file is in place unless `end` is an error).
    RecordingFinished {
        path: PathBuf,
        duration: Duration,
        end: media::RecordingEnd,
    },
    /// The caller's media leg is gone (the media engine stopped).
    CallerMediaGone,
    /// No RTP came from the caller for the media time-out on a two-way leg (the media
    /// engine's `RtpTimeout`; not while the caller holds the call): the caller is taken as
    /// gone, or was never there (a spoofed INVITE aiming our audio at someone else). We hang
    /// up; the call card says `media_timeout` and `call.ended` says `failed`.
    CallerMediaTimeout,
    /// No RTP came from the agent's phone on `call` for the media time-out on a two-way leg
    /// (the media engine's `RtpTimeout` on the agent's leg; not while the agent holds the
    /// call). In a conversation the agent's phone is taken as gone: both legs are hung up,
    /// the ACD hears the end of the call (the agent goes to wrap-up), the call card says
    /// `media_timeout: no RTP from the agent's phone` and `call.ended` says `failed`.
    AgentMediaTimeout(CallRef),
    /// The ACD's command for this call.
    Acd(acd::Action),
    /// The ACD refused the call (unknown queue).
    QueueRefused(String),
    /// The ACD moved the call to another queue (a transfer to second level, R-ACD-6).
    Transferred { queue: String },
    /// The agent in conversation holds (`true`) or resumes the caller from the desktop (a
    /// browser phone cannot hold by re-INVITE): as a phone's hold, the caller hears the hold
    /// music meanwhile. Ignored outside a conversation.
    Hold { held: bool },
    /// Answer to [`AcdCommand::Transfer`].
    TransferResult(Result<(), TransferRefused>),
    /// Answer to [`Command::PlaceAgentLeg`]: the agent's phone is being rung on `call`, or
    /// could not be rung.
    AgentLegPlaced {
        agent: String,
        result: Result<CallRef, acd::OfferFailure>,
    },
    /// Something happened on a leg we placed toward an agent's phone.
    Agent(CallRef, AgentLegEvent),
    /// Answer to [`MediaCommand::Bridge`].
    Bridged(Result<(), String>),
    /// Answer to [`CrmCommand::LookupPin`] / [`CrmCommand::LookupAni`].
    LookupResult { id: u32, found: Option<Customer> },
    /// Answer to [`CrmCommand::LookupPin`]: the PIN was not looked up, because of `reason`
    /// (the [`PinGuard`](crate::PinGuard)'s, without digits). The call goes on unidentified.
    PinRefused { id: u32, reason: String },
    /// Answer to [`CrmCommand::OpenTicket`]: its number, when the database took it.
    TicketOpened(Option<String>),
    /// Answer to [`VoicemailCommand::Admit`]: where to record.
    VoicemailAdmitted(Result<PathBuf, VoicemailRefusal>),
    /// Answer to [`VoicemailCommand::File`].
    VoicemailFiled(Filing),
}

/// SIP commands for the gateway.
#[derive(Debug, Clone, PartialEq)]
pub enum GatewayCommand {
    /// 180 Ringing on the caller's leg.
    Ring,
    /// 200 OK to the caller with our RTP address.
    Answer { local_rtp: SocketAddr },
    /// A final error response to the caller's INVITE.
    Reject { status: u16 },
    /// End a leg (BYE, or CANCEL before the answer).
    Hangup(Leg),
    /// The final NOTIFY of a REFER on an agent's leg (RFC 3515 §2.4.5).
    NotifyTransfer { call: CallRef, status: u16 },
}

/// Commands for the media engine.
#[derive(Debug, Clone, PartialEq)]
pub enum MediaCommand {
    /// Allocate the caller's leg; answered by [`Input::CallerMediaAllocated`].
    AllocateCaller,
    /// Point a leg at the peer's negotiated media.
    Configure {
        leg: Leg,
        media: Negotiated,
    },
    /// Play prompts (by name, in the call's language) to the caller; answered by
    /// [`Input::PlaybackFinished`] or [`Input::PlaybackMissing`].
    Play {
        token: PlayToken,
        prompts: Vec<String>,
        looped: bool,
        barge_in: bool,
    },
    StopPlayback,
    /// Relay the caller's leg and an agent's; answered by [`Input::Bridged`].
    Bridge {
        agent: CallRef,
    },
    Unbridge,
    StartRecording {
        path: PathBuf,
        max: Duration,
    },
    StopRecording,
    /// Close a leg's media (its port returns to the pool).
    Release(Leg),
}

/// Commands for the ACD.
#[derive(Debug, Clone, PartialEq)]
pub enum AcdCommand {
    /// Queue the call; the ACD's actions come back as [`Input::Acd`].
    Enqueue { queue: String },
    /// Tell the ACD what happened (offer answered or failed, call ended or abandoned).
    Report(acd::Input),
    /// Move the call in conversation to `queue`; answered by [`Input::TransferResult`].
    Transfer { queue: String },
}

/// How the caller was identified, for the call card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Identity {
    NotAttempted,
    Pin,
    Ani,
    Failed,
}

/// Writes to the call card (R-TEL-2), journaled by the driver's writer.
#[derive(Debug, Clone, PartialEq)]
pub enum CardWrite {
    Start {
        sip_call_id: String,
        caller: String,
        dialled: String,
    },
    Step(String),
    Identity {
        customer: Option<i64>,
        result: Identity,
    },
    End {
        outcome: CallOutcome,
    },
}

/// Commands for the CRM.
#[derive(Debug, Clone, PartialEq)]
pub enum CrmCommand {
    /// Answered by [`Input::LookupResult`] with the same id.
    LookupPin {
        id: u32,
        pin: String,
    },
    LookupAni {
        id: u32,
        number: String,
    },
    Card(CardWrite),
    /// Open the answered call's Service Request (R-SR-1) for `agent`; answered by
    /// [`Input::TicketOpened`].
    OpenTicket {
        queue: String,
        agent: String,
        waited: Duration,
        title: String,
        sr_type: Option<String>,
        area: Option<String>,
    },
    /// The agent's phone transferred the call: its Service Request follows to `queue`.
    MoveTicket {
        agent: String,
        queue: String,
    },
}

/// Commands for the voicemail store.
#[derive(Debug, Clone, PartialEq)]
pub enum VoicemailCommand {
    /// May `mailbox` take a message? Answered by [`Input::VoicemailAdmitted`].
    Admit { mailbox: String },
    /// A message too short to keep.
    Discard { path: PathBuf },
    /// Hand the message to the CRM; answered by [`Input::VoicemailFiled`].
    File {
        mailbox: String,
        path: PathBuf,
        duration: Duration,
        caller: Option<String>,
    },
}

/// Something the driver must do, from [`Call::poll_command`].
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Gateway(GatewayCommand),
    Media(MediaCommand),
    /// Ring an agent's phone: find where it is, open a media leg next to the caller's and
    /// send the INVITE. Answered by [`Input::AgentLegPlaced`].
    PlaceAgentLeg {
        agent: String,
        /// Our From user (the caller's number, for the phone's display).
        caller: String,
        /// The caller's name when identified.
        display: Option<String>,
    },
    Acd(AcdCommand),
    Crm(CrmCommand),
    Voicemail(VoicemailCommand),
    Publish(Event),
    /// The call is over; nothing else follows.
    Finished {
        outcome: Outcome,
        journey: Option<CallOutcome>,
    },
}

/// Where the call stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Waiting for the caller's media leg.
    Setup,
    /// Ringing before the answer.
    Ringing,
    Ivr,
    /// Waiting in a queue with hold music.
    Queued,
    /// An agent's phone rings.
    Offering,
    Talking,
    /// The agent holds the caller (hold music).
    Held,
    Voicemail,
    /// Hung up: waiting for the last legs to close.
    Ending,
    Finished,
}
