//! The agent workspace as agents use it: pages, forms and the live stream, over real HTTP with a
//! session cookie and CSRF tokens, on both backends.

use std::time::Duration;

use serde_json::Value;

use crate::both_backends;
use crate::helpers::{Backend, TestApp, api, csrf_in, page, post_form, signed_in};

fn location(r: &reqwest::Response) -> String {
    r.headers()["location"].to_str().unwrap().to_string()
}

/// Anna takes a new ticket from "unassigned in my queues", replies with a file attached, tags it,
/// and finds it again by the tag; the citizen's mail carries the attachment.
async fn agent_takes_replies_with_a_file_and_tags(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("alby").await;
    let t = app
        .create_ticket(&org.agent_a.token, org.queue_a, "Trasig lampa på Storgatan")
        .await;
    let number = t["number"].as_str().unwrap().to_string();
    let anna = signed_in(&app, &org.slug, &org.agent_a.email, &org.agent_a.password).await;

    let (s, work) = page(&app, &anna, "/").await;
    assert_eq!(s, 200);
    let free = &work[work.find("free-h").unwrap()..];
    assert!(free.contains(&number), "new ticket is unassigned: {work}");

    let ticket_page = format!("/tickets/{number}");
    let r = post_form(
        &app,
        &anna,
        &ticket_page,
        &format!("{ticket_page}/claim"),
        &[],
    )
    .await;
    assert_eq!(r.status(), 303);
    let (_, work) = page(&app, &anna, "/").await;
    let mine = &work[work.find("mine-h").unwrap()..work.find("free-h").unwrap()];
    assert!(mine.contains(&number), "claimed ticket is mine: {work}");

    // Reply with an attachment (multipart form, as the browser sends it).
    let (_, html) = page(&app, &anna, &ticket_page).await;
    let seen = html
        .split("name=\"seen\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let form = reqwest::multipart::Form::new()
        .text("csrf", csrf_in(&html))
        .text("kind", "reply")
        .text("seen", seen)
        .text(
            "body",
            "Hej Maria! Vi lagar lampan i veckan. Karta bifogad.",
        )
        .part(
            "files",
            reqwest::multipart::Part::bytes(b"%PDF-1.4 karta".to_vec())
                .file_name("karta över området.pdf")
                .mime_str("application/pdf")
                .unwrap(),
        );
    let r = anna
        .post(app.url(&format!("{ticket_page}/messages")))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    let (_, html) = page(&app, &anna, &format!("{ticket_page}?ok=reply_sent")).await;
    assert!(html.contains("Svaret är sparat"), "{html}");
    assert!(html.contains("karta över området.pdf"));
    assert!(html.contains("msg msg-outbound"));

    let outbox = app.data_dir.join("outbox");
    // The file transport writes the file in steps: wait for a whole mail, not just a file.
    let whole = || {
        std::fs::read_dir(&outbox)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| std::fs::read_to_string(e.path()).ok())
            .find(|raw| raw.contains("application/pdf") && raw.trim_end().ends_with("--"))
    };
    assert!(
        app.eventually(|| whole().is_some()).await,
        "reply never reached the outbox folder"
    );
    let raw = whole().unwrap();
    assert!(raw.contains("multipart/mixed"), "{raw}");
    assert!(raw.contains("application/pdf"), "{raw}");

    // Tags: add one, filter the list by it, and the history says who did it.
    let r = post_form(
        &app,
        &anna,
        &ticket_page,
        &format!("{ticket_page}/tags"),
        &[("tag", "Gatubelysning"), ("op", "add")],
    )
    .await;
    assert_eq!(r.status(), 303);
    let (_, list) = page(&app, &anna, "/tickets?tag=gatubelysning&status=all").await;
    assert!(list.contains(&number), "{list}");
    let (_, list) = page(&app, &anna, "/tickets?tag=annat&status=all").await;
    assert!(!list.contains(&number));
    let (_, html) = page(&app, &anna, &ticket_page).await;
    assert!(html.contains("lade till etiketten gatubelysning"), "{html}");
    // A bad tag is refused with a message; nothing changes.
    let r = post_form(
        &app,
        &anna,
        &ticket_page,
        &format!("{ticket_page}/tags"),
        &[("tag", "två ord"), ("op", "add")],
    )
    .await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("role=\"alert\""));
}
both_backends!(agent_takes_replies_with_a_file_and_tags);

/// Anna moves a ticket to the VA department with a note: she no longer sees it, Bertil (VA) finds
/// it in his queue with the note, and the history names both queues.
async fn transfer_with_a_note_reaches_the_other_department(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("alby").await;
    let t = app
        .create_ticket(&org.agent_a.token, org.queue_a, "Vattnet är brunt")
        .await;
    let number = t["number"].as_str().unwrap().to_string();
    let anna = signed_in(&app, &org.slug, &org.agent_a.email, &org.agent_a.password).await;
    let ticket_page = format!("/tickets/{number}");
    let r = post_form(
        &app,
        &anna,
        &ticket_page,
        &format!("{ticket_page}/transfer"),
        &[
            ("queue", &org.queue_b.to_string()),
            ("note", "Gäller vattenkvalitet, VA tar över."),
        ],
    )
    .await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/?ok=transferred", "out of Anna's reach now");
    assert_eq!(page(&app, &anna, &ticket_page).await.0, 404);

    let bertil = signed_in(&app, &org.slug, &org.agent_b.email, &org.agent_b.password).await;
    let (_, list) = page(&app, &bertil, &format!("/tickets?queue={}", org.queue_b)).await;
    assert!(list.contains(&number), "{list}");
    let (_, html) = page(&app, &bertil, &ticket_page).await;
    assert!(html.contains("Gäller vattenkvalitet, VA tar över."));
    assert!(
        html.contains("flyttade ärendet från Kundtjänst till VA"),
        "{html}"
    );
}
both_backends!(transfer_with_a_note_reaches_the_other_department);

/// Two tickets about the same leak: linked, then merged; the merged one is closed and points at
/// the survivor, which now holds both conversations.
async fn merge_and_link(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("alby").await;
    let first = app
        .create_ticket(&org.agent_a.token, org.queue_a, "Läcka vid skolan")
        .await["number"]
        .as_str()
        .unwrap()
        .to_string();
    let second = app
        .create_ticket(
            &org.agent_a.token,
            org.queue_a,
            "Vatten sprutar på Skolgatan",
        )
        .await["number"]
        .as_str()
        .unwrap()
        .to_string();
    let anna = signed_in(&app, &org.slug, &org.agent_a.email, &org.agent_a.password).await;
    let p1 = format!("/tickets/{first}");
    let r = post_form(
        &app,
        &anna,
        &p1,
        &format!("{p1}/link"),
        &[("other", &second)],
    )
    .await;
    assert_eq!(r.status(), 303);
    let (_, html) = page(&app, &anna, &format!("/tickets/{second}")).await;
    assert!(
        html.contains(&format!("href=\"/tickets/{first}\"")),
        "linked both ways"
    );

    let r = post_form(
        &app,
        &anna,
        &p1,
        &format!("{p1}/merge"),
        &[("other", &p1[9..])],
    )
    .await;
    assert_eq!(r.status(), 422, "a ticket cannot be merged into itself");
    let r = post_form(
        &app,
        &anna,
        &p1,
        &format!("{p1}/merge"),
        &[("other", &second)],
    )
    .await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), format!("/tickets/{second}?ok=merged"));
    let merged = api(
        &app,
        &org.agent_a.token,
        &format!("/api/v1/tickets/{first}"),
    )
    .await;
    assert_eq!(merged["status"], "closed");
    let survivor = api(
        &app,
        &org.agent_a.token,
        &format!("/api/v1/tickets/{second}"),
    )
    .await;
    assert_eq!(survivor["messages"].as_array().unwrap().len(), 2);
    let (_, html) = page(&app, &anna, &p1).await;
    assert!(
        html.contains("Det här ärendet är sammanfogat med"),
        "{html}"
    );
    let r = post_form(
        &app,
        &anna,
        &p1,
        &format!("{p1}/merge"),
        &[("other", &second)],
    )
    .await;
    // The ticket page comes back with the error and the typed number kept (issue 17.19).
    assert_eq!(r.status(), 422, "already merged");
}
both_backends!(merge_and_link);

/// Bulk close asks first; only the confirming post changes anything.
async fn bulk_close_needs_confirmation(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("alby").await;
    let mut numbers = vec![];
    for s in ["Fråga 1", "Fråga 2", "Fråga 3"] {
        numbers.push(
            app.create_ticket(&org.agent_a.token, org.queue_a, s).await["number"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let anna = signed_in(&app, &org.slug, &org.agent_a.email, &org.agent_a.password).await;
    let fields = [
        ("action", "close"),
        ("target", ""),
        ("back", "/tickets"),
        ("t", numbers[0].as_str()),
        ("t", numbers[1].as_str()),
    ];
    let r = post_form(&app, &anna, "/tickets", "/tickets/bulk", &fields).await;
    assert_eq!(r.status(), 200);
    let confirm = r.text().await.unwrap();
    assert!(confirm.contains("Stänga 2 ärenden?"), "{confirm}");
    for n in &numbers[..2] {
        let t = api(&app, &org.agent_a.token, &format!("/api/v1/tickets/{n}")).await;
        assert_eq!(t["status"], "new", "nothing changes before confirming");
    }
    let mut confirmed = fields.to_vec();
    confirmed.push(("confirmed", "1"));
    let r = post_form(&app, &anna, "/tickets", "/tickets/bulk", &confirmed).await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/tickets?done=2");
    for (i, n) in numbers.iter().enumerate() {
        let t = api(&app, &org.agent_a.token, &format!("/api/v1/tickets/{n}")).await;
        assert_eq!(t["status"], if i < 2 { "closed" } else { "new" });
    }
}
both_backends!(bulk_close_needs_confirmation);

/// Read SSE frames until `want` shows up in one (or time runs out); returns everything read.
async fn read_stream_until(resp: &mut reqwest::Response, want: &str, secs: u64) -> String {
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while !seen.contains(want) {
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

/// The live stream tells Anna about tickets in her queue — and nothing about VA's — and shows
/// when a colleague is writing on a ticket she can see.
async fn live_stream_shows_my_queues_and_presence(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("alby").await;
    let anna = signed_in(&app, &org.slug, &org.agent_a.email, &org.agent_a.password).await;
    let mut stream = anna.get(app.url("/live")).send().await.unwrap();
    assert_eq!(stream.status(), 200);
    assert!(
        stream.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let hello = read_stream_until(&mut stream, "event: ready", 5).await;
    assert!(hello.contains("event: ready"), "{hello}");

    let va = app
        .create_ticket(&org.admin.token, org.queue_b, "Hemligt för kundtjänst")
        .await["number"]
        .as_str()
        .unwrap()
        .to_string();
    let mine = app
        .create_ticket(&org.admin.token, org.queue_a, "Till kundtjänst")
        .await["number"]
        .as_str()
        .unwrap()
        .to_string();
    let got = read_stream_until(&mut stream, &mine, 10).await;
    assert!(
        got.contains(&mine) && got.contains("\"kind\":\"created\""),
        "{got}"
    );
    assert!(!got.contains(&va), "VA's ticket must not reach Anna: {got}");

    // The admin starts writing on Anna's ticket: Anna sees it live.
    let admin = signed_in(&app, &org.slug, &org.admin.email, &org.admin.password).await;
    let p = format!("/tickets/{mine}");
    let r = post_form(
        &app,
        &admin,
        &p,
        &format!("{p}/presence"),
        &[("writing", "1")],
    )
    .await;
    assert_eq!(r.status(), 204);
    let got = read_stream_until(&mut stream, "event: presence", 10).await;
    assert!(
        got.contains("\"writing\":true") && got.contains("admin alby"),
        "{got}"
    );
    let (_, html) = page(&app, &anna, &p).await;
    assert!(html.contains("admin alby skriver ett svar"), "{html}");
}
both_backends!(live_stream_shows_my_queues_and_presence);

/// Keyset pages in every sort order cover each ticket exactly once.
async fn sorted_keyset_pages_cover_every_ticket_once(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("alby").await;
    let mut all = vec![];
    for (i, p) in ["low", "urgent", "normal", "high", "urgent", "normal", "low"]
        .iter()
        .enumerate()
    {
        let t = app
            .create_ticket(&org.agent_a.token, org.queue_a, &format!("Ärende {i}"))
            .await;
        let n = t["number"].as_str().unwrap().to_string();
        let r = reqwest::Client::new()
            .patch(app.url(&format!("/api/v1/tickets/{n}")))
            .bearer_auth(&org.agent_a.token)
            .json(&serde_json::json!({ "priority": p }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        all.push(n);
    }
    for sort in ["newest", "oldest", "urgent", "updated"] {
        let mut seen: Vec<(String, String)> = vec![];
        let mut cursor = String::new();
        loop {
            let mut path = format!("/api/v1/tickets?sort={sort}&limit=2");
            if !cursor.is_empty() {
                path.push_str(&format!("&cursor={cursor}"));
            }
            let page = api(&app, &org.agent_a.token, &path).await;
            for t in page["tickets"].as_array().unwrap() {
                seen.push((
                    t["number"].as_str().unwrap().to_string(),
                    t["priority"].as_str().unwrap().to_string(),
                ));
            }
            match page["next_cursor"].as_str() {
                Some(c) => cursor = c.to_string(),
                None => break,
            }
        }
        let mut numbers: Vec<_> = seen.iter().map(|(n, _)| n.clone()).collect();
        numbers.sort();
        let mut expected = all.clone();
        expected.sort();
        assert_eq!(numbers, expected, "sort {sort}");
        if sort == "urgent" {
            let ranks: Vec<_> = seen.iter().map(|(_, p)| p.as_str()).collect();
            assert_eq!(
                ranks,
                ["urgent", "urgent", "high", "normal", "normal", "low", "low"]
            );
        }
    }
    // A cursor from another sort order is refused clearly.
    let page = api(
        &app,
        &org.agent_a.token,
        "/api/v1/tickets?sort=urgent&limit=1",
    )
    .await;
    let c = page["next_cursor"].as_str().unwrap();
    let r = reqwest::Client::new()
        .get(app.url(&format!("/api/v1/tickets?sort=newest&cursor={c}")))
        .bearer_auth(&org.agent_a.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
}
both_backends!(sorted_keyset_pages_cover_every_ticket_once);

/// Another municipality's agent gets "not found" for every workspace URL of our ticket.
async fn workspace_pages_are_tenant_isolated(b: Backend) {
    let app = TestApp::spawn(b).await;
    let alby = app.org("alby").await;
    let borg = app.org("borg").await;
    let number = app
        .create_ticket(&alby.agent_a.token, alby.queue_a, "Bara för Alby")
        .await["number"]
        .as_str()
        .unwrap()
        .to_string();
    let intruder = signed_in(&app, &borg.slug, &borg.admin.email, &borg.admin.password).await;
    for path in [
        format!("/tickets/{number}"),
        format!("/tickets/{number}/row"),
        format!("/tickets/{number}/messages?after=0"),
        format!("/tickets/{number}/canned/1"),
    ] {
        let (s, body) = page(&app, &intruder, &path).await;
        assert_eq!(s, 404, "{path}");
        assert!(!body.contains("Bara för Alby"));
    }
    let r = post_form(
        &app,
        &intruder,
        "/tickets",
        &format!("/tickets/{number}/presence"),
        &[("writing", "1")],
    )
    .await;
    assert_eq!(r.status(), 404);
    let (_, list) = page(&app, &intruder, "/tickets?status=all").await;
    assert!(!list.contains(&number));
    // Agent B of Alby (VA only) cannot see Anna's queue either.
    let bertil = signed_in(
        &app,
        &alby.slug,
        &alby.agent_b.email,
        &alby.agent_b.password,
    )
    .await;
    assert_eq!(
        page(&app, &bertil, &format!("/tickets/{number}")).await.0,
        404
    );
}
both_backends!(workspace_pages_are_tenant_isolated);

/// Anna is writing a reply when the citizen sends another mail: her reply is held with a warning
/// and her draft kept; she reads the new message and sends deliberately.
async fn reply_is_held_when_the_citizen_wrote_meanwhile(b: Backend) {
    let app = TestApp::spawn_with(b, &[("ARENDO_MAIL__IMAP_ENABLED", "false")]).await;
    let org = app.org("alby").await;
    let dir = tempfile::tempdir().unwrap();
    let mail = |id: &str, extra: &str, body: &str| {
        format!(
            "From: Maria Lind <maria@example.org>\r\nTo: kundtjanst@alby.se\r\nSubject: Bygglov för altan\r\n\
             Message-ID: <{id}>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0100\r\n{extra}\
             Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
        )
    };
    std::fs::write(
        dir.path().join("1.eml"),
        mail("q1@example.org", "", "Behöver jag bygglov?"),
    )
    .unwrap();
    assert!(
        app.import_dir(&org.slug, "kundtjanst", dir.path())
            .status
            .success()
    );
    let list = api(&app, &org.agent_a.token, "/api/v1/tickets").await;
    let number = list["tickets"][0]["number"].as_str().unwrap().to_string();
    let anna = signed_in(&app, &org.slug, &org.agent_a.email, &org.agent_a.password).await;
    let ticket_page = format!("/tickets/{number}");
    let (_, html) = page(&app, &anna, &ticket_page).await;
    let seen = html
        .split("name=\"seen\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();

    // Meanwhile the citizen writes again.
    std::fs::remove_file(dir.path().join("1.eml")).unwrap();
    std::fs::write(
        dir.path().join("2.eml"),
        mail(
            "q2@example.org",
            "In-Reply-To: <q1@example.org>\r\n",
            "Altanen är 20 kvadratmeter, glömde jag säga.",
        ),
    )
    .unwrap();
    assert!(
        app.import_dir(&org.slug, "kundtjanst", dir.path())
            .status
            .success()
    );

    let count = |t: &Value| t["messages"].as_array().unwrap().len();
    let before = count(
        &api(
            &app,
            &org.agent_a.token,
            &format!("/api/v1/tickets/{number}"),
        )
        .await,
    );
    let send = |anyway: bool| {
        let mut form = reqwest::multipart::Form::new()
            .text("csrf", csrf_in(&html))
            .text("kind", "reply")
            .text("seen", seen.clone())
            .text("body", "Nej, altaner under 15 kvm behöver inget bygglov.");
        if anyway {
            form = form.text("send_anyway", "1");
        }
        anna.post(app.url(&format!("{ticket_page}/messages")))
            .multipart(form)
            .send()
    };
    let r = send(false).await.unwrap();
    assert_eq!(r.status(), 409);
    let held = r.text().await.unwrap();
    assert!(
        held.contains("Medborgaren har skrivit 1 nytt meddelande"),
        "{held}"
    );
    assert!(
        held.contains("Altanen är 20 kvadratmeter"),
        "the new message is shown"
    );
    assert!(
        held.contains("Nej, altaner under 15 kvm"),
        "the draft is kept"
    );
    let t = api(
        &app,
        &org.agent_a.token,
        &format!("/api/v1/tickets/{number}"),
    )
    .await;
    assert_eq!(count(&t), before, "nothing was sent: {t:#}");

    let r = send(true).await.unwrap();
    assert_eq!(r.status(), 303);
    let t = api(
        &app,
        &org.agent_a.token,
        &format!("/api/v1/tickets/{number}"),
    )
    .await;
    assert_eq!(count(&t), before + 1);
}
both_backends!(reply_is_held_when_the_citizen_wrote_meanwhile);

/// An agent switches her own pages to English and back; a made-up language is refused.
async fn agent_chooses_her_language(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("alby").await;
    let anna = signed_in(&app, &org.slug, &org.agent_a.email, &org.agent_a.password).await;
    let r = post_form(
        &app,
        &anna,
        "/account/password",
        "/account/language",
        &[("locale", "en")],
    )
    .await;
    assert_eq!(r.status(), 303);
    let (_, html) = page(&app, &anna, "/").await;
    assert!(html.contains("<h1>My work</h1>"), "{html}");
    let r = post_form(
        &app,
        &anna,
        "/account/password",
        "/account/language",
        &[("locale", "de")],
    )
    .await;
    assert_eq!(r.status(), 422);
    let r = post_form(
        &app,
        &anna,
        "/account/password",
        "/account/language",
        &[("locale", "sv")],
    )
    .await;
    assert_eq!(r.status(), 303);
    let (_, html) = page(&app, &anna, "/").await;
    assert!(html.contains("<h1>Mitt arbete</h1>"));
}
both_backends!(agent_chooses_her_language);
