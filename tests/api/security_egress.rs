//! Issue 16, point 4 (SSRF): addresses a municipality's administrator sets — records-system
//! targets, SMS gateways, IMAP and SMTP servers — cannot reach the installation's own network.
//! These apps run WITHOUT the test suite's `[egress] allow = ["127.0.0.1"]`, so an "internal
//! service" on loopback stands for what a tenant must not reach. Every listener counts the
//! connections it gets: a refusal means none, and its secret answer never shows anywhere.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use arendo::escalation::{Auth, RecordsTarget};
use arendo::notify::sms::GatewayInput;
use arendo::secrets::Keys;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::both_backends;
use crate::helpers::{Backend, TestApp};
use crate::smtp::SmtpPeer;

/// What the internal service would give away.
const SECRET: &str = "INTERN-HEMLIGHET-4711";

/// The installation's egress allowance taken away (the suite's default allows 127.0.0.1).
const NO_ALLOWANCE: (&str, &str) = ("ARENDO_EGRESS__ALLOW", "");

/// An internal service on loopback: counts connections and answers every request with a case
/// number and a secret (HTTP 201), as an unprotected internal API would.
struct Internal {
    port: u16,
    hits: Arc<AtomicUsize>,
    /// What each request began with (request line and headers).
    requests: Arc<std::sync::Mutex<Vec<String>>>,
}

impl Internal {
    async fn start() -> Internal {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let hits = Arc::new(AtomicUsize::new(0));
        let requests: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
        let (counter, seen) = (hits.clone(), requests.clone());
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                let seen = seen.clone();
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    if let Ok(Ok(n)) =
                        tokio::time::timeout(Duration::from_millis(500), sock.read(&mut buf)).await
                    {
                        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                        seen.lock().unwrap().push(text);
                    }
                    let body = format!(
                        "{{\"caseNumber\":\"{SECRET}\",\"id\":\"{SECRET}\",\"secret\":\"{SECRET}\"}}"
                    );
                    let resp = format!(
                        "HTTP/1.1 201 Created\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = sock.write_all(resp.as_bytes()).await;
                });
            }
        });
        Internal {
            port,
            hits,
            requests,
        }
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

fn records(name: &str, url: String) -> RecordsTarget {
    RecordsTarget {
        name: name.into(),
        url,
        method: "POST".into(),
        headers: Default::default(),
        secret_headers: Default::default(),
        auth: Auth::None,
        hmac_secret: None,
        content_type: "application/json".into(),
        body_template: String::new(),
        case_pointer: "/caseNumber".into(),
        timeout_seconds: 2,
    }
}

async fn page(client: &reqwest::Client, url: String) -> String {
    client.get(url).send().await.unwrap().text().await.unwrap()
}

/// Wait (up to 15 s) until the page at `path` contains `what`; the last page either way.
async fn wait_for_page(app: &TestApp, client: &reqwest::Client, path: &str, what: &str) -> String {
    let mut html = String::new();
    for _ in 0..150 {
        html = page(client, app.url(path)).await;
        if html.contains(what) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    html
}

/// A tenant admin points a records-system target at the installation's loopback — as an
/// address (refused when saved, also written as v4-mapped IPv6 or as the cloud metadata
/// address) and as a host name that resolves to it (accepted when saved, refused at delivery).
/// An agent escalates: nothing reaches the internal service, the ticket's history says in
/// Swedish why, and the service's answer appears nowhere.
async fn an_escalation_to_the_internal_network_is_refused(backend: Backend) {
    let app = TestApp::spawn_with(
        backend,
        &[NO_ALLOWANCE, ("ARENDO_OUTBOX__RETRY_BASE_MS", "200")],
    )
    .await;
    let org = app.org("alby").await;
    let internal = Internal::start().await;
    let admin = app.browser();
    app.login(&admin, "alby", &org.admin.email, &org.admin.password)
        .await;
    let csrf = app.csrf(&admin, "/admin/escalation/new?kind=records").await;
    let save = |name: &str, url: String| {
        let form = vec![
            ("csrf", csrf.clone()),
            ("kind", "records".into()),
            ("name", name.to_string()),
            ("url", url),
            ("method", "POST".into()),
            ("content_type", "application/json".into()),
            ("headers", String::new()),
            ("auth", "none".into()),
            ("case_pointer", "/caseNumber".into()),
            ("timeout_seconds", "2".into()),
        ];
        let (admin, url) = (admin.clone(), app.url("/admin/escalation"));
        async move {
            let r = admin.post(url).form(&form).send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let port = internal.port;
    for (url, why) in [
        (
            format!("http://127.0.0.1:{port}/api"),
            "den här servern själv (loopback)",
        ),
        (
            format!("http://[::ffff:127.0.0.1]:{port}/api"),
            "den här servern själv (loopback)",
        ),
        (
            "http://169.254.169.254/latest/meta-data/".to_string(),
            "molnplattformens metadatatjänst",
        ),
        ("http://10.0.0.7/api".to_string(), "ett privat, internt nät"),
    ] {
        let (status, html) = save("Internt", url.clone()).await;
        assert_eq!(status, 422, "{url} is refused when saved");
        assert!(html.contains(why), "{url}: the reason is given: {html}");
        assert!(
            html.contains("[egress] allow"),
            "and what the operator can do"
        );
    }
    // A name is only known to be internal once it is resolved: saved, refused at delivery.
    let (status, _) = save("Diariet", format!("http://localhost:{port}/api")).await;
    assert_eq!(status, 303);
    // One written as an address and stored without the admin page (as an older version
    // could have) is refused at delivery as well.
    let keys = Keys::from_hex(&app.key_hex).unwrap();
    let literal = format!("http://127.0.0.1:{port}/api");
    let literal_id = app
        .db
        .write(move |c| -> Result<i64, arendo::error::Error> {
            let t = arendo::tenants::tenant_by_slug(c, "alby")?.id;
            arendo::escalation::save_records_target(c, &keys, t, &records("Gammalt", literal))
        })
        .await
        .unwrap();
    let list = page(&admin, app.url("/admin/escalation")).await;
    let at = list.find(">Diariet</a>").unwrap();
    let href = "href=\"/admin/escalation/";
    let start = list[..at].rfind(href).unwrap() + href.len();
    let named_id = list[start..start + list[start..].find('"').unwrap()].to_string();

    let agent = app.browser();
    app.login(&agent, "alby", &org.agent_a.email, &org.agent_a.password)
        .await;
    for (target, name) in [(named_id, "Diariet"), (literal_id.to_string(), "Gammalt")] {
        let ticket = app
            .create_ticket(&org.agent_a.token, org.queue_a, "Bygglov")
            .await;
        let number = ticket["number"].as_str().unwrap().to_string();
        assert_eq!(
            app.escalate(&agent, &number, &target, "Diarieför").await,
            303
        );
        let path = format!("/tickets/{number}");
        let html = wait_for_page(&app, &agent, &path, "Eskaleringen gavs upp").await;
        assert!(
            html.contains(&format!("Försök 1 att skicka till {name} stoppades")),
            "{html}"
        );
        assert!(html.contains("som går till den här servern själv (loopback)"));
        assert!(html.contains("ingenting skickades"));
        assert!(
            html.contains("Eskaleringen gavs upp: adressen är inte tillåten (se ovan)."),
            "not retried"
        );
        assert!(!html.contains("class=\"diarienummer\""));
        assert!(!html.contains(SECRET), "the internal answer never shows");
        let events: serde_json::Value = reqwest::Client::new()
            .get(app.url(&format!("/api/v1/tickets/{number}")))
            .bearer_auth(&org.agent_a.token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(!events.to_string().contains(SECRET));
    }
    assert_eq!(internal.hits(), 0, "nothing reached the internal service");
}
both_backends!(an_escalation_to_the_internal_network_is_refused);

/// The same escalation on an installation whose operator allows the internal network: it goes
/// through (the control is the operator's setting, not a blanket ban).
async fn the_operator_can_allow_an_internal_records_system(backend: Backend) {
    let app = TestApp::spawn_with(
        backend,
        &[
            ("ARENDO_EGRESS__ALLOW", "localhost, 127.0.0.0/8"),
            ("ARENDO_OUTBOX__RETRY_BASE_MS", "200"),
        ],
    )
    .await;
    let org = app.org("alby").await;
    let internal = Internal::start().await;
    let keys = Keys::from_hex(&app.key_hex).unwrap();
    let url = format!("http://localhost:{}/api", internal.port);
    let id = app
        .db
        .write(move |c| -> Result<i64, arendo::error::Error> {
            let t = arendo::tenants::tenant_by_slug(c, "alby")?.id;
            arendo::escalation::save_records_target(c, &keys, t, &records("Diariet", url))
        })
        .await
        .unwrap();
    let ticket = app
        .create_ticket(&org.agent_a.token, org.queue_a, "Bygglov")
        .await;
    let number = ticket["number"].as_str().unwrap().to_string();
    let agent = app.browser();
    app.login(&agent, "alby", &org.agent_a.email, &org.agent_a.password)
        .await;
    assert_eq!(
        app.escalate(&agent, &number, &id.to_string(), "Diarieför")
            .await,
        303
    );
    let html = wait_for_page(&app, &agent, &format!("/tickets/{number}"), "diarienummer").await;
    assert!(html.contains(&format!("<span class=\"diarienummer\">{SECRET}</span>")));
    assert_eq!(internal.hits(), 1);
}
both_backends!(the_operator_can_allow_an_internal_records_system);

/// What a records system answers on failure is stored cut to 512 bytes and shown escaped.
async fn error_answers_are_cut_and_escaped(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let org = app.org("alby").await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 8192];
                let _ = tokio::time::timeout(Duration::from_millis(500), sock.read(&mut buf)).await;
                let body = format!("<script>alert(1)</script>{}", "å".repeat(2000));
                let resp = format!(
                    "HTTP/1.1 422 Unprocessable Entity\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(resp.as_bytes()).await;
            });
        }
    });
    let keys = Keys::from_hex(&app.key_hex).unwrap();
    let url = format!("http://127.0.0.1:{port}/api");
    let id = app
        .db
        .write(move |c| -> Result<i64, arendo::error::Error> {
            let t = arendo::tenants::tenant_by_slug(c, "alby")?.id;
            arendo::escalation::save_records_target(c, &keys, t, &records("Diariet", url))
        })
        .await
        .unwrap();
    let ticket = app
        .create_ticket(&org.agent_a.token, org.queue_a, "Bygglov")
        .await;
    let number = ticket["number"].as_str().unwrap().to_string();
    let agent = app.browser();
    app.login(&agent, "alby", &org.agent_a.email, &org.agent_a.password)
        .await;
    assert_eq!(
        app.escalate(&agent, &number, &id.to_string(), "Diarieför")
            .await,
        303
    );
    let html = wait_for_page(
        &app,
        &agent,
        &format!("/tickets/{number}"),
        "Eskaleringen gavs upp",
    )
    .await;
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    assert!(!html.contains("<script>alert(1)"));
    let stored = app
        .db
        .read(move |c| -> Result<_, arendo::error::Error> {
            let t = arendo::tenants::tenant_by_slug(c, "alby")?.id;
            Ok(arendo::store::escalation::get(c, t, 1)?.unwrap().last_error)
        })
        .await
        .unwrap()
        .unwrap();
    let body = stored.split_once(": ").unwrap().1;
    assert!(body.starts_with("<script>"), "{stored}");
    assert!(body.len() <= 512, "{} bytes kept", body.len());
    assert!(body.len() >= 510, "as much as fits is kept");
}
both_backends!(error_answers_are_cut_and_escaped);

/// An SMS gateway on the internal network: refused when saved as an address, refused when a
/// name resolves there; the citizen's SMS is not sent, and the ticket's history says why.
async fn an_sms_gateway_on_the_internal_network_is_refused(backend: Backend) {
    let app = TestApp::spawn_with(
        backend,
        &[NO_ALLOWANCE, ("ARENDO_OUTBOX__RETRY_BASE_MS", "200")],
    )
    .await;
    let org = app.org("alby").await;
    let internal = Internal::start().await;
    let admin = app.browser();
    app.login(&admin, "alby", &org.admin.email, &org.admin.password)
        .await;
    let csrf = app.csrf(&admin, "/admin/sms/gateway").await;
    let r = admin
        .post(app.url("/admin/sms/gateway"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("provider", "rest"),
            ("url", &format!("http://127.0.0.1:{}/a1/sms", internal.port)),
            ("username", "u1"),
            ("password", "hemligt"),
            ("sender", "AlbyKommun"),
            ("price", "0,45"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("den här servern själv (loopback)"), "{html}");

    let keys = Keys::from_hex(&app.key_hex).unwrap();
    let url = format!("http://localhost:{}/a1/sms", internal.port);
    app.db
        .write(move |c| -> Result<(), arendo::error::Error> {
            let t = arendo::tenants::tenant_by_slug(c, "alby")?.id;
            arendo::notify::sms::save_gateway(
                c,
                &keys,
                t,
                &GatewayInput {
                    provider: "rest".into(),
                    url: Some(url),
                    username: Some("u1".into()),
                    password: Some("hemligt".into()),
                    sender: "AlbyKommun".into(),
                    nordic_gsm7: false,
                    price_ore: 45,
                    body_template: String::new(),
                    content_type: "application/json".into(),
                    id_pointer: "/id".into(),
                },
            )
        })
        .await
        .unwrap();
    let number = app
        .create_ticket_from(
            &org.agent_a.token,
            serde_json::json!({
                "queue": org.queue_a,
                "subject": "Sophämtning",
                "body": "Sms:a mig",
                "contact": { "name": "Åsa Öberg", "phone": "070-123 45 67", "preferred_channel": "sms" }
            }),
        )
        .await;
    let agent = app.browser();
    app.login(&agent, "alby", &org.agent_a.email, &org.agent_a.password)
        .await;
    let html = wait_for_page(
        &app,
        &agent,
        &format!("/tickets/{number}"),
        "skickades inte",
    )
    .await;
    assert!(
        html.contains("Sms till +46701234567 skickades inte: sms-tjänstens adress localhost"),
        "{html}"
    );
    assert!(
        html.contains(
            "går till den här servern själv (loopback), som installationen inte tillåter"
        )
    );
    assert!(!html.contains(SECRET));
    assert_eq!(internal.hits(), 0, "nothing reached the internal service");
}
both_backends!(an_sms_gateway_on_the_internal_network_is_refused);

/// A function mailbox whose IMAP server is on the internal network (by name and by address):
/// the intake never connects, and the mailbox's last error says why.
async fn an_imap_server_on_the_internal_network_is_refused(backend: Backend) {
    let app = TestApp::spawn_with(
        backend,
        &[
            NO_ALLOWANCE,
            ("ARENDO_MAIL__IMAP_SUPERVISOR_SECONDS", "1"),
            ("ARENDO_MAIL__IMAP_POLL_SECONDS", "1"),
        ],
    )
    .await;
    let org = app.org("alby").await;
    let internal = Internal::start().await;
    let port = internal.port;
    let keys = Keys::from_hex(&app.key_hex).unwrap();
    let ids = app
        .db
        .write(
            move |c| -> Result<Vec<(i64, arendo::domain::TenantId)>, arendo::error::Error> {
                let t = arendo::tenants::tenant_by_slug(c, "alby")?;
                let q = arendo::store::queues::lookup(c, t.id, org.queue_a)?.unwrap();
                let mut out = vec![];
                for (host, address) in [("localhost", "a@alby.se"), ("127.0.0.1", "b@alby.se")] {
                    let m = arendo::store::mailboxes::create(
                        c,
                        t.id,
                        arendo::store::mailboxes::NewMailbox {
                            address,
                            queue: q.id,
                            imap_host: host,
                            imap_port: port,
                            imap_tls: "plain",
                            imap_user: address,
                            imap_password_enc: &keys.seal("pw"),
                            folder: "INBOX",
                            after_import: "move",
                            processed_folder: "Arendo/Importerat",
                            reply_from: address,
                        },
                    )?;
                    out.push((m.id, t.id));
                }
                Ok(out)
            },
        )
        .await
        .unwrap();
    for (id, t) in ids {
        let mut error = None;
        for _ in 0..100 {
            error = app
                .db
                .read(move |c| arendo::store::mail::state(c, t, id))
                .await
                .unwrap()
                .and_then(|s| s.last_error);
            if error.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let error = error.expect("the mailbox shows an error");
        assert!(error.contains("egress refused"), "{error}");
        assert!(error.contains("loopback"), "{error}");
    }
    assert_eq!(internal.hits(), 0, "the intake never connected");
}
both_backends!(an_imap_server_on_the_internal_network_is_refused);

/// A mailbox's own SMTP server on the internal network is refused (nothing is sent there, the
/// mail is given up with the reason), while the installation's own relay — set by the operator
/// in `[mail]` — is not subject to the policy and still delivers.
async fn a_tenant_smtp_server_on_the_internal_network_is_refused(backend: Backend) {
    let relay = SmtpPeer::start().await;
    let internal = SmtpPeer::start().await;
    let relay_port = relay.port.to_string();
    let app = TestApp::spawn_with(
        backend,
        &[
            NO_ALLOWANCE,
            ("ARENDO_MAIL__IMAP_ENABLED", "false"),
            ("ARENDO_MAIL__TRANSPORT", "smtp"),
            ("ARENDO_MAIL__SMTP_HOST", "127.0.0.1"),
            ("ARENDO_MAIL__SMTP_PORT", &relay_port),
            ("ARENDO_MAIL__SMTP_TLS", "none"),
        ],
    )
    .await;
    let org = app.org("alby").await;
    let internal_port = internal.port;
    let t = app
        .db
        .write(
            move |c| -> Result<arendo::domain::TenantId, arendo::error::Error> {
                let t = arendo::tenants::tenant_by_slug(c, "alby")?;
                let q = arendo::store::queues::lookup(c, t.id, org.queue_a)?.unwrap();
                let m = arendo::store::mailboxes::create(
                    c,
                    t.id,
                    arendo::store::mailboxes::NewMailbox {
                        address: "kontakt@alby.se",
                        queue: q.id,
                        imap_host: "imap.alby.se",
                        imap_port: 993,
                        imap_tls: "implicit",
                        imap_user: "kontakt@alby.se",
                        imap_password_enc: "x",
                        folder: "INBOX",
                        after_import: "move",
                        processed_folder: "Arendo/Importerat",
                        reply_from: "kontakt@alby.se",
                    },
                )?;
                let profile = arendo::delivery::mail::SmtpProfile {
                    host: "localhost".into(),
                    port: internal_port,
                    tls: arendo::config::SmtpTls::None,
                    user: None,
                    password_enc: None,
                };
                arendo::store::mailboxes::set_smtp(
                    c,
                    t.id,
                    m.id,
                    Some(&serde_json::to_string(&profile).unwrap()),
                )?;
                let mail = |subject: &str, mailbox: Option<i64>| {
                    serde_json::json!({
                        "from": "kontakt@alby.se", "to": ["maria@example.org"], "subject": subject,
                        "text": "Hej", "message_id": null, "in_reply_to": null, "message_row": null,
                        "mailbox": mailbox,
                    })
                };
                let now = arendo::store::now();
                arendo::store::outbox::enqueue(
                    c,
                    t.id,
                    "mail",
                    &mail("Via relä", None),
                    None,
                    now,
                )?;
                arendo::store::outbox::enqueue(
                    c,
                    t.id,
                    "mail",
                    &mail("Via brevlådans server", Some(m.id)),
                    None,
                    now,
                )?;
                Ok(t.id)
            },
        )
        .await
        .unwrap();
    let got = relay.wait_for(1).await;
    assert_eq!(got.len(), 1, "the installation's relay delivers");
    assert_eq!(got[0].parsed().subject, "Via relä");
    let mut dead = vec![];
    for _ in 0..100 {
        dead = app
            .db
            .read(move |c| arendo::store::outbox::dead(c, t, 10))
            .await
            .unwrap();
        if !dead.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(dead.len(), 1, "the mailbox's mail is given up");
    let error = dead[0].0.last_error.clone().unwrap_or_default();
    assert!(
        error.contains("egress refused") && error.contains("loopback"),
        "{error}"
    );
    assert!(
        internal.received().is_empty(),
        "nothing went to the internal server"
    );
}
both_backends!(a_tenant_smtp_server_on_the_internal_network_is_refused);

/// Issue 16, point 20: an SMS delivery report cannot rewrite history. The gateway reports the
/// receipt SMS as failed, then (late, or forged by someone who learned the report address) as
/// delivered: the second report is recorded in the ticket's history, not applied.
async fn a_failed_sms_stays_failed_whatever_is_reported_later(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("ARENDO_OUTBOX__RETRY_BASE_MS", "200")]).await;
    let org = app.org("alby").await;
    let (url, sent) = crate::sms::start_gateway();
    let keys = Keys::from_hex(&app.key_hex).unwrap();
    app.db
        .write(move |c| -> Result<(), arendo::error::Error> {
            let t = arendo::tenants::tenant_by_slug(c, "alby")?.id;
            arendo::notify::sms::save_gateway(
                c,
                &keys,
                t,
                &GatewayInput {
                    provider: "rest".into(),
                    url: Some(url),
                    username: None,
                    password: None,
                    sender: "AlbyKommun".into(),
                    nordic_gsm7: false,
                    price_ore: 45,
                    body_template: String::new(),
                    content_type: "application/json".into(),
                    id_pointer: "/id".into(),
                },
            )
        })
        .await
        .unwrap();
    let number = app
        .create_ticket_from(
            &org.agent_a.token,
            serde_json::json!({
                "queue": org.queue_a,
                "subject": "Sophämtning",
                "body": "Sms:a mig",
                "contact": { "name": "Åsa Öberg", "phone": "070-123 45 67", "preferred_channel": "sms" }
            }),
        )
        .await;
    // The receipt SMS reaches the gateway; its report address comes with it.
    let mut path = None;
    for _ in 0..100 {
        if let Some((_, form)) = sent.lock().unwrap().first() {
            let report = crate::sms::field(form, "whendelivered");
            path = Some(report[report.find("/sms/reports/").unwrap()..].to_string());
        }
        if path.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let path = path.expect("the receipt SMS was sent");
    let client = reqwest::Client::new();
    let report = |status: &'static str| {
        let (client, url) = (client.clone(), app.url(&path));
        async move {
            client
                .post(url)
                .form(&[("id", "s1"), ("status", status)])
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    let mut first = 0;
    for _ in 0..50 {
        first = report("failed").await;
        if first == 204 {
            break;
        }
        // The worker may not have stored the gateway's id yet.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(first, 204);
    assert_eq!(report("delivered").await, 204, "the late report is taken");
    assert_eq!(report("delivered").await, 204, "and another");

    let agent = app.browser();
    app.login(&agent, "alby", &org.agent_a.email, &org.agent_a.password)
        .await;
    let html = page(&agent, app.url(&format!("/tickets/{number}"))).await;
    assert!(
        html.contains("Sms till +46701234567 kunde inte levereras"),
        "{html}"
    );
    assert!(
        !html.contains("Sms levererat till"),
        "failed did not become delivered"
    );
    assert_eq!(
        html.matches("En senare leveransrapport för sms:et till +46701234567 (Levererat) sparades men tillämpades inte: sms:et har redan sitt slutliga läge (Kunde inte levereras).").count(),
        2,
        "each later report is recorded"
    );
    // The stored state is still the first final one.
    let t = app
        .db
        .read(|c| -> Result<_, arendo::error::Error> {
            Ok(arendo::tenants::tenant_by_slug(c, "alby")?.id)
        })
        .await
        .unwrap();
    let state = app
        .db
        .read(move |c| arendo::store::sms::get(c, t, 1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(state.status, "failed");
}
both_backends!(a_failed_sms_stays_failed_whatever_is_reported_later);

/// Issue 16, point 18: a custom header of a records-system target (X-Api-Key) can be secret:
/// sealed in the database, never shown again on the admin page, kept when its field is left
/// empty, and sent with every escalation. A target stored before (its X-Api-Key in the plain
/// headers) has it sealed at the next start.
async fn secret_headers_are_sealed_and_write_only(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("ARENDO_OUTBOX__RETRY_BASE_MS", "200")]).await;
    let org = app.org("alby").await;
    let system = Internal::start().await;
    let url = format!("http://127.0.0.1:{}/api", system.port);
    // Stored as it could be before: the key among the plain headers.
    let keys = Keys::from_hex(&app.key_hex).unwrap();
    let mut old = records("Gammalt diarium", url.clone());
    old.headers = [
        ("X-Api-Key".to_string(), "gammal-nyckel-999".to_string()),
        ("X-Kommun".to_string(), "alby".to_string()),
    ]
    .into();
    app.db
        .write(move |c| -> Result<i64, arendo::error::Error> {
            let t = arendo::tenants::tenant_by_slug(c, "alby")?.id;
            arendo::escalation::save_records_target(c, &keys, t, &old)
        })
        .await
        .unwrap();
    let app = app.restart().await;

    let admin = app.browser();
    app.login(&admin, "alby", &org.admin.email, &org.admin.password)
        .await;
    let csrf = app.csrf(&admin, "/admin/escalation/new?kind=records").await;
    let form = |secret: &str| {
        vec![
            ("csrf", csrf.clone()),
            ("kind", "records".to_string()),
            ("name", "Diariet".to_string()),
            ("url", url.clone()),
            ("method", "POST".into()),
            ("content_type", "application/json".into()),
            ("headers", "X-Kommun: alby".into()),
            ("secret_headers", secret.to_string()),
            ("auth", "none".into()),
            ("case_pointer", "/caseNumber".into()),
            ("timeout_seconds", "2".into()),
        ]
    };
    let r = admin
        .post(app.url("/admin/escalation"))
        .form(&form("X-Api-Key: nyckel-123"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let list = page(&admin, app.url("/admin/escalation")).await;
    let id_of = |name: &str| {
        let at = list.find(&format!(">{name}</a>")).unwrap();
        let href = "href=\"/admin/escalation/";
        let start = list[..at].rfind(href).unwrap() + href.len();
        list[start..start + list[start..].find('"').unwrap()].to_string()
    };
    let (new_id, old_id) = (id_of("Diariet"), id_of("Gammalt diarium"));
    for id in [&new_id, &old_id] {
        let edit = page(&admin, app.url(&format!("/admin/escalation/{id}"))).await;
        assert!(!edit.contains("nyckel-123") && !edit.contains("gammal-nyckel-999"));
        assert!(
            edit.contains(">X-Api-Key:</textarea>"),
            "the name is shown: {edit}"
        );
        assert!(edit.contains("X-Kommun: alby"), "plain headers stay plain");
    }
    // Saving with the secret's value left empty keeps it.
    let r = admin
        .post(app.url(&format!("/admin/escalation/{new_id}")))
        .form(&form("X-Api-Key:"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    // A secret header without a stored value must be given one.
    let r = admin
        .post(app.url(&format!("/admin/escalation/{new_id}")))
        .form(&form("X-Api-Key:\nX-Other-Token:"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("Skriv en hemlig rubrikrad per rad"), "{html}");
    // In the database the values are sealed.
    let stored = app
        .db
        .read(|c| -> Result<_, arendo::error::Error> {
            let t = arendo::tenants::tenant_by_slug(c, "alby")?.id;
            Ok(arendo::store::escalation::targets(c, t)?)
        })
        .await
        .unwrap();
    for x in &stored {
        let row = format!("{} {}", x.headers, x.secret_headers);
        assert!(
            !row.contains("nyckel-123") && !row.contains("nyckel-999"),
            "{row}"
        );
        assert!(x.secret_headers.contains("X-Api-Key"), "{row}");
    }

    let agent = app.browser();
    app.login(&agent, "alby", &org.agent_a.email, &org.agent_a.password)
        .await;
    for id in [&new_id, &old_id] {
        let ticket = app
            .create_ticket(&org.agent_a.token, org.queue_a, "Bygglov")
            .await;
        let number = ticket["number"].as_str().unwrap().to_string();
        assert_eq!(app.escalate(&agent, &number, id, "Diarieför").await, 303);
        wait_for_page(&app, &agent, &format!("/tickets/{number}"), "diarienummer").await;
    }
    let requests = system.requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 2);
    let header = |r: &str, name: &str| {
        r.lines()
            .find_map(|l| {
                l.split_once(':')
                    .filter(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.trim().to_string())
            })
            .unwrap_or_default()
    };
    assert_eq!(header(&requests[0], "x-api-key"), "nyckel-123");
    assert_eq!(header(&requests[1], "x-api-key"), "gammal-nyckel-999");
    assert!(requests.iter().all(|r| header(r, "x-kommun") == "alby"));
}
both_backends!(secret_headers_are_sealed_and_write_only);

/// An admin adds a function mailbox whose IMAP or SMTP server is written as an internal address:
/// refused at once with the reason (API and admin page alike), and nothing is stored, so no
/// intake worker ever connects there. A public address is accepted as before.
async fn a_mailbox_on_the_internal_network_is_refused_when_saved(backend: Backend) {
    let app = TestApp::spawn_with(
        backend,
        &[NO_ALLOWANCE, ("ARENDO_MAIL__IMAP_ENABLED", "false")],
    )
    .await;
    let org = app.org("alby").await;
    let http = reqwest::Client::new();
    let post = |body: serde_json::Value| {
        http.post(app.url("/api/v1/admin/mailboxes"))
            .bearer_auth(&org.admin.token)
            .json(&body)
            .send()
    };
    let spec = |address: &str, imap_host: &str, smtp_host: Option<&str>| {
        let mut b = serde_json::json!({
            "address": address, "queue": "va", "imap_host": imap_host, "tls": "implicit",
            "password": "hemligt", "after_import": "move",
        });
        if let Some(h) = smtp_host {
            b["smtp"] = serde_json::json!({ "host": h, "port": 587, "tls": "starttls" });
        }
        b
    };
    for (address, imap, smtp) in [
        ("a@alby.se", "127.0.0.1", None),
        ("b@alby.se", "169.254.169.254", None),
        ("c@alby.se", "[::ffff:10.0.0.7]", None),
        ("d@alby.se", "imap.alby.se", Some("192.168.1.20")),
    ] {
        let r = post(spec(address, imap, smtp)).await.unwrap();
        assert_eq!(r.status().as_u16(), 422, "{address}");
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "egress_refused", "{body}");
    }
    let browser = app.browser();
    app.login(&browser, "alby", &org.admin.email, &org.admin.password)
        .await;
    let csrf = app.csrf(&browser, "/admin/mailboxes/new").await;
    let form = [
        ("csrf", csrf.as_str()),
        ("address", "e@alby.se"),
        ("queue", "va"),
        ("reply_from", ""),
        ("imap_host", "10.20.30.40"),
        ("imap_port", ""),
        ("tls", "implicit"),
        ("imap_user", ""),
        ("password", "hemligt"),
        ("folder", "INBOX"),
        ("after_import", "move"),
        ("processed_folder", "Arendo/Importerat"),
        ("smtp_host", ""),
        ("smtp_port", ""),
        ("smtp_tls", "starttls"),
        ("smtp_user", ""),
        ("smtp_password", ""),
    ];
    let r = browser
        .post(app.url("/admin/mailboxes"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("ett privat, internt nät"), "{html}");
    let list: serde_json::Value = http
        .get(app.url("/api/v1/admin/mailboxes"))
        .bearer_auth(&org.admin.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["mailboxes"].as_array().unwrap().len(), 0, "{list}");
    // A public server is accepted.
    let r = post(spec("f@alby.se", "imap.alby.se", Some("smtp.alby.se")))
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
}
both_backends!(a_mailbox_on_the_internal_network_is_refused_when_saved);
