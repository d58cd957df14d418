//! SLA clocks measure people, not robots (issue 17, points 9, 11 and 12): an acknowledgement is no
//! answer, a referral pauses the clock until its answer, and resolving, closing and merging stop
//! every clock.

use std::time::Duration;

use arendo::domain::{Priority, QueueAccess, SlaClock, Status, TenantId, TicketNumber};
use arendo::error::Error;
use arendo::escalation::referral::ReferralTarget;
use arendo::sla::admin::{PolicyInput, save_calendar, save_policy};
use arendo::sla::calendar::DayHours;
use arendo::sla::engine::{Notices, sweep};
use arendo::sla::{Calendar, timeline::Target};
use arendo::store;
use chrono::{TimeDelta, Utc};
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Backend, TestApp, csrf_in};

fn always_open() -> Calendar {
    let all_day = DayHours::parse("00:00-24:00").unwrap();
    Calendar {
        week: std::array::from_fn(|_| all_day.clone()),
        closed_holidays: Default::default(),
        closed_days: Default::default(),
        special_days: Default::default(),
    }
}

/// The queue promises a first answer within 8 hours and a resolution within 5 days.
async fn policy(app: &TestApp, slug: &str, queue: i64) -> TenantId {
    let slug = slug.to_string();
    app.db
        .write(move |c| -> Result<TenantId, Error> {
            let t = store::tenants::by_slug(c, &slug)?.unwrap().id;
            save_calendar(c, t, "Dygnet runt", &always_open(), true)?;
            let q = store::queues::lookup(c, t, queue)?.unwrap().id;
            let input = PolicyInput {
                first_response: "8h".into(),
                resolution: "5d".into(),
                warn_percent: Some(75),
                ..Default::default()
            };
            save_policy(c, t, q, Priority::Normal, &input)?;
            Ok(t)
        })
        .await
        .unwrap()
}

type State = (store::tickets::Ticket, Vec<store::sla::ClockRow>);

async fn state(app: &TestApp, t: TenantId, number: &str) -> State {
    let number = TicketNumber::parse(number).unwrap();
    app.db
        .read(move |c| -> Result<_, Error> {
            let tk = store::tickets::by_number(c, t, &QueueAccess::All, &number)?.unwrap();
            let clocks = store::sla::clocks(c, t, tk.id)?;
            Ok((tk, clocks))
        })
        .await
        .unwrap()
}

/// The ticket and its clocks once `ready` holds (the app's follower keeps them); panics naming
/// `what` after 20 s.
async fn wait(
    app: &TestApp,
    t: TenantId,
    number: &str,
    what: &str,
    ready: impl Fn(&State) -> bool,
) -> State {
    let mut s = state(app, t, number).await;
    for _ in 0..200 {
        if ready(&s) {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        s = state(app, t, number).await;
    }
    panic!("{what}: {:?} {:?}", s.0.status, s.1);
}

fn clock(s: &State, target: Target) -> Option<&store::sla::ClockRow> {
    s.1.iter().find(|c| c.target == target.key())
}

fn running(s: &State) -> bool {
    s.1.iter()
        .any(|c| c.running_since.is_some() || c.next_check_at.is_some())
}

fn first_running(s: &State) -> bool {
    clock(s, Target::FirstResponse).is_some_and(|c| c.running_since.is_some())
}

/// First-response targets met this month in the tenant: (met, in time).
async fn first_response_met(app: &TestApp, t: TenantId) -> (i64, i64) {
    let month =
        arendo::sla::report::month_bounds(Utc::now().date_naive().with_day0(0).unwrap()).unwrap();
    app.db
        .read(move |c| -> Result<_, Error> {
            Ok(store::sla::met_counts(c, t, month.0, month.1)?
                .into_iter()
                .filter(|(_, target, ..)| target == "first_response")
                .fold((0, 0), |(m, i), (_, _, met, in_time)| {
                    (m + met, i + in_time)
                }))
        })
        .await
        .unwrap()
}

use chrono::Datelike;

fn ticket_number_in(text: &str) -> String {
    let at = text.find("KC-").expect("a ticket number");
    text[at..at + 14].to_string()
}

/// Maria mails Kundtjänst and gets the automatic acknowledgement; Olle asks the same through the
/// web. Nobody has answered either: both first-response clocks run with the same budget, the
/// acknowledgement shows as automatic on the ticket, and the month's "Första svar" counts
/// nothing. When Anna answers Maria, that answer meets the target.
async fn an_acknowledgement_is_not_the_first_answer(b: Backend) {
    let app = TestApp::spawn_with(b, &[("ARENDO_MAIL__IMAP_ENABLED", "false")]).await;
    let org = app.org("alby").await;
    let t = policy(&app, &org.slug, org.queue_a).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("1.eml"),
        crate::mail::mail(
            "Maria Lind <maria@example.org>",
            "kundtjanst@alby.se",
            "Fråga om bygglov",
            "bygglov-1@example.org",
            "",
            "Hej! Behöver jag bygglov för ett plank?",
        ),
    )
    .unwrap();
    let out = app.import_dir(&org.slug, "kundtjanst", dir.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ack = app.outbox_mails("maria@example.org").await;
    assert_eq!(ack.len(), 1, "Maria is acknowledged");
    let mailed = ticket_number_in(ack[0]["subject"].as_str().unwrap());
    let web = app
        .create_ticket(&org.agent_a.token, org.queue_a, "Fråga om bygglov")
        .await;
    let web = web["number"].as_str().unwrap().to_string();

    let m = wait(&app, t, &mailed, "the mailed ticket's clocks", |s| {
        clock(s, Target::FirstResponse).is_some()
    })
    .await;
    let w = wait(&app, t, &web, "the web ticket's clocks", first_running).await;
    let (mf, wf) = (
        clock(&m, Target::FirstResponse).unwrap(),
        clock(&w, Target::FirstResponse).unwrap(),
    );
    assert_eq!(mf.met_at, None, "the acknowledgement is no answer: {mf:?}");
    assert!(mf.running_since.is_some(), "{mf:?}");
    assert_eq!(m.0.sla_clock, Some(SlaClock::Running));
    assert_eq!(m.0.first_response_at, None);
    // Same promise, same time left (both counted from their own arrival).
    let left = |s: &State| s.0.sla_due_at.unwrap() - s.0.created_at;
    assert_eq!(mf.budget_secs, wf.budget_secs);
    assert!(
        (left(&m) - left(&w)).abs() < TimeDelta::minutes(1),
        "mail {:?} web {:?}",
        left(&m),
        left(&w)
    );
    assert_eq!(first_response_met(&app, t).await, (0, 0));

    // The ticket shows the acknowledgement as automatic, not as a person's reply.
    let agent = app.browser();
    app.login(&agent, "alby", &org.agent_a.email, &org.agent_a.password)
        .await;
    let html = agent
        .get(app.url(&format!("/tickets/{mailed}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("msg-automatic") && html.contains("Automatiskt utskick"),
        "the acknowledgement is marked automatic"
    );

    // A person's answer meets the target.
    let r = reqwest::Client::new()
        .post(app.url(&format!("/api/v1/tickets/{mailed}/messages")))
        .bearer_auth(&org.agent_a.token)
        .json(&json!({ "kind": "reply", "body": "Hej Maria! Ett plank under 1,1 m behöver inget lov." }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let m = wait(&app, t, &mailed, "the answer meets the target", |s| {
        clock(s, Target::FirstResponse).is_some_and(|c| c.met_at.is_some())
    })
    .await;
    assert!(m.0.first_response_at.is_some());
    assert_eq!(first_response_met(&app, t).await, (1, 1));
}
both_backends!(an_acknowledgement_is_not_the_first_answer);

/// Three tickets in VA: one is resolved, one merged into the third. The resolved and the merged
/// ticket keep no clock (no badge, paused or running) and a sweep days later warns about
/// neither; the surviving ticket's clock still runs.
async fn resolving_and_merging_stop_every_clock(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("slastopp").await;
    let t = policy(&app, &org.slug, org.queue_b).await;
    let mut numbers = vec![];
    for subject in [
        "Läcka i källaren",
        "Vatten på gatan",
        "Vatten på gatan igen",
    ] {
        let v = app
            .create_ticket(&org.agent_b.token, org.queue_b, subject)
            .await;
        numbers.push(v["number"].as_str().unwrap().to_string());
    }
    for n in &numbers {
        wait(&app, t, n, "clocks from creation", first_running).await;
    }
    app.patch_ticket(
        &org.agent_b.token,
        &numbers[0],
        json!({ "status": "resolved" }),
    )
    .await;
    let agent = app.browser();
    app.login(&agent, &org.slug, &org.agent_b.email, &org.agent_b.password)
        .await;
    let page = agent
        .get(app.url(&format!("/tickets/{}", numbers[1])))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = csrf_in(&page);
    let r = agent
        .post(app.url(&format!("/tickets/{}/merge", numbers[1])))
        .form(&[("csrf", csrf.as_str()), ("other", numbers[2].as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);

    for (n, what) in [(&numbers[0], "resolved"), (&numbers[1], "merged")] {
        let s = wait(&app, t, n, what, |s| {
            !s.0.status.is_open() && s.0.sla_clock.is_none() && !running(s)
        })
        .await;
        assert_eq!((s.0.sla_due_at, s.0.sla_warn_at), (None, None), "{what}");
    }
    assert!(matches!(
        state(&app, t, &numbers[1]).await.0.status,
        Status::Closed
    ));
    let s = wait(&app, t, &numbers[2], "the survivor runs", first_running).await;
    assert_eq!(s.0.sla_clock, Some(SlaClock::Running));

    // Ten days later the sweeper fires for the open ticket only.
    let later = Utc::now() + TimeDelta::days(10);
    let notices = Notices {
        from: "arendo@example.org".into(),
        public_url: "http://127.0.0.1".into(),
    };
    let db = app.db.clone();
    tokio::task::spawn_blocking(move || sweep(&db, &notices, later, 500))
        .await
        .unwrap()
        .unwrap();
    for (i, n) in numbers.iter().enumerate() {
        let d: Value = reqwest::Client::new()
            .get(app.url(&format!("/api/v1/tickets/{n}")))
            .bearer_auth(&org.agent_b.token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let fired = d["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == "sla_warning" || e["kind"] == "sla_breached")
            .count();
        assert_eq!(fired > 0, i == 2, "{n}: {fired} SLA events");
    }
}
both_backends!(resolving_and_merging_stop_every_clock);

async fn referral_target(app: &TestApp, slug: &str, name: &str, pauses_sla: bool) -> i64 {
    let (slug, name) = (slug.to_string(), name.to_string());
    app.db
        .write(move |c| -> Result<i64, Error> {
            let t = store::tenants::by_slug(c, &slug)?.unwrap().id;
            arendo::escalation::referral::save_target(
                c,
                t,
                &ReferralTarget {
                    email: format!("{}@{slug}.se", name.to_lowercase()),
                    name,
                    response_days: 10,
                    allow_citizen_reply: false,
                    pauses_sla,
                },
            )
        })
        .await
        .unwrap()
}

/// Bertil refers a noise complaint to the environment department: the ticket waits for an
/// external party and its clock stops while the department has its ten days; the department's
/// answer resumes it. A target set to keep the clock running (the department's answer is part
/// of the queue's own work) leaves the ticket and its clock as they were.
async fn a_referral_pauses_the_sla_until_its_answer(b: Backend) {
    let app = TestApp::spawn_with(b, &[("ARENDO_OUTBOX__RETRY_BASE_MS", "200")]).await;
    let org = app.org("slaremiss").await;
    let t = policy(&app, &org.slug, org.queue_b).await;
    let miljo = referral_target(&app, &org.slug, "Miljo", true).await;
    let bygg = referral_target(&app, &org.slug, "Bygg", false).await;
    let paused = app
        .create_ticket(&org.agent_b.token, org.queue_b, "Buller från bygget")
        .await["number"]
        .as_str()
        .unwrap()
        .to_string();
    let kept = app
        .create_ticket(&org.agent_b.token, org.queue_b, "Bygglov för plank")
        .await["number"]
        .as_str()
        .unwrap()
        .to_string();
    for n in [&paused, &kept] {
        wait(&app, t, n, "clocks from creation", first_running).await;
    }
    let agent = app.browser();
    app.login(&agent, &org.slug, &org.agent_b.email, &org.agent_b.password)
        .await;
    for (n, target) in [(&paused, miljo), (&kept, bygg)] {
        assert_eq!(
            app.escalate(&agent, n, &target.to_string(), "Kan ni svara?")
                .await,
            303
        );
    }
    // The follower stores the clocks moments after the referral: wait for both.
    let s = wait(&app, t, &paused, "the referral pauses", |s| {
        s.0.status == Status::Waiting && !running(s) && s.0.sla_clock == Some(SlaClock::Paused)
    })
    .await;
    assert_eq!(
        s.0.waiting_on,
        Some(arendo::domain::WaitingOn::External),
        "waiting for external"
    );
    assert_eq!(s.0.sla_clock, Some(SlaClock::Paused));

    // The department that is part of the work: nothing pauses.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let k = state(&app, t, &kept).await;
    assert!(k.0.status.is_open() && k.0.status != Status::Waiting);
    assert!(first_running(&k), "{:?}", k.1);

    // The department answers the agent: the clock runs again.
    let mut mail = None;
    for _ in 0..100 {
        mail = app
            .outbox_mails(&format!("miljo@{}.se", org.slug))
            .await
            .into_iter()
            .next();
        if mail.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mail = mail.expect("the department was mailed");
    let text = mail["text"].as_str().unwrap();
    let at = text.find("/remiss/").unwrap();
    let path = text[at..].split_whitespace().next().unwrap().to_string();
    let handler = app.browser();
    let html = handler
        .get(app.url(&path))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = csrf_in(&html);
    let r = handler
        .post(app.url(&format!("{path}/answer")))
        .form(&[
            ("csrf", csrf.as_str()),
            ("text", "Arbetstiderna är 07–19."),
            ("to", "agent"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let s = wait(&app, t, &paused, "the answer resumes", first_running).await;
    assert_eq!(s.0.status, Status::Open);
    assert_eq!(s.0.sla_clock, Some(SlaClock::Running));
}
both_backends!(a_referral_pauses_the_sla_until_its_answer);
