//! REGISTER on the user agent: the [`Registrar`] behind the transaction layer (a non-INVITE
//! server transaction, RFC 3261 §17.2.2), and what the rest of the core asks of it.

use std::time::Instant;

use rsip::headers::UntypedHeader;

use super::UserAgent;
use super::build::{ALLOW, ALLOW_WITH_REGISTER};
use crate::auth::Credentials;
use crate::registrar::{Binding, Registrar, RegistrarStats, RegistrationEvent};
use crate::transaction::{Peer, TransactionId};

impl UserAgent {
    /// Answers a REGISTER through the registrar (only called when there is one).
    pub(super) fn on_register(
        &mut self,
        tx: TransactionId,
        request: &rsip::Request,
        peer: &Peer,
        now: Instant,
    ) {
        let Some(registrar) = self.registrar.as_mut() else {
            return;
        };
        let Some(mut resp) = registrar.handle_register(request, peer, now) else {
            // Failed credentials over the source's challenge rate: no answer, and no
            // transaction left waiting for one.
            self.layer.abandon(tx);
            return;
        };
        resp.headers
            .push(rsip::headers::Server::new(self.config.user_agent.clone()).into());
        self.send_response(tx, resp, now);
    }

    /// The next change of an agent's registration (drain it like [`UserAgent::poll_event`]).
    #[must_use]
    pub fn poll_registration(&mut self) -> Option<RegistrationEvent> {
        self.registrar.as_mut()?.poll_event()
    }

    /// The registrar, when enabled.
    #[must_use]
    pub fn registrar(&self) -> Option<&Registrar> {
        self.registrar.as_ref()
    }

    /// A user's live bindings (empty without a registrar).
    #[must_use]
    pub fn bindings(&self, user: &str, now: Instant) -> Vec<Binding> {
        self.registrar
            .as_ref()
            .map(|r| r.bindings(user, now))
            .unwrap_or_default()
    }

    #[must_use]
    pub fn registrar_stats(&self, now: Instant) -> Option<RegistrarStats> {
        self.registrar.as_ref().map(|r| r.stats(now))
    }

    /// Swaps the credentials phones authenticate with; `false` when there is no registrar.
    pub fn set_credentials(&mut self, credentials: Credentials) -> bool {
        self.config.credentials = credentials.clone();
        match self.registrar.as_mut() {
            Some(registrar) => {
                registrar.set_credentials(credentials);
                true
            }
            None => false,
        }
    }

    /// The methods we accept, for `Allow` (RFC 3261 §20.5).
    pub(super) fn allow(&self) -> &'static str {
        if self.registrar.is_some() {
            ALLOW_WITH_REGISTER
        } else {
            ALLOW
        }
    }

    /// Where a call to `target` must go: the address a registered phone sent its REGISTER
    /// from when `target` is one of its contacts (RFC 5626 §5.3 in its simplest form: the
    /// Contact's host may be private, behind NAT), otherwise `None`.
    pub(super) fn registered_flow(&self, target: &rsip::Uri, now: Instant) -> Option<Peer> {
        let registrar = self.registrar.as_ref()?;
        registrar
            .binding_for_contact(&target.to_string(), now)
            .map(|b| b.peer())
    }
}
