//! How an agent-registered ticket came in (`ticket_intake`): the channel the citizen used and
//! whether the question was answered during that contact (first-contact resolution).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::ticket_intake;
use super::{Conn, StoreResult};
use crate::domain::{IntakeChannel, TenantId, TicketId, UserId};

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, serde::Serialize)]
#[diesel(table_name = ticket_intake)]
pub struct Intake {
    pub ticket_id: i64,
    pub channel: String,
    pub answered_at_first_contact: bool,
    pub registered_by: Option<i64>,
    pub created_at: NaiveDateTime,
}

pub fn insert(
    conn: &mut Conn,
    t: TenantId,
    ticket: TicketId,
    channel: IntakeChannel,
    answered_at_first_contact: bool,
    by: UserId,
    now: NaiveDateTime,
) -> StoreResult<()> {
    diesel::insert_into(ticket_intake::table)
        .values((
            ticket_intake::ticket_id.eq(ticket.get()),
            ticket_intake::tenant_id.eq(t.get()),
            ticket_intake::channel.eq(channel.as_str()),
            ticket_intake::answered_at_first_contact.eq(answered_at_first_contact),
            ticket_intake::registered_by.eq(Some(by.get())),
            ticket_intake::created_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// The intake record of a ticket in `t`, if an agent registered it.
pub fn get(conn: &mut Conn, t: TenantId, ticket: TicketId) -> StoreResult<Option<Intake>> {
    Ok(ticket_intake::table
        .filter(ticket_intake::tenant_id.eq(t.get()))
        .filter(ticket_intake::ticket_id.eq(ticket.get()))
        .select(Intake::as_select())
        .first(conn)
        .optional()?)
}
