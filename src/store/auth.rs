//! Sessions, API tokens and the login throttle.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{api_tokens, login_throttle, sessions};
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

// ---- login throttle ----
// Keys are built by the auth module ("acct:<tenant>:<email>", "ip:<address>"); they are not tenant
// data, so this table is global.

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = login_throttle)]
pub struct Throttle {
    pub key: String,
    pub failures: i32,
    pub window_start: NaiveDateTime,
    pub locked_until: Option<NaiveDateTime>,
}

pub fn throttle(conn: &mut Conn, key: &str) -> StoreResult<Option<Throttle>> {
    Ok(login_throttle::table
        .find(key)
        .select(Throttle::as_select())
        .first(conn)
        .optional()?)
}

pub fn put_throttle(conn: &mut Conn, t: &Throttle) -> StoreResult<()> {
    let n = diesel::update(login_throttle::table.find(&t.key))
        .set((
            login_throttle::failures.eq(t.failures),
            login_throttle::window_start.eq(t.window_start),
            login_throttle::locked_until.eq(t.locked_until),
        ))
        .execute(conn)?;
    if n == 0 {
        diesel::insert_into(login_throttle::table)
            .values((
                login_throttle::key.eq(&t.key),
                login_throttle::failures.eq(t.failures),
                login_throttle::window_start.eq(t.window_start),
                login_throttle::locked_until.eq(t.locked_until),
            ))
            .execute(conn)?;
    }
    Ok(())
}

pub fn clear_throttle(conn: &mut Conn, key: &str) -> StoreResult<()> {
    diesel::delete(login_throttle::table.find(key)).execute(conn)?;
    Ok(())
}
