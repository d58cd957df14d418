//! Intake: one parsed mail becomes part of a ticket, in one transaction — the same pipeline for the
//! IMAP worker and `arendo mail import-dir`.
//!
//! Order of decisions:
//! 1. Already stored? The same (mailbox, UIDVALIDITY, UID) → nothing to do. The same Message-ID in
//!    this tenant (one mail sent to va@ with kundtjanst@ in CC) → only a receipt is added: one
//!    ticket, one acknowledgement.
//! 2. Threading: In-Reply-To/References matching a stored Message-ID; else the ticket tag
//!    `[KC-2026-000123]` in the subject — but only when the sender is the ticket's contact or already
//!    a participant. Anyone else gets a new ticket linked to the tagged one, and is told nothing about it.
//! 3. A reply to a resolved ticket reopens it; after `reopen_days` it opens a new, linked ticket.
//! 4. New tickets get an acknowledgement (outbox), unless the mail is automatic (auto-reply, bulk,
//!    list, bounce), comes from one of our own addresses, or the sender hit the rate limit.

use std::ops::ControlFlow;

use chrono::{Duration, NaiveDateTime};
use serde_json::json;

use super::parse::ParsedMail;
use crate::delivery::mail::{OUTBOX_KIND, OutgoingMail};
use crate::domain::{
    Channel, MessageKind, Priority, QueueAccess, QueueId, Status, TenantId, TicketId, TicketNumber,
};
use crate::error::{Error, Result};
use crate::store::tickets::NewMessage;
use crate::store::{self, Conn};
use crate::text::Templates;
use crate::tickets::{OpenTicket, open_ticket_with_prefix};

/// Where a mail came from.
#[derive(Debug, Clone)]
pub struct Source {
    /// The function mailbox (None for a plain import into a queue).
    pub mailbox: Option<i64>,
    /// The queue for new tickets.
    pub queue: QueueId,
    /// The address acknowledgements are sent from.
    pub reply_from: String,
    pub uidvalidity: i64,
    /// IMAP UID; 0 for imports.
    pub uid: i64,
    /// "imap" or "import".
    pub kind: &'static str,
}

#[derive(Debug, Clone)]
pub struct Policy {
    pub reopen_days: i64,
    /// Acknowledgements per sender and hour.
    pub ack_per_hour: i64,
    pub public_url: String,
    /// The installation's sender address (`mail.from`): mail from it is Ärendo's own.
    pub installation_from: String,
}

pub use crate::store::tickets::StoredAttachment;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// This IMAP message was stored before.
    AlreadyStored,
    /// The same Message-ID came through another mailbox; recorded on the stored message.
    SameMessage { ticket: TicketNumber },
    /// Mail Ärendo sent itself came back (a loop); not imported. The ticket it was about, if known.
    Ignored { ticket: Option<TicketNumber> },
    /// A bounce of our own mail, recorded as a delivery failure on the ticket it bounced from.
    DeliveryFailure { ticket: TicketNumber },
    /// Added to an existing ticket.
    Threaded {
        ticket: TicketNumber,
        reopened: bool,
    },
    /// A new ticket (linked to `linked` when it mentions or follows another).
    NewTicket {
        ticket: TicketNumber,
        linked: Option<TicketNumber>,
        acknowledged: bool,
    },
}

fn tagged_number(subject: &str, prefix: &str) -> Option<TicketNumber> {
    let mut rest = subject;
    while let Some(start) = rest.find('[') {
        let after = &rest[start + 1..];
        if let Some(end) = after.find(']') {
            if let Ok(n) = TicketNumber::parse(&after[..end])
                && n.prefix() == prefix
            {
                return Some(n);
            }
            rest = &after[end..];
        } else {
            break;
        }
    }
    None
}

/// "Re: Fråga [KC-2026-000001]" → "Fråga": the subject a new ticket gets.
fn clean_subject(subject: &str) -> String {
    let mut s = subject.trim();
    loop {
        let lower = s.to_lowercase();
        let stripped = ["re:", "sv:", "aw:", "fw:", "fwd:", "vb:", "vs:"]
            .iter()
            .find(|p| lower.starts_with(*p))
            .map(|p| s[p.len()..].trim_start());
        match stripped {
            Some(rest) => s = rest,
            None => break,
        }
    }
    let s = s.trim();
    if s.is_empty() {
        "(ingen rubrik)".to_string()
    } else {
        s.chars().take(crate::tickets::MAX_SUBJECT).collect()
    }
}

impl Policy {
    pub fn from_settings(s: &crate::config::Settings) -> Policy {
        Policy {
            reopen_days: i64::from(s.mail.reopen_days),
            ack_per_hour: i64::from(s.mail.ack_per_hour),
            public_url: s.server.public_url.clone(),
            installation_from: s.mail.from.clone(),
        }
    }
}

/// A mail parsed and its bytes (raw source, attachments) written to the blob store: ready for
/// `ingest` in a transaction.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub mail: ParsedMail,
    pub raw_sha256: String,
    pub attachments: Vec<StoredAttachment>,
}

/// Parse one mail and stage its bytes in the blob store. Blob writes are idempotent
/// (content-addressed), so a crash before the transaction commits leaves at most an unreferenced
/// file. Call `BlobStore::sync` before committing what refers to them.
pub fn prepare(
    raw: &[u8],
    blobs: &store::blobs::BlobStore,
    max_attachment_bytes: usize,
) -> std::io::Result<Prepared> {
    let mail = super::parse::parse(raw, max_attachment_bytes);
    let raw_sha256 = blobs.stage(raw)?;
    let mut attachments = Vec::with_capacity(mail.attachments.len());
    for a in &mail.attachments {
        attachments.push(StoredAttachment {
            filename: a.filename.clone(),
            content_type: a.content_type.clone(),
            size: a.bytes.len() as i64,
            sha256: blobs.stage(&a.bytes)?,
            inline: a.inline,
            content_id: a.content_id.clone(),
        });
    }
    Ok(Prepared {
        mail,
        raw_sha256,
        attachments,
    })
}

/// What a batch of mails of one tenant reads again and again: looked up once per batch.
#[derive(Debug, Default)]
pub struct Cache {
    tenant: Option<store::tenants::Tenant>,
    own_addresses: Option<Vec<String>>,
    /// queue id → (name, own acknowledgement template)
    queues: std::collections::HashMap<i64, (String, Option<String>)>,
    /// The tenant's function mailboxes (id, address, queue, reply address).
    mailboxes: Option<Vec<(i64, String, i64, String)>>,
}

impl Cache {
    fn tenant(&mut self, c: &mut Conn, t: TenantId) -> Result<store::tenants::Tenant> {
        if self.tenant.is_none() {
            self.tenant = Some(store::tenants::get(c, t)?);
        }
        Ok(self.tenant.clone().expect("just set"))
    }

    fn own(&mut self, c: &mut Conn, t: TenantId) -> Result<&[String]> {
        if self.own_addresses.is_none() {
            self.own_addresses = Some(store::mail::own_addresses(c, t)?);
        }
        Ok(self.own_addresses.as_deref().expect("just set"))
    }

    fn queue(&mut self, c: &mut Conn, t: TenantId, q: QueueId) -> Result<(String, Option<String>)> {
        if let Some(v) = self.queues.get(&q.get()) {
            return Ok(v.clone());
        }
        let queue = store::queues::lookup(c, t, q.get())?.ok_or(Error::NotFound("queue"))?;
        let v = (queue.name, store::queues::ack_template(c, t, q)?);
        self.queues.insert(q.get(), v.clone());
        Ok(v)
    }
}

/// Store one mail. Call inside a write transaction; blobs (raw source, attachments) are written
/// before, so nothing here can fail half-way outside the database. The steps read as the story:
/// receive → copies and loops → bounces → who wrote → thread or open → store → route →
/// acknowledge.
#[allow(clippy::too_many_arguments)]
pub fn ingest(
    c: &mut Conn,
    t: TenantId,
    src: &Source,
    raw_sha256: &str,
    mail: &ParsedMail,
    attachments: &[StoredAttachment],
    policy: &Policy,
    cache: &mut Cache,
    now: NaiveDateTime,
) -> Result<Outcome> {
    let m = Incoming {
        t,
        src,
        raw_sha256,
        mail,
        attachments,
        policy,
        now,
        sender: mail.from.as_ref().map(|e| e.as_str().to_lowercase()),
    };
    if m.already_received(c)? {
        return Ok(Outcome::AlreadyStored);
    }
    let collision = match m.copy_or_loop(c)? {
        ControlFlow::Break(outcome) => return Ok(outcome),
        ControlFlow::Continue(collision) => collision,
    };
    if m.sent_by_us() {
        tracing::info!(
            message_id = mail.message_id.as_deref().unwrap_or(""),
            "mail sent by Ärendo itself came back; not imported"
        );
        return Ok(Outcome::Ignored { ticket: None });
    }
    if let Some(outcome) = m.bounce_of_our_mail(c)? {
        return Ok(outcome);
    }
    let tenant = cache.tenant(c, t)?;
    let own_sender = match &m.sender {
        Some(s) => cache.own(c, t)?.contains(s),
        None => false,
    };
    let contact = m.contact(c, own_sender)?;
    let mut place = m.place(c, &tenant, own_sender)?;
    let is_new = place.target.is_none();
    let follow_up_queue = place.follow_up_of.as_ref().map(|o| o.queue_id);
    let (ticket, routed) = m.join_or_open(
        c,
        cache,
        &tenant,
        place.target.take(),
        follow_up_queue,
        &contact,
    )?;
    let linked = place.follow_up_of.as_ref().or(place.mention.as_ref());
    if let Some(other) = linked {
        m.link(c, &ticket, other, place.follow_up_of.is_some())?;
    }
    m.store(c, &ticket, own_sender, is_new, collision.as_ref(), &routed)?;
    if !is_new {
        return Ok(Outcome::Threaded {
            ticket: ticket.number,
            reopened: place.reopened,
        });
    }
    // The municipality's routing rules: priority, queue, tag, escalation — before the
    // acknowledgement, so it names the queue the ticket ended up in.
    let ticket = crate::tickets::route_in_tx(
        c,
        t,
        ticket,
        &crate::routing::Facts {
            queue: routed.queue,
            sender: m.sender.as_deref(),
            subject: &mail.subject,
            text: &mail.text,
        },
        now,
    )?;
    let acknowledged = m.acknowledge_new(c, cache, &tenant, &ticket, contact.as_ref(), &routed)?;
    Ok(Outcome::NewTicket {
        ticket: ticket.number,
        linked: linked.map(|l| l.number.clone()),
        acknowledged,
    })
}

/// One mail on its way in, with what every step needs.
struct Incoming<'a> {
    t: TenantId,
    src: &'a Source,
    raw_sha256: &'a str,
    mail: &'a ParsedMail,
    attachments: &'a [StoredAttachment],
    policy: &'a Policy,
    now: NaiveDateTime,
    /// The sender's address, lower-case.
    sender: Option<String>,
}

/// Where a mail belongs: the ticket it answers (None: a new one), and what the new one relates to.
struct Place {
    target: Option<store::tickets::Ticket>,
    /// A resolved ticket answered after `reopen_days`: the new ticket follows up on it.
    follow_up_of: Option<store::tickets::Ticket>,
    /// A ticket the mail names by its tag, from someone not on it: linked, not joined.
    mention: Option<store::tickets::Ticket>,
    reopened: bool,
}

impl Incoming<'_> {
    /// This IMAP message (mailbox, UIDVALIDITY, UID) was stored before.
    fn already_received(&self, c: &mut Conn) -> Result<bool> {
        Ok(match self.src.mailbox {
            Some(mailbox) if self.src.uid > 0 => {
                store::mail::has_receipt(c, mailbox, self.src.uidvalidity, self.src.uid)?
            }
            _ => false,
        })
    }

    /// Record that this mail (IMAP message or import) is stored as message `row`.
    fn receipt(&self, c: &mut Conn, row: i64) -> store::StoreResult<()> {
        store::mail::add_receipt(
            c,
            self.t,
            store::mail::NewReceipt {
                message_row: row,
                mailbox: self.src.mailbox,
                uidvalidity: self.src.uidvalidity,
                uid: self.src.uid,
                source: self.src.kind,
                now: self.now,
            },
        )
    }

    /// Step 1, copies and loops (D38, D39). A mail is a copy of a stored one only when the Message-ID
    /// matches *and* the content is the same (raw bytes, or sender and text when a relay rewrote
    /// headers): scanners, web forms and some phones reuse Message-IDs for different mails. Mail
    /// without a Message-ID is a copy when its raw bytes are. Ärendo's own mail coming back (a
    /// lead's address is a function mailbox) is a loop. Continues with the ticket whose mail
    /// shares the Message-ID, if any (a collision to note).
    fn copy_or_loop(&self, c: &mut Conn) -> Result<ControlFlow<Outcome, Option<TicketNumber>>> {
        let t = self.t;
        let Some(mid) = &self.mail.message_id else {
            store::mail::lock_message_id(c, t, &format!("sha256:{}", self.raw_sha256))?;
            if let Some((row, ticket)) = store::mail::inbound_with_raw(c, t, self.raw_sha256)? {
                return Ok(ControlFlow::Break(self.copy_received(
                    c,
                    row,
                    ticket,
                    "raw_sha256",
                )?));
            }
            return Ok(ControlFlow::Continue(None));
        };
        store::mail::lock_message_id(c, t, mid)?;
        let ids = std::slice::from_ref(mid);
        if let Some((row, ticket_id, kind)) = store::mail::find_by_message_ids(c, t, ids)?
            && kind != "inbound"
        {
            self.receipt(c, row)?;
            let details = json!({ "message": row, "mailbox": self.src.mailbox });
            return Ok(ControlFlow::Break(
                self.loop_ignored(c, ticket_id, &details)?,
            ));
        }
        if let Some(ticket_id) = store::mail::ticket_of_sent(c, t, ids)? {
            let details = json!({ "message_id": mid, "mailbox": self.src.mailbox });
            return Ok(ControlFlow::Break(
                self.loop_ignored(c, ticket_id, &details)?,
            ));
        }
        let stored = store::mail::inbound_with_message_id(c, t, mid)?;
        let same = stored.iter().find(|m| {
            m.raw_sha256.as_deref() == Some(self.raw_sha256)
                || (m.from_addr.as_deref().map(str::to_lowercase) == self.sender
                    && body_hash(&m.body_text) == body_hash(&self.mail.text))
        });
        if let Some(m) = same {
            return Ok(ControlFlow::Break(self.copy_received(
                c,
                m.row,
                m.ticket,
                "message_id",
            )?));
        }
        Ok(ControlFlow::Continue(match stored.first() {
            Some(first) => Some(store::tickets::get(c, t, first.ticket)?.number),
            None => None,
        }))
    }

    fn loop_ignored(
        &self,
        c: &mut Conn,
        ticket_id: TicketId,
        details: &serde_json::Value,
    ) -> Result<Outcome> {
        let ticket = store::tickets::get(c, self.t, ticket_id)?;
        store::tickets::insert_event(
            c,
            self.t,
            ticket_id,
            None,
            "own_mail_ignored",
            details,
            self.now,
        )?;
        Ok(Outcome::Ignored {
            ticket: Some(ticket.number),
        })
    }

    /// A copy of a stored message arrived (another mailbox, a re-delivery): only a receipt and a
    /// history line — one ticket, one acknowledgement.
    fn copy_received(
        &self,
        c: &mut Conn,
        row: i64,
        ticket_id: TicketId,
        by: &str,
    ) -> Result<Outcome> {
        self.receipt(c, row)?;
        let ticket = store::tickets::get(c, self.t, ticket_id)?;
        store::tickets::insert_event(
            c,
            self.t,
            ticket_id,
            None,
            "mail_copy_received",
            &json!({ "message": row, "mailbox": self.src.mailbox, "by": by }),
            self.now,
        )?;
        Ok(Outcome::SameMessage {
            ticket: ticket.number,
        })
    }

    /// Mail Ärendo sent itself (its own header, or the installation's sender address) is never a
    /// citizen's mail (D39).
    fn sent_by_us(&self) -> bool {
        self.mail.arendo_origin
            || self
                .sender
                .as_deref()
                .is_some_and(|s| s.eq_ignore_ascii_case(&self.policy.installation_from))
    }

    /// A bounce of our own outgoing mail: a delivery failure on the ticket it bounced from (D40).
    /// None when it is no bounce, or one of nothing we sent (it then opens a ticket, marked
    /// automatic).
    fn bounce_of_our_mail(&self, c: &mut Conn) -> Result<Option<Outcome>> {
        if self.mail.automatic != Some(super::parse::Automatic::Bounce) {
            return Ok(None);
        }
        let t = self.t;
        let mut ids = self.mail.in_reply_to.clone();
        ids.extend(self.mail.references.iter().cloned());
        ids.extend(original_message_ids(self.mail));
        let bounced = match store::mail::find_by_message_ids(c, t, &ids)? {
            Some((row, ticket, kind)) if kind == "outbound" => Some((Some(row), ticket)),
            _ => store::mail::ticket_of_sent(c, t, &ids)?.map(|tk| (None, tk)),
        };
        let Some((out_row, ticket_id)) = bounced else {
            return Ok(None);
        };
        let ticket = store::tickets::get(c, t, ticket_id)?;
        let msg = self.store_message(c, ticket_id, MessageKind::Note)?;
        self.receipt(c, msg.id)?;
        for a in self.attachments {
            store::tickets::insert_attachment(c, t, msg.id, a, self.now)?;
        }
        store::tickets::insert_event(
            c,
            t,
            ticket_id,
            None,
            "delivery_failed",
            &json!({ "message": msg.id, "bounced": out_row, "from": self.sender }),
            self.now,
        )?;
        Ok(Some(Outcome::DeliveryFailure {
            ticket: ticket.number,
        }))
    }

    /// The citizen who wrote — never one of the municipality's own addresses (D39).
    fn contact(&self, c: &mut Conn, own_sender: bool) -> Result<Option<store::contacts::Contact>> {
        Ok(match &self.mail.from {
            Some(_) if own_sender => None,
            Some(e) => Some(store::contacts::find_or_create(
                c,
                self.t,
                self.mail.from_name.as_deref(),
                Some(e),
                None,
                "email",
                crate::domain::Language::of_citizen_text(&format!(
                    "{}\n{}",
                    self.mail.subject, self.mail.text
                )),
            )?),
            None => None,
        })
    }

    /// Steps 2 and 3, threading and reopening: In-Reply-To/References matching a stored message or a mail we
    /// sent; else the ticket tag, but only from the ticket's contact or a participant. A resolved
    /// ticket reopens, or after `reopen_days` the mail opens a new ticket that follows up on it.
    fn place(
        &self,
        c: &mut Conn,
        tenant: &store::tenants::Tenant,
        own_sender: bool,
    ) -> Result<Place> {
        let t = self.t;
        let mut thread_ids = self.mail.in_reply_to.clone();
        thread_ids.extend(self.mail.references.iter().cloned());
        let mut existing: Option<TicketId> =
            match store::mail::find_by_message_ids(c, t, &thread_ids)? {
                Some((_, tk, _)) => Some(tk),
                // An answer to a notification, status-link or referral mail.
                None => store::mail::ticket_of_sent(c, t, &thread_ids)?,
            };
        let mut mention = None;
        if existing.is_none()
            && let Some(n) = tagged_number(&self.mail.subject, &tenant.ticket_prefix)
            && let Some(tagged) = store::tickets::by_number(c, t, &QueueAccess::All, &n)?
        {
            if own_sender || self.on_ticket(c, &tagged)? {
                existing = Some(tagged.id);
            } else {
                mention = Some(tagged);
            }
        }
        let mut place = Place {
            target: None,
            follow_up_of: None,
            mention,
            reopened: false,
        };
        let Some(id) = existing else {
            return Ok(place);
        };
        let tk = store::tickets::get(c, t, id)?;
        let long_ago = tk
            .resolved_at
            .or(tk.closed_at)
            .is_some_and(|r| self.now - r > Duration::days(self.policy.reopen_days));
        if matches!(tk.status, Status::Resolved | Status::Closed) && long_ago {
            place.follow_up_of = Some(tk);
            return Ok(place);
        }
        // An out-of-office reply or a list mail in the thread is not the citizen writing: it
        // reopens nothing (D56).
        if !own_sender && self.mail.automatic.is_none() {
            place.reopened = crate::tickets::open_for_citizen_message(c, t, &tk, self.now)?;
        }
        place.target = Some(tk);
        Ok(place)
    }

    /// Whether the sender is the ticket's contact or already took part in it.
    fn on_ticket(&self, c: &mut Conn, tagged: &store::tickets::Ticket) -> Result<bool> {
        let Some(s) = &self.sender else {
            return Ok(false);
        };
        let contact_email = match tagged.contact_id {
            Some(id) => store::contacts::get(c, self.t, id)?
                .and_then(|c| c.email)
                .map(|e| e.to_lowercase()),
            None => None,
        };
        Ok(contact_email.as_deref() == Some(s.as_str())
            || store::mail::participants(c, self.t, tagged.id)?.contains(s))
    }

    /// The ticket the mail joins, or a new one in the queue its headers name (D40): the first of
    /// our mailboxes in To:, then in Cc:, then the mailbox it arrived through — never the order
    /// in which the mailboxes were fetched. Returns the source as routed.
    fn join_or_open(
        &self,
        c: &mut Conn,
        cache: &mut Cache,
        tenant: &store::tenants::Tenant,
        target: Option<store::tickets::Ticket>,
        follow_up_queue: Option<QueueId>,
        contact: &Option<store::contacts::Contact>,
    ) -> Result<(store::tickets::Ticket, Source)> {
        if let Some(tk) = target {
            return Ok((tk, self.src.clone()));
        }
        let routed = addressed_mailbox(c, self.t, cache, self.mail, self.src)?;
        let queue = follow_up_queue.unwrap_or(routed.queue);
        let ticket = open_ticket_with_prefix(
            c,
            self.t,
            &tenant.ticket_prefix,
            OpenTicket {
                queue,
                subject: &clean_subject(&self.mail.subject),
                priority: Priority::Normal,
                channel: Channel::Email,
                contact_id: contact.as_ref().map(|c| c.id),
                mailbox: routed.mailbox,
                automatic: self.mail.automatic,
                actor: None,
                now: self.now,
            },
        )?;
        Ok((ticket, routed))
    }

    /// A new ticket that follows up on, or mentions, another.
    fn link(
        &self,
        c: &mut Conn,
        ticket: &store::tickets::Ticket,
        other: &store::tickets::Ticket,
        follow_up: bool,
    ) -> Result<()> {
        let kind = if follow_up { "follow_up" } else { "mentions" };
        store::mail::link(c, self.t, ticket.id, other.id, kind, self.now)?;
        store::tickets::insert_event(
            c,
            self.t,
            ticket.id,
            None,
            "linked",
            &json!({ "ticket": other.number, "kind": kind }),
            self.now,
        )?;
        Ok(())
    }

    /// The message itself, its receipt, attachments, decoding problems and history.
    fn store(
        &self,
        c: &mut Conn,
        ticket: &store::tickets::Ticket,
        own_sender: bool,
        is_new: bool,
        collision: Option<&TicketNumber>,
        routed: &Source,
    ) -> Result<()> {
        let (t, now) = (self.t, self.now);
        let kind = if own_sender {
            MessageKind::Note
        } else {
            MessageKind::Inbound
        };
        let msg = self.store_message(c, ticket.id, kind)?;
        self.receipt(c, msg.id)?;
        if self.mail.automatic.is_some() {
            // Not a person writing: no response is owed, the service levels do not see it (D56).
            store::tickets::mark_auto_sent(c, t, msg.id)?;
        } else if !own_sender
            && !is_new
            && ticket.automatic.is_some()
            && store::tickets::clear_automatic(c, t, ticket.id)?
        {
            // A person wrote in the thread an automatic mail opened: now it is people's work.
            store::tickets::insert_event(
                c,
                t,
                ticket.id,
                None,
                "automatic_cleared",
                &json!({ "message": msg.id }),
                now,
            )?;
        }
        if own_sender {
            store::tickets::insert_event(
                c,
                t,
                ticket.id,
                None,
                "mail_from_own_address",
                &json!({ "message": msg.id, "from": self.sender }),
                now,
            )?;
        }
        if let Some(other) = collision {
            store::tickets::insert_event(
                c,
                t,
                ticket.id,
                None,
                "message_id_collision",
                &json!({ "message": msg.id, "message_id": self.mail.message_id, "ticket": other }),
                now,
            )?;
        }
        for a in self.attachments {
            store::tickets::insert_attachment(c, t, msg.id, a, now)?;
        }
        super::problems::record(c, t, ticket.id, msg.id, &self.mail.problems, now)?;
        store::tickets::insert_event(
            c,
            t,
            ticket.id,
            None,
            "mail_received",
            &json!({ "message": msg.id, "mailbox": routed.mailbox, "automatic": self.mail.automatic, "problems": self.mail.problems }),
            now,
        )?;
        Ok(())
    }

    fn store_message(
        &self,
        c: &mut Conn,
        ticket: TicketId,
        kind: MessageKind,
    ) -> Result<store::tickets::Message> {
        store_message(
            c,
            self.t,
            ticket,
            kind,
            self.sender.as_deref(),
            self.mail,
            self.raw_sha256,
            self.now,
        )
    }

    /// Step 4: a new ticket is acknowledged, unless the mail is automatic, comes from one of our own
    /// addresses, or the sender hit the hourly limit; each "not" is in the history.
    fn acknowledge_new(
        &self,
        c: &mut Conn,
        cache: &mut Cache,
        tenant: &store::tenants::Tenant,
        ticket: &store::tickets::Ticket,
        contact: Option<&store::contacts::Contact>,
        routed: &Source,
    ) -> Result<bool> {
        let (t, now) = (self.t, self.now);
        let not = |c: &mut Conn, details: serde_json::Value| {
            store::tickets::insert_event(c, t, ticket.id, None, "not_acknowledged", &details, now)
        };
        let s = match (&self.sender, self.mail.automatic) {
            (Some(s), None) => s,
            (_, Some(kind)) => {
                not(c, json!({ "reason": "automatic", "kind": kind }))?;
                return Ok(false);
            }
            (None, None) => return Ok(false),
        };
        let own = cache.own(c, t)?.contains(s);
        if own || s.eq_ignore_ascii_case(&routed.reply_from) {
            not(c, json!({ "reason": "own_address" }))?;
            return Ok(false);
        }
        if store::mail::acks_since(c, t, s, now - Duration::hours(1))? >= self.policy.ack_per_hour {
            not(c, json!({ "reason": "rate_limited" }))?;
            return Ok(false);
        }
        let queue = cache.queue(c, t, ticket.queue_id)?;
        acknowledge(
            c,
            t,
            &tenant.name,
            queue,
            ticket,
            s,
            contact,
            self.mail,
            routed,
            now,
        )?;
        Ok(true)
    }
}

/// The text of a mail as compared for copies: line endings and trailing space do not count.
fn body_hash(text: &str) -> String {
    use sha2::Digest;
    let normal: String = text
        .lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n");
    hex::encode(sha2::Sha256::digest(normal.trim().as_bytes()))
}

#[allow(clippy::too_many_arguments)]
fn store_message(
    c: &mut Conn,
    t: TenantId,
    ticket: TicketId,
    kind: MessageKind,
    sender: Option<&str>,
    mail: &ParsedMail,
    raw_sha256: &str,
    now: NaiveDateTime,
) -> Result<store::tickets::Message> {
    Ok(store::tickets::insert_message(
        c,
        t,
        ticket,
        NewMessage {
            kind,
            author: None,
            from_addr: sender,
            to_addrs: &mail.to.join(", "),
            cc_addrs: &mail.cc.join(", "),
            subject: &mail.subject,
            body_text: &mail.text,
            body_html: mail.html.as_deref(),
            message_id: mail.message_id.as_deref(),
            in_reply_to: mail.in_reply_to.first().map(String::as_str),
            references: (!mail.references.is_empty())
                .then(|| mail.references.join(" "))
                .as_deref(),
            raw_sha256: Some(raw_sha256),
            now,
        },
    )?)
}

/// The Message-IDs in a bounce's attached original (message/rfc822 or text/rfc822-headers).
fn original_message_ids(mail: &ParsedMail) -> Vec<String> {
    let mut out = vec![];
    for a in &mail.attachments {
        let ct = a.content_type.to_ascii_lowercase();
        if !(ct.starts_with("message/") || ct == "text/rfc822-headers") {
            continue;
        }
        let text = String::from_utf8_lossy(&a.bytes);
        for line in text.lines() {
            if let Some((name, value)) = line.split_once(':')
                && name.trim().eq_ignore_ascii_case("message-id")
            {
                let id = value.trim().trim_start_matches('<').trim_end_matches('>');
                if !id.is_empty() {
                    out.push(id.to_string());
                }
            }
        }
    }
    out
}

/// The function mailbox a new ticket belongs to: the first of ours in To:, then in Cc:, else the
/// one the mail arrived through.
fn addressed_mailbox(
    c: &mut Conn,
    t: TenantId,
    cache: &mut Cache,
    mail: &ParsedMail,
    src: &Source,
) -> Result<Source> {
    if cache.mailboxes.is_none() {
        cache.mailboxes = Some(store::mail::mailbox_addresses(c, t)?);
    }
    let boxes = cache.mailboxes.as_deref().unwrap_or_default();
    for addr in mail.to.iter().chain(mail.cc.iter()) {
        let addr = addr.to_lowercase();
        if let Some((id, _, queue, reply_from)) = boxes.iter().find(|(_, a, _, _)| *a == addr) {
            if Some(*id) == src.mailbox {
                return Ok(src.clone());
            }
            return Ok(Source {
                mailbox: Some(*id),
                queue: QueueId::from_db(*queue),
                reply_from: reply_from.clone(),
                ..src.clone()
            });
        }
    }
    Ok(src.clone())
}

#[allow(clippy::too_many_arguments)]
fn acknowledge(
    c: &mut Conn,
    t: TenantId,
    tenant_name: &str,
    (queue_name, custom_template): (String, Option<String>),
    ticket: &store::tickets::Ticket,
    to: &str,
    contact: Option<&store::contacts::Contact>,
    mail: &ParsedMail,
    src: &Source,
    now: NaiveDateTime,
) -> Result<()> {
    let name = contact.and_then(|c| c.name.clone());
    // The contact's language; a queue's own text (written by its admins) is used for everyone.
    let lang = contact
        .and_then(|c| crate::domain::Language::parse(&c.language).ok())
        .unwrap_or(crate::domain::Language::Sv)
        .as_str();
    let data = json!({ "name": name, "number": ticket.number, "tenant": tenant_name, "queue": queue_name, "subject": ticket.subject });
    let templates = Templates::get();
    let text = match custom_template {
        Some(custom) => templates.render_str(&custom, &data),
        None => templates.render_text(&format!("mail/ack.{lang}"), &data),
    }
    .map_err(|e| Error::Internal(format!("acknowledgement template: {e}")))?;
    let subject = templates
        .text(lang, "mail.ack.subject")
        .replace("{number}", &ticket.number.to_string());
    let message_id = crate::delivery::mail::new_message_id(&ticket.number, &src.reply_from);
    let mut references = mail.references.clone();
    references.extend(mail.message_id.clone());
    let msg = store::tickets::insert_message(
        c,
        t,
        ticket.id,
        NewMessage {
            kind: MessageKind::Outbound,
            author: None,
            from_addr: Some(&src.reply_from),
            to_addrs: to,
            cc_addrs: "",
            subject: &subject,
            body_text: &text,
            body_html: None,
            message_id: Some(&message_id),
            in_reply_to: mail.message_id.as_deref(),
            references: Some(&references.join(" ")),
            raw_sha256: None,
            now,
        },
    )?;
    // Ärendo's own acknowledgement: not a person's answer (D44).
    store::tickets::mark_auto_sent(c, t, msg.id)?;
    let out = OutgoingMail {
        from: src.reply_from.clone(),
        to: vec![to.to_string()],
        subject,
        text,
        message_id: Some(message_id),
        in_reply_to: mail.message_id.clone(),
        references,
        message_row: Some(msg.id),
        mailbox: src.mailbox,
        auto_submitted: true,
        attachments: vec![],
    };
    store::outbox::enqueue(
        c,
        t,
        OUTBOX_KIND,
        &serde_json::to_value(out).map_err(|e| Error::Internal(e.to_string()))?,
        Some(ticket.id),
        now,
    )?;
    store::mail::record_ack(c, t, to, ticket.id, now)?;
    store::tickets::insert_event(
        c,
        t,
        ticket.id,
        None,
        "acknowledged",
        &json!({ "to": to, "message": msg.id }),
        now,
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_tenants_tag_only() {
        assert_eq!(
            tagged_number("Re: Fråga [KC-2026-000123]", "KC")
                .unwrap()
                .to_string(),
            "KC-2026-000123"
        );
        assert_eq!(
            tagged_number("[VA-2026-000001] [KC-2026-000002]", "KC")
                .unwrap()
                .to_string(),
            "KC-2026-000002"
        );
        assert!(tagged_number("Fråga KC-2026-000123", "KC").is_none());
        assert!(tagged_number("[KC-2026-12] [", "KC").is_none());
    }

    #[test]
    fn subjects_lose_reply_prefixes() {
        assert_eq!(clean_subject("SV: Re: Vattenläcka"), "Vattenläcka");
        assert_eq!(clean_subject("   "), "(ingen rubrik)");
        assert_eq!(clean_subject("Fwd: Remiss"), "Remiss");
    }
}
