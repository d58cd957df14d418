use actix_web::{HttpResponse, get, patch, post, web};
use serde::Deserialize;

use crate::domain::Reason;
use crate::domain::{
    Channel, EmailAddress, InvalidValue, PhoneNumber, Priority, Status, TicketNumber, WaitingOn,
};
use crate::error::Error;
use crate::tickets::{self, ContactInput, ListQuery, NewMessageKind, NewTicketInput, UpdateInput};
use crate::web::AppState;
use crate::web::auth::ApiActor;
use crate::web::errors::ApiError;

use super::types;

/// A ticket number from the path; malformed numbers are simply not found.
fn number(raw: &str) -> Result<TicketNumber, ApiError> {
    TicketNumber::parse(raw).map_err(|_| Error::NotFound("ticket").into())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// Comma-separated statuses, e.g. `new,open`.
    status: Option<String>,
    priority: Option<String>,
    queue: Option<i64>,
    assignee: Option<String>,
    channel: Option<String>,
    tag: Option<String>,
    /// newest (default), oldest, urgent or updated.
    /// `at_risk` or `breached` (service level).
    sla: Option<String>,
    /// `false`: only tickets people wrote; `true`: only those automatic mail opened.
    automatic: Option<bool>,
    sort: Option<String>,
    cursor: Option<String>,
    limit: Option<i64>,
}

/// GET /api/v1/tickets — newest first unless `sort` says otherwise, keyset-paginated with `cursor` = the previous `next_cursor`.
#[get("/tickets")]
pub async fn list(
    st: web::Data<AppState>,
    ApiActor(actor): ApiActor,
    q: web::Query<ListParams>,
) -> Result<HttpResponse, ApiError> {
    let q = q.into_inner();
    let statuses = q
        .status
        .as_deref()
        .map(|s| {
            s.split(',')
                .filter(|x| !x.trim().is_empty())
                .map(Status::parse)
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?
        .unwrap_or_default();
    let query = ListQuery {
        statuses,
        priority: q.priority.as_deref().map(Priority::parse).transpose()?,
        queue: q.queue,
        assignee: q.assignee,
        channel: q.channel.as_deref().map(Channel::parse).transpose()?,
        tag: q.tag,
        sla: tickets::parse_sla_filter(q.sla.as_deref().unwrap_or(""))?,
        automatic: q.automatic,
        sort: tickets::parse_sort(q.sort.as_deref().unwrap_or(""))?,
        cursor: q.cursor,
        limit: q.limit,
    };
    let page = tickets::list(&st.db, &actor, query).await?;
    Ok(HttpResponse::Ok().json(types::TicketPage::from(page)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContactBody {
    name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    preferred_channel: Option<String>,
    /// "sv" or "en"; guessed from the message when left out.
    language: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    /// The queue's id or its slug (`"kundtjanst"`).
    queue: QueueField,
    subject: String,
    body: String,
    priority: Option<String>,
    channel: Option<String>,
    contact: Option<ContactBody>,
}

/// `"queue": 3` or `"queue": "kundtjanst"`.
#[derive(Debug)]
enum QueueField {
    Id(i64),
    Slug(String),
}

impl<'de> Deserialize<'de> for QueueField {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = QueueField;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a queue id or slug")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<QueueField, E> {
                Ok(QueueField::Id(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<QueueField, E> {
                i64::try_from(v)
                    .map(QueueField::Id)
                    .map_err(|_| E::invalid_value(serde::de::Unexpected::Unsigned(v), &self))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<QueueField, E> {
                Ok(QueueField::Slug(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

fn contact(c: Option<ContactBody>) -> Result<ContactInput, InvalidValue> {
    let Some(c) = c else {
        return Ok(ContactInput::default());
    };
    let field = |f: &'static str, e: InvalidValue| InvalidValue::new(f, e.reason);
    Ok(ContactInput {
        name: c.name,
        email: c
            .email
            .as_deref()
            .filter(|s| !s.trim().is_empty())
            .map(EmailAddress::parse)
            .transpose()
            .map_err(|e| field("contact.email", e))?,
        phone: c
            .phone
            .as_deref()
            .filter(|s| !s.trim().is_empty())
            .map(PhoneNumber::parse)
            .transpose()
            .map_err(|e| field("contact.phone", e))?,
        preferred_channel: c
            .preferred_channel
            .as_deref()
            .map(Channel::parse)
            .transpose()
            .map_err(|e| field("contact.preferred_channel", e))?,
        language: c
            .language
            .as_deref()
            .map(crate::domain::Language::parse)
            .transpose()
            .map_err(|e| field("contact.language", e))?,
    })
}

/// POST /api/v1/tickets — 201 with the ticket; the first message is the body.
#[post("/tickets")]
pub async fn create(
    st: web::Data<AppState>,
    ApiActor(actor): ApiActor,
    body: super::json::ApiJson<CreateBody>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let input = NewTicketInput {
        queue: match b.queue {
            QueueField::Id(id) => tickets::QueueRef::Id(id),
            QueueField::Slug(s) => tickets::QueueRef::Slug(s),
        },
        subject: b.subject,
        body: b.body,
        priority: b
            .priority
            .as_deref()
            .map(Priority::parse)
            .transpose()?
            .unwrap_or(Priority::Normal),
        channel: b
            .channel
            .as_deref()
            .map(Channel::parse)
            .transpose()?
            .unwrap_or(Channel::Api),
        contact: contact(b.contact)?,
    };
    let ticket = tickets::create(&st.db, &actor, input).await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/tickets/{}", ticket.number)))
        .json(types::Ticket::from(ticket)))
}

/// GET /api/v1/tickets/{number} — the ticket with contact, messages and event history.
#[get("/tickets/{number}")]
pub async fn get(
    st: web::Data<AppState>,
    ApiActor(actor): ApiActor,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let detail = tickets::get(&st.db, &actor, number(&path)?).await?;
    Ok(HttpResponse::Ok().json(types::TicketDetails::from(detail)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateBody {
    status: Option<String>,
    /// `citizen` or `external`, with the status `waiting`.
    waiting_on: Option<String>,
    priority: Option<String>,
    queue: Option<i64>,
    /// A user id, or null to unassign. Leave out to keep.
    #[serde(default, deserialize_with = "present")]
    assignee: Option<Option<i64>>,
}

/// Distinguish `"assignee": null` (unassign) from a missing field (keep).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<i64>>, D::Error> {
    Ok(Some(Option::<i64>::deserialize(d)?))
}

/// PATCH /api/v1/tickets/{number} — change status, priority, queue (transfer) or assignee.
#[patch("/tickets/{number}")]
pub async fn update(
    st: web::Data<AppState>,
    ApiActor(actor): ApiActor,
    path: web::Path<String>,
    body: super::json::ApiJson<UpdateBody>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let input = UpdateInput {
        status: b.status.as_deref().map(Status::parse).transpose()?,
        waiting_on: b.waiting_on.as_deref().map(WaitingOn::parse).transpose()?,
        priority: b.priority.as_deref().map(Priority::parse).transpose()?,
        queue: b.queue,
        assignee: b.assignee,
    };
    let ticket = tickets::update(&st.db, &actor, number(&path)?, input).await?;
    Ok(HttpResponse::Ok().json(types::Ticket::from(ticket)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageBody {
    /// `reply` (mailed to the contact) or `note` (internal).
    kind: String,
    body: String,
}

/// POST /api/v1/tickets/{number}/messages — add a reply or an internal note.
#[post("/tickets/{number}/messages")]
pub async fn add_message(
    st: web::Data<AppState>,
    ApiActor(actor): ApiActor,
    path: web::Path<String>,
    body: super::json::ApiJson<MessageBody>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let kind = match b.kind.as_str() {
        "reply" => NewMessageKind::Reply,
        "note" => NewMessageKind::Note,
        _ => return Err(InvalidValue::new("kind", Reason::one_of(&["reply", "note"])).into()),
    };
    let msg = tickets::add_message(
        &st.db,
        &actor,
        number(&path)?,
        kind,
        &b.body,
        st.settings.mail.from.clone(),
    )
    .await?;
    Ok(HttpResponse::Created().json(types::Message::from(msg)))
}

/// GET /api/v1/tickets/{number}/attachments/{id} — the file, byte for byte, always as a download
/// that cannot act in our origin (`web::download`: inert type, sandbox, RFC 6266 name).
#[get("/tickets/{number}/attachments/{id}")]
pub async fn attachment(
    st: web::Data<AppState>,
    ApiActor(actor): ApiActor,
    path: web::Path<(String, i64)>,
) -> Result<HttpResponse, ApiError> {
    let (n, id) = path.into_inner();
    let (row, bytes) = tickets::attachment(&st.db, &st.blobs, &actor, number(&n)?, id).await?;
    Ok(crate::web::download::file_response(
        &row.filename,
        &row.content_type,
        bytes,
    ))
}

/// GET /api/v1/tickets/{number}/messages/{id}/original — the message as it arrived (raw source,
/// `.eml`), for anyone who may read the ticket; served inert like every stored file.
#[get("/tickets/{number}/messages/{id}/original")]
pub async fn original(
    st: web::Data<AppState>,
    ApiActor(actor): ApiActor,
    path: web::Path<(String, i64)>,
) -> Result<HttpResponse, ApiError> {
    let (n, id) = path.into_inner();
    let (name, bytes) =
        tickets::original_message(&st.db, &st.blobs, &actor, number(&n)?, id).await?;
    Ok(crate::web::download::file_response(
        &name,
        "message/rfc822",
        bytes,
    ))
}
