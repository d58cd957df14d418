//! Statistik as readers get it (issue 19): the /stats page, its CSV and Excel exports and
//! /api/v1/stats show exactly the figures of `stats::report` for the same filter (the expected
//! values are read off the report here, never written down); who may see what; the per-agent
//! table only once an admin has turned it on; bad filters answered with 400 naming the parameter.

use std::io::Cursor;

use arendo::accounts::admin;
use arendo::accounts::tokens::{Signer, TokenKind};
use arendo::accounts::{self, Actor, Scope};
use arendo::domain::{EmailAddress, QueueId};
use arendo::error::Error;
use arendo::secrets::Keys;
use arendo::stats::{Filter, Report, Step};
use calamine::{Data, Reader, Xlsx};
use chrono::{Days, Utc};
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Backend, Org, TestApp, page, post_form, signed_in};

async fn actor_of(app: &TestApp, token: &str) -> Actor {
    let signer = Signer::new(&Keys::from_hex(&app.key_hex).unwrap());
    accounts::authenticate(&app.db, &signer, token, TokenKind::Api)
        .await
        .unwrap()
}

async fn token_with(app: &TestApp, slug: &str, email: &str, scopes: Vec<Scope>) -> String {
    let signer = Signer::new(&Keys::from_hex(&app.key_hex).unwrap());
    let (slug, email) = (slug.to_string(), EmailAddress::parse(email).unwrap());
    app.db
        .write(move |c| -> Result<String, Error> {
            let t = arendo::store::tenants::by_slug(c, &slug)?.unwrap();
            let u = arendo::store::users::by_email(c, t.id, &email)?.unwrap();
            let (_, token) = admin::create_api_token(c, &signer, t.id, u.id, "t", &scopes, None)?;
            Ok(token)
        })
        .await
        .unwrap()
}

fn last_30_days() -> Filter {
    let to = arendo::stats::measures::local_day(Utc::now());
    let from = to - Days::new(29);
    Filter {
        from,
        to,
        queue: None,
        channel: None,
        priority: None,
        tag: None,
        step: Step::suited(from, to),
    }
}

/// A few tickets with replies, a resolution, a transfer and a tag, counted into the statistics.
async fn with_tickets(app: &TestApp, org: &Org) {
    let tok = &org.admin.token;
    let t1 = app
        .create_ticket(tok, org.queue_a, "Parkeringstillstånd")
        .await;
    let t2 = app
        .create_ticket(tok, org.queue_a, "Vattenläcka på gatan")
        .await;
    let t3 = app.create_ticket(tok, org.queue_a, "Sophämtning").await;
    let _t4 = app.create_ticket(tok, org.queue_b, "Vattenmätare").await;
    let n = |t: &Value| t["number"].as_str().unwrap().to_string();
    let (n1, n2, n3) = (n(&t1), n(&t2), n(&t3));
    let r = reqwest::Client::new()
        .post(app.url(&format!("/api/v1/tickets/{n1}/messages")))
        .bearer_auth(tok)
        .json(&json!({ "kind": "reply", "body": "Hej! Så här gör du." }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    app.patch_ticket(tok, &n1, json!({ "status": "resolved" }))
        .await;
    app.patch_ticket(tok, &n2, json!({ "queue": org.queue_b }))
        .await;
    let admin = signed_in(app, &org.slug, &org.admin.email, &org.admin.password).await;
    let ticket_page = format!("/tickets/{n3}");
    let r = post_form(
        app,
        &admin,
        &ticket_page,
        &format!("{ticket_page}/tags"),
        &[("tag", "sopor"), ("op", "add")],
    )
    .await;
    assert_eq!(r.status(), 303);
    // Counted now, as the follower would (a refresh takes the tickets' locks, so it cannot
    // race the running follower).
    let tenant = actor_of(app, tok).await.tenant;
    let ids = app
        .db
        .read(move |c| arendo::store::stats::ticket_ids(c, tenant, 0, 100))
        .await
        .unwrap();
    assert_eq!(ids.len(), 4);
    let db = app.db.clone();
    tokio::task::spawn_blocking(move || arendo::stats::refresh_now(&db, tenant, ids))
        .await
        .unwrap()
        .unwrap();
}

/// What a cell of a table must hold, read off the report.
#[derive(Debug, Clone)]
enum Exp {
    Text(String),
    Int(i64),
    /// A duration in seconds (or none): on the page in `data-secs`, in files as whole minutes.
    Secs(Option<i64>),
    /// Not compared (a label the test does not rebuild).
    Any,
}

fn name_of(r: &Report, q: Option<QueueId>) -> Exp {
    match q {
        Some(q) => Exp::Text(r.queues.iter().find(|(id, _)| *id == q).unwrap().1.clone()),
        None => Exp::Any,
    }
}

/// The expected rows of each table, from the report's own fields.
fn expected(r: &Report) -> Vec<(&'static str, Vec<Vec<Exp>>)> {
    use Exp::*;
    let v = &r.volume;
    let cmp = |c: &arendo::stats::report::Compared| vec![Int(c.now), Int(c.before)];
    let mut out = vec![
        (
            "volym",
            v.series
                .iter()
                .map(|p| {
                    vec![
                        Text(p.start.to_string()),
                        Int(p.created),
                        Int(p.messages_in),
                        Int(p.messages_out),
                    ]
                })
                .collect(),
        ),
        (
            "totalt",
            [&v.created, &v.messages_in, &v.messages_out]
                .iter()
                .map(|c| [vec![Any], cmp(c)].concat())
                .collect(),
        ),
        (
            "koer",
            v.by_queue
                .iter()
                .map(|(q, c)| [vec![name_of(r, Some(*q))], cmp(c)].concat())
                .collect(),
        ),
        (
            "taggar",
            v.by_tag
                .iter()
                .map(|(t, c)| [vec![Text(t.clone())], cmp(c)].concat())
                .collect(),
        ),
        (
            "backlogg",
            r.backlog
                .points
                .iter()
                .map(|p| {
                    vec![
                        Text(p.day.to_string()),
                        Int(p.new),
                        Int(p.open),
                        Int(p.waiting),
                        Int(p.new + p.open + p.waiting),
                    ]
                })
                .collect(),
        ),
        (
            "tider",
            r.times
                .rows
                .iter()
                .map(|t| vec![Any, Any, Int(t.n), Secs(t.median), Secs(t.p90)])
                .collect(),
        ),
        (
            "kkik",
            r.kkik
                .iter()
                .map(|k| vec![Any, name_of(r, k.queue), Int(k.asked), Int(k.in_day)])
                .collect(),
        ),
        (
            "sla",
            r.sla
                .iter()
                .map(|s| {
                    vec![
                        Any,
                        name_of(r, s.queue),
                        Any,
                        Int(s.met),
                        Int(s.in_time),
                        Any,
                        Int(s.warned),
                        Int(s.breached),
                    ]
                })
                .collect(),
        ),
        (
            "forsta-kontakt",
            r.first_contact
                .iter()
                .map(|f| {
                    vec![
                        name_of(r, f.queue),
                        Int(f.resolved),
                        Int(f.first_contact),
                        Any,
                        Int(f.with_article),
                        Any,
                        Int(f.reopened),
                    ]
                })
                .collect(),
        ),
        (
            "overforingar",
            r.flow
                .transfers
                .iter()
                .map(|(a, b, n)| vec![name_of(r, Some(*a)), name_of(r, Some(*b)), Int(*n)])
                .collect(),
        ),
        (
            "veckotimmar",
            r.hours
                .iter()
                .map(|row| [vec![Any], row.iter().map(|n| Int(*n)).collect()].concat())
                .collect(),
        ),
    ];
    if let Some(agents) = &r.agents {
        out.push((
            "handlaggare",
            agents
                .iter()
                .map(|a| {
                    vec![
                        Text(a.name.clone()),
                        Int(a.replies),
                        Int(a.resolved),
                        Secs(a.median_response),
                    ]
                })
                .collect(),
        ));
    }
    out
}

/// A cell as the page shows it: its text and, for a duration, its seconds.
fn page_table(html: &str, slug: &str) -> Vec<Vec<(String, Option<i64>)>> {
    let marker = format!("<table data-table=\"{slug}\">");
    let Some(start) = html.find(&marker) else {
        return vec![];
    };
    let rest = &html[start..];
    let table = &rest[..rest.find("</table>").unwrap()];
    let body = &table[table.find("<tbody>").unwrap()..];
    let cell = regex::Regex::new(r#"<t[hd][^>]*?(?: data-secs="(\d+)")?>(.*?)</t[hd]>"#).unwrap();
    let tags = regex::Regex::new(r"<[^>]+>").unwrap();
    body.split("<tr>")
        .skip(1)
        .map(|row| {
            cell.captures_iter(row)
                .map(|c| {
                    let text = tags.replace_all(&c[2], "").replace("&amp;", "&");
                    (text, c.get(1).map(|s| s.as_str().parse().unwrap()))
                })
                .collect()
        })
        .collect()
}

fn compare_page(slug: &str, got: &[Vec<(String, Option<i64>)>], want: &[Vec<Exp>]) {
    assert_eq!(got.len(), want.len(), "{slug}: rows on the page {got:?}");
    for (g, w) in got.iter().zip(want) {
        for (i, e) in w.iter().enumerate() {
            let (text, secs) = &g[i];
            match e {
                Exp::Text(s) => assert_eq!(text, s, "{slug} col {i}"),
                Exp::Int(n) => assert_eq!(text, &n.to_string(), "{slug} col {i}"),
                Exp::Secs(Some(s)) => assert_eq!(secs, &Some(*s), "{slug} col {i}"),
                Exp::Secs(None) => assert_eq!(text, "–", "{slug} col {i}"),
                Exp::Any => {}
            }
        }
    }
}

/// The rows of a CSV export (after the BOM and the header), split on `;` with RFC 4180 quotes.
fn csv_rows(body: &str) -> Vec<Vec<String>> {
    let body = body.strip_prefix('\u{feff}').expect("a byte-order mark");
    let mut rows = vec![];
    for line in body.split("\r\n").skip(1).filter(|l| !l.is_empty()) {
        let (mut fields, mut cur, mut quoted) = (vec![], String::new(), false);
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            match (c, quoted) {
                ('"', true) if chars.peek() == Some(&'"') => {
                    cur.push('"');
                    chars.next();
                }
                ('"', _) => quoted = !quoted,
                (';', false) => fields.push(std::mem::take(&mut cur)),
                (c, _) => cur.push(c),
            }
        }
        fields.push(cur);
        rows.push(fields);
    }
    rows
}

fn compare_file(slug: &str, got: &[Vec<String>], want: &[Vec<Exp>]) {
    assert_eq!(got.len(), want.len(), "{slug}: rows in the file {got:?}");
    for (g, w) in got.iter().zip(want) {
        for (i, e) in w.iter().enumerate() {
            let cell = g.get(i).cloned().unwrap_or_default();
            match e {
                Exp::Text(s) => assert_eq!(&cell, s, "{slug} col {i}"),
                Exp::Int(n) => assert_eq!(cell, n.to_string(), "{slug} col {i}"),
                Exp::Secs(Some(s)) => assert_eq!(cell, (s / 60).to_string(), "{slug} col {i}"),
                Exp::Secs(None) => assert_eq!(cell, "", "{slug} col {i}"),
                Exp::Any => {}
            }
        }
    }
}

/// The rows of an Excel export's one sheet (after the header), numbers written as integers.
fn xlsx_rows(bytes: Vec<u8>) -> Vec<Vec<String>> {
    let mut wb: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(bytes)).expect("a workbook");
    let sheet = wb.sheet_names()[0].clone();
    let range = wb.worksheet_range(&sheet).expect("the sheet");
    range
        .rows()
        .skip(1)
        .map(|row| {
            row.iter()
                .map(|c| match c {
                    Data::Float(f) => format!("{}", *f as i64),
                    Data::Int(n) => n.to_string(),
                    Data::String(s) => s.clone(),
                    Data::Empty => String::new(),
                    other => other.to_string(),
                })
                .collect()
        })
        .collect()
}

async fn download(b: &reqwest::Client, app: &TestApp, path: &str) -> (u16, String, Vec<u8>) {
    let r = b.get(app.url(path)).send().await.unwrap();
    let status = r.status().as_u16();
    let disposition = r
        .headers()
        .get("content-disposition")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, disposition, r.bytes().await.unwrap().to_vec())
}

/// Every table on the page, in its CSV and in its Excel file equals the report.
async fn tables_agree(app: &TestApp, b: &reqwest::Client, r: &Report, query: &str) {
    let (status, html) = page(app, b, &format!("/stats?{query}")).await;
    assert_eq!(status, 200, "{html}");
    for (slug, want) in expected(r) {
        compare_page(slug, &page_table(&html, slug), &want);
        let (status, disposition, csv) =
            download(b, app, &format!("/stats/export/{slug}.csv?{query}")).await;
        assert_eq!(status, 200, "{slug}.csv");
        assert_eq!(
            disposition,
            format!(
                "attachment; filename=\"statistik-{slug}-{}--{}.csv\"",
                r.filter.from, r.filter.to
            )
        );
        compare_file(slug, &csv_rows(&String::from_utf8(csv).unwrap()), &want);
        let (status, _, xlsx) =
            download(b, app, &format!("/stats/export/{slug}.xlsx?{query}")).await;
        assert_eq!(status, 200, "{slug}.xlsx");
        compare_file(slug, &xlsx_rows(xlsx), &want);
    }
}

/// The API's figures against the report's.
fn api_agrees(v: &Value, r: &Report) {
    let vol = &r.volume;
    assert_eq!(v["period"]["from"], r.filter.from.to_string());
    assert_eq!(v["period"]["to"], r.filter.to.to_string());
    assert_eq!(v["volume"]["created"]["now"], vol.created.now);
    assert_eq!(v["volume"]["created"]["before"], vol.created.before);
    assert_eq!(v["volume"]["messages_in"]["now"], vol.messages_in.now);
    assert_eq!(v["volume"]["messages_out"]["now"], vol.messages_out.now);
    let series = v["volume"]["series"].as_array().unwrap();
    assert_eq!(series.len(), vol.series.len());
    for (a, p) in series.iter().zip(&vol.series) {
        assert_eq!(a["start"], p.start.to_string());
        assert_eq!(
            (a["created"].as_i64(), a["messages_in"].as_i64()),
            (Some(p.created), Some(p.messages_in))
        );
    }
    for (a, (q, c)) in v["volume"]["by_queue"]
        .as_array()
        .unwrap()
        .iter()
        .zip(&vol.by_queue)
    {
        assert_eq!(
            (a["key"].as_i64(), a["now"].as_i64()),
            (Some(q.get()), Some(c.now))
        );
    }
    let points = v["backlog"]["points"].as_array().unwrap();
    assert_eq!(points.len(), r.backlog.points.len());
    for (a, p) in points.iter().zip(&r.backlog.points) {
        assert_eq!(
            (a["new"].as_i64(), a["open"].as_i64(), a["waiting"].as_i64()),
            (Some(p.new), Some(p.open), Some(p.waiting))
        );
    }
    for (a, t) in v["times"]["overall"]
        .as_array()
        .unwrap()
        .iter()
        .zip(&r.times.rows)
    {
        assert_eq!(
            (
                a["n"].as_i64(),
                a["median_secs"].as_i64(),
                a["p90_secs"].as_i64()
            ),
            (Some(t.n), t.median, t.p90)
        );
    }
    assert_eq!(
        v["first_contact"].as_array().unwrap().len(),
        r.first_contact.len()
    );
    for (a, f) in v["first_contact"]
        .as_array()
        .unwrap()
        .iter()
        .zip(&r.first_contact)
    {
        assert_eq!(
            (a["resolved"].as_i64(), a["first_contact"].as_i64()),
            (Some(f.resolved), Some(f.first_contact))
        );
    }
    assert_eq!(
        v["flow"]["transfers"].as_array().unwrap().len(),
        r.flow.transfers.len()
    );
    assert_eq!(v["kkik"].as_array().unwrap().len(), r.kkik.len());
    assert_eq!(v["sla"].as_array().unwrap().len(), r.sla.len());
    assert_eq!(v["hours"], json!(r.hours));
    assert_eq!(
        v["topics"]["resolved_without_article"],
        r.topics.resolved_without_article
    );
    assert_eq!(v["agents"].is_null(), r.agents.is_none());
}

async fn api_get(app: &TestApp, token: &str, path: &str) -> (u16, Value) {
    let r = reqwest::Client::new()
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

/// The page, every export and the API show the report's figures, for the whole municipality and
/// for one queue; the per-agent table appears once the admin turns it on.
async fn figures_agree_everywhere(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("alby").await;
    with_tickets(&app, &org).await;
    let admin = actor_of(&app, &org.admin.token).await;
    let browser = signed_in(&app, &org.slug, &org.admin.email, &org.admin.password).await;

    let f = last_30_days();
    let r = arendo::stats::report(&app.db, &admin, f.clone())
        .await
        .unwrap();
    assert_eq!(r.volume.created.now, 4, "the scenario counted");
    assert!(r.agents.is_none());
    tables_agree(&app, &browser, &r, "period=last_30_days").await;
    let (_, html) = page(&app, &browser, "/stats").await;
    assert!(!html.contains("data-table=\"handlaggare\""));
    assert!(html.contains("href=\"/stats/survey\""));
    for shown in [
        "<h2 id=\"kkik-h\">KKiK – svar inom en arbetsdag</h2>",
        "Andel e-postfrågor som fått svar av en handläggare inom en arbetsdag",
        "<summary>Nya ärenden per kö</summary>",
        "aria-labelledby=\"chart-hours-t chart-hours-d\"",
    ] {
        assert!(html.contains(shown), "{shown}");
    }
    let (status, v) = api_get(&app, &org.admin.token, "/api/v1/stats?period=last_30_days").await;
    assert_eq!(status, 200, "{v}");
    api_agrees(&v, &r);
    let (status, v) = api_get(
        &app,
        &org.admin.token,
        "/api/v1/stats/koer?period=last_30_days",
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["rows"].as_array().unwrap().len(), r.volume.by_queue.len());

    // One queue.
    let queue_a = r
        .queues
        .iter()
        .find(|(q, _)| q.get() == org.queue_a)
        .unwrap()
        .0;
    let f_a = Filter {
        queue: Some(queue_a),
        ..f.clone()
    };
    let r_a = arendo::stats::report(&app.db, &admin, f_a).await.unwrap();
    let query = format!("period=last_30_days&queue={}", org.queue_a);
    tables_agree(&app, &browser, &r_a, &query).await;
    let (_, v) = api_get(&app, &org.admin.token, &format!("/api/v1/stats?{query}")).await;
    api_agrees(&v, &r_a);

    // Per agent: off until the admin turns it on.
    let (status, _, _) = download(&browser, &app, "/stats/export/handlaggare.csv").await;
    assert_eq!(status, 404);
    let (status, html) = page(&app, &browser, "/admin/stats").await;
    assert_eq!(status, 200);
    assert!(html.contains("MBL"), "the reason is shown");
    let r = post_form(
        &app,
        &browser,
        "/admin/stats",
        "/admin/stats",
        &[("per_agent", "1")],
    )
    .await;
    assert_eq!(r.status(), 303);
    let r = arendo::stats::report(&app.db, &admin, f).await.unwrap();
    assert!(
        r.agents.as_ref().is_some_and(|a| !a.is_empty()),
        "{:?}",
        r.agents
    );
    tables_agree(&app, &browser, &r, "period=last_30_days").await;
    let (_, v) = api_get(&app, &org.admin.token, "/api/v1/stats?period=last_30_days").await;
    api_agrees(&v, &r);
}
both_backends!(figures_agree_everywhere);

/// Agents who lead no queue get 403 everywhere; a lead sees only their queue and gets 403 for
/// another's; a token without stats:read gets 403.
async fn only_leads_and_admins(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("alby").await;
    with_tickets(&app, &org).await;
    let anna = signed_in(&app, &org.slug, &org.agent_a.email, &org.agent_a.password).await;
    let (status, _) = page(&app, &anna, "/stats").await;
    assert_eq!(status, 403);
    let (status, _, _) = download(&anna, &app, "/stats/export/volym.csv").await;
    assert_eq!(status, 403);
    let (status, _) = api_get(&app, &org.agent_a.token, "/api/v1/stats").await;
    assert_eq!(status, 403);
    let (_, html) = page(&app, &anna, "/").await;
    assert!(
        !html.contains("href=\"/stats\""),
        "no Statistik in the menu"
    );

    // Bertil leads VA (queue B).
    let bertil = signed_in(&app, &org.slug, &org.agent_b.email, &org.agent_b.password).await;
    let (status, html) = page(&app, &bertil, "/stats").await;
    assert_eq!(status, 200);
    assert!(html.contains("href=\"/stats\""), "Statistik in the menu");
    let lead = actor_of(&app, &org.agent_b.token).await;
    let r = arendo::stats::report(&app.db, &lead, last_30_days())
        .await
        .unwrap();
    assert_eq!(
        r.queues.iter().map(|(q, _)| q.get()).collect::<Vec<_>>(),
        vec![org.queue_b]
    );
    tables_agree(&app, &bertil, &r, "period=last_30_days").await;
    let other = format!("queue={}", org.queue_a);
    let (status, _) = page(&app, &bertil, &format!("/stats?{other}")).await;
    assert_eq!(status, 403);
    let (status, _, _) = download(&bertil, &app, &format!("/stats/export/koer.xlsx?{other}")).await;
    assert_eq!(status, 403);
    let (status, _) = api_get(&app, &org.agent_b.token, &format!("/api/v1/stats?{other}")).await;
    assert_eq!(status, 403);

    let no_scope = token_with(&app, &org.slug, &org.admin.email, vec![Scope::TicketsRead]).await;
    let (status, v) = api_get(&app, &no_scope, "/api/v1/stats").await;
    assert_eq!(status, 403, "{v}");
    let (status, _) = api_get(&app, &no_scope, "/api/v1/stats/volym").await;
    assert_eq!(status, 403);
    let with_scope = token_with(&app, &org.slug, &org.admin.email, vec![Scope::StatsRead]).await;
    let (status, _) = api_get(&app, &with_scope, "/api/v1/stats").await;
    assert_eq!(status, 200);
}
both_backends!(only_leads_and_admins);

/// A date that is not a date, a period backwards or over three years, an unknown queue or step:
/// 400 naming the parameter, on the page (the form kept), in exports and in the API.
async fn bad_filters_are_refused(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("alby").await;
    let browser = signed_in(&app, &org.slug, &org.admin.email, &org.admin.password).await;
    for (query, field) in [
        ("start=2026-02-30&end=2026-03-10", "start"),
        ("start=2026-03-01&end=igår", "end"),
        ("start=2026-03-10&end=2026-03-01", "end"),
        ("start=2020-01-01&end=2024-01-01", "end"),
        ("end=2026-03-01", "start"),
        ("queue=kundtjanst", "queue"),
        ("channel=brevduva", "channel"),
        ("step=year", "step"),
        ("period=forever", "period"),
    ] {
        let (status, html) = page(&app, &browser, &format!("/stats?{query}")).await;
        assert_eq!(status, 400, "{query}");
        assert!(html.contains("role=\"alert\""), "{query}: {html}");
        assert!(
            html.contains("<form method=\"get\" action=\"/stats\""),
            "the form is kept"
        );
        let (status, _, _) =
            download(&browser, &app, &format!("/stats/export/volym.csv?{query}")).await;
        assert_eq!(status, 400, "{query}");
        let (status, v) = api_get(&app, &org.admin.token, &format!("/api/v1/stats?{query}")).await;
        assert_eq!(status, 400, "{query}");
        assert_eq!(v["error"]["field"], field, "{query}: {v}");
    }
    let (_, html) = page(&app, &browser, "/stats?start=2026-03-10&end=2026-03-01").await;
    assert!(html.contains("value=\"2026-03-10\""), "the dates as typed");
    assert!(
        html.contains("sista dagen får inte komma före den första"),
        "{html}"
    );
    let (status, _) = api_get(&app, &org.admin.token, "/api/v1/stats/nothing").await;
    assert_eq!(status, 404);
}
both_backends!(bad_filters_are_refused);
