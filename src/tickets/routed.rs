//! A new ticket meets the municipality's routing rules (`routing` says which match): each
//! matching rule's priority, queue, tag and escalation are carried out here, as the system,
//! with a history event per rule — inside the channel's transaction.

use chrono::NaiveDateTime;
use serde_json::json;

use crate::domain::TenantId;
use crate::error::{Error, Result};
use crate::routing::Facts;
use crate::store::{self, Conn};

/// Route a ticket a channel has just opened. Returns the ticket as it now is.
pub fn route_in_tx(
    c: &mut Conn,
    t: TenantId,
    ticket: store::tickets::Ticket,
    f: &Facts<'_>,
    now: NaiveDateTime,
) -> Result<store::tickets::Ticket> {
    let mut ticket = ticket;
    for rule in crate::routing::matching_in_tx(c, t, f, now)? {
        store::tickets::insert_event(
            c,
            t,
            ticket.id,
            None,
            "routed",
            &json!({ "rule": rule.name }),
            now,
        )?;
        let u = super::UpdateInput {
            priority: rule.priority,
            queue: rule.move_to.map(|q| q.get()),
            ..Default::default()
        };
        if super::apply_update(c, t, None, &ticket, &u)? {
            ticket = store::tickets::get(c, t, ticket.id)?;
        }
        if let Some(tag) = &rule.tag
            && store::workspace::add_tag(c, t, ticket.id, tag, now)?
        {
            store::tickets::insert_event(
                c,
                t,
                ticket.id,
                None,
                "tag_added",
                &json!({ "tag": tag }),
                now,
            )?;
        }
        if let Some(target) = rule.escalate_to {
            let target = store::escalation::target(c, t, target)?
                .ok_or(Error::NotFound("escalation target"))?;
            let reason = format!("Regel: {}", rule.name);
            crate::tickets::escalate::escalate_in_tx(c, t, ticket.id, &target, None, &reason)?;
            ticket = store::tickets::get(c, t, ticket.id)?;
        }
    }
    Ok(ticket)
}
