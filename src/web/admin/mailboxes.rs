//! `/admin/mailboxes`: the function mailboxes with their IMAP state, a new mailbox, on/off.
//! Admins only. Passwords are write-only: taken from the form, sealed, never rendered back.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{fail, invalid_field, page, refusal, see_other, use_cases};
use crate::accounts::Actor;
use crate::domain::InvalidValue;
use crate::domain::Reason;
use crate::error::Error;
use crate::mail::mailboxes::{MailboxSpec, SmtpSpec};
use crate::web::AppState;
use crate::web::auth::{CsrfForm, HasCsrf, PageActor};
use crate::web::errors::PageError;
use crate::web::pages::page_locale;

/// Every field of `MailboxSpec`, as text (an empty optional field means "the default").
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct MailboxForm {
    csrf: String,
    address: String,
    queue: String,
    reply_from: String,
    imap_host: String,
    imap_port: String,
    tls: String,
    imap_user: String,
    password: String,
    folder: String,
    after_import: String,
    processed_folder: String,
    smtp_host: String,
    smtp_port: String,
    smtp_tls: String,
    smtp_user: String,
    smtp_password: String,
}

#[derive(Deserialize)]
pub struct EnabledForm {
    csrf: String,
    /// `true` or `false`.
    #[serde(default)]
    enabled: String,
}

impl HasCsrf for MailboxForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

impl HasCsrf for EnabledForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

fn optional(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

fn port(field: &'static str, s: &str) -> Result<Option<u16>, InvalidValue> {
    match s.trim() {
        "" => Ok(None),
        p => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .map(Some)
            .ok_or_else(|| InvalidValue::new(field, Reason::Range { min: 1, max: 65535 })),
    }
}

impl MailboxForm {
    fn spec(&self) -> Result<MailboxSpec, InvalidValue> {
        if self.queue.trim().is_empty() {
            return Err(InvalidValue::new("queue", Reason::Choose));
        }
        let smtp = match optional(&self.smtp_host) {
            None => None,
            Some(host) => {
                let tls = self.smtp_tls.trim().to_string();
                let default_port = match tls.as_str() {
                    "implicit" => 465,
                    "none" => 25,
                    _ => 587,
                };
                Some(SmtpSpec {
                    host,
                    port: port("smtp.port", &self.smtp_port)?.unwrap_or(default_port),
                    tls,
                    user: optional(&self.smtp_user),
                    password: (!self.smtp_password.is_empty()).then(|| self.smtp_password.clone()),
                })
            }
        };
        Ok(MailboxSpec {
            address: self.address.trim().to_string(),
            queue: self.queue.trim().to_string(),
            imap_host: self.imap_host.trim().to_string(),
            imap_port: port("imap_port", &self.imap_port)?,
            tls: self.tls.trim().to_string(),
            imap_user: optional(&self.imap_user),
            password: self.password.clone(),
            folder: self.folder.clone(),
            after_import: self.after_import.trim().to_string(),
            processed_folder: self.processed_folder.clone(),
            reply_from: optional(&self.reply_from),
            smtp,
        })
    }

    /// The form as shown again: everything but the passwords.
    fn view(&self) -> Value {
        json!({
            "address": self.address,
            "queue": self.queue,
            "reply_from": self.reply_from,
            "imap_host": self.imap_host,
            "imap_port": self.imap_port,
            "tls": self.tls,
            "imap_user": self.imap_user,
            "folder": self.folder,
            "after_import": self.after_import,
            "processed_folder": self.processed_folder,
            "smtp_host": self.smtp_host,
            "smtp_port": self.smtp_port,
            "smtp_tls": self.smtp_tls,
            "smtp_user": self.smtp_user,
        })
    }

    fn defaults() -> MailboxForm {
        MailboxForm {
            tls: "implicit".into(),
            folder: "INBOX".into(),
            after_import: "move".into(),
            processed_folder: "Arendo/Importerat".into(),
            smtp_tls: "starttls".into(),
            ..MailboxForm::default()
        }
    }
}

fn when(t: Option<chrono::NaiveDateTime>) -> Option<String> {
    t.map(crate::text::time::local_time)
}

#[get("/admin/mailboxes")]
pub async fn list(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
) -> Result<HttpResponse, PageError> {
    let rows = crate::mail::mailboxes::list(&st.db, &actor)
        .await
        .map_err(fail(&actor, &req))?;
    let mailboxes: Vec<Value> = rows
        .iter()
        .map(|r| {
            let m = &r.mailbox;
            json!({
                "id": m.id,
                "address": m.address,
                "queue": r.queue_name,
                "imap_host": format!("{}:{}", m.imap_host, m.imap_port),
                "imap_user": m.imap_user,
                "folder": m.folder,
                "enabled": m.enabled,
                "last_ok": r.state.as_ref().and_then(|s| when(s.last_ok_at)),
                "last_error": r.state.as_ref().and_then(|s| s.last_error.clone()),
            })
        })
        .collect();
    page(
        &req,
        &actor,
        StatusCode::OK,
        "mailboxes",
        "admin/mailboxes",
        json!({ "mailboxes": mailboxes }),
    )
}

async fn form_page(
    req: &HttpRequest,
    st: &AppState,
    actor: &Actor,
    status: StatusCode,
    form: Value,
    error: Option<String>,
    field: Option<&str>,
) -> Result<HttpResponse, PageError> {
    let queues: Vec<Value> = use_cases::all_queues(&st.db, actor)
        .await
        .map_err(fail(actor, req))?
        .iter()
        .map(|q| json!({ "slug": q.slug, "name": q.name }))
        .collect();
    page(
        req,
        actor,
        status,
        "mailboxes",
        "admin/mailbox_new",
        json!({ "queues": queues, "form": form, "error": error, "field": field }),
    )
}

#[get("/admin/mailboxes/new")]
pub async fn new_form(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
) -> Result<HttpResponse, PageError> {
    let form = MailboxForm::defaults().view();
    form_page(&req, &st, &actor, StatusCode::OK, form, None, None).await
}

#[post("/admin/mailboxes")]
pub async fn create(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
    CsrfForm(f): CsrfForm<MailboxForm>,
) -> Result<HttpResponse, PageError> {
    use_cases::require_admin(&actor).map_err(fail(&actor, &req))?;
    let result = match f.spec() {
        Ok(spec) => crate::mail::mailboxes::create(
            &st.db,
            st.keys.clone(),
            std::sync::Arc::new(crate::egress::Policy::from_settings(&st.settings)),
            &actor,
            spec,
        )
        .await
        .map(|_| ()),
        Err(v) => Err(Error::Invalid(v)),
    };
    match result {
        Ok(()) => Ok(see_other("/admin/mailboxes?ok=mailbox_added".into())),
        Err(e) => {
            let field = invalid_field(&e);
            let r = refusal(page_locale(Some(&actor), &req), "mailboxes", e)
                .map_err(fail(&actor, &req))?;
            form_page(
                &req,
                &st,
                &actor,
                r.status,
                f.view(),
                Some(r.message),
                field,
            )
            .await
        }
    }
}

#[post("/admin/mailboxes/{id:\\d+}/enabled")]
pub async fn set_enabled(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
    path: web::Path<i64>,
    CsrfForm(f): CsrfForm<EnabledForm>,
) -> Result<HttpResponse, PageError> {
    let enabled = f.enabled == "true";
    crate::mail::mailboxes::set_enabled(&st.db, &actor, path.into_inner(), enabled)
        .await
        .map_err(fail(&actor, &req))?;
    Ok(see_other(format!(
        "/admin/mailboxes?ok={}",
        if enabled {
            "mailbox_enabled"
        } else {
            "mailbox_disabled"
        }
    )))
}
