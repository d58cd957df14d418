//! JSON API v1 under /api/v1. Authenticated by `Authorization: Bearer <API token>` or a browser
//! session (writes then need `X-CSRF-Token`). Errors are `{"error": {"code", "message"}}` with a
//! stable `code`. Everything answers only within the caller's tenant and queues: anything else is
//! 404, exactly like a ticket that does not exist.

mod admin;
pub mod json;
mod queues;
mod stats;
pub mod stats_types;
mod survey;
mod tickets;
pub mod types;

use actix_web::http::Method;
use actix_web::web;

use super::errors::{ApiError, Failure};
use super::input;
use crate::accounts::Scope;

/// What a route needs of its caller besides a valid token or session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Any signed-in caller, whatever the token's scopes (only `/me`: who am I).
    Caller,
    /// A token (or session) carrying this scope.
    Scope(Scope),
}

/// One route of the API and the scope it needs.
#[derive(Debug, Clone, Copy)]
pub struct ApiRoute {
    pub method: &'static str,
    /// The route's pattern as actix matches it.
    pub path: &'static str,
    pub need: Need,
}

const fn route(method: &'static str, path: &'static str, need: Need) -> ApiRoute {
    ApiRoute { method, path, need }
}

/// THE place where every /api/v1 route declares what it needs. `ApiActor` looks the matched route
/// up here and refuses a route that is not listed (deny by default), so a new route without a
/// line here answers 403 to everyone; the table-driven test walks every route with every scope.
pub const ROUTES: &[ApiRoute] = &[
    route("GET", "/api/v1/me", Need::Caller),
    route("GET", "/api/v1/queues", Need::Scope(Scope::QueuesRead)),
    route("GET", "/api/v1/tickets", Need::Scope(Scope::TicketsRead)),
    route("POST", "/api/v1/tickets", Need::Scope(Scope::TicketsWrite)),
    route(
        "GET",
        "/api/v1/tickets/{number}",
        Need::Scope(Scope::TicketsRead),
    ),
    route(
        "PATCH",
        "/api/v1/tickets/{number}",
        Need::Scope(Scope::TicketsWrite),
    ),
    route(
        "POST",
        "/api/v1/tickets/{number}/messages",
        Need::Scope(Scope::TicketsWrite),
    ),
    route(
        "GET",
        "/api/v1/tickets/{number}/attachments/{id}",
        Need::Scope(Scope::TicketsRead),
    ),
    route(
        "GET",
        "/api/v1/tickets/{number}/messages/{id}/original",
        Need::Scope(Scope::TicketsRead),
    ),
    route("GET", "/api/v1/stats/survey", Need::Scope(Scope::StatsRead)),
    route("GET", "/api/v1/stats", Need::Scope(Scope::StatsRead)),
    route(
        "GET",
        "/api/v1/stats/{table}",
        Need::Scope(Scope::StatsRead),
    ),
    route("GET", "/api/v1/admin/mailboxes", Need::Scope(Scope::Admin)),
    route("POST", "/api/v1/admin/mailboxes", Need::Scope(Scope::Admin)),
];

/// What the route `pattern` (as matched by actix) needs for `method`; `None` if it declares
/// nothing, which the caller must refuse.
pub fn need_of(method: &Method, pattern: &str) -> Option<Need> {
    ROUTES
        .iter()
        .find(|r| r.method == method.as_str() && r.path == pattern)
        .map(|r| r.need)
}

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
            .service(tickets::original)
            .service(survey::results)
            .service(stats::all)
            .service(stats::table)
            .service(admin::list)
            .service(admin::create)
            .default_service(web::to(|| async {
                Err::<actix_web::HttpResponse, _>(ApiError(Failure::Domain(
                    crate::error::Error::NotFound("route"),
                )))
            })),
    );
}
