//! `/admin/canned`: canned responses (färdiga svar) — list, new, edit with a preview filled with
//! example values, delete after a confirmation. Admins manage all of them (tenant-wide or per
//! queue); queue leads those of the queues they lead.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{fail, invalid_field, page, refusal, see_other, use_cases};
use crate::accounts::Actor;
use crate::domain::InvalidValue;
use crate::domain::Reason;
use crate::error::Error;
use crate::tenants::admin::Queue;
use crate::text::Templates;
use crate::tickets::canned::{self, CannedInput};
use crate::web::AppState;
use crate::web::auth::{CsrfForm, HasCsrf, PageActor};
use crate::web::errors::PageError;
use crate::web::pages::page_locale;

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct CannedForm {
    csrf: String,
    title: String,
    /// A queue id, or empty for every queue of the tenant.
    queue: String,
    body: String,
    /// `save` or `preview`.
    action: String,
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    csrf: String,
}

impl HasCsrf for CannedForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

impl HasCsrf for CsrfOnly {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

impl CannedForm {
    fn input(&self) -> Result<CannedInput, InvalidValue> {
        let queue = match self.queue.trim() {
            "" => None,
            q => Some(
                q.parse()
                    .map_err(|_| InvalidValue::new("queue", Reason::Choose))?,
            ),
        };
        Ok(CannedInput {
            queue,
            title: self.title.clone(),
            body: self.body.clone(),
        })
    }
}

fn queue_name(queues: &[Queue], id: Option<crate::domain::QueueId>) -> Option<String> {
    id.and_then(|id| queues.iter().find(|q| q.id == id).map(|q| q.name.clone()))
}

#[get("/admin/canned")]
pub async fn list(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
) -> Result<HttpResponse, PageError> {
    let (_, queues) = use_cases::canned_targets(&st.db, &actor)
        .await
        .map_err(fail(&actor, &req))?;
    let items = canned::manageable(&st.db, &actor)
        .await
        .map_err(fail(&actor, &req))?;
    let items: Vec<Value> = items
        .iter()
        .map(|c| {
            json!({
                "id": c.id,
                // Not `title`: inside the layout partial that names the page's title.
                "heading": c.title,
                "queue": queue_name(&queues, c.queue()),
                "updated_at": crate::text::time::local_time(c.updated_at),
            })
        })
        .collect();
    page(
        &req,
        &actor,
        StatusCode::OK,
        "canned",
        "admin/canned",
        json!({ "items": items }),
    )
}

/// The new/edit form. `id` None: a new canned response.
struct FormState {
    status: StatusCode,
    id: Option<i64>,
    title: String,
    queue: String,
    body: String,
    error: Option<String>,
    field: Option<&'static str>,
}

async fn form_page(
    req: &HttpRequest,
    st: &AppState,
    actor: &Actor,
    f: FormState,
) -> Result<HttpResponse, PageError> {
    let (tenant_wide, queues) = use_cases::canned_targets(&st.db, actor)
        .await
        .map_err(fail(actor, req))?;
    let locale = page_locale(Some(actor), req);
    // The preview of the text as it stands (when it has any and no other error is shown).
    let (preview, preview_error) = if f.body.trim().is_empty() {
        (None, None)
    } else {
        let queue = f.queue.trim().parse::<i64>().ok();
        match use_cases::canned_preview(&st.db, actor, &f.body, queue).await {
            Ok(p) => (Some(p), None),
            Err(Error::Invalid(v)) if f.error.is_none() => {
                let r = refusal(locale, "canned", v.into()).map_err(fail(actor, req))?;
                (None, Some(r.message))
            }
            Err(Error::Invalid(_)) => (None, None),
            Err(e) => return Err(fail(actor, req)(e)),
        }
    };
    let t = Templates::get();
    let vars: Vec<Value> = use_cases::CANNED_VARIABLES
        .iter()
        .map(|(code, key)| json!({ "code": code, "text": t.text(locale, key) }))
        .collect();
    let queues: Vec<Value> = queues
        .iter()
        .map(|q| json!({ "id": q.id.get().to_string(), "name": q.name }))
        .collect();
    let status = if preview_error.is_some() && f.status == StatusCode::OK {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        f.status
    };
    page(
        req,
        actor,
        status,
        "canned",
        "admin/canned_form",
        json!({
            "id": f.id,
            "heading": if f.id.is_some() { "admin.canned.edit" } else { "admin.canned.new" },
            "action": match f.id {
                Some(id) => format!("/admin/canned/{id}"),
                None => "/admin/canned".into(),
            },
            "tenant_wide": tenant_wide,
            "queues": queues,
            "form": { "title": f.title, "queue": f.queue, "body": f.body },
            "error": f.error.or(preview_error),
            "field": f.field,
            "preview": preview,
            "vars": vars,
        }),
    )
}

#[get("/admin/canned/new")]
pub async fn new_form(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
) -> Result<HttpResponse, PageError> {
    // Leads start in their (first) queue; admins tenant-wide.
    let (tenant_wide, queues) = use_cases::canned_targets(&st.db, &actor)
        .await
        .map_err(fail(&actor, &req))?;
    let queue = match (tenant_wide, queues.first()) {
        (false, Some(q)) => q.id.get().to_string(),
        _ => String::new(),
    };
    let f = FormState {
        status: StatusCode::OK,
        id: None,
        title: String::new(),
        queue,
        body: String::new(),
        error: None,
        field: None,
    };
    form_page(&req, &st, &actor, f).await
}

/// Save (create or update) or only preview, per the button pressed.
async fn submit(
    req: &HttpRequest,
    st: &AppState,
    actor: &Actor,
    id: Option<i64>,
    f: CannedForm,
) -> Result<HttpResponse, PageError> {
    let keep = |status, error, field| FormState {
        status,
        id,
        title: f.title.clone(),
        queue: f.queue.clone(),
        body: f.body.clone(),
        error,
        field,
    };
    if f.action == "preview" {
        return form_page(req, st, actor, keep(StatusCode::OK, None, None)).await;
    }
    let result = match f.input() {
        Ok(input) => match id {
            None => canned::create(&st.db, actor, input)
                .await
                .map(|_| "canned_created"),
            Some(id) => canned::update(&st.db, actor, id, input)
                .await
                .map(|()| "canned_saved"),
        },
        Err(v) => Err(v.into()),
    };
    match result {
        Ok(ok) => Ok(see_other(format!("/admin/canned?ok={ok}"))),
        Err(e) => {
            let field = invalid_field(&e);
            let r =
                refusal(page_locale(Some(actor), req), "canned", e).map_err(fail(actor, req))?;
            form_page(req, st, actor, keep(r.status, Some(r.message), field)).await
        }
    }
}

#[post("/admin/canned")]
pub async fn create(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
    CsrfForm(f): CsrfForm<CannedForm>,
) -> Result<HttpResponse, PageError> {
    use_cases::require_admin_or_lead(&actor).map_err(fail(&actor, &req))?;
    submit(&req, &st, &actor, None, f).await
}

#[get("/admin/canned/{id:\\d+}")]
pub async fn edit_form(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
    path: web::Path<i64>,
) -> Result<HttpResponse, PageError> {
    let id = path.into_inner();
    let c = canned::get(&st.db, &actor, id)
        .await
        .map_err(fail(&actor, &req))?;
    let f = FormState {
        status: StatusCode::OK,
        id: Some(id),
        title: c.title.clone(),
        queue: c.queue().map(|q| q.get().to_string()).unwrap_or_default(),
        body: c.body.clone(),
        error: None,
        field: None,
    };
    form_page(&req, &st, &actor, f).await
}

#[post("/admin/canned/{id:\\d+}")]
pub async fn update(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
    path: web::Path<i64>,
    CsrfForm(f): CsrfForm<CannedForm>,
) -> Result<HttpResponse, PageError> {
    let id = path.into_inner();
    // Only someone who may manage this one gets as far as a form (403/404 otherwise).
    canned::get(&st.db, &actor, id)
        .await
        .map_err(fail(&actor, &req))?;
    submit(&req, &st, &actor, Some(id), f).await
}

#[get("/admin/canned/{id:\\d+}/delete")]
pub async fn delete_form(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
    path: web::Path<i64>,
) -> Result<HttpResponse, PageError> {
    let c = canned::get(&st.db, &actor, path.into_inner())
        .await
        .map_err(fail(&actor, &req))?;
    page(
        &req,
        &actor,
        StatusCode::OK,
        "canned",
        "admin/canned_delete",
        json!({ "item": { "id": c.id, "title": c.title, "body": c.body } }),
    )
}

#[post("/admin/canned/{id:\\d+}/delete")]
pub async fn delete(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
    path: web::Path<i64>,
    _f: CsrfForm<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    canned::delete(&st.db, &actor, path.into_inner())
        .await
        .map_err(fail(&actor, &req))?;
    Ok(see_other("/admin/canned?ok=canned_deleted".into()))
}
