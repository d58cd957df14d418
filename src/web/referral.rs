//! The occasional handler's page for a referral (`/remiss/<link>`): the one ticket, the question,
//! the deadline, and the answer that hands the ticket back. No sign-in: the link is the access.
//! Handlers with an account (role `handler`) also get `/remisser`, the list of referrals to their
//! departments, each opening the same page.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::Deserialize;
use serde_json::json;

use crate::error::Error;
use crate::referral::{self, AnswerTo};
use crate::text::time::local_time;
use crate::web::AppState;
use crate::web::auth::form_trusted;
use crate::web::errors::{Failure, PageError};
use crate::web::pages::{page_locale, render};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(page).service(answer).service(mine);
}

/// "Mina remisser": a signed-in handler's referrals, newest first.
#[get("/remisser")]
pub async fn mine(
    req: HttpRequest,
    st: web::Data<AppState>,
    crate::web::auth::PageActor(actor): crate::web::auth::PageActor,
) -> Result<HttpResponse, PageError> {
    let items = referral::for_handler(&st.db, &st.signer, &actor).await?;
    let items: Vec<_> = items
        .iter()
        .map(|i| {
            json!({
                "number": i.number, "subject": i.subject, "department": i.department,
                "state": i.state, "link": i.link,
                "due": i.due_at.map(local_time), "open": i.state == "sent" || i.state == "overdue",
            })
        })
        .collect();
    render(
        &req,
        Some(&actor),
        StatusCode::OK,
        "referral/mine",
        json!({ "nav": "referrals", "items": items }),
    )
}

#[allow(clippy::too_many_arguments)]
async fn show(
    req: &HttpRequest,
    st: &AppState,
    // A signed-in handler gets the workspace header (Mina remisser, log out) on the page.
    actor: Option<&crate::accounts::Actor>,
    token: &str,
    status: StatusCode,
    sent: bool,
    error: Option<String>,
    draft: &str,
) -> Result<HttpResponse, PageError> {
    match referral::open(&st.db, &st.signer, token).await {
        Ok(v) => {
            let messages: Vec<_> = v
                .messages
                .iter()
                .map(|(citizen, text, at)| json!({ "citizen": citizen, "text": text, "at": local_time(*at) }))
                .collect();
            let mut r = render(
                req,
                actor,
                status,
                "referral/page",
                json!({
                    "token": token, "due": v.due_at.map(local_time), "messages": messages,
                    "answered": v.state == "answered", "sent": sent, "error": error, "draft": draft,
                    "view": v,
                }),
            )?;
            r.headers_mut().insert(
                header::CACHE_CONTROL,
                header::HeaderValue::from_static("no-store"),
            );
            Ok(r)
        }
        Err(Error::Forbidden(_) | Error::NotFound(_)) => render(
            req,
            None,
            StatusCode::FORBIDDEN,
            "status/invalid",
            json!({}),
        ),
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PageQuery {
    ok: String,
}

#[get("/remiss/{token}")]
pub async fn page(
    req: HttpRequest,
    st: web::Data<AppState>,
    path: web::Path<String>,
    q: web::Query<PageQuery>,
    actor: Option<crate::web::auth::PageActor>,
) -> Result<HttpResponse, PageError> {
    let actor = actor.map(|a| a.0);
    show(
        &req,
        &st,
        actor.as_ref(),
        &path,
        StatusCode::OK,
        q.ok == "sent",
        None,
        "",
    )
    .await
}

#[derive(Deserialize)]
pub struct AnswerForm {
    csrf: String,
    text: String,
    #[serde(default)]
    to: String,
}

#[post("/remiss/{token}/answer")]
pub async fn answer(
    req: HttpRequest,
    st: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<AnswerForm>,
    actor: Option<crate::web::auth::PageActor>,
) -> Result<HttpResponse, PageError> {
    let actor = actor.map(|a| a.0);
    if !form_trusted(&req, &form.csrf) {
        return Err(Failure::Csrf.into());
    }
    let to = if form.to == "citizen" {
        AnswerTo::Citizen
    } else {
        AnswerTo::Agent
    };
    match referral::answer(
        &st.db,
        &st.signer,
        &path,
        &form.text,
        to,
        &st.settings.mail.from,
    )
    .await
    {
        Ok(()) => Ok(HttpResponse::SeeOther()
            .insert_header((
                header::LOCATION,
                format!("/remiss/{}?ok=sent", path.as_str()),
            ))
            .finish()),
        Err(e @ (Error::Invalid(_) | Error::Conflict(_))) => {
            let failure = Failure::from(e);
            let msg = failure.message(page_locale(None, &req));
            show(
                &req,
                &st,
                actor.as_ref(),
                &path,
                failure.status(),
                false,
                Some(msg),
                &form.text,
            )
            .await
        }
        Err(Error::Forbidden(_) | Error::NotFound(_)) => render(
            &req,
            None,
            StatusCode::FORBIDDEN,
            "status/invalid",
            json!({}),
        ),
        Err(e) => Err(e.into()),
    }
}
