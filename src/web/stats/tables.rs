//! Every figure of a `Report` as named tables (`text::Table`), grouped in the sections of the
//! page. The page, the CSV and Excel exports all show these same tables, so what a reader sees on
//! the page is what they download.

use std::collections::HashMap;

use chrono::{Datelike, NaiveDate};

use super::charts::{self, Frame};
use crate::domain::QueueId;
use crate::stats::Report;
use crate::stats::report::{AnswerRow, Basis, Compared, Ranked, TimeKind, TimeRow, percent};
use crate::stats::{Step, report::KkikRow};
use crate::text::Templates;
use crate::text::table::{Cell, Column, Table};

/// A table with the name its export goes by (`statistik-<slug>-<from>--<to>.csv`).
pub struct Named {
    pub slug: &'static str,
    pub table: Table,
}

/// A section of the page: heading, one-line definition, charts (SVG), notes and tables.
pub struct Section {
    pub id: &'static str,
    pub title: String,
    pub definition: String,
    pub charts: Vec<String>,
    /// Lines of text under the definition (e.g. the oldest open ticket), with an optional link.
    pub notes: Vec<(String, Option<String>)>,
    pub tables: Vec<Named>,
}

/// The texts of one locale.
pub struct Words {
    pub locale: &'static str,
}

impl Words {
    pub fn t(&self, key: &str) -> String {
        Templates::get().text(self.locale, &format!("stats.{key}"))
    }

    fn col(&self, key: &str) -> Column {
        Column::new(self.t(&format!("col.{key}")))
    }

    fn minutes(&self, key: &str) -> Column {
        Column::with_unit(self.t(&format!("col.{key}")), self.t("unit.minutes"))
    }

    fn share(&self, key: &str) -> Column {
        Column::with_unit(self.t(&format!("col.{key}")), "%")
    }

    /// "2 h 15 min", "3 d 6 h", "5 min": the two largest units.
    pub fn duration(&self, secs: i64) -> String {
        let (d, h, m) = (secs / 86_400, secs % 86_400 / 3_600, secs % 3_600 / 60);
        let u = |n: i64, unit: &str| format!("{n} {}", self.t(&format!("unit.{unit}")));
        match (d, h, m) {
            (0, 0, m) => u(m, "min"),
            (0, h, 0) => u(h, "h"),
            (0, h, m) => format!("{} {}", u(h, "h"), u(m, "min")),
            (d, 0, _) => u(d, "d"),
            (d, h, _) => format!("{} {}", u(d, "d"), u(h, "h")),
        }
    }
}

/// What the tables need besides the report: queue names.
pub struct Ctx<'a> {
    pub w: &'a Words,
    pub report: &'a Report,
    names: HashMap<QueueId, String>,
}

impl<'a> Ctx<'a> {
    pub fn new(w: &'a Words, report: &'a Report) -> Ctx<'a> {
        let names = report.queues.iter().cloned().collect();
        Ctx { w, report, names }
    }

    fn queue(&self, q: Option<QueueId>) -> Cell {
        match q {
            None => Cell::Text(self.w.t("all_queues")),
            Some(q) => Cell::Text(self.names.get(&q).cloned().unwrap_or_else(|| q.to_string())),
        }
    }

    fn table(&self, key: &str, columns: Vec<Column>) -> Table {
        Table::new(self.w.t(&format!("table.{key}")), columns)
    }
}

fn opt_duration(v: Option<i64>) -> Cell {
    v.map(Cell::Duration).unwrap_or(Cell::Empty)
}

fn opt_percent(v: Option<i64>) -> Cell {
    v.map(Cell::Percent).unwrap_or(Cell::Empty)
}

/// The label of a step that begins on `d`.
pub fn step_label(step: Step, d: NaiveDate) -> String {
    match step {
        Step::Day | Step::Week => d.to_string(),
        Step::Month => format!("{:04}-{:02}", d.year(), d.month()),
    }
}

/// "+3 (+25 %)", "−2 (−50 %)", "0": the change from the previous period.
fn change(c: &Compared) -> Cell {
    let diff = c.now - c.before;
    let sign = |n: i64| match n {
        n if n > 0 => format!("+{n}"),
        n if n < 0 => format!("\u{2212}{}", -n),
        _ => "0".to_string(),
    };
    match (c.before > 0).then(|| (diff * 200 + diff.signum() * c.before) / (2 * c.before)) {
        Some(p) if diff != 0 => Cell::Text(format!("{} ({} %)", sign(diff), sign(p))),
        _ => Cell::Text(sign(diff)),
    }
}

fn compared_table(cx: &Ctx, key: &str, first: &str, rows: Vec<(Cell, &Compared)>) -> Table {
    let w = cx.w;
    let mut t = cx.table(
        key,
        vec![w.col(first), w.col("now"), w.col("before"), w.col("change")],
    );
    for (label, c) in rows {
        t.rows
            .push(vec![label, c.now.into(), c.before.into(), change(c)]);
    }
    t
}

fn volume(cx: &Ctx) -> Section {
    let (w, r) = (cx.w, cx.report);
    let v = &r.volume;
    let mut series = cx.table(
        "volume",
        vec![
            w.col("step_start"),
            w.col("created"),
            w.col("messages_in"),
            w.col("messages_out"),
        ],
    );
    for p in &v.series {
        series.rows.push(vec![
            step_label(r.filter.step, p.start).into(),
            p.created.into(),
            p.messages_in.into(),
            p.messages_out.into(),
        ]);
    }
    let totals = compared_table(
        cx,
        "totals",
        "measure",
        vec![
            (w.t("col.created").into(), &v.created),
            (w.t("col.messages_in").into(), &v.messages_in),
            (w.t("col.messages_out").into(), &v.messages_out),
        ],
    );
    let t = |k: &str| Templates::get().text(w.locale, k);
    let by = |slug: &'static str, first: &str, rows: Vec<(Cell, &Compared)>| Named {
        slug,
        table: compared_table(cx, slug, first, rows),
    };
    let labels: Vec<String> = v
        .series
        .iter()
        .map(|p| step_label(r.filter.step, p.start))
        .collect();
    let chart = charts::stacked(
        &Frame {
            id: "chart-volume",
            title: &w.t("chart.volume"),
            desc: &w.t("chart.volume_desc"),
        },
        &labels,
        &[(
            w.t("col.created"),
            v.series.iter().map(|p| p.created).collect(),
        )],
    );
    let queues: Vec<(String, i64, String)> = v
        .by_queue
        .iter()
        .map(|(q, c)| (cx.queue(Some(*q)).export_text(), c.now, c.now.to_string()))
        .collect();
    let by_queue_chart = charts::bars(
        &Frame {
            id: "chart-volume-queue",
            title: &w.t("chart.by_queue"),
            desc: &w.t("chart.by_queue_desc"),
        },
        &queues,
    );
    Section {
        id: "volume",
        title: w.t("section.volume"),
        definition: w.t("def.volume"),
        charts: vec![chart, by_queue_chart],
        notes: vec![],
        tables: vec![
            Named {
                slug: "volym",
                table: series,
            },
            Named {
                slug: "totalt",
                table: totals,
            },
            by(
                "kanaler",
                "channel",
                v.by_channel
                    .iter()
                    .map(|(c, n)| (t(&format!("channel.{c}")).into(), n))
                    .collect(),
            ),
            by(
                "koer",
                "queue",
                v.by_queue
                    .iter()
                    .map(|(q, n)| (cx.queue(Some(*q)), n))
                    .collect(),
            ),
            by(
                "prioriteter",
                "priority",
                v.by_priority
                    .iter()
                    .map(|(p, n)| (t(&format!("priority.{p}")).into(), n))
                    .collect(),
            ),
            by(
                "taggar",
                "tag",
                v.by_tag
                    .iter()
                    .map(|(g, n)| (g.clone().into(), n))
                    .collect(),
            ),
        ],
    }
}

fn backlog(cx: &Ctx) -> Section {
    let (w, r) = (cx.w, cx.report);
    let b = &r.backlog;
    let mut t = cx.table(
        "backlog",
        vec![
            w.col("day"),
            w.col("new"),
            w.col("open"),
            w.col("waiting"),
            w.col("total"),
        ],
    );
    for p in &b.points {
        t.rows.push(vec![
            p.day.to_string().into(),
            p.new.into(),
            p.open.into(),
            p.waiting.into(),
            (p.new + p.open + p.waiting).into(),
        ]);
    }
    let labels: Vec<String> = b.points.iter().map(|p| p.day.to_string()).collect();
    let chart = charts::stacked(
        &Frame {
            id: "chart-backlog",
            title: &w.t("chart.backlog"),
            desc: &w.t("chart.backlog_desc"),
        },
        &labels,
        &[
            (w.t("col.new"), b.points.iter().map(|p| p.new).collect()),
            (w.t("col.open"), b.points.iter().map(|p| p.open).collect()),
            (
                w.t("col.waiting"),
                b.points.iter().map(|p| p.waiting).collect(),
            ),
        ],
    );
    let note = match &b.oldest_open {
        Some((number, since)) => {
            let age = (chrono::Utc::now().naive_utc() - *since)
                .num_seconds()
                .max(0);
            (
                w.t("oldest_open")
                    .replace("{number}", number)
                    .replace("{age}", &w.duration(age)),
                Some(format!("/tickets/{number}")),
            )
        }
        None => (w.t("no_open"), None),
    };
    Section {
        id: "backlog",
        title: w.t("section.backlog"),
        definition: w.t("def.backlog"),
        charts: vec![chart],
        notes: vec![note],
        tables: vec![Named {
            slug: "backlogg",
            table: t,
        }],
    }
}

fn time_kind(w: &Words, k: TimeKind) -> String {
    w.t(match k {
        TimeKind::FirstResponse => "time.first_response",
        TimeKind::NextResponse => "time.next_response",
        TimeKind::Resolution => "time.resolution",
    })
}

fn basis(w: &Words, b: Basis) -> String {
    w.t(match b {
        Basis::Business => "basis.business",
        Basis::Calendar => "basis.calendar",
    })
}

fn time_cells(w: &Words, row: &TimeRow) -> Vec<Cell> {
    vec![
        time_kind(w, row.kind).into(),
        basis(w, row.basis).into(),
        row.n.into(),
        opt_duration(row.median),
        opt_duration(row.p90),
    ]
}

fn times(cx: &Ctx) -> Section {
    let (w, r) = (cx.w, cx.report);
    let cols = || {
        vec![
            w.col("time"),
            w.col("basis"),
            w.col("n"),
            w.minutes("median"),
            w.minutes("p90"),
        ]
    };
    let mut all = cx.table("times", cols());
    all.rows = r.times.rows.iter().map(|row| time_cells(w, row)).collect();
    let mut per = cx.table("times_by_queue", [vec![w.col("queue")], cols()].concat());
    for (q, rows) in &r.times.per_queue {
        for row in rows {
            per.rows
                .push([vec![cx.queue(Some(*q))], time_cells(w, row)].concat());
        }
    }
    let medians: Vec<(String, i64, String)> = r
        .times
        .rows
        .iter()
        .filter(|row| row.basis == Basis::Business)
        .map(|row| {
            let m = row.median.unwrap_or(0);
            let shown = row
                .median
                .map(|m| w.duration(m))
                .unwrap_or_else(|| "–".into());
            (time_kind(w, row.kind), m, shown)
        })
        .collect();
    let chart = charts::bars(
        &Frame {
            id: "chart-times",
            title: &w.t("chart.times"),
            desc: &w.t("chart.times_desc"),
        },
        &medians,
    );
    Section {
        id: "times",
        title: w.t("section.times"),
        definition: w.t("def.times"),
        charts: vec![chart],
        notes: vec![],
        tables: vec![
            Named {
                slug: "tider",
                table: all,
            },
            Named {
                slug: "tider-per-ko",
                table: per,
            },
        ],
    }
}

fn kkik(cx: &Ctx) -> Section {
    let (w, r) = (cx.w, cx.report);
    let mut t = cx.table(
        "kkik",
        vec![
            w.col("month"),
            w.col("queue"),
            w.col("asked"),
            w.col("in_day"),
            w.share("share"),
        ],
    );
    let row = |k: &KkikRow| {
        vec![
            step_label(Step::Month, k.month).into(),
            cx.queue(k.queue),
            k.asked.into(),
            k.in_day.into(),
            opt_percent(k.percent()),
        ]
    };
    t.rows = r.kkik.iter().map(row).collect();
    let months: Vec<(String, i64, String)> = r
        .kkik
        .iter()
        .filter(|k| k.queue.is_none())
        .map(|k| {
            let p = k.percent();
            (
                step_label(Step::Month, k.month),
                p.unwrap_or(0),
                p.map(|p| format!("{p} %")).unwrap_or_else(|| "–".into()),
            )
        })
        .collect();
    let chart = charts::bars(
        &Frame {
            id: "chart-kkik",
            title: &w.t("chart.kkik"),
            desc: &w.t("chart.kkik_desc"),
        },
        &months,
    );
    Section {
        id: "kkik",
        title: w.t("section.kkik"),
        definition: w.t("def.kkik"),
        charts: vec![chart],
        notes: vec![],
        tables: vec![Named {
            slug: "kkik",
            table: t,
        }],
    }
}

fn sla(cx: &Ctx) -> Section {
    let (w, r) = (cx.w, cx.report);
    let t_ = |k: &str| Templates::get().text(w.locale, k);
    let mut t = cx.table(
        "sla",
        vec![
            w.col("target"),
            w.col("queue"),
            w.col("priority"),
            w.col("met"),
            w.col("in_time"),
            w.share("share"),
            w.col("warned"),
            w.col("breached"),
        ],
    );
    for s in &r.sla {
        t.rows.push(vec![
            t_(&format!("sla.target.{}", s.target.key())).into(),
            cx.queue(s.queue),
            s.priority
                .map(|p| t_(&format!("priority.{p}")))
                .unwrap_or_else(|| w.t("all_priorities"))
                .into(),
            s.met.into(),
            s.in_time.into(),
            opt_percent(percent(s.in_time, s.met)),
            s.warned.into(),
            s.breached.into(),
        ]);
    }
    Section {
        id: "sla",
        title: w.t("section.sla"),
        definition: w.t("def.sla"),
        charts: vec![],
        notes: vec![],
        tables: vec![Named {
            slug: "sla",
            table: t,
        }],
    }
}

fn first_contact(cx: &Ctx) -> Section {
    let (w, r) = (cx.w, cx.report);
    let mut t = cx.table(
        "first_contact",
        vec![
            w.col("queue"),
            w.col("resolved"),
            w.col("first_contact"),
            w.share("first_contact_share"),
            w.col("with_article"),
            w.share("with_article_share"),
            w.col("reopened"),
            w.share("reopened_share"),
        ],
    );
    for f in &r.first_contact {
        t.rows.push(vec![
            cx.queue(f.queue),
            f.resolved.into(),
            f.first_contact.into(),
            opt_percent(percent(f.first_contact, f.resolved)),
            f.with_article.into(),
            opt_percent(percent(f.with_article, f.resolved)),
            f.reopened.into(),
            opt_percent(percent(f.reopened, f.resolved)),
        ]);
    }
    let shares: Vec<(String, i64, String)> = r
        .first_contact
        .iter()
        .map(|f| {
            let p = percent(f.first_contact, f.resolved);
            (
                cx.queue(f.queue).export_text(),
                p.unwrap_or(0),
                p.map(|p| format!("{p} %")).unwrap_or_else(|| "–".into()),
            )
        })
        .collect();
    let chart = charts::bars(
        &Frame {
            id: "chart-first-contact",
            title: &w.t("chart.first_contact"),
            desc: &w.t("chart.first_contact_desc"),
        },
        &shares,
    );
    Section {
        id: "first-contact",
        title: w.t("section.first_contact"),
        definition: w.t("def.first_contact"),
        charts: vec![chart],
        notes: vec![],
        tables: vec![Named {
            slug: "forsta-kontakt",
            table: t,
        }],
    }
}

fn answers(cx: &Ctx, key: &str, rows: &[AnswerRow]) -> Table {
    let w = cx.w;
    let mut t = cx.table(
        key,
        vec![
            w.col("queue"),
            w.col("sent"),
            w.col("answered"),
            w.minutes("median"),
            w.minutes("p90"),
        ],
    );
    for a in rows {
        t.rows.push(vec![
            cx.queue(Some(a.queue)),
            a.sent.into(),
            a.answered.into(),
            opt_duration(a.median),
            opt_duration(a.p90),
        ]);
    }
    t
}

fn flow(cx: &Ctx) -> Section {
    let (w, r) = (cx.w, cx.report);
    let mut transfers = cx.table(
        "transfers",
        vec![w.col("from_queue"), w.col("to_queue"), w.col("n")],
    );
    for (from, to, n) in &r.flow.transfers {
        transfers.rows.push(vec![
            cx.queue(Some(*from)),
            cx.queue(Some(*to)),
            (*n).into(),
        ]);
    }
    Section {
        id: "flow",
        title: w.t("section.flow"),
        definition: w.t("def.flow"),
        charts: vec![],
        notes: vec![],
        tables: vec![
            Named {
                slug: "overforingar",
                table: transfers,
            },
            Named {
                slug: "remisser",
                table: answers(cx, "referrals", &r.flow.referrals),
            },
            Named {
                slug: "eskaleringar",
                table: answers(cx, "escalations", &r.flow.escalations),
            },
        ],
    }
}

fn trend(w: &Words, r: &Ranked) -> Cell {
    Cell::Text(match r.n.cmp(&r.before) {
        _ if r.before == 0 && r.n > 0 => w.t("trend.new"),
        std::cmp::Ordering::Greater => w.t("trend.up"),
        std::cmp::Ordering::Less => w.t("trend.down"),
        std::cmp::Ordering::Equal => w.t("trend.same"),
    })
}

fn ranked_table(cx: &Ctx, key: &str, first: &str, rows: &[Ranked]) -> Table {
    let w = cx.w;
    let mut t = cx.table(
        key,
        vec![w.col(first), w.col("now"), w.col("before"), w.col("trend")],
    );
    for r in rows {
        let label = if r.title.is_empty() {
            r.key.clone()
        } else {
            r.title.clone()
        };
        t.rows
            .push(vec![label.into(), r.n.into(), r.before.into(), trend(w, r)]);
    }
    t
}

fn topics(cx: &Ctx) -> Section {
    let (w, r) = (cx.w, cx.report);
    let tp = &r.topics;
    let mut latest = cx.table(
        "unanswered",
        vec![
            w.col("ticket"),
            w.col("subject"),
            w.col("queue"),
            w.col("resolved_day"),
        ],
    );
    for u in &tp.unanswered {
        latest.rows.push(vec![
            Cell::Link {
                text: u.number.clone(),
                href: format!("/tickets/{}", u.number),
            },
            u.subject.clone().into(),
            cx.queue(Some(u.queue)),
            u.resolved_day.clone().into(),
        ]);
    }
    let top: Vec<(String, i64, String)> = tp
        .articles
        .iter()
        .take(10)
        .map(|a| {
            (
                if a.title.is_empty() {
                    a.key.clone()
                } else {
                    a.title.clone()
                },
                a.n,
                a.n.to_string(),
            )
        })
        .collect();
    let chart = charts::bars(
        &Frame {
            id: "chart-articles",
            title: &w.t("chart.articles"),
            desc: &w.t("chart.articles_desc"),
        },
        &top,
    );
    Section {
        id: "topics",
        title: w.t("section.topics"),
        definition: w.t("def.topics"),
        charts: vec![chart],
        notes: vec![(
            w.t("without_article")
                .replace("{n}", &tp.resolved_without_article.to_string()),
            None,
        )],
        tables: vec![
            Named {
                slug: "artiklar",
                table: ranked_table(cx, "articles", "article", &tp.articles),
            },
            Named {
                slug: "amnen",
                table: ranked_table(cx, "tags", "tag", &tp.tags),
            },
            Named {
                slug: "obesvarade-taggar",
                table: ranked_table(cx, "unanswered_tags", "tag", &tp.unanswered_tags),
            },
            Named {
                slug: "obesvarade",
                table: latest,
            },
        ],
    }
}

/// Monday first.
const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn hours(cx: &Ctx) -> Section {
    let (w, r) = (cx.w, cx.report);
    let days: Vec<String> = WEEKDAYS
        .iter()
        .map(|d| w.t(&format!("weekday.{d}")))
        .collect();
    let hours: Vec<String> = (0..24).map(|h| format!("{h:02}")).collect();
    let mut cols = vec![w.col("weekday")];
    cols.extend(hours.iter().map(|h| Column::new(h.clone())));
    let mut t = cx.table("hours", cols);
    for (d, row) in days.iter().zip(&r.hours) {
        let mut cells = vec![Cell::Text(d.clone())];
        cells.extend(row.iter().map(|n| Cell::Int(*n)));
        t.rows.push(cells);
    }
    let chart = charts::heatmap(
        &Frame {
            id: "chart-hours",
            title: &w.t("chart.hours"),
            desc: &w.t("chart.hours_desc"),
        },
        &days,
        &hours,
        &r.hours,
    );
    Section {
        id: "hours",
        title: w.t("section.hours"),
        definition: w.t("def.hours"),
        charts: vec![chart],
        notes: vec![],
        tables: vec![Named {
            slug: "veckotimmar",
            table: t,
        }],
    }
}

fn agents(cx: &Ctx) -> Option<Section> {
    let (w, r) = (cx.w, cx.report);
    let rows = r.agents.as_ref()?;
    let mut t = cx.table(
        "agents",
        vec![
            w.col("agent"),
            w.col("replies"),
            w.col("resolved"),
            w.minutes("median_response"),
        ],
    );
    for a in rows {
        t.rows.push(vec![
            a.name.clone().into(),
            a.replies.into(),
            a.resolved.into(),
            opt_duration(a.median_response),
        ]);
    }
    Some(Section {
        id: "agents",
        title: w.t("section.agents"),
        definition: w.t("def.agents"),
        charts: vec![],
        notes: vec![],
        tables: vec![Named {
            slug: "handlaggare",
            table: t,
        }],
    })
}

/// Every section of the page, in order.
pub fn sections(cx: &Ctx) -> Vec<Section> {
    let mut all = vec![
        volume(cx),
        backlog(cx),
        times(cx),
        kkik(cx),
        sla(cx),
        first_contact(cx),
        flow(cx),
        topics(cx),
        hours(cx),
    ];
    all.extend(agents(cx));
    all
}

/// The export names of every table a report can have (the agents' only when it is on).
pub const SLUGS: [&str; 21] = [
    "volym",
    "totalt",
    "kanaler",
    "koer",
    "prioriteter",
    "taggar",
    "backlogg",
    "tider",
    "tider-per-ko",
    "kkik",
    "sla",
    "forsta-kontakt",
    "overforingar",
    "remisser",
    "eskaleringar",
    "artiklar",
    "amnen",
    "obesvarade-taggar",
    "obesvarade",
    "veckotimmar",
    "handlaggare",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_people_write_them() {
        let w = Words { locale: "sv" };
        assert_eq!(w.duration(0), "0 min");
        assert_eq!(w.duration(8_100), "2 h 15 min");
        assert_eq!(w.duration(7_200), "2 h");
        assert_eq!(w.duration(3 * 86_400 + 6 * 3_600 + 120), "3 d 6 h");
        assert_eq!(w.duration(2 * 86_400), "2 d");
    }

    #[test]
    fn changes_are_signed_with_a_percentage() {
        let c = |now, before| change(&Compared { now, before }).export_text();
        assert_eq!(c(5, 4), "+1 (+25 %)");
        assert_eq!(c(2, 4), "\u{2212}2 (\u{2212}50 %)");
        assert_eq!(c(3, 0), "+3");
        assert_eq!(c(3, 3), "0");
    }
}
