//! The call's paths, each in virtual time, with no socket and no sleep.

use std::path::PathBuf;
use std::time::Duration;

use acd::{Action, OfferFailure, OverflowTarget};
use events::{CallOutcome, Event, Outcome};
use media::{Direction, RecordingEnd};
use sip_gateway::ua::EndReason;

use super::*;

fn answered(w: &mut World) {
    let leg = w.agent_leg();
    w.input(Input::Agent(
        leg,
        AgentLegEvent::Answered(negotiated(Direction::SendRecv)),
    ));
}

#[test]
fn a_routed_call_is_answered_queued_with_music_and_offered() {
    let mut w = World::queued();
    let cmds = w.take();
    assert!(matches!(
        cmds[0],
        Command::Publish(Event::CallStarted { .. })
    ));
    assert!(cmds.contains(&Command::Gateway(GatewayCommand::Answer {
        local_rtp: LOCAL_RTP.parse().unwrap()
    })));
    assert!(cmds.contains(&Command::Acd(AcdCommand::Enqueue { queue: "q1".into() })));
    assert_eq!(w.last_play().1, ["hold_music"]);
    w.offer("1001");
    let cmds = w.take();
    assert!(
        matches!(&cmds[0], Command::PlaceAgentLeg { agent, caller, .. }
        if agent == "1001" && caller == "+390600000001")
    );
    assert!(cmds.iter().any(|c| matches!(c,
        Command::Publish(Event::CallOffered { agent, queue, .. }) if agent == "1001" && queue == "q1")));
    assert_eq!(w.call.phase(), Phase::Offering);
}

#[test]
fn an_answer_bridges_opens_the_ticket_and_pops_the_screen_with_its_number() {
    let mut w = World::ringing("1001");
    w.advance(Duration::from_secs(4));
    answered(&mut w);
    assert_eq!(w.call.phase(), Phase::Talking);
    let reports = w.acd_reports();
    assert_eq!(
        reports.last(),
        Some(&acd::Input::OfferAnswered {
            call: World::key(),
            agent: "1001".into()
        })
    );
    let connected = w.out.iter().find_map(|c| match c {
        Command::Publish(Event::CallConnected {
            ticket, waited_ms, ..
        }) => Some((ticket.clone(), *waited_ms)),
        _ => None,
    });
    assert_eq!(connected, Some((Some("2026120210000011".into()), 4000)));
    // The ticket is announced before the connection that carries its number.
    let created = w
        .out
        .iter()
        .position(|c| matches!(c, Command::Publish(Event::TicketCreated { .. })))
        .unwrap();
    let connected = w
        .out
        .iter()
        .position(|c| matches!(c, Command::Publish(Event::CallConnected { .. })))
        .unwrap();
    assert!(created < connected);
}

#[test]
fn a_200_that_crosses_our_cancel_is_ended_with_bye_and_the_call_waits_on() {
    let mut w = World::ringing("1001");
    let leg = w.agent_leg();
    w.take();
    // The ACD withdraws the offer (ring timeout): CANCEL.
    w.input(Input::Acd(Action::CancelOffer {
        call: World::key(),
        agent: "1001".into(),
    }));
    assert_eq!(
        w.take(),
        [
            Command::Gateway(GatewayCommand::Hangup(Leg::Agent(leg))),
            Command::Media(MediaCommand::Release(Leg::Agent(leg))),
        ]
    );
    assert_eq!(w.call.phase(), Phase::Queued);
    // The phone's 200 OK crossed the CANCEL (RFC 3261 §9.1): BYE, no bridge.
    w.input(Input::Agent(
        leg,
        AgentLegEvent::Answered(negotiated(Direction::SendRecv)),
    ));
    assert_eq!(
        w.take(),
        [Command::Gateway(GatewayCommand::Hangup(Leg::Agent(leg)))]
    );
    w.input(Input::Agent(
        leg,
        AgentLegEvent::Ended(EndReason::LocalHangup),
    ));
    assert_eq!(w.call.phase(), Phase::Queued);
    assert!(w.take().is_empty());
    // The next agent is offered normally.
    w.offer("1002");
    answered(&mut w);
    assert_eq!(w.call.phase(), Phase::Talking);
    assert_eq!(
        w.count(|c| matches!(c, Command::Media(MediaCommand::Bridge { .. }))),
        1
    );
}

#[test]
fn ring_no_answer_gives_the_call_back_to_the_acd_and_the_next_agent_rings() {
    let mut w = World::ringing("1001");
    let first = w.agent_leg();
    w.advance(Duration::from_secs(15));
    // The ACD's ring timer: cancel; the engine puts the call back at the head of its queue.
    w.input(Input::Acd(Action::CancelOffer {
        call: World::key(),
        agent: "1001".into(),
    }));
    w.input(Input::Agent(
        first,
        AgentLegEvent::Ended(EndReason::Cancelled),
    ));
    assert_eq!(w.call.phase(), Phase::Queued);
    w.offer("1002");
    let second = w.agent_leg();
    assert_ne!(first, second);
    // No failure was reported for the first: the ACD timed it out itself.
    assert!(
        !w.acd_reports()
            .iter()
            .any(|r| matches!(r, acd::Input::OfferFailed { .. }))
    );
}

#[test]
fn a_busy_agent_is_reported_busy_and_the_call_waits_again() {
    let mut w = World::ringing("1001");
    let leg = w.agent_leg();
    w.input(Input::Agent(leg, AgentLegEvent::Progress(180)));
    w.input(Input::Agent(
        leg,
        AgentLegEvent::Ended(EndReason::Declined(486)),
    ));
    assert_eq!(
        w.acd_reports().last(),
        Some(&acd::Input::OfferFailed {
            call: World::key(),
            agent: "1001".into(),
            reason: OfferFailure::Busy
        })
    );
    assert_eq!(w.call.phase(), Phase::Queued);
    assert!(
        w.out
            .contains(&Command::Media(MediaCommand::Release(Leg::Agent(leg))))
    );
    // 603 is a rejection, 480 an unreachable phone.
    let mut w = World::ringing("1001");
    let leg = w.agent_leg();
    w.input(Input::Agent(
        leg,
        AgentLegEvent::Ended(EndReason::Declined(603)),
    ));
    assert!(matches!(
        w.acd_reports().last(),
        Some(acd::Input::OfferFailed {
            reason: OfferFailure::Rejected,
            ..
        })
    ));
}

#[test]
fn caller_and_agent_hanging_up_at_once_end_the_call_once() {
    let mut w = World::talking("1001");
    let leg = w.agent_leg();
    // Both BYEs cross: the caller's first, the agent's right after.
    w.input(Input::CallerEnded(EndReason::RemoteBye));
    w.input(Input::Agent(
        leg,
        AgentLegEvent::Ended(EndReason::RemoteBye),
    ));
    assert_eq!(
        w.finished(),
        Some((Outcome::CallerHangup, Some(CallOutcome::Answered)))
    );
    let ended: Vec<_> = w
        .acd_reports()
        .into_iter()
        .filter(|r| {
            matches!(
                r,
                acd::Input::CallEnded { .. } | acd::Input::CallAbandoned { .. }
            )
        })
        .collect();
    assert_eq!(ended, [acd::Input::CallEnded { call: World::key() }]);
    assert_eq!(
        w.count(|c| *c == Command::Media(MediaCommand::Release(Leg::Agent(leg)))),
        1
    );
    assert_eq!(
        w.count(|c| *c == Command::Media(MediaCommand::Release(Leg::Caller))),
        1
    );
    // And the other order.
    let mut w = World::talking("1001");
    let leg = w.agent_leg();
    w.input(Input::Agent(
        leg,
        AgentLegEvent::Ended(EndReason::RemoteBye),
    ));
    w.input(Input::CallerEnded(EndReason::RemoteBye));
    assert_eq!(
        w.finished(),
        Some((Outcome::ServerHangup, Some(CallOutcome::Answered)))
    );
    assert!(w.call.is_finished());
}

#[test]
fn a_refer_to_a_queue_transfers_the_caller_and_notifies_the_phone() {
    let mut w = World::talking("1001");
    let leg = w.agent_leg();
    w.take();
    w.input(Input::Agent(
        leg,
        AgentLegEvent::TransferRequested {
            user: Some("secondo".into()),
        },
    ));
    let cmds = w.take();
    assert_eq!(
        cmds,
        [
            Command::Acd(AcdCommand::Transfer {
                queue: "secondo".into()
            }),
            Command::Crm(CrmCommand::MoveTicket {
                agent: "1001".into(),
                queue: "secondo".into()
            }),
        ]
    );
    w.input(Input::Transferred {
        queue: "secondo".into(),
    });
    let cmds = w.take();
    assert!(cmds.contains(&Command::Media(MediaCommand::Unbridge)));
    assert!(
        cmds.contains(&Command::Gateway(GatewayCommand::NotifyTransfer {
            call: leg,
            status: 200
        }))
    );
    assert!(cmds.contains(&Command::Gateway(GatewayCommand::Hangup(Leg::Agent(leg)))));
    assert_eq!(w.call.phase(), Phase::Queued);
    assert_eq!(w.last_play().1, ["transfer"]);
    assert!(w.steps().contains(&"transferred to secondo".to_string()));
    // The transfer prompt ends: hold music in the new queue.
    let (token, _) = w.last_play();
    w.input(Input::PlaybackFinished {
        token,
        interrupted: false,
    });
    assert_eq!(w.last_play().1, ["hold_music"]);
    // The caller abandons there: abandoned, not answered.
    w.input(Input::CallerEnded(EndReason::RemoteBye));
    w.deliver_owed();
    assert_eq!(
        w.finished(),
        Some((Outcome::CallerHangup, Some(CallOutcome::Abandoned)))
    );
}

#[test]
fn a_refer_the_acd_refuses_is_notified_and_the_conversation_goes_on() {
    let auto = Auto {
        transfer: Some(Err(TransferRefused {
            status: 404,
            reason: "unknown queue nowhere".into(),
        })),
        ..Auto::default()
    };
    let mut w = World::with("100", settings(), auto);
    w.offer("1001");
    answered(&mut w);
    let leg = w.agent_leg();
    w.input(Input::Agent(
        leg,
        AgentLegEvent::TransferRequested {
            user: Some("nowhere".into()),
        },
    ));
    assert!(
        w.out
            .contains(&Command::Gateway(GatewayCommand::NotifyTransfer {
                call: leg,
                status: 404
            }))
    );
    assert!(
        w.steps()
            .contains(&"transfer to nowhere refused: unknown queue nowhere".to_string())
    );
    assert_eq!(w.call.phase(), Phase::Talking);
    // A REFER without a target, and one before the answer, are refused as well.
    w.input(Input::Agent(
        leg,
        AgentLegEvent::TransferRequested { user: None },
    ));
    assert_eq!(
        w.count(|c| matches!(
            c,
            Command::Gateway(GatewayCommand::NotifyTransfer { status: 404, .. })
        )),
        2
    );
}

#[test]
fn hold_plays_music_to_the_caller_and_resume_bridges_again() {
    let mut w = World::talking("1001");
    let leg = w.agent_leg();
    w.take();
    w.input(Input::Agent(
        leg,
        AgentLegEvent::MediaChanged(negotiated(Direction::SendOnly)),
    ));
    assert_eq!(w.call.phase(), Phase::Held);
    let cmds = w.take();
    assert!(cmds.contains(&Command::Media(MediaCommand::Unbridge)));
    assert_eq!(w.last_play().1, ["hold_music"]);
    assert!(w.steps().contains(&"on hold by the agent".to_string()));
    // A second hold offer (inactive) changes nothing more.
    w.input(Input::Agent(
        leg,
        AgentLegEvent::MediaChanged(negotiated(Direction::Inactive)),
    ));
    assert!(!w.take().contains(&Command::Media(MediaCommand::Unbridge)));
    w.input(Input::Agent(
        leg,
        AgentLegEvent::MediaChanged(negotiated(Direction::SendRecv)),
    ));
    assert_eq!(w.call.phase(), Phase::Talking);
    assert!(
        w.take()
            .contains(&Command::Media(MediaCommand::Bridge { agent: leg }))
    );
    assert!(w.steps().contains(&"off hold".to_string()));
}

/// The desktop's hold (a browser phone cannot hold by re-INVITE) does what a phone's does.
#[test]
fn hold_from_the_desktop_plays_music_and_resume_bridges_again() {
    let mut w = World::talking("1001");
    let leg = w.agent_leg();
    w.take();
    w.input(Input::Hold { held: true });
    assert_eq!(w.call.phase(), Phase::Held);
    let cmds = w.take();
    assert!(cmds.contains(&Command::Media(MediaCommand::Unbridge)));
    assert_eq!(w.last_play().1, ["hold_music"]);
    // Held twice: nothing more.
    w.input(Input::Hold { held: true });
    assert!(!w.take().contains(&Command::Media(MediaCommand::Unbridge)));
    w.input(Input::Hold { held: false });
    assert_eq!(w.call.phase(), Phase::Talking);
    assert!(
        w.take()
            .contains(&Command::Media(MediaCommand::Bridge { agent: leg }))
    );
}

/// Before the conversation (the phone still rings) a hold changes nothing.
#[test]
fn hold_from_the_desktop_before_the_answer_is_ignored() {
    let mut w = World::ringing("1001");
    w.take();
    w.input(Input::Hold { held: true });
    assert!(!w.take().contains(&Command::Media(MediaCommand::Unbridge)));
    assert_ne!(w.call.phase(), Phase::Held);
}

#[test]
fn overflow_to_a_voicemail_box_takes_a_message() {
    let mut w = World::ringing("1001");
    let leg = w.agent_leg();
    w.input(Input::Acd(Action::Overflow {
        call: World::key(),
        target: OverflowTarget::Voicemail("general".into()),
    }));
    // The ringing phone is cancelled; the call is the mailbox's now.
    assert!(
        w.out
            .contains(&Command::Gateway(GatewayCommand::Hangup(Leg::Agent(leg))))
    );
    assert_eq!(w.call.phase(), Phase::Voicemail);
    let steps = w.steps();
    assert!(
        steps.contains(&"overflow Voicemail(\"general\")".to_string()),
        "{steps:?}"
    );
    assert!(steps.contains(&"voicemail general".to_string()));
    leave_a_message(&mut w);
    w.input(Input::Agent(
        leg,
        AgentLegEvent::Ended(EndReason::Cancelled),
    ));
    w.deliver_owed();
    assert_eq!(
        w.finished(),
        Some((Outcome::ServerHangup, Some(CallOutcome::Voicemail)))
    );
}

#[test]
fn an_overflow_to_another_queue_is_the_acds_and_the_call_keeps_waiting() {
    // The engine moves the call between its queues itself and then offers or announces.
    let mut q1 = acd::QueueConfig::new("q1");
    q1.max_wait_s = Some(30);
    q1.overflow = Some("q2".into());
    let config = acd::AcdConfig {
        queues: vec![q1, acd::QueueConfig::new("q2")],
        agents: vec![acd::AgentConfig::new("a2", &["q2"])],
        ..acd::AcdConfig::default()
    };
    let mut w = World::queued();
    let now = w.now;
    let mut acd = acd::Acd::new(config, now).unwrap();
    acd.handle(
        acd::Input::CallArrived {
            call: World::key(),
            queue: "q1".into(),
            at_head: false,
        },
        now,
    )
    .unwrap();
    acd.handle(
        acd::Input::AgentRegistered {
            login: "a2".into(),
            registered: true,
        },
        now,
    )
    .unwrap();
    acd.handle(
        acd::Input::SetAgentState {
            login: "a2".into(),
            state: acd::RequestedState::Ready,
        },
        now,
    )
    .unwrap();
    while acd.poll_action().is_some() {}
    w.advance(Duration::from_secs(31));
    acd.handle_timeout(w.now);
    let mut offered = false;
    while let Some(action) = acd.poll_action() {
        offered |= matches!(action, Action::Offer { .. });
        w.input(Input::Acd(action));
    }
    assert!(offered, "the overflow queue's agent is offered the call");
    assert_eq!(w.call.phase(), Phase::Offering);
}

/// From the greeting to the goodbye, with the message filed.
fn leave_a_message(w: &mut World) {
    let (greeting, prompts) = w.last_play();
    assert_eq!(prompts, ["voicemail_greeting", "beep"]);
    w.input(Input::PlaybackFinished {
        token: greeting,
        interrupted: false,
    });
    let path = PathBuf::from("/vm/general/call.wav");
    assert!(
        w.out
            .contains(&Command::Media(MediaCommand::StartRecording {
                path: path.clone(),
                max: Duration::from_secs(120)
            }))
    );
    w.advance(Duration::from_secs(5));
    w.input(Input::Dtmf {
        digit: '#',
        duration: Duration::from_millis(100),
    });
    assert_eq!(
        w.out.last(),
        Some(&Command::Media(MediaCommand::StopRecording))
    );
    w.input(Input::RecordingFinished {
        path: path.clone(),
        duration: Duration::from_secs(5),
        end: RecordingEnd::Stopped,
    });
    assert!(w.out.contains(&Command::Voicemail(VoicemailCommand::File {
        mailbox: "general".into(),
        path,
        duration: Duration::from_secs(5),
        caller: Some("+390600000001".into())
    })));
    let steps = w.steps();
    assert!(steps.contains(&"voicemail: 5.0 s recorded (/vm/general/call.wav)".to_string()));
    assert!(steps.contains(&"voicemail: opened Service Request 2026120210000012".to_string()));
    // "Saved", "goodbye", then we hang up.
    for expected in ["voicemail_saved", "goodbye"] {
        let (token, prompts) = w.last_play();
        assert_eq!(prompts, [expected]);
        w.input(Input::PlaybackFinished {
            token,
            interrupted: false,
        });
    }
    assert!(
        w.out
            .contains(&Command::Gateway(GatewayCommand::Hangup(Leg::Caller)))
    );
}

#[test]
fn a_message_is_left_on_the_voicemail_line() {
    let mut w = World::start("300");
    assert_eq!(w.call.phase(), Phase::Voicemail);
    leave_a_message(&mut w);
    w.deliver_owed();
    assert_eq!(
        w.finished(),
        Some((Outcome::ServerHangup, Some(CallOutcome::Voicemail)))
    );
    assert!(w.out.iter().any(|c| matches!(
        c,
        Command::Publish(Event::TicketCreated {
            channel: events::TicketChannel::Voicemail,
            ..
        })
    )));
}

#[test]
fn a_message_left_while_the_database_is_away_is_pending_and_the_caller_told_it_is_saved() {
    let auto = Auto {
        file: Some(Filing::Pending),
        ..Auto::default()
    };
    let mut w = World::with("300", settings(), auto);
    let (greeting, _) = w.last_play();
    w.input(Input::PlaybackFinished {
        token: greeting,
        interrupted: false,
    });
    w.input(Input::RecordingFinished {
        path: "/vm/general/call.wav".into(),
        duration: Duration::from_secs(3),
        end: RecordingEnd::Stopped,
    });
    assert!(
        w.steps()
            .contains(&"voicemail: Service Request pending (message kept)".to_string())
    );
    assert_eq!(w.last_play().1, ["voicemail_saved"]);
}

#[test]
fn a_full_mailbox_says_goodbye_and_a_short_message_is_discarded() {
    let auto = Auto {
        admit: Some(Err(VoicemailRefusal::Full("quota".into()))),
        ..Auto::default()
    };
    let w = World::with("300", settings(), auto);
    assert!(
        w.steps()
            .contains(&"voicemail: storage full (quota)".to_string())
    );
    assert_eq!(w.last_play().1, ["goodbye"]);

    let mut w = World::start("300");
    let (greeting, _) = w.last_play();
    w.input(Input::PlaybackFinished {
        token: greeting,
        interrupted: false,
    });
    w.input(Input::CallerEnded(EndReason::RemoteBye));
    w.input(Input::RecordingFinished {
        path: "/vm/general/call.wav".into(),
        duration: Duration::from_millis(400),
        end: RecordingEnd::Stopped,
    });
    assert!(
        w.out
            .contains(&Command::Voicemail(VoicemailCommand::Discard {
                path: "/vm/general/call.wav".into()
            }))
    );
    assert_eq!(
        w.finished(),
        Some((Outcome::CallerHangup, Some(CallOutcome::OutOfHours)))
    );
}

#[test]
fn abandon_while_ringing_cancels_the_phone_and_tells_the_acd() {
    let mut w = World::ringing("1001");
    let leg = w.agent_leg();
    w.input(Input::CallerEnded(EndReason::RemoteBye));
    assert!(
        w.out
            .contains(&Command::Gateway(GatewayCommand::Hangup(Leg::Agent(leg))))
    );
    assert_eq!(
        w.acd_reports().last(),
        Some(&acd::Input::CallAbandoned { call: World::key() })
    );
    // The call waits for the CANCEL's outcome before it is over.
    assert_eq!(w.call.phase(), Phase::Ending);
    w.input(Input::Agent(
        leg,
        AgentLegEvent::Ended(EndReason::Cancelled),
    ));
    assert_eq!(
        w.finished(),
        Some((Outcome::CallerHangup, Some(CallOutcome::Abandoned)))
    );
}

#[test]
fn a_placement_answered_after_the_offer_was_withdrawn_is_closed() {
    let auto = Auto {
        place: false,
        ..Auto::default()
    };
    let mut w = World::with("100", settings(), auto);
    w.offer("1001");
    assert_eq!(w.held_placements, ["1001"]);
    w.input(Input::Acd(Action::CancelOffer {
        call: World::key(),
        agent: "1001".into(),
    }));
    assert_eq!(w.call.phase(), Phase::Queued);
    let leg = w.new_leg();
    w.take();
    w.input(Input::AgentLegPlaced {
        agent: "1001".into(),
        result: Ok(leg),
    });
    assert_eq!(
        w.take(),
        [
            Command::Gateway(GatewayCommand::Hangup(Leg::Agent(leg))),
            Command::Media(MediaCommand::Release(Leg::Agent(leg))),
        ]
    );
    assert!(
        !w.out
            .iter()
            .any(|c| matches!(c, Command::Publish(Event::CallOffered { .. })))
    );
}

#[test]
fn a_lookup_that_does_not_answer_is_given_up_and_the_call_goes_on_unidentified() {
    let auto = Auto {
        lookup: None,
        ..Auto::default()
    };
    let mut w = World::with("200", settings(), auto);
    assert_eq!(w.call.phase(), Phase::Ivr);
    assert_eq!(w.held_lookups, [1], "{:#?}", w.out);
    w.advance(Duration::from_millis(1999));
    assert_eq!(w.call.phase(), Phase::Ivr);
    w.advance(Duration::from_millis(1));
    // "Not identified", then the route.
    let (token, prompts) = w.last_play();
    assert_eq!(prompts, ["not_identified"]);
    w.input(Input::PlaybackFinished {
        token,
        interrupted: false,
    });
    assert_eq!(w.call.phase(), Phase::Queued, "{:#?}", w.out);
    assert!(
        w.out
            .contains(&Command::Crm(CrmCommand::Card(CardWrite::Identity {
                customer: None,
                result: Identity::Failed
            })))
    );
    // The late answer changes nothing.
    w.take();
    w.input(Input::LookupResult {
        id: 1,
        found: Some(Customer {
            id: 7,
            name: "Maria Rossi".into(),
        }),
    });
    assert!(w.take().is_empty());
}

#[test]
fn a_lookup_that_answers_identifies_the_caller_for_the_screen_pop() {
    let auto = Auto {
        lookup: Some(Some(Customer {
            id: 7,
            name: "Maria Rossi".into(),
        })),
        ..Auto::default()
    };
    let mut w = World::with("200", settings(), auto);
    let (token, prompts) = w.last_play();
    assert_eq!(prompts, ["identified"]);
    w.input(Input::PlaybackFinished {
        token,
        interrupted: false,
    });
    w.offer("1001");
    let offered = w.out.iter().find_map(|c| match c {
        Command::Publish(Event::CallOffered {
            customer_name,
            identified_by,
            ..
        }) => Some((customer_name.clone(), *identified_by)),
        _ => None,
    });
    assert_eq!(
        offered,
        Some((Some("Maria Rossi".into()), events::IdentifiedBy::Ani))
    );
    assert!(w.out.iter().any(|c| matches!(c,
        Command::PlaceAgentLeg { display: Some(name), .. } if name == "Maria Rossi")));
}

#[test]
fn digits_typed_during_a_lookup_reach_the_ivr_after_it() {
    let auto = Auto {
        lookup: None,
        ..Auto::default()
    };
    let mut w = World::with("600", settings(), auto);
    let (token, _) = w.last_play();
    w.input(Input::PlaybackFinished {
        token,
        interrupted: false,
    });
    for digit in "12345".chars() {
        w.input(Input::Dtmf {
            digit,
            duration: Duration::from_millis(80),
        });
    }
    assert_eq!(w.held_lookups, [1]);
    w.take();
    w.input(Input::Dtmf {
        digit: '5',
        duration: Duration::from_millis(80),
    });
    // Shown at once (masked: a lookup is an identification), heard by the IVR after it.
    assert_eq!(
        w.take(),
        [Command::Publish(Event::Dtmf {
            call_id: CALL_ID.into(),
            digit: events::MASKED_DIGIT
        })]
    );
    w.input(Input::LookupResult { id: 1, found: None });
    let after = w.take();
    let play = after
        .iter()
        .position(|c| matches!(c, Command::Media(MediaCommand::Play { .. })));
    let stop = after
        .iter()
        .position(|c| matches!(c, Command::Media(MediaCommand::StopPlayback)));
    assert!(
        matches!((play, stop), (Some(p), Some(s)) if p < s),
        "the key barges into the retry's prompt: {after:#?}"
    );
}

#[test]
fn the_maximum_duration_ends_the_call_in_any_phase() {
    let mut w = World::ringing("1001");
    let leg = w.agent_leg();
    w.advance(Duration::from_secs(3599));
    assert_eq!(w.call.phase(), Phase::Offering);
    w.advance(Duration::from_secs(1));
    assert!(
        w.out
            .contains(&Command::Gateway(GatewayCommand::Hangup(Leg::Caller)))
    );
    assert!(
        w.out
            .contains(&Command::Gateway(GatewayCommand::Hangup(Leg::Agent(leg))))
    );
    assert_eq!(
        w.acd_reports().last(),
        Some(&acd::Input::CallAbandoned { call: World::key() })
    );
    w.deliver_owed();
    assert_eq!(
        w.finished(),
        Some((Outcome::ServerHangup, Some(CallOutcome::Abandoned)))
    );
    assert_eq!(w.call.poll_timeout(), None);

    // In the IVR: a menu nobody answers still ends by its own attempts, but a long call
    // in the IVR ends at the maximum.
    let mut s = settings();
    s.max_duration = Duration::from_secs(3);
    let mut w = World::with("500", s, Auto::default());
    w.advance(Duration::from_secs(3));
    assert!(
        w.out
            .contains(&Command::Gateway(GatewayCommand::Hangup(Leg::Caller)))
    );
}

#[test]
fn shutdown_ends_a_conversation_and_waits_for_both_legs() {
    let mut w = World::talking("1001");
    let leg = w.agent_leg();
    w.input(Input::Shutdown);
    assert!(
        w.out
            .contains(&Command::Gateway(GatewayCommand::Hangup(Leg::Caller)))
    );
    assert!(
        w.out
            .contains(&Command::Gateway(GatewayCommand::Hangup(Leg::Agent(leg))))
    );
    assert_eq!(w.call.phase(), Phase::Ending);
    w.deliver_owed();
    // The stop ended it: `call.ended` and the call card say `interrupted` (issue 14).
    assert_eq!(
        w.finished(),
        Some((Outcome::Interrupted, Some(CallOutcome::Interrupted)))
    );
    assert!(w.out.iter().any(|c| matches!(
        c,
        Command::Publish(Event::CallEnded {
            outcome: Outcome::Interrupted,
            ..
        })
    )));
    // In queue: the caller gets a BYE; a gateway that never confirms is waited for
    // HANGUP_WAIT, not forever.
    let mut w = World::queued();
    w.input(Input::Shutdown);
    assert!(
        w.out
            .contains(&Command::Gateway(GatewayCommand::Hangup(Leg::Caller)))
    );
    // The ACD hears that the stop took the call out, never an abandon.
    assert_eq!(
        w.acd_reports(),
        [acd::Input::CallInterrupted { call: World::key() }]
    );
    w.advance(HANGUP_WAIT);
    assert_eq!(
        w.finished(),
        Some((Outcome::Interrupted, Some(CallOutcome::Interrupted)))
    );
    // Ringing an agent when the stop comes: the same, and the agent's phone gets its CANCEL.
    let mut w = World::ringing("1001");
    let leg = w.agent_leg();
    w.input(Input::Shutdown);
    assert!(
        w.out
            .contains(&Command::Gateway(GatewayCommand::Hangup(Leg::Agent(leg))))
    );
    assert_eq!(
        w.acd_reports(),
        [acd::Input::CallInterrupted { call: World::key() }]
    );
}

#[test]
fn a_call_already_ending_when_the_stop_comes_keeps_its_own_outcome() {
    let mut w = World::queued();
    w.input(Input::CallerEnded(EndReason::RemoteBye));
    w.input(Input::Shutdown);
    w.deliver_owed();
    w.advance(HANGUP_WAIT);
    let (outcome, _) = w.finished().expect("finished");
    assert_ne!(outcome, Outcome::Interrupted, "the caller ended it first");
}

#[test]
fn shutdown_while_ringing_before_the_answer_rejects_with_503() {
    let mut s = settings();
    s.answer_delay = Duration::from_secs(2);
    let mut w = World::with("100", s.clone(), Auto::default());
    assert_eq!(w.call.phase(), Phase::Ringing);
    assert!(w.out.contains(&Command::Gateway(GatewayCommand::Ring)));
    w.input(Input::Shutdown);
    assert!(
        w.out
            .contains(&Command::Gateway(GatewayCommand::Reject { status: 503 }))
    );
    assert_eq!(
        w.finished(),
        Some((Outcome::Interrupted, Some(CallOutcome::Interrupted)))
    );
    // Ringing then answered after the delay.
    let mut w = World::with("100", s.clone(), Auto::default());
    w.advance(Duration::from_secs(2));
    assert_eq!(w.call.phase(), Phase::Queued);
    // Cancelled while ringing.
    let mut w = World::with("100", s, Auto::default());
    w.input(Input::CallerEnded(EndReason::Cancelled));
    assert_eq!(
        w.finished(),
        Some((Outcome::Abandoned, Some(CallOutcome::EndedInIvr)))
    );
}

#[test]
fn no_media_port_refuses_the_call_without_a_card() {
    let t0 = std::time::Instant::now();
    let setup = Setup {
        id: CALL_ID.into(),
        sip_call_id: "s".into(),
        caller: None,
        caller_withheld: false,
        dialled: None,
        media: negotiated(Direction::SendRecv),
        settings: settings(),
        tree: tree(),
        wall: chrono::Utc::now(),
    };
    let mut call = Call::new(setup, t0);
    while call.poll_command().is_some() {}
    call.handle(Input::CallerMediaAllocated(Err("no port".into())), t0);
    let cmds: Vec<_> = std::iter::from_fn(|| call.poll_command()).collect();
    assert_eq!(
        cmds[0],
        Command::Gateway(GatewayCommand::Reject { status: 503 })
    );
    assert!(!cmds.iter().any(|c| matches!(c, Command::Crm(_))));
    assert_eq!(
        cmds.last(),
        Some(&Command::Finished {
            outcome: Outcome::Rejected,
            journey: None
        })
    );
}

#[test]
fn a_bridge_that_fails_gives_the_offer_back_as_unreachable() {
    let auto = Auto {
        bridge: Some(Err("legs on different shards".into())),
        ..Auto::default()
    };
    let mut w = World::with("100", settings(), auto);
    w.offer("1001");
    let leg = w.agent_leg();
    answered(&mut w);
    assert_eq!(w.call.phase(), Phase::Queued);
    assert!(
        w.out
            .contains(&Command::Gateway(GatewayCommand::Hangup(Leg::Agent(leg))))
    );
    assert!(matches!(
        w.acd_reports().last(),
        Some(acd::Input::OfferFailed {
            reason: OfferFailure::Unreachable,
            ..
        })
    ));
}

#[test]
fn the_ivr_hangs_up_after_its_goodbye() {
    let mut w = World::start("400");
    let (token, prompts) = w.last_play();
    assert_eq!(prompts, ["goodbye"]);
    w.input(Input::PlaybackFinished {
        token,
        interrupted: false,
    });
    w.deliver_owed();
    assert_eq!(
        w.finished(),
        Some((Outcome::ServerHangup, Some(CallOutcome::EndedInIvr)))
    );
    assert!(
        w.out
            .contains(&Command::Crm(CrmCommand::Card(CardWrite::End {
                outcome: CallOutcome::EndedInIvr
            })))
    );
}

#[test]
fn the_queue_announces_position_and_wait_then_music_again() {
    let mut w = World::queued();
    w.input(Input::Acd(Action::Announce {
        call: World::key(),
        position: 2,
        expected_wait: Duration::from_secs(90),
    }));
    let (token, prompts) = w.last_play();
    assert_eq!(prompts[0], "queue_position");
    w.input(Input::PlaybackFinished {
        token,
        interrupted: false,
    });
    assert_eq!(w.last_play().1, ["hold_music"]);
    // A missing announcement goes back to the music at once.
    w.input(Input::Acd(Action::Announce {
        call: World::key(),
        position: 1,
        expected_wait: Duration::ZERO,
    }));
    let (token, _) = w.last_play();
    w.input(Input::PlaybackMissing { token });
    assert_eq!(w.last_play().1, ["hold_music"]);
}

#[test]
fn the_screen_pop_carries_the_callers_way_typed() {
    let mut w = World::start("500");
    let (token, prompts) = w.last_play();
    assert_eq!(prompts, ["menu_main"]);
    // A wrong key first, then 1.
    w.input(Input::Dtmf {
        digit: '9',
        duration: Duration::from_millis(80),
    });
    w.input(Input::PlaybackFinished {
        token,
        interrupted: true,
    });
    let (token, _) = w.last_play();
    w.input(Input::PlaybackFinished {
        token,
        interrupted: false,
    });
    let (token, _) = w.last_play();
    w.input(Input::PlaybackFinished {
        token,
        interrupted: false,
    });
    w.input(Input::Dtmf {
        digit: '1',
        duration: Duration::from_millis(80),
    });
    assert_eq!(w.call.phase(), Phase::Queued, "{:#?}", w.steps());
    w.offer("1001");
    let journey = w.out.iter().find_map(|c| match c {
        Command::Publish(Event::CallOffered { journey, .. }) => Some(journey.clone()),
        _ => None,
    });
    assert_eq!(
        journey,
        Some(vec![
            events::JourneyStep::MenuRetry { no_input: false },
            events::JourneyStep::Menu {
                digit: '1',
                label: Some("Servizi al cittadino".into())
            },
            events::JourneyStep::Queued { queue: "q1".into() },
        ])
    );
}

/// The call card's and the bus's word for a media time-out, and the end it gives.
fn ended_by_media_timeout(w: &World) {
    assert!(
        w.steps().iter().any(|s| s.starts_with("media_timeout")),
        "{:#?}",
        w.steps()
    );
    assert!(w.out.iter().any(|c| matches!(
        c,
        Command::Publish(Event::CallEnded {
            outcome: Outcome::Failed,
            ..
        })
    )));
    assert_eq!(
        w.count(|c| matches!(c, Command::Gateway(GatewayCommand::Hangup(Leg::Caller)))),
        1,
        "one BYE"
    );
    assert_eq!(
        w.count(|c| matches!(c, Command::Media(MediaCommand::Release(Leg::Caller)))),
        1
    );
    assert_eq!(w.call.poll_timeout(), None);
}

#[test]
fn no_rtp_from_the_caller_ends_the_call_in_the_ivr() {
    let mut w = World::start("500");
    assert_eq!(w.call.phase(), Phase::Ivr);
    w.input(Input::CallerMediaTimeout);
    assert!(w.call.is_finished(), "{:#?}", w.out);
    ended_by_media_timeout(&w);
    assert_eq!(
        w.finished(),
        Some((Outcome::Failed, Some(CallOutcome::EndedInIvr)))
    );
    // Our BYE's confirmation comes after: nothing more happens.
    w.take();
    w.deliver_owed();
    assert!(w.take().is_empty());
}

#[test]
fn no_rtp_from_the_caller_in_the_queue_abandons_it_and_ends_the_agents_leg() {
    let mut w = World::ringing("1001");
    let leg = w.agent_leg();
    w.input(Input::CallerMediaTimeout);
    assert!(
        w.out
            .contains(&Command::Gateway(GatewayCommand::Hangup(Leg::Agent(leg))))
    );
    assert_eq!(
        w.acd_reports().last(),
        Some(&acd::Input::CallAbandoned { call: World::key() })
    );
    w.deliver_owed();
    ended_by_media_timeout(&w);
    assert_eq!(w.finished().map(|(o, _)| o), Some(Outcome::Failed));
}

#[test]
fn no_rtp_during_a_voicemail_keeps_what_was_recorded() {
    let mut w = World::start("300");
    let (token, prompts) = w.last_play();
    assert_eq!(prompts, ["voicemail_greeting", "beep"]);
    w.input(Input::PlaybackFinished {
        token,
        interrupted: false,
    });
    assert!(
        w.out
            .iter()
            .any(|c| matches!(c, Command::Media(MediaCommand::StartRecording { .. }))),
        "{:#?}",
        w.out
    );
    w.advance(Duration::from_secs(40));
    w.input(Input::CallerMediaTimeout);
    assert!(
        w.out.contains(&Command::Media(MediaCommand::StopRecording)),
        "{:#?}",
        w.out
    );
    w.input(Input::RecordingFinished {
        path: "/vm/general/call.wav".into(),
        duration: Duration::from_secs(40),
        end: media::RecordingEnd::Stopped,
    });
    assert!(
        w.out
            .iter()
            .any(|c| matches!(c, Command::Voicemail(VoicemailCommand::File { .. }))),
        "{:#?}",
        w.out
    );
    w.deliver_owed();
    ended_by_media_timeout(&w);
    assert_eq!(
        w.finished(),
        Some((Outcome::Failed, Some(CallOutcome::Voicemail)))
    );
}

#[test]
fn no_rtp_before_the_answer_or_while_ending_changes_nothing() {
    let mut s = settings();
    s.answer_delay = Duration::from_secs(2);
    let mut w = World::with("500", s, Auto::default());
    assert_eq!(w.call.phase(), Phase::Ringing);
    w.take();
    w.input(Input::CallerMediaTimeout);
    assert!(w.take().is_empty());
    w.advance(Duration::from_secs(2));
    assert_eq!(w.call.phase(), Phase::Ivr);
}

/// A caller dials the PIN line and types `pins`, one per prompt, until the call leaves the
/// IVR. Returns the call's world.
fn try_pins(
    guard: &std::rc::Rc<std::cell::RefCell<PinGuard>>,
    at: Duration,
    pins: &[&str],
) -> World {
    let auto = Auto {
        pins: Some(guard.clone()),
        ..Auto::default()
    };
    let mut w = World::with("600", settings(), auto);
    w.advance(at);
    for pin in pins {
        if w.call.phase() != Phase::Ivr {
            break;
        }
        for digit in pin.chars() {
            w.input(Input::Dtmf {
                digit,
                duration: Duration::from_millis(80),
            });
        }
        // Whatever plays next (the retry, "not identified") is heard to its end.
        let (token, _) = w.last_play();
        w.input(Input::PlaybackFinished {
            token,
            interrupted: false,
        });
    }
    w
}

#[test]
fn pins_tried_across_calls_from_one_number_are_refused_and_the_caller_goes_on_unidentified() {
    let guard = std::rc::Rc::new(std::cell::RefCell::new(PinGuard::new(PinLimits::default())));
    // Two calls, two wrong PINs each; a third call's first PIN is the fifth failure.
    for (call, at) in [(1, 0), (2, 60), (3, 120)] {
        let pins: &[&str] = if call == 3 {
            &["11113"]
        } else {
            &["11111", "11112"]
        };
        let w = try_pins(&guard, Duration::from_secs(at), pins);
        let lookups = w.count(|c| matches!(c, Command::Crm(CrmCommand::LookupPin { .. })));
        assert_eq!(lookups, pins.len(), "call {call}: every PIN looked up");
    }
    // The sixth attempt is not looked up: unidentified at once, to the queue.
    let w = try_pins(&guard, Duration::from_secs(180), &["11114", "11115"]);
    assert_eq!(w.call.phase(), Phase::Queued, "{:#?}", w.out);
    let refused: Vec<String> = w
        .steps()
        .into_iter()
        .filter(|s| s.contains("pin refused"))
        .collect();
    assert_eq!(
        refused,
        ["pin: pin refused (5 failed PINs from this number recently)"]
    );
    assert!(
        w.out
            .contains(&Command::Crm(CrmCommand::Card(CardWrite::Identity {
                customer: None,
                result: Identity::Failed
            })))
    );
    // No second prompt for a PIN, and no digit anywhere but the lookup the guard withheld.
    let plays: Vec<Vec<String>> = w
        .out
        .iter()
        .filter_map(|c| match c {
            Command::Media(MediaCommand::Play { prompts, .. }) => Some(prompts.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        plays,
        [
            vec!["pin_request"],
            vec!["not_identified"],
            vec!["hold_music"]
        ],
        "{:#?}",
        w.out
    );
    let text = format!(
        "{:?}",
        w.out
            .iter()
            .filter(|c| !matches!(c, Command::Crm(CrmCommand::LookupPin { .. })))
            .collect::<Vec<_>>()
    );
    assert!(!text.contains("11114") && !text.contains("11115"), "{text}");
    // Another number is still looked up.
    let other = {
        let auto = Auto {
            pins: Some(guard.clone()),
            ..Auto::default()
        };
        let mut w = World::with("600", settings(), auto);
        w.caller = Some("+390600000002".into());
        for digit in "22222".chars() {
            w.input(Input::Dtmf {
                digit,
                duration: Duration::from_millis(80),
            });
        }
        let (token, _) = w.last_play();
        w.input(Input::PlaybackFinished {
            token,
            interrupted: true,
        });
        w
    };
    assert_eq!(
        other.count(|c| matches!(c, Command::Crm(CrmCommand::LookupPin { .. }))),
        1
    );
}

#[test]
fn no_rtp_from_the_agents_phone_ends_the_conversation_on_both_sides() {
    let mut w = World::talking("1001");
    let leg = w.agent_leg();
    w.take();
    w.input(Input::AgentMediaTimeout(leg));
    let out = w.take();
    assert!(
        out.contains(&Command::Gateway(GatewayCommand::Hangup(Leg::Agent(leg)))),
        "BYE to the agent's phone: {out:#?}"
    );
    assert!(
        out.contains(&Command::Gateway(GatewayCommand::Hangup(Leg::Caller))),
        "BYE to the caller: {out:#?}"
    );
    // The ACD hears the end of the conversation: the agent goes to wrap-up.
    assert_eq!(
        w.acd_reports().last(),
        Some(&acd::Input::CallEnded { call: World::key() })
    );
    assert!(
        w.steps()
            .contains(&"media_timeout: no RTP from the agent's phone".to_string()),
        "{:#?}",
        w.steps()
    );
    assert_eq!(w.call.phase(), Phase::Ending);
    // Both hang-ups are confirmed: the call is over, failed, its journey answered.
    w.deliver_owed();
    assert!(w.call.is_finished(), "{:#?}", w.out);
    ended_by_media_timeout(&w);
    assert_eq!(
        w.finished(),
        Some((Outcome::Failed, Some(CallOutcome::Answered)))
    );
    assert_eq!(
        w.count(|c| matches!(c, Command::Media(MediaCommand::Release(Leg::Agent(l))) if *l == leg)),
        1,
        "the agent's media leg is released once"
    );
    assert_eq!(
        w.count(|c| matches!(c, Command::Gateway(GatewayCommand::Hangup(Leg::Agent(_))))),
        1,
        "one BYE to the agent"
    );
}

#[test]
fn no_rtp_from_the_agents_phone_is_waited_for_until_the_hang_up_wait() {
    // The phone whose media stopped may not answer our BYE either: the call still ends.
    let mut w = World::talking("1001");
    let leg = w.agent_leg();
    w.input(Input::AgentMediaTimeout(leg));
    w.owed.clear();
    assert!(!w.call.is_finished());
    w.advance(HANGUP_WAIT);
    assert!(w.call.is_finished(), "{:#?}", w.out);
    assert_eq!(
        w.finished(),
        Some((Outcome::Failed, Some(CallOutcome::Answered)))
    );
    assert_eq!(w.call.poll_timeout(), None);
}

#[test]
fn no_rtp_from_an_agent_leg_outside_a_conversation_changes_nothing() {
    // Ringing: the phone owes no RTP before its answer.
    let mut w = World::ringing("1001");
    let leg = w.agent_leg();
    w.take();
    w.input(Input::AgentMediaTimeout(leg));
    assert!(w.take().is_empty());
    assert_eq!(w.call.phase(), Phase::Offering);

    // Held by the agent: a time-out that crossed the hold is ignored.
    let mut w = World::talking("1001");
    let leg = w.agent_leg();
    w.input(Input::Agent(
        leg,
        AgentLegEvent::MediaChanged(negotiated(Direction::RecvOnly)),
    ));
    assert_eq!(w.call.phase(), Phase::Held);
    w.take();
    w.input(Input::AgentMediaTimeout(leg));
    assert!(w.take().is_empty());
    assert_eq!(w.call.phase(), Phase::Held);

    // A leg the agent already hung up, and a leg that is not the call's current one.
    let mut w = World::talking("1001");
    let leg = w.agent_leg();
    w.input(Input::Agent(
        leg,
        AgentLegEvent::Ended(EndReason::RemoteBye),
    ));
    w.take();
    w.input(Input::AgentMediaTimeout(leg));
    w.input(Input::AgentMediaTimeout(CallRef(9999)));
    assert!(w.take().is_empty());
    w.deliver_owed();
    assert_eq!(
        w.finished(),
        Some((Outcome::ServerHangup, Some(CallOutcome::Answered)))
    );
}
