//! The admin pages (/admin), over real HTTP with a browser's cookies and CSRF tokens: who may do
//! what (admins everything, queue leads their queues' members, acknowledgement and canned
//! responses, agents nothing), refused input kept in the form, and tenants kept apart (404).

use arendo::accounts::tokens::{Signer, TokenKind};
use arendo::accounts::{self, Actor};
use arendo::domain::TicketNumber;
use arendo::secrets::Keys;
use arendo::tickets::canned;

use crate::both_backends;
use crate::helpers::{Backend, TestApp};

/// A signed-in browser and its CSRF token.
struct Browser {
    client: reqwest::Client,
    csrf: String,
}

async fn sign_in(app: &TestApp, tenant: &str, email: &str, password: &str) -> Browser {
    let client = app.browser();
    let r = app.login(&client, tenant, email, password).await;
    assert_eq!(r.status(), 303, "sign-in of {email}");
    let csrf = app.csrf(&client, "/").await;
    Browser { client, csrf }
}

impl Browser {
    async fn get(&self, app: &TestApp, path: &str) -> (u16, String) {
        let r = self.client.get(app.url(path)).send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.text().await.unwrap())
    }

    /// Post a form (the CSRF token is added); returns status, Location and body.
    async fn post(
        &self,
        app: &TestApp,
        path: &str,
        fields: &[(&str, &str)],
    ) -> (u16, String, String) {
        let mut all = vec![("csrf", self.csrf.as_str())];
        all.extend_from_slice(fields);
        let r = self
            .client
            .post(app.url(path))
            .form(&all)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let location = r
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        (status, location, r.text().await.unwrap())
    }
}

/// The number after `prefix` in `s` (an id in a redirect or a link).
fn id_after(s: &str, prefix: &str) -> i64 {
    let start = s.find(prefix).unwrap_or_else(|| panic!("{prefix} in {s}")) + prefix.len();
    s[start..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect::<String>()
        .parse()
        .unwrap()
}

async fn actor_of(app: &TestApp, api_token: &str) -> Actor {
    let signer = Signer::new(&Keys::from_hex(&app.key_hex).unwrap());
    accounts::authenticate(&app.db, &signer, api_token, TokenKind::Api)
        .await
        .unwrap()
}

const LENA_PASSWORD: &str = "lena har ett långt lösenord";

/// An admin creates a queue and a user and makes the user its lead; the lead manages that queue's
/// members and canned responses, and is refused (403) everything else.
async fn admin_makes_a_lead_who_manages_only_their_queue(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("alby").await;
    let admin = sign_in(&app, &org.slug, &org.admin.email, &org.admin.password).await;

    let (status, html) = admin.get(&app, "/admin").await;
    assert_eq!(status, 200);
    for section in ["Köer", "Användare", "Funktionsbrevlådor", "Färdiga svar"] {
        assert!(html.contains(section), "{section} on the admin start page");
    }

    let (status, location, _) = admin
        .post(
            &app,
            "/admin/queues",
            &[("slug", "bygglov"), ("name", "Bygglov")],
        )
        .await;
    assert_eq!(status, 303);
    assert!(location.ends_with("?ok=queue_created"), "{location}");
    let queue = id_after(&location, "/admin/queues/");
    let (_, html) = admin.get(&app, &location).await;
    assert!(html.contains("Kön är skapad"), "flash message");
    assert!(html.contains("<h1>Bygglov"));

    // The same slug again: refused next to the form, with what was typed kept.
    let (status, _, html) = admin
        .post(
            &app,
            "/admin/queues",
            &[("slug", "bygglov"), ("name", "Bygglov igen")],
        )
        .await;
    assert_eq!(status, 409);
    assert!(html.contains("role=\"alert\""));
    assert!(html.contains("Det finns redan en kö med det kortnamnet"));
    assert!(html.contains("value=\"Bygglov igen\""));

    let (status, location, _) = admin
        .post(
            &app,
            "/admin/users",
            &[
                ("name", "Lena Lind"),
                ("email", "lena@alby.se"),
                ("role", "agent"),
                ("password", LENA_PASSWORD),
                ("repeat", LENA_PASSWORD),
            ],
        )
        .await;
    assert_eq!(status, 303, "create user");
    let lena = id_after(&location, "/admin/users/");
    let (status, _, _) = admin
        .post(
            &app,
            &format!("/admin/queues/{queue}/members"),
            &[("user", &lena.to_string()), ("role", "lead")],
        )
        .await;
    assert_eq!(status, 303, "add lead");
    let (status, _, _) = admin
        .post(
            &app,
            &format!("/admin/queues/{queue}/members"),
            &[("user", &org.agent_a.id.to_string()), ("role", "agent")],
        )
        .await;
    assert_eq!(status, 303, "add agent");
    let (_, html) = admin.get(&app, "/admin/queues").await;
    assert!(
        html.contains(&format!(
            "<a href=\"/admin/queues/{queue}\">Bygglov</a></th><td class=\"mono\">bygglov</td><td>2</td>"
        )),
        "member count: {html}"
    );
    let (_, html) = admin.get(&app, "/admin/users").await;
    assert!(html.contains("lena@alby.se"));
    assert!(html.contains("Bygglov</a> (köansvarig)"), "{html}");

    // The lead.
    let lead = sign_in(&app, &org.slug, "lena@alby.se", LENA_PASSWORD).await;
    let (status, html) = lead.get(&app, "/admin").await;
    assert_eq!(status, 200);
    assert!(html.contains(&format!("/admin/queues/{queue}")));
    assert!(!html.contains("/admin/users"), "no user admin for leads");
    let (status, html) = lead.get(&app, "/admin/queues").await;
    assert_eq!(status, 200);
    assert!(html.contains("Bygglov"));
    assert!(!html.contains("Kundtjänst"), "only the queues she leads");
    assert!(!html.contains("Ny kö"), "leads do not create queues");
    let (status, html) = lead.get(&app, &format!("/admin/queues/{queue}")).await;
    assert_eq!(status, 200);
    assert!(html.contains("anna alby"));
    assert!(!html.contains("Byt namn på kön"), "leads do not rename");

    let anna = org.agent_a.id;
    let (status, _, _) = lead
        .post(
            &app,
            &format!("/admin/queues/{queue}/members/{anna}/role"),
            &[("role", "lead")],
        )
        .await;
    assert_eq!(status, 303, "lead changes a role");
    let (status, location, _) = lead
        .post(
            &app,
            &format!("/admin/queues/{queue}/members/{anna}/remove"),
            &[],
        )
        .await;
    assert_eq!(status, 303, "lead removes a member");
    let (_, html) = lead.get(&app, &location).await;
    assert!(html.contains("Användaren är borttagen ur kön"));
    assert!(
        !html.contains(&format!("/members/{anna}/remove")),
        "anna is out"
    );
    let (status, _, _) = lead
        .post(
            &app,
            &format!("/admin/queues/{queue}/members"),
            &[("user", &anna.to_string()), ("role", "agent")],
        )
        .await;
    assert_eq!(status, 303, "lead adds a member");

    let (status, location, _) = lead
        .post(
            &app,
            "/admin/canned",
            &[
                ("title", "Tack för din ansökan"),
                ("queue", &queue.to_string()),
                ("body", "Hej {{contact.name}}!"),
                ("action", "save"),
            ],
        )
        .await;
    assert_eq!(status, 303, "lead creates a canned response");
    let (_, html) = lead.get(&app, &location).await;
    assert!(html.contains("Tack för din ansökan"), "{html}");
    let canned_id = id_after(&html, "<a href=\"/admin/canned/");
    let (status, _, _) = lead
        .post(
            &app,
            &format!("/admin/canned/{canned_id}"),
            &[
                ("title", "Tack för din bygglovsansökan"),
                ("queue", &queue.to_string()),
                ("body", "Hej {{contact.name}}!"),
                ("action", "save"),
            ],
        )
        .await;
    assert_eq!(status, 303, "lead edits the canned response");

    // Refused: everything outside her queue.
    for path in [
        "/admin/users".to_string(),
        format!("/admin/users/{}", org.agent_a.id),
        "/admin/mailboxes".to_string(),
        "/admin/mailboxes/new".to_string(),
        format!("/admin/queues/{}", org.queue_a),
    ] {
        let (status, html) = lead.get(&app, &path).await;
        assert_eq!(status, 403, "lead: GET {path}");
        assert!(html.contains("Du saknar behörighet"), "{path}");
    }
    let a = org.queue_a;
    for (path, fields) in [
        (
            "/admin/queues".to_string(),
            vec![("slug", "egen"), ("name", "Egen")],
        ),
        (
            format!("/admin/queues/{queue}/name"),
            vec![("name", "Mitt")],
        ),
        (
            format!("/admin/queues/{a}/members"),
            vec![("user", "1"), ("role", "agent")],
        ),
        (format!("/admin/queues/{a}/ack"), vec![("template", "Hej")]),
        (
            "/admin/users".to_string(),
            vec![
                ("name", "X"),
                ("email", "x@alby.se"),
                ("role", "admin"),
                ("password", LENA_PASSWORD),
                ("repeat", LENA_PASSWORD),
            ],
        ),
        (
            format!("/admin/users/{}/active", org.agent_a.id),
            vec![("active", "false")],
        ),
        (
            "/admin/canned".to_string(),
            vec![
                ("title", "För alla"),
                ("queue", ""),
                ("body", "Hej"),
                ("action", "save"),
            ],
        ),
        (
            "/admin/canned".to_string(),
            vec![
                ("title", "För Kundtjänst"),
                ("queue", &a.to_string()),
                ("body", "Hej"),
                ("action", "save"),
            ],
        ),
    ] {
        let (status, _, _) = lead.post(&app, &path, &fields).await;
        assert_eq!(status, 403, "lead: POST {path}");
    }
    // …and nothing of that happened.
    let (_, html) = admin.get(&app, "/admin/users").await;
    assert!(!html.contains("x@alby.se"));
    let (_, html) = admin.get(&app, "/admin/canned").await;
    assert!(!html.contains("För alla") && !html.contains("För Kundtjänst"));
    assert!(html.contains("Tack för din bygglovsansökan"));
}
both_backends!(admin_makes_a_lead_who_manages_only_their_queue);

/// An agent (no lead role anywhere) gets 403 on every admin page and post; so does a request
/// without a valid CSRF token, even from an admin.
async fn agents_are_refused(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("alby").await;
    let agent = sign_in(&app, &org.slug, &org.agent_a.email, &org.agent_a.password).await;
    for path in [
        "/admin",
        "/admin/queues",
        "/admin/users",
        "/admin/mailboxes",
        "/admin/canned",
        "/admin/canned/new",
    ] {
        let (status, html) = agent.get(&app, path).await;
        assert_eq!(status, 403, "agent: GET {path}");
        assert!(html.contains("Du saknar behörighet"));
    }
    let a = org.queue_a;
    let (status, _, _) = agent
        .post(
            &app,
            &format!("/admin/queues/{a}/members"),
            &[("user", &org.agent_b.id.to_string()), ("role", "lead")],
        )
        .await;
    assert_eq!(status, 403, "agent adds a member to her own queue");
    let (status, _, _) = agent
        .post(
            &app,
            "/admin/canned",
            &[
                ("title", "x"),
                ("queue", &a.to_string()),
                ("body", "y"),
                ("action", "save"),
            ],
        )
        .await;
    assert_eq!(status, 403);

    // Signed out: to the login page.
    let r = app
        .browser()
        .get(app.url("/admin/queues"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/login");

    // No CSRF token: refused before anything else.
    let admin = sign_in(&app, &org.slug, &org.admin.email, &org.admin.password).await;
    let r = admin
        .client
        .post(app.url("/admin/queues"))
        .form(&[("slug", "utan-csrf"), ("name", "Utan CSRF")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let (_, html) = admin.get(&app, "/admin/queues").await;
    assert!(!html.contains("Utan CSRF"));
}
both_backends!(agents_are_refused);

/// A canned response made on the admin page is what agents get on a ticket, variables filled in;
/// a broken one is refused with the text kept; deleting asks first.
async fn canned_response_from_the_admin_page_fills_in_on_a_ticket(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("alby").await;
    let admin = sign_in(&app, &org.slug, &org.admin.email, &org.admin.password).await;
    let a = org.queue_a.to_string();
    let body = "Hej {{contact.name}}!\n\nDitt ärende {{ticket.number}} ({{ticket.subject}}) hanteras av {{queue.name}}.\n\n/{{agent.name}}";

    // Preview only: shows example values, saves nothing.
    let (status, _, html) = admin
        .post(
            &app,
            "/admin/canned",
            &[
                ("title", "Bekräftelse"),
                ("queue", &a),
                ("body", body),
                ("action", "preview"),
            ],
        )
        .await;
    assert_eq!(status, 200);
    assert!(html.contains("Hej Maria Andersson!"), "{html}");
    assert!(html.contains("hanteras av Kundtjänst"));
    assert!(html.contains("value=\"Bekräftelse\""), "title kept");
    let (_, list) = admin.get(&app, "/admin/canned").await;
    assert!(list.contains("Det finns inga färdiga svar ännu"));

    // A broken template: refused, everything kept.
    let broken = "Hej {{#if contact.name}}{{contact.name}}";
    let (status, _, html) = admin
        .post(
            &app,
            "/admin/canned",
            &[
                ("title", "Trasig"),
                ("queue", &a),
                ("body", broken),
                ("action", "save"),
            ],
        )
        .await;
    assert_eq!(status, 422);
    assert!(html.contains("role=\"alert\""));
    assert!(html.contains("Texten kan inte användas"), "{html}");
    assert!(html.contains("value=\"Trasig\""));
    assert!(html.contains("Hej {{#if contact.name}}{{contact.name}}</textarea>"));

    let (status, location, _) = admin
        .post(
            &app,
            "/admin/canned",
            &[
                ("title", "Bekräftelse"),
                ("queue", &a),
                ("body", body),
                ("action", "save"),
            ],
        )
        .await;
    assert_eq!(status, 303);
    assert_eq!(location, "/admin/canned?ok=canned_created");
    let (_, list) = admin.get(&app, &location).await;
    let id = id_after(&list, "<a href=\"/admin/canned/");
    let (status, html) = admin.get(&app, &format!("/admin/canned/{id}")).await;
    assert_eq!(status, 200);
    assert!(html.contains("Ändra färdigt svar"));
    assert!(
        html.contains("Hej Maria Andersson!"),
        "preview of the stored text"
    );

    // On a real ticket in queue A, through the domain function the ticket page uses.
    let ticket = app
        .create_ticket(&org.admin.token, org.queue_a, "Fråga om parkering")
        .await;
    let number_text = ticket["number"].as_str().unwrap().to_string();
    let number = TicketNumber::parse(&number_text).unwrap();
    let actor = actor_of(&app, &org.agent_a.token).await;
    let offered = canned::for_ticket(&app.db, &actor, number.clone())
        .await
        .unwrap();
    assert!(offered.iter().any(|c| c.id == id));
    let text = canned::render_for_ticket(&app.db, &actor, number.clone(), id)
        .await
        .unwrap();
    assert_eq!(
        text,
        format!(
            "Hej Maria Lind!\n\nDitt ärende {number_text} (Fråga om parkering) hanteras av Kundtjänst.\n\n/anna alby"
        )
    );

    // Delete: a confirmation page first, then gone.
    let (status, html) = admin.get(&app, &format!("/admin/canned/{id}/delete")).await;
    assert_eq!(status, 200);
    assert!(html.contains("Ta bort ”Bekräftelse”?"));
    let (status, location, _) = admin
        .post(&app, &format!("/admin/canned/{id}/delete"), &[])
        .await;
    assert_eq!(status, 303);
    let (_, list) = admin.get(&app, &location).await;
    assert!(list.contains("Det färdiga svaret är borttaget"));
    assert!(!list.contains("Bekräftelse</a>"));
    assert!(
        canned::render_for_ticket(&app.db, &actor, number, id)
            .await
            .is_err()
    );
}
both_backends!(canned_response_from_the_admin_page_fills_in_on_a_ticket);

/// The acknowledgement template: a broken one is refused with a message and the text kept; a good
/// one is stored (the preview shows it filled in); an empty one goes back to the default.
async fn acknowledgement_template_is_checked_before_it_is_stored(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("alby").await;
    // The lead of queue B edits its acknowledgement.
    let lead = sign_in(&app, &org.slug, &org.agent_b.email, &org.agent_b.password).await;
    let q = org.queue_b;
    let path = format!("/admin/queues/{q}/ack");

    let (_, html) = lead.get(&app, &format!("/admin/queues/{q}")).await;
    assert!(html.contains("Kön använder standardtexten"));
    assert!(html.contains("{{number}}"), "the variables are listed");

    let broken = "Hej {{#if name}}{{name}}, ditt ärende är {{number}}.";
    let (status, _, html) = lead
        .post(&app, &path, &[("template", broken), ("action", "save")])
        .await;
    assert_eq!(status, 422);
    assert!(html.contains("role=\"alert\""));
    assert!(html.contains("Mallen kan inte användas"), "{html}");
    assert!(html.contains(&format!("{broken}</textarea>")), "text kept");
    assert!(html.contains("aria-invalid=\"true\""));
    let (_, html) = lead.get(&app, &format!("/admin/queues/{q}")).await;
    assert!(
        html.contains("Kön använder standardtexten"),
        "nothing stored"
    );

    let good = "Hej{{#if name}} {{name}}{{/if}}!\nVi har fått ditt meddelande till {{queue}} som ärende {{number}}.";
    let (status, _, html) = lead
        .post(&app, &path, &[("template", good), ("action", "preview")])
        .await;
    assert_eq!(status, 200);
    assert!(
        html.contains(
            "Hej Maria Andersson!\nVi har fått ditt meddelande till VA som ärende KC-2026-000123."
        ),
        "{html}"
    );
    let (_, html) = lead.get(&app, &format!("/admin/queues/{q}")).await;
    assert!(
        html.contains("Kön använder standardtexten"),
        "a preview stores nothing"
    );

    let (status, location, _) = lead
        .post(&app, &path, &[("template", good), ("action", "save")])
        .await;
    assert_eq!(status, 303);
    let (_, html) = lead.get(&app, &location).await;
    assert!(html.contains("Mottagningsbekräftelsen är sparad"));
    assert!(html.contains("Kön använder en egen text"));
    assert!(html.contains("Vi har fått ditt meddelande till VA som ärende KC-2026-000123."));

    let (status, location, _) = lead
        .post(&app, &path, &[("template", "  \r\n"), ("action", "save")])
        .await;
    assert_eq!(status, 303);
    let (_, html) = lead.get(&app, &location).await;
    assert!(html.contains("Kön använder nu standardtexten"));
}
both_backends!(acknowledgement_template_is_checked_before_it_is_stored);

/// Users: bad input is refused with the values kept (never the password); deactivation ends the
/// user's sessions; a new password works; the language is the user's own.
async fn admin_manages_users(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("alby").await;
    let admin = sign_in(&app, &org.slug, &org.admin.email, &org.admin.password).await;

    let (status, _, html) = admin
        .post(
            &app,
            "/admin/users",
            &[
                ("name", "Karl Kort"),
                ("email", "karl@alby.se"),
                ("role", "admin"),
                ("password", "kort"),
                ("repeat", "kort"),
            ],
        )
        .await;
    assert_eq!(status, 422);
    assert!(html.contains("Lösenordet måste vara minst 10 tecken"));
    assert!(html.contains("value=\"Karl Kort\"") && html.contains("value=\"karl@alby.se\""));
    assert!(
        html.contains("<option value=\"admin\" selected>"),
        "role kept"
    );
    assert!(
        !html.contains("value=\"kort\""),
        "passwords are not sent back"
    );
    let (status, _, html) = admin
        .post(
            &app,
            "/admin/users",
            &[
                ("name", "Karl Kort"),
                ("email", "karl@alby.se"),
                ("role", "agent"),
                ("password", LENA_PASSWORD),
                ("repeat", "något annat lösenord"),
            ],
        )
        .await;
    assert_eq!(status, 422);
    assert!(html.contains("De två lösenorden är inte likadana"));
    let (status, _, html) = admin
        .post(
            &app,
            "/admin/users",
            &[
                ("name", "Anna igen"),
                ("email", &org.agent_a.email),
                ("role", "agent"),
                ("password", LENA_PASSWORD),
                ("repeat", LENA_PASSWORD),
            ],
        )
        .await;
    assert_eq!(status, 409);
    assert!(html.contains("Det finns redan en användare med den e-postadressen"));

    // Deactivation ends anna's session at once.
    let anna = sign_in(&app, &org.slug, &org.agent_a.email, &org.agent_a.password).await;
    let id = org.agent_a.id;
    let (status, location, _) = admin
        .post(
            &app,
            &format!("/admin/users/{id}/active"),
            &[("active", "false")],
        )
        .await;
    assert_eq!(status, 303);
    let (_, html) = admin.get(&app, &location).await;
    assert!(html.contains("Kontot är inaktiverat"));
    assert!(html.contains("<strong>Inaktiverad</strong>"));
    assert_eq!(anna.get(&app, "/").await.0, 303, "anna is signed out");
    let r = app
        .login(
            &app.browser(),
            &org.slug,
            &org.agent_a.email,
            &org.agent_a.password,
        )
        .await;
    assert_eq!(r.status(), 401, "and cannot sign in");
    let (status, _, _) = admin
        .post(
            &app,
            &format!("/admin/users/{id}/active"),
            &[("active", "true")],
        )
        .await;
    assert_eq!(status, 303);

    // A new password, and English.
    let new = "ett helt nytt lösenord för anna";
    let (status, _, html) = admin
        .post(
            &app,
            &format!("/admin/users/{id}/password"),
            &[("password", "kort"), ("repeat", "kort")],
        )
        .await;
    assert_eq!(status, 422);
    assert!(html.contains("Lösenordet måste vara minst 10 tecken"));
    let (status, _, _) = admin
        .post(
            &app,
            &format!("/admin/users/{id}/password"),
            &[("password", new), ("repeat", new)],
        )
        .await;
    assert_eq!(status, 303);
    let (status, _, _) = admin
        .post(
            &app,
            &format!("/admin/users/{id}/locale"),
            &[("locale", "en")],
        )
        .await;
    assert_eq!(status, 303);
    let (_, html) = admin.get(&app, "/admin/users").await;
    assert!(html.contains("<td class=\"opt\">Engelska</td>"));
    let old = app
        .login(
            &app.browser(),
            &org.slug,
            &org.agent_a.email,
            &org.agent_a.password,
        )
        .await;
    assert_eq!(old.status(), 401, "the old password no longer works");
    let anna = sign_in(&app, &org.slug, &org.agent_a.email, new).await;
    let (_, html) = anna.get(&app, "/").await;
    assert!(html.contains("<h1>My work</h1>"), "{html}");
    let (status, html) = anna.get(&app, "/admin").await;
    assert_eq!(status, 403);
    assert!(html.contains("You are not allowed to do this."));

    // Admins cannot lock themselves out.
    let me = org.admin.id;
    let (status, _, html) = admin
        .post(
            &app,
            &format!("/admin/users/{me}/active"),
            &[("active", "false")],
        )
        .await;
    assert_eq!(status, 422);
    assert!(html.contains("Du kan inte inaktivera ditt eget konto"));
    assert_eq!(admin.get(&app, "/admin").await.0, 200, "still signed in");
}
both_backends!(admin_manages_users);

/// Function mailboxes: the IMAP password is write-only; bad input keeps the form (but never the
/// password); a mailbox can be switched off and on.
async fn admin_adds_a_function_mailbox(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("alby").await;
    let admin = sign_in(&app, &org.slug, &org.admin.email, &org.admin.password).await;
    let (status, html) = admin.get(&app, "/admin/mailboxes/new").await;
    assert_eq!(status, 200);
    assert!(html.contains("value=\"INBOX\""));

    let secret = "hemligt-imap-lösen-42";
    let mut fields = vec![
        ("address", "kontakt@alby.se"),
        ("queue", "kundtjanst"),
        ("reply_from", ""),
        ("imap_host", "imap.alby.se"),
        ("imap_port", "99999"),
        ("tls", "implicit"),
        ("imap_user", ""),
        ("password", secret),
        ("folder", "INBOX"),
        ("after_import", "move"),
        ("processed_folder", "Arendo/Importerat"),
        ("smtp_host", ""),
        ("smtp_port", ""),
        ("smtp_tls", "starttls"),
        ("smtp_user", ""),
        ("smtp_password", ""),
    ];
    let (status, _, html) = admin.post(&app, "/admin/mailboxes", &fields).await;
    assert_eq!(status, 422);
    assert!(html.contains("Porten ska vara ett tal mellan 1 och 65535"));
    assert!(html.contains("value=\"kontakt@alby.se\"") && html.contains("value=\"99999\""));
    assert!(html.contains("<option value=\"kundtjanst\" selected>"));
    assert!(!html.contains(secret), "the password is never sent back");

    fields[4] = ("imap_port", "");
    let (status, location, _) = admin.post(&app, "/admin/mailboxes", &fields).await;
    assert_eq!(status, 303);
    let (_, html) = admin.get(&app, &location).await;
    assert!(html.contains("Funktionsbrevlådan är tillagd"));
    assert!(html.contains("kontakt@alby.se"));
    assert!(html.contains("imap.alby.se:993"));
    assert!(!html.contains(secret));
    let id = id_after(&html, "action=\"/admin/mailboxes/");
    let (status, location, _) = admin
        .post(
            &app,
            &format!("/admin/mailboxes/{id}/enabled"),
            &[("enabled", "false")],
        )
        .await;
    assert_eq!(status, 303);
    let (_, html) = admin.get(&app, &location).await;
    assert!(html.contains("<strong>Avstängd</strong>"));

    let (status, _, html) = admin.post(&app, "/admin/mailboxes", &fields).await;
    assert_eq!(status, 409, "the same address twice");
    assert!(html.contains("Det finns redan en funktionsbrevlåda med den adressen"));
}
both_backends!(admin_adds_a_function_mailbox);

/// An admin of tenant B can neither see nor change tenant A's queues, users, mailboxes or canned
/// responses: every id of A is "not found" (404), and A's data stays as it was.
async fn tenants_are_kept_apart(b: Backend) {
    let app = TestApp::spawn(b).await;
    let alby = app.org("alby").await;
    let bro = app.org("bro").await;
    let a_admin = sign_in(&app, &alby.slug, &alby.admin.email, &alby.admin.password).await;
    let b_admin = sign_in(&app, &bro.slug, &bro.admin.email, &bro.admin.password).await;
    let b_lead = sign_in(&app, &bro.slug, &bro.agent_b.email, &bro.agent_b.password).await;

    // Something of A's to aim at.
    let (status, location, _) = a_admin
        .post(
            &app,
            "/admin/canned",
            &[
                ("title", "Albys svar"),
                ("queue", ""),
                ("body", "Hej"),
                ("action", "save"),
            ],
        )
        .await;
    assert_eq!(status, 303);
    let (_, list) = a_admin.get(&app, &location).await;
    let canned_id = id_after(&list, "<a href=\"/admin/canned/");
    let (status, _, _) = a_admin
        .post(
            &app,
            "/admin/mailboxes",
            &[
                ("address", "kontakt@alby.se"),
                ("queue", "kundtjanst"),
                ("imap_host", "127.0.0.1"),
                ("imap_port", "1"),
                ("tls", "plain"),
                ("password", "hemligt-lösen"),
                ("folder", "INBOX"),
                ("after_import", "move"),
                ("processed_folder", "Arendo/Importerat"),
            ],
        )
        .await;
    assert_eq!(status, 303);
    let (_, html) = a_admin.get(&app, "/admin/mailboxes").await;
    let mailbox = id_after(&html, "action=\"/admin/mailboxes/");

    let (qa, anna) = (alby.queue_a, alby.agent_a.id);
    let (bro_q, anna_text) = (bro.queue_b, alby.agent_a.id.to_string());
    for who in [&b_admin, &b_lead] {
        for path in [
            format!("/admin/queues/{qa}"),
            format!("/admin/canned/{canned_id}"),
            format!("/admin/canned/{canned_id}/delete"),
        ] {
            assert_eq!(who.get(&app, &path).await.0, 404, "GET {path}");
        }
        for (path, fields) in [
            (
                format!("/admin/queues/{qa}/members"),
                vec![("user", "1"), ("role", "lead")],
            ),
            (
                format!("/admin/queues/{qa}/members/{anna}/role"),
                vec![("role", "lead")],
            ),
            (format!("/admin/queues/{qa}/members/{anna}/remove"), vec![]),
            (
                format!("/admin/queues/{qa}/ack"),
                vec![("template", "Hej"), ("action", "save")],
            ),
            // A's user into B's own queue: the user is not found in B.
            (
                format!("/admin/queues/{bro_q}/members"),
                vec![("user", anna_text.as_str()), ("role", "agent")],
            ),
            (
                format!("/admin/canned/{canned_id}"),
                vec![
                    ("title", "Kapat"),
                    ("queue", ""),
                    ("body", "x"),
                    ("action", "save"),
                ],
            ),
            (format!("/admin/canned/{canned_id}/delete"), vec![]),
        ] {
            let (status, _, _) = who.post(&app, &path, &fields).await;
            assert_eq!(status, 404, "POST {path}");
        }
    }
    for path in [format!("/admin/users/{anna}")] {
        assert_eq!(b_admin.get(&app, &path).await.0, 404, "GET {path}");
    }
    for (path, fields) in [
        (format!("/admin/queues/{qa}/name"), vec![("name", "Kapad")]),
        (
            format!("/admin/users/{anna}/active"),
            vec![("active", "false")],
        ),
        (
            format!("/admin/users/{anna}/password"),
            vec![("password", LENA_PASSWORD), ("repeat", LENA_PASSWORD)],
        ),
        (
            format!("/admin/users/{anna}/locale"),
            vec![("locale", "en")],
        ),
        (
            format!("/admin/mailboxes/{mailbox}/enabled"),
            vec![("enabled", "false")],
        ),
    ] {
        let (status, _, _) = b_admin.post(&app, &path, &fields).await;
        assert_eq!(status, 404, "POST {path}");
    }
    // B's lists show nothing of A.
    for path in [
        "/admin/users",
        "/admin/queues",
        "/admin/mailboxes",
        "/admin/canned",
    ] {
        let (status, html) = b_admin.get(&app, path).await;
        assert_eq!(status, 200);
        assert!(!html.contains("alby"), "{path} shows something of alby");
        assert!(!html.contains("Albys svar"));
    }
    // A is untouched.
    let (_, html) = a_admin.get(&app, &format!("/admin/users/{anna}")).await;
    assert!(
        html.contains("<dd>Aktiv</dd>") && html.contains("<dd>Svenska</dd>"),
        "{html}"
    );
    let (_, html) = a_admin.get(&app, &format!("/admin/queues/{qa}")).await;
    assert!(html.contains("<h1>Kundtjänst") && html.contains("anna alby"));
    assert!(html.contains("Kön använder standardtexten"));
    let (_, html) = a_admin.get(&app, "/admin/canned").await;
    assert!(html.contains("Albys svar"));
    let (_, html) = a_admin.get(&app, "/admin/mailboxes").await;
    assert!(!html.contains("<strong>Avstängd</strong>"));
    let (_, html) = a_admin.get(&app, &format!("/admin/queues/{qa}")).await;
    assert!(!html.contains(&format!("/members/{}/", bro.agent_b.id)));
}
both_backends!(tenants_are_kept_apart);

/// Eva (admin) sets up service levels on the admin pages: a calendar whose Monday she first
/// mistypes (refused, her input kept), then fixes; she makes it the default and opens on
/// midsommarafton; she sets Kundtjänst's targets with rules, which read back the same, and the
/// open ticket already in the queue gets its due time at once. Agents are refused the pages.
async fn admin_sets_up_service_levels(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("slaby").await;
    let waiting = app
        .create_ticket(&org.agent_a.token, org.queue_a, "Fråga före målen")
        .await;
    let number = waiting["number"].as_str().unwrap().to_string();
    let eva = sign_in(&app, &org.slug, &org.admin.email, &org.admin.password).await;
    let (status, html) = eva.get(&app, "/admin/sla").await;
    assert_eq!(status, 200);
    assert!(html.contains("Inga kalendrar ännu"), "{html}");

    let (status, html) = eva.get(&app, "/admin/sla/calendars/new").await;
    assert_eq!(status, 200);
    assert!(
        html.contains("value=\"08:00-16:30\""),
        "the default week is filled in"
    );
    let mut fields: Vec<(String, String)> = vec![
        ("name".into(), "Sommartid".into()),
        ("default".into(), "on".into()),
        ("mon".into(), "8-16".into()),
        ("tue".into(), "08:00-15:00".into()),
        ("wed".into(), "08:00-15:00".into()),
        ("thu".into(), "08:00-15:00".into()),
        ("fri".into(), "08:00-12:00".into()),
        ("sat".into(), "stängt".into()),
        ("sun".into(), "".into()),
        ("closed_days".into(), "2026-12-28".into()),
        ("special_days".into(), "2026-12-23 08:00-12:00".into()),
    ];
    for h in arendo::sla::Holiday::ALL {
        if h != arendo::sla::Holiday::Midsommarafton {
            fields.push((format!("closed_{}", h.key()), "on".into()));
        }
    }
    let form = |f: &[(String, String)]| -> Vec<(String, String)> { f.to_vec() };
    let post = |f: Vec<(String, String)>| {
        let eva = &eva;
        let app = &app;
        async move {
            let refs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            eva.post(app, "/admin/sla/calendars", &refs).await
        }
    };
    let (status, _, html) = post(form(&fields)).await;
    assert_eq!(status, 422, "{html}");
    assert!(
        html.contains("Öppettiderna för måndag går inte att läsa"),
        "{html}"
    );
    assert!(html.contains("value=\"8-16\""), "her input is kept");
    assert!(html.contains("aria-invalid=\"true\""));
    fields[2].1 = "08:00-16:00".into();
    let (status, location, _) = post(form(&fields)).await;
    assert_eq!(
        (status, location.as_str()),
        (303, "/admin/sla?ok=calendar_saved")
    );
    let (status, _, html) = post(form(&fields)).await;
    assert_eq!(status, 409, "the name is taken: {html}");

    let (_, html) = eva.get(&app, "/admin/sla?ok=calendar_saved").await;
    assert!(html.contains("Kalendern är sparad"));
    let cal = id_after(&html, "<th scope=\"row\"><a href=\"/admin/sla/calendars/");
    let (_, html) = eva.get(&app, &format!("/admin/sla/calendars/{cal}")).await;
    assert!(html.contains("2026-12-23 08:00-12:00"), "{html}");
    assert!(
        !html.contains("id=\"h-midsommarafton\" name=\"closed_midsommarafton\" checked"),
        "open on midsommarafton"
    );
    assert!(html.contains("id=\"h-julafton\" name=\"closed_julafton\" checked"));

    // Kundtjänst's targets for normal priority: a mistyped target first.
    let path = format!("/admin/sla/policies/{}/normal", org.queue_a);
    let (status, html) = eva.get(&app, &path).await;
    assert_eq!(status, 200);
    assert!(html.contains("value=\"80\""), "warning at 80 % by default");
    let rules = "warning:notify\nbreach:raise_priority@first_response";
    let (status, _, html) = eva
        .post(
            &app,
            &path,
            &[
                ("first_response", "fyra timmar"),
                ("resolution", "5d"),
                ("warn_percent", "75"),
                ("rules", rules),
            ],
        )
        .await;
    assert_eq!(status, 422);
    assert!(
        html.contains("Målet för första svar går inte att läsa"),
        "{html}"
    );
    let (status, _, html) = eva
        .post(
            &app,
            &path,
            &[
                ("first_response", "4h"),
                ("resolution", "5d"),
                ("warn_percent", "75"),
                ("rules", "breach:move_to_queue=finns-inte"),
            ],
        )
        .await;
    assert_eq!(status, 422);
    assert!(html.contains("En regel går inte att läsa"), "{html}");
    let (status, location, _) = eva
        .post(
            &app,
            &path,
            &[
                ("first_response", "4h"),
                ("resolution", "5d"),
                ("warn_percent", "75"),
                ("rules", rules),
            ],
        )
        .await;
    assert_eq!(
        (status, location.as_str()),
        (303, "/admin/sla?ok=policy_saved")
    );
    let (_, html) = eva.get(&app, &path).await;
    assert!(html.contains("value=\"240\""), "{html}");
    assert!(html.contains(rules), "the rules read back: {html}");
    let (_, html) = eva.get(&app, "/admin/sla").await;
    assert!(
        html.contains(">4 tim<"),
        "durations drop zero units: {html}"
    );

    // The ticket that was already open has its due time now.
    let d: serde_json::Value = reqwest::Client::new()
        .get(app.url(&format!("/api/v1/tickets/{number}")))
        .bearer_auth(&org.agent_a.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(d["sla_due_at"].is_string(), "{d}");
    assert_eq!(d["sla_clock"], "running");

    let agent = sign_in(&app, &org.slug, &org.agent_a.email, &org.agent_a.password).await;
    for path in ["/admin/sla", "/admin/sla/calendars/new", path.as_str()] {
        let (status, _) = agent.get(&app, path).await;
        assert_eq!(status, 403, "agent: GET {path}");
    }
}
both_backends!(admin_sets_up_service_levels);
