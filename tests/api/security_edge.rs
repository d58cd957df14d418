//! Issue 16, the edge: bad bytes never give a 500 (5), stored files cannot act as script (12),
//! form limits say what they mean (14), files on disk are private (16), and the headers (17).

use std::collections::BTreeSet;
use std::path::Path;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Backend, TestApp};

/// Every route the app serves, as (method, path pattern with the scope prefix), read from the
/// route attributes in `src/web`. Fails when routes are registered some other way, so a new
/// route cannot escape the scenarios below.
fn routes() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/web");
    let mut files = vec![];
    let mut dirs = vec![root.clone()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                files.push(p);
            }
        }
    }
    let mut out = vec![];
    for f in files {
        let src = std::fs::read_to_string(&f).unwrap();
        let rel = f.strip_prefix(&root).unwrap().to_string_lossy().to_string();
        for (n, line) in src.lines().enumerate() {
            assert!(
                !(line.contains("web::resource(") || line.contains(".route(")),
                "{rel}:{}: routes must be declared with a route attribute so the edge scenarios \
                 see them: {line}",
                n + 1
            );
        }
        let prefix = if rel.starts_with("api/") {
            assert!(
                std::fs::read_to_string(root.join("api/mod.rs"))
                    .unwrap()
                    .contains("web::scope(\"/api/v1\")")
            );
            "/api/v1"
        } else {
            ""
        };
        for m in ["get", "post", "put", "patch", "delete"] {
            let marker = format!("#[{m}(\"");
            for (i, _) in src.match_indices(&marker) {
                let rest = &src[i + marker.len()..];
                let end = rest.find("\")").unwrap();
                let path = rest[..end].replace("\\\\", "\\");
                out.push((m.to_uppercase(), format!("{prefix}{path}")));
            }
        }
    }
    out.sort();
    out
}

/// Multipart routes (forms with files): their text fields are checked where the multipart body
/// is read.
const MULTIPART: &[&str] = &[
    "/tickets/{number}/messages",
    "/status/{token}/reply",
    "/tickets/new",
];

/// Routes whose handler reads no form or JSON body: nothing posted to them is stored.
const NO_BODY: &[(&str, &str)] = &[("POST", "/logout")];

/// The path with each `{param}` given a value that reaches the handler.
fn fill(pattern: &str, values: &[(&str, String)]) -> String {
    let mut out = String::new();
    let mut rest = pattern;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').unwrap() + start;
        let name = rest[start + 1..end].split(':').next().unwrap();
        let v = values
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("no test value for {{{name}}} in {pattern}"));
        out.push_str(&v);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

/// The first `{param}` replaced by `bad` (percent-encoded already).
fn fill_bad(pattern: &str, values: &[(&str, String)], bad: &str) -> Option<String> {
    let start = pattern.find('{')?;
    let end = pattern[start..].find('}').unwrap() + start;
    Some(format!(
        "{}{bad}{}",
        &pattern[..start],
        fill(&pattern[end + 1..], values)
    ))
}

const FIELDS: &[&str] = &[
    "tenant",
    "email",
    "password",
    "current",
    "new",
    "repeat",
    "name",
    "display_name",
    "title",
    "slug",
    "summary",
    "body",
    "text",
    "note",
    "subject",
    "tags",
    "tag",
    "reason",
    "query",
    "q",
    "id",
    "status",
    "to",
    "phone",
    "language",
    "locale",
    "priority",
    "queue",
    "conditions",
    "actions",
    "template",
    "number",
    "url",
    "host",
    "user",
    "mobile",
    "words",
    "rules",
];

fn form_body(csrf: &str, bad: &str) -> String {
    let mut b = format!("csrf={csrf}");
    for f in FIELDS {
        b.push_str(&format!("&{f}={bad}"));
    }
    b
}

fn json_body(bad: &str) -> String {
    let mut m = serde_json::Map::new();
    for f in FIELDS {
        m.insert((*f).into(), Value::String(format!("x{bad}y")));
    }
    m.insert(
        "contact".into(),
        json!({ "name": format!("a{bad}"), "email": "a@example.org" }),
    );
    Value::Object(m).to_string()
}

async fn error_code(r: reqwest::Response) -> (StatusCode, String) {
    let status = r.status();
    // A body that never ends (a stream that was not refused) is reported, not waited for.
    let text = r
        .text()
        .await
        .unwrap_or_else(|e| format!("(body unreadable: {e})"));
    let code = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| v["error"]["code"].as_str().map(str::to_string))
        .unwrap_or(text);
    (status, code)
}

/// NUL bytes and invalid UTF-8 in the path, the query and the body of every route, signed in
/// and anonymous: never a 5xx, and a 400 that says why wherever the bytes are read.
async fn security_edge_bad_bytes_on_every_route(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let org = app.org("exempel").await;
    let ticket = app
        .create_ticket(&org.admin.token, org.queue_a, "Bygglov")
        .await;
    let number = ticket["number"].as_str().unwrap().to_string();
    let values = [
        ("number", number.clone()),
        ("id", "1".to_string()),
        ("user", org.agent_a.id.to_string()),
        ("queue", org.queue_a.to_string()),
        ("priority", "normal".to_string()),
        ("slug", "vattenlacka".to_string()),
        ("tenant", org.slug.clone()),
        ("token", "x".to_string()),
        ("file", "app.css".to_string()),
        ("table", "volym".to_string()),
    ];
    let browser = app.browser();
    let r = app
        .login(&browser, &org.slug, &org.admin.email, &org.admin.password)
        .await;
    assert_eq!(r.status(), 303);
    let csrf = app.csrf(&browser, "/").await;
    let anonymous = app.browser();
    let anon_csrf = app.csrf(&anonymous, "/login").await;
    let api = reqwest::Client::new();

    let all = routes();
    assert!(
        all.len() > 100,
        "the enumeration found {} routes",
        all.len()
    );
    let mut failures = vec![];
    let mut checked = BTreeSet::new();
    for (method, pattern) in &all {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let is_api = pattern.starts_with("/api/");
        let send = |client: &reqwest::Client, path: String| {
            // A stream (`/live`) that is not refused would never end: fail instead of hanging.
            let rb = client
                .request(m.clone(), app.url(&path))
                .timeout(std::time::Duration::from_secs(20));
            if is_api {
                rb.bearer_auth(&org.admin.token)
            } else {
                rb
            }
        };
        let mut expect = |what: &str, status: StatusCode, code: &str, want_400: bool| {
            let ok = if want_400 {
                status == 400 && (code.contains("bad_input") || code.contains("styrtecken"))
            } else {
                !status.is_server_error()
            };
            if !ok {
                failures.push(format!("{method} {pattern} ({what}): {status} {code:.200}"));
            }
        };
        // Bad bytes in the path and the query: refused before anything else, even anonymous.
        for bad in ["a%00b", "%FF%FE"] {
            if let Some(path) = fill_bad(pattern, &values, bad) {
                for client in [&browser, &anonymous] {
                    let (s, c) = error_code(send(client, path.clone()).send().await.unwrap()).await;
                    expect(&format!("path {bad}"), s, &c, true);
                }
            }
            let path = format!("{}?q={bad}&tenant={bad}", fill(pattern, &values));
            let (s, c) = error_code(send(&browser, path).send().await.unwrap()).await;
            expect(&format!("query {bad}"), s, &c, true);
        }
        if method == "GET" {
            checked.insert((method.clone(), pattern.clone()));
            continue;
        }
        let path = fill(pattern, &values);
        let reads_body = !NO_BODY.contains(&(method.as_str(), pattern.as_str()));
        if MULTIPART.contains(&pattern.as_str()) {
            let form = reqwest::multipart::Form::new()
                .text("csrf", csrf.clone())
                .text("body", "rad\0 ett")
                .text("text", "rad\0 ett")
                .text("kind", "note");
            let r = send(&browser, path.clone())
                .multipart(form)
                .send()
                .await
                .unwrap();
            let (s, c) = error_code(r).await;
            // The workspace form reaches the check; the status page refuses the link first.
            expect("multipart NUL", s, &c, pattern.starts_with("/tickets/"));
        } else if is_api {
            for (what, body) in [
                ("json \\u0000", json_body("\0").into_bytes()),
                ("json invalid UTF-8", {
                    let mut b = json_body("").into_bytes();
                    let at = b.len() - 3;
                    b.splice(at..at, [0xff, 0xfe]);
                    b
                }),
            ] {
                let r = send(&api, path.clone())
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                let (s, c) = error_code(r).await;
                expect(what, s, &c, reads_body && what.contains("0000"));
            }
        } else {
            for (client, token) in [(&browser, &csrf), (&anonymous, &anon_csrf)] {
                for bad in ["a%00b", "%FF%FE", "%1B%5B2J"] {
                    let r = send(client, path.clone())
                        .header("content-type", "application/x-www-form-urlencoded")
                        .body(form_body(token, bad))
                        .send()
                        .await
                        .unwrap();
                    let (s, c) = error_code(r).await;
                    // Signed in, every form is read; anonymous only the public ones are.
                    let read = reads_body && (std::ptr::eq(client, &browser) || s != 303);
                    expect(&format!("form {bad}"), s, &c, read);
                }
            }
        }
        checked.insert((method.clone(), pattern.clone()));
    }
    assert_eq!(checked.len(), all.iter().collect::<BTreeSet<_>>().len());
    for listed in MULTIPART {
        assert!(
            all.iter().any(|(_, p)| p == listed),
            "{listed} is no longer a route"
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // The issue's own examples, anonymous: a clear Swedish 400 page.
    let r = anonymous
        .post(app.url("/login"))
        .form(&[
            ("csrf", anon_csrf.as_str()),
            ("tenant", "exem\0pel"),
            ("email", "a@b.se"),
            ("password", "x"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let html = r.text().await.unwrap();
    assert!(html.contains("styrtecken"), "{html}");
    assert_eq!(
        anonymous
            .get(app.url("/kb/exem%00pel"))
            .send()
            .await
            .unwrap()
            .status(),
        400
    );
    let r = anonymous
        .post(app.url("/sms/reports/a%00b"))
        .form(&[("id", "1"), ("status", "delivered")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // Tabs and line breaks are text.
    let r = api
        .post(app.url(&format!("/api/v1/tickets/{number}/messages")))
        .bearer_auth(&org.admin.token)
        .json(&json!({ "kind": "note", "body": "Rad ett\n\tRad två\r\n" }))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
}
both_backends!(security_edge_bad_bytes_on_every_route);

fn mail_with_nul(attachment: (&str, &str, &str)) -> Vec<u8> {
    let (name, ctype, content) = attachment;
    format!(
        "From: Maria Lind <maria@example.org>\r\nTo: kc@exempel.se\r\nSubject: Fr\0aga\r\n\
         Message-ID: <nul-1@example.org>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\nHej!\0 Jag undrar \x1b[2J om bygglovet.\r\n\
         --B\r\nContent-Type: {ctype}\r\nContent-Disposition: attachment; filename=\"{name}\"\r\n\r\n{content}\r\n--B--\r\n"
    )
    .into_bytes()
}

/// A mail with NUL and escape bytes in its subject and body is ingested on both backends, with
/// the control characters removed; its attachments stay byte for byte.
async fn security_edge_mail_with_nul_is_ingested(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let org = app.org("exempel").await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("1.eml"),
        mail_with_nul(("a.txt", "text/plain", "x")),
    )
    .unwrap();
    let out = app.import_dir(&org.slug, "kundtjanst", dir.path());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("1 new tickets"),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list: Value = reqwest::Client::new()
        .get(app.url("/api/v1/tickets"))
        .bearer_auth(&org.admin.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let t = &list["tickets"][0];
    assert_eq!(t["subject"], "Fraga", "{list}");
    let number = t["number"].as_str().unwrap();
    let full: Value = reqwest::Client::new()
        .get(app.url(&format!("/api/v1/tickets/{number}")))
        .bearer_auth(&org.admin.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let body = full.to_string();
    assert!(body.contains("Hej! Jag undrar [2J om bygglovet."), "{body}");
    assert!(
        !body.contains("\\u0000") && !body.contains("\\u001b"),
        "{body}"
    );
}
both_backends!(security_edge_mail_with_nul_is_ingested);

/// Attachments a citizen mailed in are served inert: script, HTML and SVG as a binary download,
/// sandboxed, same-origin only, the name per RFC 6266; images and PDFs keep their type.
async fn security_edge_attachments_are_inert(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let org = app.org("exempel").await;
    let cases = [
        (
            "x.js",
            "application/javascript",
            "alert(document.cookie)",
            "application/octet-stream",
        ),
        (
            "sida.html",
            "text/html",
            "<script>alert(1)</script>",
            "application/octet-stream",
        ),
        (
            "bild.svg",
            "image/svg+xml",
            "<svg onload=alert(1)/>",
            "application/octet-stream",
        ),
        ("ritning åäö.png", "image/png", "PNG", "image/png"),
        (
            "beslut.pdf",
            "application/pdf",
            "%PDF-1.4",
            "application/pdf",
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (i, (name, ctype, content, _)) in cases.iter().enumerate() {
        let raw = format!(
            "From: maria@example.org\r\nTo: kc@exempel.se\r\nSubject: Bilaga {i}\r\n\
             Message-ID: <att-{i}@example.org>\r\nMIME-Version: 1.0\r\n\
             Content-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\n\
             Content-Type: text/plain\r\n\r\nSe bilagan.\r\n--B\r\nContent-Type: {ctype}\r\n\
             Content-Disposition: attachment; filename*=utf-8''{}\r\n\r\n{content}\r\n--B--\r\n",
            name.replace(' ', "%20")
                .replace('å', "%C3%A5")
                .replace('ä', "%C3%A4")
                .replace('ö', "%C3%B6")
        );
        std::fs::write(dir.path().join(format!("{i}.eml")), raw).unwrap();
    }
    let out = app.import_dir(&org.slug, "kundtjanst", dir.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let api = reqwest::Client::new();
    let list: Value = api
        .get(app.url("/api/v1/tickets"))
        .bearer_auth(&org.admin.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut seen = 0;
    for t in list["tickets"].as_array().unwrap() {
        let number = t["number"].as_str().unwrap();
        let full: Value = api
            .get(app.url(&format!("/api/v1/tickets/{number}")))
            .bearer_auth(&org.admin.token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let atts = full["attachments"]
            .as_array()
            .or_else(|| full["ticket"]["attachments"].as_array())
            .unwrap_or_else(|| panic!("attachments in {full}"));
        for a in atts {
            let name = a["filename"].as_str().unwrap();
            let (_, _, content, served) = cases.iter().find(|c| c.0 == name).unwrap();
            let r = api
                .get(app.url(&format!("/api/v1/tickets/{number}/attachments/{}", a["id"])))
                .bearer_auth(&org.admin.token)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            let h = |k: &str| {
                r.headers()
                    .get(k)
                    .map(|v| v.to_str().unwrap().to_string())
                    .unwrap_or_default()
            };
            assert_eq!(h("content-type"), *served, "{name}");
            assert_eq!(h("content-security-policy"), "sandbox", "{name}");
            assert_eq!(h("cross-origin-resource-policy"), "same-origin", "{name}");
            assert_eq!(h("x-content-type-options"), "nosniff");
            assert_eq!(h("cache-control"), "no-store");
            let cd = h("content-disposition");
            assert!(cd.starts_with("attachment; filename=\""), "{cd}");
            if name.starts_with("ritning") {
                assert!(
                    cd.contains("filename*=UTF-8''ritning%20%C3%A5%C3%A4%C3%B6.png"),
                    "{cd}"
                );
                assert!(cd.contains("filename=\"ritning ___.png\""), "{cd}");
            }
            assert_eq!(r.bytes().await.unwrap(), content.as_bytes());
            seen += 1;
        }
    }
    assert_eq!(seen, cases.len(), "{list}");
}
both_backends!(security_edge_attachments_are_inert);

fn kb_form(csrf: &str, slug: &str, body: &str) -> Vec<(&'static str, String)> {
    vec![
        ("csrf", csrf.to_string()),
        ("revision", "0".into()),
        ("title", "Bygglov för altan".into()),
        ("slug", slug.into()),
        ("summary", "Så söker du bygglov.".into()),
        ("tags", "bygglov, altan".into()),
        ("department", "kundtjanst".into()),
        ("audience", "public".into()),
        ("language", "sv".into()),
        ("status", "published".into()),
        ("body", body.into()),
        ("action", "save".into()),
    ]
}

/// Forms take what their content allows: a knowledge-base article of 190,000 bytes of "å" is
/// saved; one over its limit is refused with the reason (the form again, with the text); a body
/// over the route's transport limit is a clear 413 — never the CSRF "security check".
async fn security_edge_form_limits(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let org = app.org("exempel").await;
    let browser = app.browser();
    app.login(&browser, &org.slug, &org.admin.email, &org.admin.password)
        .await;
    let csrf = app.csrf(&browser, "/knowledge").await;
    let post = |path: &str, form: Vec<(&'static str, String)>| {
        browser.post(app.url(path)).form(&form).send()
    };
    // The case: 3,000 × "å" (18 kB encoded) and a long article near the stated limit.
    for (slug, chars) in [("kort", 3_000), ("lang", 95_000)] {
        let r = post("/knowledge/new", kb_form(&csrf, slug, &"å".repeat(chars)))
            .await
            .unwrap();
        assert_eq!(r.status(), 303, "{slug}: {}", r.text().await.unwrap());
    }
    // Over the article's own limit (200,000 bytes), within the transport limit: the form again,
    // with the reason and the text kept.
    let r = post(
        "/knowledge/new",
        kb_form(&csrf, "for-lang", &"å".repeat(100_500)),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(
        // The limit as Swedish writes numbers (a no-break space between thousands).
        html.contains("200\u{a0}000") && html.contains("åååååå"),
        "{:.400}",
        html
    );
    // Far over: 413 with the limit, in Swedish, not a CSRF refusal.
    let r = post(
        "/knowledge/new",
        kb_form(&csrf, "jatte", &"å".repeat(400_000)),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 413);
    let html = r.text().await.unwrap();
    assert!(html.contains("för stort") && html.contains("kB"), "{html}");
    assert!(!html.contains("säkerhetskontrollen"), "{html}");
    // A small form's limit is small, and also answered with 413.
    let r = post(
        &format!("/admin/users/{}/locale", org.agent_a.id),
        vec![("csrf", csrf.clone()), ("locale", "x".repeat(100_000))],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 413);
    // Canned responses of 20,000 characters fit their form.
    let r = post(
        "/admin/canned",
        vec![
            ("csrf", csrf.clone()),
            ("title", "Långt svar".into()),
            ("queue", String::new()),
            ("body", "ö".repeat(20_000)),
            ("action", "save".into()),
        ],
    )
    .await
    .unwrap();
    assert!(r.status() == 303, "{}", r.status());
    // JSON: 413 with the stable code.
    let r = reqwest::Client::new()
        .patch(app.url("/api/v1/tickets/KC-2026-000001"))
        .bearer_auth(&org.admin.token)
        .json(&json!({ "status": "x".repeat(200_000) }))
        .send()
        .await
        .unwrap();
    let (s, code) = error_code(r).await;
    assert_eq!((s.as_u16(), code.as_str()), (413, "too_large"));
}
both_backends!(security_edge_form_limits);

#[cfg(unix)]
fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// Everything under the data directory is private to the service account, with the usual
/// umask 022 of the operator's shell: the directory 0700, the database and its WAL and SHM,
/// blobs, outgoing mail (with status links), text messages and the search index 0600.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_edge_files_are_private() {
    // SAFETY: this test's own process (nextest runs each test alone in a process).
    unsafe { libc::umask(0o022) };
    let outer = tempfile::tempdir().unwrap();
    let data = outer.path().join("var/arendo");
    let data_s = data.display().to_string();
    let app = TestApp::spawn_with(Backend::Sqlite, &[("ARENDO_DATA_DIR", &data_s)]).await;
    let org = app.org("exempel").await;
    let t = app
        .create_ticket(&org.admin.token, org.queue_a, "Bygglov")
        .await;
    let number = t["number"].as_str().unwrap();
    // A reply with a file from the ticket page: a blob, and a mail in the outbox folder.
    let browser = app.browser();
    app.login(&browser, &org.slug, &org.admin.email, &org.admin.password)
        .await;
    let csrf = app.csrf(&browser, &format!("/tickets/{number}")).await;
    let form = reqwest::multipart::Form::new()
        .text("csrf", csrf)
        .text("kind", "reply")
        .text("body", "Hej Maria, här är beslutet.")
        .part(
            "files",
            reqwest::multipart::Part::bytes(b"%PDF-1.4 beslut".to_vec()).file_name("beslut.pdf"),
        );
    let r = browser
        .post(app.url(&format!("/tickets/{number}/messages")))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    let db = std::path::PathBuf::from(app.db_url.strip_prefix("sqlite://").unwrap());
    for f in ["", "-wal", "-shm"] {
        let p = std::path::PathBuf::from(format!("{}{f}", db.display()));
        assert_eq!(mode(&p), 0o600, "{}", p.display());
    }
    let outbox = data.join("outbox");
    assert!(
        app.eventually(|| std::fs::read_dir(&outbox)
            .map(|d| d.count() > 0)
            .unwrap_or(false))
            .await,
        "a reply is written to the outbox folder"
    );
    assert_eq!(mode(&data), 0o700, "data dir");
    let mut files = 0;
    let mut dirs = vec![data.clone()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                assert_eq!(mode(&p), 0o700, "{}", p.display());
                dirs.push(p);
            } else {
                assert_eq!(mode(&p), 0o600, "{}", p.display());
                files += 1;
            }
        }
    }
    for must in ["search", "kb-index", "blobs", "outbox"] {
        assert!(data.join(must).exists(), "{must}");
    }
    assert!(files > 5, "{files} files checked");
    assert!(std::fs::read_dir(data.join("blobs")).unwrap().count() > 0);
}

/// `arendo demo` writes the passwords to the 0600 credentials file only, never to its output.
#[cfg(unix)]
#[test]
fn security_edge_demo_passwords_stay_in_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_arendo"))
        .arg("demo")
        .env_remove("ARENDO_CONFIG")
        .env("ARENDO_DATA_DIR", &data)
        .env(
            "ARENDO_DATABASE__URL",
            format!("sqlite://{}", data.join("a.db").display()),
        )
        .env("RUST_LOG", "info")
        .output()
        .unwrap();
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{printed}");
    let file = data.join("demo-credentials.txt");
    let creds = std::fs::read_to_string(&file).unwrap();
    assert_eq!(mode(&file), 0o600);
    let passwords: Vec<&str> = creds
        .lines()
        .filter_map(|l| l.split("password: ").nth(1))
        .collect();
    assert!(!passwords.is_empty(), "{creds}");
    for p in passwords {
        assert!(
            !printed.contains(p),
            "a demo password was printed: {printed}"
        );
    }
    assert!(printed.contains("demo-credentials.txt"), "{printed}");
}

/// Personal data stays out of caches; no page may use devices; HSTS under https only.
async fn security_edge_headers(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let org = app.org("exempel").await;
    let api = reqwest::Client::new();
    let browser = app.browser();
    app.login(&browser, &org.slug, &org.admin.email, &org.admin.password)
        .await;
    let h = |r: &reqwest::Response, k: &str| {
        r.headers()
            .get(k)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    };
    for (client, path, status) in [
        (&api, "/api/v1/me", 200),
        (&api, "/api/v1/tickets/KC-1", 404),
        (&browser, "/admin/sms.csv", 200),
        (&browser, "/tickets/KC-2026-999999", 404),
        (&browser, "/", 200),
        (&browser, "/finns-inte", 404),
    ] {
        let rb = client.get(app.url(path));
        let rb = if std::ptr::eq(client, &api) {
            rb.bearer_auth(&org.admin.token)
        } else {
            rb
        };
        let r = rb.send().await.unwrap();
        assert_eq!(r.status(), status, "{path}");
        assert_eq!(h(&r, "cache-control"), "no-store", "{path}");
        assert!(h(&r, "permissions-policy").contains("camera=()"), "{path}");
        assert_eq!(h(&r, "strict-transport-security"), "", "{path}: http");
    }
    let r = api.get(app.url("/static/app.css")).send().await.unwrap();
    assert!(
        h(&r, "cache-control").starts_with("public"),
        "static assets stay cacheable"
    );

    let https = TestApp::spawn_with(
        backend,
        &[("ARENDO_SERVER__PUBLIC_URL", "https://arende.exempel.se")],
    )
    .await;
    let r = api.get(https.url("/login")).send().await.unwrap();
    assert_eq!(h(&r, "strict-transport-security"), "max-age=31536000");
}
both_backends!(security_edge_headers);
