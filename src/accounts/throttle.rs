//! Login throttling, per account and per IP address, kept in the database so that it holds across
//! restarts and across several nodes. After `max_failures_*` failures within `window_minutes` the
//! key is locked for `lockout_minutes`; a successful login clears the account key.

use chrono::{Duration, NaiveDateTime};

use crate::config;
use crate::error::Result;
use crate::store::{self, Conn, auth::Throttle};

pub fn account_key(tenant_slug: &str, email_lower: &str) -> String {
    format!("acct:{}:{}", tenant_slug.trim().to_lowercase(), email_lower)
}

pub fn ip_key(ip: &str) -> String {
    format!("ip:{ip}")
}

/// Seconds until the first locked key opens again, if any is locked.
pub fn locked_for(conn: &mut Conn, keys: &[String], now: NaiveDateTime) -> Result<Option<i64>> {
    let mut worst: Option<i64> = None;
    for k in keys {
        if let Some(until) = store::auth::throttle(conn, k)?
            .and_then(|t| t.locked_until)
            .filter(|u| *u > now)
        {
            let secs = (until - now).num_seconds().max(1);
            worst = Some(worst.map_or(secs, |w| w.max(secs)));
        }
    }
    Ok(worst)
}

/// Count a failure against every key; returns the lock time if this failure locked one.
pub fn record_failure(
    conn: &mut Conn,
    keys: &[String; 2],
    cfg: &config::Auth,
    now: NaiveDateTime,
) -> Result<Option<i64>> {
    let window = Duration::minutes(i64::from(cfg.window_minutes));
    let lockout = Duration::minutes(i64::from(cfg.lockout_minutes));
    let limits = [cfg.max_failures_per_account, cfg.max_failures_per_ip];
    let mut locked = None;
    for (key, limit) in keys.iter().zip(limits) {
        locked = count(conn, key, limit, window, lockout, now)?.or(locked);
    }
    Ok(locked)
}

/// Count one event against `key`: the `limit`-th within `window` locks the key for `lockout`
/// (returned in seconds). Used for failed logins and for the citizens' link requests.
pub fn count(
    conn: &mut Conn,
    key: &str,
    limit: u32,
    window: Duration,
    lockout: Duration,
    now: NaiveDateTime,
) -> Result<Option<i64>> {
    let mut t = store::auth::throttle(conn, key)?.unwrap_or(Throttle {
        key: key.to_string(),
        failures: 0,
        window_start: now,
        locked_until: None,
    });
    if now - t.window_start > window {
        t.failures = 0;
        t.window_start = now;
    }
    t.failures += 1;
    let mut locked = None;
    if t.failures >= limit as i32 {
        t.locked_until = Some(now + lockout);
        t.failures = 0;
        t.window_start = now;
        locked = Some(lockout.num_seconds());
    }
    store::auth::put_throttle(conn, &t)?;
    Ok(locked)
}

pub fn clear(conn: &mut Conn, key: &str) -> Result<()> {
    store::auth::clear_throttle(conn, key)?;
    Ok(())
}
