//! Routing rules: an administrator writes rules on the admin page; new mail meets them as it
//! arrives (through the same pipeline as IMAP), and tickets from other municipalities never do.

use arendo::escalation::ReferralTarget;
use serde_json::Value;

use crate::both_backends;
use crate::helpers::{Backend, TestApp, csrf_in};
use crate::mail::mail;

async fn ticket(app: &TestApp, token: &str, number: &str) -> Value {
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

async fn tickets(app: &TestApp, token: &str) -> Vec<Value> {
    let v: Value = reqwest::Client::new()
        .get(app.url("/api/v1/tickets?limit=50"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["tickets"].as_array().unwrap().clone()
}

fn by_subject<'a>(list: &'a [Value], subject: &str) -> &'a Value {
    list.iter()
        .find(|t| t["subject"] == subject)
        .unwrap_or_else(|| panic!("no ticket {subject:?} in {list:?}"))
}

/// The id of the rule `name` on the rules page.
fn rule_id(html: &str, name: &str) -> String {
    let at = html
        .find(&format!(">{name}</a>"))
        .expect("the rule is listed");
    let href = "href=\"/admin/routing/";
    let start = html[..at].rfind(href).unwrap() + href.len();
    html[start..start + html[start..].find('"').unwrap()].to_string()
}

async fn get_page(browser: &reqwest::Client, app: &TestApp, path: &str) -> String {
    browser
        .get(app.url(path))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

async fn post_form(
    app: &TestApp,
    browser: &reqwest::Client,
    path: &str,
    fields: &[(&str, &str)],
) -> (u16, String) {
    let csrf = app.csrf(browser, "/admin/routing").await;
    let mut form = vec![("csrf", csrf.as_str())];
    form.extend_from_slice(fields);
    let r = browser
        .post(app.url(path))
        .form(&form)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// A water leak mailed to kundtjanst@ lands in the VA queue with high priority and a tag; a mail
/// from the county board is sent on to the environment department (a referral); a mail that no
/// rule meets stays where it came. The admin page counts the matches, "Testa reglerna" tells
/// which rules a mail would meet, bad rules are refused with the text kept, and another
/// municipality's mail meets none of these rules.
async fn new_mail_meets_the_municipalitys_rules(b: Backend) {
    let app = TestApp::spawn_with(b, &[("ARENDO_MAIL__IMAP_ENABLED", "false")]).await;
    let org = app.org("alby").await;
    let other = app.org("borby").await;
    app.db
        .write(|c| -> Result<i64, arendo::error::Error> {
            let t = arendo::tenants::tenant_by_slug(c, "alby")?.id;
            arendo::escalation::save_referral_target(
                c,
                t,
                &ReferralTarget {
                    name: "Miljöförvaltningen".into(),
                    email: "miljo@alby.se".into(),
                    response_days: 5,
                    allow_citizen_reply: false,
                    pauses_sla: true,
                },
            )
        })
        .await
        .unwrap();

    let admin = app.browser();
    app.login(&admin, "alby", &org.admin.email, &org.admin.password)
        .await;
    let form = app
        .browser()
        .get(app.url("/admin/routing/new"))
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 303, "signed out: to the login page");
    let new_page = admin
        .get(app.url("/admin/routing/new"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let option = |label: &str| {
        let at = new_page
            .find(&format!(">{label}</option>"))
            .unwrap_or_else(|| panic!("no option {label}"));
        let start = new_page[..at].rfind("value=\"").unwrap() + 7;
        let end = start + new_page[start..].find('"').unwrap();
        new_page[start..end].to_string()
    };
    let (kundtjanst, va, miljo) = (
        option("Kundtjänst"),
        option("VA"),
        option("Miljöförvaltningen"),
    );

    // A rule with neither condition nor a sensible word is refused, and the text is kept.
    let (status, html) = post_form(
        &app,
        &admin,
        "/admin/routing",
        &[
            ("name", "Trasig"),
            ("enabled", "1"),
            ("match_words", "*läck"),
            ("set_priority", "high"),
        ],
    )
    .await;
    assert_eq!(status, 422);
    assert!(html.contains("En * får bara stå sist"), "{html}");
    assert!(html.contains("value=\"*läck\""));
    let (status, html) = post_form(
        &app,
        &admin,
        "/admin/routing",
        &[("name", "Utan villkor"), ("set_priority", "high")],
    )
    .await;
    assert_eq!(status, 422);
    assert!(html.contains("Fyll i minst ett villkor"), "{html}");

    let (status, _) = post_form(
        &app,
        &admin,
        "/admin/routing",
        &[
            ("name", "Vattenläckor till VA"),
            ("enabled", "1"),
            ("match_queue", &kundtjanst),
            ("match_words", "vattenläcka, läck*, inget vatten"),
            ("set_priority", "high"),
            ("set_queue", &va),
            ("add_tag", "vattenläcka"),
        ],
    )
    .await;
    assert_eq!(status, 303);
    let (status, _) = post_form(
        &app,
        &admin,
        "/admin/routing",
        &[
            ("name", "Länsstyrelsen till miljö"),
            ("enabled", "1"),
            ("match_senders", "@Lansstyrelsen.se"),
            ("escalate_to", &miljo),
            ("stop", "1"),
        ],
    )
    .await;
    assert_eq!(status, 303);

    // The county board's rule is to be checked first: move it up.
    let html = get_page(&admin, &app, "/admin/routing").await;
    let county_rule = rule_id(&html, "Länsstyrelsen till miljö");
    let (status, _) = post_form(
        &app,
        &admin,
        &format!("/admin/routing/{county_rule}/move"),
        &[("direction", "up")],
    )
    .await;
    assert_eq!(status, 303);
    let html = get_page(&admin, &app, "/admin/routing").await;
    assert!(
        html.find(">Länsstyrelsen till miljö<").unwrap()
            < html.find(">Vattenläckor till VA<").unwrap()
    );

    // Try before any mail arrives: nothing changes, the page says which rules would apply.
    let (status, html) = post_form(
        &app,
        &admin,
        "/admin/routing/try",
        &[
            ("queue", &kundtjanst),
            ("sender", "maria@example.org"),
            ("subject", "Det läcker"),
            ("text", ""),
        ],
    )
    .await;
    assert_eq!(status, 200);
    let result = &html[html.find("id=\"try-result\"").expect("a result")..];
    assert!(result.contains("<li>Vattenläckor till VA</li>"), "{result}");
    assert!(!result.contains("Länsstyrelsen till miljö"));
    let (_, html) = post_form(
        &app,
        &admin,
        "/admin/routing/try",
        &[
            ("queue", &kundtjanst),
            ("sender", "x@lansstyrelsen.se"),
            ("subject", "Det läcker"),
            ("text", ""),
        ],
    )
    .await;
    let result = &html[html.find("id=\"try-result\"").expect("a result")..];
    assert!(
        result.contains("<li>Länsstyrelsen till miljö</li>"),
        "{result}"
    );
    assert!(
        !result.contains("Vattenläckor till VA"),
        "stopped after the county rule"
    );

    let dir = tempfile::tempdir().unwrap();
    let files = [
        (
            "1.eml",
            mail(
                "maria@example.org",
                "kundtjanst@alby.se",
                "Vattenläcka på Storgatan",
                "r1@example.org",
                "",
                "Det sprutar vatten ur brunnen.",
            ),
        ),
        (
            "2.eml",
            mail(
                "handlaggare@lansstyrelsen.se",
                "kundtjanst@alby.se",
                "Tillsyn av avlopp",
                "r2@example.org",
                "",
                "Vi behöver kommunens yttrande om ett enskilt avlopp. Det läcker.",
            ),
        ),
        (
            "3.eml",
            mail(
                "olle@example.org",
                "kundtjanst@alby.se",
                "Fråga om parkering",
                "r3@example.org",
                "",
                "Var får jag parkera min husbil?",
            ),
        ),
    ];
    for (name, body) in &files {
        std::fs::write(dir.path().join(name), body).unwrap();
    }
    let out = app.import_dir("alby", "kundtjanst", dir.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let list = tickets(&app, &org.admin.token).await;
    let leak = by_subject(&list, "Vattenläcka på Storgatan");
    assert_eq!(
        leak["queue_id"].as_i64().unwrap(),
        org.queue_b,
        "moved to VA"
    );
    assert_eq!(leak["priority"], "high");
    let detail = ticket(&app, &org.admin.token, leak["number"].as_str().unwrap()).await;
    assert_eq!(detail["tags"], serde_json::json!(["vattenläcka"]));
    let kinds: Vec<&str> = detail["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"routed"), "{kinds:?}");
    assert!(kinds.contains(&"queue_changed") && kinds.contains(&"priority_changed"));
    // The VA agent finds it in their queue.
    let bertil = tickets(&app, &org.agent_b.token).await;
    assert!(
        bertil
            .iter()
            .any(|t| t["subject"] == "Vattenläcka på Storgatan")
    );

    // The county board's mail went to the environment department and stopped there: the
    // leak rule after it (it mentions "läcker") did not move it.
    let county = by_subject(&list, "Tillsyn av avlopp");
    assert_eq!(county["queue_id"].as_i64().unwrap(), org.queue_a);
    assert_eq!(county["priority"], "normal");
    let number = county["number"].as_str().unwrap().to_string();
    let detail = ticket(&app, &org.admin.token, &number).await;
    assert!(
        detail["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "escalated"
                && e["details"]["reason"] == "Regel: Länsstyrelsen till miljö")
    );
    let escalations = app
        .db
        .read(move |c| -> Result<_, arendo::error::Error> {
            let t = arendo::tenants::tenant_by_slug(c, "alby")?.id;
            let n: arendo::domain::TicketNumber = number.parse().unwrap();
            let tk =
                arendo::store::tickets::by_number(c, t, &arendo::domain::QueueAccess::All, &n)?
                    .unwrap();
            Ok(arendo::store::escalation::of_ticket(c, t, tk.id)?)
        })
        .await
        .unwrap();
    assert_eq!(escalations.len(), 1);
    assert_eq!(escalations[0].1, "Miljöförvaltningen");

    let parking = by_subject(&list, "Fråga om parkering");
    assert_eq!(parking["queue_id"].as_i64().unwrap(), org.queue_a);
    assert_eq!(parking["priority"], "normal");

    // The list counts the matches.
    let html = get_page(&admin, &app, "/admin/routing").await;
    let row = |name: &str| {
        let at = html.find(&format!(">{name}</a>")).unwrap();
        html[at..at + html[at..].find("</tr>").unwrap()].to_string()
    };
    assert!(
        row("Vattenläckor till VA").contains("<td class=\"opt\">1<br>"),
        "{html}"
    );
    assert!(row("Länsstyrelsen till miljö").contains("<td class=\"opt\">1<br>"));

    // Another municipality's water leak meets none of Alby's rules.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("1.eml"),
        mail(
            "maria@example.org",
            "kundtjanst@borby.se",
            "Vattenläcka i Borby",
            "b1@example.org",
            "",
            "Det läcker.",
        ),
    )
    .unwrap();
    let out = app.import_dir("borby", "kundtjanst", dir.path());
    assert!(out.status.success());
    let theirs = tickets(&app, &other.admin.token).await;
    let leak = by_subject(&theirs, "Vattenläcka i Borby");
    assert_eq!(leak["queue_id"].as_i64().unwrap(), other.queue_a);
    assert_eq!(leak["priority"], "normal");

    // Borby's admin cannot open or change Alby's rules.
    let theirs_admin = app.browser();
    app.login(
        &theirs_admin,
        "borby",
        &other.admin.email,
        &other.admin.password,
    )
    .await;
    let r = theirs_admin
        .get(app.url(&format!("/admin/routing/{county_rule}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let csrf = csrf_in(
        &theirs_admin
            .get(app.url("/admin/routing"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    let r = theirs_admin
        .post(app.url(&format!("/admin/routing/{county_rule}/delete")))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    // Agents do not manage rules.
    let anna = app.browser();
    app.login(&anna, "alby", &org.agent_a.email, &org.agent_a.password)
        .await;
    let r = anna.get(app.url("/admin/routing")).send().await.unwrap();
    assert_eq!(r.status(), 403);
}
both_backends!(new_mail_meets_the_municipalitys_rules);
