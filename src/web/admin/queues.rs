//! `/admin/queues`: the queues with member counts, a new queue; per queue its name, members and
//! acknowledgement template.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{fail, invalid_field, page, refusal, see_other, use_cases};
use crate::accounts::Actor;
use crate::text::Templates;
use crate::web::AppState;
use crate::web::auth::{CsrfForm, HasCsrf, PageActor};
use crate::web::errors::PageError;
use crate::web::pages::page_locale;

#[derive(Deserialize)]
pub struct NewQueueForm {
    csrf: String,
    #[serde(default)]
    slug: String,
    #[serde(default)]
    name: String,
}

#[derive(Deserialize)]
pub struct NameForm {
    csrf: String,
    #[serde(default)]
    name: String,
}

#[derive(Deserialize)]
pub struct AddMemberForm {
    csrf: String,
    #[serde(default)]
    user: String,
    #[serde(default)]
    role: String,
}

#[derive(Deserialize)]
pub struct RoleForm {
    csrf: String,
    #[serde(default)]
    role: String,
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    csrf: String,
}

#[derive(Deserialize)]
pub struct AckForm {
    csrf: String,
    #[serde(default)]
    template: String,
    /// `save` or `preview`.
    #[serde(default)]
    action: String,
}

macro_rules! has_csrf {
    ($($t:ty),*) => {$(
        impl HasCsrf for $t {
            fn csrf(&self) -> &str {
                &self.csrf
            }
        }
    )*};
}
has_csrf!(
    NewQueueForm,
    NameForm,
    AddMemberForm,
    RoleForm,
    CsrfOnly,
    AckForm
);

async fn list_page(
    req: &HttpRequest,
    st: &AppState,
    actor: &Actor,
    status: StatusCode,
    form: Value,
) -> Result<HttpResponse, PageError> {
    let rows = use_cases::queues(&st.db, actor)
        .await
        .map_err(fail(actor, req))?;
    let queues: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({
                "id": r.queue.id,
                "slug": r.queue.slug,
                "name": r.queue.name,
                "members": r.members,
                "own_ack": r.own_ack,
            })
        })
        .collect();
    page(
        req,
        actor,
        status,
        "queues",
        "admin/queues",
        json!({ "queues": queues, "form": form }),
    )
}

#[get("/admin/queues")]
pub async fn list(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
) -> Result<HttpResponse, PageError> {
    let form = json!({ "slug": "", "name": "", "error": null, "field": null });
    list_page(&req, &st, &actor, StatusCode::OK, form).await
}

#[post("/admin/queues")]
pub async fn create(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
    CsrfForm(f): CsrfForm<NewQueueForm>,
) -> Result<HttpResponse, PageError> {
    match use_cases::create_queue(&st.db, &actor, &f.slug, &f.name).await {
        Ok(q) => Ok(see_other(format!(
            "/admin/queues/{}?ok=queue_created",
            q.id
        ))),
        Err(e) => {
            let field = invalid_field(&e);
            let r = refusal(page_locale(Some(&actor), &req), "queues", e)
                .map_err(fail(&actor, &req))?;
            let form =
                json!({ "slug": f.slug, "name": f.name, "error": r.message, "field": field });
            list_page(&req, &st, &actor, r.status, form).await
        }
    }
}

/// What a queue page shows besides the stored state: forms as typed, messages next to them.
struct Forms {
    status: StatusCode,
    rename: Value,
    add: Value,
    members_error: Option<String>,
    ack: Option<AckState>,
}

struct AckState {
    text: String,
    error: Option<String>,
    /// Preview of the text as typed (`None`: of what is stored).
    preview: Option<String>,
}

impl Forms {
    fn fresh() -> Forms {
        Forms {
            status: StatusCode::OK,
            rename: json!({ "value": null, "error": null }),
            add: json!({ "user": "", "role": "agent", "error": null }),
            members_error: None,
            ack: None,
        }
    }
}

async fn detail_page(
    req: &HttpRequest,
    st: &AppState,
    actor: &Actor,
    id: i64,
    forms: Forms,
) -> Result<HttpResponse, PageError> {
    let d = use_cases::queue_detail(&st.db, actor, id)
        .await
        .map_err(fail(actor, req))?;
    let members: Vec<Value> = d
        .members
        .iter()
        .map(|m| {
            json!({
                "id": m.user,
                "name": m.display_name,
                "email": m.email,
                "active": m.active,
                "role": m.role,
                "me": actor.person() == Some(m.user),
            })
        })
        .collect();
    let candidates: Vec<Value> = d
        .candidates
        .iter()
        .map(|u| json!({ "id": u.id.get().to_string(), "name": u.display_name, "email": u.email }))
        .collect();
    let mut rename_form = forms.rename;
    if rename_form["value"].is_null() {
        rename_form["value"] = json!(d.queue.name);
    }
    let (ack_text, ack_error, preview) = match forms.ack {
        Some(a) => (a.text, a.error, a.preview),
        None => (d.ack_template.clone().unwrap_or_default(), None, None),
    };
    let preview = match preview {
        Some(p) => Some(p),
        None if ack_error.is_none() => {
            use_cases::ack_preview(&st.db, actor, id, d.ack_template.as_deref())
                .await
                .ok()
        }
        None => None,
    };
    let citizen = use_cases::citizen_settings(&st.db, actor, id)
        .await
        .map_err(fail(actor, req))?;
    let citizen = json!({
        "events": crate::notify::citizen::Event::ALL.iter().map(|e| json!({
            "value": e.as_str(), "on": citizen.events.iter().any(|x| x == e.as_str()),
        })).collect::<Vec<_>>(),
        "classes": (1..=4).map(|n: i32| json!({ "value": n.to_string(), "selected": n == citizen.info_class })).collect::<Vec<_>>(),
        "targets": citizen.targets.iter().map(|(tid, name)| json!({
            "id": tid, "name": name, "selected": Some(*tid) == citizen.escalation_target,
        })).collect::<Vec<_>>(),
        "may_edit": actor.is_admin(),
    });
    let survey = survey_section(st, actor, id)
        .await
        .map_err(fail(actor, req))?;
    let locale = page_locale(Some(actor), req);
    let t = Templates::get();
    let vars: Vec<Value> = use_cases::ACK_VARIABLES
        .iter()
        .map(|(code, key)| json!({ "code": code, "text": t.text(locale, key) }))
        .collect();
    page(
        req,
        actor,
        forms.status,
        "queues",
        "admin/queue",
        json!({
            "queue": { "id": d.queue.id, "slug": d.queue.slug, "name": d.queue.name },
            "may_rename": d.may_rename,
            "rename": rename_form,
            "members": members,
            "members_error": forms.members_error,
            "candidates": candidates,
            "add": forms.add,
            "citizen": citizen,
            "survey": survey,
            "ack": {
                "text": ack_text,
                "custom": d.ack_template.is_some(),
                "error": ack_error,
                "preview": preview,
                "default": use_cases::default_ack_template(),
                "vars": vars,
            },
        }),
    )
}

#[get("/admin/queues/{id:\\d+}")]
pub async fn detail(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
    path: web::Path<i64>,
) -> Result<HttpResponse, PageError> {
    detail_page(&req, &st, &actor, path.into_inner(), Forms::fresh()).await
}

fn back(id: i64, ok: &str) -> HttpResponse {
    see_other(format!("/admin/queues/{id}?ok={ok}"))
}

#[post("/admin/queues/{id:\\d+}/name")]
pub async fn rename(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
    path: web::Path<i64>,
    CsrfForm(f): CsrfForm<NameForm>,
) -> Result<HttpResponse, PageError> {
    let id = path.into_inner();
    match use_cases::rename_queue(&st.db, &actor, id, &f.name).await {
        Ok(()) => Ok(back(id, "renamed")),
        Err(e) => {
            let r = refusal(page_locale(Some(&actor), &req), "queues", e)
                .map_err(fail(&actor, &req))?;
            let forms = Forms {
                status: r.status,
                rename: json!({ "value": f.name, "error": r.message }),
                ..Forms::fresh()
            };
            detail_page(&req, &st, &actor, id, forms).await
        }
    }
}

#[post("/admin/queues/{id:\\d+}/members")]
pub async fn add_member(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
    path: web::Path<i64>,
    CsrfForm(f): CsrfForm<AddMemberForm>,
) -> Result<HttpResponse, PageError> {
    let id = path.into_inner();
    match use_cases::add_member(&st.db, &actor, id, &f.user, &f.role).await {
        Ok(()) => Ok(back(id, "member_added")),
        Err(e) => {
            let r = refusal(page_locale(Some(&actor), &req), "members", e)
                .map_err(fail(&actor, &req))?;
            let forms = Forms {
                status: r.status,
                add: json!({ "user": f.user, "role": f.role, "error": r.message }),
                ..Forms::fresh()
            };
            detail_page(&req, &st, &actor, id, forms).await
        }
    }
}

/// Where to go after a change to a membership: back to the queue, unless a lead gave up their
/// own lead role (or left the queue) and so may no longer manage it.
fn after_member_change(
    actor: &Actor,
    id: i64,
    user: i64,
    still_lead: bool,
    ok: &str,
) -> HttpResponse {
    if actor.person().is_some_and(|u| u.get() == user) && !actor.is_admin() && !still_lead {
        return see_other("/".into());
    }
    back(id, ok)
}

#[post("/admin/queues/{id:\\d+}/members/{user:\\d+}/role")]
pub async fn set_role(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
    path: web::Path<(i64, i64)>,
    CsrfForm(f): CsrfForm<RoleForm>,
) -> Result<HttpResponse, PageError> {
    let (id, user) = path.into_inner();
    match use_cases::set_member_role(&st.db, &actor, id, user, &f.role).await {
        Ok(()) => Ok(after_member_change(
            &actor,
            id,
            user,
            f.role.trim() == "lead",
            "role_changed",
        )),
        Err(e) => {
            let r = refusal(page_locale(Some(&actor), &req), "members", e)
                .map_err(fail(&actor, &req))?;
            let forms = Forms {
                status: r.status,
                members_error: Some(r.message),
                ..Forms::fresh()
            };
            detail_page(&req, &st, &actor, id, forms).await
        }
    }
}

#[post("/admin/queues/{id:\\d+}/members/{user:\\d+}/remove")]
pub async fn remove_member(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
    path: web::Path<(i64, i64)>,
    _f: CsrfForm<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    let (id, user) = path.into_inner();
    use_cases::remove_member(&st.db, &actor, id, user)
        .await
        .map_err(fail(&actor, &req))?;
    Ok(after_member_change(
        &actor,
        id,
        user,
        false,
        "member_removed",
    ))
}

#[post("/admin/queues/{id:\\d+}/ack")]
pub async fn ack(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
    path: web::Path<i64>,
    CsrfForm(f): CsrfForm<AckForm>,
) -> Result<HttpResponse, PageError> {
    let id = path.into_inner();
    let locale = page_locale(Some(&actor), &req);
    if f.action == "preview" {
        let (preview, error) = match use_cases::check_ack_template(&f.template) {
            Ok(text) => {
                let p = use_cases::ack_preview(&st.db, &actor, id, text.as_deref())
                    .await
                    .map_err(fail(&actor, &req))?;
                (Some(p), None)
            }
            Err(v) => {
                let r = refusal(locale, "ack", v.into()).map_err(fail(&actor, &req))?;
                (None, Some(r.message))
            }
        };
        let forms = Forms {
            status: if error.is_some() {
                StatusCode::UNPROCESSABLE_ENTITY
            } else {
                StatusCode::OK
            },
            ack: Some(AckState {
                text: f.template,
                error,
                preview,
            }),
            ..Forms::fresh()
        };
        return detail_page(&req, &st, &actor, id, forms).await;
    }
    match use_cases::set_ack_template(&st.db, &actor, id, &f.template).await {
        Ok(Some(_)) => Ok(back(id, "ack_saved")),
        Ok(None) => Ok(back(id, "ack_cleared")),
        Err(e) => {
            let r = refusal(locale, "ack", e).map_err(fail(&actor, &req))?;
            let forms = Forms {
                status: r.status,
                ack: Some(AckState {
                    text: f.template,
                    error: Some(r.message),
                    preview: None,
                }),
                ..Forms::fresh()
            };
            detail_page(&req, &st, &actor, id, forms).await
        }
    }
}

/// What the queue tells citizens (events, information class) and its default escalation target.
#[post("/admin/queues/{id:\\d+}/citizen")]
pub async fn save_citizen(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
    path: web::Path<i64>,
    // Repeated `events` fields (checkboxes): the form as pairs.
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, PageError> {
    let id = path.into_inner();
    let pairs = form.into_inner();
    let get = |k: &str| {
        pairs
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    };
    if !crate::web::auth::form_trusted(&req, get("csrf")) {
        return Err(crate::web::errors::Failure::Csrf.into());
    }
    let events: Vec<String> = pairs
        .iter()
        .filter(|(n, _)| n == "events")
        .map(|(_, v)| v.clone())
        .collect();
    let class = get("info_class").parse::<i32>().unwrap_or(0);
    let target = get("escalation_target").parse::<i64>().ok();
    use_cases::set_citizen_settings(&st.db, &actor, id, &events, class, Some(target))
        .await
        .map_err(fail(&actor, &req))?;
    Ok(back(id, "citizen_saved"))
}

/// The queue's survey setting (D65) for its page: editable by admins and the queue's leads.
async fn survey_section(
    st: &AppState,
    actor: &Actor,
    id: i64,
) -> Result<Value, crate::error::Error> {
    let s = crate::survey::settings(&st.db, actor, id).await?;
    let may_edit = actor.is_admin()
        || crate::accounts::permissions::leads(actor, crate::domain::QueueId::from_db(id));
    Ok(json!({
        "enabled": s.enabled, "matter": s.matter, "period_days": s.period_days,
        "delay_minutes": s.delay_minutes, "may_edit": may_edit,
    }))
}

#[derive(Deserialize)]
pub struct SurveyForm {
    csrf: String,
    #[serde(default)]
    enabled: String,
    #[serde(default)]
    matter: String,
    #[serde(default)]
    period_days: String,
    #[serde(default)]
    delay_minutes: String,
}
has_csrf!(SurveyForm);

/// Servicemätning for the queue: on or off, the kind of matter, the period and the delay.
#[post("/admin/queues/{id:\\d+}/survey")]
pub async fn save_survey(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
    path: web::Path<i64>,
    CsrfForm(f): CsrfForm<SurveyForm>,
) -> Result<HttpResponse, PageError> {
    let id = path.into_inner();
    let input = crate::survey::SettingsInput {
        enabled: f.enabled == "1",
        matter: f.matter,
        period_days: f.period_days,
        delay_minutes: f.delay_minutes,
    };
    crate::survey::configure(&st.db, &actor, id, input)
        .await
        .map_err(fail(&actor, &req))?;
    Ok(back(id, "survey_saved"))
}
