//! The JSON API's response shapes, as snapshots (issue 18, point 3; D61). Every /api/v1 route's
//! answer is snapshotted with insta, so a change to what clients see is a visible diff in
//! tests/api/snapshots/ — never a side effect of a schema or row change. Both backends compare
//! against the same committed snapshot. Volatile values are redacted by what they are, and only if
//! they have the promised form: a timestamp that is not ISO-8601 UTC with `Z`, or an id that is
//! not an integer, stays in the output and fails the comparison.
//!
//! Snapshots are committed and never written by CI: insta writes nothing when `CI` is set
//! (INSTA_UPDATE defaults to `no` there), and `snapshot` below fails on a missing .snap file in any
//! mode that would not write it in place. To accept a deliberate change locally:
//! `INSTA_UPDATE=always cargo nextest run -E 'test(api_types)'`, review the diff, commit.

use std::path::Path;
use std::time::Duration;

use insta::internals::Content;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Backend, TestApp};

const SNAPSHOTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/api/snapshots");

/// `[timestamp]` for a well-formed UTC timestamp, the value itself otherwise (so it shows).
fn timestamp(v: Content) -> Content {
    match v.as_str() {
        Some(s)
            if s.ends_with('Z')
                && chrono::DateTime::parse_from_rfc3339(s).is_ok()
                && s.as_bytes().get(10) == Some(&b'T') =>
        {
            Content::from("[timestamp]")
        }
        _ => v,
    }
}

/// `[id]` for an integer id, the value itself otherwise.
fn id(v: Content) -> Content {
    if v.as_i64().is_some() || v.as_u64().is_some() {
        Content::from("[id]")
    } else {
        v
    }
}

/// `[<what>]` for a non-empty string (a cursor, a generated Message-ID), the value otherwise.
fn text(what: &'static str) -> impl Fn(Content, insta::internals::ContentPath<'_>) -> Content {
    move |v, _| match v.as_str() {
        Some(s) if !s.is_empty() => Content::from(format!("[{what}]")),
        _ => v,
    }
}

/// Ticket numbers carry the year; replace each (wherever it appears: fields, subjects, event
/// details) by a stable name before snapshotting.
fn names(mut v: Value, numbers: &[(&str, &str)]) -> Value {
    fn walk(v: &mut Value, numbers: &[(&str, &str)]) {
        match v {
            Value::String(s) => {
                for (n, name) in numbers {
                    if s.contains(n) {
                        *s = s.replace(n, &format!("[{name}]"));
                    }
                }
            }
            Value::Array(a) => a.iter_mut().for_each(|x| walk(x, numbers)),
            Value::Object(o) => o.values_mut().for_each(|x| walk(x, numbers)),
            _ => {}
        }
    }
    walk(&mut v, numbers);
    v
}

/// Compare `value` with the committed snapshot `name`, with the volatile values redacted.
fn snapshot(name: &str, value: &Value) {
    let update = std::env::var("INSTA_UPDATE").unwrap_or_default();
    if !matches!(update.as_str(), "always" | "force" | "1") {
        let file = Path::new(SNAPSHOTS).join(format!("api__api_types__{name}.snap"));
        assert!(
            file.exists(),
            "no committed snapshot {}: accept one locally with INSTA_UPDATE=always and commit it",
            file.display()
        );
    }
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path(SNAPSHOTS);
    s.set_prepend_module_to_snapshot(false);
    for key in [
        "created_at",
        "updated_at",
        "first_response_at",
        "resolved_at",
        "closed_at",
        "sla_due_at",
        "sla_warn_at",
        "last_ok_at",
    ] {
        s.add_dynamic_redaction(&format!(".**.{key}"), |v, _| timestamp(v));
    }
    for key in [
        "id",
        "queue_id",
        "assignee_id",
        "contact_id",
        "author_id",
        "actor_id",
        "mailbox_id",
        "message_id",
        "tenant",
        "to",
        "from",
        "queue",
        "message",
        "bounced",
    ] {
        s.add_dynamic_redaction(&format!(".**.{key}"), |v, _| id(v));
    }
    s.add_dynamic_redaction(".next_cursor", text("cursor"));
    s.add_dynamic_redaction(".**.messages[].message_id", text("message-id"));
    s.add_dynamic_redaction(".**.messages[].in_reply_to", text("message-id"));
    s.add_dynamic_redaction(".**.state.last_error", text("error"));
    s.add_dynamic_redaction(".**.state.worked_by", text("node"));
    s.bind(|| {
        insta::assert_json_snapshot!(format!("api__api_types__{name}"), value);
    });
}

async fn call(
    app: &TestApp,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut r = reqwest::Client::new()
        .request(method, app.url(path))
        .bearer_auth(token);
    if let Some(b) = body {
        r = r.json(&b);
    }
    let r = r.send().await.unwrap();
    let status = r.status();
    let text = r.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("{path}: not JSON: {text}")),
    )
}

async fn get(app: &TestApp, token: &str, path: &str) -> Value {
    let (status, v) = call(app, token, reqwest::Method::GET, path, None).await;
    assert_eq!(status, 200, "{path}: {v}");
    v
}

/// The SLA follower sets due times moments after a ticket is made; snapshot after it has.
async fn settled(app: &TestApp, token: &str, number: &str) -> Value {
    let path = format!("/api/v1/tickets/{number}");
    for _ in 0..100 {
        let d = get(app, token, &path).await;
        if d["sla_due_at"].is_string() {
            return d;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{number}: the SLA follower never set a due time");
}

/// A mail with an attachment and a body in a charset nobody knows, then a mail from someone else
/// quoting its ticket number (a new ticket, linked to Maria's), imported by `arendo mail
/// import-dir` (the IMAP pipeline).
fn import(app: &TestApp, files: &[(&str, Vec<u8>)]) {
    let dir = tempfile::tempdir().unwrap();
    for (name, raw) in files {
        std::fs::write(dir.path().join(name), raw).unwrap();
    }
    let out = app.import_dir("alby", "kundtjanst", dir.path());
    assert!(
        out.status.success(),
        "import failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn parking_mail() -> Vec<u8> {
    let mut raw = b"From: Maria Lind <maria@example.org>\r\nTo: kundtjanst@alby.se\r\nSubject: Parkering\r\nMessage-ID: <parkering-1@example.org>\r\nDate: Tue, 01 Dec 2026 15:00:00 +0100\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"pp\"\r\n\r\n--pp\r\nContent-Type: text/plain; charset=\"x-okand-teckenkodning\"\r\nContent-Transfer-Encoding: 8bit\r\n\r\nBilen p".to_vec();
    raw.extend_from_slice(b"\xe5 g\xe5rden har st\xe5tt d\xe4r i tre veckor.\r\n");
    raw.extend_from_slice(b"--pp\r\nContent-Type: application/pdf; name=\"karta.pdf\"\r\nContent-Disposition: attachment; filename=\"karta.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQKJcfsj6IKMSAwIG9iago8PD4+CmVuZG9iagp0cmFpbGVyCjw8Pj4KJSVFT0YK\r\n--pp--\r\n");
    raw
}

async fn every_response_shape_is_the_committed_one(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("alby").await;
    let (anna, admin) = (&org.agent_a.token, &org.admin.token);
    // Kundtjänst answers within 8 hours and resolves within 40 (normal and high priority).
    let browser = app.browser();
    let r = app
        .login(&browser, "alby", &org.admin.email, &org.admin.password)
        .await;
    assert_eq!(r.status(), 303);
    for priority in ["normal", "high"] {
        let path = format!("/admin/sla/policies/{}/{priority}", org.queue_a);
        let csrf = app.csrf(&browser, &path).await;
        let r = browser
            .post(app.url(&path))
            .form(&[
                ("csrf", csrf.as_str()),
                ("first_response", "8h"),
                ("resolution", "40h"),
                ("warn_percent", "80"),
                ("rules", ""),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    }

    // Who am I, and my queues.
    snapshot("me", &get(&app, anna, "/api/v1/me").await);
    snapshot("queues", &get(&app, anna, "/api/v1/queues").await);

    // Maria mails about a parked car (attachment, unknown charset); Per quotes her ticket number.
    import(&app, &[("1.eml", parking_mail())]);
    let list = get(&app, anna, "/api/v1/tickets").await;
    let marias = list["tickets"][0]["number"].as_str().unwrap().to_string();
    let per = format!(
        "From: Per Holm <per@example.org>\r\nTo: kundtjanst@alby.se\r\nSubject: Re: [{marias}] Parkering\r\nMessage-ID: <per-1@example.org>\r\nDate: Tue, 01 Dec 2026 16:00:00 +0100\r\n\r\nDet \u{e4}r min bil, jag flyttar den.\r\n"
    );
    import(&app, &[("2.eml", per.into_bytes())]);

    // Anna registers a call from Maria through the API.
    let (status, created) = call(
        &app,
        anna,
        reqwest::Method::POST,
        "/api/v1/tickets",
        Some(json!({
            "queue": "kundtjanst", "subject": "Soptunnan", "body": "Soptunnan har inte tömts.",
            "priority": "high", "channel": "phone",
            "contact": { "name": "Maria Lind", "email": "maria@example.org", "phone": "+46701234567" }
        })),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let call_n = created["number"].as_str().unwrap().to_string();

    let list = get(&app, anna, "/api/v1/tickets").await;
    let pers = list["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["number"].as_str().unwrap().to_string())
        .find(|n| *n != marias && *n != call_n)
        .expect("Per's mail is a ticket of its own");
    let numbers = [
        (marias.as_str(), "marias"),
        (pers.as_str(), "pers"),
        (call_n.as_str(), "call"),
    ];
    snapshot("ticket_created", &names(created, &numbers));

    // She takes Maria's ticket, notes and answers.
    let path = format!("/api/v1/tickets/{marias}");
    let (status, updated) = call(
        &app,
        anna,
        reqwest::Method::PATCH,
        &path,
        Some(json!({ "status": "open", "assignee": org.agent_a.id })),
    )
    .await;
    assert_eq!(status, 200, "{updated}");
    snapshot("ticket_updated", &names(updated, &numbers));
    let (status, note) = call(
        &app,
        anna,
        reqwest::Method::POST,
        &format!("{path}/messages"),
        Some(json!({ "kind": "note", "body": "Per Holm äger bilen." })),
    )
    .await;
    assert_eq!(status, 201, "{note}");
    snapshot("message_note", &names(note, &numbers));
    let (status, reply) = call(
        &app,
        anna,
        reqwest::Method::POST,
        &format!("{path}/messages"),
        Some(json!({ "kind": "reply", "body": "Ägaren flyttar bilen i dag." })),
    )
    .await;
    assert_eq!(status, 201, "{reply}");
    snapshot("message_reply", &names(reply, &numbers));

    // The whole ticket: contact, messages, attachment, mail problem, link, history, her call.
    settled(&app, anna, &call_n).await;
    settled(&app, anna, &pers).await;
    let d = settled(&app, anna, &marias).await;
    assert_eq!(
        d["links"][0],
        json!({ "number": pers, "kind": d["links"][0]["kind"] })
    );
    snapshot("ticket_details", &names(d, &numbers));

    // The list, one page of two, and the last page.
    let page = get(&app, anna, "/api/v1/tickets?limit=2").await;
    assert!(page["next_cursor"].is_string(), "{page}");
    snapshot("ticket_page", &names(page.clone(), &numbers));
    let cursor = page["next_cursor"].as_str().unwrap();
    let last = get(
        &app,
        anna,
        &format!("/api/v1/tickets?limit=2&cursor={cursor}"),
    )
    .await;
    assert!(last["next_cursor"].is_null(), "{last}");
    snapshot("ticket_page_last", &names(last, &numbers));

    // An admin adds a function mailbox whose server does not answer, and lists them.
    let (status, mailbox) = call(
        &app,
        admin,
        reqwest::Method::POST,
        "/api/v1/admin/mailboxes",
        Some(json!({
            "address": "kontakt@alby.se", "queue": "va", "imap_host": "127.0.0.1",
            "imap_port": 9, "tls": "plain", "password": "hemligt-lösenord-1",
        })),
    )
    .await;
    assert_eq!(status, 201, "{mailbox}");
    snapshot("mailbox_created", &mailbox);
    let mut listed = Value::Null;
    for _ in 0..150 {
        listed = get(&app, admin, "/api/v1/admin/mailboxes").await;
        if listed["mailboxes"][0]["state"]["last_error"].is_string() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        listed["mailboxes"][0]["state"]["last_error"].is_string(),
        "the worker tried the mailbox: {listed}"
    );
    snapshot("mailboxes", &listed);

    // And what every refusal looks like.
    let (status, missing) = call(
        &app,
        anna,
        reqwest::Method::GET,
        "/api/v1/tickets/KC-1999-000001",
        None,
    )
    .await;
    assert_eq!(status, 404);
    snapshot("error_not_found", &missing);
}
both_backends!(every_response_shape_is_the_committed_one);
