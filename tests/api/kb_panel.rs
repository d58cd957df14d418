//! The knowledge-base panel on a ticket (issue 17, points 23–25): internal routines are labelled
//! and never reach a citizen, every link between starter articles resolves where it is shown,
//! and "Infoga i svar" inserts the summary with the absolute public link.

use arendo::kb::article::parse_file;
use arendo::kb::starter_files;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Backend, TestApp};

const FAST_SYNC: &[(&str, &str)] = &[("ARENDO_KB__SYNC_SECONDS", "1")];

fn kb_import(app: &TestApp, tenant: &str) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_arendo"))
        .args(["kb", "import", "--tenant", tenant])
        .env("ARENDO_DATA_DIR", &app.data_dir)
        .env("ARENDO_DATABASE__URL", &app.db_url)
        .env("ARENDO_SECRET_KEY", &app.key_hex)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn get(client: &reqwest::Client, url: &str) -> (u16, String) {
    let r = client.get(url).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// The links within the site's knowledge base on a page (article links, the index).
fn hrefs(html: &str) -> Vec<String> {
    html.match_indices("href=\"")
        .map(|(i, m)| {
            let rest = &html[i + m.len()..];
            rest[..rest.find('"').unwrap()].replace("&amp;", "&")
        })
        .filter(|h| h.starts_with("/kb") || h.starts_with("/knowledge"))
        .collect()
}

async fn article_id(app: &TestApp, tenant: &str, slug: &str) -> i64 {
    let (tenant, slug) = (tenant.to_string(), slug.to_string());
    app.db
        .read(move |c| -> Result<i64, arendo::error::Error> {
            let t = arendo::store::tenants::by_slug(c, &tenant)?.unwrap().id;
            Ok(arendo::store::kb::by_slug(c, t, &slug)?.unwrap().id)
        })
        .await
        .unwrap()
}

/// Every link in every starter article, followed on the page that shows it: the agent's article
/// page (signed in) and, for published public articles, the citizens' page (anonymous). None
/// answers 404.
async fn every_link_in_every_starter_article_resolves(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("alby").await;
    kb_import(&app, "alby");
    let agent = app.browser();
    app.login(&agent, "alby", &org.agent_a.email, &org.agent_a.password)
        .await;
    let citizen = reqwest::Client::new();
    let mut followed = 0;
    let mut dead = vec![];
    for (file, text) in starter_files() {
        let a = parse_file(&text).unwrap();
        let (status, html) = get(&agent, &app.url(&format!("/knowledge/{}", a.slug))).await;
        assert_eq!(status, 200, "{file} in the workspace");
        for h in hrefs(&html) {
            let (s, _) = get(&agent, &app.url(&h)).await;
            followed += 1;
            if s == 404 {
                dead.push(format!("{file} (agent): {h}"));
            }
        }
        let public = a.audience == arendo::domain::Audience::Public
            && a.status == arendo::domain::ArticleStatus::Published;
        if public {
            let (status, html) = get(&citizen, &app.url(&format!("/kb/alby/{}", a.slug))).await;
            assert_eq!(status, 200, "{file} for citizens");
            for h in hrefs(&html) {
                let (s, _) = get(&citizen, &app.url(&h)).await;
                followed += 1;
                if s == 404 {
                    dead.push(format!("{file} (public): {h}"));
                }
            }
        }
    }
    assert!(followed > 100, "links followed: {followed}");
    assert!(dead.is_empty(), "{} dead links: {dead:#?}", dead.len());
}
both_backends!(every_link_in_every_starter_article_resolves);

/// "Infoga i svar" puts in the summary and the absolute public link; on request the whole text,
/// whose links between articles are absolute public addresses too.
async fn insert_into_reply_gives_the_summary_and_the_public_link(b: Backend) {
    let public_url = "https://alby.example.se/";
    let app = TestApp::spawn_with(b, &[("ARENDO_SERVER__PUBLIC_URL", public_url)]).await;
    let org = app.org("alby").await;
    kb_import(&app, "alby");
    let ticket = app
        .create_ticket(&org.agent_a.token, org.queue_a, "Vattenläcka i källaren")
        .await;
    let number = ticket["number"].as_str().unwrap();
    let agent = app.browser();
    app.login(&agent, "alby", &org.agent_a.email, &org.agent_a.password)
        .await;
    let base = app.url("");
    let base = base.trim_end_matches('/');
    let mut checked = 0;
    for (file, text) in starter_files() {
        let a = parse_file(&text).unwrap();
        let public = a.audience == arendo::domain::Audience::Public
            && a.status == arendo::domain::ArticleStatus::Published;
        let linking = a.body.contains("](/kb/");
        if !public || !linking || a.summary.is_empty() {
            continue;
        }
        let id = article_id(&app, "alby", &a.slug).await;
        let link = format!("{}/kb/alby/{}", public_url.trim_end_matches('/'), a.slug);
        let (s, short) = get(&agent, &format!("{base}/tickets/{number}/kb/{id}")).await;
        assert_eq!(s, 200);
        assert_eq!(short.trim(), format!("{}\n\n{link}", a.summary), "{file}");
        let (s, full) = get(
            &agent,
            &format!("{base}/tickets/{number}/kb/{id}?full=true"),
        )
        .await;
        assert_eq!(s, 200);
        assert!(full.len() > short.len() && full.contains(&link), "{file}");
        assert!(!full.contains("(/kb/"), "{file}: relative links in {full}");
        assert!(
            full.contains(&format!("({}/kb/alby/", public_url.trim_end_matches('/'))),
            "{file}: {full}"
        );
        checked += 1;
    }
    assert!(checked > 5, "articles checked: {checked}");
}
both_backends!(insert_into_reply_gives_the_summary_and_the_public_link);

/// Internal routines in the panel are labelled "Intern" and can be opened, but offer no
/// "Infoga i svar"; their text is not handed out as reply text, and a reply that carries a
/// passage of one is refused with a clear message. A public article's text may be sent.
async fn internal_articles_never_reach_a_citizen(b: Backend) {
    let app = TestApp::spawn_with(b, FAST_SYNC).await;
    let org = app.org("alby").await;
    kb_import(&app, "alby");
    let ticket = app
        .create_ticket(&org.agent_a.token, org.queue_a, "Hot och trakasserier")
        .await;
    let number = ticket["number"].as_str().unwrap().to_string();
    let agent = app.browser();
    app.login(&agent, "alby", &org.agent_a.email, &org.agent_a.password)
        .await;
    let internal = starter_files()
        .into_iter()
        .map(|(_, t)| parse_file(&t).unwrap())
        .find(|a| a.slug == "rutin-hot-och-trakasserier")
        .unwrap();
    assert_eq!(internal.audience, arendo::domain::Audience::Internal);
    let id = article_id(&app, "alby", &internal.slug).await;

    // The panel, searched for the routine (the index catches up within moments).
    let mut html = String::new();
    for _ in 0..100 {
        html = get(
            &agent,
            &app.url(&format!("/tickets/{number}?kbq=hot+trakasserier")),
        )
        .await
        .1;
        if html.contains(&format!("/knowledge/{}", internal.slug)) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let at = html
        .find(&format!("href=\"/knowledge/{}\"", internal.slug))
        .expect("the routine is in the panel");
    let item = &html[at..at + html[at..].find("</li>").unwrap()];
    assert!(item.contains("Intern"), "labelled internal: {item}");
    assert!(!item.contains("kb-insert"), "no insert button: {item}");
    assert_eq!(
        get(&agent, &app.url(&format!("/knowledge/{}", internal.slug)))
            .await
            .0,
        200,
        "it can be opened"
    );
    let (s, _) = get(&agent, &app.url(&format!("/tickets/{number}/kb/{id}"))).await;
    assert_eq!(s, 422, "no reply text from an internal article");

    // A reply carrying a passage of the routine (reflowed, as pasted) is refused.
    let body = arendo::kb::article::render_text(&internal.body);
    let passage: Vec<&str> = body.split_whitespace().skip(5).take(30).collect();
    let reply = format!(
        "Hej Maria!\n\n{}\n\nMed vänlig hälsning",
        passage.join("\n")
    );
    let api = reqwest::Client::new();
    let r = api
        .post(app.url(&format!("/api/v1/tickets/{number}/messages")))
        .bearer_auth(&org.agent_a.token)
        .json(&json!({ "kind": "reply", "body": reply }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["field"], "kb_internal", "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("intern artikel"),
        "{e}"
    );
    assert!(app.outbox_mails("maria@example.org").await.is_empty());

    // The same passage as an internal note is fine, and a public article's text may be sent.
    let r = api
        .post(app.url(&format!("/api/v1/tickets/{number}/messages")))
        .bearer_auth(&org.agent_a.token)
        .json(&json!({ "kind": "note", "body": reply }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let public = starter_files()
        .into_iter()
        .map(|(_, t)| parse_file(&t).unwrap())
        .find(|a| a.slug == "vattenlacka")
        .unwrap();
    let r = api
        .post(app.url(&format!("/api/v1/tickets/{number}/messages")))
        .bearer_auth(&org.agent_a.token)
        .json(&json!({ "kind": "reply", "body": arendo::kb::article::render_text(&public.body) }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
}
both_backends!(internal_articles_never_reach_a_citizen);
