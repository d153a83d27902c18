//! Attachments of outgoing mail (issue 15, report sets as XLSX): stored with the mail in the
//! transaction that queues it, read back byte for byte and in order when the sender claims
//! it (and in the administrators' outbox view), bounded in size, queued once per key.

use crm::{NewAttachment, OUTGOING_ATTACHMENTS_MAX_BYTES, OutgoingMail, Store};

use crate::common::{both, t0};

fn report_mail(key: &str, attachments: Vec<NewAttachment>) -> OutgoingMail {
    OutgoingMail {
        dedup_key: key.to_string(),
        ticket: None,
        message_id: format!("{key}@centralino.test"),
        in_reply_to: None,
        sender: "urp@comune.test".into(),
        recipient: "direzione@example.org".into(),
        subject: "Rapporti di novembre 2026".into(),
        body: "SLA.C.2: 93,4 %".into(),
        attachments,
    }
}

fn xlsx(bytes: Vec<u8>) -> NewAttachment {
    NewAttachment {
        filename: "centralino-2026-11.xlsx".into(),
        content_type: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".into(),
        content: bytes,
    }
}

async fn attachments_are_kept_with_the_mail(store: Store) {
    // Every byte value, and a NUL, survive.
    let binary: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let csv = NewAttachment {
        filename: "code.csv".into(),
        content_type: "text/csv".into(),
        content: b"queue;offered\nurp;12\n".to_vec(),
    };
    let mail = report_mail("reports:monthly:2026-11:a", vec![xlsx(binary), csv]);
    assert!(store.queue_mail(&mail, t0()).await.unwrap());
    assert!(
        store
            .mail_queued("reports:monthly:2026-11:a")
            .await
            .unwrap()
    );
    assert!(
        !store
            .mail_queued("reports:monthly:2026-10:a")
            .await
            .unwrap()
    );
    // Queued again under the same key (a restart): nothing more.
    assert!(!store.queue_mail(&mail, t0()).await.unwrap());

    let listed = store.outbox(None, 10).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].mail, mail, "the administrators' view shows them");
    let claimed = store.claim_mail(t0(), 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].mail, mail, "the sender gets them back, in order");

    // A mail without attachments reads back with none.
    let plain = report_mail("reports:weekly:2026-W48:a", Vec::new());
    assert!(store.queue_mail(&plain, t0()).await.unwrap());
    let claimed = store.claim_mail(t0(), 10).await.unwrap();
    assert_eq!(claimed[0].mail.attachments, Vec::new());
}
both!(attachments_are_kept_with_the_mail);

async fn oversized_attachments_are_refused_and_nothing_is_queued(store: Store) {
    let big = report_mail(
        "reports:big:2026-11:a",
        vec![
            xlsx(vec![7; OUTGOING_ATTACHMENTS_MAX_BYTES / 2]),
            xlsx(vec![8; OUTGOING_ATTACHMENTS_MAX_BYTES / 2 + 1]),
        ],
    );
    let err = store.queue_mail(&big, t0()).await.unwrap_err();
    assert!(
        err.to_string().contains("attachments") && err.to_string().contains("10 MiB"),
        "{err}"
    );
    assert!(!store.mail_queued("reports:big:2026-11:a").await.unwrap());
    assert!(store.outbox(None, 10).await.unwrap().is_empty());
    // Exactly the limit is accepted.
    let fits = report_mail(
        "reports:fits:2026-11:a",
        vec![xlsx(vec![9; OUTGOING_ATTACHMENTS_MAX_BYTES])],
    );
    assert!(store.queue_mail(&fits, t0()).await.unwrap());
    assert_eq!(
        store.claim_mail(t0(), 1).await.unwrap()[0].mail.attachments[0]
            .content
            .len(),
        OUTGOING_ATTACHMENTS_MAX_BYTES
    );
}
both!(oversized_attachments_are_refused_and_nothing_is_queued);
