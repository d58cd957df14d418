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

use crate::domain::SlaClock;

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

/// The badge for a ticket's clocks: `ok` before the warning instant, `warning` from it, `breached`
/// from the due instant (None: no service level applies). The standing is judged at `now` from
/// the stored instants, so it never waits for the sweeper.
pub fn badge(
    clock: Option<SlaClock>,
    warn: Option<NaiveDateTime>,
    due: Option<NaiveDateTime>,
    cal: &Calendar,
    now: DateTime<Utc>,
) -> Option<Badge> {
    let paused = Badge {
        state: "paused",
        overdue: false,
        hours: 0,
        minutes: 0,
        due: None,
    };
    let (SlaClock::Running, Some(d)) = (clock?, due) else {
        return Some(paused);
    };
    let due_at = d.and_utc();
    let (left, overdue) = if due_at > now {
        (cal.between(now, due_at), false)
    } else {
        (cal.between(due_at, now), true)
    };
    let left = left.max(TimeDelta::zero());
    let state = if overdue {
        "breached"
    } else if warn.is_some_and(|w| w.and_utc() <= now) {
        "warning"
    } else {
        "ok"
    };
    Some(Badge {
        state,
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
        // The warning share is reached Tuesday 08:30 local.
        let warn = Utc
            .with_ymd_and_hms(2026, 11, 24, 7, 30, 0)
            .unwrap()
            .naive_utc();
        let running = Some(SlaClock::Running);
        let b = badge(running, Some(warn), Some(due), &cal, now).unwrap();
        // 15:00–16:30 Monday and 08:00–09:00 Tuesday.
        assert_eq!(
            (b.state, b.overdue, b.hours, b.minutes),
            ("ok", false, 2, 30)
        );
        let soon = Utc.with_ymd_and_hms(2026, 11, 24, 7, 40, 0).unwrap();
        let b = badge(running, Some(warn), Some(due), &cal, soon).unwrap();
        assert_eq!(
            (b.state, b.overdue, b.hours, b.minutes),
            ("warning", false, 0, 20)
        );
        let later = Utc.with_ymd_and_hms(2026, 11, 24, 9, 15, 0).unwrap();
        let b = badge(running, Some(warn), Some(due), &cal, later).unwrap();
        assert_eq!(
            (b.state, b.overdue, b.hours, b.minutes),
            ("breached", true, 1, 15)
        );
        let paused = badge(Some(SlaClock::Paused), None, None, &cal, now).unwrap();
        assert_eq!(paused.state, "paused");
        assert_eq!(badge(None, None, Some(due), &cal, now), None);
    }
}
