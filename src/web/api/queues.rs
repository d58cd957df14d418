use actix_web::{HttpResponse, get, web};

use crate::tenants;
use crate::web::AppState;
use crate::web::auth::ApiActor;
use crate::web::errors::ApiError;

use super::types;

/// GET /api/v1/queues — the caller's queues with open-ticket counts.
#[get("/queues")]
pub async fn list(
    st: web::Data<AppState>,
    ApiActor(actor): ApiActor,
) -> Result<HttpResponse, ApiError> {
    let queues = tenants::my_queues(&st.db, &actor).await?;
    Ok(HttpResponse::Ok().json(types::QueueList::from(queues)))
}

/// GET /api/v1/me — who the token or session belongs to.
#[get("/me")]
pub async fn me(ApiActor(actor): ApiActor) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(types::Me::from(&actor)))
}
