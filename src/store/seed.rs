//! Bulk loading for benchmarks (`arendo-bench seed`): many tickets with their contacts, messages,
//! events and tags in few statements, with ids chosen up front, and the read-backs `arendo-bench
//! ingest` times. Compiled only with the `bench` feature; not in the product binary (D60).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{contacts, messages, ticket_counters, ticket_events, ticket_tags, tickets};
use super::{Conn, StoreResult};
use crate::domain::TenantId;

pub struct SeedContact {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub at: NaiveDateTime,
}

pub struct SeedTicket {
    pub id: i64,
    pub number: String,
    pub subject: String,
    pub status: &'static str,
    pub priority: &'static str,
    pub priority_rank: i32,
    pub queue_id: i64,
    pub channel: &'static str,
    /// What made the ticket when it was opened by automatic mail (None: a person's question).
    pub automatic: Option<&'static str>,
    pub assignee_id: Option<i64>,
    pub contact_id: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub first_response_at: Option<NaiveDateTime>,
    pub resolved_at: Option<NaiveDateTime>,
    pub closed_at: Option<NaiveDateTime>,
}

pub struct SeedMessage {
    pub id: i64,
    pub ticket_id: i64,
    pub kind: &'static str,
    pub author_id: Option<i64>,
    pub from_addr: Option<String>,
    pub subject: String,
    pub body: String,
    /// Sent by the system (an acknowledgement), not by a person.
    pub auto_sent: bool,
    pub at: NaiveDateTime,
}

pub struct SeedEvent {
    pub ticket_id: i64,
    pub actor_id: Option<i64>,
    pub kind: &'static str,
    pub details: String,
    pub at: NaiveDateTime,
}

#[derive(Default)]
pub struct SeedBatch {
    pub contacts: Vec<SeedContact>,
    pub tickets: Vec<SeedTicket>,
    pub messages: Vec<SeedMessage>,
    pub events: Vec<SeedEvent>,
    pub tags: Vec<(i64, String)>,
}

/// The next free ids: (contacts, tickets, messages).
pub fn next_ids(conn: &mut Conn) -> StoreResult<(i64, i64, i64)> {
    let c: Option<i64> = contacts::table
        .select(diesel::dsl::max(contacts::id))
        .first(conn)?;
    let t: Option<i64> = tickets::table
        .select(diesel::dsl::max(tickets::id))
        .first(conn)?;
    let m: Option<i64> = messages::table
        .select(diesel::dsl::max(messages::id))
        .first(conn)?;
    Ok((c.unwrap_or(0) + 1, t.unwrap_or(0) + 1, m.unwrap_or(0) + 1))
}

/// Insert a batch (inside the caller's transaction).
pub fn insert(conn: &mut Conn, t: TenantId, b: &SeedBatch) -> StoreResult<()> {
    const CHUNK: usize = 500;
    for chunk in b.contacts.chunks(CHUNK) {
        let rows: Vec<_> = chunk
            .iter()
            .map(|x| {
                (
                    contacts::id.eq(x.id),
                    contacts::tenant_id.eq(t.get()),
                    contacts::name.eq(Some(x.name.as_str())),
                    contacts::email.eq(Some(x.email.as_str())),
                    contacts::preferred_channel.eq("email"),
                    contacts::created_at.eq(x.at),
                    contacts::updated_at.eq(x.at),
                )
            })
            .collect();
        per_backend!(conn, |c| diesel::insert_into(contacts::table)
            .values(&rows)
            .execute(c)?);
    }
    for chunk in b.tickets.chunks(CHUNK) {
        let rows: Vec<_> = chunk
            .iter()
            .map(|x| {
                (
                    (
                        tickets::id.eq(x.id),
                        tickets::tenant_id.eq(t.get()),
                        tickets::number.eq(x.number.as_str()),
                        tickets::subject.eq(x.subject.as_str()),
                        tickets::status.eq(x.status),
                        tickets::priority.eq(x.priority),
                        tickets::priority_rank.eq(x.priority_rank),
                        tickets::queue_id.eq(x.queue_id),
                    ),
                    (
                        tickets::assignee_id.eq(x.assignee_id),
                        tickets::contact_id.eq(Some(x.contact_id)),
                        tickets::channel.eq(x.channel),
                        tickets::automatic.eq(x.automatic),
                        tickets::created_at.eq(x.created_at),
                        tickets::updated_at.eq(x.updated_at),
                        tickets::first_response_at.eq(x.first_response_at),
                        tickets::resolved_at.eq(x.resolved_at),
                        tickets::closed_at.eq(x.closed_at),
                    ),
                )
            })
            .collect();
        per_backend!(conn, |c| diesel::insert_into(tickets::table)
            .values(&rows)
            .execute(c)?);
    }
    for chunk in b.messages.chunks(CHUNK) {
        let rows: Vec<_> = chunk
            .iter()
            .map(|x| {
                (
                    messages::id.eq(x.id),
                    messages::tenant_id.eq(t.get()),
                    messages::ticket_id.eq(x.ticket_id),
                    messages::kind.eq(x.kind),
                    messages::author_id.eq(x.author_id),
                    messages::from_addr.eq(x.from_addr.as_deref()),
                    messages::subject.eq(x.subject.as_str()),
                    messages::body_text.eq(x.body.as_str()),
                    messages::auto_sent.eq(x.auto_sent),
                    messages::created_at.eq(x.at),
                )
            })
            .collect();
        per_backend!(conn, |c| diesel::insert_into(messages::table)
            .values(&rows)
            .execute(c)?);
    }
    for chunk in b.events.chunks(CHUNK) {
        let rows: Vec<_> = chunk
            .iter()
            .map(|x| {
                (
                    ticket_events::tenant_id.eq(t.get()),
                    ticket_events::ticket_id.eq(x.ticket_id),
                    ticket_events::actor_id.eq(x.actor_id),
                    ticket_events::kind.eq(x.kind),
                    ticket_events::details.eq(x.details.as_str()),
                    ticket_events::created_at.eq(x.at),
                )
            })
            .collect();
        per_backend!(conn, |c| diesel::insert_into(ticket_events::table)
            .values(&rows)
            .execute(c)?);
    }
    for chunk in b.tags.chunks(CHUNK) {
        let rows: Vec<_> = chunk
            .iter()
            .map(|(ticket, tag)| {
                (
                    ticket_tags::tenant_id.eq(t.get()),
                    ticket_tags::ticket_id.eq(*ticket),
                    ticket_tags::tag.eq(tag.as_str()),
                    ticket_tags::created_at.eq(crate::store::now()),
                )
            })
            .collect();
        per_backend!(conn, |c| diesel::insert_into(ticket_tags::table)
            .values(&rows)
            .execute(c)?);
    }
    Ok(())
}

/// After loading: ticket counters per year at least the highest number used, identity sequences
/// (PostgreSQL) past the explicit ids, and fresh planner statistics.
pub fn finish(conn: &mut Conn, t: TenantId, last_per_year: &[(i32, i64)]) -> StoreResult<()> {
    for (year, last) in last_per_year {
        let values = (
            ticket_counters::tenant_id.eq(t.get()),
            ticket_counters::year.eq(*year),
            ticket_counters::last_value.eq(*last),
        );
        per_backend!(conn, |c| diesel::insert_into(ticket_counters::table)
            .values(values)
            .on_conflict((ticket_counters::tenant_id, ticket_counters::year))
            .do_update()
            .set(ticket_counters::last_value.eq(*last))
            .execute(c)?);
    }
    match conn {
        Conn::Pg(c) => {
            for table in ["contacts", "tickets", "messages", "ticket_events"] {
                diesel::sql_query(format!(
                    "SELECT setval(pg_get_serial_sequence('{table}', 'id'), \
                     (SELECT COALESCE(MAX(id), 1) FROM {table}))"
                ))
                .execute(c)?;
            }
        }
        Conn::Sqlite(_) => {}
    }
    Ok(())
}

/// Fresh planner statistics after a bulk load, and on PostgreSQL a vacuum too: until the
/// visibility map is set, every index-only scan still visits the table (4,000 heap fetches for
/// one queue's open tickets). Runs outside a transaction (VACUUM refuses to run inside one).
pub fn tidy_after_load(conn: &mut Conn) -> StoreResult<()> {
    match conn {
        Conn::Pg(c) => {
            diesel::sql_query("VACUUM ANALYZE").execute(c)?;
            // Write the load's dirty pages out now (as SQLite's checkpoint below), so a checkpoint
            // forced by the load's WAL does not land in what is measured. Needs a superuser or
            // pg_checkpoint; without, the figures just include it.
            if let Err(e) = diesel::sql_query("CHECKPOINT").execute(c) {
                tracing::warn!(error = %e, "CHECKPOINT refused; figures include the next checkpoint");
            }
            0
        }
        Conn::Sqlite(c) => {
            diesel::sql_query("ANALYZE").execute(c)?;
            // Fold the load's write-ahead log into the database now, not during what is measured.
            diesel::connection::SimpleConnection::batch_execute(
                c,
                "PRAGMA wal_checkpoint(TRUNCATE)",
            )?;
            0
        }
    };
    Ok(())
}

/// Rows of the statistics tables (stats_days, stats_series, stats_tickets), for `bench stats`.
pub fn stats_rows(conn: &mut Conn) -> StoreResult<(i64, i64, i64)> {
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut count = |table: &str| -> StoreResult<i64> {
        let q = format!("SELECT COUNT(*) AS n FROM {table}");
        let row: N = per_backend!(&mut *conn, |c| diesel::sql_query(q).get_result(c)?);
        Ok(row.n)
    };
    Ok((
        count("stats_days")?,
        count("stats_series")?,
        count("stats_tickets")?,
    ))
}

// ---- service-level clocks for `bench sla` ----

/// The first `limit` tickets (tenant, id), for giving them clocks.
pub fn first_tickets(conn: &mut Conn, limit: i64) -> StoreResult<Vec<(i64, i64)>> {
    use super::schema::tickets;
    Ok(tickets::table
        .order(tickets::id)
        .limit(limit)
        .select((tickets::tenant_id, tickets::id))
        .load(conn)?)
}

/// Remove every clock and firing (the benchmark starts from a clean slate) and put the SLA
/// follower at the end of the change feed (so the sweeper trusts the stored clocks).
pub fn reset_clocks(conn: &mut Conn) -> StoreResult<()> {
    use super::schema::{sla_cursor, ticket_events, ticket_sla};
    diesel::delete(ticket_events::table.filter(ticket_events::once_key.is_not_null()))
        .execute(conn)?;
    diesel::delete(ticket_sla::table).execute(conn)?;
    let last: Option<i64> = ticket_events::table
        .select(diesel::dsl::max(ticket_events::id))
        .first(conn)?;
    diesel::update(sla_cursor::table)
        .set((
            sla_cursor::last_event_id.eq(last.unwrap_or(0)),
            sla_cursor::lease_owner.eq(None::<String>),
            sla_cursor::lease_until.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)?;
    Ok(())
}

/// Put the SLA follower at the end of the change feed (what it does every second in a running
/// installation), so the sweeper trusts the stored clocks.
pub fn follower_to_end(conn: &mut Conn) -> StoreResult<()> {
    use super::schema::{sla_cursor, ticket_events};
    let last: Option<i64> = ticket_events::table
        .select(diesel::dsl::max(ticket_events::id))
        .first(conn)?;
    diesel::update(sla_cursor::table)
        .set(sla_cursor::last_event_id.eq(last.unwrap_or(0)))
        .execute(conn)?;
    Ok(())
}

/// Running first-response clocks, warning already given: (tenant, ticket, since, due).
pub fn insert_clocks(
    conn: &mut Conn,
    clocks: &[(i64, i64, NaiveDateTime, NaiveDateTime)],
    now: NaiveDateTime,
) -> StoreResult<()> {
    use super::schema::ticket_sla;
    let rows: Vec<_> = clocks
        .iter()
        .map(|(t, k, since, due)| {
            (
                ticket_sla::tenant_id.eq(*t),
                ticket_sla::ticket_id.eq(*k),
                ticket_sla::target.eq("first_response"),
                ticket_sla::cycle.eq(1),
                ticket_sla::budget_secs.eq(8 * 3600i64),
                ticket_sla::used_secs.eq(0i64),
                ticket_sla::running_since.eq(Some(*since)),
                ticket_sla::warn_at.eq(Some(*since)),
                ticket_sla::due_at.eq(Some(*due)),
                ticket_sla::warned_cycle.eq(1),
                ticket_sla::breached_cycle.eq(0),
                ticket_sla::next_check_at.eq(Some(*due)),
                ticket_sla::updated_at.eq(now),
            )
        })
        .collect();
    for chunk in rows.chunks(1000) {
        per_backend!(&mut *conn, |c| diesel::insert_into(ticket_sla::table)
            .values(chunk)
            .execute(c)?);
    }
    Ok(())
}

// ---- inbound messages, for `arendo-bench ingest` (which owns its scratch database) ----

/// (count, first created_at, last created_at) of inbound messages in the whole database (bench ingest).
pub fn inbound_stats(
    conn: &mut Conn,
) -> StoreResult<(i64, Option<NaiveDateTime>, Option<NaiveDateTime>)> {
    use diesel::dsl::{count_star, max, min};
    Ok(messages::table
        .filter(messages::kind.eq("inbound"))
        .select((
            count_star(),
            min(messages::created_at),
            max(messages::created_at),
        ))
        .first(conn)?)
}

/// When the inbound message with this Message-ID was stored (bench).
pub fn created_at_of(conn: &mut Conn, message_id: &str) -> StoreResult<Option<NaiveDateTime>> {
    Ok(messages::table
        .filter(messages::message_id.eq(message_id))
        .filter(messages::kind.eq("inbound"))
        .select(messages::created_at)
        .first(conn)
        .optional()?)
}

/// Inbound messages stored with exactly this timestamp (one intake batch shares it; bench).
pub fn inbound_count_at(conn: &mut Conn, at: NaiveDateTime) -> StoreResult<i64> {
    Ok(messages::table
        .filter(messages::kind.eq("inbound"))
        .filter(messages::created_at.eq(at))
        .count()
        .get_result(conn)?)
}
