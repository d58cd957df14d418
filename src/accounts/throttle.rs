//! Throttling of password guesses (and of the citizens' link requests), kept in the database so
//! that it holds across restarts and across several nodes.
//!
//! Keys are normalised (trimmed, lower case; IPv6 clients per /64, IPv4-mapped as IPv4) and
//! stored hashed (`<kind>:<sha-256 hex>`), so a row's size does not depend on what an attacker
//! sends and the table holds no addresses in clear. Every row has an expiry; housekeeping deletes
//! expired rows.
//!
//! Two kinds of rule:
//! - [`Rule::Limit`]: `limit` attempts within `window`, then the key is locked for `lockout`
//!   (per account and client, per client, per device cookie).
//! - [`Rule::Delay`]: after `free` failures, each further failure makes the key wait a growing
//!   delay (`base`, doubling, at most `cap`) — never a lock-out (per account).
//!
//! Attempts are **counted before** the password is checked ([`admit`]), so parallel requests
//! cannot all get through before the first failure is written; a successful sign-in takes its
//! attempt back ([`forgive`]) or clears the key.

use std::net::IpAddr;

use chrono::{Duration, NaiveDateTime};
use sha2::{Digest, Sha256};

use crate::config;
use crate::error::Result;
use crate::store::{self, Conn, auth::Throttle};

/// `ip` as the client it counts as: IPv6 per /64, IPv4-mapped IPv6 as IPv4; anything that is not
/// an address stays as it is.
pub fn client_part(ip: &str) -> String {
    match ip.trim().parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        Ok(IpAddr::V4(v4)) => v4.to_string(),
        Err(_) => ip.trim().to_lowercase(),
    }
}

fn account_part(tenant_slug: &str, email: &str) -> String {
    format!(
        "{}\u{0}{}",
        tenant_slug.trim().to_lowercase(),
        email.trim().to_lowercase()
    )
}

pub fn account_key(tenant_slug: &str, email: &str) -> String {
    format!("acct:{}", account_part(tenant_slug, email))
}

pub fn ip_key(ip: &str) -> String {
    format!("ip:{}", client_part(ip))
}

/// One account from one client.
pub fn account_client_key(tenant_slug: &str, email: &str, ip: &str) -> String {
    format!(
        "acctip:{}\u{0}{}",
        account_part(tenant_slug, email),
        client_part(ip)
    )
}

pub fn device_key(nonce: &str) -> String {
    format!("device:{nonce}")
}

/// The form a key is stored in: the kind (at most 12 characters), then the SHA-256 of the
/// normalised rest. A rest that is an address counts per client ([`client_part`]).
pub fn stored(key: &str) -> String {
    let (kind, rest) = key.split_once(':').unwrap_or(("key", key));
    let kind: String = kind
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(12)
        .collect();
    let rest = if rest.trim().parse::<IpAddr>().is_ok() {
        client_part(rest)
    } else {
        rest.to_string()
    };
    format!("{kind}:{}", hex::encode(Sha256::digest(rest.as_bytes())))
}

#[derive(Debug, Clone, Copy)]
pub enum Rule {
    Limit {
        limit: u32,
        window: Duration,
        lockout: Duration,
    },
    Delay {
        free: u32,
        base: Duration,
        cap: Duration,
        /// A key without failures for this long starts again from zero.
        decay: Duration,
    },
}

/// The login rules from the configuration.
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    pub account_client: Rule,
    pub client: Rule,
    pub account: Rule,
    pub device: Rule,
}

impl Rules {
    pub fn from_config(cfg: &config::Auth) -> Rules {
        let window = Duration::minutes(i64::from(cfg.window_minutes.max(1)));
        let lockout = Duration::minutes(i64::from(cfg.lockout_minutes.max(1)));
        let limit = |n: u32| Rule::Limit {
            limit: n.max(1),
            window,
            lockout,
        };
        Rules {
            account_client: limit(cfg.max_failures_per_account),
            client: limit(cfg.max_failures_per_ip),
            account: Rule::Delay {
                free: cfg.account_free_failures,
                base: Duration::seconds(i64::from(cfg.account_delay_base_seconds.max(1))),
                cap: Duration::seconds(i64::from(cfg.account_delay_max_seconds.max(1))),
                decay: window,
            },
            device: limit(cfg.max_failures_per_device),
        }
    }
}

fn seconds_until(until: NaiveDateTime, now: NaiveDateTime) -> i64 {
    (until - now).num_seconds().max(1)
}

/// Seconds `t` still refuses attempts, if it does.
fn refusing(t: &Throttle, now: NaiveDateTime) -> Option<i64> {
    t.locked_until
        .filter(|u| *u > now)
        .map(|u| seconds_until(u, now))
}

/// Count one attempt on a row that does not refuse; set its lock or delay for the next one.
fn charge(t: &mut Throttle, rule: Rule, now: NaiveDateTime) {
    match rule {
        Rule::Limit {
            limit,
            window,
            lockout,
        } => {
            if now - t.window_start > window || t.locked_until.is_some_and(|u| u <= now) {
                t.failures = 0;
                t.window_start = now;
                t.locked_until = None;
            }
            t.failures += 1;
            if t.failures >= limit as i32 {
                t.locked_until = Some(now + lockout);
            }
            t.expires_at = Some(t.locked_until.unwrap_or(now).max(t.window_start + window));
        }
        Rule::Delay {
            free,
            base,
            cap,
            decay,
        } => {
            if now - t.window_start > decay {
                t.failures = 0;
            }
            t.failures += 1;
            t.window_start = now;
            let over = t.failures - free as i32 - 1;
            t.locked_until = (over >= 0).then(|| {
                let factor = 1i64 << over.min(20);
                now + (base * factor as i32).min(cap)
            });
            t.expires_at = Some(t.locked_until.unwrap_or(now).max(now) + decay);
        }
    }
}

/// Count one attempt against every `(key, rule)` — unless one of them refuses now, then count
/// nothing and return the longest wait in seconds. Run inside a write transaction.
pub fn admit(conn: &mut Conn, keys: &[(String, Rule)], now: NaiveDateTime) -> Result<Option<i64>> {
    let mut rows = Vec::with_capacity(keys.len());
    let mut wait: Option<i64> = None;
    for (key, rule) in keys {
        let t = store::auth::throttle_for_update(conn, &stored(key), now)?;
        if let Some(secs) = refusing(&t, now) {
            wait = Some(wait.map_or(secs, |w| w.max(secs)));
        }
        rows.push((t, *rule));
    }
    if wait.is_some() {
        return Ok(wait);
    }
    for (mut t, rule) in rows {
        charge(&mut t, rule, now);
        store::auth::put_throttle(conn, &t)?;
    }
    Ok(None)
}

/// Take back one counted attempt (a successful sign-in from a shared address), and the lock it
/// may have set.
pub fn forgive(conn: &mut Conn, key: &str, rule: Rule) -> Result<()> {
    let Some(mut t) = store::auth::throttle(conn, &stored(key))? else {
        return Ok(());
    };
    t.failures = (t.failures - 1).max(0);
    if let Rule::Limit { limit, .. } = rule
        && t.failures < limit as i32
    {
        t.locked_until = None;
    }
    store::auth::put_throttle(conn, &t)?;
    Ok(())
}

/// Seconds until the first locked key opens again, if any is locked.
pub fn locked_for(conn: &mut Conn, keys: &[String], now: NaiveDateTime) -> Result<Option<i64>> {
    let mut worst: Option<i64> = None;
    for k in keys {
        if let Some(secs) = store::auth::throttle(conn, &stored(k))?
            .as_ref()
            .and_then(|t| refusing(t, now))
        {
            worst = Some(worst.map_or(secs, |w| w.max(secs)));
        }
    }
    Ok(worst)
}

/// Count one event against `key`: the `limit`-th within `window` locks the key for `lockout`
/// (returned in seconds). Used for the citizens' link requests.
pub fn count(
    conn: &mut Conn,
    key: &str,
    limit: u32,
    window: Duration,
    lockout: Duration,
    now: NaiveDateTime,
) -> Result<Option<i64>> {
    let mut t = store::auth::throttle_for_update(conn, &stored(key), now)?;
    let rule = Rule::Limit {
        limit: limit.max(1),
        window,
        lockout,
    };
    charge(&mut t, rule, now);
    let locked = (t.failures >= limit as i32).then(|| lockout.num_seconds());
    if locked.is_some() {
        // The lock holds; the next window starts after it.
        t.failures = 0;
        t.window_start = now + lockout;
    }
    store::auth::put_throttle(conn, &t)?;
    Ok(locked)
}

pub fn clear(conn: &mut Conn, key: &str) -> Result<()> {
    store::auth::clear_throttle(conn, &stored(key))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_normalised_and_bounded() {
        assert_eq!(client_part("2001:db8:5:7::1"), "2001:db8:5:7::/64");
        assert_eq!(
            client_part("2001:db8:5:7:ffff::3"),
            client_part("2001:db8:5:7::9")
        );
        assert_ne!(
            client_part("2001:db8:5:8::1"),
            client_part("2001:db8:5:7::1")
        );
        assert_eq!(client_part("::ffff:203.0.113.7"), "203.0.113.7");
        assert_eq!(
            stored(&account_key(" Alby ", "Anna@Alby.SE ")),
            stored(&account_key("alby", "anna@alby.se"))
        );
        let huge = stored(&account_key("alby", &"x".repeat(15_000)));
        assert!(huge.len() <= 80, "{}", huge.len());
        assert_eq!(stored("link-ip:2001:db8::1"), stored("link-ip:2001:db8::2"));
    }

    fn row(now: NaiveDateTime) -> Throttle {
        Throttle {
            key: "k".into(),
            failures: 0,
            window_start: now,
            locked_until: None,
            expires_at: None,
        }
    }

    #[test]
    fn delays_grow_and_stay_short() {
        let now = chrono::DateTime::from_timestamp(1_800_000_000, 0)
            .unwrap()
            .naive_utc();
        let rule = Rule::Delay {
            free: 3,
            base: Duration::seconds(1),
            cap: Duration::seconds(30),
            decay: Duration::minutes(15),
        };
        let mut t = row(now);
        let mut waits = vec![];
        let mut at = now;
        for _ in 0..12 {
            assert!(refusing(&t, at).is_none());
            charge(&mut t, rule, at);
            let w = refusing(&t, at).unwrap_or(0);
            waits.push(w);
            at += Duration::seconds(w);
        }
        assert_eq!(waits, [0, 0, 0, 1, 2, 4, 8, 16, 30, 30, 30, 30]);
    }

    #[test]
    fn limits_lock_after_the_limit_and_forgiving_opens() {
        let now = chrono::DateTime::from_timestamp(1_800_000_000, 0)
            .unwrap()
            .naive_utc();
        let rule = Rule::Limit {
            limit: 3,
            window: Duration::minutes(15),
            lockout: Duration::minutes(15),
        };
        let mut t = row(now);
        for _ in 0..3 {
            assert!(refusing(&t, now).is_none());
            charge(&mut t, rule, now);
        }
        assert_eq!(refusing(&t, now), Some(900));
        // After the lockout the key starts again.
        let later = now + Duration::minutes(16);
        assert!(refusing(&t, later).is_none());
        charge(&mut t, rule, later);
        assert_eq!(t.failures, 1);
    }
}
