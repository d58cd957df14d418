//! Error texts as people read them (issue 17, point 20): every refusal is written in the
//! reader's language from locale keys, with the field named by its label, and API clients get
//! the machine detail (`reason`, `params`) apart from the prose.

use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Backend, TestApp};

/// Words that only an English text has; a Swedish page showing one pasted an English reason in.
const ENGLISH: &[&str] = &[
    "cannot",
    "itself",
    "already",
    "merged",
    "expected",
    "longer",
    "characters",
    "invalid",
];

fn english_in(text: &str) -> Vec<&'static str> {
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphabetic())
        .map(str::to_lowercase)
        .collect();
    ENGLISH
        .iter()
        .copied()
        .filter(|w| words.iter().any(|x| x == w))
        .collect()
}

async fn post_form(
    app: &TestApp,
    b: &reqwest::Client,
    from_page: &str,
    action: &str,
    fields: &[(&str, &str)],
) -> (u16, String) {
    let csrf = app.csrf(b, from_page).await;
    let mut form: Vec<(&str, &str)> = vec![("csrf", csrf.as_str())];
    form.extend_from_slice(fields);
    let r = b.post(app.url(action)).form(&form).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// The merge box's error on the ticket page (empty when there is none).
fn merge_box(html: &str) -> &str {
    let needle = "id=\"merge-error\">";
    let Some(start) = html.find(needle).map(|s| s + needle.len()) else {
        return "";
    };
    let end = html[start..].find("</p>").map_or(html.len(), |e| start + e);
    &html[start..end]
}

/// Anna tries to merge a ticket into itself, then one that is already merged, then one into a
/// merged ticket: each time the ticket page tells her why in Swedish — the rule itself, not
/// "not a ticket number" and no English pasted into the text. After she switches her pages to
/// English, the same refusal reads in English, without Swedish.
async fn errors_merge_refusals_read_in_the_agents_language(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("alby").await;
    let mut numbers = vec![];
    for s in ["Läcka i källaren", "Läcka igen", "Lukt från brunn"] {
        let t = app.create_ticket(&org.agent_a.token, org.queue_a, s).await;
        numbers.push(t["number"].as_str().unwrap().to_string());
    }
    let (first, second, third) = (&numbers[0], &numbers[1], &numbers[2]);
    let anna = app.browser();
    app.login(&anna, &org.slug, &org.agent_a.email, &org.agent_a.password)
        .await;
    let p1 = format!("/tickets/{first}");
    let p3 = format!("/tickets/{third}");

    let (status, html) = post_form(
        &app,
        &anna,
        &p1,
        &format!("{p1}/merge"),
        &[("other", first)],
    )
    .await;
    assert_eq!(status, 422);
    let shown = merge_box(&html);
    assert!(
        shown.contains("Ett ärende kan inte slås samman med sig självt."),
        "{shown}"
    );
    assert!(!shown.contains("inget ärendenummer"), "{shown}");
    assert!(english_in(shown).is_empty(), "{shown}");

    let (status, _) = post_form(
        &app,
        &anna,
        &p1,
        &format!("{p1}/merge"),
        &[("other", second)],
    )
    .await;
    assert_eq!(status, 303);
    let (status, html) = post_form(
        &app,
        &anna,
        &p1,
        &format!("{p1}/merge"),
        &[("other", second)],
    )
    .await;
    assert_eq!(status, 422);
    let shown = merge_box(&html);
    assert!(
        shown.contains(&format!(
            "Ärendet {first} är redan sammanslaget med ett annat."
        )),
        "{shown}"
    );
    assert!(english_in(shown).is_empty(), "{shown}");

    let (status, html) = post_form(
        &app,
        &anna,
        &p3,
        &format!("{p3}/merge"),
        &[("other", first)],
    )
    .await;
    assert_eq!(status, 422);
    let shown = merge_box(&html);
    assert!(
        shown.contains(&format!(
            "Ärendet {first} är självt sammanslaget med ett annat ärende."
        )),
        "{shown}"
    );
    assert!(english_in(shown).is_empty(), "{shown}");

    // In English.
    let (status, _) = post_form(
        &app,
        &anna,
        "/account/password",
        "/account/language",
        &[("locale", "en")],
    )
    .await;
    assert_eq!(status, 303);
    let (status, html) = post_form(
        &app,
        &anna,
        &p3,
        &format!("{p3}/merge"),
        &[("other", third)],
    )
    .await;
    assert_eq!(status, 422);
    let shown = merge_box(&html);
    assert!(
        shown.contains("A ticket cannot be merged into itself."),
        "{shown}"
    );
    assert!(
        !shown.contains(['å', 'ä', 'ö']) && !shown.contains("ärende"),
        "{shown}"
    );
}
both_backends!(errors_merge_refusals_read_in_the_agents_language);

/// An integration registers tickets with bad values: each refusal names the field by its code
/// name in `field`, gives a machine `reason` with typed `params`, and a Swedish `message` that
/// names the field by its label and pastes no English in.
async fn errors_api_refusals_carry_reason_params_and_swedish_prose(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("alby").await;
    let api = reqwest::Client::new();
    let cases = [
        (
            json!({ "queue": org.queue_a, "subject": "x".repeat(301), "body": "y" }),
            "subject",
            "too_long",
            json!({ "max": 300 }),
            "Ämne: får vara högst 300 tecken",
        ),
        (
            json!({ "queue": org.queue_a, "subject": "x", "body": "y", "contact": { "email": "inte-en-adress" } }),
            "contact.email",
            "format",
            json!({ "value": "inte-en-adress", "kind": "email" }),
            "Kontaktens e-postadress: ”inte-en-adress” har fel form – skriv en e-postadress som namn@kommun.se",
        ),
        (
            json!({ "queue": org.queue_a, "subject": "x", "body": "y", "priority": "akut" }),
            "priority",
            "not_one_of",
            json!({ "value": "akut", "allowed": "low, normal, high, urgent" }),
            "Prioritet: ”akut” finns inte bland alternativen (low, normal, high, urgent)",
        ),
    ];
    for (body, field, reason, params, message) in cases {
        let r = api
            .post(app.url("/api/v1/tickets"))
            .bearer_auth(&org.admin.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422);
        let e: Value = r.json().await.unwrap();
        assert_eq!(e["error"]["code"], "invalid", "{e}");
        assert_eq!(e["error"]["field"], field, "{e}");
        assert_eq!(e["error"]["reason"], reason, "{e}");
        assert_eq!(e["error"]["params"], params, "{e}");
        assert_eq!(e["error"]["message"], message, "{e}");
        assert!(english_in(message).is_empty());
    }
}
both_backends!(errors_api_refusals_carry_reason_params_and_swedish_prose);
