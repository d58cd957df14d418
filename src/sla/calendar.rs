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
use crate::domain::FormatKind;
use crate::domain::InvalidValue;
use crate::domain::Reason;

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
            Err(InvalidValue::new("hours", Reason::IntervalOrder))
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
    let bad = || InvalidValue::new("hours", Reason::format(s.trim(), FormatKind::Time));
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
            || s.to_lowercase() == "stängt"
            || s.eq_ignore_ascii_case("closed")
        {
            return Ok(DayHours::closed());
        }
        let mut spans = s
            .split(',')
            .map(|part| {
                let (a, b) = part.split_once(['-', '–']).ok_or_else(|| {
                    InvalidValue::new("hours", Reason::format(part.trim(), FormatKind::Interval))
                })?;
                Span::new(parse_hhmm(a)?, parse_hhmm(b)?)
            })
            .collect::<Result<Vec<_>, _>>()?;
        spans.sort();
        if spans.windows(2).any(|w| w[1].start < w[0].end) {
            return Err(InvalidValue::new("hours", Reason::IntervalsOverlap));
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
        if Holiday::on(day).any(|h| self.closed_holidays.contains(&h)) {
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

#[cfg(test)]
mod tests {
    //! Business time as the statements a queue manager would make about it: what is open, when
    //! a deadline falls, and that counting open time back gives what was added.

    use super::*;
    use proptest::prelude::*;
    use proptest::sample::{select, subsequence};
    use proptest::test_runner::TestCaseError;

    // ---------------------------------------------------------------------------------------
    // Helpers

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    /// A wall-clock time in Stockholm that exists and is unambiguous.
    fn sthlm(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Stockholm
            .with_ymd_and_hms(y, mo, d, h, mi, 0)
            .single()
            .expect("an unambiguous local time")
            .with_timezone(&Utc)
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn local_date(t: DateTime<Utc>) -> NaiveDate {
        t.with_timezone(&Stockholm).date_naive()
    }

    fn hours(h: i64) -> TimeDelta {
        TimeDelta::hours(h)
    }

    fn minutes(m: i64) -> TimeDelta {
        TimeDelta::minutes(m)
    }

    fn zero() -> TimeDelta {
        TimeDelta::zero()
    }

    fn open(s: &str) -> DayHours {
        DayHours::parse(s).unwrap()
    }

    /// The same hours every day of the week and no holiday closed.
    fn every_day(s: &str) -> Calendar {
        Calendar {
            week: std::array::from_fn(|_| open(s)),
            closed_holidays: BTreeSet::new(),
            closed_days: BTreeSet::new(),
            special_days: BTreeMap::new(),
        }
    }

    fn never_open() -> Calendar {
        every_day("stängt")
    }

    /// Open time on one whole local date.
    fn open_time_on(cal: &Calendar, day: NaiveDate) -> TimeDelta {
        cal.between(instant(day, 0), instant(day, 1440))
    }

    fn last_sunday(year: i32, month: u32) -> NaiveDate {
        let d31 = date(year, month, 31);
        d31 - Days::new(u64::from(d31.weekday().num_days_from_sunday()))
    }

    // ---------------------------------------------------------------------------------------
    // The default calendar: Mon–Thu 08:00–16:30, Fri 08:00–16:00, closed on weekends and on
    // every Swedish holiday and eve.

    #[test]
    fn default_week_is_office_hours() {
        let cal = Calendar::default();
        assert!(cal.ever_open());
        // Monday 9 March 2026 (CET).
        assert_eq!(open_time_on(&cal, date(2026, 3, 9)), hours(8) + minutes(30));
        // Friday 13 March closes at 16:00.
        assert_eq!(open_time_on(&cal, date(2026, 3, 13)), hours(8));
        // Saturday and Sunday are closed.
        assert_eq!(open_time_on(&cal, date(2026, 3, 14)), zero());
        assert_eq!(open_time_on(&cal, date(2026, 3, 15)), zero());
        // The whole week Mon 9 – Sun 15 March: 4 × 8 h 30 + 8 h.
        assert_eq!(
            cal.between(sthlm(2026, 3, 9, 0, 0), sthlm(2026, 3, 16, 0, 0)),
            hours(42)
        );
        // Friday 15:00 CET + 2 h: one hour on Friday, then Monday 16 March 08:00 + 1 h = 09:00 CET.
        assert_eq!(
            cal.add(utc(2026, 3, 13, 14, 0), hours(2)),
            Some(utc(2026, 3, 16, 8, 0))
        );
        // A ticket on Saturday 11:00 CET starts counting at Monday's opening: 09:00 CET.
        assert_eq!(
            cal.add(utc(2026, 3, 14, 10, 0), hours(1)),
            Some(utc(2026, 3, 16, 8, 0))
        );
        // Tuesday 06:00 CET, before opening, + 30 min = 08:30 CET.
        assert_eq!(
            cal.add(utc(2026, 3, 10, 5, 0), minutes(30)),
            Some(utc(2026, 3, 10, 7, 30))
        );
        // Zero business time is the instant itself, even when closed (Saturday 11:00 CET).
        assert_eq!(
            cal.add(utc(2026, 3, 14, 10, 0), zero()),
            Some(utc(2026, 3, 14, 10, 0))
        );
    }

    #[test]
    fn midsommarafton_and_the_weekend_after_it_are_skipped() {
        let cal = Calendar::default();
        // Thursday 18 June 2026, 15:55 CEST; midsommarafton is Friday 19 June.
        let a = utc(2026, 6, 18, 13, 55);
        assert_eq!(a, sthlm(2026, 6, 18, 15, 55));
        assert_eq!(Holiday::Midsommarafton.date(2026), date(2026, 6, 19));
        // 35 min on Thursday; Friday (midsommarafton), Saturday (midsommardagen) and Sunday
        // closed; Monday 22 June 08:00 + 7 h 25 = 15:25 CEST.
        assert_eq!(cal.add(a, hours(8)), Some(utc(2026, 6, 22, 13, 25)));
        assert_eq!(cal.between(a, utc(2026, 6, 22, 13, 25)), hours(8));
        // Exactly the rest of Thursday ends at closing time, 16:30 CEST ...
        assert_eq!(cal.add(a, minutes(35)), Some(utc(2026, 6, 18, 14, 30)));
        // ... and one more minute is the first minute of Monday, 08:01 CEST.
        assert_eq!(cal.add(a, minutes(36)), Some(utc(2026, 6, 22, 6, 1)));
        // Nothing is open from Thursday's closing (16:30 CEST) to Monday's opening (08:00 CEST).
        assert_eq!(
            cal.between(utc(2026, 6, 18, 14, 30), utc(2026, 6, 22, 6, 0)),
            zero()
        );
        assert!(cal.hours_on(date(2026, 6, 19)).is_closed());
        assert_eq!(cal.hours_on(date(2026, 6, 18)), &open("08:00-16:30"));
    }

    #[test]
    fn easter_is_closed_from_langfredagen_to_annandag_pask() {
        let cal = Calendar::default();
        // Skärtorsdagen, Thursday 2 April 2026, is an ordinary day: 16:00 CEST + 1 h is 30 min
        // on Thursday, Friday 3 to Monday 6 April closed, then Tuesday 7 April 08:30 CEST.
        assert_eq!(
            cal.add(utc(2026, 4, 2, 14, 0), hours(1)),
            Some(utc(2026, 4, 7, 6, 30))
        );
        assert_eq!(
            cal.between(sthlm(2026, 4, 3, 0, 0), sthlm(2026, 4, 7, 0, 0)),
            zero()
        );
    }

    #[test]
    fn the_year_end_and_trettondedag_jul_are_closed() {
        let cal = Calendar::default();
        // Wednesday 30 December 2026 16:00 CET + 1 h: 30 min on Wednesday; nyårsafton (Thu),
        // nyårsdagen (Fri 1 Jan 2027) and the weekend closed; Monday 4 January 08:30 CET.
        assert_eq!(
            cal.add(utc(2026, 12, 30, 15, 0), hours(1)),
            Some(utc(2027, 1, 4, 7, 30))
        );
        // The week of Mon 4 – Sun 10 January 2027 loses Wednesday 6 January: 3 × 8 h 30 + 8 h.
        assert_eq!(
            cal.between(sthlm(2027, 1, 4, 0, 0), sthlm(2027, 1, 11, 0, 0)),
            hours(33) + minutes(30)
        );
    }

    // ---------------------------------------------------------------------------------------
    // Extra closed days and special days.

    #[test]
    fn a_shortened_day_before_the_christmas_holidays() {
        let mut cal = Calendar {
            closed_holidays: [Holiday::Julafton, Holiday::Juldagen, Holiday::AnnandagJul]
                .into_iter()
                .collect(),
            ..Calendar::default()
        };
        // Wednesday 23 December 2026 is open 08:00–12:00 only.
        cal.special_days
            .insert(date(2026, 12, 23), open("08:00-12:00"));
        assert_eq!(open_time_on(&cal, date(2026, 12, 23)), hours(4));
        // 23 Dec 10:00 CET + 4 h: 2 h until 12:00; julafton (Thu), juldagen (Fri), annandag jul
        // (Sat) and Sunday closed; Monday 28 December 08:00 + 2 h = 10:00 CET.
        let a = utc(2026, 12, 23, 9, 0);
        assert_eq!(cal.add(a, hours(4)), Some(utc(2026, 12, 28, 9, 0)));
        assert_eq!(cal.between(a, utc(2026, 12, 28, 9, 0)), hours(4));
        // A ticket after the early closing, 23 Dec 13:00 CET, + 1 h = Monday 28 Dec 09:00 CET.
        assert_eq!(
            cal.add(utc(2026, 12, 23, 12, 0), hours(1)),
            Some(utc(2026, 12, 28, 8, 0))
        );
        // Nyårsafton, Thursday 31 December, is not closed by this calendar: a normal Thursday.
        assert_eq!(
            open_time_on(&cal, date(2026, 12, 31)),
            hours(8) + minutes(30)
        );
        assert_eq!(
            open_time_on(&Calendar::default(), date(2026, 12, 31)),
            zero()
        );

        // A special day wins over a holiday: julafton opened 09:00–12:00. From 23 Dec 13:00 CET
        // one hour ends at 24 Dec 10:00 CET.
        let mut julafton_open = cal.clone();
        julafton_open
            .special_days
            .insert(date(2026, 12, 24), open("09:00-12:00"));
        assert_eq!(
            julafton_open.add(utc(2026, 12, 23, 12, 0), hours(1)),
            Some(utc(2026, 12, 24, 9, 0))
        );
        // An extra closed day wins over a special day.
        let mut closed = cal.clone();
        closed.closed_days.insert(date(2026, 12, 23));
        assert!(closed.hours_on(date(2026, 12, 23)).is_closed());
        assert_eq!(
            closed.add(utc(2026, 12, 23, 9, 0), hours(1)),
            Some(utc(2026, 12, 28, 8, 0)) // Monday 28 December 09:00 CET
        );
    }

    #[test]
    fn a_closed_bridge_day_after_kristi_himmelsfardsdag() {
        let mut cal = Calendar::default();
        // Klämdag: Friday 15 May 2026, after Kristi himmelsfärdsdag on Thursday 14 May.
        cal.closed_days.insert(date(2026, 5, 15));
        // Wednesday 13 May 16:00 CEST + 1 h: 30 min on Wednesday, Thursday to Sunday closed,
        // Monday 18 May 08:30 CEST.
        assert_eq!(
            cal.add(utc(2026, 5, 13, 14, 0), hours(1)),
            Some(utc(2026, 5, 18, 6, 30))
        );
        // Without the bridge day, Friday 08:30 CEST.
        assert_eq!(
            Calendar::default().add(utc(2026, 5, 13, 14, 0), hours(1)),
            Some(utc(2026, 5, 15, 6, 30))
        );
    }

    // ---------------------------------------------------------------------------------------
    // Daylight saving time: hours are Stockholm wall-clock hours.

    #[test]
    fn the_spring_forward_sunday_has_23_hours() {
        let cal = every_day("00:00-24:00");
        assert_eq!(last_sunday(2026, 3), date(2026, 3, 29));
        // Saturday 28 March 2026 12:00 CET + 24 h: 12 h to midnight, then 12 h of Sunday,
        // which skips 02:00–03:00: Sunday 29 March 13:00 CEST.
        let a = utc(2026, 3, 28, 11, 0);
        assert_eq!(a, sthlm(2026, 3, 28, 12, 0));
        assert_eq!(cal.add(a, hours(24)), Some(utc(2026, 3, 29, 11, 0)));
        assert_eq!(utc(2026, 3, 29, 11, 0), sthlm(2026, 3, 29, 13, 0));
        // Sunday 00:00 CET (23:00 UTC) to Monday 00:00 CEST (22:00 UTC).
        assert_eq!(
            cal.between(utc(2026, 3, 28, 23, 0), utc(2026, 3, 29, 22, 0)),
            hours(23)
        );
        assert_eq!(open_time_on(&cal, date(2026, 3, 29)), hours(23));
    }

    #[test]
    fn the_fall_back_sunday_has_25_hours() {
        let cal = every_day("00:00-24:00");
        assert_eq!(last_sunday(2026, 10), date(2026, 10, 25));
        // Saturday 24 October 2026 12:00 CEST + 24 h: 12 h to midnight, then 12 h of Sunday,
        // which has 02:00–03:00 twice: Sunday 25 October 11:00 CET.
        let a = utc(2026, 10, 24, 10, 0);
        assert_eq!(a, sthlm(2026, 10, 24, 12, 0));
        assert_eq!(cal.add(a, hours(24)), Some(utc(2026, 10, 25, 10, 0)));
        assert_eq!(utc(2026, 10, 25, 10, 0), sthlm(2026, 10, 25, 11, 0));
        // Sunday 00:00 CEST (22:00 UTC) to Monday 00:00 CET (23:00 UTC).
        assert_eq!(
            cal.between(utc(2026, 10, 24, 22, 0), utc(2026, 10, 25, 23, 0)),
            hours(25)
        );
        assert_eq!(open_time_on(&cal, date(2026, 10, 25)), hours(25));
    }

    #[test]
    fn office_hours_are_wall_clock_hours_on_dst_sundays() {
        let cal = every_day("08:00-16:00");
        assert_eq!(open_time_on(&cal, date(2026, 3, 29)), hours(8));
        assert_eq!(open_time_on(&cal, date(2026, 10, 25)), hours(8));
        // Sunday 29 March 2026 opens at 08:00 CEST (06:00 UTC); Saturday at 08:00 CET.
        assert_eq!(
            cal.add(utc(2026, 3, 28, 16, 0), hours(1)),
            Some(utc(2026, 3, 29, 7, 0)) // 09:00 CEST
        );
        // Sunday 25 October 2026 opens at 08:00 CET (07:00 UTC).
        assert_eq!(
            cal.add(utc(2026, 10, 24, 15, 0), hours(1)),
            Some(utc(2026, 10, 25, 8, 0)) // 09:00 CET
        );
    }

    #[test]
    fn hours_that_span_the_dst_change_are_real_time() {
        // 01:00–03:00 is one real hour in spring and three in autumn.
        let cal = every_day("01:00-03:00");
        assert_eq!(open_time_on(&cal, date(2026, 3, 29)), hours(1));
        assert_eq!(open_time_on(&cal, date(2026, 10, 25)), hours(3));
        // 01:00 CET (00:00 UTC) + 1 h is 03:00 CEST (01:00 UTC).
        assert_eq!(
            cal.add(utc(2026, 3, 29, 0, 0), hours(1)),
            Some(utc(2026, 3, 29, 1, 0))
        );
        // 01:00 CEST (23:00 UTC) + 3 h is 03:00 CET (02:00 UTC).
        assert_eq!(
            cal.add(utc(2026, 10, 24, 23, 0), hours(3)),
            Some(utc(2026, 10, 25, 2, 0))
        );

        // Hours inside the skipped hour never happen; in the repeated hour they are taken from
        // its first occurrence (02:15–02:45 CEST = 00:15–00:45 UTC).
        let night = every_day("02:15-02:45");
        assert_eq!(open_time_on(&night, date(2026, 3, 29)), zero());
        assert_eq!(open_time_on(&night, date(2026, 10, 25)), minutes(30));
        assert_eq!(
            night.add(utc(2026, 10, 24, 22, 0), minutes(30)),
            Some(utc(2026, 10, 25, 0, 45))
        );
        // Opening inside the skipped hour means opening when the clocks jump: 03:00 CEST.
        let late = every_day("02:30-04:00");
        assert_eq!(open_time_on(&late, date(2026, 3, 29)), hours(1));
        assert_eq!(
            late.add(utc(2026, 3, 28, 23, 0), minutes(1)),
            Some(utc(2026, 3, 29, 1, 1)) // 03:01 CEST
        );
    }

    // ---------------------------------------------------------------------------------------
    // Calendars with (almost) no open time.

    #[test]
    fn a_calendar_that_is_never_open() {
        let cal = never_open();
        assert!(!cal.ever_open());
        let a = utc(2026, 6, 18, 13, 55);
        assert_eq!(cal.add(a, zero()), Some(a));
        assert_eq!(cal.add(a, TimeDelta::seconds(1)), None);
        assert_eq!(cal.add(a, hours(200)), None);
        assert_eq!(cal.between(a, a + TimeDelta::days(400)), zero());
        // A negative duration is no time at all.
        assert_eq!(cal.add(a, -hours(1)), Some(a));
        // Open hours on every weekday do not help if every day is an extra closed day.
        let closed = Calendar {
            closed_days: (0..=MAX_DAYS)
                .map(|n| local_date(a) + Days::new(n.into()))
                .collect(),
            ..Calendar::default()
        };
        assert!(closed.ever_open());
        assert_eq!(closed.add(a, TimeDelta::seconds(1)), None);
    }

    #[test]
    fn add_looks_three_years_ahead_and_no_further() {
        let a = sthlm(2026, 1, 1, 0, 0);
        // Never open, except for one special day in 2028.
        let mut cal = never_open();
        cal.special_days
            .insert(date(2028, 6, 1), open("10:00-11:00"));
        assert!(cal.ever_open());
        assert_eq!(cal.add(a, minutes(30)), Some(utc(2028, 6, 1, 8, 30))); // 10:30 CEST
        assert_eq!(cal.add(a, hours(1)), Some(utc(2028, 6, 1, 9, 0))); // 11:00 CEST
        assert_eq!(cal.add(a, minutes(61)), None);
        // The last day `add` looks at, and the first it does not.
        let mut last = never_open();
        last.special_days.insert(
            date(2026, 1, 1) + Days::new(u64::from(MAX_DAYS) - 1),
            open("10:00-11:00"),
        );
        assert!(last.add(a, minutes(30)).is_some());
        let mut beyond = never_open();
        beyond.special_days.insert(
            date(2026, 1, 1) + Days::new(u64::from(MAX_DAYS)),
            open("10:00-11:00"),
        );
        assert_eq!(beyond.add(a, minutes(30)), None);
    }

    // ---------------------------------------------------------------------------------------
    // Opening hours as text.

    #[test]
    fn day_hours_accept_intervals_and_closed_days() {
        let h = open("08:00-12:00, 13:00-16:30");
        assert_eq!(
            h.spans(),
            &[Span::new(480, 720).unwrap(), Span::new(780, 990).unwrap()]
        );
        assert_eq!(h.minutes(), 7 * 60 + 30);
        assert_eq!(h.to_string(), "08:00-12:00, 13:00-16:30");
        for closed in [
            "stängt", "Stängt", "STÄNGT", "closed", "CLOSED", "", "   ", "-",
        ] {
            assert!(open(closed).is_closed(), "{closed:?}");
        }
        // Given in any order, written sorted; dots and en dashes as Swedes write them.
        assert_eq!(open("13:00-16:30,08:00-12:00"), h);
        assert_eq!(open(" 8.00 – 12.00 , 13.00–16.30 "), h);
        // Touching intervals and the whole day are fine.
        assert_eq!(open("08:00-12:00, 12:00-13:00").minutes(), 5 * 60);
        assert_eq!(open("00:00-24:00").minutes(), 1440);
    }

    #[test]
    fn day_hours_reject_what_is_not_opening_hours() {
        for bad in [
            "08:00-12:00, 11:00-13:00", // overlap
            "08:00-12:00, 08:00-12:00", // the same interval twice
            "08:00-16:00, 09:00-10:00", // one inside the other
            "25:00-26:00",
            "24:30-24:45",
            "08:60-09:00",
            "12:00-08:00", // ends before it starts
            "08:00-08:00", // empty
            "08:00",
            "08:00-",
            "8-12",
            "08:00-12:00,",
            "öppet",
            "nine to five",
            "08:00-12:00-13:00",
        ] {
            assert!(DayHours::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn calendars_survive_serialisation() {
        let mut cal = Calendar::default();
        cal.closed_days.insert(date(2026, 5, 15));
        cal.special_days
            .insert(date(2026, 12, 23), open("08:00-12:00"));
        let json = serde_json::to_string(&cal).unwrap();
        assert!(json.contains("\"08:00-16:30\""), "{json}");
        assert_eq!(serde_json::from_str::<Calendar>(&json).unwrap(), cal);
        assert!(serde_json::from_str::<DayHours>("\"12:00-08:00\"").is_err());
    }

    // ---------------------------------------------------------------------------------------
    // Strategies

    /// Interval boundaries in minutes after midnight, biased to midnight, the DST hour and
    /// office hours.
    fn boundary() -> impl Strategy<Value = u16> {
        prop_oneof![
            3 => 0u16..=1440,
            1 => select(vec![0u16, 60, 120, 150, 180, 480, 720, 990, 1440]),
        ]
    }

    /// 0–3 non-overlapping opening intervals, written as text and parsed like configuration.
    fn day_hours() -> impl Strategy<Value = DayHours> {
        (0usize..=3, prop::collection::vec(boundary(), 6)).prop_map(|(n, mut points)| {
            points.truncate(2 * n);
            points.sort_unstable();
            let text = points
                .chunks(2)
                .filter(|p| p[0] < p[1])
                .map(|p| format!("{}-{}", hhmm(p[0]), hhmm(p[1])))
                .collect::<Vec<_>>()
                .join(", ");
            DayHours::parse(&text).unwrap_or_else(|e| panic!("{text:?} refused: {e}"))
        })
    }

    /// Random weekly hours and a random subset of the holidays closed.
    fn random_week() -> impl Strategy<Value = Calendar> {
        (
            proptest::array::uniform7(day_hours()),
            subsequence(Holiday::ALL.to_vec(), 0..=Holiday::ALL.len()),
        )
            .prop_map(|(week, holidays)| Calendar {
                week,
                closed_holidays: holidays.into_iter().collect(),
                closed_days: BTreeSet::new(),
                special_days: BTreeMap::new(),
            })
    }

    /// A week that is mostly closed, with a few short openings: 200 business hours may lie
    /// beyond what `add` looks ahead.
    fn sparse_week() -> impl Strategy<Value = Calendar> {
        let day = prop_oneof![
            5 => Just(DayHours::closed()),
            1 => (0u16..1410, 1u16..=30)
                .prop_map(|(s, len)| open(&format!("{}-{}", hhmm(s), hhmm(s + len)))),
        ];
        proptest::array::uniform7(day).prop_map(|week| Calendar {
            week,
            closed_holidays: Holiday::ALL.into_iter().collect(),
            closed_days: BTreeSet::new(),
            special_days: BTreeMap::new(),
        })
    }

    /// A calendar whose extra closed days and special days are given relative to the instants
    /// of a test case (random dates across 50 years would hardly ever be reached).
    #[derive(Debug, Clone)]
    struct CalendarSpec {
        base: Calendar,
        closed_days: Vec<u64>,
        special_days: Vec<(u64, DayHours)>,
    }

    impl CalendarSpec {
        /// The calendar, with its extra days counted from the local date of `near`.
        fn near(&self, near: DateTime<Utc>) -> Calendar {
            let day0 = local_date(near);
            let mut cal = self.base.clone();
            cal.closed_days
                .extend(self.closed_days.iter().map(|&n| day0 + Days::new(n)));
            cal.special_days.extend(
                self.special_days
                    .iter()
                    .map(|(n, h)| (day0 + Days::new(*n), h.clone())),
            );
            cal
        }
    }

    /// A base calendar with up to three extra closed days and three special days in the next
    /// six weeks.
    fn with_extra_days(
        base: impl Strategy<Value = Calendar>,
    ) -> impl Strategy<Value = CalendarSpec> {
        (
            base,
            prop::collection::vec(0u64..42, 0..=3),
            prop::collection::vec((0u64..42, day_hours()), 0..=3),
        )
            .prop_map(|(base, closed_days, special_days)| CalendarSpec {
                base,
                closed_days,
                special_days,
            })
    }

    /// The default calendar (a quarter of the cases) or random weekly hours and holidays.
    fn calendar() -> impl Strategy<Value = CalendarSpec> {
        with_extra_days(prop_oneof![1 => Just(Calendar::default()), 3 => random_week()])
    }

    /// As `calendar`, and now and then a mostly closed week where `add` may give up (slow, so
    /// only for the round trip).
    fn calendar_or_sparse() -> impl Strategy<Value = CalendarSpec> {
        with_extra_days(prop_oneof![
            2 => Just(Calendar::default()),
            5 => random_week(),
            1 => sparse_week(),
        ])
    }

    /// Periods where business time is easy to get wrong.
    #[derive(Debug, Clone, Copy)]
    enum Period {
        SpringForward,
        FallBack,
        YearEnd,
        Easter,
        Midsommar,
    }

    impl Period {
        const ALL: [Period; 5] = [
            Period::SpringForward,
            Period::FallBack,
            Period::YearEnd,
            Period::Easter,
            Period::Midsommar,
        ];

        /// The first local date of a week-long window around the period in `year`.
        fn window(self, year: i32) -> NaiveDate {
            match self {
                Period::SpringForward => last_sunday(year, 3) - Days::new(3),
                Period::FallBack => last_sunday(year, 10) - Days::new(3),
                // 29 December to 4 January.
                Period::YearEnd => date(year, 12, 29),
                // The Wednesday before långfredagen to the Tuesday after Easter.
                Period::Easter => Holiday::Langfredagen.date(year) - Days::new(2),
                // The Wednesday before midsommarafton to the Tuesday after.
                Period::Midsommar => Holiday::Midsommarafton.date(year) - Days::new(2),
            }
        }
    }

    /// An instant in the week around a DST change, a year end, Easter or midsommar, 2000–2050.
    fn instant_in_period() -> impl Strategy<Value = DateTime<Utc>> {
        (
            select(Period::ALL.to_vec()),
            2000i32..=2050,
            0i64..7 * 86_400,
        )
            .prop_map(|(p, y, s)| instant(p.window(y), 0) + TimeDelta::seconds(s))
    }

    /// An instant in 2000–2050, half of them in a tricky period; a third on a whole minute (like
    /// the opening hours).
    fn any_instant() -> impl Strategy<Value = DateTime<Utc>> {
        let uniform = (utc(2000, 1, 1, 0, 0).timestamp()..utc(2051, 1, 1, 0, 0).timestamp())
            .prop_map(|s| DateTime::from_timestamp(s, 0).unwrap());
        (prop_oneof![uniform, instant_in_period()], 0..3).prop_map(|(t, k)| {
            if k == 0 {
                t - TimeDelta::seconds(t.timestamp().rem_euclid(60))
            } else {
                t
            }
        })
    }

    /// 0..=200 business hours in seconds, biased to whole hours and to very short times.
    fn business_time() -> impl Strategy<Value = TimeDelta> {
        prop_oneof![
            3 => 0i64..=200 * 3600,
            1 => (0i64..=200).prop_map(|h| h * 3600),
            1 => 0i64..=120,
        ]
        .prop_map(TimeDelta::seconds)
    }

    /// `between(a, add(a, d)) == d`; when `add` gives up, there really is less than `d` of open
    /// time in the `MAX_DAYS` local days it looked at.
    fn check_round_trip(
        cal: &Calendar,
        a: DateTime<Utc>,
        d: TimeDelta,
    ) -> Result<(), TestCaseError> {
        match cal.add(a, d) {
            Some(b) => {
                prop_assert!(b >= a, "add({a}, {d}) = {b} is before {a}");
                prop_assert_eq!(cal.between(a, b), d, "from {} to {}", a, b);
            }
            None => {
                let horizon = instant(local_date(a) + Days::new(u64::from(MAX_DAYS)), 0);
                let open = cal.between(a, horizon);
                prop_assert!(
                    open < d,
                    "add({a}, {d}) gave up with {open} open before {horizon}"
                );
            }
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Business time added to an instant and counted again from it is what was added.
        #[test]
        fn between_undoes_add(
            spec in calendar_or_sparse(),
            a in any_instant(),
            d in business_time(),
        ) {
            check_round_trip(&spec.near(a), a, d)?;
        }

        /// The default calendar always finds a deadline, and counts back to it exactly.
        #[test]
        fn between_undoes_add_in_the_default_calendar(
            a in any_instant(),
            d in business_time(),
        ) {
            let cal = Calendar::default();
            prop_assert_eq!(cal.between(a, cal.add(a, d).unwrap()), d);
        }

        /// Around DST changes, year ends, Easter and midsommar the round trip holds too.
        #[test]
        fn between_undoes_add_around_dst_year_end_easter_and_midsommar(
            spec in calendar(),
            a in instant_in_period(),
            d in business_time(),
        ) {
            check_round_trip(&spec.near(a), a, d)?;
        }

        /// More business time never gives an earlier deadline, and a deadline is never before
        /// the ticket came in.
        #[test]
        fn add_is_monotonic_and_never_goes_back(
            spec in calendar(),
            a in any_instant(),
            d1 in business_time(),
            d2 in business_time(),
        ) {
            let cal = spec.near(a);
            let (short, long) = (d1.min(d2), d1.max(d2));
            let (r_short, r_long) = (cal.add(a, short), cal.add(a, long));
            prop_assert!(r_long.is_none() || r_short.is_some());
            if let Some(r_short) = r_short {
                prop_assert!(a <= r_short);
                if let Some(r_long) = r_long {
                    prop_assert!(r_short <= r_long);
                    if short < long {
                        prop_assert!(r_short < r_long);
                    }
                }
            }
        }

        /// Open time over consecutive periods adds up, and never exceeds the time that passed.
        #[test]
        fn between_is_additive(
            spec in calendar(),
            a in any_instant(),
            x in prop_oneof![1 => Just(0i64), 4 => 0i64..=21 * 86_400],
            y in prop_oneof![1 => Just(0i64), 4 => 0i64..=21 * 86_400],
        ) {
            let cal = spec.near(a);
            let b = a + TimeDelta::seconds(x);
            let c = b + TimeDelta::seconds(y);
            let (ab, bc, ac) = (cal.between(a, b), cal.between(b, c), cal.between(a, c));
            prop_assert_eq!(ab + bc, ac);
            prop_assert!(zero() <= ab && ab <= b - a);
            prop_assert!(zero() <= bc && bc <= c - b);
            // Backwards is no time at all.
            prop_assert_eq!(cal.between(c, a), zero());
        }

        /// A deadline is reached while the queue is open: the second before it was open time,
        /// on a local date with opening hours.
        #[test]
        fn a_deadline_falls_in_open_time(
            spec in calendar(),
            a in any_instant(),
            d in business_time().prop_filter("more than zero", |d| *d > TimeDelta::zero()),
        ) {
            let cal = spec.near(a);
            if let Some(r) = cal.add(a, d) {
                let second = TimeDelta::seconds(1);
                prop_assert_eq!(cal.between(r - second, r), second);
                prop_assert!(!cal.hours_on(local_date(r - second)).is_closed());
            }
        }

        /// The deadline for all the open time up to `b` is the last open moment at or before
        /// `b`: nothing is open between them (so a deadline at closing time is not pushed to
        /// the next opening).
        #[test]
        fn the_deadline_for_the_open_time_up_to_b_is_at_or_before_b(
            spec in calendar(),
            a in any_instant(),
            x in 0i64..=21 * 86_400,
        ) {
            let cal = spec.near(a);
            let b = a + TimeDelta::seconds(x);
            let d = cal.between(a, b);
            let r = cal.add(a, d);
            prop_assert!(r.is_some());
            let r = r.unwrap();
            prop_assert!(a <= r && r <= b, "add({}, {}) = {} not in [{}, {}]", a, d, r, a, b);
            prop_assert_eq!(cal.between(a, r), d);
            prop_assert_eq!(cal.between(r, b), zero());
            if d > zero() {
                let second = TimeDelta::seconds(1);
                prop_assert_eq!(cal.between(r - second, r), second);
            }
        }

        /// Extending a deadline by `d2` continues from the old deadline.
        #[test]
        fn add_continues_from_an_earlier_deadline(
            spec in calendar(),
            a in any_instant(),
            d1 in business_time(),
            d2 in business_time(),
        ) {
            let cal = spec.near(a);
            if let Some(r) = cal.add(a, d1 + d2) {
                let r1 = cal.add(a, d1);
                prop_assert!(r1.is_some());
                prop_assert_eq!(r1.and_then(|r1| cal.add(r1, d2)), Some(r));
            }
        }

        /// A calendar open around the clock counts real time, DST or not.
        #[test]
        fn an_always_open_calendar_counts_real_time(a in any_instant(), d in business_time()) {
            let cal = every_day("00:00-24:00");
            prop_assert_eq!(cal.add(a, d), Some(a + d));
            prop_assert_eq!(cal.between(a, a + d), d);
        }

        /// Opening hours read back what they write.
        #[test]
        fn day_hours_parse_what_they_display(h in day_hours()) {
            prop_assert_eq!(DayHours::parse(&h.to_string()), Ok(h.clone()));
            let json = serde_json::to_string(&h).unwrap();
            prop_assert_eq!(serde_json::from_str::<DayHours>(&json).unwrap(), h);
        }

        /// Two intervals are accepted exactly when they do not overlap.
        #[test]
        fn day_hours_refuse_overlaps(
            (s1, e1) in (0u16..1440).prop_flat_map(|s| (Just(s), s + 1..=1440)),
            (s2, e2) in (0u16..1440).prop_flat_map(|s| (Just(s), s + 1..=1440)),
        ) {
            let text = format!("{}-{}, {}-{}", hhmm(s1), hhmm(e1), hhmm(s2), hhmm(e2));
            let overlap = s1 < e2 && s2 < e1;
            prop_assert_eq!(DayHours::parse(&text).is_ok(), !overlap, "{}", text);
        }
    }
}
