//! The ticket domain: create, read, list, update, and add messages — each use case one transaction
//! that also writes the ticket's event history and, for replies, the outgoing mail to the outbox.

use chrono::{Datelike, NaiveDateTime};
use serde::Serialize;
use serde_json::json;

use crate::accounts::{Actor, Scope};
use crate::domain::FormatKind;
use crate::domain::Reason;
use crate::domain::{
    Channel, EmailAddress, IntakeChannel, InvalidValue, Language, MessageKind, Priority,
    QueueAccess, QueueId, Status, TenantId, TicketNumber, UserId, WaitingOn,
};
use crate::error::Conflict;
use crate::error::{Error, Result};
pub use crate::store::tickets::SlaFilter;
pub use crate::store::tickets::Sort;
use crate::store::tickets::{
    AssigneeFilter, Cursor, NewMessage, NewTicket, TicketChanges, TicketFilter,
};
/// A ticket, its messages, history events and attachments as the ticket capability hands them
/// out (read models; the JSON API has its own types in `web::api::types`).
pub use crate::store::tickets::{AttachmentRow, Event, Message, StoredAttachment, Ticket};
use crate::store::{self, Conn, Db};

pub mod actions;
pub mod breach;
pub mod canned;
pub mod contacts;
pub mod escalate;
pub mod knowledge;
pub mod live;
mod routed;
pub use routed::route_in_tx;
pub mod sms;
pub use crate::domain::tag as tags;
pub mod views;

pub const MAX_SUBJECT: usize = 300;
pub const MAX_BODY: usize = 200_000;

/// A subject line: trimmed, 1–300 characters, no control characters.
fn subject(s: &str) -> Result<String, InvalidValue> {
    let s: String = s.trim().chars().filter(|c| !c.is_control()).collect();
    if s.is_empty() {
        return Err(InvalidValue::new("subject", Reason::Empty));
    }
    if s.chars().count() > MAX_SUBJECT {
        return Err(InvalidValue::new(
            "subject",
            Reason::TooLong { max: MAX_SUBJECT },
        ));
    }
    Ok(s)
}

fn body(s: &str) -> Result<String, InvalidValue> {
    if s.trim().is_empty() {
        return Err(InvalidValue::new("body", Reason::Empty));
    }
    if s.chars().count() > MAX_BODY {
        return Err(InvalidValue::new("body", Reason::TooLong { max: MAX_BODY }));
    }
    Ok(s.replace("\r\n", "\n"))
}

/// The citizen a ticket is about, as given by a channel or an agent.
#[derive(Debug, Clone, Default)]
pub struct ContactInput {
    pub name: Option<String>,
    pub email: Option<EmailAddress>,
    pub phone: Option<crate::domain::PhoneNumber>,
    /// "email" or "sms"; defaults to e-mail when there is an address.
    pub preferred_channel: Option<Channel>,
    /// What to write to a new contact in; guessed from the first message when not given.
    pub language: Option<Language>,
}

#[derive(Debug, Clone)]
pub struct NewTicketInput {
    pub queue: QueueRef,
    pub subject: String,
    pub body: String,
    pub priority: Priority,
    pub channel: Channel,
    pub contact: ContactInput,
}

/// A queue as a caller names it: by id (the admin page shows it) or by its slug ("kundtjanst"),
/// which stays the same across installations and is what integrations are configured with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueRef {
    Id(i64),
    Slug(String),
}

impl QueueRef {
    /// The queue in `t`, if it exists there.
    fn find(&self, c: &mut Conn, t: TenantId) -> Result<Option<store::queues::Queue>> {
        Ok(match self {
            QueueRef::Id(id) => store::queues::lookup(c, t, *id)?,
            QueueRef::Slug(slug) => store::queues::by_slug(c, t, slug.trim())?,
        })
    }
}

/// What an agent records besides the ticket when registering a contact by hand ("Nytt ärende":
/// a phone call, a visit, a letter). The API leaves it at its default.
#[derive(Debug, Clone, Default)]
pub struct Registration {
    /// How the citizen got in touch; Some marks the ticket as registered by an agent (routing
    /// rules then leave it where the agent put it).
    pub intake: Option<IntakeChannel>,
    /// An existing contact of the municipality, picked while typing (instead of `contact`).
    pub contact_id: Option<i64>,
    /// An internal note stored with the first message.
    pub note: Option<String>,
    /// "Besvarat direkt": answered during the contact — resolved at once, counted as answered at
    /// first contact.
    pub answered_directly: bool,
    /// The knowledge-base article the answer came from.
    pub kb_article: Option<i64>,
    /// "Skicka bekräftelse": acknowledge the ticket to the citizen (e-mail or SMS).
    pub acknowledge: bool,
    /// Files that came with it (a scanned letter), already in the blob store.
    pub attachments: Vec<crate::store::tickets::StoredAttachment>,
}

/// Create a ticket with its first (inbound) message, as an API client.
pub async fn create(db: &Db, actor: &Actor, input: NewTicketInput) -> Result<Ticket> {
    create_registered(db, actor, input, Registration::default()).await
}

/// Create a ticket with its first (inbound) message — the one use case behind the API's
/// `POST /api/v1/tickets` and the workspace's "Nytt ärende" (which adds a `Registration`).
pub async fn create_registered(
    db: &Db,
    actor: &Actor,
    input: NewTicketInput,
    reg: Registration,
) -> Result<Ticket> {
    actor.require(Scope::TicketsWrite)?;
    let note = check_registration(&reg)?;
    let subject = subject(&input.subject)?;
    let body = body(&input.body)?;
    let preferred = preferred_channel(&input.contact)?;
    let (t, access, uid) = (actor.tenant, actor.queue_access(), actor.user()?);
    db.write(move |c| -> Result<Ticket> {
        let queue = input
            .queue
            .find(c, t)?
            .filter(|q| access.allows(q.id))
            .ok_or(Error::NotFound("queue"))?;
        let language = || {
            input
                .contact
                .language
                .unwrap_or_else(|| Language::of_citizen_text(&format!("{subject}\n{body}")))
        };
        let contact = contact_in_tx(c, t, &input.contact, reg.contact_id, preferred, language)?;
        let now = store::now();
        let ticket = open_ticket(
            c,
            t,
            OpenTicket {
                queue: queue.id,
                subject: &subject,
                priority: input.priority,
                channel: input.channel,
                contact_id: contact.as_ref().map(|c| c.id),
                mailbox: None,
                automatic: None,
                actor: Some(uid),
                now,
            },
        )?;
        let sender = contact.as_ref().and_then(|c| c.email.as_deref());
        let first = store::tickets::insert_message(
            c,
            t,
            ticket.id,
            NewMessage {
                kind: MessageKind::Inbound,
                author: None,
                from_addr: sender,
                to_addrs: "",
                cc_addrs: "",
                subject: &subject,
                body_text: &body,
                body_html: None,
                message_id: None,
                in_reply_to: None,
                references: None,
                raw_sha256: None,
                now,
            },
        )?;
        for f in &reg.attachments {
            store::tickets::insert_attachment(c, t, first.id, f, now)?;
        }
        // Tickets from e-services and web forms meet the routing rules as mail does; one an
        // agent registers (a phone call) goes where the agent put it.
        let ticket = if reg.intake.is_none() && matches!(input.channel, Channel::Web | Channel::Api)
        {
            let facts = crate::routing::Facts {
                queue: queue.id,
                sender,
                subject: &subject,
                text: &body,
            };
            route_in_tx(c, t, ticket, &facts, now)?
        } else {
            ticket
        };
        if let Some(channel) = reg.intake {
            return register_in_tx(
                c,
                t,
                uid,
                ticket,
                channel,
                &reg,
                note.as_deref(),
                contact.is_some(),
                now,
            );
        }
        tell_sms_contact_in_tx(c, t, &ticket, contact.as_ref(), now)?;
        Ok(ticket)
    })
    .await
}

/// Those who chose text messages hear by SMS that the ticket is registered.
fn tell_sms_contact_in_tx(
    c: &mut Conn,
    t: TenantId,
    ticket: &Ticket,
    contact: Option<&store::contacts::Contact>,
    now: NaiveDateTime,
) -> Result<()> {
    if contact.is_some_and(|c| c.preferred_channel == "sms") {
        crate::notify::citizen::enqueue(
            c,
            t,
            ticket,
            crate::notify::citizen::Event::Received,
            now,
        )?;
    }
    Ok(())
}

/// Check what an agent's registration adds (attachments, and that the channel comes with the
/// note, the direct answer and the acknowledgement); returns the note, checked, if there is one.
fn check_registration(reg: &Registration) -> Result<Option<String>> {
    let note = match reg.note.as_deref().map(str::trim) {
        Some(n) if !n.is_empty() => Some(body(n).map_err(|e| InvalidValue::new("note", e.reason))?),
        _ => None,
    };
    if reg.attachments.len() > MAX_ATTACHMENTS {
        return Err(InvalidValue::new(
            "attachments",
            Reason::TooManyFiles {
                max: MAX_ATTACHMENTS,
            },
        )
        .into());
    }
    if reg.intake.is_none() && (reg.answered_directly || reg.acknowledge || note.is_some()) {
        return Err(InvalidValue::new("channel", Reason::ChannelRequired).into());
    }
    if reg.answered_directly && reg.acknowledge {
        return Err(InvalidValue::new("acknowledge", Reason::AnsweredNotAcknowledged).into());
    }
    Ok(note)
}

/// The channel a new contact prefers, as stored: "sms" (which needs a phone) or "email".
fn preferred_channel(contact: &ContactInput) -> Result<&'static str> {
    Ok(match contact.preferred_channel {
        Some(Channel::Sms) if contact.phone.is_none() => {
            return Err(
                InvalidValue::new("contact.preferred_channel", Reason::SmsNeedsPhone).into(),
            );
        }
        Some(Channel::Sms) => "sms",
        Some(Channel::Email) | None => "email",
        Some(_) => {
            return Err(InvalidValue::new(
                "contact.preferred_channel",
                Reason::one_of(&["email", "sms"]),
            )
            .into());
        }
    })
}

/// The ticket's contact: the one picked (by id), else the one with the given address or phone
/// (created if new, in `language`), else none.
fn contact_in_tx(
    c: &mut Conn,
    t: TenantId,
    input: &ContactInput,
    picked: Option<i64>,
    preferred: &str,
    language: impl FnOnce() -> Language,
) -> Result<Option<store::contacts::Contact>> {
    if let Some(id) = picked {
        return Ok(Some(
            store::contacts::get(c, t, id)?.ok_or(Error::NotFound("contact"))?,
        ));
    }
    if input.email.is_none() && input.phone.is_none() {
        return Ok(None);
    }
    Ok(Some(store::contacts::find_or_create(
        c,
        t,
        input
            .name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty()),
        input.email.as_ref(),
        input.phone.as_ref(),
        preferred,
        language(),
    )?))
}

/// The agent's part of a registration, inside the transaction that created the ticket: the intake
/// record, the note, the answer given at once (resolved, first contact, the article used) or the
/// acknowledgement the citizen asked for; then the service-level clocks.
#[allow(clippy::too_many_arguments)]
fn register_in_tx(
    c: &mut Conn,
    t: TenantId,
    uid: UserId,
    ticket: Ticket,
    channel: IntakeChannel,
    reg: &Registration,
    note: Option<&str>,
    has_contact: bool,
    now: NaiveDateTime,
) -> Result<Ticket> {
    store::intake::insert(c, t, ticket.id, channel, reg.answered_directly, uid, now)?;
    store::tickets::insert_event(
        c,
        t,
        ticket.id,
        Some(uid),
        "registered_by_agent",
        &json!({ "channel": channel, "answered_directly": reg.answered_directly }),
        now,
    )?;
    if let Some(text) = note {
        apply_message(
            c,
            t,
            Some(uid),
            &ticket,
            NewMessageKind::Note,
            text,
            String::new(),
            &[],
        )?;
    }
    if reg.answered_directly {
        // Answered by a person during the contact: that is the first response, and the
        // ticket is resolved — no clock keeps running.
        let ch = TicketChanges {
            status: Some(Status::Resolved),
            first_response_at: Some(now),
            resolved_at: Some(Some(now)),
            ..Default::default()
        };
        store::tickets::update(c, t, ticket.id, &ch, now)?;
        store::tickets::insert_event(
            c,
            t,
            ticket.id,
            Some(uid),
            "status_changed",
            &json!({ "from": ticket.status, "to": Status::Resolved, "by": "answered_directly" }),
            now,
        )?;
        if let Some(article) = reg.kb_article {
            crate::kb::record_use(c, t, uid, ticket.id, article, now)?;
        }
        crate::survey::on_resolved_in_tx(c, t, &ticket, now)?;
    } else if reg.acknowledge {
        if !has_contact {
            return Err(InvalidValue::new("acknowledge", Reason::NoContactToAcknowledge).into());
        }
        crate::notify::citizen::enqueue_always(
            c,
            t,
            &ticket,
            crate::notify::citizen::Event::Received,
            now,
        )?;
    }
    crate::sla::engine::refresh(c, t, ticket.id, now.and_utc())?;
    Ok(store::tickets::get(c, t, ticket.id)?)
}

pub struct OpenTicket<'a> {
    pub queue: QueueId,
    pub subject: &'a str,
    pub priority: Priority,
    pub channel: Channel,
    pub contact_id: Option<i64>,
    pub mailbox: Option<i64>,
    /// Why the mail that opens it is automatic, if it is (no service-level clock: D56).
    pub automatic: Option<crate::domain::Automatic>,
    pub actor: Option<UserId>,
    pub now: NaiveDateTime,
}

/// Number and insert a new ticket and record its creation. For use inside a write transaction by
/// every channel (API, agent, mail intake).
pub fn open_ticket(c: &mut Conn, t: TenantId, o: OpenTicket<'_>) -> Result<Ticket> {
    let tenant = store::tenants::get(c, t)?;
    open_ticket_with_prefix(c, t, &tenant.ticket_prefix, o)
}

/// `open_ticket` for callers that already know the tenant's ticket prefix (batch intake).
pub fn open_ticket_with_prefix(
    c: &mut Conn,
    t: TenantId,
    prefix: &str,
    o: OpenTicket<'_>,
) -> Result<Ticket> {
    let year = o.now.year();
    let seq = store::tickets::next_sequence(c, t, year)?;
    let number = TicketNumber::new(prefix, year, seq)?;
    let ticket = store::tickets::insert(
        c,
        t,
        NewTicket {
            number: &number,
            subject: o.subject,
            status: Status::New,
            priority: o.priority,
            queue: o.queue,
            assignee: None,
            contact_id: o.contact_id,
            channel: o.channel,
            mailbox: o.mailbox,
            automatic: o.automatic,
            now: o.now,
        },
    )?;
    store::tickets::insert_event(
        c,
        t,
        ticket.id,
        o.actor,
        "created",
        &json!({ "queue": o.queue, "channel": o.channel, "priority": o.priority, "automatic": o.automatic }),
        o.now,
    )?;
    Ok(ticket)
}

#[derive(Debug, Clone, Serialize)]
pub struct TicketDetail {
    #[serde(flatten)]
    pub ticket: Ticket,
    pub contact: Option<store::contacts::Contact>,
    pub messages: Vec<store::tickets::Message>,
    pub attachments: Vec<store::tickets::AttachmentRow>,
    /// What of the incoming mails could not be shown (over-size attachments, broken parts).
    pub mail_problems: Vec<store::mail_problems::ProblemRow>,
    /// Related tickets: (number, kind) — only those the actor may see.
    pub links: Vec<(TicketNumber, String)>,
    pub events: Vec<store::tickets::Event>,
    pub tags: Vec<String>,
    /// The ticket this one was merged into, if any (and visible).
    pub merged_into: Option<TicketNumber>,
    /// The contact's other tickets the actor may see, newest first.
    pub contact_tickets: Vec<Ticket>,
}

pub(crate) fn find(
    c: &mut Conn,
    t: TenantId,
    access: &QueueAccess,
    number: &TicketNumber,
) -> Result<Ticket> {
    store::tickets::by_number(c, t, access, number)?.ok_or(Error::NotFound("ticket"))
}

/// A ticket with its conversation and history. Not found unless the actor can see its queue.
pub async fn get(db: &Db, actor: &Actor, number: TicketNumber) -> Result<TicketDetail> {
    actor.require(Scope::TicketsRead)?;
    let (t, access) = (actor.tenant, actor.queue_access());
    db.read(move |c| detail_in(c, t, &access, &number)).await
}

/// Everything the agent's ticket page shows from the database, read in one transaction so the
/// page is one consistent moment: a state never shows without the history line that goes with it.
pub struct TicketPage {
    pub detail: TicketDetail,
    pub escalations: Vec<crate::escalation::EscalationView>,
    /// Escalation targets the agent may choose: (id, name).
    pub targets: Vec<(i64, String)>,
    pub sms: Vec<store::sms::Sms>,
}

pub async fn page(db: &Db, actor: &Actor, number: TicketNumber) -> Result<TicketPage> {
    actor.require(Scope::TicketsRead)?;
    let (t, access) = (actor.tenant, actor.queue_access());
    db.read(move |c| -> Result<TicketPage> {
        let detail = detail_in(c, t, &access, &number)?;
        let (escalations, targets) = crate::escalation::for_ticket_in(c, t, detail.ticket.id)?;
        let sms = store::sms::of_ticket(c, t, detail.ticket.id)?;
        Ok(TicketPage {
            detail,
            escalations,
            targets,
            sms,
        })
    })
    .await
}

fn detail_in(
    c: &mut Conn,
    t: TenantId,
    access: &QueueAccess,
    number: &TicketNumber,
) -> Result<TicketDetail> {
    let ticket = find(c, t, access, number)?;
    let contact = match ticket.contact_id {
        Some(id) => store::contacts::get(c, t, id)?,
        None => None,
    };
    let mut links = vec![];
    let both_ways = store::mail::links(c, t, ticket.id)?
        .into_iter()
        .chain(store::workspace::linked_from(c, t, ticket.id)?);
    for (other, kind) in both_ways {
        let o = store::tickets::get(c, t, other)?;
        if access.allows(o.queue_id) && !links.iter().any(|(n, _)| *n == o.number) {
            links.push((o.number, kind));
        }
    }
    let merged_into = match ticket.merged_into_id {
        Some(id) => Some(store::tickets::get(c, t, id)?)
            .filter(|o| access.allows(o.queue_id))
            .map(|o| o.number),
        None => None,
    };
    let contact_tickets = match ticket.contact_id {
        Some(cid) => {
            let f = TicketFilter {
                contact_id: Some(cid),
                limit: 20,
                ..Default::default()
            };
            store::tickets::list(c, t, access, &f)?
                .0
                .into_iter()
                .filter(|o| o.id != ticket.id)
                .collect()
        }
        None => vec![],
    };
    Ok(TicketDetail {
        tags: store::workspace::tags(c, t, ticket.id)?,
        merged_into,
        contact_tickets,
        messages: store::tickets::messages(c, t, ticket.id)?,
        attachments: store::tickets::attachments(c, t, ticket.id)?,
        mail_problems: store::mail_problems::for_ticket(c, t, ticket.id)?,
        links,
        events: store::tickets::events(c, t, ticket.id)?,
        contact,
        ticket,
    })
}

#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub statuses: Vec<Status>,
    pub priority: Option<Priority>,
    pub queue: Option<i64>,
    /// "me", "none" or a user id.
    pub assignee: Option<String>,
    pub channel: Option<Channel>,
    pub tag: Option<String>,
    /// Only tickets at risk (warned or breached) or breached.
    pub sla: Option<SlaFilter>,
    /// Some(false): only tickets people wrote; Some(true): only those automatic mail opened.
    pub automatic: Option<bool>,
    pub sort: Sort,
    pub cursor: Option<String>,
    pub limit: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Page {
    pub tickets: Vec<Ticket>,
    pub next_cursor: Option<String>,
}

/// Cursors are opaque to clients: the sort key of the last row, base64-encoded.
fn encode_cursor(c: Cursor) -> String {
    use base64::Engine as _;
    let raw = match c {
        Cursor::Id(id) => format!("t{id}"),
        Cursor::Rank(r, id) => format!("r{r}.{id}"),
        Cursor::Time(at, id) => format!("u{}.{id}", at.and_utc().timestamp_micros()),
    };
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

fn decode_cursor(s: &str) -> Result<Cursor, InvalidValue> {
    use base64::Engine as _;
    let bad = || InvalidValue::new("cursor", Reason::Damaged);
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(bad)?;
    let pair = |rest: &str| -> Option<(i64, i64)> {
        let (a, b) = rest.split_once('.')?;
        Some((a.parse().ok()?, b.parse().ok()?))
    };
    let c = if let Some(rest) = raw.strip_prefix('t') {
        rest.parse().ok().map(Cursor::Id)
    } else if let Some(rest) = raw.strip_prefix('r') {
        pair(rest).and_then(|(r, id)| Some(Cursor::Rank(i32::try_from(r).ok()?, id)))
    } else if let Some(rest) = raw.strip_prefix('u') {
        pair(rest).and_then(|(us, id)| {
            Some(Cursor::Time(
                chrono::DateTime::from_timestamp_micros(us)?.naive_utc(),
                id,
            ))
        })
    } else {
        None
    };
    c.ok_or_else(bad)
}

/// Parse a sort name from a form or query string.
pub fn parse_sort(s: &str) -> Result<Sort, InvalidValue> {
    match s {
        "" | "newest" => Ok(Sort::Newest),
        "oldest" => Ok(Sort::Oldest),
        "urgent" => Ok(Sort::Urgent),
        "updated" => Ok(Sort::Updated),
        "due" => Ok(Sort::Due),
        other => Err(InvalidValue::new(
            "sort",
            Reason::not_one_of(other, &["newest", "oldest", "urgent", "updated", "due"]),
        )),
    }
}

/// `at_risk` (warned or breached) or `breached`; empty for any.
pub fn parse_sla_filter(s: &str) -> Result<Option<SlaFilter>, InvalidValue> {
    match s.trim() {
        "" => Ok(None),
        "at_risk" => Ok(Some(SlaFilter::AtRisk)),
        "breached" => Ok(Some(SlaFilter::Breached)),
        other => Err(InvalidValue::new(
            "sla",
            Reason::not_one_of(other, &["at_risk", "breached"]),
        )),
    }
}

pub async fn list(db: &Db, actor: &Actor, q: ListQuery) -> Result<Page> {
    actor.require(Scope::TicketsRead)?;
    let assignee = match q.assignee.as_deref() {
        None | Some("") => None,
        Some("me") => Some(AssigneeFilter::User(actor.user()?)),
        Some("none") => Some(AssigneeFilter::Nobody),
        Some(other) => {
            let raw: i64 = other.parse().map_err(|_| {
                InvalidValue::new("assignee", Reason::format(other, FormatKind::UserRef))
            })?;
            // Unknown ids simply match nothing.
            Some(AssigneeFilter::User(UserId::from_db(raw)))
        }
    };
    let after = q.cursor.as_deref().map(decode_cursor).transpose()?;
    let fits = matches!(
        (q.sort, after),
        (_, None)
            | (Sort::Newest | Sort::Oldest, Some(Cursor::Id(_)))
            | (Sort::Urgent, Some(Cursor::Rank(..)))
            | (Sort::Updated | Sort::Due, Some(Cursor::Time(..)))
    );
    if !fits {
        return Err(InvalidValue::new("cursor", Reason::CursorMismatch).into());
    }
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(InvalidValue::new("limit", Reason::Range { min: 1, max: 200 }).into());
    }
    let tag = q
        .tag
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(tags::parse)
        .transpose()?;
    let (t, access) = (actor.tenant, actor.queue_access());
    db.read(move |c| -> Result<Page> {
        let queue = match q.queue {
            Some(raw) => Some(
                store::queues::lookup(c, t, raw)?
                    .filter(|x| access.allows(x.id))
                    .ok_or(Error::NotFound("queue"))?
                    .id,
            ),
            None => None,
        };
        let filter = TicketFilter {
            statuses: q.statuses,
            priority: q.priority,
            queue,
            assignee,
            channel: q.channel,
            contact_id: None,
            tag,
            sla: q.sla.map(|f| (f, chrono::Utc::now().naive_utc())),
            automatic: q.automatic,
            sort: q.sort,
            after,
            limit,
        };
        let (tickets, next) = store::tickets::list(c, t, &access, &filter)?;
        Ok(Page {
            tickets,
            next_cursor: next.map(encode_cursor),
        })
    })
    .await
}

/// Would the list `q` show the ticket `number`? The list's own query, cut to that one ticket:
/// newest first from just above its id, one row (so an open list's live follower takes exactly
/// the rows the list query would).
pub async fn list_has(
    db: &Db,
    actor: &Actor,
    mut q: ListQuery,
    number: TicketNumber,
) -> Result<bool> {
    actor.require(Scope::TicketsRead)?;
    let (t, access) = (actor.tenant, actor.queue_access());
    let ticket = db.read(move |c| find(c, t, &access, &number)).await?;
    let id = ticket.id.get();
    // The "due" order shows only tickets with a due time; the cut-down query orders by id.
    if q.sort == Sort::Due && ticket.sla_due_at.is_none() {
        return Ok(false);
    }
    q.sort = Sort::Newest;
    q.cursor = Some(encode_cursor(Cursor::Id(id + 1)));
    q.limit = Some(1);
    let page = list(db, actor, q).await?;
    Ok(page.tickets.first().is_some_and(|t| t.id.get() == id))
}

#[derive(Debug, Clone, Default)]
pub struct UpdateInput {
    pub status: Option<Status>,
    /// Whom the ticket waits for (only with the status `waiting`; the citizen if left out).
    pub waiting_on: Option<WaitingOn>,
    pub priority: Option<Priority>,
    pub queue: Option<i64>,
    /// Some(None) unassigns.
    pub assignee: Option<Option<i64>>,
}

pub async fn update(
    db: &Db,
    actor: &Actor,
    number: TicketNumber,
    u: UpdateInput,
) -> Result<Ticket> {
    actor.require(Scope::TicketsWrite)?;
    let (t, access, uid) = (actor.tenant, actor.queue_access(), actor.user()?);
    db.write(move |c| -> Result<Ticket> {
        let ticket = find(c, t, &access, &number)?;
        if !apply_update(c, t, Some(uid), &ticket, &u)? {
            return Ok(ticket);
        }
        // The agent sees the service level follow the change at once (the follower would within
        // a second; replaying twice is harmless).
        crate::sla::engine::refresh(c, t, ticket.id, chrono::Utc::now())?;
        // Read back tenant-scoped: a transfer may take it out of the actor's queues, and then the
        // caller still gets the ticket as it now is so the change is visible.
        find(c, t, &QueueAccess::All, &number)
    })
    .await
}

/// Apply changes to a ticket inside a write transaction, recording an event per change. Returns
/// whether anything changed.
pub(crate) fn apply_update(
    c: &mut Conn,
    t: TenantId,
    actor: Option<UserId>,
    ticket: &Ticket,
    u: &UpdateInput,
) -> Result<bool> {
    let now = store::now();
    let mut ch = TicketChanges::default();
    let mut events: Vec<(&str, serde_json::Value)> = vec![];
    let status = u.status.unwrap_or(ticket.status);
    if u.waiting_on.is_some() && status != Status::Waiting {
        return Err(InvalidValue::new("waiting_on", Reason::WaitingOnNotWaiting).into());
    }
    let waiting_on = (status == Status::Waiting).then(|| {
        u.waiting_on
            .or(ticket.waiting_on)
            .unwrap_or(WaitingOn::Citizen)
    });
    if let Some(s) = u.status.filter(|s| *s != ticket.status) {
        ch.status = Some(s);
        ch.waiting_on = waiting_on;
        match s {
            Status::Resolved => ch.resolved_at = Some(Some(now)),
            Status::Closed => {
                ch.closed_at = Some(Some(now));
                if ticket.resolved_at.is_none() {
                    ch.resolved_at = Some(Some(now));
                }
            }
            _ => {
                ch.resolved_at = Some(None);
                ch.closed_at = Some(None);
            }
        }
        events.push((
            "status_changed",
            json!({ "from": ticket.status, "to": s, "waiting_on": waiting_on }),
        ));
        // The first resolution (closing an unresolved ticket resolves it too) may bring the
        // citizen's survey (D65), in this transaction.
        let resolves =
            s == Status::Resolved || (s == Status::Closed && ticket.resolved_at.is_none());
        if resolves {
            crate::survey::on_resolved_in_tx(c, t, ticket, now)?;
        }
        let tell = match s {
            Status::Resolved => Some(crate::notify::citizen::Event::Resolved),
            Status::Waiting if waiting_on == Some(WaitingOn::Citizen) => {
                Some(crate::notify::citizen::Event::Waiting)
            }
            _ => None,
        };
        if let Some(event) = tell {
            crate::notify::citizen::enqueue(c, t, ticket, event, now)?;
        }
    } else if waiting_on.is_some() && waiting_on != ticket.waiting_on {
        ch.waiting_on = waiting_on;
        events.push((
            "waiting_on_changed",
            json!({ "from": ticket.waiting_on, "to": waiting_on }),
        ));
    }
    if let Some(p) = u.priority.filter(|p| *p != ticket.priority) {
        ch.priority = Some(p);
        events.push((
            "priority_changed",
            json!({ "from": ticket.priority, "to": p }),
        ));
    }
    if let Some(raw) = u.queue {
        // Transfer to another department's queue: any queue of the tenant, member or not.
        let q = store::queues::lookup(c, t, raw)?.ok_or(Error::NotFound("queue"))?;
        if q.id != ticket.queue_id {
            ch.queue = Some(q.id);
            events.push((
                "queue_changed",
                json!({ "from": ticket.queue_id, "to": q.id }),
            ));
        }
    }
    if let Some(a) = u.assignee {
        let new = match a {
            Some(raw) => {
                let user = store::users::lookup(c, t, raw)?
                    .filter(|u| u.active)
                    .ok_or_else(|| InvalidValue::new("assignee", Reason::Choose))?;
                Some(user.id)
            }
            None => None,
        };
        if new != ticket.assignee_id {
            ch.assignee = Some(new);
            events.push(("assigned", json!({ "from": ticket.assignee_id, "to": new })));
        }
    }
    if events.is_empty() {
        return Ok(false);
    }
    store::tickets::update(c, t, ticket.id, &ch, now)?;
    for (kind, details) in &events {
        store::tickets::insert_event(c, t, ticket.id, actor, kind, details, now)?;
    }
    Ok(true)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NewMessageKind {
    /// An answer to the citizen: stored as outbound and mailed through the outbox.
    Reply,
    /// An internal note: never leaves Ärendo.
    Note,
}

/// Add a reply or an internal note. A reply goes to the contact's e-mail address via the outbox
/// (in the same transaction), marks the first response, and moves a new ticket to open.
pub async fn add_message(
    db: &Db,
    actor: &Actor,
    number: TicketNumber,
    kind: NewMessageKind,
    text: &str,
    mail_from: String,
) -> Result<store::tickets::Message> {
    let draft = Draft {
        kind,
        text: text.to_string(),
        attachments: vec![],
        seen_message: None,
        kb_articles: vec![],
        then_status: None,
    };
    match add_message_checked(db, actor, number, draft, mail_from).await? {
        Posted::Done(m) => Ok(*m),
        Posted::Stale { .. } => unreachable!("no staleness check without seen_message"),
    }
}

/// What an agent wrote, with the files they attached (already in the blob store).
#[derive(Debug, Clone)]
pub struct Draft {
    pub kind: NewMessageKind,
    pub text: String,
    pub attachments: Vec<crate::store::tickets::StoredAttachment>,
    /// The newest message id the agent had seen when they began writing. When a citizen has
    /// written since, the draft is not sent (`Posted::Stale`) unless this is None.
    pub seen_message: Option<i64>,
    /// Knowledge-base articles the reply was written from ("insert into reply"): recorded on the
    /// ticket with the reply. Ignored for notes.
    pub kb_articles: Vec<i64>,
    /// "Skicka och sätt status": the status the ticket takes once the message is stored, in the
    /// same transaction (None leaves it as the message left it).
    pub then_status: Option<(Status, Option<WaitingOn>)>,
}

#[derive(Debug)]
pub enum Posted {
    Done(Box<store::tickets::Message>),
    /// New inbound messages arrived since the agent began writing; nothing was stored.
    Stale {
        newer: usize,
    },
}

/// A citizen wrote on a ticket (mail reply, status page): a waiting, resolved or closed ticket
/// is open again, with a history event. Returns whether it was reopened (was resolved/closed).
pub(crate) fn open_for_citizen_message(
    c: &mut Conn,
    t: TenantId,
    tk: &Ticket,
    now: chrono::NaiveDateTime,
) -> Result<bool, store::StoreError> {
    if tk.status == Status::Open || tk.status == Status::New {
        return Ok(false);
    }
    let mut ch = TicketChanges {
        status: Some(Status::Open),
        ..Default::default()
    };
    let reopened = matches!(tk.status, Status::Resolved | Status::Closed);
    if reopened {
        ch.resolved_at = Some(None);
        ch.closed_at = Some(None);
    }
    store::tickets::update(c, t, tk.id, &ch, now)?;
    store::tickets::insert_event(
        c,
        t,
        tk.id,
        None,
        if reopened {
            "reopened"
        } else {
            "status_changed"
        },
        &json!({ "from": tk.status, "to": Status::Open, "by": "citizen_reply" }),
        now,
    )?;
    Ok(reopened)
}

/// Add a reply or note, unless the citizen wrote something the agent has not seen.
pub async fn add_message_checked(
    db: &Db,
    actor: &Actor,
    number: TicketNumber,
    draft: Draft,
    mail_from: String,
) -> Result<Posted> {
    actor.require(Scope::TicketsWrite)?;
    let text = body(&draft.text)?;
    if draft.attachments.len() > MAX_ATTACHMENTS {
        return Err(InvalidValue::new(
            "attachments",
            Reason::TooManyFiles {
                max: MAX_ATTACHMENTS,
            },
        )
        .into());
    }
    if draft.kind == NewMessageKind::Note && !draft.attachments.is_empty() {
        return Err(InvalidValue::new("attachments", Reason::NoteNoFiles).into());
    }
    let (t, access, uid) = (actor.tenant, actor.queue_access(), actor.user()?);
    db.write(move |c| -> Result<Posted> {
        let ticket = find(c, t, &access, &number)?;
        if let Some(seen) = draft.seen_message {
            let newer = store::tickets::messages(c, t, ticket.id)?
                .iter()
                .filter(|m| m.id > seen && m.kind == "inbound")
                .count();
            if newer > 0 {
                return Ok(Posted::Stale { newer });
            }
        }
        let msg = apply_message(
            c,
            t,
            Some(uid),
            &ticket,
            draft.kind,
            &text,
            mail_from,
            &draft.attachments,
        )?;
        let now = store::now();
        if draft.kind == NewMessageKind::Reply {
            for id in &draft.kb_articles {
                crate::kb::record_use(c, t, uid, ticket.id, *id, now)?;
            }
        }
        if let Some((status, waiting_on)) = draft.then_status {
            // As the message left the ticket (a reply may have opened it).
            let after = find(c, t, &access, &number)?;
            let u = UpdateInput {
                status: Some(status),
                waiting_on,
                ..Default::default()
            };
            if apply_update(c, t, Some(uid), &after, &u)? {
                crate::sla::engine::refresh(c, t, ticket.id, chrono::Utc::now())?;
            }
        }
        // Done writing: colleagues' "NN is writing" goes away now, not when the heartbeat expires.
        store::workspace::touch_presence(c, t, ticket.id, uid, now, now)?;
        Ok(Posted::Done(Box::new(msg)))
    })
    .await
}

pub const MAX_ATTACHMENTS: usize = 10;

/// Store a reply or note inside a write transaction; a reply also goes to the outbox. The story:
/// whom it goes to, from which mailbox, threaded under the citizen's latest mail; stored with its
/// files; a reply checked and queued as mail; the ticket's state, history and clocks updated.
#[allow(clippy::too_many_arguments)]
pub(crate) fn apply_message(
    c: &mut Conn,
    t: TenantId,
    uid: Option<UserId>,
    ticket: &Ticket,
    kind: NewMessageKind,
    text: &str,
    mail_from: String,
    files: &[StoredAttachment],
) -> Result<store::tickets::Message> {
    let now = store::now();
    let (mkind, to, subject) = match kind {
        NewMessageKind::Note => (MessageKind::Note, String::new(), String::new()),
        NewMessageKind::Reply => (
            MessageKind::Outbound,
            reply_recipient(c, t, ticket, now)?,
            format!("Re: {} [{}]", ticket.subject, ticket.number),
        ),
    };
    let outbound = mkind == MessageKind::Outbound;
    let mail_from = reply_sender(c, t, ticket, mail_from)?;
    let thread = Thread::under_latest_citizen_mail(c, t, ticket)?;
    let message_id =
        outbound.then(|| crate::delivery::mail::new_message_id(&ticket.number, &mail_from));
    let references = thread.references.join(" ");
    let msg = store::tickets::insert_message(
        c,
        t,
        ticket.id,
        NewMessage {
            kind: mkind,
            author: uid,
            from_addr: outbound.then_some(mail_from.as_str()),
            to_addrs: &to,
            cc_addrs: "",
            subject: &subject,
            body_text: text,
            body_html: None,
            message_id: message_id.as_deref(),
            in_reply_to: thread.in_reply_to.as_deref().filter(|_| outbound),
            references: (outbound && !references.is_empty()).then_some(references.as_str()),
            raw_sha256: None,
            now,
        },
    )?;
    for f in files {
        store::tickets::insert_attachment(c, t, msg.id, f, now)?;
    }
    let mut ch = TicketChanges::default();
    if outbound {
        // Internal routines never reach a citizen (D46).
        crate::kb::guard_reply(c, t, text)?;
        if ticket.first_response_at.is_none() {
            ch.first_response_at = Some(now);
        }
        if ticket.status == Status::New {
            ch.status = Some(Status::Open);
        }
        let mail = crate::delivery::mail::OutgoingMail {
            from: mail_from,
            to: vec![to],
            subject,
            text: text.to_string(),
            message_id,
            in_reply_to: thread.in_reply_to,
            references: thread.references,
            message_row: Some(msg.id),
            mailbox: ticket.mailbox_id,
            auto_submitted: false,
            attachments: files.iter().map(mail_attachment).collect(),
        };
        queue_mail(c, t, ticket, &mail, now)?;
    }
    store::tickets::update(c, t, ticket.id, &ch, now)?;
    store::tickets::insert_event(
        c,
        t,
        ticket.id,
        uid,
        match mkind {
            MessageKind::Note => "note_added",
            _ => "reply_sent",
        },
        &json!({ "message_id": msg.id, "attachments": files.len() }),
        now,
    )?;
    if outbound {
        // A reply meets a target: the badge shows it at once.
        crate::sla::engine::refresh(c, t, ticket.id, now.and_utc())?;
    }
    Ok(msg)
}

/// Where a reply goes: the contact's e-mail address. A contact who chose text messages is also
/// told by SMS that a reply came.
fn reply_recipient(
    c: &mut Conn,
    t: TenantId,
    ticket: &Ticket,
    now: NaiveDateTime,
) -> Result<String> {
    let contact = match ticket.contact_id {
        Some(id) => store::contacts::get(c, t, id)?,
        None => None,
    };
    if contact
        .as_ref()
        .is_some_and(|c| c.preferred_channel == "sms")
    {
        crate::notify::citizen::enqueue(
            c,
            t,
            ticket,
            crate::notify::citizen::Event::Answered,
            now,
        )?;
    }
    contact
        .and_then(|c| c.email)
        .ok_or(Error::Conflict(Conflict::NoContactEmail))
}

/// Replies go out from the function mailbox the ticket came in through.
fn reply_sender(c: &mut Conn, t: TenantId, ticket: &Ticket, fallback: String) -> Result<String> {
    Ok(match ticket.mailbox_id {
        Some(id) => store::mailboxes::get(c, t, id)?
            .map(|m| m.reply_from)
            .unwrap_or(fallback),
        None => fallback,
    })
}

/// The threading headers of a reply: under the citizen's latest mail.
struct Thread {
    in_reply_to: Option<String>,
    references: Vec<String>,
}

impl Thread {
    fn under_latest_citizen_mail(c: &mut Conn, t: TenantId, ticket: &Ticket) -> Result<Thread> {
        let history = store::tickets::messages(c, t, ticket.id)?;
        let last_in = history
            .iter()
            .rev()
            .find(|m| m.kind == "inbound" && m.message_id.is_some());
        let in_reply_to = last_in.and_then(|m| m.message_id.clone());
        let mut references: Vec<String> = last_in
            .and_then(|m| m.references_.clone())
            .map(|r| r.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default();
        references.extend(in_reply_to.clone());
        Ok(Thread {
            in_reply_to,
            references,
        })
    }
}

fn mail_attachment(f: &StoredAttachment) -> crate::delivery::mail::MailAttachment {
    crate::delivery::mail::MailAttachment {
        filename: f.filename.clone(),
        content_type: f.content_type.clone(),
        sha256: f.sha256.clone(),
    }
}

fn queue_mail(
    c: &mut Conn,
    t: TenantId,
    ticket: &Ticket,
    mail: &crate::delivery::mail::OutgoingMail,
    now: NaiveDateTime,
) -> Result<()> {
    store::outbox::enqueue(
        c,
        t,
        crate::delivery::mail::OUTBOX_KIND,
        &serde_json::to_value(mail).map_err(|e| Error::Internal(e.to_string()))?,
        Some(ticket.id),
        now,
    )?;
    Ok(())
}

/// An attachment's metadata and bytes, if its ticket is visible to the actor.
pub async fn attachment(
    db: &Db,
    blobs: &store::blobs::BlobStore,
    actor: &Actor,
    number: TicketNumber,
    id: i64,
) -> Result<(store::tickets::AttachmentRow, Vec<u8>)> {
    actor.require(Scope::TicketsRead)?;
    let (t, access) = (actor.tenant, actor.queue_access());
    let row = db
        .read(move |c| -> Result<_> {
            let ticket = find(c, t, &access, &number)?;
            let a = store::tickets::attachment(c, t, &access, id)?
                .ok_or(Error::NotFound("attachment"))?;
            let owner = store::tickets::messages(c, t, ticket.id)?
                .iter()
                .any(|m| m.id == a.message_id);
            if !owner {
                return Err(Error::NotFound("attachment"));
            }
            Ok(a)
        })
        .await?;
    let (blobs, sha) = (blobs.clone(), row.sha256.clone());
    let bytes = tokio::task::spawn_blocking(move || blobs.get(&sha))
        .await
        .map_err(|e| Error::Internal(e.to_string()))?
        .map_err(|e| Error::Internal(format!("attachment file: {e}")))?;
    Ok((row, bytes))
}

/// The original of a message as it arrived (its raw source, byte for byte, as `.eml`), with the
/// name to download it under. The same access as the ticket: not found unless the actor can see
/// the ticket and the message is on it and has a stored source.
pub async fn original_message(
    db: &Db,
    blobs: &store::blobs::BlobStore,
    actor: &Actor,
    number: TicketNumber,
    message: i64,
) -> Result<(String, Vec<u8>)> {
    actor.require(Scope::TicketsRead)?;
    let (t, access) = (actor.tenant, actor.queue_access());
    let (subject, sha) = db
        .read(move |c| -> Result<_> {
            let ticket = find(c, t, &access, &number)?;
            let m = store::tickets::messages(c, t, ticket.id)?
                .into_iter()
                .find(|m| m.id == message)
                .ok_or(Error::NotFound("message"))?;
            let sha = m.raw_sha256.ok_or(Error::NotFound("message"))?;
            Ok((m.subject, sha))
        })
        .await?;
    let blobs = blobs.clone();
    let bytes = tokio::task::spawn_blocking(move || blobs.get(&sha))
        .await
        .map_err(|e| Error::Internal(e.to_string()))?
        .map_err(|e| Error::Internal(format!("original message file: {e}")))?;
    Ok((crate::domain::text::eml_filename(&subject, message), bytes))
}
