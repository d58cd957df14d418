use actix_web::{HttpResponse, get, web};
use serde_json::json;

use crate::tenants;
use crate::web::AppState;
use crate::web::auth::ApiActor;
use crate::web::errors::ApiError;

/// GET /api/v1/queues — the caller's queues with open-ticket counts.
#[get("/queues")]
pub async fn list(
    st: web::Data<AppState>,
    ApiActor(actor): ApiActor,
) -> Result<HttpResponse, ApiError> {
    let queues = tenants::my_queues(&st.db, &actor).await?;
    Ok(HttpResponse::Ok().json(json!({ "queues": queues })))
}

/// GET /api/v1/me — who the token or session belongs to.
#[get("/me")]
pub async fn me(ApiActor(actor): ApiActor) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(json!({
        "id": actor.user,
        "email": actor.email,
        "name": actor.name,
        "role": actor.role,
        "tenant": actor.tenant,
        "scopes": actor.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
    })))
}
