//! A caller whose trusted trunk asked for privacy (RFC 3323 `Privacy: id`): the number still
//! identifies the customer in the CRM and is written on the call card, but nothing the call
//! shows agents carries it.

use events::{ANONYMOUS_CALLER, Event, IdentifiedBy};

use super::*;

const NUMBER: &str = "+390600000001";

fn maria() -> Auto {
    Auto {
        lookup: Some(Some(Customer {
            id: 7,
            name: "Maria Rossi".into(),
        })),
        ..Auto::default()
    }
}

/// Dialled 200 (identify by caller number, then the queue), offered to 1001, answered.
fn answered(mut w: World) -> World {
    let (token, prompts) = w.last_play();
    assert_eq!(prompts, ["identified"]);
    w.input(Input::PlaybackFinished {
        token,
        interrupted: false,
    });
    w.offer("1001");
    let leg = w.agent_leg();
    w.input(Input::Agent(
        leg,
        AgentLegEvent::Answered(negotiated(media::Direction::SendRecv)),
    ));
    assert_eq!(w.call.phase(), Phase::Talking, "{:#?}", w.out);
    w
}

/// Everything the call published, as the event stream's JSON.
fn published(w: &World) -> Vec<String> {
    w.out
        .iter()
        .filter_map(|c| match c {
            Command::Publish(e) => Some(serde_json::to_string(e).unwrap()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_withheld_number_identifies_the_customer_but_reaches_no_agent_facing_surface() {
    let w = answered(World::withheld("200", maria()));

    // The CRM gets the number: the lookup, the call card's caller.
    assert!(w.out.contains(&Command::Crm(CrmCommand::LookupAni {
        id: 1,
        number: NUMBER.into()
    })));
    assert!(w.out.iter().any(|c| matches!(c,
        Command::Crm(CrmCommand::Card(CardWrite::Start { caller, .. })) if caller == NUMBER)));
    // The card says the number was withheld, so the API hides it from agents.
    assert!(w.steps().contains(&events::WITHHELD_STEP.to_string()));

    // call.started and the screen pop say anonymous, and still name the customer found.
    assert!(w.out.iter().any(|c| matches!(c,
        Command::Publish(Event::CallStarted { caller: Some(c), .. }) if c == ANONYMOUS_CALLER)));
    let pop = w.out.iter().find_map(|c| match c {
        Command::Publish(Event::CallOffered {
            caller,
            customer_name,
            identified_by,
            ..
        }) => Some((caller.clone(), customer_name.clone(), *identified_by)),
        _ => None,
    });
    assert_eq!(
        pop,
        Some((
            Some(ANONYMOUS_CALLER.to_string()),
            Some("Maria Rossi".to_string()),
            IdentifiedBy::Ani
        ))
    );

    // The agent's phone gets RFC 3323's anonymous From, with no name.
    let placed: Vec<_> = w
        .out
        .iter()
        .filter_map(|c| match c {
            Command::PlaceAgentLeg {
                caller, display, ..
            } => Some((caller.clone(), display.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        placed,
        [(ANONYMOUS_CALLER.to_string(), Some("Anonymous".to_string()))]
    );

    // The Service Request opens for the call; its title, read by agents, has no number.
    let title = w.out.iter().find_map(|c| match c {
        Command::Crm(CrmCommand::OpenTicket { title, .. }) => Some(title.clone()),
        _ => None,
    });
    assert_eq!(
        title.as_deref(),
        Some("Phone call from Maria Rossi (number withheld)")
    );

    // No event carries the number anywhere.
    for json in published(&w) {
        assert!(!json.contains(NUMBER), "the number leaked: {json}");
        assert!(!json.contains("0600000001"), "the number leaked: {json}");
    }
}

#[test]
fn a_number_not_withheld_is_shown_as_before() {
    let w = answered(World::with("200", settings(), maria()));
    assert!(!w.steps().contains(&events::WITHHELD_STEP.to_string()));
    assert!(w.out.iter().any(|c| matches!(c,
        Command::Publish(Event::CallOffered { caller: Some(c), .. }) if c == NUMBER)));
    assert!(w.out.iter().any(|c| matches!(c,
        Command::PlaceAgentLeg { caller, display: Some(d), .. }
            if caller == NUMBER && d == "Maria Rossi")));
    assert!(w.out.iter().any(|c| matches!(c,
        Command::Crm(CrmCommand::OpenTicket { title, .. })
            if title == &format!("Phone call from Maria Rossi ({NUMBER})"))));
}

#[test]
fn a_withheld_unknown_caller_is_anonymous_in_the_title() {
    let mut w = World::withheld("100", Auto::default());
    w.offer("1001");
    let leg = w.agent_leg();
    w.input(Input::Agent(
        leg,
        AgentLegEvent::Answered(negotiated(media::Direction::SendRecv)),
    ));
    assert!(w.out.iter().any(|c| matches!(c,
        Command::Crm(CrmCommand::OpenTicket { title, .. }) if title == "Phone call from anonymous")));
    for json in published(&w) {
        assert!(!json.contains(NUMBER), "the number leaked: {json}");
    }
}
