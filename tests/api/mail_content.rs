//! What a mail carries reaches the agent: an attachment over the size limit is shown as a notice
//! and the original (.eml) can be downloaded from the ticket page and the API (issue 17, point 3);
//! raw 8-bit headers and `unknown-8bit` parts are read in the mail's charset, not as U+FFFD, and
//! broken parts are noted on the message (point 6); forwarded mails and report parts get real file
//! names, sent per RFC 6266 (point 7); a restarted node takes back its own leases at once and
//! respects other nodes' (point 8). The mails are real fixtures in tests/fixtures/mail_content.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::dovecot::Dovecot;
use base64::Engine as _;
use diesel::{Connection, QueryableByName, RunQueryDsl};
use serde_json::Value;

use crate::both_backends;
use crate::helpers::{Backend, TestApp};
use crate::mail::{KT, PW, VA, add_mailbox, mail};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/mail_content/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// `arendo mail import-dir` (the same pipeline as IMAP) with this app's database and `env`.
fn import(app: &TestApp, files: &[(&str, Vec<u8>)], env: &[(&str, &str)]) {
    let dir = tempfile::tempdir().unwrap();
    for (name, raw) in files {
        std::fs::write(dir.path().join(name), raw).unwrap();
    }
    let out = Command::new(env!("CARGO_BIN_EXE_arendo"))
        .args([
            "mail",
            "import-dir",
            "--tenant",
            "alby",
            "--queue",
            "kundtjanst",
        ])
        .arg(dir.path())
        .env_remove("ARENDO_CONFIG")
        .env("ARENDO_DATA_DIR", &app.data_dir)
        .env("ARENDO_DATABASE__URL", &app.db_url)
        .env("ARENDO_SECRET_KEY", &app.key_hex)
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "import failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn get_json(app: &TestApp, token: &str, path: &str) -> Value {
    let r = reqwest::Client::new()
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{path}");
    r.json().await.unwrap()
}

/// The ticket whose first message has `subject`, as the API shows it.
async fn ticket_with_subject(app: &TestApp, token: &str, subject: &str) -> Value {
    let list = get_json(app, token, "/api/v1/tickets?limit=200").await;
    for t in list["tickets"].as_array().unwrap() {
        let n = t["number"].as_str().unwrap();
        let d = get_json(app, token, &format!("/api/v1/tickets/{n}")).await;
        if d["messages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["subject"] == subject)
        {
            return d;
        }
    }
    panic!("no ticket has a message with the subject {subject:?}: {list}");
}

fn first_inbound(d: &Value) -> &Value {
    d["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["kind"] == "inbound")
        .expect("an inbound message")
}

/// A page's text with HTML entities for the characters Handlebars escapes turned back.
fn unescape(html: &str) -> String {
    html.replace("&#x3D;", "=")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

/// A 3 MB drawing over a 2 MB limit: the message says so (Swedish text from the locale), the
/// history notes it, and everyone who may read the ticket downloads the original .eml, byte for
/// byte and inert, from the page and the API; agents of other queues and other municipalities
/// get 404.
async fn oversize_attachment_is_shown_and_the_original_downloads(b: Backend) {
    let limit = [("ARENDO_MAIL__MAX_ATTACHMENT_MB", "2")];
    let app = TestApp::spawn_with(b, &limit).await;
    let org = app.org("alby").await;
    let other = app.org("borby").await;
    let pdf: Vec<u8> = (0..3 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&pdf);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    let raw = format!(
        "From: Eva Nord <eva.nord@example.org>\r\nTo: kundtjanst@alby.se\r\nSubject: Bygglov Storgatan 7\r\nMessage-ID: <ritning-1@example.org>\r\nDate: Tue, 01 Dec 2026 08:00:00 +0100\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"rr\"\r\n\r\n--rr\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHär är ritningen till bygglovsansökan.\r\n--rr\r\nContent-Type: application/pdf; name=\"ritning.pdf\"\r\nContent-Disposition: attachment; filename=\"ritning.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n--rr--\r\n",
        lines.join("\r\n")
    )
    .into_bytes();
    import(&app, &[("ritning.eml", raw.clone())], &limit);

    let d = ticket_with_subject(&app, &org.agent_a.token, "Bygglov Storgatan 7").await;
    let n = d["number"].as_str().unwrap().to_string();
    let m = first_inbound(&d);
    let id = m["id"].as_i64().unwrap();
    assert!(
        d["attachments"].as_array().unwrap().is_empty(),
        "the drawing is over the limit and not stored as an attachment"
    );
    let problems = d["mail_problems"].as_array().expect("problems in the API");
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0]["kind"], "oversize");
    assert_eq!(problems[0]["filename"], "ritning.pdf");
    assert_eq!(problems[0]["message_id"], id);
    assert!(problems[0]["size_bytes"].as_i64().unwrap() >= 3 * 1024 * 1024);

    // The ticket page: the notice on the message, in the history, and the link to the original.
    let browser = app.browser();
    app.login(&browser, "alby", &org.agent_a.email, &org.agent_a.password)
        .await;
    let html = unescape(
        &browser
            .get(app.url(&format!("/tickets/{n}")))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    let notice = "Bilagan ritning.pdf, 3 MB, är för stor för att visas här – den finns i originalmeddelandet.";
    assert!(html.contains(notice), "the page shows the notice: {html}");
    let original = format!("/api/v1/tickets/{n}/messages/{id}/original");
    assert!(
        html.contains(&format!("href=\"{original}\"")),
        "the page links the original"
    );
    assert!(
        html.contains(&format!(
            "kunde inte visa allt i ett e-postmeddelande: {notice}"
        )),
        "the history notes it"
    );

    // The original: from the page (session) and the API (token), byte for byte and inert.
    let r = browser.get(app.url(&original)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = reqwest::Client::new()
        .get(app.url(&original))
        .bearer_auth(&org.agent_a.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let h = r.headers().clone();
    assert_eq!(h["content-type"], "application/octet-stream");
    assert_eq!(h["content-security-policy"], "sandbox");
    assert_eq!(
        h["content-disposition"],
        "attachment; filename=\"Bygglov Storgatan 7.eml\"; filename*=UTF-8''Bygglov%20Storgatan%207.eml"
    );
    assert_eq!(r.bytes().await.unwrap().as_ref(), raw.as_slice());

    // Like every read of the ticket: another queue's agent and another municipality get 404.
    for token in [&org.agent_b.token, &other.admin.token] {
        let r = reqwest::Client::new()
            .get(app.url(&original))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404);
    }
    // A message of another ticket is not this ticket's original.
    let second = app
        .create_ticket(&org.agent_a.token, org.queue_a, "Annat")
        .await;
    let r = reqwest::Client::new()
        .get(app.url(&format!(
            "/api/v1/tickets/{}/messages/{id}/original",
            second["number"].as_str().unwrap()
        )))
        .bearer_auth(&org.agent_a.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}
both_backends!(oversize_attachment_is_shown_and_the_original_downloads);

/// A Windows-1252 mail with a raw 8-bit Subject and sender name, and a part in `unknown-8bit`,
/// read right in the list and on the ticket (no U+FFFD); a part with bad base64 and a mail cut
/// off in transit are noted on their message, with the way to the original.
async fn broken_characters_and_parts_reach_the_agent(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("alby").await;
    import(
        &app,
        &[
            ("1.eml", fixture("cp1252-raw-subject.eml")),
            ("2.eml", fixture("unknown-8bit.eml")),
            ("3.eml", fixture("bad-base64.eml")),
            ("4.eml", fixture("truncated.eml")),
            ("5.eml", fixture("unknown-charset.eml")),
        ],
        &[],
    );
    let token = &org.agent_a.token;
    let list = get_json(&app, token, "/api/v1/tickets?limit=200").await;
    let subjects: Vec<&str> = list["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["subject"].as_str().unwrap())
        .collect();
    assert!(
        subjects.contains(&"Slamtömning – när kommer bilen?"),
        "{subjects:?}"
    );
    assert!(!list.to_string().contains('\u{FFFD}'), "{list}");

    let d = ticket_with_subject(&app, token, "Slamtömning – när kommer bilen?").await;
    assert_eq!(d["contact"]["name"], "Göran Ståhl");
    let d = ticket_with_subject(&app, token, "Soptunnan").await;
    let text = first_inbound(&d)["body_text"].as_str().unwrap();
    assert!(
        text.contains("Soptunnan på Storgatan 5 har inte tömts på två veckor"),
        "{text}"
    );
    assert!(!d.to_string().contains('\u{FFFD}'), "{d}");
    // A charset nobody knows: read as Windows-1252, and the agent is told.
    let d = ticket_with_subject(&app, token, "Parkering").await;
    let text = first_inbound(&d)["body_text"].as_str().unwrap();
    assert!(
        text.contains("Bilen på gården har stått där i tre veckor."),
        "{text}"
    );
    let p = d["mail_problems"].as_array().unwrap();
    assert_eq!(p.len(), 1, "{p:?}");
    assert_eq!(p[0]["kind"], "charset");
    assert_eq!(p[0]["detail"], "x-okand-teckenkodning");

    let browser = app.browser();
    app.login(&browser, "alby", &org.agent_a.email, &org.agent_a.password)
        .await;
    for (subject, kind, notice) in [
        (
            "Ansökan om bygglov",
            "bad_base64",
            "Delen ansokan.pdf är felaktigt kodad och kunde inte läsas – den finns i originalmeddelandet.",
        ),
        (
            "Trasig lekplats",
            "truncated",
            "Delen gungan.jpg är avklippt och kan inte visas hel – öppna originalmeddelandet.",
        ),
        (
            "Parkering",
            "charset",
            "E-postmeddelandets text har en okänd teckenkodning (x-okand-teckenkodning) och kan visas med fel tecken – jämför med originalmeddelandet.",
        ),
    ] {
        let d = ticket_with_subject(&app, token, subject).await;
        let p = d["mail_problems"].as_array().unwrap();
        assert_eq!(p.len(), 1, "{subject}: {p:?}");
        assert_eq!(p[0]["kind"], kind, "{subject}");
        let n = d["number"].as_str().unwrap();
        let id = first_inbound(&d)["id"].as_i64().unwrap();
        let html = unescape(
            &browser
                .get(app.url(&format!("/tickets/{n}")))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap(),
        );
        assert!(html.contains(notice), "{subject}: the notice is shown");
        assert!(
            html.contains(&format!("/api/v1/tickets/{n}/messages/{id}/original")),
            "{subject}: the original is linked"
        );
    }
}
both_backends!(broken_characters_and_parts_reach_the_agent);

/// A forwarded mail (message/rfc822) is saved as `<its subject>.eml`, a bounce's report parts by
/// their type, and the download names them per RFC 6266 (ASCII `filename`, UTF-8 `filename*`).
async fn forwarded_mails_and_report_parts_have_names(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("alby").await;
    import(
        &app,
        &[
            ("1.eml", fixture("forwarded.eml")),
            ("2.eml", fixture("dsn.eml")),
        ],
        &[],
    );
    let token = &org.agent_a.token;
    let d = ticket_with_subject(&app, token, "Fwd: Fakturan för mars").await;
    let files = d["attachments"].as_array().unwrap();
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(files[0]["filename"], "Fakturan för mars-april.eml");
    assert_eq!(files[0]["content_type"], "message/rfc822");
    let n = d["number"].as_str().unwrap();
    let r = reqwest::Client::new()
        .get(app.url(&format!(
            "/api/v1/tickets/{n}/attachments/{}",
            files[0]["id"]
        )))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let cd = r.headers()["content-disposition"].as_bytes().to_vec();
    assert!(cd.is_ascii(), "the header is ASCII");
    assert_eq!(
        String::from_utf8(cd).unwrap(),
        "attachment; filename=\"Fakturan f_r mars-april.eml\"; filename*=UTF-8''Fakturan%20f%C3%B6r%20mars-april.eml"
    );
    let body = r.bytes().await.unwrap();
    assert!(
        body.starts_with(b"From: Alby Energi"),
        "the forwarded mail, whole"
    );

    let d = ticket_with_subject(&app, token, "Undelivered Mail Returned to Sender").await;
    let names: Vec<&str> = d["attachments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["filename"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["bilaga.txt", "bilaga.txt"], "{d}");
    assert!(!names.contains(&"bilaga"));
}
both_backends!(forwarded_mails_and_report_parts_have_names);

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

fn sql(url: &str, q: &str) -> i64 {
    let q = diesel::sql_query(q);
    if let Some(path) = url.strip_prefix("sqlite://") {
        let mut c = diesel::SqliteConnection::establish(path).unwrap();
        q.get_result::<Count>(&mut c).map(|c| c.n).unwrap_or(0)
    } else {
        let mut c = diesel::PgConnection::establish(url).unwrap();
        q.get_result::<Count>(&mut c).map(|c| c.n).unwrap_or(0)
    }
}

fn exec(url: &str, q: &str) {
    let q = diesel::sql_query(q);
    if let Some(path) = url.strip_prefix("sqlite://") {
        let mut c = diesel::SqliteConnection::establish(path).unwrap();
        q.execute(&mut c).unwrap();
    } else {
        let mut c = diesel::PgConnection::establish(url).unwrap();
        q.execute(&mut c).unwrap();
    }
}

/// A node process, killed (SIGKILL) and reaped when dropped.
struct Node(Child);

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `arendo serve` on the app's database and data directory, with the default leases (60 s on
/// mailboxes, 120 s on outbox items) and no node id configured: the one in the data dir is used.
fn serve(app: &TestApp) -> Node {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    Command::new(env!("CARGO_BIN_EXE_arendo"))
        .arg("serve")
        .env_remove("ARENDO_CONFIG")
        .env("ARENDO_DATA_DIR", &app.data_dir)
        .env("ARENDO_DATABASE__URL", &app.db_url)
        .env("ARENDO_SECRET_KEY", &app.key_hex)
        .env("ARENDO_DEMO", "false")
        .env("ARENDO_SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .env("ARENDO_SEARCH__INDEX_DIR", app.data_dir.join("search-node"))
        .env("ARENDO_KB__INDEX_DIR", app.data_dir.join("kb-node"))
        .env("ARENDO_EGRESS__ALLOW", "127.0.0.1")
        .env("ARENDO_MAIL__IMAP_SUPERVISOR_SECONDS", "1")
        .env("ARENDO_MAIL__IMAP_POLL_SECONDS", "1")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map(Node)
        .unwrap()
}

/// An outbox mail that `owner` is delivering (claimed until `until`): queued and leased in one
/// transaction, so no running worker can take it in between.
fn leased_mail(app: &TestApp, to: &str, owner: &str, until: &str) -> i64 {
    let payload = serde_json::json!({
        "from": "kundtjanst@alby.se", "to": [to], "subject": "Tack för ditt mejl",
        "text": "Vi har tagit emot ditt ärende.", "message_id": null, "in_reply_to": null,
        "message_row": null,
    });
    let (owner, until) = (owner.to_string(), until.to_string());
    app.db
        .write_blocking(move |c| -> Result<i64, arendo::error::Error> {
            let t = arendo::tenants::tenant_by_slug(c, "alby")?;
            let id = arendo::store::outbox::enqueue(
                c,
                t.id,
                "mail",
                &payload,
                None,
                arendo::store::now(),
            )?;
            diesel::sql_query(format!(
                "UPDATE outbox SET lease_owner = '{owner}', lease_until = '{until}', attempts = 1 WHERE id = {id}"
            ))
            .execute(c)
            .map_err(|e| arendo::error::Error::Internal(e.to_string()))?;
            Ok(id)
        })
        .unwrap()
}

/// A node is killed while it holds the leases of its mailboxes and of two outbox items. Started
/// again, it fetches the new mail of its mailbox and delivers its item at once (not after the 60 s
/// and 120 s leases), while a mailbox and an item whose leases another node holds stay untouched.
async fn a_restarted_node_takes_back_its_own_leases_at_once(b: Backend) {
    // The test's own app only prepares the database; it has a node id of its own.
    let app = TestApp::spawn_with(
        b,
        &[
            ("ARENDO_MAIL__IMAP_ENABLED", "false"),
            ("ARENDO_SERVER__NODE_ID", "test-harness"),
        ],
    )
    .await;
    let org = app.org("alby").await;
    let imap = tokio::task::spawn_blocking(|| Dovecot::start(&[(KT, PW), (VA, PW)]).unwrap())
        .await
        .unwrap();
    let kt = add_mailbox(&app, imap.port, &org, KT, org.queue_a, "INBOX", "move");
    let va = add_mailbox(&app, imap.port, &org, VA, org.queue_b, "INBOX", "move");
    let url = app.db_url.clone();
    let inbound = |q: i64| {
        format!(
            "SELECT COUNT(*) AS n FROM messages m JOIN tickets t ON t.id = m.ticket_id WHERE m.kind = 'inbound' AND t.queue_id = {q}"
        )
    };
    let send = |to: &str, i: u32| {
        mail(
            &format!("medborgare{i}@example.org"),
            to,
            &format!("Fråga {i}"),
            &format!("lease-{i}@example.org"),
            "",
            "Hej kommunen!",
        )
    };

    // The node works both mailboxes; then it is killed.
    let mut first = serve(&app);
    imap.append(KT, PW, "INBOX", &[send(KT, 1)]).await.unwrap();
    imap.append(VA, PW, "INBOX", &[send(VA, 2)]).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while sql(&url, &inbound(org.queue_a)) < 1 || sql(&url, &inbound(org.queue_b)) < 1 {
        assert!(Instant::now() < deadline, "the first node imported nothing");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let node = std::fs::read_to_string(app.data_dir.join("node-id"))
        .expect("the node keeps its id in the data dir")
        .trim()
        .to_string();
    assert!(!node.is_empty());
    let _ = first.0.kill();
    let _ = first.0.wait();
    drop(first);
    assert_eq!(
        sql(
            &url,
            &format!(
                "SELECT COUNT(*) AS n FROM mailbox_state WHERE mailbox_id = {kt} AND lease_owner = '{node}'"
            )
        ),
        1,
        "the killed node still holds its mailbox's lease"
    );

    // What the killed node left: its lease on kundtjanst@ and one outbox item being delivered;
    // another (still running) node holds va@ and another item.
    let until = (chrono::Utc::now().naive_utc() + chrono::Duration::seconds(110))
        .format("%Y-%m-%d %H:%M:%S")
        .to_string();
    let mine = leased_mail(&app, "mine@example.org", &node, &until);
    let theirs = leased_mail(&app, "theirs@example.org", "node-elsewhere", &until);
    exec(
        &url,
        &format!(
            "UPDATE mailbox_state SET lease_owner = 'node-elsewhere', lease_until = '{until}' WHERE mailbox_id = {va}"
        ),
    );
    imap.append(KT, PW, "INBOX", &[send(KT, 3)]).await.unwrap();
    imap.append(VA, PW, "INBOX", &[send(VA, 4)]).await.unwrap();

    let _second = serve(&app);
    let started = Instant::now();
    let done = |id: i64| {
        format!("SELECT COUNT(*) AS n FROM outbox WHERE id = {id} AND done_at IS NOT NULL")
    };
    while sql(&url, &inbound(org.queue_a)) < 2 || sql(&url, &done(mine)) < 1 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the restarted node waited for its own leases (kundtjanst@ messages: {}, own item delivered: {})",
            sql(&url, &inbound(org.queue_a)),
            sql(&url, &done(mine))
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A moment more: what another node holds stays its own.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(sql(&url, &inbound(org.queue_b)), 1, "va@ is another node's");
    assert_eq!(
        sql(&url, &done(theirs)),
        0,
        "the other node's item is its own"
    );
    assert_eq!(
        sql(
            &url,
            &format!(
                "SELECT COUNT(*) AS n FROM mailbox_state WHERE mailbox_id = {va} AND lease_owner = 'node-elsewhere'"
            )
        ),
        1
    );
    assert_eq!(
        std::fs::read_to_string(app.data_dir.join("node-id"))
            .unwrap()
            .trim(),
        node,
        "the node id stays the same across restarts"
    );
}
both_backends!(a_restarted_node_takes_back_its_own_leases_at_once);
