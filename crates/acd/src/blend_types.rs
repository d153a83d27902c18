//! The words of blended routing ([`crate::Blend`]): agents' modes, items' channels and keys,
//! the settings, the inputs, the actions and the refusals.

use std::time::Duration;

use crate::types::{AcdError, Input};

/// The not-ready reason of an agent working off-line (items only).
pub const OFFLINE_REASON: &str = "off-line work";
/// The not-ready reason of a blended agent while an item is offered or in hand.
pub const ITEM_REASON: &str = "off-line item";
/// The not-ready reason of an agent who let an item's offer time out.
pub const NO_ANSWER_REASON: &str = "no answer";

/// How an agent works.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Mode {
    /// Calls only.
    #[default]
    Online,
    /// Items only.
    Offline,
    /// Calls first, items when idle.
    Blended,
}

impl Mode {
    /// `online`, `offline`, `blended`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Online => "online",
            Mode::Offline => "offline",
            Mode::Blended => "blended",
        }
    }

    /// The mode of a wire name.
    #[must_use]
    pub fn parse(name: &str) -> Option<Mode> {
        [Mode::Online, Mode::Offline, Mode::Blended]
            .into_iter()
            .find(|m| m.as_str() == name)
    }
}

/// The channel an item came by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ItemChannel {
    /// E-mail (and certified mail).
    Email,
    /// The public web form.
    Web,
    /// A voicemail message.
    Voicemail,
    /// A fax.
    Fax,
}

impl ItemChannel {
    /// The channel of a wire name (`email`, `web`, `voicemail`, `fax`).
    #[must_use]
    pub fn parse(name: &str) -> Option<ItemChannel> {
        ItemChannel::ALL.into_iter().find(|c| c.as_str() == name)
    }

    /// Every channel.
    pub const ALL: [ItemChannel; 4] = [
        ItemChannel::Email,
        ItemChannel::Web,
        ItemChannel::Voicemail,
        ItemChannel::Fax,
    ];

    /// `email`, `web`, `voicemail`, `fax`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ItemChannel::Email => "email",
            ItemChannel::Web => "web",
            ItemChannel::Voicemail => "voicemail",
            ItemChannel::Fax => "fax",
        }
    }
}

/// An item's identity (the ticket number, say).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ItemKey(pub String);

impl From<&str> for ItemKey {
    fn from(s: &str) -> Self {
        ItemKey(s.to_string())
    }
}

/// An item as the driver sees it ([`crate::Blend::item`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemView {
    /// Its channel.
    pub channel: ItemChannel,
    /// Its queue.
    pub queue: String,
    /// The agent it is offered to or held by.
    pub agent: Option<String>,
    /// Whether that agent accepted it (works on it).
    pub accepted: bool,
}

/// The items' settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlendConfig {
    /// Each channel's priority, lower first; a channel not listed comes last.
    pub priorities: Vec<(ItemChannel, u8)>,
    /// An offer not accepted or declined within this is withdrawn.
    pub offer_timeout: Duration,
}

impl Default for BlendConfig {
    fn default() -> Self {
        BlendConfig {
            priorities: vec![
                (ItemChannel::Voicemail, 1),
                (ItemChannel::Web, 2),
                (ItemChannel::Email, 2),
                (ItemChannel::Fax, 3),
            ],
            offer_timeout: Duration::from_secs(30),
        }
    }
}

impl BlendConfig {
    /// The priority of `channel` (a channel not listed comes last).
    pub fn priority(&self, channel: ItemChannel) -> u8 {
        self.priorities
            .iter()
            .find(|(c, _)| *c == channel)
            .map_or(u8::MAX, |(_, p)| *p)
    }
}

/// What happens to items and modes, beside the engine's own [`Input`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlendInput {
    /// Something for the call engine.
    Call(Input),
    /// An agent's mode.
    SetMode {
        /// The agent.
        login: String,
        /// The mode.
        mode: Mode,
    },
    /// A new item in `queue`.
    ItemArrived {
        /// The item.
        item: ItemKey,
        /// Its channel.
        channel: ItemChannel,
        /// The queue.
        queue: String,
    },
    /// The offered agent took the item.
    ItemAccepted {
        /// The item.
        item: ItemKey,
        /// The agent.
        agent: String,
    },
    /// The offered agent declined the item.
    ItemDeclined {
        /// The item.
        item: ItemKey,
        /// The agent.
        agent: String,
    },
    /// The agent finished the item.
    ItemDone {
        /// The item.
        item: ItemKey,
        /// The agent.
        agent: String,
    },
    /// The item needs no agent any more (answered elsewhere, closed, merged).
    ItemWithdrawn {
        /// The item.
        item: ItemKey,
    },
}

/// What the driver must do about items.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemAction {
    /// Pop the item on the agent's desktop.
    Offer {
        /// The item.
        item: ItemKey,
        /// Its channel.
        channel: ItemChannel,
        /// Its queue.
        queue: String,
        /// The agent.
        agent: String,
    },
    /// Take the offer back from the agent's desktop (timed out or withdrawn).
    CancelOffer {
        /// The item.
        item: ItemKey,
        /// The agent.
        agent: String,
    },
}

/// Refusals of item inputs; the state is unchanged when one is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlendError {
    /// The call engine refused.
    #[error(transparent)]
    Acd(#[from] AcdError),
    /// An item arrived twice.
    #[error("item {0:?} is already known")]
    DuplicateItem(ItemKey),
    /// No such item.
    #[error("unknown item {0:?}")]
    UnknownItem(ItemKey),
    /// An agent with an item offered or in hand asked to be ready for calls.
    #[error("agent {0} has an item offered or in hand: finish or decline it before taking calls")]
    HoldsItem(String),
    /// The item is not offered to (or held by) that agent.
    #[error("item {item:?} is not {expected} agent {agent}")]
    NotTheAgent {
        /// The item.
        item: ItemKey,
        /// The agent named.
        agent: String,
        /// `offered to` or `held by`.
        expected: &'static str,
    },
}
