//! The SLA engine: keeps each ticket's clocks and due instants current, and fires warnings and
//! breaches exactly once.
//!
//! - `refresh` replays one ticket's history into its clocks and stores them with the instant the
//!   sweeper must look next (the warning or breach not yet fired), and the ticket's most pressing
//!   due instant and standing (for badges, sorting and the at-risk filter).
//! - `follow` runs `refresh` for every ticket that changed, reading the change feed (one node at
//!   a time holds the follower lease; a refresh is idempotent, so re-reading is harmless).
//! - `sweep` claims the clocks whose check is due (an index range, so its cost follows what is
//!   due, not how many tickets are open; `FOR UPDATE SKIP LOCKED` on PostgreSQL), records each
//!   firing under a unique key in the same transaction as its actions, and re-refreshes.
//!
//! Time comes in as a parameter (`Clock` in the worker), so tests decide what "now" is.

use std::time::Duration as StdDuration;

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use serde_json::json;

use super::calendar::Calendar;
use super::policy::{Action, Level, Policy};
use super::timeline::{Fact, Target, replay};
use crate::delivery::mail::OutgoingMail;
use crate::domain::{Priority, Status, TenantId, TicketId};
use crate::error::{Error, Result};
use crate::store::sla::{ClockRow, Reschedule, Summary};
use crate::store::{self, Conn, Db};
use crate::text::Templates;

/// Where "now" comes from: the system clock in production, a set instant in tests.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A change a breach rule makes to the ticket itself.
#[derive(Debug, Clone)]
pub enum Change {
    /// Priority, queue or assignee, through the same update as an agent's change.
    Update {
        priority: Option<Priority>,
        queue: Option<i64>,
        assignee: Option<i64>,
    },
    /// Escalate to one of the tenant's targets.
    Escalate {
        target: Box<store::escalation::Target>,
        reason: String,
    },
}

/// Carries out a [`Change`] inside the sweeper's transaction. The ticket capability does it
/// (`tickets::breach::apply`); whoever starts the sweeper hands it in, so that `sla` — which
/// `tickets` asks for clocks — never reaches up into `tickets`.
pub type ApplyChange = fn(&mut Conn, TenantId, &store::tickets::Ticket, &Change) -> Result<()>;

/// What the engine needs from the configuration to notify people.
#[derive(Clone)]
pub struct Notices {
    /// Sender of SLA notices (`mail.from`).
    pub from: String,
    /// Base URL of the workspace, for the link to the ticket.
    pub public_url: String,
    /// How breach rules change tickets.
    pub apply: ApplyChange,
}

fn naive(t: DateTime<Utc>) -> NaiveDateTime {
    t.naive_utc()
}

/// The calendar a queue works by (the tenant's default, else the Swedish default week).
pub fn calendar_for(c: &mut Conn, t: TenantId, q: crate::domain::QueueId) -> Result<Calendar> {
    match store::sla::calendar_for_queue(c, t, q)? {
        Some(row) => parse_calendar(&row),
        None => Ok(Calendar::default()),
    }
}

pub(crate) fn parse_calendar(row: &store::sla::CalendarRow) -> Result<Calendar> {
    serde_json::from_str(&row.spec)
        .map_err(|e| Error::Internal(format!("calendar {:?} cannot be read: {e}", row.name)))
}

/// Every queue's calendar (for badges on many tickets at once).
pub fn calendars_by_queue(
    c: &mut Conn,
    t: TenantId,
) -> Result<std::collections::HashMap<crate::domain::QueueId, std::sync::Arc<Calendar>>> {
    let rows = store::sla::calendars(c, t)?;
    let mut parsed = std::collections::HashMap::new();
    let mut default = std::sync::Arc::new(Calendar::default());
    for row in &rows {
        let cal = std::sync::Arc::new(parse_calendar(row)?);
        if row.is_default {
            default = cal.clone();
        }
        parsed.insert(row.id, cal);
    }
    Ok(store::sla::queue_calendar_ids(c, t)?
        .into_iter()
        .map(|(q, own)| {
            let cal = own
                .and_then(|id| parsed.get(&id).cloned())
                .unwrap_or_else(|| default.clone());
            (q, cal)
        })
        .collect())
}

/// The ticket's history as facts for the clocks.
fn facts(c: &mut Conn, t: TenantId, ticket: TicketId) -> Result<Vec<(DateTime<Utc>, Fact)>> {
    let (events, msgs) = store::sla::history(c, t, ticket)?;
    Ok(facts_of(events, msgs))
}

/// The clocks a ticket's history gives under a policy, computed and not stored (the statistics
/// count targets met from the same replay the engine keeps, D64). `events` are (at, kind,
/// details) and `msgs` (at, kind, automatic) in the order they happened; events other than
/// the ones the clocks read are ignored.
pub fn replayed(
    policy: &store::sla::PolicyRow,
    cal: &Calendar,
    events: store::sla::EventFacts,
    msgs: store::sla::MessageFacts,
) -> Result<Vec<super::timeline::Clock>> {
    let policy = Policy::from_row(policy)?;
    Ok(replay(&facts_of(events, msgs), &policy.budgets, cal))
}

fn facts_of(
    events: store::sla::EventFacts,
    msgs: store::sla::MessageFacts,
) -> Vec<(DateTime<Utc>, Fact)> {
    const READ: [&str; 5] = [
        "created",
        "status_changed",
        "reopened",
        "merged_into",
        "automatic_cleared",
    ];
    let events: Vec<_> = events
        .into_iter()
        .filter(|(_, kind, _)| READ.contains(&kind.as_str()))
        .collect();
    // A ticket automatic mail opened owed nobody anything until a person wrote in it: its clocks
    // start then, as if it had been opened by that mail (D56).
    let people_from = events
        .iter()
        .filter(|(_, kind, _)| kind == "automatic_cleared")
        .map(|(at, ..)| at.and_utc())
        .next_back();
    let mut out: Vec<(DateTime<Utc>, u8, Fact)> = vec![];
    for (at, kind, details) in events {
        let at = at.and_utc();
        if kind == "created" {
            out.push((people_from.unwrap_or(at), 0, Fact::Created));
            continue;
        }
        // A ticket merged into another is closed: its clocks stop there (D45).
        if kind == "merged_into" {
            out.push((at, 2, Fact::Status(Status::Closed)));
            continue;
        }
        let to = serde_json::from_str::<serde_json::Value>(&details)
            .ok()
            .and_then(|d| d["to"].as_str().and_then(|s| Status::parse(s).ok()));
        if let Some(s) = to {
            out.push((at, 2, Fact::Status(s)));
        }
    }
    for (at, kind, auto_sent) in msgs {
        let fact = match kind.as_str() {
            // An automatic mail (out-of-office, list) in the thread is no one asking (D56).
            "inbound" if auto_sent => continue,
            "inbound" => Fact::Inbound,
            // Only a person's reply is a response; an acknowledgement is not (D44).
            "outbound" if auto_sent => continue,
            "outbound" => Fact::Outbound,
            _ => continue,
        };
        out.push((at.and_utc(), 1, fact));
    }
    if let Some(from) = people_from {
        out.retain(|(at, order, _)| *order == 0 || *at >= from);
    }
    // Stable: at one instant, creation first, then messages, then the status they caused.
    out.sort_by_key(|(at, order, _)| (*at, *order));
    out.into_iter().map(|(at, _, f)| (at, f)).collect()
}

/// When the sweeper must look at a clock next: at its warning instant if this round's warning
/// has not fired, else at its due instant if this round's breach has not, else never. Met and
/// paused clocks have neither instant. The one rule for `refresh` and `sweep` alike.
fn next_check(
    warn_at: Option<NaiveDateTime>,
    due_at: Option<NaiveDateTime>,
    warned_cycle: i32,
    breached_cycle: i32,
    cycle: i32,
) -> Option<NaiveDateTime> {
    let warn = warn_at.filter(|_| warned_cycle < cycle);
    let due = due_at.filter(|_| breached_cycle < cycle);
    match (warn, due) {
        (Some(w), Some(d)) => Some(w.min(d)),
        (w, d) => w.or(d),
    }
}

/// Recompute and store one ticket's clocks. Returns the policy and calendar used (None when the
/// ticket's queue and priority have no policy: the ticket then has no clocks).
pub fn refresh(
    c: &mut Conn,
    t: TenantId,
    ticket: TicketId,
    now: DateTime<Utc>,
) -> Result<Option<(Policy, Calendar)>> {
    // The ticket before its clocks: the same order as every use case that changes the ticket and
    // then refreshes (see `store::tickets::lock`).
    store::tickets::lock(c, t, ticket)?;
    let tk = store::tickets::get(c, t, ticket)?;
    // A ticket an automatic mail opened owes nobody an answer: no clocks until a person writes
    // (D56).
    let row = match tk.automatic {
        Some(_) => None,
        None => store::sla::policy(c, t, tk.queue_id, tk.priority)?,
    };
    let Some(row) = row else {
        // No service level for this queue and priority (or an automatic ticket): clear what an
        // earlier policy left.
        if tk.sla_clock.is_some() || tk.sla_due_at.is_some() || tk.sla_warn_at.is_some() {
            store::sla::save_clocks(c, t, ticket, &[], &Summary::default(), naive(now))?;
        }
        return Ok(None);
    };
    let policy = Policy::from_row(&row)?;
    let cal = calendar_for(c, t, tk.queue_id)?;
    let clocks = replay(&facts(c, t, ticket)?, &policy.budgets, &cal);
    let prior = store::sla::clocks(c, t, ticket)?;
    let mut rows = vec![];
    let mut summary = Summary::default();
    // Resolved, closed and merged tickets have no running or paused clock at all: no badge, no
    // check for the sweeper (D45).
    let done = !tk.status.is_open() || tk.merged_into_id.is_some();
    for clock in &clocks {
        let before = prior.iter().find(|p| p.target == clock.target.key());
        let (warned, breached) = before.map_or((0, 0), |p| (p.warned_cycle, p.breached_cycle));
        let warn_at = clock
            .mark(&cal, policy.warn_percent)
            .map(naive)
            .filter(|_| !done);
        let due_at = clock.due(&cal).map(naive).filter(|_| !done);
        if clock.is_open() && !done {
            summary.add(warn_at, due_at);
        }
        rows.push(ClockRow {
            ticket_id: ticket.get(),
            target: clock.target.key().to_string(),
            cycle: clock.cycle,
            budget_secs: clock.budget.num_seconds(),
            used_secs: clock.used.num_seconds(),
            running_since: clock.running_since.map(naive).filter(|_| !done),
            warn_at,
            due_at,
            met_at: clock.met_at.map(naive),
            met_in_time: clock.met_in_time,
            warned_cycle: warned,
            breached_cycle: breached,
            next_check_at: next_check(warn_at, due_at, warned, breached, clock.cycle),
        });
    }
    // The follower replays recent tickets more than once; write only what changed.
    let same_clocks = rows.len() == prior.len() && rows.iter().all(|r| prior.contains(r));
    let same_summary = (tk.sla_due_at, tk.sla_warn_at, tk.sla_clock)
        == (summary.due_at, summary.warn_at, summary.clock);
    if !(same_clocks && same_summary) {
        store::sla::save_clocks(c, t, ticket, &rows, &summary, naive(now))?;
    }
    Ok(Some((policy, cal)))
}

/// One step of the change-feed follower: refresh every ticket changed since the last step.
/// Returns whether more may be waiting (a full batch that moved the position), or None when
/// another node holds the follower lease.
pub fn follow(db: &Db, owner: &str, now: DateTime<Utc>, limit: i64) -> Result<Option<bool>> {
    let owner = owner.to_string();
    db.write_blocking(move |c| -> Result<Option<bool>> {
        let until = naive(now + TimeDelta::seconds(30));
        let Some(after) = store::sla::claim_cursor(c, &owner, naive(now), until)? else {
            return Ok(None);
        };
        let settled = naive(now - TimeDelta::seconds(10));
        let (last, read, changed) = store::sla::changed_after(c, after, limit, settled)?;
        for (t, k) in &changed {
            refresh(c, *t, *k, now)?;
        }
        store::sla::advance_cursor(c, &owner, last)?;
        Ok(Some(read as i64 == limit && last > after))
    })
}

/// What one sweep did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    /// Tickets whose clocks were due for a look.
    pub tickets: usize,
    /// Warnings and breaches fired.
    pub fired: usize,
}

/// Claim up to `limit` clocks with a due check and fire what is due, in one transaction. The
/// stored clocks are trusted unless their ticket changed after the follower's position (then
/// the ticket is replayed first); firings, events, fired rounds and next checks are written in a
/// handful of statements whatever the batch size, and the tickets table is not written at all
/// (a ticket's standing follows from its stored instants). Rules with actions run per firing.
pub fn sweep(db: &Db, notices: &Notices, now: DateTime<Utc>, limit: i64) -> Result<Swept> {
    let notices = notices.clone();
    db.write_blocking(move |c| -> Result<Swept> {
        let n = naive(now);
        let mut due = store::sla::claim_due(c, n, limit)?;
        if due.is_empty() {
            return Ok(Swept::default());
        }
        let claimed: Vec<i64> = due.iter().map(|d| d.id).collect();
        let mut tickets: Vec<i64> = due.iter().map(|d| d.ticket_id).collect();
        tickets.sort_unstable();
        tickets.dedup();
        let stale = store::sla::changed_since_follower(c, &tickets)?;
        if !stale.is_empty() {
            for d in due.iter().filter(|d| stale.contains(&d.ticket_id)) {
                refresh(c, d.tenant(), d.ticket(), now)?;
            }
            due = store::sla::due_clocks(c, &claimed)?;
        }
        // Each firing is a history event with a key that exists once per ticket, target, round
        // and level: inserting it is also the check that no other sweeper fired it.
        let mut fired: std::collections::HashMap<(i64, String), (&store::sla::DueClock, Level)> =
            Default::default();
        let mut events = vec![];
        let mut rescheduled = Vec::with_capacity(due.len());
        for d in &due {
            let (mut warned, mut breached) = (d.warned_cycle, d.breached_cycle);
            // Met and paused clocks fire nothing and wait for the next change to the ticket.
            let live = d.met_at.is_none() && d.running_since.is_some();
            let mut fire = |level: Level| {
                let once_key = format!("sla:{}:{}:{}", d.target, d.cycle, level.key());
                events.push(store::tickets::OnceEvent {
                    tenant: d.tenant(),
                    ticket: d.ticket(),
                    kind: match level {
                        Level::Warning => "sla_warning",
                        Level::Breach => "sla_breached",
                    },
                    details: json!({ "target": d.target, "cycle": d.cycle, "due": d.due_at })
                        .to_string(),
                    once_key: once_key.clone(),
                });
                fired.insert((d.ticket_id, once_key), (d, level));
            };
            if live {
                if warned < d.cycle && d.warn_at.is_some_and(|w| w <= n) {
                    fire(Level::Warning);
                    warned = d.cycle;
                }
                if breached < d.cycle && d.due_at.is_some_and(|x| x <= n) {
                    fire(Level::Breach);
                    // A breach found first (the sweeper was behind) also ends the warning.
                    (warned, breached) = (d.cycle, d.cycle);
                }
            }
            rescheduled.push(Reschedule {
                warned_cycle: warned,
                breached_cycle: breached,
                next_check_at: if live {
                    next_check(d.warn_at, d.due_at, warned, breached, d.cycle)
                } else {
                    None
                },
                clock: d,
            });
        }
        let new = store::tickets::insert_events_once(c, &events, n)?;
        store::sla::reschedule(c, &rescheduled, n)?;
        let acts: Vec<(&store::sla::DueClock, Level)> =
            new.iter().filter_map(|k| fired.get(k).copied()).collect();
        // Rules with actions, per firing (policies looked up once per queue and priority).
        let mut policies: std::collections::HashMap<(i64, i64, String), Option<Policy>> =
            Default::default();
        for &(d, level) in &acts {
            let key = (d.tenant_id, d.queue_id, d.priority.clone());
            if !policies.contains_key(&key) {
                let p = Priority::parse(&d.priority)?;
                let policy = store::sla::policy(c, d.tenant(), d.queue(), p)?
                    .map(|row| Policy::from_row(&row))
                    .transpose()?;
                policies.insert(key.clone(), policy);
            }
            let Some(policy) = policies.get(&key).cloned().flatten() else {
                continue;
            };
            let target = Target::parse(&d.target)?;
            for rule in policy.rules.iter().filter(|r| r.applies(level, target)) {
                act(c, d, &rule.action, level, target, now, &notices)?;
            }
        }
        Ok(Swept {
            tickets: tickets.len(),
            fired: new.len(),
        })
    })
}

fn act(
    c: &mut Conn,
    d: &store::sla::DueClock,
    action: &Action,
    level: Level,
    target: Target,
    now: DateTime<Utc>,
    notices: &Notices,
) -> Result<()> {
    let (t, ticket) = (d.tenant(), d.ticket());
    let tk = store::tickets::get(c, t, ticket)?;
    // The actions that change the ticket go through the same update as an agent's change.
    let change = match action {
        Action::Notify => return notify(c, t, &tk, level, target, d.due_at, now, notices),
        Action::RaisePriority => Change::Update {
            priority: Some(match tk.priority {
                Priority::Low => Priority::Normal,
                Priority::Normal => Priority::High,
                Priority::High | Priority::Urgent => Priority::Urgent,
            }),
            queue: None,
            assignee: None,
        },
        Action::MoveToQueue { queue } => Change::Update {
            priority: None,
            queue: Some(*queue),
            assignee: None,
        },
        Action::Assign { user } => Change::Update {
            priority: None,
            queue: None,
            assignee: Some(*user),
        },
        Action::Escalate { hook } => {
            // The hook names an escalation target of the tenant ("default": the queue's own).
            let found = if hook == "default" {
                match store::escalation::queue_default(c, t, tk.queue_id)? {
                    Some(id) => store::escalation::target(c, t, id)?,
                    None => None,
                }
            } else {
                store::escalation::target_by_name(c, t, hook)?
            };
            let reason = format!("sla_{}:{}", level.key(), target.key());
            match found {
                Some(to) => Change::Escalate {
                    target: Box::new(to),
                    reason,
                },
                // No such target (any more): the request stays on the ticket for an agent.
                None => {
                    return Ok(store::tickets::insert_event(
                        c,
                        t,
                        ticket,
                        None,
                        "escalation_requested",
                        &json!({ "hook": hook, "reason": reason, "target": target }),
                        naive(now),
                    )?);
                }
            }
        }
    };
    (notices.apply)(c, t, &tk, &change)
}

/// E-mail the assignee and the queue's leads through the outbox.
#[allow(clippy::too_many_arguments)]
fn notify(
    c: &mut Conn,
    t: TenantId,
    tk: &store::tickets::Ticket,
    level: Level,
    target: Target,
    due_at: Option<NaiveDateTime>,
    now: DateTime<Utc>,
    notices: &Notices,
) -> Result<()> {
    let to = crate::notify::staff::responsible_addresses(c, t, tk)?;
    if to.is_empty() {
        return Ok(());
    }
    let queue = store::queues::lookup(c, t, tk.queue_id.get())?
        .map(|q| q.name)
        .unwrap_or_default();
    let cal = calendar_for(c, t, tk.queue_id)?;
    let left = match due_at.map(|d| d.and_utc()) {
        Some(d) if d > now => cal.between(now, d),
        Some(d) => -cal.between(d, now),
        None => TimeDelta::zero(),
    };
    let data = json!({
        "number": tk.number,
        "subject": tk.subject,
        "queue": queue,
        "target": target.key(),
        "breach": level == Level::Breach,
        "overdue": left < TimeDelta::zero(),
        "hours": left.abs().num_hours(),
        "minutes": left.abs().num_minutes() % 60,
        "due": due_at.map(|d| {
            d.and_utc()
                .with_timezone(&chrono_tz::Europe::Stockholm)
                .format("%Y-%m-%d %H:%M")
                .to_string()
        }),
        "link": format!("{}/tickets/{}", notices.public_url.trim_end_matches('/'), tk.number),
    });
    let tx = Templates::get();
    let text = tx
        .render_text("mail/sla_notice.sv", &data)
        .map_err(|e| Error::Internal(e.to_string()))?;
    let subject = tx
        .render_text("mail/sla_notice_subject.sv", &data)
        .map_err(|e| Error::Internal(e.to_string()))?;
    let (from, message_id) =
        crate::delivery::mail::about_ticket(c, t, tk, &notices.from, "sla_notice", naive(now))?;
    let mail = OutgoingMail {
        from,
        to,
        subject: subject.trim().to_string(),
        text,
        message_id: Some(message_id),
        in_reply_to: None,
        references: vec![],
        message_row: None,
        mailbox: None,
        auto_submitted: true,
        attachments: vec![],
    };
    store::outbox::enqueue(
        c,
        t,
        crate::delivery::mail::OUTBOX_KIND,
        &serde_json::to_value(mail).map_err(|e| Error::Internal(e.to_string()))?,
        Some(tk.id),
        naive(now),
    )?;
    Ok(())
}

/// The SLA worker of node `node`: follow the change feed and sweep, every second, until shutdown.
/// Its lease is in the node's name, so the node's next start can reclaim it
/// (`store::leases::reclaim_own`).
pub async fn run(db: Db, notices: Notices, clock: std::sync::Arc<dyn Clock>, node: String) {
    let owner = crate::store::leases::sla_owner(&node);
    loop {
        let now = clock.now();
        let (db2, owner2, notices2) = (db.clone(), owner.clone(), notices.clone());
        let step = tokio::task::spawn_blocking(move || -> Result<()> {
            while follow(&db2, &owner2, now, 1000)? == Some(true) {}
            while sweep(&db2, &notices2, now, 500)?.tickets == 500 {}
            Ok(())
        })
        .await;
        match step {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "SLA step failed; retrying"),
            Err(e) => tracing::error!(error = %e, "SLA step panicked"),
        }
        tokio::time::sleep(StdDuration::from_secs(1)).await;
    }
}
