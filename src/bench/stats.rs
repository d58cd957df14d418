//! `arendo-bench stats --tickets N [--postgres URL]`: the statistics (D64, issue 19) over a year of
//! realistic history. Seeds a scratch database (SQLite in a temporary directory, or a scratch
//! database on the PostgreSQL server given) with N tickets across ten queues and their whole
//! history — acknowledgements, answers after realistic delays, next responses, transfers,
//! referrals, escalations, reopenings, knowledge-base use, tags, service-level warnings — written
//! in bulk (`store::seed`). Then it times:
//!
//! - the aggregates built from scratch: `arendo stats rebuild` as a child process (the product
//!   binary, as an operator runs it), tickets/s;
//! - the report use case `arendo::stats::report` in-process, for "the last 12 whole months" as an
//!   administrator sees it (all queues), one queue, and filtered by a tag (read from the
//!   tickets' cells, not the aggregates);
//! - the statistics page and a CSV export over HTTP (the server started as a child, signed in as
//!   an administrator), when the server has them (`--page`, `--export`: the paths, `{from}` and
//!   `{to}` replaced by the period).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use chrono::{Datelike, Days, Months, NaiveDate, NaiveDateTime, TimeDelta, TimeZone};
use chrono_tz::Europe::Stockholm;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use super::{percentile_ms, product_binary, scratch_pg, spawn_server_with, wait_ready};
use crate::accounts::Actor;
use crate::accounts::admin::{self, NewUser};
use crate::accounts::password::NewPassword;
use crate::domain::{EmailAddress, MembershipRole, Priority, QueueId, Role, TenantId};
use crate::error::Error;
use crate::sla::Calendar;
use crate::stats::{Filter, Step};
use crate::store::seed::{SeedBatch, SeedContact, SeedEvent, SeedMessage, SeedTicket};
use crate::store::{self, Db};
use crate::tenants;

const TENANT: &str = "benchkommun";
const ADMIN_EMAIL: &str = "statistik@benchkommun.se";

/// What the command was asked for.
pub struct Options {
    pub tickets: usize,
    /// A PostgreSQL server URL whose user may create databases; None: SQLite.
    pub postgres: Option<String>,
    pub requests: usize,
    pub page: String,
    pub export: String,
    /// Keep the database (and the SQLite data directory) for a closer look afterwards.
    pub keep: bool,
    /// Time the report, page and export on a database kept by an earlier run (`--keep`),
    /// without seeding or rebuilding.
    pub reuse: Option<String>,
}

/// The ten queues: slug, name, share of the tickets (per mille), subjects.
const QUEUES: [(&str, &str, u32, &[&str]); 10] = [
    (
        "kundtjanst",
        "Kundtjänst",
        260,
        &[
            "Fråga om öppettider",
            "Faktura från kommunen",
            "Synpunkt på bemötande",
        ],
    ),
    (
        "va",
        "Vatten och avlopp",
        120,
        &[
            "Vattenläcka på gatan",
            "Brunt vatten i kranen",
            "Fråga om VA-avgiften",
        ],
    ),
    (
        "avfall",
        "Avfall och återvinning",
        140,
        &[
            "Soptunnan blev inte tömd",
            "Byta storlek på kärl",
            "Hämtning av grovavfall",
        ],
    ),
    (
        "bygglov",
        "Bygglov",
        80,
        &[
            "Behöver jag bygglov för altan",
            "Status på bygglovsansökan",
            "Nybyggnadskarta",
        ],
    ),
    (
        "gata",
        "Gata och park",
        110,
        &[
            "Trasig gatubelysning",
            "Snöröjning på min gata",
            "Hål i asfalten",
        ],
    ),
    (
        "skola",
        "Förskola och skola",
        90,
        &[
            "Ansökan om förskoleplats",
            "Skolskjuts för mitt barn",
            "Byte av skola",
        ],
    ),
    (
        "omsorg",
        "Vård och omsorg",
        60,
        &[
            "Hemtjänst för min mamma",
            "Ansökan om trygghetslarm",
            "Färdtjänst",
        ],
    ),
    (
        "kultur",
        "Kultur och fritid",
        50,
        &[
            "Boka idrottshall",
            "Bibliotekets öppettider",
            "Föreningsbidrag",
        ],
    ),
    (
        "miljo",
        "Miljö och hälsa",
        50,
        &[
            "Buller från grannen",
            "Inspektion av restaurang",
            "Eldning i villaområde",
        ],
    ),
    (
        "parkering",
        "Parkering",
        40,
        &["Felparkerad bil", "Boendeparkering", "Parkeringsbot"],
    ),
];
const TAGS: [&str; 12] = [
    "akut",
    "återkommande",
    "faktura",
    "synpunkt",
    "felanmälan",
    "beröm",
    "klagomål",
    "tillgänglighet",
    "vinter",
    "sommar",
    "digitalt",
    "hänvisning",
];
const ARTICLES: usize = 40;
const FIRST: [&str; 8] = [
    "Anna", "Erik", "Maria", "Lars", "Fatima", "Johan", "Sara", "Ali",
];
const LAST: [&str; 6] = [
    "Andersson",
    "Johansson",
    "Karlsson",
    "Nilsson",
    "Ahmed",
    "Lindqvist",
];

pub async fn run(o: &Options) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let key_hex = hex::encode(rand::random::<[u8; 32]>());
    if let Some(url) = &o.reuse {
        return measure_kept(o, url, dir.path(), &key_hex).await;
    }
    let (url, backend, dropper): (String, &str, Box<dyn FnOnce()>) = match &o.postgres {
        None => (
            format!("sqlite://{}", dir.path().join("bench.db").display()),
            "SQLite",
            Box::new(|| {}),
        ),
        Some(admin) => {
            let (u, d) = scratch_pg(admin)?;
            (u, "PostgreSQL", Box::new(d))
        }
    };
    let result = run_on(o, &url, backend, dir.path(), &key_hex).await;
    if o.keep {
        let dir = dir.keep();
        println!(
            "  kept: {url} (data dir {}, ARENDO_SECRET_KEY={key_hex})",
            dir.display()
        );
    } else {
        dropper();
    }
    result
}

async fn run_on(
    o: &Options,
    url: &str,
    backend: &str,
    dir: &Path,
    key: &str,
) -> anyhow::Result<()> {
    println!(
        "bench stats on {backend} ({} tickets over the last 365 days, release={})",
        o.tickets,
        !cfg!(debug_assertions)
    );
    let db = Db::connect(url, 4)?;
    let s = setup(&db)?;
    let started = Instant::now();
    let counts = seed(&db, &s, o.tickets)?;
    let seeded = started.elapsed();
    println!(
        "  seed: {} tickets, {} messages, {} events in {:.1} s ({:.0} tickets/s)",
        o.tickets,
        counts.0,
        counts.1,
        seeded.as_secs_f64(),
        o.tickets as f64 / seeded.as_secs_f64()
    );
    let rebuild = rebuild(url, dir, key)?;
    println!(
        "  aggregates from scratch (`arendo stats rebuild` as a child process): {:.1} s, {:.0} tickets/s",
        rebuild.as_secs_f64(),
        o.tickets as f64 / rebuild.as_secs_f64()
    );
    measure(o, db, url, dir, key, &s).await
}

/// The measurements alone, on a database an earlier run kept: the municipality is found by its
/// slug and the administrator given a new password (the old one was printed nowhere).
async fn measure_kept(o: &Options, url: &str, dir: &Path, key: &str) -> anyhow::Result<()> {
    let backend = if url.starts_with("postgres") {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    println!(
        "bench stats on {backend}, kept database {url} (release={})",
        !cfg!(debug_assertions)
    );
    let db = Db::connect(url, 4)?;
    let password = NewPassword::generate();
    let hashed = crate::accounts::password::HashedPassword::of(&password);
    let s = db.write_blocking(move |c| -> Result<Setup, Error> {
        let t = store::tenants::by_slug(c, TENANT)?
            .ok_or_else(|| Error::Internal(format!("no municipality {TENANT} in this database")))?
            .id;
        let queues = store::queues::list(c, t)?
            .into_iter()
            .map(|q| q.id)
            .collect();
        let email = EmailAddress::parse(ADMIN_EMAIL)?;
        let admin = store::users::by_email(c, t, &email)?
            .ok_or_else(|| Error::Internal(format!("no {ADMIN_EMAIL} in this database")))?;
        admin::set_password(c, t, admin.id, &hashed)?;
        Ok(Setup {
            tenant: t,
            queues,
            agents: vec![],
            admin_password: password.expose().to_string(),
        })
    })?;
    measure(o, db, url, dir, key, &s).await
}

/// The aggregates' size, then the report in-process and the page and export over HTTP, for the
/// last 12 whole months.
async fn measure(
    o: &Options,
    db: Db,
    url: &str,
    dir: &Path,
    key: &str,
    s: &Setup,
) -> anyhow::Result<()> {
    print_sizes(&db)?;
    let filter = last_12_whole_months(chrono::Utc::now().with_timezone(&Stockholm).date_naive());
    println!(
        "  period: {} – {} (the last 12 whole months)",
        filter.from, filter.to
    );
    in_process(&db, s.tenant, &filter, s.queues[0], o.requests).await?;
    drop(db);
    over_http(o, url, dir, key, s, &filter).await
}

// ---- the municipality ----

struct Setup {
    tenant: TenantId,
    queues: Vec<QueueId>,
    /// Per queue, the agents who work it.
    agents: Vec<Vec<i64>>,
    admin_password: String,
}

fn setup(db: &Db) -> anyhow::Result<Setup> {
    db.write_blocking(|c| -> Result<_, Error> {
        let t = tenants::create_tenant(c, TENANT, "Benchkommun", "KC")?.id;
        let mut queues = vec![];
        for (slug, name, ..) in QUEUES {
            queues.push(tenants::create_queue(c, t, slug, name)?.id);
        }
        // Office hours with the Swedish holidays closed, as the tenant's default calendar; a
        // service level per queue and priority (as the demo municipality has).
        crate::sla::admin::save_calendar(c, t, "Kontorstid", &Calendar::default(), true)?;
        for q in &queues {
            for (p, first, resolution) in [
                (Priority::Low, "2d", "10d"),
                (Priority::Normal, "8h", "5d"),
                (Priority::High, "4h", "3d"),
                (Priority::Urgent, "2h", "1d"),
            ] {
                let input = crate::sla::admin::PolicyInput {
                    first_response: first.into(),
                    next_response: first.into(),
                    resolution: resolution.into(),
                    warn_percent: Some(80),
                    rules: vec![],
                };
                crate::sla::admin::save_policy(c, t, *q, p, &input)?;
            }
        }
        let mut agents = vec![vec![]; queues.len()];
        for i in 0..40 {
            let email = EmailAddress::parse(&format!("agent{i}@benchkommun.se"))?;
            let (a, b) = (i % queues.len(), (i + 3) % queues.len());
            let member = [
                (queues[a], MembershipRole::Agent),
                (queues[b], MembershipRole::Agent),
            ];
            let u = admin::create_user(
                c,
                t,
                NewUser {
                    email: &email,
                    display_name: &format!("{} {} ({i})", FIRST[i % 8], LAST[i % 6]),
                    role: Role::Agent,
                    password: &NewPassword::generate(),
                    queues: &member,
                },
            )?;
            agents[a].push(u.id.get());
            agents[b].push(u.id.get());
        }
        let password = NewPassword::generate();
        let email = EmailAddress::parse(ADMIN_EMAIL)?;
        admin::create_user(
            c,
            t,
            NewUser {
                email: &email,
                display_name: "Statistikansvarig",
                role: Role::Admin,
                password: &password,
                queues: &[],
            },
        )?;
        // Figures per agent on: the report reads them too (the most it can have to do).
        store::stats::set_per_agent(c, t, true)?;
        Ok(Setup {
            tenant: t,
            queues,
            agents,
            admin_password: password.expose().to_string(),
        })
    })
    .context("setting up the bench municipality")
}

// ---- a year of history ----

/// When the tickets came in: working days and hours mostly (local time), in order.
fn arrivals(r: &mut StdRng, n: usize, now: NaiveDateTime) -> Vec<NaiveDateTime> {
    let first = (now - TimeDelta::days(365)).date();
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let day = first + Days::new(r.random_range(0..365));
        let weekend = day.weekday().number_from_monday() >= 6;
        if weekend && !r.random_bool(0.15) {
            continue;
        }
        // Most mail and calls in office hours (a peak in the morning), some in the evening.
        let hour = match r.random_range(0..100) {
            0..=59 => r.random_range(8..12),
            60..=84 => r.random_range(12..17),
            85..=94 => r.random_range(17..23),
            _ => r.random_range(0..8),
        };
        let local = day.and_hms_opt(hour, r.random_range(0..60), r.random_range(0..60));
        let Some(at) = local.and_then(|l| Stockholm.from_local_datetime(&l).earliest()) else {
            continue;
        };
        let at = at.naive_utc();
        if at < now {
            out.push(at);
        }
    }
    out.sort_unstable();
    out
}

fn weighted<T: Copy>(r: &mut StdRng, choices: &[(u32, T)]) -> T {
    let total: u32 = choices.iter().map(|c| c.0).sum();
    let mut x = r.random_range(0..total);
    for (w, v) in choices {
        if x < *w {
            return *v;
        }
        x -= w;
    }
    choices[choices.len() - 1].1
}

/// How long until an agent answers, in minutes.
fn answer_delay(r: &mut StdRng) -> i64 {
    match r.random_range(0..100) {
        0..=24 => r.random_range(5..60),
        25..=59 => r.random_range(60..480),
        60..=84 => r.random_range(480..2880),
        _ => r.random_range(2880..10080),
    }
}

/// One ticket's life as it is generated, in time order, stopping at `now`.
struct Life<'a> {
    r: &'a mut StdRng,
    now: NaiveDateTime,
    at: NaiveDateTime,
    ticket: i64,
    queue: usize,
    priority: &'static str,
    status: &'static str,
    agent: Option<i64>,
    subject: String,
    messages: Vec<SeedMessage>,
    events: Vec<SeedEvent>,
    first_response: Option<NaiveDateTime>,
    resolved: Option<NaiveDateTime>,
    closed: Option<NaiveDateTime>,
}

impl Life<'_> {
    /// Move the clock on; None when that is in the future (the history ends here).
    fn wait(&mut self, minutes: i64) -> Option<()> {
        let at =
            self.at + TimeDelta::minutes(minutes) + TimeDelta::seconds(self.r.random_range(0..60));
        if at > self.now {
            return None;
        }
        self.at = at;
        Some(())
    }

    /// Move the clock on by between `minutes.start` and `minutes.end` minutes.
    fn wait_in(&mut self, minutes: std::ops::Range<i64>) -> Option<()> {
        let m = self.r.random_range(minutes);
        self.wait(m)
    }

    fn event(&mut self, actor: Option<i64>, kind: &'static str, details: Value) {
        self.events.push(SeedEvent {
            ticket_id: self.ticket,
            actor_id: actor,
            kind,
            details: details.to_string(),
            at: self.at,
        });
    }

    fn message(&mut self, kind: &'static str, author: Option<i64>, auto_sent: bool, body: String) {
        let subject = if kind == "inbound" {
            self.subject.clone()
        } else {
            format!("Re: {}", self.subject)
        };
        self.messages.push(SeedMessage {
            id: 0,
            ticket_id: self.ticket,
            kind,
            author_id: author,
            from_addr: (kind != "note").then(|| "kontakt@benchkommun.se".to_string()),
            subject,
            body,
            auto_sent,
            at: self.at,
        });
    }

    fn status(&mut self, to: &'static str, actor: Option<i64>, kind: &'static str) {
        self.event(actor, kind, json!({ "from": self.status, "to": to }));
        self.status = to;
        match to {
            "resolved" => self.resolved = Some(self.at),
            "closed" => self.closed = Some(self.at),
            _ => {
                self.resolved = None;
                self.closed = None;
            }
        }
    }

    fn citizen_writes(&mut self) {
        self.message(
            "inbound",
            None,
            false,
            "Hej igen! Jag har en följdfråga om mitt ärende. Mvh".into(),
        );
        if self.status == "waiting" {
            self.status("open", None, "status_changed");
        }
    }

    /// An agent answers after `minutes` (service-level warnings first when it is late).
    fn answer(&mut self, minutes: i64, budget: i64, target: &str) -> Option<()> {
        let since = self.at;
        for (share, kind) in [(80, "sla_warning"), (100, "sla_breached")] {
            if minutes * 100 > budget * share {
                let at = since + TimeDelta::minutes(budget * share / 100);
                if at <= self.now {
                    self.events.push(SeedEvent {
                        ticket_id: self.ticket,
                        actor_id: None,
                        kind,
                        details: json!({ "target": target }).to_string(),
                        at,
                    });
                }
            }
        }
        self.wait(minutes)?;
        let agent = self.agent;
        if self.status == "new" {
            self.status("open", agent, "status_changed");
        }
        if self.r.random_bool(0.3) {
            let slug = format!("artikel-{}", self.r.random_range(0..ARTICLES));
            self.event(
                agent,
                "kb_used",
                json!({ "article": slug, "title": "Svar" }),
            );
        }
        let days = self.r.random_range(1..10);
        let body = format!(
            "Hej! Tack för ditt meddelande. Vi återkommer inom {days} arbetsdagar. Vänliga hälsningar"
        );
        self.message("outbound", agent, false, body);
        self.event(agent, "reply_sent", json!({}));
        self.first_response.get_or_insert(self.at);
        if self.r.random_bool(0.4) {
            self.status("waiting", agent, "status_changed");
        }
        Some(())
    }
}

/// The first-response budget of a priority in minutes (calendar time, for the warnings).
fn budget(priority: &str) -> i64 {
    match priority {
        "urgent" => 120,
        "high" => 240,
        "normal" => 480,
        _ => 2880,
    }
}

/// A ticket from its arrival to now (or its closing).
fn live(l: &mut Life<'_>, channel: &str, agents: &[Vec<i64>], queues: &[QueueId]) -> Option<()> {
    let b = budget(l.priority);
    if channel == "phone" && l.r.random_bool(0.5) {
        // Registered by the agent who took the call and answered it there and then.
        l.event(
            l.agent,
            "registered_by_agent",
            json!({ "answered_directly": true }),
        );
        l.status("resolved", l.agent, "status_changed");
    } else {
        if channel == "email" && l.r.random_bool(0.7) {
            l.message(
                "outbound",
                None,
                true,
                "Tack, vi har tagit emot ditt meddelande.".into(),
            );
        }
        if l.r.random_bool(0.05) {
            // Transferred to another department before anyone answered.
            l.wait_in(10..240)?;
            let to = (l.queue + l.r.random_range(1..queues.len())) % queues.len();
            l.event(
                l.agent,
                "queue_changed",
                json!({ "from": queues[l.queue].get(), "to": queues[to].get() }),
            );
            l.queue = to;
            let a = &agents[to];
            l.agent = Some(a[l.r.random_range(0..a.len())]);
        }
        if l.r.random_bool(0.02) {
            let to = if l.priority == "high" {
                "normal"
            } else {
                "high"
            };
            l.event(
                l.agent,
                "priority_changed",
                json!({ "from": l.priority, "to": to }),
            );
            l.priority = to;
        }
        let delay = answer_delay(l.r);
        l.answer(delay, b, "first_response")?;
        follow_ups(l, b)?;
        l.wait_in(0..4320)?;
        l.status("resolved", l.agent, "status_changed");
        if l.r.random_bool(0.03) {
            l.wait_in(1440..7200)?;
            l.message(
                "inbound",
                None,
                false,
                "Hej, det är inte löst ännu. Mvh".into(),
            );
            l.status("open", None, "reopened");
            let delay = answer_delay(l.r);
            l.answer(delay, b, "next_response")?;
            l.wait_in(60..2880)?;
            l.status("resolved", l.agent, "status_changed");
        }
    }
    l.wait(7 * 1440)?;
    l.status("closed", None, "status_changed");
    Some(())
}

/// Next responses, referrals and escalations after the first answer.
fn follow_ups(l: &mut Life<'_>, b: i64) -> Option<()> {
    if l.r.random_bool(0.01) {
        l.wait_in(30..240)?;
        l.event(l.agent, "referred", json!({ "to": "Länsstyrelsen" }));
        if l.r.random_bool(0.9) {
            l.wait_in(1440..7200)?;
            l.event(None, "referral_answered", json!({}));
        }
    }
    if l.r.random_bool(0.01) {
        l.wait_in(30..240)?;
        l.event(l.agent, "escalated", json!({ "system": "diariet" }));
        if l.r.random_bool(0.9) {
            l.wait_in(2880..14400)?;
            let case = format!("KS {}-{}", l.at.year(), l.r.random_range(100..9999));
            l.event(None, "escalation_answered", json!({ "case_number": case }));
        }
    }
    let rounds = weighted(l.r, &[(60, 0), (30, 1), (10, 2)]);
    for _ in 0..rounds {
        l.wait_in(60..2880)?;
        l.citizen_writes();
        let delay = answer_delay(l.r);
        l.answer(delay, b, "next_response")?;
    }
    Some(())
}

/// Ids handed out while seeding, and the moment histories end.
struct Ids {
    contact: i64,
    first_contact: i64,
    ticket: i64,
    message: i64,
    now: NaiveDateTime,
}

/// One ticket with its history into the batch.
fn generate(
    r: &mut StdRng,
    s: &Setup,
    ids: &mut Ids,
    number: String,
    at: NaiveDateTime,
    b: &mut SeedBatch,
) {
    let now = ids.now;
    let shares: Vec<(u32, usize)> = QUEUES.iter().enumerate().map(|(i, q)| (q.2, i)).collect();
    let queue = weighted(r, &shares);
    let channel = weighted(
        r,
        &[
            (70, "email"),
            (14, "web"),
            (9, "phone"),
            (4, "sms"),
            (3, "api"),
        ],
    );
    let priority = weighted(
        r,
        &[(6, "low"), (80, "normal"), (10, "high"), (4, "urgent")],
    );
    let contact = if ids.contact == ids.first_contact || r.random_bool(0.6) {
        let name = format!(
            "{} {}",
            FIRST[r.random_range(0..8)],
            LAST[r.random_range(0..6)]
        );
        b.contacts.push(SeedContact {
            id: ids.contact,
            email: format!("medborgare{}@example.se", ids.contact),
            name,
            at,
        });
        ids.contact += 1;
        ids.contact - 1
    } else {
        r.random_range(ids.first_contact..ids.contact)
    };
    let subjects = QUEUES[queue].3;
    let subject = subjects[r.random_range(0..subjects.len())].to_string();
    let automatic = (channel == "email" && r.random_bool(0.015)).then_some("auto_reply");
    let agents = &s.agents[queue];
    let agent = Some(agents[r.random_range(0..agents.len())]);
    let mut l = Life {
        r,
        now,
        at,
        ticket: ids.ticket,
        queue,
        priority,
        status: "new",
        agent,
        subject: subject.clone(),
        messages: vec![],
        events: vec![],
        first_response: None,
        resolved: None,
        closed: None,
    };
    l.event(None, "created", json!({ "queue": s.queues[queue].get() }));
    if channel != "phone" {
        l.message(
            "inbound",
            None,
            false,
            format!("Hej! Jag undrar över {}. Mvh", subject.to_lowercase()),
        );
    }
    if automatic.is_none() {
        live(&mut l, channel, &s.agents, &s.queues);
    } else if l.wait(1440).is_some() {
        l.status("closed", agent, "status_changed");
    }
    let Life {
        queue,
        priority,
        status,
        first_response,
        resolved,
        closed,
        messages,
        events,
        at: last,
        ..
    } = l;
    b.tickets.push(SeedTicket {
        id: ids.ticket,
        number,
        subject,
        status,
        priority,
        priority_rank: Priority::parse(priority).map_or(1, |p| i32::from(p.rank())),
        queue_id: s.queues[queue].get(),
        channel,
        automatic,
        assignee_id: agent.filter(|_| status != "new"),
        contact_id: contact,
        created_at: at,
        updated_at: last,
        first_response_at: first_response,
        resolved_at: resolved.or(closed),
        closed_at: closed,
    });
    for mut m in messages {
        m.id = ids.message;
        ids.message += 1;
        b.messages.push(m);
    }
    b.events.extend(events);
    for k in 0..weighted(r, &[(60, 0), (30, 1), (10, 2)]) {
        b.tags.push((
            ids.ticket,
            TAGS[(ids.ticket as usize * 7 + k * 5) % TAGS.len()].to_string(),
        ));
    }
    ids.ticket += 1;
}

/// Seed the tickets in batches; (messages, events) written.
fn seed(db: &Db, s: &Setup, n: usize) -> anyhow::Result<(usize, usize)> {
    let (contact, ticket, message) =
        db.read_blocking(|c| -> Result<_, Error> { Ok(store::seed::next_ids(c)?) })?;
    let now = store::now();
    let mut ids = Ids {
        contact,
        first_contact: contact,
        ticket,
        message,
        now,
    };
    let mut r = StdRng::seed_from_u64(19);
    let times = arrivals(&mut r, n, now);
    let mut per_year: std::collections::BTreeMap<i32, i64> = Default::default();
    let (mut messages, mut events) = (0, 0);
    for chunk in times.chunks(5000) {
        let mut b = SeedBatch::default();
        for at in chunk {
            let seq = per_year.entry(at.year()).or_insert(0);
            *seq += 1;
            let number = format!("KC-{}-{:06}", at.year(), *seq);
            generate(&mut r, s, &mut ids, number, *at, &mut b);
        }
        messages += b.messages.len();
        events += b.events.len();
        let t = s.tenant;
        db.write_blocking(move |c| -> Result<(), Error> { Ok(store::seed::insert(c, t, &b)?) })?;
    }
    let last: Vec<(i32, i64)> = per_year.into_iter().collect();
    let t = s.tenant;
    db.write_blocking(move |c| -> Result<(), Error> {
        store::seed::finish(c, t, &last)?;
        // The SLA engine of the server started later need not replay the whole year.
        Ok(store::seed::follower_to_end(c)?)
    })?;
    db.read_blocking(|c| -> Result<(), Error> { Ok(store::seed::tidy_after_load(c)?) })?;
    Ok((messages, events))
}

// ---- measuring ----

fn product(args: &[&str], url: &str, dir: &Path, key: &str) -> anyhow::Result<()> {
    let status = Command::new(product_binary()?)
        .args(args)
        .env_remove("ARENDO_CONFIG")
        .env("ARENDO_DATA_DIR", dir)
        .env("ARENDO_DATABASE__URL", url)
        .env("ARENDO_DEMO", "false")
        .env("ARENDO_SECRET_KEY", key)
        .env("ARENDO_LOG__LEVEL", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .status()
        .context("cannot start the arendo binary")?;
    if !status.success() {
        bail!("arendo {} failed: {status}", args.join(" "));
    }
    Ok(())
}

/// `arendo stats rebuild` on the seeded database; how long it took. Fresh planner statistics
/// after (what autovacuum or the nightly ANALYZE gives a running installation).
fn rebuild(url: &str, dir: &Path, key: &str) -> anyhow::Result<Duration> {
    let started = Instant::now();
    product(&["stats", "rebuild", "--tenant", TENANT], url, dir, key)?;
    let took = started.elapsed();
    let db = Db::connect(url, 1)?;
    db.read_blocking(|c| -> Result<(), Error> { Ok(store::seed::tidy_after_load(c)?) })?;
    Ok(took)
}

fn print_sizes(db: &Db) -> anyhow::Result<()> {
    let sizes = db.read_blocking(|c| -> Result<_, Error> { Ok(store::seed::stats_rows(c)?) })?;
    println!(
        "  aggregate rows: stats_days {}, stats_series {}, stats_tickets {}",
        sizes.0, sizes.1, sizes.2
    );
    Ok(())
}

/// The preset "the last 12 whole months" on `today`.
pub fn last_12_whole_months(today: NaiveDate) -> Filter {
    let this_month = today.with_day(1).unwrap_or(today);
    let from = this_month - Months::new(12);
    let to = this_month - Days::new(1);
    Filter {
        from,
        to,
        queue: None,
        channel: None,
        priority: None,
        tag: None,
        step: Step::suited(from, to),
    }
}

fn line(name: &str, mut v: Vec<Duration>, target: Option<f64>) {
    let (p50, p99) = (percentile_ms(&mut v, 0.50), percentile_ms(&mut v, 0.99));
    let goal = match target {
        Some(t) if p99 > t => format!("   (target p99 ≤ {t} ms)  ← over target"),
        Some(t) => format!("   (target p99 ≤ {t} ms)"),
        None => String::new(),
    };
    println!(
        "  {name:<44} p50 {p50:>8.2} ms   p99 {p99:>8.2} ms   ({} runs){goal}",
        v.len()
    );
}

/// The report use case in-process, as the operator (an administrator: every queue, per agent).
async fn in_process(
    db: &Db,
    t: TenantId,
    f: &Filter,
    queue: QueueId,
    requests: usize,
) -> anyhow::Result<()> {
    let actor = Actor::operator(t);
    let one_queue = Filter {
        queue: Some(queue),
        ..f.clone()
    };
    let tagged = Filter {
        tag: Some(TAGS[0].to_string()),
        ..f.clone()
    };
    let cases = [
        (
            "report use case, all queues (in-process)",
            f,
            requests,
            Some(100.0),
        ),
        (
            "report use case, one queue (in-process)",
            &one_queue,
            requests,
            None,
        ),
        (
            "report use case, one tag (in-process)",
            &tagged,
            (requests / 5).max(3),
            None,
        ),
    ];
    for (name, filter, n, target) in cases {
        let mut times = vec![];
        for i in 0..n + 3 {
            let started = Instant::now();
            let report = crate::stats::report(db, &actor, filter.clone()).await?;
            if i >= 3 {
                times.push(started.elapsed());
            }
            if report.volume.created.now == 0 {
                bail!(
                    "the report counts no tickets in {} – {}",
                    filter.from,
                    filter.to
                );
            }
        }
        line(name, times, target);
    }
    Ok(())
}

/// The page and the export over HTTP, signed in as the administrator.
async fn over_http(
    o: &Options,
    url: &str,
    dir: &Path,
    key: &str,
    s: &Setup,
    f: &Filter,
) -> anyhow::Result<()> {
    // The search index would otherwise be built in the background while the pages are timed.
    product(&["search", "reindex"], url, dir, key)?;
    let (mut server, _) = spawn_server_with(
        dir,
        Some(url),
        key,
        &[("ARENDO_MAIL__IMAP_ENABLED", "false")],
    )?;
    wait_ready(&mut server, &reqwest::Client::new()).await?;
    let base = server.base.clone();
    let client = super::pages::signed_in(&base, TENANT, ADMIN_EMAIL, &s.admin_password).await?;
    let fill = |p: &str| {
        p.replace("{from}", &f.from.to_string())
            .replace("{to}", &f.to.to_string())
    };
    for (name, path) in [
        ("statistics page", fill(&o.page)),
        ("CSV export", fill(&o.export)),
    ] {
        let probe = client.get(format!("{base}{path}")).send().await?;
        if probe.status() == reqwest::StatusCode::NOT_FOUND {
            println!("  {name}: {path} answers 404 (not in this build)");
            continue;
        }
        if !probe.status().is_success() {
            bail!("{path}: {}", probe.status());
        }
        probe.bytes().await?;
        let mut times = vec![];
        for i in 0..o.requests + 5 {
            let started = Instant::now();
            let r = client.get(format!("{base}{path}")).send().await?;
            if !r.status().is_success() {
                bail!("{path}: {}", r.status());
            }
            r.bytes().await?;
            if i >= 5 {
                times.push(started.elapsed());
            }
        }
        line(&format!("{name} over HTTP ({path})"), times, Some(100.0));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::Timelike;

    use super::*;

    #[test]
    fn the_last_12_whole_months_end_with_the_month_before() {
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        let f = last_12_whole_months(d(2026, 12, 7));
        assert_eq!(
            (f.from, f.to, f.step),
            (d(2025, 12, 1), d(2026, 11, 30), Step::Month)
        );
        let f = last_12_whole_months(d(2026, 3, 1));
        assert_eq!((f.from, f.to), (d(2025, 3, 1), d(2026, 2, 28)));
    }

    #[test]
    fn a_seeded_history_is_in_order_and_ends_before_now() {
        let mut r = StdRng::seed_from_u64(1);
        let now = NaiveDate::from_ymd_opt(2026, 12, 7)
            .unwrap()
            .and_hms_opt(12, 0, 0)
            .unwrap();
        let times = arrivals(&mut r, 2000, now);
        assert!(times.windows(2).all(|w| w[0] <= w[1]));
        assert!(
            times
                .iter()
                .all(|t| *t < now && *t >= now - TimeDelta::days(366))
        );
        // Working hours dominate (local time).
        let office = times
            .iter()
            .filter(|t| (8..17).contains(&Stockholm.from_utc_datetime(t).hour()))
            .count();
        assert!(office > 1500, "{office} of 2000 in office hours");
    }

    #[test]
    fn a_generated_history_is_in_time_order_ends_by_now_and_matches_the_ticket() {
        let s = Setup {
            tenant: TenantId::from_db(1),
            queues: (1..=10).map(QueueId::from_db).collect(),
            agents: (0..10).map(|q| vec![100 + q, 200 + q]).collect(),
            admin_password: String::new(),
        };
        let now = NaiveDate::from_ymd_opt(2026, 12, 7)
            .unwrap()
            .and_hms_opt(12, 0, 0)
            .unwrap();
        let mut ids = Ids {
            contact: 1,
            first_contact: 1,
            ticket: 1,
            message: 1,
            now,
        };
        let mut r = StdRng::seed_from_u64(3);
        let mut b = SeedBatch::default();
        for (i, at) in arrivals(&mut r.clone(), 3000, now).into_iter().enumerate() {
            generate(&mut r, &s, &mut ids, format!("KC-{i}"), at, &mut b);
        }
        assert_eq!(b.tickets.len(), 3000);
        let kinds = |k: &str| b.events.iter().filter(|e| e.kind == k).count();
        // Roughly the shares asked for (transfers ~5 %, reopenings ~3 %, articles ~30 %).
        assert!(
            (100..250).contains(&kinds("queue_changed")),
            "{}",
            kinds("queue_changed")
        );
        assert!(
            (40..150).contains(&kinds("reopened")),
            "{}",
            kinds("reopened")
        );
        assert!(kinds("kb_used") > 700, "{}", kinds("kb_used"));
        assert!(kinds("referred") > 10 && kinds("escalated") > 10);
        for t in &b.tickets {
            let evs: Vec<_> = b.events.iter().filter(|e| e.ticket_id == t.id).collect();
            let msgs: Vec<_> = b.messages.iter().filter(|m| m.ticket_id == t.id).collect();
            assert!(
                evs.windows(2).all(|w| w[0].at <= w[1].at),
                "events of {} out of order",
                t.number
            );
            assert!(
                msgs.windows(2)
                    .all(|w| w[0].at <= w[1].at && w[0].id < w[1].id)
            );
            assert!(evs.iter().all(|e| e.at <= now && e.at >= t.created_at));
            assert_eq!(evs[0].kind, "created");
            // The ticket row says what its last status event says.
            let last = evs
                .iter()
                .rev()
                .find(|e| e.kind == "status_changed" || e.kind == "reopened");
            let status = last.map_or("new".to_string(), |e| {
                serde_json::from_str::<Value>(&e.details).unwrap()["to"]
                    .as_str()
                    .unwrap()
                    .to_string()
            });
            assert_eq!(status, t.status, "{}", t.number);
            assert_eq!(t.closed_at.is_some(), t.status == "closed");
        }
        assert!(
            b.tickets
                .iter()
                .any(|t| t.status == "open" || t.status == "waiting")
        );
        assert!(b.tickets.iter().filter(|t| t.status == "closed").count() > 2000);
    }
}
