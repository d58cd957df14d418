//! No head-of-line blocking in the outbox (issue 18.5): items are delivered in lanes (job kind
//! and destination), so a records system that hangs delays only its own escalations while the
//! citizens' acknowledgements and the agents' replies leave at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use arendo::escalation::{Auth, RecordsTarget};
use arendo::secrets::Keys;
use serde_json::json;

use crate::both_backends;
use crate::helpers::Backend;
use crate::mail::{KT, World, mail};
use crate::smtp::Received;

/// A records system that accepts every connection and never answers (its sockets stay open).
/// Returns its URL and how many connections it has accepted.
async fn start_hanging_records_system() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        let mut open = vec![];
        while let Ok((sock, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            open.push(sock);
        }
    });
    (format!("http://127.0.0.1:{port}/api/arenden"), accepted)
}

/// Wait until the SMTP peer has a mail to `to` whose text contains `text`; `None` after `within`.
async fn mail_to(w: &World, to: &str, text: &str, within: Duration) -> Option<Received> {
    let until = Instant::now() + within;
    while Instant::now() < until {
        if let Some(m) = w
            .smtp
            .received()
            .into_iter()
            .find(|m| m.to.iter().any(|a| a == to) && m.parsed().text.contains(text))
        {
            return Some(m);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

async fn escalation_states(w: &World, number: &str) -> Vec<String> {
    let number = number.to_string();
    w.app
        .db
        .read(move |c| -> Result<_, arendo::error::Error> {
            let t = arendo::tenants::tenant_by_slug(c, "alby")?.id;
            let n = arendo::domain::TicketNumber::parse(&number).unwrap();
            let all = arendo::domain::QueueAccess::All;
            let tk = arendo::store::tickets::by_number(c, t, &all, &n)?.unwrap();
            Ok(arendo::store::escalation::of_ticket(c, t, tk.id)?
                .into_iter()
                .map(|(e, _)| e.state)
                .collect())
        })
        .await
        .unwrap()
}

/// Kundtjänst escalates two tickets to a records system that hangs (120 s timeout, retried).
/// Meanwhile a citizen mails kundtjanst@: the acknowledgement reaches her within seconds, and so
/// does the agent's reply — while the first escalation is still waiting for its answer and the
/// second waits behind it (one request at a time to one records system).
async fn a_hanging_records_system_does_not_hold_up_citizens_mail(b: Backend) {
    let (url, accepted) = start_hanging_records_system().await;
    let w = World::new(b).await;
    let keys = Keys::from_hex(&w.app.key_hex).unwrap();
    let queue = w.org.queue_a;
    w.app
        .db
        .write(move |c| -> Result<(), arendo::error::Error> {
            let t = arendo::tenants::tenant_by_slug(c, "alby")?.id;
            let target = RecordsTarget {
                name: "Diariet".into(),
                url,
                method: "POST".into(),
                headers: Default::default(),
                secret_headers: Default::default(),
                auth: Auth::Bearer("token-123".into()),
                hmac_secret: None,
                content_type: "application/json".into(),
                body_template: String::new(),
                case_pointer: "/caseNumber".into(),
                timeout_seconds: 120,
            };
            let id = arendo::escalation::save_records_target(c, &keys, t, &target)?;
            let q = arendo::store::queues::lookup(c, t, queue)?.unwrap().id;
            arendo::store::escalation::set_queue_default(c, t, q, Some(id))?;
            Ok(())
        })
        .await
        .unwrap();
    let agent = w.app.browser();
    let a = &w.org.agent_a;
    w.app.login(&agent, "alby", &a.email, &a.password).await;
    let mut escalated = vec![];
    for subject in ["Överklagan av bygglovsbeslut", "Begäran om allmän handling"] {
        let t = w.app.create_ticket(&a.token, queue, subject).await;
        let number = t["number"].as_str().unwrap().to_string();
        assert_eq!(
            w.app.escalate(&agent, &number, "", "Ska diarieföras").await,
            303
        );
        escalated.push(number);
    }
    // The worker is inside the first escalation's request, which gets no answer.
    let hanging = w
        .app
        .eventually(|| accepted.load(Ordering::SeqCst) >= 1)
        .await;
    assert!(hanging, "the records system was called");

    let started = Instant::now();
    w.deliver(
        KT,
        mail(
            "Anna Berg <anna@example.org>",
            KT,
            "Sophämtningen har uteblivit",
            "sopor-1@example.org",
            "",
            "Hej! Soporna har inte hämtats på två veckor.",
        ),
    )
    .await;
    let tickets = w.wait_tickets(3).await;
    let number = tickets
        .iter()
        .find(|t| t["subject"] == "Sophämtningen har uteblivit")
        .and_then(|t| t["number"].as_str())
        .unwrap()
        .to_string();
    let ack = mail_to(&w, "anna@example.org", &number, Duration::from_secs(10)).await;
    assert!(
        ack.is_some(),
        "the acknowledgement left while the records system hangs (after {:?})",
        started.elapsed()
    );

    let r = reqwest::Client::new()
        .post(w.app.url(&format!("/api/v1/tickets/{number}/messages")))
        .bearer_auth(&a.token)
        .json(&json!({ "kind": "reply", "body": "Hej Anna! Vi skickar en bil i morgon." }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let replied = Instant::now();
    let reply = mail_to(
        &w,
        "anna@example.org",
        "Vi skickar en bil i morgon",
        Duration::from_secs(5),
    )
    .await;
    assert!(
        reply.is_some(),
        "the agent's reply left at once (waited {:?})",
        replied.elapsed()
    );

    // The records system's lane is still held by its first request: the second escalation
    // waits behind it, and neither has been answered.
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        1,
        "one request at a time to one records system"
    );
    for n in &escalated {
        assert_eq!(escalation_states(&w, n).await, ["sending"], "{n}");
    }
}
both_backends!(a_hanging_records_system_does_not_hold_up_citizens_mail);

/// A records system that answers every request after `delay` with a new case number; returns
/// its URL and how many requests it has had.
fn start_slow_records_system(delay: Duration) -> (String, Arc<AtomicUsize>) {
    use actix_web::{App, HttpResponse, HttpServer, web};
    let requests = Arc::new(AtomicUsize::new(0));
    let count = web::Data::new(requests.clone());
    let server = HttpServer::new(move || {
        App::new().app_data(count.clone()).route(
            "/api/arenden",
            web::post().to(move |n: web::Data<Arc<AtomicUsize>>| async move {
                let k = n.fetch_add(1, Ordering::SeqCst) + 1;
                tokio::time::sleep(delay).await;
                HttpResponse::Created().json(json!({ "caseNumber": format!("KS 2026/{k:04}") }))
            }),
        )
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .unwrap();
    let port = server.addrs()[0].port();
    tokio::spawn(server.run());
    (format!("http://127.0.0.1:{port}/api/arenden"), requests)
}

/// A records system that takes longer to answer than the outbox lease (5 s): the node renews the
/// lease while it waits, so the item is never claimed a second time (by this node or another)
/// and the records system is asked once.
async fn a_slow_delivery_keeps_its_lease(b: Backend) {
    let (url, requests) = start_slow_records_system(Duration::from_secs(8));
    let w = World::new_with(b, &[("ARENDO_OUTBOX__LEASE_SECONDS", "5")]).await;
    let keys = Keys::from_hex(&w.app.key_hex).unwrap();
    let queue = w.org.queue_a;
    w.app
        .db
        .write(move |c| -> Result<(), arendo::error::Error> {
            let t = arendo::tenants::tenant_by_slug(c, "alby")?.id;
            let target = RecordsTarget {
                name: "Diariet".into(),
                url,
                method: "POST".into(),
                headers: Default::default(),
                secret_headers: Default::default(),
                auth: Auth::Bearer("token-123".into()),
                hmac_secret: None,
                content_type: "application/json".into(),
                body_template: String::new(),
                case_pointer: "/caseNumber".into(),
                timeout_seconds: 30,
            };
            let id = arendo::escalation::save_records_target(c, &keys, t, &target)?;
            let q = arendo::store::queues::lookup(c, t, queue)?.unwrap().id;
            arendo::store::escalation::set_queue_default(c, t, q, Some(id))?;
            Ok(())
        })
        .await
        .unwrap();
    let agent = w.app.browser();
    let a = &w.org.agent_a;
    w.app.login(&agent, "alby", &a.email, &a.password).await;
    let t = w
        .app
        .create_ticket(&a.token, queue, "Överklagan av parkeringsbot")
        .await;
    let number = t["number"].as_str().unwrap().to_string();
    assert_eq!(
        w.app.escalate(&agent, &number, "", "Ska diarieföras").await,
        303
    );
    let mut states = vec![];
    for _ in 0..300 {
        states = escalation_states(&w, &number).await;
        if states == ["answered"] {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(states, ["answered"], "the slow records system answered");
    let items = w
        .app
        .db
        .read(|c| -> Result<_, arendo::error::Error> {
            let t = arendo::tenants::tenant_by_slug(c, "alby")?.id;
            Ok(arendo::store::outbox::recent(c, t, 200)?)
        })
        .await
        .unwrap();
    let item = items.iter().find(|i| i.kind == "escalation").unwrap();
    assert!(item.done_at.is_some());
    assert_eq!(
        item.attempts, 1,
        "claimed once: its lease was renewed while it was delivered"
    );
    assert_eq!(requests.load(Ordering::SeqCst), 1, "asked once");
}
both_backends!(a_slow_delivery_keeps_its_lease);
