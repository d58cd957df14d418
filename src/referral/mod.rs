//! Referral (remiss) to a department: the contact center keeps the ticket, the department gets
//! a mail with the matter, the conversation and a link to a page where an occasional handler
//! reads that one ticket, answers the agent (or, when the target allows it, the citizen) and so
//! hands it back. The answer is due after the target's number of days; an unanswered referral
//! raises an alarm once when it is due.
//!
//! The occasional handler has no password: the link in the mail is their access, signed with
//! the installation's key, naming the tenant and this referral only, valid until 30 days after
//! the deadline. It opens nothing else — no other ticket, no workspace (D30).
//!
//! The deadline is an outbox item (`referral_deadline`) due at the deadline: the worker that
//! claims it (with a lease, so one node) marks the referral overdue if it is still unanswered,
//! writes the alarm in the ticket's history and mails the assignee and the queue's leads.

use chrono::{Duration, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::accounts::tokens::Signer;
use crate::domain::Reason;
use crate::domain::{InvalidValue, MessageKind, TenantId, TicketId};
use crate::error::{Error, Result};
use crate::store::{self, Conn, Db};
use crate::text::Templates;

pub use crate::escalation::{
    REFERRAL_DEADLINE_KIND as DEADLINE_KIND, REFERRAL_MAIL_KIND as MAIL_KIND,
};

const KIND: &str = "referral";

/// The handler's link: this tenant, this referral, until 30 days after its deadline.
#[derive(Debug, Serialize, Deserialize)]
struct HandlerClaims {
    k: String,
    t: i64,
    e: i64,
    exp: i64,
}

pub fn handler_link(
    signer: &Signer,
    public_url: &str,
    t: TenantId,
    escalation: i64,
    due: NaiveDateTime,
) -> String {
    let exp = (due + Duration::days(30))
        .and_utc()
        .timestamp()
        .max(Utc::now().timestamp() + 86_400);
    let token = signer.sign_claims(&HandlerClaims {
        k: KIND.into(),
        t: t.get(),
        e: escalation,
        exp,
    });
    format!("{}/remiss/{token}", public_url.trim_end_matches('/'))
}

fn verify(signer: &Signer, token: &str) -> Result<(TenantId, i64)> {
    let c: HandlerClaims = signer
        .verify_claims(token)
        .filter(|c: &HandlerClaims| c.k == KIND)
        .ok_or(Error::Forbidden("the link is invalid or has expired"))?;
    Ok((TenantId::from_db(c.t), c.e))
}

fn escalation_of(payload: &str) -> Option<i64> {
    serde_json::from_str::<serde_json::Value>(payload)
        .ok()?
        .get("escalation")?
        .as_i64()
}

/// Mail the department (the worker calls this for [`MAIL_KIND`] items): the matter, the
/// conversation (never notes) and the handler's link; once, however often it is delivered.
pub(crate) fn mail_department(
    c: &mut Conn,
    t: TenantId,
    payload: &str,
    links: &Links,
) -> Result<()> {
    let Some(id) = escalation_of(payload) else {
        return Err(InvalidValue::new("payload", Reason::Damaged).into());
    };
    let e = store::escalation::get(c, t, id)?.ok_or(Error::NotFound("referral"))?;
    let target =
        store::escalation::target(c, t, e.target_id)?.ok_or(Error::NotFound("referral"))?;
    let ticket = TicketId::from_db(e.ticket_id);
    let now = store::now();
    let fresh = store::tickets::insert_events_once(
        c,
        &[store::tickets::OnceEvent {
            tenant: t,
            ticket,
            kind: "referred",
            details: json!({ "target": target.name, "due": e.due_at }).to_string(),
            once_key: format!("referral:{id}"),
        }],
        now,
    )?;
    if fresh.is_empty() {
        return Ok(());
    }
    let to = target
        .referral_email
        .clone()
        .ok_or_else(|| InvalidValue::new("target", Reason::TargetNoAddress))?;
    let tk = store::tickets::get(c, t, ticket)?;
    let messages: Vec<_> = sent_with(c, t, &e)?
        .into_iter()
        .map(|m| json!({ "from_citizen": m.kind == "inbound", "text": m.body_text }))
        .collect();
    let tenant = store::tenants::get(c, t)?;
    let due = e.due_at.unwrap_or(now);
    let link = handler_link(&links.signer, &links.public_url, t, id, due);
    let data = json!({
        "tenant": tenant.name, "number": tk.number, "subject": tk.subject, "reason": e.reason,
        "due": crate::text::time::local_time(due), "link": link, "messages": messages,
    });
    let templates = Templates::get();
    let text = templates
        .render_text("escalation/referral.mail.sv", &data)
        .map_err(|e| Error::Internal(e.to_string()))?;
    let subject = templates
        .text("sv", "referral.mail.subject")
        .replace("{number}", &tk.number.to_string())
        .replace("{subject}", &tk.subject);
    let (from, message_id) =
        crate::delivery::mail::about_ticket(c, t, &tk, &links.from, "referral", now)?;
    store::outbox::enqueue(
        c,
        t,
        crate::delivery::mail::OUTBOX_KIND,
        &serde_json::to_value(crate::delivery::mail::OutgoingMail {
            message_id: Some(message_id),
            from,
            to: vec![to],
            subject,
            text: text.trim().to_string(),
            in_reply_to: None,
            references: vec![],
            message_row: None,
            mailbox: tk.mailbox_id,
            auto_submitted: false,
            attachments: vec![],
        })
        .map_err(|e| Error::Internal(e.to_string()))?,
        Some(ticket),
        now,
    )?;
    Ok(())
}

/// What a referral needs from the configuration.
#[derive(Debug, Clone)]
pub struct Links {
    pub signer: Signer,
    pub public_url: String,
    pub from: String,
}

/// Delivers the referral kinds ([`MAIL_KIND`] and [`DEADLINE_KIND`]): both only write (the mail
/// to the department goes through the outbox again), in a lane per ticket.
pub struct ReferralJob {
    pub kind: &'static str,
    pub db: Db,
    pub links: Links,
}

impl ReferralJob {
    /// The two jobs, for the outbox registry.
    pub fn both(db: &Db, links: &Links) -> [ReferralJob; 2] {
        [MAIL_KIND, DEADLINE_KIND].map(|kind| ReferralJob {
            kind,
            db: db.clone(),
            links: links.clone(),
        })
    }
}

impl crate::outbox::Job for ReferralJob {
    fn kind(&self) -> &'static str {
        self.kind
    }

    fn lane(&self, item: &store::outbox::Item) -> String {
        format!("ticket {}", item.ticket_id.unwrap_or_default())
    }

    fn deliver<'a>(&'a self, item: &'a store::outbox::Item) -> crate::outbox::Delivery<'a> {
        let (kind, payload, links) = (self.kind, item.payload.clone(), self.links.clone());
        let tenant = TenantId::from_db(item.tenant_id);
        Box::pin(async move {
            self.db
                .write(move |c| {
                    if kind == MAIL_KIND {
                        mail_department(c, tenant, &payload, &links)
                    } else {
                        deadline(c, tenant, &payload, &links.from)
                    }
                })
                .await
                .map_err(crate::outbox::DeliveryError::from_use_case)
        })
    }
}

/// The handler's page.
#[derive(Debug, Clone, Serialize)]
pub struct HandlerView {
    pub tenant: String,
    pub department: String,
    pub number: String,
    pub subject: String,
    pub reason: String,
    pub due_at: Option<NaiveDateTime>,
    pub state: String,
    pub answer: Option<String>,
    pub allow_citizen_reply: bool,
    pub messages: Vec<(bool, String, NaiveDateTime)>,
}

/// The conversation as it was sent with the referral (never notes, nothing written after): what
/// the department's mail carries and all its page ever shows.
fn sent_with(
    c: &mut Conn,
    t: TenantId,
    e: &store::escalation::Escalation,
) -> Result<Vec<store::tickets::Message>> {
    Ok(
        store::tickets::messages(c, t, TicketId::from_db(e.ticket_id))?
            .into_iter()
            .filter(|m| m.kind != MessageKind::Note.as_str() && m.created_at <= e.created_at)
            .collect(),
    )
}

/// The referral and its ticket behind a verified link, while the link works: a ticket merged
/// into another (or gone) ends its referral links.
fn linked(
    c: &mut Conn,
    t: TenantId,
    id: i64,
) -> Result<(store::escalation::Escalation, store::tickets::Ticket)> {
    let e = store::escalation::get(c, t, id)?.ok_or(Error::NotFound("referral"))?;
    let tk = store::tickets::get(c, t, TicketId::from_db(e.ticket_id))
        .map_err(|_| Error::NotFound("referral"))?;
    if tk.merged_into_id.is_some() {
        return Err(Error::Forbidden("the link is invalid or has expired"));
    }
    Ok((e, tk))
}

pub async fn open(db: &Db, signer: &Signer, token: &str) -> Result<HandlerView> {
    let (t, id) = verify(signer, token)?;
    db.read(move |c| -> Result<HandlerView> {
        let (e, tk) = linked(c, t, id)?;
        let target =
            store::escalation::target(c, t, e.target_id)?.ok_or(Error::NotFound("referral"))?;
        let messages = sent_with(c, t, &e)?
            .into_iter()
            .map(|m| (m.kind == "inbound", m.body_text, m.created_at))
            .collect();
        Ok(HandlerView {
            tenant: store::tenants::get(c, t)?.name,
            department: target.name,
            number: tk.number.to_string(),
            subject: tk.subject,
            reason: e.reason,
            due_at: e.due_at,
            state: e.state,
            answer: e.answer,
            allow_citizen_reply: target.allow_citizen_reply,
            messages,
        })
    })
    .await
}

/// Whom the handler answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerTo {
    Agent,
    Citizen,
}

/// The handler answers and so hands the ticket back: a note for the agent (or, when allowed, a
/// reply mailed to the citizen), the referral answered, the ticket open again for the agent.
pub async fn answer(
    db: &Db,
    signer: &Signer,
    token: &str,
    text: &str,
    to: AnswerTo,
    mail_from: &str,
) -> Result<()> {
    let (t, id) = verify(signer, token)?;
    let text = text.trim().replace("\r\n", "\n");
    if text.is_empty() {
        return Err(InvalidValue::new("text", Reason::Empty).into());
    }
    if text.chars().count() > 20_000 {
        return Err(InvalidValue::new("text", Reason::TooLong { max: 20_000 }).into());
    }
    let mail_from = mail_from.to_string();
    db.write(move |c| -> Result<()> {
        let now = store::now();
        let (e, tk) = linked(c, t, id)?;
        if e.state == "answered" {
            return Err(Error::Conflict(crate::error::Conflict::ReferralAnswered));
        }
        let target = store::escalation::target(c, t, e.target_id)?.ok_or(Error::NotFound("referral"))?;
        let ticket = TicketId::from_db(e.ticket_id);
        match to {
            AnswerTo::Citizen if !target.allow_citizen_reply => {
                return Err(InvalidValue::new("to", Reason::AgentOnly).into());
            }
            AnswerTo::Citizen => {
                crate::tickets::apply_message(
                    c,
                    t,
                    None,
                    &tk,
                    crate::tickets::NewMessageKind::Reply,
                    &text,
                    mail_from,
                    &[],
                )?;
            }
            AnswerTo::Agent => {
                let note = Templates::get()
                    .text("sv", "referral.note")
                    .replace("{department}", &target.name)
                    .replace("{text}", &text);
                crate::tickets::apply_message(
                    c,
                    t,
                    None,
                    &tk,
                    crate::tickets::NewMessageKind::Note,
                    &note,
                    mail_from,
                    &[],
                )?;
            }
        }
        store::escalation::referral_answered(c, t, id, &text, now)?;
        crate::tickets::open_for_citizen_message(c, t, &tk, now)?;
        store::tickets::insert_event(
            c,
            t,
            ticket,
            None,
            "referral_answered",
            &json!({ "target": target.name, "to": if to == AnswerTo::Citizen { "citizen" } else { "agent" } }),
            now,
        )?;
        Ok(())
    })
    .await
}

/// The deadline of a referral has come (the worker claims the item once): still unanswered, it
/// is overdue — in the ticket's history, and by mail to the assignee and the queue's leads.
pub(crate) fn deadline(c: &mut Conn, t: TenantId, payload: &str, from: &str) -> Result<()> {
    let Some(id) = escalation_of(payload) else {
        return Ok(());
    };
    let Some(e) = store::escalation::get(c, t, id)? else {
        return Ok(());
    };
    if e.state != "sent" {
        return Ok(());
    }
    let now = store::now();
    store::escalation::set_state(c, t, id, "overdue", None, now)?;
    let target = store::escalation::target(c, t, e.target_id)?
        .map(|x| x.name)
        .unwrap_or_default();
    let ticket = TicketId::from_db(e.ticket_id);
    store::tickets::insert_event(
        c,
        t,
        ticket,
        None,
        "referral_overdue",
        &json!({ "target": target }),
        now,
    )?;
    let tk = store::tickets::get(c, t, ticket)?;
    let to = crate::notify::staff::responsible_addresses(c, t, &tk)?;
    if to.is_empty() {
        return Ok(());
    }
    let templates = Templates::get();
    let subject = templates
        .text("sv", "referral.overdue.subject")
        .replace("{number}", &tk.number.to_string())
        .replace("{department}", &target);
    let text = templates
        .text("sv", "referral.overdue.text")
        .replace("{number}", &tk.number.to_string())
        .replace("{subject}", &tk.subject)
        .replace("{department}", &target);
    let (sender, message_id) =
        crate::delivery::mail::about_ticket(c, t, &tk, from, "referral_overdue", now)?;
    store::outbox::enqueue(
        c,
        t,
        crate::delivery::mail::OUTBOX_KIND,
        &serde_json::to_value(crate::delivery::mail::OutgoingMail {
            message_id: Some(message_id),
            from: sender,
            to,
            subject,
            text,
            in_reply_to: None,
            references: vec![],
            message_row: None,
            mailbox: None,
            auto_submitted: true,
            attachments: vec![],
        })
        .map_err(|e| Error::Internal(e.to_string()))?,
        Some(ticket),
        now,
    )?;
    Ok(())
}

/// A referral in its handler's list ("Mina remisser"), with the link to its page.
#[derive(Debug, Clone, Serialize)]
pub struct HandlerItem {
    pub number: String,
    pub subject: String,
    pub department: String,
    /// `sent`, `answered`, `overdue` (or `failed`).
    pub state: String,
    pub due_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    /// The page's path, `/remiss/<signed link>` (the handler is on this site already).
    pub link: String,
}

/// The referrals sent to the departments a handler answers for, newest first, each with a fresh
/// link to the same page the referral mail points to. Handlers only.
pub async fn for_handler(
    db: &Db,
    signer: &Signer,
    actor: &crate::accounts::Actor,
) -> Result<Vec<HandlerItem>> {
    if actor.role != crate::domain::Role::Handler {
        return Err(Error::Forbidden("only referral handlers have referrals"));
    }
    let (t, user) = (actor.tenant, actor.user()?.get());
    let rows = db
        .read(move |c| store::escalation::referrals_for_handler(c, t, user))
        .await?;
    let now = store::now();
    Ok(rows
        .into_iter()
        .map(|r| HandlerItem {
            link: handler_link(signer, "", t, r.id, r.due_at.unwrap_or(now)),
            number: r.number,
            subject: r.subject,
            department: r.department,
            state: r.state,
            due_at: r.due_at,
            created_at: r.created_at,
        })
        .collect())
}
