//! Agent accounts and their queue memberships.

use chrono::NaiveDateTime;
use diesel::dsl;
use diesel::prelude::*;

use super::schema::{queue_members, queues, users};
use super::{Conn, StoreError, StoreResult};
use crate::domain::{EmailAddress, MembershipRole, QueueId, Role, TenantId, UserId};

type Scoped = dsl::Filter<users::table, dsl::Eq<users::tenant_id, i64>>;

/// Every query on this table starts here.
fn scoped(t: TenantId) -> Scoped {
    users::table.filter(users::tenant_id.eq(t.get()))
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
struct Row {
    id: i64,
    tenant_id: i64,
    email: String,
    display_name: String,
    role: String,
    password_hash: String,
    active: bool,
    locale: String,
    created_at: NaiveDateTime,
}

/// An agent account. `password_hash` stays inside the crate's auth code.
#[derive(Debug, Clone)]
pub struct User {
    pub id: UserId,
    pub tenant: TenantId,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub(crate) password_hash: String,
    pub active: bool,
    pub locale: String,
    pub created_at: NaiveDateTime,
}

impl TryFrom<Row> for User {
    type Error = StoreError;
    fn try_from(r: Row) -> Result<Self, StoreError> {
        Ok(User {
            id: UserId::from_db(r.id),
            tenant: TenantId::from_db(r.tenant_id),
            email: r.email,
            display_name: r.display_name,
            role: Role::parse(&r.role).map_err(|e| StoreError::Query(e.to_string()))?,
            password_hash: r.password_hash,
            active: r.active,
            locale: r.locale,
            created_at: r.created_at,
        })
    }
}

pub fn create(
    conn: &mut Conn,
    t: TenantId,
    email: &EmailAddress,
    display_name: &str,
    role: Role,
    password_hash: &str,
) -> StoreResult<User> {
    let now = super::now();
    let row: Row = diesel::insert_into(users::table)
        .values((
            users::tenant_id.eq(t.get()),
            users::email.eq(email.as_str().to_lowercase()),
            users::display_name.eq(display_name),
            users::role.eq(role.as_str()),
            users::password_hash.eq(password_hash),
            users::active.eq(true),
            users::locale.eq("sv"),
            users::created_at.eq(now),
            users::updated_at.eq(now),
        ))
        .returning(<Row as Selectable<diesel::pg::Pg>>::construct_selection())
        .get_result(conn)?;
    row.try_into()
}

pub fn list(conn: &mut Conn, t: TenantId) -> StoreResult<Vec<User>> {
    scoped(t)
        .order(users::email)
        .select(Row::as_select())
        .load(conn)?
        .into_iter()
        .map(User::try_from)
        .collect()
}

pub fn by_email(conn: &mut Conn, t: TenantId, email: &EmailAddress) -> StoreResult<Option<User>> {
    scoped(t)
        .filter(users::email.eq(email.as_str().to_lowercase()))
        .select(Row::as_select())
        .first::<Row>(conn)
        .optional()?
        .map(User::try_from)
        .transpose()
}

pub fn get(conn: &mut Conn, t: TenantId, id: UserId) -> StoreResult<User> {
    scoped(t)
        .filter(users::id.eq(id.get()))
        .select(Row::as_select())
        .first::<Row>(conn)?
        .try_into()
}

/// A user id from outside (API input) is only accepted if the user exists in `t`.
pub fn lookup(conn: &mut Conn, t: TenantId, raw_id: i64) -> StoreResult<Option<User>> {
    scoped(t)
        .filter(users::id.eq(raw_id))
        .select(Row::as_select())
        .first::<Row>(conn)
        .optional()?
        .map(User::try_from)
        .transpose()
}

pub fn set_password_hash(conn: &mut Conn, t: TenantId, id: UserId, hash: &str) -> StoreResult<()> {
    let n = diesel::update(scoped(t).filter(users::id.eq(id.get())))
        .set((
            users::password_hash.eq(hash),
            users::updated_at.eq(super::now()),
        ))
        .execute(conn)?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

pub fn set_active(conn: &mut Conn, t: TenantId, id: UserId, active: bool) -> StoreResult<()> {
    let n = diesel::update(scoped(t).filter(users::id.eq(id.get())))
        .set((users::active.eq(active), users::updated_at.eq(super::now())))
        .execute(conn)?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// The queues a user is a member of, with the role in each.
pub fn memberships(
    conn: &mut Conn,
    t: TenantId,
    id: UserId,
) -> StoreResult<Vec<(QueueId, MembershipRole)>> {
    let rows: Vec<(i64, String)> = queue_members::table
        .filter(queue_members::tenant_id.eq(t.get()))
        .filter(queue_members::user_id.eq(id.get()))
        .select((queue_members::queue_id, queue_members::role))
        .load(conn)?;
    rows.into_iter()
        .map(|(q, r)| {
            Ok((
                QueueId::from_db(q),
                MembershipRole::parse(&r).map_err(|e| StoreError::Query(e.to_string()))?,
            ))
        })
        .collect()
}

/// Membership listing for the CLI and admin pages: (user email, queue slug, role).
pub fn all_memberships(conn: &mut Conn, t: TenantId) -> StoreResult<Vec<(UserId, String, String)>> {
    let rows: Vec<(i64, String, String)> = queue_members::table
        .inner_join(queues::table)
        .filter(queue_members::tenant_id.eq(t.get()))
        .filter(queues::tenant_id.eq(t.get()))
        .order(queues::slug)
        .select((queue_members::user_id, queues::slug, queue_members::role))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(u, q, r)| (UserId::from_db(u), q, r))
        .collect())
}

/// Set the account's preferred language (`sv` or `en`; the caller checks the value).
pub fn set_locale(conn: &mut Conn, t: TenantId, id: UserId, locale: &str) -> StoreResult<()> {
    let n = diesel::update(scoped(t).filter(users::id.eq(id.get())))
        .set((users::locale.eq(locale), users::updated_at.eq(super::now())))
        .execute(conn)?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// A queue membership as listed with its user: queue id, queue name, role.
pub type QueueMembership = (QueueId, String, MembershipRole);

/// Every user of `t` (by name) with the queues each is a member of (by queue name).
pub fn list_with_memberships(
    conn: &mut Conn,
    t: TenantId,
) -> StoreResult<Vec<(User, Vec<QueueMembership>)>> {
    let users: Vec<User> = scoped(t)
        .order((users::display_name, users::id))
        .select(Row::as_select())
        .load(conn)?
        .into_iter()
        .map(User::try_from)
        .collect::<StoreResult<_>>()?;
    let rows: Vec<(i64, i64, String, String)> = queue_members::table
        .inner_join(queues::table)
        .filter(queue_members::tenant_id.eq(t.get()))
        .filter(queues::tenant_id.eq(t.get()))
        .order((queues::name, queues::id))
        .select((
            queue_members::user_id,
            queues::id,
            queues::name,
            queue_members::role,
        ))
        .load(conn)?;
    let mut out: Vec<(User, Vec<QueueMembership>)> =
        users.into_iter().map(|u| (u, vec![])).collect();
    for (u, q, name, role) in rows {
        let role = MembershipRole::parse(&role).map_err(|e| StoreError::Query(e.to_string()))?;
        if let Some((_, list)) = out.iter_mut().find(|(user, _)| user.id.get() == u) {
            list.push((QueueId::from_db(q), name, role));
        }
    }
    Ok(out)
}
