//! What the search index is built from: tickets with their contact and all message text, loaded in
//! batches (one query for the tickets and contacts, one for the messages, per 500 tickets).

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::dsl;
use diesel::prelude::*;

use super::schema::{contacts, messages, tickets};
use super::{Conn, StoreResult};
use crate::domain::TenantId;

/// Tickets per query when loading documents.
pub const BATCH: usize = 500;
/// Characters of one message body that are loaded for indexing.
pub const MAX_MESSAGE_CHARS: i32 = 50_000;
/// Bytes of all message bodies of one ticket that are loaded for indexing.
pub const MAX_TICKET_BODY_BYTES: usize = 200_000;

#[diesel::declare_sql_function]
extern "SQL" {
    /// `substr(text, start, length)`, counted in characters on both backends.
    fn substr(
        x: diesel::sql_types::Text,
        start: diesel::sql_types::Integer,
        len: diesel::sql_types::Integer,
    ) -> diesel::sql_types::Text;
}

type Scoped = dsl::Filter<tickets::table, dsl::Eq<tickets::tenant_id, i64>>;

/// Every query on tickets here starts from this.
fn scoped(t: TenantId) -> Scoped {
    tickets::table.filter(tickets::tenant_id.eq(t.get()))
}

/// One ticket as the search index sees it. Ids are the raw database values.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchDoc {
    pub tenant: TenantId,
    pub ticket_id: i64,
    pub queue_id: i64,
    pub number: String,
    pub status: String,
    pub created_at: NaiveDateTime,
    pub subject: String,
    /// Every message body (inbound, outbound and internal notes), oldest first, separated by a blank
    /// line, cut at [`MAX_TICKET_BODY_BYTES`].
    pub body: String,
    /// Contact name and e-mail address, space-separated (empty without a contact).
    pub contact: String,
}

type DocRow = (
    i64,
    i64,
    String,
    String,
    NaiveDateTime,
    String,
    Option<String>,
    Option<String>,
);

/// The documents of the tickets `ids` in `t`, in id order. Ids that are not tickets of `t` (or no
/// longer exist) are left out, which tells the indexer to drop them from the index.
pub fn docs_for(conn: &mut Conn, t: TenantId, ids: &[i64]) -> StoreResult<Vec<SearchDoc>> {
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(BATCH) {
        let rows: Vec<DocRow> = scoped(t)
            .left_join(
                contacts::table.on(contacts::id
                    .nullable()
                    .eq(tickets::contact_id)
                    .and(contacts::tenant_id.eq(t.get()))),
            )
            .filter(tickets::id.eq_any(chunk.to_vec()))
            .order(tickets::id)
            .select((
                tickets::id,
                tickets::queue_id,
                tickets::number,
                tickets::status,
                tickets::created_at,
                tickets::subject,
                contacts::name.nullable(),
                contacts::email.nullable(),
            ))
            .load(conn)?;
        if rows.is_empty() {
            continue;
        }
        let found: Vec<i64> = rows.iter().map(|r| r.0).collect();
        let bodies: Vec<(i64, String)> = messages::table
            .filter(messages::tenant_id.eq(t.get()))
            .filter(messages::ticket_id.eq_any(found))
            .order((messages::ticket_id, messages::id))
            .select((
                messages::ticket_id,
                substr(messages::body_text, 1, MAX_MESSAGE_CHARS),
            ))
            .load(conn)?;
        let mut by_ticket: HashMap<i64, String> = HashMap::new();
        for (ticket, text) in bodies {
            let body = by_ticket.entry(ticket).or_default();
            if body.len() >= MAX_TICKET_BODY_BYTES {
                continue;
            }
            if !body.is_empty() {
                body.push_str("\n\n");
            }
            let room = MAX_TICKET_BODY_BYTES - body.len();
            body.push_str(truncate_bytes(text.trim(), room));
        }
        for (id, queue, number, status, created_at, subject, name, email) in rows {
            let contact = [name, email]
                .into_iter()
                .flatten()
                .filter(|s| !s.trim().is_empty())
                .collect::<Vec<_>>()
                .join(" ");
            out.push(SearchDoc {
                tenant: t,
                ticket_id: id,
                queue_id: queue,
                number,
                status,
                created_at,
                subject,
                body: by_ticket.remove(&id).unwrap_or_default(),
                contact,
            });
        }
    }
    Ok(out)
}

/// Ticket ids of `t` above `after_id`, ascending, at most `limit` (for full rebuilds).
pub fn ticket_ids_page(
    conn: &mut Conn,
    t: TenantId,
    after_id: i64,
    limit: i64,
) -> StoreResult<Vec<i64>> {
    Ok(scoped(t)
        .filter(tickets::id.gt(after_id))
        .order(tickets::id)
        .limit(limit)
        .select(tickets::id)
        .load(conn)?)
}

/// How many tickets `t` has (for rebuild progress).
pub fn ticket_count(conn: &mut Conn, t: TenantId) -> StoreResult<i64> {
    Ok(scoped(t).count().get_result(conn)?)
}

/// Cut `s` to at most `max` bytes at a character boundary.
fn truncate_bytes(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}
