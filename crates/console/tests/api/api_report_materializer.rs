//! The background materializer (`console::report_facts::Materializer`): it folds what
//! arrives without a report being asked, survives a failing pass and tries again at the next
//! tick, and stops when told.

use std::time::Duration;

use chrono::{NaiveDate, Utc};
use chrono_tz::Europe::Rome;
use console::report_facts::{Materializer, Passes};
use crm::{FactBatch, LoggedEvent, Watermark};
use reports::synth::{SynthSpec, synthesize};
use tokio::sync::watch;

use crate::common::{Fixture, both};

/// Waits (bounded) until the passes satisfy `done`; returns them.
async fn until(
    passes: &mut watch::Receiver<Passes>,
    what: &str,
    done: impl Fn(&Passes) -> bool,
) -> Passes {
    let waited = tokio::time::timeout(Duration::from_secs(30), passes.wait_for(|p| done(p)))
        .await
        .map(|r| r.expect("the materializer's task is alive").clone());
    waited.unwrap_or_else(|_| panic!("materializer: {what} within 30 s: {:?}", *passes.borrow()))
}

async fn a_materializer_folds_in_the_background_retries_and_stops(f: Fixture) {
    let store = &f.store;
    let log = synthesize(&SynthSpec {
        first_day: NaiveDate::from_ymd_opt(2026, 2, 2).unwrap(),
        days: 2,
        calls: 40,
        queues: vec!["cittadini".into()],
        agents: 2,
        tz: Rome,
        seed: 9,
    });
    let rows: Vec<LoggedEvent> = log
        .iter()
        .enumerate()
        .map(|(n, (at, e))| LoggedEvent {
            event_id: format!("bg-{n}"),
            at: *at,
            kind: e.kind().to_string(),
            call_id: e.call_id().map(str::to_string),
            body: serde_json::to_string(e).unwrap(),
            queue_row: console::record::queue_log_row(e),
        })
        .collect();
    let half = rows.len() / 2;
    store.append_events(&rows[..half]).await.unwrap();

    let materializer = Materializer::spawn(store.clone(), Duration::from_millis(20));
    let mut passes = materializer.passes();
    // The first pass runs at once and folds what is there, with no report asked.
    let p = until(&mut passes, "the first half folded", |p| p.folded > 0).await;
    assert_eq!(p.folded, half as u64);
    assert_eq!(p.failed, 0);
    assert_eq!(
        store.report_watermark().await.unwrap().last_event,
        half as i64
    );

    // A watermark whose saved state does not decode: the passes fail, are counted and logged,
    // and the task goes on ticking.
    let wm = store.report_watermark().await.unwrap();
    let broken = FactBatch {
        from_event: wm.last_event,
        watermark: Watermark {
            open: "not the ledger's state".into(),
            ..wm
        },
        ..FactBatch::default()
    };
    assert!(store.store_report_facts(&broken).await.unwrap());
    store.append_events(&rows[half..]).await.unwrap();
    let p = until(&mut passes, "two failed passes", |p| p.failed >= 2).await;
    assert!(p.last_error.is_some(), "{p:?}");
    assert_eq!(p.folded, half as u64, "nothing folded over a broken state");

    // Repaired (facts rebuilt from the log): the next tick folds the whole log.
    store.reset_report_facts().await.unwrap();
    let p = until(&mut passes, "the whole log folded after the repair", |p| {
        p.last_error.is_none() && p.folded >= (half + rows.len()) as u64
    })
    .await;
    assert_eq!(p.folded, (half + rows.len()) as u64);
    assert_eq!(
        store.report_watermark().await.unwrap().last_event,
        rows.len() as i64
    );

    // Stopped: the task ends, and no pass runs after.
    tokio::time::timeout(Duration::from_secs(10), materializer.stop())
        .await
        .expect("the materializer stops within 10 s");
    let done = passes.borrow().done;
    store
        .append_events(&[LoggedEvent {
            event_id: "bg-after-stop".into(),
            ..rows[0].clone()
        }])
        .await
        .unwrap();
    assert!(passes.has_changed().is_err(), "the sender is gone");
    assert_eq!(passes.borrow().done, done);
    assert_eq!(
        store.report_watermark().await.unwrap().last_event,
        rows.len() as i64,
        "nothing folded after the stop at {}",
        Utc::now()
    );
}
both!(a_materializer_folds_in_the_background_retries_and_stops);
