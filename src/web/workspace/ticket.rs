//! The ticket view and everything an agent does on it.

use std::collections::HashMap;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Names, age, local_time, row};
use crate::accounts::Actor;
use crate::domain::Reason;
use crate::domain::{InvalidValue, Priority, TicketNumber};
use crate::error::Error;
use crate::text::Templates;
use crate::tickets::{self, Draft, NewMessageKind, Posted, UpdateInput, actions, canned, views};
use crate::web::AppState;
use crate::web::auth::{CsrfForm, HasCsrf, PageActor, form_trusted};
use crate::web::errors::{Failure, PageError};
use crate::web::pages::{page_locale, render};

/// The ticket page with a text message being written: its parts shown (`shape`), or the reason
/// it was refused (`error`, status 422).
pub async fn page_with_sms_draft(
    req: &HttpRequest,
    st: &AppState,
    actor: &Actor,
    n: TicketNumber,
    text: &str,
    shape: Option<crate::notify::sms_text::Shape>,
    error: Option<String>,
) -> Result<HttpResponse, PageError> {
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let extra = Extra {
        sms_text: text.to_string(),
        sms_shape: shape,
        sms_error: error,
        ..Default::default()
    };
    page(req, st, actor, n, status, extra).await
}

/// What a re-rendered ticket page carries besides the ticket: a message, a kept draft.
#[derive(Default)]
struct Extra {
    error: Option<String>,
    draft_text: String,
    draft_kind: &'static str,
    stale: Option<usize>,
    images_for: Option<i64>,
    ok: Option<String>,
    /// What was typed in the knowledge-base panel's search box.
    kb_query: Option<String>,
    /// Articles whose text is in the reply draft ("insert into reply").
    kb_articles: Vec<i64>,
    /// A text message being written, with its parts when previewed, or why it was refused.
    sms_text: String,
    sms_shape: Option<crate::notify::sms_text::Shape>,
    sms_error: Option<String>,
    /// What was typed in the link or merge box, and why it was refused (shown next to it).
    link_other: String,
    link_error: Option<String>,
    merge_other: String,
    merge_error: Option<String>,
}

fn event_text(
    e: &crate::tickets::Event,
    names: &Names,
    locale: &str,
    people_by_raw: &dyn Fn(Option<i64>) -> Option<String>,
) -> String {
    let t = Templates::get();
    let d = &e.details;
    let s = |k: &str| d.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
    let status = |k: &str| {
        let v = s(k);
        if v.is_empty() {
            return v;
        }
        // A status change to waiting says whom the ticket waits for.
        let v = match (k, v.as_str(), d.get("waiting_on").and_then(|w| w.as_str())) {
            ("to", "waiting", Some(w)) => format!("waiting_{w}"),
            _ => v,
        };
        t.text(locale, &format!("status.one.{v}"))
    };
    let waiting = |k: &str| t.text(locale, &format!("status.one.waiting_{}", s(k)));
    let target = |k: &str| t.text(locale, &format!("sla.target.{}", s(k)));
    let priority = |k: &str| t.text(locale, &format!("priority.{}", s(k)));
    let queue = |k: &str| {
        d.get(k)
            .and_then(|v| v.as_i64())
            .map(|q| {
                names
                    .queues
                    .iter()
                    .find(|(id, _)| id.get() == q)
                    .map(|(_, n)| n.clone())
                    .unwrap_or_default()
            })
            .unwrap_or_default()
    };
    let person = |k: &str| {
        people_by_raw(d.get(k).and_then(|v| v.as_i64()))
            .unwrap_or_else(|| t.text(locale, "ticket.nobody"))
    };
    let key = format!("event.{}", e.kind);
    let mut text = t.text(locale, &key);
    if text == key {
        text = t.text(locale, "event.other").replace("{kind}", &e.kind);
    }
    text.replace("{from_status}", &status("from"))
        .replace("{to_status}", &status("to"))
        .replace("{from_priority}", &priority("from"))
        .replace("{to_priority}", &priority("to"))
        .replace("{from_queue}", &queue("from"))
        .replace("{to_queue}", &queue("to"))
        .replace("{to_person}", &person("to"))
        .replace("{ticket}", &s("ticket"))
        .replace("{tag}", &s("tag"))
        .replace("{rule}", &s("rule"))
        .replace("{fields}", &changed_fields(d, locale))
        .replace("{error}", &s("error"))
        .replace("{from_waiting}", &waiting("from"))
        .replace("{to_waiting}", &waiting("to"))
        .replace("{target}", &target("target"))
        .replace("{article}", &s("title"))
        .replace("{system}", &s("target"))
        .replace("{to}", &s("to"))
        .replace(
            "{segments}",
            &d.get("segments")
                .and_then(|v| v.as_i64())
                .unwrap_or(0)
                .to_string(),
        )
        .replace("{case_number}", &s("case_number"))
        .replace(
            "{sms_reported}",
            &t.text(locale, &format!("sms.status.{}", s("reported"))),
        )
        .replace(
            "{sms_kept}",
            &t.text(locale, &format!("sms.status.{}", s("kept"))),
        )
        .replace("{problems}", &mail_problems(d, locale))
        .replace("{host}", &s("host"))
        .replace("{address}", &s("address"))
        .replace(
            "{blocked}",
            &t.text(locale, &format!("egress.blocked.{}", s("blocked"))),
        )
        .replace(
            "{attempt}",
            &d.get("attempt")
                .and_then(|v| v.as_i64())
                .unwrap_or(0)
                .to_string(),
        )
}

/// contact_changed: which details, the language by name.
fn changed_fields(d: &Value, locale: &str) -> String {
    let t = Templates::get();
    let s = |k: &str| d.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
    let language = t.text(locale, &format!("contact.language.{}", s("language")));
    d.get("changed")
        .and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|f| f.as_str())
                .map(|f| {
                    t.text(locale, &format!("contact.field.{f}"))
                        .replace("{language}", &language)
                })
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

/// mail_problems: what of the mail could not be shown, each from its locale key.
fn mail_problems(d: &Value, locale: &str) -> String {
    d.get("problems")
        .and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .map(|p| {
                    let f = |k: &str| p.get(k).and_then(|v| v.as_str());
                    crate::mail::display::problem_text(
                        locale,
                        f("kind").unwrap_or(""),
                        f("filename"),
                        p.get("size_bytes").and_then(|v| v.as_i64()),
                        f("detail"),
                    )
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}

async fn page(
    req: &HttpRequest,
    st: &AppState,
    actor: &Actor,
    number: TicketNumber,
    status: StatusCode,
    extra: Extra,
) -> Result<HttpResponse, PageError> {
    let locale = page_locale(Some(actor), req);
    let tp = tickets::page(&st.db, actor, number.clone()).await?;
    let d = &tp.detail;
    let queues = views::queues(&st.db, actor).await?;
    let people = views::people(&st.db, actor).await?;
    let names = Names::new(&queues, &people);
    let canned = canned::for_ticket(&st.db, actor, number.clone()).await?;
    let writers = actions::writers(&st.db, actor, number.clone()).await?;
    let remote_allowed = extra
        .images_for
        .is_some_and(|id| d.messages.iter().any(|m| m.id == id));
    let messages: Vec<Value> = d
        .messages
        .iter()
        .map(|m| message_view(m, d, &names, extra.images_for == Some(m.id), false))
        .collect();
    let events = events_view(d, &names, locale);
    let kb = crate::web::kb::ticket_panel(st, actor, d, extra.kb_query.as_deref()).await?;
    let tk = &d.ticket;
    let data = json!({
        "nav": "list",
        "ticket": ticket_view(d, &names, actor, locale),
        "contact": d.contact.as_ref().map(|c| json!({
            "name": c.name, "email": c.email, "phone": c.phone,
            "preferred": c.preferred_channel,
            "language": c.language,
        })),
        "sla": super::sla_view(&names, tk),
        "can_reply": d.contact.as_ref().is_some_and(|c| c.email.is_some()),
        "contact_tickets": d.contact_tickets.iter().map(|t| row(t, &names, locale)).collect::<Vec<_>>(),
        "messages": messages,
        "last_message_id": d.messages.last().map(|m| m.id).unwrap_or(0),
        "events": events,
        "tags": d.tags,
        "links": d.links.iter().map(|(n, k)| json!({ "number": n, "kind": k })).collect::<Vec<_>>(),
        "queues": queues.iter().filter(|q| q.id != tk.queue_id).map(|q| json!({ "id": q.id, "name": q.name, "mine": q.mine })).collect::<Vec<_>>(),
        "people": people.iter().filter(|p| p.active).map(|p| json!({
            "id": p.id, "name": p.name, "selected": Some(p.id) == tk.assignee_id,
        })).collect::<Vec<_>>(),
        "statuses": super::status_choices(tk.status, tk.waiting_on),
        "priorities": Priority::ALL.iter().map(|p| json!({ "value": p, "selected": *p == tk.priority })).collect::<Vec<_>>(),
        "canned": canned.iter().map(|c| json!({ "id": c.id, "title": c.title })).collect::<Vec<_>>(),
        "writers": writers,
        "error": extra.error,
        "ok": extra.ok,
        "stale": extra.stale,
        "draft": { "text": extra.draft_text, "note": extra.draft_kind == "note", "kb": extra.kb_articles },
        "kb": kb,
        "escalations": escalations_view(&tp.escalations),
        "escalation_targets": tp.targets.iter().map(|(id, name)| json!({ "id": id, "name": name })).collect::<Vec<_>>(),
        "diarienummer": tp.escalations.iter().rev().find_map(|e| e.case_number.clone()),
        "sms": sms_view(&tp, &extra),
    });
    // The link and merge boxes keep what was typed; the tenant keys the browser's reply draft.
    let mut data = data;
    data["tenant"] = json!(actor.tenant);
    data["link_other"] = json!(extra.link_other);
    data["link_error"] = json!(extra.link_error);
    data["merge_other"] = json!(extra.merge_other);
    data["merge_error"] = json!(extra.merge_error);
    let mut resp = render(req, Some(actor), status, "ticket", data)?;
    if remote_allowed {
        allow_remote_images(&mut resp);
    }
    Ok(resp)
}

/// The agent asked for this mail's remote images: allow images from anywhere on this page.
fn allow_remote_images(resp: &mut HttpResponse) {
    resp.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        header::HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data: https: http:; style-src 'self'; \
             script-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
             frame-ancestors 'none'",
        ),
    );
}

/// The ticket's own fields as the page shows them.
fn ticket_view(d: &tickets::TicketDetail, names: &Names, actor: &Actor, locale: &str) -> Value {
    let tk = &d.ticket;
    json!({
        "number": tk.number,
        "subject": tk.subject,
        "status": tk.status,
        "status_label": super::status_label(tk.status, tk.waiting_on),
        "priority": tk.priority,
        "queue": names.queue(tk.queue_id),
        "queue_id": tk.queue_id,
        "assignee": names.person(tk.assignee_id),
        "assigned_to_me": tk.assignee_id.is_some() && tk.assignee_id == actor.person(),
        "channel": tk.channel,
        "created": local_time(tk.created_at),
        "age": age(tk.created_at, locale),
        "updated": local_time(tk.updated_at),
        "merged_into": d.merged_into,
        "automatic": tk.automatic,
        "open": tk.status.is_open(),
    })
}

/// The history, newest first, each event in words.
fn events_view(d: &tickets::TicketDetail, names: &Names, locale: &str) -> Vec<Value> {
    let by_raw = |u: Option<i64>| names.person_raw(u);
    d.events
        .iter()
        .rev()
        .map(|e| {
            json!({
                "at": local_time(e.created_at),
                "actor": by_raw(e.actor_id),
                "text": event_text(e, names, locale, &by_raw),
            })
        })
        .collect()
}

/// The ticket's escalations and referrals.
fn escalations_view(escalations: &[crate::escalation::EscalationView]) -> Vec<Value> {
    escalations
        .iter()
        .map(|e| {
            let states = if e.kind == "referral" {
                "referral_state"
            } else {
                "state"
            };
            json!({
                "target": e.target, "state": e.state, "case_number": e.case_number,
                "state_key": format!("escalation.{states}.{}", e.state),
                "due": e.due_at.map(local_time),
                "attempts": e.attempts, "last_error": e.last_error, "reason": e.reason,
                "at": local_time(e.created_at),
            })
        })
        .collect()
}

/// The SMS box: whether it can be used, what is being written, and the messages sent.
fn sms_view(tp: &tickets::TicketPage, extra: &Extra) -> Value {
    json!({
        "possible": tp.detail.contact.as_ref().is_some_and(|c| c.phone.is_some()),
        "text": extra.sms_text,
        "shape": extra.sms_shape,
        "error": extra.sms_error,
        "sent": tp.sms.iter().map(|m| json!({
            "to": m.to_number, "body": m.body, "segments": m.segments, "encoding": m.encoding,
            "status": m.status, "at": local_time(m.created_at), "error": m.error,
        })).collect::<Vec<_>>(),
    })
}

/// One message as the conversation shows it: sanitized HTML (inline `cid:` images pointing at
/// their attachment; remote images only when `allow_remote`), and its other attachments.
fn message_view(
    m: &crate::tickets::Message,
    d: &tickets::TicketDetail,
    names: &Names,
    allow_remote: bool,
    fresh: bool,
) -> Value {
    let files: Vec<&crate::tickets::AttachmentRow> = d
        .attachments
        .iter()
        .filter(|a| a.message_id == m.id)
        .collect();
    let inline: HashMap<String, String> = files
        .iter()
        .filter_map(|a| {
            a.content_id.as_ref().map(|cid| {
                (
                    cid.trim_matches(|c| c == '<' || c == '>').to_string(),
                    format!("/api/v1/tickets/{}/attachments/{}", d.ticket.number, a.id),
                )
            })
        })
        .collect();
    let (html, blocked) = match &m.body_html {
        Some(h) => {
            let (clean, blocked) = crate::mail::display::safe_html(h, &inline, allow_remote);
            (Some(clean), blocked)
        }
        None => (None, false),
    };
    json!({
        "id": m.id,
        "kind": m.kind,
        "automatic": m.auto_sent,
        "author": names.person_raw(m.author_id),
        "from": m.from_addr,
        "to": m.to_addrs,
        "at": local_time(m.created_at),
        "subject": m.subject,
        "text": m.body_text,
        "html": html,
        "images_blocked": blocked,
        "fresh": fresh,
        // What of the mail could not be shown, and the way to the original (.eml).
        "problems": d.mail_problems.iter().filter(|p| p.message_id == m.id).map(|p| json!({
            "key": crate::mail::display::problem_key(&p.kind, p.filename.as_deref()),
            "filename": p.filename.clone().unwrap_or_default(),
            "size": p.size_bytes.map(crate::mail::display::human_size).unwrap_or_default(),
            "charset": p.detail.clone().unwrap_or_default(),
        })).collect::<Vec<_>>(),
        "original": m.raw_sha256.as_ref().map(|_| format!(
            "/api/v1/tickets/{}/messages/{}/original", d.ticket.number, m.id
        )),
        "attachments": files.iter().filter(|a| !a.inline || a.content_id.is_none()).map(|a| json!({
            "id": a.id,
            "filename": a.filename,
            "size_kb": (a.size_bytes + 1023) / 1024,
            "content_type": a.content_type,
        })).collect::<Vec<_>>(),
    })
}

fn number(raw: &str) -> Result<TicketNumber, PageError> {
    TicketNumber::parse(raw).map_err(|_| Failure::Domain(Error::NotFound("ticket")).into())
}

fn back_to(number: &TicketNumber, ok: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, format!("/tickets/{number}?ok={ok}")))
        .finish()
}

/// Run an action; on a domain error show the ticket again with the message next to it.
async fn act(
    req: &HttpRequest,
    st: &AppState,
    actor: &Actor,
    n: TicketNumber,
    ok: &str,
    result: crate::error::Result<()>,
) -> Result<HttpResponse, PageError> {
    match result {
        Ok(()) => Ok(back_to(&n, ok)),
        Err(e @ (Error::Invalid(_) | Error::Conflict(_))) => {
            let locale = page_locale(Some(actor), req);
            let failure = Failure::from(e);
            let status = failure.status();
            let extra = Extra {
                error: Some(failure.message(locale)),
                ..Default::default()
            };
            page(req, st, actor, n, status, extra).await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct ViewParams {
    images: Option<i64>,
    ok: Option<String>,
    /// Search the knowledge-base panel for this.
    kbq: Option<String>,
    /// Start the reply with this article's text (without JavaScript; with it, the text is
    /// inserted where the cursor is).
    kb: Option<i64>,
    /// With `kb`: the article's whole text instead of its summary and link.
    kbfull: Option<String>,
}

#[get("/tickets/{number}")]
pub async fn view(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
    path: web::Path<String>,
    q: web::Query<ViewParams>,
) -> Result<HttpResponse, PageError> {
    let n = number(&path)?;
    let q = q.into_inner();
    let locale = page_locale(Some(&actor), &req);
    let ok = super::flash(q.ok.as_deref(), locale);
    let (draft_text, kb_articles) = match q.kb {
        Some(id) => (
            crate::kb::reply_text(
                &st.db,
                &actor,
                id,
                &st.settings.server.public_url,
                q.kbfull.is_some(),
            )
            .await?,
            vec![id],
        ),
        None => (String::new(), vec![]),
    };
    let extra = Extra {
        images_for: q.images,
        ok,
        kb_query: q.kbq,
        draft_text,
        kb_articles,
        ..Default::default()
    };
    page(&req, &st, &actor, n, StatusCode::OK, extra).await
}

#[derive(Deserialize)]
pub struct RowParams {
    /// "1": the row is for a ticket list whose filter is the rest of the query string
    /// (`/tickets?…`); a ticket the list would not show gets 204 No Content.
    #[serde(default)]
    list: String,
}

/// One list row (HTML fragment), for live insertion into an open list.
#[get("/tickets/{number}/row")]
pub async fn row_fragment(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
    path: web::Path<String>,
    q: web::Query<RowParams>,
    filter: web::Query<super::list::ListParams>,
) -> Result<HttpResponse, PageError> {
    let n = number(&path)?;
    let locale = page_locale(Some(&actor), &req);
    if q.list == "1" && !tickets::list_has(&st.db, &actor, filter.query()?, n.clone()).await? {
        return Ok(HttpResponse::NoContent()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish());
    }
    let d = tickets::get(&st.db, &actor, n).await?;
    // The same row as the list renders: contact, referral badge and last activity included.
    let names = Names::load(&st, &actor)
        .await?
        .with_rows(&st, &actor, [&d.ticket])
        .await?;
    let mut data = row(&d.ticket, &names, locale);
    data["locale"] = json!(locale);
    data["fresh"] = json!(true);
    let html = Templates::get()
        .render("ticket_row", &data)
        .map_err(|e| Failure::Domain(Error::Internal(e.to_string())))?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(html))
}

#[derive(Deserialize)]
pub struct AfterParams {
    after: i64,
}

/// Messages newer than `after` (HTML fragment), for live appending to an open ticket.
#[get("/tickets/{number}/messages")]
pub async fn messages_after(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
    path: web::Path<String>,
    q: web::Query<AfterParams>,
) -> Result<HttpResponse, PageError> {
    let n = number(&path)?;
    let locale = page_locale(Some(&actor), &req);
    let d = tickets::get(&st.db, &actor, n).await?;
    let names = Names::load(&st, &actor).await?;
    let msgs: Vec<Value> = d
        .messages
        .iter()
        .filter(|m| m.id > q.after)
        .map(|m| message_view(m, &d, &names, false, true))
        .collect();
    let data =
        json!({ "locale": locale, "messages": msgs, "ticket": { "number": d.ticket.number } });
    let html = Templates::get()
        .render("messages", &data)
        .map_err(|e| Failure::Domain(Error::Internal(e.to_string())))?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((
            "X-Last-Message-Id",
            d.messages.last().map(|m| m.id).unwrap_or(0).to_string(),
        ))
        .body(html))
}

/// A reply or note, posted as multipart (it may carry files).
#[post("/tickets/{number}/messages")]
pub async fn post_message(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
    path: web::Path<String>,
    form: actix_multipart::Multipart,
) -> Result<HttpResponse, PageError> {
    let n = number(&path)?;
    let up = read_trusted_form(&req, form).await?;
    let kb_articles = kb_articles_of(&up);
    let kind = match up.get("kind") {
        "note" => NewMessageKind::Note,
        _ => NewMessageKind::Reply,
    };
    let kind_name = if kind == NewMessageKind::Note {
        "note"
    } else {
        "reply"
    };
    let text = up.get("body").to_string();
    let then_status = match then_status_of(&up) {
        Ok(then_status) => then_status,
        Err(e) => {
            let extra = Extra {
                error: Some(Failure::from(Error::from(e)).message(page_locale(Some(&actor), &req))),
                ..draft_again(text, kind_name, vec![])
            };
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            return page(&req, &st, &actor, n, status, extra).await;
        }
    };
    let with_status = then_status.is_some();
    let seen = if up.get("send_anyway") == "1" {
        None
    } else {
        up.get("seen").parse::<i64>().ok()
    };
    let stored = crate::web::uploads::store(&st.blobs, up.files).await?;
    let draft = Draft {
        kind,
        text: text.clone(),
        attachments: stored,
        seen_message: seen,
        kb_articles: kb_articles.clone(),
        then_status,
    };
    let from = st.settings.mail.from.clone();
    match tickets::add_message_checked(&st.db, &actor, n.clone(), draft, from).await {
        Ok(Posted::Done(_)) => Ok(back_to(
            &n,
            if with_status {
                "sent_and_status"
            } else if kind == NewMessageKind::Note {
                "note_added"
            } else {
                "reply_sent"
            },
        )),
        Ok(Posted::Stale { newer }) => {
            let extra = Extra {
                stale: Some(newer),
                ..draft_again(text, kind_name, kb_articles)
            };
            page(&req, &st, &actor, n, StatusCode::CONFLICT, extra).await
        }
        Err(e @ (Error::Invalid(_) | Error::Conflict(_))) => {
            let locale = page_locale(Some(&actor), &req);
            let failure = Failure::from(e);
            let status = failure.status();
            let extra = Extra {
                error: Some(failure.message(locale)),
                ..draft_again(text, kind_name, kb_articles)
            };
            page(&req, &st, &actor, n, status, extra).await
        }
        Err(e) => Err(e.into()),
    }
}

/// The multipart form with its files, refused unless its CSRF token is good and its fields hold
/// no control characters.
async fn read_trusted_form(
    req: &HttpRequest,
    form: actix_multipart::Multipart,
) -> Result<crate::web::uploads::Upload, PageError> {
    let up = match crate::web::uploads::read(form, "files").await {
        Ok(up) => up,
        Err(crate::web::uploads::UploadError::TooBig(v)) => return Err(Failure::from(v).into()),
        Err(crate::web::uploads::UploadError::Broken(f)) => return Err(f.into()),
    };
    if !form_trusted(req, up.get("csrf")) {
        return Err(Failure::Csrf.into());
    }
    crate::web::input::refuse_controls(&up.fields)?;
    Ok(up)
}

/// The knowledge-base articles inserted into the draft, each once, in order.
fn kb_articles_of(up: &crate::web::uploads::Upload) -> Vec<i64> {
    let mut kb_articles: Vec<i64> = vec![];
    for id in up
        .all("kb_article")
        .filter_map(|v| v.trim().parse::<i64>().ok())
    {
        if !kb_articles.contains(&id) {
            kb_articles.push(id);
        }
    }
    kb_articles
}

/// "Skicka och sätt status": the status that goes with the message, in one use case call.
fn then_status_of(
    up: &crate::web::uploads::Upload,
) -> Result<Option<(crate::domain::Status, Option<crate::domain::WaitingOn>)>, InvalidValue> {
    if up.get("and_status") != "1" {
        return Ok(None);
    }
    Ok(match super::parse_status_choice(up.get("then_status"))? {
        (Some(status), waiting_on) => Some((status, waiting_on)),
        (None, _) => None,
    })
}

/// The ticket page again with the draft as it was typed.
fn draft_again(text: String, kind: &'static str, kb_articles: Vec<i64>) -> Extra {
    Extra {
        draft_text: text,
        draft_kind: kind,
        kb_articles,
        ..Default::default()
    }
}

macro_rules! csrf_form {
    ($name:ident { $($field:ident : $ty:ty),* $(,)? }) => {
        #[derive(Deserialize)]
        pub struct $name {
            csrf: String,
            $(#[serde(default)] $field: $ty,)*
        }
        impl HasCsrf for $name {
            fn csrf(&self) -> &str {
                &self.csrf
            }
        }
    };
}

csrf_form!(UpdateForm {
    status: String,
    priority: String,
    assignee: String
});
csrf_form!(Empty {});
csrf_form!(TransferForm {
    queue: String,
    note: String
});
csrf_form!(OtherForm { other: String });
csrf_form!(EscalateForm {
    target: String,
    reason: String
});
csrf_form!(TagForm {
    tag: String,
    op: String
});
csrf_form!(PresenceForm { writing: String });

#[post("/tickets/{number}/update")]
pub async fn update(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
    path: web::Path<String>,
    CsrfForm(f): CsrfForm<UpdateForm>,
) -> Result<HttpResponse, PageError> {
    let n = number(&path)?;
    let u = (|| -> Result<UpdateInput, InvalidValue> {
        let (status, waiting_on) = super::parse_status_choice(&f.status)?;
        Ok(UpdateInput {
            status,
            waiting_on,
            priority: Some(f.priority.as_str())
                .filter(|s| !s.is_empty())
                .map(Priority::parse)
                .transpose()?,
            assignee: match f.assignee.as_str() {
                "" => None,
                "none" => Some(None),
                raw => {
                    Some(Some(raw.parse::<i64>().map_err(|_| {
                        InvalidValue::new("assignee", Reason::Choose)
                    })?))
                }
            },
            queue: None,
        })
    })();
    let result = match u {
        Ok(u) => tickets::update(&st.db, &actor, n.clone(), u)
            .await
            .map(|_| ()),
        Err(e) => Err(e.into()),
    };
    act(&req, &st, &actor, n, "updated", result).await
}

csrf_form!(ContactForm {
    name: String,
    phone: String,
    preferred_channel: String,
    language: String
});

/// The contact's name, phone number, preferred channel and language.
#[post("/tickets/{number}/contact")]
pub async fn contact(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
    path: web::Path<String>,
    CsrfForm(f): CsrfForm<ContactForm>,
) -> Result<HttpResponse, PageError> {
    let n = number(&path)?;
    let edit = tickets::actions::ContactEdit {
        name: f.name,
        phone: f.phone,
        preferred_channel: f.preferred_channel,
        language: f.language,
    };
    let result = tickets::actions::update_contact(&st.db, &actor, n.clone(), edit).await;
    act(&req, &st, &actor, n, "contact_saved", result).await
}

#[post("/tickets/{number}/claim")]
pub async fn claim(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
    path: web::Path<String>,
    _f: CsrfForm<Empty>,
) -> Result<HttpResponse, PageError> {
    let n = number(&path)?;
    let u = UpdateInput {
        assignee: Some(Some(actor.user()?.get())),
        ..Default::default()
    };
    let result = tickets::update(&st.db, &actor, n.clone(), u)
        .await
        .map(|_| ());
    act(&req, &st, &actor, n, "claimed", result).await
}

/// "Eskalera": send the ticket to an escalation target (the records system).
#[post("/tickets/{number}/escalate")]
pub async fn escalate(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
    path: web::Path<String>,
    CsrfForm(f): CsrfForm<EscalateForm>,
) -> Result<HttpResponse, PageError> {
    let n = number(&path)?;
    let result = match f.target.trim() {
        "" => Ok(None),
        raw => raw
            .parse::<i64>()
            .map(Some)
            .map_err(|_| InvalidValue::new("target", Reason::Choose).into()),
    };
    let result = match result {
        Ok(target) => {
            crate::tickets::escalate::escalate(&st.db, &actor, n.clone(), target, &f.reason)
                .await
                .map(|_| ())
        }
        Err(e) => Err(e),
    };
    // A transfer to another department's queue may take the ticket out of the agent's sight.
    if result.is_ok() && tickets::get(&st.db, &actor, n.clone()).await.is_err() {
        return Ok(HttpResponse::SeeOther()
            .insert_header((header::LOCATION, "/?ok=escalated"))
            .finish());
    }
    act(&req, &st, &actor, n, "escalated", result).await
}

#[post("/tickets/{number}/transfer")]
pub async fn transfer(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
    path: web::Path<String>,
    CsrfForm(f): CsrfForm<TransferForm>,
) -> Result<HttpResponse, PageError> {
    let n = number(&path)?;
    let result = match f.queue.parse::<i64>() {
        Ok(q) => actions::transfer(&st.db, &actor, n.clone(), q, &f.note, false).await,
        Err(_) => Err(InvalidValue::new("queue", Reason::Choose).into()),
    };
    match result {
        // After a transfer out of the agent's own queues the ticket may no longer be visible.
        Ok(()) => {
            let visible = tickets::get(&st.db, &actor, n.clone()).await.is_ok();
            Ok(if visible {
                back_to(&n, "transferred")
            } else {
                HttpResponse::SeeOther()
                    .insert_header((header::LOCATION, "/?ok=transferred"))
                    .finish()
            })
        }
        other => act(&req, &st, &actor, n, "transferred", other).await,
    }
}

/// The other ticket of a link or merge box: a full number or a short one ("20" is this year's
/// ticket 20 of the municipality — the prefix is the open ticket's own).
fn other_number(n: &TicketNumber, raw: &str) -> Result<TicketNumber, InvalidValue> {
    use chrono::Datelike;
    TicketNumber::parse_short(raw, n.prefix(), chrono::Utc::now().year())
}

/// Why the link or merge box's number was refused, as the agent reads it.
fn other_error(locale: &str, raw: &str, e: Error) -> Result<String, PageError> {
    let t = Templates::get();
    Ok(match e {
        Error::Invalid(v) if v.field == "ticket_number" => t
            .text(locale, "ticket_page.other.bad_number")
            .replace("{input}", raw.trim()),
        // A good number that the action refuses (the ticket itself): the rule, not "bad number".
        Error::Invalid(v) => crate::web::errors::reason_sentence(locale, &v.reason),
        Error::NotFound(_) => t
            .text(locale, "ticket_page.other.not_found")
            .replace("{input}", raw.trim()),
        e @ Error::Conflict(_) => Failure::from(e).message(locale),
        e => return Err(e.into()),
    })
}

#[post("/tickets/{number}/merge")]
pub async fn merge(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
    path: web::Path<String>,
    CsrfForm(f): CsrfForm<OtherForm>,
) -> Result<HttpResponse, PageError> {
    let n = number(&path)?;
    let result = match other_number(&n, &f.other) {
        Ok(target) => actions::merge(&st.db, &actor, n.clone(), target.clone())
            .await
            .map(|_| target),
        Err(e) => Err(e.into()),
    };
    match result {
        Ok(target) => Ok(back_to(&target, "merged")),
        Err(e) => {
            let locale = page_locale(Some(&actor), &req);
            let extra = Extra {
                merge_error: Some(other_error(locale, &f.other, e)?),
                merge_other: f.other,
                ..Default::default()
            };
            page(
                &req,
                &st,
                &actor,
                n,
                StatusCode::UNPROCESSABLE_ENTITY,
                extra,
            )
            .await
        }
    }
}

#[post("/tickets/{number}/link")]
pub async fn link(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
    path: web::Path<String>,
    CsrfForm(f): CsrfForm<OtherForm>,
) -> Result<HttpResponse, PageError> {
    let n = number(&path)?;
    let result = match other_number(&n, &f.other) {
        Ok(other) => actions::link(&st.db, &actor, n.clone(), other).await,
        Err(e) => Err(e.into()),
    };
    match result {
        Ok(()) => Ok(back_to(&n, "linked")),
        Err(e) => {
            let locale = page_locale(Some(&actor), &req);
            let extra = Extra {
                link_error: Some(other_error(locale, &f.other, e)?),
                link_other: f.other,
                ..Default::default()
            };
            page(
                &req,
                &st,
                &actor,
                n,
                StatusCode::UNPROCESSABLE_ENTITY,
                extra,
            )
            .await
        }
    }
}

#[post("/tickets/{number}/tags")]
pub async fn tag(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
    path: web::Path<String>,
    CsrfForm(f): CsrfForm<TagForm>,
) -> Result<HttpResponse, PageError> {
    let n = number(&path)?;
    let add = f.op != "remove";
    let result = actions::tag(&st.db, &actor, n.clone(), &f.tag, add).await;
    act(&req, &st, &actor, n, "tagged", result).await
}

/// "I am writing a reply" heartbeat (and "I stopped"), sent by app.js.
#[post("/tickets/{number}/presence")]
pub async fn presence(
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
    path: web::Path<String>,
    CsrfForm(f): CsrfForm<PresenceForm>,
) -> Result<HttpResponse, PageError> {
    let n = number(&path)?;
    actions::presence(&st.db, &actor, n, f.writing == "1").await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A canned response filled in for this ticket, as plain text for the reply box.
#[get("/tickets/{number}/canned/{id}")]
pub async fn canned_text(
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
    path: web::Path<(String, i64)>,
) -> Result<HttpResponse, PageError> {
    let (raw, id) = path.into_inner();
    let n = number(&raw)?;
    let text = crate::tickets::canned::render_for_ticket(&st.db, &actor, n, id).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(text))
}
