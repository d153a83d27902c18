//! The mails we send on our own: confirmation with the request number, pending reminder,
//! closure; in Italian and English.
//!
//! A template is a subject and a body with `{{placeholder}}`s: `number`, `title`, `name`,
//! `queue`, `link`. The defaults live here ([`default_template`]); an administrator's edited
//! copy, stored in the database, replaces them ([`Template::check`] refuses an unknown
//! placeholder, so an edit cannot send `{{nmber}}` to a citizen). The subject always carries
//! the ticket tag ([`crate::thread::tagged_subject`]), so a reply finds its ticket.

use std::collections::BTreeMap;

/// What a template is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Purpose {
    /// A new request: its number.
    Confirmation,
    /// A request waiting for the citizen.
    PendingReminder,
    /// A request closed.
    Closure,
}

impl Purpose {
    /// Name in the database and the configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Confirmation => "confirmation",
            Purpose::PendingReminder => "pending_reminder",
            Purpose::Closure => "closure",
        }
    }

    /// Every purpose.
    pub const ALL: [Purpose; 3] = [
        Purpose::Confirmation,
        Purpose::PendingReminder,
        Purpose::Closure,
    ];

    /// From its name.
    pub fn parse(s: &str) -> Option<Purpose> {
        Purpose::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

/// A language of the templates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Lang {
    /// Italiano.
    It,
    /// English.
    En,
}

impl Lang {
    /// `it` or `en`.
    pub fn as_str(self) -> &'static str {
        match self {
            Lang::It => "it",
            Lang::En => "en",
        }
    }

    /// Every language.
    pub const ALL: [Lang; 2] = [Lang::It, Lang::En];

    /// From its name.
    pub fn parse(s: &str) -> Option<Lang> {
        Lang::ALL.into_iter().find(|l| l.as_str() == s)
    }
}

/// The placeholders a template may use.
pub const PLACEHOLDERS: &[&str] = &["number", "title", "name", "queue", "link"];

/// A subject and a body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    /// Subject (the tag is added in front when missing).
    pub subject: String,
    /// Plain-text body.
    pub body: String,
}

/// A template that does not render.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// `{{x}}` with an unknown `x`.
    #[error("unknown placeholder {{{{{0}}}}}: expected one of number, title, name, queue, link")]
    Unknown(String),
    /// `{{` without `}}`.
    #[error("unclosed placeholder after {0:?}: expected `}}}}`")]
    Unclosed(String),
}

fn render_text(text: &str, vars: &BTreeMap<&str, &str>) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("{{") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let end = after.find("}}").ok_or_else(|| {
            TemplateError::Unclosed(
                out.chars()
                    .rev()
                    .take(20)
                    .collect::<String>()
                    .chars()
                    .rev()
                    .collect(),
            )
        })?;
        let key = after[..end].trim();
        if !PLACEHOLDERS.contains(&key) {
            return Err(TemplateError::Unknown(key.to_string()));
        }
        out.push_str(vars.get(key).copied().unwrap_or(""));
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The values of one mail.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Values {
    /// Ticket number.
    pub number: String,
    /// Ticket title.
    pub title: String,
    /// The citizen's name.
    pub name: String,
    /// Queue name.
    pub queue: String,
    /// A link (the survey, the public status page), may be empty.
    pub link: String,
}

impl Template {
    /// Refuses unknown or unclosed placeholders (an administrator's edit).
    pub fn check(&self) -> Result<(), TemplateError> {
        let v = Values::default();
        self.render(&v).map(|_| ())
    }

    /// Subject (tagged) and body with the values in.
    pub fn render(&self, v: &Values) -> Result<Template, TemplateError> {
        let vars: BTreeMap<&str, &str> = [
            ("number", v.number.as_str()),
            ("title", v.title.as_str()),
            ("name", v.name.as_str()),
            ("queue", v.queue.as_str()),
            ("link", v.link.as_str()),
        ]
        .into();
        let subject = render_text(&self.subject, &vars)?.replace(['\r', '\n'], " ");
        Ok(Template {
            subject: crate::thread::tagged_subject(&v.number, subject.trim()),
            body: render_text(&self.body, &vars)?,
        })
    }
}

/// The built-in template for `purpose` in `lang`.
pub fn default_template(purpose: Purpose, lang: Lang) -> Template {
    let (subject, body) = match (purpose, lang) {
        (Purpose::Confirmation, Lang::It) => (
            "Richiesta ricevuta: {{title}}",
            "Gentile {{name}},\n\nabbiamo ricevuto la sua richiesta \"{{title}}\".\n\
             Il numero della richiesta è {{number}}: lo indichi in ogni comunicazione.\n\
             Per aggiungere informazioni risponda a questo messaggio lasciando invariato l'oggetto.\n\n\
             Questo messaggio è generato automaticamente.\n",
        ),
        (Purpose::Confirmation, Lang::En) => (
            "Request received: {{title}}",
            "Dear {{name}},\n\nwe have received your request \"{{title}}\".\n\
             Your request number is {{number}}: please quote it whenever you contact us.\n\
             To add information, reply to this message keeping the subject as it is.\n\n\
             This message was sent automatically.\n",
        ),
        (Purpose::PendingReminder, Lang::It) => (
            "In attesa di sua risposta: {{title}}",
            "Gentile {{name}},\n\nla richiesta {{number}} (\"{{title}}\") attende una sua risposta.\n\
             Risponda a questo messaggio lasciando invariato l'oggetto.\n",
        ),
        (Purpose::PendingReminder, Lang::En) => (
            "Waiting for your answer: {{title}}",
            "Dear {{name}},\n\nrequest {{number}} (\"{{title}}\") is waiting for your answer.\n\
             Please reply to this message keeping the subject as it is.\n",
        ),
        (Purpose::Closure, Lang::It) => (
            "Richiesta chiusa: {{title}}",
            "Gentile {{name}},\n\nla richiesta {{number}} (\"{{title}}\") è stata chiusa.\n\
             {{link}}\n",
        ),
        (Purpose::Closure, Lang::En) => (
            "Request closed: {{title}}",
            "Dear {{name}},\n\nrequest {{number}} (\"{{title}}\") has been closed.\n{{link}}\n",
        ),
    };
    Template {
        subject: subject.into(),
        body: body.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> Values {
        Values {
            number: "2026030242000015".into(),
            title: "Buca in via Verdi".into(),
            name: "Mario Rossi".into(),
            queue: "urp".into(),
            link: String::new(),
        }
    }

    #[test]
    fn every_default_renders_with_the_tag_and_number() {
        for p in [
            Purpose::Confirmation,
            Purpose::PendingReminder,
            Purpose::Closure,
        ] {
            for l in [Lang::It, Lang::En] {
                let t = default_template(p, l);
                t.check().unwrap();
                let r = t.render(&values()).unwrap();
                assert!(
                    r.subject.starts_with("[Ticket#2026030242000015] "),
                    "{}",
                    r.subject
                );
                assert!(r.body.contains("2026030242000015"), "{p:?} {l:?}");
                assert!(r.body.contains("Mario Rossi"));
                assert!(!r.body.contains("{{"));
            }
        }
        let it = default_template(Purpose::Confirmation, Lang::It)
            .render(&values())
            .unwrap();
        assert_eq!(
            it.subject,
            "[Ticket#2026030242000015] Richiesta ricevuta: Buca in via Verdi"
        );
    }

    #[test]
    fn edits_are_checked() {
        let bad = Template {
            subject: "x".into(),
            body: "n. {{nmber}}".into(),
        };
        assert_eq!(bad.check(), Err(TemplateError::Unknown("nmber".into())));
        let open = Template {
            subject: "x {{number".into(),
            body: String::new(),
        };
        assert!(matches!(open.check(), Err(TemplateError::Unclosed(_))));
        let ok = Template {
            subject: "{{ number }}".into(),
            body: "{{title}}{{title}}".into(),
        };
        let r = ok.render(&values()).unwrap();
        assert_eq!(r.subject, "[Ticket#2026030242000015] 2026030242000015");
        assert_eq!(r.body, "Buca in via VerdiBuca in via Verdi");
    }

    #[test]
    fn a_title_cannot_inject_headers() {
        let mut v = values();
        v.title = "x\r\nBcc: victim@example.org".into();
        let r = default_template(Purpose::Confirmation, Lang::En)
            .render(&v)
            .unwrap();
        assert!(!r.subject.contains('\n') && !r.subject.contains('\r'));
    }
}
