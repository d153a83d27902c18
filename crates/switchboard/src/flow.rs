//! The call flow seam: a sans-IO state machine that turns call inputs into actions.
//!
//! Until the IVR tree lands (issue 4), [`PlaceholderFlow`] answers with the welcome prompt,
//! lets every digit through to the log and the bus, and hangs up after a period without input.
//! The IVR engine plugs in here with the same shape: inputs in with the current instant,
//! actions out, and `poll_timeout` for its next deadline.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// What happened on the call, as the flow sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum FlowInput {
    /// The call is answered and media flows.
    Answered,
    /// A keypad digit (RFC 4733), already reported once per key press.
    Digit(char),
    /// The last requested playback finished (or a digit interrupted it).
    PlaybackDone { interrupted: bool },
}

/// What the flow wants done.
#[derive(Debug, Clone, PartialEq)]
pub enum FlowAction {
    /// Play these prompts back to back, in the call's language.
    Play {
        prompts: Vec<String>,
        barge_in: bool,
    },
    /// End the call from our side.
    Hangup,
}

/// Settings of the placeholder flow.
#[derive(Debug, Clone)]
pub struct PlaceholderSettings {
    pub welcome_prompt: String,
    /// Hang up after this long without a digit.
    pub idle_hangup: Duration,
    /// Hang up after this long in any case.
    pub max_duration: Duration,
}

/// Welcome prompt, digits reported, hang-up after silence.
#[derive(Debug)]
pub struct PlaceholderFlow {
    settings: PlaceholderSettings,
    started: Option<Instant>,
    idle_deadline: Option<Instant>,
    actions: VecDeque<FlowAction>,
    done: bool,
}

impl PlaceholderFlow {
    pub fn new(settings: PlaceholderSettings) -> Self {
        PlaceholderFlow {
            settings,
            started: None,
            idle_deadline: None,
            actions: VecDeque::new(),
            done: false,
        }
    }

    pub fn handle_input(&mut self, input: FlowInput, now: Instant) {
        if self.done {
            return;
        }
        match input {
            FlowInput::Answered => {
                self.started = Some(now);
                self.idle_deadline = Some(now + self.settings.idle_hangup);
                self.actions.push_back(FlowAction::Play {
                    prompts: vec![self.settings.welcome_prompt.clone()],
                    barge_in: true,
                });
            }
            FlowInput::Digit(_) => {
                self.idle_deadline = Some(now + self.settings.idle_hangup);
            }
            FlowInput::PlaybackDone { .. } => {}
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if !self.done && self.poll_timeout().is_some_and(|deadline| now >= deadline) {
            self.done = true;
            self.actions.push_back(FlowAction::Hangup);
        }
    }

    /// The next deadline: idle hang-up or maximum duration, whichever comes first.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.done {
            return None;
        }
        let max = self.started.map(|s| s + self.settings.max_duration);
        match (self.idle_deadline, max) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    #[must_use]
    pub fn poll_action(&mut self) -> Option<FlowAction> {
        self.actions.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow() -> PlaceholderFlow {
        PlaceholderFlow::new(PlaceholderSettings {
            welcome_prompt: "welcome".into(),
            idle_hangup: Duration::from_secs(10),
            max_duration: Duration::from_secs(25),
        })
    }

    #[test]
    fn answer_plays_welcome_then_hangs_up_when_idle() {
        let t0 = Instant::now();
        let mut f = flow();
        assert_eq!(f.poll_timeout(), None);
        f.handle_input(FlowInput::Answered, t0);
        assert_eq!(
            f.poll_action(),
            Some(FlowAction::Play {
                prompts: vec!["welcome".into()],
                barge_in: true
            })
        );
        assert_eq!(f.poll_timeout(), Some(t0 + Duration::from_secs(10)));
        f.handle_timeout(t0 + Duration::from_secs(9));
        assert_eq!(f.poll_action(), None);
        f.handle_timeout(t0 + Duration::from_secs(10));
        assert_eq!(f.poll_action(), Some(FlowAction::Hangup));
        assert_eq!(f.poll_timeout(), None);
    }

    #[test]
    fn digits_postpone_the_idle_hangup_but_not_the_maximum() {
        let t0 = Instant::now();
        let mut f = flow();
        f.handle_input(FlowInput::Answered, t0);
        let _ = f.poll_action();
        for s in [8, 16, 24] {
            f.handle_input(FlowInput::Digit('1'), t0 + Duration::from_secs(s));
        }
        assert_eq!(f.poll_timeout(), Some(t0 + Duration::from_secs(25)));
        f.handle_timeout(t0 + Duration::from_secs(25));
        assert_eq!(f.poll_action(), Some(FlowAction::Hangup));
    }
}
