//! The components' down time (issue 15), folded from the availability records of the event
//! log, for the SLA report's availability lines ([`crate::sla::SlaInputs::downtimes`]).
//!
//! # Records
//! - `system.started`: the process began; every component is up from here (its probes say
//!   otherwise within one heartbeat).
//! - `system.heartbeat`: the process was alive at that time (every `[availability]
//!   heartbeat_s`).
//! - `component.state`: a component's probe changed its answer (down with a reason, up
//!   again).
//! - `system.stopping`: an orderly stop; every component is down from here until the next
//!   `system.started`.
//!
//! # Definitions
//! - **Crash**: a `system.started` while the previous run never said `system.stopping`.
//!   The previous run was up until the last thing it recorded (a heartbeat, a component's
//!   change, its start): every component is down from then to the new start. The crash
//!   costs at most one heartbeat interval of up time counted as down — never the reverse.
//! - **Before the first record**: the service did not run (nothing recorded it), so when
//!   the first record is a `system.started` every component is down from the start of the
//!   measured time to it. When the first record is anything else (a heartbeat, a stop) a
//!   process was already running: up before it.
//! - **No record at all** (none in the period and none before it): availability is *not
//!   measured* ([`downtimes`] gives `None`), which the SLA report shows as such, never as
//!   100 %.
//! - After the last record the last state holds (a running process is up, a stopped one
//!   down) to the end of the measured time.
//!
//! The caller hands over, in time order, the records from the last `system.started` or
//! `system.stopping` before the period (so the state at its start is known) to its end; the
//! heartbeats matter only from the last one before the period.

use chrono::{DateTime, Utc};
use events::{Component, Event};

use crate::sla::Downtime;

/// The event kinds this module reads.
pub const RECORD_KINDS: [&str; 4] = [
    "system.started",
    "system.stopping",
    "system.heartbeat",
    "component.state",
];

/// What is known of the process at a point of the fold.
#[derive(Debug, Clone, Copy)]
enum Process {
    /// Nothing recorded yet.
    Unknown,
    /// Running; alive at least until `last_alive`.
    Running { last_alive: DateTime<Utc> },
    /// Stopped in order at `since`.
    Stopped { since: DateTime<Utc> },
}

struct Fold {
    process: Process,
    /// Per component (in [`Component::ALL`] order), down since, while the process runs.
    down_since: [Option<DateTime<Utc>>; 3],
    out: Vec<Downtime>,
}

fn index(c: Component) -> usize {
    match c {
        Component::Acd => 0,
        Component::Cti => 1,
        Component::Ivr => 2,
    }
}

impl Fold {
    fn all_down(&mut self, from: DateTime<Utc>, to: DateTime<Utc>) {
        if to > from {
            for component in Component::ALL {
                self.out.push(Downtime {
                    component,
                    from,
                    to,
                });
            }
        }
    }

    /// The run's own down times end at `at` (it stops or is found dead).
    fn close_components(&mut self, at: DateTime<Utc>) {
        for component in Component::ALL {
            if let Some(from) = self.down_since[index(component)].take()
                && at > from
            {
                self.out.push(Downtime {
                    component,
                    from,
                    to: at,
                });
            }
        }
    }

    fn stopped(&self) -> bool {
        matches!(self.process, Process::Stopped { .. })
    }

    fn alive(&mut self, at: DateTime<Utc>) {
        self.process = match self.process {
            Process::Running { last_alive } => Process::Running {
                last_alive: last_alive.max(at),
            },
            Process::Unknown | Process::Stopped { .. } => Process::Running { last_alive: at },
        };
    }

    fn record(&mut self, at: DateTime<Utc>, event: &Event, floor: DateTime<Utc>) {
        match event {
            Event::SystemStarted { .. } => {
                match self.process {
                    Process::Unknown => self.all_down(floor, at),
                    Process::Stopped { since } => self.all_down(since, at),
                    Process::Running { last_alive } => {
                        // A crash: the previous run is dead since its last sign of life.
                        self.close_components(last_alive);
                        self.all_down(last_alive, at);
                    }
                }
                self.down_since = [None; 3];
                self.process = Process::Running { last_alive: at };
            }
            Event::SystemStopping { .. } if !self.stopped() => {
                self.close_components(at);
                self.process = Process::Stopped { since: at };
            }
            // A heartbeat after an orderly stop belongs to that stop's last moments.
            Event::SystemHeartbeat { .. } if !self.stopped() => self.alive(at),
            Event::ComponentState { component, up, .. } => {
                if self.stopped() {
                    return;
                }
                self.alive(at);
                let slot = &mut self.down_since[index(*component)];
                match (*up, *slot) {
                    (false, None) => *slot = Some(at),
                    (true, Some(from)) => {
                        *slot = None;
                        if at > from {
                            self.out.push(Downtime {
                                component: *component,
                                from,
                                to: at,
                            });
                        }
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
}

/// The components' down intervals from `records` (in time order; other events are
/// ignored) over `from` .. `to` (the measured time; intervals may reach outside it and are
/// clipped by the report). `None` when there is no record at all: not measured.
pub fn downtimes<'a>(
    records: impl IntoIterator<Item = (DateTime<Utc>, &'a Event)>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Option<Vec<Downtime>> {
    let mut fold = Fold {
        process: Process::Unknown,
        down_since: [None; 3],
        out: Vec::new(),
    };
    let mut any = false;
    for (at, event) in records {
        if RECORD_KINDS.contains(&event.kind()) {
            any = true;
            fold.record(at, event, from);
        }
    }
    if !any {
        return None;
    }
    match fold.process {
        Process::Stopped { since } => fold.all_down(since, to.max(since)),
        Process::Running { .. } => fold.close_components(to),
        Process::Unknown => {}
    }
    fold.out.sort_by_key(|d| (d.from, d.component));
    Some(fold.out)
}

#[cfg(test)]
#[path = "availability_tests.rs"]
mod tests;
