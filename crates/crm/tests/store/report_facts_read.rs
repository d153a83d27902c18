//! Report facts read back exactly as stored (issue 15): SQLite reads them packed, a row per
//! day with the text escaped (crm::report_facts), PostgreSQL row by row; both must give back
//! every field, whatever characters names and reasons hold (`|`, `%`, newlines, escapes
//! written literally), and only the facts of the period asked for.

use chrono::{DateTime, Duration, TimeZone, Utc};
use crm::{FactBatch, FactCall, FactClosure, FactHour, Store, Watermark};

use crate::common::both;

fn t(day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, day, hour, 0, 0).unwrap()
}

const ODD: [&str; 4] = ["a|b", "per%cento %7C", "due\nrighe", "%0A|%25\n|"];

async fn facts_come_back_whole_with_any_characters(store: Store) {
    let calls: Vec<FactCall> = (0..40)
        .map(|i| FactCall {
            call_id: format!("{}-{i}", ODD[i % 4]),
            first_at: t(1 + (i as u32 % 20), 9) + Duration::milliseconds(i as i64),
            last_at: t(1 + (i as u32 % 20), 10),
            // Bodies are encode_call's: `|`-separated tokens, no raw newline.
            body: format!("1767225600.0|0|={}|~|1|~|~|0", i),
        })
        .collect();
    let hours: Vec<FactHour> = (0..40)
        .map(|i| FactHour {
            hour: t(1 + (i as u32 % 20), 8 + (i as u32 % 3)),
            agent: format!("{}{i}", ODD[(i + 1) % 4]),
            state: "not_ready".into(),
            reason: (i % 3 != 0).then(|| ODD[(i + 2) % 4].to_string()),
            queue: (i % 2 == 0).then(|| ODD[(i + 3) % 4].to_string()),
            ms: 1000 * i as i64,
            started: i as i64,
            started_ms: -(i as i64),
        })
        .collect();
    let closures: Vec<FactClosure> = (0..40)
        .map(|i| FactClosure {
            at: t(1 + (i as u32 % 20), 11) + Duration::milliseconds(i as i64),
            number: format!("{}{i}", ODD[i % 4]),
            queue: ODD[(i + 1) % 4].to_string(),
            by: (i % 2 == 1).then(|| ODD[(i + 2) % 4].to_string()),
        })
        .collect();
    let batch = FactBatch {
        from_event: 0,
        watermark: Watermark {
            last_event: 0,
            max_span_ms: 3_600_000,
            open: String::new(),
        },
        calls: calls.clone(),
        reopened: Vec::new(),
        hours: hours.clone(),
        closures: closures.clone(),
    };
    assert!(store.store_report_facts(&batch).await.unwrap());

    // 5 to 10 March.
    let (from, to) = (t(5, 0), t(11, 0));
    let read = store.report_read(from, to).await.unwrap();
    let mut got_calls = read.calls.clone();
    got_calls.sort_by(|a, b| a.call_id.cmp(&b.call_id));
    let mut want_calls: Vec<FactCall> = calls
        .into_iter()
        .filter(|c| c.first_at >= from - Duration::hours(1) && c.first_at < to && c.last_at >= from)
        .collect();
    want_calls.sort_by(|a, b| a.call_id.cmp(&b.call_id));
    assert!(!want_calls.is_empty());
    // Stored at millisecond precision.
    assert_eq!(got_calls, want_calls);

    let key = |h: &FactHour| (h.hour, h.agent.clone(), h.reason.clone(), h.queue.clone());
    let mut got_hours = read.hours.clone();
    got_hours.sort_by_key(key);
    let mut want_hours: Vec<FactHour> = hours
        .into_iter()
        .filter(|h| h.hour >= from && h.hour < to)
        .collect();
    want_hours.sort_by_key(key);
    assert!(!want_hours.is_empty());
    assert_eq!(got_hours, want_hours);

    let mut got_closures = read.closures.clone();
    got_closures.sort_by(|a, b| a.number.cmp(&b.number));
    let mut want_closures: Vec<FactClosure> = closures
        .into_iter()
        .filter(|c| c.at >= from && c.at < to)
        .collect();
    want_closures.sort_by(|a, b| a.number.cmp(&b.number));
    assert!(!want_closures.is_empty());
    assert_eq!(got_closures, want_closures);

    // A period without facts reads none.
    let empty = store.report_read(t(25, 0), t(26, 0)).await.unwrap();
    assert!(empty.calls.is_empty() && empty.hours.is_empty() && empty.closures.is_empty());
}
both!(facts_come_back_whole_with_any_characters);
