//! `GET /api/v1/stats` (every figure) and `GET /api/v1/stats/{table}` (one table as exported),
//! scope `stats:read`, with the filters of `/stats` as query parameters. A bad filter is a 400
//! that names its parameter (`bad_query`).

use actix_web::{HttpRequest, HttpResponse, get, web};

use super::stats_types::{Stats, TableOut};
use crate::error::Error;
use crate::web::AppState;
use crate::web::auth::ApiActor;
use crate::web::errors::{ApiError, Failure};
use crate::web::stats::tables::{self, Ctx, Words};
use crate::web::stats::{params, today};

async fn report(
    st: &AppState,
    actor: &crate::accounts::Actor,
    req: &HttpRequest,
) -> Result<crate::stats::Report, ApiError> {
    let f = params(req)?.parse(today()).map_err(Failure::BadQuery)?;
    Ok(crate::stats::report(&st.db, actor, f).await?)
}

#[get("/stats")]
pub async fn all(
    req: HttpRequest,
    st: web::Data<AppState>,
    ApiActor(actor): ApiActor,
) -> Result<HttpResponse, ApiError> {
    let r = report(&st, &actor, &req).await?;
    Ok(HttpResponse::Ok().json(Stats::from(&r)))
}

#[get("/stats/{table}")]
pub async fn table(
    req: HttpRequest,
    st: web::Data<AppState>,
    ApiActor(actor): ApiActor,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let slug = path.into_inner();
    if !tables::SLUGS.contains(&slug.as_str()) {
        return Err(Error::NotFound("table").into());
    }
    let r = report(&st, &actor, &req).await?;
    let w = Words {
        locale: if actor.locale == "en" { "en" } else { "sv" },
    };
    let cx = Ctx::new(&w, &r);
    let found = tables::sections(&cx)
        .into_iter()
        .flat_map(|s| s.tables)
        .find(|t| t.slug == slug)
        .ok_or(Error::NotFound("table"))?;
    Ok(HttpResponse::Ok().json(TableOut::new(found.slug, &found.table)))
}
