//! "Nytt ärende": an agent registers a contact that did not come by mail — a phone call answered
//! on the spot, a letter that waits in the queue — through the same use case as the API. The
//! contact is found among the municipality's own contacts only, routing rules leave the ticket
//! where the agent put it, and a refused form comes back with everything typed.

use std::time::Duration;

use arendo::domain::{Priority, QueueAccess, TenantId, TicketNumber};
use arendo::error::Error;
use arendo::sla::Calendar;
use arendo::sla::admin::{PolicyInput, save_calendar, save_policy};
use arendo::sla::calendar::DayHours;
use arendo::store;
use serde_json::Value;

use crate::both_backends;
use crate::helpers::{Backend, TestApp, csrf_in};

/// Open around the clock: the clocks run whenever the test runs.
async fn with_service_level(app: &TestApp, slug: &str, queue: i64) -> TenantId {
    let slug = slug.to_string();
    app.db
        .write(move |c| -> Result<TenantId, Error> {
            let t = store::tenants::by_slug(c, &slug)?.unwrap().id;
            let all_day = DayHours::parse("00:00-24:00").unwrap();
            let cal = Calendar {
                week: std::array::from_fn(|_| all_day.clone()),
                closed_holidays: Default::default(),
                closed_days: Default::default(),
                special_days: Default::default(),
            };
            save_calendar(c, t, "Dygnet runt", &cal, true)?;
            let q = store::queues::lookup(c, t, queue)?.unwrap().id;
            let policy = PolicyInput {
                first_response: "4h".into(),
                resolution: "5d".into(),
                ..Default::default()
            };
            save_policy(c, t, q, Priority::Normal, &policy)?;
            Ok(t)
        })
        .await
        .unwrap()
}

async fn page(app: &TestApp, browser: &reqwest::Client, path: &str) -> (u16, String) {
    let r = browser.get(app.url(path)).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// Fill in "Nytt ärende" and send it; (status, Location or page).
async fn register(
    app: &TestApp,
    browser: &reqwest::Client,
    fields: &[(&str, &str)],
    files: Vec<(&str, &str, Vec<u8>)>,
) -> (u16, String) {
    let (status, html) = page(app, browser, "/tickets/new").await;
    assert_eq!(status, 200, "{html}");
    let mut form = reqwest::multipart::Form::new().text("csrf", csrf_in(&html));
    for (k, v) in fields {
        form = form.text(k.to_string(), v.to_string());
    }
    for (name, ctype, bytes) in files {
        form = form.part(
            "files",
            reqwest::multipart::Part::bytes(bytes)
                .file_name(name.to_string())
                .mime_str(ctype)
                .unwrap(),
        );
    }
    let r = browser
        .post(app.url("/tickets/new"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    if status == 303 {
        let loc = r.headers()["location"].to_str().unwrap().to_string();
        return (status, loc);
    }
    (status, r.text().await.unwrap())
}

/// The ticket number in a `/tickets/{number}?ok=…` location.
fn number_in(location: &str) -> String {
    let rest = location.strip_prefix("/tickets/").expect(location);
    rest.split('?').next().unwrap().to_string()
}

async fn detail(app: &TestApp, token: &str, number: &str) -> Value {
    let r = reqwest::Client::new()
        .get(app.url(&format!("/api/v1/tickets/{number}")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

fn has_event(d: &Value, kind: &str) -> bool {
    d["events"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["kind"] == kind)
}

async fn intake(app: &TestApp, slug: &str, number: &str) -> Option<store::intake::Intake> {
    let (slug, number) = (slug.to_string(), TicketNumber::parse(number).unwrap());
    app.db
        .read(move |c| -> Result<_, Error> {
            let t = store::tenants::by_slug(c, &slug)?.unwrap().id;
            let tk = store::tickets::by_number(c, t, &QueueAccess::All, &number)?.unwrap();
            Ok(store::intake::get(c, t, tk.id)?)
        })
        .await
        .unwrap()
}

async fn ticket_count(app: &TestApp, token: &str) -> usize {
    let r: Value = reqwest::Client::new()
        .get(app.url("/api/v1/tickets?limit=100"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    r["tickets"].as_array().unwrap().len()
}

/// The value of the first `<option>` of `<select id="{id}">` that has a value.
fn first_option(html: &str, id: &str) -> String {
    let at = html.find(&format!("id=\"{id}\"")).expect(id);
    let rest = &html[at..html[at..].find("</select>").unwrap() + at];
    let mut values = rest.split("<option value=\"").skip(1);
    values
        .find_map(|v| {
            let v = &v[..v.find('"').unwrap()];
            (!v.is_empty()).then(|| v.to_string())
        })
        .expect("an option with a value")
}

/// A caller asks how to report a water leak; the agent answers from the knowledge base during the
/// call and ticks "Besvarat direkt": the ticket is resolved at once, counted as answered at first
/// contact, no service-level clock runs, the article is recorded and the citizen gets no mail.
async fn a_call_answered_directly_is_resolved_at_first_contact(b: Backend) {
    let app = TestApp::spawn_with(b, &[("ARENDO_MAIL__IMAP_ENABLED", "false")]).await;
    let org = app.org("alby").await;
    with_service_level(&app, "alby", org.queue_a).await;
    // The starter articles arrive at the next start.
    let app = app.restart().await;
    let agent = app.browser();
    app.login(&agent, "alby", &org.agent_a.email, &org.agent_a.password)
        .await;

    let (status, form) = page(&app, &agent, "/").await;
    assert_eq!(status, 200);
    assert!(
        form.contains("href=\"/tickets/new\""),
        "the workspace links to Nytt ärende"
    );
    let (_, form) = page(&app, &agent, "/tickets/new").await;
    assert!(form.contains("Besvarat direkt"), "{form}");
    let article = first_option(&form, "nt-kb");

    let (status, location) = register(
        &app,
        &agent,
        &[
            ("channel", "phone"),
            ("queue", &org.queue_a.to_string()),
            ("contact_name", "Maria Lind"),
            ("contact_email", "maria@example.org"),
            ("contact_phone", "070-123 45 67"),
            ("subject", "Hur anmäler jag en vattenläcka?"),
            ("body", "Hon ser vatten på gatan utanför huset."),
            ("answered", "1"),
            ("kb_article", &article),
            ("note", "Hänvisade till VA-jouren."),
            ("priority", "normal"),
        ],
        vec![],
    )
    .await;
    assert_eq!(status, 303, "{location}");
    assert!(location.ends_with("?ok=registered_answered"), "{location}");
    let number = number_in(&location);
    let (status, html) = page(&app, &agent, &location).await;
    assert_eq!(status, 200);
    assert!(html.contains("besvarat direkt"), "the page says so: {html}");

    let d = detail(&app, &org.agent_a.token, &number).await;
    assert_eq!(d["status"], "resolved", "{d}");
    assert_eq!(d["channel"], "phone");
    assert_eq!(d["queue_id"], org.queue_a);
    assert!(d["first_response_at"].is_string(), "answered: {d}");
    assert!(d["resolved_at"].is_string());
    assert!(has_event(&d, "kb_used"), "the article is recorded: {d}");
    assert!(has_event(&d, "registered_by_agent"));
    assert_eq!(d["contact"]["phone"], "+46701234567");
    let kinds: Vec<&str> = d["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["inbound", "note"], "{d}");
    let i = intake(&app, "alby", &number)
        .await
        .expect("intake recorded");
    assert_eq!(i.channel, "phone");
    assert!(i.answered_at_first_contact);
    assert_eq!(i.registered_by, Some(org.agent_a.id));

    // No clock runs, also after the follower has seen the ticket.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let d = detail(&app, &org.agent_a.token, &number).await;
    assert_ne!(d["sla_clock"], "running", "{d}");
    assert!(d["sla_due_at"].is_null(), "{d}");
    assert!(
        app.outbox_mails("maria@example.org").await.is_empty(),
        "an answered call sends nothing"
    );
}
both_backends!(a_call_answered_directly_is_resolved_at_first_contact);

/// A scanned letter is registered and waits in the queue with its service level running; the
/// citizen who asked for it gets an acknowledgement by e-mail, one who did not gets nothing.
async fn a_registered_letter_waits_in_the_queue_and_is_acknowledged_when_asked(b: Backend) {
    let app = TestApp::spawn_with(b, &[("ARENDO_MAIL__IMAP_ENABLED", "false")]).await;
    let org = app.org("alby").await;
    with_service_level(&app, "alby", org.queue_a).await;
    let agent = app.browser();
    app.login(&agent, "alby", &org.agent_a.email, &org.agent_a.password)
        .await;
    let queue = org.queue_a.to_string();

    let (status, quiet) = register(
        &app,
        &agent,
        &[
            ("channel", "visit"),
            ("queue", &queue),
            ("contact_name", "Lisa Ek"),
            ("contact_email", "lisa@example.org"),
            ("subject", "Bygglov för altan"),
            ("body", "Hon undrar om hon behöver bygglov för en altan."),
        ],
        vec![],
    )
    .await;
    assert_eq!(status, 303, "{quiet}");
    // A scanned page is a few hundred kilobytes.
    let mut scan = b"%PDF-1.4 brevet inskannat\n".to_vec();
    scan.resize(400 * 1024, b'x');
    let (status, location) = register(
        &app,
        &agent,
        &[
            ("channel", "letter"),
            ("queue", &queue),
            ("contact_name", "Karl Berg"),
            ("contact_email", "karl@example.org"),
            ("subject", "Klagomål på snöröjningen"),
            ("body", "Brev om att gatan inte plogats på två veckor."),
            ("acknowledge", "1"),
            ("priority", "normal"),
        ],
        vec![("brev.pdf", "application/pdf", scan.clone())],
    )
    .await;
    assert_eq!(status, 303, "{location}");
    assert!(location.ends_with("?ok=registered"), "{location}");
    let number = number_in(&location);

    let d = detail(&app, &org.agent_a.token, &number).await;
    assert_eq!(d["status"], "new", "{d}");
    assert!(d["first_response_at"].is_null(), "nobody has answered yet");
    assert_eq!(d["sla_clock"], "running", "{d}");
    assert!(d["sla_due_at"].is_string());
    let files = d["attachments"].as_array().unwrap();
    assert_eq!(files.len(), 1, "{d}");
    assert_eq!(files[0]["filename"], "brev.pdf");
    assert_eq!(files[0]["size_bytes"], scan.len());
    let i = intake(&app, "alby", &number).await.unwrap();
    assert_eq!(i.channel, "letter");
    assert!(!i.answered_at_first_contact);

    let mut acked = vec![];
    for _ in 0..100 {
        acked = app.outbox_mails("karl@example.org").await;
        if !acked.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(acked.len(), 1, "one acknowledgement to the citizen");
    assert!(
        acked[0]["subject"].as_str().unwrap().contains(&number),
        "{}",
        acked[0]
    );
    assert!(acked[0]["auto_submitted"].as_bool().unwrap());
    let d = detail(&app, &org.agent_a.token, &number).await;
    assert!(
        d["first_response_at"].is_null(),
        "an acknowledgement is no answer"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        app.outbox_mails("lisa@example.org").await.is_empty(),
        "no acknowledgement unless asked for"
    );
}
both_backends!(a_registered_letter_waits_in_the_queue_and_is_acknowledged_when_asked);

async fn contacts(app: &TestApp, browser: &reqwest::Client, q: &str) -> Vec<Value> {
    let r = browser
        .get(app.url("/contacts/search"))
        .query(&[("q", q)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

/// Typing a caller's name, address or number finds them among the municipality's own contacts;
/// another municipality's contacts are never found nor usable, and nobody signed out can search.
async fn contact_search_finds_only_the_municipalitys_own_contacts(b: Backend) {
    let app = TestApp::spawn_with(b, &[("ARENDO_MAIL__IMAP_ENABLED", "false")]).await;
    let alby = app.org("alby").await;
    let borby = app.org("borby").await;
    for (org, name, email, phone) in [
        (
            &alby,
            "Maria Lind",
            "maria.lind@example.org",
            "+46701234567",
        ),
        (
            &borby,
            "Maria Berg",
            "maria.berg@example.org",
            "+46709999999",
        ),
    ] {
        app.create_ticket_from(
            &org.agent_a.token,
            serde_json::json!({
                "queue": org.queue_a, "subject": "Fråga", "body": "Hej!",
                "contact": { "name": name, "email": email, "phone": phone }
            }),
        )
        .await;
    }
    let agent = app.browser();
    app.login(&agent, "alby", &alby.agent_a.email, &alby.agent_a.password)
        .await;

    let found = contacts(&app, &agent, "maria").await;
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["name"], "Maria Lind");
    assert_eq!(contacts(&app, &agent, "LIND@EXAMPLE").await.len(), 1);
    let by_phone = contacts(&app, &agent, "070-123").await;
    assert_eq!(by_phone.len(), 1, "a number typed as people say it");
    assert!(contacts(&app, &agent, "Berg").await.is_empty());
    assert!(contacts(&app, &agent, "0709999").await.is_empty());
    assert!(contacts(&app, &agent, "%").await.is_empty(), "no wildcards");

    // Borby's agent finds Borby's Maria only.
    let other = app.browser();
    app.login(
        &other,
        "borby",
        &borby.agent_a.email,
        &borby.agent_a.password,
    )
    .await;
    let theirs = contacts(&app, &other, "maria").await;
    assert_eq!(theirs.len(), 1);
    assert_eq!(theirs[0]["name"], "Maria Berg");
    let their_id = theirs[0]["id"].to_string();

    // The contact picked in the combobox is the ticket's contact; another municipality's is not.
    let queue = alby.queue_a.to_string();
    let mine = found[0]["id"].to_string();
    let fields = |contact: &str| {
        vec![
            ("channel", "phone".to_string()),
            ("queue", queue.clone()),
            ("contact_id", contact.to_string()),
            ("subject", "Sophämtning".to_string()),
            ("body", "Soporna hämtades inte i veckan.".to_string()),
        ]
    };
    let own: Vec<(&str, String)> = fields(&mine);
    let own: Vec<(&str, &str)> = own.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, location) = register(&app, &agent, &own, vec![]).await;
    assert_eq!(status, 303, "{location}");
    let d = detail(&app, &alby.agent_a.token, &number_in(&location)).await;
    assert_eq!(d["contact"]["email"], "maria.lind@example.org", "{d}");
    let before = ticket_count(&app, &alby.admin.token).await;
    let foreign: Vec<(&str, String)> = fields(&their_id);
    let foreign: Vec<(&str, &str)> = foreign.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, html) = register(&app, &agent, &foreign, vec![]).await;
    assert_eq!(status, 422, "{html}");
    assert!(
        !html.contains("Maria Berg"),
        "nothing of Borby's contact shows"
    );
    assert_eq!(ticket_count(&app, &alby.admin.token).await, before);

    let signed_out = app
        .browser()
        .get(app.url("/contacts/search?q=maria"))
        .send()
        .await
        .unwrap();
    assert_ne!(signed_out.status(), 200);
}
both_backends!(contact_search_finds_only_the_municipalitys_own_contacts);

/// A rule sends water leaks from Kundtjänst to VA. A leak reported through the API moves; a call
/// the agent registers in Kundtjänst stays there, with the priority the agent chose.
async fn routing_rules_do_not_move_a_ticket_an_agent_registered(b: Backend) {
    let app = TestApp::spawn_with(b, &[("ARENDO_MAIL__IMAP_ENABLED", "false")]).await;
    let org = app.org("alby").await;
    let admin = app.browser();
    app.login(&admin, "alby", &org.admin.email, &org.admin.password)
        .await;
    let csrf = app.csrf(&admin, "/admin/routing").await;
    let (kundtjanst, va) = (org.queue_a.to_string(), org.queue_b.to_string());
    let r = admin
        .post(app.url("/admin/routing"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("name", "Vattenläckor till VA"),
            ("enabled", "1"),
            ("match_queue", &kundtjanst),
            ("match_words", "vattenläcka"),
            ("set_priority", "high"),
            ("set_queue", &va),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());

    // The rule works: a ticket from an e-service moves.
    let api = app
        .create_ticket_from(
            &org.admin.token,
            serde_json::json!({ "queue": org.queue_a, "subject": "Vattenläcka", "body": "Vattenläcka på gatan." }),
        )
        .await;
    let d = detail(&app, &org.admin.token, &api).await;
    assert_eq!(d["queue_id"], org.queue_b, "{d}");

    let agent = app.browser();
    app.login(&agent, "alby", &org.agent_a.email, &org.agent_a.password)
        .await;
    let (status, location) = register(
        &app,
        &agent,
        &[
            ("channel", "phone"),
            ("queue", &kundtjanst),
            ("contact_phone", "0701112233"),
            ("subject", "Vattenläcka i källaren"),
            ("body", "Vattenläcka i källaren sedan i morse."),
            ("priority", "low"),
        ],
        vec![],
    )
    .await;
    assert_eq!(status, 303, "{location}");
    let d = detail(&app, &org.admin.token, &number_in(&location)).await;
    assert_eq!(
        d["queue_id"], org.queue_a,
        "stays where the agent put it: {d}"
    );
    assert_eq!(d["priority"], "low");
    assert!(!has_event(&d, "routed"), "{d}");
}
both_backends!(routing_rules_do_not_move_a_ticket_an_agent_registered);

/// A form with a mistake comes back with the mistake named in Swedish and everything the agent
/// typed kept; nothing is registered.
async fn a_refused_registration_comes_back_with_every_input_kept(b: Backend) {
    let app = TestApp::spawn_with(b, &[("ARENDO_MAIL__IMAP_ENABLED", "false")]).await;
    let org = app.org("alby").await;
    let agent = app.browser();
    app.login(&agent, "alby", &org.agent_a.email, &org.agent_a.password)
        .await;
    let queue = org.queue_a.to_string();
    let typed = [
        ("channel", "visit"),
        ("queue", queue.as_str()),
        ("contact_name", "Karl Svensson"),
        ("contact_email", "karl@example.org"),
        ("contact_phone", "0705556677"),
        ("body", "Han undrar när \"parkeringen\" på torget öppnar."),
        ("note", "Besökte receptionen kl 10."),
        ("priority", "high"),
        ("subject", "   "),
    ];
    let (status, html) = register(&app, &agent, &typed, vec![]).await;
    assert_eq!(status, 422, "{html}");
    assert!(html.contains("Skriv en rubrik"), "{html}");
    assert!(html.contains("value=\"Karl Svensson\""));
    assert!(html.contains("value=\"karl@example.org\""));
    assert!(html.contains("value=\"0705556677\""));
    assert!(html.contains("Han undrar när &quot;parkeringen&quot; på torget öppnar."));
    assert!(html.contains("Besökte receptionen kl 10."));
    assert!(html.contains("value=\"visit\" id=\"nt-channel-visit\" checked"));
    assert!(html.contains("value=\"high\" selected"));
    assert!(
        html.contains("id=\"nt-subject\" name=\"subject\" type=\"text\" required maxlength=\"300\" value=\"   \" autofocus"),
        "the cursor is in the refused field"
    );
    assert!(!html.contains("subject:"), "no English reason");

    let mut bad_mail = typed.to_vec();
    bad_mail.retain(|(k, _)| *k != "subject" && *k != "contact_email");
    bad_mail.push(("subject", "Parkering"));
    bad_mail.push(("contact_email", "karl@"));
    let (status, html) = register(&app, &agent, &bad_mail, vec![]).await;
    assert_eq!(status, 422);
    assert!(
        html.contains("E-postadressen ser inte ut att stämma"),
        "{html}"
    );
    assert!(html.contains("value=\"karl@\""));
    assert_eq!(ticket_count(&app, &org.admin.token).await, 0);
}
both_backends!(a_refused_registration_comes_back_with_every_input_kept);

/// Anna works in Kundtjänst only: the form offers her queues only, and a ticket posted into VA is
/// refused (the form comes back) and not created.
async fn an_agent_cannot_register_in_a_queue_they_are_not_in(b: Backend) {
    let app = TestApp::spawn_with(b, &[("ARENDO_MAIL__IMAP_ENABLED", "false")]).await;
    let org = app.org("alby").await;
    let agent = app.browser();
    app.login(&agent, "alby", &org.agent_a.email, &org.agent_a.password)
        .await;
    let (_, form) = page(&app, &agent, "/tickets/new").await;
    assert!(form.contains(">Kundtjänst</option>"), "{form}");
    assert!(!form.contains(">VA</option>"), "only her own queues");
    let (status, html) = register(
        &app,
        &agent,
        &[
            ("channel", "phone"),
            ("queue", &org.queue_b.to_string()),
            ("contact_name", "Eva Holm"),
            ("subject", "Vattenmätare"),
            ("body", "Mätaren läcker."),
        ],
        vec![],
    )
    .await;
    assert_eq!(status, 422, "{html}");
    assert!(html.contains("Välj en av dina köer"), "{html}");
    assert!(html.contains("value=\"Eva Holm\""));
    assert_eq!(ticket_count(&app, &org.admin.token).await, 0);
}
both_backends!(an_agent_cannot_register_in_a_queue_they_are_not_in);
