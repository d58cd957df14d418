//! The ticket lists as agents read them (issue 17, points 15–17 and 21): Mitt arbete with its bulk
//! form and the least SLA time left first; referral badges, contact and last-activity columns in
//! every list and in the rows that arrive live; and the words, names and times the pages show.

use std::time::Duration;

use chrono::{NaiveDateTime, Utc};
use serde_json::Value;

use crate::both_backends;
use crate::helpers::{Backend, TestApp, api, csrf_in, page, post_form, signed_in};

fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

fn number(t: &Value) -> String {
    t["number"].as_str().unwrap().to_string()
}

/// The part of `html` from `start` up to `end` (or to the end of the page).
fn between<'a>(html: &'a str, start: &str, end: &str) -> &'a str {
    let from = html
        .find(start)
        .unwrap_or_else(|| panic!("no {start} in {html}"));
    let rest = &html[from..];
    match rest[start.len()..].find(end) {
        Some(to) => &rest[..start.len() + to],
        None => rest,
    }
}

/// The list row of ticket `n` on a page (from its `<tr` to its `</tr>`).
fn row_of<'a>(html: &'a str, n: &str) -> &'a str {
    let at = html
        .find(&format!("data-number=\"{n}\""))
        .unwrap_or_else(|| panic!("no row for {n} in {html}"));
    let start = html[..at].rfind("<tr").unwrap();
    let end = at + html[at..].find("</tr>").unwrap() + "</tr>".len();
    &html[start..end]
}

/// Where ticket `n`'s row stands on the page (None: not there).
fn position(html: &str, n: &str) -> Option<usize> {
    html.find(&format!("data-number=\"{n}\""))
}

/// Every wall-clock minute between `from` and now, as Stockholm and as UTC shows it.
fn minutes_since(from: NaiveDateTime) -> (Vec<String>, Vec<String>) {
    let to = Utc::now().naive_utc() + chrono::Duration::minutes(1);
    let (mut stockholm, mut utc) = (vec![], vec![]);
    let mut t = from - chrono::Duration::minutes(1);
    while t <= to {
        stockholm.push(
            t.and_utc()
                .with_timezone(&chrono_tz::Europe::Stockholm)
                .format("%Y-%m-%d %H:%M")
                .to_string(),
        );
        utc.push(t.format("%Y-%m-%d %H:%M").to_string());
        t += chrono::Duration::minutes(1);
    }
    (stockholm, utc)
}

/// Wait (at most 10 s) until `path` as `b` shows `want`; returns the page.
async fn page_showing(app: &TestApp, b: &reqwest::Client, path: &str, want: &str) -> String {
    let mut html = String::new();
    for _ in 0..100 {
        html = page(app, b, path).await.1;
        if html.contains(want) {
            return html;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{path} never showed {want}: {html}");
}

/// An admin saves the SLA targets of `queue` for `priority` (`first_response` as the form takes
/// it: minutes, 1:30, 4h or 2d).
async fn sla_targets(
    app: &TestApp,
    admin: &reqwest::Client,
    queue: i64,
    priority: &str,
    first_response: &str,
    resolution: &str,
) {
    let path = format!("/admin/sla/policies/{queue}/{priority}");
    let r = post_form(
        app,
        admin,
        &path,
        &path,
        &[
            ("first_response", first_response),
            ("resolution", resolution),
            ("warn_percent", "80"),
            ("rules", ""),
        ],
    )
    .await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
}

/// Point 16: Anna's Mitt arbete lists her tickets with the least SLA time left first (a low
/// priority ticket with 30 minutes before a high one with 8 hours; one no target runs for last),
/// and has the same bulk form as the queue lists: she takes two unassigned tickets at once and is
/// back on Mitt arbete with "Klart: 2 ärenden ändrades."; a post without the page's CSRF token
/// changes nothing.
async fn my_work_has_bulk_actions_and_the_least_sla_time_left_first(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("alby").await;
    let admin = signed_in(&app, &org.slug, &org.admin.email, &org.admin.password).await;
    sla_targets(&app, &admin, org.queue_a, "low", "30", "").await;
    sla_targets(&app, &admin, org.queue_a, "high", "8h", "").await;

    let tok = &org.agent_a.token;
    let mut mine = vec![];
    for (subject, priority) in [
        ("Hög prioritet men gott om tid", "high"),
        ("Utan servicenivå", "normal"),
        ("Låg prioritet men snart sen", "low"),
    ] {
        let n = app
            .create_ticket_from(
                tok,
                serde_json::json!({
                    "queue": org.queue_a, "subject": subject, "body": "Hej!", "priority": priority,
                    "contact": { "name": "Maria Lind", "email": "maria@example.org" }
                }),
            )
            .await;
        app.patch_ticket(tok, &n, serde_json::json!({ "assignee": org.agent_a.id }))
            .await;
        mine.push(n);
    }
    let (high, none, low) = (&mine[0], &mine[1], &mine[2]);
    // The SLA follower stores the due times moments after the tickets are made.
    for n in [high, low] {
        let mut due = Value::Null;
        for _ in 0..100 {
            due = api(&app, tok, &format!("/api/v1/tickets/{n}")).await["sla_due_at"].clone();
            if due.is_string() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(due.is_string(), "{n} has a due time");
    }

    let anna = signed_in(&app, &org.slug, &org.agent_a.email, &org.agent_a.password).await;
    let (status, work) = page(&app, &anna, "/").await;
    assert_eq!(status, 200);
    let section = between(&work, "id=\"mine-h\"", "id=\"free-h\"");
    let at = |n: &str| position(section, n).unwrap_or_else(|| panic!("{n} is mine: {section}"));
    assert!(
        at(low) < at(high) && at(high) < at(none),
        "least SLA time left first, then the ticket without a target: {section}"
    );

    // Two tickets nobody has taken yet, and the bulk form on Mitt arbete.
    let mut free = vec![];
    for s in [
        "Fråga om bygglov",
        "Fråga om parkeringstillstånd",
        "Fråga om skolskjuts",
    ] {
        free.push(number(&app.create_ticket(tok, org.queue_a, s).await));
    }
    let (_, work) = page(&app, &anna, "/").await;
    let form = between(
        &work,
        "<form method=\"post\" action=\"/tickets/bulk\"",
        "</form>",
    );
    assert!(form.contains("id=\"bulk\""), "{form}");
    assert!(form.contains("name=\"back\" value=\"/\""), "{form}");
    assert!(form.contains("value=\"assign_me\""), "{form}");
    let unassigned = &work[work.find("id=\"free-h\"").unwrap()..];
    for n in &free {
        assert!(
            row_of(unassigned, n).contains(&format!("value=\"{n}\" form=\"bulk\"")),
            "{n} can be chosen"
        );
    }

    // Without the page's token: refused, nothing changes.
    let r = anna
        .post(app.url("/tickets/bulk"))
        .form(&[
            ("csrf", "inte-sidans-token"),
            ("action", "assign_me"),
            ("target", ""),
            ("back", "/"),
            ("t", free[0].as_str()),
            ("confirmed", "1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let t = api(&app, tok, &format!("/api/v1/tickets/{}", free[0])).await;
    assert!(t["assignee_id"].is_null(), "{t}");

    let fields = [
        ("action", "assign_me"),
        ("target", ""),
        ("back", "/"),
        ("t", free[0].as_str()),
        ("t", free[1].as_str()),
    ];
    let r = post_form(&app, &anna, "/", "/tickets/bulk", &fields).await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("Tilldela dig 2 ärenden?"));
    let mut confirmed = fields.to_vec();
    confirmed.push(("confirmed", "1"));
    let r = post_form(&app, &anna, "/", "/tickets/bulk", &confirmed).await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/?done=2", "back on Mitt arbete");
    let (_, work) = page(&app, &anna, "/?done=2").await;
    assert!(work.contains("Klart: 2 ärenden ändrades."), "{work}");
    let section = between(&work, "id=\"mine-h\"", "id=\"free-h\"");
    for n in &free[..2] {
        assert!(position(section, n).is_some(), "{n} is Anna's now");
        let t = api(&app, tok, &format!("/api/v1/tickets/{n}")).await;
        assert_eq!(t["assignee_id"], org.agent_a.id);
    }
    let t = api(&app, tok, &format!("/api/v1/tickets/{}", free[2])).await;
    assert!(t["assignee_id"].is_null(), "the one not chosen stays free");

    // One ticket: the count reads in the singular (point 21).
    let one = [
        ("action", "unassign"),
        ("target", ""),
        ("back", "/"),
        ("t", free[0].as_str()),
        ("confirmed", "1"),
    ];
    let r = post_form(&app, &anna, "/", "/tickets/bulk", &one).await;
    assert_eq!(location(&r), "/?done=1");
    let (_, work) = page(&app, &anna, "/?done=1").await;
    assert!(work.contains("Klart: 1 ärende ändrades."), "{work}");
}
both_backends!(my_work_has_bulk_actions_and_the_least_sla_time_left_first);

/// A referral handler account for Miljöförvaltningen, made on the admin pages; returns the
/// department's id and the handler's password.
async fn department_with_handler(app: &TestApp, admin: &reqwest::Client) -> (String, String) {
    let password = "ett-långt-lösenord-för-remisser".to_string();
    let r = post_form(
        app,
        admin,
        "/admin/users",
        "/admin/users",
        &[
            ("name", "Hanna Miljö"),
            ("email", "hanna@alby.se"),
            ("role", "handler"),
            ("password", &password),
            ("repeat", &password),
        ],
    )
    .await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    let (_, form) = page(app, admin, "/admin/escalation/new?kind=referral").await;
    let at = form.find("(hanna@alby.se)").expect("the handler is listed");
    let start = form[..at].rfind("value=\"").unwrap() + 7;
    let hanna = form[start..start + form[start..].find('"').unwrap()].to_string();
    let r = post_form(
        app,
        admin,
        "/admin/escalation",
        "/admin/escalation",
        &[
            ("kind", "referral"),
            ("name", "Miljöförvaltningen"),
            ("email", "miljo@alby.se"),
            ("response_days", "5"),
            ("handlers", &hanna),
        ],
    )
    .await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    let (_, list) = page(app, admin, "/admin/escalation").await;
    let at = list.find(">Miljöförvaltningen</a>").unwrap();
    let href = "href=\"/admin/escalation/";
    let start = list[..at].rfind(href).unwrap() + href.len();
    let id = list[start..start + list[start..].find('"').unwrap()].to_string();
    (id, password)
}

/// Points 17 and 15: Anna refers a ticket to Miljöförvaltningen. The queue list, Mitt arbete and
/// the row a live update brings all show "Remiss ute" on it, with the citizen as contact and when
/// something last happened; the live row comes only for a list whose filter shows the ticket.
/// The department's handler opens the referral from "Mina remisser", has the way back and a
/// logout there (point 21), and answers: the lists then say "Remiss besvarad".
async fn a_referral_shows_in_the_lists_out_and_answered(b: Backend) {
    let app = TestApp::spawn_with(b, &[("ARENDO_OUTBOX__RETRY_BASE_MS", "200")]).await;
    let org = app.org("alby").await;
    let admin = signed_in(&app, &org.slug, &org.admin.email, &org.admin.password).await;
    let (miljo, password) = department_with_handler(&app, &admin).await;
    let tok = &org.agent_a.token;
    let start = Utc::now().naive_utc();
    let referred = number(
        &app.create_ticket(tok, org.queue_a, "Buller från fläkten på taket")
            .await,
    );
    let plain = number(
        &app.create_ticket(tok, org.queue_a, "Fråga om sophämtning")
            .await,
    );
    let anna = signed_in(&app, &org.slug, &org.agent_a.email, &org.agent_a.password).await;
    assert_eq!(
        app.escalate(&anna, &referred, &miljo, "Kan ni mäta bullret?")
            .await,
        303
    );

    // Out on referral, once the department's mail has gone: in the queue's list …
    let list_path = format!("/tickets?queue={}", org.queue_a);
    let list = page_showing(&app, &anna, &list_path, "Remiss ute").await;
    let (stockholm, utc) = minutes_since(start);
    let head = between(&list, "<thead>", "</thead>");
    assert!(
        head.contains(">Kontakt<") && head.contains(">Senaste aktivitet<"),
        "{head}"
    );
    let check_row = |row: &str, badge: Option<(&str, &str)>| {
        match badge {
            Some((class, text)) => assert!(
                row.contains(&format!("badge-referral-{class}\">{text}<")),
                "{text}: {row}"
            ),
            None => assert!(!row.contains("badge-referral"), "{row}"),
        }
        assert!(
            row.contains("<td class=\"opt contact\">Maria Lind</td>"),
            "{row}"
        );
        let activity = between(row, "<td class=\"opt nowrap activity\">", "</td>");
        let shown = &activity["<td class=\"opt nowrap activity\">".len()..];
        assert!(
            stockholm.iter().any(|m| m == shown) && !utc.iter().any(|m| m == shown),
            "last activity {shown} in Stockholm time (one of {stockholm:?})"
        );
    };
    check_row(row_of(&list, &referred), Some(("sent", "Remiss ute")));
    check_row(row_of(&list, &plain), None);
    // … on Mitt arbete (not taken yet: in "unassigned in my queues") …
    let (_, work) = page(&app, &anna, "/").await;
    check_row(
        row_of(&work[work.find("id=\"free-h\"").unwrap()..], &referred),
        Some(("sent", "Remiss ute")),
    );
    // … and in the row a live update inserts, the same as the rendered one.
    let (status, live) = page(&app, &anna, &format!("/tickets/{referred}/row")).await;
    assert_eq!(status, 200);
    check_row(&live, Some(("sent", "Remiss ute")));
    let (_, live) = page(&app, &anna, &format!("/tickets/{plain}/row")).await;
    check_row(&live, None);
    // A list whose filter shows the ticket takes the live row; one whose filter does not, not.
    let (status, live) = page(
        &app,
        &anna,
        &format!("/tickets/{referred}/row?list=1&queue={}", org.queue_a),
    )
    .await;
    assert_eq!(status, 200);
    check_row(&live, Some(("sent", "Remiss ute")));
    for filter in [
        "assignee=me",
        "status=resolved",
        "priority=urgent",
        "sla=breached",
    ] {
        let (status, body) = page(
            &app,
            &anna,
            &format!("/tickets/{referred}/row?list=1&{filter}"),
        )
        .await;
        assert_eq!(status, 204, "{filter}: {body}");
    }

    // The handler: from Mina remisser to the referral, with the way back and a logout.
    let hanna = signed_in(&app, &org.slug, "hanna@alby.se", &password).await;
    let (_, mine) = page(&app, &hanna, "/remisser").await;
    let href = "href=\"/remiss/";
    let at = mine.find(href).expect("the referral is listed") + "href=\"".len();
    let path = mine[at..at + mine[at..].find('"').unwrap()].to_string();
    let (status, html) = page(&app, &hanna, &path).await;
    assert_eq!(status, 200);
    assert!(
        html.contains("<a href=\"/remisser\">Tillbaka till Mina remisser</a>"),
        "{html}"
    );
    assert!(html.contains("action=\"/logout\""), "a logout: {html}");
    assert!(html.contains("Buller från fläkten"));
    let r = hanna
        .post(app.url(&format!("{path}/answer")))
        .form(&[
            ("csrf", csrf_in(&html).as_str()),
            ("text", "Vi mäter bullret på torsdag."),
            ("to", "agent"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let (_, html) = page(&app, &hanna, &path).await;
    assert!(html.contains("action=\"/logout\""), "still signed in");

    // The answer is back.
    let list = page_showing(&app, &anna, &list_path, "Remiss besvarad").await;
    let (stockholm, _) = minutes_since(start);
    let row = row_of(&list, &referred);
    assert!(
        row.contains("badge-referral-answered\">Remiss besvarad<") && !row.contains("Remiss ute"),
        "{row}"
    );
    assert!(stockholm.iter().any(|m| row.contains(m.as_str())));
    let (_, live) = page(&app, &anna, &format!("/tickets/{referred}/row")).await;
    assert!(
        live.contains("badge-referral-answered\">Remiss besvarad<"),
        "{live}"
    );
}
both_backends!(a_referral_shows_in_the_lists_out_and_answered);

/// Point 21, wording: durations without zero units on the SLA page ("1 min", "2 tim", never
/// "0 tim 1 min" or "2 tim 0 min"), and "2 nya meddelanden" when two mails came in while Anna
/// wrote her reply.
async fn durations_and_counts_read_as_people_write_them(b: Backend) {
    let app = TestApp::spawn_with(b, &[("ARENDO_MAIL__IMAP_ENABLED", "false")]).await;
    let org = app.org("alby").await;
    let admin = signed_in(&app, &org.slug, &org.admin.email, &org.admin.password).await;
    sla_targets(&app, &admin, org.queue_a, "normal", "1", "2h").await;
    let (_, sla) = page(&app, &admin, "/admin/sla").await;
    assert!(sla.contains(">1 min<"), "one minute: {sla}");
    assert!(sla.contains(">2 tim<"), "two hours: {sla}");
    assert!(
        !sla.contains("0 tim") && !sla.contains("tim 0 min"),
        "{sla}"
    );

    let n = number(
        &app.create_ticket(&org.agent_a.token, org.queue_a, "Fråga om bygglov")
            .await,
    );
    let anna = signed_in(&app, &org.slug, &org.agent_a.email, &org.agent_a.password).await;
    let ticket_page = format!("/tickets/{n}");
    let (_, html) = page(&app, &anna, &ticket_page).await;
    let seen = between(&html, "name=\"seen\" value=\"", "\"")["name=\"seen\" value=\"".len()..]
        .to_string();
    let csrf = csrf_in(&html);
    // Maria writes twice while Anna writes.
    let dir = tempfile::tempdir().unwrap();
    for (i, text) in ["Jag glömde en sak.", "Och en till."].iter().enumerate() {
        std::fs::write(
            dir.path().join(format!("{i}.eml")),
            crate::mail::mail(
                "Maria Lind <maria@example.org>",
                "kundtjanst@alby.se",
                &format!("Re: Fråga om bygglov [{n}]"),
                &format!("tillagg{i}@example.org"),
                "",
                text,
            ),
        )
        .unwrap();
    }
    let out = app.import_dir(&org.slug, "kundtjanst", dir.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let form = reqwest::multipart::Form::new()
        .text("csrf", csrf)
        .text("kind", "reply")
        .text("seen", seen)
        .text("body", "Hej Maria! Du behöver bygglov.");
    let r = anna
        .post(app.url(&format!("{ticket_page}/messages")))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("Medborgaren har skrivit 2 nya meddelanden sedan du började."),
        "{html}"
    );
}
both_backends!(durations_and_counts_read_as_people_write_them);

/// Point 21: Swedish has one word for e-mail in Ärendo, "e-post" — no "mejl" or "e-brev" in any
/// text of the Swedish locale files, nor in the Swedish mail and SMS templates.
#[test]
fn the_swedish_texts_say_e_post() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/locales/sv");
    let mut files = 0;
    let mut found = vec![];
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        files += 1;
        let texts: serde_json::Map<String, Value> =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        for (key, text) in texts {
            let lower = text.as_str().unwrap_or_default().to_lowercase();
            if lower.contains("mejl") || lower.contains("e-brev") {
                found.push(format!("{}: {key}: {text}", path.display()));
            }
        }
    }
    assert!(
        files > 5,
        "the Swedish locale files are at {}",
        dir.display()
    );
    // The Swedish mails and SMS the citizens get, too.
    let mut dirs = vec![std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.to_string_lossy().ends_with(".sv.hbs") {
                let lower = std::fs::read_to_string(&path).unwrap().to_lowercase();
                if lower.contains("mejl") || lower.contains("e-brev") {
                    found.push(path.display().to_string());
                }
            }
        }
    }
    assert!(found.is_empty(), "say e-post:\n{}", found.join("\n"));
}

/// Point 21, the pages around the lists: citizen pages carry the municipality's name; a favicon
/// is served and linked; every admin page marks the Administration tab current; canned responses
/// and routing rules show Stockholm time; KB departments read as the queues' names and are chosen
/// from a select; images in a citizen's HTML mail get a text alternative.
async fn pages_name_their_municipality_time_and_departments(b: Backend) {
    let app = TestApp::spawn_with(b, &[("ARENDO_MAIL__IMAP_ENABLED", "false")]).await;
    let org = app.org("alby").await;
    let citizen = app.browser();
    for path in ["/mitt-arende/alby", "/kb/alby"] {
        let (status, html) = page(&app, &citizen, path).await;
        assert_eq!(status, 200, "{path}");
        let title = between(&html, "<title>", "</title>");
        assert!(
            title.ends_with("– alby kommun") && !title.contains("Ärendo"),
            "{path}: {title}"
        );
        assert!(
            html.contains("<span class=\"brand\">alby kommun</span>"),
            "{path}"
        );
    }

    // The favicon: served, and linked from every page.
    let r = citizen
        .get(app.url("/static/favicon.svg"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/svg+xml");
    assert!(r.text().await.unwrap().starts_with("<svg"));
    let (_, login) = page(&app, &citizen, "/login").await;
    assert!(login.contains("<link rel=\"icon\" href=\"/static/favicon.svg\""));

    // Every admin page marks "Administration" as the current tab.
    let admin = signed_in(&app, &org.slug, &org.admin.email, &org.admin.password).await;
    for path in [
        "/admin".to_string(),
        "/admin/users".to_string(),
        "/admin/queues".to_string(),
        format!("/admin/queues/{}", org.queue_a),
        "/admin/mailboxes".to_string(),
        "/admin/canned".to_string(),
        "/admin/canned/new".to_string(),
        "/admin/routing".to_string(),
        "/admin/routing/new".to_string(),
        "/admin/escalation".to_string(),
        "/admin/sla".to_string(),
        "/admin/sla/calendars/new".to_string(),
        format!("/admin/sla/policies/{}/normal", org.queue_a),
        "/admin/deliveries".to_string(),
        "/admin/sms".to_string(),
    ] {
        let (status, html) = page(&app, &admin, &path).await;
        assert_eq!(status, 200, "{path}");
        let nav = between(&html, "<nav", "</nav>");
        assert!(
            nav.contains("<a href=\"/admin\" aria-current=\"page\">"),
            "{path}: {nav}"
        );
        assert_eq!(nav.matches("aria-current").count(), 1, "{path}: {nav}");
        assert!(html.contains("<link rel=\"icon\" href=\"/static/favicon.svg\""));
    }

    // A canned response and a routing rule that a mail meets: their times in Stockholm time.
    let start = Utc::now().naive_utc();
    let queue_a = org.queue_a.to_string();
    let r = post_form(
        &app,
        &admin,
        "/admin/canned/new",
        "/admin/canned",
        &[
            ("title", "Tack för ditt meddelande"),
            ("queue", &queue_a),
            ("body", "Hej {{contact.name}}!"),
            ("action", "save"),
        ],
    )
    .await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    let r = post_form(
        &app,
        &admin,
        "/admin/routing/new",
        "/admin/routing",
        &[
            ("name", "Läckor är brådskande"),
            ("enabled", "1"),
            ("match_words", "vattenläcka"),
            ("set_priority", "high"),
        ],
    )
    .await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    let n = number(
        &app.create_ticket(&org.agent_a.token, org.queue_a, "Vattnet i parken")
            .await,
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("1.eml"),
        crate::mail::mail(
            "Per Ek <per@example.org>",
            "kundtjanst@alby.se",
            "Vattenläcka i källaren",
            "lacka@example.org",
            "",
            "Det läcker.",
        ),
    )
    .unwrap();
    // Maria's answer in HTML, with a map and a tracking pixel.
    let html_mail = format!(
        "From: Maria Lind <maria@example.org>\r\nTo: kundtjanst@alby.se\r\nSubject: Re: Vattnet i parken [{n}]\r\nMessage-ID: <karta@example.org>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0100\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Här är det:</p><img src=\"https://kartor.example.org/park.png\"><img src=\"https://kartor.example.org/park2.png\" alt=\"Karta över parken\"><p>Maria</p>\r\n"
    );
    std::fs::write(dir.path().join("2.eml"), html_mail).unwrap();
    let out = app.import_dir(&org.slug, "kundtjanst", dir.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (stockholm, utc) = minutes_since(start);
    let in_stockholm_time = |html: &str, what: &str| {
        assert!(
            stockholm.iter().any(|m| html.contains(m.as_str())),
            "{what} in Stockholm time (one of {stockholm:?}): {html}"
        );
        assert!(
            !utc.iter().any(|m| html.contains(m.as_str())),
            "{what} not in UTC: {html}"
        );
    };
    let (_, canned) = page(&app, &admin, "/admin/canned").await;
    in_stockholm_time(between(&canned, "<tbody>", "</tbody>"), "canned response");
    let (_, routing) = page(&app, &admin, "/admin/routing").await;
    let rule = between(&routing, ">Läckor är brådskande<", "</tr>");
    assert!(rule.contains("senast "), "the rule was met: {rule}");
    in_stockholm_time(rule, "the rule's last match");

    // The citizen's images: each with a text alternative (the pixel an empty one).
    let anna = signed_in(&app, &org.slug, &org.agent_a.email, &org.agent_a.password).await;
    let (_, ticket) = page(&app, &anna, &format!("/tickets/{n}")).await;
    let conversation = between(&ticket, "Här är det:", "Maria</p>");
    let images: Vec<&str> = conversation.split("<img").skip(1).collect();
    assert_eq!(images.len(), 2, "{conversation}");
    for img in &images {
        let tag = &img[..img.find('>').unwrap()];
        assert!(tag.contains(" alt=\""), "<img{tag}>");
    }
    assert!(conversation.contains("alt=\"Karta över parken\""));
    assert!(
        !ticket
            .split("<img")
            .skip(1)
            .any(|i| !i[..i.find('>').unwrap()].contains(" alt=")),
        "no image on the page without alt"
    );

    // Knowledge base: departments by the queues' names, chosen from a select.
    let (_, form) = page(&app, &admin, "/knowledge/new").await;
    let select = between(
        &form,
        "<select id=\"a-dep\" name=\"department\"",
        "</select>",
    );
    assert!(
        select.contains("<option value=\"kundtjanst\">Kundtjänst</option>")
            && select.contains("<option value=\"va\">VA</option>"),
        "{select}"
    );
    let csrf = csrf_in(&form);
    let r = admin
        .post(app.url("/knowledge/new"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("revision", "0"),
            ("title", "Öppettider i kontaktcentret"),
            ("slug", "oppettider"),
            ("summary", "Vardagar 8–17."),
            ("tags", "öppettider"),
            ("department", "kundtjanst"),
            ("audience", "public"),
            ("language", "sv"),
            ("status", "published"),
            ("body", "Kontaktcentret har öppet vardagar 8–17."),
            ("action", "save"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    let (_, home) = page(&app, &admin, "/knowledge").await;
    let row = between(&home, "href=\"/knowledge/oppettider\"", "</tr>");
    assert!(row.contains("<td>Kundtjänst</td>"), "{row}");
    assert!(
        between(&home, "<select id=\"kb-dep\"", "</select>")
            .contains("<option value=\"kundtjanst\">Kundtjänst</option>"),
        "the filter offers the department by name"
    );
    let (_, article) = page(&app, &admin, "/knowledge/oppettider").await;
    assert!(article.contains("· Kundtjänst ·"), "{article}");
    let (_, edit) = page(&app, &admin, "/knowledge/oppettider/edit").await;
    assert!(
        edit.contains("<option value=\"kundtjanst\" selected>Kundtjänst</option>"),
        "{edit}"
    );
}
both_backends!(pages_name_their_municipality_time_and_departments);
