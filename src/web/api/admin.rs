//! Admin API: function mailboxes. Admins only; everything within the caller's tenant. Passwords
//! are write-only: accepted, sealed, never returned.

use actix_web::{HttpResponse, get, post, web};
use serde_json::json;

use crate::error::Error;
use crate::mail::mailboxes::MailboxSpec;
use crate::store;
use crate::web::AppState;
use crate::web::auth::ApiActor;
use crate::web::errors::ApiError;

fn admin_only(actor: &crate::accounts::Actor) -> Result<(), ApiError> {
    if actor.is_admin() {
        Ok(())
    } else {
        Err(Error::Forbidden("administrators only").into())
    }
}

fn view(
    m: &store::mailboxes::Mailbox,
    queue: &str,
    st: Option<&store::mail::MailboxState>,
) -> serde_json::Value {
    json!({
        "id": m.id,
        "address": m.address,
        "queue": queue,
        "imap_host": m.imap_host,
        "imap_port": m.imap_port,
        "tls": m.imap_tls,
        "imap_user": m.imap_user,
        "folder": m.folder,
        "after_import": m.after_import,
        "processed_folder": m.processed_folder,
        "reply_from": m.reply_from,
        "enabled": m.enabled,
        "own_smtp": m.smtp.is_some(),
        "state": st.map(|s| json!({
            "uidvalidity": s.uidvalidity,
            "last_uid": s.last_uid,
            "last_ok_at": s.last_ok_at,
            "last_error": s.last_error,
            "worked_by": s.lease_owner,
        })),
    })
}

/// GET /api/v1/admin/mailboxes — the tenant's function mailboxes and their IMAP state.
#[get("/admin/mailboxes")]
pub async fn list(
    st: web::Data<AppState>,
    ApiActor(actor): ApiActor,
) -> Result<HttpResponse, ApiError> {
    admin_only(&actor)?;
    let t = actor.tenant;
    let rows = st
        .db
        .read(move |c| -> Result<_, Error> {
            let mut out = vec![];
            for (m, q) in store::mailboxes::list(c, t)? {
                let state = store::mail::state(c, t, m.id)?;
                out.push(view(&m, &q, state.as_ref()));
            }
            Ok(out)
        })
        .await?;
    Ok(HttpResponse::Ok().json(json!({ "mailboxes": rows })))
}

/// POST /api/v1/admin/mailboxes — add a function mailbox (see `MailboxSpec` for the fields).
#[post("/admin/mailboxes")]
pub async fn create(
    st: web::Data<AppState>,
    ApiActor(actor): ApiActor,
    body: super::json::ApiJson<MailboxSpec>,
) -> Result<HttpResponse, ApiError> {
    admin_only(&actor)?;
    let spec = body.into_inner();
    let queue = spec.queue.clone();
    let egress = std::sync::Arc::new(crate::egress::Policy::from_settings(&st.settings));
    let m =
        crate::tenants::admin::add_mailbox(&st.db, st.keys.clone(), egress, &actor, spec).await?;
    let q = queue;
    Ok(HttpResponse::Created().json(view(&m, &q, None)))
}
