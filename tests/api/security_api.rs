//! Security hardening of the API edge (issue 16, points 3, 7, 11 and 19): every /api/v1 route
//! enforces its token scope; bearer links never reach the logs; the CSRF check trusts forwarded
//! headers only from trusted proxies and binds its token to the session; the live stream sends
//! each event only to agents who may see the ticket.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use arendo::accounts::admin::{self, NewUser};
use arendo::accounts::password::NewPassword;
use arendo::accounts::{Scope, tokens::Signer};
use arendo::domain::{EmailAddress, MembershipRole, QueueId, Role};
use arendo::error::Error;
use arendo::secrets::Keys;
use arendo::web::api::{Need, ROUTES};
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Backend, Org, TestApp, csrf_in};

/// A fresh API token of `email` in `slug` with exactly `scopes`.
async fn token_with(app: &TestApp, slug: &str, email: &str, scopes: Vec<Scope>) -> String {
    let signer = Signer::new(&Keys::from_hex(&app.key_hex).unwrap());
    let (slug, email) = (slug.to_string(), EmailAddress::parse(email).unwrap());
    app.db
        .write(move |c| -> Result<String, Error> {
            let t = arendo::store::tenants::by_slug(c, &slug)?.unwrap();
            let u = arendo::store::users::by_email(c, t.id, &email)?.unwrap();
            let (_, token) = admin::create_api_token(c, &signer, t.id, u.id, "t", &scopes, None)?;
            Ok(token)
        })
        .await
        .unwrap()
}

fn mailbox_body(n: usize) -> Value {
    json!({
        "address": format!("va{n}@alby.se"),
        "queue": "va",
        "imap_host": "imap.alby.se",
        "password": "hemligt",
    })
}

async fn mailbox_count(app: &TestApp, token: &str) -> usize {
    let r = reqwest::Client::new()
        .get(app.url("/api/v1/admin/mailboxes"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json::<Value>().await.unwrap()["mailboxes"]
        .as_array()
        .unwrap()
        .len()
}

/// An admin's read-only tokens (`tickets:read`, `queues:read`, both, or every ticket scope) cannot
/// add a function mailbox; the admin's session and a token with the admin scope can.
async fn security_api_read_only_token_cannot_add_a_mailbox(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("alby").await;
    let http = reqwest::Client::new();
    let admin = org.admin.email.clone();
    for scopes in [
        vec![Scope::TicketsRead],
        vec![Scope::QueuesRead],
        vec![Scope::TicketsRead, Scope::QueuesRead],
        vec![Scope::TicketsRead, Scope::TicketsWrite, Scope::QueuesRead],
    ] {
        let token = token_with(&app, &org.slug, &admin, scopes.clone()).await;
        let r = http
            .post(app.url("/api/v1/admin/mailboxes"))
            .bearer_auth(&token)
            .json(&mailbox_body(1))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{scopes:?} added a mailbox");
        let r = http
            .get(app.url("/api/v1/admin/mailboxes"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{scopes:?} listed the mailboxes");
    }
    // The full token of the admin (every scope, as the test org makes it) still works.
    assert_eq!(mailbox_count(&app, &org.admin.token).await, 0);
    let r = http
        .post(app.url("/api/v1/admin/mailboxes"))
        .bearer_auth(&org.admin.token)
        .json(&mailbox_body(2))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());

    // A browser session of the admin keeps working (reads, and writes with the CSRF header).
    let browser = app.browser();
    let r = app
        .login(&browser, &org.slug, &org.admin.email, &org.admin.password)
        .await;
    assert_eq!(r.status(), 303);
    let csrf = app.csrf(&browser, "/").await;
    let r = browser
        .post(app.url("/api/v1/admin/mailboxes"))
        .header("X-CSRF-Token", &csrf)
        .json(&mailbox_body(3))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let r = browser
        .get(app.url("/api/v1/admin/mailboxes"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(mailbox_count(&app, &org.admin.token).await, 2);

    // An agent's session reaches the tickets, not the admin routes.
    let anna = app.browser();
    app.login(&anna, &org.slug, &org.agent_a.email, &org.agent_a.password)
        .await;
    let r = anna.get(app.url("/api/v1/tickets")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = anna
        .get(app.url("/api/v1/admin/mailboxes"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}
both_backends!(security_api_read_only_token_cannot_add_a_mailbox);

/// Every route attribute under src/web/api/ (method and full path), read from the source, so a
/// route added there without a line in `ROUTES` fails this test.
fn api_routes_in_source() -> Vec<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/web/api");
    let mut found = vec![];
    for entry in std::fs::read_dir(&dir).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for line in text.lines().map(str::trim) {
            for m in ["get", "post", "patch", "put", "delete"] {
                if let Some(rest) = line.strip_prefix(&format!("#[{m}(\""))
                    && let Some(path) = rest.split('"').next()
                {
                    found.push((m.to_uppercase(), format!("/api/v1{path}")));
                }
            }
        }
    }
    assert!(found.len() >= 10, "the API's routes were found: {found:?}");
    found
}

/// Whether `need` lets a token with only `scope` through.
fn allows(need: Need, scope: Scope) -> bool {
    match need {
        Need::Caller => true,
        Need::Scope(s) => s == scope,
    }
}

/// Table-driven: every /api/v1 route (as the source declares it) has a line in `ROUTES`; then
/// every route is called with a token of each single scope (of the admin, who may do anything
/// by role): a token without the route's scope gets 403 `forbidden` and changes nothing, a token
/// with it gets through, and no token at all gets 401.
async fn security_api_every_route_declares_its_scope(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("alby").await;
    for (method, path) in api_routes_in_source() {
        assert!(
            ROUTES.iter().any(|r| r.method == method && r.path == path),
            "{method} {path} declares no scope in web::api::ROUTES"
        );
    }
    let number = app
        .create_ticket(&org.admin.token, org.queue_a, "Bygglov")
        .await["number"]
        .as_str()
        .unwrap()
        .to_string();
    let http = reqwest::Client::new();
    let fingerprint = || async {
        let get = |p: String| {
            let http = http.clone();
            let token = org.admin.token.clone();
            let url = app.url(&p);
            async move {
                http.get(url)
                    .bearer_auth(token)
                    .send()
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap()
            }
        };
        (
            get("/api/v1/tickets?limit=200".into()).await,
            get(format!("/api/v1/tickets/{number}")).await,
            get("/api/v1/admin/mailboxes".into()).await,
        )
    };
    let mut tokens = vec![];
    for scope in Scope::ALL {
        tokens.push((
            scope,
            token_with(&app, &org.slug, &org.admin.email, vec![scope]).await,
        ));
    }
    for (i, r) in ROUTES.iter().enumerate() {
        let path = r.path.replace("{number}", &number).replace("{id}", "1");
        let body = match (r.method, r.path) {
            ("POST", "/api/v1/tickets") => json!({
                "queue": org.queue_a, "subject": "Ny", "body": "Hej",
            }),
            ("PATCH", _) => json!({ "priority": "high" }),
            ("POST", p) if p.ends_with("/messages") => json!({ "kind": "note", "body": "Internt" }),
            ("POST", p) if p.ends_with("/mailboxes") => mailbox_body(i),
            _ => Value::Null,
        };
        let call = |token: Option<&str>| {
            let method = reqwest::Method::from_bytes(r.method.as_bytes()).unwrap();
            let mut req = http.request(method, app.url(&path));
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            if !body.is_null() {
                req = req.json(&body);
            }
            req.send()
        };
        let anonymous = call(None).await.unwrap();
        assert_eq!(
            anonymous.status(),
            401,
            "{} {} without a token",
            r.method,
            r.path
        );
        for (scope, token) in &tokens {
            let before = fingerprint().await;
            let resp = call(Some(token)).await.unwrap();
            let status = resp.status().as_u16();
            let text = resp.text().await.unwrap();
            if allows(r.need, *scope) {
                assert!(
                    status != 401 && status != 403,
                    "{} {} with {scope:?} (needs {:?}): {status} {text}",
                    r.method,
                    r.path,
                    r.need
                );
            } else {
                assert_eq!(
                    status, 403,
                    "{} {} with {scope:?} (needs {:?}): {text}",
                    r.method, r.path, r.need
                );
                assert!(text.contains("\"forbidden\""), "{text}");
                assert_eq!(
                    before,
                    fingerprint().await,
                    "{} {} with {scope:?} changed something",
                    r.method,
                    r.path
                );
            }
        }
    }
}
both_backends!(security_api_every_route_declares_its_scope);

// ---------------------------------------------------------------------------------------------
// Point 7: path tokens never reach the logs.

/// Everything any subscriber could print: every span's fields (at creation and when recorded
/// later) and every event, at every level, from the server's side of the process.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<String>>);

struct Fields<'a>(&'a mut String);

impl tracing::field::Visit for Fields<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        use std::fmt::Write;
        let _ = write!(self.0, " {}={:?}", field.name(), value);
    }
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        use std::fmt::Write;
        let _ = write!(self.0, " {}={}", field.name(), value);
    }
}

/// The client side of the test (reqwest, hyper) is not the server's log.
fn server_side(target: &str) -> bool {
    !["reqwest", "hyper", "hyper_util", "h2", "rustls"]
        .iter()
        .any(|t| target == *t || target.starts_with(&format!("{t}::")))
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Capture {
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        _: &tracing::span::Id,
        _: tracing_subscriber::layer::Context<'_, S>,
    ) {
        if server_side(attrs.metadata().target()) {
            let mut s = String::new();
            attrs.record(&mut Fields(&mut s));
            let mut all = self.0.lock().unwrap();
            all.push_str(&format!("span {}{s}\n", attrs.metadata().name()));
        }
    }
    fn on_record(
        &self,
        _: &tracing::span::Id,
        values: &tracing::span::Record<'_>,
        _: tracing_subscriber::layer::Context<'_, S>,
    ) {
        let mut s = String::new();
        values.record(&mut Fields(&mut s));
        self.0.lock().unwrap().push_str(&format!("record{s}\n"));
    }
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        if server_side(event.metadata().target()) {
            let mut s = String::new();
            event.record(&mut Fields(&mut s));
            let mut all = self.0.lock().unwrap();
            all.push_str(&format!("event {}{s}\n", event.metadata().target()));
        }
    }
}

/// Status links, referral links and SMS report addresses, requested in every way a visitor can
/// (the page, a reply with a bad CSRF token, an unknown subpath), leave no trace of their token in
/// any span or event at any level — while the requests themselves are logged.
async fn security_api_path_tokens_never_reach_the_logs(b: Backend) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let capture = Capture::default();
    tracing_subscriber::registry()
        .with(capture.clone())
        .try_init()
        .expect("this test installs the process's subscriber (run it with nextest)");
    let app = TestApp::spawn(b).await;
    let org = app.org("alby").await;
    let t = app
        .create_ticket(&org.agent_a.token, org.queue_a, "Bygglov")
        .await;
    let number = arendo::domain::TicketNumber::parse(t["number"].as_str().unwrap()).unwrap();
    let signer = Signer::new(&Keys::from_hex(&app.key_hex).unwrap());
    let tenant = app
        .db
        .read(|c| -> Result<_, Error> {
            Ok(arendo::store::tenants::by_slug(c, "alby")?.unwrap().id)
        })
        .await
        .unwrap();
    let ticket = app
        .db
        .read(move |c| -> Result<_, Error> {
            let all = arendo::domain::QueueAccess::All;
            Ok(arendo::store::tickets::by_number(c, tenant, &all, &number)?
                .unwrap()
                .id)
        })
        .await
        .unwrap();
    let link = app
        .db
        .read(move |c| arendo::notify::status_link::link(c, &signer, "", tenant, ticket, 30))
        .await
        .unwrap();
    let status_token = link.rsplit('/').next().unwrap().to_string();
    // A referral token and an SMS report token need not be valid to be secret in the log.
    let remiss_token = format!(
        "{}.{}.{}",
        "eyJhbGciOiJIUzI1NiJ9", "eyJrIjoicmVtaXNzIn0", "c2lnbmF0dXJlc2lnbmF0dXJl"
    );
    let sms_token = hex::encode(rand::random::<[u8; 24]>());

    let browser = app.browser();
    let r = browser
        .get(app.url(&format!("/status/{status_token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = browser
        .post(app.url(&format!("/status/{status_token}/reply")))
        .form(&[("csrf", "wrong"), ("body", "Hej")])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error(), "{}", r.status());
    let r = browser
        .get(app.url(&format!("/status/{status_token}/nothing?x={status_token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = browser
        .get(app.url(&format!("/remiss/{remiss_token}")))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error(), "{}", r.status());
    let r = browser
        .post(app.url(&format!("/sms/reports/{sms_token}")))
        .form(&[("id", "1"), ("status", "delivered")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    tokio::time::sleep(Duration::from_millis(300)).await;

    let logs = capture.0.lock().unwrap().clone();
    assert!(
        logs.contains("/status/{token}") && logs.contains("/sms/reports/{token}"),
        "the requests are logged with their route: {logs}"
    );
    for secret in [&status_token, &remiss_token, &sms_token] {
        // The token, and its signature part alone (the most secret piece of a JWT).
        let sig = secret.rsplit('.').next().unwrap();
        assert!(
            !logs.contains(secret.as_str()) && !logs.contains(sig),
            "{secret} reached the log:\n{}",
            logs.lines()
                .filter(|l| l.contains(sig))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}
both_backends!(security_api_path_tokens_never_reach_the_logs);

// ---------------------------------------------------------------------------------------------
// Point 11: CSRF defence in depth.

/// A login form post with a valid token but a foreign Origin is refused, even when the client
/// adds `X-Forwarded-Host` or `Forwarded: host=` naming the foreign host; only a configured
/// trusted proxy may say which host the browser used.
async fn security_api_forwarded_host_only_from_trusted_proxies(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("alby").await;
    for (name, value) in [
        ("X-Forwarded-Host", "evil.example"),
        ("Forwarded", "host=evil.example;proto=https"),
    ] {
        let browser = app.browser();
        let csrf = app.csrf(&browser, "/login").await;
        let r = browser
            .post(app.url("/login"))
            .header("Origin", "https://evil.example")
            .header(name, value)
            .form(&[
                ("csrf", csrf.as_str()),
                ("tenant", org.slug.as_str()),
                ("email", org.admin.email.as_str()),
                ("password", org.admin.password.as_str()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{name}: {value} let a foreign Origin in");
    }

    // Behind a trusted proxy (here: loopback), the proxy's X-Forwarded-Host is the host.
    let app = TestApp::spawn_with(b, &[("ARENDO_SERVER__TRUSTED_PROXIES", "127.0.0.1/32")]).await;
    let org = app.org("alby").await;
    let browser = app.browser();
    let csrf = app.csrf(&browser, "/login").await;
    let r = browser
        .post(app.url("/login"))
        .header("Origin", "https://arendo.alby.se")
        .header("X-Forwarded-Host", "arendo.alby.se")
        .form(&[
            ("csrf", csrf.as_str()),
            ("tenant", org.slug.as_str()),
            ("email", org.admin.email.as_str()),
            ("password", org.admin.password.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
}
both_backends!(security_api_forwarded_host_only_from_trusted_proxies);

/// The CSRF token is bound to the session: the token of the anonymous login page no longer works
/// once the browser has signed in, the signed-in page's token does, and another session's token
/// with the same CSRF cookie does not.
async fn security_api_csrf_token_is_bound_to_the_session(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("alby").await;
    let browser = app.browser();
    let anonymous = app.csrf(&browser, "/login").await;
    let r = app
        .login(&browser, &org.slug, &org.admin.email, &org.admin.password)
        .await;
    assert_eq!(r.status(), 303);
    let signed_in = app.csrf(&browser, "/").await;
    assert_ne!(anonymous, signed_in, "the token changes at sign-in");
    // The pre-session token cannot post as the session (the note form of a ticket, via the API).
    let t = app
        .create_ticket(&org.admin.token, org.queue_a, "Bygglov")
        .await;
    let n = t["number"].as_str().unwrap();
    let note = |token: String| {
        browser
            .post(app.url(&format!("/api/v1/tickets/{n}/messages")))
            .header("X-CSRF-Token", token)
            .json(&json!({ "kind": "note", "body": "Internt" }))
            .send()
    };
    assert_eq!(note(anonymous.clone()).await.unwrap().status(), 403);
    assert_eq!(note(signed_in.clone()).await.unwrap().status(), 201);
    let r = browser
        .post(app.url("/logout"))
        .form(&[("csrf", anonymous.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "logout with the pre-session token");
    let r = browser
        .post(app.url("/logout"))
        .form(&[("csrf", signed_in.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    // After logout the old session's token is dead too (a fresh anonymous binding).
    let again = app.csrf(&browser, "/login").await;
    assert_ne!(again, signed_in);
    assert_eq!(
        again, anonymous,
        "the pre-session binding is the browser's CSRF cookie"
    );
}
both_backends!(security_api_csrf_token_is_bound_to_the_session);

/// Under https the cookies carry the `__Host-` prefix (Secure, Path=/, no Domain), and signing in
/// and posting work with them.
async fn security_api_host_prefixed_cookies_under_https(b: Backend) {
    let app = TestApp::spawn_with(
        b,
        &[("ARENDO_SERVER__PUBLIC_URL", "https://arendo.alby.se")],
    )
    .await;
    let org = app.org("alby").await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = http.get(app.url("/login")).send().await.unwrap();
    let set: Vec<String> = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    let csrf_cookie = set
        .iter()
        .find(|c| c.starts_with("__Host-arendo_csrf="))
        .unwrap_or_else(|| panic!("a __Host- CSRF cookie: {set:?}"));
    assert!(
        csrf_cookie.contains("Secure")
            && csrf_cookie.contains("Path=/")
            && !csrf_cookie.contains("Domain"),
        "{csrf_cookie}"
    );
    let pair = csrf_cookie.split(';').next().unwrap().to_string();
    let csrf = csrf_in(&r.text().await.unwrap());
    let r = http
        .post(app.url("/login"))
        .header("Cookie", &pair)
        .form(&[
            ("csrf", csrf.as_str()),
            ("tenant", org.slug.as_str()),
            ("email", org.admin.email.as_str()),
            ("password", org.admin.password.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let session = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("__Host-arendo_session="))
        .expect("a __Host- session cookie");
    assert!(
        session.contains("Secure") && session.contains("Path=/") && !session.contains("Domain")
    );
    let session_pair = session.split(';').next().unwrap();
    let r = http
        .get(app.url("/"))
        .header("Cookie", format!("{pair}; {session_pair}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "signed in with the __Host- cookies");
    // An unprefixed session cookie (which a sibling subdomain could have planted) is not read.
    let plain = session_pair.trim_start_matches("__Host-");
    let r = http
        .get(app.url("/"))
        .header("Cookie", plain)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
}
both_backends!(security_api_host_prefixed_cookies_under_https);

// ---------------------------------------------------------------------------------------------
// Point 19: the live stream sends each event only to agents who may see the ticket.

async fn signed_in(app: &TestApp, slug: &str, email: &str, password: &str) -> reqwest::Client {
    let b = app.browser();
    let r = app.login(&b, slug, email, password).await;
    assert_eq!(r.status(), 303);
    b
}

async fn read_for(resp: &mut reqwest::Response, want: &str, secs: u64) -> String {
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while want.is_empty() || !seen.contains(want) {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if left.is_zero() {
            break;
        }
        match tokio::time::timeout(left, resp.chunk()).await {
            Ok(Ok(Some(c))) => seen.push_str(&String::from_utf8_lossy(&c)),
            _ => break,
        }
    }
    seen
}

/// A third queue and an agent who is only in it.
async fn outsider(app: &TestApp, org: &Org) -> (String, String) {
    let slug = org.slug.clone();
    app.db
        .write(move |c| -> Result<_, Error> {
            let t = arendo::store::tenants::by_slug(c, &slug)?.unwrap();
            let q = arendo::tenants::create_queue(c, t.id, "bygg", "Bygg")?;
            let email = EmailAddress::parse(&format!("cecilia@{slug}.se"))?;
            let password = NewPassword::generate();
            admin::create_user(
                c,
                t.id,
                NewUser {
                    email: &email,
                    display_name: "Cecilia",
                    role: Role::Agent,
                    password: &password,
                    queues: &[(q.id, MembershipRole::Agent)],
                },
            )?;
            let _: QueueId = q.id;
            Ok((email.to_string(), password.expose().to_string()))
        })
        .await
        .unwrap()
}

/// A ticket moves from Kundtjänst to VA: Anna (Kundtjänst) and Bertil (VA) hear of it, Cecilia
/// (only in Bygg) hears nothing — not of the move, nor of anything else on that ticket — while
/// she does hear of a ticket in her own queue.
async fn security_api_live_stream_keeps_other_queues_out(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("alby").await;
    let (c_email, c_password) = outsider(&app, &org).await;
    let anna = signed_in(&app, &org.slug, &org.agent_a.email, &org.agent_a.password).await;
    let bertil = signed_in(&app, &org.slug, &org.agent_b.email, &org.agent_b.password).await;
    let cecilia = signed_in(&app, &org.slug, &c_email, &c_password).await;
    let mut streams = vec![];
    for who in [&anna, &bertil, &cecilia] {
        let mut s = who.get(app.url("/live")).send().await.unwrap();
        assert_eq!(s.status(), 200);
        assert!(read_for(&mut s, "event: ready", 5).await.contains("ready"));
        streams.push(s);
    }
    let number = app
        .create_ticket(&org.admin.token, org.queue_a, "Läckande rör")
        .await["number"]
        .as_str()
        .unwrap()
        .to_string();
    app.patch_ticket(&org.admin.token, &number, json!({ "queue": org.queue_b }))
        .await;
    app.patch_ticket(&org.admin.token, &number, json!({ "priority": "high" }))
        .await;
    // A ticket in Cecilia's own queue, created last: once she has it, the others have passed.
    let bygg = app
        .db
        .read(|c| -> Result<_, Error> {
            let t = arendo::store::tenants::by_slug(c, "alby")?.unwrap();
            Ok(arendo::store::queues::list(c, t.id)?
                .into_iter()
                .find(|q| q.slug == "bygg")
                .unwrap()
                .id
                .get())
        })
        .await
        .unwrap();
    let own = app.create_ticket(&org.admin.token, bygg, "Bygglov").await["number"]
        .as_str()
        .unwrap()
        .to_string();

    let got_c = read_for(&mut streams[2], &own, 10).await;
    assert!(
        got_c.contains(&own),
        "Cecilia hears of her own queue: {got_c}"
    );
    assert!(
        !got_c.contains(&number),
        "Cecilia is in neither queue and must hear nothing of {number}: {got_c}"
    );
    let got_a = read_for(&mut streams[0], "queue_changed", 10).await;
    assert!(
        got_a.contains(&number) && got_a.contains("queue_changed"),
        "{got_a}"
    );
    let got_b = read_for(&mut streams[1], "priority_changed", 10).await;
    assert!(
        got_b.contains("queue_changed") && got_b.contains("priority_changed"),
        "{got_b}"
    );
    assert!(!got_b.contains(&own) && !got_a.contains(&own));
}
both_backends!(security_api_live_stream_keeps_other_queues_out);

/// An open stream follows the agent's account as it is now: Anna, taken out of Kundtjänst while
/// her stream is open, stops hearing of its tickets; Bertil, deactivated, has his stream ended.
async fn security_api_live_stream_follows_membership_changes(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("alby").await;
    let anna = signed_in(&app, &org.slug, &org.agent_a.email, &org.agent_a.password).await;
    let bertil = signed_in(&app, &org.slug, &org.agent_b.email, &org.agent_b.password).await;
    let mut a = anna.get(app.url("/live")).send().await.unwrap();
    let mut b_stream = bertil.get(app.url("/live")).send().await.unwrap();
    assert!(read_for(&mut a, "event: ready", 5).await.contains("ready"));
    assert!(
        read_for(&mut b_stream, "event: ready", 5)
            .await
            .contains("ready")
    );
    let first = app
        .create_ticket(&org.admin.token, org.queue_a, "Före")
        .await["number"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(read_for(&mut a, &first, 10).await.contains(&first));

    let (slug, qa, anna_id, bertil_id) = (
        org.slug.clone(),
        org.queue_a,
        org.agent_a.id,
        org.agent_b.id,
    );
    app.db
        .write(move |c| -> Result<_, Error> {
            let t = arendo::store::tenants::by_slug(c, &slug)?.unwrap().id;
            let q = arendo::store::queues::lookup(c, t, qa)?.unwrap().id;
            let anna = arendo::store::users::lookup(c, t, anna_id)?.unwrap().id;
            let bertil = arendo::store::users::lookup(c, t, bertil_id)?.unwrap().id;
            arendo::store::queues::remove_member(c, t, q, anna)?;
            arendo::store::users::set_active(c, t, bertil, false)?;
            Ok(())
        })
        .await
        .unwrap();
    // After the stream's next look at the account (every 10 s).
    tokio::time::sleep(Duration::from_secs(11)).await;
    let after = app
        .create_ticket(&org.admin.token, org.queue_a, "Efter")
        .await["number"]
        .as_str()
        .unwrap()
        .to_string();
    let got = read_for(&mut a, &after, 4).await;
    assert!(!got.contains(&after), "Anna left Kundtjänst: {got}");
    // Bertil's stream has ended (the body is complete) rather than waiting for more.
    let end = tokio::time::timeout(Duration::from_secs(20), async {
        while let Ok(Some(_)) = b_stream.chunk().await {}
    })
    .await;
    assert!(end.is_ok(), "a deactivated agent's stream ends");
}
both_backends!(security_api_live_stream_follows_membership_changes);

/// An agent's token cannot be given the admin scope: only an administrator's token may carry it
/// (the role check on the admin routes stays the second line).
async fn security_api_admin_scope_only_for_administrators(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let org = app.org("alby").await;
    let signer = Signer::new(&Keys::from_hex(&app.key_hex).unwrap());
    let email = EmailAddress::parse(&org.agent_a.email).unwrap();
    let refused = app
        .db
        .write(move |c| -> Result<String, Error> {
            let t = arendo::store::tenants::by_slug(c, "alby")?.unwrap();
            let u = arendo::store::users::by_email(c, t.id, &email)?.unwrap();
            let (_, token) =
                admin::create_api_token(c, &signer, t.id, u.id, "t", &[Scope::Admin], None)?;
            Ok(token)
        })
        .await;
    assert!(matches!(refused, Err(Error::Conflict(_))), "{refused:?}");
    // An administrator's token with it works on the admin routes.
    let token = token_with(&app, "alby", &org.admin.email, vec![Scope::Admin]).await;
    let r = reqwest::Client::new()
        .get(app.url("/api/v1/admin/mailboxes"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
}
both_backends!(security_api_admin_scope_only_for_administrators);
