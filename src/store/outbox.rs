//! The transactional outbox. A side effect is enqueued in the same transaction as the change that
//! causes it; delivery workers claim due items with a lease (PostgreSQL: `FOR UPDATE SKIP LOCKED`,
//! SQLite: the single writer serialises claims), so two nodes never work one item at the same time
//! and an item whose worker died is picked up again when its lease runs out.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::outbox;
use super::{Conn, StoreResult};
use crate::domain::{TenantId, TicketId};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = outbox)]
pub struct Item {
    pub id: i64,
    pub tenant_id: i64,
    pub kind: String,
    pub payload: String,
    pub ticket_id: Option<i64>,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub last_error: Option<String>,
    pub done_at: Option<NaiveDateTime>,
    pub dead_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
}

pub fn enqueue(
    conn: &mut Conn,
    t: TenantId,
    kind: &str,
    payload: &serde_json::Value,
    ticket: Option<TicketId>,
    now: NaiveDateTime,
) -> StoreResult<i64> {
    enqueue_at(conn, t, kind, payload, ticket, now, now)
}

/// Queue an item that is not to be worked on before `at` (a durable timer: a deadline).
pub fn enqueue_at(
    conn: &mut Conn,
    t: TenantId,
    kind: &str,
    payload: &serde_json::Value,
    ticket: Option<TicketId>,
    now: NaiveDateTime,
    at: NaiveDateTime,
) -> StoreResult<i64> {
    Ok(diesel::insert_into(outbox::table)
        .values((
            outbox::tenant_id.eq(t.get()),
            outbox::kind.eq(kind),
            outbox::payload.eq(payload.to_string()),
            outbox::ticket_id.eq(ticket.map(|t| t.get())),
            outbox::attempts.eq(0),
            outbox::next_attempt_at.eq(at),
            outbox::created_at.eq(now),
        ))
        .returning(outbox::id)
        .get_result(conn)?)
}

/// Claim up to `limit` due items of the given kinds for `owner` until `lease_until`.
/// Must run inside a write transaction.
pub fn claim(
    conn: &mut Conn,
    kinds: &[&str],
    owner: &str,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
    limit: i64,
) -> StoreResult<Vec<Item>> {
    let due = outbox::table
        .filter(outbox::done_at.is_null())
        .filter(outbox::dead_at.is_null())
        .filter(outbox::kind.eq_any(kinds))
        .filter(outbox::next_attempt_at.le(now))
        .filter(
            outbox::lease_until
                .is_null()
                .or(outbox::lease_until.lt(now)),
        )
        .order(outbox::next_attempt_at)
        .limit(limit)
        .select(outbox::id);
    let ids: Vec<i64> = match conn {
        Conn::Pg(c) => due.for_update().skip_locked().load(c)?,
        Conn::Sqlite(c) => due.load(c)?,
    };
    if ids.is_empty() {
        return Ok(vec![]);
    }
    diesel::update(outbox::table.filter(outbox::id.eq_any(&ids)))
        .set((
            outbox::lease_owner.eq(owner),
            outbox::lease_until.eq(lease_until),
            outbox::attempts.eq(outbox::attempts + 1),
        ))
        .execute(conn)?;
    Ok(outbox::table
        .filter(outbox::id.eq_any(&ids))
        .order(outbox::id)
        .select(Item::as_select())
        .load(conn)?)
}

/// Extend the lease of items `owner` still holds (and has not finished) to `lease_until`.
/// Returns how many were extended; an item another node took over is left alone.
pub fn renew(
    conn: &mut Conn,
    ids: &[i64],
    owner: &str,
    lease_until: NaiveDateTime,
) -> StoreResult<usize> {
    let mut n = 0;
    // (In chunks: SQLite limits the parameters of one statement.)
    for chunk in ids.chunks(500) {
        n += diesel::update(
            outbox::table
                .filter(outbox::id.eq_any(chunk))
                .filter(outbox::lease_owner.eq(owner))
                .filter(outbox::done_at.is_null())
                .filter(outbox::dead_at.is_null()),
        )
        .set(outbox::lease_until.eq(lease_until))
        .execute(conn)?;
    }
    Ok(n)
}

/// Mark delivered. Only the lease holder can, so a worker whose lease ran out cannot overwrite.
pub fn complete(conn: &mut Conn, id: i64, owner: &str, now: NaiveDateTime) -> StoreResult<bool> {
    Ok(diesel::update(
        outbox::table
            .filter(outbox::id.eq(id))
            .filter(outbox::lease_owner.eq(owner)),
    )
    .set((
        outbox::done_at.eq(now),
        outbox::lease_owner.eq(None::<String>),
        outbox::lease_until.eq(None::<NaiveDateTime>),
        outbox::last_error.eq(None::<String>),
    ))
    .execute(conn)?
        == 1)
}

/// Record a failed attempt: retry at `retry_at`, or give up (dead letter) when `retry_at` is None.
pub fn fail(
    conn: &mut Conn,
    id: i64,
    owner: &str,
    error: &str,
    retry_at: Option<NaiveDateTime>,
    now: NaiveDateTime,
) -> StoreResult<()> {
    let q = outbox::table
        .filter(outbox::id.eq(id))
        .filter(outbox::lease_owner.eq(owner));
    match retry_at {
        Some(at) => diesel::update(q)
            .set((
                outbox::next_attempt_at.eq(at),
                outbox::lease_owner.eq(None::<String>),
                outbox::lease_until.eq(None::<NaiveDateTime>),
                outbox::last_error.eq(error),
            ))
            .execute(conn)?,
        None => diesel::update(q)
            .set((
                outbox::dead_at.eq(now),
                outbox::lease_owner.eq(None::<String>),
                outbox::lease_until.eq(None::<NaiveDateTime>),
                outbox::last_error.eq(error),
            ))
            .execute(conn)?,
    };
    Ok(())
}

/// Items of a tenant, newest first (admin view and tests).
pub fn recent(conn: &mut Conn, t: TenantId, limit: i64) -> StoreResult<Vec<Item>> {
    Ok(outbox::table
        .filter(outbox::tenant_id.eq(t.get()))
        .order(outbox::id.desc())
        .limit(limit)
        .select(Item::as_select())
        .load(conn)?)
}

/// Items of a tenant that were given up (dead letters), newest first, with their ticket number.
pub fn dead(conn: &mut Conn, t: TenantId, limit: i64) -> StoreResult<Vec<(Item, Option<String>)>> {
    use super::schema::tickets;
    let rows: Vec<(Item, Option<String>)> = outbox::table
        .left_join(tickets::table.on(tickets::id.nullable().eq(outbox::ticket_id)))
        .filter(outbox::tenant_id.eq(t.get()))
        .filter(outbox::dead_at.is_not_null())
        .order(outbox::dead_at.desc())
        .limit(limit)
        .select((Item::as_select(), tickets::number.nullable()))
        .load(conn)?;
    Ok(rows)
}

/// Give a dead letter of the tenant a new round of attempts, starting now. Returns the item when
/// it was dead (so the caller can note it on the ticket).
pub fn revive(
    conn: &mut Conn,
    t: TenantId,
    id: i64,
    now: NaiveDateTime,
) -> StoreResult<Option<Item>> {
    let n = diesel::update(
        outbox::table
            .filter(outbox::tenant_id.eq(t.get()))
            .filter(outbox::id.eq(id))
            .filter(outbox::dead_at.is_not_null()),
    )
    .set((
        outbox::dead_at.eq(None::<NaiveDateTime>),
        outbox::attempts.eq(0),
        outbox::next_attempt_at.eq(now),
        outbox::lease_owner.eq(None::<String>),
        outbox::lease_until.eq(None::<NaiveDateTime>),
    ))
    .execute(conn)?;
    if n == 0 {
        return Ok(None);
    }
    Ok(outbox::table
        .filter(outbox::tenant_id.eq(t.get()))
        .filter(outbox::id.eq(id))
        .select(Item::as_select())
        .first(conn)
        .optional()?)
}
