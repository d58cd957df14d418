//! Signing in and out, CSRF, throttling, and the events that must end sessions.

use crate::both_backends;
use crate::helpers::{Backend, TestApp};

/// An agent signs in with the right password, sees the start page, and signs out.
async fn agent_signs_in_and_out(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("alby").await;
    let browser = app.browser();
    let r = app
        .login(
            &browser,
            &org.slug,
            &org.agent_a.email,
            &org.agent_a.password,
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/");
    let cookie = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("arendo_session="))
        .unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let home = browser.get(app.url("/")).send().await.unwrap();
    assert_eq!(home.status(), 200);
    let html = home.text().await.unwrap();
    assert!(
        html.contains("anna alby") && html.contains("Mitt arbete"),
        "{html}"
    );
    let queues = browser
        .get(app.url("/queues"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(queues.contains("Kundtjänst"));
    assert!(!queues.contains(">VA<"), "agent A must not see queue VA");

    let csrf = crate::helpers::csrf_in(&html);
    let out = browser
        .post(app.url("/logout"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 303);
    assert_eq!(
        browser.get(app.url("/")).send().await.unwrap().status(),
        303,
        "signed out → back to login"
    );
}
both_backends!(agent_signs_in_and_out);

/// Wrong password and unknown account look the same, and give no session.
async fn wrong_password_gives_generic_error_and_no_session(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("alby").await;
    for (email, pw) in [
        (org.agent_a.email.as_str(), "fel-lösenord-123"),
        ("nobody@alby.se", "whatever-12345"),
    ] {
        let browser = app.browser();
        let r = app.login(&browser, &org.slug, email, pw).await;
        assert_eq!(r.status(), 401);
        assert!(
            r.headers()
                .get_all("set-cookie")
                .iter()
                .all(|c| !c.to_str().unwrap().starts_with("arendo_session="))
        );
        let html = r.text().await.unwrap();
        assert!(html.contains("Fel e-postadress eller lösenord."), "{html}");
        assert_eq!(
            browser.get(app.url("/")).send().await.unwrap().status(),
            303
        );
    }
}
both_backends!(wrong_password_gives_generic_error_and_no_session);

/// A form post without a valid CSRF token is refused with 403, even with the right password.
async fn form_post_without_csrf_is_forbidden(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("alby").await;
    let browser = app.browser();
    let _ = app.csrf(&browser, "/login").await; // the browser has the CSRF cookie
    let fields = [
        ("tenant", org.slug.as_str()),
        ("email", org.admin.email.as_str()),
        ("password", org.admin.password.as_str()),
    ];
    let r = browser
        .post(app.url("/login"))
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let mut forged = fields.to_vec();
    forged.push(("csrf", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
    let r = browser
        .post(app.url("/login"))
        .form(&forged)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // A token from another browser (another CSRF cookie) does not work either.
    let other = app.browser();
    let foreign = app.csrf(&other, "/login").await;
    let mut stolen = fields.to_vec();
    stolen.push(("csrf", foreign.as_str()));
    assert_eq!(
        browser
            .post(app.url("/login"))
            .form(&stolen)
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
}
both_backends!(form_post_without_csrf_is_forbidden);

/// After five wrong passwords from one address, that address may not try the account for a
/// while: even the right password is throttled (the count is taken before the password is
/// checked). Other accounts, other addresses and browsers that signed in before are not affected
/// (see security_login.rs).
async fn repeated_failed_logins_are_throttled(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("alby").await;
    let browser = app.browser();
    for i in 0..5 {
        let r = app
            .login(&browser, &org.slug, &org.agent_a.email, "fel-lösenord-123")
            .await;
        assert_eq!(r.status(), 401, "attempt {i}");
    }
    let r = app
        .login(
            &browser,
            &org.slug,
            &org.agent_a.email,
            &org.agent_a.password,
        )
        .await;
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("För många misslyckade inloggningsförsök")
    );
    // Another account is not affected by anna's lock.
    let r = app
        .login(
            &app.browser(),
            &org.slug,
            &org.agent_b.email,
            &org.agent_b.password,
        )
        .await;
    assert_eq!(r.status(), 303);
}
both_backends!(repeated_failed_logins_are_throttled);

/// Changing the password ends the account's other sessions but keeps the current one.
async fn password_change_ends_other_sessions(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("alby").await;
    let (laptop, phone) = (app.browser(), app.browser());
    assert_eq!(
        app.login(
            &laptop,
            &org.slug,
            &org.agent_a.email,
            &org.agent_a.password
        )
        .await
        .status(),
        303
    );
    assert_eq!(
        app.login(&phone, &org.slug, &org.agent_a.email, &org.agent_a.password)
            .await
            .status(),
        303
    );
    let csrf = app.csrf(&laptop, "/account/password").await;
    let new = "ett nytt långt lösenord";
    let r = laptop
        .post(app.url("/account/password"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("current", org.agent_a.password.as_str()),
            ("new", new),
            ("repeat", new),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("Lösenordet är bytt"));
    assert_eq!(
        laptop.get(app.url("/")).send().await.unwrap().status(),
        200,
        "this session stays"
    );
    assert_eq!(
        phone.get(app.url("/")).send().await.unwrap().status(),
        303,
        "other sessions end"
    );
    assert_eq!(
        app.login(
            &app.browser(),
            &org.slug,
            &org.agent_a.email,
            &org.agent_a.password
        )
        .await
        .status(),
        401
    );
    assert_eq!(
        app.login(&app.browser(), &org.slug, &org.agent_a.email, new)
            .await
            .status(),
        303
    );
}
both_backends!(password_change_ends_other_sessions);

/// Deactivating an account ends its sessions and its API tokens stop working.
async fn deactivation_ends_sessions_and_tokens(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("alby").await;
    let browser = app.browser();
    assert_eq!(
        app.login(
            &browser,
            &org.slug,
            &org.agent_a.email,
            &org.agent_a.password
        )
        .await
        .status(),
        303
    );
    let api = reqwest::Client::new();
    assert_eq!(
        api.get(app.url("/api/v1/me"))
            .bearer_auth(&org.agent_a.token)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let (slug, email) = (org.slug.clone(), org.agent_a.email.clone());
    app.db
        .write(move |c| -> Result<(), arendo::error::Error> {
            let t = arendo::tenants::tenant_by_slug(c, &slug)?;
            let u = arendo::store::users::by_email(
                c,
                t.id,
                &arendo::domain::EmailAddress::parse(&email)?,
            )?
            .unwrap();
            arendo::accounts::admin::set_active(c, t.id, u.id, false)
        })
        .await
        .unwrap();
    assert_eq!(
        browser.get(app.url("/")).send().await.unwrap().status(),
        303
    );
    assert_eq!(
        api.get(app.url("/api/v1/me"))
            .bearer_auth(&org.agent_a.token)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        app.login(
            &app.browser(),
            &org.slug,
            &org.agent_a.email,
            &org.agent_a.password
        )
        .await
        .status(),
        401
    );
}
both_backends!(deactivation_ends_sessions_and_tokens);

/// A browser session may use the API, but writes need the CSRF header.
async fn session_api_writes_need_csrf_header(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("alby").await;
    let browser = app.browser();
    assert_eq!(
        app.login(
            &browser,
            &org.slug,
            &org.agent_a.email,
            &org.agent_a.password
        )
        .await
        .status(),
        303
    );
    assert_eq!(
        browser
            .get(app.url("/api/v1/tickets"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let body = serde_json::json!({ "queue": org.queue_a, "subject": "Fråga", "body": "Hej" });
    let r = browser
        .post(app.url("/api/v1/tickets"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["error"]["code"],
        "csrf"
    );
    let csrf = app.csrf(&browser, "/").await;
    let r = browser
        .post(app.url("/api/v1/tickets"))
        .header("x-csrf-token", csrf)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
}
both_backends!(session_api_writes_need_csrf_header);

/// Revoked tokens, tokens without the scope, and garbage tokens are refused.
async fn api_tokens_are_checked(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("alby").await;
    let (slug, email) = (org.slug.clone(), org.admin.email.clone());
    let signer = arendo::accounts::tokens::Signer::new(
        &arendo::secrets::Keys::from_hex(&app.key_hex).unwrap(),
    );
    let (read_id, read_only) = app
        .db
        .write(move |c| -> Result<_, arendo::error::Error> {
            let t = arendo::tenants::tenant_by_slug(c, &slug)?;
            let u = arendo::store::users::by_email(
                c,
                t.id,
                &arendo::domain::EmailAddress::parse(&email)?,
            )?
            .unwrap();
            arendo::accounts::admin::create_api_token(
                c,
                &signer,
                t.id,
                u.id,
                "läs",
                &[arendo::accounts::Scope::TicketsRead],
                Some(30),
            )
        })
        .await
        .unwrap();
    let api = reqwest::Client::new();
    assert_eq!(
        api.get(app.url("/api/v1/tickets"))
            .bearer_auth(&read_only)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let r = api
        .post(app.url("/api/v1/tickets"))
        .bearer_auth(&read_only)
        .json(&serde_json::json!({ "queue": org.queue_a, "subject": "x", "body": "y" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let slug = org.slug.clone();
    app.db
        .write(move |c| -> Result<_, arendo::error::Error> {
            let t = arendo::tenants::tenant_by_slug(c, &slug)?;
            Ok(arendo::store::auth::revoke_token(
                c,
                t.id,
                &read_id,
                arendo::store::now(),
            )?)
        })
        .await
        .unwrap();
    assert_eq!(
        api.get(app.url("/api/v1/tickets"))
            .bearer_auth(&read_only)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    for bad in ["", "abc", "eyJhbGciOiJIUzI1NiJ9.e30.xxxx"] {
        let r = api
            .get(app.url("/api/v1/tickets"))
            .bearer_auth(bad)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{bad:?}");
        assert_eq!(
            r.json::<serde_json::Value>().await.unwrap()["error"]["code"],
            "unauthenticated"
        );
    }
}
both_backends!(api_tokens_are_checked);

/// Failures from one address count together across accounts: guessing many accounts' passwords
/// from one IP is throttled too.
async fn failed_logins_from_one_address_are_throttled(b: Backend) {
    let app = TestApp::spawn_with(b, &[("ARENDO_AUTH__MAX_FAILURES_PER_IP", "3")]).await;
    let org = app.org("alby").await;
    for who in ["a@alby.se", "b@alby.se", "c@alby.se"] {
        assert_eq!(
            app.login(&app.browser(), &org.slug, who, "gissning-123")
                .await
                .status(),
            401
        );
    }
    assert_eq!(
        app.login(&app.browser(), &org.slug, "d@alby.se", "gissning-123")
            .await
            .status(),
        429
    );
    let r = app
        .login(
            &app.browser(),
            &org.slug,
            &org.admin.email,
            &org.admin.password,
        )
        .await;
    assert_eq!(
        r.status(),
        429,
        "the address is locked, whatever account it tries"
    );
}
both_backends!(failed_logins_from_one_address_are_throttled);

/// Served over https, the session cookie is Secure as well (and `__Host-` prefixed).
async fn https_sessions_get_secure_cookies(b: Backend) {
    let app = TestApp::spawn_with(
        b,
        &[("ARENDO_SERVER__PUBLIC_URL", "https://arendo.example.se")],
    )
    .await;
    let org = app.org("alby").await;
    let r = app
        .login(
            &app.browser(),
            &org.slug,
            &org.admin.email,
            &org.admin.password,
        )
        .await;
    assert_eq!(r.status(), 303);
    let cookie = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("__Host-arendo_session="))
        .unwrap();
    assert!(cookie.contains("Secure"), "{cookie}");
}
both_backends!(https_sessions_get_secure_cookies);
