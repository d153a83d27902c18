//! Italian certified mail (PEC, DPR 11 febbraio 2005 n. 68; technical rules DM 2 novembre 2005).
//!
//! A PEC provider delivers the writer's message wrapped in a *busta di trasporto*: headers
//! `X-Trasporto: posta-certificata` (or `X-Ricevuta: …` for the provider's receipts), a text
//! saying who sent what when, `daticert.xml` (the certification data) and the original message
//! as a `message/rfc822` part named `postacert.eml`, all usually under an S/MIME signature.
//! The ticket shows the original; the envelope is kept (the raw message is stored whole) and
//! described by [`PecEnvelope`].

use mail_parser::{Message, MimeHeaders};

use crate::parse::PecEnvelope;

/// The envelope's description and its original message, when `m` is a PEC envelope.
pub(crate) fn envelope<'a>(m: &'a Message<'a>) -> Option<(PecEnvelope, Option<&'a Message<'a>>)> {
    let kind = m
        .header_raw("X-Trasporto")
        .or_else(|| m.header_raw("X-Ricevuta"))
        .map(|k| k.trim().to_ascii_lowercase());
    let named = |want: &str| {
        m.attachments().find(|p| {
            p.attachment_name()
                .is_some_and(|n| n.eq_ignore_ascii_case(want))
        })
    };
    let original = named("postacert.eml").and_then(|p| p.message());
    let daticert =
        named("daticert.xml").map(|p| String::from_utf8_lossy(p.contents()).into_owned());
    // A `daticert.xml` beside a `postacert.eml` is an envelope even when a relay dropped the
    // X- headers on the way.
    let kind = match (kind, original.is_some() && daticert.is_some()) {
        (Some(k), _) => k,
        (None, true) => "posta-certificata".to_string(),
        (None, false) => return None,
    };
    Some((
        PecEnvelope {
            kind,
            subject: m.subject().unwrap_or_default().trim().to_string(),
            from: crate::parse::first_mailbox(m.from()).map(|b| b.address),
            daticert,
        },
        original,
    ))
}

#[cfg(test)]
pub(crate) mod tests {
    use crate::parse::parse;

    /// A PEC envelope as a provider builds it (without the S/MIME layer's signature bytes).
    pub(crate) fn sample_envelope(original: &str) -> String {
        format!(
            "Return-Path: <posta-certificata@pec.provider.example>\r\n\
From: \"Per conto di: mario.rossi@pec.example\" <posta-certificata@pec.provider.example>\r\n\
To: protocollo@pec.comune.example\r\n\
Subject: POSTA CERTIFICATA: Richiesta accesso atti\r\n\
Message-ID: <opec1.20260302@pec.provider.example>\r\n\
X-Trasporto: posta-certificata\r\n\
X-Riferimento-Message-ID: <orig-1@pec.example>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"PEC\"\r\n\
\r\n\
--PEC\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
Messaggio di posta certificata: il giorno 02/03/2026 alle ore 10:00 il messaggio\r\n\
\"Richiesta accesso atti\" è stato inviato da \"mario.rossi@pec.example\".\r\n\
--PEC\r\n\
Content-Type: application/xml; name=\"daticert.xml\"\r\n\
Content-Disposition: inline; filename=\"daticert.xml\"\r\n\
\r\n\
<?xml version=\"1.0\"?><postacert tipo=\"posta-certificata\" errore=\"nessuno\"><intestazione><mittente>mario.rossi@pec.example</mittente></intestazione></postacert>\r\n\
--PEC\r\n\
Content-Type: message/rfc822; name=\"postacert.eml\"\r\n\
Content-Disposition: inline; filename=\"postacert.eml\"\r\n\
\r\n\
{original}\r\n\
--PEC--\r\n"
        )
    }

    pub(crate) const ORIGINAL: &str = "From: Mario Rossi <mario.rossi@pec.example>\r\n\
To: protocollo@pec.comune.example\r\n\
Subject: Richiesta accesso atti\r\n\
Message-ID: <orig-1@pec.example>\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
Chiedo copia della delibera 12/2026.\r\n";

    #[test]
    fn envelope_unwrapped_to_the_original() {
        let raw = sample_envelope(ORIGINAL);
        let p = parse(raw.as_bytes()).unwrap();
        assert_eq!(p.subject, "Richiesta accesso atti");
        assert_eq!(p.from.as_ref().unwrap().address, "mario.rossi@pec.example");
        assert_eq!(p.message_id.as_deref(), Some("orig-1@pec.example"));
        assert!(p.text.contains("delibera 12/2026"));
        let env = p.pec.unwrap();
        assert_eq!(env.kind, "posta-certificata");
        assert_eq!(env.subject, "POSTA CERTIFICATA: Richiesta accesso atti");
        assert!(
            env.daticert
                .unwrap()
                .contains("<mittente>mario.rossi@pec.example")
        );
    }

    #[test]
    fn receipt_without_original_is_the_envelope() {
        let raw = "From: posta-certificata@pec.provider.example\r\n\
Subject: ACCETTAZIONE: prova\r\n\
X-Ricevuta: accettazione\r\n\
Content-Type: text/plain\r\n\r\nRicevuta di accettazione\r\n";
        let p = parse(raw.as_bytes()).unwrap();
        assert_eq!(p.pec.as_ref().unwrap().kind, "accettazione");
        assert_eq!(p.subject, "ACCETTAZIONE: prova");
    }
}
