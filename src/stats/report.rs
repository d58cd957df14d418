//! The statistics report: every figure of `/stats`, its exports and `/api/v1/stats`, for a
//! period and filters, from the aggregates (or, for a tag, a channel or a priority, from the
//! cells of the tickets concerned — the aggregates keep times and series per queue only).

use std::collections::{BTreeMap, HashMap};

use chrono::{Datelike, Days, Months, NaiveDate, NaiveDateTime};
use serde::Serialize;

use super::follower::decode;
use super::measures::{Cell, Measure, month_of};
use crate::domain::{Channel, Priority, QueueId, TenantId};
use crate::sla::timeline::Target;
use crate::store::stats::{Group, Only, Span};
use crate::store::{self, Conn};

/// How the series are stepped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    Day,
    Week,
    Month,
}

impl Step {
    pub const ALL: [Step; 3] = [Step::Day, Step::Week, Step::Month];

    pub fn as_str(self) -> &'static str {
        match self {
            Step::Day => "day",
            Step::Week => "week",
            Step::Month => "month",
        }
    }

    pub fn parse(s: &str) -> Option<Step> {
        Step::ALL.into_iter().find(|x| x.as_str() == s.trim())
    }

    /// The start of the step a day falls in (weeks begin on Monday).
    pub fn start_of(self, d: NaiveDate) -> NaiveDate {
        match self {
            Step::Day => d,
            Step::Week => d - Days::new(u64::from(d.weekday().num_days_from_monday())),
            Step::Month => month_of(d),
        }
    }

    /// The step that suits a period: days up to a month, weeks up to a quarter, then months.
    pub fn suited(from: NaiveDate, to: NaiveDate) -> Step {
        match (to - from).num_days() + 1 {
            ..=31 => Step::Day,
            32..=92 => Step::Week,
            _ => Step::Month,
        }
    }
}

/// What a report is made for: local days `from..=to` and the filters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Filter {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub queue: Option<QueueId>,
    pub channel: Option<Channel>,
    pub priority: Option<Priority>,
    pub tag: Option<String>,
    pub step: Step,
}

impl Filter {
    /// The period of the same length just before (for comparison).
    pub fn previous(&self) -> (NaiveDate, NaiveDate) {
        let len = (self.to - self.from).num_days() + 1;
        let to = self.from - Days::new(1);
        (to - Days::new((len - 1) as u64), to)
    }

    /// Whether the figures must come from the tickets' cells (filters the aggregates lack).
    fn exact(&self) -> bool {
        self.channel.is_some() || self.priority.is_some() || self.tag.is_some()
    }
}

/// A count now and in the previous period.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Compared {
    pub now: i64,
    pub before: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VolumePoint {
    /// The first day of the step.
    pub start: NaiveDate,
    pub created: i64,
    pub messages_in: i64,
    pub messages_out: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Volume {
    pub series: Vec<VolumePoint>,
    pub created: Compared,
    pub messages_in: Compared,
    pub messages_out: Compared,
    pub by_channel: Vec<(Channel, Compared)>,
    pub by_queue: Vec<(QueueId, Compared)>,
    pub by_priority: Vec<(Priority, Compared)>,
    pub by_tag: Vec<(String, Compared)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BacklogPoint {
    /// The backlog at the end of this day (the last day of the step).
    pub day: NaiveDate,
    pub new: i64,
    pub open: i64,
    pub waiting: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Backlog {
    pub points: Vec<BacklogPoint>,
    /// The oldest ticket open now: its number and when it came in.
    pub oldest_open: Option<(String, NaiveDateTime)>,
}

/// Which time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeKind {
    FirstResponse,
    NextResponse,
    Resolution,
}

/// Counted in the queue's opening hours, or on the calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    Business,
    Calendar,
}

const TIMES: [(TimeKind, Basis, Measure); 6] = [
    (
        TimeKind::FirstResponse,
        Basis::Business,
        Measure::FirstResponseBusiness,
    ),
    (
        TimeKind::FirstResponse,
        Basis::Calendar,
        Measure::FirstResponseCalendar,
    ),
    (
        TimeKind::NextResponse,
        Basis::Business,
        Measure::NextResponseBusiness,
    ),
    (
        TimeKind::NextResponse,
        Basis::Calendar,
        Measure::NextResponseCalendar,
    ),
    (
        TimeKind::Resolution,
        Basis::Business,
        Measure::ResolutionBusiness,
    ),
    (
        TimeKind::Resolution,
        Basis::Calendar,
        Measure::ResolutionCalendar,
    ),
];

/// Median and 90th percentile (nearest rank, seconds, the lower bound of their step).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimeRow {
    pub kind: TimeKind,
    pub basis: Basis,
    pub n: i64,
    pub median: Option<i64>,
    pub p90: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Times {
    pub rows: Vec<TimeRow>,
    pub per_queue: Vec<(QueueId, Vec<TimeRow>)>,
}

/// KKiK: e-mailed questions of a month and how many a person answered within a working day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KkikRow {
    pub month: NaiveDate,
    /// None: the whole municipality (the queues shown).
    pub queue: Option<QueueId>,
    pub asked: i64,
    pub in_day: i64,
}

impl KkikRow {
    pub fn percent(&self) -> Option<i64> {
        percent(self.in_day, self.asked)
    }
}

/// Whole percent, rounded half up; None of nothing.
pub fn percent(part: i64, of: i64) -> Option<i64> {
    (of > 0).then(|| (part * 200 + of) / (2 * of))
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SlaRow {
    pub target: Target,
    /// None: all queues (or all priorities).
    pub queue: Option<QueueId>,
    pub priority: Option<Priority>,
    pub met: i64,
    pub in_time: i64,
    pub warned: i64,
    pub breached: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FirstContactRow {
    pub queue: Option<QueueId>,
    pub resolved: i64,
    pub first_contact: i64,
    pub with_article: i64,
    pub reopened: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AnswerRow {
    pub queue: QueueId,
    pub sent: i64,
    pub answered: i64,
    /// Calendar time to the answer (seconds, lower bound of the step).
    pub median: Option<i64>,
    pub p90: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Flow {
    /// (from queue, to queue, transfers)
    pub transfers: Vec<(QueueId, QueueId, i64)>,
    pub referrals: Vec<AnswerRow>,
    pub escalations: Vec<AnswerRow>,
}

/// An article or a tag and how often, now and before.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ranked {
    pub key: String,
    pub title: String,
    pub n: i64,
    pub before: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnansweredQuestion {
    pub number: String,
    pub subject: String,
    pub queue: QueueId,
    pub resolved_day: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Topics {
    pub articles: Vec<Ranked>,
    pub tags: Vec<Ranked>,
    /// Resolved without an article: how many, their tags, the latest of them.
    pub resolved_without_article: i64,
    pub unanswered_tags: Vec<Ranked>,
    pub unanswered: Vec<UnansweredQuestion>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgentRow {
    pub user: i64,
    pub name: String,
    pub resolved: i64,
    pub replies: i64,
    /// Business time from the question to this agent's answer.
    pub median_response: Option<i64>,
}

/// Every figure of the statistics page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub filter: Filter,
    pub previous: (NaiveDate, NaiveDate),
    /// The queues the report covers (the viewer's), by name.
    pub queues: Vec<(QueueId, String)>,
    pub volume: Volume,
    pub backlog: Backlog,
    pub times: Times,
    pub kkik: Vec<KkikRow>,
    pub sla: Vec<SlaRow>,
    pub first_contact: Vec<FirstContactRow>,
    pub flow: Flow,
    pub topics: Topics,
    /// New tickets per weekday (Monday first) and hour, local time.
    pub hours: Vec<Vec<i64>>,
    /// Per agent, when the municipality has turned it on.
    pub agents: Option<Vec<AgentRow>>,
}

// ---- the sums a report is made from ----

const SERIES: [Measure; 6] = [
    Measure::Created,
    Measure::MessagesIn,
    Measure::MessagesOut,
    Measure::NewDelta,
    Measure::OpenDelta,
    Measure::WaitingDelta,
];

/// Summed counters and series for one period.
#[derive(Default)]
struct Sums {
    places: HashMap<(i64, Channel, Priority), Vec<i64>>,
    /// Per day (or month start, from monthly rows): the series measures.
    days: BTreeMap<NaiveDate, [i64; 6]>,
    keyed: HashMap<(i64, Measure, String), i64>,
    /// Backlog deltas before the period: the backlog it starts with.
    baseline: [i64; 3],
    /// KKiK per (day or month start, queue): (asked, answered within a working day).
    kkik_days: BTreeMap<(NaiveDate, i64), (i64, i64)>,
}

impl Sums {
    fn counter(&self, m: Measure, pick: impl Fn(i64, Channel, Priority) -> bool) -> i64 {
        self.places
            .iter()
            .filter(|((q, c, p), _)| pick(*q, *c, *p))
            .map(|(_, v)| v[m.index()])
            .sum()
    }

    fn keyed_of(&self, m: Measure) -> impl Iterator<Item = (i64, &str, i64)> {
        self.keyed
            .iter()
            .filter(move |((_, x, _), _)| *x == m)
            .map(|((q, _, k), n)| (*q, k.as_str(), *n))
    }

    fn add_cell(&mut self, c: &Cell, from: NaiveDate, to: NaiveDate) {
        if c.day < from {
            if let Some(i) = [Measure::NewDelta, Measure::OpenDelta, Measure::WaitingDelta]
                .iter()
                .position(|m| *m == c.measure)
            {
                self.baseline[i] += c.n;
            }
            return;
        }
        if c.day > to {
            return;
        }
        if c.measure.is_counter() {
            let row = self
                .places
                .entry((c.queue.get(), c.channel, c.priority))
                .or_insert_with(|| vec![0; Measure::COUNTERS]);
            row[c.measure.index()] += c.n;
            if let Some(i) = SERIES.iter().position(|m| *m == c.measure) {
                self.days.entry(c.day).or_default()[i] += c.n;
            }
            let kkik = self.kkik_days.entry((c.day, c.queue.get()));
            match c.measure {
                Measure::MailQuestions => kkik.or_default().0 += c.n,
                Measure::MailAnsweredInDay => kkik.or_default().1 += c.n,
                _ => {}
            }
        } else {
            *self
                .keyed
                .entry((c.queue.get(), c.measure, c.key.clone()))
                .or_default() += c.n;
        }
    }
}

/// Whole months inside `from..=to` from the monthly rows, the rest from the daily rows.
fn spans(from: NaiveDate, to: NaiveDate) -> Vec<Span> {
    let mut out = vec![];
    let first_whole = if from.day() == 1 {
        from
    } else {
        month_of(from) + Months::new(1)
    };
    let after_last_whole = month_of(to + Days::new(1));
    if first_whole < after_last_whole {
        out.push(Span {
            grain: "m",
            from: first_whole,
            to: after_last_whole - Days::new(1),
        });
        if from < first_whole {
            out.push(Span {
                grain: "d",
                from,
                to: first_whole - Days::new(1),
            });
        }
        if after_last_whole <= to {
            out.push(Span {
                grain: "d",
                from: after_last_whole,
                to,
            });
        }
    } else {
        out.push(Span {
            grain: "d",
            from,
            to,
        });
    }
    out
}

fn counter_columns() -> Vec<&'static str> {
    Measure::ALL[..Measure::COUNTERS]
        .iter()
        .map(|m| m.name())
        .collect()
}

const KEYED: [Measure; 16] = [
    Measure::FirstResponseBusiness,
    Measure::FirstResponseCalendar,
    Measure::NextResponseBusiness,
    Measure::NextResponseCalendar,
    Measure::ResolutionBusiness,
    Measure::ResolutionCalendar,
    Measure::ReferralAnswer,
    Measure::EscalationAnswer,
    Measure::Transfer,
    Measure::Article,
    Measure::Tag,
    Measure::UnansweredTag,
    Measure::Hour,
    Measure::AgentReplies,
    Measure::AgentResolved,
    Measure::AgentResponse,
];

/// Sums for a period from the aggregates. `series` also reads the per-day series (and the
/// backlog it starts with); the previous period needs neither.
/// What of the aggregates a period needs besides the counters.
#[derive(Clone, Copy)]
struct Reads {
    step: Step,
    /// The per-day series, the backlog it starts with, KKiK and every keyed series (the
    /// previous period needs only articles and tags).
    series: bool,
    agents: bool,
}

fn from_aggregates(
    c: &mut Conn,
    t: TenantId,
    (from, to): (NaiveDate, NaiveDate),
    queues: &[i64],
    reads: Reads,
) -> store::StoreResult<Sums> {
    let Reads {
        step,
        series,
        agents,
    } = reads;
    let cols = counter_columns();
    let only = Only {
        queues: Some(queues.to_vec()),
        ..Default::default()
    };
    let sp = spans(from, to);
    let mut s = Sums::default();
    for r in store::stats::sum_days(c, t, &cols, &sp, &only, Group::Place)? {
        let (Ok(ch), Ok(p)) = (Channel::parse(&r.channel), Priority::parse(&r.priority)) else {
            continue;
        };
        s.places.insert((r.queue, ch, p), r.counts);
    }
    let measures: Vec<&str> = KEYED
        .iter()
        .filter(|m| {
            agents
                || !matches!(
                    m,
                    Measure::AgentReplies | Measure::AgentResolved | Measure::AgentResponse
                )
        })
        .filter(|m| series || matches!(m, Measure::Article | Measure::Tag | Measure::UnansweredTag))
        .map(|m| m.name())
        .collect();
    for (q, m, k, n) in store::stats::sum_keyed(c, t, &measures, &sp, &only)? {
        if let Some(m) = Measure::parse(&m) {
            s.keyed.insert((q, m, k), n);
        }
    }
    if series {
        let series_cols: Vec<&str> = SERIES.iter().map(|m| m.name()).collect();
        let day_spans = match step {
            Step::Month => sp.clone(),
            _ => vec![Span {
                grain: "d",
                from,
                to,
            }],
        };
        for r in store::stats::sum_days(c, t, &series_cols, &day_spans, &only, Group::Day)? {
            if let Some(d) = r.day {
                let e = s.days.entry(d).or_default();
                for (i, n) in r.counts.iter().enumerate().take(6) {
                    e[i] += n;
                }
            }
        }
        let kkik_cols = [
            Measure::MailQuestions.name(),
            Measure::MailAnsweredInDay.name(),
        ];
        for r in store::stats::sum_days(c, t, &kkik_cols, &sp, &only, Group::DayQueue)? {
            if let Some(d) = r.day {
                let e = s.kkik_days.entry((d, r.queue)).or_default();
                e.0 += r.counts.first().copied().unwrap_or(0);
                e.1 += r.counts.get(1).copied().unwrap_or(0);
            }
        }
        let backlog_cols = ["new_delta", "open_delta", "waiting_delta"];
        let before = [
            Span {
                grain: "m",
                from: NaiveDate::MIN,
                to: month_of(from) - Days::new(1),
            },
            Span {
                grain: "d",
                from: month_of(from),
                to: from - Days::new(1),
            },
        ];
        let before: Vec<Span> = before.into_iter().filter(|s| s.from <= s.to).collect();
        for r in store::stats::sum_days(c, t, &backlog_cols, &before, &only, Group::Place)? {
            for (i, n) in r.counts.iter().enumerate().take(3) {
                s.baseline[i] += n;
            }
        }
    }
    Ok(s)
}

/// Sums for the period and the one before from the cells of the tickets the filters select.
fn from_cells(
    c: &mut Conn,
    t: TenantId,
    f: &Filter,
    queues: &[i64],
) -> crate::error::Result<(Sums, Sums)> {
    let (pf, pt) = f.previous();
    let texts = store::stats::cells_for(
        c,
        t,
        pf,
        f.to,
        f.channel.map(Channel::as_str),
        f.tag.as_deref(),
    )?;
    let (mut now, mut before) = (Sums::default(), Sums::default());
    for text in texts {
        for cell in decode(&text)? {
            if !queues.contains(&cell.queue.get()) || f.priority.is_some_and(|p| p != cell.priority)
            {
                continue;
            }
            now.add_cell(&cell, f.from, f.to);
            before.add_cell(&cell, pf, pt);
        }
    }
    Ok((now, before))
}

// ---- figures ----

/// Nearest-rank percentile of a histogram of (step, count).
fn percentile(hist: &BTreeMap<i64, i64>, p: i64) -> Option<i64> {
    let n: i64 = hist.values().sum();
    if n <= 0 {
        return None;
    }
    let rank = (n * p + 99) / 100;
    let mut seen = 0;
    for (step, count) in hist {
        seen += count;
        if seen >= rank {
            return Some(*step);
        }
    }
    hist.keys().next_back().copied()
}

fn histogram<'a>(
    rows: impl Iterator<Item = (i64, &'a str, i64)>,
    queue: Option<i64>,
) -> BTreeMap<i64, i64> {
    let mut h = BTreeMap::new();
    for (q, k, n) in rows {
        if queue.is_none_or(|x| x == q)
            && let Ok(step) = k.parse::<i64>()
        {
            *h.entry(step).or_default() += n;
        }
    }
    h
}

fn time_rows(s: &Sums, queue: Option<i64>) -> Vec<TimeRow> {
    TIMES
        .iter()
        .map(|(kind, basis, m)| {
            let h = histogram(s.keyed_of(*m), queue);
            TimeRow {
                kind: *kind,
                basis: *basis,
                n: h.values().sum(),
                median: percentile(&h, 50),
                p90: percentile(&h, 90),
            }
        })
        .collect()
}

fn volume(now: &Sums, before: &Sums, f: &Filter, queues: &[i64]) -> Volume {
    let cmp = |m: Measure, pick: &dyn Fn(i64, Channel, Priority) -> bool| Compared {
        now: now.counter(m, pick),
        before: before.counter(m, pick),
    };
    let mut series: BTreeMap<NaiveDate, VolumePoint> = BTreeMap::new();
    let mut d = f.step.start_of(f.from);
    while d <= f.to {
        series.insert(
            d,
            VolumePoint {
                start: d,
                created: 0,
                messages_in: 0,
                messages_out: 0,
            },
        );
        d = match f.step {
            Step::Day => d + Days::new(1),
            Step::Week => d + Days::new(7),
            Step::Month => d + Months::new(1),
        };
    }
    for (day, v) in &now.days {
        if let Some(p) = series.get_mut(&f.step.start_of(*day)) {
            p.created += v[0];
            p.messages_in += v[1];
            p.messages_out += v[2];
        }
    }
    let tag_now = ranked_keys(now, Measure::Tag);
    let tag_before = ranked_keys(before, Measure::Tag);
    let mut by_tag: Vec<(String, Compared)> = tag_now
        .iter()
        .map(|(k, n)| {
            (
                k.clone(),
                Compared {
                    now: *n,
                    before: tag_before.get(k).copied().unwrap_or(0),
                },
            )
        })
        .collect();
    by_tag.sort_by(|a, b| b.1.now.cmp(&a.1.now).then(a.0.cmp(&b.0)));
    Volume {
        series: series.into_values().collect(),
        created: cmp(Measure::Created, &|_, _, _| true),
        messages_in: cmp(Measure::MessagesIn, &|_, _, _| true),
        messages_out: cmp(Measure::MessagesOut, &|_, _, _| true),
        by_channel: Channel::ALL
            .iter()
            .map(|ch| (*ch, cmp(Measure::Created, &|_, c, _| c == *ch)))
            .collect(),
        by_queue: queues
            .iter()
            .map(|q| {
                (
                    QueueId::from_db(*q),
                    cmp(Measure::Created, &|x, _, _| x == *q),
                )
            })
            .collect(),
        by_priority: Priority::ALL
            .iter()
            .map(|p| (*p, cmp(Measure::Created, &|_, _, x| x == *p)))
            .collect(),
        by_tag,
    }
}

fn ranked_keys(s: &Sums, m: Measure) -> HashMap<String, i64> {
    let mut out: HashMap<String, i64> = HashMap::new();
    for (_, k, n) in s.keyed_of(m) {
        *out.entry(k.to_string()).or_default() += n;
    }
    out
}

fn backlog(s: &Sums, f: &Filter) -> Vec<BacklogPoint> {
    let mut level = s.baseline;
    let mut points = vec![];
    let mut days = s.days.iter().peekable();
    let mut d = f.from;
    while d <= f.to {
        // Monthly rows sit on the month's first day: they are whole inside the period.
        while let Some((day, v)) = days.peek() {
            if **day > d {
                break;
            }
            for i in 0..3 {
                level[i] += v[3 + i];
            }
            days.next();
        }
        let next = d + Days::new(1);
        if next > f.to || f.step.start_of(next) != f.step.start_of(d) {
            points.push(BacklogPoint {
                day: d,
                new: level[0],
                open: level[1],
                waiting: level[2],
            });
        }
        d = next;
    }
    points
}

fn kkik(queues: &[i64], cells_by_month: &BTreeMap<(NaiveDate, i64), (i64, i64)>) -> Vec<KkikRow> {
    let mut out = vec![];
    let months: Vec<NaiveDate> = {
        let mut m: Vec<NaiveDate> = cells_by_month.keys().map(|(m, _)| *m).collect();
        m.dedup();
        m
    };
    for m in months {
        let (mut asked, mut in_day) = (0, 0);
        for q in queues {
            if let Some((a, d)) = cells_by_month.get(&(m, *q)) {
                out.push(KkikRow {
                    month: m,
                    queue: Some(QueueId::from_db(*q)),
                    asked: *a,
                    in_day: *d,
                });
                asked += a;
                in_day += d;
            }
        }
        out.push(KkikRow {
            month: m,
            queue: None,
            asked,
            in_day,
        });
    }
    out
}

fn sla(s: &Sums, queues: &[i64]) -> Vec<SlaRow> {
    let mut out = vec![];
    for target in Target::ALL {
        let [met, in_time, warned, breached] = Measure::sla(target);
        let row = |q: Option<i64>, p: Option<Priority>| {
            let pick = |x: i64, _: Channel, y: Priority| {
                q.is_none_or(|q| q == x) && p.is_none_or(|p| p == y)
            };
            SlaRow {
                target,
                queue: q.map(QueueId::from_db),
                priority: p,
                met: s.counter(met, pick),
                in_time: s.counter(in_time, pick),
                warned: s.counter(warned, pick),
                breached: s.counter(breached, pick),
            }
        };
        out.push(row(None, None));
        for p in Priority::ALL {
            out.push(row(None, Some(*p)));
        }
        for q in queues {
            out.push(row(Some(*q), None));
            for p in Priority::ALL {
                out.push(row(Some(*q), Some(*p)));
            }
        }
    }
    out.retain(|r| {
        r.met + r.warned + r.breached > 0 || (r.queue.is_none() && r.priority.is_none())
    });
    out
}

fn first_contact(s: &Sums, queues: &[i64]) -> Vec<FirstContactRow> {
    let row = |q: Option<i64>| {
        let pick = |x: i64, _: Channel, _: Priority| q.is_none_or(|q| q == x);
        FirstContactRow {
            queue: q.map(QueueId::from_db),
            resolved: s.counter(Measure::Resolved, pick),
            first_contact: s.counter(Measure::ResolvedFirstContact, pick),
            with_article: s.counter(Measure::ResolvedWithArticle, pick),
            reopened: s.counter(Measure::ResolvedReopened, pick),
        }
    };
    let mut out = vec![row(None)];
    out.extend(queues.iter().map(|q| row(Some(*q))));
    out
}

fn answers(
    s: &Sums,
    queues: &[i64],
    sent: Measure,
    answered: Measure,
    times: Measure,
) -> Vec<AnswerRow> {
    queues
        .iter()
        .map(|q| {
            let pick = |x: i64, _: Channel, _: Priority| x == *q;
            let h = histogram(s.keyed_of(times), Some(*q));
            AnswerRow {
                queue: QueueId::from_db(*q),
                sent: s.counter(sent, pick),
                answered: s.counter(answered, pick),
                median: percentile(&h, 50),
                p90: percentile(&h, 90),
            }
        })
        .filter(|r| r.sent + r.answered > 0)
        .collect()
}

fn flow(s: &Sums, queues: &[i64]) -> Flow {
    let mut transfers: Vec<(QueueId, QueueId, i64)> = s
        .keyed_of(Measure::Transfer)
        .filter_map(|(q, k, n)| Some((QueueId::from_db(q), QueueId::from_db(k.parse().ok()?), n)))
        .collect();
    transfers.sort_by_key(|(a, b, _)| (a.get(), b.get()));
    Flow {
        transfers,
        referrals: answers(
            s,
            queues,
            Measure::Referred,
            Measure::ReferralsAnswered,
            Measure::ReferralAnswer,
        ),
        escalations: answers(
            s,
            queues,
            Measure::Escalated,
            Measure::EscalationsAnswered,
            Measure::EscalationAnswer,
        ),
    }
}

fn ranked(now: &Sums, before: &Sums, m: Measure, limit: usize) -> Vec<Ranked> {
    let (n, b) = (ranked_keys(now, m), ranked_keys(before, m));
    let mut out: Vec<Ranked> = n
        .iter()
        .map(|(k, n)| Ranked {
            key: k.clone(),
            title: k.clone(),
            n: *n,
            before: b.get(k).copied().unwrap_or(0),
        })
        .filter(|r| r.n > 0)
        .collect();
    out.sort_by(|a, b| b.n.cmp(&a.n).then(a.key.cmp(&b.key)));
    out.truncate(limit);
    out
}

fn hours(s: &Sums) -> Vec<Vec<i64>> {
    let mut grid = vec![vec![0i64; 24]; 7];
    for (_, k, n) in s.keyed_of(Measure::Hour) {
        if let Ok(i) = k.parse::<usize>()
            && i < 168
        {
            grid[i / 24][i % 24] += n;
        }
    }
    grid
}

fn agents(c: &mut Conn, t: TenantId, s: &Sums) -> store::StoreResult<Vec<AgentRow>> {
    let names: HashMap<i64, String> = store::users::list(c, t)?
        .into_iter()
        .map(|u| (u.id.get(), u.display_name))
        .collect();
    let mut rows: BTreeMap<i64, (i64, i64, BTreeMap<i64, i64>)> = BTreeMap::new();
    for (_, k, n) in s.keyed_of(Measure::AgentReplies) {
        if let Ok(u) = k.parse() {
            rows.entry(u).or_default().1 += n;
        }
    }
    for (_, k, n) in s.keyed_of(Measure::AgentResolved) {
        if let Ok(u) = k.parse() {
            rows.entry(u).or_default().0 += n;
        }
    }
    for (_, k, n) in s.keyed_of(Measure::AgentResponse) {
        if let Some((u, step)) = k.split_once(':')
            && let (Ok(u), Ok(step)) = (u.parse(), step.parse::<i64>())
        {
            *rows.entry(u).or_default().2.entry(step).or_default() += n;
        }
    }
    let mut out: Vec<AgentRow> = rows
        .into_iter()
        .map(|(u, (resolved, replies, h))| AgentRow {
            user: u,
            name: names.get(&u).cloned().unwrap_or_else(|| format!("#{u}")),
            resolved,
            replies,
            median_response: percentile(&h, 50),
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// KKiK per (month, queue): (asked, answered within a working day), by the month the question
/// came in.
fn kkik_months(
    by_day: &BTreeMap<(NaiveDate, i64), (i64, i64)>,
) -> BTreeMap<(NaiveDate, i64), (i64, i64)> {
    let mut out: BTreeMap<(NaiveDate, i64), (i64, i64)> = BTreeMap::new();
    // Aggregate rows whose questions moved away (a late change) sum to nothing: no row for them.
    for ((d, q), (a, i)) in by_day.iter().filter(|(_, (a, i))| *a != 0 || *i != 0) {
        let e = out.entry((month_of(*d), *q)).or_default();
        e.0 += a;
        e.1 += i;
    }
    out
}

/// Everything the report needs that is not in `Sums`, read from the store.
struct Extra {
    oldest_open: Option<(String, NaiveDateTime)>,
    unanswered: Vec<UnansweredQuestion>,
}

/// Build the report for the queues `queues` (the viewer's, already checked).
pub(super) fn build(
    c: &mut Conn,
    t: TenantId,
    f: &Filter,
    queues: &[(QueueId, String)],
    with_agents: bool,
) -> crate::error::Result<Report> {
    let ids: Vec<i64> = queues
        .iter()
        .map(|(q, _)| q.get())
        .filter(|q| f.queue.is_none_or(|x| x.get() == *q))
        .collect();
    let (pf, pt) = f.previous();
    let (now, before) = if f.exact() {
        from_cells(c, t, f, &ids)?
    } else {
        let reads = Reads {
            step: f.step,
            series: true,
            agents: with_agents,
        };
        let now = from_aggregates(c, t, (f.from, f.to), &ids, reads)?;
        let previous = Reads {
            series: false,
            agents: false,
            ..reads
        };
        let before = from_aggregates(c, t, (pf, pt), &ids, previous)?;
        (now, before)
    };
    let extra = Extra {
        oldest_open: store::stats::oldest_open(
            c,
            t,
            &ids,
            f.channel.map(Channel::as_str),
            f.priority.map(Priority::as_str),
        )?,
        unanswered: store::stats::unanswered(
            c,
            t,
            f.from,
            f.to,
            Some(&ids),
            store::stats::Picked {
                channel: f.channel.map(Channel::as_str),
                priority: f.priority.map(Priority::as_str),
                tag: f.tag.as_deref(),
            },
            25,
        )?
        .into_iter()
        .map(|u| UnansweredQuestion {
            number: u.number,
            subject: u.subject,
            queue: QueueId::from_db(u.queue_id),
            resolved_day: u.resolved_day,
        })
        .collect(),
    };
    assemble(c, t, f, queues, &ids, &now, &before, extra, with_agents)
}

#[allow(clippy::too_many_arguments)]
fn assemble(
    c: &mut Conn,
    t: TenantId,
    f: &Filter,
    queues: &[(QueueId, String)],
    ids: &[i64],
    now: &Sums,
    before: &Sums,
    extra: Extra,
    with_agents: bool,
) -> crate::error::Result<Report> {
    let months = kkik_months(&now.kkik_days);
    let mut articles = ranked(now, before, Measure::Article, 20);
    for a in &mut articles {
        if let Some(found) = store::kb::by_slug(c, t, &a.key)? {
            a.title = found.content.title;
        }
    }
    let pick_all = |_: i64, _: Channel, _: Priority| true;
    let resolved = now.counter(Measure::Resolved, pick_all);
    let with_article = now.counter(Measure::ResolvedWithArticle, pick_all);
    Ok(Report {
        filter: f.clone(),
        previous: f.previous(),
        queues: queues.to_vec(),
        volume: volume(now, before, f, ids),
        backlog: Backlog {
            points: backlog(now, f),
            oldest_open: extra.oldest_open,
        },
        times: Times {
            rows: time_rows(now, None),
            per_queue: ids
                .iter()
                .map(|q| (QueueId::from_db(*q), time_rows(now, Some(*q))))
                .filter(|(_, rows)| rows.iter().any(|r| r.n > 0))
                .collect(),
        },
        kkik: kkik(ids, &months),
        sla: sla(now, ids),
        first_contact: first_contact(now, ids),
        flow: flow(now, ids),
        topics: Topics {
            articles,
            tags: ranked(now, before, Measure::Tag, 20),
            resolved_without_article: resolved - with_article,
            unanswered_tags: ranked(now, before, Measure::UnansweredTag, 20),
            unanswered: extra.unanswered,
        },
        hours: hours(now),
        agents: if with_agents {
            Some(agents(c, t, now)?)
        } else {
            None
        },
    })
}
