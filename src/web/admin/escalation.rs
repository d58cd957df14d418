//! `/admin/escalation`: where tickets can be escalated — records systems (diariet), referral
//! departments (remiss) and transfer queues — listed with the queues that use each by default,
//! and a form per kind. Secrets are never shown; an empty secret field keeps the stored one.
//! Administrators only.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{fail, invalid_field, page, refusal, see_other};
use crate::accounts::Actor;
use crate::domain::Reason;
use crate::escalation::ReferralTarget;
use crate::escalation::admin::{self as targets, RecordsForm, TargetView};
use crate::web::AppState;
use crate::web::auth::{HasCsrf, PageActor};
use crate::web::errors::PageError;
use crate::web::pages::page_locale;

/// Every field of the three forms; each kind reads its own.
#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct TargetForm {
    csrf: String,
    kind: String,
    name: String,
    // records
    url: String,
    method: String,
    content_type: String,
    headers: String,
    secret_headers: String,
    auth: String,
    auth_user: String,
    auth_secret: String,
    hmac_secret: String,
    remove_hmac: Option<String>,
    body_template: String,
    case_pointer: String,
    timeout_seconds: String,
    // referral
    email: String,
    response_days: String,
    allow_citizen_reply: Option<String>,
    /// Checked: a referral keeps the SLA running (unchecked: it pauses, D45).
    sla_runs: Option<String>,
    // transfer
    queue: String,
    /// Referral: ids of the handler accounts who answer for the department.
    #[serde(skip)]
    handlers: Vec<String>,
}

impl HasCsrf for TargetForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// The posted form (as pairs: `handlers` repeats, one per ticked handler), checked for CSRF.
fn posted(req: &HttpRequest, pairs: Vec<(String, String)>) -> Result<TargetForm, PageError> {
    let mut map = serde_json::Map::new();
    let mut handlers = vec![];
    for (k, v) in pairs {
        if k == "handlers" {
            handlers.push(v);
        } else {
            map.entry(k).or_insert(Value::String(v));
        }
    }
    let mut f: TargetForm = serde_json::from_value(Value::Object(map)).unwrap_or_default();
    if !crate::web::auth::form_trusted(req, &f.csrf) {
        return Err(crate::web::errors::Failure::Csrf.into());
    }
    f.handlers = handlers;
    Ok(f)
}

const KINDS: [&str; 3] = ["records", "referral", "transfer"];

impl TargetForm {
    /// A new target's form with the usual defaults.
    fn blank(kind: &str) -> TargetForm {
        TargetForm {
            kind: kind.to_string(),
            method: "POST".into(),
            content_type: "application/json".into(),
            auth: "none".into(),
            case_pointer: "/caseNumber".into(),
            timeout_seconds: "10".into(),
            response_days: "5".into(),
            ..TargetForm::default()
        }
    }

    fn of(v: &TargetView) -> TargetForm {
        TargetForm {
            kind: v.kind.clone(),
            name: v.name.clone(),
            url: v.url.clone().unwrap_or_default(),
            method: v.method.clone(),
            content_type: v.content_type.clone(),
            headers: v.headers.clone(),
            // Names only: a stored value is never sent back; `Name:` keeps it.
            secret_headers: v
                .secret_header_names
                .iter()
                .map(|n| format!("{n}:"))
                .collect::<Vec<_>>()
                .join("\n"),
            auth: v.auth.clone(),
            auth_user: v.auth_user.clone().unwrap_or_default(),
            body_template: v.body_template.clone(),
            case_pointer: v.case_pointer.clone(),
            timeout_seconds: v.timeout_seconds.to_string(),
            email: v.referral_email.clone().unwrap_or_default(),
            response_days: v.response_days.unwrap_or(5).to_string(),
            allow_citizen_reply: v.allow_citizen_reply.then(|| "1".into()),
            sla_runs: (!v.referral_pauses_sla).then(|| "1".into()),
            queue: v.transfer_queue.map(|q| q.to_string()).unwrap_or_default(),
            handlers: v.handlers.iter().map(|h| h.to_string()).collect(),
            ..TargetForm::default()
        }
    }
}

#[get("/admin/escalation")]
pub async fn list(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
) -> Result<HttpResponse, PageError> {
    let (items, _choices) = targets::overview(&st.db, &actor)
        .await
        .map_err(fail(&actor, &req))?;
    let items: Vec<Value> = items
        .iter()
        .map(|x| {
            json!({
                "id": x.id,
                "heading": x.name,
                "kind": x.kind,
                "where": match x.kind.as_str() {
                    "records" => x.url.clone(),
                    "referral" => x.referral_email.clone(),
                    _ => x.transfer_queue_name.clone(),
                },
                "default_for": x.default_for.join(", "),
            })
        })
        .collect();
    page(
        &req,
        &actor,
        StatusCode::OK,
        "escalation",
        "admin/escalation",
        json!({ "items": items }),
    )
}

/// The form of one kind; `view` is the stored target when editing.
#[allow(clippy::too_many_arguments)]
async fn form_page(
    req: &HttpRequest,
    st: &AppState,
    actor: &Actor,
    status: StatusCode,
    id: Option<i64>,
    view: Option<&TargetView>,
    f: &TargetForm,
    error: Option<(String, Option<&'static str>)>,
) -> Result<HttpResponse, PageError> {
    let (_, choices) = targets::overview(&st.db, actor)
        .await
        .map_err(fail(actor, req))?;
    let handlers: Vec<Value> = choices
        .handlers
        .iter()
        .map(|(hid, name, email)| {
            json!({ "id": hid.to_string(), "name": name, "email": email, "checked": f.handlers.contains(&hid.to_string()) })
        })
        .collect();
    let queues: Vec<Value> = choices
        .queues
        .iter()
        .map(|(qid, name)| {
            json!({ "id": qid.to_string(), "name": name, "selected": qid.to_string() == f.queue })
        })
        .collect();
    let (error, field) = match error {
        Some((m, f)) => (Some(m), f),
        None => (None, None),
    };
    page(
        req,
        actor,
        status,
        "escalation",
        "admin/escalation_form",
        json!({
            "id": id,
            "heading": format!("admin.escalation.{}.{}", if id.is_some() { "edit" } else { "new" }, f.kind),
            "action": match id {
                Some(id) => format!("/admin/escalation/{id}"),
                None => "/admin/escalation".into(),
            },
            "is_records": f.kind == "records",
            "is_referral": f.kind == "referral",
            "is_transfer": f.kind == "transfer",
            "form": {
                "kind": f.kind, "name": f.name, "url": f.url, "content_type": f.content_type,
                "headers": f.headers, "secret_headers": f.secret_headers, "auth_user": f.auth_user, "body_template": f.body_template,
                "case_pointer": f.case_pointer, "timeout_seconds": f.timeout_seconds,
                "email": f.email, "response_days": f.response_days,
                "allow_citizen_reply": f.allow_citizen_reply.is_some(),
                "sla_runs": f.sla_runs.is_some(),
                "put": f.method == "PUT",
                "auth_none": f.auth != "bearer" && f.auth != "basic",
                "auth_bearer": f.auth == "bearer",
                "auth_basic": f.auth == "basic",
            },
            "has_auth_secret": view.is_some_and(|v| v.has_auth_secret),
            "has_hmac_secret": view.is_some_and(|v| v.has_hmac_secret),
            "default_for": view.map(|v| v.default_for.join(", ")).unwrap_or_default(),
            "queues": queues,
            "handlers": handlers,
            "error": error,
            "field": field,
        }),
    )
}

#[derive(Deserialize)]
pub struct KindQuery {
    kind: Option<String>,
}

#[get("/admin/escalation/new")]
pub async fn new_form(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
    q: web::Query<KindQuery>,
) -> Result<HttpResponse, PageError> {
    let kind = q
        .kind
        .as_deref()
        .filter(|k| KINDS.contains(k))
        .unwrap_or("records");
    let f = TargetForm::blank(kind);
    form_page(&req, &st, &actor, StatusCode::OK, None, None, &f, None).await
}

async fn submit(
    req: &HttpRequest,
    st: &AppState,
    actor: &Actor,
    id: Option<i64>,
    view: Option<&TargetView>,
    f: TargetForm,
) -> Result<HttpResponse, PageError> {
    match save(st, actor, id, &f).await {
        Ok(_) => Ok(see_other(format!(
            "/admin/escalation?ok={}",
            if id.is_some() {
                "target_saved"
            } else {
                "target_created"
            }
        ))),
        Err(e) => {
            let field = invalid_field(&e);
            let r = refusal(page_locale(Some(actor), req), "escalation", e)
                .map_err(fail(actor, req))?;
            let kept = without_secrets(f);
            form_page(
                req,
                st,
                actor,
                r.status,
                id,
                view,
                &kept,
                Some((r.message, field)),
            )
            .await
        }
    }
}

/// Save the target as its kind's use case takes it (new when `id` is None); its id.
async fn save(
    st: &AppState,
    actor: &Actor,
    id: Option<i64>,
    f: &TargetForm,
) -> crate::error::Result<i64> {
    match f.kind.as_str() {
        "records" => {
            let egress = crate::egress::Policy::from_settings(&st.settings);
            let form = records_form(f);
            targets::save_records(&st.db, actor, st.keys.clone(), &egress, id, form).await
        }
        "referral" => {
            let Ok(days) = f.response_days.trim().parse::<i32>() else {
                return Err(crate::domain::InvalidValue::new(
                    "response_days",
                    Reason::Range { min: 0, max: 90 },
                )
                .into());
            };
            let r = ReferralTarget {
                name: f.name.clone(),
                email: f.email.clone(),
                response_days: days,
                allow_citizen_reply: f.allow_citizen_reply.is_some(),
                pauses_sla: f.sla_runs.is_none(),
            };
            let Ok(hs) = f
                .handlers
                .iter()
                .map(|h| h.parse::<i64>())
                .collect::<Result<Vec<_>, _>>()
            else {
                return Err(crate::domain::InvalidValue::new("handlers", Reason::Choose).into());
            };
            targets::save_referral(&st.db, actor, id, r, hs).await
        }
        "transfer" => match f.queue.trim().parse::<i64>() {
            Ok(q) => targets::save_transfer(&st.db, actor, id, f.name.clone(), q).await,
            Err(_) => Err(crate::domain::InvalidValue::new("queue", Reason::Choose).into()),
        },
        _ => Err(crate::error::Error::NotFound("escalation target kind")),
    }
}

/// A records system's target as the use case takes it.
fn records_form(f: &TargetForm) -> RecordsForm {
    RecordsForm {
        name: f.name.clone(),
        url: f.url.clone(),
        method: if f.method == "PUT" { "PUT" } else { "POST" }.into(),
        content_type: f.content_type.clone(),
        headers: f.headers.clone(),
        secret_headers: f.secret_headers.clone(),
        auth: f.auth.clone(),
        auth_user: f.auth_user.clone(),
        auth_secret: f.auth_secret.clone(),
        hmac_secret: f.hmac_secret.clone(),
        remove_hmac: f.remove_hmac.is_some(),
        body_template: f.body_template.clone(),
        case_pointer: f.case_pointer.clone(),
        timeout_seconds: f.timeout_seconds.clone(),
    }
}

/// The form to show again: secrets are never sent back to the browser, not even as typed, and
/// of the secret headers typed only their names are.
fn without_secrets(mut kept: TargetForm) -> TargetForm {
    kept.auth_secret.clear();
    kept.hmac_secret.clear();
    kept.secret_headers = kept
        .secret_headers
        .lines()
        .filter_map(|l| l.split(':').next())
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(|n| format!("{n}:"))
        .collect::<Vec<_>>()
        .join("\n");
    kept
}

#[post("/admin/escalation")]
pub async fn create(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, PageError> {
    let f = posted(&req, form.into_inner())?;
    crate::accounts::permissions::require_admin(&actor).map_err(fail(&actor, &req))?;
    submit(&req, &st, &actor, None, None, f).await
}

#[get("/admin/escalation/{id:\\d+}")]
pub async fn edit_form(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
    path: web::Path<i64>,
) -> Result<HttpResponse, PageError> {
    let id = path.into_inner();
    let v = targets::get(&st.db, &actor, id)
        .await
        .map_err(fail(&actor, &req))?;
    let f = TargetForm::of(&v);
    form_page(
        &req,
        &st,
        &actor,
        StatusCode::OK,
        Some(id),
        Some(&v),
        &f,
        None,
    )
    .await
}

#[post("/admin/escalation/{id:\\d+}")]
pub async fn update(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
    path: web::Path<i64>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, PageError> {
    let mut f = posted(&req, form.into_inner())?;
    let id = path.into_inner();
    let v = targets::get(&st.db, &actor, id)
        .await
        .map_err(fail(&actor, &req))?;
    // The kind and the name of a target stay what they are.
    f.kind = v.kind.clone();
    f.name = v.name.clone();
    submit(&req, &st, &actor, Some(id), Some(&v), f).await
}
