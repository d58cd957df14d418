//! Function mailboxes (funktionsbrevlådor) and how to reach them over IMAP.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{mailboxes, queues};
use super::{Conn, StoreResult};
use crate::domain::{QueueId, TenantId};

#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = mailboxes)]
pub struct Mailbox {
    pub id: i64,
    pub address: String,
    pub queue_id: i64,
    pub imap_host: String,
    pub imap_port: i32,
    pub imap_tls: String,
    pub imap_user: String,
    /// Encrypted with the installation's secret key; see `crate::secrets`.
    pub imap_password_enc: String,
    pub folder: String,
    pub after_import: String,
    pub processed_folder: String,
    pub reply_from: String,
    pub enabled: bool,
    pub created_at: NaiveDateTime,
    /// The mailbox's own SMTP settings (JSON, password sealed), if any.
    pub smtp: Option<String>,
}

pub struct NewMailbox<'a> {
    pub address: &'a str,
    pub queue: QueueId,
    pub imap_host: &'a str,
    pub imap_port: u16,
    pub imap_tls: &'a str,
    pub imap_user: &'a str,
    pub imap_password_enc: &'a str,
    pub folder: &'a str,
    pub after_import: &'a str,
    pub processed_folder: &'a str,
    pub reply_from: &'a str,
}

pub fn create(conn: &mut Conn, t: TenantId, m: NewMailbox<'_>) -> StoreResult<Mailbox> {
    Ok(diesel::insert_into(mailboxes::table)
        .values((
            mailboxes::tenant_id.eq(t.get()),
            mailboxes::address.eq(m.address),
            mailboxes::queue_id.eq(m.queue.get()),
            mailboxes::imap_host.eq(m.imap_host),
            mailboxes::imap_port.eq(i32::from(m.imap_port)),
            mailboxes::imap_tls.eq(m.imap_tls),
            mailboxes::imap_user.eq(m.imap_user),
            mailboxes::imap_password_enc.eq(m.imap_password_enc),
            mailboxes::folder.eq(m.folder),
            mailboxes::after_import.eq(m.after_import),
            mailboxes::processed_folder.eq(m.processed_folder),
            mailboxes::reply_from.eq(m.reply_from),
            mailboxes::enabled.eq(true),
            mailboxes::created_at.eq(super::now()),
        ))
        .returning(<Mailbox as Selectable<diesel::pg::Pg>>::construct_selection())
        .get_result(conn)?)
}

/// Mailboxes of `t` with the slug of the queue each feeds.
pub fn list(conn: &mut Conn, t: TenantId) -> StoreResult<Vec<(Mailbox, String)>> {
    Ok(mailboxes::table
        .inner_join(queues::table.on(queues::id.eq(mailboxes::queue_id)))
        .filter(mailboxes::tenant_id.eq(t.get()))
        .filter(queues::tenant_id.eq(t.get()))
        .order(mailboxes::address)
        .select((Mailbox::as_select(), queues::slug))
        .load(conn)?)
}

pub fn get(conn: &mut Conn, t: TenantId, id: i64) -> StoreResult<Option<Mailbox>> {
    Ok(mailboxes::table
        .filter(mailboxes::tenant_id.eq(t.get()))
        .filter(mailboxes::id.eq(id))
        .select(Mailbox::as_select())
        .first(conn)
        .optional()?)
}

pub fn set_smtp(conn: &mut Conn, t: TenantId, id: i64, json: Option<&str>) -> StoreResult<()> {
    diesel::update(
        mailboxes::table
            .filter(mailboxes::tenant_id.eq(t.get()))
            .filter(mailboxes::id.eq(id)),
    )
    .set(mailboxes::smtp.eq(json))
    .execute(conn)?;
    Ok(())
}

/// Switch a mailbox's intake on or off. `NotFound` when `t` has no such mailbox.
pub fn set_enabled(conn: &mut Conn, t: TenantId, id: i64, enabled: bool) -> StoreResult<()> {
    let n = diesel::update(
        mailboxes::table
            .filter(mailboxes::tenant_id.eq(t.get()))
            .filter(mailboxes::id.eq(id)),
    )
    .set(mailboxes::enabled.eq(enabled))
    .execute(conn)?;
    if n == 0 {
        return Err(super::StoreError::NotFound);
    }
    Ok(())
}
