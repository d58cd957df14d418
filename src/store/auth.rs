//! Sessions, API tokens and the login throttle.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{api_tokens, login_throttle, periodic_jobs, sessions};
use super::{Conn, StoreResult};
use crate::domain::{TenantId, UserId};

// ---- sessions ----

pub fn create_session(
    conn: &mut Conn,
    t: TenantId,
    user: UserId,
    id: &str,
    now: NaiveDateTime,
    expires_at: NaiveDateTime,
) -> StoreResult<()> {
    diesel::insert_into(sessions::table)
        .values((
            sessions::id.eq(id),
            sessions::tenant_id.eq(t.get()),
            sessions::user_id.eq(user.get()),
            sessions::created_at.eq(now),
            sessions::expires_at.eq(expires_at),
        ))
        .execute(conn)?;
    Ok(())
}

/// True if the session exists for this tenant and user, is not revoked and not expired.
pub fn session_is_live(
    conn: &mut Conn,
    t: TenantId,
    user: UserId,
    id: &str,
    now: NaiveDateTime,
) -> StoreResult<bool> {
    let n: i64 = sessions::table
        .filter(sessions::id.eq(id))
        .filter(sessions::tenant_id.eq(t.get()))
        .filter(sessions::user_id.eq(user.get()))
        .filter(sessions::revoked_at.is_null())
        .filter(sessions::expires_at.gt(now))
        .count()
        .get_result(conn)?;
    Ok(n == 1)
}

pub fn revoke_session(
    conn: &mut Conn,
    t: TenantId,
    id: &str,
    now: NaiveDateTime,
) -> StoreResult<()> {
    diesel::update(
        sessions::table
            .filter(sessions::tenant_id.eq(t.get()))
            .filter(sessions::id.eq(id))
            .filter(sessions::revoked_at.is_null()),
    )
    .set(sessions::revoked_at.eq(now))
    .execute(conn)?;
    Ok(())
}

/// End every session of a user (password change, deactivation), optionally keeping one.
pub fn revoke_user_sessions(
    conn: &mut Conn,
    t: TenantId,
    user: UserId,
    keep: Option<&str>,
    now: NaiveDateTime,
) -> StoreResult<usize> {
    let q = sessions::table
        .filter(sessions::tenant_id.eq(t.get()))
        .filter(sessions::user_id.eq(user.get()))
        .filter(sessions::revoked_at.is_null());
    Ok(match keep {
        Some(k) => diesel::update(q.filter(sessions::id.ne(k)))
            .set(sessions::revoked_at.eq(now))
            .execute(conn)?,
        None => diesel::update(q)
            .set(sessions::revoked_at.eq(now))
            .execute(conn)?,
    })
}

// ---- API tokens ----

#[derive(Debug, Clone, Queryable, Selectable, serde::Serialize)]
#[diesel(table_name = api_tokens)]
pub struct ApiToken {
    pub id: String,
    pub user_id: i64,
    pub name: String,
    pub scopes: String,
    pub created_at: NaiveDateTime,
    pub expires_at: Option<NaiveDateTime>,
    pub revoked_at: Option<NaiveDateTime>,
}

pub struct NewApiToken<'a> {
    pub id: &'a str,
    pub user: UserId,
    pub name: &'a str,
    pub scopes: &'a str,
    pub now: NaiveDateTime,
    pub expires_at: Option<NaiveDateTime>,
}

pub fn create_token(conn: &mut Conn, t: TenantId, n: NewApiToken<'_>) -> StoreResult<()> {
    diesel::insert_into(api_tokens::table)
        .values((
            api_tokens::id.eq(n.id),
            api_tokens::tenant_id.eq(t.get()),
            api_tokens::user_id.eq(n.user.get()),
            api_tokens::name.eq(n.name),
            api_tokens::scopes.eq(n.scopes),
            api_tokens::created_at.eq(n.now),
            api_tokens::expires_at.eq(n.expires_at),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn token(conn: &mut Conn, t: TenantId, id: &str) -> StoreResult<Option<ApiToken>> {
    Ok(api_tokens::table
        .filter(api_tokens::tenant_id.eq(t.get()))
        .filter(api_tokens::id.eq(id))
        .select(ApiToken::as_select())
        .first(conn)
        .optional()?)
}

pub fn tokens(conn: &mut Conn, t: TenantId) -> StoreResult<Vec<ApiToken>> {
    Ok(api_tokens::table
        .filter(api_tokens::tenant_id.eq(t.get()))
        .order(api_tokens::created_at.desc())
        .select(ApiToken::as_select())
        .load(conn)?)
}

pub fn revoke_token(
    conn: &mut Conn,
    t: TenantId,
    id: &str,
    now: NaiveDateTime,
) -> StoreResult<bool> {
    let n = diesel::update(
        api_tokens::table
            .filter(api_tokens::tenant_id.eq(t.get()))
            .filter(api_tokens::id.eq(id))
            .filter(api_tokens::revoked_at.is_null()),
    )
    .set(api_tokens::revoked_at.eq(now))
    .execute(conn)?;
    Ok(n == 1)
}

/// Revoke every live API token of a user (deactivation): for good, reactivation does not bring
/// them back. Returns how many were revoked.
pub fn revoke_user_tokens(
    conn: &mut Conn,
    t: TenantId,
    user: UserId,
    now: NaiveDateTime,
) -> StoreResult<usize> {
    Ok(diesel::update(
        api_tokens::table
            .filter(api_tokens::tenant_id.eq(t.get()))
            .filter(api_tokens::user_id.eq(user.get()))
            .filter(api_tokens::revoked_at.is_null()),
    )
    .set(api_tokens::revoked_at.eq(now))
    .execute(conn)?)
}

/// Delete sessions that expired before `before` (housekeeping). Returns how many.
pub fn prune_sessions(conn: &mut Conn, before: NaiveDateTime) -> StoreResult<usize> {
    Ok(diesel::delete(sessions::table.filter(sessions::expires_at.lt(before))).execute(conn)?)
}

// ---- login throttle ----
// Keys are normalised and hashed by `accounts::throttle` ("<kind>:<sha-256 hex>"); they are not
// tenant data, so this table is global. Every row carries `expires_at`, after which it says
// nothing any more and housekeeping deletes it.

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = login_throttle)]
pub struct Throttle {
    pub key: String,
    pub failures: i32,
    pub window_start: NaiveDateTime,
    pub locked_until: Option<NaiveDateTime>,
    pub expires_at: Option<NaiveDateTime>,
}

pub fn throttle(conn: &mut Conn, key: &str) -> StoreResult<Option<Throttle>> {
    Ok(login_throttle::table
        .find(key)
        .select(Throttle::as_select())
        .first(conn)
        .optional()?)
}

/// The row for `key`, made if missing, and locked for the rest of the transaction (PostgreSQL
/// `FOR UPDATE`; SQLite has the one writer), so concurrent attempts count one after another.
pub fn throttle_for_update(
    conn: &mut Conn,
    key: &str,
    now: NaiveDateTime,
) -> StoreResult<Throttle> {
    let values = (
        login_throttle::key.eq(key),
        login_throttle::failures.eq(0),
        login_throttle::window_start.eq(now),
        login_throttle::expires_at.eq(Some(now)),
    );
    Ok(match conn {
        Conn::Pg(c) => {
            diesel::insert_into(login_throttle::table)
                .values(values)
                .on_conflict_do_nothing()
                .execute(c)?;
            login_throttle::table
                .find(key)
                .select(Throttle::as_select())
                .for_update()
                .first(c)?
        }
        Conn::Sqlite(c) => {
            diesel::insert_or_ignore_into(login_throttle::table)
                .values(values)
                .execute(c)?;
            login_throttle::table
                .find(key)
                .select(Throttle::as_select())
                .first(c)?
        }
    })
}

pub fn put_throttle(conn: &mut Conn, t: &Throttle) -> StoreResult<()> {
    let n = diesel::update(login_throttle::table.find(&t.key))
        .set((
            login_throttle::failures.eq(t.failures),
            login_throttle::window_start.eq(t.window_start),
            login_throttle::locked_until.eq(t.locked_until),
            login_throttle::expires_at.eq(t.expires_at),
        ))
        .execute(conn)?;
    if n == 0 {
        diesel::insert_into(login_throttle::table)
            .values((
                login_throttle::key.eq(&t.key),
                login_throttle::failures.eq(t.failures),
                login_throttle::window_start.eq(t.window_start),
                login_throttle::locked_until.eq(t.locked_until),
                login_throttle::expires_at.eq(t.expires_at),
            ))
            .execute(conn)?;
    }
    Ok(())
}

pub fn clear_throttle(conn: &mut Conn, key: &str) -> StoreResult<()> {
    diesel::delete(login_throttle::table.find(key)).execute(conn)?;
    Ok(())
}

/// Delete throttle rows that expired before `now` (housekeeping). Returns how many.
pub fn prune_throttle(conn: &mut Conn, now: NaiveDateTime) -> StoreResult<usize> {
    Ok(diesel::delete(
        login_throttle::table.filter(
            login_throttle::expires_at
                .lt(now)
                .or(login_throttle::expires_at.is_null()),
        ),
    )
    .execute(conn)?)
}

// ---- periodic jobs ----

/// Claim this period's run of the job `name` for `owner`: true for exactly one caller per
/// `every`, however many nodes ask (one conditional UPDATE; PostgreSQL re-checks the condition
/// after a concurrent update, SQLite has one writer).
pub fn claim_periodic(
    conn: &mut Conn,
    name: &str,
    owner: &str,
    every: chrono::Duration,
    now: NaiveDateTime,
) -> StoreResult<bool> {
    let n = diesel::update(
        periodic_jobs::table
            .filter(periodic_jobs::name.eq(name))
            .filter(periodic_jobs::last_run_at.le(now - every)),
    )
    .set((
        periodic_jobs::last_run_at.eq(now),
        periodic_jobs::run_by.eq(owner),
    ))
    .execute(conn)?;
    Ok(n == 1)
}
