//! Department queues.

use chrono::NaiveDateTime;
use diesel::dsl;
use diesel::prelude::*;

use super::schema::{queue_members, queues, tickets};
use super::{Conn, StoreResult};
use crate::domain::{QueueId, TenantId};

type Scoped = dsl::Filter<queues::table, dsl::Eq<queues::tenant_id, i64>>;

/// Every query on this table starts here.
fn scoped(t: TenantId) -> Scoped {
    queues::table.filter(queues::tenant_id.eq(t.get()))
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = queues)]
struct Row {
    id: i64,
    slug: String,
    name: String,
    created_at: NaiveDateTime,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Queue {
    pub id: QueueId,
    pub slug: String,
    pub name: String,
    pub created_at: NaiveDateTime,
}

impl From<Row> for Queue {
    fn from(r: Row) -> Self {
        Queue {
            id: QueueId::from_db(r.id),
            slug: r.slug,
            name: r.name,
            created_at: r.created_at,
        }
    }
}

pub fn create(conn: &mut Conn, t: TenantId, slug: &str, name: &str) -> StoreResult<Queue> {
    let row: Row = diesel::insert_into(queues::table)
        .values((
            queues::tenant_id.eq(t.get()),
            queues::slug.eq(slug),
            queues::name.eq(name),
            queues::created_at.eq(super::now()),
        ))
        .returning(<Row as Selectable<diesel::pg::Pg>>::construct_selection())
        .get_result(conn)?;
    Ok(row.into())
}

pub fn list(conn: &mut Conn, t: TenantId) -> StoreResult<Vec<Queue>> {
    Ok(scoped(t)
        .order(queues::name)
        .select(Row::as_select())
        .load(conn)?
        .into_iter()
        .map(Queue::from)
        .collect())
}

pub fn by_slug(conn: &mut Conn, t: TenantId, slug: &str) -> StoreResult<Option<Queue>> {
    Ok(scoped(t)
        .filter(queues::slug.eq(slug))
        .select(Row::as_select())
        .first::<Row>(conn)
        .optional()?
        .map(Queue::from))
}

/// A queue id taken from outside (API input) becomes a `QueueId` only if the queue exists in `t`.
pub fn lookup(conn: &mut Conn, t: TenantId, raw_id: i64) -> StoreResult<Option<Queue>> {
    Ok(scoped(t)
        .filter(queues::id.eq(raw_id))
        .select(Row::as_select())
        .first::<Row>(conn)
        .optional()?
        .map(Queue::from))
}

pub fn add_member(
    conn: &mut Conn,
    t: TenantId,
    queue: QueueId,
    user: crate::domain::UserId,
    role: crate::domain::MembershipRole,
) -> StoreResult<()> {
    diesel::delete(
        queue_members::table
            .filter(queue_members::tenant_id.eq(t.get()))
            .filter(queue_members::queue_id.eq(queue.get()))
            .filter(queue_members::user_id.eq(user.get())),
    )
    .execute(conn)?;
    diesel::insert_into(queue_members::table)
        .values((
            queue_members::tenant_id.eq(t.get()),
            queue_members::queue_id.eq(queue.get()),
            queue_members::user_id.eq(user.get()),
            queue_members::role.eq(role.as_str()),
            queue_members::created_at.eq(super::now()),
        ))
        .execute(conn)?;
    Ok(())
}

/// Per queue: number of tickets in each open status.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct QueueCounts {
    pub new: i64,
    pub open: i64,
    pub waiting: i64,
}

pub fn open_counts(
    conn: &mut Conn,
    t: TenantId,
    queue_ids: &[QueueId],
) -> StoreResult<Vec<(QueueId, QueueCounts)>> {
    let ids: Vec<i64> = queue_ids.iter().map(|q| q.get()).collect();
    let rows: Vec<(i64, String, i64)> = tickets::table
        .filter(tickets::tenant_id.eq(t.get()))
        .filter(tickets::queue_id.eq_any(&ids))
        .filter(tickets::status.eq_any(["new", "open", "waiting"]))
        .group_by((tickets::queue_id, tickets::status))
        .select((tickets::queue_id, tickets::status, dsl::count_star()))
        .load(conn)?;
    let mut out: Vec<(QueueId, QueueCounts)> = queue_ids
        .iter()
        .map(|q| (*q, QueueCounts::default()))
        .collect();
    for (qid, status, n) in rows {
        if let Some((_, c)) = out.iter_mut().find(|(q, _)| q.get() == qid) {
            match status.as_str() {
                "new" => c.new = n,
                "open" => c.open = n,
                _ => c.waiting = n,
            }
        }
    }
    Ok(out)
}

/// The queue's own acknowledgement template, if it has one.
pub fn ack_template(conn: &mut Conn, t: TenantId, q: QueueId) -> StoreResult<Option<String>> {
    Ok(scoped(t)
        .filter(queues::id.eq(q.get()))
        .select(queues::ack_template)
        .first::<Option<String>>(conn)?)
}

pub fn set_ack_template(
    conn: &mut Conn,
    t: TenantId,
    q: QueueId,
    template: Option<&str>,
) -> StoreResult<()> {
    diesel::update(scoped(t).filter(queues::id.eq(q.get())))
        .set(queues::ack_template.eq(template))
        .execute(conn)?;
    Ok(())
}

pub fn rename(conn: &mut Conn, t: TenantId, q: QueueId, name: &str) -> StoreResult<()> {
    let n = diesel::update(scoped(t).filter(queues::id.eq(q.get())))
        .set(queues::name.eq(name))
        .execute(conn)?;
    if n == 0 {
        return Err(super::StoreError::NotFound);
    }
    Ok(())
}

/// A queue member as the admin pages list them.
#[derive(Debug, Clone)]
pub struct Member {
    pub user: crate::domain::UserId,
    pub display_name: String,
    pub email: String,
    pub active: bool,
    pub role: crate::domain::MembershipRole,
}

/// The members of queue `q`, by name.
pub fn members(conn: &mut Conn, t: TenantId, q: QueueId) -> StoreResult<Vec<Member>> {
    use super::schema::users;
    let rows: Vec<(i64, String, String, bool, String)> = queue_members::table
        .inner_join(users::table.on(users::id.eq(queue_members::user_id)))
        .filter(queue_members::tenant_id.eq(t.get()))
        .filter(queue_members::queue_id.eq(q.get()))
        .filter(users::tenant_id.eq(t.get()))
        .order((users::display_name, users::id))
        .select((
            users::id,
            users::display_name,
            users::email,
            users::active,
            queue_members::role,
        ))
        .load(conn)?;
    rows.into_iter()
        .map(|(id, display_name, email, active, role)| {
            Ok(Member {
                user: crate::domain::UserId::from_db(id),
                display_name,
                email,
                active,
                role: crate::domain::MembershipRole::parse(&role)
                    .map_err(|e| super::StoreError::Query(e.to_string()))?,
            })
        })
        .collect()
}

/// Number of members per queue of `t` (queues without members are left out).
pub fn member_counts(conn: &mut Conn, t: TenantId) -> StoreResult<Vec<(QueueId, i64)>> {
    let rows: Vec<(i64, i64)> = queue_members::table
        .filter(queue_members::tenant_id.eq(t.get()))
        .group_by(queue_members::queue_id)
        .select((queue_members::queue_id, dsl::count_star()))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(q, n)| (QueueId::from_db(q), n))
        .collect())
}

/// Change a member's role. `NotFound` when the user is not a member of the queue.
pub fn set_member_role(
    conn: &mut Conn,
    t: TenantId,
    q: QueueId,
    user: crate::domain::UserId,
    role: crate::domain::MembershipRole,
) -> StoreResult<()> {
    let n = diesel::update(
        queue_members::table
            .filter(queue_members::tenant_id.eq(t.get()))
            .filter(queue_members::queue_id.eq(q.get()))
            .filter(queue_members::user_id.eq(user.get())),
    )
    .set(queue_members::role.eq(role.as_str()))
    .execute(conn)?;
    if n == 0 {
        return Err(super::StoreError::NotFound);
    }
    Ok(())
}

/// Take a user out of a queue. `NotFound` when the user is not a member of it.
pub fn remove_member(
    conn: &mut Conn,
    t: TenantId,
    q: QueueId,
    user: crate::domain::UserId,
) -> StoreResult<()> {
    let n = diesel::delete(
        queue_members::table
            .filter(queue_members::tenant_id.eq(t.get()))
            .filter(queue_members::queue_id.eq(q.get()))
            .filter(queue_members::user_id.eq(user.get())),
    )
    .execute(conn)?;
    if n == 0 {
        return Err(super::StoreError::NotFound);
    }
    Ok(())
}

/// What a queue tells citizens: (events that notify, comma-separated; information class 1–4).
pub fn notify_settings(conn: &mut Conn, t: TenantId, queue: QueueId) -> StoreResult<(String, i32)> {
    Ok(scoped(t)
        .filter(queues::id.eq(queue.get()))
        .select((queues::notify_events, queues::info_class))
        .first(conn)?)
}

pub fn set_notify_settings(
    conn: &mut Conn,
    t: TenantId,
    queue: QueueId,
    events: &str,
    info_class: i32,
) -> StoreResult<()> {
    diesel::update(scoped(t).filter(queues::id.eq(queue.get())))
        .set((
            queues::notify_events.eq(events),
            queues::info_class.eq(info_class),
        ))
        .execute(conn)?;
    Ok(())
}
