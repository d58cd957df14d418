//! The citizen's status page (`/status/<link>`) and the form to get a link by mail
//! (`/mitt-arende/<municipality>`). No sign-in: the signed link is the key.

use std::collections::HashMap;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::Deserialize;
use serde_json::json;

use crate::error::Error;
use crate::web::AppState;
use crate::web::auth::form_trusted;
use crate::web::errors::{Failure, PageError};
use crate::web::pages::{page_locale, render};
use crate::web::workspace::local_time;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(page)
        .service(reply)
        .service(lookup_form)
        .service(lookup);
}

async fn show(
    req: &HttpRequest,
    st: &AppState,
    token: &str,
    status: StatusCode,
    extra: serde_json::Value,
) -> Result<HttpResponse, PageError> {
    match crate::citizen::open(&st.db, &st.signer, token).await {
        Ok(v) => {
            let messages: Vec<_> = v
                .messages
                .iter()
                .map(|m| json!({
                    "mine": m.kind == "inbound", "text": m.text, "at": local_time(m.at), "files": m.files,
                }))
                .collect();
            // The citizen's language, or the one they switched to (`?lang=`).
            let lang = extra
                .get("lang")
                .and_then(|v| v.as_str())
                .filter(|l| matches!(*l, "sv" | "en"))
                .unwrap_or(v.language.as_str())
                .to_string();
            let mut data = json!({
                "page_locale": lang,
                "other_lang": if lang == "en" { "sv" } else { "en" },
                "token": token,
                "ticket": v, "created": local_time(v.created_at), "messages": messages,
                "status_key": if v.waiting_for_you { "waiting_citizen".to_string() } else { v.status.as_str().to_string() },
                "draft": "", "error": null, "sent": false,
            });
            if let (Some(d), Some(e)) = (data.as_object_mut(), extra.as_object()) {
                d.extend(e.clone());
            }
            let mut r = render(req, None, status, "status/page", data)?;
            r.headers_mut().insert(
                header::CACHE_CONTROL,
                header::HeaderValue::from_static("no-store"),
            );
            // Referrer-Policy stays same-origin (set for every page): the link never leaks to
            // another site, and the browser still sends the Origin the CSRF check needs.
            Ok(r)
        }
        Err(Error::Forbidden(_) | Error::NotFound(_)) => render(
            req,
            None,
            StatusCode::FORBIDDEN,
            "status/invalid",
            json!({ "tenants": [] }),
        ),
        Err(e) => Err(e.into()),
    }
}

#[get("/status/{token}")]
pub async fn page(
    req: HttpRequest,
    st: web::Data<AppState>,
    path: web::Path<String>,
    q: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, PageError> {
    let sent = q.get("ok").is_some_and(|v| v == "sent");
    let lang = q.get("lang").cloned().unwrap_or_default();
    show(
        &req,
        &st,
        &path,
        StatusCode::OK,
        json!({ "sent": sent, "lang": lang }),
    )
    .await
}

/// The citizen's reply (multipart: `text`, `files`, `csrf`).
#[post("/status/{token}/reply")]
pub async fn reply(
    req: HttpRequest,
    st: web::Data<AppState>,
    path: web::Path<String>,
    form: actix_multipart::Multipart,
) -> Result<HttpResponse, PageError> {
    let token = path.into_inner();
    let up = match crate::web::uploads::read(form, "files").await {
        Ok(up) => up,
        Err(crate::web::uploads::UploadError::TooBig(v)) => {
            let msg = Failure::from(v).message(page_locale(None, &req));
            return show(
                &req,
                &st,
                &token,
                StatusCode::UNPROCESSABLE_ENTITY,
                json!({ "error": msg }),
            )
            .await;
        }
        Err(crate::web::uploads::UploadError::Broken(f)) => return Err(f.into()),
    };
    if !form_trusted(&req, up.get("csrf")) {
        return Err(Failure::Csrf.into());
    }
    let text = up.get("text").to_string();
    let stored = crate::web::uploads::store(&st.blobs, up.files).await?;
    match crate::citizen::reply(&st.db, &st.signer, &token, &text, stored).await {
        Ok(()) => Ok(HttpResponse::SeeOther()
            .insert_header((header::LOCATION, format!("/status/{token}?ok=sent")))
            .finish()),
        Err(e @ Error::Invalid(_)) => {
            let msg = Failure::from(e).message(page_locale(None, &req));
            show(
                &req,
                &st,
                &token,
                StatusCode::UNPROCESSABLE_ENTITY,
                json!({ "error": msg, "draft": text }),
            )
            .await
        }
        Err(Error::Forbidden(_) | Error::NotFound(_)) => render(
            &req,
            None,
            StatusCode::FORBIDDEN,
            "status/invalid",
            json!({ "tenants": [] }),
        ),
        Err(e) => Err(e.into()),
    }
}

#[get("/mitt-arende/{tenant}")]
pub async fn lookup_form(
    req: HttpRequest,
    st: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let (_, name) = crate::kb::public_tenant(&st.db, &path).await?;
    render(
        &req,
        None,
        StatusCode::OK,
        "status/lookup",
        json!({ "tenant_slug": path.as_str(), "tenant_name": name }),
    )
}

#[derive(Deserialize)]
pub struct LookupForm {
    csrf: String,
    number: String,
    email: String,
}

/// Mail a fresh link when the number and address match; the same answer either way.
#[post("/mitt-arende/{tenant}")]
pub async fn lookup(
    req: HttpRequest,
    st: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<LookupForm>,
) -> Result<HttpResponse, PageError> {
    if !form_trusted(&req, &form.csrf) {
        return Err(Failure::Csrf.into());
    }
    let (_, name) = crate::kb::public_tenant(&st.db, &path).await?;
    let ip = crate::web::auth::client_ip(&req);
    let asked = crate::citizen::request_link(
        &st.db,
        &st.signer,
        &crate::citizen::LinkRequest {
            public_url: &st.settings.server.public_url,
            mail_from: &st.settings.mail.from,
            tenant_slug: &path,
            number: &form.number,
            email: &form.email,
            days: i64::from(st.settings.notify.status_link_days),
            ip: &ip,
            per_ip: st.settings.notify.link_requests_per_ip,
            per_ticket: st.settings.notify.link_mails_per_ticket,
        },
    )
    .await;
    let (status, wait) = match asked {
        Ok(()) => (StatusCode::OK, None),
        Err(crate::error::Error::Throttled { retry_after_secs }) => (
            StatusCode::TOO_MANY_REQUESTS,
            Some((retry_after_secs + 59) / 60),
        ),
        Err(e) => return Err(e.into()),
    };
    render(
        &req,
        None,
        status,
        "status/lookup",
        json!({
            "tenant_slug": path.as_str(), "tenant_name": name,
            "requested": wait.is_none(), "wait_minutes": wait,
        }),
    )
}
