//! The agent's ticket page (issue 17, points 13–15, 18, 19): messages shown exactly as stored,
//! canned responses by their names, a mistyped or short ticket number in the link and merge
//! boxes, "Skicka och sätt status" in one request, and a filtered list's live rows — over real
//! HTTP with a session cookie, on both backends.

use serde_json::Value;

use crate::both_backends;
use crate::helpers::{Backend, TestApp, page, post_form, signed_in};

async fn ticket_json(app: &TestApp, token: &str, number: &str) -> Value {
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

/// Text of HTML as a browser reads it (the entities handlebars writes).
fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#x60;", "`")
        .replace("&#x3D;", "=")
        .replace("&amp;", "&")
}

/// The contents of every `<tag class="class">…</tag>` (not nested) in `html`, unescaped.
fn contents(html: &str, open: &str, close: &str) -> Vec<String> {
    let mut out = vec![];
    let mut rest = html;
    while let Some(at) = rest.find(open) {
        let from = &rest[at + open.len()..];
        let end = from.find(close).expect("closed");
        out.push(unescape(&from[..end]));
        rest = &from[end..];
    }
    out
}

/// The value of the `value="…"` attribute of the element with `id`.
fn value_of(html: &str, id: &str) -> String {
    let at = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("#{id} on the page"));
    let tag_start = html[..at].rfind('<').unwrap();
    let tag = &html[tag_start..tag_start + html[tag_start..].find('>').unwrap()];
    let v = tag.find("value=\"").map(|i| {
        let from = &tag[i + 7..];
        unescape(&from[..from.find('"').unwrap()])
    });
    v.unwrap_or_default()
}

/// A ticket number as an agent would type it short: this year's sequence without zeros.
fn short(number: &str) -> String {
    number
        .rsplit('-')
        .next()
        .unwrap()
        .trim_start_matches('0')
        .to_string()
}

/// Point 14: every message — the citizen's mail, a reply and a note, each over several lines
/// with indents and blank lines of its own — shows on the agent's page exactly as stored.
async fn messages_render_exactly_as_stored(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("alby").await;
    let number = app
        .create_ticket_from(
            &org.agent_a.token,
            serde_json::json!({
                "queue": org.queue_a,
                "subject": "Vattenläcka",
                "body": "Hej!\nDet läcker vid Storgatan 3.\n\n  – källaren\n  – garaget\nMvh Maria <maria@example.org>",
                "contact": { "name": "Maria Lind", "email": "maria@example.org" }
            }),
        )
        .await;
    let anna = signed_in(&app, &org.slug, &org.agent_a.email, &org.agent_a.password).await;
    let ticket_page = format!("/tickets/{number}");
    for (kind, body) in [
        (
            "reply",
            "Hej Maria!\nVi kommer i morgon.\n\n    Tid: 08–10\nMvh Anna",
        ),
        ("note", "Ring VA-jouren först.\n\tKolla ventilen\nKlart"),
    ] {
        let csrf = app.csrf(&anna, &ticket_page).await;
        let form = reqwest::multipart::Form::new()
            .text("csrf", csrf)
            .text("kind", kind)
            .text("body", body);
        let r = anna
            .post(app.url(&format!("{ticket_page}/messages")))
            .multipart(form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    }
    let stored: Vec<String> = ticket_json(&app, &org.agent_a.token, &number).await["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body_text"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(stored.len(), 3);
    assert!(stored.iter().all(|s| s.lines().count() > 2), "{stored:?}");

    let (_, html) = page(&app, &anna, &ticket_page).await;
    let shown = contents(&html, "<div class=\"mail-text\">", "</div>");
    assert_eq!(shown, stored, "the conversation as stored");
    // The live fragment shows them the same way.
    let (_, fragment) = page(&app, &anna, &format!("{ticket_page}/messages?after=0")).await;
    assert_eq!(
        contents(&fragment, "<div class=\"mail-text\">", "</div>"),
        stored
    );
}
both_backends!(messages_render_exactly_as_stored);

/// Point 13: the "Färdigt svar" list names each canned response by its own name.
async fn canned_responses_are_listed_by_their_names(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("alby").await;
    let admin = signed_in(&app, &org.slug, &org.admin.email, &org.admin.password).await;
    let names = ["Tack för ditt mejl", "Vi återkommer inom en vecka"];
    for name in names {
        let r = post_form(
            &app,
            &admin,
            "/admin/canned",
            "/admin/canned",
            &[
                ("title", name),
                ("queue", &org.queue_a.to_string()),
                ("body", "Hej {{contact.name}}!"),
                ("action", "save"),
            ],
        )
        .await;
        assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    }
    let t = app
        .create_ticket(&org.agent_a.token, org.queue_a, "Bygglov för altan")
        .await;
    let number = t["number"].as_str().unwrap();
    let anna = signed_in(&app, &org.slug, &org.agent_a.email, &org.agent_a.password).await;
    let (_, html) = page(&app, &anna, &format!("/tickets/{number}")).await;
    let at = html
        .find("<select id=\"canned\">")
        .expect("the canned list");
    let list = &html[at..at + html[at..].find("</select>").unwrap()];
    let mut shown: Vec<String> = list
        .split("<option")
        .skip(1)
        .map(|o| {
            let text = &o[o.find('>').unwrap() + 1..];
            unescape(&text[..text.find("</option>").unwrap()])
        })
        .filter(|s| s != "–")
        .collect();
    let mut want: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    shown.sort();
    want.sort();
    assert_eq!(shown, want, "{list}");
}
both_backends!(canned_responses_are_listed_by_their_names);

/// Point 19: a mistyped number in the link or merge box brings the agent back to the ticket
/// with a message and what they typed; a short number is this year's ticket of the municipality.
async fn link_and_merge_boxes_keep_mistakes_and_take_short_numbers(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("alby").await;
    let tok = &org.agent_a.token;
    let first = app.create_ticket(tok, org.queue_a, "Första").await["number"]
        .as_str()
        .unwrap()
        .to_string();
    let second = app.create_ticket(tok, org.queue_a, "Andra").await["number"]
        .as_str()
        .unwrap()
        .to_string();
    let third = app.create_ticket(tok, org.queue_a, "Tredje").await["number"]
        .as_str()
        .unwrap()
        .to_string();
    let anna = signed_in(&app, &org.slug, &org.agent_a.email, &org.agent_a.password).await;
    let p = format!("/tickets/{first}");

    // A number of nobody's ticket, and something that is no number at all.
    let missing = format!("{}-999999", &first[..first.rfind('-').unwrap()]);
    for (action, input, id) in [
        ("link", missing.as_str(), "link-other"),
        ("link", "KC-20x6", "link-other"),
        ("merge", missing.as_str(), "merge-other"),
        ("merge", "tjugo", "merge-other"),
    ] {
        let mut fields = vec![("other", input)];
        if action == "merge" {
            fields.push(("sure", "1"));
        }
        let r = post_form(&app, &anna, &p, &format!("{p}/{action}"), &fields).await;
        assert_eq!(
            r.status(),
            422,
            "{action} {input:?} answers on the ticket page"
        );
        let html = r.text().await.unwrap();
        assert!(html.contains("class=\"ticket\""), "the ticket page: {html}");
        assert!(html.contains(&format!("data-ticket=\"{first}\"")));
        assert_eq!(value_of(&html, id), input, "{action}: the input is kept");
        let error_id = if action == "link" {
            "link-error"
        } else {
            "merge-error"
        };
        let at = html
            .find(&format!("id=\"{error_id}\""))
            .unwrap_or_else(|| panic!("{action} {input:?}: an error by the box"));
        let msg = &html[at..at + html[at..].find("</p>").unwrap()];
        assert!(msg.contains(input), "{msg}");
        assert!(!msg.contains("expected"), "Swedish, not English: {msg}");
    }

    // "2" (say) means this year's ticket 2 of the municipality.
    let r = post_form(
        &app,
        &anna,
        &p,
        &format!("{p}/link"),
        &[("other", &short(&second))],
    )
    .await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    let (_, html) = page(&app, &anna, &p).await;
    assert!(
        html.contains(&format!("<a href=\"/tickets/{second}\">{second}</a>")),
        "linked by its short number"
    );
    let r = post_form(
        &app,
        &anna,
        &format!("/tickets/{third}"),
        &format!("/tickets/{third}/merge"),
        &[("other", &short(&first)), ("sure", "1")],
    )
    .await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    assert!(
        r.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with(&format!("/tickets/{first}")),
        "merged into the ticket of the short number"
    );
    let (_, html) = page(&app, &anna, &format!("/tickets/{third}")).await;
    assert!(
        html.contains(&format!("<a href=\"/tickets/{first}\">{first}</a></p>")),
        "the merged ticket points to the short number's ticket"
    );
}
both_backends!(link_and_merge_boxes_keep_mistakes_and_take_short_numbers);

/// Point 18: "Skicka och sätt status" sends the reply and sets the status in one request.
async fn send_and_set_status_in_one_request(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("alby").await;
    let tok = &org.agent_a.token;
    let number = app
        .create_ticket(tok, org.queue_a, "Fråga om sophämtning")
        .await["number"]
        .as_str()
        .unwrap()
        .to_string();
    let anna = signed_in(&app, &org.slug, &org.agent_a.email, &org.agent_a.password).await;
    let p = format!("/tickets/{number}");
    let (_, html) = page(&app, &anna, &p).await;
    assert!(
        html.contains("id=\"reply-then-status\""),
        "the choice is on the page"
    );
    for (status, want) in [("waiting", "waiting"), ("resolved", "resolved")] {
        let csrf = app.csrf(&anna, &p).await;
        let form = reqwest::multipart::Form::new()
            .text("csrf", csrf)
            .text("kind", "reply")
            .text("body", format!("Hej! Svar nummer {status}."))
            .text("then_status", status)
            .text("and_status", "1");
        let r = anna
            .post(app.url(&format!("{p}/messages")))
            .multipart(form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
        let t = ticket_json(&app, tok, &number).await;
        assert_eq!(t["status"], want, "{t}");
        let last = t["messages"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(last["kind"], "outbound");
        assert_eq!(last["body_text"], format!("Hej! Svar nummer {status}."));
    }
    // A plain "Skicka" leaves the status as the reply leaves it.
    let csrf = app.csrf(&anna, &p).await;
    let form = reqwest::multipart::Form::new()
        .text("csrf", csrf)
        .text("kind", "note")
        .text("body", "Bara en anteckning.")
        .text("then_status", "closed");
    let r = anna
        .post(app.url(&format!("{p}/messages")))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(ticket_json(&app, tok, &number).await["status"], "resolved");
}
both_backends!(send_and_set_status_in_one_request);

/// Point 15: a filtered list's live follower gets a ticket's row only when the list's own query
/// shows the ticket.
async fn filtered_list_takes_only_matching_live_rows(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("alby").await;
    let tok = &org.agent_a.token;
    let normal = app.create_ticket(tok, org.queue_a, "Vanlig").await["number"]
        .as_str()
        .unwrap()
        .to_string();
    let urgent = app.create_ticket(tok, org.queue_a, "Brådskande").await["number"]
        .as_str()
        .unwrap()
        .to_string();
    app.patch_ticket(tok, &urgent, serde_json::json!({ "priority": "urgent" }))
        .await;
    let anna = signed_in(&app, &org.slug, &org.agent_a.email, &org.agent_a.password).await;
    let queue = org.queue_a.to_string();
    let filters: Vec<(&str, String, Vec<&str>)> = vec![
        (
            "priority=urgent",
            format!("priority=urgent&queue={queue}"),
            vec![&urgent],
        ),
        ("priority=normal", "priority=normal".into(), vec![&normal]),
        ("status=resolved", "status=resolved".into(), vec![]),
        ("no filter", String::new(), vec![&normal, &urgent]),
    ];
    for (what, filter, want) in filters {
        for n in [&normal, &urgent] {
            let r = anna
                .get(app.url(&format!("/tickets/{n}/row?list=1&{filter}")))
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let html = r.text().await.unwrap();
            // The list page itself shows the same tickets.
            let (_, list) = page(&app, &anna, &format!("/tickets?{filter}")).await;
            let in_list = list.contains(&format!("data-number=\"{n}\""));
            if want.contains(&n.as_str()) {
                assert_eq!(status, 200, "{what}: {n} joins the list");
                assert!(html.contains(&format!("data-number=\"{n}\"")), "{html}");
                assert!(in_list, "{what}: the list shows {n}");
            } else {
                assert_eq!(status, 204, "{what}: {n} does not join the list: {html}");
                assert!(!in_list, "{what}: the list does not show {n}");
            }
        }
    }
    // Without the list's filter (My work), the row comes as before.
    let r = anna
        .get(app.url(&format!("/tickets/{normal}/row")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}
both_backends!(filtered_list_takes_only_matching_live_rows);
