//! Tenants are strictly isolated, and agents see only their queues — on every API endpoint.

use serde_json::json;

use crate::both_backends;
use crate::helpers::{Backend, TestApp};

/// Probe every ticket endpoint as `token` against `number`; each must answer 404.
async fn assert_all_404(app: &TestApp, token: &str, number: &str, queue_of_other: i64, who: &str) {
    let api = reqwest::Client::new();
    let get = api
        .get(app.url(&format!("/api/v1/tickets/{number}")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 404, "{who}: GET");
    assert_eq!(
        get.json::<serde_json::Value>().await.unwrap()["error"]["code"],
        "not_found"
    );
    let patch = api
        .patch(app.url(&format!("/api/v1/tickets/{number}")))
        .bearer_auth(token)
        .json(&json!({ "status": "closed" }))
        .send()
        .await
        .unwrap();
    assert_eq!(patch.status(), 404, "{who}: PATCH");
    for kind in ["note", "reply"] {
        let post = api
            .post(app.url(&format!("/api/v1/tickets/{number}/messages")))
            .bearer_auth(token)
            .json(&json!({ "kind": kind, "body": "intrång" }))
            .send()
            .await
            .unwrap();
        assert_eq!(post.status(), 404, "{who}: POST {kind}");
    }
    let list = api
        .get(app.url(&format!("/api/v1/tickets?queue={queue_of_other}")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(list.status(), 404, "{who}: list of the other queue");
    let create = api
        .post(app.url("/api/v1/tickets"))
        .bearer_auth(token)
        .json(&json!({ "queue": queue_of_other, "subject": "x", "body": "y" }))
        .send()
        .await
        .unwrap();
    assert_eq!(create.status(), 404, "{who}: create in the other queue");
    let all: serde_json::Value = api
        .get(app.url("/api/v1/tickets"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        all["tickets"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["number"] != number),
        "{who}: the ticket leaked into the list"
    );
    let queues: serde_json::Value = api
        .get(app.url("/api/v1/queues"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        queues["queues"]
            .as_array()
            .unwrap()
            .iter()
            .all(|q| q["id"] != queue_of_other),
        "{who}: queue listed"
    );
}

/// Two municipalities on one installation: neither can read or write the other's tickets,
/// with API tokens or browser sessions — even though both number their tickets KC-YYYY-000001.
async fn tenant_a_cannot_reach_tenant_b(b: Backend) {
    let app = TestApp::spawn(b).await;
    let a = app.org("alby").await;
    let bb = app.org("borby").await;
    let ticket_b = app
        .create_ticket(&bb.admin.token, bb.queue_a, "Borbys ärende")
        .await;
    let number = ticket_b["number"].as_str().unwrap().to_string();
    // Both tenants number independently: A's first ticket has the same number string.
    let ticket_a = app
        .create_ticket(&a.admin.token, a.queue_a, "Albys ärende")
        .await;
    assert_eq!(ticket_a["number"], ticket_b["number"]);

    // B's second ticket has a number A does not have: A's admin gets 404 on every endpoint, and
    // B's queue ids are unknown to A.
    let b2 = app
        .create_ticket(&bb.agent_a.token, bb.queue_a, "Borbys andra ärende")
        .await;
    let b2_number = b2["number"].as_str().unwrap().to_string();
    assert_all_404(&app, &a.admin.token, &b2_number, bb.queue_a, "A admin").await;
    assert_all_404(&app, &a.agent_a.token, &b2_number, bb.queue_a, "A agent").await;
    // Assigning A's ticket to B's user is refused.
    let r = reqwest::Client::new()
        .patch(app.url(&format!(
            "/api/v1/tickets/{}",
            ticket_a["number"].as_str().unwrap()
        )))
        .bearer_auth(&a.admin.token)
        .json(&json!({ "assignee": bb.agent_a.id }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    // Transferring A's ticket into B's queue is refused.
    let r = reqwest::Client::new()
        .patch(app.url(&format!(
            "/api/v1/tickets/{}",
            ticket_a["number"].as_str().unwrap()
        )))
        .bearer_auth(&a.admin.token)
        .json(&json!({ "queue": bb.queue_b }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    // B's ticket stays untouched by everything A tried, and A sees only its own.
    let api = reqwest::Client::new();
    let seen: serde_json::Value = api
        .get(app.url(&format!("/api/v1/tickets/{number}")))
        .bearer_auth(&bb.admin.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(seen["subject"], "Borbys ärende");
    assert_eq!(seen["messages"].as_array().unwrap().len(), 1);
    let mine: serde_json::Value = api
        .get(app.url(&format!("/api/v1/tickets/{number}")))
        .bearer_auth(&a.admin.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        mine["subject"], "Albys ärende",
        "same number, own tenant's ticket"
    );

    // The same holds for a browser session of tenant A.
    let browser = app.browser();
    assert_eq!(
        app.login(&browser, &a.slug, &a.admin.email, &a.admin.password)
            .await
            .status(),
        303
    );
    let list: serde_json::Value = browser
        .get(app.url("/api/v1/tickets"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        list["tickets"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["subject"] != "Borbys ärende")
    );
    // A's credentials cannot sign in to B.
    assert_eq!(
        app.login(&app.browser(), &bb.slug, &a.admin.email, &a.admin.password)
            .await
            .status(),
        401
    );
}
both_backends!(tenant_a_cannot_reach_tenant_b);

/// An agent outside queue VA cannot see or change VA's tickets; the VA lead can.
async fn agent_outside_queue_cannot_see_it(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("alby").await;
    let va = app
        .create_ticket(&org.admin.token, org.queue_b, "Vattenläcka")
        .await;
    let number = va["number"].as_str().unwrap();
    assert_all_404(&app, &org.agent_a.token, number, org.queue_b, "agent A").await;
    let api = reqwest::Client::new();
    let r = api
        .get(app.url(&format!("/api/v1/tickets/{number}")))
        .bearer_auth(&org.agent_b.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = api
        .patch(app.url(&format!("/api/v1/tickets/{number}")))
        .bearer_auth(&org.agent_b.token)
        .json(&json!({ "status": "open" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Agent A's session gets the same 404 from the API.
    let browser = app.browser();
    assert_eq!(
        app.login(
            &browser,
            &org.slug,
            &org.agent_a.email,
            &org.agent_a.password
        )
        .await
        .status(),
        303
    );
    assert_eq!(
        browser
            .get(app.url(&format!("/api/v1/tickets/{number}")))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}
both_backends!(agent_outside_queue_cannot_see_it);
