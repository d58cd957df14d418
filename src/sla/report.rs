//! How often service levels were met: per queue, target and month.

use chrono::{NaiveDate, TimeZone};
use chrono_tz::Europe::Stockholm;
use serde::Serialize;

use super::timeline::Target;
use crate::accounts::{Actor, Scope};
use crate::domain::FormatKind;
use crate::domain::Reason;
use crate::domain::{InvalidValue, QueueId};
use crate::error::Result;
use crate::store::{self, Db};

/// Of the targets met (reply sent, ticket resolved) in the month: how many in time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Share {
    pub queue: QueueId,
    pub target: Target,
    pub met: i64,
    pub in_time: i64,
}

impl Share {
    /// Whole percent met in time.
    pub fn percent(&self) -> i64 {
        if self.met == 0 {
            0
        } else {
            (self.in_time * 100 + self.met / 2) / self.met
        }
    }
}

/// `YYYY-MM` → the month's first day.
pub fn parse_month(s: &str) -> Result<NaiveDate, InvalidValue> {
    NaiveDate::parse_from_str(&format!("{}-01", s.trim()), "%Y-%m-%d")
        .map_err(|_| InvalidValue::new("month", Reason::format(s, FormatKind::Month)))
}

fn out_of_range(first_day: NaiveDate) -> InvalidValue {
    InvalidValue::new(
        "month",
        Reason::format(first_day.format("%Y-%m").to_string(), FormatKind::Month),
    )
}

/// A calendar month in Stockholm as UTC instants `[from, to)`.
pub fn month_bounds(
    first_day: NaiveDate,
) -> Result<(chrono::NaiveDateTime, chrono::NaiveDateTime), InvalidValue> {
    let next = first_day
        .checked_add_months(chrono::Months::new(1))
        .ok_or_else(|| out_of_range(first_day))?;
    let utc = |d: NaiveDate| {
        Stockholm
            .from_local_datetime(&d.and_hms_opt(0, 0, 0).expect("midnight"))
            .earliest()
            .map(|t| t.naive_utc())
            .ok_or_else(|| out_of_range(first_day))
    };
    Ok((utc(first_day)?, utc(next)?))
}

/// The shares for the queues the actor may see, in a calendar month (Stockholm time).
pub async fn month(db: &Db, actor: &Actor, first_day: NaiveDate) -> Result<Vec<Share>> {
    actor.require(Scope::QueuesRead)?;
    let (from, to) = month_bounds(first_day)?;
    let (t, access) = (actor.tenant, actor.queue_access());
    db.read(move |c| -> Result<Vec<Share>> {
        Ok(store::sla::met_counts(c, t, from, to)?
            .into_iter()
            .filter(|(q, ..)| access.allows(*q))
            .filter_map(|(queue, target, met, in_time)| {
                Some(Share {
                    queue,
                    target: Target::parse(&target).ok()?,
                    met,
                    in_time,
                })
            })
            .collect())
    })
    .await
}
