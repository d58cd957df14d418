//! Notifications to the citizen when something happens to their ticket: escalated (with the
//! diarienummer once the records system has answered), waiting for them, answered, resolved —
//! the events each queue chooses — by e-mail or SMS as the contact prefers.
//!
//! The change that causes a notification writes an outbox item `notification` in its own
//! transaction (`enqueue`, which needs nothing but the ticket). The outbox worker turns it into
//! the message (`deliver`): it picks the channel, renders `templates/notify/<event>.<channel>.<sv|en>.hbs`
//! in the contact's language
//! and writes the mail or SMS to the outbox in one transaction with a once-keyed history event, so
//! a repeated delivery of the item sends nothing twice. From the configured information class on
//! (`notify.content_free_from_class`, default 2), the message carries no content, only a notice
//! with the ticket number.

use serde_json::json;

use crate::domain::{PhoneNumber, TenantId, TicketId};
use crate::error::{Error, Result};
use crate::outbox::DeliveryError;
use crate::store::{self, Conn, Db};
use crate::text::Templates;

/// The outbox kind; the payload is `{"ticket": id, "event": "...", "key": "..."}`.
pub const OUTBOX_KIND: &str = "notification";

/// What a notification is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// The ticket was registered (for those who chose SMS; mail gets the acknowledgement).
    Received,
    Escalated,
    Waiting,
    Answered,
    Resolved,
}

impl Event {
    pub const ALL: [Event; 5] = [
        Event::Received,
        Event::Escalated,
        Event::Waiting,
        Event::Answered,
        Event::Resolved,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Event::Received => "received",
            Event::Escalated => "escalated",
            Event::Waiting => "waiting",
            Event::Answered => "answered",
            Event::Resolved => "resolved",
        }
    }

    pub fn parse(s: &str) -> Option<Event> {
        Event::ALL.into_iter().find(|e| e.as_str() == s.trim())
    }
}

/// What the worker needs to write notifications (from the configuration).
#[derive(Debug, Clone)]
pub struct Config {
    /// Sender of notification mail (`mail.from`).
    pub from: String,
    /// From this information class on, notifications carry no content.
    pub content_free_from_class: i32,
    /// For the status-page link every notification carries.
    pub public_url: String,
    pub signer: crate::accounts::tokens::Signer,
    pub status_link_days: i64,
}

/// Queue a notification of `event` on `ticket`, inside the transaction of the change, when the
/// ticket's queue notifies on that event.
pub(crate) fn enqueue(
    c: &mut Conn,
    t: TenantId,
    ticket: &store::tickets::Ticket,
    event: Event,
    now: chrono::NaiveDateTime,
) -> Result<(), store::StoreError> {
    let (events, _) = store::queues::notify_settings(c, t, ticket.queue_id)?;
    if !events.split(',').any(|e| e.trim() == event.as_str()) {
        return Ok(());
    }
    enqueue_always(c, t, ticket, event, now)
}

/// Queue a notification of `event` whatever the queue's settings — when a person asked for it
/// (an agent ticking "Skicka bekräftelse" for the citizen on the phone).
pub(crate) fn enqueue_always(
    c: &mut Conn,
    t: TenantId,
    ticket: &store::tickets::Ticket,
    event: Event,
    now: chrono::NaiveDateTime,
) -> Result<(), store::StoreError> {
    store::outbox::enqueue(
        c,
        t,
        OUTBOX_KIND,
        &json!({
            "ticket": ticket.id.get(),
            "event": event.as_str(),
            "key": hex::encode(rand::random::<[u8; 12]>()),
        }),
        Some(ticket.id),
        now,
    )?;
    Ok(())
}

/// Delivers [`OUTBOX_KIND`] items: it only writes (the mail or SMS goes through the outbox
/// again), in a lane per ticket, so a ticket's notifications keep their order.
pub struct NotificationJob {
    pub db: Db,
    pub cfg: Config,
}

impl crate::outbox::Job for NotificationJob {
    fn kind(&self) -> &'static str {
        OUTBOX_KIND
    }

    fn lane(&self, item: &store::outbox::Item) -> String {
        format!("ticket {}", item.ticket_id.unwrap_or_default())
    }

    fn deliver<'a>(&'a self, item: &'a store::outbox::Item) -> crate::outbox::Delivery<'a> {
        Box::pin(deliver(
            &self.db,
            &self.cfg,
            TenantId::from_db(item.tenant_id),
            &item.payload,
        ))
    }
}

/// Turn a queued notification into a mail or SMS in the outbox (the worker calls this).
pub async fn deliver(
    db: &Db,
    cfg: &Config,
    tenant: TenantId,
    payload: &str,
) -> Result<(), DeliveryError> {
    let v: serde_json::Value = serde_json::from_str(payload)
        .map_err(|e| DeliveryError::Permanent(format!("bad payload: {e}")))?;
    let (Some(ticket), Some(event), Some(key)) = (
        v.get("ticket").and_then(|x| x.as_i64()),
        v.get("event")
            .and_then(|x| x.as_str())
            .and_then(Event::parse),
        v.get("key").and_then(|x| x.as_str()).map(str::to_string),
    ) else {
        return Err(DeliveryError::Permanent(format!("bad payload {payload}")));
    };
    let cfg = cfg.clone();
    db.write(move |c| write(c, &cfg, tenant, TicketId::from_db(ticket), event, &key))
        .await
        .map_err(|e| match e {
            Error::Internal(m) => DeliveryError::Retry(m),
            other => DeliveryError::Permanent(other.to_string()),
        })
}

/// Write one notification to the ticket's contact: by SMS or mail (whichever reaches them), once
/// per queued notification, into the outbox.
fn write(
    c: &mut Conn,
    cfg: &Config,
    t: TenantId,
    ticket_id: TicketId,
    event: Event,
    key: &str,
) -> Result<()> {
    let now = store::now();
    let tk = store::tickets::get(c, t, ticket_id)?;
    let Some(contact) = tk
        .contact_id
        .map(|id| store::contacts::get(c, t, id))
        .transpose()?
        .flatten()
    else {
        return Ok(());
    };
    let Some(reach) = Reach::of(c, t, &contact)? else {
        return Ok(());
    };
    if !note_once(c, t, ticket_id, event, reach.channel(), key, now)? {
        return Ok(());
    }
    let data = message_data(c, cfg, t, &tk, &contact)?;
    let templates = Templates::get();
    let lang = crate::domain::Language::parse(&contact.language)
        .unwrap_or(crate::domain::Language::Sv)
        .as_str();
    let name = format!("notify/{}.{}.{lang}", event.as_str(), reach.channel());
    let text = templates
        .render_text(&name, &data)
        .map(|s| s.trim().to_string())
        .map_err(|e| Error::Internal(format!("{name}: {e}")))?;
    let out = Outgoing {
        cfg,
        t,
        tk: &tk,
        now,
        kind: "notification",
    };
    match reach {
        Reach::Sms { phone, gateway } => out.sms(c, &phone, &gateway, &text),
        Reach::Mail { to } => {
            let subject = templates
                .text(lang, &format!("notify.subject.{}", event.as_str()))
                .replace("{number}", &tk.number.to_string());
            out.mail(c, to, subject, text)
        }
    }
}

/// How a notification reaches the contact (also the survey's way to them, D65).
pub(crate) enum Reach {
    /// A valid phone and the tenant's SMS gateway, for those who chose SMS or have no e-mail.
    Sms {
        phone: PhoneNumber,
        gateway: Box<store::sms::Gateway>,
    },
    Mail {
        to: String,
    },
}

impl Reach {
    /// None: the contact can be reached neither way.
    pub(crate) fn of(
        c: &mut Conn,
        t: TenantId,
        contact: &store::contacts::Contact,
    ) -> Result<Option<Reach>> {
        let gateway = store::sms::gateway(c, t)?;
        let phone = contact
            .phone
            .as_deref()
            .and_then(|p| PhoneNumber::parse(p).ok())
            .filter(|_| gateway.is_some());
        let by_sms =
            phone.is_some() && (contact.preferred_channel == "sms" || contact.email.is_none());
        Ok(match (by_sms, phone, gateway, &contact.email) {
            (true, Some(phone), Some(gateway), _) => Some(Reach::Sms {
                phone,
                gateway: Box::new(gateway),
            }),
            (false, _, _, Some(to)) => Some(Reach::Mail { to: to.clone() }),
            _ => None,
        })
    }

    /// The channel's name in history and in the template names.
    pub(crate) fn channel(&self) -> &'static str {
        match self {
            Reach::Sms { .. } => "sms",
            Reach::Mail { .. } => "mail",
        }
    }
}

/// Record in the ticket's history that the citizen was notified — once per queued notification,
/// however often the worker delivers it. False: already done.
fn note_once(
    c: &mut Conn,
    t: TenantId,
    ticket_id: TicketId,
    event: Event,
    channel: &str,
    key: &str,
    now: chrono::NaiveDateTime,
) -> Result<bool> {
    let fresh = store::tickets::insert_events_once(
        c,
        &[store::tickets::OnceEvent {
            tenant: t,
            ticket: ticket_id,
            kind: "citizen_notified",
            details: json!({ "event": event.as_str(), "channel": channel }).to_string(),
            once_key: format!("notify:{key}"),
        }],
        now,
    )?;
    Ok(!fresh.is_empty())
}

/// What the notification templates are rendered with (the content only below the queue's
/// information class limit).
fn message_data(
    c: &mut Conn,
    cfg: &Config,
    t: TenantId,
    tk: &store::tickets::Ticket,
    contact: &store::contacts::Contact,
) -> Result<serde_json::Value> {
    let ticket_id = tk.id;
    let (_, info_class) = store::queues::notify_settings(c, t, tk.queue_id)?;
    let queue = store::queues::list(c, t)?
        .into_iter()
        .find(|q| q.id == tk.queue_id)
        .map(|q| q.name)
        .unwrap_or_default();
    let tenant = store::tenants::get(c, t)?;
    Ok(json!({
        "content": info_class < cfg.content_free_from_class,
        "name": contact.name,
        "number": tk.number,
        "subject": tk.subject,
        "queue": queue,
        "tenant": tenant.name,
        "diarienummer": store::escalation::diarienummer(c, t, ticket_id)?,
        "link": crate::notify::status_link::link(c, &cfg.signer, &cfg.public_url, t, ticket_id, cfg.status_link_days)?,
    }))
}

/// A notification (or survey) about one ticket, on its way into the outbox.
pub(crate) struct Outgoing<'a> {
    pub(crate) cfg: &'a Config,
    pub(crate) t: TenantId,
    pub(crate) tk: &'a store::tickets::Ticket,
    pub(crate) now: chrono::NaiveDateTime,
    /// What the mail is, as recorded with its Message-ID (`notification`, `survey`).
    pub(crate) kind: &'static str,
}

impl Outgoing<'_> {
    /// The SMS row (shaped and priced for the gateway) and its outbox item.
    pub(crate) fn sms(
        &self,
        c: &mut Conn,
        phone: &PhoneNumber,
        g: &store::sms::Gateway,
        text: &str,
    ) -> Result<()> {
        let (t, tk, now) = (self.t, self.tk, self.now);
        let shape = super::sms_text::shape(text, g.nordic_gsm7);
        let id = store::sms::insert(
            c,
            t,
            &store::sms::NewSms {
                ticket: Some(tk.id),
                queue: Some(tk.queue_id),
                to: phone.as_str(),
                body: text,
                encoding: shape.encoding.as_str(),
                segments: shape.segments as i32,
                cost_ore: shape.segments as i64 * i64::from(g.price_ore),
                provider: &g.provider,
                sent_by: None,
            },
            now,
        )?;
        store::outbox::enqueue(
            c,
            t,
            super::sms::OUTBOX_KIND,
            &json!({ "sms": id }),
            Some(tk.id),
            now,
        )?;
        Ok(())
    }

    /// An automatic mail about the ticket (in its thread, from its mailbox).
    pub(crate) fn mail(
        &self,
        c: &mut Conn,
        to: String,
        subject: String,
        text: String,
    ) -> Result<()> {
        let (t, tk, now) = (self.t, self.tk, self.now);
        let (from, message_id) =
            crate::delivery::mail::about_ticket(c, t, tk, &self.cfg.from, self.kind, now)?;
        let mail = crate::delivery::mail::OutgoingMail {
            from,
            to: vec![to],
            subject,
            text,
            message_id: Some(message_id),
            in_reply_to: None,
            references: vec![],
            message_row: None,
            mailbox: tk.mailbox_id,
            auto_submitted: true,
            attachments: vec![],
        };
        store::outbox::enqueue(
            c,
            t,
            crate::delivery::mail::OUTBOX_KIND,
            &serde_json::to_value(mail).map_err(|e| Error::Internal(e.to_string()))?,
            Some(tk.id),
            now,
        )?;
        Ok(())
    }
}
