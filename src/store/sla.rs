//! Service-level storage: calendars, policies, each ticket's clocks, firings, and the follower's
//! position in the change feed. The sweeper's claim is the one cross-tenant read: it returns
//! (tenant, ticket) pairs and everything after it is scoped by that tenant.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::upsert::excluded;

use super::schema::{
    messages, queues, sla_calendars, sla_cursor, sla_policies, ticket_events, ticket_sla, tickets,
};
use super::{Conn, StoreResult};
use crate::domain::{Priority, QueueId, SlaClock, TenantId, TicketId};

// ---- calendars ----

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = sla_calendars)]
pub struct CalendarRow {
    pub id: i64,
    pub name: String,
    pub spec: String,
    pub is_default: bool,
}

pub fn calendars(conn: &mut Conn, t: TenantId) -> StoreResult<Vec<CalendarRow>> {
    Ok(sla_calendars::table
        .filter(sla_calendars::tenant_id.eq(t.get()))
        .order(sla_calendars::name)
        .select(CalendarRow::as_select())
        .load(conn)?)
}

/// The calendar a queue works by: its own, else the tenant's default (None: no calendar yet).
pub fn calendar_for_queue(
    conn: &mut Conn,
    t: TenantId,
    q: QueueId,
) -> StoreResult<Option<CalendarRow>> {
    let own: Option<Option<i64>> = queues::table
        .filter(queues::tenant_id.eq(t.get()))
        .filter(queues::id.eq(q.get()))
        .select(queues::calendar_id)
        .first(conn)
        .optional()?;
    let mut query = sla_calendars::table
        .filter(sla_calendars::tenant_id.eq(t.get()))
        .select(CalendarRow::as_select())
        .into_boxed();
    query = match own.flatten() {
        Some(id) => query.filter(sla_calendars::id.eq(id)),
        None => query.filter(sla_calendars::is_default.eq(true)),
    };
    Ok(query.first(conn).optional()?)
}

/// Every queue of the tenant with its own calendar, if it has one.
pub fn queue_calendar_ids(
    conn: &mut Conn,
    t: TenantId,
) -> StoreResult<Vec<(QueueId, Option<i64>)>> {
    let rows: Vec<(i64, Option<i64>)> = queues::table
        .filter(queues::tenant_id.eq(t.get()))
        .select((queues::id, queues::calendar_id))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(q, c)| (QueueId::from_db(q), c))
        .collect())
}

/// Create or replace a calendar by name; `default` makes it the tenant's default (and no other).
pub fn save_calendar(
    conn: &mut Conn,
    t: TenantId,
    name: &str,
    spec: &str,
    default: bool,
    now: NaiveDateTime,
) -> StoreResult<i64> {
    if default {
        diesel::update(sla_calendars::table.filter(sla_calendars::tenant_id.eq(t.get())))
            .set(sla_calendars::is_default.eq(false))
            .execute(conn)?;
    }
    let existing: Option<i64> = sla_calendars::table
        .filter(sla_calendars::tenant_id.eq(t.get()))
        .filter(sla_calendars::name.eq(name))
        .select(sla_calendars::id)
        .first(conn)
        .optional()?;
    Ok(match existing {
        Some(id) => {
            diesel::update(sla_calendars::table.filter(sla_calendars::id.eq(id)))
                .set((
                    sla_calendars::spec.eq(spec),
                    sla_calendars::is_default.eq(default),
                    sla_calendars::updated_at.eq(now),
                ))
                .execute(conn)?;
            id
        }
        None => diesel::insert_into(sla_calendars::table)
            .values((
                sla_calendars::tenant_id.eq(t.get()),
                sla_calendars::name.eq(name),
                sla_calendars::spec.eq(spec),
                sla_calendars::is_default.eq(default),
                sla_calendars::created_at.eq(now),
                sla_calendars::updated_at.eq(now),
            ))
            .returning(sla_calendars::id)
            .get_result(conn)?,
    })
}

/// Rename a calendar of the tenant (the caller checks the name is free).
pub fn rename_calendar(conn: &mut Conn, t: TenantId, id: i64, name: &str) -> StoreResult<()> {
    diesel::update(
        sla_calendars::table
            .filter(sla_calendars::tenant_id.eq(t.get()))
            .filter(sla_calendars::id.eq(id)),
    )
    .set(sla_calendars::name.eq(name))
    .execute(conn)?;
    Ok(())
}

/// Give a queue its own calendar (None: back to the tenant's default). False if either is not
/// the tenant's.
pub fn set_queue_calendar(
    conn: &mut Conn,
    t: TenantId,
    q: QueueId,
    calendar: Option<i64>,
) -> StoreResult<bool> {
    if let Some(id) = calendar {
        let ours: i64 = sla_calendars::table
            .filter(sla_calendars::tenant_id.eq(t.get()))
            .filter(sla_calendars::id.eq(id))
            .count()
            .get_result(conn)?;
        if ours == 0 {
            return Ok(false);
        }
    }
    Ok(diesel::update(
        queues::table
            .filter(queues::tenant_id.eq(t.get()))
            .filter(queues::id.eq(q.get())),
    )
    .set(queues::calendar_id.eq(calendar))
    .execute(conn)?
        == 1)
}

// ---- policies ----

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = sla_policies)]
pub struct PolicyRow {
    pub id: i64,
    pub queue_id: i64,
    pub priority: String,
    pub first_response_minutes: Option<i32>,
    pub next_response_minutes: Option<i32>,
    pub resolution_minutes: Option<i32>,
    pub warn_percent: i32,
    pub rules: String,
}

pub fn policies(conn: &mut Conn, t: TenantId) -> StoreResult<Vec<PolicyRow>> {
    Ok(sla_policies::table
        .filter(sla_policies::tenant_id.eq(t.get()))
        .order((sla_policies::queue_id, sla_policies::priority))
        .select(PolicyRow::as_select())
        .load(conn)?)
}

pub fn policy(
    conn: &mut Conn,
    t: TenantId,
    q: QueueId,
    p: Priority,
) -> StoreResult<Option<PolicyRow>> {
    Ok(sla_policies::table
        .filter(sla_policies::tenant_id.eq(t.get()))
        .filter(sla_policies::queue_id.eq(q.get()))
        .filter(sla_policies::priority.eq(p.as_str()))
        .select(PolicyRow::as_select())
        .first(conn)
        .optional()?)
}

pub struct NewPolicy<'a> {
    pub first_response_minutes: Option<i32>,
    pub next_response_minutes: Option<i32>,
    pub resolution_minutes: Option<i32>,
    pub warn_percent: i32,
    pub rules: &'a str,
}

pub fn save_policy(
    conn: &mut Conn,
    t: TenantId,
    q: QueueId,
    p: Priority,
    n: &NewPolicy<'_>,
    now: NaiveDateTime,
) -> StoreResult<()> {
    per_backend!(conn, |c| diesel::insert_into(sla_policies::table)
        .values((
            sla_policies::tenant_id.eq(t.get()),
            sla_policies::queue_id.eq(q.get()),
            sla_policies::priority.eq(p.as_str()),
            sla_policies::first_response_minutes.eq(n.first_response_minutes),
            sla_policies::next_response_minutes.eq(n.next_response_minutes),
            sla_policies::resolution_minutes.eq(n.resolution_minutes),
            sla_policies::warn_percent.eq(n.warn_percent),
            sla_policies::rules.eq(n.rules),
            sla_policies::updated_at.eq(now),
        ))
        .on_conflict((
            sla_policies::tenant_id,
            sla_policies::queue_id,
            sla_policies::priority,
        ))
        .do_update()
        .set((
            sla_policies::first_response_minutes.eq(excluded(sla_policies::first_response_minutes)),
            sla_policies::next_response_minutes.eq(excluded(sla_policies::next_response_minutes)),
            sla_policies::resolution_minutes.eq(excluded(sla_policies::resolution_minutes)),
            sla_policies::warn_percent.eq(excluded(sla_policies::warn_percent)),
            sla_policies::rules.eq(excluded(sla_policies::rules)),
            sla_policies::updated_at.eq(excluded(sla_policies::updated_at)),
        ))
        .execute(c)?);
    Ok(())
}

/// Open tickets (new, open, waiting) of a queue, optionally of one priority: whose clocks a
/// changed policy or calendar affects.
pub fn open_tickets(
    conn: &mut Conn,
    t: TenantId,
    q: QueueId,
    p: Option<Priority>,
) -> StoreResult<Vec<TicketId>> {
    let mut query = tickets::table
        .filter(tickets::tenant_id.eq(t.get()))
        .filter(tickets::queue_id.eq(q.get()))
        .filter(tickets::status.eq_any(["new", "open", "waiting"]))
        .select(tickets::id)
        .into_boxed();
    if let Some(p) = p {
        query = query.filter(tickets::priority.eq(p.as_str()));
    }
    Ok(query
        .load::<i64>(conn)?
        .into_iter()
        .map(TicketId::from_db)
        .collect())
}

// ---- a ticket's history, as the clocks need it ----

/// (status events as (when, kind, details), messages as (when, kind)).
/// A ticket's events as the clocks read them: (at, kind, details).
pub type EventFacts = Vec<(NaiveDateTime, String, String)>;
/// A ticket's messages as the clocks read them: (at, kind, automatic).
pub type MessageFacts = Vec<(NaiveDateTime, String, bool)>;
pub type History = (EventFacts, MessageFacts);

/// What the follower read: the id it may safely continue after, how many events it read, and
/// the distinct (tenant, ticket) pairs among them.
pub type Changed = (i64, usize, Vec<(TenantId, TicketId)>);

/// (when, what): the ticket's status events (`created`, `status_changed`, `reopened` with their
/// JSON details) and its messages' kinds (`inbound`, `outbound`, `note`), in time order.
pub fn history(conn: &mut Conn, t: TenantId, ticket: TicketId) -> StoreResult<History> {
    let events = ticket_events::table
        .filter(ticket_events::tenant_id.eq(t.get()))
        .filter(ticket_events::ticket_id.eq(ticket.get()))
        .filter(ticket_events::kind.eq_any([
            "created",
            "status_changed",
            "reopened",
            "merged_into",
            "automatic_cleared",
        ]))
        .order(ticket_events::id)
        .select((
            ticket_events::created_at,
            ticket_events::kind,
            ticket_events::details,
        ))
        .load(conn)?;
    let msgs = messages::table
        .filter(messages::tenant_id.eq(t.get()))
        .filter(messages::ticket_id.eq(ticket.get()))
        .filter(messages::kind.ne("note"))
        .order(messages::id)
        .select((messages::created_at, messages::kind, messages::auto_sent))
        .load(conn)?;
    Ok((events, msgs))
}

// ---- clocks ----

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = ticket_sla)]
pub struct ClockRow {
    pub ticket_id: i64,
    pub target: String,
    pub cycle: i32,
    pub budget_secs: i64,
    pub used_secs: i64,
    pub running_since: Option<NaiveDateTime>,
    pub warn_at: Option<NaiveDateTime>,
    pub due_at: Option<NaiveDateTime>,
    pub met_at: Option<NaiveDateTime>,
    pub met_in_time: Option<bool>,
    pub warned_cycle: i32,
    pub breached_cycle: i32,
    pub next_check_at: Option<NaiveDateTime>,
}

pub fn clocks(conn: &mut Conn, t: TenantId, ticket: TicketId) -> StoreResult<Vec<ClockRow>> {
    Ok(ticket_sla::table
        .filter(ticket_sla::tenant_id.eq(t.get()))
        .filter(ticket_sla::ticket_id.eq(ticket.get()))
        .order(ticket_sla::id)
        .select(ClockRow::as_select())
        .load(conn)?)
}

/// The clocks of several tickets (a list page's badges).
pub fn clocks_of(conn: &mut Conn, t: TenantId, ids: &[i64]) -> StoreResult<Vec<ClockRow>> {
    Ok(ticket_sla::table
        .filter(ticket_sla::tenant_id.eq(t.get()))
        .filter(ticket_sla::ticket_id.eq_any(ids))
        .select(ClockRow::as_select())
        .load(conn)?)
}

/// What the ticket row carries of its clocks, for lists: the earliest warning and due instants
/// of its open targets, and whether they run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub warn_at: Option<NaiveDateTime>,
    pub due_at: Option<NaiveDateTime>,
    pub clock: Option<SlaClock>,
}

impl Summary {
    /// Count one open (not yet met) target with its instants (None while paused).
    pub fn add(&mut self, warn_at: Option<NaiveDateTime>, due_at: Option<NaiveDateTime>) {
        let earliest = |a: Option<NaiveDateTime>, b: Option<NaiveDateTime>| match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.warn_at = earliest(self.warn_at, warn_at);
        self.due_at = earliest(self.due_at, due_at);
        self.clock = Some(if self.due_at.is_some() {
            SlaClock::Running
        } else {
            SlaClock::Paused
        });
    }
}

/// Replace a ticket's clocks with `rows` (targets not among them are removed) and store their
/// summary on the ticket.
pub fn save_clocks(
    conn: &mut Conn,
    t: TenantId,
    ticket: TicketId,
    rows: &[ClockRow],
    summary: &Summary,
    now: NaiveDateTime,
) -> StoreResult<()> {
    let keep: Vec<&str> = rows.iter().map(|r| r.target.as_str()).collect();
    diesel::delete(
        ticket_sla::table
            .filter(ticket_sla::tenant_id.eq(t.get()))
            .filter(ticket_sla::ticket_id.eq(ticket.get()))
            .filter(ticket_sla::target.ne_all(&keep)),
    )
    .execute(conn)?;
    for r in rows {
        per_backend!(&mut *conn, |c| diesel::insert_into(ticket_sla::table)
            .values((
                ticket_sla::tenant_id.eq(t.get()),
                ticket_sla::ticket_id.eq(ticket.get()),
                ticket_sla::target.eq(&r.target),
                ticket_sla::cycle.eq(r.cycle),
                ticket_sla::budget_secs.eq(r.budget_secs),
                ticket_sla::used_secs.eq(r.used_secs),
                ticket_sla::running_since.eq(r.running_since),
                ticket_sla::warn_at.eq(r.warn_at),
                ticket_sla::due_at.eq(r.due_at),
                ticket_sla::met_at.eq(r.met_at),
                ticket_sla::met_in_time.eq(r.met_in_time),
                ticket_sla::warned_cycle.eq(r.warned_cycle),
                ticket_sla::breached_cycle.eq(r.breached_cycle),
                ticket_sla::next_check_at.eq(r.next_check_at),
                ticket_sla::updated_at.eq(now),
            ))
            .on_conflict((ticket_sla::ticket_id, ticket_sla::target))
            .do_update()
            .set((
                ticket_sla::cycle.eq(excluded(ticket_sla::cycle)),
                ticket_sla::budget_secs.eq(excluded(ticket_sla::budget_secs)),
                ticket_sla::used_secs.eq(excluded(ticket_sla::used_secs)),
                ticket_sla::running_since.eq(excluded(ticket_sla::running_since)),
                ticket_sla::warn_at.eq(excluded(ticket_sla::warn_at)),
                ticket_sla::due_at.eq(excluded(ticket_sla::due_at)),
                ticket_sla::met_at.eq(excluded(ticket_sla::met_at)),
                ticket_sla::met_in_time.eq(excluded(ticket_sla::met_in_time)),
                ticket_sla::warned_cycle.eq(excluded(ticket_sla::warned_cycle)),
                ticket_sla::breached_cycle.eq(excluded(ticket_sla::breached_cycle)),
                ticket_sla::next_check_at.eq(excluded(ticket_sla::next_check_at)),
                ticket_sla::updated_at.eq(excluded(ticket_sla::updated_at)),
            ))
            .execute(c)?);
    }
    diesel::update(
        tickets::table
            .filter(tickets::tenant_id.eq(t.get()))
            .filter(tickets::id.eq(ticket.get())),
    )
    .set((
        tickets::sla_due_at.eq(summary.due_at),
        tickets::sla_warn_at.eq(summary.warn_at),
        tickets::sla_clock.eq(summary.clock.map(SlaClock::as_str)),
    ))
    .execute(conn)?;
    Ok(())
}

/// A clock the sweeper claimed, with what it needs to decide without reading more.
#[derive(Debug, Clone, Queryable)]
pub struct DueClock {
    pub id: i64,
    pub tenant_id: i64,
    pub ticket_id: i64,
    pub target: String,
    pub cycle: i32,
    pub budget_secs: i64,
    pub used_secs: i64,
    pub running_since: Option<NaiveDateTime>,
    pub warn_at: Option<NaiveDateTime>,
    pub due_at: Option<NaiveDateTime>,
    pub met_at: Option<NaiveDateTime>,
    pub warned_cycle: i32,
    pub breached_cycle: i32,
    pub queue_id: i64,
    pub priority: String,
}

impl DueClock {
    pub fn tenant(&self) -> TenantId {
        TenantId::from_db(self.tenant_id)
    }
    pub fn ticket(&self) -> TicketId {
        TicketId::from_db(self.ticket_id)
    }
    pub fn queue(&self) -> QueueId {
        QueueId::from_db(self.queue_id)
    }
}

/// Claim up to `limit` clocks whose next check is due, across tenants, for the rest of the
/// caller's transaction: on PostgreSQL the rows stay locked (`FOR UPDATE SKIP LOCKED`, so a
/// second sweeper takes other rows), on SQLite the single writer serialises sweeps. The caller
/// reschedules every claimed clock before committing; if it fails, the rollback leaves them due.
pub fn claim_due(conn: &mut Conn, now: NaiveDateTime, limit: i64) -> StoreResult<Vec<DueClock>> {
    let due = ticket_sla::table
        .filter(ticket_sla::next_check_at.le(now))
        .order(ticket_sla::next_check_at)
        .limit(limit)
        .select(ticket_sla::id);
    let ids: Vec<i64> = match conn {
        // The clock's ticket is locked with the clock, and a ticket someone is changing right now
        // is skipped (its change refreshes the clocks anyway): the sweeper never waits for a
        // ticket while holding its clocks, which would deadlock with a use case that holds the
        // ticket and refreshes the clocks.
        Conn::Pg(c) => ticket_sla::table
            .inner_join(tickets::table)
            .filter(tickets::tenant_id.eq(ticket_sla::tenant_id))
            .filter(ticket_sla::next_check_at.le(now))
            .order(ticket_sla::next_check_at)
            .limit(limit)
            .select(ticket_sla::id)
            .for_update()
            .skip_locked()
            .load(c)?,
        Conn::Sqlite(c) => due.load(c)?,
    };
    if ids.is_empty() {
        return Ok(vec![]);
    }
    due_clocks(conn, &ids)
}

/// Claimed clocks by id (again, after some were refreshed).
pub fn due_clocks(conn: &mut Conn, ids: &[i64]) -> StoreResult<Vec<DueClock>> {
    Ok(ticket_sla::table
        .inner_join(tickets::table)
        .filter(ticket_sla::id.eq_any(ids))
        .filter(tickets::tenant_id.eq(ticket_sla::tenant_id))
        .order(ticket_sla::id)
        .select((
            ticket_sla::id,
            ticket_sla::tenant_id,
            ticket_sla::ticket_id,
            ticket_sla::target,
            ticket_sla::cycle,
            ticket_sla::budget_secs,
            ticket_sla::used_secs,
            ticket_sla::running_since,
            ticket_sla::warn_at,
            ticket_sla::due_at,
            ticket_sla::met_at,
            ticket_sla::warned_cycle,
            ticket_sla::breached_cycle,
            tickets::queue_id,
            tickets::priority,
        ))
        .load(conn)?)
}

/// Which of `tickets` changed after the follower's position (their stored clocks may be stale).
pub fn changed_since_follower(conn: &mut Conn, tickets: &[i64]) -> StoreResult<Vec<i64>> {
    let after: i64 = sla_cursor::table
        .filter(sla_cursor::id.eq(1))
        .select(sla_cursor::last_event_id)
        .first(conn)?;
    let mut ids: Vec<i64> = ticket_events::table
        .filter(ticket_events::id.gt(after))
        .filter(ticket_events::ticket_id.eq_any(tickets))
        .select(ticket_events::ticket_id)
        .load(conn)?;
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

/// A claimed clock after a sweep: the rounds now fired and when to look next.
pub struct Reschedule<'a> {
    pub clock: &'a DueClock,
    pub warned_cycle: i32,
    pub breached_cycle: i32,
    pub next_check_at: Option<NaiveDateTime>,
}

/// Write the fired rounds and next checks of claimed clocks, each row once. PostgreSQL gets
/// one `UPDATE … FROM unnest(arrays)`; SQLite an upsert on the primary key (which always finds
/// the row: the portable multi-row update), 1,000 rows per statement (11 values a row, below
/// its 32,766 bound values).
pub fn reschedule(conn: &mut Conn, rows: &[Reschedule<'_>], now: NaiveDateTime) -> StoreResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let c = match conn {
        Conn::Pg(c) => return reschedule_pg(c, rows, now),
        Conn::Sqlite(c) => c,
    };
    for chunk in rows.chunks(1000) {
        let values: Vec<_> = chunk
            .iter()
            .map(|r| {
                let d = r.clock;
                (
                    ticket_sla::id.eq(d.id),
                    ticket_sla::tenant_id.eq(d.tenant_id),
                    ticket_sla::ticket_id.eq(d.ticket_id),
                    ticket_sla::target.eq(d.target.as_str()),
                    ticket_sla::cycle.eq(d.cycle),
                    ticket_sla::budget_secs.eq(d.budget_secs),
                    ticket_sla::used_secs.eq(d.used_secs),
                    ticket_sla::warned_cycle.eq(r.warned_cycle),
                    ticket_sla::breached_cycle.eq(r.breached_cycle),
                    ticket_sla::next_check_at.eq(r.next_check_at),
                    ticket_sla::updated_at.eq(now),
                )
            })
            .collect();
        diesel::insert_into(ticket_sla::table)
            .values(&values)
            .on_conflict(ticket_sla::id)
            .do_update()
            .set((
                ticket_sla::warned_cycle.eq(excluded(ticket_sla::warned_cycle)),
                ticket_sla::breached_cycle.eq(excluded(ticket_sla::breached_cycle)),
                ticket_sla::next_check_at.eq(excluded(ticket_sla::next_check_at)),
                ticket_sla::updated_at.eq(excluded(ticket_sla::updated_at)),
            ))
            .execute(c)?;
    }
    Ok(())
}

fn reschedule_pg(
    c: &mut diesel::PgConnection,
    rows: &[Reschedule<'_>],
    now: NaiveDateTime,
) -> StoreResult<()> {
    use diesel::sql_types::{Array, BigInt, Integer, Nullable, Timestamp};
    diesel::sql_query(
        "UPDATE ticket_sla s SET warned_cycle = u.w, breached_cycle = u.b, \
                next_check_at = u.n, updated_at = $6 \
         FROM unnest($1::bigint[], $2::bigint[], $3::int[], $4::int[], $5::timestamp[]) \
              AS u(id, tenant, w, b, n) \
         WHERE s.id = u.id AND s.tenant_id = u.tenant",
    )
    .bind::<Array<BigInt>, _>(rows.iter().map(|r| r.clock.id).collect::<Vec<_>>())
    .bind::<Array<BigInt>, _>(rows.iter().map(|r| r.clock.tenant_id).collect::<Vec<_>>())
    .bind::<Array<Integer>, _>(rows.iter().map(|r| r.warned_cycle).collect::<Vec<_>>())
    .bind::<Array<Integer>, _>(rows.iter().map(|r| r.breached_cycle).collect::<Vec<_>>())
    .bind::<Array<Nullable<Timestamp>>, _>(rows.iter().map(|r| r.next_check_at).collect::<Vec<_>>())
    .bind::<Timestamp, _>(now)
    .execute(c)?;
    Ok(())
}

// ---- the follower's position in the change feed ----

/// Take (or renew) the follower lease for `owner`; returns the last event id read when ours.
/// Must run in a write transaction.
pub fn claim_cursor(
    conn: &mut Conn,
    owner: &str,
    now: NaiveDateTime,
    until: NaiveDateTime,
) -> StoreResult<Option<i64>> {
    let n = diesel::update(
        sla_cursor::table.filter(sla_cursor::id.eq(1)).filter(
            sla_cursor::lease_owner
                .is_null()
                .or(sla_cursor::lease_owner.eq(owner))
                .or(sla_cursor::lease_until.lt(now)),
        ),
    )
    .set((
        sla_cursor::lease_owner.eq(owner),
        sla_cursor::lease_until.eq(until),
    ))
    .execute(conn)?;
    if n == 0 {
        return Ok(None);
    }
    Ok(Some(
        sla_cursor::table
            .filter(sla_cursor::id.eq(1))
            .select(sla_cursor::last_event_id)
            .first(conn)?,
    ))
}

pub fn advance_cursor(conn: &mut Conn, owner: &str, last: i64) -> StoreResult<()> {
    diesel::update(
        sla_cursor::table
            .filter(sla_cursor::id.eq(1))
            .filter(sla_cursor::lease_owner.eq(owner)),
    )
    .set(sla_cursor::last_event_id.eq(last))
    .execute(conn)?;
    Ok(())
}

/// Tickets changed after event `after` (across tenants, for the follower). The position
/// returned only passes events older than `settled`: on PostgreSQL an event id can become
/// visible after higher ones (its transaction committed later), so younger events are read
/// again next time (refreshing a ticket twice is harmless; missing one is not).
pub fn changed_after(
    conn: &mut Conn,
    after: i64,
    limit: i64,
    settled: NaiveDateTime,
) -> StoreResult<Changed> {
    let rows: Vec<(i64, i64, i64, NaiveDateTime)> = ticket_events::table
        .filter(ticket_events::id.gt(after))
        .order(ticket_events::id)
        .limit(limit)
        .select((
            ticket_events::id,
            ticket_events::tenant_id,
            ticket_events::ticket_id,
            ticket_events::created_at,
        ))
        .load(conn)?;
    let read = rows.len();
    let safe = rows
        .iter()
        .take_while(|r| r.3 < settled)
        .last()
        .map_or(after, |r| r.0);
    let mut pairs: Vec<(TenantId, TicketId)> = rows
        .into_iter()
        .map(|(_, t, k, _)| (TenantId::from_db(t), TicketId::from_db(k)))
        .collect();
    pairs.sort_by_key(|(t, k)| (t.get(), k.get()));
    pairs.dedup();
    Ok((safe, read, pairs))
}

/// Per queue and target, of the clocks met in [from, to): how many, and how many in time.
pub fn met_counts(
    conn: &mut Conn,
    t: TenantId,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> StoreResult<Vec<(QueueId, String, i64, i64)>> {
    let rows: Vec<(i64, String, Option<bool>)> = ticket_sla::table
        .inner_join(tickets::table)
        .filter(ticket_sla::tenant_id.eq(t.get()))
        .filter(tickets::tenant_id.eq(t.get()))
        .filter(ticket_sla::met_at.ge(from))
        .filter(ticket_sla::met_at.lt(to))
        .select((
            tickets::queue_id,
            ticket_sla::target,
            ticket_sla::met_in_time,
        ))
        .load(conn)?;
    let mut out: Vec<(QueueId, String, i64, i64)> = vec![];
    for (q, target, in_time) in rows {
        let q = QueueId::from_db(q);
        match out.iter_mut().find(|(a, b, _, _)| *a == q && *b == target) {
            Some(e) => {
                e.2 += 1;
                e.3 += i64::from(in_time == Some(true));
            }
            None => out.push((q, target, 1, i64::from(in_time == Some(true)))),
        }
    }
    out.sort_by(|a, b| (a.0.get(), &a.1).cmp(&(b.0.get(), &b.1)));
    Ok(out)
}

/// Delete a calendar of the tenant; false when there is no such calendar.
pub fn delete_calendar(conn: &mut Conn, t: TenantId, id: i64) -> StoreResult<bool> {
    let n = diesel::delete(
        sla_calendars::table
            .filter(sla_calendars::tenant_id.eq(t.get()))
            .filter(sla_calendars::id.eq(id)),
    )
    .execute(conn)?;
    Ok(n > 0)
}
