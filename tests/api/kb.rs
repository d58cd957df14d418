//! The knowledge base as people use it: an operator imports the starter articles, citizens read
//! and search them at /kb, leads edit, publish, archive and restore, and an agent answers a
//! ticket from the suggestion panel.

use std::path::Path;

use crate::both_backends;
use crate::helpers::{Backend, TestApp, csrf_in};

const FAST_SYNC: &[(&str, &str)] = &[("ARENDO_KB__SYNC_SECONDS", "1")];

fn kb_import(app: &TestApp, tenant: &str, dir: Option<&Path>) -> std::process::Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_arendo"));
    cmd.args(["kb", "import", "--tenant", tenant]);
    if let Some(d) = dir {
        cmd.arg("--dir").arg(d);
    }
    cmd.env("ARENDO_DATA_DIR", &app.data_dir)
        .env("ARENDO_DATABASE__URL", &app.db_url)
        .env("ARENDO_SECRET_KEY", &app.key_hex)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

fn starter_count() -> usize {
    std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/knowledge-base"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "md"))
        })
        .count()
}

async fn get(app: &TestApp, client: &reqwest::Client, path: &str) -> (u16, String) {
    let r = client.get(app.url(path)).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// The article links on a public page, in order.
fn public_links(html: &str, tenant: &str) -> Vec<String> {
    let marker = format!("href=\"/kb/{tenant}/");
    html.match_indices(&marker)
        .map(|(i, _)| {
            let rest = &html[i + marker.len()..];
            rest[..rest.find('"').unwrap()].to_string()
        })
        .collect()
}

/// Wait (at most 10 s) until a public search lists `slug` among its hits.
async fn until_found(app: &TestApp, tenant: &str, q: &str, slug: &str) -> Vec<String> {
    let client = reqwest::Client::new();
    for _ in 0..100 {
        let (_, html) = get(app, &client, &format!("/kb/{tenant}?q={q}")).await;
        let links = public_links(&html, tenant);
        if links.iter().any(|l| l == slug) {
            return links;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{q:?} never found {slug} in {tenant}");
}

async fn starter_articles_are_imported_once_and_citizens_find_them(backend: Backend) {
    let app = TestApp::spawn_with(backend, FAST_SYNC).await;
    app.org("alby").await;
    app.org("berga").await;
    let n = starter_count();

    // An operator imports the starter set; a second import changes nothing.
    let out = kb_import(&app, "alby", None);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("{n} created, 0 updated, 0 unchanged, 0 failed")),
        "{stdout}"
    );
    let out = kb_import(&app, "alby", None);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("0 created, 0 updated, {n} unchanged")),
        "{stdout}"
    );

    // A changed file becomes a new revision; a broken file is reported and loses nothing else.
    let dir = tempfile::tempdir().unwrap();
    let original = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/knowledge-base/vattenlacka.md"
    ))
    .unwrap();
    std::fs::write(
        dir.path().join("vattenlacka.md"),
        format!("{original}\nJouren i Alby nås dygnet runt på 0123-99 99 99.\n"),
    )
    .unwrap();
    std::fs::write(dir.path().join("trasig.md"), "ingen front matter här").unwrap();
    let out = kb_import(&app, "alby", Some(dir.path()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stdout.contains("0 created, 1 updated, 0 unchanged, 1 failed"),
        "{stdout}"
    );
    assert!(
        stderr.contains("trasig.md") && stderr.contains("front matter"),
        "{stderr}"
    );

    // The running server indexes the import by itself; citizens search in their own words.
    until_found(&app, "alby", "vattenlacka", "vattenlacka").await;
    let hits = until_found(
        &app,
        "alby",
        "ansökningar förskola",
        "ansokan-forskoleplats",
    )
    .await;
    assert_eq!(hits[0], "ansokan-forskoleplats", "{hits:?}");
    let hits = until_found(&app, "alby", "byggloov", "nar-behovs-bygglov").await;
    assert!(hits.len() <= 20);
    let client = reqwest::Client::new();
    let (status, html) = get(&app, &client, "/kb/alby/vattenlacka").await;
    assert_eq!(status, 200);
    assert!(
        html.contains("0123-99 99 99"),
        "the updated revision is shown"
    );
    assert!(html.contains("<html lang=\"sv\""));

    // Internal routines and drafts never reach citizens, neither listed, found nor opened.
    let (_, index) = get(&app, &client, "/kb/alby").await;
    let listed = public_links(&index, "alby");
    assert!(
        listed.len() >= 35,
        "{} public articles listed",
        listed.len()
    );
    assert!(
        listed.iter().all(|s| !s.starts_with("rutin-")),
        "{listed:?}"
    );
    assert!(
        !listed.contains(&"matavfall-sortering".to_string()),
        "drafts are not listed"
    );
    let (_, html) = get(&app, &client, "/kb/alby?q=jour%20vattenläcka").await;
    assert!(
        public_links(&html, "alby")
            .iter()
            .all(|s| !s.starts_with("rutin-"))
    );
    for hidden in ["rutin-akut-vattenlacka-jour", "matavfall-sortering"] {
        let (status, html) = get(&app, &client, &format!("/kb/alby/{hidden}")).await;
        assert_eq!(status, 404, "{hidden}");
        assert!(!html.contains("Akut"), "nothing of it leaks");
    }

    // Another municipality sees none of Alby's articles.
    let (status, _) = get(&app, &client, "/kb/berga/vattenlacka").await;
    assert_eq!(status, 404);
    let (status, html) = get(&app, &client, "/kb/berga?q=vattenläcka").await;
    assert_eq!(status, 200);
    assert!(public_links(&html, "berga").is_empty());
    assert!(public_links(&html, "alby").is_empty());
    let (status, _) = get(&app, &client, "/kb/finns-inte").await;
    assert_eq!(status, 404);
    let (_, html) = get(&app, &client, "/kb").await;
    assert!(html.contains("href=\"/kb/alby\"") && html.contains("href=\"/kb/berga\""));
}
both_backends!(starter_articles_are_imported_once_and_citizens_find_them);

async fn leads_edit_publish_archive_and_restore_revisions(backend: Backend) {
    let app = TestApp::spawn_with(backend, FAST_SYNC).await;
    let org = app.org("alby").await;
    // The starter articles arrive at the next start for a municipality without articles.
    let app = app.restart().await;
    let lead = app.browser();
    app.login(&lead, "alby", &org.agent_b.email, &org.agent_b.password)
        .await;

    let (status, html) = get(&app, &lead, "/knowledge/vattenlacka/edit").await;
    assert_eq!(status, 200, "{html}");
    let csrf = csrf_in(&html);
    let edit = |rev: &str, body: &str| {
        vec![
            ("csrf", csrf.clone()),
            ("revision", rev.to_string()),
            ("title", "Vattenläcka – vad gör jag?".to_string()),
            ("slug", "vattenlacka".to_string()),
            ("summary", "Ring VA-jouren.".to_string()),
            ("tags", "vatten, läcka, akut".to_string()),
            ("department", "va".to_string()),
            ("audience", "public".to_string()),
            ("language", "sv".to_string()),
            ("status", "published".to_string()),
            ("body", body.to_string()),
            ("action", "save".to_string()),
        ]
    };
    let r = lead
        .post(app.url("/knowledge/vattenlacka/edit"))
        .form(&edit("1", "Ring VA-jouren på 0123-11 11 11, dygnet runt."))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let (_, html) = get(&app, &lead, "/knowledge/vattenlacka").await;
    assert!(html.contains("0123-11 11 11"));

    // Someone saving from the old revision gets a conflict and keeps what they wrote.
    let r = lead
        .post(app.url("/knowledge/vattenlacka/edit"))
        .form(&edit("1", "Min egen text som inte får försvinna."))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("Min egen text som inte får försvinna.")
    );

    // A bad slug is refused with the form kept.
    let mut bad = edit("2", "Text");
    bad[3].1 = "Vatten Läcka!".into();
    let r = lead
        .post(app.url("/knowledge/vattenlacka/edit"))
        .form(&bad)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("aria-invalid"));

    // Archiving takes it away from citizens at once.
    let r = lead
        .post(app.url("/knowledge/vattenlacka/status"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("revision", "2"),
            ("status", "archived"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let citizen = reqwest::Client::new();
    assert_eq!(get(&app, &citizen, "/kb/alby/vattenlacka").await.0, 404);
    let (_, html) = get(&app, &citizen, "/kb/alby?q=vattenläcka").await;
    assert!(!public_links(&html, "alby").contains(&"vattenlacka".to_string()));

    // Every revision is kept, with who and what; restoring the first makes a fourth.
    let (_, html) = get(&app, &lead, "/knowledge/vattenlacka/revisions").await;
    for n in 1..=3 {
        assert!(html.contains(&format!("?rev={n}\"")), "revision {n} listed");
    }
    assert!(html.contains("Importerad") && html.contains("Arkiverad"));
    assert!(html.contains("bertil alby"), "the author is named");
    let (_, old) = get(&app, &lead, "/knowledge/vattenlacka?rev=1").await;
    assert!(old.contains("Du läser en äldre version") && !old.contains("0123-11 11 11"));
    let r = lead
        .post(app.url("/knowledge/vattenlacka/restore"))
        .form(&[("csrf", csrf.as_str()), ("revision", "3"), ("restore", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let (status, html) = get(&app, &citizen, "/kb/alby/vattenlacka").await;
    assert_eq!(status, 200, "revision 1 was published");
    assert!(!html.contains("0123-11 11 11"));
    let (_, html) = get(&app, &lead, "/knowledge/vattenlacka/revisions").await;
    assert!(html.contains("?rev=4\"") && html.contains("Återställd från äldre version"));

    // A new article starts as a draft: the agents see it, citizens do not.
    let mut new = edit("0", "Kommunens nya **fiberutbyggnad** i Alby.");
    new[2].1 = "Fiber till villan".into();
    new[3].1 = "fiber-villa".into();
    new[9].1 = "draft".into();
    let r = lead
        .post(app.url("/knowledge/new"))
        .form(&new)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let (_, html) = get(&app, &lead, "/knowledge?q=fiberutbyggnad&status=draft").await;
    assert!(html.contains("href=\"/knowledge/fiber-villa\""), "{html}");
    assert_eq!(get(&app, &citizen, "/kb/alby/fiber-villa").await.0, 404);
    let r = lead
        .post(app.url("/knowledge/new"))
        .form(&new)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409, "a slug in use");

    // An agent who leads no queue reads but does not edit.
    let agent = app.browser();
    app.login(&agent, "alby", &org.agent_a.email, &org.agent_a.password)
        .await;
    assert_eq!(get(&app, &agent, "/knowledge/vattenlacka").await.0, 200);
    assert_eq!(
        get(&app, &agent, "/knowledge/vattenlacka/edit").await.0,
        403
    );
    let acsrf = app.csrf(&agent, "/knowledge").await;
    let r = agent
        .post(app.url("/knowledge/vattenlacka/status"))
        .form(&[
            ("csrf", acsrf.as_str()),
            ("revision", "4"),
            ("status", "archived"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}
both_backends!(leads_edit_publish_archive_and_restore_revisions);

async fn an_agent_answers_from_the_suggestion_panel(backend: Backend) {
    let app = TestApp::spawn_with(backend, FAST_SYNC).await;
    let org = app.org("alby").await;
    let app = app.restart().await;
    let r = reqwest::Client::new()
        .post(app.url("/api/v1/tickets"))
        .bearer_auth(&org.agent_a.token)
        .json(&serde_json::json!({
            "queue": org.queue_a,
            "subject": "Vatten sprutar upp ur gatan",
            "body": "Hej! Det sprutar vatten ur marken utanför Storgatan 12 och det bildas en stor pöl. \
                     Ring mig på 070-123 45 67.\n\nMvh Maria Lind",
            "contact": { "name": "Maria Lind", "email": "maria@example.org" }
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let ticket: serde_json::Value = r.json().await.unwrap();
    let number = ticket["number"].as_str().unwrap().to_string();

    let agent = app.browser();
    app.login(&agent, "alby", &org.agent_a.email, &org.agent_a.password)
        .await;
    let (_, html) = get(&app, &agent, &format!("/tickets/{number}")).await;
    let panel = &html[html.find("id=\"kb-h\"").expect("the panel is there")..];
    let first = &panel[panel.find("<li>").unwrap()..];
    let first = &first[..first.find("</li>").unwrap()];
    assert!(
        first.contains("<a href=\"/knowledge/vattenlacka\""),
        "the leak article is suggested first: {first}"
    );
    let marker = "data-kb=\"";
    let id_at = first.find(marker).unwrap() + marker.len();
    let article_id = &first[id_at..id_at + first[id_at..].find('"').unwrap()];

    // The panel's own search.
    let (_, html) = get(
        &app,
        &agent,
        &format!("/tickets/{number}?kbq=kokningsr%C3%A5d"),
    )
    .await;
    assert!(html.contains("href=\"/knowledge/kokningsrad\""));

    // "Insert into reply" (without JavaScript): the reply starts with the answer and the link.
    let (_, html) = get(&app, &agent, &format!("/tickets/{number}?kb={article_id}")).await;
    let textarea = &html[html.find("id=\"reply-body\"").unwrap()..];
    let textarea = &textarea[..textarea.find("</textarea>").unwrap()];
    assert!(textarea.contains("/kb/alby/vattenlacka"), "{textarea}");
    assert!(html.contains(&format!("name=\"kb_article\" value=\"{article_id}\"")));
    let text = textarea[textarea.find('>').unwrap() + 1..]
        .replace("&#x3D;", "=")
        .replace("&amp;", "&")
        .replace("&#x2F;", "/")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">");
    let csrf = csrf_in(&html);
    let form = reqwest::multipart::Form::new()
        .text("csrf", csrf)
        .text("kind", "reply")
        .text("body", format!("Hej Maria!\n\n{}", text.trim()))
        .text("kb_article", article_id.to_string());
    let r = agent
        .post(app.url(&format!("/tickets/{number}/messages")))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let (_, html) = get(&app, &agent, &format!("/tickets/{number}")).await;
    assert!(
        html.contains("Besvarat med artikeln ”Vattenläcka – vad gör jag?”"),
        "history"
    );
    assert!(
        html.contains("Besvarat med:"),
        "the panel shows the article used"
    );
    let (_, html) = get(&app, &agent, "/knowledge/vattenlacka").await;
    assert!(html.contains("Använd i svar 1"), "the use is counted");
    let (_, html) = get(&app, &agent, "/queues").await;
    let report = &html[html.find("id=\"kbr-h\"").unwrap()..];
    assert!(
        report.contains("100 % (1 av 1)"),
        "{}",
        &report[..report.len().min(1500)]
    );

    // Agents cannot turn tickets into articles; an admin can, without the citizen's details.
    assert_eq!(
        get(&app, &agent, &format!("/tickets/{number}/knowledge/new"))
            .await
            .0,
        403
    );
    let admin = app.browser();
    app.login(&admin, "alby", &org.admin.email, &org.admin.password)
        .await;
    let (status, html) = get(&app, &admin, &format!("/tickets/{number}/knowledge/new")).await;
    assert_eq!(status, 200);
    let body = &html[html.find("id=\"a-body\"").unwrap()..];
    let body = &body[..body.find("</textarea>").unwrap()];
    assert!(
        body.contains("sprutar vatten"),
        "the question is there: {body}"
    );
    assert!(
        body.contains("[adress]") && body.contains("[telefon]"),
        "{body}"
    );
    for personal in [
        "Maria",
        "Lind",
        "070-123",
        "Storgatan 12",
        "maria@example.org",
    ] {
        assert!(!body.contains(personal), "{personal} left in {body}");
    }
    assert!(
        html.contains("value=\"kundtjanst\""),
        "owned by the ticket's queue"
    );
}
both_backends!(an_agent_answers_from_the_suggestion_panel);
