//! Which ticket a message belongs to.
//!
//! A reply is recognised by the ticket tag `[Ticket#NNNN]` in its subject (the OTRS form; the
//! number is an OTRS DateChecksum number, `crm::number`, whose check digit must hold) or, when
//! the subject lost it, by an `In-Reply-To` or `References` id that is the Message-ID of a mail
//! we sent (RFC 5322 §3.6.4). The store resolves both; this module only reads them.

use crate::parse::Parsed;

/// The tag prefix, as OTRS writes it.
pub const TAG_PREFIX: &str = "[Ticket#";

/// The tag for a ticket number.
pub fn tag(number: &str) -> String {
    format!("{TAG_PREFIX}{number}]")
}

/// `subject` with the ticket's tag in front, unless it already carries it.
pub fn tagged_subject(number: &str, subject: &str) -> String {
    let t = tag(number);
    if subject.contains(&t) {
        subject.to_string()
    } else {
        format!("{t} {subject}")
    }
}

/// The ticket numbers tagged in `subject`, in order, with a valid check digit.
pub fn tagged_numbers(subject: &str) -> Vec<String> {
    let mut out = Vec::new();
    let lower = subject.to_ascii_lowercase();
    let prefix = TAG_PREFIX.to_ascii_lowercase();
    let mut rest = lower.as_str();
    while let Some(i) = rest.find(&prefix) {
        rest = &rest[i + prefix.len()..];
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        let closed = rest[digits.len()..].starts_with(']');
        if closed && digits.len() >= 16 && valid_check_digit(&digits) {
            out.push(digits);
        }
    }
    out
}

fn valid_check_digit(number: &str) -> bool {
    let (body, check) = number.split_at(number.len() - 1);
    crm::number::check_digit(body).is_ok_and(|c| check.parse::<u8>().is_ok_and(|d| d == c))
}

/// What a message offers to find its ticket: tag numbers first, then referenced ids
/// (In-Reply-To first, then References from the newest).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ThreadKeys {
    /// Ticket numbers from the subject.
    pub numbers: Vec<String>,
    /// Message-IDs this message answers.
    pub references: Vec<String>,
}

/// The thread keys of a message.
pub fn keys(p: &Parsed) -> ThreadKeys {
    let mut references: Vec<String> = p.in_reply_to.clone();
    for r in p.references.iter().rev() {
        if !references.contains(r) {
            references.push(r.clone());
        }
    }
    ThreadKeys {
        numbers: tagged_numbers(&p.subject),
        references,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use crm::number::format_number;

    fn number() -> String {
        format_number(
            NaiveDate::from_ymd_opt(2026, 3, 2).unwrap(),
            crm::SystemId::new(42).unwrap(),
            15,
        )
    }

    #[test]
    fn tag_round_trip() {
        let n = number();
        let s = tagged_subject(&n, "Re: buca");
        assert_eq!(s, format!("[Ticket#{n}] Re: buca"));
        assert_eq!(tagged_subject(&n, &s), s, "never tagged twice");
        assert_eq!(tagged_numbers(&format!("R: Re: {s}")), vec![n.clone()]);
        assert_eq!(tagged_numbers(&format!("re: [ticket#{n}] x")), vec![n]);
    }

    #[test]
    fn bad_tags_are_ignored() {
        let n = number();
        let mut wrong = n.clone();
        let last = wrong.pop().unwrap();
        wrong.push(if last == '0' { '1' } else { '0' });
        assert!(
            tagged_numbers(&format!("[Ticket#{wrong}]")).is_empty(),
            "check digit"
        );
        assert!(tagged_numbers("[Ticket#123]").is_empty(), "too short");
        assert!(
            tagged_numbers(&format!("[Ticket#{n}")).is_empty(),
            "unclosed"
        );
        assert!(tagged_numbers("[Ticket#").is_empty());
        assert!(tagged_numbers("").is_empty());
    }

    #[test]
    fn keys_in_order() {
        let raw = "From: a@x.example\r\nSubject: hi\r\nIn-Reply-To: <b@c>\r\n\
References: <a@c> <b@c>\r\n\r\nx";
        let k = keys(&crate::parse::parse(raw.as_bytes()).unwrap());
        assert_eq!(k.references, vec!["b@c", "a@c"]);
        assert!(k.numbers.is_empty());
    }

    proptest::proptest! {
        #[test]
        fn any_subject_is_safe(s in "\\PC{0,80}") {
            let _ = tagged_numbers(&s);
        }
    }
}
