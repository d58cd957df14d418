//! Server-rendered pages: login, logout, the start page and password change.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::auth::{
    CsrfForm, HasCsrf, PageActor, clear_session_cookie, client_ip, csrf_token, session_cookie,
};
use super::errors::{Failure, PageError};
use crate::accounts::{self, Actor, LoginAttempt};
use crate::error::Error;
use crate::text::{Templates, locale_from_accept_language};

pub(crate) fn page_locale(actor: Option<&Actor>, req: &HttpRequest) -> &'static str {
    match actor.map(|a| a.locale.as_str()) {
        Some("en") => "en",
        Some(_) => "sv",
        None => locale_from_accept_language(
            req.headers()
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok()),
        ),
    }
}

/// Render `name` with `data` plus what every page needs (locale, CSRF token, the signed-in user).
/// The locale is the user's (or the browser's), unless `data` names one as `page_locale` (the
/// citizen's status page speaks the citizen's language).
pub(crate) fn render(
    req: &HttpRequest,
    actor: Option<&Actor>,
    status: actix_web::http::StatusCode,
    name: &str,
    mut data: Value,
) -> Result<HttpResponse, PageError> {
    let locale = match data.get("page_locale").and_then(|v| v.as_str()) {
        Some("en") => "en",
        Some("sv") => "sv",
        _ => page_locale(actor, req),
    };
    let (csrf, cookie) = csrf_token(req);
    data["locale"] = json!(locale);
    data["csrf"] = json!(csrf);
    data["signed_in"] = json!(actor.is_some());
    if data.get("nav").is_none() {
        data["nav"] = json!("");
    }
    // Citizen pages carry the municipality's name (from the page's tenant), not the product's.
    if data.get("org_name").is_none() {
        let org = match actor {
            None => data
                .get("tenant_name")
                .or_else(|| data.pointer("/ticket/tenant"))
                .or_else(|| data.pointer("/view/tenant"))
                .filter(|v| v.is_string())
                .cloned(),
            Some(_) => None,
        };
        data["org_name"] = org.unwrap_or(Value::Null);
    }
    if let Some(a) = actor {
        let leads = a
            .memberships
            .iter()
            .any(|(_, r)| *r == crate::domain::MembershipRole::Lead);
        data["me"] = json!({
            "id": a.person(), "name": a.name, "email": a.email, "role": a.role,
            "can_admin": a.is_admin() || leads,
        });
    }
    let html = Templates::get()
        .render(name, &data)
        .map_err(|e| PageError {
            failure: Error::Internal(e.to_string()).into(),
            locale,
        })?;
    let mut resp = HttpResponse::build(status);
    resp.content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"));
    if let Some(c) = cookie {
        resp.cookie(c);
    }
    Ok(resp.body(html))
}

#[derive(Deserialize)]
pub struct LoginForm {
    csrf: String,
    #[serde(default)]
    tenant: String,
    email: String,
    password: String,
}

impl HasCsrf for LoginForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

async fn login_page_data(
    st: &AppState,
    email: &str,
    error: Option<String>,
) -> Result<Value, PageError> {
    let tenants = crate::tenants::served(&st.db).await?;
    let choices: Vec<Value> = tenants
        .iter()
        .map(|(slug, name)| json!({ "slug": slug, "name": name }))
        .collect();
    Ok(json!({
        "tenants": choices,
        "single_tenant": tenants.len() == 1,
        "only_tenant": tenants.first().map(|(slug, _)| slug.clone()).unwrap_or_default(),
        "email": email,
        "error": error,
    }))
}

#[get("/login")]
pub async fn login_form(
    req: HttpRequest,
    st: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let data = login_page_data(&st, "", None).await?;
    render(&req, None, actix_web::http::StatusCode::OK, "login", data)
}

/// The device cookie: a browser that signed in as an account before is exempt from the
/// account's and the address's limits (OWASP "device cookies"); it is sent only to /login.
pub const DEVICE_COOKIE: &str = "arendo_device";

fn device_cookie(st: &AppState, value: String) -> actix_web::cookie::Cookie<'static> {
    actix_web::cookie::Cookie::build(DEVICE_COOKIE, value)
        .path("/login")
        .http_only(true)
        .secure(st.settings.secure_cookies())
        .same_site(actix_web::cookie::SameSite::Strict)
        .max_age(actix_web::cookie::time::Duration::days(i64::from(
            st.settings.auth.device_cookie_days.max(1),
        )))
        .finish()
}

#[post("/login")]
pub async fn login(
    req: HttpRequest,
    st: web::Data<AppState>,
    CsrfForm(form): CsrfForm<LoginForm>,
) -> Result<HttpResponse, PageError> {
    let attempt = LoginAttempt {
        tenant_slug: form.tenant.clone(),
        email: form.email.clone(),
        password: form.password,
        ip: client_ip(&req),
        device: req.cookie(DEVICE_COOKIE).map(|c| c.value().to_string()),
    };
    match accounts::login(&st.db, &st.signer, &st.settings.auth, attempt).await {
        Ok(signed_in) => Ok(HttpResponse::SeeOther()
            .cookie(session_cookie(&st, signed_in.token))
            .cookie(device_cookie(&st, signed_in.device))
            .insert_header((header::LOCATION, "/"))
            .finish()),
        Err(e @ (Error::BadCredentials | Error::Throttled { .. } | Error::Busy { .. })) => {
            let locale = page_locale(None, &req);
            let failure = Failure::from(e);
            let status = failure.status();
            let mut resp = render(
                &req,
                None,
                status,
                "login",
                login_page_data(&st, &form.email, Some(failure.message(locale))).await?,
            )?;
            if let Failure::Domain(
                Error::Throttled { retry_after_secs } | Error::Busy { retry_after_secs },
            ) = failure
            {
                resp.headers_mut().insert(
                    header::RETRY_AFTER,
                    header::HeaderValue::from(retry_after_secs),
                );
            }
            Ok(resp)
        }
        Err(e) => Err(e.into()),
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

#[post("/logout")]
pub async fn logout(
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
    _form: CsrfForm<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    accounts::logout(&st.db, &actor).await?;
    Ok(HttpResponse::SeeOther()
        .cookie(clear_session_cookie(&st))
        .insert_header((header::LOCATION, "/login"))
        .finish())
}

#[get("/account/password")]
pub async fn password_form(
    req: HttpRequest,
    PageActor(actor): PageActor,
) -> Result<HttpResponse, PageError> {
    render(
        &req,
        Some(&actor),
        actix_web::http::StatusCode::OK,
        "password",
        json!({ "error": null, "done": false }),
    )
}

#[derive(Deserialize)]
pub struct LanguageForm {
    csrf: String,
    locale: String,
}

impl HasCsrf for LanguageForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// Choose the language of one's own pages.
#[post("/account/language")]
pub async fn change_language(
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
    CsrfForm(form): CsrfForm<LanguageForm>,
) -> Result<HttpResponse, PageError> {
    crate::tenants::admin::set_own_locale(&st.db, &actor, &form.locale).await?;
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/account/password"))
        .finish())
}

#[derive(Deserialize)]
pub struct PasswordForm {
    csrf: String,
    current: String,
    new: String,
    repeat: String,
}

impl HasCsrf for PasswordForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

#[post("/account/password")]
pub async fn change_password(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
    CsrfForm(form): CsrfForm<PasswordForm>,
) -> Result<HttpResponse, PageError> {
    let locale = page_locale(Some(&actor), &req);
    let t = Templates::get();
    let result = if form.new != form.repeat {
        Err((
            actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
            t.text(locale, "password.mismatch"),
            None,
        ))
    } else {
        let ip = client_ip(&req);
        accounts::change_password(
            &st.db,
            &actor,
            &st.settings.auth,
            &ip,
            &form.current,
            &form.new,
        )
        .await
        .map_err(|e| match e {
            Error::BadCredentials => (
                actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
                t.text(locale, "password.wrong_current"),
                None,
            ),
            Error::Throttled { retry_after_secs } => (
                actix_web::http::StatusCode::TOO_MANY_REQUESTS,
                t.text(locale, "password.throttled")
                    .replace("{seconds}", &retry_after_secs.to_string()),
                Some(retry_after_secs),
            ),
            other => {
                let f = Failure::from(other);
                let retry = match &f {
                    Failure::Domain(Error::Busy { retry_after_secs }) => Some(*retry_after_secs),
                    _ => None,
                };
                let status = match f.status() {
                    actix_web::http::StatusCode::INTERNAL_SERVER_ERROR => {
                        return (f.status(), f.message(locale), None);
                    }
                    s if s.is_server_error() => s,
                    _ => actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
                };
                (status, f.message(locale), retry)
            }
        })
    };
    let (status, data, retry) = match result {
        Ok(()) => (
            actix_web::http::StatusCode::OK,
            json!({ "error": null, "done": true }),
            None,
        ),
        Err((status, msg, retry)) => (status, json!({ "error": msg, "done": false }), retry),
    };
    let mut resp = render(&req, Some(&actor), status, "password", data)?;
    if let Some(secs) = retry {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from(secs));
    }
    Ok(resp)
}
