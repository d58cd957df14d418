//! The citizen's status page (`/status/<link>`) and the form to get a link by mail
//! (`/mitt-arende/<municipality>`). No sign-in: the signed link is the key.

use std::collections::HashMap;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use futures_util::StreamExt as _;
use serde::Deserialize;
use serde_json::json;

use crate::error::Error;
use crate::mail::intake::StoredAttachment;
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

/// Largest upload with a reply (all files together).
const MAX_UPLOAD: usize = 25 * 1024 * 1024;

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
            let mut data = json!({
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
    show(&req, &st, &path, StatusCode::OK, json!({ "sent": sent })).await
}

/// The citizen's reply (multipart: `text`, `files`, `csrf`).
#[post("/status/{token}/reply")]
pub async fn reply(
    req: HttpRequest,
    st: web::Data<AppState>,
    path: web::Path<String>,
    mut form: actix_multipart::Multipart,
) -> Result<HttpResponse, PageError> {
    let token = path.into_inner();
    let mut fields: HashMap<String, String> = HashMap::new();
    let mut files: Vec<(String, String, Vec<u8>)> = vec![];
    let mut total = 0usize;
    while let Some(field) = form.next().await {
        let mut field = field.map_err(|e| Failure::BadRequest(e.to_string()))?;
        let name = field.name().unwrap_or("").to_string();
        let filename = field
            .content_disposition()
            .and_then(|cd| cd.get_filename().map(str::to_string));
        let content_type = field
            .content_type()
            .map(|m| m.essence_str().to_string())
            .unwrap_or_else(|| "application/octet-stream".into());
        let mut bytes = vec![];
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(|e| Failure::BadRequest(e.to_string()))?;
            total += chunk.len();
            if total > MAX_UPLOAD {
                let locale = page_locale(None, &req);
                let msg = Failure::from(crate::domain::InvalidValue::new(
                    "files",
                    "at most 25 MB in all",
                ))
                .message(locale);
                return show(
                    &req,
                    &st,
                    &token,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    json!({ "error": msg }),
                )
                .await;
            }
            bytes.extend_from_slice(&chunk);
        }
        match (name.as_str(), filename) {
            ("files", Some(f)) if !f.is_empty() && !bytes.is_empty() => {
                files.push((f, content_type, bytes))
            }
            ("files", _) => {}
            _ => {
                fields.insert(name, String::from_utf8_lossy(&bytes).into_owned());
            }
        }
    }
    let get = |k: &str| fields.get(k).map(String::as_str).unwrap_or("");
    if !form_trusted(&req, get("csrf")) {
        return Err(Failure::Csrf.into());
    }
    let text = get("text").to_string();
    let blobs = st.blobs.clone();
    let stored: Vec<StoredAttachment> = tokio::task::spawn_blocking(move || {
        files
            .into_iter()
            .map(|(filename, content_type, bytes)| {
                let sha256 = blobs.put(&bytes)?;
                Ok(StoredAttachment {
                    filename: crate::mail::parse::sanitize_filename(&filename),
                    content_type,
                    size: bytes.len() as i64,
                    sha256,
                    inline: false,
                    content_id: None,
                })
            })
            .collect::<std::io::Result<Vec<_>>>()
    })
    .await
    .map_err(|e| Failure::Domain(Error::Internal(e.to_string())))?
    .map_err(|e| Failure::Domain(Error::Internal(format!("attachment file: {e}"))))?;
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
    crate::citizen::request_link(
        &st.db,
        &st.signer,
        &crate::citizen::LinkRequest {
            public_url: &st.settings.server.public_url,
            mail_from: &st.settings.mail.from,
            tenant_slug: &path,
            number: &form.number,
            email: &form.email,
            days: i64::from(st.settings.notify.status_link_days),
        },
    )
    .await?;
    render(
        &req,
        None,
        StatusCode::OK,
        "status/lookup",
        json!({
            "tenant_slug": path.as_str(), "tenant_name": name, "requested": true,
        }),
    )
}
