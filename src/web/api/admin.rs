//! Admin API: function mailboxes. Admins only; everything within the caller's tenant. Passwords
//! are write-only: accepted, sealed, never returned.

use actix_web::{HttpResponse, get, post, web};

use crate::error::Error;
use crate::mail::mailboxes::MailboxSpec;
use crate::web::AppState;
use crate::web::auth::ApiActor;
use crate::web::errors::ApiError;

use super::types;

fn admin_only(actor: &crate::accounts::Actor) -> Result<(), ApiError> {
    if actor.is_admin() {
        Ok(())
    } else {
        Err(Error::Forbidden("administrators only").into())
    }
}

/// GET /api/v1/admin/mailboxes — the tenant's function mailboxes and their IMAP state.
#[get("/admin/mailboxes")]
pub async fn list(
    st: web::Data<AppState>,
    ApiActor(actor): ApiActor,
) -> Result<HttpResponse, ApiError> {
    admin_only(&actor)?;
    let rows = crate::mail::mailboxes::list(&st.db, &actor)
        .await?
        .into_iter()
        .map(types::Mailbox::from)
        .collect();
    Ok(HttpResponse::Ok().json(types::MailboxList { mailboxes: rows }))
}

/// POST /api/v1/admin/mailboxes — add a function mailbox (see `MailboxSpec` for the fields).
#[post("/admin/mailboxes")]
pub async fn create(
    st: web::Data<AppState>,
    ApiActor(actor): ApiActor,
    body: super::json::ApiJson<MailboxSpec>,
) -> Result<HttpResponse, ApiError> {
    admin_only(&actor)?;
    let egress = std::sync::Arc::new(crate::egress::Policy::from_settings(&st.settings));
    let m =
        crate::mail::mailboxes::create(&st.db, st.keys.clone(), egress, &actor, body.into_inner())
            .await?;
    Ok(HttpResponse::Created().json(types::Mailbox::from(m)))
}
