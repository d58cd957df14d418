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

/// `arendo serve` told to stop (SIGTERM, as systemd and container runtimes do) while a browser
/// holds a live-update stream open: the stream ends and the process exits at once, instead of
/// waiting out the shutdown timeout (10 s) for a stream that never finishes by itself.
#[tokio::test]
async fn serve_stops_promptly_with_a_live_stream_open() {
    crate::helpers::init_logs();
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_arendo"))
        .arg("serve")
        .env("ARENDO_DATA_DIR", dir.path())
        .env("ARENDO_SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .env("ARENDO_SERVER__PUBLIC_URL", &base)
        .env("ARENDO_DEMO", "true")
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let http = reqwest::Client::new();
    let mut up = false;
    for _ in 0..300 {
        if http
            .get(format!("{base}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            up = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(up, "serve did not come up");
    let creds = std::fs::read_to_string(dir.path().join("demo-credentials.txt")).unwrap();
    let line = creds
        .lines()
        .find(|l| l.trim().starts_with("admin@exempelkommun.se "))
        .unwrap();
    let password = line.split("password:").nth(1).unwrap().trim().to_string();
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let login = browser
        .get(format!("{base}/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let r = browser
        .post(format!("{base}/login"))
        .header("Origin", &base)
        .form(&[
            ("csrf", crate::helpers::csrf_in(&login).as_str()),
            ("tenant", "exempel"),
            ("email", "admin@exempelkommun.se"),
            ("password", password.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "signed in");
    let mut live = browser.get(format!("{base}/live")).send().await.unwrap();
    assert_eq!(live.status(), 200);
    let first = live.chunk().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).contains("event: ready"));

    let started = std::time::Instant::now();
    let pid = child.id().unwrap().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    // The stream ends…
    let rest = tokio::time::timeout(std::time::Duration::from_secs(8), async {
        while let Ok(Some(_)) = live.chunk().await {}
    })
    .await;
    assert!(rest.is_ok(), "the live stream was not ended");
    // …and the process exits cleanly, well inside the 10 s shutdown timeout.
    let status = tokio::time::timeout(std::time::Duration::from_secs(8), child.wait())
        .await
        .expect("serve did not exit")
        .unwrap();
    assert!(status.success(), "{status:?}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(8),
        "took {:?}",
        started.elapsed()
    );
}
