//! Business time. A calendar says when a queue is staffed: opening hours per weekday (several
//! intervals a day), which Swedish holidays close it, extra closed days and days with their own
//! (e.g. shortened) hours. Hours are wall-clock times in Europe/Stockholm, so a target of eight
//! business hours is eight staffed hours on either side of a daylight-saving change.
//!
//! `add` and `between` are inverses over open time: `between(a, add(a, d)) == d`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::{
    DateTime, Datelike, Days, LocalResult, NaiveDate, NaiveDateTime, TimeDelta, TimeZone, Utc,
};
use chrono_tz::Europe::Stockholm;
use serde::{Deserialize, Serialize};

use super::holidays::Holiday;
use crate::domain::InvalidValue;

/// How far `add` looks ahead before it gives up (a calendar that is never open).
const MAX_DAYS: u32 = 3 * 366;

/// An opening interval in minutes after local midnight: `start < end <= 1440`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Span {
    start: u16,
    end: u16,
}

impl Span {
    pub fn new(start: u16, end: u16) -> Result<Span, InvalidValue> {
        if start < end && end <= 1440 {
            Ok(Span { start, end })
        } else {
            Err(InvalidValue::new(
                "hours",
                "an interval must end after it starts, within the day",
            ))
        }
    }
    pub fn minutes(self) -> u32 {
        u32::from(self.end - self.start)
    }
}

fn hhmm(m: u16) -> String {
    format!("{:02}:{:02}", m / 60, m % 60)
}

fn parse_hhmm(s: &str) -> Result<u16, InvalidValue> {
    let bad = || InvalidValue::new("hours", format!("{s:?} is not a time like 08:30"));
    let (h, m) = s.trim().split_once([':', '.']).ok_or_else(bad)?;
    let (h, m): (u16, u16) = (
        h.trim().parse().map_err(|_| bad())?,
        m.trim().parse().map_err(|_| bad())?,
    );
    if m >= 60 || h > 24 || (h == 24 && m != 0) {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

/// A day's opening hours: sorted, non-overlapping intervals; empty means closed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DayHours(Vec<Span>);

impl DayHours {
    pub fn closed() -> DayHours {
        DayHours(vec![])
    }

    /// `"08:00-12:00, 13:00-16:30"`; empty, `-` or `stängt`/`closed` for a closed day.
    pub fn parse(s: &str) -> Result<DayHours, InvalidValue> {
        let s = s.trim();
        if s.is_empty()
            || s == "-"
            || s.eq_ignore_ascii_case("stängt")
            || s.eq_ignore_ascii_case("closed")
        {
            return Ok(DayHours::closed());
        }
        let mut spans = s
            .split(',')
            .map(|part| {
                let (a, b) = part.split_once(['-', '–']).ok_or_else(|| {
                    InvalidValue::new(
                        "hours",
                        format!("{part:?} is not an interval like 08:00-16:30"),
                    )
                })?;
                Span::new(parse_hhmm(a)?, parse_hhmm(b)?)
            })
            .collect::<Result<Vec<_>, _>>()?;
        spans.sort();
        if spans.windows(2).any(|w| w[1].start < w[0].end) {
            return Err(InvalidValue::new("hours", "the intervals of a day overlap"));
        }
        Ok(DayHours(spans))
    }

    pub fn spans(&self) -> &[Span] {
        &self.0
    }

    pub fn is_closed(&self) -> bool {
        self.0.is_empty()
    }

    pub fn minutes(&self) -> u32 {
        self.0.iter().map(|s| s.minutes()).sum()
    }
}

impl fmt::Display for DayHours {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|s| format!("{}-{}", hhmm(s.start), hhmm(s.end)))
            .collect();
        f.write_str(&parts.join(", "))
    }
}

impl TryFrom<String> for DayHours {
    type Error = InvalidValue;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        DayHours::parse(&s)
    }
}

impl From<DayHours> for String {
    fn from(d: DayHours) -> String {
        d.to_string()
    }
}

/// When a queue is staffed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Calendar {
    /// Monday first.
    pub week: [DayHours; 7],
    /// Holidays (and eves) on which the calendar is closed.
    pub closed_holidays: BTreeSet<Holiday>,
    /// Extra closed days (e.g. a bridge day, klämdag).
    #[serde(default)]
    pub closed_days: BTreeSet<NaiveDate>,
    /// Days with their own hours (e.g. shortened before a holiday); these win over holidays and
    /// the weekday's hours, an extra closed day wins over them.
    #[serde(default)]
    pub special_days: BTreeMap<NaiveDate, DayHours>,
}

impl Default for Calendar {
    /// Weekdays 08:00–16:30 (Fridays until 16:00), closed on every Swedish holiday and eve.
    fn default() -> Calendar {
        let day = |s: &str| DayHours::parse(s).expect("valid default hours");
        Calendar {
            week: [
                day("08:00-16:30"),
                day("08:00-16:30"),
                day("08:00-16:30"),
                day("08:00-16:30"),
                day("08:00-16:00"),
                DayHours::closed(),
                DayHours::closed(),
            ],
            closed_holidays: Holiday::ALL.into_iter().collect(),
            closed_days: BTreeSet::new(),
            special_days: BTreeMap::new(),
        }
    }
}

/// The instant of local wall-clock `minute` on `day`. In the autumn hour that occurs twice the
/// first occurrence is taken; a time in the spring gap means the moment the clocks jump to.
fn instant(day: NaiveDate, minute: u16) -> DateTime<Utc> {
    let local = |m: u32| -> NaiveDateTime {
        let midnight = day.and_hms_opt(0, 0, 0).expect("midnight exists");
        midnight + TimeDelta::minutes(i64::from(m))
    };
    let mut m = u32::from(minute);
    loop {
        match Stockholm.from_local_datetime(&local(m)) {
            LocalResult::Single(t) => return t.with_timezone(&Utc),
            LocalResult::Ambiguous(first, _) => return first.with_timezone(&Utc),
            // Inside the spring-forward gap (never more than an hour): move to its end.
            LocalResult::None => m += 1,
        }
    }
}

impl Calendar {
    /// The opening hours of one local date.
    pub fn hours_on(&self, day: NaiveDate) -> &DayHours {
        static CLOSED: DayHours = DayHours(Vec::new());
        if self.closed_days.contains(&day) {
            return &CLOSED;
        }
        if let Some(h) = self.special_days.get(&day) {
            return h;
        }
        if self
            .closed_holidays
            .iter()
            .any(|h| h.date(day.year()) == day)
        {
            return &CLOSED;
        }
        &self.week[day.weekday().num_days_from_monday() as usize]
    }

    /// The open intervals of a local date as instants.
    fn open_on(&self, day: NaiveDate) -> impl Iterator<Item = (DateTime<Utc>, DateTime<Utc>)> + '_ {
        self.hours_on(day)
            .spans()
            .iter()
            .map(move |s| (instant(day, s.start), instant(day, s.end)))
            .filter(|(a, b)| a < b)
    }

    /// True if the calendar has some open time in a typical week (else nothing is ever due).
    pub fn ever_open(&self) -> bool {
        self.week.iter().any(|d| !d.is_closed())
            || self.special_days.values().any(|d| !d.is_closed())
    }

    /// The instant `duration` of open time after `from` (`from` itself for zero). `None` when the
    /// calendar has no open time within three years.
    pub fn add(&self, from: DateTime<Utc>, duration: TimeDelta) -> Option<DateTime<Utc>> {
        let mut left = duration;
        if left <= TimeDelta::zero() {
            return Some(from);
        }
        let mut day = from.with_timezone(&Stockholm).date_naive();
        for _ in 0..MAX_DAYS {
            for (start, end) in self.open_on(day) {
                if end <= from {
                    continue;
                }
                let start = start.max(from);
                let open = end - start;
                if open >= left {
                    return Some(start + left);
                }
                left -= open;
            }
            day = day.checked_add_days(Days::new(1))?;
        }
        None
    }

    /// Open time between two instants (zero if `to` is not after `from`).
    pub fn between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> TimeDelta {
        let mut total = TimeDelta::zero();
        if to <= from {
            return total;
        }
        let mut day = from.with_timezone(&Stockholm).date_naive();
        let last = to.with_timezone(&Stockholm).date_naive();
        while day <= last {
            for (start, end) in self.open_on(day) {
                let (a, b) = (start.max(from), end.min(to));
                if b > a {
                    total += b - a;
                }
            }
            match day.checked_add_days(Days::new(1)) {
                Some(d) => day = d,
                None => break,
            }
        }
        total
    }
}
