//! Escalating a ticket — to the records system (diariet), as a referral (remiss) to a department,
//! or as a transfer to a department's queue — is a change of the ticket: the escalation row, its
//! outbox item and the history event are written here in one transaction. The targets and the
//! delivery to them are `escalation`; the handler's side of a referral is `referral`.

use chrono::{Duration, NaiveDateTime};
use serde_json::json;

use crate::accounts::{Actor, Scope};
use crate::domain::{InvalidValue, Reason, TenantId, TicketId, TicketNumber, UserId};
use crate::error::{Error, Result};
use crate::store::{self, Conn, Db};

/// Write an escalation of `ticket` to `target` with its outbox item and history event, inside
/// the caller's transaction (an agent's action or an SLA breach rule).
pub fn escalate_in_tx(
    c: &mut Conn,
    t: TenantId,
    ticket: TicketId,
    target: &store::escalation::Target,
    requested_by: Option<UserId>,
    reason: &str,
) -> Result<i64> {
    let now = store::now();
    let key = crate::escalation::new_key();
    let id = store::escalation::insert(
        c,
        t,
        &store::escalation::NewEscalation {
            ticket,
            target: target.id,
            key: &key,
            requested_by,
            reason,
        },
        now,
    )?;
    if target.kind == "referral" {
        refer_in_tx(c, t, ticket, id, target)?;
    } else if target.kind == "transfer" {
        // The whole ticket moves to the department's queue, as an agent's transfer would.
        let queue = target
            .transfer_queue_id
            .ok_or_else(|| InvalidValue::new("target", Reason::TransferNoQueue))?;
        let tk = store::tickets::get(c, t, ticket)?;
        let u = super::UpdateInput {
            queue: Some(queue),
            ..Default::default()
        };
        super::apply_update(c, t, requested_by, &tk, &u)?;
        store::escalation::set_state(c, t, id, "sent", None, now)?;
    } else {
        store::outbox::enqueue(
            c,
            t,
            crate::escalation::OUTBOX_KIND,
            &json!({ "escalation": id, "target": target.id }),
            Some(ticket),
            now,
        )?;
    }
    store::tickets::insert_event(
        c,
        t,
        ticket,
        requested_by,
        "escalated",
        &json!({ "target": target.name, "reason": reason }),
        now,
    )?;
    Ok(id)
}

/// An agent escalates a ticket to a target (by id), or to its queue's default target.
pub async fn escalate(
    db: &Db,
    actor: &Actor,
    number: TicketNumber,
    target: Option<i64>,
    reason: &str,
) -> Result<i64> {
    actor.require(Scope::TicketsWrite)?;
    let reason = reason.trim().to_string();
    if reason.chars().count() > 2000 {
        return Err(InvalidValue::new("reason", Reason::TooLong { max: 2_000 }).into());
    }
    let (t, access, uid) = (actor.tenant, actor.queue_access(), actor.user()?);
    db.write(move |c| -> Result<i64> {
        let ticket = super::find(c, t, &access, &number)?;
        let target_id = match target {
            Some(id) => id,
            None => store::escalation::queue_default(c, t, ticket.queue_id)?
                .ok_or_else(|| InvalidValue::new("target", Reason::NoEscalationTarget))?,
        };
        let target = store::escalation::target(c, t, target_id)?
            .ok_or(Error::NotFound("escalation target"))?;
        escalate_in_tx(c, t, ticket.id, &target, Some(uid), &reason)
    })
    .await
}

/// Write a referral inside the escalation's transaction: its deadline, the item that mails the
/// department (rendered by the worker, which has the link's key) and the deadline item.
fn refer_in_tx(
    c: &mut Conn,
    t: TenantId,
    ticket: TicketId,
    escalation: i64,
    target: &store::escalation::Target,
) -> Result<NaiveDateTime> {
    let now = store::now();
    let due = now + Duration::days(i64::from(target.response_days.unwrap_or(5)));
    store::escalation::referral_sent(c, t, escalation, due, now)?;
    let payload = json!({ "escalation": escalation });
    store::outbox::enqueue(
        c,
        t,
        crate::escalation::REFERRAL_MAIL_KIND,
        &payload,
        Some(ticket),
        now,
    )?;
    store::outbox::enqueue_at(
        c,
        t,
        crate::escalation::REFERRAL_DEADLINE_KIND,
        &payload,
        Some(ticket),
        now,
        due,
    )?;
    // The department's days are not the contact center's time: the ticket waits for an external
    // party (its clocks paused) until the answer reopens it (D45).
    if target.referral_pauses_sla {
        let tk = store::tickets::get(c, t, ticket)?;
        if tk.status.is_open() && tk.merged_into_id.is_none() {
            let u = super::UpdateInput {
                status: Some(crate::domain::Status::Waiting),
                waiting_on: Some(crate::domain::WaitingOn::External),
                ..Default::default()
            };
            super::apply_update(c, t, None, &tk, &u)?;
        }
    }
    Ok(due)
}
