//! What an SLA breach rule does to a ticket (`sla::engine` decides when and what; the change
//! is made here, as the system, through the same update as an agent's change).

use crate::domain::TenantId;
use crate::error::Result;
use crate::sla::engine::Change;
use crate::store::{self, Conn};

/// `sla::engine::ApplyChange` for the sweeper.
pub fn apply(
    c: &mut Conn,
    t: TenantId,
    tk: &store::tickets::Ticket,
    change: &Change,
) -> Result<()> {
    match change {
        Change::Update {
            priority,
            queue,
            assignee,
        } => {
            let u = super::UpdateInput {
                priority: *priority,
                queue: *queue,
                assignee: assignee.map(Some),
                ..Default::default()
            };
            super::apply_update(c, t, None, tk, &u)?;
        }
        Change::Escalate { target, reason } => {
            super::escalate::escalate_in_tx(c, t, tk.id, target, None, reason)?;
        }
    }
    Ok(())
}
