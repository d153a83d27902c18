//! What a [`Caller`] may do: the role table ([`role_allows`]) and the queue checks, in one
//! place (the matrix is in the [module docs of `api`](super)). Handlers ask here before they
//! touch the store; nothing else in the API decides permissions.

use crm::{Access, CallRecord, QueueId, Role, Ticket};

use super::error::{ApiError, ApiResult};
use super::{Api, Caller};

/// Permissions that depend on the role alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capability {
    /// Read and search the customer registry (each read audited).
    ReadCustomers,
    /// Create customers, change their data, set PINs.
    WriteCustomers,
    /// Read the audit log of who saw or changed personal data.
    ReadAudit,
    /// Read every call card, whatever its queue or agent.
    ReadAllCalls,
    /// Reject a second-level assignment (R-SR-11: the back office sends it back).
    RejectAssignment,
}

impl Capability {
    /// Every capability.
    pub const ALL: [Capability; 5] = [
        Capability::ReadCustomers,
        Capability::WriteCustomers,
        Capability::ReadAudit,
        Capability::ReadAllCalls,
        Capability::RejectAssignment,
    ];

    fn describe(self) -> &'static str {
        match self {
            Capability::ReadCustomers => "read customers",
            Capability::WriteCustomers => "change customers",
            Capability::ReadAudit => "read the audit log",
            Capability::ReadAllCalls => "read every call",
            Capability::RejectAssignment => "reject an assignment",
        }
    }
}

/// The role table.
pub fn role_allows(role: Role, cap: Capability) -> bool {
    use Capability as C;
    use Role as R;
    match cap {
        C::ReadCustomers => true,
        C::WriteCustomers => matches!(role, R::AgentFirstLevel | R::AgentSecondLevel | R::Admin),
        C::ReadAudit => role == R::Admin,
        C::ReadAllCalls => matches!(role, R::Supervisor | R::Admin),
        C::RejectAssignment => role != R::AgentFirstLevel,
    }
}

fn access_name(a: Access) -> &'static str {
    match a {
        Access::Read => "read",
        Access::Write => "write",
    }
}

impl Caller {
    /// 403 unless the role has `cap`.
    pub fn require(&self, cap: Capability) -> ApiResult<()> {
        if role_allows(self.user.role, cap) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "role {} may not {}",
                self.user.role,
                cap.describe()
            )))
        }
    }

    /// 403 unless the caller has at least `need` on `queue`.
    pub async fn require_queue(&self, api: &Api, queue: QueueId, need: Access) -> ApiResult<()> {
        let has = api.store().queue_access(self.user.id, queue).await?;
        if has.is_some_and(|h| h >= need) {
            return Ok(());
        }
        let name = api.store().queue(queue).await?.name;
        Err(ApiError::Forbidden(format!(
            "user {} has no {} access to queue {name}",
            self.user.login,
            access_name(need)
        )))
    }

    /// 403 unless the caller has at least `need` on the ticket's queue.
    pub async fn require_ticket(&self, api: &Api, ticket: &Ticket, need: Access) -> ApiResult<()> {
        self.require_queue(api, ticket.queue, need).await
    }

    /// The queues the caller may read; `None` means every queue.
    pub async fn readable_queues(&self, api: &Api) -> ApiResult<Option<Vec<QueueId>>> {
        if matches!(self.user.role, Role::Supervisor | Role::Admin) {
            return Ok(None);
        }
        let mut out = Vec::new();
        for q in api.store().queues().await? {
            if api
                .store()
                .queue_access(self.user.id, q.id)
                .await?
                .is_some()
            {
                out.push(q.id);
            }
        }
        Ok(Some(out))
    }

    /// 403 unless the caller may see this call card: their own call, a call of a queue they
    /// may read, or any call for supervisors and admins.
    pub async fn require_call(&self, api: &Api, call: &CallRecord) -> ApiResult<()> {
        if role_allows(self.user.role, Capability::ReadAllCalls)
            || call.agent.as_deref() == Some(self.user.login.as_str())
        {
            return Ok(());
        }
        if let Some(name) = &call.queue
            && let Some(queue) = api.store().queue_by_name(name).await?
            && api
                .store()
                .queue_access(self.user.id, queue)
                .await?
                .is_some()
        {
            return Ok(());
        }
        Err(ApiError::Forbidden(format!(
            "user {} may see only their own calls and calls of queues they may read",
            self.user.login
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The matrix of the module docs, row by row: (capability, [A1, A2, supervisor, admin]).
    #[test]
    fn the_role_table_is_the_documented_matrix() {
        use Capability as C;
        let expected = [
            (C::ReadCustomers, [true, true, true, true]),
            (C::WriteCustomers, [true, true, false, true]),
            (C::ReadAudit, [false, false, false, true]),
            (C::ReadAllCalls, [false, false, true, true]),
            (C::RejectAssignment, [false, true, true, true]),
        ];
        assert_eq!(expected.len(), Capability::ALL.len());
        for (cap, row) in expected {
            for (role, allowed) in Role::ALL.iter().zip(row) {
                assert_eq!(role_allows(*role, cap), allowed, "{role} / {cap:?}");
            }
        }
    }
}
