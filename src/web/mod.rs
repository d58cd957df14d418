//! The HTTP edge: actix-web routes for pages, the JSON API, health probes and static assets.
//! Handlers call the domain (`accounts`, `tickets`, `tenants`), never the store's SQL.

pub mod admin;
pub mod api;
pub mod auth;
pub mod download;
pub mod errors;
pub mod input;
pub mod kb;
pub mod pages;
pub mod referral;
pub mod request_log;
pub mod sms;
pub mod stats;
pub mod status;
pub mod survey;
pub mod uploads;
pub mod workspace;

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::http::header;
use actix_web::middleware::DefaultHeaders;
use actix_web::{App, HttpResponse, HttpServer, get, web};
use rust_embed::RustEmbed;
use tracing_actix_web::TracingLogger;

use crate::Db;
use crate::accounts::tokens::Signer;
use crate::config::Settings;
use crate::secrets::Keys;

/// What every handler can reach.
pub struct AppState {
    pub db: Db,
    pub settings: Arc<Settings>,
    pub keys: Arc<Keys>,
    pub signer: Arc<Signer>,
    pub blobs: crate::BlobStore,
    pub live: crate::tickets::live::Live,
    pub search: crate::search::TicketIndex,
    pub kb: crate::kb::Kb,
    /// The outbox's registered job kinds (what a revived delivery means for its ticket).
    pub jobs: Arc<crate::outbox::Registry>,
    /// `server.trusted_proxies`, parsed once.
    pub proxies: Arc<Vec<ipnet::IpNet>>,
    /// Becomes true when the server is told to stop: open live streams end at once, so the
    /// graceful shutdown does not wait for them.
    pub stopping: tokio::sync::watch::Receiver<bool>,
}

/// Content-Security-Policy: no inline scripts or styles, nothing from other origins.
const CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
                   object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Permissions-Policy: no page of ours uses a device or sensor, so none may ask for one.
const PERMISSIONS_POLICY: &str = "accelerometer=(), camera=(), display-capture=(), geolocation=(), \
                                  gyroscope=(), magnetometer=(), microphone=(), midi=(), payment=(), \
                                  usb=()";

/// Strict-Transport-Security when `server.public_url` is https: one year (see docs/operations.md).
const HSTS: &str = "max-age=31536000";
/// How long an idle keep-alive connection stays open (see `server`).
pub const KEEP_ALIVE_SECS: u64 = 75;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(healthz)
        .service(readyz)
        .service(asset)
        .service(pages::login_form)
        .service(pages::login)
        .service(pages::logout)
        .service(pages::password_form)
        .service(pages::change_password)
        .service(pages::change_language)
        .configure(workspace::routes)
        .configure(kb::routes)
        .configure(sms::routes)
        .configure(stats::routes)
        .configure(status::routes)
        .configure(survey::routes)
        .configure(referral::routes)
        .configure(admin::routes)
        .configure(api::routes);
}

/// Bind and build the HTTP server (not yet running). Port 0 picks a free port.
pub fn server(
    state: web::Data<AppState>,
    listener: TcpListener,
    workers: usize,
) -> std::io::Result<Server> {
    let hsts = state.settings.secure_cookies();
    let mut s = HttpServer::new(move || {
        App::new()
            .wrap(actix_web::middleware::from_fn(input::guard))
            .wrap(
                DefaultHeaders::new()
                    .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
                    .add((header::X_FRAME_OPTIONS, "DENY"))
                    .add((header::REFERRER_POLICY, "same-origin"))
                    .add((header::CONTENT_SECURITY_POLICY, CSP))
                    .add((header::CACHE_CONTROL, "no-store"))
                    .add(("permissions-policy", PERMISSIONS_POLICY)),
            )
            .wrap(actix_web::middleware::Condition::new(
                hsts,
                DefaultHeaders::new().add((header::STRICT_TRANSPORT_SECURITY, HSTS)),
            ))
            .wrap(TracingLogger::<request_log::RedactingRootSpan>::new())
            .app_data(state.clone())
            .app_data(input::form_config())
            .app_data(input::json_config())
            .configure(routes)
    })
    // Idle connections stay open longer than the reverse proxy's (nginx keeps upstream connections
    // 60 s) and than a client's pool reuses them without a check: a server that closes first
    // races the next request on that connection, which then fails with a reset (seen under load
    // with actix's default of 5 s).
    .keep_alive(std::time::Duration::from_secs(KEEP_ALIVE_SECS))
    .listen(listener)?;
    if workers > 0 {
        s = s.workers(workers);
    }
    Ok(s.shutdown_timeout(10).run())
}

/// Liveness: the process answers.
#[get("/healthz")]
async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

/// Readiness: the database answers.
#[get("/readyz")]
async fn readyz(st: web::Data<AppState>) -> HttpResponse {
    match st.db.ping().await {
        Ok(()) => HttpResponse::Ok()
            .json(serde_json::json!({ "status": "ready", "database": st.db.backend().name() })),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            HttpResponse::ServiceUnavailable().json(serde_json::json!({ "status": "unavailable" }))
        }
    }
}

#[derive(RustEmbed)]
#[folder = "templates/static/"]
struct Assets;

#[get("/static/{file:.*}")]
async fn asset(path: web::Path<String>) -> HttpResponse {
    match Assets::get(&path) {
        Some(f) => {
            let mime = match path.rsplit('.').next() {
                Some("css") => "text/css; charset=utf-8",
                Some("js") => "text/javascript; charset=utf-8",
                Some("svg") => "image/svg+xml",
                Some("png") => "image/png",
                Some("ico") => "image/x-icon",
                _ => "application/octet-stream",
            };
            // The favicon never changes under its name: a long cache (a year); the rest an hour.
            let cache = if path.as_str() == "favicon.svg" {
                "public, max-age=31536000, immutable"
            } else {
                "public, max-age=3600"
            };
            HttpResponse::Ok()
                .content_type(mime)
                .insert_header((header::CACHE_CONTROL, cache))
                .body(f.data.into_owned())
        }
        None => HttpResponse::NotFound().finish(),
    }
}
