//! Keeping the aggregates current: the follower reads the ticket history's change feed under a
//! lease (one node at a time, as the SLA follower does), recomputes each changed ticket's
//! contribution from its whole history, and adds the difference to the daily and monthly
//! aggregates in the same transaction as the ticket's new cells. Refreshing a ticket twice
//! changes nothing, so reading an event again (after a crash, on PostgreSQL's late commits) is
//! harmless; a rebuild is the same refresh over every ticket.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};

use super::contribution::{Ev, History, Msg, contribution};
use super::measures::{Cell, Measure, month_of};
use crate::domain::{Channel, MessageKind, Priority, QueueId, TenantId};
use crate::error::{Error, Result};
use crate::sla::Calendar;
use crate::store::stats::{DayDelta, SeriesDelta, TicketStats};
use crate::store::{self, Conn, Db};

/// Where a cell is counted, without its number.
type Key = (NaiveDate, i64, Channel, Priority, Measure, String);

fn key(c: &Cell) -> Key {
    (
        c.day,
        c.queue.get(),
        c.channel,
        c.priority,
        c.measure,
        c.key.clone(),
    )
}

fn index_of<T: PartialEq>(all: &[T], x: &T) -> usize {
    all.iter().position(|y| y == x).unwrap_or(0)
}

/// Cells as stored: `[[day, queue, channel, priority, measure, key, n], …]` (day as days from
/// the common era; channel, priority and measure as their index).
pub fn encode(cells: &[Cell]) -> String {
    use chrono::Datelike;
    let rows: Vec<(i32, i64, usize, usize, usize, &str, i64)> = cells
        .iter()
        .map(|c| {
            (
                c.day.num_days_from_ce(),
                c.queue.get(),
                index_of(Channel::ALL, &c.channel),
                index_of(Priority::ALL, &c.priority),
                c.measure.index(),
                c.key.as_str(),
                c.n,
            )
        })
        .collect();
    serde_json::to_string(&rows).expect("numbers and strings serialise")
}

pub fn decode(text: &str) -> Result<Vec<Cell>> {
    let bad = || Error::Internal("stored statistics cells cannot be read".into());
    let rows: Vec<(i32, i64, usize, usize, usize, String, i64)> =
        serde_json::from_str(text).map_err(|_| bad())?;
    rows.into_iter()
        .map(|(day, q, ch, p, m, key, n)| {
            Ok(Cell {
                day: NaiveDate::from_num_days_from_ce_opt(day).ok_or_else(bad)?,
                queue: QueueId::from_db(q),
                channel: *Channel::ALL.get(ch).ok_or_else(bad)?,
                priority: *Priority::ALL.get(p).ok_or_else(bad)?,
                measure: Measure::from_index(m).ok_or_else(bad)?,
                key,
                n,
            })
        })
        .collect()
}

/// What the tenant's tickets need besides their own history: calendars and policies.
struct Context {
    calendars: HashMap<QueueId, Arc<Calendar>>,
    default: Arc<Calendar>,
    policies: HashMap<(i64, String), store::sla::PolicyRow>,
}

impl Context {
    fn load(c: &mut Conn, t: TenantId) -> Result<Context> {
        let calendars = crate::sla::engine::calendars_by_queue(c, t)?;
        let policies = store::sla::policies(c, t)?
            .into_iter()
            .map(|p| ((p.queue_id, p.priority.clone()), p))
            .collect();
        Ok(Context {
            calendars,
            default: Arc::new(Calendar::default()),
            policies,
        })
    }

    fn calendar(&self, q: QueueId) -> Arc<Calendar> {
        self.calendars
            .get(&q)
            .cloned()
            .unwrap_or_else(|| self.default.clone())
    }
}

/// Everything loaded for a batch of one tenant's tickets.
struct Batch {
    tickets: Vec<store::stats::TicketFacts>,
    events: HashMap<i64, Vec<store::stats::EventFact>>,
    messages: HashMap<i64, Vec<store::stats::MessageFact>>,
    tags: HashMap<i64, Vec<String>>,
    old: HashMap<i64, Vec<Cell>>,
}

fn group<T>(rows: Vec<T>, id: impl Fn(&T) -> i64) -> HashMap<i64, Vec<T>> {
    let mut m: HashMap<i64, Vec<T>> = HashMap::new();
    for r in rows {
        m.entry(id(&r)).or_default().push(r);
    }
    m
}

fn load(c: &mut Conn, t: TenantId, ids: &[i64]) -> Result<Batch> {
    let mut old = HashMap::new();
    for (id, text) in store::stats::stored_cells(c, t, ids)? {
        old.insert(id, decode(&text)?);
    }
    Ok(Batch {
        tickets: store::stats::tickets_of(c, t, ids)?,
        events: group(store::stats::events_of(c, t, ids)?, |e| e.0),
        messages: group(store::stats::messages_of(c, t, ids)?, |m| m.0),
        tags: group(store::stats::tags_of(c, t, ids)?, |g| g.0)
            .into_iter()
            .map(|(k, v)| (k, v.into_iter().map(|(_, tag)| tag).collect()))
            .collect(),
        old,
    })
}

fn history(ctx: &Context, b: &Batch, tk: &store::stats::TicketFacts) -> Result<Option<History>> {
    let (Ok(channel), Ok(priority)) = (Channel::parse(&tk.channel), Priority::parse(&tk.priority))
    else {
        return Ok(None);
    };
    let events = b.events.get(&tk.id).map(Vec::as_slice).unwrap_or_default();
    let messages = b
        .messages
        .get(&tk.id)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let queue = QueueId::from_db(tk.queue_id);
    let clocks = match ctx.policies.get(&(tk.queue_id, tk.priority.clone())) {
        Some(policy) if tk.automatic.is_none() => crate::sla::engine::replayed(
            policy,
            &ctx.calendar(queue),
            events
                .iter()
                .map(|e| (e.1, e.2.clone(), e.3.clone()))
                .collect(),
            messages.iter().map(|m| (m.1, m.2.clone(), m.3)).collect(),
        )?,
        _ => vec![],
    };
    Ok(Some(History {
        channel,
        queue,
        priority,
        created_at: tk.created_at.and_utc(),
        automatic: tk.automatic.is_some(),
        tags: b.tags.get(&tk.id).cloned().unwrap_or_default(),
        events: events
            .iter()
            .map(|e| Ev {
                at: e.1.and_utc(),
                kind: e.2.clone(),
                details: serde_json::from_str(&e.3).unwrap_or(serde_json::Value::Null),
                actor: e.4,
            })
            .collect(),
        messages: messages
            .iter()
            .filter_map(|m| {
                Some(Msg {
                    at: m.1.and_utc(),
                    kind: MessageKind::parse(&m.2).ok()?,
                    auto_sent: m.3,
                    author: m.4,
                })
            })
            .collect(),
        clocks,
    }))
}

/// The sums to add: counters per (grain, day, queue, channel, priority), keyed series per
/// (grain, measure, day, queue, key).
#[derive(Default)]
struct Deltas {
    cells: BTreeMap<Key, i64>,
}

impl Deltas {
    fn add(&mut self, cells: &[Cell], sign: i64) {
        for c in cells {
            *self.cells.entry(key(c)).or_default() += sign * c.n;
        }
    }

    fn write(self, c: &mut Conn, t: TenantId) -> Result<()> {
        let mut days: BTreeMap<(&'static str, NaiveDate, i64, Channel, Priority), Vec<i64>> =
            BTreeMap::new();
        let mut keyed: BTreeMap<(&'static str, Measure, NaiveDate, i64, String), i64> =
            BTreeMap::new();
        for ((day, q, ch, p, m, k), n) in self.cells {
            if n == 0 {
                continue;
            }
            for (grain, d) in [("d", day), ("m", month_of(day))] {
                if m.is_counter() {
                    let row = days
                        .entry((grain, d, q, ch, p))
                        .or_insert_with(|| vec![0; Measure::COUNTERS]);
                    row[m.index()] += n;
                } else {
                    *keyed.entry((grain, m, d, q, k.clone())).or_default() += n;
                }
            }
        }
        let columns: Vec<&str> = Measure::ALL[..Measure::COUNTERS]
            .iter()
            .map(|m| m.name())
            .collect();
        let days: Vec<DayDelta> = days
            .into_iter()
            .map(|((grain, day, queue, ch, p), counts)| DayDelta {
                grain,
                day,
                queue,
                channel: ch.as_str(),
                priority: p.as_str(),
                counts,
            })
            .collect();
        let mut series: BTreeMap<(&'static str, Measure, NaiveDate, i64), SeriesDelta> =
            BTreeMap::new();
        for ((grain, m, day, queue, key), n) in keyed {
            if n == 0 {
                continue;
            }
            series
                .entry((grain, m, day, queue))
                .or_insert_with(|| SeriesDelta {
                    grain,
                    measure: m.name(),
                    day,
                    queue,
                    add: BTreeMap::new(),
                })
                .add
                .insert(key, n);
        }
        let series: Vec<SeriesDelta> = series.into_values().collect();
        store::stats::add_days(c, t, &columns, &days)?;
        store::stats::add_series(c, t, &series)?;
        Ok(())
    }
}

fn row_of(
    id: i64,
    channel: Channel,
    contrib: &super::contribution::Contribution,
) -> Option<TicketStats> {
    let first = contrib.cells.iter().map(|c| c.day).min()?;
    let last = contrib.cells.iter().map(|c| c.day).max()?;
    Some(TicketStats {
        ticket_id: id,
        channel: channel.as_str(),
        first_day: first,
        last_day: last,
        in_backlog: contrib.in_backlog,
        resolved_day: contrib.resolved_day,
        with_article: contrib.with_article,
        cells: encode(&contrib.cells),
    })
}

/// Recompute the figures of these tickets of one tenant and apply the difference, inside the
/// caller's transaction.
pub fn refresh(c: &mut Conn, t: TenantId, ids: &[i64]) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    // Writers of the aggregates take turns (the follower, a rebuild, a test's refresh): each
    // reads the cells and series rows the one before stored.
    store::stats::lock_aggregates(c)?;
    let ctx = Context::load(c, t)?;
    let mut b = load(c, t, ids)?;
    let mut deltas = Deltas::default();
    let (mut rows, mut gone) = (vec![], vec![]);
    let mut seen = std::collections::HashSet::new();
    for tk in &b.tickets {
        seen.insert(tk.id);
        let old = b.old.remove(&tk.id).unwrap_or_default();
        let Some(h) = history(&ctx, &b, tk)? else {
            continue;
        };
        let contrib = contribution(&h, &|q| ctx.calendar(q));
        deltas.add(&old, -1);
        deltas.add(&contrib.cells, 1);
        match row_of(tk.id, h.channel, &contrib) {
            Some(row) => rows.push(row),
            None => gone.push(tk.id),
        }
    }
    // Tickets that are no longer there take their figures with them.
    for (id, old) in b.old.drain() {
        if !seen.contains(&id) {
            deltas.add(&old, -1);
            gone.push(id);
        }
    }
    store::stats::save_tickets(c, t, &rows, &gone)?;
    deltas.write(c, t)
}

/// One step of the follower: refresh every ticket changed since the last step. Whether more may
/// be waiting, or None when another node holds the lease.
pub fn follow(db: &Db, owner: &str, now: DateTime<Utc>, limit: i64) -> Result<Option<bool>> {
    let owner = owner.to_string();
    db.write_blocking(move |c| -> Result<Option<bool>> {
        let until = (now + TimeDelta::seconds(30)).naive_utc();
        let Some(after) = store::stats::claim_cursor(c, &owner, now.naive_utc(), until)? else {
            return Ok(None);
        };
        let settled = (now - TimeDelta::seconds(10)).naive_utc();
        let (last, read, changed) = store::sla::changed_after(c, after, limit, settled)?;
        let mut by_tenant: BTreeMap<i64, (TenantId, Vec<i64>)> = BTreeMap::new();
        for (t, k) in changed {
            by_tenant
                .entry(t.get())
                .or_insert((t, vec![]))
                .1
                .push(k.get());
        }
        for (t, ids) in by_tenant.into_values() {
            refresh(c, t, &ids)?;
        }
        store::stats::advance_cursor(c, &owner, last)?;
        Ok(Some(read as i64 == limit && last > after))
    })
}

/// Recompute one tenant's statistics from its whole history, `batch` tickets per transaction;
/// `progress(done, total)` after each batch. Returns the number of tickets read.
pub fn rebuild(db: &Db, t: TenantId, batch: i64, progress: &dyn Fn(u64, u64)) -> Result<u64> {
    let total =
        db.read_blocking(move |c| -> Result<i64> { Ok(store::stats::ticket_count(c, t)?) })?;
    let started = Utc::now();
    // The rebuild holds the follower's lease while it works (renewed with every batch), so no
    // follower step can store cells read before the clearing below (D64).
    let owner = format!("stats-rebuild-{}", crate::secrets::new_id());
    let lease = || (Utc::now() + TimeDelta::seconds(120)).naive_utc();
    let o = owner.clone();
    db.write_blocking(move |c| -> Result<()> {
        store::stats::take_cursor(c, &o, lease())?;
        Ok(())
    })?;
    let o = owner.clone();
    let result = (|| -> Result<u64> {
        db.write_blocking(move |c| -> Result<()> { Ok(store::stats::clear(c, t)?) })?;
        let (mut after, mut done) = (0i64, 0u64);
        loop {
            let o = o.clone();
            let ids = db.write_blocking(move |c| -> Result<Vec<i64>> {
                store::stats::take_cursor(c, &o, lease())?;
                let ids = store::stats::ticket_ids(c, t, after, batch)?;
                refresh(c, t, &ids)?;
                Ok(ids)
            })?;
            let Some(last) = ids.last() else { break };
            after = *last;
            done += ids.len() as u64;
            progress(done, total.max(0) as u64);
        }
        Ok(done)
    })();
    // Everything before the rebuild began is counted: the follower need not read it again.
    let finished = result.is_ok();
    db.write_blocking(move |c| -> Result<()> {
        if finished {
            let settled = (started - TimeDelta::seconds(10)).naive_utc();
            let newest = store::stats::newest_event(c, settled)?;
            store::stats::cursor_at_least(c, newest)?;
        }
        Ok(store::stats::release_cursor(c, &owner)?)
    })?;
    result
}

/// The follower, until the process ends: a step a second.
pub async fn run(db: Db, node: String) {
    let owner = format!("stats-{node}");
    loop {
        let (db2, owner2) = (db.clone(), owner.clone());
        let step = tokio::task::spawn_blocking(move || -> Result<()> {
            while follow(&db2, &owner2, Utc::now(), 1000)? == Some(true) {}
            Ok(())
        })
        .await;
        match step {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "statistics step failed; retrying"),
            Err(e) => tracing::error!(error = %e, "statistics step panicked"),
        }
        tokio::time::sleep(StdDuration::from_secs(1)).await;
    }
}
