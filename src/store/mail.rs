//! What the mail channel keeps: receipts (which mailbox and IMAP UID each stored message came
//! through), IMAP positions and leases per mailbox, links between tickets, acknowledgements.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{
    acknowledgements, mailbox_state, mailboxes, message_receipts, messages, tenants, ticket_links,
};
use super::{Conn, StoreResult};
use crate::domain::{TenantId, TicketId};

/// Is this IMAP message (mailbox, UIDVALIDITY, UID) already stored?
pub fn has_receipt(conn: &mut Conn, mailbox: i64, uidvalidity: i64, uid: i64) -> StoreResult<bool> {
    let n: i64 = message_receipts::table
        .filter(message_receipts::mailbox_id.eq(mailbox))
        .filter(message_receipts::uidvalidity.eq(uidvalidity))
        .filter(message_receipts::uid.eq(uid))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// Which of `uids` are already stored for (mailbox, UIDVALIDITY).
pub fn known_uids(
    conn: &mut Conn,
    mailbox: i64,
    uidvalidity: i64,
    uids: &[i64],
) -> StoreResult<Vec<i64>> {
    Ok(message_receipts::table
        .filter(message_receipts::mailbox_id.eq(mailbox))
        .filter(message_receipts::uidvalidity.eq(uidvalidity))
        .filter(message_receipts::uid.eq_any(uids))
        .select(message_receipts::uid)
        .load(conn)?)
}

pub struct NewReceipt<'a> {
    pub message_row: i64,
    pub mailbox: Option<i64>,
    pub uidvalidity: i64,
    pub uid: i64,
    pub source: &'a str,
    pub now: NaiveDateTime,
}

pub fn add_receipt(conn: &mut Conn, t: TenantId, r: NewReceipt<'_>) -> StoreResult<()> {
    diesel::insert_into(message_receipts::table)
        .values((
            message_receipts::tenant_id.eq(t.get()),
            message_receipts::message_id.eq(r.message_row),
            message_receipts::mailbox_id.eq(r.mailbox),
            message_receipts::uidvalidity.eq(r.uidvalidity),
            message_receipts::uid.eq(r.uid),
            message_receipts::source.eq(r.source),
            message_receipts::created_at.eq(r.now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Mailbox ids a stored message arrived through.
pub fn receipt_mailboxes(
    conn: &mut Conn,
    t: TenantId,
    message_row: i64,
) -> StoreResult<Vec<Option<i64>>> {
    Ok(message_receipts::table
        .filter(message_receipts::tenant_id.eq(t.get()))
        .filter(message_receipts::message_id.eq(message_row))
        .order(message_receipts::id)
        .select(message_receipts::mailbox_id)
        .load(conn)?)
}

/// The stored message (row id, ticket id, kind) with one of these Message-IDs in `t`, newest first.
pub fn find_by_message_ids(
    conn: &mut Conn,
    t: TenantId,
    ids: &[String],
) -> StoreResult<Option<(i64, TicketId, String)>> {
    if ids.is_empty() {
        return Ok(None);
    }
    Ok(messages::table
        .filter(messages::tenant_id.eq(t.get()))
        .filter(messages::message_id.eq_any(ids))
        .order(messages::id.desc())
        .select((messages::id, messages::ticket_id, messages::kind))
        .first::<(i64, i64, String)>(conn)
        .optional()?
        .map(|(m, tk, k)| (m, TicketId::from_db(tk), k)))
}

/// Every address that appears on a ticket's messages (from, to, cc), lower-cased.
pub fn participants(conn: &mut Conn, t: TenantId, ticket: TicketId) -> StoreResult<Vec<String>> {
    let rows: Vec<(Option<String>, String, String)> = messages::table
        .filter(messages::tenant_id.eq(t.get()))
        .filter(messages::ticket_id.eq(ticket.get()))
        .select((messages::from_addr, messages::to_addrs, messages::cc_addrs))
        .load(conn)?;
    let mut out = vec![];
    for (from, to, cc) in rows {
        out.extend(from.map(|f| f.to_lowercase()));
        for list in [to, cc] {
            out.extend(
                list.split(',')
                    .map(|s| s.trim().to_lowercase())
                    .filter(|s| !s.is_empty()),
            );
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

pub fn link(
    conn: &mut Conn,
    t: TenantId,
    a: TicketId,
    b: TicketId,
    kind: &str,
    now: NaiveDateTime,
) -> StoreResult<()> {
    diesel::insert_into(ticket_links::table)
        .values((
            ticket_links::tenant_id.eq(t.get()),
            ticket_links::ticket_id.eq(a.get()),
            ticket_links::other_id.eq(b.get()),
            ticket_links::kind.eq(kind),
            ticket_links::created_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Tickets linked from `ticket`: (other ticket id, kind).
pub fn links(
    conn: &mut Conn,
    t: TenantId,
    ticket: TicketId,
) -> StoreResult<Vec<(TicketId, String)>> {
    Ok(ticket_links::table
        .filter(ticket_links::tenant_id.eq(t.get()))
        .filter(ticket_links::ticket_id.eq(ticket.get()))
        .order(ticket_links::id)
        .select((ticket_links::other_id, ticket_links::kind))
        .load::<(i64, String)>(conn)?
        .into_iter()
        .map(|(o, k)| (TicketId::from_db(o), k))
        .collect())
}

pub fn acks_since(
    conn: &mut Conn,
    t: TenantId,
    address: &str,
    since: NaiveDateTime,
) -> StoreResult<i64> {
    Ok(acknowledgements::table
        .filter(acknowledgements::tenant_id.eq(t.get()))
        .filter(acknowledgements::address.eq(address))
        .filter(acknowledgements::created_at.gt(since))
        .count()
        .get_result(conn)?)
}

pub fn record_ack(
    conn: &mut Conn,
    t: TenantId,
    address: &str,
    ticket: TicketId,
    now: NaiveDateTime,
) -> StoreResult<()> {
    diesel::insert_into(acknowledgements::table)
        .values((
            acknowledgements::tenant_id.eq(t.get()),
            acknowledgements::address.eq(address),
            acknowledgements::ticket_id.eq(ticket.get()),
            acknowledgements::created_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// The tenant's own addresses (function mailboxes and their reply addresses), lower-cased: mail
/// from these is never acknowledged.
pub fn own_addresses(conn: &mut Conn, t: TenantId) -> StoreResult<Vec<String>> {
    let rows: Vec<(String, String)> = mailboxes::table
        .filter(mailboxes::tenant_id.eq(t.get()))
        .select((mailboxes::address, mailboxes::reply_from))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .flat_map(|(a, r)| [a.to_lowercase(), r.to_lowercase()])
        .collect())
}

/// SMTP settings JSON of the tenant and (if given) the mailbox, for the outbox worker.
pub fn smtp_settings(
    conn: &mut Conn,
    t: TenantId,
    mailbox: Option<i64>,
) -> StoreResult<(Option<String>, Option<String>)> {
    let tenant: Option<String> = tenants::table
        .find(t.get())
        .select(tenants::smtp)
        .first(conn)?;
    let mbox: Option<String> = match mailbox {
        Some(id) => mailboxes::table
            .filter(mailboxes::tenant_id.eq(t.get()))
            .filter(mailboxes::id.eq(id))
            .select(mailboxes::smtp)
            .first::<Option<String>>(conn)
            .optional()?
            .flatten(),
        None => None,
    };
    Ok((tenant, mbox))
}

pub fn set_tenant_smtp(conn: &mut Conn, t: TenantId, json: Option<&str>) -> StoreResult<()> {
    diesel::update(tenants::table.find(t.get()))
        .set(tenants::smtp.eq(json))
        .execute(conn)?;
    Ok(())
}

// ---- IMAP positions and leases ----

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = mailbox_state)]
pub struct MailboxState {
    pub mailbox_id: i64,
    pub uidvalidity: Option<i64>,
    pub last_uid: i64,
    pub lease_owner: Option<String>,
    pub lease_until: Option<NaiveDateTime>,
    pub last_ok_at: Option<NaiveDateTime>,
    pub last_error: Option<String>,
}

/// Every enabled mailbox of every tenant, for the IMAP supervisor (which works for all tenants; each
/// worker then scopes everything it does by its mailbox's tenant).
pub fn enabled_mailboxes_all_tenants(
    conn: &mut Conn,
) -> StoreResult<Vec<(TenantId, super::mailboxes::Mailbox)>> {
    let rows: Vec<(i64, super::mailboxes::Mailbox)> = mailboxes::table
        .filter(mailboxes::enabled.eq(true))
        .order(mailboxes::id)
        .select((mailboxes::tenant_id, super::mailboxes::Mailbox::as_select()))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(t, m)| (TenantId::from_db(t), m))
        .collect())
}

/// Take (or renew) the lease on a mailbox for `owner` if it is free, expired, or already ours.
/// Returns the state when the lease is ours. Must run in a write transaction.
pub fn claim_mailbox(
    conn: &mut Conn,
    t: TenantId,
    mailbox: i64,
    owner: &str,
    now: NaiveDateTime,
    until: NaiveDateTime,
) -> StoreResult<Option<MailboxState>> {
    let exists: i64 = mailbox_state::table
        .find(mailbox)
        .count()
        .get_result(conn)?;
    if exists == 0 {
        let values = (
            mailbox_state::mailbox_id.eq(mailbox),
            mailbox_state::tenant_id.eq(t.get()),
            mailbox_state::last_uid.eq(0i64),
        );
        match conn {
            Conn::Pg(c) => diesel::insert_into(mailbox_state::table)
                .values(values)
                .on_conflict_do_nothing()
                .execute(c)?,
            Conn::Sqlite(c) => diesel::insert_or_ignore_into(mailbox_state::table)
                .values(values)
                .execute(c)?,
        };
    }
    let n = diesel::update(
        mailbox_state::table.find(mailbox).filter(
            mailbox_state::lease_owner
                .is_null()
                .or(mailbox_state::lease_owner.eq(owner))
                .or(mailbox_state::lease_until.lt(now)),
        ),
    )
    .set((
        mailbox_state::lease_owner.eq(owner),
        mailbox_state::lease_until.eq(until),
    ))
    .execute(conn)?;
    if n == 0 {
        return Ok(None);
    }
    Ok(Some(
        mailbox_state::table
            .find(mailbox)
            .select(MailboxState::as_select())
            .first(conn)?,
    ))
}

pub fn release_mailbox(conn: &mut Conn, mailbox: i64, owner: &str) -> StoreResult<()> {
    diesel::update(
        mailbox_state::table
            .find(mailbox)
            .filter(mailbox_state::lease_owner.eq(owner)),
    )
    .set((
        mailbox_state::lease_owner.eq(None::<String>),
        mailbox_state::lease_until.eq(None::<NaiveDateTime>),
    ))
    .execute(conn)?;
    Ok(())
}

/// Record where the worker is (in the same transaction as the messages it imported).
pub fn save_position(
    conn: &mut Conn,
    mailbox: i64,
    owner: &str,
    uidvalidity: i64,
    last_uid: i64,
    now: NaiveDateTime,
) -> StoreResult<bool> {
    Ok(diesel::update(
        mailbox_state::table
            .find(mailbox)
            .filter(mailbox_state::lease_owner.eq(owner)),
    )
    .set((
        mailbox_state::uidvalidity.eq(uidvalidity),
        mailbox_state::last_uid.eq(last_uid),
        mailbox_state::last_ok_at.eq(now),
        mailbox_state::last_error.eq(None::<String>),
    ))
    .execute(conn)?
        == 1)
}

pub fn record_error(conn: &mut Conn, mailbox: i64, error: &str) -> StoreResult<()> {
    diesel::update(mailbox_state::table.find(mailbox))
        .set(mailbox_state::last_error.eq(error))
        .execute(conn)?;
    Ok(())
}

pub fn state(conn: &mut Conn, t: TenantId, mailbox: i64) -> StoreResult<Option<MailboxState>> {
    Ok(mailbox_state::table
        .filter(mailbox_state::tenant_id.eq(t.get()))
        .filter(mailbox_state::mailbox_id.eq(mailbox))
        .select(MailboxState::as_select())
        .first(conn)
        .optional()?)
}

/// Serialise the intake of one Message-ID within a tenant until the transaction ends, so that the
/// same mail arriving through two mailboxes at once (two workers, or two nodes) becomes one ticket.
/// PostgreSQL: a transaction-scoped advisory lock. SQLite: writes are already serialised.
pub fn lock_message_id(conn: &mut Conn, t: TenantId, message_id: &str) -> StoreResult<()> {
    if let Conn::Pg(c) = conn {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(format!("{}\u{0}{}", t.get(), message_id).as_bytes());
        let key = i64::from_be_bytes(digest[..8].try_into().expect("8 bytes"));
        diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
            .bind::<diesel::sql_types::BigInt, _>(key)
            .execute(c)?;
    }
    Ok(())
}

/// A stored inbound message, as far as telling copies from other mails needs it.
#[derive(Debug, Clone)]
pub struct StoredInbound {
    pub row: i64,
    pub ticket: TicketId,
    pub raw_sha256: Option<String>,
    pub from_addr: Option<String>,
    pub body_text: String,
}

/// Every inbound message of `t` with this Message-ID, oldest first (several when senders reused
/// one).
pub fn inbound_with_message_id(
    conn: &mut Conn,
    t: TenantId,
    message_id: &str,
) -> StoreResult<Vec<StoredInbound>> {
    type Row = (i64, i64, Option<String>, Option<String>, String);
    let rows: Vec<Row> = messages::table
        .filter(messages::tenant_id.eq(t.get()))
        .filter(messages::message_id.eq(message_id))
        .filter(messages::kind.eq("inbound"))
        .order(messages::id)
        .select((
            messages::id,
            messages::ticket_id,
            messages::raw_sha256,
            messages::from_addr,
            messages::body_text,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(row, tk, raw, from, body)| StoredInbound {
            row,
            ticket: TicketId::from_db(tk),
            raw_sha256: raw,
            from_addr: from,
            body_text: body,
        })
        .collect())
}

/// The first inbound message of `t` stored from exactly these raw bytes (by SHA-256).
pub fn inbound_with_raw(
    conn: &mut Conn,
    t: TenantId,
    raw_sha256: &str,
) -> StoreResult<Option<(i64, TicketId)>> {
    Ok(messages::table
        .filter(messages::tenant_id.eq(t.get()))
        .filter(messages::raw_sha256.eq(raw_sha256))
        .filter(messages::kind.eq_any(["inbound", "note"]))
        .order(messages::id)
        .select((messages::id, messages::ticket_id))
        .first::<(i64, i64)>(conn)
        .optional()?
        .map(|(m, tk)| (m, TicketId::from_db(tk))))
}

/// The tenant's function mailboxes: (id, address lower-cased, queue id, reply address).
pub fn mailbox_addresses(
    conn: &mut Conn,
    t: TenantId,
) -> StoreResult<Vec<(i64, String, i64, String)>> {
    let rows: Vec<(i64, String, i64, String)> = mailboxes::table
        .filter(mailboxes::tenant_id.eq(t.get()))
        .order(mailboxes::id)
        .select((
            mailboxes::id,
            mailboxes::address,
            mailboxes::queue_id,
            mailboxes::reply_from,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(i, a, q, r)| (i, a.to_lowercase(), q, r))
        .collect())
}

/// The address mail about a ticket is sent from: its function mailbox's reply address, else the
/// first mailbox of its queue. None when neither exists.
pub fn ticket_sender_address(
    conn: &mut Conn,
    t: TenantId,
    mailbox: Option<i64>,
    queue: i64,
) -> StoreResult<Option<String>> {
    if let Some(id) = mailbox
        && let Some(r) = mailboxes::table
            .filter(mailboxes::tenant_id.eq(t.get()))
            .filter(mailboxes::id.eq(id))
            .select(mailboxes::reply_from)
            .first::<String>(conn)
            .optional()?
    {
        return Ok(Some(r));
    }
    Ok(mailboxes::table
        .filter(mailboxes::tenant_id.eq(t.get()))
        .filter(mailboxes::queue_id.eq(queue))
        .order(mailboxes::id)
        .select(mailboxes::reply_from)
        .first::<String>(conn)
        .optional()?)
}

/// Record the Message-ID of a mail Ärendo sent about a ticket (outside the conversation).
pub fn record_sent(
    conn: &mut Conn,
    t: TenantId,
    ticket: TicketId,
    message_id: &str,
    kind: &str,
    now: NaiveDateTime,
) -> StoreResult<()> {
    use super::schema::sent_mail;
    diesel::insert_into(sent_mail::table)
        .values((
            sent_mail::tenant_id.eq(t.get()),
            sent_mail::ticket_id.eq(ticket.get()),
            sent_mail::message_id.eq(message_id),
            sent_mail::kind.eq(kind),
            sent_mail::created_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// The ticket a mail Ärendo sent (one of these Message-IDs) was about, newest first.
pub fn ticket_of_sent(
    conn: &mut Conn,
    t: TenantId,
    ids: &[String],
) -> StoreResult<Option<TicketId>> {
    use super::schema::sent_mail;
    if ids.is_empty() {
        return Ok(None);
    }
    Ok(sent_mail::table
        .filter(sent_mail::tenant_id.eq(t.get()))
        .filter(sent_mail::message_id.eq_any(ids))
        .order(sent_mail::id.desc())
        .select(sent_mail::ticket_id)
        .first::<i64>(conn)
        .optional()?
        .map(TicketId::from_db))
}
