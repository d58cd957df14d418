//! The ticket life cycle over the JSON API.

use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Backend, TestApp};

/// A citizen's question arrives through the API, an agent claims it, writes a note, replies
/// (the reply mail lands in the outbox folder), resolves it — and every step is in the history.
async fn ticket_life_cycle(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("alby").await;
    let t = app
        .create_ticket(&org.agent_a.token, org.queue_a, "Öppettider i jul")
        .await;
    let number = t["number"].as_str().unwrap().to_string();
    let year = chrono::Utc::now().format("%Y").to_string();
    assert_eq!(number, format!("KC-{year}-000001"));
    assert_eq!(t["status"], "new");
    assert_eq!(t["priority"], "normal");
    assert_eq!(t["channel"], "api");

    let api = reqwest::Client::new();
    let tok = &org.agent_a.token;
    let url = app.url(&format!("/api/v1/tickets/{number}"));
    let r = api
        .patch(&url)
        .bearer_auth(tok)
        .json(&json!({ "assignee": org.agent_a.id, "priority": "high" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["assignee_id"], org.agent_a.id);
    assert_eq!(body["priority"], "high");

    let note = api
        .post(format!("{url}/messages"))
        .bearer_auth(tok)
        .json(&json!({ "kind": "note", "body": "Kollar med växeln." }))
        .send()
        .await
        .unwrap();
    assert_eq!(note.status(), 201);
    let reply = api
        .post(format!("{url}/messages"))
        .bearer_auth(tok)
        .json(&json!({ "kind": "reply", "body": "Hej Maria! Kommunhuset har stängt 24–26 december." }))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 201);

    let detail: Value = api
        .get(&url)
        .bearer_auth(tok)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(detail["status"], "open", "a reply opens a new ticket");
    assert!(detail["first_response_at"].is_string());
    let kinds: Vec<&str> = detail["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["inbound", "note", "outbound"]);
    assert_eq!(detail["contact"]["email"], "maria@example.org");

    // The outbox worker delivers the reply to the local outbox folder as an .eml file.
    let outbox = app.data_dir.join("outbox");
    assert!(
        app.eventually(|| std::fs::read_dir(&outbox)
            .map(|d| d.count() > 0)
            .unwrap_or(false))
            .await,
        "reply mail never reached the outbox folder"
    );
    let eml = std::fs::read_dir(&outbox)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let raw = std::fs::read_to_string(eml).unwrap();
    assert!(raw.contains("To: maria@example.org"), "{raw}");
    assert!(
        raw.contains(&number),
        "subject carries the ticket number: {raw}"
    );

    let r = api
        .patch(&url)
        .bearer_auth(tok)
        .json(&json!({ "status": "resolved" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "resolved");
    let detail: Value = api
        .get(&url)
        .bearer_auth(tok)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(detail["resolved_at"].is_string());
    let events: Vec<&str> = detail["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        events,
        [
            "created",
            "priority_changed",
            "assigned",
            "note_added",
            "reply_sent",
            "status_changed"
        ]
    );
    assert!(
        detail["events"].as_array().unwrap()[1..]
            .iter()
            .all(|e| e["actor_id"] == org.agent_a.id)
    );
}
both_backends!(ticket_life_cycle);

/// Lists filter and page by keyset: every ticket exactly once, newest first.
async fn list_filters_and_pages(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("alby").await;
    for i in 0..7 {
        app.create_ticket(
            &org.admin.token,
            if i % 2 == 0 { org.queue_a } else { org.queue_b },
            &format!("Fråga {i}"),
        )
        .await;
    }
    let api = reqwest::Client::new();
    let mut seen = vec![];
    let mut cursor: Option<String> = None;
    loop {
        let mut url = app.url("/api/v1/tickets?limit=3");
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let page: Value = api
            .get(url)
            .bearer_auth(&org.admin.token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for t in page["tickets"].as_array().unwrap() {
            seen.push(t["subject"].as_str().unwrap().to_string());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    let want: Vec<String> = (0..7).rev().map(|i| format!("Fråga {i}")).collect();
    assert_eq!(seen, want);

    let q: Value = api
        .get(app.url(&format!(
            "/api/v1/tickets?queue={}&status=new,open",
            org.queue_b
        )))
        .bearer_auth(&org.admin.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(q["tickets"].as_array().unwrap().len(), 3);
    let none: Value = api
        .get(app.url("/api/v1/tickets?assignee=me"))
        .bearer_auth(&org.admin.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(none["tickets"].as_array().unwrap().len(), 0);
    // Agent B (member of VA only) sees only VA's tickets.
    let b_list: Value = api
        .get(app.url("/api/v1/tickets"))
        .bearer_auth(&org.agent_b.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(b_list["tickets"].as_array().unwrap().len(), 3);
    for bad in [
        "status=sleeping",
        "limit=0",
        "limit=500",
        "cursor=nonsense",
        "priority=kritisk",
        "unknown=1",
    ] {
        let r = api
            .get(app.url(&format!("/api/v1/tickets?{bad}")))
            .bearer_auth(&org.admin.token)
            .send()
            .await
            .unwrap();
        assert!(
            r.status() == 422 || r.status() == 400,
            "{bad}: {}",
            r.status()
        );
        let e: Value = r.json().await.unwrap();
        assert!(
            e["error"]["code"].is_string() && e["error"]["message"].is_string(),
            "{bad}: {e}"
        );
    }
}
both_backends!(list_filters_and_pages);

/// Bad input gets a clear error with a stable code, and nothing is stored.
async fn bad_input_is_refused_clearly(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("alby").await;
    let api = reqwest::Client::new();
    let cases = [
        (
            json!({ "queue": org.queue_a, "subject": "  ", "body": "x" }),
            422,
            "subject",
        ),
        (
            json!({ "queue": org.queue_a, "subject": "x", "body": "" }),
            422,
            "body",
        ),
        (
            json!({ "queue": org.queue_a, "subject": "x", "body": "y", "contact": { "email": "inte-en-adress" } }),
            422,
            "contact.email",
        ),
        (
            json!({ "queue": org.queue_a, "subject": "x", "body": "y", "contact": { "phone": "070-ABC" } }),
            422,
            "contact.phone",
        ),
        (
            json!({ "queue": org.queue_a, "subject": "x", "body": "y", "priority": "akut" }),
            422,
            "priority",
        ),
        (
            json!({ "queue": 999999, "subject": "x", "body": "y" }),
            404,
            "",
        ),
    ];
    for (body, status, field) in cases {
        let r = api
            .post(app.url("/api/v1/tickets"))
            .bearer_auth(&org.admin.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), status, "{body}");
        let e: Value = r.json().await.unwrap();
        if !field.is_empty() {
            assert_eq!(e["error"]["field"], field, "{e}");
            // The machine detail is apart from the prose; the prose names the field by its
            // Swedish label, never by its code name.
            assert!(e["error"]["reason"].is_string(), "{e}");
            assert!(e["error"]["params"].is_object(), "{e}");
            let message = e["error"]["message"].as_str().unwrap();
            assert!(!message.contains(field), "{e}");
        }
    }
    let r = api
        .post(app.url("/api/v1/tickets"))
        .bearer_auth(&org.admin.token)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let e = r.json::<Value>().await.unwrap();
    assert_eq!(
        (&e["error"]["code"], &e["error"]["reason"]),
        (&json!("bad_json"), &json!("syntax")),
        "{e}"
    );
    let list: Value = api
        .get(app.url("/api/v1/tickets"))
        .bearer_auth(&org.admin.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        list["tickets"].as_array().unwrap().len(),
        0,
        "nothing stored"
    );
    // A Swedish mobile number is stored in E.164.
    let r = api
        .post(app.url("/api/v1/tickets"))
        .bearer_auth(&org.admin.token)
        .json(&json!({ "queue": org.queue_a, "subject": "SMS", "body": "y", "contact": { "phone": "070-123 45 67", "preferred_channel": "sms" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let n = r.json::<Value>().await.unwrap()["number"]
        .as_str()
        .unwrap()
        .to_string();
    let d: Value = api
        .get(app.url(&format!("/api/v1/tickets/{n}")))
        .bearer_auth(&org.admin.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(d["contact"]["phone"], "+46701234567");
    assert_eq!(d["contact"]["preferred_channel"], "sms");
    // A reply needs an e-mail address to go to.
    let r = api
        .post(app.url(&format!("/api/v1/tickets/{n}/messages")))
        .bearer_auth(&org.admin.token)
        .json(&json!({ "kind": "reply", "body": "Hej" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
}
both_backends!(bad_input_is_refused_clearly);

/// Many concurrent creates get distinct, gap-free numbers.
async fn concurrent_creates_get_distinct_numbers(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("alby").await;
    let mut tasks = vec![];
    for i in 0..24 {
        let (base, token, q) = (app.base.clone(), org.admin.token.clone(), org.queue_a);
        tasks.push(tokio::spawn(async move {
            let r = reqwest::Client::new()
                .post(format!("{base}/api/v1/tickets"))
                .bearer_auth(token)
                .json(&json!({ "queue": q, "subject": format!("Samtidig {i}"), "body": "x" }))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 201);
            r.json::<Value>().await.unwrap()["number"]
                .as_str()
                .unwrap()
                .to_string()
        }));
    }
    let mut seqs: Vec<i64> = vec![];
    for t in tasks {
        let n = t.await.unwrap();
        seqs.push(n.rsplit('-').next().unwrap().parse().unwrap());
    }
    seqs.sort();
    assert_eq!(seqs, (1..=24).collect::<Vec<i64>>());
}
both_backends!(concurrent_creates_get_distinct_numbers);

/// Data survives a restart of the service.
async fn data_survives_restart(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("alby").await;
    let t = app
        .create_ticket(&org.admin.token, org.queue_a, "Överlever omstart")
        .await;
    let app = app.restart().await;
    let r = reqwest::Client::new()
        .get(app.url(&format!(
            "/api/v1/tickets/{}",
            t["number"].as_str().unwrap()
        )))
        .bearer_auth(&org.admin.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<Value>().await.unwrap()["subject"],
        "Överlever omstart"
    );
}
both_backends!(data_survives_restart);

/// An e-service integration posts tickets naming the queue by its slug, as it is configured
/// everywhere; whatever it gets wrong comes back as a 400 that names the field and says what is
/// wrong, in Swedish, with serde's own text kept apart as machine detail (issue 17, point 27).
async fn the_api_takes_the_queue_slug_and_names_the_field_of_every_mistake(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("alby").await;
    let other = app.org("borg").await;
    let post = |token: String, body: String, content_type: &'static str| {
        let url = app.url("/api/v1/tickets");
        async move {
            let r = reqwest::Client::new()
                .post(url)
                .bearer_auth(token)
                .header("content-type", content_type)
                .body(body)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap())
        }
    };
    let json = "application/json";
    let anna = org.agent_a.token.clone();

    let (s, t) = post(
        anna.clone(),
        json!({ "queue": "kundtjanst", "subject": "Bygglov", "body": "Hej!" }).to_string(),
        json,
    )
    .await;
    assert_eq!(s, 201, "{t}");
    assert_eq!(t["queue_id"], org.queue_a, "the slug names Kundtjänst");
    let (s, t) = post(
        anna.clone(),
        json!({ "queue": org.queue_a, "subject": "Bygglov", "body": "Hej!" }).to_string(),
        json,
    )
    .await;
    assert_eq!(
        (s, &t["queue_id"]),
        (201, &json!(org.queue_a)),
        "ids still work"
    );
    // Another queue's slug (Anna is not in VA) and another municipality's are not found.
    for (token, slug) in [
        (anna.clone(), "va"),
        (other.admin.token.clone(), "kundtjanst-x"),
    ] {
        let (s, e) = post(
            token,
            json!({ "queue": slug, "subject": "x", "body": "y" }).to_string(),
            json,
        )
        .await;
        assert_eq!(
            (s, e["error"]["code"].as_str()),
            (404, Some("not_found")),
            "{e}"
        );
    }

    let swedish = |e: &Value| {
        let m = e["error"]["message"].as_str().unwrap().to_string();
        for english in [
            "expected",
            "invalid type",
            "missing field",
            "unknown field",
            " at line ",
        ] {
            assert!(!m.contains(english), "no English in {m:?}");
        }
        m
    };
    let cases: [(Value, &str, &str, &str); 6] = [
        (
            json!({ "queue": true, "subject": "x", "body": "y" }),
            "queue",
            "wrong_type",
            "köns nummer eller kortnamn",
        ),
        (
            json!({ "queue": "kundtjanst", "body": "y" }),
            "subject",
            "missing",
            "saknas",
        ),
        (
            json!({ "queue": "kundtjanst", "subject": 17, "body": "y" }),
            "subject",
            "wrong_type",
            "en text",
        ),
        (
            json!({ "queue": "kundtjanst", "subject": "x", "body": "y", "contact": { "email": 5 } }),
            "contact.email",
            "wrong_type",
            "en text",
        ),
        (
            json!({ "queue": "kundtjanst", "subject": "x", "body": "y", "contact": { "mail": "a@b.se" } }),
            "contact.mail",
            "unknown_field",
            "finns inte",
        ),
        (
            json!({ "queue": "kundtjanst", "subject": "x", "body": "y", "prio": "hög" }),
            "prio",
            "unknown_field",
            "finns inte",
        ),
    ];
    for (body, field, reason, words) in cases {
        let (s, e) = post(anna.clone(), body.to_string(), json).await;
        assert_eq!(s, 400, "{body}: {e}");
        assert_eq!(e["error"]["code"], "bad_json");
        assert_eq!(e["error"]["field"], field, "{body}: {e}");
        assert_eq!(e["error"]["reason"], reason, "{body}: {e}");
        assert!(e["error"]["detail"].as_str().is_some_and(|d| !d.is_empty()));
        let m = swedish(&e);
        assert!(m.contains(field) && m.contains(words), "{body}: {m}");
    }
    // A value of the right kind that the domain refuses: 422 with the field.
    let (s, e) = post(
        anna.clone(),
        json!({ "queue": "kundtjanst", "subject": "x", "body": "y", "priority": "akut" })
            .to_string(),
        json,
    )
    .await;
    assert_eq!((s, &e["error"]["field"]), (422, &json!("priority")), "{e}");
    // Not JSON at all, and JSON sent as something else.
    let (s, e) = post(anna.clone(), "{\"queue\": \"kundtjanst\",".into(), json).await;
    assert_eq!(
        (s, e["error"]["reason"].as_str()),
        (400, Some("syntax")),
        "{e}"
    );
    assert!(swedish(&e).contains("giltig JSON"));
    let (s, e) = post(
        anna.clone(),
        json!({ "queue": 1 }).to_string(),
        "text/plain",
    )
    .await;
    assert_eq!(
        (s, e["error"]["reason"].as_str()),
        (415, Some("not_json")),
        "{e}"
    );
    // Nothing was saved by any of the refused requests.
    let list: Value = reqwest::Client::new()
        .get(app.url("/api/v1/tickets"))
        .bearer_auth(&anna)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["tickets"].as_array().unwrap().len(), 2);
}
both_backends!(the_api_takes_the_queue_slug_and_names_the_field_of_every_mistake);
