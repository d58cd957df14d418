//! Escalation to the records system (diariet), against a local HTTP server that plays one: it
//! times out and fails before it answers, creates one case per idempotency key, and checks the
//! signature of every request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use arendo::escalation::{Auth, RecordsTarget, render};
use arendo::secrets::Keys;

use crate::both_backends;
use crate::helpers::{Backend, TestApp, csrf_in};

const SECRET: &str = "delad-hemlighet-for-diariet";

#[derive(Default)]
struct Diarium {
    /// Requests so far: (idempotency key, signature valid, body).
    requests: Vec<(String, bool, String)>,
    /// Case number per idempotency key.
    cases: HashMap<String, String>,
    /// The first this many requests get no answer in time, then `fail` more get HTTP 503.
    slow: usize,
    fail: usize,
}

async fn create_case(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<Arc<Mutex<Diarium>>>,
) -> HttpResponse {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let key = header("Idempotency-Key");
    let signed = header("X-Arendo-Signature") == render::signature(SECRET.as_bytes(), &body);
    let (n, slow, fail) = {
        let mut d = state.lock().unwrap();
        d.requests.push((
            key.clone(),
            signed,
            String::from_utf8_lossy(&body).into_owned(),
        ));
        (d.requests.len(), d.slow, d.fail)
    };
    if n <= slow {
        tokio::time::sleep(Duration::from_secs(3)).await;
        return HttpResponse::GatewayTimeout().finish();
    }
    if n <= slow + fail {
        return HttpResponse::ServiceUnavailable().body("diariet är tillfälligt otillgängligt");
    }
    if !signed {
        return HttpResponse::Unauthorized().body("bad signature");
    }
    let mut d = state.lock().unwrap();
    let next = d.cases.len() + 1;
    let case = d
        .cases
        .entry(key)
        .or_insert_with(|| format!("KS 2026/{next:04}"))
        .clone();
    HttpResponse::Created().json(serde_json::json!({ "status": "registrerat", "caseNumber": case }))
}

async fn refuse(_body: web::Bytes) -> HttpResponse {
    HttpResponse::UnprocessableEntity().body("ärendetyp saknas")
}

/// Start the records system on a free loopback port; returns its base URL and state.
fn start_diarium(slow: usize, fail: usize) -> (String, Arc<Mutex<Diarium>>) {
    let state = Arc::new(Mutex::new(Diarium {
        slow,
        fail,
        ..Diarium::default()
    }));
    let data = web::Data::new(state.clone());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route("/api/arenden", web::post().to(create_case))
            .route("/api/trasig", web::post().to(refuse))
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .unwrap();
    let port = server.addrs()[0].port();
    tokio::spawn(server.run());
    (format!("http://127.0.0.1:{port}"), state)
}

fn target(name: &str, url: String) -> RecordsTarget {
    RecordsTarget {
        name: name.into(),
        url,
        method: "POST".into(),
        headers: [("X-Kommun".to_string(), "alby".to_string())].into(),
        secret_headers: Default::default(),
        auth: Auth::Bearer("token-123".into()),
        hmac_secret: Some(SECRET.into()),
        content_type: "application/json".into(),
        body_template: String::new(),
        case_pointer: "/caseNumber".into(),
        timeout_seconds: 1,
    }
}

async fn page(app: &TestApp, client: &reqwest::Client, path: &str) -> String {
    client
        .get(app.url(path))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

async fn escalated_after_failures_makes_exactly_one_case(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("ARENDO_OUTBOX__RETRY_BASE_MS", "200")]).await;
    let org = app.org("alby").await;
    // No answer in time once, then two 503s, then a case.
    let (base, diarium) = start_diarium(1, 2);
    let keys = Keys::from_hex(&app.key_hex).unwrap();
    let (queue, url) = (org.queue_a, format!("{base}/api/arenden"));
    app.db
        .write(move |c| -> Result<(), arendo::error::Error> {
            let t = arendo::tenants::tenant_by_slug(c, "alby")?.id;
            let id = arendo::escalation::save_records_target(c, &keys, t, &target("Diariet", url))?;
            let q = arendo::store::queues::lookup(c, t, queue)?.unwrap().id;
            arendo::store::escalation::set_queue_default(c, t, q, Some(id))?;
            Ok(())
        })
        .await
        .unwrap();

    let ticket = app
        .create_ticket(
            &org.agent_a.token,
            org.queue_a,
            "Fel i VA-taxan på min faktura",
        )
        .await;
    let number = ticket["number"].as_str().unwrap().to_string();
    let agent = app.browser();
    app.login(&agent, "alby", &org.agent_a.email, &org.agent_a.password)
        .await;
    // An internal note never leaves Ärendo.
    let r = reqwest::Client::new()
        .post(app.url(&format!("/api/v1/tickets/{number}/messages")))
        .bearer_auth(&org.agent_a.token)
        .json(&serde_json::json!({ "kind": "note", "body": "Intern anteckning: ring Maria" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);

    let html = page(&app, &agent, &format!("/tickets/{number}")).await;
    assert!(html.contains("id=\"esc-h\""));
    assert_eq!(
        app.escalate(&agent, &number, "", "Begäran om omprövning ska diarieföras")
            .await,
        303
    );

    let mut html = String::new();
    for _ in 0..150 {
        html = page(&app, &agent, &format!("/tickets/{number}")).await;
        // (The page reads the ticket and its escalations separately: wait for both.)
        if html.contains("class=\"diarienummer\"") && html.contains("Registrerat i Diariet") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        html.contains("<span class=\"diarienummer\">KS 2026/0001</span>"),
        "the case number shows on the ticket"
    );
    assert!(html.contains("Registrerad"));
    // Every attempt is in the ticket's history.
    assert_eq!(
        html.matches("att skicka till Diariet misslyckades").count(),
        3,
        "three failures"
    );
    assert!(html.contains("Registrerat i Diariet med diarienummer KS 2026/0001"));

    // The ticket stays late-proof: nothing more is sent once the case exists.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let d = diarium.lock().unwrap();
    assert_eq!(d.requests.len(), 4, "one timeout, two 503s, one success");
    assert_eq!(d.cases.len(), 1, "exactly one case");
    let key = &d.requests[0].0;
    assert_eq!(key.len(), 32);
    assert!(
        d.requests.iter().all(|(k, signed, _)| k == key && *signed),
        "same key, signed"
    );
    let body: serde_json::Value = serde_json::from_str(&d.requests[3].2).unwrap();
    assert_eq!(body["ticket"]["number"], number.as_str());
    assert_eq!(body["reason"], "Begäran om omprövning ska diarieföras");
    assert_eq!(body["contact"]["email"], "maria@example.org");
    assert_eq!(body["messages"][0]["text"], "Hej! Jag har en fråga.");
    assert!(
        !d.requests[3].2.contains("Intern anteckning"),
        "notes are not sent"
    );
}
both_backends!(escalated_after_failures_makes_exactly_one_case);

async fn a_refused_escalation_is_given_up_and_shown(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("ARENDO_OUTBOX__RETRY_BASE_MS", "200")]).await;
    let org = app.org("alby").await;
    let (base, _) = start_diarium(0, 0);
    let keys = Keys::from_hex(&app.key_hex).unwrap();
    let url = format!("{base}/api/trasig");
    let target_id = app
        .db
        .write(move |c| -> Result<i64, arendo::error::Error> {
            let t = arendo::tenants::tenant_by_slug(c, "alby")?.id;
            arendo::escalation::save_records_target(c, &keys, t, &target("Trasigt diarium", url))
        })
        .await
        .unwrap();
    let ticket = app
        .create_ticket(&org.agent_a.token, org.queue_a, "Bygglovsfråga")
        .await;
    let number = ticket["number"].as_str().unwrap().to_string();
    let agent = app.browser();
    app.login(&agent, "alby", &org.agent_a.email, &org.agent_a.password)
        .await;

    // No queue default: the agent must choose.
    assert_eq!(app.escalate(&agent, &number, "", "").await, 422);

    assert_eq!(
        app.escalate(&agent, &number, target_id.to_string().as_str(), "Test")
            .await,
        303
    );
    let mut html = String::new();
    for _ in 0..100 {
        html = page(&app, &agent, &format!("/tickets/{number}")).await;
        if html.contains("Eskaleringen gavs upp") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        html.contains("Eskaleringen gavs upp"),
        "a 422 is not retried"
    );
    assert!(html.contains("Misslyckades") && html.contains("ärendetyp saknas"));
    assert!(!html.contains("class=\"diarienummer\""));
}
both_backends!(a_refused_escalation_is_given_up_and_shown);

async fn a_transfer_target_moves_the_whole_ticket(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let org = app.org("alby").await;
    let target_id = app
        .db
        .write(move |c| -> Result<i64, arendo::error::Error> {
            let t = arendo::tenants::tenant_by_slug(c, "alby")?.id;
            arendo::escalation::save_transfer_target(c, t, "Till VA", "va")
        })
        .await
        .unwrap();
    let ticket = app
        .create_ticket(&org.agent_a.token, org.queue_a, "Läcka vid pumpstationen")
        .await;
    let number = ticket["number"].as_str().unwrap().to_string();
    let agent = app.browser();
    app.login(&agent, "alby", &org.agent_a.email, &org.agent_a.password)
        .await;
    let html = page(&app, &agent, &format!("/tickets/{number}")).await;
    let r = agent
        .post(app.url(&format!("/tickets/{number}/escalate")))
        .form(&[
            ("csrf", csrf_in(&html).as_str()),
            ("target", target_id.to_string().as_str()),
            ("reason", "VA äger frågan"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    // Anna works in Kundtjänst only: the ticket has left her sight, she lands on her start page.
    assert_eq!(r.headers()["location"], "/?ok=escalated");
    let d: serde_json::Value = reqwest::Client::new()
        .get(app.url(&format!("/api/v1/tickets/{number}")))
        .bearer_auth(&org.agent_b.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(d["queue_id"], org.queue_b, "now in VA");
}
both_backends!(a_transfer_target_moves_the_whole_ticket);

/// An administrator sets the records system up on `/admin/escalation`: the token and the
/// signing key are never shown again, an empty field keeps them, incomplete or duplicate targets
/// are refused with the typed values kept (but not the secrets), and an agent's escalation through
/// the target so made creates a signed case. Agents cannot open the page.
async fn an_admin_sets_up_the_records_system_on_the_admin_page(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("ARENDO_OUTBOX__RETRY_BASE_MS", "200")]).await;
    let org = app.org("alby").await;
    let (base, diarium) = start_diarium(0, 0);
    let admin = app.browser();
    app.login(&admin, "alby", &org.admin.email, &org.admin.password)
        .await;
    let html = page(&app, &admin, "/admin/escalation/new?kind=records").await;
    let csrf = csrf_in(&html);
    let url = format!("{base}/api/arenden");
    let post = |path: String, fields: Vec<(&'static str, String)>| {
        let (admin, url, csrf) = (admin.clone(), app.url(&path), csrf.clone());
        async move {
            let mut form = vec![("csrf", csrf)];
            form.extend(fields);
            let r = admin.post(url).form(&form).send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let records = |name: &str, auth: &str, user: &str, secret: &str, hmac: &str| {
        vec![
            ("kind", "records".to_string()),
            ("name", name.to_string()),
            ("url", url.clone()),
            ("method", "POST".into()),
            ("content_type", "application/json".into()),
            ("headers", "X-Kommun: alby".into()),
            ("auth", auth.into()),
            ("auth_user", user.into()),
            ("auth_secret", secret.into()),
            ("hmac_secret", hmac.into()),
            ("body_template", String::new()),
            ("case_pointer", "/caseNumber".into()),
            ("timeout_seconds", "5".into()),
        ]
    };

    // Basic auth without a user name: refused, the address kept, the password not echoed.
    let (status, html) = post(
        "/admin/escalation".into(),
        records("Diariet", "basic", "", "hemligt-lösen", ""),
    )
    .await;
    assert_eq!(status, 422);
    assert!(html.contains("Skriv användarnamnet."), "{html}");
    assert!(html.contains(&url));
    assert!(!html.contains("hemligt-lösen"));

    let (status, _) = post(
        "/admin/escalation".into(),
        records("Diariet", "bearer", "", "token-123", SECRET),
    )
    .await;
    assert_eq!(status, 303);
    let (status, html) = post(
        "/admin/escalation".into(),
        records("Diariet", "none", "", "", ""),
    )
    .await;
    assert_eq!(status, 409, "the name is taken");
    assert!(html.contains("Det finns redan en mottagare med det namnet."));

    let list = page(&app, &admin, "/admin/escalation").await;
    assert!(
        list.contains("Diariesystem") && list.contains(&url),
        "{list}"
    );
    let at = list.find(">Diariet</a>").unwrap();
    let href = "href=\"/admin/escalation/";
    let start = list[..at].rfind(href).unwrap() + href.len();
    let id = list[start..start + list[start..].find('"').unwrap()].to_string();

    // The stored secrets are never shown; saving with empty fields keeps them.
    let edit = page(&app, &admin, &format!("/admin/escalation/{id}")).await;
    assert!(!edit.contains("token-123") && !edit.contains(SECRET));
    assert_eq!(
        edit.matches("Ett värde är sparat").count(),
        2,
        "token and key"
    );
    let mut fields = records("ignored", "bearer", "", "", "");
    fields.retain(|(k, _)| *k != "timeout_seconds");
    fields.push(("timeout_seconds", "2".into()));
    let (status, _) = post(format!("/admin/escalation/{id}"), fields).await;
    assert_eq!(status, 303);
    let edit = page(&app, &admin, &format!("/admin/escalation/{id}")).await;
    assert!(edit.contains("value=\"2\""), "the change is saved");
    assert!(
        edit.contains("<h1>Diariesystem: Diariet</h1>"),
        "the name stays"
    );

    // An agent escalates with it: the request is signed with the kept key.
    let ticket = app
        .create_ticket(&org.agent_a.token, org.queue_a, "Överklagande av beslut")
        .await;
    let number = ticket["number"].as_str().unwrap().to_string();
    let agent = app.browser();
    app.login(&agent, "alby", &org.agent_a.email, &org.agent_a.password)
        .await;
    assert_eq!(
        app.escalate(&agent, &number, id.as_str(), "Överklagande ska diarieföras")
            .await,
        303
    );
    let mut html = String::new();
    for _ in 0..100 {
        html = page(&app, &agent, &format!("/tickets/{number}")).await;
        if html.contains("class=\"diarienummer\"") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(html.contains("KS 2026/0001"), "the case number shows");
    {
        let d = diarium.lock().unwrap();
        assert_eq!(d.requests.len(), 1);
        assert!(d.requests[0].1, "signed with the kept key");
    }

    let r = agent
        .get(app.url("/admin/escalation"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}
both_backends!(an_admin_sets_up_the_records_system_on_the_admin_page);
