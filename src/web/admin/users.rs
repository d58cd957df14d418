//! `/admin/users`: the accounts with their queues, a new account; per account: activate or
//! deactivate, a new password, the preferred language. Admins only.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{fail, invalid_field, page, refusal, see_other, use_cases};
use crate::accounts::Actor;
use crate::domain::InvalidValue;
use crate::domain::Reason;
use crate::error::Error;
use crate::web::AppState;
use crate::web::auth::{CsrfForm, HasCsrf, PageActor};
use crate::web::errors::PageError;
use crate::web::pages::page_locale;

#[derive(Deserialize)]
pub struct NewUserForm {
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    repeat: String,
}

#[derive(Deserialize)]
pub struct ActiveForm {
    csrf: String,
    /// `true` or `false`.
    #[serde(default)]
    active: String,
}

#[derive(Deserialize)]
pub struct PasswordForm {
    csrf: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    repeat: String,
}

#[derive(Deserialize)]
pub struct LocaleForm {
    csrf: String,
    #[serde(default)]
    locale: String,
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
has_csrf!(NewUserForm, ActiveForm, PasswordForm, LocaleForm);

fn queues_view(queues: &[crate::tenants::admin::QueueMembership]) -> Vec<Value> {
    queues
        .iter()
        .map(|(id, name, role)| json!({ "id": id, "name": name, "role": role }))
        .collect()
}

async fn list_page(
    req: &HttpRequest,
    st: &AppState,
    actor: &Actor,
    status: StatusCode,
    form: Value,
) -> Result<HttpResponse, PageError> {
    let rows = use_cases::users(&st.db, actor)
        .await
        .map_err(fail(actor, req))?;
    let users: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({
                "id": r.user.id,
                "name": r.user.display_name,
                "email": r.user.email,
                "role": r.user.role,
                "active": r.user.active,
                "locale": r.user.locale,
                "queues": queues_view(&r.queues),
            })
        })
        .collect();
    page(
        req,
        actor,
        status,
        "users",
        "admin/users",
        json!({ "users": users, "form": form }),
    )
}

#[get("/admin/users")]
pub async fn list(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
) -> Result<HttpResponse, PageError> {
    let form = json!({ "name": "", "email": "", "role": "agent", "error": null, "field": null });
    list_page(&req, &st, &actor, StatusCode::OK, form).await
}

fn same_passwords(a: &str, b: &str) -> Result<(), Error> {
    if a == b {
        Ok(())
    } else {
        Err(InvalidValue::new("repeat", Reason::PasswordsDiffer).into())
    }
}

#[post("/admin/users")]
pub async fn create(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
    CsrfForm(f): CsrfForm<NewUserForm>,
) -> Result<HttpResponse, PageError> {
    let input = use_cases::NewUserInput {
        display_name: &f.name,
        email: &f.email,
        role: &f.role,
        password: &f.password,
        queues: &[],
    };
    // Permission first: a non-admin gets 403 whatever the form says.
    use_cases::require_admin(&actor).map_err(fail(&actor, &req))?;
    let result = match same_passwords(&f.password, &f.repeat) {
        Ok(()) => use_cases::create_user(&st.db, &actor, input).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(u) => Ok(see_other(format!("/admin/users/{}?ok=user_created", u.id))),
        Err(e) => {
            let field = invalid_field(&e);
            let r =
                refusal(page_locale(Some(&actor), &req), "users", e).map_err(fail(&actor, &req))?;
            // Passwords are never sent back to the browser; everything else is kept.
            let form = json!({
                "name": f.name, "email": f.email, "role": f.role,
                "error": r.message, "field": field,
            });
            list_page(&req, &st, &actor, r.status, form).await
        }
    }
}

struct Forms {
    status: StatusCode,
    active_error: Option<String>,
    password_error: Option<String>,
    locale: Option<String>,
    locale_error: Option<String>,
}

impl Forms {
    fn fresh() -> Forms {
        Forms {
            status: StatusCode::OK,
            active_error: None,
            password_error: None,
            locale: None,
            locale_error: None,
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
    let r = use_cases::user(&st.db, actor, id)
        .await
        .map_err(fail(actor, req))?;
    let locale = forms.locale.unwrap_or_else(|| r.user.locale.clone());
    page(
        req,
        actor,
        forms.status,
        "users",
        "admin/user",
        json!({
            "user": {
                "id": r.user.id,
                "name": r.user.display_name,
                "email": r.user.email,
                "role": r.user.role,
                "active": r.user.active,
                "locale": r.user.locale,
                "queues": queues_view(&r.queues),
                "me": actor.person() == Some(r.user.id),
            },
            "active_error": forms.active_error,
            "password_error": forms.password_error,
            "locale_value": locale,
            "locale_error": forms.locale_error,
        }),
    )
}

#[get("/admin/users/{id:\\d+}")]
pub async fn detail(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
    path: web::Path<i64>,
) -> Result<HttpResponse, PageError> {
    detail_page(&req, &st, &actor, path.into_inner(), Forms::fresh()).await
}

fn back(id: i64, ok: &str) -> HttpResponse {
    see_other(format!("/admin/users/{id}?ok={ok}"))
}

#[post("/admin/users/{id:\\d+}/active")]
pub async fn set_active(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
    path: web::Path<i64>,
    CsrfForm(f): CsrfForm<ActiveForm>,
) -> Result<HttpResponse, PageError> {
    let id = path.into_inner();
    let active = f.active == "true";
    match use_cases::set_user_active(&st.db, &actor, id, active).await {
        Ok(()) => Ok(back(id, if active { "activated" } else { "deactivated" })),
        Err(e) => {
            let r =
                refusal(page_locale(Some(&actor), &req), "users", e).map_err(fail(&actor, &req))?;
            let forms = Forms {
                status: r.status,
                active_error: Some(r.message),
                ..Forms::fresh()
            };
            detail_page(&req, &st, &actor, id, forms).await
        }
    }
}

#[post("/admin/users/{id:\\d+}/password")]
pub async fn set_password(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
    path: web::Path<i64>,
    CsrfForm(f): CsrfForm<PasswordForm>,
) -> Result<HttpResponse, PageError> {
    let id = path.into_inner();
    use_cases::require_admin(&actor).map_err(fail(&actor, &req))?;
    let result = match same_passwords(&f.password, &f.repeat) {
        Ok(()) => use_cases::set_user_password(&st.db, &actor, id, &f.password).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => Ok(back(id, "password_set")),
        Err(e) => {
            let r =
                refusal(page_locale(Some(&actor), &req), "users", e).map_err(fail(&actor, &req))?;
            let forms = Forms {
                status: r.status,
                password_error: Some(r.message),
                ..Forms::fresh()
            };
            detail_page(&req, &st, &actor, id, forms).await
        }
    }
}

#[post("/admin/users/{id:\\d+}/locale")]
pub async fn set_locale(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
    path: web::Path<i64>,
    CsrfForm(f): CsrfForm<LocaleForm>,
) -> Result<HttpResponse, PageError> {
    let id = path.into_inner();
    match use_cases::set_user_locale(&st.db, &actor, id, &f.locale).await {
        Ok(()) => Ok(back(id, "locale_saved")),
        Err(e) => {
            let r =
                refusal(page_locale(Some(&actor), &req), "users", e).map_err(fail(&actor, &req))?;
            let forms = Forms {
                status: r.status,
                locale: Some(f.locale),
                locale_error: Some(r.message),
                ..Forms::fresh()
            };
            detail_page(&req, &st, &actor, id, forms).await
        }
    }
}
