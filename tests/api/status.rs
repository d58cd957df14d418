//! The citizen's status page: reached through the link every notification carries, it shows the
//! public conversation only and takes the citizen's reply; a tampered link shows nothing; a
//! citizen without the link gets a fresh one by mail.

use crate::both_backends;
use crate::helpers::{Backend, TestApp, csrf_in};

/// Wait until the outbox worker has answered every "Följ ditt ärende" request (it decides
/// whether a link is mailed).
async fn link_requests_answered(app: &TestApp) {
    for _ in 0..200 {
        let pending = app
            .db
            .read(|c| -> Result<_, arendo::error::Error> {
                let mut n = 0;
                for t in arendo::store::tenants::list(c)? {
                    n += arendo::store::outbox::recent(c, t.id, 1000)?
                        .into_iter()
                        .filter(|i| i.kind == "status_link_request" && i.done_at.is_none())
                        .count();
                }
                Ok(n)
            })
            .await
            .unwrap();
        if pending == 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("link requests still pending");
}

fn status_path(text: &str) -> String {
    let at = text.find("/status/").expect("a status link");
    text[at..].split_whitespace().next().unwrap().to_string()
}

async fn the_status_page_shows_the_public_conversation_and_takes_a_reply(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("ARENDO_OUTBOX__RETRY_BASE_MS", "200")]).await;
    let org = app.org("alby").await;
    let ticket = app
        .create_ticket(&org.agent_a.token, org.queue_a, "Bygglov för carport")
        .await;
    let number = ticket["number"].as_str().unwrap().to_string();
    let api = reqwest::Client::new();
    for (kind, body) in [
        (
            "reply",
            "Hej Maria! Du behöver inte bygglov för en carport under 15 kvm.",
        ),
        ("note", "INTERNT: grannen har klagat tidigare"),
    ] {
        let r = api
            .post(app.url(&format!("/api/v1/tickets/{number}/messages")))
            .bearer_auth(&org.agent_a.token)
            .json(&serde_json::json!({ "kind": kind, "body": body }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    let r = api
        .patch(app.url(&format!("/api/v1/tickets/{number}")))
        .bearer_auth(&org.agent_a.token)
        .json(&serde_json::json!({ "status": "resolved" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // The "resolved" notification carries the link.
    let mut notice = None;
    for _ in 0..100 {
        notice = app
            .outbox_mails("maria@example.org")
            .await
            .into_iter()
            .find(|m| m["subject"].as_str().unwrap_or("").contains("är löst"));
        if notice.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let notice = notice.expect("a notification");
    let path = status_path(notice["text"].as_str().unwrap());

    let citizen = app.browser();
    let page = citizen.get(app.url(&path)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["cache-control"], "no-store");
    let html = page.text().await.unwrap();
    assert!(html.contains(&number) && html.contains("Bygglov för carport"));
    assert!(html.contains("Avslutat"));
    assert!(html.contains("carport under 15 kvm"), "our reply is shown");
    assert!(
        html.contains("Hej! Jag har en fråga."),
        "the citizen's own message"
    );
    assert!(!html.contains("INTERNT"), "internal notes never show");

    // The citizen replies with a file: an inbound message, and the ticket is open again.
    let form = reqwest::multipart::Form::new()
        .text("csrf", csrf_in(&html))
        .text("text", "Tack! Men carporten blir 18 kvm, vad gäller då?")
        .part(
            "files",
            reqwest::multipart::Part::bytes(b"%PDF-1.4 ritning".to_vec())
                .file_name("ritning.pdf")
                .mime_str("application/pdf")
                .unwrap(),
        );
    let r = citizen
        .post(app.url(&format!("{path}/reply")))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let d: serde_json::Value = api
        .get(app.url(&format!("/api/v1/tickets/{number}")))
        .bearer_auth(&org.agent_a.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(d["status"], "open", "reopened by the citizen's reply");
    let last = d["messages"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["kind"], "inbound");
    assert_eq!(
        last["body_text"],
        "Tack! Men carporten blir 18 kvm, vad gäller då?"
    );
    let html = citizen
        .get(app.url(&path))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("ritning.pdf") && html.contains("18 kvm"));

    // A tampered link shows nothing of the ticket.
    let mut bad = path.clone();
    let last = bad.pop().unwrap();
    bad.push(if last == 'x' { 'y' } else { 'x' });
    let r = citizen.get(app.url(&bad)).send().await.unwrap();
    assert_eq!(r.status(), 403);
    let html = r.text().await.unwrap();
    assert!(html.contains("Länken fungerar inte") && !html.contains(&number));
    let r = citizen
        .post(app.url(&format!("{bad}/reply")))
        .multipart(
            reqwest::multipart::Form::new()
                .text("csrf", "x")
                .text("text", "hej"),
        )
        .send()
        .await
        .unwrap();
    assert!(r.status() == 403, "{}", r.status());

    // Without a link: the number and the address it came from get a fresh link by mail.
    let before = app.outbox_mails("maria@example.org").await.len();
    let html = citizen
        .get(app.url("/mitt-arende/alby"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = csrf_in(&html);
    for (email, expect_mail) in [("fel@example.org", false), ("Maria@Example.org", true)] {
        let r = citizen
            .post(app.url("/mitt-arende/alby"))
            .form(&[
                ("csrf", csrf.as_str()),
                ("number", number.as_str()),
                ("email", email),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let text = r.text().await.unwrap();
        assert!(
            text.contains("Om uppgifterna stämmer"),
            "the same answer either way"
        );
        link_requests_answered(&app).await;
        let now = app.outbox_mails("maria@example.org").await;
        assert_eq!(now.len() > before, expect_mail, "{email}");
    }
    let fresh = app
        .outbox_mails("maria@example.org")
        .await
        .into_iter()
        .find(|m| {
            m["subject"]
                .as_str()
                .unwrap_or("")
                .starts_with("Länk till ditt ärende")
        })
        .unwrap();
    // (Made in the same second as the first, it may be the same link: it names the same ticket.)
    let fresh_path = status_path(fresh["text"].as_str().unwrap());
    assert_eq!(
        citizen
            .get(app.url(&fresh_path))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}
both_backends!(the_status_page_shows_the_public_conversation_and_takes_a_reply);

/// "Följ ditt ärende" cannot be used to guess tickets or to flood a citizen's inbox: a ticket's
/// citizen gets a bounded number of link mails an hour (further requests get the same answer and
/// send nothing), and an IP address that asks too often is told to wait.
async fn link_requests_are_limited_per_ticket_and_per_address(backend: Backend) {
    let app = TestApp::spawn_with(
        backend,
        &[
            ("ARENDO_NOTIFY__LINK_REQUESTS_PER_IP", "5"),
            ("ARENDO_NOTIFY__LINK_MAILS_PER_TICKET", "2"),
        ],
    )
    .await;
    let org = app.org("alby").await;
    let ticket = app
        .create_ticket(&org.agent_a.token, org.queue_a, "Fråga om bygglov")
        .await;
    let number = ticket["number"].as_str().unwrap().to_string();
    let citizen = app.browser();
    let html = citizen
        .get(app.url("/mitt-arende/alby"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = csrf_in(&html);
    let ask = || {
        let (citizen, url, csrf, number) = (
            citizen.clone(),
            app.url("/mitt-arende/alby"),
            csrf.clone(),
            number.clone(),
        );
        async move {
            let r = citizen
                .post(url)
                .form(&[
                    ("csrf", csrf.as_str()),
                    ("number", number.as_str()),
                    ("email", "maria@example.org"),
                ])
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let links = || async {
        app.outbox_mails("maria@example.org")
            .await
            .into_iter()
            .filter(|m| {
                m["subject"]
                    .as_str()
                    .unwrap_or("")
                    .starts_with("Länk till ditt ärende")
            })
            .count()
    };
    for _ in 0..5 {
        let (status, text) = ask().await;
        assert_eq!(status, 200);
        assert!(text.contains("Om uppgifterna stämmer"), "the same answer");
    }
    link_requests_answered(&app).await;
    assert_eq!(
        links().await,
        2,
        "two link mails an hour, however often asked"
    );
    let (status, text) = ask().await;
    assert_eq!(status, 429, "the sixth request from this address waits");
    assert!(text.contains("Försök igen om 60 minuter"), "{text}");
    link_requests_answered(&app).await;
    assert_eq!(links().await, 2);
}
both_backends!(link_requests_are_limited_per_ticket_and_per_address);

/// Behind a trusted reverse proxy the limit counts each citizen's own address (from
/// `X-Forwarded-For`), not the proxy's: one citizen asking too often does not lock out another.
async fn behind_a_trusted_proxy_each_citizen_has_their_own_limit(backend: Backend) {
    let app = TestApp::spawn_with(
        backend,
        &[
            ("ARENDO_NOTIFY__LINK_REQUESTS_PER_IP", "2"),
            ("ARENDO_SERVER__TRUSTED_PROXIES", "127.0.0.1, ::1"),
        ],
    )
    .await;
    app.org("alby").await;
    let citizen = app.browser();
    let html = citizen
        .get(app.url("/mitt-arende/alby"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = csrf_in(&html);
    let ask = |from: &'static str| {
        let (citizen, url, csrf) = (citizen.clone(), app.url("/mitt-arende/alby"), csrf.clone());
        async move {
            citizen
                .post(url)
                .header("X-Forwarded-For", from)
                .form(&[
                    ("csrf", csrf.as_str()),
                    ("number", "KC-2026-000001"),
                    ("email", "nagon@example.org"),
                ])
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(ask("203.0.113.7").await, 200);
    assert_eq!(ask("203.0.113.7").await, 200);
    assert_eq!(ask("203.0.113.7").await, 429, "this citizen waits");
    assert_eq!(ask("198.51.100.20").await, 200, "another citizen does not");
}
both_backends!(behind_a_trusted_proxy_each_citizen_has_their_own_limit);
