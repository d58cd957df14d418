//! Service levels: how long a queue has to answer and resolve a ticket, counted in business
//! time (the queue's opening hours in Europe/Stockholm, Swedish holidays closed), with warnings
//! before and actions on a breach.
//!
//! - `holidays`: Swedish public holidays and eves for any year.
//! - `calendar`: opening hours and business-time arithmetic (`add`, `between`).
//! - `timeline`: a ticket's clocks replayed from its history (pure, deterministic).
//! - `policy`: targets per queue and priority, and the rules for warnings and breaches.
//! - `engine`: stores the clocks when tickets change, and sweeps for what is due.

pub mod admin;
pub mod calendar;
pub mod engine;
pub mod holidays;
pub mod policy;
pub mod report;
pub mod timeline;

pub use calendar::{Calendar, DayHours};
pub use holidays::Holiday;

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use serde::Serialize;

/// How a ticket stands against its most pressing service-level target, for a badge: time left
/// (or overdue) in the queue's business time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Badge {
    /// `ok`, `warning`, `breached` or `paused` (waiting for the citizen).
    pub state: &'static str,
    pub overdue: bool,
    /// Whole business hours and the minutes after them (of time left, or overdue).
    pub hours: i64,
    pub minutes: i64,
    pub due: Option<NaiveDateTime>,
}

/// The badge for a ticket's stored standing and due instant (None: no service level applies).
pub fn badge(
    state: Option<&str>,
    due: Option<NaiveDateTime>,
    cal: &Calendar,
    now: DateTime<Utc>,
) -> Option<Badge> {
    let state = match state? {
        "warning" => "warning",
        "breached" => "breached",
        _ => "ok",
    };
    let Some(d) = due else {
        return Some(Badge {
            state: "paused",
            overdue: false,
            hours: 0,
            minutes: 0,
            due: None,
        });
    };
    let due_at = d.and_utc();
    let (left, overdue) = if due_at > now {
        (cal.between(now, due_at), false)
    } else {
        (cal.between(due_at, now), true)
    };
    let left = left.max(TimeDelta::zero());
    Some(Badge {
        state: if overdue { "breached" } else { state },
        overdue,
        hours: left.num_hours(),
        minutes: left.num_minutes() % 60,
        due: Some(d),
    })
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;

    #[test]
    fn badges_count_business_time_left_and_overdue() {
        let cal = Calendar::default();
        // Monday 23 Nov 2026 15:00 local (14:00 UTC); due Tuesday 09:00 local (08:00 UTC).
        let now = Utc.with_ymd_and_hms(2026, 11, 23, 14, 0, 0).unwrap();
        let due = Utc
            .with_ymd_and_hms(2026, 11, 24, 8, 0, 0)
            .unwrap()
            .naive_utc();
        let b = badge(Some("ok"), Some(due), &cal, now).unwrap();
        // 15:00–16:30 Monday and 08:00–09:00 Tuesday.
        assert_eq!(
            (b.state, b.overdue, b.hours, b.minutes),
            ("ok", false, 2, 30)
        );
        let later = Utc.with_ymd_and_hms(2026, 11, 24, 9, 15, 0).unwrap();
        let b = badge(Some("warning"), Some(due), &cal, later).unwrap();
        assert_eq!(
            (b.state, b.overdue, b.hours, b.minutes),
            ("breached", true, 1, 15)
        );
        assert_eq!(badge(Some("ok"), None, &cal, now).unwrap().state, "paused");
        assert_eq!(badge(None, Some(due), &cal, now), None);
    }
}
