//! The response types of `GET /api/v1/stats` (D66): every figure of a `stats::Report`, apart from
//! the report's own structs (the `types` rules: stable names, days as `YYYY-MM-DD`, months as
//! `YYYY-MM`, times with their zone, durations in whole seconds, queues by id with their names in
//! `queues`).

use chrono::{Datelike, NaiveDate};
use serde::Serialize;

use super::types::Timestamp;
use crate::domain::{Channel, Priority};
use crate::sla::timeline::Target;
use crate::stats::Report;
use crate::stats::report::{self as r, Basis, TimeKind};

fn month(d: NaiveDate) -> String {
    format!("{:04}-{:02}", d.year(), d.month())
}

#[derive(Debug, Serialize)]
pub struct Period {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub step: &'static str,
    pub previous_from: NaiveDate,
    pub previous_to: NaiveDate,
}

#[derive(Debug, Serialize)]
pub struct Filters {
    pub queue: Option<i64>,
    pub channel: Option<Channel>,
    pub priority: Option<Priority>,
    pub tag: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct QueueName {
    pub id: i64,
    pub name: String,
}

#[derive(Debug, Serialize)]
pub struct Compared {
    pub now: i64,
    pub before: i64,
}

impl From<&r::Compared> for Compared {
    fn from(c: &r::Compared) -> Self {
        Compared {
            now: c.now,
            before: c.before,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Keyed<K: Serialize> {
    pub key: K,
    pub now: i64,
    pub before: i64,
}

fn keyed<K: Serialize + Clone>(rows: &[(K, r::Compared)]) -> Vec<Keyed<K>> {
    rows.iter()
        .map(|(k, c)| Keyed {
            key: k.clone(),
            now: c.now,
            before: c.before,
        })
        .collect()
}

#[derive(Debug, Serialize)]
pub struct VolumePoint {
    pub start: NaiveDate,
    pub created: i64,
    pub messages_in: i64,
    pub messages_out: i64,
}

#[derive(Debug, Serialize)]
pub struct Volume {
    pub series: Vec<VolumePoint>,
    pub created: Compared,
    pub messages_in: Compared,
    pub messages_out: Compared,
    pub by_channel: Vec<Keyed<Channel>>,
    pub by_queue: Vec<Keyed<i64>>,
    pub by_priority: Vec<Keyed<Priority>>,
    pub by_tag: Vec<Keyed<String>>,
}

#[derive(Debug, Serialize)]
pub struct BacklogPoint {
    pub day: NaiveDate,
    pub new: i64,
    pub open: i64,
    pub waiting: i64,
}

#[derive(Debug, Serialize)]
pub struct Oldest {
    pub number: String,
    pub since: Timestamp,
}

#[derive(Debug, Serialize)]
pub struct Backlog {
    pub points: Vec<BacklogPoint>,
    pub oldest_open: Option<Oldest>,
}

#[derive(Debug, Serialize)]
pub struct TimeRow {
    pub kind: TimeKind,
    pub basis: Basis,
    pub n: i64,
    pub median_secs: Option<i64>,
    pub p90_secs: Option<i64>,
}

fn time_rows(rows: &[r::TimeRow]) -> Vec<TimeRow> {
    rows.iter()
        .map(|t| TimeRow {
            kind: t.kind,
            basis: t.basis,
            n: t.n,
            median_secs: t.median,
            p90_secs: t.p90,
        })
        .collect()
}

#[derive(Debug, Serialize)]
pub struct QueueTimes {
    pub queue: i64,
    pub rows: Vec<TimeRow>,
}

#[derive(Debug, Serialize)]
pub struct Times {
    pub overall: Vec<TimeRow>,
    pub per_queue: Vec<QueueTimes>,
}

#[derive(Debug, Serialize)]
pub struct Kkik {
    pub month: String,
    /// None: the municipality (the queues shown).
    pub queue: Option<i64>,
    pub asked: i64,
    pub in_day: i64,
    pub percent: Option<i64>,
}

#[derive(Debug, Serialize)]
pub struct Sla {
    pub target: Target,
    pub queue: Option<i64>,
    pub priority: Option<Priority>,
    pub met: i64,
    pub in_time: i64,
    pub warned: i64,
    pub breached: i64,
}

#[derive(Debug, Serialize)]
pub struct FirstContact {
    pub queue: Option<i64>,
    pub resolved: i64,
    pub first_contact: i64,
    pub with_article: i64,
    pub reopened: i64,
}

#[derive(Debug, Serialize)]
pub struct Transfer {
    pub from: i64,
    pub to: i64,
    pub n: i64,
}

#[derive(Debug, Serialize)]
pub struct Answers {
    pub queue: i64,
    pub sent: i64,
    pub answered: i64,
    pub median_secs: Option<i64>,
    pub p90_secs: Option<i64>,
}

fn answers(rows: &[r::AnswerRow]) -> Vec<Answers> {
    rows.iter()
        .map(|a| Answers {
            queue: a.queue.get(),
            sent: a.sent,
            answered: a.answered,
            median_secs: a.median,
            p90_secs: a.p90,
        })
        .collect()
}

#[derive(Debug, Serialize)]
pub struct Flow {
    pub transfers: Vec<Transfer>,
    pub referrals: Vec<Answers>,
    pub escalations: Vec<Answers>,
}

#[derive(Debug, Serialize)]
pub struct Ranked {
    pub key: String,
    pub title: String,
    pub n: i64,
    pub before: i64,
}

fn ranked(rows: &[r::Ranked]) -> Vec<Ranked> {
    rows.iter()
        .map(|x| Ranked {
            key: x.key.clone(),
            title: x.title.clone(),
            n: x.n,
            before: x.before,
        })
        .collect()
}

#[derive(Debug, Serialize)]
pub struct Unanswered {
    pub number: String,
    pub subject: String,
    pub queue: i64,
    pub resolved_day: String,
}

#[derive(Debug, Serialize)]
pub struct Topics {
    pub articles: Vec<Ranked>,
    pub tags: Vec<Ranked>,
    pub resolved_without_article: i64,
    pub unanswered_tags: Vec<Ranked>,
    pub unanswered: Vec<Unanswered>,
}

#[derive(Debug, Serialize)]
pub struct Agent {
    pub user: i64,
    pub name: String,
    pub replies: i64,
    pub resolved: i64,
    pub median_response_secs: Option<i64>,
}

/// `GET /api/v1/stats`.
#[derive(Debug, Serialize)]
pub struct Stats {
    pub period: Period,
    pub filters: Filters,
    pub queues: Vec<QueueName>,
    pub volume: Volume,
    pub backlog: Backlog,
    pub times: Times,
    pub kkik: Vec<Kkik>,
    pub sla: Vec<Sla>,
    pub first_contact: Vec<FirstContact>,
    pub flow: Flow,
    pub topics: Topics,
    /// New tickets per weekday (Monday first) × local hour.
    pub hours: Vec<Vec<i64>>,
    /// Absent unless the municipality has turned figures per agent on.
    pub agents: Option<Vec<Agent>>,
}

fn volume(v: &r::Volume) -> Volume {
    Volume {
        series: v
            .series
            .iter()
            .map(|p| VolumePoint {
                start: p.start,
                created: p.created,
                messages_in: p.messages_in,
                messages_out: p.messages_out,
            })
            .collect(),
        created: (&v.created).into(),
        messages_in: (&v.messages_in).into(),
        messages_out: (&v.messages_out).into(),
        by_channel: keyed(&v.by_channel),
        by_queue: v
            .by_queue
            .iter()
            .map(|(q, c)| Keyed {
                key: q.get(),
                now: c.now,
                before: c.before,
            })
            .collect(),
        by_priority: keyed(&v.by_priority),
        by_tag: keyed(&v.by_tag),
    }
}

fn backlog(b: &r::Backlog) -> Backlog {
    Backlog {
        points: b
            .points
            .iter()
            .map(|p| BacklogPoint {
                day: p.day,
                new: p.new,
                open: p.open,
                waiting: p.waiting,
            })
            .collect(),
        oldest_open: b.oldest_open.as_ref().map(|(number, since)| Oldest {
            number: number.clone(),
            since: since.and_utc(),
        }),
    }
}

fn rest(rep: &Report) -> (Vec<Sla>, Vec<FirstContact>, Flow, Topics) {
    let sla = rep
        .sla
        .iter()
        .map(|s| Sla {
            target: s.target,
            queue: s.queue.map(|q| q.get()),
            priority: s.priority,
            met: s.met,
            in_time: s.in_time,
            warned: s.warned,
            breached: s.breached,
        })
        .collect();
    let fc = rep
        .first_contact
        .iter()
        .map(|f| FirstContact {
            queue: f.queue.map(|q| q.get()),
            resolved: f.resolved,
            first_contact: f.first_contact,
            with_article: f.with_article,
            reopened: f.reopened,
        })
        .collect();
    let flow = Flow {
        transfers: rep
            .flow
            .transfers
            .iter()
            .map(|(f, t, n)| Transfer {
                from: f.get(),
                to: t.get(),
                n: *n,
            })
            .collect(),
        referrals: answers(&rep.flow.referrals),
        escalations: answers(&rep.flow.escalations),
    };
    let t = &rep.topics;
    let topics = Topics {
        articles: ranked(&t.articles),
        tags: ranked(&t.tags),
        resolved_without_article: t.resolved_without_article,
        unanswered_tags: ranked(&t.unanswered_tags),
        unanswered: t
            .unanswered
            .iter()
            .map(|u| Unanswered {
                number: u.number.clone(),
                subject: u.subject.clone(),
                queue: u.queue.get(),
                resolved_day: u.resolved_day.clone(),
            })
            .collect(),
    };
    (sla, fc, flow, topics)
}

impl From<&Report> for Stats {
    fn from(rep: &Report) -> Self {
        let f = &rep.filter;
        let (sla, first_contact, flow, topics) = rest(rep);
        Stats {
            period: Period {
                from: f.from,
                to: f.to,
                step: f.step.as_str(),
                previous_from: rep.previous.0,
                previous_to: rep.previous.1,
            },
            filters: Filters {
                queue: f.queue.map(|q| q.get()),
                channel: f.channel,
                priority: f.priority,
                tag: f.tag.clone(),
            },
            queues: rep
                .queues
                .iter()
                .map(|(id, name)| QueueName {
                    id: id.get(),
                    name: name.clone(),
                })
                .collect(),
            volume: volume(&rep.volume),
            backlog: backlog(&rep.backlog),
            times: Times {
                overall: time_rows(&rep.times.rows),
                per_queue: rep
                    .times
                    .per_queue
                    .iter()
                    .map(|(q, rows)| QueueTimes {
                        queue: q.get(),
                        rows: time_rows(rows),
                    })
                    .collect(),
            },
            kkik: rep
                .kkik
                .iter()
                .map(|k| Kkik {
                    month: month(k.month),
                    queue: k.queue.map(|q| q.get()),
                    asked: k.asked,
                    in_day: k.in_day,
                    percent: k.percent(),
                })
                .collect(),
            sla,
            first_contact,
            flow,
            topics,
            hours: rep.hours.clone(),
            agents: rep.agents.as_ref().map(|a| {
                a.iter()
                    .map(|a| Agent {
                        user: a.user,
                        name: a.name.clone(),
                        replies: a.replies,
                        resolved: a.resolved,
                        median_response_secs: a.median_response,
                    })
                    .collect()
            }),
        }
    }
}

/// `GET /api/v1/stats/{table}`: one table of the page, as its export has it (durations in whole
/// minutes, shares in whole percent; the column titles name the unit).
#[derive(Debug, Serialize)]
pub struct TableOut {
    pub table: String,
    pub title: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<serde_json::Value>>,
}

impl TableOut {
    pub fn new(slug: &str, t: &crate::text::table::Table) -> TableOut {
        TableOut {
            table: slug.to_string(),
            title: t.title.clone(),
            columns: t.columns.iter().map(|c| c.export_title()).collect(),
            rows: t
                .rows
                .iter()
                .map(|row| {
                    row.iter()
                        .map(|c| match (c.export_number(), c) {
                            (Some(n), _) => serde_json::json!(n),
                            (None, crate::text::table::Cell::Empty) => serde_json::Value::Null,
                            (None, c) => serde_json::json!(c.export_text()),
                        })
                        .collect()
                })
                .collect(),
        }
    }
}
