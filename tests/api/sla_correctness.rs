//! SLA clocks measure people, not robots (issue 17, points 9, 11 and 12): an acknowledgement is no
//! answer, a referral pauses the clock until its answer, and resolving, closing and merging stop
//! every clock.

use std::time::Duration;

use arendo::domain::{Priority, QueueAccess, SlaClock, Status, TenantId, TicketNumber};
use arendo::error::Error;
use arendo::escalation::ReferralTarget;
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
        apply: arendo::tickets::breach::apply,
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
            arendo::escalation::save_referral_target(
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

/// Mails into Kundtjänst's import folder (one file each, in this order).
fn import(app: &TestApp, slug: &str, mails: &[Vec<u8>]) {
    let dir = tempfile::tempdir().unwrap();
    for (i, raw) in mails.iter().enumerate() {
        std::fs::write(dir.path().join(format!("{i:02}.eml")), raw).unwrap();
    }
    let out = app.import_dir(slug, "kundtjanst", dir.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn ticket_by_subject(app: &TestApp, token: &str, subject: &str) -> String {
    let list: Value = reqwest::Client::new()
        .get(app.url("/api/v1/tickets?limit=200"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    list["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["subject"] == subject)
        .unwrap_or_else(|| panic!("a ticket {subject:?} in {list}"))["number"]
        .as_str()
        .unwrap()
        .to_string()
}

/// An out-of-office notice and a newsletter reach kundtjanst@, then Maria's question. Maria's
/// ticket runs its clock; the two automatic ones run none, are marked "Automatiskt" in the list
/// and on the ticket, and stay out of Mitt arbete until the agent asks to see them. When Kalle
/// (who sent the out-of-office) writes for real in that thread, his ticket becomes people's
/// work and its clock starts. Kalle's out-of-office answering Anna's reply to Maria neither
/// reopens Maria's resolved ticket nor counts as her writing (issue 17, point 10).
async fn automatic_mail_runs_no_clock_and_stays_out_of_my_work(b: Backend) {
    let app = TestApp::spawn_with(b, &[("ARENDO_MAIL__IMAP_ENABLED", "false")]).await;
    let org = app.org("alby").await;
    let t = policy(&app, &org.slug, org.queue_a).await;
    let mail = crate::mail::mail;
    import(
        &app,
        &org.slug,
        &[
            mail(
                "Kalle Berg <kalle@example.org>",
                "kundtjanst@alby.se",
                "Frånvarobesked: Semester",
                "ooo-1@example.org",
                "Auto-Submitted: auto-replied\r\n",
                "Jag är på semester till 4 januari.",
            ),
            mail(
                "Nyhetsbrev <news@lista.example>",
                "kundtjanst@alby.se",
                "Veckans nyheter",
                "news-7@lista.example",
                "Precedence: bulk\r\nList-Id: <nyheter.lista.example>\r\n",
                "Här är veckans nyheter.",
            ),
            mail(
                "Maria Lind <maria@example.org>",
                "kundtjanst@alby.se",
                "Fråga om sophämtning",
                "sopor-1@example.org",
                "",
                "Hej! När töms kärlen i Alby?",
            ),
        ],
    );
    let token = &org.agent_a.token;
    let maria = ticket_by_subject(&app, token, "Fråga om sophämtning").await;
    let ooo = ticket_by_subject(&app, token, "Frånvarobesked: Semester").await;
    let news = ticket_by_subject(&app, token, "Veckans nyheter").await;
    // The follower refreshes in order of change: once Maria's clock runs, the earlier two have
    // been refreshed as well.
    wait(&app, t, &maria, "Maria's clock", first_running).await;
    for n in [&ooo, &news] {
        let s = state(&app, t, n).await;
        assert!(s.0.automatic.is_some(), "{n} is marked automatic");
        assert!(s.1.is_empty(), "{n} runs no clock: {:?}", s.1);
        assert_eq!((s.0.sla_due_at, s.0.sla_clock), (None, None));
    }
    let api: Value = reqwest::Client::new()
        .get(app.url(&format!("/api/v1/tickets/{ooo}")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(api["automatic"], "auto_submitted");

    let agent = app.browser();
    app.login(&agent, "alby", &org.agent_a.email, &org.agent_a.password)
        .await;
    let page = |path: String| {
        let agent = agent.clone();
        let url = app.url(&path);
        async move {
            let r = agent.get(url).send().await.unwrap();
            assert_eq!(r.status(), 200);
            r.text().await.unwrap()
        }
    };
    let work = page("/".into()).await;
    assert!(work.contains(&maria), "Maria's ticket is in Mitt arbete");
    assert!(
        !work.contains(&ooo) && !work.contains(&news),
        "automatic tickets are left out of Mitt arbete"
    );
    assert!(
        work.contains("2 ärenden från automatisk e-post") && work.contains("/?automatiska=1"),
        "Mitt arbete says what it leaves out and how to see it"
    );
    let all = page("/?automatiska=1".into()).await;
    assert!(all.contains(&ooo) && all.contains(&news) && all.contains(&maria));
    let list = page(format!("/tickets?queue={}", org.queue_a)).await;
    let row_of = |html: &str, n: &str| {
        let at = html.find(&format!("data-number=\"{n}\"")).unwrap();
        html[at..at + html[at..].find("</tr>").unwrap()].to_string()
    };
    assert!(row_of(&list, &ooo).contains("badge-automatic"));
    assert!(row_of(&list, &news).contains("Automatiskt"));
    assert!(!row_of(&list, &maria).contains("badge-automatic"));
    let ticket = page(format!("/tickets/{ooo}")).await;
    assert!(ticket.contains("badge-automatic") && ticket.contains("Automatisk e-post"));

    // Kalle writes for real in his thread: people's work from now on.
    import(
        &app,
        &org.slug,
        &[mail(
            "Kalle Berg <kalle@example.org>",
            "kundtjanst@alby.se",
            "Re: Frånvarobesked: Semester",
            "kalle-2@example.org",
            "In-Reply-To: <ooo-1@example.org>\r\n",
            "Nu är jag tillbaka. Var kan jag hämta nya sopkärl?",
        )],
    );
    let s = wait(&app, t, &ooo, "Kalle's clock once he writes", first_running).await;
    assert_eq!(s.0.automatic, None);
    let since = clock(&s, Target::FirstResponse)
        .unwrap()
        .running_since
        .unwrap();
    assert!(
        since > s.0.created_at,
        "the clock starts when Kalle wrote ({since}), not when his out-of-office came ({})",
        s.0.created_at
    );
    assert!(page("/".into()).await.contains(&ooo));

    // Anna answers Maria and resolves; an out-of-office answering that reply changes nothing.
    let r = reqwest::Client::new()
        .post(app.url(&format!("/api/v1/tickets/{maria}/messages")))
        .bearer_auth(token)
        .json(&json!({ "kind": "reply", "body": "Hej Maria! Kärlen töms på tisdagar." }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    app.patch_ticket(token, &maria, json!({ "status": "resolved" }))
        .await;
    let done = wait(&app, t, &maria, "Maria's ticket resolved", |s| {
        s.0.status == Status::Resolved && !running(s)
    })
    .await;
    import(
        &app,
        &org.slug,
        &[mail(
            "Maria Lind <maria@example.org>",
            "kundtjanst@alby.se",
            "Automatiskt svar: Fråga om sophämtning",
            "maria-ooo@example.org",
            "Auto-Submitted: auto-replied\r\nIn-Reply-To: <sopor-1@example.org>\r\n",
            "Jag är ledig till måndag.",
        )],
    );
    let after = state(&app, t, &maria).await;
    assert_eq!(after.0.status, Status::Resolved, "not reopened");
    assert!(!running(&after), "{:?}", after.1);
    assert_eq!(after.0.first_response_at, done.0.first_response_at);
    let events: Value = reqwest::Client::new()
        .get(app.url(&format!("/api/v1/tickets/{maria}")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let msgs = events["messages"].as_array().unwrap();
    assert_eq!(
        msgs.len(),
        4,
        "question, acknowledgement, reply, out-of-office"
    );
    assert!(
        msgs.iter()
            .any(|m| m["kind"] == "inbound" && m["auto_sent"] == true),
        "the out-of-office is kept, marked automatic"
    );
}
both_backends!(automatic_mail_runs_no_clock_and_stays_out_of_my_work);
