//! The one TLS stack: rustls with the ring provider and the Mozilla roots (webpki-roots), for
//! IMAP and for HTTPS to records systems and SMS gateways alike. Nothing depends on the machine's
//! certificate store or on a process-wide default provider.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use tokio_rustls::rustls;

static CLIENT_CONFIG: LazyLock<Arc<rustls::ClientConfig>> = LazyLock::new(|| {
    let roots = rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("ring supports the default TLS versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    Arc::new(cfg)
});

/// Make ring the process's rustls provider (reqwest asks for the process default when a client
/// is built without our configuration, e.g. in the benchmarks and tests). Idempotent.
pub fn install_default_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The TLS client configuration every outgoing connection uses.
pub fn client_config() -> Arc<rustls::ClientConfig> {
    CLIENT_CONFIG.clone()
}

/// An HTTP client for calls to other systems: our TLS, the given overall timeout, no redirects
/// (a records system that redirects a POST is misconfigured; following it could resend data, and
/// could lead past the egress policy), no proxy from the environment, and `resolver` for every
/// name (the egress policy's, `egress::Policy::http_client`, for addresses a tenant sets).
pub fn http_client(
    timeout: Duration,
    resolver: Arc<dyn reqwest::dns::Resolve>,
) -> reqwest::Result<reqwest::Client> {
    install_default_provider();
    let mut tls = (*client_config()).clone();
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    reqwest::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .dns_resolver(resolver)
        .tls_backend_preconfigured(tls)
        .build()
}
