//! Tickets, their messages and their event history.

use chrono::NaiveDateTime;
use diesel::dsl;
use diesel::prelude::*;

use super::schema::{attachments, messages, ticket_counters, ticket_events, ticket_tags, tickets};
use super::{Conn, StoreError, StoreResult};
use crate::domain::{
    Automatic, Channel, MessageKind, Priority, QueueAccess, QueueId, SlaClock, Status, TenantId,
    TicketId, TicketNumber, UserId, WaitingOn,
};

type Scoped = dsl::Filter<tickets::table, dsl::Eq<tickets::tenant_id, i64>>;

/// Every query on this table starts here.
fn scoped(t: TenantId) -> Scoped {
    tickets::table.filter(tickets::tenant_id.eq(t.get()))
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = tickets)]
struct Row {
    id: i64,
    number: String,
    subject: String,
    status: String,
    priority: String,
    priority_rank: i32,
    queue_id: i64,
    assignee_id: Option<i64>,
    contact_id: Option<i64>,
    channel: String,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    first_response_at: Option<NaiveDateTime>,
    resolved_at: Option<NaiveDateTime>,
    closed_at: Option<NaiveDateTime>,
    mailbox_id: Option<i64>,
    merged_into_id: Option<i64>,
    sla_due_at: Option<NaiveDateTime>,
    sla_warn_at: Option<NaiveDateTime>,
    sla_clock: Option<String>,
    waiting_on: Option<String>,
    automatic: Option<String>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Ticket {
    #[serde(skip)]
    pub id: TicketId,
    pub number: TicketNumber,
    pub subject: String,
    pub status: Status,
    pub priority: Priority,
    pub queue_id: QueueId,
    pub assignee_id: Option<UserId>,
    pub contact_id: Option<i64>,
    pub channel: Channel,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub first_response_at: Option<NaiveDateTime>,
    pub resolved_at: Option<NaiveDateTime>,
    pub closed_at: Option<NaiveDateTime>,
    /// The function mailbox it came in through (replies go out from its address).
    pub mailbox_id: Option<i64>,
    /// Set when this ticket was merged into another (internal id).
    #[serde(skip)]
    pub merged_into_id: Option<TicketId>,
    /// When its most pressing service-level target runs out (None: none running).
    pub sla_due_at: Option<NaiveDateTime>,
    /// When the first of its running targets reaches its warning share.
    pub sla_warn_at: Option<NaiveDateTime>,
    /// Whether its clocks run or are paused (None: no service level applies, or all are met).
    pub sla_clock: Option<SlaClock>,
    /// Whom it waits for (only while the status is `waiting`).
    pub waiting_on: Option<WaitingOn>,
    /// Opened by an automatic mail (auto-reply, bulk, list, bounce): no service-level clock, marked
    /// in the lists and left out of Mitt arbete by default (D56).
    pub automatic: Option<Automatic>,
}

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Query(format!("stored value out of range: {e}"))
}

impl TryFrom<Row> for Ticket {
    type Error = StoreError;
    fn try_from(r: Row) -> Result<Self, StoreError> {
        Ok(Ticket {
            id: TicketId::from_db(r.id),
            number: TicketNumber::parse(&r.number).map_err(corrupt)?,
            subject: r.subject,
            status: Status::parse(&r.status).map_err(corrupt)?,
            priority: Priority::parse(&r.priority).map_err(corrupt)?,
            queue_id: QueueId::from_db(r.queue_id),
            assignee_id: r.assignee_id.map(UserId::from_db),
            contact_id: r.contact_id,
            channel: Channel::parse(&r.channel).map_err(corrupt)?,
            created_at: r.created_at,
            updated_at: r.updated_at,
            first_response_at: r.first_response_at,
            resolved_at: r.resolved_at,
            closed_at: r.closed_at,
            mailbox_id: r.mailbox_id,
            merged_into_id: r.merged_into_id.map(TicketId::from_db),
            sla_due_at: r.sla_due_at,
            sla_warn_at: r.sla_warn_at,
            sla_clock: r
                .sla_clock
                .as_deref()
                .map(SlaClock::parse)
                .transpose()
                .map_err(corrupt)?,
            waiting_on: r
                .waiting_on
                .as_deref()
                .map(WaitingOn::parse)
                .transpose()
                .map_err(corrupt)?,
            automatic: r
                .automatic
                .as_deref()
                .map(Automatic::parse)
                .transpose()
                .map_err(corrupt)?,
        })
    }
}

/// Take the next sequence number for (tenant, year). The counter row is locked by the UPDATE until
/// the surrounding transaction ends, so concurrent creates get distinct numbers on both backends.
pub fn next_sequence(conn: &mut Conn, t: TenantId, year: i32) -> StoreResult<i64> {
    loop {
        let bumped: Option<i64> = diesel::update(
            ticket_counters::table
                .filter(ticket_counters::tenant_id.eq(t.get()))
                .filter(ticket_counters::year.eq(year)),
        )
        .set(ticket_counters::last_value.eq(ticket_counters::last_value + 1))
        .returning(ticket_counters::last_value)
        .get_result(conn)
        .optional()?;
        if let Some(v) = bumped {
            return Ok(v);
        }
        let values = (
            ticket_counters::tenant_id.eq(t.get()),
            ticket_counters::year.eq(year),
            ticket_counters::last_value.eq(0i64),
        );
        // Two first tickets of a year may race to create the row; the loser's insert is ignored.
        match conn {
            Conn::Pg(c) => diesel::insert_into(ticket_counters::table)
                .values(values)
                .on_conflict_do_nothing()
                .execute(c)?,
            Conn::Sqlite(c) => diesel::insert_or_ignore_into(ticket_counters::table)
                .values(values)
                .execute(c)?,
        };
    }
}

pub struct NewTicket<'a> {
    pub number: &'a TicketNumber,
    pub subject: &'a str,
    pub status: Status,
    pub priority: Priority,
    pub queue: QueueId,
    pub assignee: Option<UserId>,
    pub contact_id: Option<i64>,
    pub channel: Channel,
    pub mailbox: Option<i64>,
    pub automatic: Option<Automatic>,
    pub now: NaiveDateTime,
}

pub fn insert(conn: &mut Conn, t: TenantId, n: NewTicket<'_>) -> StoreResult<Ticket> {
    let row: Row = diesel::insert_into(tickets::table)
        .values((
            tickets::tenant_id.eq(t.get()),
            tickets::number.eq(n.number.to_string()),
            tickets::subject.eq(n.subject),
            tickets::status.eq(n.status.as_str()),
            tickets::priority.eq(n.priority.as_str()),
            tickets::priority_rank.eq(i32::from(n.priority.rank())),
            tickets::queue_id.eq(n.queue.get()),
            tickets::assignee_id.eq(n.assignee.map(|u| u.get())),
            tickets::contact_id.eq(n.contact_id),
            tickets::channel.eq(n.channel.as_str()),
            tickets::mailbox_id.eq(n.mailbox),
            tickets::automatic.eq(n.automatic.map(|a| a.as_str())),
            tickets::created_at.eq(n.now),
            tickets::updated_at.eq(n.now),
        ))
        .returning(<Row as Selectable<diesel::pg::Pg>>::construct_selection())
        .get_result(conn)?;
    row.try_into()
}

/// A ticket by number, if it exists in `t` and lies in a queue `access` allows. Anything else is
/// "not found" — callers cannot tell a ticket they may not see from one that does not exist.
pub fn by_number(
    conn: &mut Conn,
    t: TenantId,
    access: &QueueAccess,
    number: &TicketNumber,
) -> StoreResult<Option<Ticket>> {
    let mut q = scoped(t)
        .filter(tickets::number.eq(number.to_string()))
        .select(Row::as_select())
        .into_boxed();
    if let QueueAccess::Only(ids) = access {
        q = q.filter(tickets::queue_id.eq_any(ids.iter().map(|q| q.get()).collect::<Vec<_>>()));
    }
    q.first::<Row>(conn)
        .optional()?
        .map(Ticket::try_from)
        .transpose()
}

/// How a list is ordered. Every order ends in the id, so the keyset cursor is exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    /// Newest first.
    #[default]
    Newest,
    /// Oldest first (who has waited longest).
    Oldest,
    /// Most urgent priority first, oldest first within a priority.
    Urgent,
    /// Most recently changed first.
    Updated,
    /// Service-level due time, soonest first (only tickets with a running target).
    Due,
}

/// Service-level standing filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlaFilter {
    /// Warned or breached.
    AtRisk,
    Breached,
}

/// Where the previous page ended: the sort key of its last row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cursor {
    Id(i64),
    Rank(i32, i64),
    Time(NaiveDateTime, i64),
}

/// Which tickets a list shows and in what order.
#[derive(Debug, Clone, Default)]
pub struct TicketFilter {
    pub statuses: Vec<Status>,
    pub priority: Option<Priority>,
    pub queue: Option<QueueId>,
    pub assignee: Option<AssigneeFilter>,
    pub channel: Option<Channel>,
    pub contact_id: Option<i64>,
    pub tag: Option<String>,
    /// Standing filter, judged at the given instant.
    pub sla: Option<(SlaFilter, NaiveDateTime)>,
    /// Some(false): only tickets people wrote; Some(true): only automatic ones (D56).
    pub automatic: Option<bool>,
    pub sort: Sort,
    pub after: Option<Cursor>,
    pub limit: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssigneeFilter {
    Nobody,
    User(UserId),
}

fn cursor_of(sort: Sort, r: &Row) -> Cursor {
    match sort {
        Sort::Newest | Sort::Oldest => Cursor::Id(r.id),
        Sort::Urgent => Cursor::Rank(r.priority_rank, r.id),
        Sort::Updated => Cursor::Time(r.updated_at, r.id),
        Sort::Due => Cursor::Time(r.sla_due_at.unwrap_or(r.updated_at), r.id),
    }
}

/// A page of tickets and the cursor for the next page (None on the last page).
pub fn list(
    conn: &mut Conn,
    t: TenantId,
    access: &QueueAccess,
    f: &TicketFilter,
) -> StoreResult<(Vec<Ticket>, Option<Cursor>)> {
    // Two steps: the page's ids first, sorted and cut from the indexes alone (a sort over
    // thousands of open tickets then handles index entries, not whole rows), then those rows.
    let q = filtered(scoped(t).select(tickets::id).into_boxed(), t, access, f);
    let q = sorted_after(q, f.sort, f.after)?;
    let limit = f.limit.clamp(1, 200);
    let ids: Vec<i64> = q.limit(limit + 1).load(conn)?;
    let mut rows: Vec<Row> = scoped(t)
        .filter(tickets::id.eq_any(ids.clone()))
        .select(Row::as_select())
        .load(conn)?;
    rows.sort_by_key(|r| ids.iter().position(|i| *i == r.id));
    let next = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|r| cursor_of(f.sort, r))
    } else {
        None
    };
    let tickets = rows
        .into_iter()
        .map(Ticket::try_from)
        .collect::<StoreResult<_>>()?;
    Ok((tickets, next))
}

/// The ids of a ticket list, as a query still to be sorted and cut.
type IdQuery =
    tickets::BoxedQuery<'static, <Conn as Connection>::Backend, diesel::sql_types::BigInt>;

/// `q` narrowed to the tickets the actor may see and the filter asks for.
fn filtered(mut q: IdQuery, t: TenantId, access: &QueueAccess, f: &TicketFilter) -> IdQuery {
    if let QueueAccess::Only(ids) = access {
        q = q.filter(tickets::queue_id.eq_any(ids.iter().map(|q| q.get()).collect::<Vec<_>>()));
    }
    // "Any status" is spelled out as every status: with the status in the sort indexes an IN
    // list lets SQLite read each status's run in order and stop after a page (0.2 ms instead of
    // sorting a whole queue's history, 90 ms with a million tickets).
    let statuses: &[Status] = if f.statuses.is_empty() {
        Status::ALL
    } else {
        &f.statuses
    };
    q = q.filter(tickets::status.eq_any(statuses.iter().map(|s| s.as_str()).collect::<Vec<_>>()));
    if let Some(p) = f.priority {
        q = q.filter(tickets::priority.eq(p.as_str()));
    }
    if let Some(queue) = f.queue {
        q = q.filter(tickets::queue_id.eq(queue.get()));
    }
    match f.assignee {
        Some(AssigneeFilter::Nobody) => q = q.filter(tickets::assignee_id.is_null()),
        Some(AssigneeFilter::User(u)) => q = q.filter(tickets::assignee_id.eq(u.get())),
        None => {}
    }
    if let Some(c) = f.channel {
        q = q.filter(tickets::channel.eq(c.as_str()));
    }
    if let Some(c) = f.contact_id {
        q = q.filter(tickets::contact_id.eq(c));
    }
    if let Some(tag) = &f.tag {
        q = q.filter(
            tickets::id.eq_any(
                ticket_tags::table
                    .filter(ticket_tags::tenant_id.eq(t.get()))
                    .filter(ticket_tags::tag.eq(tag.clone()))
                    .select(ticket_tags::ticket_id),
            ),
        );
    }
    // The standing follows from time: at risk once the warning instant has passed, late once
    // the due instant has (paused tickets have neither).
    match f.sla {
        Some((SlaFilter::AtRisk, now)) => q = q.filter(tickets::sla_warn_at.le(now)),
        Some((SlaFilter::Breached, now)) => q = q.filter(tickets::sla_due_at.le(now)),
        None => {}
    }
    match f.automatic {
        Some(false) => q = q.filter(tickets::automatic.is_null()),
        Some(true) => q = q.filter(tickets::automatic.is_not_null()),
        None => {}
    }
    if f.sort == Sort::Due {
        q = q.filter(tickets::sla_due_at.is_not_null());
    }
    q
}

/// `q` sorted, and started after the previous page's last row.
fn sorted_after(mut q: IdQuery, sort: Sort, after: Option<Cursor>) -> StoreResult<IdQuery> {
    q = match (sort, after) {
        (Sort::Newest, Some(Cursor::Id(id))) => q.filter(tickets::id.lt(id)),
        (Sort::Oldest, Some(Cursor::Id(id))) => q.filter(tickets::id.gt(id)),
        (Sort::Urgent, Some(Cursor::Rank(r, id))) => q.filter(
            tickets::priority_rank
                .lt(r)
                .or(tickets::priority_rank.eq(r).and(tickets::id.gt(id))),
        ),
        (Sort::Updated, Some(Cursor::Time(at, id))) => q.filter(
            tickets::updated_at
                .lt(at)
                .or(tickets::updated_at.eq(at).and(tickets::id.lt(id))),
        ),
        (Sort::Due, Some(Cursor::Time(at, id))) => q.filter(
            tickets::sla_due_at
                .gt(at)
                .or(tickets::sla_due_at.eq(at).and(tickets::id.gt(id))),
        ),
        (_, None) => q,
        (_, Some(_)) => return Err(StoreError::Query("cursor does not fit the sort".into())),
    };
    q = match sort {
        Sort::Newest => q.order(tickets::id.desc()),
        Sort::Oldest => q.order(tickets::id.asc()),
        Sort::Urgent => q.order((tickets::priority_rank.desc(), tickets::id.asc())),
        Sort::Updated => q.order((tickets::updated_at.desc(), tickets::id.desc())),
        Sort::Due => q.order((tickets::sla_due_at.asc(), tickets::id.asc())),
    };
    Ok(q)
}

/// Tickets by internal id within `t` and `access`, in the order given (missing ones left out).
pub fn by_ids(
    conn: &mut Conn,
    t: TenantId,
    access: &QueueAccess,
    ids: &[i64],
) -> StoreResult<Vec<Ticket>> {
    let mut q = scoped(t)
        .filter(tickets::id.eq_any(ids.to_vec()))
        .select(Row::as_select())
        .into_boxed();
    if let QueueAccess::Only(qs) = access {
        q = q.filter(tickets::queue_id.eq_any(qs.iter().map(|q| q.get()).collect::<Vec<_>>()));
    }
    let rows: Vec<Row> = q.load(conn)?;
    let mut out: Vec<Ticket> = rows
        .into_iter()
        .map(Ticket::try_from)
        .collect::<StoreResult<_>>()?;
    out.sort_by_key(|tk| ids.iter().position(|i| *i == tk.id.get()));
    Ok(out)
}

/// One queue's count of tickets in one status, and when the oldest of them arrived.
pub type StatusCount = (QueueId, Status, i64, Option<NaiveDateTime>);

/// Per queue and open status: how many tickets, and the oldest one's creation time.
pub fn open_counts(
    conn: &mut Conn,
    t: TenantId,
    access: &QueueAccess,
) -> StoreResult<Vec<StatusCount>> {
    let mut q = scoped(t)
        .filter(tickets::status.eq_any(["new", "open", "waiting"]))
        .group_by((tickets::queue_id, tickets::status))
        .select((
            tickets::queue_id,
            tickets::status,
            dsl::count_star(),
            dsl::min(tickets::created_at),
        ))
        .into_boxed();
    if let QueueAccess::Only(qs) = access {
        q = q.filter(tickets::queue_id.eq_any(qs.iter().map(|q| q.get()).collect::<Vec<_>>()));
    }
    let rows: Vec<(i64, String, i64, Option<NaiveDateTime>)> = q.load(conn)?;
    rows.into_iter()
        .map(|(qid, s, n, oldest)| {
            Ok((
                QueueId::from_db(qid),
                Status::parse(&s).map_err(corrupt)?,
                n,
                oldest,
            ))
        })
        .collect()
}

/// What an update may change. `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct TicketChanges {
    pub status: Option<Status>,
    /// Whom a waiting ticket waits for. Left out with `status: waiting` it is the citizen; any
    /// other status clears it.
    pub waiting_on: Option<WaitingOn>,
    pub priority: Option<Priority>,
    pub queue: Option<QueueId>,
    pub assignee: Option<Option<UserId>>,
    pub first_response_at: Option<NaiveDateTime>,
    pub resolved_at: Option<Option<NaiveDateTime>>,
    pub closed_at: Option<Option<NaiveDateTime>>,
    pub merged_into: Option<TicketId>,
}

#[derive(AsChangeset)]
#[diesel(table_name = tickets)]
struct Changeset<'a> {
    status: Option<&'a str>,
    waiting_on: Option<Option<&'a str>>,
    priority: Option<&'a str>,
    priority_rank: Option<i32>,
    queue_id: Option<i64>,
    assignee_id: Option<Option<i64>>,
    first_response_at: Option<NaiveDateTime>,
    resolved_at: Option<Option<NaiveDateTime>>,
    closed_at: Option<Option<NaiveDateTime>>,
    merged_into_id: Option<i64>,
    updated_at: NaiveDateTime,
}

pub fn update(
    conn: &mut Conn,
    t: TenantId,
    id: TicketId,
    c: &TicketChanges,
    now: NaiveDateTime,
) -> StoreResult<()> {
    let set = Changeset {
        status: c.status.map(|s| s.as_str()),
        waiting_on: match (c.status, c.waiting_on) {
            (_, Some(w)) => Some(Some(w.as_str())),
            (Some(Status::Waiting), None) => Some(Some(WaitingOn::Citizen.as_str())),
            (Some(_), None) => Some(None),
            (None, None) => None,
        },
        priority: c.priority.map(|p| p.as_str()),
        priority_rank: c.priority.map(|p| i32::from(p.rank())),
        queue_id: c.queue.map(|q| q.get()),
        assignee_id: c.assignee.map(|a| a.map(|u| u.get())),
        first_response_at: c.first_response_at,
        resolved_at: c.resolved_at,
        closed_at: c.closed_at,
        merged_into_id: c.merged_into.map(|m| m.get()),
        updated_at: now,
    };
    let n = diesel::update(scoped(t).filter(tickets::id.eq(id.get())))
        .set(&set)
        .execute(conn)?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Mark a ticket changed (e.g. a tag) without changing anything else.
pub fn touch(conn: &mut Conn, t: TenantId, id: TicketId, now: NaiveDateTime) -> StoreResult<()> {
    diesel::update(scoped(t).filter(tickets::id.eq(id.get())))
        .set(tickets::updated_at.eq(now))
        .execute(conn)?;
    Ok(())
}

/// Move every message (and so its attachments) of `from` to `to`. Returns how many moved.
pub fn move_messages(
    conn: &mut Conn,
    t: TenantId,
    from: TicketId,
    to: TicketId,
) -> StoreResult<usize> {
    Ok(diesel::update(
        messages::table
            .filter(messages::tenant_id.eq(t.get()))
            .filter(messages::ticket_id.eq(from.get())),
    )
    .set(messages::ticket_id.eq(to.get()))
    .execute(conn)?)
}

// ---- messages ----

#[derive(Debug, Clone, Queryable, Selectable, serde::Serialize)]
#[diesel(table_name = messages)]
pub struct Message {
    pub id: i64,
    pub kind: String,
    pub author_id: Option<i64>,
    pub from_addr: Option<String>,
    pub to_addrs: String,
    pub cc_addrs: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: Option<String>,
    pub message_id: Option<String>,
    pub in_reply_to: Option<String>,
    pub references_: Option<String>,
    pub raw_sha256: Option<String>,
    pub created_at: NaiveDateTime,
    /// Not written by a person: sent by Ärendo itself (an acknowledgement) or an automatic mail
    /// that came in (out-of-office, list, bounce). Never a response or a question for the
    /// service levels; shown as automatic (D44, D56).
    pub auto_sent: bool,
}

/// Mark a message as automatic: an acknowledgement Ärendo sent, or an automatic mail received.
pub fn mark_auto_sent(conn: &mut Conn, t: TenantId, id: i64) -> StoreResult<()> {
    diesel::update(
        messages::table
            .filter(messages::tenant_id.eq(t.get()))
            .filter(messages::id.eq(id)),
    )
    .set(messages::auto_sent.eq(true))
    .execute(conn)?;
    Ok(())
}

pub struct NewMessage<'a> {
    pub kind: MessageKind,
    pub author: Option<UserId>,
    pub from_addr: Option<&'a str>,
    pub to_addrs: &'a str,
    pub cc_addrs: &'a str,
    pub subject: &'a str,
    pub body_text: &'a str,
    pub body_html: Option<&'a str>,
    pub message_id: Option<&'a str>,
    pub in_reply_to: Option<&'a str>,
    pub references: Option<&'a str>,
    pub raw_sha256: Option<&'a str>,
    pub now: NaiveDateTime,
}

pub fn insert_message(
    conn: &mut Conn,
    t: TenantId,
    ticket: TicketId,
    m: NewMessage<'_>,
) -> StoreResult<Message> {
    Ok(diesel::insert_into(messages::table)
        .values((
            messages::tenant_id.eq(t.get()),
            messages::ticket_id.eq(ticket.get()),
            messages::kind.eq(m.kind.as_str()),
            messages::author_id.eq(m.author.map(|u| u.get())),
            messages::from_addr.eq(m.from_addr),
            messages::to_addrs.eq(m.to_addrs),
            messages::cc_addrs.eq(m.cc_addrs),
            messages::subject.eq(m.subject),
            messages::body_text.eq(m.body_text),
            messages::body_html.eq(m.body_html),
            messages::message_id.eq(m.message_id),
            messages::in_reply_to.eq(m.in_reply_to),
            messages::references_.eq(m.references),
            messages::raw_sha256.eq(m.raw_sha256),
            messages::created_at.eq(m.now),
        ))
        .returning(<Message as Selectable<diesel::pg::Pg>>::construct_selection())
        .get_result(conn)?)
}

/// Hold the ticket's row for the rest of the transaction (PostgreSQL `FOR UPDATE`; SQLite's
/// single writer already serialises writes). Everything that changes a ticket together with its
/// clocks takes the ticket first, so two such transactions wait for each other instead of
/// locking the ticket and its `ticket_sla` rows in opposite orders (a deadlock).
pub fn lock(conn: &mut Conn, t: TenantId, id: TicketId) -> StoreResult<()> {
    if let Conn::Pg(c) = conn {
        scoped(t)
            .filter(tickets::id.eq(id.get()))
            .select(tickets::id)
            .for_update()
            .load::<i64>(c)?;
    }
    Ok(())
}

/// A ticket by internal id within `t` (for channels, which have no queue restriction).
pub fn get(conn: &mut Conn, t: TenantId, id: TicketId) -> StoreResult<Ticket> {
    scoped(t)
        .filter(tickets::id.eq(id.get()))
        .select(Row::as_select())
        .first::<Row>(conn)?
        .try_into()
}

pub fn messages(conn: &mut Conn, t: TenantId, ticket: TicketId) -> StoreResult<Vec<Message>> {
    Ok(messages::table
        .filter(messages::tenant_id.eq(t.get()))
        .filter(messages::ticket_id.eq(ticket.get()))
        .order(messages::id)
        .select(Message::as_select())
        .load(conn)?)
}

// ---- events ----

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = ticket_events)]
struct EventRow {
    id: i64,
    actor_id: Option<i64>,
    kind: String,
    details: String,
    created_at: NaiveDateTime,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Event {
    pub id: i64,
    pub actor_id: Option<i64>,
    pub kind: String,
    pub details: serde_json::Value,
    pub created_at: NaiveDateTime,
}

/// A history event a worker writes at most once per ticket: a second insert with the same
/// ticket and `once_key` does nothing (e.g. an SLA breach seen by two sweepers).
pub struct OnceEvent<'a> {
    pub tenant: TenantId,
    pub ticket: TicketId,
    pub kind: &'a str,
    pub details: String,
    pub once_key: String,
}

/// Insert the events that have not happened yet; returns (ticket id, once key) of those
/// inserted. PostgreSQL gets the batch as one array per column (`unnest`), so the statement
/// and its plan stay small whatever the batch size; SQLite gets multi-row VALUES, 1,000 rows
/// per statement (7 values a row, far below its 32,766 bound values).
pub fn insert_events_once(
    conn: &mut Conn,
    events: &[OnceEvent<'_>],
    now: NaiveDateTime,
) -> StoreResult<Vec<(i64, String)>> {
    if events.is_empty() {
        return Ok(vec![]);
    }
    let c = match conn {
        Conn::Pg(c) => return insert_events_once_pg(c, events, now),
        Conn::Sqlite(c) => c,
    };
    let rows: Vec<_> = events
        .iter()
        .map(|e| {
            (
                ticket_events::tenant_id.eq(e.tenant.get()),
                ticket_events::ticket_id.eq(e.ticket.get()),
                ticket_events::actor_id.eq(None::<i64>),
                ticket_events::kind.eq(e.kind),
                ticket_events::details.eq(e.details.as_str()),
                ticket_events::created_at.eq(now),
                ticket_events::once_key.eq(Some(e.once_key.as_str())),
            )
        })
        .collect();
    let mut new = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(1000) {
        let inserted: Vec<(i64, Option<String>)> = diesel::insert_into(ticket_events::table)
            .values(chunk)
            .on_conflict_do_nothing()
            .returning((ticket_events::ticket_id, ticket_events::once_key))
            .get_results(c)?;
        new.extend(inserted.into_iter().filter_map(|(t, k)| Some((t, k?))));
    }
    Ok(new)
}

#[derive(QueryableByName)]
struct OnceInserted {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    ticket_id: i64,
    #[diesel(sql_type = diesel::sql_types::Text)]
    once_key: String,
}

fn insert_events_once_pg(
    c: &mut diesel::PgConnection,
    events: &[OnceEvent<'_>],
    now: NaiveDateTime,
) -> StoreResult<Vec<(i64, String)>> {
    use diesel::sql_types::{Array, BigInt, Text, Timestamp};
    let col = |f: fn(&OnceEvent<'_>) -> String| events.iter().map(f).collect::<Vec<_>>();
    let inserted: Vec<OnceInserted> = diesel::sql_query(
        "INSERT INTO ticket_events (tenant_id, ticket_id, kind, details, once_key, created_at) \
         SELECT u.tenant, u.ticket, u.kind, u.details, u.once_key, $6 \
         FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[]) \
              AS u(tenant, ticket, kind, details, once_key) \
         ON CONFLICT DO NOTHING RETURNING ticket_id, once_key",
    )
    .bind::<Array<BigInt>, _>(events.iter().map(|e| e.tenant.get()).collect::<Vec<_>>())
    .bind::<Array<BigInt>, _>(events.iter().map(|e| e.ticket.get()).collect::<Vec<_>>())
    .bind::<Array<Text>, _>(col(|e| e.kind.to_owned()))
    .bind::<Array<Text>, _>(col(|e| e.details.clone()))
    .bind::<Array<Text>, _>(col(|e| e.once_key.clone()))
    .bind::<Timestamp, _>(now)
    .load(c)?;
    Ok(inserted
        .into_iter()
        .map(|r| (r.ticket_id, r.once_key))
        .collect())
}

/// Record who did what to a ticket. Called in the same transaction as the change itself.
pub fn insert_event(
    conn: &mut Conn,
    t: TenantId,
    ticket: TicketId,
    actor: Option<UserId>,
    kind: &str,
    details: &serde_json::Value,
    now: NaiveDateTime,
) -> StoreResult<()> {
    diesel::insert_into(ticket_events::table)
        .values((
            ticket_events::tenant_id.eq(t.get()),
            ticket_events::ticket_id.eq(ticket.get()),
            ticket_events::actor_id.eq(actor.map(|u| u.get())),
            ticket_events::kind.eq(kind),
            ticket_events::details.eq(details.to_string()),
            ticket_events::created_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn events(conn: &mut Conn, t: TenantId, ticket: TicketId) -> StoreResult<Vec<Event>> {
    let rows: Vec<EventRow> = ticket_events::table
        .filter(ticket_events::tenant_id.eq(t.get()))
        .filter(ticket_events::ticket_id.eq(ticket.get()))
        .order(ticket_events::id)
        .select(EventRow::as_select())
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|r| Event {
            id: r.id,
            actor_id: r.actor_id,
            kind: r.kind,
            details: serde_json::from_str(&r.details).unwrap_or(serde_json::Value::Null),
            created_at: r.created_at,
        })
        .collect())
}

/// Latest tickets in the given queues, for the start page.
pub fn recent(
    conn: &mut Conn,
    t: TenantId,
    access: &QueueAccess,
    limit: i64,
) -> StoreResult<Vec<Ticket>> {
    let f = TicketFilter {
        statuses: vec![Status::New, Status::Open, Status::Waiting],
        limit,
        ..Default::default()
    };
    Ok(list(conn, t, access, &f)?.0)
}

// ---- attachments ----

#[derive(Debug, Clone, Queryable, Selectable, serde::Serialize)]
#[diesel(table_name = attachments)]
pub struct AttachmentRow {
    pub id: i64,
    pub message_id: i64,
    pub filename: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub inline: bool,
    pub content_id: Option<String>,
}

/// An attachment already written to the blob store.
#[derive(Debug, Clone)]
pub struct StoredAttachment {
    pub filename: String,
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
    pub inline: bool,
    pub content_id: Option<String>,
}

pub fn insert_attachment(
    conn: &mut Conn,
    t: TenantId,
    message: i64,
    a: &StoredAttachment,
    now: NaiveDateTime,
) -> StoreResult<()> {
    diesel::insert_into(attachments::table)
        .values((
            attachments::tenant_id.eq(t.get()),
            attachments::message_id.eq(message),
            attachments::filename.eq(&a.filename),
            attachments::content_type.eq(&a.content_type),
            attachments::size_bytes.eq(a.size),
            attachments::sha256.eq(&a.sha256),
            attachments::inline.eq(a.inline),
            attachments::content_id.eq(a.content_id.as_deref()),
            attachments::created_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Attachments of a ticket's messages.
pub fn attachments(
    conn: &mut Conn,
    t: TenantId,
    ticket: TicketId,
) -> StoreResult<Vec<AttachmentRow>> {
    Ok(attachments::table
        .inner_join(messages::table)
        .filter(attachments::tenant_id.eq(t.get()))
        .filter(messages::tenant_id.eq(t.get()))
        .filter(messages::ticket_id.eq(ticket.get()))
        .order(attachments::id)
        .select(AttachmentRow::as_select())
        .load(conn)?)
}

/// One attachment, if it belongs to a ticket in `t` that `access` allows.
pub fn attachment(
    conn: &mut Conn,
    t: TenantId,
    access: &QueueAccess,
    id: i64,
) -> StoreResult<Option<AttachmentRow>> {
    let mut q = attachments::table
        .inner_join(messages::table.inner_join(tickets::table))
        .filter(attachments::tenant_id.eq(t.get()))
        .filter(attachments::id.eq(id))
        .filter(tickets::tenant_id.eq(t.get()))
        .select(AttachmentRow::as_select())
        .into_boxed();
    if let QueueAccess::Only(ids) = access {
        q = q.filter(tickets::queue_id.eq_any(ids.iter().map(|q| q.get()).collect::<Vec<_>>()));
    }
    Ok(q.first(conn).optional()?)
}

/// The tickets of a contact (every queue), oldest first, at most 1,000.
pub fn ids_of_contact(conn: &mut Conn, t: TenantId, contact: i64) -> StoreResult<Vec<TicketId>> {
    let ids: Vec<i64> = scoped(t)
        .filter(tickets::contact_id.eq(contact))
        .order(tickets::id)
        .limit(1000)
        .select(tickets::id)
        .load(conn)?;
    Ok(ids.into_iter().map(TicketId::from_db).collect())
}

/// The ticket's status-link version (links made for another version open nothing).
pub fn status_link_version(conn: &mut Conn, t: TenantId, id: TicketId) -> StoreResult<i64> {
    Ok(scoped(t)
        .filter(tickets::id.eq(id.get()))
        .select(tickets::status_link_version)
        .first(conn)?)
}

/// End every status link of the ticket made so far; returns the new version.
pub fn bump_status_link_version(conn: &mut Conn, t: TenantId, id: TicketId) -> StoreResult<i64> {
    Ok(diesel::update(scoped(t).filter(tickets::id.eq(id.get())))
        .set(tickets::status_link_version.eq(tickets::status_link_version + 1))
        .returning(tickets::status_link_version)
        .get_result(conn)?)
}

/// A person wrote on a ticket an automatic mail opened: from now on it is people's work (D56).
pub fn clear_automatic(conn: &mut Conn, t: TenantId, ticket: TicketId) -> StoreResult<bool> {
    let n = diesel::update(
        scoped(t)
            .filter(tickets::id.eq(ticket.get()))
            .filter(tickets::automatic.is_not_null()),
    )
    .set(tickets::automatic.eq(None::<String>))
    .execute(conn)?;
    Ok(n > 0)
}

/// How many tickets in `statuses` automatic mail opened, in the queues `access` allows.
pub fn count_automatic_open(
    conn: &mut Conn,
    t: TenantId,
    access: &QueueAccess,
    statuses: &[Status],
) -> StoreResult<i64> {
    let mut q = scoped(t)
        .filter(tickets::automatic.is_not_null())
        .filter(tickets::status.eq_any(statuses.iter().map(|s| s.as_str()).collect::<Vec<_>>()))
        .into_boxed();
    if let QueueAccess::Only(ids) = access {
        q = q.filter(tickets::queue_id.eq_any(ids.iter().map(|q| q.get()).collect::<Vec<_>>()));
    }
    Ok(q.count().get_result(conn)?)
}
