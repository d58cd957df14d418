//! The citizen's status page: a signed, expiring link (a JWT naming the tenant and the ticket)
//! shows the ticket's status and public conversation — never internal notes — and lets the
//! citizen reply and attach a file, which lands on the ticket as an inbound message.
//!
//! Without the link, a citizen gives the ticket number and the e-mail address it came from; when
//! both match, a fresh link is mailed to that address. The answer is the same either way, so the
//! form tells nobody whether a ticket exists.

use chrono::NaiveDateTime;
use serde::Serialize;
use serde_json::json;

use crate::accounts::tokens::Signer;
use crate::accounts::{Actor, Scope};
use crate::domain::Reason;
use crate::domain::{
    EmailAddress, InvalidValue, MessageKind, Status, TenantId, TicketId, TicketNumber,
};
use crate::error::{Error, Result};
use crate::notify::status_link::{INVALID_LINK, verify};
use crate::store::tickets::StoredAttachment;
use crate::store::{self, Conn, Db};

/// A fresh link to the status page of ticket `number` for an actor who may see the ticket (e.g.
/// the operator giving it to a citizen on the phone: `arendo status-link`).
pub async fn status_link(
    db: &Db,
    signer: Signer,
    actor: &Actor,
    number: TicketNumber,
    public_url: String,
    days: i64,
) -> Result<String> {
    let (t, access) = (actor.tenant, actor.queue_access());
    db.write(move |c| -> Result<String> {
        let tk =
            store::tickets::by_number(c, t, &access, &number)?.ok_or(Error::NotFound("ticket"))?;
        crate::notify::status_link::link(c, &signer, &public_url, t, tk.id, days)
    })
    .await
}

/// The ticket a verified link names, while the link still works: the ticket exists, was not
/// merged into another, and its links were not revoked since the link was made.
fn linked_ticket(
    c: &mut Conn,
    t: TenantId,
    id: TicketId,
    version: i64,
) -> Result<store::tickets::Ticket> {
    let tk = store::tickets::get(c, t, id).map_err(|_| Error::Forbidden(INVALID_LINK))?;
    if tk.merged_into_id.is_some() || store::tickets::status_link_version(c, t, id)? != version {
        return Err(Error::Forbidden(INVALID_LINK));
    }
    Ok(tk)
}

/// An agent ends every status link of the ticket sent so far (a history event says who and
/// when). The citizen can ask for a new link on "Följ ditt ärende", which reaches only the
/// ticket's own address.
pub async fn revoke_links(db: &Db, actor: &Actor, number: TicketNumber) -> Result<()> {
    actor.require(Scope::TicketsWrite)?;
    let (t, access, uid) = (actor.tenant, actor.queue_access(), actor.user()?);
    db.write(move |c| -> Result<()> {
        let tk = crate::tickets::find(c, t, &access, &number)?;
        let version = store::tickets::bump_status_link_version(c, t, tk.id)?;
        store::tickets::insert_event(
            c,
            t,
            tk.id,
            Some(uid),
            "status_links_revoked",
            &json!({ "version": version }),
            store::now(),
        )?;
        Ok(())
    })
    .await
}

#[derive(Debug, Clone, Serialize)]
pub struct PublicMessage {
    /// `inbound` (the citizen) or `outbound` (the municipality).
    pub kind: String,
    pub text: String,
    pub at: NaiveDateTime,
    pub files: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StatusView {
    pub number: String,
    pub subject: String,
    pub status: Status,
    pub waiting_for_you: bool,
    pub queue: String,
    pub tenant: String,
    pub diarienummer: Option<String>,
    pub created_at: NaiveDateTime,
    pub messages: Vec<PublicMessage>,
    /// The contact's language (`sv`/`en`): the page speaks it unless the citizen switches.
    pub language: String,
}

/// The page behind a link.
pub async fn open(db: &Db, signer: &Signer, token: &str) -> Result<StatusView> {
    let (t, id, version) = verify(signer, token)?;
    db.read(move |c| -> Result<StatusView> {
        let tk = linked_ticket(c, t, id, version)?;
        let files = store::tickets::attachments(c, t, id)?;
        let messages = store::tickets::messages(c, t, id)?
            .into_iter()
            .filter(|m| {
                m.kind == MessageKind::Inbound.as_str() || m.kind == MessageKind::Outbound.as_str()
            })
            .map(|m| PublicMessage {
                files: files
                    .iter()
                    .filter(|a| a.message_id == m.id && !a.inline)
                    .map(|a| a.filename.clone())
                    .collect(),
                kind: m.kind,
                text: m.body_text,
                at: m.created_at,
            })
            .collect();
        let queue = store::queues::list(c, t)?
            .into_iter()
            .find(|q| q.id == tk.queue_id)
            .map(|q| q.name)
            .unwrap_or_default();
        Ok(StatusView {
            number: tk.number.to_string(),
            subject: tk.subject,
            status: tk.status,
            waiting_for_you: tk.status == Status::Waiting
                && tk.waiting_on == Some(crate::domain::WaitingOn::Citizen),
            queue,
            tenant: store::tenants::get(c, t)?.name,
            diarienummer: store::escalation::diarienummer(c, t, id)?,
            created_at: tk.created_at,
            messages,
            language: match tk.contact_id {
                Some(cid) => store::contacts::get(c, t, cid)?
                    .map(|x| x.language)
                    .unwrap_or_else(|| "sv".into()),
                None => "sv".into(),
            },
        })
    })
    .await
}

/// Longest reply through the status page.
pub const MAX_REPLY_CHARS: usize = 10_000;

/// How much a ticket's citizen may send through the status page in an hour
/// (`notify.citizen_replies_per_hour`, `notify.citizen_reply_mb_per_hour`).
#[derive(Debug, Clone, Copy)]
pub struct ReplyLimits {
    pub replies_per_hour: u32,
    pub bytes_per_hour: u64,
}

impl ReplyLimits {
    pub fn from_settings(n: &crate::config::Notify) -> ReplyLimits {
        ReplyLimits {
            replies_per_hour: n.citizen_replies_per_hour,
            bytes_per_hour: u64::from(n.citizen_reply_mb_per_hour) * 1024 * 1024,
        }
    }
}

const REPLY_EVENT: &str = "citizen_replied";
const VIA_STATUS_PAGE: &str = "status_page";

/// What the ticket's citizen sent through the status page within the hour before `now`:
/// (replies, bytes of files, when the oldest of them stops counting).
fn sent_last_hour(
    c: &mut Conn,
    t: TenantId,
    id: TicketId,
    now: NaiveDateTime,
) -> Result<(u32, u64, Option<NaiveDateTime>)> {
    let since = now - chrono::Duration::hours(1);
    let mut replies = 0u32;
    let mut bytes = 0u64;
    let mut oldest: Option<NaiveDateTime> = None;
    for e in store::tickets::events(c, t, id)? {
        if e.kind != REPLY_EVENT
            || e.created_at <= since
            || e.details.get("via").and_then(|v| v.as_str()) != Some(VIA_STATUS_PAGE)
        {
            continue;
        }
        replies += 1;
        bytes += e.details.get("bytes").and_then(|v| v.as_u64()).unwrap_or(0);
        oldest = Some(oldest.map_or(e.created_at, |o| o.min(e.created_at)));
    }
    Ok((
        replies,
        bytes,
        oldest.map(|o| o + chrono::Duration::hours(1)),
    ))
}

fn over_limit(until: Option<NaiveDateTime>, now: NaiveDateTime) -> Error {
    Error::Throttled {
        retry_after_secs: until.map_or(3600, |u| (u - now).num_seconds().max(1)),
    }
}

/// Before a reply is read: the link must work and the ticket's hourly allowance must not be
/// used up. Returns the bytes of files the reply may still carry (`Throttled` when none may be
/// sent at all).
pub async fn reply_allowance(
    db: &Db,
    signer: &Signer,
    token: &str,
    limits: ReplyLimits,
) -> Result<u64> {
    let (t, id, version) = verify(signer, token)?;
    db.read(move |c| -> Result<u64> {
        linked_ticket(c, t, id, version)?;
        let now = store::now();
        let (replies, bytes, until) = sent_last_hour(c, t, id, now)?;
        if replies >= limits.replies_per_hour || bytes >= limits.bytes_per_hour {
            return Err(over_limit(until, now));
        }
        Ok(limits.bytes_per_hour - bytes)
    })
    .await
}

/// The citizen replies on the status page: an inbound message (with files) on the ticket, which
/// opens a waiting or resolved ticket again. At most `limits` per ticket and hour (`Throttled`).
pub async fn reply(
    db: &Db,
    signer: &Signer,
    token: &str,
    text: &str,
    files: Vec<StoredAttachment>,
    limits: ReplyLimits,
) -> Result<()> {
    let (t, id, version) = verify(signer, token)?;
    let text = text.trim().replace("\r\n", "\n");
    if text.is_empty() && files.is_empty() {
        return Err(InvalidValue::new("text", Reason::Empty).into());
    }
    if text.chars().count() > MAX_REPLY_CHARS {
        return Err(InvalidValue::new(
            "text",
            Reason::TooLong {
                max: MAX_REPLY_CHARS,
            },
        )
        .into());
    }
    if files.len() > crate::tickets::MAX_ATTACHMENTS {
        return Err(InvalidValue::new(
            "files",
            Reason::TooManyFiles {
                max: crate::tickets::MAX_ATTACHMENTS,
            },
        )
        .into());
    }
    let size: u64 = files.iter().map(|f| f.size.max(0) as u64).sum();
    db.write(move |c| -> Result<()> {
        let now = store::now();
        let tk = linked_ticket(c, t, id, version)?;
        // Touching the ticket first locks its row (PostgreSQL), so concurrent replies of one
        // ticket are counted one after the other.
        store::tickets::touch(c, t, id, now)?;
        let (replies, bytes, until) = sent_last_hour(c, t, id, now)?;
        if replies >= limits.replies_per_hour || bytes + size > limits.bytes_per_hour {
            return Err(over_limit(until, now));
        }
        let from = match tk.contact_id {
            Some(cid) => store::contacts::get(c, t, cid)?.and_then(|x| x.email),
            None => None,
        };
        crate::tickets::open_for_citizen_message(c, t, &tk, now)?;
        let msg = store::tickets::insert_message(
            c,
            t,
            id,
            store::tickets::NewMessage {
                kind: MessageKind::Inbound,
                author: None,
                from_addr: from.as_deref(),
                to_addrs: "",
                cc_addrs: "",
                subject: &format!("Svar via statussidan [{}]", tk.number),
                body_text: &text,
                body_html: None,
                message_id: None,
                in_reply_to: None,
                references: None,
                raw_sha256: None,
                now,
            },
        )?;
        for f in &files {
            store::tickets::insert_attachment(c, t, msg.id, f, now)?;
        }
        store::tickets::insert_event(
            c,
            t,
            id,
            None,
            REPLY_EVENT,
            &json!({ "via": VIA_STATUS_PAGE, "files": files.len(), "bytes": size }),
            now,
        )?;
        Ok(())
    })
    .await
}

/// The outbox kind of a citizen's "I have no link" request; the worker decides whether a link
/// is mailed. Payload: `{"number": …, "email": …}` as the citizen typed them (parsed).
pub const LINK_REQUEST_KIND: &str = "status_link_request";

/// A citizen asking for a fresh link.
pub struct LinkRequest<'a> {
    pub tenant_slug: &'a str,
    pub number: &'a str,
    pub email: &'a str,
    /// The asker's IP address, and its limit (`notify.link_requests_per_ip`).
    pub ip: &'a str,
    pub per_ip: u32,
}

/// "I have no link": queue the request for the outbox worker, which mails a fresh link to the
/// ticket's address when `number` is a ticket of the tenant that came from `email`
/// ([`answer_link_request`]). Says nothing either way — and does the same work either way: the
/// request never looks at the ticket, so neither its answer nor its timing can tell whether the
/// number and address match.
///
/// Every request counts against the asker's IP address: past `per_ip` in an hour the answer is
/// `Throttled` for an hour (guessing numbers and addresses is slow).
pub async fn request_link(db: &Db, r: &LinkRequest<'_>) -> Result<()> {
    let hour = chrono::Duration::hours(1);
    let ip_key = format!("link-ip:{}", r.ip);
    let per_ip = r.per_ip;
    let slug = r.tenant_slug.to_string();
    let asked = match (
        TicketNumber::parse(r.number.trim()),
        EmailAddress::parse(r.email),
    ) {
        (Ok(number), Ok(email)) => {
            Some(json!({ "number": number.to_string(), "email": email.as_str() }))
        }
        _ => None,
    };
    db.write(move |c| -> Result<()> {
        let now = store::now();
        let keys = [ip_key.clone()];
        if let Some(secs) = crate::accounts::throttle::locked_for(c, &keys, now)? {
            return Err(Error::Throttled {
                retry_after_secs: secs,
            });
        }
        crate::accounts::throttle::count(c, &ip_key, per_ip, hour, hour, now)?;
        let (Some(tenant), Some(payload)) = (store::tenants::by_slug(c, &slug)?, asked) else {
            return Ok(());
        };
        store::outbox::enqueue(c, tenant.id, LINK_REQUEST_KIND, &payload, None, now)?;
        Ok(())
    })
    .await
}

/// What the outbox worker needs to answer link requests.
#[derive(Debug, Clone)]
pub struct LinkMails {
    pub signer: Signer,
    pub public_url: String,
    pub from: String,
    /// How long a link works (`notify.status_link_days`).
    pub days: i64,
    /// Link mails per ticket and hour (`notify.link_mails_per_ticket`).
    pub per_ticket: u32,
}

/// Delivers [`LINK_REQUEST_KIND`] items: only writes (the link mail goes through the outbox
/// again), in a lane per tenant.
pub struct LinkRequestJob {
    pub db: Db,
    pub cfg: LinkMails,
}

impl crate::outbox::Job for LinkRequestJob {
    fn kind(&self) -> &'static str {
        LINK_REQUEST_KIND
    }

    fn lane(&self, item: &store::outbox::Item) -> String {
        format!("tenant {}", item.tenant_id)
    }

    fn deliver<'a>(&'a self, item: &'a store::outbox::Item) -> crate::outbox::Delivery<'a> {
        let (payload, cfg) = (item.payload.clone(), self.cfg.clone());
        let tenant = TenantId::from_db(item.tenant_id);
        Box::pin(async move {
            self.db
                .write(move |c| answer_link_request(c, tenant, &payload, &cfg))
                .await
                .map_err(crate::outbox::DeliveryError::from_use_case)
        })
    }
}

/// The worker's half of [`request_link`] (one transaction): when the number is a ticket of the
/// tenant and the address is its contact's, queue the link mail to that address — at most
/// `per_ticket` an hour (nobody can flood a citizen's inbox); otherwise nothing.
pub(crate) fn answer_link_request(
    c: &mut Conn,
    t: TenantId,
    payload: &str,
    cfg: &LinkMails,
) -> Result<()> {
    let v: serde_json::Value =
        serde_json::from_str(payload).map_err(|_| InvalidValue::new("payload", Reason::Damaged))?;
    let field = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or("");
    let (Ok(number), Ok(email)) = (
        TicketNumber::parse(field("number")),
        EmailAddress::parse(field("email")),
    ) else {
        return Ok(());
    };
    let hour = chrono::Duration::hours(1);
    let tenant = store::tenants::get(c, t)?;
    let Some(tk) = store::tickets::by_number(c, t, &crate::domain::QueueAccess::All, &number)?
    else {
        return Ok(());
    };
    let Some((contact_email, lang)) = tk
        .contact_id
        .map(|id| store::contacts::get(c, t, id))
        .transpose()?
        .flatten()
        .and_then(|x| x.email.map(|e| (e, x.language)))
    else {
        return Ok(());
    };
    let lang = crate::domain::Language::parse(&lang)
        .unwrap_or(crate::domain::Language::Sv)
        .as_str();
    if !contact_email.eq_ignore_ascii_case(email.as_str()) {
        return Ok(());
    }
    let now = store::now();
    let ticket_key = [format!("link-mail:{}:{}", t.get(), tk.id.get())];
    if crate::accounts::throttle::locked_for(c, &ticket_key, now)?.is_some() {
        return Ok(());
    }
    crate::accounts::throttle::count(c, &ticket_key[0], cfg.per_ticket, hour, hour, now)?;
    let url =
        crate::notify::status_link::link(c, &cfg.signer, &cfg.public_url, t, tk.id, cfg.days)?;
    let templates = crate::text::Templates::get();
    let text = templates
        .render_text(
            &format!("notify/link.mail.{lang}"),
            &json!({ "number": tk.number, "link": url, "tenant": tenant.name, "days": cfg.days }),
        )
        .map_err(|e| Error::Internal(e.to_string()))?;
    let subject = templates
        .text(lang, "notify.subject.link")
        .replace("{number}", &tk.number.to_string());
    let (from, message_id) =
        crate::delivery::mail::about_ticket(c, t, &tk, &cfg.from, "status_link", now)?;
    store::outbox::enqueue(
        c,
        t,
        crate::delivery::mail::OUTBOX_KIND,
        &serde_json::to_value(crate::delivery::mail::OutgoingMail {
            message_id: Some(message_id),
            from,
            to: vec![contact_email],
            subject,
            text: text.trim().to_string(),
            in_reply_to: None,
            references: vec![],
            message_row: None,
            mailbox: tk.mailbox_id,
            auto_submitted: true,
            attachments: vec![],
        })
        .map_err(|e| Error::Internal(e.to_string()))?,
        Some(tk.id),
        now,
    )?;
    store::tickets::insert_event(c, t, tk.id, None, "status_link_sent", &json!({}), now)?;
    Ok(())
}
