//! Whatever happens, in whatever order: every call ends with exactly one outcome, every agent
//! it touched is given back to the ACD, every media leg and timer it opened is closed.

use std::collections::HashSet;
use std::time::Duration;

use acd::{Action, OverflowTarget};
use media::{Direction, RecordingEnd};
use proptest::prelude::*;
use sip_gateway::ua::EndReason;

use super::*;

#[derive(Debug, Clone)]
enum Step {
    Offer(u8),
    Cancel(u8),
    Announce,
    Overflow,
    Refused,
    Transferred,
    /// The last placement held back by the test is answered now.
    Placed(bool),
    AgentAnswers,
    AgentHolds(bool),
    AgentEnds(u16),
    AgentRefers(bool),
    CallerEnds,
    Shutdown,
    MediaGone,
    MediaTimeout,
    AgentMediaTimeout,
    PlaybackEnds,
    Digit(char),
    RecordingEnds(u64),
    Owed,
    Wait(u64),
}

/// Steps weighted so that many calls get as far as a conversation before something ends them.
fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => (0u8..3).prop_map(Step::Offer),
        2 => (0u8..3).prop_map(Step::Cancel),
        2 => Just(Step::Announce),
        1 => Just(Step::Overflow),
        1 => Just(Step::Refused),
        2 => Just(Step::Transferred),
        3 => any::<bool>().prop_map(Step::Placed),
        6 => Just(Step::AgentAnswers),
        3 => any::<bool>().prop_map(Step::AgentHolds),
        2 => prop::sample::select(vec![0u16, 200, 408, 486, 603]).prop_map(Step::AgentEnds),
        3 => any::<bool>().prop_map(Step::AgentRefers),
        1 => Just(Step::CallerEnds),
        1 => Just(Step::Shutdown),
        1 => Just(Step::MediaGone),
        1 => Just(Step::MediaTimeout),
        1 => Just(Step::AgentMediaTimeout),
        3 => Just(Step::PlaybackEnds),
        2 => prop::sample::select(vec!['1', '2', '#', '5']).prop_map(Step::Digit),
        2 => (0u64..8).prop_map(Step::RecordingEnds),
        2 => Just(Step::Owed),
        3 => (0u64..4000).prop_map(Step::Wait),
    ]
}

fn agent(i: u8) -> String {
    format!("10{i:02}")
}

fn apply(w: &mut World, s: Step, placed: &[CallRef]) {
    let key = World::key();
    match s {
        Step::Offer(i) => w.input(Input::Acd(Action::Offer {
            call: key,
            agent: agent(i),
        })),
        Step::Cancel(i) => w.input(Input::Acd(Action::CancelOffer {
            call: key,
            agent: agent(i),
        })),
        Step::Announce => w.input(Input::Acd(Action::Announce {
            call: key,
            position: 1,
            expected_wait: Duration::from_secs(30),
        })),
        Step::Overflow => w.input(Input::Acd(Action::Overflow {
            call: key,
            target: OverflowTarget::Voicemail("general".into()),
        })),
        Step::Refused => w.input(Input::QueueRefused("unknown queue".into())),
        Step::Transferred => w.input(Input::Transferred { queue: "q2".into() }),
        Step::Placed(ok) => {
            if let Some(a) = w.held_placements.pop() {
                let result = if ok {
                    Ok(w.new_leg())
                } else {
                    Err(acd::OfferFailure::Unreachable)
                };
                w.input(Input::AgentLegPlaced { agent: a, result });
            }
        }
        Step::AgentAnswers => {
            if let Some(leg) = placed.last().copied() {
                w.input(Input::Agent(
                    leg,
                    AgentLegEvent::Answered(negotiated(Direction::SendRecv)),
                ));
            }
        }
        Step::AgentHolds(hold) => {
            if let Some(leg) = placed.last().copied() {
                let d = if hold {
                    Direction::SendOnly
                } else {
                    Direction::SendRecv
                };
                w.input(Input::Agent(
                    leg,
                    AgentLegEvent::MediaChanged(negotiated(d)),
                ));
            }
        }
        Step::AgentEnds(code) => {
            if let Some(leg) = placed.last().copied() {
                let reason = match code {
                    0 => EndReason::RemoteBye,
                    200 => EndReason::Cancelled,
                    c => EndReason::Declined(c),
                };
                w.input(Input::Agent(leg, AgentLegEvent::Ended(reason)));
            }
        }
        Step::AgentRefers(good) => {
            if let Some(leg) = placed.last().copied() {
                w.input(Input::Agent(
                    leg,
                    AgentLegEvent::TransferRequested {
                        user: good.then(|| "q2".to_string()),
                    },
                ));
            }
        }
        Step::CallerEnds => w.input(Input::CallerEnded(EndReason::RemoteBye)),
        Step::Shutdown => w.input(Input::Shutdown),
        Step::MediaGone => w.input(Input::CallerMediaGone),
        Step::MediaTimeout => w.input(Input::CallerMediaTimeout),
        Step::AgentMediaTimeout => {
            if let Some(leg) = placed.last().copied() {
                w.input(Input::AgentMediaTimeout(leg));
            }
        }
        Step::PlaybackEnds => {
            if w.out
                .iter()
                .any(|c| matches!(c, Command::Media(MediaCommand::Play { .. })))
            {
                let (token, _) = w.last_play();
                w.input(Input::PlaybackFinished {
                    token,
                    interrupted: false,
                });
            }
        }
        Step::Digit(digit) => w.input(Input::Dtmf {
            digit,
            duration: Duration::from_millis(80),
        }),
        Step::RecordingEnds(secs) => w.input(Input::RecordingFinished {
            path: "/vm/general/call.wav".into(),
            duration: Duration::from_secs(secs),
            end: RecordingEnd::Stopped,
        }),
        Step::Owed => {
            if let Some(input) = w.owed.pop_front() {
                w.input(input);
            }
        }
        Step::Wait(ms) => w.advance(Duration::from_millis(ms)),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn every_call_ends_once_and_closes_what_it_opened(
        dialled in prop::sample::select(vec!["100", "100", "100", "200", "300", "500"]),
        hold_placements in any::<bool>(),
        steps in prop::collection::vec(step(), 0..40),
    ) {
        let auto = Auto {
            place: !hold_placements,
            ..Auto::default()
        };
        let mut w = World::with(dialled, settings(), auto);
        let mut placed = Vec::new();
        for s in steps {
            apply(&mut w, s, &placed);
            placed = w.legs.clone();
        }
        // The world settles: held placements come back, the caller leaves, the gateway
        // confirms every hang-up, and time runs on.
        for _ in 0..50 {
            if w.call.is_finished() {
                break;
            }
            while let Some(a) = w.held_placements.pop() {
                let leg = w.new_leg();
                w.input(Input::AgentLegPlaced { agent: a, result: Ok(leg) });
            }
            w.input(Input::CallerEnded(EndReason::RemoteBye));
            w.deliver_owed();
            w.advance(Duration::from_secs(60));
            w.deliver_owed();
        }
        prop_assert!(w.call.is_finished(), "not finished: {:?}", w.call.phase());
        // Exactly one outcome, and it is the last command.
        prop_assert!(w.finished().is_some());
        prop_assert!(matches!(w.out.last(), Some(Command::Finished { .. })), "finished is last");
        prop_assert_eq!(w.call.poll_timeout(), None);
        // Every media leg opened is released exactly once.
        let allocated_agent_legs: HashSet<CallRef> = w.out.iter().filter_map(|c| match c {
            Command::Media(MediaCommand::Configure { leg: Leg::Agent(call), .. }) => Some(*call),
            _ => None,
        }).collect();
        for leg in &allocated_agent_legs {
            let released = w.count(|c| *c == Command::Media(MediaCommand::Release(Leg::Agent(*leg))));
            prop_assert_eq!(released, 1, "agent leg {:?} released {} times", leg, released);
        }
        let caller_released = w.count(|c| *c == Command::Media(MediaCommand::Release(Leg::Caller)));
        prop_assert_eq!(caller_released, 1);
        // Every agent offered was given back: answered, failed, or the call's end reported.
        let reports = w.acd_reports();
        let left_acd = w.out.iter().any(|c| matches!(c,
            Command::Crm(CrmCommand::Card(CardWrite::Step(s))) if s.starts_with("overflow") || s.starts_with("queue refused")));
        let enqueued = w.out.iter().any(|c| matches!(c, Command::Acd(AcdCommand::Enqueue { .. })));
        if enqueued && !left_acd {
            // After the end only late answers to offers that crossed it may follow.
            let end = reports.iter().position(|r| matches!(r,
                acd::Input::CallEnded { .. } | acd::Input::CallAbandoned { .. } | acd::Input::CallInterrupted { .. }));
            prop_assert!(end.is_some(), "the ACD never heard the end: {:?}", reports);
            prop_assert!(reports[end.unwrap() + 1..].iter().all(|r| matches!(r, acd::Input::OfferFailed { .. })),
                "after the end: {:?}", reports);
            let ends = reports.iter().filter(|r| matches!(r,
                acd::Input::CallEnded { .. } | acd::Input::CallAbandoned { .. } | acd::Input::CallInterrupted { .. })).count();
            prop_assert_eq!(ends, 1);
        }
        // Nothing more comes out of a finished call.
        w.input(Input::CallerEnded(EndReason::RemoteBye));
        w.input(Input::Shutdown);
        prop_assert!(matches!(w.out.last(), Some(Command::Finished { .. })), "finished is last");
    }
}
