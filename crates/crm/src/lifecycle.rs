//! The Service Request life cycle as in OTRS, as one transition function (R-SR-3).
//!
//! [`apply`] takes a ticket's [`Snapshot`], who acts, what they ask and the time, and returns
//! the list of field [`Change`]s to write (each one also becomes a history row), or a
//! [`LifecycleError`] saying why OTRS would not allow it. It is pure: the store reads the row,
//! calls it, and writes the changes in the same transaction; the property test drives it with
//! random action sequences.
//!
//! # The rules
//! Derived from the OTRS procedure (seed 000 §4.4) and handbook (seed 001):
//!
//! 1. **Merged is terminal.** Nothing changes a merged ticket, not even the system.
//! 2. **New is only a start.** A ticket is created `new`; no action leads back to `new`.
//! 3. **A locked ticket is worked only by its owner.** While locked, any action by another
//!    operator is refused; the system (cascades, IVR, timers) may still act.
//! 4. **Lock** ("blocca", seed 000 §4.4.2.1) is taken by an operator on an unlocked ticket that
//!    is not closed; the operator becomes the owner and a `new` ticket becomes `open`.
//! 5. **Unlock** ("rilascia") needs a lock; the state stays (`open`).
//! 6. **Close** successful or unsuccessful (seed 000 §4.4.2.5) from `new`, `open` or
//!    `pending reminder`; it releases the lock and clears the pending time (OTRS unlocks closed
//!    tickets). A closed ticket cannot be closed again the other way: reopen it first.
//! 7. **Pending reminder** (seed 001 "mettere in attesa") needs a time strictly after now and a
//!    ticket that is not closed: a closed ticket must be reopened before it can wait.
//! 8. **Open** (reopen) from `new`, `pending reminder` or either closed state; it clears the
//!    pending time. Asking for the state a ticket already has changes nothing.
//! 9. **Owner, responsible, queue, priority, type** change only on tickets that are not closed
//!    (reopen first); a locked ticket keeps an owner (clearing it is refused: unlock first).
//! 10. **Merge** turns the source ticket `merged`, unlocked, with no pending time.
//! 11. **Touch** (adding an article) is allowed on any ticket that is not merged, subject to 3.
//!
//! Setting a value a ticket already has is not an error: it yields no change and no history.

use std::fmt;

use chrono::{DateTime, Utc};

use crate::types::{Actor, Priority, QueueId, TicketType, UserId, name_enum};

name_enum!(
    /// OTRS ticket states (R-SR-3).
    State, "ticket state",
    "new, open, pending_reminder, closed_successful, closed_unsuccessful or merged" {
        /// Just created, not yet worked.
        New = "new",
        /// Being worked.
        Open = "open",
        /// Hidden until `pending_until`, then reminded to the owner.
        PendingReminder = "pending_reminder",
        /// Closed, request satisfied.
        ClosedSuccessful = "closed_successful",
        /// Closed, request not satisfied.
        ClosedUnsuccessful = "closed_unsuccessful",
        /// Merged into another ticket; terminal.
        Merged = "merged",
    }
);

impl State {
    /// Either closed state.
    pub fn is_closed(self) -> bool {
        matches!(self, State::ClosedSuccessful | State::ClosedUnsuccessful)
    }
}

/// The fields of a ticket the life cycle reasons about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// Current state.
    pub state: State,
    /// Whether an operator holds the lock.
    pub locked: bool,
    /// The owner ("proprietario").
    pub owner: Option<UserId>,
    /// The responsible ("responsabile").
    pub responsible: Option<UserId>,
    /// The queue.
    pub queue: QueueId,
    /// Priority 1–5.
    pub priority: Priority,
    /// Ticket type.
    pub ticket_type: TicketType,
    /// Set exactly when the state is `pending_reminder`.
    pub pending_until: Option<DateTime<Utc>>,
}

impl Snapshot {
    /// A freshly created ticket in `queue`.
    pub fn new_ticket(queue: QueueId, priority: Priority, ticket_type: TicketType) -> Self {
        Snapshot {
            state: State::New,
            locked: false,
            owner: None,
            responsible: None,
            queue,
            priority,
            ticket_type,
            pending_until: None,
        }
    }

    /// Writes `changes` into the snapshot.
    pub fn apply_changes(&mut self, changes: &[Change]) {
        for c in changes {
            match *c {
                Change::State { new, .. } => self.state = new,
                Change::Lock { new, .. } => self.locked = new,
                Change::Owner { new, .. } => self.owner = new,
                Change::Responsible { new, .. } => self.responsible = new,
                Change::Queue { new, .. } => self.queue = new,
                Change::Priority { new, .. } => self.priority = new,
                Change::Type { new, .. } => self.ticket_type = new,
                Change::PendingUntil { new, .. } => self.pending_until = new,
            }
        }
    }
}

/// What an actor asks of a ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Take the lock (the actor becomes owner).
    Lock,
    /// Release the lock.
    Unlock,
    /// Set `open` (also: reopen a closed or pending ticket).
    Open,
    /// Set `pending reminder` until the given time.
    Pending {
        /// When the reminder fires.
        until: DateTime<Utc>,
    },
    /// Close successfully or unsuccessfully.
    Close {
        /// `closed successful` when true.
        successful: bool,
    },
    /// Change the owner.
    SetOwner(Option<UserId>),
    /// Change the responsible.
    SetResponsible(Option<UserId>),
    /// Move to another queue.
    Move(QueueId),
    /// Change the priority.
    SetPriority(Priority),
    /// Change the type.
    SetType(TicketType),
    /// Merge this ticket into another one (this side becomes `merged`).
    Merge,
    /// Add an article or link: no field changes, only the permission check.
    Touch,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Action::Lock => "lock",
            Action::Unlock => "unlock",
            Action::Open => "open",
            Action::Pending { .. } => "set pending reminder",
            Action::Close { successful: true } => "close successful",
            Action::Close { successful: false } => "close unsuccessful",
            Action::SetOwner(_) => "change owner",
            Action::SetResponsible(_) => "change responsible",
            Action::Move(_) => "move queue",
            Action::SetPriority(_) => "change priority",
            Action::SetType(_) => "change type",
            Action::Merge => "merge",
            Action::Touch => "add article",
        };
        f.write_str(s)
    }
}

/// One field's change, old → new; each becomes a history row.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Change {
    State {
        old: State,
        new: State,
    },
    Lock {
        old: bool,
        new: bool,
    },
    Owner {
        old: Option<UserId>,
        new: Option<UserId>,
    },
    Responsible {
        old: Option<UserId>,
        new: Option<UserId>,
    },
    Queue {
        old: QueueId,
        new: QueueId,
    },
    Priority {
        old: Priority,
        new: Priority,
    },
    Type {
        old: TicketType,
        new: TicketType,
    },
    PendingUntil {
        old: Option<DateTime<Utc>>,
        new: Option<DateTime<Utc>>,
    },
}

fn opt<T: fmt::Display>(v: &Option<T>) -> Option<String> {
    v.as_ref().map(ToString::to_string)
}

impl Change {
    /// The history kind: which field changed.
    pub fn kind(&self) -> &'static str {
        match self {
            Change::State { .. } => "state",
            Change::Lock { .. } => "lock",
            Change::Owner { .. } => "owner",
            Change::Responsible { .. } => "responsible",
            Change::Queue { .. } => "queue",
            Change::Priority { .. } => "priority",
            Change::Type { .. } => "type",
            Change::PendingUntil { .. } => "pending_until",
        }
    }

    /// Old and new value as history text.
    pub fn values(&self) -> (Option<String>, Option<String>) {
        match self {
            Change::State { old, new } => (Some(old.to_string()), Some(new.to_string())),
            Change::Lock { old, new } => (Some(lock_name(*old)), Some(lock_name(*new))),
            Change::Owner { old, new } | Change::Responsible { old, new } => (opt(old), opt(new)),
            Change::Queue { old, new } => (Some(old.to_string()), Some(new.to_string())),
            Change::Priority { old, new } => (Some(old.to_string()), Some(new.to_string())),
            Change::Type { old, new } => (Some(old.to_string()), Some(new.to_string())),
            Change::PendingUntil { old, new } => {
                (old.map(|t| t.to_rfc3339()), new.map(|t| t.to_rfc3339()))
            }
        }
    }
}

fn lock_name(locked: bool) -> String {
    if locked { "lock" } else { "unlock" }.to_string()
}

/// Why the life cycle refuses an action.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LifecycleError {
    /// Rule 1.
    #[error("cannot {action}: the ticket is merged, and nothing changes a merged ticket")]
    Merged {
        /// The refused action.
        action: String,
    },
    /// Rule 3.
    #[error("cannot {action}: the ticket is locked by user {owner}, not by the acting {actor:?}")]
    LockedByOther {
        /// The refused action.
        action: String,
        /// Who holds the lock.
        owner: UserId,
        /// Who tried.
        actor: Actor,
    },
    /// Rules 6, 7, 9.
    #[error(
        "cannot {action}: the ticket is {state}; expected a ticket that is not closed (reopen it first)"
    )]
    Closed {
        /// The refused action.
        action: String,
        /// The closed state.
        state: State,
    },
    /// Rule 4.
    #[error("cannot lock: expected an unlocked ticket, but it is locked by user {owner}")]
    AlreadyLocked {
        /// Who holds the lock.
        owner: UserId,
    },
    /// Rule 4: only operators lock.
    #[error("cannot lock: expected an operator, got the system")]
    SystemCannotLock,
    /// Rule 5.
    #[error("cannot unlock: expected a locked ticket, got an unlocked one")]
    NotLocked,
    /// Rule 7.
    #[error("cannot set pending reminder: expected a time after {now}, got {until}")]
    PendingInPast {
        /// The time asked for.
        until: DateTime<Utc>,
        /// Now.
        now: DateTime<Utc>,
    },
    /// Rule 9.
    #[error(
        "cannot clear the owner of a locked ticket: expected an owner, got none (unlock first)"
    )]
    LockedNeedsOwner,
}

/// Decides what `action` by `actor` at `now` does to `t` (see the module rules).
pub fn apply(
    t: &Snapshot,
    actor: Actor,
    action: &Action,
    now: DateTime<Utc>,
) -> Result<Vec<Change>, LifecycleError> {
    let name = || action.to_string();
    // Rule 1.
    if t.state == State::Merged {
        return Err(LifecycleError::Merged { action: name() });
    }
    // Rule 3.
    if t.locked
        && let (Some(owner), Actor::User(u)) = (t.owner, actor)
        && owner != u
    {
        return Err(LifecycleError::LockedByOther {
            action: name(),
            owner,
            actor,
        });
    }
    let closed = t.state.is_closed();
    let refuse_closed = || {
        Err(LifecycleError::Closed {
            action: name(),
            state: t.state,
        })
    };
    let mut out = Vec::new();
    let set_state = |out: &mut Vec<Change>, new: State| {
        if t.state != new {
            out.push(Change::State { old: t.state, new });
        }
    };
    let clear_pending = |out: &mut Vec<Change>| {
        if t.pending_until.is_some() {
            out.push(Change::PendingUntil {
                old: t.pending_until,
                new: None,
            });
        }
    };
    let release = |out: &mut Vec<Change>| {
        if t.locked {
            out.push(Change::Lock {
                old: true,
                new: false,
            });
        }
    };
    match action {
        Action::Lock => {
            let Actor::User(u) = actor else {
                return Err(LifecycleError::SystemCannotLock);
            };
            if closed {
                return refuse_closed();
            }
            if t.locked {
                return Err(LifecycleError::AlreadyLocked {
                    owner: t.owner.unwrap_or(u),
                });
            }
            out.push(Change::Lock {
                old: false,
                new: true,
            });
            if t.owner != Some(u) {
                out.push(Change::Owner {
                    old: t.owner,
                    new: Some(u),
                });
            }
            if t.state == State::New {
                set_state(&mut out, State::Open);
            }
        }
        Action::Unlock => {
            if !t.locked {
                return Err(LifecycleError::NotLocked);
            }
            release(&mut out);
        }
        Action::Open => {
            set_state(&mut out, State::Open);
            clear_pending(&mut out);
        }
        Action::Pending { until } => {
            if closed {
                return refuse_closed();
            }
            if *until <= now {
                return Err(LifecycleError::PendingInPast { until: *until, now });
            }
            set_state(&mut out, State::PendingReminder);
            if t.pending_until != Some(*until) {
                out.push(Change::PendingUntil {
                    old: t.pending_until,
                    new: Some(*until),
                });
            }
        }
        Action::Close { successful } => {
            let new = if *successful {
                State::ClosedSuccessful
            } else {
                State::ClosedUnsuccessful
            };
            if closed && t.state != new {
                return refuse_closed();
            }
            set_state(&mut out, new);
            clear_pending(&mut out);
            release(&mut out);
        }
        Action::SetOwner(new) => {
            if closed {
                return refuse_closed();
            }
            if t.locked && new.is_none() {
                return Err(LifecycleError::LockedNeedsOwner);
            }
            if t.owner != *new {
                out.push(Change::Owner {
                    old: t.owner,
                    new: *new,
                });
            }
        }
        Action::SetResponsible(new) => {
            if closed {
                return refuse_closed();
            }
            if t.responsible != *new {
                out.push(Change::Responsible {
                    old: t.responsible,
                    new: *new,
                });
            }
        }
        Action::Move(q) => {
            if closed {
                return refuse_closed();
            }
            if t.queue != *q {
                out.push(Change::Queue {
                    old: t.queue,
                    new: *q,
                });
            }
        }
        Action::SetPriority(p) => {
            if closed {
                return refuse_closed();
            }
            if t.priority != *p {
                out.push(Change::Priority {
                    old: t.priority,
                    new: *p,
                });
            }
        }
        Action::SetType(ty) => {
            if closed {
                return refuse_closed();
            }
            if t.ticket_type != *ty {
                out.push(Change::Type {
                    old: t.ticket_type,
                    new: *ty,
                });
            }
        }
        Action::Merge => {
            set_state(&mut out, State::Merged);
            clear_pending(&mut out);
            release(&mut out);
        }
        Action::Touch => {}
    }
    Ok(out)
}

#[cfg(test)]
#[path = "lifecycle_tests.rs"]
mod tests;
