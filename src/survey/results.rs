//! The survey's results as SKR reports them: per question an index 0–100 (5 → 100, 4 → 75,
//! 3 → 50, 2 → 25, 1 → 0; the index is the mean of the mapped answers), a total index (the mean
//! of the three), the number of answers, and a confidence note when there are few — per queue
//! and month (Stockholm time). Leads see their queues, admins the whole tenant.

use std::collections::BTreeMap;

use chrono::NaiveDateTime;
use serde::Serialize;

use crate::accounts::{Actor, Scope};
use crate::domain::{MembershipRole, QueueAccess};
use crate::error::{Error, Result};
use crate::store::{self, Db};

/// Under this many answers a figure is marked "få svar – osäkert".
pub const FEW_ANSWERS: usize = 30;
/// The longest period one report covers, in months.
pub const MAX_MONTHS: u32 = 60;

/// A score 1–5 on SKR's 0–100 scale.
pub fn mapped(score: i32) -> f64 {
    f64::from((score.clamp(1, 5) - 1) * 25)
}

/// Two-sided 95 % critical values of Student's t for 1–30 degrees of freedom.
const T_975: [f64; 30] = [
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
    2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
    2.052, 2.048, 2.045, 2.042,
];

/// The t value for `df` degrees of freedom (beyond the table, that of the next smaller tabled
/// df, so the interval is never narrower than it should be).
fn t_975(df: usize) -> f64 {
    match df {
        0 => f64::INFINITY,
        1..=30 => T_975[df - 1],
        31..=40 => 2.042,
        41..=60 => 2.021,
        61..=120 => 2.000,
        121..=1000 => 1.980,
        _ => 1.962,
    }
}

/// One index with its 95 % confidence interval (t interval of the mean; None with fewer than
/// two answers), cut to 0–100.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct IndexFigure {
    pub index: f64,
    pub low: Option<f64>,
    pub high: Option<f64>,
}

impl IndexFigure {
    /// Of values already on the 0–100 scale; None for no values.
    pub fn of(values: &[f64]) -> Option<IndexFigure> {
        let n = values.len();
        if n == 0 {
            return None;
        }
        let mean = values.iter().sum::<f64>() / n as f64;
        let (low, high) = if n < 2 {
            (None, None)
        } else {
            let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
            let half = t_975(n - 1) * (var / n as f64).sqrt();
            (
                Some((mean - half).clamp(0.0, 100.0)),
                Some((mean + half).clamp(0.0, 100.0)),
            )
        };
        Some(IndexFigure {
            index: mean,
            low,
            high,
        })
    }
}

/// The figures of one queue in one month.
#[derive(Debug, Clone, Serialize)]
pub struct ReportRow {
    pub queue_id: i64,
    pub queue: String,
    /// `YYYY-MM`.
    pub month: String,
    pub answers: usize,
    pub bemotande: IndexFigure,
    pub tydlighet: IndexFigure,
    pub enkelhet: IndexFigure,
    /// The mean of the three (per answer, then over the answers).
    pub total: IndexFigure,
    /// Fewer than [`FEW_ANSWERS`]: the figures are uncertain.
    pub few: bool,
}

/// A citizen's comment, with the ticket it was about (for leads and admins).
#[derive(Debug, Clone, Serialize)]
pub struct Comment {
    pub queue: String,
    pub month: String,
    pub answered_at: NaiveDateTime,
    pub matter: String,
    pub ticket: String,
    pub text: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct SurveyReport {
    pub from_month: String,
    pub to_month: String,
    /// By queue name, then month.
    pub rows: Vec<ReportRow>,
    /// Newest first.
    pub comments: Vec<Comment>,
    pub few_answers: usize,
}

/// Admins see the tenant; a lead the queues they lead; others nothing.
fn access(actor: &Actor) -> Result<QueueAccess> {
    actor.require(Scope::StatsRead)?;
    if actor.is_admin() {
        return Ok(QueueAccess::All);
    }
    let led: Vec<_> = actor
        .memberships
        .iter()
        .filter(|(_, r)| *r == MembershipRole::Lead)
        .map(|(q, _)| *q)
        .collect();
    if led.is_empty() {
        return Err(Error::Forbidden("administrators and queue leads only"));
    }
    Ok(QueueAccess::Only(led))
}

fn month_of(t: NaiveDateTime) -> String {
    t.and_utc()
        .with_timezone(&chrono_tz::Europe::Stockholm)
        .format("%Y-%m")
        .to_string()
}

/// The period `[from_month, to_month]` (`YYYY-MM`, Stockholm) as UTC bounds.
fn period(from_month: &str, to_month: &str) -> Result<(NaiveDateTime, NaiveDateTime)> {
    let from = crate::sla::report::parse_month(from_month)?;
    let to = crate::sla::report::parse_month(to_month)?;
    let order = crate::domain::InvalidValue::new("to_month", crate::domain::Reason::IntervalOrder);
    if to < from {
        return Err(order.into());
    }
    if to > from + chrono::Months::new(MAX_MONTHS - 1) {
        return Err(crate::domain::InvalidValue::new(
            "months",
            crate::domain::Reason::Range {
                min: 1,
                max: MAX_MONTHS as usize,
            },
        )
        .into());
    }
    Ok((
        crate::domain::period::month_bounds(from)?.0,
        crate::domain::period::month_bounds(to)?.1,
    ))
}

/// The answers per queue and month, in the period, as the actor may see them.
pub async fn results(
    db: &Db,
    actor: &Actor,
    from_month: &str,
    to_month: &str,
) -> Result<SurveyReport> {
    let access = access(actor)?;
    let (from, to) = period(from_month, to_month)?;
    let t = actor.tenant;
    let (answered, queues) = db
        .read(move |c| -> Result<_> {
            Ok((
                store::survey::answered(c, t, &access, from, to)?,
                store::queues::list(c, t)?,
            ))
        })
        .await?;
    let names: BTreeMap<i64, String> = queues.into_iter().map(|q| (q.id.get(), q.name)).collect();
    let name = |id: i64| names.get(&id).cloned().unwrap_or_default();
    let mut groups: BTreeMap<(String, String, i64), Vec<[i32; 3]>> = BTreeMap::new();
    let mut comments = vec![];
    for (s, number) in answered {
        let (Some(b), Some(ty), Some(e)) = (s.bemotande, s.tydlighet, s.enkelhet) else {
            continue;
        };
        let Some(at) = s.answered_at else { continue };
        let month = month_of(at);
        groups
            .entry((name(s.queue_id), month.clone(), s.queue_id))
            .or_default()
            .push([b, ty, e]);
        if let Some(text) = s.comment {
            comments.push(Comment {
                queue: name(s.queue_id),
                month,
                answered_at: at,
                matter: s.matter,
                ticket: number,
                text,
            });
        }
    }
    comments.reverse();
    let rows = groups
        .into_iter()
        .filter_map(|((queue, month, queue_id), answers)| row(queue_id, queue, month, &answers))
        .collect();
    Ok(SurveyReport {
        from_month: from_month.trim().to_string(),
        to_month: to_month.trim().to_string(),
        rows,
        comments,
        few_answers: FEW_ANSWERS,
    })
}

/// The figures of one group of answers.
pub fn row(queue_id: i64, queue: String, month: String, answers: &[[i32; 3]]) -> Option<ReportRow> {
    let col = |i: usize| answers.iter().map(|a| mapped(a[i])).collect::<Vec<_>>();
    let totals: Vec<f64> = answers
        .iter()
        .map(|a| a.iter().map(|s| mapped(*s)).sum::<f64>() / 3.0)
        .collect();
    Some(ReportRow {
        queue_id,
        queue,
        month,
        answers: answers.len(),
        bemotande: IndexFigure::of(&col(0))?,
        tydlighet: IndexFigure::of(&col(1))?,
        enkelhet: IndexFigure::of(&col(2))?,
        total: IndexFigure::of(&totals)?,
        few: answers.len() < FEW_ANSWERS,
    })
}

/// The per-queue-month table as CSV (semicolon-separated, as Swedish spreadsheets expect; the
/// header in the reader's language).
pub fn csv(report: &SurveyReport, header: &[String; 8]) -> String {
    let one = |f: &IndexFigure| format!("{:.1}", f.index).replace('.', ",");
    let mut out = header.join(";");
    out.push_str("\r\n");
    for r in &report.rows {
        let cells = [
            csv_cell(&r.queue),
            r.month.clone(),
            r.answers.to_string(),
            one(&r.bemotande),
            one(&r.tydlighet),
            one(&r.enkelhet),
            one(&r.total),
            if r.few { "1" } else { "0" }.to_string(),
        ];
        out.push_str(&cells.join(";"));
        out.push_str("\r\n");
    }
    out
}

/// A cell quoted when needed, and never read as a formula by a spreadsheet.
fn csv_cell(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([';', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_index_maps_five_to_hundred_and_one_to_zero() {
        assert_eq!([1, 2, 3, 4, 5].map(mapped), [0.0, 25.0, 50.0, 75.0, 100.0]);
        let r = row(1, "VA".into(), "2026-12".into(), &[[5, 4, 3], [3, 3, 1]]).unwrap();
        assert_eq!(r.bemotande.index, 75.0);
        assert_eq!(r.tydlighet.index, 62.5);
        assert_eq!(r.enkelhet.index, 25.0);
        assert!((r.total.index - (75.0 + 62.5 + 25.0) / 3.0).abs() < 1e-9);
        assert!(r.few);
    }

    #[test]
    fn the_interval_is_the_t_interval_of_the_mean() {
        // 100, 50: mean 75, sd 35.355…, se 25, t(1) 12.706 → cut to 0–100.
        let f = IndexFigure::of(&[100.0, 50.0]).unwrap();
        assert_eq!((f.index, f.low, f.high), (75.0, Some(0.0), Some(100.0)));
        // 40 answers alternating 100 and 50: sd 25.32, se 4.003, t(39) 2.042.
        let v: Vec<f64> = (0..40)
            .map(|i| if i % 2 == 0 { 100.0 } else { 50.0 })
            .collect();
        let f = IndexFigure::of(&v).unwrap();
        let sd = (v.iter().map(|x| (x - 75.0_f64).powi(2)).sum::<f64>() / 39.0).sqrt();
        let half = 2.042 * sd / 40f64.sqrt();
        assert!((f.low.unwrap() - (75.0 - half)).abs() < 1e-9);
        assert!((f.high.unwrap() - (75.0 + half)).abs() < 1e-9);
        assert_eq!(IndexFigure::of(&[50.0]).unwrap().low, None);
        assert!(IndexFigure::of(&[]).is_none());
    }

    #[test]
    fn csv_cells_cannot_be_formulas() {
        assert_eq!(csv_cell("=SUM(A1)"), "'=SUM(A1)");
        assert_eq!(csv_cell("a;b"), "\"a;b\"");
    }
}
