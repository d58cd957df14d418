//! The response types of `/api/v1`: what clients see, apart from the storage rows (D61). Every
//! handler answers with one of these, built from its use case's result by an explicit `From`, so a
//! change to a table or a row struct cannot change the API by accident; the snapshot tests
//! (tests/api/api_types.rs) make every change to these shapes a visible diff.
//!
//! Rules: stable field names; timestamps ISO-8601 in UTC with the zone (`2026-12-04T09:30:00Z`);
//! ticket links as objects; no internal columns (no blob hashes, no threading headers beyond
//! Message-ID/In-Reply-To, no internal ids except those the API addresses things by: attachment and
//! message ids in download URLs, queue, user and contact ids that requests take).

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Serialize;

use crate::accounts::Actor;
use crate::domain::{
    Automatic, Channel, MembershipRole, Priority, QueueId, Role, SlaClock, Status, TenantId,
    TicketNumber, UserId, WaitingOn,
};
use crate::tenants::QueueSummary;
use crate::tickets::{Page, TicketDetail};

/// A stored time (UTC without zone in the database) as the API writes it: with the zone.
pub type Timestamp = DateTime<Utc>;

fn at(n: NaiveDateTime) -> Timestamp {
    n.and_utc()
}

fn at_opt(n: Option<NaiveDateTime>) -> Option<Timestamp> {
    n.map(at)
}

/// A ticket as lists, create and update return it.
#[derive(Debug, Clone, Serialize)]
pub struct Ticket {
    pub number: TicketNumber,
    pub subject: String,
    pub status: Status,
    /// Whom it waits for (only while the status is `waiting`).
    pub waiting_on: Option<WaitingOn>,
    pub priority: Priority,
    pub queue_id: QueueId,
    pub assignee_id: Option<UserId>,
    pub contact_id: Option<i64>,
    pub channel: Channel,
    /// The function mailbox it came in through (the admin API's mailbox id).
    pub mailbox_id: Option<i64>,
    /// Opened by an automatic mail (auto-reply, bulk, list, bounce).
    pub automatic: Option<Automatic>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub first_response_at: Option<Timestamp>,
    pub resolved_at: Option<Timestamp>,
    pub closed_at: Option<Timestamp>,
    /// When its most pressing service-level target runs out.
    pub sla_due_at: Option<Timestamp>,
    /// When the first of its running targets reaches its warning share.
    pub sla_warn_at: Option<Timestamp>,
    /// `running` or `paused`; null when no service level applies or all are met.
    pub sla_clock: Option<SlaClock>,
}

impl From<crate::tickets::Ticket> for Ticket {
    fn from(t: crate::tickets::Ticket) -> Self {
        Ticket {
            number: t.number,
            subject: t.subject,
            status: t.status,
            waiting_on: t.waiting_on,
            priority: t.priority,
            queue_id: t.queue_id,
            assignee_id: t.assignee_id,
            contact_id: t.contact_id,
            channel: t.channel,
            mailbox_id: t.mailbox_id,
            automatic: t.automatic,
            created_at: at(t.created_at),
            updated_at: at(t.updated_at),
            first_response_at: at_opt(t.first_response_at),
            resolved_at: at_opt(t.resolved_at),
            closed_at: at_opt(t.closed_at),
            sla_due_at: at_opt(t.sla_due_at),
            sla_warn_at: at_opt(t.sla_warn_at),
            sla_clock: t.sla_clock,
        }
    }
}

/// `GET /api/v1/tickets`: one page, and the cursor of the next (null on the last page).
#[derive(Debug, Clone, Serialize)]
pub struct TicketPage {
    pub tickets: Vec<Ticket>,
    pub next_cursor: Option<String>,
}

impl From<Page> for TicketPage {
    fn from(p: Page) -> Self {
        TicketPage {
            tickets: p.tickets.into_iter().map(Ticket::from).collect(),
            next_cursor: p.next_cursor,
        }
    }
}

/// The citizen or company a ticket is about.
#[derive(Debug, Clone, Serialize)]
pub struct Contact {
    pub id: i64,
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// `email` or `sms`.
    pub preferred_channel: String,
    /// `sv` or `en`.
    pub language: String,
    pub created_at: Timestamp,
}

impl From<crate::tickets::contacts::Contact> for Contact {
    fn from(c: crate::tickets::contacts::Contact) -> Self {
        Contact {
            id: c.id,
            name: c.name,
            email: c.email,
            phone: c.phone,
            preferred_channel: c.preferred_channel,
            language: c.language,
            created_at: at(c.created_at),
        }
    }
}

/// One message of the conversation. `id` addresses its original:
/// `/api/v1/tickets/{number}/messages/{id}/original`.
#[derive(Debug, Clone, Serialize)]
pub struct Message {
    pub id: i64,
    /// `inbound`, `outbound` or `note`.
    pub kind: String,
    pub author_id: Option<i64>,
    pub from_addr: Option<String>,
    pub to_addrs: String,
    pub cc_addrs: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: Option<String>,
    /// The mail's Message-ID header (without the angle brackets).
    pub message_id: Option<String>,
    pub in_reply_to: Option<String>,
    /// Not written by a person (an acknowledgement, an out-of-office reply, …).
    pub auto_sent: bool,
    pub created_at: Timestamp,
}

impl From<crate::tickets::Message> for Message {
    fn from(m: crate::tickets::Message) -> Self {
        Message {
            id: m.id,
            kind: m.kind,
            author_id: m.author_id,
            from_addr: m.from_addr,
            to_addrs: m.to_addrs,
            cc_addrs: m.cc_addrs,
            subject: m.subject,
            body_text: m.body_text,
            body_html: m.body_html,
            message_id: m.message_id,
            in_reply_to: m.in_reply_to,
            auto_sent: m.auto_sent,
            created_at: at(m.created_at),
        }
    }
}

/// A file that came with a message. `id` addresses the download:
/// `/api/v1/tickets/{number}/attachments/{id}`.
#[derive(Debug, Clone, Serialize)]
pub struct Attachment {
    pub id: i64,
    /// The `id` of the message it came with.
    pub message_id: i64,
    pub filename: String,
    pub content_type: String,
    pub size_bytes: i64,
    /// Shown inside the HTML body (referenced there as `cid:` + `content_id`).
    pub inline: bool,
    pub content_id: Option<String>,
}

impl From<crate::tickets::AttachmentRow> for Attachment {
    fn from(a: crate::tickets::AttachmentRow) -> Self {
        Attachment {
            id: a.id,
            message_id: a.message_id,
            filename: a.filename,
            content_type: a.content_type,
            size_bytes: a.size_bytes,
            inline: a.inline,
            content_id: a.content_id,
        }
    }
}

/// What of an incoming mail could not be shown (an over-size attachment, a broken part, an
/// unknown charset); the original has it all.
#[derive(Debug, Clone, Serialize)]
pub struct MailProblem {
    /// The `id` of the message it concerns.
    pub message_id: i64,
    /// `oversize`, `bad_base64`, `truncated`, `charset` or `unreadable`.
    pub kind: String,
    pub filename: Option<String>,
    pub size_bytes: Option<i64>,
    /// For `charset`: the charset the mail declared (and, if another was used, `declared→used`).
    pub detail: Option<String>,
}

impl From<crate::mail::problems::ProblemRow> for MailProblem {
    fn from(p: crate::mail::problems::ProblemRow) -> Self {
        MailProblem {
            message_id: p.message_id,
            kind: p.kind,
            filename: p.filename,
            size_bytes: p.size_bytes,
            detail: p.detail,
        }
    }
}

/// A related ticket the caller may see: `{ "number": "…", "kind": "follow_up" }`.
#[derive(Debug, Clone, Serialize)]
pub struct Link {
    pub number: TicketNumber,
    pub kind: String,
}

impl From<(TicketNumber, String)> for Link {
    fn from((number, kind): (TicketNumber, String)) -> Self {
        Link { number, kind }
    }
}

/// One line of the ticket's history.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    /// `created`, `status_changed`, `assigned`, …
    pub kind: String,
    /// The user who did it; null for the system (mail intake, the SLA follower, …).
    pub actor_id: Option<i64>,
    pub details: serde_json::Value,
    pub created_at: Timestamp,
}

impl From<crate::tickets::Event> for Event {
    fn from(e: crate::tickets::Event) -> Self {
        Event {
            kind: e.kind,
            actor_id: e.actor_id,
            details: e.details,
            created_at: at(e.created_at),
        }
    }
}

/// `GET /api/v1/tickets/{number}`: the ticket with its contact, conversation and history.
#[derive(Debug, Clone, Serialize)]
pub struct TicketDetails {
    #[serde(flatten)]
    pub ticket: Ticket,
    pub contact: Option<Contact>,
    pub messages: Vec<Message>,
    pub attachments: Vec<Attachment>,
    pub mail_problems: Vec<MailProblem>,
    pub links: Vec<Link>,
    pub events: Vec<Event>,
    pub tags: Vec<String>,
    /// The ticket this one was merged into, if any (and visible).
    pub merged_into: Option<TicketNumber>,
    /// The contact's other tickets the caller may see, newest first.
    pub contact_tickets: Vec<Ticket>,
}

impl From<TicketDetail> for TicketDetails {
    fn from(d: TicketDetail) -> Self {
        fn all<A, B: From<A>>(v: Vec<A>) -> Vec<B> {
            v.into_iter().map(B::from).collect()
        }
        TicketDetails {
            ticket: d.ticket.into(),
            contact: d.contact.map(Contact::from),
            messages: all(d.messages),
            attachments: all(d.attachments),
            mail_problems: all(d.mail_problems),
            links: all(d.links),
            events: all(d.events),
            tags: d.tags,
            merged_into: d.merged_into,
            contact_tickets: all(d.contact_tickets),
        }
    }
}

/// Open tickets of a queue by status.
#[derive(Debug, Clone, Serialize)]
pub struct QueueCounts {
    pub new: i64,
    pub open: i64,
    pub waiting: i64,
}

/// One of the caller's queues (`GET /api/v1/queues`).
#[derive(Debug, Clone, Serialize)]
pub struct Queue {
    pub id: QueueId,
    pub slug: String,
    pub name: String,
    pub created_at: Timestamp,
    /// The caller's role in it (null for an administrator who is not a member).
    pub role: Option<MembershipRole>,
    pub counts: QueueCounts,
}

impl From<QueueSummary> for Queue {
    fn from(s: QueueSummary) -> Self {
        Queue {
            id: s.queue.id,
            slug: s.queue.slug,
            name: s.queue.name,
            created_at: at(s.queue.created_at),
            role: s.role,
            counts: QueueCounts {
                new: s.counts.new,
                open: s.counts.open,
                waiting: s.counts.waiting,
            },
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct QueueList {
    pub queues: Vec<Queue>,
}

impl From<Vec<QueueSummary>> for QueueList {
    fn from(v: Vec<QueueSummary>) -> Self {
        QueueList {
            queues: v.into_iter().map(Queue::from).collect(),
        }
    }
}

/// `GET /api/v1/me`: whom the token or session belongs to.
#[derive(Debug, Clone, Serialize)]
pub struct Me {
    /// Always a person through the API (the operator works at the command line).
    pub id: Option<UserId>,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub tenant: TenantId,
    pub scopes: Vec<&'static str>,
}

impl From<&Actor> for Me {
    fn from(a: &Actor) -> Self {
        Me {
            id: a.person(),
            email: a.email.clone(),
            name: a.name.clone(),
            role: a.role,
            tenant: a.tenant,
            scopes: a.scopes.iter().map(|s| s.as_str()).collect(),
        }
    }
}

/// Where the IMAP worker stands with a mailbox.
#[derive(Debug, Clone, Serialize)]
pub struct MailboxState {
    pub uidvalidity: Option<i64>,
    pub last_uid: i64,
    pub last_ok_at: Option<Timestamp>,
    pub last_error: Option<String>,
    /// The node that holds the mailbox's lease.
    pub worked_by: Option<String>,
}

impl From<crate::mail::mailboxes::MailboxState> for MailboxState {
    fn from(s: crate::mail::mailboxes::MailboxState) -> Self {
        MailboxState {
            uidvalidity: s.uidvalidity,
            last_uid: s.last_uid,
            last_ok_at: at_opt(s.last_ok_at),
            last_error: s.last_error,
            worked_by: s.lease_owner,
        }
    }
}

/// A function mailbox (`/api/v1/admin/mailboxes`). The password is never returned.
#[derive(Debug, Clone, Serialize)]
pub struct Mailbox {
    pub id: i64,
    pub address: String,
    /// The queue's slug.
    pub queue: String,
    pub imap_host: String,
    pub imap_port: i32,
    pub tls: String,
    pub imap_user: String,
    pub folder: String,
    pub after_import: String,
    pub processed_folder: String,
    pub reply_from: String,
    pub enabled: bool,
    /// Sends through SMTP settings of its own.
    pub own_smtp: bool,
    pub state: Option<MailboxState>,
}

impl From<crate::mail::mailboxes::MailboxRow> for Mailbox {
    fn from(r: crate::mail::mailboxes::MailboxRow) -> Self {
        let m = r.mailbox;
        Mailbox {
            id: m.id,
            address: m.address,
            queue: r.queue_slug,
            imap_host: m.imap_host,
            imap_port: m.imap_port,
            tls: m.imap_tls,
            imap_user: m.imap_user,
            folder: m.folder,
            after_import: m.after_import,
            processed_folder: m.processed_folder,
            reply_from: m.reply_from,
            enabled: m.enabled,
            own_smtp: m.smtp.is_some(),
            state: r.state.map(MailboxState::from),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct MailboxList {
    pub mailboxes: Vec<Mailbox>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_carry_the_utc_zone() {
        let n = chrono::NaiveDate::from_ymd_opt(2026, 12, 4)
            .unwrap()
            .and_hms_opt(9, 30, 0)
            .unwrap();
        assert_eq!(
            serde_json::to_value(at(n)).unwrap(),
            serde_json::json!("2026-12-04T09:30:00Z")
        );
    }
}

/// `GET /api/v1/stats/survey`: servicemätning per queue and month (D65).
#[derive(Debug, Clone, Serialize)]
pub struct SurveyReport {
    pub from_month: String,
    pub to_month: String,
    pub rows: Vec<SurveyRow>,
    pub comments: Vec<SurveyComment>,
    /// Under this many answers a row is marked `few`.
    pub few_answers: usize,
}

/// One SKR index 0–100 and its 95 % confidence interval (null with fewer than two answers).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct SurveyIndex {
    pub index: f64,
    pub low: Option<f64>,
    pub high: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SurveyRow {
    pub queue_id: i64,
    pub queue: String,
    pub month: String,
    pub answers: usize,
    pub bemotande: SurveyIndex,
    pub tydlighet: SurveyIndex,
    pub enkelhet: SurveyIndex,
    pub total: SurveyIndex,
    pub few: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct SurveyComment {
    pub queue: String,
    pub month: String,
    pub answered_at: Timestamp,
    pub matter: String,
    pub ticket: String,
    pub text: String,
}

impl From<crate::survey::IndexFigure> for SurveyIndex {
    fn from(f: crate::survey::IndexFigure) -> Self {
        SurveyIndex {
            index: f.index,
            low: f.low,
            high: f.high,
        }
    }
}

impl From<crate::survey::SurveyReport> for SurveyReport {
    fn from(r: crate::survey::SurveyReport) -> Self {
        SurveyReport {
            from_month: r.from_month,
            to_month: r.to_month,
            rows: r
                .rows
                .into_iter()
                .map(|x| SurveyRow {
                    queue_id: x.queue_id,
                    queue: x.queue,
                    month: x.month,
                    answers: x.answers,
                    bemotande: x.bemotande.into(),
                    tydlighet: x.tydlighet.into(),
                    enkelhet: x.enkelhet.into(),
                    total: x.total.into(),
                    few: x.few,
                })
                .collect(),
            comments: r
                .comments
                .into_iter()
                .map(|c| SurveyComment {
                    queue: c.queue,
                    month: c.month,
                    answered_at: at(c.answered_at),
                    matter: c.matter,
                    ticket: c.ticket,
                    text: c.text,
                })
                .collect(),
            few_answers: r.few_answers,
        }
    }
}
