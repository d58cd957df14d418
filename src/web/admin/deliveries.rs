//! `/admin/deliveries`: what could not be delivered (mail, records-system requests) after every
//! retry, with the last error, and "Försök igen" (admins).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{fail, page, see_other};
use crate::text::time::local_time;
use crate::web::AppState;
use crate::web::auth::{CsrfForm, HasCsrf, PageActor};
use crate::web::errors::PageError;

#[get("/admin/deliveries")]
pub async fn list(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
) -> Result<HttpResponse, PageError> {
    let items = crate::tenants::deliveries::dead_letters(&st.db, &actor)
        .await
        .map_err(fail(&actor, &req))?;
    let rows: Vec<Value> = items
        .iter()
        .map(|d| {
            json!({
                "id": d.id,
                "kind": d.kind,
                "ticket": d.ticket,
                "attempts": d.attempts,
                "error": d.last_error,
                "created": local_time(d.created_at),
                "given_up": d.given_up_at.map(local_time),
            })
        })
        .collect();
    page(
        &req,
        &actor,
        StatusCode::OK,
        "deliveries",
        "admin/deliveries",
        json!({ "items": rows }),
    )
}

#[derive(Deserialize)]
pub struct RetryForm {
    csrf: String,
}

impl HasCsrf for RetryForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

#[post("/admin/deliveries/{id}/retry")]
pub async fn retry(
    req: HttpRequest,
    st: web::Data<AppState>,
    PageActor(actor): PageActor,
    path: web::Path<i64>,
    CsrfForm(_): CsrfForm<RetryForm>,
) -> Result<HttpResponse, PageError> {
    crate::tenants::deliveries::retry(&st.db, &st.jobs, &actor, path.into_inner())
        .await
        .map_err(fail(&actor, &req))?;
    Ok(see_other("/admin/deliveries?ok=retried".into()))
}
