//! Escalation targets (where tickets can be sent) and escalations (each time one was).

use chrono::NaiveDateTime;
use diesel::dsl;
use diesel::prelude::*;

use super::schema::{escalation_targets, escalations, queues, referral_handlers, tickets};
use super::{Conn, StoreResult};
use crate::domain::{QueueId, TenantId, TicketId, UserId};

type Scoped = dsl::Filter<escalation_targets::table, dsl::Eq<escalation_targets::tenant_id, i64>>;

/// Every query on targets starts here.
fn scoped(t: TenantId) -> Scoped {
    escalation_targets::table.filter(escalation_targets::tenant_id.eq(t.get()))
}

/// A target as stored; secrets are sealed (see `secrets.rs`).
#[derive(Debug, Clone, Queryable, Selectable, serde::Serialize)]
#[diesel(table_name = escalation_targets)]
pub struct Target {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub url: Option<String>,
    pub method: String,
    pub headers: String,
    pub auth: String,
    pub auth_user: Option<String>,
    #[serde(skip)]
    pub auth_secret: Option<String>,
    #[serde(skip)]
    pub hmac_secret: Option<String>,
    pub content_type: String,
    pub body_template: String,
    pub case_pointer: String,
    pub timeout_seconds: i32,
    pub updated_at: NaiveDateTime,
    pub referral_email: Option<String>,
    pub response_days: Option<i32>,
    pub allow_citizen_reply: bool,
    pub transfer_queue_id: Option<i64>,
    /// JSON: header name → value sealed with the installation key.
    #[serde(skip)]
    pub secret_headers: String,
    /// A referral here puts the ticket in "waiting for external" (its SLA paused) (D45).
    pub referral_pauses_sla: bool,
}

/// What a target is made of (validated by the domain).
#[derive(Debug, Clone)]
pub struct TargetRow<'a> {
    pub name: &'a str,
    pub kind: &'a str,
    pub url: Option<&'a str>,
    pub method: &'a str,
    pub headers: &'a str,
    /// JSON: header name → sealed value.
    pub secret_headers: &'a str,
    pub auth: &'a str,
    pub auth_user: Option<&'a str>,
    pub auth_secret: Option<&'a str>,
    pub hmac_secret: Option<&'a str>,
    pub content_type: &'a str,
    pub body_template: &'a str,
    pub case_pointer: &'a str,
    pub timeout_seconds: i32,
}

/// Create the target `name`, or replace its settings when it exists. Returns its id.
pub fn save_target(
    conn: &mut Conn,
    t: TenantId,
    r: &TargetRow<'_>,
    now: NaiveDateTime,
) -> StoreResult<i64> {
    let id = named_target(conn, t, r.name, r.kind, now)?;
    diesel::update(scoped(t).filter(escalation_targets::id.eq(id)))
        .set((
            escalation_targets::kind.eq(r.kind),
            escalation_targets::url.eq(r.url),
            escalation_targets::method.eq(r.method),
            escalation_targets::headers.eq(r.headers),
            escalation_targets::secret_headers.eq(r.secret_headers),
            escalation_targets::auth.eq(r.auth),
            escalation_targets::auth_user.eq(r.auth_user),
            escalation_targets::auth_secret.eq(r.auth_secret),
            escalation_targets::hmac_secret.eq(r.hmac_secret),
            escalation_targets::content_type.eq(r.content_type),
            escalation_targets::body_template.eq(r.body_template),
            escalation_targets::case_pointer.eq(r.case_pointer),
            escalation_targets::timeout_seconds.eq(r.timeout_seconds),
            escalation_targets::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(id)
}

/// The id of the tenant's target `name`, created (of `kind`, with defaults) when there is none:
/// every `save_*` then sets its own columns on it.
fn named_target(
    conn: &mut Conn,
    t: TenantId,
    name: &str,
    kind: &str,
    now: NaiveDateTime,
) -> StoreResult<i64> {
    let existing: Option<i64> = scoped(t)
        .filter(escalation_targets::name.eq(name))
        .select(escalation_targets::id)
        .first(conn)
        .optional()?;
    match existing {
        Some(id) => Ok(id),
        None => Ok(diesel::insert_into(escalation_targets::table)
            .values((
                escalation_targets::tenant_id.eq(t.get()),
                escalation_targets::name.eq(name),
                escalation_targets::kind.eq(kind),
                escalation_targets::created_at.eq(now),
                escalation_targets::updated_at.eq(now),
            ))
            .returning(escalation_targets::id)
            .get_result(conn)?),
    }
}

pub fn targets(conn: &mut Conn, t: TenantId) -> StoreResult<Vec<Target>> {
    Ok(scoped(t)
        .order(escalation_targets::name)
        .select(Target::as_select())
        .load(conn)?)
}

pub fn target(conn: &mut Conn, t: TenantId, id: i64) -> StoreResult<Option<Target>> {
    Ok(scoped(t)
        .filter(escalation_targets::id.eq(id))
        .select(Target::as_select())
        .first(conn)
        .optional()?)
}

pub fn target_by_name(conn: &mut Conn, t: TenantId, name: &str) -> StoreResult<Option<Target>> {
    Ok(scoped(t)
        .filter(escalation_targets::name.eq(name))
        .select(Target::as_select())
        .first(conn)
        .optional()?)
}

/// Make `target` (or none) the default escalation target of a queue of the tenant.
pub fn set_queue_default(
    conn: &mut Conn,
    t: TenantId,
    queue: QueueId,
    target: Option<i64>,
) -> StoreResult<()> {
    diesel::update(
        queues::table
            .filter(queues::tenant_id.eq(t.get()))
            .filter(queues::id.eq(queue.get())),
    )
    .set(queues::escalation_target_id.eq(target))
    .execute(conn)?;
    Ok(())
}

/// The default escalation target of a queue, if it has one.
pub fn queue_default(conn: &mut Conn, t: TenantId, queue: QueueId) -> StoreResult<Option<i64>> {
    Ok(queues::table
        .filter(queues::tenant_id.eq(t.get()))
        .filter(queues::id.eq(queue.get()))
        .select(queues::escalation_target_id)
        .first::<Option<i64>>(conn)
        .optional()?
        .flatten())
}

/// One escalation of a ticket.
#[derive(Debug, Clone, Queryable, Selectable, serde::Serialize)]
#[diesel(table_name = escalations)]
pub struct Escalation {
    pub id: i64,
    pub ticket_id: i64,
    pub target_id: i64,
    pub state: String,
    pub idempotency_key: String,
    pub case_number: Option<String>,
    pub requested_by: Option<i64>,
    pub reason: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub due_at: Option<NaiveDateTime>,
    pub answer: Option<String>,
}

pub struct NewEscalation<'a> {
    pub ticket: TicketId,
    pub target: i64,
    pub key: &'a str,
    pub requested_by: Option<UserId>,
    pub reason: &'a str,
}

pub fn insert(
    conn: &mut Conn,
    t: TenantId,
    e: &NewEscalation<'_>,
    now: NaiveDateTime,
) -> StoreResult<i64> {
    Ok(diesel::insert_into(escalations::table)
        .values((
            escalations::tenant_id.eq(t.get()),
            escalations::ticket_id.eq(e.ticket.get()),
            escalations::target_id.eq(e.target),
            escalations::state.eq("sending"),
            escalations::idempotency_key.eq(e.key),
            escalations::requested_by.eq(e.requested_by.map(|u| u.get())),
            escalations::reason.eq(e.reason),
            escalations::created_at.eq(now),
            escalations::updated_at.eq(now),
        ))
        .returning(escalations::id)
        .get_result(conn)?)
}

pub fn get(conn: &mut Conn, t: TenantId, id: i64) -> StoreResult<Option<Escalation>> {
    Ok(escalations::table
        .filter(escalations::tenant_id.eq(t.get()))
        .filter(escalations::id.eq(id))
        .select(Escalation::as_select())
        .first(conn)
        .optional()?)
}

/// A ticket's escalations, oldest first, with their target's name.
pub fn of_ticket(
    conn: &mut Conn,
    t: TenantId,
    ticket: TicketId,
) -> StoreResult<Vec<(Escalation, String)>> {
    Ok(escalations::table
        .inner_join(escalation_targets::table)
        .filter(escalations::tenant_id.eq(t.get()))
        .filter(escalations::ticket_id.eq(ticket.get()))
        .order(escalations::id)
        .select((Escalation::as_select(), escalation_targets::name))
        .load(conn)?)
}

/// Record one delivery attempt's outcome: the state, and the error when it failed.
pub fn record_attempt(
    conn: &mut Conn,
    t: TenantId,
    id: i64,
    state: &str,
    error: Option<&str>,
    now: NaiveDateTime,
) -> StoreResult<()> {
    diesel::update(
        escalations::table
            .filter(escalations::tenant_id.eq(t.get()))
            .filter(escalations::id.eq(id)),
    )
    .set((
        escalations::state.eq(state),
        escalations::attempts.eq(escalations::attempts + 1),
        escalations::last_error.eq(error),
        escalations::updated_at.eq(now),
    ))
    .execute(conn)?;
    Ok(())
}

/// Set the state (and the last error) without counting an attempt.
pub fn set_state(
    conn: &mut Conn,
    t: TenantId,
    id: i64,
    state: &str,
    error: Option<&str>,
    now: NaiveDateTime,
) -> StoreResult<()> {
    diesel::update(
        escalations::table
            .filter(escalations::tenant_id.eq(t.get()))
            .filter(escalations::id.eq(id)),
    )
    .set((
        escalations::state.eq(state),
        escalations::last_error.eq(error),
        escalations::updated_at.eq(now),
    ))
    .execute(conn)?;
    Ok(())
}

/// The records system answered with a case: keep it on the escalation and the ticket.
pub fn answered(
    conn: &mut Conn,
    t: TenantId,
    id: i64,
    ticket: TicketId,
    case_number: &str,
    now: NaiveDateTime,
) -> StoreResult<()> {
    diesel::update(
        escalations::table
            .filter(escalations::tenant_id.eq(t.get()))
            .filter(escalations::id.eq(id)),
    )
    .set((
        escalations::state.eq("answered"),
        escalations::case_number.eq(case_number),
        escalations::last_error.eq(None::<String>),
        escalations::updated_at.eq(now),
    ))
    .execute(conn)?;
    diesel::update(
        tickets::table
            .filter(tickets::tenant_id.eq(t.get()))
            .filter(tickets::id.eq(ticket.get())),
    )
    .set(tickets::diarienummer.eq(case_number))
    .execute(conn)?;
    Ok(())
}

/// The ticket's case number in the records system, if any.
pub fn diarienummer(conn: &mut Conn, t: TenantId, ticket: TicketId) -> StoreResult<Option<String>> {
    Ok(tickets::table
        .filter(tickets::tenant_id.eq(t.get()))
        .filter(tickets::id.eq(ticket.get()))
        .select(tickets::diarienummer)
        .first::<Option<String>>(conn)
        .optional()?
        .flatten())
}

/// Create or replace (by name) a referral target: a department's address and answer time.
pub fn save_referral_target(
    conn: &mut Conn,
    t: TenantId,
    name: &str,
    email: &str,
    response_days: i32,
    (allow_citizen_reply, pauses_sla): (bool, bool),
    now: NaiveDateTime,
) -> StoreResult<i64> {
    let id = named_target(conn, t, name, "referral", now)?;
    diesel::update(scoped(t).filter(escalation_targets::id.eq(id)))
        .set((
            escalation_targets::kind.eq("referral"),
            escalation_targets::url.eq(None::<String>),
            escalation_targets::referral_email.eq(email),
            escalation_targets::response_days.eq(response_days),
            escalation_targets::allow_citizen_reply.eq(allow_citizen_reply),
            escalation_targets::referral_pauses_sla.eq(pauses_sla),
            escalation_targets::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(id)
}

/// A referral went to its department, with its deadline.
pub fn referral_sent(
    conn: &mut Conn,
    t: TenantId,
    id: i64,
    due: NaiveDateTime,
    now: NaiveDateTime,
) -> StoreResult<()> {
    diesel::update(
        escalations::table
            .filter(escalations::tenant_id.eq(t.get()))
            .filter(escalations::id.eq(id)),
    )
    .set((
        escalations::state.eq("sent"),
        escalations::due_at.eq(due),
        escalations::updated_at.eq(now),
    ))
    .execute(conn)?;
    Ok(())
}

/// The department answered.
pub fn referral_answered(
    conn: &mut Conn,
    t: TenantId,
    id: i64,
    answer: &str,
    now: NaiveDateTime,
) -> StoreResult<()> {
    diesel::update(
        escalations::table
            .filter(escalations::tenant_id.eq(t.get()))
            .filter(escalations::id.eq(id)),
    )
    .set((
        escalations::state.eq("answered"),
        escalations::answer.eq(answer),
        escalations::answered_at.eq(now),
        escalations::updated_at.eq(now),
    ))
    .execute(conn)?;
    Ok(())
}

/// Create or replace (by name) a transfer target: the queue the whole ticket moves to.
pub fn save_transfer_target(
    conn: &mut Conn,
    t: TenantId,
    name: &str,
    queue: QueueId,
    now: NaiveDateTime,
) -> StoreResult<i64> {
    let id = named_target(conn, t, name, "transfer", now)?;
    diesel::update(scoped(t).filter(escalation_targets::id.eq(id)))
        .set((
            escalation_targets::kind.eq("transfer"),
            escalation_targets::url.eq(None::<String>),
            escalation_targets::transfer_queue_id.eq(queue.get()),
            escalation_targets::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(id)
}

// ---- referral handlers ----

/// The users who answer for the referral target `target` (ids).
pub fn handlers_of(conn: &mut Conn, t: TenantId, target: i64) -> StoreResult<Vec<i64>> {
    Ok(referral_handlers::table
        .filter(referral_handlers::tenant_id.eq(t.get()))
        .filter(referral_handlers::target_id.eq(target))
        .order(referral_handlers::user_id)
        .select(referral_handlers::user_id)
        .load(conn)?)
}

/// Make exactly `users` the handlers of `target` (the caller checked both are the tenant's).
pub fn set_handlers(
    conn: &mut Conn,
    t: TenantId,
    target: i64,
    users: &[i64],
    now: NaiveDateTime,
) -> StoreResult<()> {
    diesel::delete(
        referral_handlers::table
            .filter(referral_handlers::tenant_id.eq(t.get()))
            .filter(referral_handlers::target_id.eq(target)),
    )
    .execute(conn)?;
    for u in users {
        diesel::insert_into(referral_handlers::table)
            .values((
                referral_handlers::tenant_id.eq(t.get()),
                referral_handlers::target_id.eq(target),
                referral_handlers::user_id.eq(u),
                referral_handlers::created_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// A referral as its handler's list shows it.
#[derive(Debug, Clone, Queryable)]
pub struct HandlerReferral {
    pub id: i64,
    pub state: String,
    pub due_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub department: String,
    pub number: String,
    pub subject: String,
}

/// The referrals sent to the departments `user` answers for, newest first (at most 200).
pub fn referrals_for_handler(
    conn: &mut Conn,
    t: TenantId,
    user: i64,
) -> StoreResult<Vec<HandlerReferral>> {
    let targets: Vec<i64> = referral_handlers::table
        .filter(referral_handlers::tenant_id.eq(t.get()))
        .filter(referral_handlers::user_id.eq(user))
        .select(referral_handlers::target_id)
        .load(conn)?;
    Ok(escalations::table
        .inner_join(escalation_targets::table)
        .inner_join(
            tickets::table.on(tickets::id
                .eq(escalations::ticket_id)
                .and(tickets::tenant_id.eq(escalations::tenant_id))),
        )
        .filter(escalations::tenant_id.eq(t.get()))
        .filter(escalation_targets::tenant_id.eq(t.get()))
        .filter(escalation_targets::kind.eq("referral"))
        .filter(escalations::target_id.eq_any(targets))
        .order(escalations::id.desc())
        .limit(200)
        .select((
            escalations::id,
            escalations::state,
            escalations::due_at,
            escalations::created_at,
            escalation_targets::name,
            tickets::number,
            tickets::subject,
        ))
        .load(conn)?)
}

/// Records-system targets of every tenant whose plain headers are not empty: (tenant, id,
/// headers, secret headers), for sealing the secret-looking ones at start.
pub fn with_plain_headers(conn: &mut Conn) -> StoreResult<Vec<(TenantId, i64, String, String)>> {
    let rows: Vec<(i64, i64, String, String)> = escalation_targets::table
        .filter(escalation_targets::kind.eq("records"))
        .filter(escalation_targets::headers.ne("{}"))
        .select((
            escalation_targets::tenant_id,
            escalation_targets::id,
            escalation_targets::headers,
            escalation_targets::secret_headers,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(t, id, h, s)| (TenantId::from_db(t), id, h, s))
        .collect())
}

/// Set a target's plain and secret headers (both JSON).
pub fn set_headers(
    conn: &mut Conn,
    t: TenantId,
    id: i64,
    headers: &str,
    secret_headers: &str,
) -> StoreResult<()> {
    diesel::update(scoped(t).filter(escalation_targets::id.eq(id)))
        .set((
            escalation_targets::headers.eq(headers),
            escalation_targets::secret_headers.eq(secret_headers),
        ))
        .execute(conn)?;
    Ok(())
}
