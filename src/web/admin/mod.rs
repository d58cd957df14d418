//! Admin pages under `/admin`: queues (members, acknowledgement template), users, function
//! mailboxes, canned responses and service levels (calendars, policies). Server-rendered, no JavaScript. Tenant admins see every section;
//! queue leads see the queues they lead and their canned responses; everyone else gets 403.
//!
//! The pattern of every section: a GET renders the page (with a short flash message after a
//! successful change, `?ok=<code>`); a POST goes through `CsrfForm`, calls one use case in
//! `tenants::admin` or `tickets::canned`, and answers 303 back to the page — or, when the input was
//! refused (invalid or conflicting), renders the form again with the values as typed and a message
//! next to it. Permission and not-found failures are the ordinary error page (403/404).

mod canned;
mod deliveries;
mod escalation;
mod mailboxes;
mod queues;
mod routing;
mod sla;
mod sms_gateway;
mod stats;
mod users;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, get, web};
use serde_json::{Value, json};

use super::AppState;
use super::auth::PageActor;
use super::errors::{Failure, PageError};
use super::pages::{page_locale, render};
use crate::accounts::Actor;
use crate::error::Error;
use crate::tenants::admin as use_cases;
use crate::text::Templates;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(index)
        .service(queues::list)
        .service(queues::create)
        .service(queues::detail)
        .service(queues::rename)
        .service(queues::add_member)
        .service(queues::set_role)
        .service(queues::remove_member)
        .service(queues::ack)
        .service(queues::save_citizen)
        .service(queues::save_survey)
        .service(users::list)
        .service(users::create)
        .service(users::detail)
        .service(users::set_active)
        .service(users::set_password)
        .service(users::set_locale)
        .service(mailboxes::list)
        .service(mailboxes::new_form)
        .service(mailboxes::create)
        .service(mailboxes::set_enabled)
        .service(canned::list)
        .service(canned::new_form)
        .service(canned::create)
        .service(canned::edit_form)
        .service(canned::update)
        .service(canned::delete_form)
        .service(canned::delete)
        .service(sla::overview)
        .service(sla::new_calendar)
        .service(sla::edit_calendar)
        .service(sla::create_calendar)
        .service(sla::update_calendar)
        .service(sla::delete_calendar)
        .service(sla::queue_calendar)
        .service(sla::edit_policy)
        .service(sla::save_policy)
        .service(deliveries::list)
        .service(deliveries::retry)
        .service(escalation::list)
        .service(escalation::new_form)
        .service(escalation::create)
        .service(escalation::edit_form)
        .service(escalation::update)
        .service(stats::show)
        .service(stats::save)
        .service(sms_gateway::show)
        .service(sms_gateway::save)
        .service(routing::list)
        .service(routing::try_rules)
        .service(routing::new_form)
        .service(routing::create)
        .service(routing::edit_form)
        .service(routing::update)
        .service(routing::move_rule)
        .service(routing::delete_form)
        .service(routing::delete);
}

/// The flash messages a page may show after a redirect (`?ok=<code>`, text `admin.ok.<code>`).
const FLASHES: &[&str] = &[
    "queue_created",
    "renamed",
    "member_added",
    "role_changed",
    "member_removed",
    "ack_saved",
    "ack_cleared",
    "user_created",
    "activated",
    "deactivated",
    "password_set",
    "locale_saved",
    "mailbox_added",
    "mailbox_enabled",
    "mailbox_disabled",
    "canned_created",
    "canned_saved",
    "canned_deleted",
    "calendar_saved",
    "calendar_deleted",
    "queue_calendar_saved",
    "policy_saved",
    "retried",
    "citizen_saved",
    "survey_saved",
    "target_created",
    "target_saved",
    "gateway_saved",
    "rule_created",
    "rule_saved",
    "rule_moved",
    "rule_deleted",
    "stats_saved",
];

fn flash(req: &HttpRequest) -> Option<&'static str> {
    let q = web::Query::<std::collections::HashMap<String, String>>::from_query(req.query_string())
        .ok()?;
    let code = q.get("ok")?;
    FLASHES.iter().copied().find(|f| f == code)
}

/// 303 See Other to `location` (after a successful form post).
fn see_other(location: String) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

/// A failure shown as the error page in the actor's language.
fn fail(actor: &Actor, req: &HttpRequest) -> impl Fn(Error) -> PageError {
    let locale = page_locale(Some(actor), req);
    move |e| PageError {
        failure: Failure::Domain(e),
        locale,
    }
}

/// Render an admin page: adds the section (for the admin menu), the actor's rights and the flash.
fn page(
    req: &HttpRequest,
    actor: &Actor,
    status: StatusCode,
    section: &str,
    name: &str,
    mut data: Value,
) -> Result<HttpResponse, PageError> {
    data["section"] = json!(section);
    // Every admin page highlights the "Administration" tab.
    data["nav"] = json!("admin");
    data["is_admin"] = json!(actor.is_admin());
    data["flash"] = json!(flash(req));
    render(req, Some(actor), status, name, data)
}

/// A refused input, to show next to the form (the form is rendered again with the values kept).
struct Refusal {
    status: StatusCode,
    message: String,
}

/// Split a use case's error: refused input (invalid or conflicting) becomes a message for the
/// form; anything else (forbidden, not found, internal) stays an error for the error page.
///
/// Messages: `admin.<form>.invalid.<field>`, else `admin.invalid.<field>`, else the generic
/// "invalid value" text; a conflict is `admin.<form>.exists`. `{reason}` in a text is replaced by
/// the reason's own text (e.g. where in a template the error is).
fn refusal(locale: &str, form: &str, e: Error) -> Result<Refusal, Error> {
    let t = Templates::get();
    match e {
        Error::Invalid(v) => {
            let keys = [
                format!("admin.{form}.invalid.{}", v.field),
                format!("admin.invalid.{}", v.field),
            ];
            let message = keys
                .iter()
                .map(|k| (k, t.text(locale, k)))
                .find(|(k, text)| text != *k)
                .map(|(_, text)| {
                    text.replace(
                        "{reason}",
                        &crate::web::errors::reason_text(locale, &v.reason),
                    )
                })
                .unwrap_or_else(|| Failure::Domain(Error::Invalid(v)).message(locale));
            Ok(Refusal {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                message,
            })
        }
        Error::Conflict(detail) => {
            let key = format!("admin.{form}.exists");
            let text = t.text(locale, &key);
            Ok(Refusal {
                status: StatusCode::CONFLICT,
                message: if text == key {
                    Failure::Domain(Error::Conflict(detail)).message(locale)
                } else {
                    text
                },
            })
        }
        Error::Egress(r) => Ok(Refusal {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            message: Failure::Domain(Error::Egress(r)).message(locale),
        }),
        other => Err(other),
    }
}

/// The field a refused input names, for `aria-invalid` on it.
fn invalid_field(e: &Error) -> Option<&'static str> {
    match e {
        Error::Invalid(v) => Some(v.field),
        _ => None,
    }
}

#[get("/admin")]
async fn index(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
) -> Result<HttpResponse, PageError> {
    let o = use_cases::overview(&st.db, &actor)
        .await
        .map_err(fail(&actor, &req))?;
    let queues: Vec<Value> = o
        .queues
        .iter()
        .map(|q| json!({ "id": q.id, "name": q.name }))
        .collect();
    page(
        &req,
        &actor,
        StatusCode::OK,
        "index",
        "admin/index",
        json!({ "queues": queues }),
    )
}
