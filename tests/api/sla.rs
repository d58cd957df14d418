//! Service levels end to end: policies and a calendar set up, tickets arriving through the API,
//! the running app's follower keeping clocks, and sweeps at a chosen "now".

use std::time::Duration;

use arendo::domain::{Priority, QueueAccess, TenantId, TicketNumber};
use arendo::error::Error;
use arendo::sla::admin::{PolicyInput, save_calendar, save_policy};
use arendo::sla::calendar::DayHours;
use arendo::sla::engine::{Notices, sweep};
use arendo::sla::policy::{Action, Level, Rule};
use arendo::sla::{Calendar, timeline::Target};
use arendo::store;
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;

use crate::both_backends;
use crate::helpers::{Backend, TestApp};

fn notices() -> Notices {
    Notices {
        from: "arendo@example.org".into(),
        public_url: "http://127.0.0.1".into(),
        apply: arendo::tickets::breach::apply,
    }
}

/// Open around the clock, no holidays: the test does not depend on when it runs.
fn always_open() -> Calendar {
    let all_day = DayHours::parse("00:00-24:00").unwrap();
    Calendar {
        week: std::array::from_fn(|_| all_day.clone()),
        closed_holidays: Default::default(),
        closed_days: Default::default(),
        special_days: Default::default(),
    }
}

fn rule(on: Level, action: Action) -> Rule {
    Rule {
        on,
        action,
        targets: vec![],
    }
}

async fn setup(app: &TestApp, slug: &str, queue: i64, input: PolicyInput) -> TenantId {
    let slug = slug.to_string();
    app.db
        .write(move |c| -> Result<TenantId, Error> {
            let t = store::tenants::by_slug(c, &slug)?.unwrap().id;
            save_calendar(c, t, "Dygnet runt", &always_open(), true)?;
            let q = store::queues::lookup(c, t, queue)?.unwrap().id;
            save_policy(c, t, q, Priority::Normal, &input)?;
            Ok(t)
        })
        .await
        .unwrap()
}

async fn clocks(app: &TestApp, t: TenantId, number: &str) -> Vec<store::sla::ClockRow> {
    let number = TicketNumber::parse(number).unwrap();
    app.db
        .read(move |c| -> Result<_, Error> {
            let tk = store::tickets::by_number(c, t, &QueueAccess::All, &number)?.unwrap();
            Ok(store::sla::clocks(c, t, tk.id)?)
        })
        .await
        .unwrap()
}

/// The ticket's clocks once `ready` holds for them (the app's follower gets there within
/// moments); panics naming `what` after 20 s.
async fn wait_clocks(
    app: &TestApp,
    t: TenantId,
    number: &str,
    what: &str,
    ready: impl Fn(&[store::sla::ClockRow]) -> bool,
) -> Vec<store::sla::ClockRow> {
    let mut cs = vec![];
    for _ in 0..200 {
        cs = clocks(app, t, number).await;
        if ready(&cs) {
            return cs;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what}: {cs:?}");
}

async fn detail(app: &TestApp, token: &str, number: &str) -> Value {
    reqwest::Client::new()
        .get(app.url(&format!("/api/v1/tickets/{number}")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn count_events(d: &Value, kind: &str) -> usize {
    d["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == kind)
        .count()
}

/// A citizen writes to VA, which promises a first answer within an hour. The running app keeps
/// the ticket's clocks. Two sweepers look at the same moment after the hour: the warning and the
/// breach each fire once, the queue lead gets one mail for each, the priority goes up one step,
/// and a later sweep does nothing more.
async fn breach_fires_exactly_once_with_two_sweepers(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("slakommun").await;
    let t = setup(
        &app,
        &org.slug,
        org.queue_b,
        PolicyInput {
            first_response: "1h".into(),
            resolution: "2d".into(),
            warn_percent: Some(75),
            rules: vec![
                rule(Level::Warning, Action::Notify),
                rule(Level::Breach, Action::Notify),
                rule(Level::Breach, Action::RaisePriority),
                rule(
                    Level::Breach,
                    Action::Escalate {
                        hook: "Diariet".into(),
                    },
                ),
            ],
            ..Default::default()
        },
    )
    .await;
    // The breach rule escalates to the records system (here an address nobody answers on).
    let keys = arendo::secrets::Keys::from_hex(&app.key_hex).unwrap();
    app.db
        .write(move |c| -> Result<i64, Error> {
            arendo::escalation::save_records_target(
                c,
                &keys,
                t,
                &arendo::escalation::RecordsTarget {
                    name: "Diariet".into(),
                    url: "http://127.0.0.1:9/api/arenden".into(),
                    method: "POST".into(),
                    headers: Default::default(),
                    secret_headers: Default::default(),
                    auth: arendo::escalation::Auth::None,
                    hmac_secret: None,
                    content_type: "application/json".into(),
                    body_template: String::new(),
                    case_pointer: "/caseNumber".into(),
                    timeout_seconds: 1,
                },
            )
        })
        .await
        .unwrap();
    let created = app
        .create_ticket(&org.agent_b.token, org.queue_b, "Vattenläcka vid Lillgatan")
        .await;
    let number = created["number"].as_str().unwrap().to_string();

    // The app's follower gives the ticket its clocks within moments.
    let mut first = None;
    for _ in 0..100 {
        let cs = clocks(&app, t, &number).await;
        if let Some(c) = cs.iter().find(|c| c.target == "first_response") {
            assert!(cs.iter().any(|c| c.target == "resolution"));
            first = Some(c.clone());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let first = first.expect("the follower never gave the ticket its clocks");
    assert_eq!(first.budget_secs, 3600);
    let since = first.running_since.expect("running from creation");
    assert_eq!(first.due_at, Some(since + TimeDelta::hours(1)));
    assert_eq!(first.warn_at, Some(since + TimeDelta::minutes(45)));

    // Two sweepers, one instant after the due time.
    let now: DateTime<Utc> = (since + TimeDelta::minutes(61)).and_utc();
    let (d1, d2) = (app.db.clone(), app.db.clone());
    let s1 = tokio::task::spawn_blocking(move || sweep(&d1, &notices(), now, 500));
    let s2 = tokio::task::spawn_blocking(move || sweep(&d2, &notices(), now, 500));
    let (s1, s2) = (s1.await.unwrap().unwrap(), s2.await.unwrap().unwrap());
    assert_eq!(
        s1.fired + s2.fired,
        2,
        "one warning and one breach: {s1:?} {s2:?}"
    );
    let again = tokio::task::spawn_blocking({
        let db = app.db.clone();
        move || sweep(&db, &notices(), now + TimeDelta::minutes(5), 500)
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(again.fired, 0, "nothing fires twice");

    let d = detail(&app, &org.agent_b.token, &number).await;
    assert_eq!(count_events(&d, "sla_warning"), 1);
    assert_eq!(count_events(&d, "sla_breached"), 1);
    assert_eq!(d["priority"], "high", "raised one step, once");
    assert_eq!(
        count_events(&d, "escalated"),
        1,
        "escalated to the records system once"
    );
    let escalations = app
        .db
        .read(move |c| -> Result<_, Error> { Ok(store::outbox::recent(c, t, 50)?) })
        .await
        .unwrap()
        .into_iter()
        .filter(|i| i.kind == "escalation")
        .count();
    assert_eq!(escalations, 1, "one delivery for the records system");

    // Bertil leads VA: both notices wait in the outbox for him (enqueued at the sweep's "now",
    // an hour ahead, so the worker sends them then; its delivery is tested with the mail channel).
    let queued: Vec<Value> = app
        .db
        .read(move |c| -> Result<_, Error> { Ok(store::outbox::recent(c, t, 50)?) })
        .await
        .unwrap()
        .into_iter()
        .filter(|i| i.kind == "mail")
        .map(|i| serde_json::from_str(&i.payload).unwrap())
        .collect();
    let to_bertil: Vec<&Value> = queued
        .iter()
        .filter(|m| {
            m["to"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a == &org.agent_b.email)
        })
        .collect();
    assert_eq!(to_bertil.len(), 2, "{queued:#?}");
    let subjects: Vec<&str> = to_bertil
        .iter()
        .map(|m| m["subject"].as_str().unwrap())
        .collect();
    assert!(
        subjects
            .iter()
            .any(|s| s.starts_with("SLA-varning") && s.contains(&number)),
        "{subjects:?}"
    );
    assert!(
        subjects
            .iter()
            .any(|s| s.starts_with("SLA passerad") && s.contains(&number)),
        "{subjects:?}"
    );
    let breach_text = to_bertil
        .iter()
        .find(|m| m["subject"].as_str().unwrap().starts_with("SLA passerad"))
        .unwrap()["text"]
        .as_str()
        .unwrap();
    assert!(
        breach_text.contains("har passerat sin servicenivå för första svar"),
        "{breach_text}"
    );
    assert!(
        breach_text.contains("Försenat: 0 tim 1 min"),
        "{breach_text}"
    );
}
both_backends!(breach_fires_exactly_once_with_two_sweepers);

/// A ticket put on "waiting for the citizen" stops its clocks: no due time, nothing to sweep;
/// a reply from the agent meets the first-response target in time.
async fn waiting_pauses_and_a_reply_meets_the_target(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("pauskommun").await;
    let t = setup(
        &app,
        &org.slug,
        org.queue_a,
        PolicyInput {
            first_response: "4h".into(),
            resolution: "5d".into(),
            ..Default::default()
        },
    )
    .await;
    let created = app
        .create_ticket(&org.agent_a.token, org.queue_a, "Fråga om bygglov")
        .await;
    let number = created["number"].as_str().unwrap().to_string();
    let api = reqwest::Client::new();
    let r = api
        .post(app.url(&format!("/api/v1/tickets/{number}/messages")))
        .bearer_auth(&org.agent_a.token)
        .json(&serde_json::json!({ "kind": "reply", "body": "Hej! Vi behöver ritningarna." }))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let r = api
        .patch(app.url(&format!("/api/v1/tickets/{number}")))
        .bearer_auth(&org.agent_a.token)
        .json(&serde_json::json!({ "status": "waiting" }))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());

    let settled = |cs: &[store::sla::ClockRow]| {
        let first = cs.iter().find(|c| c.target == Target::FirstResponse.key());
        let res = cs.iter().find(|c| c.target == Target::Resolution.key());
        matches!((first, res), (Some(f), Some(r)) if f.met_at.is_some() && r.running_since.is_none())
    };
    let cs = wait_clocks(&app, t, &number, "clocks never settled", settled).await;
    let first = cs.iter().find(|c| c.target == "first_response").unwrap();
    assert_eq!(first.met_in_time, Some(true));
    assert_eq!(first.next_check_at, None);
    let res = cs.iter().find(|c| c.target == "resolution").unwrap();
    assert_eq!((res.due_at, res.next_check_at), (None, None), "paused");

    // The queue overview counts it: this month, one first answer of one in time.
    let anna = app.browser();
    let r = app
        .login(&anna, &org.slug, &org.agent_a.email, &org.agent_a.password)
        .await;
    assert_eq!(r.status(), 303);
    let overview = anna
        .get(app.url("/queues"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(overview.contains("100 % (1 av 1)"), "{overview}");
    let bad = anna
        .get(app.url("/queues?month=tjugo"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        bad.status(),
        422,
        "a clear error page for a month that is not one"
    );

    // Much later, nothing is due for this ticket.
    let later = Utc::now() + TimeDelta::days(30);
    let swept = tokio::task::spawn_blocking({
        let db = app.db.clone();
        move || sweep(&db, &notices(), later, 500)
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(swept.fired, 0);
}
both_backends!(waiting_pauses_and_a_reply_meets_the_target);

/// Anna's queue list shows each ticket's time left in business time, sorts by SLA due time and
/// filters late tickets; the ticket page shows the same badge.
async fn lists_show_time_left_sort_by_due_and_filter_late(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("listkommun").await;
    let t = setup(
        &app,
        &org.slug,
        org.queue_a,
        PolicyInput {
            first_response: "2h".into(),
            ..Default::default()
        },
    )
    .await;
    let mut numbers = vec![];
    for subject in ["Första frågan", "Andra frågan"] {
        let created = app
            .create_ticket(&org.agent_a.token, org.queue_a, subject)
            .await;
        numbers.push(created["number"].as_str().unwrap().to_string());
    }
    for n in &numbers {
        wait_clocks(&app, t, n, "no clock", |cs| {
            cs.iter().any(|c| c.due_at.is_some())
        })
        .await;
    }
    let anna = app.browser();
    let r = app
        .login(&anna, &org.slug, &org.agent_a.email, &org.agent_a.password)
        .await;
    assert_eq!(r.status(), 303);
    let get = |path: String| {
        let anna = anna.clone();
        let url = app.url(&path);
        async move { anna.get(url).send().await.unwrap().text().await.unwrap() }
    };
    let list = get(format!("/tickets?queue={}&sort=due", org.queue_a)).await;
    assert!(list.contains("class=\"sla sla-ok\""), "{list}");
    assert!(
        list.contains("1 tim 59 min kvar") || list.contains("2 tim 0 min kvar"),
        "{list}"
    );
    let (first, second) = (
        list.find(&numbers[0]).unwrap(),
        list.find(&numbers[1]).unwrap(),
    );
    assert!(first < second, "the ticket due first comes first");
    let late = get(format!("/tickets?queue={}&sla=breached", org.queue_a)).await;
    assert!(!late.contains(&numbers[0]), "nothing is late yet");
    let page = get(format!("/tickets/{}", numbers[0])).await;
    assert!(page.contains("class=\"sla sla-ok\""), "{page}");
    let api: Value = reqwest::Client::new()
        .get(app.url("/api/v1/tickets?sort=due&sla=at_risk"))
        .bearer_auth(&org.agent_a.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(api["tickets"].as_array().unwrap().len(), 0, "{api}");

    // VA answers within a minute and warns at 1 %: its new ticket is at risk within a second,
    // judged from the stored instants (no sweep runs in this test).
    setup(
        &app,
        &org.slug,
        org.queue_b,
        PolicyInput {
            first_response: "1".into(),
            warn_percent: Some(1),
            ..Default::default()
        },
    )
    .await;
    let hurried = app
        .create_ticket(&org.agent_b.token, org.queue_b, "Brådskande fråga")
        .await;
    let hurried = hurried["number"].as_str().unwrap().to_string();
    let mut at_risk = Value::Null;
    for _ in 0..100 {
        at_risk = reqwest::Client::new()
            .get(app.url("/api/v1/tickets?sla=at_risk"))
            .bearer_auth(&org.admin.token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if !at_risk["tickets"].as_array().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let listed: Vec<&str> = at_risk["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["number"].as_str().unwrap())
        .collect();
    assert_eq!(listed, vec![hurried.as_str()], "{at_risk}");
    let bertil = app.browser();
    let r = app
        .login(
            &bertil,
            &org.slug,
            &org.agent_b.email,
            &org.agent_b.password,
        )
        .await;
    assert_eq!(r.status(), 303);
    let page = bertil
        .get(app.url(&format!("/tickets/{hurried}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("class=\"sla sla-warning\""), "{page}");
    assert!(page.contains("Snart sen"), "{page}");
    // Bertil leads VA: his own work page lists it under SLA warnings.
    let work = bertil
        .get(app.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(work.contains("SLA-varningar (1)"), "{work}");
    assert!(work.contains(&hurried), "{work}");
    // Anna's queue has nothing at risk: no warnings section for her.
    let work = get("/".to_string()).await;
    assert!(!work.contains("SLA-varningar"), "{work}");
}
both_backends!(lists_show_time_left_sort_by_due_and_filter_late);

/// Tickets that arrived before the queue had a policy get their clocks the moment it is saved.
async fn a_new_policy_applies_to_open_tickets_at_once(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("nykommun").await;
    let created = app
        .create_ticket(&org.agent_a.token, org.queue_a, "Före policyn")
        .await;
    let number = created["number"].as_str().unwrap().to_string();
    let t = setup(
        &app,
        &org.slug,
        org.queue_a,
        PolicyInput {
            resolution: "3d".into(),
            ..Default::default()
        },
    )
    .await;
    let cs = clocks(&app, t, &number).await;
    assert_eq!(cs.len(), 1, "{cs:?}");
    assert_eq!(cs[0].target, "resolution");
    assert_eq!(
        cs[0].budget_secs,
        3 * 8 * 3600,
        "a written day is eight business hours"
    );
    assert!(cs[0].due_at.is_some());
}
both_backends!(a_new_policy_applies_to_open_tickets_at_once);

/// A citizen mails va@. Bertil answers and puts the ticket on "waiting for an external party"
/// (the contractor must look at the pipe): the clocks stop, the ticket says whom it waits for.
/// When the citizen writes again, the ticket is back in work and the next-response clock runs.
async fn waiting_for_an_external_party_pauses_and_a_citizen_mail_resumes(b: Backend) {
    let w = crate::mail::World::new(b).await;
    let (app, org) = (&w.app, &w.org);
    let t = setup(
        app,
        &org.slug,
        org.queue_b,
        PolicyInput {
            first_response: "4h".into(),
            next_response: "2h".into(),
            resolution: "5d".into(),
            ..Default::default()
        },
    )
    .await;
    let va = crate::mail::VA;
    w.deliver(
        va,
        crate::mail::mail(
            "karin@example.org",
            va,
            "Läcka i vattenledningen",
            "k1@example.org",
            "",
            "Det läcker vid tomtgränsen.",
        ),
    )
    .await;
    let number = w.wait_tickets(1).await[0]["number"]
        .as_str()
        .unwrap()
        .to_string();
    let api = reqwest::Client::new();
    let r = api
        .post(app.url(&format!("/api/v1/tickets/{number}/messages")))
        .bearer_auth(&org.agent_b.token)
        .json(&serde_json::json!({ "kind": "reply", "body": "Vi har bett entreprenören titta på ledningen." }))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    // "waiting_on" belongs to the waiting status only: a clear error otherwise.
    let r = api
        .patch(app.url(&format!("/api/v1/tickets/{number}")))
        .bearer_auth(&org.agent_b.token)
        .json(&serde_json::json!({ "status": "open", "waiting_on": "external" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let r = api
        .patch(app.url(&format!("/api/v1/tickets/{number}")))
        .bearer_auth(&org.agent_b.token)
        .json(&serde_json::json!({ "status": "waiting", "waiting_on": "external" }))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let d = detail(app, &org.agent_b.token, &number).await;
    assert_eq!(
        (&d["status"], &d["waiting_on"]),
        (&"waiting".into(), &"external".into()),
        "{d}"
    );

    let paused = |cs: &[store::sla::ClockRow]| {
        let res = cs.iter().find(|c| c.target == Target::Resolution.key());
        let first = cs.iter().find(|c| c.target == Target::FirstResponse.key());
        matches!((first, res), (Some(f), Some(r)) if f.met_in_time == Some(true) && r.running_since.is_none())
    };
    let cs = wait_clocks(app, t, &number, "the clocks never paused", paused).await;
    assert!(
        cs.iter().all(|c| c.next_check_at.is_none()),
        "nothing to sweep while paused"
    );

    // Bertil's list says whom the ticket waits for and shows the SLA paused.
    let bertil = app.browser();
    let r = app
        .login(
            &bertil,
            &org.slug,
            &org.agent_b.email,
            &org.agent_b.password,
        )
        .await;
    assert_eq!(r.status(), 303);
    let list = bertil
        .get(app.url(&format!("/tickets?queue={}&status=waiting", org.queue_b)))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(list.contains("Väntar på extern part"), "{list}");
    assert!(list.contains("SLA pausad"), "{list}");

    // Karin writes again: the ticket is back in work and the next answer is due within 2 hours.
    w.deliver(
        va,
        crate::mail::mail(
            "karin@example.org",
            va,
            &format!("Re: [{number}]"),
            "k2@example.org",
            "",
            "Nu har det blivit värre.",
        ),
    )
    .await;
    let resumed = |cs: &[store::sla::ClockRow]| {
        let res = cs.iter().find(|c| c.target == Target::Resolution.key());
        let next = cs.iter().find(|c| c.target == Target::NextResponse.key());
        matches!((next, res), (Some(n), Some(r)) if n.due_at.is_some() && r.running_since.is_some())
    };
    let cs = wait_clocks(app, t, &number, "the clocks never resumed", resumed).await;
    let next = cs.iter().find(|c| c.target == "next_response").unwrap();
    assert_eq!(next.budget_secs, 2 * 3600);
    let d = detail(app, &org.agent_b.token, &number).await;
    assert_eq!(d["status"], "open");
    assert!(d["waiting_on"].is_null(), "{d}");
}
both_backends!(waiting_for_an_external_party_pauses_and_a_citizen_mail_resumes);

/// An administrator deletes a calendar no queue uses; the default calendar and one a queue works
/// by are refused with the reason, and stay.
async fn only_unused_calendars_can_be_deleted(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("alby").await;
    let queue = org.queue_b;
    let (default, vacation, va_own) = app
        .db
        .write(move |c| -> Result<(i64, i64, i64), Error> {
            let t = arendo::tenants::tenant_by_slug(c, "alby")?.id;
            let default = save_calendar(c, t, "Kontorstid", &Calendar::default(), true)?;
            let vacation = save_calendar(c, t, "Sommartid", &always_open(), false)?;
            let va_own = save_calendar(c, t, "VA jour", &always_open(), false)?;
            let q = store::queues::lookup(c, t, queue)?.unwrap().id;
            arendo::sla::admin::use_calendar(c, t, q, Some(va_own))?;
            Ok((default, vacation, va_own))
        })
        .await
        .unwrap();
    let admin = app.browser();
    app.login(&admin, "alby", &org.admin.email, &org.admin.password)
        .await;
    let delete = |id: i64| {
        let admin = admin.clone();
        let (page, url) = (
            app.url(&format!("/admin/sla/calendars/{id}")),
            app.url(&format!("/admin/sla/calendars/{id}/delete")),
        );
        async move {
            let html = admin.get(page).send().await.unwrap().text().await.unwrap();
            let csrf = crate::helpers::csrf_in(&html);
            let r = admin
                .post(url)
                .form(&[("csrf", csrf.as_str())])
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let (status, html) = delete(default).await;
    assert_eq!(status, 409);
    assert!(
        html.contains("Standardkalendern går inte att ta bort"),
        "{html}"
    );
    let (status, html) = delete(va_own).await;
    assert_eq!(status, 409);
    assert!(html.contains("En kö använder kalendern"));
    assert_eq!(delete(vacation).await.0, 303);
    let overview = admin
        .get(app.url("/admin/sla"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!overview.contains("Sommartid"), "deleted");
    assert!(
        overview.contains("Kontorstid") && overview.contains("VA jour"),
        "kept"
    );
    // Agents cannot.
    let anna = app.browser();
    app.login(&anna, "alby", &org.agent_a.email, &org.agent_a.password)
        .await;
    let r = anna
        .post(app.url(&format!("/admin/sla/calendars/{va_own}/delete")))
        .form(&[("csrf", "x")])
        .send()
        .await
        .unwrap();
    assert_ne!(r.status(), 303);
}
both_backends!(only_unused_calendars_can_be_deleted);

/// Two changes to one ticket at the same moment: an agent's reply (which changes the ticket and
/// then recomputes its clocks) and the clock follower (which recomputes the same clocks because
/// the ticket changed before). On PostgreSQL they once locked the ticket and its clocks in
/// opposite orders and one of them died of "deadlock detected" — the agent saw an internal error.
/// Both must finish, whatever the order.
async fn a_reply_and_the_clock_follower_at_the_same_moment_both_finish(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("samtidigt").await;
    let t = setup(
        &app,
        &org.slug,
        org.queue_b,
        PolicyInput {
            first_response: "4h".into(),
            resolution: "5d".into(),
            ..Default::default()
        },
    )
    .await;
    let number = app
        .create_ticket(&org.agent_b.token, org.queue_b, "Läcka")
        .await["number"]
        .as_str()
        .unwrap()
        .to_string();
    let n = TicketNumber::parse(&number).unwrap();
    let id = app
        .db
        .read(move |c| -> Result<_, Error> {
            Ok(store::tickets::by_number(c, t, &QueueAccess::All, &n)?
                .unwrap()
                .id)
        })
        .await
        .unwrap();
    // The stored clocks are behind the ticket (as after any change the follower has not seen yet).
    app.db
        .write(move |c| -> Result<_, Error> {
            let now = Utc::now().naive_utc();
            Ok(store::sla::save_clocks(
                c,
                t,
                id,
                &[],
                &Default::default(),
                now,
            )?)
        })
        .await
        .unwrap();
    let (changed, wait_changed) = std::sync::mpsc::channel();
    let db = app.db.clone();
    let reply = std::thread::spawn(move || {
        db.write_blocking(move |c| -> Result<(), Error> {
            let ch = store::tickets::TicketChanges {
                status: Some(arendo::domain::Status::Open),
                ..Default::default()
            };
            store::tickets::update(c, t, id, &ch, Utc::now().naive_utc())?;
            changed.send(()).unwrap();
            // The follower starts its refresh while this transaction holds the ticket.
            std::thread::sleep(Duration::from_millis(600));
            arendo::sla::engine::refresh(c, t, id, Utc::now())?;
            Ok(())
        })
    });
    wait_changed.recv().unwrap();
    let db = app.db.clone();
    let follower = std::thread::spawn(move || {
        db.write_blocking(move |c| -> Result<(), Error> {
            arendo::sla::engine::refresh(c, t, id, Utc::now())?;
            Ok(())
        })
    });
    reply.join().unwrap().expect("the reply's transaction");
    follower
        .join()
        .unwrap()
        .expect("the follower's transaction");
    let clocks = clocks(&app, t, &number).await;
    assert!(!clocks.is_empty(), "the clocks are stored again");
}
both_backends!(a_reply_and_the_clock_follower_at_the_same_moment_both_finish);
