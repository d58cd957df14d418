//! "Nytt ärende": an agent registers a contact that did not come by mail — a phone call, a visit
//! at the desk, a letter — through the same use case as the API's `POST /api/v1/tickets`
//! (`tickets::create_registered`). A refused form comes back with every input kept.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::accounts::Actor;
use crate::domain::FormatKind;
use crate::domain::Reason;
use crate::domain::{
    ArticleStatus, Channel, EmailAddress, IntakeChannel, InvalidValue, PhoneNumber, Priority,
};
use crate::error::Error;
use crate::text::Templates;
use crate::tickets::{self, ContactInput, NewTicketInput, Registration, views};
use crate::web::AppState;
use crate::web::auth::{PageActor, form_trusted};
use crate::web::errors::{Failure, PageError};
use crate::web::pages::{page_locale, render};
use crate::web::uploads::{self, UploadError};

/// What the agent typed, kept to show the form again.
#[derive(Debug, Clone, Default, Serialize)]
struct Kept {
    channel: String,
    queue: String,
    subject: String,
    body: String,
    note: String,
    priority: String,
    contact_id: String,
    contact_label: String,
    contact_name: String,
    contact_email: String,
    contact_phone: String,
    preferred: String,
    answered: bool,
    kb_article: String,
    acknowledge: bool,
}

impl Kept {
    fn from_fields(up: &uploads::Upload) -> Kept {
        let s = |n: &str| up.get(n).to_string();
        Kept {
            channel: s("channel"),
            queue: s("queue"),
            subject: s("subject"),
            body: s("body"),
            note: s("note"),
            priority: s("priority"),
            contact_id: s("contact_id"),
            contact_label: s("contact_label"),
            contact_name: s("contact_name"),
            contact_email: s("contact_email"),
            contact_phone: s("contact_phone"),
            preferred: s("preferred"),
            answered: up.get("answered") == "1",
            kb_article: s("kb_article"),
            acknowledge: up.get("acknowledge") == "1",
        }
    }

    /// The use case's input; a value that does not parse names its field.
    fn input(&self) -> Result<(NewTicketInput, Registration), InvalidValue> {
        let channel = IntakeChannel::parse(&self.channel)
            .map_err(|_| InvalidValue::new("channel", Reason::Choose))?;
        let queue = self
            .queue
            .trim()
            .parse::<i64>()
            .map_err(|_| InvalidValue::new("queue", Reason::Choose))?;
        let priority = match self.priority.trim() {
            "" => Priority::Normal,
            p => Priority::parse(p)?,
        };
        let opt = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
        let contact_id = match opt(&self.contact_id) {
            Some(id) => Some(
                id.parse::<i64>()
                    .map_err(|_| InvalidValue::new("contact", Reason::Choose))?,
            ),
            None => None,
        };
        let contact = if contact_id.is_some() {
            ContactInput::default()
        } else {
            ContactInput {
                name: opt(&self.contact_name),
                email: opt(&self.contact_email)
                    .map(|e| EmailAddress::parse(&e))
                    .transpose()
                    .map_err(|_| {
                        InvalidValue::new(
                            "contact.email",
                            Reason::format(self.contact_email.trim(), FormatKind::Email),
                        )
                    })?,
                phone: opt(&self.contact_phone)
                    .map(|p| PhoneNumber::parse(&p))
                    .transpose()
                    .map_err(|_| {
                        InvalidValue::new(
                            "contact.phone",
                            Reason::format(self.contact_phone.trim(), FormatKind::Phone),
                        )
                    })?,
                preferred_channel: match self.preferred.trim() {
                    "sms" => Some(Channel::Sms),
                    _ => None,
                },
                language: None,
            }
        };
        let kb_article = match opt(&self.kb_article) {
            Some(a) if self.answered => Some(
                a.parse::<i64>()
                    .map_err(|_| InvalidValue::new("kb_article", Reason::Choose))?,
            ),
            _ => None,
        };
        // The ticket's own channel (tickets.channel) keeps its vocabulary; a visit or a letter
        // is a contact an agent took, as a phone call is (D53).
        let ticket_channel = match channel {
            IntakeChannel::Email => Channel::Email,
            IntakeChannel::Sms => Channel::Sms,
            IntakeChannel::Phone | IntakeChannel::Visit | IntakeChannel::Letter => Channel::Phone,
        };
        Ok((
            NewTicketInput {
                queue: crate::tickets::QueueRef::Id(queue),
                subject: self.subject.clone(),
                body: self.body.clone(),
                priority,
                channel: ticket_channel,
                contact,
            },
            Registration {
                intake: Some(channel),
                contact_id,
                note: opt(&self.note),
                answered_directly: self.answered,
                kb_article,
                acknowledge: self.acknowledge && !self.answered,
                attachments: vec![],
            },
        ))
    }
}

/// The message for a refused form, from the page's locale texts (field by field), and the field.
fn message(e: Error, locale: &str) -> (String, Option<&'static str>) {
    let t = Templates::get();
    let field = match &e {
        Error::Invalid(v) => Some(v.field),
        Error::NotFound("queue") => Some("queue"),
        Error::NotFound("contact") => Some("contact"),
        Error::NotFound("article") => Some("kb_article"),
        _ => None,
    };
    if let Some(f) = field {
        let key = format!("new_ticket.error.{f}");
        let text = t.text(locale, &key);
        if text != key {
            return (text, Some(f));
        }
    }
    (Failure::Domain(e).message(locale), field)
}

async fn form_page(
    req: &HttpRequest,
    st: &AppState,
    actor: &Actor,
    status: StatusCode,
    kept: Kept,
    error: Option<(String, Option<&'static str>)>,
) -> Result<HttpResponse, PageError> {
    let locale = page_locale(Some(actor), req);
    let t = Templates::get();
    let queues: Vec<_> = views::queues(&st.db, actor)
        .await?
        .into_iter()
        .filter(|q| q.mine)
        .map(|q| {
            let id = q.id.get().to_string();
            json!({ "selected": id == kept.queue, "id": id, "name": q.name })
        })
        .collect();
    let articles: Vec<_> = crate::kb::list(&st.db, actor, Some(ArticleStatus::Published))
        .await?
        .into_iter()
        .map(|a| {
            let id = a.id.to_string();
            json!({ "selected": id == kept.kb_article, "id": id, "title": a.title })
        })
        .collect();
    let channel = if kept.channel.is_empty() {
        "phone"
    } else {
        kept.channel.as_str()
    };
    let channels: Vec<_> = IntakeChannel::ALL
        .iter()
        .map(|c| {
            json!({
                "value": c.as_str(),
                "label": t.text(locale, &format!("new_ticket.channel.{c}")),
                "checked": c.as_str() == channel,
            })
        })
        .collect();
    let priority = if kept.priority.is_empty() {
        "normal"
    } else {
        kept.priority.as_str()
    };
    let priorities: Vec<_> = Priority::ALL
        .iter()
        .map(|p| {
            json!({
                "value": p.as_str(),
                "label": t.text(locale, &format!("priority.{p}")),
                "selected": p.as_str() == priority,
            })
        })
        .collect();
    let (error, error_field) = match error {
        Some((m, f)) => (Some(m), f),
        None => (None, None),
    };
    render(
        req,
        Some(actor),
        status,
        "new_ticket",
        json!({
            "title": t.text(locale, "new_ticket.title"),
            "nav": "new",
            "kept": kept,
            "queues": queues,
            "articles": articles,
            "channels": channels,
            "priorities": priorities,
            "error": error,
            "focus": focus(error_field),
            "preferred_sms": kept.preferred == "sms",
        }),
    )
}

/// The element to put the cursor in: the field that was refused, else the channel.
fn focus(field: Option<&str>) -> &'static str {
    match field {
        Some("queue") => "nt-queue",
        Some("subject") => "nt-subject",
        Some("body") => "nt-body",
        Some("note") => "nt-note",
        Some("contact.email") => "nt-email",
        Some("contact.phone") => "nt-phone",
        Some("contact.preferred_channel") => "nt-preferred",
        Some("contact") => "nt-name",
        Some("acknowledge") => "nt-ack",
        Some("kb_article") => "nt-kb",
        Some("attachments") => "nt-files",
        _ => "nt-channel",
    }
}

/// The empty form.
#[get("/tickets/new")]
pub async fn form(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
) -> Result<HttpResponse, PageError> {
    form_page(&req, &st, &actor, StatusCode::OK, Kept::default(), None).await
}

/// Register the ticket; on success to the new ticket, else the form again with what was typed.
#[post("/tickets/new")]
pub async fn create(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
    body: actix_multipart::Multipart,
) -> Result<HttpResponse, PageError> {
    let up = match uploads::read(body, "files").await {
        Ok(up) => up,
        Err(UploadError::TooBig(v)) => return Err(Failure::from(v).into()),
        Err(UploadError::Broken(f)) => return Err(f.into()),
    };
    if !form_trusted(&req, up.get("csrf")) {
        return Err(Failure::Csrf.into());
    }
    crate::web::input::refuse_controls(&up.fields)?;
    let locale = page_locale(Some(&actor), &req);
    let kept = Kept::from_fields(&up);
    let (input, mut reg) = match kept.input() {
        Ok(x) => x,
        Err(v) => {
            let m = message(Error::Invalid(v), locale);
            return form_page(
                &req,
                &st,
                &actor,
                StatusCode::UNPROCESSABLE_ENTITY,
                kept,
                Some(m),
            )
            .await;
        }
    };
    reg.attachments = uploads::store(&st.blobs, up.files).await?;
    let answered = reg.answered_directly;
    match tickets::create_registered(&st.db, &actor, input, reg).await {
        Ok(ticket) => Ok(HttpResponse::SeeOther()
            .insert_header((
                header::LOCATION,
                format!(
                    "/tickets/{}?ok={}",
                    ticket.number,
                    if answered {
                        "registered_answered"
                    } else {
                        "registered"
                    }
                ),
            ))
            .finish()),
        Err(e @ (Error::Invalid(_) | Error::NotFound(_) | Error::Conflict(_))) => {
            let m = message(e, locale);
            form_page(
                &req,
                &st,
                &actor,
                StatusCode::UNPROCESSABLE_ENTITY,
                kept,
                Some(m),
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct ContactQuery {
    #[serde(default)]
    q: String,
}

/// `GET /contacts/search?q=…` — the municipality's contacts matching what the agent types (JSON,
/// for the contact combobox on "Nytt ärende").
#[get("/contacts/search")]
pub async fn contact_search(
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
    q: web::Query<ContactQuery>,
) -> Result<HttpResponse, PageError> {
    let found = tickets::contacts::find(&st.db, &actor, &q.q).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(found))
}
