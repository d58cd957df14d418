//! Issue 16, points 6, 8 and 13: the citizen's and the department's links.
//! - "Följ ditt ärende" does the same work whether or not the number and address match (the
//!   worker decides whether a link is mailed), so its timing tells nothing.
//! - Links can be ended: an agent revokes a ticket's status links, merging a ticket away ends
//!   its links, and a referral page shows only what was sent and the answer.
//! - A reply on the status page is checked (link, CSRF) before it is read, its files go to
//!   disk, and a ticket's citizen can send only so much an hour.

use std::io::{Read as _, Write as _};
use std::time::Duration;

use arendo::domain::{QueueAccess, TicketNumber};
use arendo::error::Error;
use arendo::store::outbox::Item;

use crate::both_backends;
use crate::helpers::{Backend, TestApp, csrf_in};

/// Every outbox item of the tenant, oldest first.
async fn outbox(app: &TestApp, slug: &str) -> Vec<Item> {
    let slug = slug.to_string();
    let mut items = app
        .db
        .read(move |c| -> Result<_, Error> {
            let t = arendo::tenants::tenant_by_slug(c, &slug)?.id;
            Ok(arendo::store::outbox::recent(c, t, 10_000)?)
        })
        .await
        .unwrap();
    items.reverse();
    items
}

/// A status link (its path) for the ticket, from `arendo status-link` (which makes it the way
/// every notification does).
async fn status_link(app: &TestApp, number: &str) -> String {
    let (data_dir, db_url, key) = (
        app.data_dir.clone(),
        app.db_url.clone(),
        app.key_hex.clone(),
    );
    let number = number.to_string();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_arendo"))
            .args(["status-link", "--tenant", "alby", "--number", &number])
            .env("ARENDO_DATA_DIR", &data_dir)
            .env("ARENDO_DATABASE__URL", &db_url)
            .env("ARENDO_SECRET_KEY", &key)
            .env("ARENDO_DEMO", "false")
            .env("RUST_LOG", "warn")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{out:?}");
    let url = String::from_utf8(out.stdout).unwrap();
    let at = url.find("/status/").expect("a status link");
    url[at..].trim().to_string()
}

async fn get(app: &TestApp, client: &reqwest::Client, path: &str) -> (u16, String) {
    let r = client.get(app.url(path)).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn history_kinds(app: &TestApp, number: &str) -> Vec<String> {
    let number = TicketNumber::parse(number).unwrap();
    app.db
        .read(move |c| -> Result<_, Error> {
            let t = arendo::tenants::tenant_by_slug(c, "alby")?.id;
            let tk = arendo::store::tickets::by_number(c, t, &QueueAccess::All, &number)?
                .ok_or(Error::NotFound("ticket"))?;
            Ok(arendo::store::tickets::events(c, t, tk.id)?
                .into_iter()
                .map(|e| e.kind)
                .collect())
        })
        .await
        .unwrap()
}

/// A right number with the right address, a right number with a wrong address, a number that
/// does not exist: the request writes exactly the same thing each time (one queued request, no
/// mail, no history) and answers the same page; only afterwards, in the outbox worker, is the
/// link mailed — for the match alone.
async fn a_link_request_does_the_same_work_whether_or_not_it_matches(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let org = app.org("alby").await;
    let ticket = app
        .create_ticket(&org.agent_a.token, org.queue_a, "Fråga om bygglov")
        .await;
    let number = ticket["number"].as_str().unwrap().to_string();
    let citizen = app.browser();
    let (_, html) = get(&app, &citizen, "/mitt-arende/alby").await;
    let csrf = csrf_in(&html);
    let events_before = history_kinds(&app, &number).await;
    let mut pages = vec![];
    for (asked_number, email, matches) in [
        (number.as_str(), "fel@example.org", false),
        (number.as_str(), "Maria@Example.org", true),
        ("KC-2026-099999", "maria@example.org", false),
    ] {
        let before = outbox(&app, "alby").await.last().map_or(0, |i| i.id);
        let mails_before = app.outbox_mails("maria@example.org").await.len();
        let r = citizen
            .post(app.url("/mitt-arende/alby"))
            .form(&[
                ("csrf", csrf.as_str()),
                ("number", asked_number),
                ("email", email),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        pages.push(r.text().await.unwrap());
        // What the request wrote: the rows up to and including its queued request (the worker
        // writes only after it has claimed that row, so its rows come later).
        let items = outbox(&app, "alby").await;
        let mine = items
            .iter()
            .find(|i| i.id > before && i.kind == "status_link_request")
            .unwrap_or_else(|| panic!("{email}: the request is queued for the worker"));
        let written: Vec<&str> = items
            .iter()
            .filter(|i| i.id > before && i.id <= mine.id)
            .map(|i| i.kind.as_str())
            .collect();
        assert_eq!(
            written,
            ["status_link_request"],
            "{email}: the request itself writes one queued request and nothing else"
        );
        assert_eq!(mine.ticket_id, None, "the request does not name the ticket");
        // The worker decides.
        let id = mine.id;
        let mut done = false;
        for _ in 0..200 {
            done = outbox(&app, "alby")
                .await
                .iter()
                .any(|i| i.id == id && i.done_at.is_some());
            if done {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(done, "the worker handles the request");
        let mails = app.outbox_mails("maria@example.org").await;
        assert_eq!(mails.len() > mails_before, matches, "{email}");
        if matches {
            assert!(
                mails[0]["subject"]
                    .as_str()
                    .unwrap()
                    .starts_with("Länk till ditt ärende")
            );
        }
    }
    assert!(
        pages.windows(2).all(|w| w[0] == w[1]),
        "the same page every time"
    );
    let events: Vec<String> = history_kinds(&app, &number).await;
    assert_eq!(
        events.len(),
        events_before.len() + 1,
        "one history line, for the one link mailed"
    );
    assert_eq!(events.last().unwrap(), "status_link_sent");
}
both_backends!(a_link_request_does_the_same_work_whether_or_not_it_matches);

/// The agent revokes a ticket's status links from the ticket page (with a confirmation): every
/// link sent so far stops working for reading and replying, the history says who did it, a
/// new link works. An agent without access to the ticket cannot. A ticket merged into another
/// ends its links.
async fn an_agent_revokes_status_links_and_a_merge_ends_them(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let org = app.org("alby").await;
    let ticket = app
        .create_ticket(&org.agent_a.token, org.queue_a, "Parkeringstillstånd")
        .await;
    let number = ticket["number"].as_str().unwrap().to_string();
    let old = status_link(&app, &number).await;
    let citizen = app.browser();
    assert_eq!(get(&app, &citizen, &old).await.0, 200);

    // Another queue's agent cannot revoke.
    let other = app.browser();
    app.login(&other, "alby", &org.agent_b.email, &org.agent_b.password)
        .await;
    let csrf = app.csrf(&other, "/").await;
    let r = other
        .post(app.url(&format!("/tickets/{number}/status-links/revoke")))
        .form(&[("csrf", csrf.as_str()), ("sure", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404, "not this agent's ticket");
    assert_eq!(get(&app, &citizen, &old).await.0, 200, "still works");

    let agent = app.browser();
    app.login(&agent, "alby", &org.agent_a.email, &org.agent_a.password)
        .await;
    let (_, html) = get(&app, &agent, &format!("/tickets/{number}")).await;
    assert!(
        html.contains(&format!("/tickets/{number}/status-links/revoke"))
            && html.contains("Spärra länkarna")
            && html.contains("Jag vill att alla skickade länkar slutar gälla"),
        "the button and its confirmation are on the ticket page"
    );
    let csrf = csrf_in(&html);
    // Without the confirmation nothing happens.
    let r = agent
        .post(app.url(&format!("/tickets/{number}/status-links/revoke")))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    assert_eq!(get(&app, &citizen, &old).await.0, 200);
    let r = agent
        .post(app.url(&format!("/tickets/{number}/status-links/revoke")))
        .form(&[("csrf", csrf.as_str()), ("sure", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(
        r.headers()["location"],
        format!("/tickets/{number}?ok=status_links_revoked").as_str()
    );
    let (status, html) = get(&app, &citizen, &old).await;
    assert_eq!(status, 403, "a revoked link opens nothing");
    assert!(html.contains("Länken fungerar inte") && !html.contains("Parkeringstillstånd"));
    let r = citizen
        .post(app.url(&format!("{old}/reply")))
        .multipart(
            reqwest::multipart::Form::new()
                .text("csrf", "x")
                .text("text", "hej"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "nor takes a reply");
    let (_, html) = get(
        &app,
        &agent,
        &format!("/tickets/{number}?ok=status_links_revoked"),
    )
    .await;
    assert!(html.contains("Länkarna till statussidan är spärrade"));
    assert!(
        html.contains("Länkarna till statussidan spärrades"),
        "in the history"
    );
    assert!(
        history_kinds(&app, &number)
            .await
            .contains(&"status_links_revoked".to_string())
    );
    let fresh = status_link(&app, &number).await;
    assert_eq!(get(&app, &citizen, &fresh).await.0, 200, "a new link works");

    // Merged away: the source's links end; the target's go on.
    let second = app
        .create_ticket(&org.agent_a.token, org.queue_a, "Parkering igen")
        .await;
    let second = second["number"].as_str().unwrap().to_string();
    let second_link = status_link(&app, &second).await;
    assert_eq!(get(&app, &citizen, &second_link).await.0, 200);
    let csrf = app.csrf(&agent, &format!("/tickets/{second}")).await;
    let r = agent
        .post(app.url(&format!("/tickets/{second}/merge")))
        .form(&[
            ("csrf", csrf.as_str()),
            ("other", number.as_str()),
            ("sure", "1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(
        get(&app, &citizen, &second_link).await.0,
        403,
        "the merged-away ticket's link ends"
    );
    assert_eq!(get(&app, &citizen, &fresh).await.0, 200);
}
both_backends!(an_agent_revokes_status_links_and_a_merge_ends_them);

/// A referral page shows the conversation as it was sent to the department, and once answered
/// the answer — never what the contact center and the citizen write afterwards. A ticket
/// merged away ends its referral link.
async fn a_referral_page_shows_what_was_sent_not_the_live_conversation(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("ARENDO_OUTBOX__RETRY_BASE_MS", "200")]).await;
    let org = app.org("alby").await;
    let target = app
        .db
        .write(|c| -> Result<i64, Error> {
            let t = arendo::tenants::tenant_by_slug(c, "alby")?.id;
            arendo::escalation::save_referral_target(
                c,
                t,
                &arendo::escalation::ReferralTarget {
                    name: "Miljöförvaltningen".into(),
                    email: "miljo@alby.se".into(),
                    response_days: 5,
                    allow_citizen_reply: false,
                    pauses_sla: true,
                },
            )
        })
        .await
        .unwrap();
    let ticket = app
        .create_ticket(&org.agent_b.token, org.queue_b, "Buller på Åsgatan")
        .await;
    let number = ticket["number"].as_str().unwrap().to_string();
    let agent = app.browser();
    app.login(&agent, "alby", &org.agent_b.email, &org.agent_b.password)
        .await;
    assert_eq!(
        app.escalate(
            &agent,
            &number,
            &target.to_string(),
            "Tillåtna arbetstider?"
        )
        .await,
        303
    );
    let mut mail = None;
    for _ in 0..100 {
        mail = app.outbox_mails("miljo@alby.se").await.into_iter().next();
        if mail.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mail = mail.expect("the department was mailed");
    let text = mail["text"].as_str().unwrap();
    let at = text.find("/remiss/").unwrap();
    let path = text[at..].split_whitespace().next().unwrap().to_string();

    let say = |body: &'static str| {
        let (api, url, token) = (
            reqwest::Client::new(),
            app.url(&format!("/api/v1/tickets/{number}/messages")),
            org.agent_b.token.clone(),
        );
        async move {
            let r = api
                .post(url)
                .bearer_auth(token)
                .json(&serde_json::json!({ "kind": "reply", "body": body }))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 201);
        }
    };
    say("SENARE: vi har skickat frågan vidare, din adress är Åsgatan 4").await;
    let handler = app.browser();
    let (status, html) = get(&app, &handler, &path).await;
    assert_eq!(status, 200);
    assert!(html.contains("Hej! Jag har en fråga."), "what was sent");
    assert!(
        !html.contains("SENARE"),
        "a message written after the referral is not on its page"
    );

    let csrf = csrf_in(&html);
    let r = handler
        .post(app.url(&format!("{path}/answer")))
        .form(&[
            ("csrf", csrf.as_str()),
            ("text", "Vardagar 07–19."),
            ("to", "agent"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    say("EFTER SVARET: tack, vi återkommer").await;
    let (status, html) = get(&app, &handler, &path).await;
    assert_eq!(status, 200);
    assert!(html.contains("Vardagar 07–19."), "the answer");
    assert!(html.contains("Hej! Jag har en fråga."));
    assert!(!html.contains("SENARE") && !html.contains("EFTER SVARET"));

    // Merged away, the referral link ends.
    let other = app
        .create_ticket(&org.agent_b.token, org.queue_b, "Buller, samma sak")
        .await;
    let other = other["number"].as_str().unwrap().to_string();
    let csrf = app.csrf(&agent, &format!("/tickets/{number}")).await;
    let r = agent
        .post(app.url(&format!("/tickets/{number}/merge")))
        .form(&[
            ("csrf", csrf.as_str()),
            ("other", other.as_str()),
            ("sure", "1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let (status, html) = get(&app, &handler, &path).await;
    assert_eq!(status, 403);
    assert!(!html.contains("Buller"));
}
both_backends!(a_referral_page_shows_what_was_sent_not_the_live_conversation);

/// Send the head of a multipart post of `declared` bytes and stop, never sending the rest:
/// the status code of the answer, if one comes within 5 s.
fn post_without_finishing(
    base: &str,
    path: &str,
    head_parts: &str,
    declared: usize,
) -> Option<u16> {
    let addr = base.trim_start_matches("http://").to_string();
    let mut s = std::net::TcpStream::connect(&addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: multipart/form-data; boundary=XYZ\r\n\
         Content-Length: {declared}\r\n\r\n{head_parts}"
    );
    // The server may answer and close while this is still being sent.
    let _ = s.write_all(head.as_bytes());
    // The first 64 KB of the "file"; the rest never comes.
    let _ = s.write_all(&vec![b'A'; 64 * 1024]);
    let mut answer = [0u8; 64];
    let n = s.read(&mut answer).ok()?;
    let line = String::from_utf8_lossy(&answer[..n]).to_string();
    line.split_whitespace().nth(1)?.parse().ok()
}

/// 16 forged links each start a 24 MB upload and hold it: each is refused at once, before its
/// body is read. A real link without the CSRF token before the file is refused before the
/// file is read too.
async fn a_reply_is_checked_before_its_upload_is_read(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let org = app.org("alby").await;
    let ticket = app
        .create_ticket(&org.agent_a.token, org.queue_a, "Bygglov")
        .await;
    let number = ticket["number"].as_str().unwrap().to_string();
    let link = status_link(&app, &number).await;
    let file_head = "--XYZ\r\nContent-Disposition: form-data; name=\"files\"; filename=\"a.pdf\"\r\n\
                     Content-Type: application/pdf\r\n\r\n";
    let forged = format!("/status/{}x/reply", link.trim_start_matches("/status/"));
    let mut posts = vec![];
    for _ in 0..16 {
        let (base, forged, head) = (app.base.clone(), forged.clone(), file_head.to_string());
        posts.push(tokio::task::spawn_blocking(move || {
            post_without_finishing(&base, &forged, &head, 24 * 1024 * 1024)
        }));
    }
    for p in posts {
        assert_eq!(
            p.await.unwrap(),
            Some(403),
            "a forged link is refused before the upload is read"
        );
    }
    let (base, path) = (app.base.clone(), format!("{link}/reply"));
    let head = format!(
        "--XYZ\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\nforged\r\n{file_head}"
    );
    let status = tokio::task::spawn_blocking(move || {
        post_without_finishing(&base, &path, &head, 24 * 1024 * 1024)
    })
    .await
    .unwrap();
    assert_eq!(
        status,
        Some(403),
        "the CSRF token is checked before the file"
    );
    let d: serde_json::Value = reqwest::Client::new()
        .get(app.url(&format!("/api/v1/tickets/{number}")))
        .bearer_auth(&org.agent_a.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        d["messages"].as_array().unwrap().len(),
        1,
        "nothing was taken"
    );
}
both_backends!(a_reply_is_checked_before_its_upload_is_read);

/// A ticket's citizen may send `notify.citizen_replies_per_hour` replies and
/// `notify.citizen_reply_mb_per_hour` MB of files an hour through the status page. Past that
/// the page says so (429, in Swedish) and keeps what they wrote; the files go to disk, and a
/// refused one leaves nothing behind.
async fn citizen_replies_are_limited_per_ticket_and_hour(backend: Backend) {
    let app = TestApp::spawn_with(
        backend,
        &[
            ("ARENDO_NOTIFY__CITIZEN_REPLIES_PER_HOUR", "4"),
            ("ARENDO_NOTIFY__CITIZEN_REPLY_MB_PER_HOUR", "2"),
        ],
    )
    .await;
    let org = app.org("alby").await;
    let ticket = app
        .create_ticket(&org.agent_a.token, org.queue_a, "Bygglov")
        .await;
    let number = ticket["number"].as_str().unwrap().to_string();
    let link = status_link(&app, &number).await;
    let citizen = app.browser();
    let (_, html) = get(&app, &citizen, &link).await;
    let csrf = csrf_in(&html);
    let send = |text: &'static str, file: Option<usize>| {
        let (citizen, url, csrf) = (
            citizen.clone(),
            app.url(&format!("{link}/reply")),
            csrf.clone(),
        );
        async move {
            let mut form = reqwest::multipart::Form::new()
                .text("csrf", csrf)
                .text("text", text);
            if let Some(n) = file {
                form = form.part(
                    "files",
                    reqwest::multipart::Part::bytes(vec![b'%'; n])
                        .file_name("ritning.pdf")
                        .mime_str("application/pdf")
                        .unwrap(),
                );
            }
            let r = citizen.post(url).multipart(form).send().await.unwrap();
            let status = r.status().as_u16();
            let retry = r
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_string());
            (status, retry, r.text().await.unwrap())
        }
    };
    let mb = 1024 * 1024;
    assert_eq!(send("Här är ritningen", Some(mb)).await.0, 303);
    // 1 MB of the hour's 2 MB is left: a 1.5 MB file is refused, the text stays.
    let (status, retry, html) = send("Och här är fasaden", Some(mb + mb / 2)).await;
    assert_eq!(status, 429);
    assert!(retry.is_some());
    assert!(
        html.contains("Filerna är för stora") && html.contains("högst 1.0 MB"),
        "{html}"
    );
    assert!(
        html.contains("Och här är fasaden</textarea>"),
        "the text is kept"
    );
    for text in ["Ett", "Två", "Tre"] {
        assert_eq!(send(text, None).await.0, 303, "{text}");
    }
    let (status, retry, html) = send("Fyra: ett meddelande för mycket", None).await;
    assert_eq!(status, 429, "the fifth reply within the hour");
    assert!(retry.unwrap().parse::<i64>().unwrap() > 3000);
    assert!(html.contains("Du har skickat många meddelanden") && html.contains("60 minuter"));
    assert!(html.contains("Fyra: ett meddelande för mycket</textarea>"));
    // A file is not even read now.
    let (status, _, html) = send("Fem", Some(10)).await;
    assert_eq!(status, 429);
    assert!(html.contains("Fem</textarea>"));

    let d: serde_json::Value = reqwest::Client::new()
        .get(app.url(&format!("/api/v1/tickets/{number}")))
        .bearer_auth(&org.agent_a.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let texts: Vec<&str> = d["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["kind"] == "inbound")
        .filter_map(|m| m["body_text"].as_str())
        .collect();
    assert_eq!(
        texts,
        [
            "Hej! Jag har en fråga.",
            "Här är ritningen",
            "Ett",
            "Två",
            "Tre"
        ]
    );
    // The one accepted file is in the blob store; the refused ones left no partial file.
    let mut files = vec![];
    let mut dirs = vec![app.data_dir.join("blobs")];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(d).unwrap().flatten() {
            if e.file_type().unwrap().is_dir() {
                dirs.push(e.path());
            } else {
                files.push((
                    e.file_name().to_string_lossy().to_string(),
                    e.metadata().unwrap().len(),
                ));
            }
        }
    }
    assert!(
        files.iter().all(|(n, _)| !n.starts_with(".tmp-")),
        "{files:?}"
    );
    assert!(files.iter().any(|(_, len)| *len == mb as u64), "{files:?}");
    assert!(!files.iter().any(|(_, len)| *len == (mb + mb / 2) as u64));
}
both_backends!(citizen_replies_are_limited_per_ticket_and_hour);

/// A citizen pastes text with a NUL byte into a reply through a working link: a clear 400, on
/// PostgreSQL too (which cannot store NUL), and nothing is added to the ticket.
async fn a_reply_with_control_characters_is_refused_clearly(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let org = app.org("alby").await;
    let ticket = app
        .create_ticket(&org.agent_a.token, org.queue_a, "Bygglov")
        .await;
    let number = ticket["number"].as_str().unwrap().to_string();
    let link = status_link(&app, &number).await;
    let citizen = app.browser();
    let (_, html) = get(&app, &citizen, &link).await;
    let csrf = csrf_in(&html);
    let before = history_kinds(&app, &number).await;
    let form = reqwest::multipart::Form::new()
        .text("csrf", csrf)
        .text("text", "Hej\u{0}då");
    let r = citizen
        .post(app.url(&format!("{link}/reply")))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert!(r.text().await.unwrap().contains("styrtecken"));
    assert_eq!(history_kinds(&app, &number).await, before);
}
both_backends!(a_reply_with_control_characters_is_refused_clearly);
