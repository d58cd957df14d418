use actix_web::{HttpResponse, get, web};

use crate::web::AppState;
use crate::web::auth::ApiActor;
use crate::web::errors::ApiError;
use crate::web::survey::{PeriodQuery, period_of};

/// GET /api/v1/stats/survey?from=YYYY-MM&to=YYYY-MM — servicemätning per queue and month
/// (the SKR index 0–100 with 95 % intervals, answers, comments), as on `/stats/survey`.
#[get("/stats/survey")]
pub async fn results(
    st: web::Data<AppState>,
    ApiActor(actor): ApiActor,
    q: web::Query<PeriodQuery>,
) -> Result<HttpResponse, ApiError> {
    let (from, to) = period_of(&q);
    let report = crate::survey::results(&st.db, &actor, &from, &to).await?;
    Ok(HttpResponse::Ok().json(super::types::SurveyReport::from(report)))
}
