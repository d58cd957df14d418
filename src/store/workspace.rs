//! What the agent workspace keeps besides tickets themselves: tags, presence ("NN is writing a
//! reply"), canned responses, and the change feed that live updates and the search index follow.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{
    canned_responses, presence, ticket_events, ticket_links, ticket_tags, tickets, users,
};
use super::{Conn, StoreError, StoreResult};
use crate::domain::{QueueId, TenantId, TicketId, UserId};

// ---- tags ----

pub fn tags(conn: &mut Conn, t: TenantId, ticket: TicketId) -> StoreResult<Vec<String>> {
    Ok(ticket_tags::table
        .filter(ticket_tags::tenant_id.eq(t.get()))
        .filter(ticket_tags::ticket_id.eq(ticket.get()))
        .order(ticket_tags::tag)
        .select(ticket_tags::tag)
        .load(conn)?)
}

/// Tags of several tickets at once (for list pages): (ticket id, tag).
pub fn tags_of(conn: &mut Conn, t: TenantId, ids: &[i64]) -> StoreResult<Vec<(i64, String)>> {
    Ok(ticket_tags::table
        .filter(ticket_tags::tenant_id.eq(t.get()))
        .filter(ticket_tags::ticket_id.eq_any(ids.to_vec()))
        .order((ticket_tags::ticket_id, ticket_tags::tag))
        .select((ticket_tags::ticket_id, ticket_tags::tag))
        .load(conn)?)
}

/// Add a tag; false when the ticket already had it.
pub fn add_tag(
    conn: &mut Conn,
    t: TenantId,
    ticket: TicketId,
    tag: &str,
    now: NaiveDateTime,
) -> StoreResult<bool> {
    let values = (
        ticket_tags::tenant_id.eq(t.get()),
        ticket_tags::ticket_id.eq(ticket.get()),
        ticket_tags::tag.eq(tag),
        ticket_tags::created_at.eq(now),
    );
    let n = match conn {
        Conn::Pg(c) => diesel::insert_into(ticket_tags::table)
            .values(values)
            .on_conflict_do_nothing()
            .execute(c)?,
        Conn::Sqlite(c) => diesel::insert_or_ignore_into(ticket_tags::table)
            .values(values)
            .execute(c)?,
    };
    Ok(n > 0)
}

/// Remove a tag; false when the ticket did not have it.
pub fn remove_tag(conn: &mut Conn, t: TenantId, ticket: TicketId, tag: &str) -> StoreResult<bool> {
    let n = diesel::delete(
        ticket_tags::table
            .filter(ticket_tags::tenant_id.eq(t.get()))
            .filter(ticket_tags::ticket_id.eq(ticket.get()))
            .filter(ticket_tags::tag.eq(tag)),
    )
    .execute(conn)?;
    Ok(n > 0)
}

/// Every tag in use in the tenant, for filter choices.
pub fn all_tags(conn: &mut Conn, t: TenantId) -> StoreResult<Vec<String>> {
    Ok(ticket_tags::table
        .filter(ticket_tags::tenant_id.eq(t.get()))
        .select(ticket_tags::tag)
        .distinct()
        .order(ticket_tags::tag)
        .limit(500)
        .load(conn)?)
}

/// Move every tag of `from` to `to` (merging tickets).
pub fn copy_tags(
    conn: &mut Conn,
    t: TenantId,
    from: TicketId,
    to: TicketId,
    now: NaiveDateTime,
) -> StoreResult<()> {
    for tag in tags(conn, t, from)? {
        add_tag(conn, t, to, &tag, now)?;
    }
    Ok(())
}

/// Tickets linking to `ticket` (the other direction of `mail::links`).
pub fn linked_from(
    conn: &mut Conn,
    t: TenantId,
    ticket: TicketId,
) -> StoreResult<Vec<(TicketId, String)>> {
    Ok(ticket_links::table
        .filter(ticket_links::tenant_id.eq(t.get()))
        .filter(ticket_links::other_id.eq(ticket.get()))
        .order(ticket_links::id)
        .select((ticket_links::ticket_id, ticket_links::kind))
        .load::<(i64, String)>(conn)?
        .into_iter()
        .map(|(o, k)| (TicketId::from_db(o), k))
        .collect())
}

// ---- presence ----

/// Mark `user` as writing on `ticket` until `until`.
pub fn touch_presence(
    conn: &mut Conn,
    t: TenantId,
    ticket: TicketId,
    user: UserId,
    until: NaiveDateTime,
    now: NaiveDateTime,
) -> StoreResult<()> {
    let values = (
        presence::tenant_id.eq(t.get()),
        presence::ticket_id.eq(ticket.get()),
        presence::user_id.eq(user.get()),
        presence::expires_at.eq(until),
        presence::updated_at.eq(now),
    );
    let set = (presence::expires_at.eq(until), presence::updated_at.eq(now));
    match conn {
        Conn::Pg(c) => diesel::insert_into(presence::table)
            .values(values)
            .on_conflict((presence::ticket_id, presence::user_id))
            .do_update()
            .set(set)
            .execute(c)?,
        Conn::Sqlite(c) => diesel::insert_into(presence::table)
            .values(values)
            .on_conflict((presence::ticket_id, presence::user_id))
            .do_update()
            .set(set)
            .execute(c)?,
    };
    Ok(())
}

/// Who is writing on a ticket now: (user id, display name), without `except`.
pub fn writers(
    conn: &mut Conn,
    t: TenantId,
    ticket: TicketId,
    now: NaiveDateTime,
) -> StoreResult<Vec<(UserId, String)>> {
    Ok(presence::table
        .inner_join(users::table.on(users::id.eq(presence::user_id)))
        .filter(presence::tenant_id.eq(t.get()))
        .filter(users::tenant_id.eq(t.get()))
        .filter(presence::ticket_id.eq(ticket.get()))
        .filter(presence::expires_at.gt(now))
        .order(users::display_name)
        .select((presence::user_id, users::display_name))
        .load::<(i64, String)>(conn)?
        .into_iter()
        .map(|(u, n)| (UserId::from_db(u), n))
        .collect())
}

/// Presence rows changed after `since` in `t`: (ticket id, user id, name, writing now?).
pub fn presence_changes(
    conn: &mut Conn,
    t: TenantId,
    since: NaiveDateTime,
    now: NaiveDateTime,
) -> StoreResult<Vec<(TicketId, UserId, String, bool)>> {
    Ok(presence::table
        .inner_join(users::table.on(users::id.eq(presence::user_id)))
        .filter(presence::tenant_id.eq(t.get()))
        .filter(users::tenant_id.eq(t.get()))
        .filter(presence::updated_at.gt(since))
        .select((
            presence::ticket_id,
            presence::user_id,
            users::display_name,
            presence::expires_at,
        ))
        .load::<(i64, i64, String, NaiveDateTime)>(conn)?
        .into_iter()
        .map(|(tk, u, n, exp)| (TicketId::from_db(tk), UserId::from_db(u), n, exp > now))
        .collect())
}

/// Forget presence that ended long ago (housekeeping).
pub fn prune_presence(conn: &mut Conn, t: TenantId, before: NaiveDateTime) -> StoreResult<usize> {
    Ok(diesel::delete(
        presence::table
            .filter(presence::tenant_id.eq(t.get()))
            .filter(presence::expires_at.lt(before)),
    )
    .execute(conn)?)
}

// ---- canned responses ----

#[derive(Debug, Clone, Queryable, Selectable, serde::Serialize)]
#[diesel(table_name = canned_responses)]
pub struct Canned {
    pub id: i64,
    #[serde(skip)]
    queue_id: Option<i64>,
    pub title: String,
    pub body: String,
    pub updated_at: NaiveDateTime,
}

impl Canned {
    pub fn queue(&self) -> Option<QueueId> {
        self.queue_id.map(QueueId::from_db)
    }
}

/// Canned responses of the tenant; with `queue`, those for that queue plus the tenant-wide ones.
pub fn canned(conn: &mut Conn, t: TenantId, queue: Option<QueueId>) -> StoreResult<Vec<Canned>> {
    let mut q = canned_responses::table
        .filter(canned_responses::tenant_id.eq(t.get()))
        .select(Canned::as_select())
        .order((canned_responses::title, canned_responses::id))
        .into_boxed();
    if let Some(queue) = queue {
        q = q.filter(
            canned_responses::queue_id
                .is_null()
                .or(canned_responses::queue_id.eq(queue.get())),
        );
    }
    Ok(q.load(conn)?)
}

pub fn canned_by_id(conn: &mut Conn, t: TenantId, id: i64) -> StoreResult<Option<Canned>> {
    Ok(canned_responses::table
        .filter(canned_responses::tenant_id.eq(t.get()))
        .filter(canned_responses::id.eq(id))
        .select(Canned::as_select())
        .first(conn)
        .optional()?)
}

pub fn insert_canned(
    conn: &mut Conn,
    t: TenantId,
    queue: Option<QueueId>,
    title: &str,
    body: &str,
    now: NaiveDateTime,
) -> StoreResult<i64> {
    Ok(diesel::insert_into(canned_responses::table)
        .values((
            canned_responses::tenant_id.eq(t.get()),
            canned_responses::queue_id.eq(queue.map(|q| q.get())),
            canned_responses::title.eq(title),
            canned_responses::body.eq(body),
            canned_responses::created_at.eq(now),
            canned_responses::updated_at.eq(now),
        ))
        .returning(canned_responses::id)
        .get_result(conn)?)
}

pub fn update_canned(
    conn: &mut Conn,
    t: TenantId,
    id: i64,
    queue: Option<QueueId>,
    title: &str,
    body: &str,
    now: NaiveDateTime,
) -> StoreResult<()> {
    let n = diesel::update(
        canned_responses::table
            .filter(canned_responses::tenant_id.eq(t.get()))
            .filter(canned_responses::id.eq(id)),
    )
    .set((
        canned_responses::queue_id.eq(queue.map(|q| q.get())),
        canned_responses::title.eq(title),
        canned_responses::body.eq(body),
        canned_responses::updated_at.eq(now),
    ))
    .execute(conn)?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

pub fn delete_canned(conn: &mut Conn, t: TenantId, id: i64) -> StoreResult<()> {
    let n = diesel::delete(
        canned_responses::table
            .filter(canned_responses::tenant_id.eq(t.get()))
            .filter(canned_responses::id.eq(id)),
    )
    .execute(conn)?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

// ---- change feed ----

/// One entry of a tenant's change feed: a ticket event, in commit-id order, with where the ticket
/// is now.
#[derive(Debug, Clone, Queryable)]
pub struct Change {
    pub id: i64,
    pub ticket_id: i64,
    pub actor_id: Option<i64>,
    pub kind: String,
    pub created_at: NaiveDateTime,
    pub number: String,
    pub queue_id: i64,
    /// The event's details (JSON), e.g. `{"from", "to"}` of a `queue_changed`.
    pub details: String,
}

const CHANGE_COLUMNS: (
    ticket_events::id,
    ticket_events::ticket_id,
    ticket_events::actor_id,
    ticket_events::kind,
    ticket_events::created_at,
    tickets::number,
    tickets::queue_id,
    ticket_events::details,
) = (
    ticket_events::id,
    ticket_events::ticket_id,
    ticket_events::actor_id,
    ticket_events::kind,
    ticket_events::created_at,
    tickets::number,
    tickets::queue_id,
    ticket_events::details,
);

/// Ticket events of `t` with an id above `after`, oldest first.
pub fn changes_after(
    conn: &mut Conn,
    t: TenantId,
    after: i64,
    limit: i64,
) -> StoreResult<Vec<Change>> {
    Ok(ticket_events::table
        .inner_join(tickets::table)
        .filter(ticket_events::tenant_id.eq(t.get()))
        .filter(tickets::tenant_id.eq(t.get()))
        .filter(ticket_events::id.gt(after))
        .order(ticket_events::id)
        .limit(limit)
        .select(CHANGE_COLUMNS)
        .load(conn)?)
}

/// Specific events of `t` by id (to pick up ids that committed late on PostgreSQL).
pub fn changes_by_ids(conn: &mut Conn, t: TenantId, ids: &[i64]) -> StoreResult<Vec<Change>> {
    Ok(ticket_events::table
        .inner_join(tickets::table)
        .filter(ticket_events::tenant_id.eq(t.get()))
        .filter(tickets::tenant_id.eq(t.get()))
        .filter(ticket_events::id.eq_any(ids.to_vec()))
        .order(ticket_events::id)
        .select(CHANGE_COLUMNS)
        .load(conn)?)
}

/// The newest event id of `t` (where a fresh follower starts).
pub fn last_change_id(conn: &mut Conn, t: TenantId) -> StoreResult<i64> {
    Ok(ticket_events::table
        .filter(ticket_events::tenant_id.eq(t.get()))
        .select(diesel::dsl::max(ticket_events::id))
        .first::<Option<i64>>(conn)?
        .unwrap_or(0))
}

// ---- list rows: what a ticket row shows besides the ticket itself ----

/// Each ticket's referral state among `ids`: (ticket id, "sent" | "answered"), from its latest
/// referral (escalation to a target of kind `referral`) that went out. Tickets never referred are
/// absent.
pub fn referral_states(
    conn: &mut Conn,
    t: TenantId,
    ids: &[i64],
) -> StoreResult<Vec<(i64, String)>> {
    use super::schema::{escalation_targets, escalations};
    let rows: Vec<(i64, i64, String)> = escalations::table
        .inner_join(
            escalation_targets::table.on(escalation_targets::id
                .eq(escalations::target_id)
                .and(escalation_targets::tenant_id.eq(escalations::tenant_id))),
        )
        .filter(escalations::tenant_id.eq(t.get()))
        .filter(escalations::ticket_id.eq_any(ids.to_vec()))
        .filter(escalation_targets::kind.eq("referral"))
        .filter(escalations::state.eq_any(["sent", "answered"]))
        .order((escalations::ticket_id, escalations::id))
        .select((escalations::ticket_id, escalations::id, escalations::state))
        .load(conn)?;
    // The latest per ticket wins (ordered by id within a ticket).
    let mut out: Vec<(i64, String)> = vec![];
    for (ticket, _, state) in rows {
        match out.last_mut() {
            Some((last, s)) if *last == ticket => *s = state,
            _ => out.push((ticket, state)),
        }
    }
    Ok(out)
}

/// The contacts' names (else e-mail, else phone) among `ids`: (contact id, label).
pub fn contact_labels(
    conn: &mut Conn,
    t: TenantId,
    ids: &[i64],
) -> StoreResult<Vec<(i64, String)>> {
    use super::schema::contacts;
    type Row = (i64, Option<String>, Option<String>, Option<String>);
    let rows: Vec<Row> = contacts::table
        .filter(contacts::tenant_id.eq(t.get()))
        .filter(contacts::id.eq_any(ids.to_vec()))
        .select((
            contacts::id,
            contacts::name,
            contacts::email,
            contacts::phone,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, name, email, phone)| {
            [name, email, phone]
                .into_iter()
                .flatten()
                .map(|s| s.trim().to_string())
                .find(|s| !s.is_empty())
                .map(|l| (id, l))
        })
        .collect())
}

/// When each ticket among `ids` last had a message (any direction): (ticket id, time).
pub fn last_messages(
    conn: &mut Conn,
    t: TenantId,
    ids: &[i64],
) -> StoreResult<Vec<(i64, NaiveDateTime)>> {
    use super::schema::messages;
    let rows: Vec<(i64, Option<NaiveDateTime>)> = messages::table
        .filter(messages::tenant_id.eq(t.get()))
        .filter(messages::ticket_id.eq_any(ids.to_vec()))
        .group_by(messages::ticket_id)
        .select((messages::ticket_id, diesel::dsl::max(messages::created_at)))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, at)| at.map(|a| (id, a)))
        .collect())
}
