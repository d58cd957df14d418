//! Probes, headers and pages an operator and a browser rely on.

use crate::both_backends;
use crate::helpers::{Backend, TestApp};

async fn health_and_readiness(b: Backend) {
    let app = TestApp::spawn(b).await;
    let c = reqwest::Client::new();
    assert_eq!(
        c.get(app.url("/healthz")).send().await.unwrap().status(),
        200
    );
    let ready: serde_json::Value = c
        .get(app.url("/readyz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["status"], "ready");
    assert_eq!(
        ready["database"],
        if b == Backend::Sqlite {
            "sqlite"
        } else {
            "postgres"
        }
    );
}
both_backends!(health_and_readiness);

async fn pages_carry_security_headers(b: Backend) {
    let app = TestApp::spawn(b).await;
    let r = reqwest::Client::new()
        .get(app.url("/login"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let h = r.headers();
    assert!(
        h["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'self'")
    );
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["x-frame-options"], "DENY");
    let html = r.text().await.unwrap();
    assert!(html.contains("<html lang=\"sv\">") && html.contains("Logga in"));
    let css = reqwest::Client::new()
        .get(app.url("/static/app.css"))
        .send()
        .await
        .unwrap();
    assert_eq!(css.status(), 200);
    assert!(
        css.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
    let en = reqwest::Client::new()
        .get(app.url("/login"))
        .header("accept-language", "en")
        .send()
        .await
        .unwrap();
    assert!(en.text().await.unwrap().contains("Sign in"));
}
both_backends!(pages_carry_security_headers);
