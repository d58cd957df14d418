//! Staff to tell about a ticket.

use crate::domain::TenantId;
use crate::store::{self, Conn};

/// Whom to tell when something goes wrong with a ticket (an SLA target, a referral's deadline):
/// its assignee and the leads of its queue, active accounts only, each address once.
pub fn responsible_addresses(
    c: &mut Conn,
    t: TenantId,
    tk: &store::tickets::Ticket,
) -> Result<Vec<String>, store::StoreError> {
    let mut to: Vec<String> = vec![];
    if let Some(a) = tk.assignee_id {
        let u = store::users::get(c, t, a)?;
        if u.active {
            to.push(u.email);
        }
    }
    for m in store::queues::members(c, t, tk.queue_id)? {
        if m.active && m.role == crate::domain::MembershipRole::Lead && !to.contains(&m.email) {
            to.push(m.email);
        }
    }
    Ok(to)
}
