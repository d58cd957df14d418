//! Setting up service levels: calendars and policies (for the admin pages, the CLI and the demo).
//! These run inside the caller's write transaction; permission checks are the caller's.

use serde_json::json;

use super::calendar::Calendar;
use super::policy::{Rule, parse_minutes};
use crate::domain::{InvalidValue, Priority, QueueId, TenantId};
use crate::error::{Error, Result};
use crate::store::{self, Conn};

/// Store a calendar under `name` (replacing one with that name); `default` makes it the one
/// queues without their own calendar use.
pub fn save_calendar(
    c: &mut Conn,
    t: TenantId,
    name: &str,
    cal: &Calendar,
    default: bool,
) -> Result<i64> {
    let name = name.trim();
    if name.is_empty() {
        return Err(InvalidValue::new("name", "a calendar needs a name").into());
    }
    if !cal.ever_open() {
        return Err(
            InvalidValue::new("hours", "a calendar must be open some day of the week").into(),
        );
    }
    let spec = serde_json::to_string(cal).map_err(|e| Error::Internal(e.to_string()))?;
    let id = store::sla::save_calendar(c, t, name, &spec, default, store::now())?;
    // Open tickets of the queues on this calendar get their due times recomputed now.
    for (q, own) in store::sla::queue_calendar_ids(c, t)? {
        if own == Some(id) || (own.is_none() && default) {
            refresh_open(c, t, q, None)?;
        }
    }
    Ok(id)
}

/// Give a queue its own calendar (None: the tenant's default) and recompute its open tickets.
pub fn use_calendar(c: &mut Conn, t: TenantId, q: QueueId, calendar: Option<i64>) -> Result<()> {
    if !store::sla::set_queue_calendar(c, t, q, calendar)? {
        return Err(Error::NotFound("calendar"));
    }
    refresh_open(c, t, q, None)
}

/// Recompute the clocks of a queue's open tickets (after its policy or calendar changed).
fn refresh_open(c: &mut Conn, t: TenantId, q: QueueId, p: Option<Priority>) -> Result<()> {
    let now = chrono::Utc::now();
    for ticket in store::sla::open_tickets(c, t, q, p)? {
        super::engine::refresh(c, t, ticket, now)?;
    }
    Ok(())
}

/// A policy as people write it: targets like "4h", "1:30", "2d" or empty (not measured).
#[derive(Debug, Clone, Default)]
pub struct PolicyInput {
    pub first_response: String,
    pub next_response: String,
    pub resolution: String,
    /// Warn at this share of a target (1–99; default 80).
    pub warn_percent: Option<i32>,
    pub rules: Vec<Rule>,
}

pub fn save_policy(
    c: &mut Conn,
    t: TenantId,
    queue: QueueId,
    priority: Priority,
    p: &PolicyInput,
) -> Result<()> {
    let warn = p.warn_percent.unwrap_or(80);
    if !(1..=99).contains(&warn) {
        return Err(InvalidValue::new("warn_percent", "between 1 and 99").into());
    }
    let rules = json!(p.rules).to_string();
    store::sla::save_policy(
        c,
        t,
        queue,
        priority,
        &store::sla::NewPolicy {
            first_response_minutes: parse_minutes(&p.first_response)?,
            next_response_minutes: parse_minutes(&p.next_response)?,
            resolution_minutes: parse_minutes(&p.resolution)?,
            warn_percent: warn,
            rules: &rules,
        },
        store::now(),
    )?;
    refresh_open(c, t, queue, Some(priority))
}
