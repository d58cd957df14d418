//! The filters of `/stats`, its exports and `/api/v1/stats`, as they come in a query string, and
//! their parsing into a `stats::Filter`. Every refusal names its parameter (`InvalidValue`).

use chrono::{Datelike, Days, Months, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::domain::{Channel, FormatKind, InvalidValue, Priority, QueueId, Reason};
use crate::stats::{Filter, Step};

/// The longest period a report covers.
pub const MAX_YEARS: usize = 3;

/// The query string, every parameter optional and kept as typed (to show the form again).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct FilterParams {
    /// A preset (`PRESETS`); ignored when `start` or `end` is given.
    #[serde(default)]
    pub period: String,
    /// First day, `YYYY-MM-DD`.
    #[serde(default)]
    pub start: String,
    /// Last day, `YYYY-MM-DD` (inclusive).
    #[serde(default)]
    pub end: String,
    /// A queue id.
    #[serde(default)]
    pub queue: String,
    #[serde(default)]
    pub channel: String,
    #[serde(default)]
    pub priority: String,
    #[serde(default)]
    pub tag: String,
    /// `day`, `week` or `month`; empty: what suits the period.
    #[serde(default)]
    pub step: String,
}

/// The period presets, in the order the form offers them.
pub const PRESETS: [&str; 7] = [
    "last_7_days",
    "last_30_days",
    "this_month",
    "last_month",
    "last_12_months",
    "this_year",
    "last_year",
];

pub const DEFAULT_PRESET: &str = "last_30_days";

fn first_of_month(d: NaiveDate) -> NaiveDate {
    d.with_day(1).unwrap_or(d)
}

fn first_of_year(d: NaiveDate) -> NaiveDate {
    NaiveDate::from_ymd_opt(d.year(), 1, 1).unwrap_or(d)
}

/// The days of a preset, counted back from `today` (a local day).
pub fn preset(name: &str, today: NaiveDate) -> Option<(NaiveDate, NaiveDate)> {
    let month = first_of_month(today);
    let year = first_of_year(today);
    Some(match name {
        "last_7_days" => (today - Days::new(6), today),
        "last_30_days" => (today - Days::new(29), today),
        "this_month" => (month, today),
        "last_month" => (month - Months::new(1), month - Days::new(1)),
        "last_12_months" => (month - Months::new(12), month - Days::new(1)),
        "this_year" => (year, today),
        "last_year" => (year - Months::new(12), year - Days::new(1)),
        _ => return None,
    })
}

fn opt(s: &str) -> Option<&str> {
    Some(s.trim()).filter(|s| !s.is_empty())
}

fn date(field: &'static str, s: &str) -> Result<NaiveDate, InvalidValue> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|_| InvalidValue::new(field, Reason::format(s.trim(), FormatKind::Date)))
}

impl FilterParams {
    /// The days asked for: `start`–`end` when either is given (then both must be), else the preset.
    pub fn period(&self, today: NaiveDate) -> Result<(NaiveDate, NaiveDate), InvalidValue> {
        let (from, to) = match (opt(&self.start), opt(&self.end)) {
            (None, None) => {
                let name = opt(&self.period).unwrap_or(DEFAULT_PRESET);
                preset(name, today).ok_or_else(|| {
                    InvalidValue::new("period", Reason::not_one_of(name, &PRESETS))
                })?
            }
            (Some(s), Some(e)) => (date("start", s)?, date("end", e)?),
            (None, Some(_)) => return Err(InvalidValue::new("start", Reason::Empty)),
            (Some(_), None) => return Err(InvalidValue::new("end", Reason::Empty)),
        };
        if from > to {
            return Err(InvalidValue::new("end", Reason::PeriodOrder));
        }
        let longest = from
            .checked_add_months(Months::new(12 * MAX_YEARS as u32))
            .unwrap_or(NaiveDate::MAX);
        if to >= longest {
            return Err(InvalidValue::new(
                "end",
                Reason::PeriodTooLong { max: MAX_YEARS },
            ));
        }
        Ok((from, to))
    }

    /// The whole filter. A queue is checked against the viewer's queues by `stats::report`.
    pub fn parse(&self, today: NaiveDate) -> Result<Filter, InvalidValue> {
        let (from, to) = self.period(today)?;
        let queue = opt(&self.queue)
            .map(|q| {
                q.parse::<i64>()
                    .ok()
                    .filter(|id| *id > 0)
                    .map(QueueId::from_db)
                    .ok_or_else(|| InvalidValue::new("queue", Reason::unknown(q)))
            })
            .transpose()?;
        let tag = opt(&self.tag).map(crate::domain::tag::parse).transpose()?;
        let step = match opt(&self.step) {
            None => Step::suited(from, to),
            Some(s) => Step::parse(s).ok_or_else(|| {
                InvalidValue::new("step", Reason::not_one_of(s, &["day", "week", "month"]))
            })?,
        };
        Ok(Filter {
            from,
            to,
            queue,
            channel: opt(&self.channel).map(Channel::parse).transpose()?,
            priority: opt(&self.priority).map(Priority::parse).transpose()?,
            tag,
            step,
        })
    }

    /// The same filters as a query string (for export links), with the period written out.
    pub fn query(&self, f: &Filter) -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        q.append_pair("start", &f.from.to_string())
            .append_pair("end", &f.to.to_string());
        for (k, v) in [
            ("queue", &self.queue),
            ("channel", &self.channel),
            ("priority", &self.priority),
            ("tag", &self.tag),
            ("step", &self.step),
        ] {
            if let Some(v) = opt(v) {
                q.append_pair(k, v);
            }
        }
        q.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn params(start: &str, end: &str) -> FilterParams {
        FilterParams {
            start: start.into(),
            end: end.into(),
            ..Default::default()
        }
    }

    #[test]
    fn presets_are_whole_local_days() {
        let today = day("2026-03-15");
        let p = |n| preset(n, today).unwrap();
        assert_eq!(p("last_7_days"), (day("2026-03-09"), today));
        assert_eq!(p("last_30_days"), (day("2026-02-14"), today));
        assert_eq!(p("this_month"), (day("2026-03-01"), today));
        assert_eq!(p("last_month"), (day("2026-02-01"), day("2026-02-28")));
        assert_eq!(p("last_12_months"), (day("2025-03-01"), day("2026-02-28")));
        assert_eq!(p("this_year"), (day("2026-01-01"), today));
        assert_eq!(p("last_year"), (day("2025-01-01"), day("2025-12-31")));
        assert_eq!(preset("forever", today), None);
    }

    #[test]
    fn bad_input_names_its_parameter() {
        let today = day("2026-03-15");
        let field = |p: FilterParams| p.parse(today).unwrap_err().field;
        assert_eq!(field(params("2026-02-30", "2026-03-01")), "start");
        assert_eq!(field(params("2026-03-01", "igår")), "end");
        assert_eq!(field(params("2026-03-02", "2026-03-01")), "end");
        assert_eq!(field(params("2020-01-01", "2023-01-01")), "end");
        assert_eq!(field(params("", "2026-03-01")), "start");
        let bad = |k: &str, v: &str| {
            let mut p = FilterParams::default();
            match k {
                "queue" => p.queue = v.into(),
                "channel" => p.channel = v.into(),
                "priority" => p.priority = v.into(),
                "step" => p.step = v.into(),
                _ => p.period = v.into(),
            }
            field(p)
        };
        assert_eq!(bad("queue", "kundtjanst"), "queue");
        assert_eq!(bad("channel", "brevduva"), "channel");
        assert_eq!(bad("priority", "mycket"), "priority");
        assert_eq!(bad("step", "year"), "step");
        assert_eq!(bad("period", "forever"), "period");
    }

    #[test]
    fn a_custom_period_and_its_step() {
        let f = params("2020-01-01", "2022-12-31")
            .parse(day("2026-03-15"))
            .unwrap();
        assert_eq!(
            (f.from, f.to, f.step),
            (day("2020-01-01"), day("2022-12-31"), Step::Month)
        );
        let f = params("2026-03-01", "2026-03-01")
            .parse(day("2026-03-15"))
            .unwrap();
        assert_eq!(f.step, Step::Day);
        let mut p = params("2026-01-01", "2026-03-01");
        p.step = "day".into();
        p.tag = " Parkering ".into();
        let f = p.parse(day("2026-03-15")).unwrap();
        assert_eq!((f.step, f.tag.as_deref()), (Step::Day, Some("parkering")));
        assert_eq!(
            p.query(&f),
            "start=2026-01-01&end=2026-03-01&tag=Parkering&step=day"
        );
    }
}
