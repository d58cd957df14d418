//! JSON API v1 under /api/v1. Authenticated by `Authorization: Bearer <API token>` or a browser
//! session (writes then need `X-CSRF-Token`). Errors are `{"error": {"code", "message"}}` with a
//! stable `code`. Everything answers only within the caller's tenant and queues: anything else is
//! 404, exactly like a ticket that does not exist.

mod admin;
mod queues;
mod tickets;

use actix_web::web;

use super::errors::{ApiError, Failure};
use super::input;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api/v1")
            .app_data(
                web::JsonConfig::default()
                    .limit(1 << 20)
                    .error_handler(|e, req| input::refusal_error(req, input::json_failure(&e))),
            )
            .app_data(
                web::QueryConfig::default()
                    .error_handler(|e, _| ApiError(Failure::BadRequest(e.to_string())).into()),
            )
            .app_data(
                web::PathConfig::default()
                    .error_handler(|e, _| ApiError(Failure::BadRequest(e.to_string())).into()),
            )
            .service(queues::list)
            .service(queues::me)
            .service(tickets::list)
            .service(tickets::create)
            .service(tickets::get)
            .service(tickets::update)
            .service(tickets::add_message)
            .service(tickets::attachment)
            .service(admin::list)
            .service(admin::create)
            .default_service(web::to(|| async {
                Err::<actix_web::HttpResponse, _>(ApiError(Failure::Domain(
                    crate::error::Error::NotFound("route"),
                )))
            })),
    );
}
