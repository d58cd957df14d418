//! The citizen's status page (`/status/<link>`) and the form to get a link by mail
//! (`/mitt-arende/<municipality>`). No sign-in: the signed link is the key.

use std::collections::HashMap;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::Deserialize;
use serde_json::json;

use crate::domain::Reason;
use crate::error::Error;
use crate::text::time::local_time;
use crate::web::AppState;
use crate::web::auth::{CsrfForm, PageActor, form_trusted};
use crate::web::errors::{Failure, PageError};
use crate::web::pages::{page_locale, render};
use crate::web::uploads::StreamError;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(page)
        .service(reply)
        .service(lookup_form)
        .service(lookup)
        .service(revoke);
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

/// The citizen's reply (multipart: `csrf`, `text`, then `files`). Checked before it is read:
/// a link that does not work is refused without reading the body, the CSRF token (which the
/// form sends before the files) before a byte of a file is read, and the files go to disk as
/// they arrive, no more than the ticket's hourly allowance. Refused for size or allowance, the
/// page comes back with what the citizen wrote.
#[post("/status/{token}/reply")]
pub async fn reply(
    req: HttpRequest,
    st: web::Data<AppState>,
    path: web::Path<String>,
    form: actix_multipart::Multipart,
) -> Result<HttpResponse, PageError> {
    let token = path.into_inner();
    let limits = crate::citizen::ReplyLimits::from_settings(&st.settings.notify);
    let (max_bytes, mut throttled) =
        match crate::citizen::reply_allowance(&st.db, &st.signer, &token, limits).await {
            Ok(left) => (left.min(crate::web::uploads::MAX_UPLOAD as u64), None),
            // The text is still read (files are not), so that the page can keep it.
            Err(Error::Throttled { retry_after_secs }) => (0, Some(retry_after_secs)),
            Err(Error::Forbidden(_) | Error::NotFound(_)) => return invalid_link(&req),
            Err(e) => return Err(e.into()),
        };
    let check = |fields: &[(String, String)]| {
        if form_trusted(&req, crate::web::uploads::field(fields, "csrf")) {
            Ok(())
        } else {
            Err(Failure::Csrf)
        }
    };
    let up = match crate::web::uploads::read_streamed(form, "files", &st.blobs, max_bytes, check)
        .await
    {
        Ok(up) => up,
        Err(StreamError::Refused(f) | StreamError::Broken(f)) => return Err(f.into()),
        Err(StreamError::TooBig { fields, limit }) => {
            let draft = crate::web::uploads::field(&fields, "text").to_string();
            if throttled.is_some() || limit < crate::web::uploads::MAX_UPLOAD as u64 {
                let secs = throttled.unwrap_or(3600);
                return too_much(&req, &st, &token, secs, limit, &draft).await;
            }
            let v = crate::domain::InvalidValue::new(
                "attachments",
                crate::domain::Reason::TooBig {
                    mb: (limit / 1024 / 1024) as usize,
                },
            );
            let msg = Failure::from(v).message(page_locale(None, &req));
            return show(
                &req,
                &st,
                &token,
                StatusCode::UNPROCESSABLE_ENTITY,
                json!({ "error": msg, "draft": draft }),
            )
            .await;
        }
    };
    // Text fields are not read by the edge's body scanner (multipart): NUL and other control
    // characters are refused here, before anything is stored.
    crate::web::input::refuse_controls(&up.fields)?;
    let text = up.get("text").to_string();
    let result = match throttled.take() {
        Some(retry_after_secs) => Err(Error::Throttled { retry_after_secs }),
        None => crate::citizen::reply(&st.db, &st.signer, &token, &text, up.files, limits).await,
    };
    match result {
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
        Err(Error::Throttled { retry_after_secs }) => {
            too_much(&req, &st, &token, retry_after_secs, max_bytes, &text).await
        }
        Err(Error::Forbidden(_) | Error::NotFound(_)) => invalid_link(&req),
        Err(e) => Err(e.into()),
    }
}

fn invalid_link(req: &HttpRequest) -> Result<HttpResponse, PageError> {
    render(
        req,
        None,
        StatusCode::FORBIDDEN,
        "status/invalid",
        json!({ "tenants": [] }),
    )
}

/// 429: the ticket's citizen has sent as much as an hour allows; what they wrote stays.
async fn too_much(
    req: &HttpRequest,
    st: &AppState,
    token: &str,
    retry_after_secs: i64,
    bytes_left: u64,
    draft: &str,
) -> Result<HttpResponse, PageError> {
    let locale = page_locale(None, req);
    let minutes = (retry_after_secs.max(1) + 59) / 60;
    let t = crate::text::Templates::get();
    let msg = if bytes_left > 0 {
        t.text(locale, "status.reply.too_many_bytes").replace(
            "{mb}",
            &format!("{:.1}", bytes_left as f64 / 1024.0 / 1024.0),
        )
    } else {
        t.text(locale, "status.reply.throttled")
            .replace("{minutes}", &minutes.to_string())
    };
    let mut r = show(
        req,
        st,
        token,
        StatusCode::TOO_MANY_REQUESTS,
        json!({ "error": msg, "draft": draft }),
    )
    .await?;
    if r.status() == StatusCode::TOO_MANY_REQUESTS {
        r.headers_mut().insert(
            header::RETRY_AFTER,
            header::HeaderValue::from(retry_after_secs.max(1)),
        );
    }
    Ok(r)
}

#[derive(Deserialize)]
pub struct RevokeForm {
    csrf: String,
    #[serde(default)]
    sure: String,
}

impl crate::web::auth::HasCsrf for RevokeForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// An agent ends the ticket's status links (the ticket page's button, with its confirmation).
#[post("/tickets/{number}/status-links/revoke")]
pub async fn revoke(
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
    path: web::Path<String>,
    CsrfForm(f): CsrfForm<RevokeForm>,
) -> Result<HttpResponse, PageError> {
    let number = crate::domain::TicketNumber::parse(&path).map_err(Error::from)?;
    if f.sure != "1" {
        return Err(Error::from(crate::domain::InvalidValue::new(
            "sure",
            Reason::ConfirmStop,
        ))
        .into());
    }
    crate::citizen::revoke_links(&st.db, &actor, number.clone()).await?;
    Ok(HttpResponse::SeeOther()
        .insert_header((
            header::LOCATION,
            format!("/tickets/{number}?ok=status_links_revoked"),
        ))
        .finish())
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
        &crate::citizen::LinkRequest {
            tenant_slug: &path,
            number: &form.number,
            email: &form.email,
            ip: &ip,
            per_ip: st.settings.notify.link_requests_per_ip,
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
