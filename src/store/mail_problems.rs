//! What could not be shown of an incoming mail (`message_problems`): an attachment over the size
//! limit, a truncated part, bad base64, an unknown charset. Written with the message in intake's
//! transaction; read with the ticket so the agent sees a notice next to the message.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{message_problems, messages};
use super::{Conn, StoreResult};
use crate::domain::{TenantId, TicketId};

/// One problem as stored. `kind` is one of `oversize`, `truncated`, `bad_base64`, `charset`,
/// `unreadable` (the table's CHECK holds it).
#[derive(Debug, Clone, Queryable, Selectable, serde::Serialize)]
#[diesel(table_name = message_problems)]
pub struct ProblemRow {
    #[serde(skip)]
    pub id: i64,
    pub message_id: i64,
    pub kind: String,
    /// The file or part it concerns.
    pub filename: Option<String>,
    pub size_bytes: Option<i64>,
    /// For `charset`: "declared→used".
    pub detail: Option<String>,
}

pub struct NewProblem<'a> {
    pub kind: &'a str,
    pub filename: Option<&'a str>,
    pub size_bytes: Option<i64>,
    pub detail: Option<&'a str>,
}

pub fn insert(
    conn: &mut Conn,
    t: TenantId,
    message: i64,
    p: NewProblem<'_>,
    now: NaiveDateTime,
) -> StoreResult<()> {
    diesel::insert_into(message_problems::table)
        .values((
            message_problems::tenant_id.eq(t.get()),
            message_problems::message_id.eq(message),
            message_problems::kind.eq(p.kind),
            message_problems::filename.eq(p.filename),
            message_problems::size_bytes.eq(p.size_bytes),
            message_problems::detail.eq(p.detail),
            message_problems::created_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// The problems of a ticket's messages, in the order they were found.
pub fn for_ticket(conn: &mut Conn, t: TenantId, ticket: TicketId) -> StoreResult<Vec<ProblemRow>> {
    let ids: Vec<i64> = messages::table
        .filter(messages::tenant_id.eq(t.get()))
        .filter(messages::ticket_id.eq(ticket.get()))
        .select(messages::id)
        .load(conn)?;
    if ids.is_empty() {
        return Ok(vec![]);
    }
    Ok(message_problems::table
        .filter(message_problems::tenant_id.eq(t.get()))
        .filter(message_problems::message_id.eq_any(&ids))
        .order(message_problems::id)
        .select(ProblemRow::as_select())
        .load(conn)?)
}
