//! What kind of mail this is, and whether it may be answered (no mail loops).
//!
//! Automatic mail is recognised by the signals the RFCs give it, and is filed but never
//! answered:
//! - a delivery status notification: `multipart/report` (RFC 6522, RFC 3464), a null
//!   `Return-Path: <>` (RFC 5321 §4.5.5) or a `MAILER-DAEMON` sender;
//! - an automatic response: `Auto-Submitted` other than `no` (RFC 3834 §5), `X-Autoreply` /
//!   `X-Autorespond` (common responders), `Precedence: bulk | list | junk` (RFC 2076);
//! - list mail: `List-Id` (RFC 2919).
//!
//! A fax delivered as mail (a PDF or TIFF attachment from a configured fax gateway, or with a
//! configured subject pattern) opens a fax-channel ticket. A message without a sender is
//! filed and never answered. A PEC *receipt* (acceptance, delivery) is automatic too.

use crate::parse::Parsed;

/// Which fax-to-mail gateways send faxes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaxRule {
    /// Sender addresses (`fax@gw.example`) or domains (`@gw.example`), case-insensitive.
    pub gateways: Vec<String>,
    /// A subject containing this text (case-insensitive), e.g. `Fax from`.
    pub subject_contains: Option<String>,
}

/// The class of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// A person wrote: a ticket, answered.
    Personal,
    /// A fax: a fax-channel ticket, answered by mail only if the sender is a person (never).
    Fax,
    /// A bounce or delivery report.
    Bounce(&'static str),
    /// An automatic reply (vacation, acknowledgement, PEC receipt).
    AutoReply(&'static str),
    /// Mailing-list or bulk mail.
    List(&'static str),
    /// No sender address to answer.
    NoSender,
}

impl Class {
    /// May we send mail back (a confirmation, a reply)?
    pub fn answerable(self) -> bool {
        matches!(self, Class::Personal)
    }

    /// Why it is not answered, for the note on the ticket; `None` when it is.
    pub fn reason(self) -> Option<&'static str> {
        match self {
            Class::Personal => None,
            Class::Fax => Some("fax received by e-mail: not answered by e-mail"),
            Class::Bounce(r) | Class::AutoReply(r) | Class::List(r) => Some(r),
            Class::NoSender => Some("no sender address: not answered"),
        }
    }
}

/// Classifies a parsed message.
pub fn classify(p: &Parsed, fax: &FaxRule) -> Class {
    let s = &p.signals;
    let from = p.from.as_ref().map(|f| f.address.to_ascii_lowercase());
    if s.report {
        return Class::Bounce("delivery status report (multipart/report): never answered");
    }
    if from
        .as_deref()
        .is_some_and(|f| f.starts_with("mailer-daemon@") || f.starts_with("postmaster@"))
    {
        return Class::Bounce("sent by MAILER-DAEMON: never answered");
    }
    if s.null_return_path {
        return Class::Bounce("null Return-Path <>: never answered");
    }
    if s.auto_submitted
        .as_deref()
        .is_some_and(|v| !v.starts_with("no"))
    {
        return Class::AutoReply("Auto-Submitted: never answered");
    }
    if s.x_autoreply {
        return Class::AutoReply("X-Autoreply: never answered");
    }
    if p.pec
        .as_ref()
        .is_some_and(|e| e.kind != "posta-certificata")
    {
        return Class::AutoReply("certified-mail receipt: never answered");
    }
    if let Some(prec) = s.precedence.as_deref()
        && matches!(prec, "bulk" | "list" | "junk")
    {
        return Class::List("Precedence: bulk, list or junk: never answered");
    }
    if s.list_id {
        return Class::List("List-Id: mailing-list mail, never answered");
    }
    let scanned = p.attachments.iter().any(|a| {
        matches!(
            a.content_type.as_str(),
            "application/pdf" | "image/tiff" | "image/tif"
        )
    });
    if scanned {
        let from_gateway = from.as_deref().is_some_and(|f| {
            fax.gateways.iter().any(|g| {
                let g = g.to_ascii_lowercase();
                if g.starts_with('@') {
                    f.ends_with(&g)
                } else {
                    f == g
                }
            })
        });
        let by_subject = fax
            .subject_contains
            .as_deref()
            .is_some_and(|pat| p.subject.to_lowercase().contains(&pat.to_lowercase()));
        if from_gateway || by_subject {
            return Class::Fax;
        }
    }
    if p.from.is_none() {
        return Class::NoSender;
    }
    Class::Personal
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse;

    fn class_of(headers: &str) -> Class {
        let raw = format!("{headers}Subject: re\r\n\r\nbody\r\n");
        classify(&parse(raw.as_bytes()).unwrap(), &FaxRule::default())
    }

    #[test]
    fn automatic_mail_is_never_answered() {
        let from = "From: a@example.org\r\n";
        assert_eq!(class_of(from), Class::Personal);
        assert!(class_of(from).answerable());
        assert_eq!(
            class_of(&format!("{from}Auto-Submitted: no\r\n")),
            Class::Personal
        );
        for h in [
            "Auto-Submitted: auto-replied\r\n",
            "Auto-Submitted: auto-generated\r\n",
            "X-Autoreply: yes\r\n",
            "Precedence: bulk\r\n",
            "Precedence: junk\r\n",
            "Precedence: list\r\n",
            "List-Id: <news.example.org>\r\n",
            "Return-Path: <>\r\n",
        ] {
            let c = class_of(&format!("{from}{h}"));
            assert!(!c.answerable(), "{h}: {c:?}");
            assert!(c.reason().unwrap().contains("never answered"), "{h}");
        }
        assert!(matches!(
            class_of("From: MAILER-DAEMON@mx.example.org\r\n"),
            Class::Bounce(_)
        ));
        assert_eq!(class_of("To: x@example.org\r\n"), Class::NoSender);
    }

    #[test]
    fn dsn_is_a_bounce() {
        let raw = "From: Mail Delivery System <MAILER-DAEMON@mx.example>\r\n\
Subject: Undelivered Mail Returned to Sender\r\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=B\r\n\r\n\
--B\r\nContent-Type: text/plain\r\n\r\nfailed\r\n\
--B\r\nContent-Type: message/delivery-status\r\n\r\nStatus: 5.1.1\r\n--B--\r\n";
        let c = classify(&parse(raw.as_bytes()).unwrap(), &FaxRule::default());
        assert!(
            matches!(c, Class::Bounce(r) if r.contains("multipart/report")),
            "{c:?}"
        );
    }

    fn fax_mail(from: &str, subject: &str, ctype: &str) -> String {
        format!(
            "From: {from}\r\nSubject: {subject}\r\nContent-Type: multipart/mixed; boundary=F\r\n\r\n\
--F\r\nContent-Type: text/plain\r\n\r\nfax\r\n\
--F\r\nContent-Type: {ctype}; name=\"fax.pdf\"\r\nContent-Disposition: attachment; filename=\"fax.pdf\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--F--\r\n"
        )
    }

    #[test]
    fn faxes_by_gateway_or_subject() {
        let rule = FaxRule {
            gateways: vec!["@fax.example.org".into(), "scanner@comune.example".into()],
            subject_contains: Some("FAX from".into()),
        };
        let c = |raw: String| classify(&parse(raw.as_bytes()).unwrap(), &rule);
        assert_eq!(
            c(fax_mail("gw@fax.example.org", "doc", "application/pdf")),
            Class::Fax
        );
        assert_eq!(
            c(fax_mail("scanner@comune.example", "doc", "image/tiff")),
            Class::Fax
        );
        assert_eq!(
            c(fax_mail(
                "x@y.example",
                "Fax from 0612345",
                "application/pdf"
            )),
            Class::Fax
        );
        // A citizen's PDF is not a fax.
        assert_eq!(
            c(fax_mail("x@y.example", "modulo", "application/pdf")),
            Class::Personal
        );
        // The gateway without a PDF/TIFF is plain mail.
        assert_eq!(
            c(fax_mail("gw@fax.example.org", "doc", "image/png")),
            Class::Personal
        );
        assert!(!Class::Fax.answerable());
    }
}
