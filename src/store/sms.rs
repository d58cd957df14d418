//! SMS: each tenant's gateway settings and every message sent.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{queues, sms_gateways, sms_messages};
use super::{Conn, StoreResult};
use crate::domain::{QueueId, TenantId, TicketId, UserId};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = sms_gateways)]
pub struct Gateway {
    pub tenant_id: i64,
    pub provider: String,
    pub url: Option<String>,
    pub username: Option<String>,
    /// Sealed.
    pub password: Option<String>,
    pub sender: String,
    pub nordic_gsm7: bool,
    pub price_ore: i32,
    pub body_template: String,
    pub content_type: String,
    pub id_pointer: String,
    pub report_token: String,
}

pub struct GatewayRow<'a> {
    pub provider: &'a str,
    pub url: Option<&'a str>,
    pub username: Option<&'a str>,
    pub password: Option<&'a str>,
    pub sender: &'a str,
    pub nordic_gsm7: bool,
    pub price_ore: i32,
    pub body_template: &'a str,
    pub content_type: &'a str,
    pub id_pointer: &'a str,
}

/// Set the tenant's gateway (the report token is made once and kept).
pub fn save_gateway(
    conn: &mut Conn,
    t: TenantId,
    g: &GatewayRow<'_>,
    new_token: &str,
    now: NaiveDateTime,
) -> StoreResult<()> {
    let exists = gateway(conn, t)?.is_some();
    let values = (
        sms_gateways::provider.eq(g.provider),
        sms_gateways::url.eq(g.url),
        sms_gateways::username.eq(g.username),
        sms_gateways::password.eq(g.password),
        sms_gateways::sender.eq(g.sender),
        sms_gateways::nordic_gsm7.eq(g.nordic_gsm7),
        sms_gateways::price_ore.eq(g.price_ore),
        sms_gateways::body_template.eq(g.body_template),
        sms_gateways::content_type.eq(g.content_type),
        sms_gateways::id_pointer.eq(g.id_pointer),
        sms_gateways::updated_at.eq(now),
    );
    if exists {
        diesel::update(sms_gateways::table.filter(sms_gateways::tenant_id.eq(t.get())))
            .set(values)
            .execute(conn)?;
    } else {
        diesel::insert_into(sms_gateways::table)
            .values((
                sms_gateways::tenant_id.eq(t.get()),
                sms_gateways::report_token.eq(new_token),
                values,
            ))
            .execute(conn)?;
    }
    Ok(())
}

pub fn gateway(conn: &mut Conn, t: TenantId) -> StoreResult<Option<Gateway>> {
    Ok(sms_gateways::table
        .filter(sms_gateways::tenant_id.eq(t.get()))
        .select(Gateway::as_select())
        .first(conn)
        .optional()?)
}

/// The tenant a delivery-report address belongs to. The token is the only thing a gateway's
/// callback carries that says whose it is; everything after this is scoped by the tenant found.
pub fn tenant_of_report_token(conn: &mut Conn, token: &str) -> StoreResult<Option<TenantId>> {
    Ok(sms_gateways::table
        .filter(sms_gateways::report_token.eq(token))
        .select(sms_gateways::tenant_id)
        .first::<i64>(conn)
        .optional()?
        .map(TenantId::from_db))
}

#[derive(Debug, Clone, Queryable, Selectable, serde::Serialize)]
#[diesel(table_name = sms_messages)]
pub struct Sms {
    pub id: i64,
    pub ticket_id: Option<i64>,
    pub queue_id: Option<i64>,
    pub to_number: String,
    pub body: String,
    pub encoding: String,
    pub segments: i32,
    pub cost_ore: i64,
    pub provider: String,
    pub provider_ref: Option<String>,
    pub status: String,
    pub error: Option<String>,
    pub sent_by: Option<i64>,
    pub created_at: NaiveDateTime,
    pub sent_at: Option<NaiveDateTime>,
    pub delivered_at: Option<NaiveDateTime>,
}

pub struct NewSms<'a> {
    pub ticket: Option<TicketId>,
    pub queue: Option<QueueId>,
    pub to: &'a str,
    pub body: &'a str,
    pub encoding: &'a str,
    pub segments: i32,
    pub cost_ore: i64,
    pub provider: &'a str,
    pub sent_by: Option<UserId>,
}

pub fn insert(
    conn: &mut Conn,
    t: TenantId,
    m: &NewSms<'_>,
    now: NaiveDateTime,
) -> StoreResult<i64> {
    Ok(diesel::insert_into(sms_messages::table)
        .values((
            sms_messages::tenant_id.eq(t.get()),
            sms_messages::ticket_id.eq(m.ticket.map(|x| x.get())),
            sms_messages::queue_id.eq(m.queue.map(|x| x.get())),
            sms_messages::to_number.eq(m.to),
            sms_messages::body.eq(m.body),
            sms_messages::encoding.eq(m.encoding),
            sms_messages::segments.eq(m.segments),
            sms_messages::cost_ore.eq(m.cost_ore),
            sms_messages::provider.eq(m.provider),
            sms_messages::status.eq("queued"),
            sms_messages::sent_by.eq(m.sent_by.map(|x| x.get())),
            sms_messages::created_at.eq(now),
        ))
        .returning(sms_messages::id)
        .get_result(conn)?)
}

pub fn get(conn: &mut Conn, t: TenantId, id: i64) -> StoreResult<Option<Sms>> {
    Ok(sms_messages::table
        .filter(sms_messages::tenant_id.eq(t.get()))
        .filter(sms_messages::id.eq(id))
        .select(Sms::as_select())
        .first(conn)
        .optional()?)
}

pub fn of_ticket(conn: &mut Conn, t: TenantId, ticket: TicketId) -> StoreResult<Vec<Sms>> {
    Ok(sms_messages::table
        .filter(sms_messages::tenant_id.eq(t.get()))
        .filter(sms_messages::ticket_id.eq(ticket.get()))
        .order(sms_messages::id)
        .select(Sms::as_select())
        .load(conn)?)
}

/// The gateway took the message.
pub fn sent(
    conn: &mut Conn,
    t: TenantId,
    id: i64,
    provider_ref: Option<&str>,
    now: NaiveDateTime,
) -> StoreResult<()> {
    diesel::update(
        sms_messages::table
            .filter(sms_messages::tenant_id.eq(t.get()))
            .filter(sms_messages::id.eq(id))
            .filter(sms_messages::status.eq("queued")),
    )
    .set((
        sms_messages::status.eq("sent"),
        sms_messages::provider_ref.eq(provider_ref),
        sms_messages::sent_at.eq(now),
        sms_messages::error.eq(None::<String>),
    ))
    .execute(conn)?;
    Ok(())
}

pub fn failed(conn: &mut Conn, t: TenantId, id: i64, error: &str) -> StoreResult<()> {
    diesel::update(
        sms_messages::table
            .filter(sms_messages::tenant_id.eq(t.get()))
            .filter(sms_messages::id.eq(id))
            .filter(sms_messages::status.ne("delivered")),
    )
    .set((
        sms_messages::status.eq("failed"),
        sms_messages::error.eq(error),
    ))
    .execute(conn)?;
    Ok(())
}

/// The states a message does not leave: a later report is recorded, not applied.
pub const FINAL_STATES: [&str; 2] = ["delivered", "failed"];

/// A delivery report: the message the gateway knows as `provider_ref` was delivered or not.
/// Applied only to a message not yet in a final state (in the same statement, so two reports
/// racing cannot both apply). Returns the message when there is one, and whether the report
/// was applied.
pub fn report(
    conn: &mut Conn,
    t: TenantId,
    provider_ref: &str,
    delivered: bool,
    error: Option<&str>,
    now: NaiveDateTime,
) -> StoreResult<Option<(Sms, bool)>> {
    let q = sms_messages::table
        .filter(sms_messages::tenant_id.eq(t.get()))
        .filter(sms_messages::provider_ref.eq(provider_ref))
        .filter(sms_messages::status.ne_all(FINAL_STATES));
    let n = if delivered {
        diesel::update(q)
            .set((
                sms_messages::status.eq("delivered"),
                sms_messages::delivered_at.eq(now),
            ))
            .execute(conn)?
    } else {
        diesel::update(q)
            .set((
                sms_messages::status.eq("failed"),
                sms_messages::error.eq(error.unwrap_or("not delivered")),
            ))
            .execute(conn)?
    };
    Ok(sms_messages::table
        .filter(sms_messages::tenant_id.eq(t.get()))
        .filter(sms_messages::provider_ref.eq(provider_ref))
        .select(Sms::as_select())
        .first(conn)
        .optional()?
        .map(|sms| (sms, n > 0)))
}

/// One department's text messages in a period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageRow {
    /// The queue's name (None: sent without a ticket).
    pub queue: Option<String>,
    pub messages: i64,
    pub segments: i64,
    pub cost_ore: i64,
}

/// Per department (queue) in `[from, to)`: messages, parts and cost in öre — the internal bill.
pub fn usage(
    conn: &mut Conn,
    t: TenantId,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> StoreResult<Vec<UsageRow>> {
    let rows: Vec<(Option<String>, i32, i64)> = sms_messages::table
        .left_join(queues::table.on(queues::id.nullable().eq(sms_messages::queue_id)))
        .filter(sms_messages::tenant_id.eq(t.get()))
        .filter(sms_messages::created_at.ge(from))
        .filter(sms_messages::created_at.lt(to))
        .filter(sms_messages::status.ne("failed"))
        .select((
            queues::name.nullable(),
            sms_messages::segments,
            sms_messages::cost_ore,
        ))
        .load(conn)?;
    let mut out: Vec<UsageRow> = Vec::new();
    for (queue, segments, cost) in rows {
        match out.iter_mut().find(|r| r.queue == queue) {
            Some(r) => {
                r.messages += 1;
                r.segments += i64::from(segments);
                r.cost_ore += cost;
            }
            None => out.push(UsageRow {
                queue,
                messages: 1,
                segments: i64::from(segments),
                cost_ore: cost,
            }),
        }
    }
    out.sort_by(|a, b| a.queue.cmp(&b.queue));
    Ok(out)
}
