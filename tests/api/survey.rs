//! Servicemätning (D65): after a resolved ticket the citizen gets one survey on their channel,
//! never for automatic tickets and not twice within the period; the answer is stored once; the
//! results give SKR's index.

use std::time::Duration;

use diesel::Connection;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Backend, TestApp, api, page, post_form, signed_in};

/// The SKR index of some answers 1–5: 5 → 100, 4 → 75, 3 → 50, 2 → 25, 1 → 0, then the mean.
fn skr_index(scores: &[i32]) -> f64 {
    scores.iter().map(|s| f64::from((s - 1) * 25)).sum::<f64>() / scores.len() as f64
}

fn run_sql(url: &str, sql: &str) {
    use diesel::RunQueryDsl;
    let q = diesel::sql_query(sql);
    if let Some(path) = url.strip_prefix("sqlite://") {
        let mut c = diesel::SqliteConnection::establish(path).unwrap();
        q.execute(&mut c).unwrap();
    } else {
        let mut c = diesel::PgConnection::establish(url).unwrap();
        q.execute(&mut c).unwrap();
    }
}

/// The survey mails queued to `to` (their text).
async fn survey_mails(app: &TestApp, to: &str) -> Vec<String> {
    app.outbox_mails(to)
        .await
        .into_iter()
        .filter_map(|m| m["text"].as_str().map(str::to_string))
        .filter(|t| t.contains("/survey/"))
        .collect()
}

async fn wait_for_survey(app: &TestApp, to: &str) -> String {
    for _ in 0..100 {
        if let Some(t) = survey_mails(app, to).await.pop() {
            return t;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no survey mail to {to}");
}

fn token_in(text: &str) -> String {
    let start = text.find("/survey/").expect("a survey link") + "/survey/".len();
    text[start..]
        .split(|c: char| c.is_whitespace())
        .next()
        .unwrap()
        .to_string()
}

/// A ticket from `email`, answered by a person and resolved.
async fn resolved_ticket(app: &TestApp, token: &str, queue: i64, email: &str) -> String {
    let number = app
        .create_ticket_from(
            token,
            json!({ "queue": queue, "subject": "Parkeringstillstånd", "body": "Hur ansöker jag?",
                    "contact": { "name": "Maria Lind", "email": email } }),
        )
        .await;
    let r = reqwest::Client::new()
        .post(app.url(&format!("/api/v1/tickets/{number}/messages")))
        .bearer_auth(token)
        .json(&json!({ "kind": "reply", "body": "Du ansöker via e-tjänsten." }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    number
}

async fn resolve(app: &TestApp, token: &str, number: &str) {
    app.patch_ticket(token, number, json!({ "status": "resolved" }))
        .await;
}

async fn surveys_queued(app: &TestApp) -> usize {
    app.db
        .read(|c| -> Result<_, arendo::error::Error> {
            let mut n = 0;
            for t in arendo::store::tenants::list(c)? {
                n += arendo::store::outbox::recent(c, t.id, 500)?
                    .iter()
                    .filter(|i| i.kind == "survey")
                    .count();
            }
            Ok(n)
        })
        .await
        .unwrap()
}

async fn citizens_get_one_survey_and_results_follow_the_skr_formula(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("ARENDO_OUTBOX__RETRY_BASE_MS", "200")]).await;
    let org = app.org("alby").await;
    let admin = signed_in(&app, "alby", &org.admin.email, &org.admin.password).await;
    let queue_page = format!("/admin/queues/{}", org.queue_a);

    // Off by default, the kind of matter preset from the queue's name.
    let (status, html) = page(&app, &admin, &queue_page).await;
    assert_eq!(status, 200);
    assert!(html.contains("id=\"survey-matter\" name=\"matter\" value=\"Kundtjänst\""));
    // An agent who leads no queue cannot switch it on; a bad period is refused.
    let anna = signed_in(&app, "alby", &org.agent_a.email, &org.agent_a.password).await;
    let action = format!("{queue_page}/survey");
    let fields = [
        ("enabled", "1"),
        ("matter", "Parkering"),
        ("period_days", "90"),
        ("delay_minutes", "0"),
    ];
    let r = post_form(&app, &anna, "/", &action, &fields).await;
    assert_eq!(r.status(), 403);
    let mut bad = fields;
    bad[2] = ("period_days", "0");
    let r = post_form(&app, &admin, &queue_page, &action, &bad).await;
    assert_eq!(r.status(), 422);
    let r = post_form(&app, &admin, &queue_page, &action, &fields).await;
    assert_eq!(r.status(), 303);

    let tok = &org.admin.token;
    let first = resolved_ticket(&app, tok, org.queue_a, "maria@example.org").await;
    // Not yet resolved: no survey.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(survey_mails(&app, "maria@example.org").await.is_empty());
    resolve(&app, tok, &first).await;
    let mail = wait_for_survey(&app, "maria@example.org").await;
    assert!(mail.contains("Parkering"), "the kind of matter: {mail}");

    // The same citizen within the period: no second survey.
    let second = resolved_ticket(&app, tok, org.queue_a, "maria@example.org").await;
    resolve(&app, tok, &second).await;
    // An automatic ticket: never.
    let auto = resolved_ticket(&app, tok, org.queue_a, "omar@example.org").await;
    run_sql(
        &app.db_url,
        &format!("UPDATE tickets SET automatic = 'auto_submitted' WHERE number = '{auto}'"),
    );
    resolve(&app, tok, &auto).await;
    // Another citizen: a survey.
    let third = resolved_ticket(&app, tok, org.queue_a, "sara@example.org").await;
    resolve(&app, tok, &third).await;
    let sara_mail = wait_for_survey(&app, "sara@example.org").await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(survey_mails(&app, "maria@example.org").await.len(), 1);
    assert!(survey_mails(&app, "omar@example.org").await.is_empty());
    assert_eq!(surveys_queued(&app).await, 2);
    let d = api(&app, tok, &format!("/api/v1/tickets/{first}")).await;
    let sent: Vec<&Value> = d["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "survey_sent")
        .collect();
    assert_eq!(sent.len(), 1, "{:?}", d["events"]);

    answer_and_check(
        &app,
        &org,
        &[
            (mail, [5, 4, 2], "Bra hjälp, tack!"),
            (sara_mail, [3, 3, 1], ""),
        ],
        &first,
    )
    .await;
}
both_backends!(citizens_get_one_survey_and_results_follow_the_skr_formula);

async fn answer_and_check(
    app: &TestApp,
    org: &crate::helpers::Org,
    answers: &[(String, [i32; 3], &str)],
    first: &str,
) {
    for (mail, s, comment) in answers {
        let token = token_in(mail);
        let b = app.browser();
        let path = format!("/survey/{token}");
        let (status, html) = page(app, &b, &path).await;
        assert_eq!(status, 200);
        assert!(
            html.contains("<legend>Hur blev du bemött?</legend>"),
            "{html}"
        );
        let (b1, t1, e1) = (s[0].to_string(), s[1].to_string(), s[2].to_string());
        let fields = [
            ("bemotande", b1.as_str()),
            ("tydlighet", t1.as_str()),
            ("enkelhet", e1.as_str()),
            ("comment", *comment),
            ("lang", "sv"),
        ];
        // A tampered link opens nothing and takes no answer.
        let mut bad_token = token.clone();
        let last = bad_token.pop().unwrap();
        bad_token.push(if last == 'A' { 'B' } else { 'A' });
        let bad_path = format!("/survey/{bad_token}");
        assert_eq!(page(app, &b, &bad_path).await.0, 403);
        let r = post_form(app, &b, &path, &bad_path, &fields).await;
        assert_eq!(r.status(), 403);
        // A score outside 1–5 is refused, the form comes back.
        let mut bad = fields;
        bad[2] = ("enkelhet", "6");
        let r = post_form(app, &b, &path, &path, &bad).await;
        assert_eq!(r.status(), 422);
        let csrf = app.csrf(&b, &path).await;
        let r = post_form(app, &b, &path, &path, &fields).await;
        assert_eq!(r.status(), 303);
        let (_, html) = page(app, &b, &format!("{path}?ok=thanks")).await;
        assert!(html.contains("Tack för dina svar!"), "{html}");
        // A second answer is refused and changes nothing.
        let again = [
            ("csrf", csrf.as_str()),
            ("bemotande", "1"),
            ("tydlighet", "1"),
            ("enkelhet", "1"),
        ];
        let r = b.post(app.url(&path)).form(&again).send().await.unwrap();
        assert_eq!(r.status(), 409);
        assert!(r.text().await.unwrap().contains("redan besvarad"));
    }
    let month = chrono::Utc::now()
        .with_timezone(&chrono_tz::Europe::Stockholm)
        .format("%Y-%m")
        .to_string();
    let q = format!("/api/v1/stats/survey?from={month}&to={month}");
    let report = api(app, &org.admin.token, &q).await;
    let rows = report["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{report}");
    let row = &rows[0];
    assert_eq!(row["answers"], answers.len());
    assert_eq!(row["month"], month.as_str());
    assert_eq!(row["few"], true);
    let per = |i: usize| answers.iter().map(|a| a.1[i]).collect::<Vec<_>>();
    let close = |v: &Value, want: f64| (v.as_f64().unwrap() - want).abs() < 1e-9;
    for (i, q) in ["bemotande", "tydlighet", "enkelhet"].iter().enumerate() {
        assert!(close(&row[q]["index"], skr_index(&per(i))), "{q}: {row}");
    }
    let total = (0..3).map(|i| skr_index(&per(i))).sum::<f64>() / 3.0;
    assert!(close(&row["total"]["index"], total), "{row}");
    let comments = report["comments"].as_array().unwrap();
    assert_eq!(comments.len(), 1);
    assert_eq!(comments[0]["text"], "Bra hjälp, tack!");
    assert_eq!(comments[0]["ticket"], first);

    // The lead of the other queue sees none of it; an agent who leads nothing is refused.
    let lead = api(app, &org.agent_b.token, &q).await;
    assert_eq!(lead["rows"].as_array().unwrap().len(), 0, "{lead}");
    let r = reqwest::Client::new()
        .get(app.url(&q))
        .bearer_auth(&org.agent_a.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    // The page links each comment to its ticket; the CSV carries the table.
    let admin = signed_in(app, &org.slug, &org.admin.email, &org.admin.password).await;
    let (status, html) = page(app, &admin, "/stats/survey").await;
    assert_eq!(status, 200);
    assert!(
        html.contains(&format!("href=\"/tickets/{first}\"")),
        "{html}"
    );
    assert!(html.contains("få svar – osäkert"));
    let (status, csv) = page(
        app,
        &admin,
        &format!("/stats/survey.csv?from={month}&to={month}"),
    )
    .await;
    assert_eq!(status, 200);
    let want = format!("{total:.1}").replace('.', ",");
    let line = csv.lines().nth(1).expect("a row");
    assert!(
        line.starts_with(&format!("Kundtjänst;{month};{};", answers.len())),
        "{csv}"
    );
    assert!(line.contains(&format!(";{want};1")), "{csv}");
}

/// A survey queued with a delay is not sent when the ticket was reopened meanwhile.
async fn a_reopened_ticket_gets_no_survey(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("ARENDO_OUTBOX__RETRY_BASE_MS", "200")]).await;
    let org = app.org("alby").await;
    let admin = signed_in(&app, "alby", &org.admin.email, &org.admin.password).await;
    let queue_page = format!("/admin/queues/{}", org.queue_a);
    let fields = [
        ("enabled", "1"),
        ("matter", "Parkering"),
        ("period_days", "90"),
        ("delay_minutes", "60"),
    ];
    let r = post_form(
        &app,
        &admin,
        &queue_page,
        &format!("{queue_page}/survey"),
        &fields,
    )
    .await;
    assert_eq!(r.status(), 303);
    let tok = &org.admin.token;
    let n = resolved_ticket(&app, tok, org.queue_a, "maria@example.org").await;
    resolve(&app, tok, &n).await;
    app.patch_ticket(tok, &n, json!({ "status": "open" })).await;
    // The hour has passed (the queued item is made due now).
    run_sql(
        &app.db_url,
        "UPDATE outbox SET next_attempt_at = created_at WHERE kind = 'survey'",
    );
    let mut done = false;
    for _ in 0..100 {
        let items = app
            .db
            .read(|c| -> Result<_, arendo::error::Error> {
                let t = arendo::store::tenants::list(c)?[0].id;
                Ok(arendo::store::outbox::recent(c, t, 100)?)
            })
            .await
            .unwrap();
        if items
            .iter()
            .any(|i| i.kind == "survey" && i.done_at.is_some())
        {
            done = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(done, "the survey item was worked on");
    assert!(survey_mails(&app, "maria@example.org").await.is_empty());
    let d = api(&app, tok, &format!("/api/v1/tickets/{n}")).await;
    assert!(
        !d["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "survey_sent"),
        "no survey_sent: {:?}",
        d["events"]
    );
}
both_backends!(a_reopened_ticket_gets_no_survey);
