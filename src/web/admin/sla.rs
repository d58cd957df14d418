//! `/admin/sla`: service levels. Calendars (weekly hours, which Swedish holidays and eves are
//! closed, extra closed and shortened days), which calendar each queue works by, and each queue's
//! targets and rules per priority. Tenant admins only. Saving recomputes the due times of the
//! affected open tickets at once (`sla::admin`).

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::Datelike;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{fail, invalid_field, page, refusal, see_other};
use crate::accounts::Actor;
use crate::domain::Priority;
use crate::domain::Reason;
use crate::error::Error;
use crate::sla::Holiday;
use crate::sla::admin::{self as use_cases, CalendarInput, PolicyText, WEEKDAYS};
use crate::sla::policy::Policy;
use crate::sla::timeline::Target;
use crate::web::AppState;
use crate::web::auth::{CsrfForm, HasCsrf, PageActor};
use crate::web::errors::PageError;
use crate::web::pages::page_locale;

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct CalendarForm {
    csrf: String,
    name: String,
    /// "on" when checked.
    default: String,
    mon: String,
    tue: String,
    wed: String,
    thu: String,
    fri: String,
    sat: String,
    sun: String,
    closed_days: String,
    special_days: String,
    /// The holiday check boxes, `closed_<key>` = "on" for each holiday that is closed.
    #[serde(flatten)]
    rest: HashMap<String, String>,
}

impl HasCsrf for CalendarForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

impl CalendarForm {
    fn input(&self) -> CalendarInput {
        CalendarInput {
            name: self.name.clone(),
            default: self.default == "on",
            week: [
                &self.mon, &self.tue, &self.wed, &self.thu, &self.fri, &self.sat, &self.sun,
            ]
            .map(|s| s.clone()),
            closed_holidays: Holiday::ALL
                .iter()
                .map(|h| h.key())
                .filter(|k| {
                    self.rest
                        .get(&format!("closed_{k}"))
                        .is_some_and(|v| v == "on")
                })
                .map(String::from)
                .collect(),
            closed_days: self.closed_days.clone(),
            special_days: self.special_days.clone(),
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PolicyForm {
    csrf: String,
    first_response: String,
    next_response: String,
    resolution: String,
    warn_percent: String,
    rules: String,
}

impl HasCsrf for PolicyForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct QueueCalendarForm {
    csrf: String,
    /// A calendar id, or empty for the tenant's default.
    calendar: String,
}

impl HasCsrf for QueueCalendarForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// "4 tim 30 min" from business minutes (empty: not measured).
fn duration_text(minutes: Option<i64>) -> Option<Value> {
    minutes.map(|m| json!({ "h": m / 60, "m": m % 60 }))
}

fn policy_view(p: &Option<Policy>) -> Value {
    let Some(p) = p else {
        return Value::Null;
    };
    let minutes = |t: Target| p.budgets.get(t).map(|d| d.num_minutes());
    json!({
        "first_response": duration_text(minutes(Target::FirstResponse)),
        "next_response": duration_text(minutes(Target::NextResponse)),
        "resolution": duration_text(minutes(Target::Resolution)),
        "warn_percent": p.warn_percent,
        "rules": p.rules.len(),
    })
}

#[get("/admin/sla")]
pub async fn overview(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
) -> Result<HttpResponse, PageError> {
    let s = use_cases::setup(&st.db, &actor)
        .await
        .map_err(fail(&actor, &req))?;
    let calendars: Vec<Value> = s
        .calendars
        .iter()
        .map(|c| {
            json!({
                "id": c.id,
                "name": c.input.name,
                "default": c.input.default,
                "week": WEEKDAYS.iter().zip(&c.input.week).map(|(d, h)| json!({ "day": d, "hours": h })).collect::<Vec<_>>(),
                "closed_holidays": c.input.closed_holidays.len(),
            })
        })
        .collect();
    let queues: Vec<Value> = s
        .queues
        .iter()
        .map(|q| {
            json!({
                "id": q.id,
                "name": q.name,
                "calendars": s.calendars.iter().map(|c| json!({
                    "id": c.id, "name": c.input.name, "selected": q.calendar == Some(c.id),
                })).collect::<Vec<_>>(),
                "policies": q.policies.iter().map(|(p, policy)| json!({
                    "priority": p,
                    "policy": policy_view(policy),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    page(
        &req,
        &actor,
        StatusCode::OK,
        "sla",
        "admin/sla",
        json!({ "calendars": calendars, "queues": queues }),
    )
}

/// The calendar form, as stored or as typed (with a refusal).
struct CalendarState {
    status: StatusCode,
    id: Option<i64>,
    input: CalendarInput,
    error: Option<String>,
    field: Option<&'static str>,
}

fn calendar_page(
    req: &HttpRequest,
    actor: &Actor,
    f: CalendarState,
) -> Result<HttpResponse, PageError> {
    let year = chrono::Utc::now().year();
    let holidays: Vec<Value> = Holiday::ALL
        .iter()
        .map(|h| {
            json!({
                "key": h.key(),
                "date": h.date(year).format("%Y-%m-%d").to_string(),
                "closed": f.input.closed_holidays.iter().any(|k| k == h.key()),
            })
        })
        .collect();
    let week: Vec<Value> = WEEKDAYS
        .iter()
        .zip(&f.input.week)
        .map(|(d, h)| json!({ "day": d, "hours": h, "invalid": f.field == Some(*d) }))
        .collect();
    page(
        req,
        actor,
        f.status,
        "sla",
        "admin/sla_calendar",
        json!({
            "id": f.id,
            "heading": if f.id.is_some() { "admin.sla.calendar.edit" } else { "admin.sla.calendar.new" },
            "action": match f.id {
                Some(id) => format!("/admin/sla/calendars/{id}"),
                None => "/admin/sla/calendars".into(),
            },
            "form": {
                "name": f.input.name,
                "default": f.input.default,
                "closed_days": f.input.closed_days,
                "special_days": f.input.special_days,
            },
            "week": week,
            "year": year,
            "holidays": holidays,
            "error": f.error,
            "field": f.field,
        }),
    )
}

#[get("/admin/sla/calendars/new")]
pub async fn new_calendar(
    req: HttpRequest,
    PageActor(actor): PageActor,
) -> Result<HttpResponse, PageError> {
    crate::accounts::permissions::require_admin(&actor).map_err(fail(&actor, &req))?;
    let input = CalendarInput::of("", false, &crate::sla::Calendar::default());
    calendar_page(
        &req,
        &actor,
        CalendarState {
            status: StatusCode::OK,
            id: None,
            input,
            error: None,
            field: None,
        },
    )
}

#[get("/admin/sla/calendars/{id:\\d+}")]
pub async fn edit_calendar(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
    path: web::Path<i64>,
) -> Result<HttpResponse, PageError> {
    let id = path.into_inner();
    let s = use_cases::setup(&st.db, &actor)
        .await
        .map_err(fail(&actor, &req))?;
    let c = s
        .calendars
        .into_iter()
        .find(|c| c.id == id)
        .ok_or_else(|| fail(&actor, &req)(Error::NotFound("calendar")))?;
    calendar_page(
        &req,
        &actor,
        CalendarState {
            status: StatusCode::OK,
            id: Some(id),
            input: c.input,
            error: None,
            field: None,
        },
    )
}

async fn submit_calendar(
    req: &HttpRequest,
    st: &AppState,
    actor: &Actor,
    id: Option<i64>,
    f: CalendarForm,
) -> Result<HttpResponse, PageError> {
    let input = f.input();
    match use_cases::save_calendar_form(&st.db, actor, id, input.clone()).await {
        Ok(_) => Ok(see_other("/admin/sla?ok=calendar_saved".into())),
        Err(e) => {
            let field = invalid_field(&e);
            let r = refusal(page_locale(Some(actor), req), "sla", e).map_err(fail(actor, req))?;
            calendar_page(
                req,
                actor,
                CalendarState {
                    status: r.status,
                    id,
                    input,
                    error: Some(r.message),
                    field,
                },
            )
        }
    }
}

#[post("/admin/sla/calendars")]
pub async fn create_calendar(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
    CsrfForm(f): CsrfForm<CalendarForm>,
) -> Result<HttpResponse, PageError> {
    submit_calendar(&req, &st, &actor, None, f).await
}

#[post("/admin/sla/calendars/{id:\\d+}")]
pub async fn update_calendar(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
    path: web::Path<i64>,
    CsrfForm(f): CsrfForm<CalendarForm>,
) -> Result<HttpResponse, PageError> {
    submit_calendar(&req, &st, &actor, Some(path.into_inner()), f).await
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

/// Delete a calendar; refused (with the reason, on the calendar's page) while it is the default
/// or a queue works by it.
#[post("/admin/sla/calendars/{id:\\d+}/delete")]
pub async fn delete_calendar(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
    path: web::Path<i64>,
    _f: CsrfForm<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    let id = path.into_inner();
    match use_cases::delete_calendar(&st.db, &actor, id).await {
        Ok(()) => Ok(see_other("/admin/sla?ok=calendar_deleted".into())),
        Err(e @ Error::Conflict(_)) => {
            let s = use_cases::setup(&st.db, &actor)
                .await
                .map_err(fail(&actor, &req))?;
            let c = s
                .calendars
                .into_iter()
                .find(|c| c.id == id)
                .ok_or_else(|| fail(&actor, &req)(Error::NotFound("calendar")))?;
            let key = match &e {
                Error::Conflict(crate::error::Conflict::DefaultCalendar) => {
                    "admin.sla.delete_default"
                }
                _ => "admin.sla.delete_in_use",
            };
            let message = crate::text::Templates::get().text(page_locale(Some(&actor), &req), key);
            calendar_page(
                &req,
                &actor,
                CalendarState {
                    status: StatusCode::CONFLICT,
                    id: Some(id),
                    input: c.input,
                    error: Some(message),
                    field: None,
                },
            )
        }
        Err(e) => Err(fail(&actor, &req)(e)),
    }
}

#[post("/admin/sla/queues/{id:\\d+}/calendar")]
pub async fn queue_calendar(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
    path: web::Path<i64>,
    CsrfForm(f): CsrfForm<QueueCalendarForm>,
) -> Result<HttpResponse, PageError> {
    let calendar = match f.calendar.trim() {
        "" => None,
        raw => Some(raw.parse::<i64>().map_err(|_| {
            fail(&actor, &req)(crate::domain::InvalidValue::new("calendar", Reason::Choose).into())
        })?),
    };
    use_cases::use_calendar_form(&st.db, &actor, path.into_inner(), calendar)
        .await
        .map_err(fail(&actor, &req))?;
    Ok(see_other("/admin/sla?ok=queue_calendar_saved".into()))
}

fn priority_of(actor: &Actor, req: &HttpRequest, raw: &str) -> Result<Priority, PageError> {
    Priority::parse(raw).map_err(|e| fail(actor, req)(e.into()))
}

fn policy_page(
    req: &HttpRequest,
    actor: &Actor,
    status: StatusCode,
    (queue, queue_name): (i64, String),
    priority: Priority,
    f: PolicyText,
    error: Option<(String, Option<&'static str>)>,
) -> Result<HttpResponse, PageError> {
    let (error, field) = error.map_or((None, None), |(m, f)| (Some(m), f));
    page(
        req,
        actor,
        status,
        "sla",
        "admin/sla_policy",
        json!({
            "queue": queue,
            "queue_name": queue_name,
            "priority": priority,
            "action": format!("/admin/sla/policies/{queue}/{priority}"),
            "form": {
                "first_response": f.first_response,
                "next_response": f.next_response,
                "resolution": f.resolution,
                "warn_percent": f.warn_percent,
                "rules": f.rules,
            },
            "error": error,
            "field": field,
        }),
    )
}

#[get("/admin/sla/policies/{queue:\\d+}/{priority}")]
pub async fn edit_policy(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
    path: web::Path<(i64, String)>,
) -> Result<HttpResponse, PageError> {
    let (queue, raw) = path.into_inner();
    let priority = priority_of(&actor, &req, &raw)?;
    let (name, form) = use_cases::policy_form(&st.db, &actor, queue, priority)
        .await
        .map_err(fail(&actor, &req))?;
    policy_page(
        &req,
        &actor,
        StatusCode::OK,
        (queue, name),
        priority,
        form,
        None,
    )
}

#[post("/admin/sla/policies/{queue:\\d+}/{priority}")]
pub async fn save_policy(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
    path: web::Path<(i64, String)>,
    CsrfForm(f): CsrfForm<PolicyForm>,
) -> Result<HttpResponse, PageError> {
    let (queue, raw) = path.into_inner();
    let priority = priority_of(&actor, &req, &raw)?;
    let text = PolicyText {
        first_response: f.first_response,
        next_response: f.next_response,
        resolution: f.resolution,
        warn_percent: f.warn_percent,
        rules: f.rules,
    };
    match use_cases::save_policy_form(&st.db, &actor, queue, priority, text.clone()).await {
        Ok(()) => Ok(see_other("/admin/sla?ok=policy_saved".into())),
        Err(e) => {
            let field = invalid_field(&e);
            let r =
                refusal(page_locale(Some(&actor), &req), "sla", e).map_err(fail(&actor, &req))?;
            // The queue's name for the heading (it exists: the use case would have said not).
            let (name, _) = use_cases::policy_form(&st.db, &actor, queue, priority)
                .await
                .map_err(fail(&actor, &req))?;
            policy_page(
                &req,
                &actor,
                r.status,
                (queue, name),
                priority,
                text,
                Some((r.message, field)),
            )
        }
    }
}
