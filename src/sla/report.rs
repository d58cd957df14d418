//! How often service levels were met: per queue, target and month.

use chrono::NaiveDate;
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

pub use crate::domain::period::month_bounds;

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
