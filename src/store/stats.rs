//! Statistics storage (D64): each ticket's cells (`stats_tickets`), the aggregates they sum to
//! (`stats_days`: counters per day or month, queue, channel and priority; `stats_series`: the
//! keyed series of one queue on one day or month, each a row of `{"key": n}`), and the
//! follower's cursor.
//!
//! The aggregate statements are built as text: the counters are many columns, the batches many
//! rows, and every value put in the text is a number, a date, a column name the caller owns, a
//! closed-vocabulary word or a quoted literal (`lit`), so nothing a user typed reaches SQL
//! unquoted.

use std::collections::{BTreeMap, HashMap};

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};

use super::schema::{messages, tenants, ticket_events, ticket_tags, tickets};
use super::{Conn, StoreError, StoreResult};
use crate::domain::TenantId;

/// A string as an SQL literal (quotes doubled; both backends read backslashes literally).
fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn day_lit(d: NaiveDate) -> String {
    format!("'{}'", d.format("%Y-%m-%d"))
}

// ---- the follower's cursor ----

#[derive(QueryableByName)]
struct Position {
    #[diesel(sql_type = BigInt)]
    last_event_id: i64,
}

/// Take (or keep) the follower lease; the position to read after, or None when another node
/// holds it.
pub fn claim_cursor(
    conn: &mut Conn,
    owner: &str,
    now: NaiveDateTime,
    until: NaiveDateTime,
) -> StoreResult<Option<i64>> {
    let fmt = |t: NaiveDateTime| lit(&t.format("%Y-%m-%d %H:%M:%S%.6f").to_string());
    let n = per_backend!(conn, |c| diesel::sql_query(format!(
        "UPDATE stats_cursor SET lease_owner = {o}, lease_until = {u} WHERE id = 1 AND \
         (lease_owner IS NULL OR lease_owner = {o} OR lease_until < {n})",
        o = lit(owner),
        u = fmt(until),
        n = fmt(now),
    ))
    .execute(c))?;
    if n == 0 {
        return Ok(None);
    }
    let p: Position = per_backend!(conn, |c| diesel::sql_query(
        "SELECT last_event_id FROM stats_cursor WHERE id = 1"
    )
    .get_result(c))?;
    Ok(Some(p.last_event_id))
}

pub fn advance_cursor(conn: &mut Conn, owner: &str, last: i64) -> StoreResult<()> {
    per_backend!(conn, |c| diesel::sql_query(format!(
        "UPDATE stats_cursor SET last_event_id = {last} WHERE id = 1 AND lease_owner = {}",
        lit(owner)
    ))
    .execute(c))?;
    Ok(())
}

/// Take the follower lease whoever holds it (a rebuild): the holder's running step commits
/// first (the row is locked), and its next claim finds the lease taken.
pub fn take_cursor(conn: &mut Conn, owner: &str, until: NaiveDateTime) -> StoreResult<()> {
    let until = lit(&until.format("%Y-%m-%d %H:%M:%S%.6f").to_string());
    per_backend!(conn, |c| diesel::sql_query(format!(
        "UPDATE stats_cursor SET lease_owner = {}, lease_until = {until} WHERE id = 1",
        lit(owner)
    ))
    .execute(c))?;
    Ok(())
}

/// Give the lease back (if `owner` still holds it).
pub fn release_cursor(conn: &mut Conn, owner: &str) -> StoreResult<()> {
    per_backend!(conn, |c| {
        diesel::sql_query(format!(
        "UPDATE stats_cursor SET lease_owner = NULL, lease_until = NULL WHERE id = 1 AND lease_owner = {}",
        lit(owner)
    ))
    .execute(c)
    })?;
    Ok(())
}

/// The newest event id older than `before` (where a rebuild leaves the follower).
pub fn newest_event(conn: &mut Conn, before: NaiveDateTime) -> StoreResult<i64> {
    let id: Option<i64> = ticket_events::table
        .filter(ticket_events::created_at.lt(before))
        .select(diesel::dsl::max(ticket_events::id))
        .first(conn)?;
    Ok(id.unwrap_or(0))
}

/// Put the follower at `last` unless it is already past it (a rebuild has covered up to there).
pub fn cursor_at_least(conn: &mut Conn, last: i64) -> StoreResult<()> {
    per_backend!(conn, |c| diesel::sql_query(format!(
        "UPDATE stats_cursor SET last_event_id = {last} WHERE id = 1 AND last_event_id < {last}"
    ))
    .execute(c))?;
    Ok(())
}

// ---- a batch of tickets' history ----

#[derive(Debug, Clone, Queryable)]
pub struct TicketFacts {
    pub id: i64,
    pub channel: String,
    pub queue_id: i64,
    pub priority: String,
    pub created_at: NaiveDateTime,
    pub automatic: Option<String>,
}

pub fn tickets_of(conn: &mut Conn, t: TenantId, ids: &[i64]) -> StoreResult<Vec<TicketFacts>> {
    Ok(tickets::table
        .filter(tickets::tenant_id.eq(t.get()))
        .filter(tickets::id.eq_any(ids))
        .select((
            tickets::id,
            tickets::channel,
            tickets::queue_id,
            tickets::priority,
            tickets::created_at,
            tickets::automatic,
        ))
        .load(conn)?)
}

/// (ticket, at, kind, details, actor) in the order they happened.
pub type EventFact = (i64, NaiveDateTime, String, String, Option<i64>);
/// (ticket, at, kind, automatic, author) in the order they were stored.
pub type MessageFact = (i64, NaiveDateTime, String, bool, Option<i64>);

pub fn events_of(conn: &mut Conn, t: TenantId, ids: &[i64]) -> StoreResult<Vec<EventFact>> {
    Ok(ticket_events::table
        .filter(ticket_events::tenant_id.eq(t.get()))
        .filter(ticket_events::ticket_id.eq_any(ids))
        .order(ticket_events::id)
        .select((
            ticket_events::ticket_id,
            ticket_events::created_at,
            ticket_events::kind,
            ticket_events::details,
            ticket_events::actor_id,
        ))
        .load(conn)?)
}

pub fn messages_of(conn: &mut Conn, t: TenantId, ids: &[i64]) -> StoreResult<Vec<MessageFact>> {
    Ok(messages::table
        .filter(messages::tenant_id.eq(t.get()))
        .filter(messages::ticket_id.eq_any(ids))
        .filter(messages::kind.ne("note"))
        .order(messages::id)
        .select((
            messages::ticket_id,
            messages::created_at,
            messages::kind,
            messages::auto_sent,
            messages::author_id,
        ))
        .load(conn)?)
}

pub fn tags_of(conn: &mut Conn, t: TenantId, ids: &[i64]) -> StoreResult<Vec<(i64, String)>> {
    Ok(ticket_tags::table
        .filter(ticket_tags::tenant_id.eq(t.get()))
        .filter(ticket_tags::ticket_id.eq_any(ids))
        .order((ticket_tags::ticket_id, ticket_tags::tag))
        .select((ticket_tags::ticket_id, ticket_tags::tag))
        .load(conn)?)
}

/// The tenant's ticket ids after `after`, in order (a rebuild pages through them).
pub fn ticket_ids(conn: &mut Conn, t: TenantId, after: i64, limit: i64) -> StoreResult<Vec<i64>> {
    Ok(tickets::table
        .filter(tickets::tenant_id.eq(t.get()))
        .filter(tickets::id.gt(after))
        .order(tickets::id)
        .limit(limit)
        .select(tickets::id)
        .load(conn)?)
}

pub fn ticket_count(conn: &mut Conn, t: TenantId) -> StoreResult<i64> {
    Ok(tickets::table
        .filter(tickets::tenant_id.eq(t.get()))
        .count()
        .get_result(conn)?)
}

// ---- stored cells per ticket ----

#[derive(QueryableByName)]
struct StoredCells {
    #[diesel(sql_type = BigInt)]
    ticket_id: i64,
    #[diesel(sql_type = Text)]
    cells: String,
}

fn id_list(ids: &[i64]) -> String {
    ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
}

/// The cells stored for these tickets (ticket id, encoded cells).
pub fn stored_cells(conn: &mut Conn, t: TenantId, ids: &[i64]) -> StoreResult<Vec<(i64, String)>> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let rows: Vec<StoredCells> = per_backend!(conn, |c| diesel::sql_query(format!(
        "SELECT ticket_id, cells FROM stats_tickets WHERE tenant_id = {} AND ticket_id IN ({})",
        t.get(),
        id_list(ids)
    ))
    .load(c))?;
    Ok(rows.into_iter().map(|r| (r.ticket_id, r.cells)).collect())
}

/// One ticket's row of `stats_tickets`.
#[derive(Debug, Clone)]
pub struct TicketStats {
    pub ticket_id: i64,
    pub channel: &'static str,
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
    pub in_backlog: bool,
    pub resolved_day: Option<NaiveDate>,
    pub with_article: bool,
    pub cells: String,
}

/// Store the tickets' rows (replacing what was there); tickets without cells are removed.
pub fn save_tickets(
    conn: &mut Conn,
    t: TenantId,
    rows: &[TicketStats],
    gone: &[i64],
) -> StoreResult<()> {
    if !gone.is_empty() {
        per_backend!(conn, |c| diesel::sql_query(format!(
            "DELETE FROM stats_tickets WHERE tenant_id = {} AND ticket_id IN ({})",
            t.get(),
            id_list(gone)
        ))
        .execute(c))?;
    }
    let b = |v: bool| if v { "TRUE" } else { "FALSE" };
    for chunk in rows.chunks(500) {
        let values: Vec<String> = chunk
            .iter()
            .map(|r| {
                format!(
                    "({}, {}, {}, {}, {}, {}, {}, {}, {})",
                    t.get(),
                    r.ticket_id,
                    lit(r.channel),
                    day_lit(r.first_day),
                    day_lit(r.last_day),
                    b(r.in_backlog),
                    r.resolved_day.map_or("NULL".into(), day_lit),
                    b(r.with_article),
                    lit(&r.cells),
                )
            })
            .collect();
        per_backend!(conn, |c| diesel::sql_query(format!(
            "INSERT INTO stats_tickets (tenant_id, ticket_id, channel, first_day, last_day, \
             in_backlog, resolved_day, with_article, cells) VALUES {} \
             ON CONFLICT (tenant_id, ticket_id) DO UPDATE SET channel = excluded.channel, \
             first_day = excluded.first_day, last_day = excluded.last_day, \
             in_backlog = excluded.in_backlog, resolved_day = excluded.resolved_day, \
             with_article = excluded.with_article, cells = excluded.cells",
            values.join(", ")
        ))
        .execute(c))?;
    }
    Ok(())
}

// ---- aggregates ----

/// A change to one row of `stats_days`: `counts[i]` is added to `columns[i]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayDelta {
    pub grain: &'static str,
    pub day: NaiveDate,
    pub queue: i64,
    pub channel: &'static str,
    pub priority: &'static str,
    pub counts: Vec<i64>,
}

/// Add to the counters (one row per key in `rows`: the caller sums first).
pub fn add_days(
    conn: &mut Conn,
    t: TenantId,
    columns: &[&str],
    rows: &[DayDelta],
) -> StoreResult<()> {
    let cols = columns.join(", ");
    let set = columns
        .iter()
        .map(|c| format!("{c} = stats_days.{c} + excluded.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    for chunk in rows.chunks(400) {
        let values: Vec<String> = chunk
            .iter()
            .map(|r| {
                let counts = r.counts.iter().map(i64::to_string).collect::<Vec<_>>();
                format!(
                    "({}, {}, {}, {}, {}, {}, {})",
                    t.get(),
                    lit(r.grain),
                    day_lit(r.day),
                    r.queue,
                    lit(r.channel),
                    lit(r.priority),
                    counts.join(", ")
                )
            })
            .collect();
        per_backend!(conn, |c| diesel::sql_query(format!(
            "INSERT INTO stats_days (tenant_id, grain, day, queue_id, channel, priority, {cols}) \
             VALUES {} ON CONFLICT (tenant_id, grain, day, queue_id, channel, priority) \
             DO UPDATE SET {set}",
            values.join(", ")
        ))
        .execute(c))?;
    }
    Ok(())
}

/// A change to one row of `stats_series`: the numbers to add under each key of one keyed
/// series (measure) of one queue on one day or month.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesDelta {
    pub grain: &'static str,
    pub measure: &'static str,
    pub day: NaiveDate,
    pub queue: i64,
    pub add: BTreeMap<String, i64>,
}

#[derive(QueryableByName)]
struct SeriesRow {
    #[diesel(sql_type = Text)]
    grain: String,
    #[diesel(sql_type = Text)]
    measure: String,
    #[diesel(sql_type = Text)]
    day: String,
    #[diesel(sql_type = BigInt)]
    queue_id: i64,
    #[diesel(sql_type = Text)]
    counts: String,
}

/// A series row's numbers (`{"key": n, …}`).
fn counts_of(text: &str) -> StoreResult<BTreeMap<String, i64>> {
    serde_json::from_str(text)
        .map_err(|e| StoreError::Query(format!("stats_series.counts cannot be read: {e}")))
}

/// Serialise the writers of the aggregates: a read-modify-write of a series row is only safe
/// when no other transaction changes it meanwhile. On PostgreSQL the follower's cursor row is
/// locked for the rest of the transaction (the follower and a rebuild lock it anyway when they
/// claim or take the lease); SQLite has one writer at a time.
pub fn lock_aggregates(conn: &mut Conn) -> StoreResult<()> {
    if let Conn::Pg(c) = conn {
        diesel::sql_query("SELECT id FROM stats_cursor WHERE id = 1 FOR UPDATE").execute(c)?;
    }
    Ok(())
}

/// Add to the keyed series (one delta per row in `rows`: the caller sums first). Reads the rows
/// concerned, adds, and writes them back; a row whose numbers all come to 0 is removed. The
/// caller holds [`lock_aggregates`].
pub fn add_series(conn: &mut Conn, t: TenantId, rows: &[SeriesDelta]) -> StoreResult<()> {
    type RowKey = (String, String, String, i64);
    if rows.is_empty() {
        return Ok(());
    }
    // The rows concerned, read by (grain, day, queue, measure) lists, a search of the primary
    // key (a long OR of exact rows costs more to plan than to run).
    let mut stored: HashMap<RowKey, BTreeMap<String, i64>> = HashMap::new();
    for grain in ["d", "m"] {
        let of_grain: Vec<&SeriesDelta> = rows.iter().filter(|r| r.grain == grain).collect();
        let days: std::collections::BTreeSet<NaiveDate> = of_grain.iter().map(|r| r.day).collect();
        let queues: std::collections::BTreeSet<i64> = of_grain.iter().map(|r| r.queue).collect();
        let measures: std::collections::BTreeSet<&str> =
            of_grain.iter().map(|r| r.measure).collect();
        if days.is_empty() {
            continue;
        }
        let queues = queues.into_iter().collect::<Vec<_>>();
        let measures = measures.into_iter().map(lit).collect::<Vec<_>>().join(", ");
        let days: Vec<NaiveDate> = days.into_iter().collect();
        for some in days.chunks(200) {
            let q = format!(
                "SELECT grain, measure, day, queue_id, counts FROM stats_series \
                 WHERE tenant_id = {} AND grain = {} AND day IN ({}) AND queue_id IN ({}) \
                 AND measure IN ({measures})",
                t.get(),
                lit(grain),
                some.iter()
                    .map(|d| day_lit(*d))
                    .collect::<Vec<_>>()
                    .join(", "),
                id_list(&queues),
            );
            let found: Vec<SeriesRow> = per_backend!(conn, |c| diesel::sql_query(q).load(c))?;
            for r in found {
                stored.insert(
                    (r.grain, r.measure, r.day, r.queue_id),
                    counts_of(&r.counts)?,
                );
            }
        }
    }
    let (mut upserts, mut removals) = (vec![], vec![]);
    for r in rows {
        let k = (
            r.grain.to_string(),
            r.measure.to_string(),
            r.day.format("%Y-%m-%d").to_string(),
            r.queue,
        );
        let mut counts = stored.remove(&k).unwrap_or_default();
        for (key, n) in &r.add {
            let v = counts.entry(key.clone()).or_default();
            *v += n;
            if *v == 0 {
                counts.remove(key);
            }
        }
        let place = format!(
            "{}, {}, {}, {}, {}",
            t.get(),
            lit(r.grain),
            lit(r.measure),
            day_lit(r.day),
            r.queue
        );
        if counts.is_empty() {
            removals.push(format!(
                "(grain = {} AND measure = {} AND day = {} AND queue_id = {})",
                lit(r.grain),
                lit(r.measure),
                day_lit(r.day),
                r.queue
            ));
        } else {
            let text =
                serde_json::to_string(&counts).map_err(|e| StoreError::Query(e.to_string()))?;
            upserts.push(format!("({place}, {})", lit(&text)));
        }
    }
    for chunk in upserts.chunks(300) {
        per_backend!(conn, |c| diesel::sql_query(format!(
            "INSERT INTO stats_series (tenant_id, grain, measure, day, queue_id, counts) \
             VALUES {} ON CONFLICT (tenant_id, grain, day, queue_id, measure) \
             DO UPDATE SET counts = excluded.counts",
            chunk.join(", ")
        ))
        .execute(c))?;
    }
    for chunk in removals.chunks(100) {
        per_backend!(conn, |c| diesel::sql_query(format!(
            "DELETE FROM stats_series WHERE tenant_id = {} AND ({})",
            t.get(),
            chunk.join(" OR ")
        ))
        .execute(c))?;
    }
    Ok(())
}

/// Forget everything counted for the tenant (before a rebuild).
pub fn clear(conn: &mut Conn, t: TenantId) -> StoreResult<()> {
    for table in ["stats_days", "stats_series", "stats_tickets"] {
        per_backend!(conn, |c| diesel::sql_query(format!(
            "DELETE FROM {table} WHERE tenant_id = {}",
            t.get()
        ))
        .execute(c))?;
    }
    Ok(())
}

// ---- reading the aggregates ----

/// Which stored rows a report reads: whole months from the monthly rows, the days around them
/// from the daily rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    pub grain: &'static str,
    pub from: NaiveDate,
    pub to: NaiveDate,
}

/// What the counters are filtered on.
#[derive(Debug, Clone, Default)]
pub struct Only {
    /// None: every queue.
    pub queues: Option<Vec<i64>>,
    pub channel: Option<&'static str>,
    pub priority: Option<&'static str>,
}

fn where_clause(t: TenantId, spans: &[Span], only: &Only, with_place: bool) -> String {
    let spans = spans
        .iter()
        .map(|s| {
            format!(
                "(grain = {} AND day >= {} AND day <= {})",
                lit(s.grain),
                day_lit(s.from),
                day_lit(s.to)
            )
        })
        .collect::<Vec<_>>();
    let spans = if spans.is_empty() {
        "FALSE".to_string()
    } else {
        spans.join(" OR ")
    };
    let mut w = format!("tenant_id = {} AND ({spans})", t.get());
    if let Some(qs) = &only.queues {
        if qs.is_empty() {
            w.push_str(" AND FALSE");
        } else {
            w.push_str(&format!(" AND queue_id IN ({})", id_list(qs)));
        }
    }
    if with_place {
        if let Some(ch) = only.channel {
            w.push_str(&format!(" AND channel = {}", lit(ch)));
        }
        if let Some(p) = only.priority {
            w.push_str(&format!(" AND priority = {}", lit(p)));
        }
    }
    w
}

#[derive(QueryableByName)]
struct SumRow {
    #[diesel(sql_type = Nullable<Text>)]
    day: Option<String>,
    #[diesel(sql_type = BigInt)]
    queue_id: i64,
    #[diesel(sql_type = Text)]
    channel: String,
    #[diesel(sql_type = Text)]
    priority: String,
    #[diesel(sql_type = Text)]
    counts: String,
}

/// How summed counters are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    /// Per (queue, channel, priority).
    Place,
    /// Per day (queue 0, channel and priority empty).
    Day,
    /// Per day and queue (channel and priority empty).
    DayQueue,
}

/// Summed counters, grouped as asked.
#[derive(Debug, Clone)]
pub struct DaySum {
    pub day: Option<NaiveDate>,
    pub queue: i64,
    pub channel: String,
    pub priority: String,
    pub counts: Vec<i64>,
}

pub fn sum_days(
    conn: &mut Conn,
    t: TenantId,
    columns: &[&str],
    spans: &[Span],
    only: &Only,
    group: Group,
) -> StoreResult<Vec<DaySum>> {
    let counts = columns
        .iter()
        .map(|c| format!("CAST(SUM({c}) AS TEXT)"))
        .collect::<Vec<_>>()
        .join(" || ',' || ");
    let (select, group) = match group {
        Group::Day => (
            "day, CAST(0 AS BIGINT) AS queue_id, CAST('' AS TEXT) AS channel, CAST('' AS TEXT) AS priority",
            "day",
        ),
        Group::DayQueue => (
            "day, queue_id, CAST('' AS TEXT) AS channel, CAST('' AS TEXT) AS priority",
            "day, queue_id",
        ),
        Group::Place => (
            "CAST(NULL AS TEXT) AS day, queue_id, channel, priority",
            "queue_id, channel, priority",
        ),
    };
    let q = format!(
        "SELECT {select}, {counts} AS counts FROM stats_days WHERE {} GROUP BY {group}",
        where_clause(t, spans, only, true)
    );
    let rows: Vec<SumRow> = per_backend!(conn, |c| diesel::sql_query(q).load(c))?;
    Ok(rows
        .into_iter()
        .map(|r| DaySum {
            day: r
                .day
                .and_then(|d| NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok()),
            queue: r.queue_id,
            channel: r.channel,
            priority: r.priority,
            counts: r
                .counts
                .split(',')
                .map(|n| n.parse().unwrap_or(0))
                .collect(),
        })
        .collect())
}

#[derive(QueryableByName)]
struct SeriesSum {
    #[diesel(sql_type = BigInt)]
    queue_id: i64,
    #[diesel(sql_type = Text)]
    measure: String,
    #[diesel(sql_type = Text)]
    counts: String,
}

/// Summed keyed series: (queue, measure, key, n) for the measures named, n ≠ 0. One row per
/// queue, measure and day or month is read and the keys are summed here: a year of one queue's
/// time histograms is a dozen rows, not thousands.
pub fn sum_keyed(
    conn: &mut Conn,
    t: TenantId,
    measures: &[&str],
    spans: &[Span],
    only: &Only,
) -> StoreResult<Vec<(i64, String, String, i64)>> {
    if measures.is_empty() {
        return Ok(vec![]);
    }
    let names = measures
        .iter()
        .map(|m| lit(m))
        .collect::<Vec<_>>()
        .join(", ");
    let q = format!(
        "SELECT queue_id, measure, counts FROM stats_series WHERE measure IN ({names}) AND {}",
        where_clause(t, spans, only, false)
    );
    let rows: Vec<SeriesSum> = per_backend!(conn, |c| diesel::sql_query(q).load(c))?;
    let mut sums: HashMap<(i64, String), HashMap<String, i64>> = HashMap::new();
    for r in rows {
        let series = sums.entry((r.queue_id, r.measure)).or_default();
        add_counts(&r.counts, series)
            .map_err(|e| StoreError::Query(format!("stats_series.counts cannot be read: {e}")))?;
    }
    Ok(sums
        .into_iter()
        .flat_map(|((q, m), series)| {
            series
                .into_iter()
                .filter(|(_, n)| *n != 0)
                .map(move |(k, n)| (q, m.clone(), k, n))
        })
        .collect())
}

/// Add a series row's numbers (`{"key": n, …}`) into `into`, allocating a key only the first
/// time it is seen (a year of rows repeats the same keys twelve times).
fn add_counts(text: &str, into: &mut HashMap<String, i64>) -> serde_json::Result<()> {
    use serde::de::{DeserializeSeed, Deserializer, MapAccess, Visitor};
    use std::borrow::Cow;

    struct Key<'de>(Cow<'de, str>);
    impl<'de> serde::Deserialize<'de> for Key<'de> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Key<'de>;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("a key")
                }
                fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                    Ok(Key(Cow::Borrowed(v)))
                }
                fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                    Ok(Key(Cow::Owned(v.to_string())))
                }
            }
            d.deserialize_str(V)
        }
    }
    struct Into<'a>(&'a mut HashMap<String, i64>);
    impl<'de> DeserializeSeed<'de> for Into<'_> {
        type Value = ();
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_map(self)
        }
    }
    impl<'de> Visitor<'de> for Into<'_> {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an object of numbers")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
            while let Some((Key(k), n)) = m.next_entry::<Key<'de>, i64>()? {
                match self.0.get_mut(k.as_ref()) {
                    Some(v) => *v += n,
                    None => {
                        self.0.insert(k.into_owned(), n);
                    }
                }
            }
            Ok(())
        }
    }
    let mut d = serde_json::Deserializer::from_str(text);
    Into(into).deserialize(&mut d)?;
    d.end()
}

/// The cells of the tickets that count in a period (a change in it, or open through it), for
/// figures the aggregates do not keep apart (a tag; channel or priority of times and series).
pub fn cells_for(
    conn: &mut Conn,
    t: TenantId,
    from: NaiveDate,
    to: NaiveDate,
    channel: Option<&str>,
    tag: Option<&str>,
) -> StoreResult<Vec<String>> {
    let mut w = format!(
        "s.tenant_id = {} AND s.first_day <= {} AND (s.last_day >= {} OR s.in_backlog)",
        t.get(),
        day_lit(to),
        day_lit(from)
    );
    if let Some(ch) = channel {
        w.push_str(&format!(" AND s.channel = {}", lit(ch)));
    }
    if let Some(tag) = tag {
        w.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM ticket_tags g WHERE g.tenant_id = s.tenant_id \
             AND g.ticket_id = s.ticket_id AND g.tag = {})",
            lit(tag)
        ));
    }
    #[derive(QueryableByName)]
    struct C {
        #[diesel(sql_type = Text)]
        cells: String,
    }
    let rows: Vec<C> = per_backend!(conn, |c| diesel::sql_query(format!(
        "SELECT s.cells FROM stats_tickets s WHERE {w}"
    ))
    .load(c))?;
    Ok(rows.into_iter().map(|r| r.cells).collect())
}

/// A resolved question no article answered.
#[derive(Debug, Clone, QueryableByName)]
pub struct Unanswered {
    #[diesel(sql_type = Text)]
    pub number: String,
    #[diesel(sql_type = Text)]
    pub subject: String,
    #[diesel(sql_type = BigInt)]
    pub queue_id: i64,
    #[diesel(sql_type = Text)]
    pub resolved_day: String,
}

/// The report's filters besides the period and the queues: channel, priority (the ticket's
/// current one) and tag.
#[derive(Debug, Clone, Copy, Default)]
pub struct Picked<'a> {
    pub channel: Option<&'a str>,
    pub priority: Option<&'a str>,
    pub tag: Option<&'a str>,
}

/// The latest tickets resolved in the period without a knowledge-base article.
pub fn unanswered(
    conn: &mut Conn,
    t: TenantId,
    from: NaiveDate,
    to: NaiveDate,
    queues: Option<&[i64]>,
    picked: Picked<'_>,
    limit: i64,
) -> StoreResult<Vec<Unanswered>> {
    let mut w = format!(
        "s.tenant_id = {} AND s.with_article = FALSE AND s.resolved_day >= {} AND s.resolved_day <= {}",
        t.get(),
        day_lit(from),
        day_lit(to)
    );
    if let Some(qs) = queues {
        if qs.is_empty() {
            return Ok(vec![]);
        }
        w.push_str(&format!(" AND k.queue_id IN ({})", id_list(qs)));
    }
    if let Some(ch) = picked.channel {
        w.push_str(&format!(" AND s.channel = {}", lit(ch)));
    }
    if let Some(p) = picked.priority {
        w.push_str(&format!(" AND k.priority = {}", lit(p)));
    }
    if let Some(tag) = picked.tag {
        w.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM ticket_tags g WHERE g.tenant_id = s.tenant_id \
             AND g.ticket_id = s.ticket_id AND g.tag = {})",
            lit(tag)
        ));
    }
    Ok(per_backend!(conn, |c| diesel::sql_query(format!(
        "SELECT k.number, k.subject, k.queue_id, s.resolved_day FROM stats_tickets s \
         JOIN tickets k ON k.tenant_id = s.tenant_id AND k.id = s.ticket_id \
         WHERE {w} ORDER BY s.resolved_day DESC, s.ticket_id DESC LIMIT {limit}"
    ))
    .load(c))?)
}

/// The oldest ticket still open (new, open or waiting; not automatic, not merged away). One
/// statement of one search per queue and status of `tickets_open_age` (tenant, queue, status,
/// created_at), each stopping at its first row, rather than reading every open ticket of the
/// queues to sort them by age.
pub fn oldest_open(
    conn: &mut Conn,
    t: TenantId,
    queues: &[i64],
    channel: Option<&str>,
    priority: Option<&str>,
) -> StoreResult<Option<(String, NaiveDateTime)>> {
    #[derive(QueryableByName)]
    struct Oldest {
        #[diesel(sql_type = diesel::sql_types::Timestamp)]
        created_at: NaiveDateTime,
        #[diesel(sql_type = BigInt)]
        id: i64,
        #[diesel(sql_type = Text)]
        number: String,
    }
    let mut also = String::new();
    if let Some(ch) = channel {
        also.push_str(&format!(" AND channel = {}", lit(ch)));
    }
    if let Some(p) = priority {
        also.push_str(&format!(" AND priority = {}", lit(p)));
    }
    let mut parts = vec![];
    for q in queues {
        for status in ["new", "open", "waiting"] {
            parts.push(format!(
                "SELECT * FROM (SELECT created_at, id, number FROM tickets WHERE tenant_id = {} \
                 AND queue_id = {q} AND status = {} AND automatic IS NULL \
                 AND merged_into_id IS NULL{also} ORDER BY created_at, id LIMIT 1) AS q{}",
                t.get(),
                lit(status),
                parts.len()
            ));
        }
    }
    if parts.is_empty() {
        return Ok(None);
    }
    let rows: Vec<Oldest> = per_backend!(conn, |c| diesel::sql_query(parts.join(" UNION ALL "))
        .load(c))?;
    Ok(rows
        .into_iter()
        .min_by_key(|r| (r.created_at, r.id))
        .map(|r| (r.number, r.created_at)))
}

// ---- the tenant's setting ----

pub fn per_agent(conn: &mut Conn, t: TenantId) -> StoreResult<bool> {
    Ok(tenants::table
        .filter(tenants::id.eq(t.get()))
        .select(tenants::stats_per_agent)
        .first(conn)?)
}

pub fn set_per_agent(conn: &mut Conn, t: TenantId, on: bool) -> StoreResult<()> {
    diesel::update(tenants::table.filter(tenants::id.eq(t.get())))
        .set(tenants::stats_per_agent.eq(on))
        .execute(conn)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_rows_add_up_key_by_key_whatever_the_key_holds() {
        let mut sums = HashMap::new();
        add_counts(r#"{"600":2,"fr\u00e5ga \"akut\"":1}"#, &mut sums).unwrap();
        add_counts(r#"{"600":3,"7:900":-1}"#, &mut sums).unwrap();
        let text = serde_json::to_string(&BTreeMap::from([("fråga \"akut\"".to_string(), 4)]));
        add_counts(&text.unwrap(), &mut sums).unwrap();
        assert_eq!(sums["600"], 5);
        assert_eq!(sums["fråga \"akut\""], 5);
        assert_eq!(sums["7:900"], -1);
        assert_eq!(sums.len(), 3);
        assert!(add_counts(r#"{"600":"two"}"#, &mut sums).is_err());
        assert!(add_counts(r#"{"600":1} trailing"#, &mut sums).is_err());
    }
}
