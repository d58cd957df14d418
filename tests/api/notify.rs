//! Citizens are told what happens to their ticket, on the channel they chose, with no content
//! from a protected queue (information class).

use std::time::Duration;

use arendo::notify::sms::GatewayInput;
use arendo::secrets::Keys;
use arendo::store;

use crate::both_backends;
use crate::helpers::{Backend, TestApp};
use crate::sms::{field, start_gateway};

async fn citizens_are_told_on_their_channel_and_protected_queues_say_nothing(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("ARENDO_OUTBOX__RETRY_BASE_MS", "200")]).await;
    let org = app.org("alby").await;
    let (url, sent) = start_gateway();
    let keys = Keys::from_hex(&app.key_hex).unwrap();
    let queue_b = org.queue_b;
    let t = app
        .db
        .write(move |c| -> Result<_, arendo::error::Error> {
            let t = arendo::tenants::tenant_by_slug(c, "alby")?.id;
            arendo::notify::sms::save_gateway(
                c,
                &keys,
                t,
                &GatewayInput {
                    provider: "rest".into(),
                    url: Some(url),
                    username: Some("u".into()),
                    password: Some("p".into()),
                    sender: "Alby".into(),
                    nordic_gsm7: false,
                    price_ore: 45,
                    body_template: String::new(),
                    content_type: "application/json".into(),
                    id_pointer: "/id".into(),
                },
            )?;
            // VA handles protected matters: information class 3.
            let q = store::queues::lookup(c, t, queue_b)?.unwrap().id;
            store::queues::set_notify_settings(c, t, q, "waiting,resolved", 3)?;
            Ok(t)
        })
        .await
        .unwrap();
    let create = |queue: i64, subject: &'static str, contact: serde_json::Value| {
        app.create_ticket_from(
            &org.admin.token,
            serde_json::json!({
                "queue": queue, "subject": subject, "body": "Se ämnet.", "contact": contact,
            }),
        )
    };

    // An e-mail contact in an open queue: told by mail, with what the ticket is about.
    let mail_ticket = create(
        org.queue_a,
        "Fråga om parkeringstillstånd",
        serde_json::json!({ "name": "Maria Lind", "email": "maria@example.org" }),
    )
    .await;
    app.patch_ticket(
        &org.admin.token,
        &mail_ticket,
        serde_json::json!({ "status": "resolved" }),
    )
    .await;

    // A contact who chose SMS, in the protected queue: a notice with only the number.
    let sms_ticket = create(
        org.queue_b,
        "Skyddad adress Storgatan 5",
        serde_json::json!({ "name": "Omar Said", "phone": "0701234567", "preferred_channel": "sms" }),
    )
    .await;
    app.patch_ticket(
        &org.admin.token,
        &sms_ticket,
        serde_json::json!({ "status": "waiting", "waiting_on": "citizen" }),
    )
    .await;

    for _ in 0..100 {
        if !sent.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let sms: Vec<String> = sent
        .lock()
        .unwrap()
        .iter()
        .map(|(_, form)| field(form, "message").to_string())
        .collect();
    assert_eq!(sms.len(), 1, "{sms:?}");
    let notice =
        format!("alby kommun: Vi behöver mer information från dig i ärende {sms_ticket}. ");
    assert!(sms[0].starts_with(&notice), "{}", sms[0]);
    let link = &sms[0][notice.len()..];
    assert!(
        link.contains("/status/"),
        "a link to the status page: {link}"
    );
    assert!(
        !sms[0].contains("Storgatan"),
        "no content from a class-3 queue"
    );

    let mails: Vec<serde_json::Value> = app
        .db
        .read(move |c| -> Result<_, arendo::error::Error> { Ok(store::outbox::recent(c, t, 50)?) })
        .await
        .unwrap()
        .into_iter()
        .filter(|i| i.kind == "mail")
        .map(|i| serde_json::from_str(&i.payload).unwrap())
        .collect();
    let told: Vec<&serde_json::Value> = mails
        .iter()
        .filter(|m| m["to"][0] == "maria@example.org")
        .collect();
    assert_eq!(told.len(), 1, "{mails:#?}");
    assert_eq!(
        told[0]["subject"],
        format!("Ditt ärende {mail_ticket} är löst")
    );
    let text = told[0]["text"].as_str().unwrap();
    assert!(text.starts_with("Hej Maria Lind!"), "{text}");
    assert!(
        text.contains("Fråga om parkeringstillstånd"),
        "class 1: with content: {text}"
    );
    assert_eq!(told[0]["auto_submitted"], true);
    // Omar's ticket sent no mail (he chose SMS and has no address).
    assert!(
        !mails
            .iter()
            .any(|m| m["subject"].as_str().unwrap_or("").contains(&sms_ticket))
    );
}
both_backends!(citizens_are_told_on_their_channel_and_protected_queues_say_nothing);

async fn admins_choose_what_a_queue_tells_citizens(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let org = app.org("alby").await;
    let admin = app.browser();
    app.login(&admin, "alby", &org.admin.email, &org.admin.password)
        .await;
    let page = format!("/admin/queues/{}", org.queue_a);
    let html = admin
        .get(app.url(&page))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("Medborgarkontakt"));
    let csrf = crate::helpers::csrf_in(&html);
    let r = admin
        .post(app.url(&format!("{page}/citizen")))
        .form(&[
            ("csrf", csrf.as_str()),
            ("events", "resolved"),
            ("events", "escalated"),
            ("info_class", "3"),
            ("escalation_target", ""),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let queue = org.queue_a;
    let (events, class) = app
        .db
        .read(move |c| -> Result<_, arendo::error::Error> {
            let t = arendo::tenants::tenant_by_slug(c, "alby")?.id;
            let q = store::queues::lookup(c, t, queue)?.unwrap().id;
            Ok(store::queues::notify_settings(c, t, q)?)
        })
        .await
        .unwrap();
    assert_eq!((events.as_str(), class), ("resolved,escalated", 3));
    let html = admin
        .get(app.url(&page))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("value=\"3\" selected"));

    // A bad class is refused; a queue lead may look but not change the class.
    let r = admin
        .post(app.url(&format!("{page}/citizen")))
        .form(&[("csrf", csrf.as_str()), ("info_class", "7")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let lead = app.browser();
    app.login(&lead, "alby", &org.agent_b.email, &org.agent_b.password)
        .await;
    let lead_page = format!("/admin/queues/{}", org.queue_b);
    let html = lead
        .get(app.url(&lead_page))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let r = lead
        .post(app.url(&format!("{lead_page}/citizen")))
        .form(&[
            ("csrf", crate::helpers::csrf_in(&html).as_str()),
            ("info_class", "1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}
both_backends!(admins_choose_what_a_queue_tells_citizens);

/// The mails to `to` whose subject contains `part`, waiting up to 10 s for the outbox worker.
async fn mail_to(app: &TestApp, to: &str, part: &str) -> serde_json::Value {
    for _ in 0..100 {
        if let Some(m) = app
            .outbox_mails(to)
            .await
            .into_iter()
            .find(|m| m["subject"].as_str().unwrap_or("").contains(part))
        {
            return m;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "no mail to {to} with {part:?}: {:?}",
        app.outbox_mails(to).await
    );
}

/// A citizen who writes in English gets the acknowledgement and every notification in English;
/// one who writes in Swedish gets Swedish until an agent switches the contact to English on the
/// ticket page (the history says so).
async fn citizens_are_written_to_in_their_language(backend: Backend) {
    let app = TestApp::spawn_with(
        backend,
        &[
            ("ARENDO_OUTBOX__RETRY_BASE_MS", "200"),
            ("ARENDO_MAIL__IMAP_ENABLED", "false"),
        ],
    )
    .await;
    let org = app.org("alby").await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("1.eml"),
        crate::mail::mail(
            "john@example.org",
            "kundtjanst@alby.se",
            "Garbage collection",
            "en1@example.org",
            "",
            "Hello, I moved here last month and would like to know which day the garbage is \
             collected on my street. Thank you very much for your help.",
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("2.eml"),
        crate::mail::mail(
            "karin@example.org",
            "kundtjanst@alby.se",
            "Sophämtning",
            "sv1@example.org",
            "",
            "Hej! Jag flyttade hit förra månaden och undrar vilken dag soporna hämtas på min \
             gata. Tack på förhand för hjälpen.",
        ),
    )
    .unwrap();
    let out = app.import_dir("alby", "kundtjanst", dir.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let ack = mail_to(&app, "john@example.org", "We have received your ticket").await;
    assert!(
        ack["text"]
            .as_str()
            .unwrap()
            .contains("Thank you for your message"),
        "{ack}"
    );
    let number = |m: &serde_json::Value| {
        let s = m["subject"].as_str().unwrap();
        s[s.find('[').unwrap() + 1..s.find(']').unwrap()].to_string()
    };
    let john = number(&ack);
    let ack = mail_to(&app, "karin@example.org", "Vi har tagit emot ditt ärende").await;
    assert!(
        ack["text"]
            .as_str()
            .unwrap()
            .contains("Tack för ditt meddelande")
    );
    let karin = number(&ack);

    app.patch_ticket(
        &org.admin.token,
        &john,
        serde_json::json!({ "status": "waiting" }),
    )
    .await;
    let m = mail_to(&app, "john@example.org", "We need more information").await;
    assert!(m["text"].as_str().unwrap().contains("Kind regards"), "{m}");
    // The status page behind the link speaks English to John, and switches on request.
    let text = m["text"].as_str().unwrap();
    let at = text.find("/status/").unwrap();
    let path = text[at..].split_whitespace().next().unwrap().to_string();
    let get = |p: String| {
        let url = app.url(&p);
        async move { reqwest::get(url).await.unwrap().text().await.unwrap() }
    };
    let page = get(path.clone()).await;
    assert!(page.contains("<html lang=\"en\""), "English for John");
    assert!(page.contains("På svenska"));
    let page = get(format!("{path}?lang=sv")).await;
    assert!(page.contains("<html lang=\"sv\""), "Swedish on request");
    assert!(page.contains("In English"));

    // Karin prefers English after all, and text messages: the agent changes her contact details
    // on the ticket page.
    let browser = app.browser();
    app.login(&browser, "alby", &org.admin.email, &org.admin.password)
        .await;
    let page = browser
        .get(app.url(&format!("/tickets/{karin}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("<option value=\"sv\" selected>svenska</option>"),
        "Swedish to begin with"
    );
    let csrf = crate::helpers::csrf_in(&page);
    let post = |fields: Vec<(&'static str, &'static str)>| {
        let (browser, url, csrf) = (
            browser.clone(),
            app.url(&format!("/tickets/{karin}/contact")),
            csrf.clone(),
        );
        async move {
            let mut form = vec![("csrf", csrf.as_str())];
            form.extend(fields);
            let r = browser.post(url).form(&form).send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    // SMS without a phone number, or a made-up language: refused, nothing changes.
    let (status, html) = post(vec![
        ("name", "Karin Ek"),
        ("phone", ""),
        ("preferred_channel", "sms"),
        ("language", "en"),
    ])
    .await;
    assert_eq!(status, 422, "{html}");
    let (status, _) = post(vec![
        ("name", "Karin Ek"),
        ("phone", ""),
        ("preferred_channel", "email"),
        ("language", "fi"),
    ])
    .await;
    assert_eq!(status, 422);
    let (status, _) = post(vec![
        ("name", "Karin Ek"),
        ("phone", "070-765 43 21"),
        ("preferred_channel", "email"),
        ("language", "en"),
    ])
    .await;
    assert_eq!(status, 303);
    let page = browser
        .get(app.url(&format!("/tickets/{karin}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Kontaktuppgifterna ändrades: namn, telefon, skriv på engelska"),
        "history"
    );
    assert!(page.contains("<option value=\"en\" selected>engelska</option>"));
    assert!(page.contains("+46707654321"), "the number in E.164");
    assert!(page.contains("<dd>Karin Ek</dd>"), "the name is saved");
    app.patch_ticket(
        &org.admin.token,
        &karin,
        serde_json::json!({ "status": "resolved" }),
    )
    .await;
    let m = mail_to(&app, "karin@example.org", "is resolved").await;
    assert!(m["subject"].as_str().unwrap().contains(&karin));
}
both_backends!(citizens_are_written_to_in_their_language);
