//! Structured logs with `tracing`: human-readable text or JSON lines, filtered by RUST_LOG or
//! `[log] level`. Secrets are kept out by their types (`secrecy`, masked `Debug` of addresses),
//! and bearer links out of the request spans by `web::request_log::RedactingRootSpan`.

use tracing_subscriber::EnvFilter;

pub fn init(format: &str, level: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if format == "json" {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.try_init()
    };
}
