//! `/admin/routing`: routing rules (regler för inkommande ärenden) — the list in the order they
//! are checked (move up/down, how often each matched), new/edit/delete, and "Testa reglerna":
//! which rules a mail would meet, without changing anything. Administrators only.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{fail, invalid_field, page, refusal, see_other};
use crate::accounts::Actor;
use crate::routing::{self, RuleInput, RuleView};
use crate::web::AppState;
use crate::web::auth::{CsrfForm, HasCsrf, PageActor};
use crate::web::errors::PageError;
use crate::web::pages::page_locale;

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct RuleForm {
    csrf: String,
    name: String,
    enabled: Option<String>,
    match_queue: String,
    match_senders: String,
    match_words: String,
    match_in: String,
    set_priority: String,
    set_queue: String,
    add_tag: String,
    escalate_to: String,
    stop: Option<String>,
}

impl HasCsrf for RuleForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

impl RuleForm {
    fn input(&self) -> RuleInput {
        RuleInput {
            name: self.name.clone(),
            enabled: self.enabled.is_some(),
            match_queue: self.match_queue.clone(),
            match_senders: self.match_senders.clone(),
            match_words: self.match_words.clone(),
            match_in: self.match_in.clone(),
            set_priority: self.set_priority.clone(),
            set_queue: self.set_queue.clone(),
            add_tag: self.add_tag.clone(),
            escalate_to: self.escalate_to.clone(),
            stop: self.stop.is_some(),
        }
    }

    fn from_view(r: &RuleView) -> RuleForm {
        let id = |v: Option<i64>| v.map(|x| x.to_string()).unwrap_or_default();
        RuleForm {
            csrf: String::new(),
            name: r.name.clone(),
            enabled: r.enabled.then(|| "1".into()),
            match_queue: id(r.match_queue),
            match_senders: r.match_senders.clone(),
            match_words: r.match_words.clone(),
            match_in: r.match_in.clone(),
            set_priority: r.set_priority.clone().unwrap_or_default(),
            set_queue: id(r.set_queue),
            add_tag: r.add_tag.clone().unwrap_or_default(),
            escalate_to: id(r.escalate_to),
            stop: r.stop.then(|| "1".into()),
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct TryForm {
    csrf: String,
    queue: String,
    sender: String,
    subject: String,
    text: String,
}

impl HasCsrf for TryForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

#[derive(Deserialize)]
pub struct MoveForm {
    csrf: String,
    direction: String,
}

impl HasCsrf for MoveForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    csrf: String,
}

impl HasCsrf for CsrfOnly {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

fn name_of(items: &[(i64, String)], id: Option<i64>) -> Option<String> {
    id.and_then(|id| items.iter().find(|(x, _)| *x == id).map(|(_, n)| n.clone()))
}

fn options(items: &[(i64, String)], selected: &str) -> Vec<Value> {
    items.iter()
        .map(|(id, name)| {
            json!({ "id": id.to_string(), "name": name, "selected": id.to_string() == selected })
        })
        .collect()
}

/// The "Testa reglerna" form as typed (every key the page reads, for strict templates).
fn tried(queue: &str, sender: &str, subject: &str, text: &str) -> Value {
    json!({
        "queue": queue, "sender": sender, "subject": subject, "text": text,
        "done": false, "matched": [], "error": null,
    })
}

/// The list page, with the outcome of "Testa reglerna" when there is one.
async fn list_page(
    req: &HttpRequest,
    st: &AppState,
    actor: &Actor,
    status: StatusCode,
    tried: Value,
) -> Result<HttpResponse, PageError> {
    let rules = routing::list(&st.db, actor)
        .await
        .map_err(fail(actor, req))?;
    let ch = routing::choices(&st.db, actor)
        .await
        .map_err(fail(actor, req))?;
    let last = rules.len().saturating_sub(1);
    let items: Vec<Value> = rules
        .iter()
        .enumerate()
        .map(|(i, r)| {
            json!({
                "id": r.id,
                "n": i + 1,
                "heading": r.name,
                "enabled": r.enabled,
                "match_queue": name_of(&ch.queues, r.match_queue),
                "match_senders": r.match_senders,
                "match_words": r.match_words,
                "subject_only": r.match_in == "subject",
                "set_priority": r.set_priority,
                "set_queue": name_of(&ch.queues, r.set_queue),
                "add_tag": r.add_tag,
                "escalate_to": name_of(&ch.targets, r.escalate_to),
                "stop": r.stop,
                "hits": r.hits,
                "last_hit_at": r.last_hit_at.map(crate::text::time::local_time),
                "first": i == 0,
                "last": i == last,
            })
        })
        .collect();
    let selected = tried
        .get("queue")
        .and_then(|v| v.as_str())
        .unwrap_or("")
        .to_string();
    page(
        req,
        actor,
        status,
        "routing",
        "admin/routing",
        json!({
            "items": items,
            "queues": options(&ch.queues, &selected),
            "tried": tried,
        }),
    )
}

#[get("/admin/routing")]
pub async fn list(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
) -> Result<HttpResponse, PageError> {
    list_page(&req, &st, &actor, StatusCode::OK, tried("", "", "", "")).await
}

#[post("/admin/routing/try")]
pub async fn try_rules(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
    CsrfForm(f): CsrfForm<TryForm>,
) -> Result<HttpResponse, PageError> {
    let form =
        json!({ "queue": f.queue, "sender": f.sender, "subject": f.subject, "text": f.text });
    let queue = f.queue.trim().parse::<i64>().unwrap_or(0);
    match routing::try_rules(&st.db, &actor, queue, f.sender, f.subject, f.text).await {
        Ok(names) => {
            let mut tried = form;
            tried["matched"] = json!(names);
            tried["done"] = json!(true);
            list_page(&req, &st, &actor, StatusCode::OK, tried).await
        }
        Err(e) => {
            let r = refusal(page_locale(Some(&actor), &req), "routing", e)
                .map_err(fail(&actor, &req))?;
            let mut tried = form;
            tried["error"] = json!(r.message);
            list_page(&req, &st, &actor, r.status, tried).await
        }
    }
}

/// The new/edit form; `id` None: a new rule.
async fn form_page(
    req: &HttpRequest,
    st: &AppState,
    actor: &Actor,
    status: StatusCode,
    id: Option<i64>,
    f: &RuleForm,
    error: Option<(String, Option<&'static str>)>,
) -> Result<HttpResponse, PageError> {
    let ch = routing::choices(&st.db, actor)
        .await
        .map_err(fail(actor, req))?;
    let priorities: Vec<Value> = crate::domain::Priority::ALL
        .iter()
        .map(|p| json!({ "id": p.as_str(), "selected": p.as_str() == f.set_priority }))
        .collect();
    let (error, field) = match error {
        Some((m, f)) => (Some(m), f),
        None => (None, None),
    };
    page(
        req,
        actor,
        status,
        "routing",
        "admin/routing_form",
        json!({
            "id": id,
            "heading": if id.is_some() { "admin.routing.edit" } else { "admin.routing.new" },
            "action": match id {
                Some(id) => format!("/admin/routing/{id}"),
                None => "/admin/routing".into(),
            },
            "form": {
                "name": f.name,
                "enabled": f.enabled.is_some(),
                "match_senders": f.match_senders,
                "match_words": f.match_words,
                "subject_only": f.match_in == "subject",
                "add_tag": f.add_tag,
                "stop": f.stop.is_some(),
            },
            "match_queues": options(&ch.queues, &f.match_queue),
            "set_queues": options(&ch.queues, &f.set_queue),
            "targets": options(&ch.targets, &f.escalate_to),
            "priorities": priorities,
            "error": error,
            "field": field,
        }),
    )
}

#[get("/admin/routing/new")]
pub async fn new_form(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
) -> Result<HttpResponse, PageError> {
    let f = RuleForm {
        enabled: Some("1".into()),
        ..RuleForm::default()
    };
    form_page(&req, &st, &actor, StatusCode::OK, None, &f, None).await
}

async fn submit(
    req: &HttpRequest,
    st: &AppState,
    actor: &Actor,
    id: Option<i64>,
    f: RuleForm,
) -> Result<HttpResponse, PageError> {
    let result = match id {
        None => routing::create(&st.db, actor, f.input())
            .await
            .map(|_| "rule_created"),
        Some(id) => routing::update(&st.db, actor, id, f.input())
            .await
            .map(|()| "rule_saved"),
    };
    match result {
        Ok(ok) => Ok(see_other(format!("/admin/routing?ok={ok}"))),
        Err(e) => {
            let field = invalid_field(&e);
            let r =
                refusal(page_locale(Some(actor), req), "routing", e).map_err(fail(actor, req))?;
            form_page(req, st, actor, r.status, id, &f, Some((r.message, field))).await
        }
    }
}

#[post("/admin/routing")]
pub async fn create(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
    CsrfForm(f): CsrfForm<RuleForm>,
) -> Result<HttpResponse, PageError> {
    crate::accounts::permissions::require_admin(&actor).map_err(fail(&actor, &req))?;
    submit(&req, &st, &actor, None, f).await
}

#[get("/admin/routing/{id:\\d+}")]
pub async fn edit_form(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
    path: web::Path<i64>,
) -> Result<HttpResponse, PageError> {
    let id = path.into_inner();
    let r = routing::get(&st.db, &actor, id)
        .await
        .map_err(fail(&actor, &req))?;
    form_page(
        &req,
        &st,
        &actor,
        StatusCode::OK,
        Some(id),
        &RuleForm::from_view(&r),
        None,
    )
    .await
}

#[post("/admin/routing/{id:\\d+}")]
pub async fn update(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
    path: web::Path<i64>,
    CsrfForm(f): CsrfForm<RuleForm>,
) -> Result<HttpResponse, PageError> {
    let id = path.into_inner();
    routing::get(&st.db, &actor, id)
        .await
        .map_err(fail(&actor, &req))?;
    submit(&req, &st, &actor, Some(id), f).await
}

#[post("/admin/routing/{id:\\d+}/move")]
pub async fn move_rule(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
    path: web::Path<i64>,
    CsrfForm(f): CsrfForm<MoveForm>,
) -> Result<HttpResponse, PageError> {
    routing::move_rule(&st.db, &actor, path.into_inner(), f.direction == "up")
        .await
        .map_err(fail(&actor, &req))?;
    Ok(see_other("/admin/routing?ok=rule_moved".into()))
}

#[get("/admin/routing/{id:\\d+}/delete")]
pub async fn delete_form(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
    path: web::Path<i64>,
) -> Result<HttpResponse, PageError> {
    let r = routing::get(&st.db, &actor, path.into_inner())
        .await
        .map_err(fail(&actor, &req))?;
    page(
        &req,
        &actor,
        StatusCode::OK,
        "routing",
        "admin/routing_delete",
        json!({ "item": { "id": r.id, "name": r.name, "hits": r.hits } }),
    )
}

#[post("/admin/routing/{id:\\d+}/delete")]
pub async fn delete(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
    path: web::Path<i64>,
    _f: CsrfForm<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    routing::delete(&st.db, &actor, path.into_inner())
        .await
        .map_err(fail(&actor, &req))?;
    Ok(see_other("/admin/routing?ok=rule_deleted".into()))
}
