//! Referral (remiss) to a department: the department gets a mail with a link to a page for that
//! one ticket, answers the agent through it, and an unanswered referral raises its alarm once.

use std::time::Duration;

use arendo::escalation::ReferralTarget;

use crate::both_backends;
use crate::helpers::{Backend, TestApp, csrf_in};

async fn target(app: &TestApp, name: &str, email: &str, days: i32) -> i64 {
    let (name, email) = (name.to_string(), email.to_string());
    app.db
        .write(move |c| -> Result<i64, arendo::error::Error> {
            let t = arendo::tenants::tenant_by_slug(c, "alby")?.id;
            arendo::escalation::save_referral_target(
                c,
                t,
                &ReferralTarget {
                    name,
                    email,
                    response_days: days,
                    allow_citizen_reply: false,
                    pauses_sla: true,
                },
            )
        })
        .await
        .unwrap()
}

async fn page(app: &TestApp, client: &reqwest::Client, path: &str) -> (u16, String) {
    let r = client.get(app.url(path)).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn a_department_answers_a_referral_through_its_page(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("ARENDO_OUTBOX__RETRY_BASE_MS", "200")]).await;
    let org = app.org("alby").await;
    let miljo = target(&app, "Miljöförvaltningen", "miljo@alby.se", 5).await;
    let ticket = app
        .create_ticket(
            &org.agent_b.token,
            org.queue_b,
            "Buller från bygget på Åsgatan",
        )
        .await;
    let number = ticket["number"].as_str().unwrap().to_string();
    let other = app
        .create_ticket(
            &org.agent_b.token,
            org.queue_b,
            "Annat ärende som ska vara dolt",
        )
        .await;
    let api = reqwest::Client::new();
    let r = api
        .post(app.url(&format!("/api/v1/tickets/{number}/messages")))
        .bearer_auth(&org.agent_b.token)
        .json(&serde_json::json!({ "kind": "note", "body": "INTERNT: tredje klagomålet" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);

    let agent = app.browser();
    app.login(&agent, "alby", &org.agent_b.email, &org.agent_b.password)
        .await;
    assert_eq!(
        app.escalate(
            &agent,
            &number,
            miljo.to_string().as_str(),
            "Gäller det tillåtna arbetstider för bygget?"
        )
        .await,
        303
    );

    // The department's mail: the matter, the conversation without notes, the link.
    let mut mail = None;
    for _ in 0..100 {
        mail = app.outbox_mails("miljo@alby.se").await.into_iter().next();
        if mail.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mail = mail.expect("the department was mailed");
    let text = mail["text"].as_str().unwrap();
    assert!(mail["subject"].as_str().unwrap().contains(&number));
    assert!(
        text.contains("Gäller det tillåtna arbetstider") && text.contains("Hej! Jag har en fråga.")
    );
    assert!(!text.contains("INTERNT"), "notes stay inside");
    let at = text.find("/remiss/").unwrap();
    let path = text[at..].split_whitespace().next().unwrap().to_string();

    // The handler's page shows this ticket only, and nothing of the workspace opens.
    let handler = app.browser();
    let (status, html) = page(&app, &handler, &path).await;
    assert_eq!(status, 200);
    assert!(html.contains("Buller från bygget") && html.contains("Väntar på ert svar"));
    assert!(!html.contains("INTERNT") && !html.contains("Annat ärende"));
    let other_number = other["number"].as_str().unwrap();
    let r = handler
        .get(app.url(&format!("/tickets/{other_number}")))
        .send()
        .await
        .unwrap();
    assert_ne!(r.status(), 200, "the link is no sign-in");
    let mut bad = path.clone();
    let last = bad.pop().unwrap();
    bad.push(if last == 'x' { 'y' } else { 'x' });
    assert_eq!(page(&app, &handler, &bad).await.0, 403);

    // Answering the citizen is not allowed for this department; answering the agent hands back.
    let csrf = csrf_in(&html);
    let r = handler
        .post(app.url(&format!("{path}/answer")))
        .form(&[("csrf", csrf.as_str()), ("text", "Hej"), ("to", "citizen")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let answer = "Byggarbete är tillåtet vardagar 07–19. Vi kontaktar byggherren.";
    let r = handler
        .post(app.url(&format!("{path}/answer")))
        .form(&[("csrf", csrf.as_str()), ("text", answer), ("to", "agent")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let (_, html) = page(&app, &handler, &path).await;
    assert!(html.contains("Ert svar") && html.contains("07–19"));
    let r = handler
        .post(app.url(&format!("{path}/answer")))
        .form(&[("csrf", csrf.as_str()), ("text", "igen"), ("to", "agent")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409, "answered once");

    // The agent sees the answer as a note, and in the history.
    let (_, html) = page(&app, &agent, &format!("/tickets/{number}")).await;
    assert!(html.contains("Svar på remiss från Miljöförvaltningen"));
    assert!(html.contains("Miljöförvaltningen svarade på remissen"));
    assert!(html.contains("Remiss till Miljöförvaltningen"));
    assert!(
        html.contains("Remissen besvarad"),
        "the referral's state on the ticket"
    );
}
both_backends!(a_department_answers_a_referral_through_its_page);

async fn an_unanswered_referral_raises_its_alarm_once(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("ARENDO_OUTBOX__RETRY_BASE_MS", "200")]).await;
    let org = app.org("alby").await;
    // No time to answer: due at once.
    let stads = target(&app, "Stadsbyggnad", "sbk@alby.se", 0).await;
    let ticket = app
        .create_ticket(&org.agent_b.token, org.queue_b, "Fråga om strandskydd")
        .await;
    let number = ticket["number"].as_str().unwrap().to_string();
    let agent = app.browser();
    app.login(&agent, "alby", &org.agent_b.email, &org.agent_b.password)
        .await;
    assert_eq!(
        app.escalate(
            &agent,
            &number,
            stads.to_string().as_str(),
            "Behövs dispens?"
        )
        .await,
        303
    );
    let mut html = String::new();
    for _ in 0..100 {
        html = page(&app, &agent, &format!("/tickets/{number}")).await.1;
        // (The history line, not the state label: the page reads them separately.)
        if html.contains("Remissen till Stadsbyggnad är försenad") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        html.matches("Remissen till Stadsbyggnad är försenad")
            .count(),
        1
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let html = page(&app, &agent, &format!("/tickets/{number}")).await.1;
    assert_eq!(
        html.matches("Remissen till Stadsbyggnad är försenad")
            .count(),
        1,
        "once"
    );
    // Bertil leads the queue: he is told.
    let told = app.outbox_mails(&org.agent_b.email).await;
    assert_eq!(
        told.iter()
            .filter(|m| m["subject"]
                .as_str()
                .unwrap()
                .starts_with("Remiss försenad"))
            .count(),
        1
    );
}
both_backends!(an_unanswered_referral_raises_its_alarm_once);

/// Department staff with a light account: the admin creates referral handlers and names them on
/// the referral department; a handler signs in, lands on "Mina remisser" with the referrals to
/// their department only, answers one through the same page the mail links to, and reaches
/// nothing of the workspace, the search, the knowledge base, the administration or the API.
async fn a_handler_with_an_account_sees_their_departments_referrals_only(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("ARENDO_OUTBOX__RETRY_BASE_MS", "200")]).await;
    let org = app.org("alby").await;
    let admin = app.browser();
    app.login(&admin, "alby", &org.admin.email, &org.admin.password)
        .await;
    let (_, html) = page(&app, &admin, "/admin/users").await;
    let csrf = csrf_in(&html);
    for (name, email) in [
        ("Hanna Miljö", "hanna@alby.se"),
        ("Olle Bygg", "olle@alby.se"),
    ] {
        let r = admin
            .post(app.url("/admin/users"))
            .form(&[
                ("csrf", csrf.as_str()),
                ("name", name),
                ("email", email),
                ("role", "handler"),
                ("password", "ett-långt-lösenord-för-remisser"),
                ("repeat", "ett-långt-lösenord-för-remisser"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    }
    // Two departments, each with its handler, chosen on the referral target's form.
    let (_, form) = page(&app, &admin, "/admin/escalation/new?kind=referral").await;
    let handler_id = |email: &str| {
        let at = form
            .find(&format!("({email})"))
            .expect("the handler is listed");
        let start = form[..at].rfind("value=\"").unwrap() + 7;
        form[start..start + form[start..].find('"').unwrap()].to_string()
    };
    let (hanna, olle) = (handler_id("hanna@alby.se"), handler_id("olle@alby.se"));
    for (name, email, handler) in [
        ("Miljöförvaltningen", "miljo@alby.se", &hanna),
        ("Byggnadsnämnden", "bygg@alby.se", &olle),
    ] {
        let r = admin
            .post(app.url("/admin/escalation"))
            .form(&[
                ("csrf", csrf.as_str()),
                ("kind", "referral"),
                ("name", name),
                ("email", email),
                ("response_days", "5"),
                ("handlers", handler.as_str()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    }
    let (_, list) = page(&app, &admin, "/admin/escalation").await;
    let target_id = |name: &str| {
        let at = list.find(&format!(">{name}</a>")).unwrap();
        let href = "href=\"/admin/escalation/";
        let start = list[..at].rfind(href).unwrap() + href.len();
        list[start..start + list[start..].find('"').unwrap()].to_string()
    };
    let (miljo, bygg) = (
        target_id("Miljöförvaltningen"),
        target_id("Byggnadsnämnden"),
    );
    let (_, edit) = page(&app, &admin, &format!("/admin/escalation/{miljo}")).await;
    assert!(
        edit.contains(&format!("value=\"{hanna}\" checked")),
        "the handler is saved on the department"
    );

    // The agent refers one ticket to each department.
    let agent = app.browser();
    app.login(&agent, "alby", &org.agent_a.email, &org.agent_a.password)
        .await;
    let mut numbers = vec![];
    for (subject, target) in [("Buller från fläkt", &miljo), ("Altan utan bygglov", &bygg)] {
        let t = app
            .create_ticket(&org.agent_a.token, org.queue_a, subject)
            .await;
        let number = t["number"].as_str().unwrap().to_string();
        assert_eq!(
            app.escalate(&agent, &number, target.as_str(), "Kan ni svara på det här?")
                .await,
            303
        );
        numbers.push(number);
    }

    // Hanna signs in and lands on her referrals: Miljö's, not Bygg's.
    let hanna_b = app.browser();
    let r = app
        .login(
            &hanna_b,
            "alby",
            "hanna@alby.se",
            "ett-långt-lösenord-för-remisser",
        )
        .await;
    assert_eq!(r.status(), 303);
    let r = hanna_b.get(app.url("/")).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/remisser");
    let (status, mine) = page(&app, &hanna_b, "/remisser").await;
    assert_eq!(status, 200);
    assert!(
        mine.contains(&numbers[0]) && mine.contains("Buller från fläkt"),
        "{mine}"
    );
    assert!(
        !mine.contains(&numbers[1]) && !mine.contains("Altan"),
        "not another department's"
    );
    assert!(!mine.contains("href=\"/tickets\""), "no workspace menu");

    // The referral opens the same page the mail links to, and the answer goes back.
    let href = "href=\"/remiss/";
    let start = mine.find(href).unwrap() + "href=\"".len();
    let path = mine[start..start + mine[start..].find('"').unwrap()].to_string();
    let (status, html) = page(&app, &hanna_b, &path).await;
    assert_eq!(status, 200);
    let r = hanna_b
        .post(app.url(&format!("{path}/answer")))
        .form(&[
            ("csrf", csrf_in(&html).as_str()),
            ("text", "Fläkten ska ha ljuddämpare; vi gör tillsyn."),
            ("to", "agent"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let (_, html) = page(&app, &agent, &format!("/tickets/{}", numbers[0])).await;
    assert!(html.contains("Miljöförvaltningen svarade på remissen"));
    let (_, mine) = page(&app, &hanna_b, "/remisser").await;
    assert!(mine.contains("Besvarad"), "{mine}");

    // Nothing else of Ärendo is hers.
    for path in [
        "/tickets".to_string(),
        format!("/tickets/{}", numbers[0]),
        format!("/tickets/{}", numbers[1]),
        "/queues".to_string(),
        "/search?q=buller".to_string(),
        "/knowledge".to_string(),
        "/admin".to_string(),
        "/admin/routing".to_string(),
        "/api/v1/tickets".to_string(),
        "/api/v1/queues".to_string(),
    ] {
        let (status, body) = page(&app, &hanna_b, &path).await;
        assert!(
            status == 403 || status == 404,
            "{path} answered {status} to a handler"
        );
        assert!(!body.contains("Altan utan bygglov"), "{path}");
    }
    // Agents and admins have no "Mina remisser".
    assert_eq!(page(&app, &agent, "/remisser").await.0, 403);
}
both_backends!(a_handler_with_an_account_sees_their_departments_referrals_only);
