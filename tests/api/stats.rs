//! Statistik (issue 19, D64) end to end: tickets made through the real use cases (mail import,
//! the API, an agent's registration of a phone call, replies, notes, transfers, a referral, tags,
//! a knowledge-base answer, an acknowledgement and an auto-reply that must not count), their
//! history moved to scripted instants around the spring DST change, midsommar and the autumn DST
//! change, and every figure of `stats::report` compared with what the test computes itself from
//! the script and the definitions (notes/definitions.md, docs/decisions.md D64). Then the running
//! app's follower keeping the figures live, a rebuild giving the same report, and who may see what.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use arendo::accounts::tokens::{Signer, TokenKind};
use arendo::accounts::{self, Actor, Scope};
use arendo::domain::{Channel, EmailAddress, IntakeChannel, Priority, QueueId, TicketNumber};
use arendo::error::Error;
use arendo::secrets::Keys;
use arendo::stats::report::{
    AgentRow, BacklogPoint, Compared, FirstContactRow, KkikRow, Ranked, TimeKind, TimeRow,
};
use arendo::stats::{Filter, Report, Step};
use arendo::tickets::{ContactInput, NewTicketInput, QueueRef, Registration};
use chrono::{DateTime, Datelike, Days, Months, NaiveDate, TimeZone, Timelike, Utc, Weekday};
use chrono_tz::Europe::Stockholm;
use diesel::{QueryableByName, RunQueryDsl};
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Backend, Org, TestApp, csrf_in};

// ---- the test's own arithmetic (from the definitions, not from the engine) ----

/// A local (Stockholm) wall-clock instant.
fn local(y: i32, m: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Stockholm
        .with_ymd_and_hms(y, m, d, h, mi, 0)
        .single()
        .expect("an unambiguous local time")
        .with_timezone(&Utc)
}

fn day_of(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&Stockholm).date_naive()
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// The Swedish holidays and eves of 2026 the default calendar keeps closed on weekdays (the
/// almanac, by hand).
fn closed_2026(d: NaiveDate) -> bool {
    [
        date(2026, 1, 1),
        date(2026, 1, 6),
        date(2026, 4, 3),
        date(2026, 4, 6),
        date(2026, 5, 1),
        date(2026, 5, 14),
        date(2026, 6, 19),
        date(2026, 12, 24),
        date(2026, 12, 25),
        date(2026, 12, 31),
    ]
    .contains(&d)
}

/// The default calendar's opening hours of a day, as local (from, to) minutes of the day.
fn open_hours(d: NaiveDate) -> Option<(u32, u32)> {
    if closed_2026(d) {
        return None;
    }
    match d.weekday() {
        Weekday::Sat | Weekday::Sun => None,
        Weekday::Fri => Some((8 * 60, 16 * 60)),
        _ => Some((8 * 60, 16 * 60 + 30)),
    }
}

fn at_minute(d: NaiveDate, minute: u32) -> DateTime<Utc> {
    local(d.year(), d.month(), d.day(), minute / 60, minute % 60)
}

/// Seconds of opening hours between two instants (default calendar).
fn business(from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
    let mut total = 0;
    let mut d = day_of(from);
    while d <= day_of(to) {
        if let Some((open, close)) = open_hours(d) {
            let (a, b) = (at_minute(d, open).max(from), at_minute(d, close).min(to));
            if b > a {
                total += (b - a).num_seconds();
            }
        }
        d = d.succ_opt().unwrap();
    }
    total
}

/// The opening hours (seconds) of the first day with open time at or after `at`.
fn working_day(at: DateTime<Utc>) -> i64 {
    let mut d = day_of(at);
    loop {
        if let Some((open, close)) = open_hours(d)
            && at_minute(d, close) > at
        {
            return i64::from(close - open) * 60;
        }
        d = d.succ_opt().unwrap();
    }
}

/// The lower bound of the step a duration falls in (the definitions' table).
fn step(secs: i64) -> i64 {
    const MIN: i64 = 60;
    const HOUR: i64 = 3600;
    const DAY: i64 = 86_400;
    let floor = |s: i64, w: i64| s - s % w;
    match secs.max(0) {
        s if s < 10 * MIN => floor(s, MIN),
        s if s < HOUR => floor(s, 5 * MIN),
        s if s < 8 * HOUR => floor(s, 15 * MIN),
        s if s < DAY => floor(s, HOUR),
        s if s < 7 * DAY => floor(s, 6 * HOUR),
        s if s < 60 * DAY => floor(s, DAY),
        _ => 60 * DAY,
    }
}

/// Nearest rank: the value at rank ceil(p/100 · n) of the ascending values.
fn nearest_rank(values: &[i64], p: usize) -> Option<i64> {
    let mut v = values.to_vec();
    v.sort();
    if v.is_empty() {
        return None;
    }
    let rank = (p * v.len()).div_ceil(100);
    Some(v[rank.max(1) - 1])
}

#[test]
fn the_tests_own_arithmetic_agrees_with_the_almanac() {
    // Friday 15:00 to Monday 09:00 over the spring DST night: two opening hours, 65 hours.
    let (fri, mon) = (local(2026, 3, 27, 15, 0), local(2026, 3, 30, 9, 0));
    assert_eq!(business(fri, mon), 2 * 3600);
    assert_eq!((mon - fri).num_hours(), 65);
    // Midsommarafton is closed: Friday 09:00 to Monday 08:30 is half an hour.
    assert_eq!(
        business(local(2026, 6, 19, 9, 0), local(2026, 6, 22, 8, 30)),
        1800
    );
    assert_eq!(working_day(local(2026, 6, 19, 9, 0)), 510 * 60);
    assert_eq!(
        working_day(local(2026, 3, 27, 16, 0)),
        510 * 60,
        "Friday is over: Monday"
    );
    for (secs, floor) in [
        (59, 0),
        (61, 60),
        (599, 540),
        (899, 600),
        (3_600 + 899, 3_600),
        (28_799, 28_800 - 900),
        (30 * 3_600 + 59 * 60, 30 * 3_600),
        (86_400 + 21_599, 86_400),
        (234_000, 216_000),
        (604_799, 583_200),
        (9 * 86_400 + 3, 9 * 86_400),
        (400 * 86_400, 60 * 86_400),
    ] {
        assert_eq!(step(secs), floor, "{secs}");
    }
    assert_eq!(nearest_rank(&[5, 1, 3, 2], 50), Some(2));
    assert_eq!(nearest_rank(&[5, 1, 3, 2], 90), Some(5));
    assert_eq!(nearest_rank(&[7], 90), Some(7));
}

// ---- the app side: actors, use cases, moving history in time ----

async fn actor_of(app: &TestApp, token: &str) -> Actor {
    let signer = Signer::new(&Keys::from_hex(&app.key_hex).unwrap());
    accounts::authenticate(&app.db, &signer, token, TokenKind::Api)
        .await
        .unwrap()
}

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct Text {
    #[diesel(sql_type = diesel::sql_types::Text)]
    s: String,
}

fn sql_err(e: diesel::result::Error) -> Error {
    Error::Internal(e.to_string())
}

/// Moves each ticket's new history rows to a scripted instant: after every step of the script,
/// the rows the step wrote (ticket row, events, messages) get the step's time.
#[derive(Default)]
struct Stamper {
    /// ticket id → (last event id stamped, last message id stamped)
    marks: HashMap<i64, (i64, i64)>,
}

impl Stamper {
    async fn stamp(&mut self, app: &TestApp, ticket: i64, at: DateTime<Utc>) {
        let ts = at.naive_utc().format("%Y-%m-%d %H:%M:%S").to_string();
        let first = !self.marks.contains_key(&ticket);
        let (em, mm) = self.marks.get(&ticket).copied().unwrap_or((0, 0));
        let marks = app
            .db
            .write(move |c| -> Result<(i64, i64), Error> {
                if first {
                    diesel::sql_query(format!(
                        "UPDATE tickets SET created_at = '{ts}', updated_at = '{ts}' WHERE id = {ticket}"
                    ))
                    .execute(c)
                    .map_err(sql_err)?;
                }
                for (table, mark) in [("ticket_events", em), ("messages", mm)] {
                    diesel::sql_query(format!(
                        "UPDATE {table} SET created_at = '{ts}' WHERE ticket_id = {ticket} AND id > {mark}"
                    ))
                    .execute(c)
                    .map_err(sql_err)?;
                }
                let max = |c: &mut arendo::store::Conn, table: &str| -> Result<i64, Error> {
                    diesel::sql_query(format!(
                        "SELECT COALESCE(MAX(id), 0) AS n FROM {table} WHERE ticket_id = {ticket}"
                    ))
                    .get_result::<Id>(c)
                    .map(|r| r.n)
                    .map_err(sql_err)
                };
                Ok((max(c, "ticket_events")?, max(c, "messages")?))
            })
            .await
            .unwrap();
        self.marks.insert(ticket, marks);
    }
}

async fn ticket_id(app: &TestApp, number: &str) -> i64 {
    let number = number.to_string();
    app.db
        .read(move |c| -> Result<i64, Error> {
            diesel::sql_query(format!(
                "SELECT id AS n FROM tickets WHERE number = '{number}'"
            ))
            .get_result::<Id>(c)
            .map(|r| r.n)
            .map_err(sql_err)
        })
        .await
        .unwrap()
}

/// The number of the newest ticket with this subject (a mail import names none).
async fn number_by_subject(app: &TestApp, subject: &str) -> String {
    let subject = subject.to_string();
    app.db
        .read(move |c| -> Result<String, Error> {
            diesel::sql_query(format!(
                "SELECT number AS s FROM tickets WHERE subject = '{subject}' ORDER BY id DESC"
            ))
            .get_result::<Text>(c)
            .map(|r| r.s)
            .map_err(sql_err)
        })
        .await
        .unwrap()
}

fn import(app: &TestApp, org: &Org, queue: &str, name: &str, raw: Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(format!("{name}.eml")), raw).unwrap();
    let out = app.import_dir(&org.slug, queue, dir.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn send(app: &TestApp, token: &str, number: &str, kind: &str, body: &str) {
    let r = reqwest::Client::new()
        .post(app.url(&format!("/api/v1/tickets/{number}/messages")))
        .bearer_auth(token)
        .json(&json!({ "kind": kind, "body": body }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
}

async fn tag(app: &TestApp, actor: &Actor, number: &str, tag: &str) {
    arendo::tickets::actions::tag(
        &app.db,
        actor,
        TicketNumber::parse(number).unwrap(),
        tag,
        true,
    )
    .await
    .unwrap();
}

/// An agent registers a phone call ("Nytt ärende").
async fn register(
    app: &TestApp,
    actor: &Actor,
    queue: i64,
    subject: &str,
    priority: Priority,
    reg: Registration,
) -> String {
    let input = NewTicketInput {
        queue: QueueRef::Id(queue),
        subject: subject.into(),
        body: "Samtal från medborgare.".into(),
        priority,
        channel: Channel::Phone,
        contact: ContactInput {
            name: Some("Per Holm".into()),
            email: Some(EmailAddress::parse("per@example.org").unwrap()),
            ..Default::default()
        },
    };
    let t = arendo::tickets::create_registered(&app.db, actor, input, reg)
        .await
        .unwrap();
    t.number.to_string()
}

fn citizen_mail(subject: &str, id: &str, extra: &str, body: &str) -> Vec<u8> {
    crate::mail::mail(
        "Maria Lind <maria@example.org>",
        "kundtjanst@statby.se",
        subject,
        id,
        extra,
        body,
    )
}

async fn report(app: &TestApp, actor: &Actor, filter: Filter) -> Report {
    arendo::stats::report(&app.db, actor, filter).await.unwrap()
}

fn period(from: NaiveDate, to: NaiveDate, step: Step) -> Filter {
    Filter {
        from,
        to,
        queue: None,
        channel: None,
        priority: None,
        tag: None,
        step,
    }
}

// ---- the script: what happened, when, where ----

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum St {
    New,
    Open,
    Waiting,
    Done,
}

/// One ticket as the test scripted it: the facts the expected figures are computed from.
#[derive(Debug, Clone)]
struct Scripted {
    number: String,
    subject: &'static str,
    channel: Channel,
    priority: Priority,
    start: DateTime<Utc>,
    /// Where it was from when (the first entry is where it began).
    places: Vec<(DateTime<Utc>, i64)>,
    /// Its status from when.
    status: Vec<(DateTime<Utc>, St)>,
    /// Persons' answers: when, by whom, and whether it was a message (not "answered directly").
    answers: Vec<(DateTime<Utc>, i64, bool)>,
    /// Citizens' messages (the first one at the start).
    inbound: Vec<DateTime<Utc>>,
    /// The final resolution: when and by whom.
    resolved: Option<(DateTime<Utc>, i64)>,
    reopened: bool,
    passed_on: bool,
    article: Option<DateTime<Utc>>,
    tags: Vec<&'static str>,
    referral: Option<(DateTime<Utc>, DateTime<Utc>)>,
}

impl Scripted {
    fn queue_at(&self, at: DateTime<Utc>) -> i64 {
        self.places
            .iter()
            .rev()
            .find(|(from, _)| *from <= at)
            .unwrap()
            .1
    }

    fn status_at(&self, at: DateTime<Utc>) -> Option<St> {
        self.status
            .iter()
            .rev()
            .find(|(from, _)| *from <= at)
            .map(|(_, s)| *s)
    }

    fn began(&self) -> i64 {
        self.places[0].1
    }

    /// (answer time, since, author, is first) for every answer that counts as a response.
    fn responses(&self) -> Vec<(DateTime<Utc>, DateTime<Utc>, i64, bool)> {
        let mut out = vec![];
        let mut previous: Option<DateTime<Utc>> = None;
        for (at, who, _) in &self.answers {
            match previous {
                None => out.push((*at, self.start, *who, true)),
                Some(p) => {
                    if let Some(q) = self.inbound.iter().find(|i| **i > p && **i <= *at) {
                        out.push((*at, *q, *who, false));
                    }
                }
            }
            previous = Some(*at);
        }
        out
    }
}

// ---- expected figures ----

fn in_period(at: DateTime<Utc>, f: &Filter) -> bool {
    let d = day_of(at);
    d >= f.from && d <= f.to
}

fn shown(q: i64, f: &Filter) -> bool {
    f.queue.is_none_or(|x| x.get() == q)
}

type Counts = BTreeMap<String, i64>;

/// Articles used, tags of new tickets and tags of tickets resolved without an article.
fn topic_counts(all: &[Scripted], f: &Filter, article: &str) -> (Counts, Counts, Counts) {
    let (mut used, mut tags, mut unanswered) = (Counts::new(), Counts::new(), Counts::new());
    for s in all {
        if let Some(at) = s.article
            && in_period(at, f)
            && shown(s.queue_at(at), f)
        {
            *used.entry(article.to_string()).or_default() += 1;
        }
        if in_period(s.start, f) && shown(s.began(), f) {
            for t in &s.tags {
                *tags.entry(t.to_string()).or_default() += 1;
            }
        }
        if let Some((at, _)) = s.resolved
            && s.article.is_none()
            && in_period(at, f)
            && shown(s.queue_at(at), f)
        {
            for t in &s.tags {
                *unanswered.entry(t.to_string()).or_default() += 1;
            }
        }
    }
    (used, tags, unanswered)
}

fn expected_times(all: &[Scripted], f: &Filter, queue: Option<i64>) -> Vec<TimeRow> {
    let mut v: BTreeMap<(u8, u8), Vec<i64>> = BTreeMap::new();
    for s in all {
        for (at, since, _, first) in s.responses() {
            let q = s.queue_at(at);
            if in_period(at, f) && shown(q, f) && queue.is_none_or(|x| x == q) {
                let k = if first { 0 } else { 1 };
                v.entry((k, 0)).or_default().push(step(business(since, at)));
                v.entry((k, 1))
                    .or_default()
                    .push(step((at - since).num_seconds()));
            }
        }
        if let Some((at, _)) = s.resolved {
            let q = s.queue_at(at);
            if in_period(at, f) && shown(q, f) && queue.is_none_or(|x| x == q) {
                v.entry((2, 0))
                    .or_default()
                    .push(step(business(s.start, at)));
                v.entry((2, 1))
                    .or_default()
                    .push(step((at - s.start).num_seconds()));
            }
        }
    }
    let kinds = [
        TimeKind::FirstResponse,
        TimeKind::NextResponse,
        TimeKind::Resolution,
    ];
    let bases = [
        arendo::stats::report::Basis::Business,
        arendo::stats::report::Basis::Calendar,
    ];
    let mut rows = vec![];
    for (k, kind) in kinds.iter().enumerate() {
        for (b, basis) in bases.iter().enumerate() {
            let values = v.get(&(k as u8, b as u8)).cloned().unwrap_or_default();
            rows.push(TimeRow {
                kind: *kind,
                basis: *basis,
                n: values.len() as i64,
                median: nearest_rank(&values, 50),
                p90: nearest_rank(&values, 90),
            });
        }
    }
    rows
}

/// The backlog at the end of each step's last day.
fn expected_backlog(all: &[Scripted], f: &Filter) -> Vec<BacklogPoint> {
    let mut points = vec![];
    let mut d = f.from;
    while d <= f.to {
        let next = d.succ_opt().unwrap();
        if next > f.to || f.step.start_of(next) != f.step.start_of(d) {
            let end = at_minute(next, 0) - chrono::TimeDelta::seconds(1);
            let mut p = BacklogPoint {
                day: d,
                new: 0,
                open: 0,
                waiting: 0,
            };
            for s in all {
                if s.start > end || !shown(s.queue_at(end), f) {
                    continue;
                }
                match s.status_at(end) {
                    Some(St::New) => p.new += 1,
                    Some(St::Open) => p.open += 1,
                    Some(St::Waiting) => p.waiting += 1,
                    _ => {}
                }
            }
            points.push(p);
        }
        d = next;
    }
    points
}

fn expected_kkik(
    all: &[Scripted],
    f: &Filter,
    queues: &[i64],
    qid: &dyn Fn(i64) -> QueueId,
) -> Vec<KkikRow> {
    let mut by: BTreeMap<(NaiveDate, i64), (i64, i64)> = BTreeMap::new();
    for s in all.iter().filter(|s| s.channel == Channel::Email) {
        if !in_period(s.start, f) || !shown(s.began(), f) {
            continue;
        }
        let month = day_of(s.start).with_day(1).unwrap();
        let e = by.entry((month, s.began())).or_default();
        e.0 += 1;
        if let Some((at, _, _)) = s.answers.first()
            && business(s.start, *at) <= working_day(s.start)
        {
            e.1 += 1;
        }
    }
    let months: std::collections::BTreeSet<NaiveDate> = by.keys().map(|(m, _)| *m).collect();
    let mut rows = vec![];
    for m in months {
        let (mut asked, mut in_day) = (0, 0);
        for q in queues {
            if let Some((a, i)) = by.get(&(m, *q)) {
                rows.push(KkikRow {
                    month: m,
                    queue: Some(qid(*q)),
                    asked: *a,
                    in_day: *i,
                });
                asked += a;
                in_day += i;
            }
        }
        rows.push(KkikRow {
            month: m,
            queue: None,
            asked,
            in_day,
        });
    }
    rows
}

fn expected_first_contact(
    all: &[Scripted],
    f: &Filter,
    queues: &[i64],
    qid: &dyn Fn(i64) -> QueueId,
) -> Vec<FirstContactRow> {
    let row = |q: Option<i64>| {
        let mut r = FirstContactRow {
            queue: q.map(qid),
            resolved: 0,
            first_contact: 0,
            with_article: 0,
            reopened: 0,
        };
        for s in all {
            let Some((at, _)) = s.resolved else { continue };
            let here = s.queue_at(at);
            if !in_period(at, f) || !shown(here, f) || q.is_some_and(|q| q != here) {
                continue;
            }
            r.resolved += 1;
            r.first_contact += i64::from(!s.passed_on);
            r.with_article += i64::from(s.article.is_some());
            r.reopened += i64::from(s.reopened);
        }
        r
    };
    let mut out = vec![row(None)];
    out.extend(queues.iter().map(|q| row(Some(*q))));
    out
}

fn ranked(counts: Counts, before: &Counts, titles: &HashMap<String, String>) -> Vec<Ranked> {
    let mut out: Vec<Ranked> = counts
        .into_iter()
        .map(|(k, n)| Ranked {
            title: titles.get(&k).cloned().unwrap_or_else(|| k.clone()),
            before: before.get(&k).copied().unwrap_or(0),
            key: k,
            n,
        })
        .collect();
    out.sort_by(|a, b| b.n.cmp(&a.n).then(a.key.cmp(&b.key)));
    out
}

fn expected_agents(all: &[Scripted], f: &Filter, names: &HashMap<i64, String>) -> Vec<AgentRow> {
    let mut rows: BTreeMap<i64, (i64, i64, Vec<i64>)> = BTreeMap::new();
    for s in all {
        for (at, who, message) in &s.answers {
            if *message && in_period(*at, f) && shown(s.queue_at(*at), f) {
                rows.entry(*who).or_default().1 += 1;
            }
        }
        for (at, since, who, _) in s.responses() {
            if in_period(at, f) && shown(s.queue_at(at), f) {
                rows.entry(who)
                    .or_default()
                    .2
                    .push(step(business(since, at)));
            }
        }
        if let Some((at, who)) = s.resolved
            && in_period(at, f)
            && shown(s.queue_at(at), f)
        {
            rows.entry(who).or_default().0 += 1;
        }
    }
    let mut out: Vec<AgentRow> = rows
        .into_iter()
        .map(|(user, (resolved, replies, times))| AgentRow {
            user,
            name: names[&user].clone(),
            resolved,
            replies,
            median_response: nearest_rank(&times, 50),
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// The typed id of a queue the report covers (the test cannot make ids itself).
fn queue_of(r: &Report, q: i64) -> QueueId {
    r.queues
        .iter()
        .find(|(x, _)| x.get() == q)
        .expect("a queue of the report")
        .0
}

/// The volumes and their series.
fn check_volume(r: &Report, all: &[Scripted], queues: &[i64]) {
    let f = &r.filter;
    let qid = |q: i64| queue_of(r, q);
    let counted: Vec<&Scripted> = all.iter().filter(|s| shown(s.began(), f)).collect();
    let (pf, pt) = f.previous();
    let prev = Filter {
        from: pf,
        to: pt,
        ..f.clone()
    };
    let made_in = |g: &Filter, pick: &dyn Fn(&Scripted) -> bool| {
        counted
            .iter()
            .filter(|s| in_period(s.start, g) && pick(s))
            .count() as i64
    };
    let created = |pick: &dyn Fn(&Scripted) -> bool| Compared {
        now: made_in(f, pick),
        before: made_in(&prev, pick),
    };
    assert_eq!(r.volume.created, created(&|_| true), "created");
    let count_in =
        |at: &dyn Fn(&Scripted) -> Vec<DateTime<Utc>>, from: NaiveDate, to: NaiveDate| {
            all.iter()
                .flat_map(|s| at(s).into_iter().map(move |t| (s, t)))
                .filter(|(s, t)| shown(s.queue_at(*t), f) && day_of(*t) >= from && day_of(*t) <= to)
                .count() as i64
        };
    let ins = |s: &Scripted| s.inbound.clone();
    let outs = |s: &Scripted| -> Vec<DateTime<Utc>> {
        s.answers.iter().filter(|a| a.2).map(|a| a.0).collect()
    };
    let messages = |at: &dyn Fn(&Scripted) -> Vec<DateTime<Utc>>| Compared {
        now: count_in(at, f.from, f.to),
        before: count_in(at, pf, pt),
    };
    assert_eq!(r.volume.messages_in, messages(&ins), "in");
    assert_eq!(r.volume.messages_out, messages(&outs), "out");
    for (ch, n) in &r.volume.by_channel {
        assert_eq!(*n, created(&|s| s.channel == *ch), "channel {ch:?}");
    }
    let by_queue: Vec<(QueueId, Compared)> = queues
        .iter()
        .filter(|q| shown(**q, f))
        .map(|q| (qid(*q), created(&|s| s.began() == *q)))
        .collect();
    assert_eq!(r.volume.by_queue, by_queue);
    for (p, n) in &r.volume.by_priority {
        assert_eq!(*n, created(&|s| s.priority == *p), "priority {p:?}");
    }
    let by_tag: Vec<(String, Compared)> = ranked(
        topic_counts(all, f, "").1,
        &topic_counts(all, &prev, "").1,
        &HashMap::new(),
    )
    .into_iter()
    .map(|r| {
        (
            r.key,
            Compared {
                now: r.n,
                before: r.before,
            },
        )
    })
    .collect();
    assert_eq!(r.volume.by_tag, by_tag, "tags by volume");
    // The series: one point per step.
    let mut start = f.step.start_of(f.from);
    for p in &r.volume.series {
        assert_eq!(p.start, start);
        let next = match f.step {
            Step::Day => start + Days::new(1),
            Step::Week => start + Days::new(7),
            Step::Month => start + Months::new(1),
        };
        let (a, b) = (start.max(f.from), (next - Days::new(1)).min(f.to));
        let made = counted
            .iter()
            .filter(|s| day_of(s.start) >= a && day_of(s.start) <= b)
            .count() as i64;
        assert_eq!(
            (p.created, p.messages_in, p.messages_out),
            (made, count_in(&ins, a, b), count_in(&outs, a, b)),
            "series at {start}"
        );
        start = next;
    }
    assert!(start > f.to, "the series covers the period");
}

/// Compare every figure of `r` with the script.
fn check_report(
    r: &Report,
    all: &[Scripted],
    queues: &[i64],
    article: (&str, &str),
    names: Option<&HashMap<i64, String>>,
) {
    check_volume(r, all, queues);
    let f = &r.filter;
    let qid = |q: i64| queue_of(r, q);
    let counted: Vec<&Scripted> = all.iter().filter(|s| shown(s.began(), f)).collect();
    assert_eq!(r.backlog.points, expected_backlog(all, f), "backlog");
    let visible: Vec<i64> = queues.iter().copied().filter(|q| shown(*q, f)).collect();
    assert_eq!(r.times.rows, expected_times(all, f, None), "times");
    let per_queue: Vec<(QueueId, Vec<TimeRow>)> = visible
        .iter()
        .map(|q| (qid(*q), expected_times(all, f, Some(*q))))
        .filter(|(_, rows)| rows.iter().any(|r| r.n > 0))
        .collect();
    assert_eq!(r.times.per_queue, per_queue, "times per queue");
    assert_eq!(r.kkik, expected_kkik(all, f, &visible, &qid), "KKiK");
    assert_eq!(
        r.first_contact,
        expected_first_contact(all, f, &visible, &qid),
        "first contact"
    );
    // No service-level policy: the three totals, all zero.
    assert_eq!(r.sla.len(), 3);
    assert!(
        r.sla
            .iter()
            .all(|s| s.met + s.in_time + s.warned + s.breached == 0)
    );
    check_flow_and_topics(r, all, &visible, article);
    let mut grid = vec![vec![0i64; 24]; 7];
    for s in counted.iter().filter(|s| in_period(s.start, f)) {
        let l = s.start.with_timezone(&Stockholm);
        grid[l.weekday().num_days_from_monday() as usize][l.hour() as usize] += 1;
    }
    assert_eq!(r.hours, grid, "hours");
    match names {
        Some(names) => assert_eq!(r.agents, Some(expected_agents(all, f, names)), "agents"),
        None => assert_eq!(r.agents, None),
    }
}

/// A referral row: queue, sent, answered, median, 90th percentile.
type AnswerFigures = (QueueId, i64, i64, Option<i64>, Option<i64>);

fn check_flow_and_topics(r: &Report, all: &[Scripted], visible: &[i64], article: (&str, &str)) {
    let f = &r.filter;
    let qid = |q: i64| queue_of(r, q);
    let mut transfers = vec![];
    for s in all {
        for w in s.places.windows(2) {
            if in_period(w[1].0, f) && shown(w[0].1, f) {
                transfers.push((qid(w[0].1), qid(w[1].1), 1));
            }
        }
    }
    assert_eq!(r.flow.transfers, transfers, "transfers");
    let mut referrals: BTreeMap<i64, (i64, i64, Vec<i64>)> = BTreeMap::new();
    for s in all {
        if let Some((sent, answered)) = s.referral {
            if in_period(sent, f) && shown(s.queue_at(sent), f) {
                referrals.entry(s.queue_at(sent)).or_default().0 += 1;
            }
            if in_period(answered, f) && shown(s.queue_at(answered), f) {
                let e = referrals.entry(s.queue_at(answered)).or_default();
                e.1 += 1;
                e.2.push(step((answered - sent).num_seconds()));
            }
        }
    }
    let got: Vec<AnswerFigures> = r
        .flow
        .referrals
        .iter()
        .map(|a| (a.queue, a.sent, a.answered, a.median, a.p90))
        .collect();
    let want: Vec<AnswerFigures> = visible
        .iter()
        .filter_map(|q| {
            let (s, a, t) = referrals.get(q)?;
            Some((qid(*q), *s, *a, nearest_rank(t, 50), nearest_rank(t, 90)))
        })
        .collect();
    assert_eq!(got, want, "referrals");
    assert!(r.flow.escalations.is_empty());
    // Topics.
    let titles: HashMap<String, String> = [(article.0.to_string(), article.1.to_string())].into();
    let (pf, pt) = f.previous();
    let prev = Filter {
        from: pf,
        to: pt,
        ..f.clone()
    };
    let (used, tags, unanswered_tags) = topic_counts(all, f, article.0);
    let (used_b, tags_b, unanswered_b) = topic_counts(all, &prev, article.0);
    let mut unanswered = vec![];
    for s in all {
        if let Some((at, _)) = s.resolved
            && s.article.is_none()
            && in_period(at, f)
            && shown(s.queue_at(at), f)
        {
            unanswered.push((
                day_of(at),
                s.number.clone(),
                s.subject.to_string(),
                s.queue_at(at),
            ));
        }
    }
    assert_eq!(
        r.topics.articles,
        ranked(used, &used_b, &titles),
        "articles"
    );
    assert_eq!(r.topics.tags, ranked(tags, &tags_b, &titles), "tags");
    assert_eq!(
        r.topics.unanswered_tags,
        ranked(unanswered_tags, &unanswered_b, &titles),
        "unanswered tags"
    );
    assert_eq!(r.topics.resolved_without_article, unanswered.len() as i64);
    unanswered.sort_by(|a, b| b.cmp(a));
    let got: Vec<(String, String, i64)> = r
        .topics
        .unanswered
        .iter()
        .map(|u| (u.number.clone(), u.subject.clone(), u.queue.get()))
        .collect();
    let want: Vec<(String, String, i64)> = unanswered
        .into_iter()
        .map(|(_, n, s, q)| (n, s, q))
        .collect();
    assert_eq!(
        got, want,
        "the latest questions resolved without an article"
    );
}

// ---- scenario 1: a known year ----

/// VA's lead refers the ticket to a department (as tests/api/referral.rs does).
async fn refer(app: &TestApp, org: &Org, number: &str) {
    let (slug, target) = (org.slug.clone(), "Miljöförvaltningen".to_string());
    let target_id = app
        .db
        .write(move |c| -> Result<i64, Error> {
            let t = arendo::tenants::tenant_by_slug(c, &slug)?.id;
            arendo::escalation::save_referral_target(
                c,
                t,
                &arendo::escalation::ReferralTarget {
                    name: target,
                    email: "miljo@statby.se".into(),
                    response_days: 5,
                    allow_citizen_reply: false,
                    pauses_sla: true,
                },
            )
        })
        .await
        .unwrap();
    let agent =
        crate::helpers::signed_in(app, &org.slug, &org.agent_b.email, &org.agent_b.password).await;
    let status = app
        .escalate(
            &agent,
            number,
            &target_id.to_string(),
            "Vem ansvarar för diket?",
        )
        .await;
    assert_eq!(status, 303);
}

/// The department's mail has gone (the "referred" event is written then): the handler's link.
async fn wait_referral_link(app: &TestApp, number: &str) -> String {
    let mut mail = None;
    for _ in 0..200 {
        mail = app.outbox_mails("miljo@statby.se").await.into_iter().next();
        if mail.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mail: Value = mail.expect("the department was mailed");
    assert!(mail["subject"].as_str().unwrap().contains(number));
    let text = mail["text"].as_str().unwrap();
    let at = text.find("/remiss/").unwrap();
    text[at..].split_whitespace().next().unwrap().to_string()
}

/// The department answers the agent through its page.
async fn answer_referral(app: &TestApp, path: &str) {
    let handler = app.browser();
    let html = handler
        .get(app.url(path))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let r = handler
        .post(app.url(&format!("{path}/answer")))
        .form(&[
            ("csrf", csrf_in(&html).as_str()),
            ("text", "Diket sköts av kommunen."),
            ("to", "agent"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
}

/// Refresh every ticket of the tenant now (what the follower does for changed tickets).
async fn refresh_all(app: &TestApp, actor: &Actor) {
    let t = actor.tenant;
    let ids: Vec<i64> = app
        .db
        .read(move |c| -> Result<Vec<i64>, Error> {
            diesel::sql_query(format!(
                "SELECT id AS n FROM tickets WHERE tenant_id = {}",
                t.get()
            ))
            .load::<Id>(c)
            .map(|r| r.into_iter().map(|r| r.n).collect())
            .map_err(sql_err)
        })
        .await
        .unwrap();
    let db = app.db.clone();
    tokio::task::spawn_blocking(move || arendo::stats::refresh_now(&db, t, ids))
        .await
        .unwrap()
        .unwrap();
}

/// A knowledge-base article of the starter set: (id, slug, title).
async fn an_article(app: &TestApp, org: &Org) -> (i64, String, String) {
    let (code, _, err) = app
        .cli(&["kb", "import", "--tenant", org.slug.as_str()], None, &[])
        .await;
    assert_eq!(code, 0, "{err}");
    let slug = arendo::kb::starter_files()
        .into_iter()
        .map(|(_, t)| arendo::kb::article::parse_file(&t).unwrap())
        .find(|a| a.audience == arendo::domain::Audience::Public)
        .unwrap()
        .slug;
    let tenant = org.slug.clone();
    app.db
        .read(move |c| -> Result<(i64, String, String), Error> {
            let t = arendo::store::tenants::by_slug(c, &tenant)?.unwrap().id;
            let a = arendo::store::kb::by_slug(c, t, &slug)?.unwrap();
            Ok((a.id, slug, a.content.title))
        })
        .await
        .unwrap()
}

/// How many automatic (auto_sent) outbound messages a ticket has.
async fn automatic_messages(app: &TestApp, ticket: i64) -> i64 {
    app.db
        .read(move |c| -> Result<i64, Error> {
            diesel::sql_query(format!(
                "SELECT COUNT(*) AS n FROM messages WHERE ticket_id = {ticket} AND auto_sent = TRUE"
            ))
            .get_result::<Id>(c)
            .map(|r| r.n)
            .map_err(sql_err)
        })
        .await
        .unwrap()
}

/// The first mail of March: it comes in by mail on Friday afternoon before the spring DST night
/// (acknowledged automatically), gets a note, an answer on Monday, is resolved, reopened by the
/// citizen's reply on Tuesday, answered again and resolved for good.
async fn script_mail_reopened(
    app: &TestApp,
    org: &Org,
    st: &mut Stamper,
    anna: &Actor,
) -> Scripted {
    let token = &org.agent_a.token;
    let subject = "Sophämtningen missad";
    let (start, answer, resolved) = (
        local(2026, 3, 27, 15, 0),
        local(2026, 3, 30, 9, 0),
        local(2026, 3, 30, 9, 5),
    );
    let (reply, answer2, resolved2) = (
        local(2026, 3, 31, 10, 0),
        local(2026, 3, 31, 11, 0),
        local(2026, 3, 31, 11, 30),
    );
    import(
        app,
        org,
        "kundtjanst",
        "t1",
        citizen_mail(subject, "t1@example.org", "", "Soporna hämtades inte."),
    );
    let n = number_by_subject(app, subject).await;
    let id = ticket_id(app, &n).await;
    tag(app, anna, &n, "avfall").await;
    st.stamp(app, id, start).await;
    send(app, token, &n, "note", "Ringer entreprenören.").await;
    st.stamp(app, id, local(2026, 3, 27, 15, 10)).await;
    send(app, token, &n, "reply", "Hej! Vi hämtar i morgon.").await;
    st.stamp(app, id, answer).await;
    app.patch_ticket(token, &n, json!({ "status": "resolved" }))
        .await;
    st.stamp(app, id, resolved).await;
    let re = format!("Re: {subject} [{n}]");
    import(
        app,
        org,
        "kundtjanst",
        "t1b",
        citizen_mail(&re, "t1b@example.org", "", "De kom inte."),
    );
    st.stamp(app, id, reply).await;
    send(app, token, &n, "reply", "Förlåt! Nu är det ordnat.").await;
    st.stamp(app, id, answer2).await;
    app.patch_ticket(token, &n, json!({ "status": "resolved" }))
        .await;
    st.stamp(app, id, resolved2).await;
    assert!(
        automatic_messages(app, id).await >= 1,
        "the citizen was acknowledged"
    );
    let an = org.agent_a.id;
    Scripted {
        number: n,
        subject,
        channel: Channel::Email,
        priority: Priority::Normal,
        start,
        places: vec![(start, org.queue_a)],
        status: vec![
            (start, St::New),
            (answer, St::Open),
            (resolved, St::Done),
            (reply, St::Open),
            (resolved2, St::Done),
        ],
        answers: vec![(answer, an, true), (answer2, an, true)],
        inbound: vec![start, reply],
        resolved: Some((resolved2, an)),
        reopened: true,
        passed_on: false,
        article: None,
        tags: vec!["avfall"],
        referral: None,
    }
}

/// A phone call registered and answered at once with a knowledge-base article (June).
async fn script_answered_directly(
    app: &TestApp,
    org: &Org,
    st: &mut Stamper,
    admin: &Actor,
    article: i64,
) -> Scripted {
    let subject = "Parkeringstillstånd";
    let start = local(2026, 6, 17, 10, 0);
    let reg = Registration {
        intake: Some(IntakeChannel::Phone),
        answered_directly: true,
        kb_article: Some(article),
        ..Default::default()
    };
    let n = register(app, admin, org.queue_a, subject, Priority::Normal, reg).await;
    tag(app, admin, &n, "parkering").await;
    st.stamp(app, ticket_id(app, &n).await, start).await;
    Scripted {
        number: n,
        subject,
        channel: Channel::Phone,
        priority: Priority::Normal,
        start,
        places: vec![(start, org.queue_a)],
        status: vec![(start, St::Done)],
        answers: vec![(start, org.admin.id, false)],
        inbound: vec![start],
        resolved: Some((start, org.admin.id)),
        reopened: false,
        passed_on: false,
        article: Some(start),
        tags: vec!["parkering"],
        referral: None,
    }
}

/// An e-mailed question (through the API) on midsommarafton, transferred to VA at once and
/// answered on Monday morning.
async fn script_transferred(app: &TestApp, org: &Org, st: &mut Stamper, anna: &Actor) -> Scripted {
    let subject = "Vattnet är brunt";
    let (start, moved) = (local(2026, 6, 19, 9, 0), local(2026, 6, 19, 9, 30));
    let (answer, resolved) = (local(2026, 6, 22, 8, 30), local(2026, 6, 22, 9, 0));
    let n = app
        .create_ticket_from(
            &org.agent_a.token,
            json!({ "queue": org.queue_a, "subject": subject, "body": "Brunt vatten i kranen.",
                    "channel": "email", "contact": { "name": "Eva Ek", "email": "eva@example.org" } }),
        )
        .await;
    let id = ticket_id(app, &n).await;
    tag(app, anna, &n, "vatten").await;
    st.stamp(app, id, start).await;
    app.patch_ticket(&org.admin.token, &n, json!({ "queue": org.queue_b }))
        .await;
    st.stamp(app, id, moved).await;
    send(
        app,
        &org.agent_b.token,
        &n,
        "reply",
        "Spola kallvattnet en stund.",
    )
    .await;
    st.stamp(app, id, answer).await;
    app.patch_ticket(&org.agent_b.token, &n, json!({ "status": "resolved" }))
        .await;
    st.stamp(app, id, resolved).await;
    let be = org.agent_b.id;
    Scripted {
        number: n,
        subject,
        channel: Channel::Email,
        priority: Priority::Normal,
        start,
        places: vec![(start, org.queue_a), (moved, org.queue_b)],
        status: vec![(start, St::New), (answer, St::Open), (resolved, St::Done)],
        answers: vec![(answer, be, true)],
        inbound: vec![start],
        resolved: Some((resolved, be)),
        reopened: false,
        passed_on: true,
        article: None,
        tags: vec!["vatten"],
        referral: None,
    }
}

/// A phone call with high priority on a Thursday at 16:00, acknowledged by mail, answered on
/// the Monday after the autumn DST night and left waiting for the citizen from Tuesday.
async fn script_waiting(app: &TestApp, org: &Org, st: &mut Stamper, admin: &Actor) -> Scripted {
    let subject = "Vattenmätaren läcker";
    let (start, answer, waiting) = (
        local(2026, 10, 22, 16, 0),
        local(2026, 10, 26, 8, 15),
        local(2026, 10, 27, 9, 0),
    );
    let reg = Registration {
        intake: Some(IntakeChannel::Phone),
        acknowledge: true,
        ..Default::default()
    };
    let n = register(app, admin, org.queue_b, subject, Priority::High, reg).await;
    let id = ticket_id(app, &n).await;
    st.stamp(app, id, start).await;
    send(
        app,
        &org.admin.token,
        &n,
        "reply",
        "Vi kommer och byter mätaren.",
    )
    .await;
    st.stamp(app, id, answer).await;
    app.patch_ticket(
        &org.admin.token,
        &n,
        json!({ "status": "waiting", "waiting_on": "citizen" }),
    )
    .await;
    st.stamp(app, id, waiting).await;
    Scripted {
        number: n,
        subject,
        channel: Channel::Phone,
        priority: Priority::High,
        start,
        places: vec![(start, org.queue_b)],
        status: vec![(start, St::New), (answer, St::Open), (waiting, St::Waiting)],
        answers: vec![(answer, org.admin.id, true)],
        inbound: vec![start],
        resolved: None,
        reopened: false,
        passed_on: false,
        article: None,
        tags: vec![],
        referral: None,
    }
}

/// An e-service question on a Saturday that nobody has touched.
async fn script_untouched(app: &TestApp, org: &Org, st: &mut Stamper, bertil: &Actor) -> Scripted {
    let subject = "Kärl till trädgårdsavfall";
    let start = local(2026, 3, 28, 12, 0);
    let n = app
        .create_ticket_from(
            &org.agent_b.token,
            json!({ "queue": org.queue_b, "subject": subject, "body": "Hur beställer jag ett kärl?" }),
        )
        .await;
    tag(app, bertil, &n, "avfall").await;
    st.stamp(app, ticket_id(app, &n).await, start).await;
    Scripted {
        number: n,
        subject,
        channel: Channel::Api,
        priority: Priority::Normal,
        start,
        places: vec![(start, org.queue_b)],
        status: vec![(start, St::New)],
        answers: vec![],
        inbound: vec![start],
        resolved: None,
        reopened: false,
        passed_on: false,
        article: None,
        tags: vec!["avfall"],
        referral: None,
    }
}

/// A mail to VA late on a Monday, referred to a department, answered on Wednesday morning:
/// more than a working day of opening hours.
async fn script_referred(app: &TestApp, org: &Org, st: &mut Stamper, bertil: &Actor) -> Scripted {
    let subject = "Diket vid Ängsvägen";
    let (start, referred, back) = (
        local(2026, 10, 5, 16, 20),
        local(2026, 10, 5, 16, 25),
        local(2026, 10, 6, 10, 0),
    );
    let (answer, resolved) = (local(2026, 10, 7, 8, 30), local(2026, 10, 7, 8, 35));
    let raw = crate::mail::mail(
        "Olle Berg <olle@example.org>",
        "va@statby.se",
        subject,
        "t7@example.org",
        "",
        "Diket svämmar över.",
    );
    import(app, org, "va", "t7", raw);
    let n = number_by_subject(app, subject).await;
    let id = ticket_id(app, &n).await;
    tag(app, bertil, &n, "vatten").await;
    st.stamp(app, id, start).await;
    refer(app, org, &n).await;
    let handler_link = wait_referral_link(app, &n).await;
    st.stamp(app, id, referred).await;
    answer_referral(app, &handler_link).await;
    st.stamp(app, id, back).await;
    send(
        app,
        &org.agent_b.token,
        &n,
        "reply",
        "Kommunen rensar diket i veckan.",
    )
    .await;
    st.stamp(app, id, answer).await;
    app.patch_ticket(&org.agent_b.token, &n, json!({ "status": "resolved" }))
        .await;
    st.stamp(app, id, resolved).await;
    let be = org.agent_b.id;
    Scripted {
        number: n,
        subject,
        channel: Channel::Email,
        priority: Priority::Normal,
        start,
        places: vec![(start, org.queue_b)],
        status: vec![
            (start, St::New),
            (referred, St::Waiting),
            (back, St::Open),
            (resolved, St::Done),
        ],
        answers: vec![(answer, be, true)],
        inbound: vec![start],
        resolved: Some((resolved, be)),
        reopened: false,
        passed_on: true,
        article: None,
        tags: vec!["vatten"],
        referral: Some((referred, back)),
    }
}

/// An auto-reply mail opens an automatic ticket: it counts for nothing.
async fn script_automatic(app: &TestApp, org: &Org, st: &mut Stamper) {
    let subject = "Frånvaro: Re: soporna";
    let raw = citizen_mail(
        subject,
        "ooo@example.org",
        "Auto-Submitted: auto-replied\r\n",
        "Jag är på semester.",
    );
    import(app, org, "kundtjanst", "t6", raw);
    let n = number_by_subject(app, subject).await;
    st.stamp(app, ticket_id(app, &n).await, local(2026, 3, 30, 10, 0))
        .await;
}

fn only(all: &[Scripted], keep: impl Fn(&Scripted) -> bool) -> Vec<Scripted> {
    all.iter().filter(|s| keep(s)).cloned().collect()
}

/// Every figure but who looks and for which queues.
fn same_figures(a: &Report, b: &Report) {
    assert_eq!(a.volume, b.volume);
    assert_eq!(a.backlog, b.backlog);
    assert_eq!(a.times, b.times);
    assert_eq!(a.kkik, b.kkik);
    assert_eq!(a.sla, b.sla);
    assert_eq!(a.first_contact, b.first_contact);
    assert_eq!(a.flow, b.flow);
    assert_eq!(a.topics, b.topics);
    assert_eq!(a.hours, b.hours);
    assert_eq!(a.agents, b.agents);
}

/// A week around each DST change by day, the autumn by week, the year per queue, per channel,
/// priority and tag (those are counted from the tickets' cells), and the next year, whose
/// previous period is this one.
async fn check_filtered(
    app: &TestApp,
    admin: &Actor,
    all: &[Scripted],
    queues: &[i64],
    art: (&str, &str),
    r: &Report,
) {
    // Around the spring and the autumn DST change, by day; the week before is empty.
    for (from, to) in [
        (date(2026, 3, 25), date(2026, 3, 31)),
        (date(2026, 10, 20), date(2026, 10, 31)),
    ] {
        let r = report(app, admin, period(from, to, Step::Day)).await;
        check_report(&r, all, queues, art, None);
        assert_eq!(r.volume.created.before, 0);
    }
    // By week over the autumn.
    let autumn = period(date(2026, 9, 1), date(2026, 11, 15), Step::Week);
    check_report(&report(app, admin, autumn).await, all, queues, art, None);

    let year = r.filter.clone();
    let (qa, qb) = (queue_of(r, queues[0]), queue_of(r, queues[1]));
    for q in [qa, qb] {
        let f = Filter {
            queue: Some(q),
            ..year.clone()
        };
        check_report(&report(app, admin, f).await, all, queues, art, None);
    }
    for ch in [Channel::Email, Channel::Phone] {
        let f = Filter {
            channel: Some(ch),
            ..year.clone()
        };
        check_report(
            &report(app, admin, f).await,
            &only(all, |s| s.channel == ch),
            queues,
            art,
            None,
        );
    }
    let f = Filter {
        priority: Some(Priority::High),
        ..year.clone()
    };
    check_report(
        &report(app, admin, f).await,
        &only(all, |s| s.priority == Priority::High),
        queues,
        art,
        None,
    );
    let f = Filter {
        tag: Some("vatten".into()),
        ..year.clone()
    };
    check_report(
        &report(app, admin, f).await,
        &only(all, |s| s.tags.contains(&"vatten")),
        queues,
        art,
        None,
    );
    // The previous period of the next year is this one.
    let next = report(
        app,
        admin,
        period(date(2027, 1, 1), date(2027, 12, 31), Step::Month),
    )
    .await;
    assert_eq!(next.volume.created, Compared { now: 0, before: 6 });
}

/// A known year: seven tickets (one of them automatic) made through the use cases, their history
/// moved to scripted instants, and every figure of the report compared with the test's own
/// arithmetic from the script — for the year by month, for a week around each DST change by day,
/// per queue, per channel, priority and tag, per agent, and after a rebuild.
async fn a_scripted_year_gives_the_figures_of_the_definitions(b: Backend) {
    let app = TestApp::spawn_with(
        b,
        &[
            ("ARENDO_MAIL__IMAP_ENABLED", "false"),
            ("ARENDO_OUTBOX__RETRY_BASE_MS", "200"),
        ],
    )
    .await;
    let org = app.org("statby").await;
    let admin = actor_of(&app, &org.admin.token).await;
    let anna = actor_of(&app, &org.agent_a.token).await;
    let bertil = actor_of(&app, &org.agent_b.token).await;
    let (article, slug, title) = an_article(&app, &org).await;
    let mut st = Stamper::default();
    let all = vec![
        script_mail_reopened(&app, &org, &mut st, &anna).await,
        script_answered_directly(&app, &org, &mut st, &admin, article).await,
        script_transferred(&app, &org, &mut st, &anna).await,
        script_waiting(&app, &org, &mut st, &admin).await,
        script_untouched(&app, &org, &mut st, &bertil).await,
        script_referred(&app, &org, &mut st, &bertil).await,
    ];
    script_automatic(&app, &org, &mut st).await;
    refresh_all(&app, &admin).await;
    let queues = [org.queue_a, org.queue_b];
    let art = (slug.as_str(), title.as_str());

    let year = period(date(2026, 1, 1), date(2026, 12, 31), Step::Month);
    let r = report(&app, &admin, year.clone()).await;
    check_report(&r, &all, &queues, art, None);
    // A few figures by hand, so the test's own arithmetic is checked too.
    assert_eq!(
        r.volume.created.now, 6,
        "the automatic ticket does not count"
    );
    assert_eq!(
        r.volume.messages_out.now, 5,
        "acknowledgements do not count"
    );
    let first = &r.times.rows[0];
    assert_eq!(
        (first.n, first.median, first.p90),
        (5, Some(7200), Some(32_400))
    );
    let untouched = &all[4];
    assert_eq!(
        r.backlog.oldest_open,
        Some((untouched.number.clone(), untouched.start.naive_utc()))
    );
    assert_eq!(
        r.kkik
            .iter()
            .filter(|k| k.queue.is_none())
            .map(|k| (k.asked, k.in_day))
            .collect::<Vec<_>>(),
        [(1, 1), (1, 1), (1, 0)],
        "March and midsommar in a working day, the late Monday mail not"
    );

    check_filtered(&app, &admin, &all, &queues, art, &r).await;
    let qb = queue_of(&r, org.queue_b);

    // Per agent, once an admin turns it on.
    arendo::stats::set_per_agent(&app.db, &admin, true)
        .await
        .unwrap();
    let names: HashMap<i64, String> = [
        (org.admin.id, "admin statby".to_string()),
        (org.agent_a.id, "anna statby".to_string()),
        (org.agent_b.id, "bertil statby".to_string()),
    ]
    .into();
    let r = report(&app, &admin, year.clone()).await;
    check_report(&r, &all, &queues, art, Some(&names));

    // The lead of VA sees VA's figures: what the admin sees of VA.
    let lead = report(&app, &bertil, year.clone()).await;
    assert_eq!(lead.queues, vec![(qb, "VA".to_string())]);
    let va = report(
        &app,
        &admin,
        Filter {
            queue: Some(qb),
            ..year.clone()
        },
    )
    .await;
    same_figures(&lead, &va);

    // The operator's rebuild gives the same figures.
    let (code, out, err) = app
        .cli(
            &["stats", "rebuild", "--tenant", org.slug.as_str()],
            None,
            &[],
        )
        .await;
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(report(&app, &admin, year).await, r);
}
both_backends!(a_scripted_year_gives_the_figures_of_the_definitions);

// ---- scenario 2: the follower keeps the figures live ----

/// The report once `ready` holds for it (the app's follower gets there within seconds).
async fn wait_report(
    app: &TestApp,
    actor: &Actor,
    f: &Filter,
    what: &str,
    ready: impl Fn(&Report) -> bool,
) -> Report {
    let mut r = report(app, actor, f.clone()).await;
    for _ in 0..300 {
        if ready(&r) {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        r = report(app, actor, f.clone()).await;
    }
    panic!("{what}: {r:#?}");
}

fn backlog_today(r: &Report) -> (i64, i64, i64) {
    let p = r.backlog.points.last().unwrap();
    (p.new, p.open, p.waiting)
}

/// Without moving any time: a new ticket, a person's reply, a transfer, a resolution and a
/// reopening each show in the report within seconds; a rebuild gives the same report.
async fn the_follower_keeps_the_figures_live(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("levby").await;
    let admin = actor_of(&app, &org.admin.token).await;
    let today = day_of(Utc::now());
    let all = period(today, today, Step::Day);
    let r = report(&app, &admin, all.clone()).await;
    let (qa, qb) = (queue_of(&r, org.queue_a), queue_of(&r, org.queue_b));
    let in_a = Filter {
        queue: Some(qa),
        ..all.clone()
    };
    let in_b = Filter {
        queue: Some(qb),
        ..all.clone()
    };

    let n = app
        .create_ticket(&org.agent_a.token, org.queue_a, "Bygglov för altan")
        .await["number"]
        .as_str()
        .unwrap()
        .to_string();
    wait_report(&app, &admin, &all, "the new ticket", |r| {
        r.volume.created.now == 1 && r.volume.messages_in.now == 1 && backlog_today(r) == (1, 0, 0)
    })
    .await;
    send(
        &app,
        &org.agent_a.token,
        &n,
        "reply",
        "Hej! Altaner under 15 kvm behöver inget bygglov.",
    )
    .await;
    let r = wait_report(&app, &admin, &all, "the reply", |r| {
        r.volume.messages_out.now == 1
    })
    .await;
    assert_eq!(r.times.rows[0].n, 1, "a first response");
    assert_eq!(backlog_today(&r), (0, 1, 0), "answered: open");

    app.patch_ticket(&org.admin.token, &n, json!({ "queue": org.queue_b }))
        .await;
    wait_report(&app, &admin, &all, "the transfer", |r| {
        r.flow.transfers == [(qa, qb, 1)]
    })
    .await;
    let (a, b) = (
        report(&app, &admin, in_a.clone()).await,
        report(&app, &admin, in_b.clone()).await,
    );
    assert_eq!(
        (backlog_today(&a), backlog_today(&b)),
        ((0, 0, 0), (0, 1, 0)),
        "the backlog moved"
    );
    assert_eq!(
        (a.volume.created.now, b.volume.created.now),
        (1, 0),
        "created where it began"
    );

    app.patch_ticket(&org.admin.token, &n, json!({ "status": "resolved" }))
        .await;
    let r = wait_report(&app, &admin, &all, "the resolution", |r| {
        r.first_contact[0].resolved == 1
    })
    .await;
    assert_eq!(r.first_contact[0].first_contact, 0, "it was transferred");
    assert_eq!(backlog_today(&r), (0, 0, 0));
    assert_eq!(r.times.rows[4].n, 1, "a resolution time");

    app.patch_ticket(&org.admin.token, &n, json!({ "status": "open" }))
        .await;
    let followed = wait_report(&app, &admin, &all, "the reopening", |r| {
        r.first_contact[0].resolved == 0 && backlog_today(r) == (0, 1, 0)
    })
    .await;
    assert_eq!(followed.times.rows[4].n, 0, "no resolution time any more");

    let db = app.db.clone();
    let read = tokio::task::spawn_blocking(move || arendo::stats::rebuild(&db, &admin, &|_, _| {}))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read, 1);
    let admin = actor_of(&app, &org.admin.token).await;
    assert_eq!(
        report(&app, &admin, all).await,
        followed,
        "the rebuild gives the same report"
    );
}
both_backends!(the_follower_keeps_the_figures_live);

// ---- scenario 3: who may see what ----

/// Admins see every queue, a queue lead their own; an agent who leads nothing, a queue outside
/// the lead's and an API token without stats:read are refused.
async fn only_admins_and_leads_see_statistics(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("vemby").await;
    let (admin, anna, bertil) = (
        actor_of(&app, &org.admin.token).await,
        actor_of(&app, &org.agent_a.token).await,
        actor_of(&app, &org.agent_b.token).await,
    );
    let today = day_of(Utc::now());
    let f = period(today, today, Step::Day);
    let forbidden = |r: Result<Report, Error>| matches!(r, Err(Error::Forbidden(_)));

    let r = report(&app, &admin, f.clone()).await;
    let (qa, qb) = (queue_of(&r, org.queue_a), queue_of(&r, org.queue_b));
    let ids: Vec<i64> = r.queues.iter().map(|(q, _)| q.get()).collect();
    assert_eq!(ids, [org.queue_a, org.queue_b]);
    assert!(
        forbidden(arendo::stats::report(&app.db, &anna, f.clone()).await),
        "an agent"
    );
    let r = report(&app, &bertil, f.clone()).await;
    assert_eq!(r.queues, vec![(qb, "VA".to_string())]);
    assert_eq!(r.volume.by_queue.len(), 1);
    let other = Filter {
        queue: Some(qa),
        ..f.clone()
    };
    assert!(
        forbidden(arendo::stats::report(&app.db, &bertil, other).await),
        "not the lead's queue"
    );
    assert!(matches!(
        arendo::stats::set_per_agent(&app.db, &bertil, true).await,
        Err(Error::Forbidden(_))
    ));

    // An admin's API token without stats:read.
    let signer = Signer::new(&Keys::from_hex(&app.key_hex).unwrap());
    let (slug, u) = (org.slug.clone(), admin.user().unwrap());
    let token = app
        .db
        .write(move |c| -> Result<String, Error> {
            let t = arendo::tenants::tenant_by_slug(c, &slug)?.id;
            let scopes = [Scope::TicketsRead];
            Ok(
                arendo::accounts::admin::create_api_token(c, &signer, t, u, "utan", &scopes, None)?
                    .1,
            )
        })
        .await
        .unwrap();
    let narrow = actor_of(&app, &token).await;
    assert!(
        forbidden(arendo::stats::report(&app.db, &narrow, f).await),
        "a token without stats:read"
    );
}
both_backends!(only_admins_and_leads_see_statistics);
