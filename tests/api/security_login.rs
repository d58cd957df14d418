//! Issue 16, points 1, 2, 9, 10 and 15: login floods, lockout of the real user, what deactivation
//! and a password reset end, the current-password check, weak passwords, and bounded throttle
//! state. Client addresses are simulated through a trusted proxy (`X-Forwarded-For` from
//! 127.0.0.1), the way a municipality's reverse proxy sends them.

use std::time::{Duration, Instant};

use diesel::{Connection, QueryableByName, RunQueryDsl};

use crate::both_backends;
use crate::helpers::{Backend, TestApp, csrf_in};

const PROXY: (&str, &str) = ("ARENDO_SERVER__TRUSTED_PROXIES", "127.0.0.1");

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

fn count(url: &str, sql: &str) -> i64 {
    let q = diesel::sql_query(sql);
    if let Some(path) = url.strip_prefix("sqlite://") {
        let mut c = diesel::SqliteConnection::establish(path).unwrap();
        q.get_result::<Count>(&mut c).unwrap().n
    } else {
        let mut c = diesel::PgConnection::establish(url).unwrap();
        q.get_result::<Count>(&mut c).unwrap().n
    }
}

fn exec(url: &str, sql: &str) {
    let q = diesel::sql_query(sql);
    if let Some(path) = url.strip_prefix("sqlite://") {
        let mut c = diesel::SqliteConnection::establish(path).unwrap();
        q.execute(&mut c).unwrap();
    } else {
        let mut c = diesel::PgConnection::establish(url).unwrap();
        q.execute(&mut c).unwrap();
    }
}

/// The login form's CSRF token for `browser`, as seen from `ip`.
async fn login_csrf(app: &TestApp, browser: &reqwest::Client, ip: &str) -> String {
    let html = browser
        .get(app.url("/login"))
        .header("x-forwarded-for", ip)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    csrf_in(&html)
}

/// One sign-in attempt from `ip` with a CSRF token the browser already has.
async fn attempt(
    app: &TestApp,
    browser: &reqwest::Client,
    csrf: &str,
    ip: &str,
    tenant: &str,
    email: &str,
    password: &str,
) -> reqwest::Response {
    browser
        .post(app.url("/login"))
        .header("x-forwarded-for", ip)
        .form(&[
            ("csrf", csrf),
            ("tenant", tenant),
            ("email", email),
            ("password", password),
        ])
        .send()
        .await
        .unwrap()
}

async fn login_from(
    app: &TestApp,
    browser: &reqwest::Client,
    ip: &str,
    tenant: &str,
    email: &str,
    password: &str,
) -> reqwest::Response {
    let csrf = login_csrf(app, browser, ip).await;
    attempt(app, browser, &csrf, ip, tenant, email, password).await
}

fn retry_after(r: &reqwest::Response) -> Option<u64> {
    r.headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

/// 1,000 wrong passwords for anna@ from one address. Then the real Anna signs in at once from
/// another address with the browser she used before (device cookie), and from the attacker's
/// own address (the office NAT) with that browser too; a browser she never used waits at most
/// a short delay. Her colleague behind the same address is not shut out.
async fn security_login_attack_does_not_lock_out_the_real_user(b: Backend) {
    let app = TestApp::spawn_with(b, &[PROXY]).await;
    let org = app.org("alby").await;
    let (home, office) = ("198.51.100.7", "203.0.113.66");
    // Anna signed in from her own browser last week, and signed out.
    let annas_browser = app.browser();
    let r = login_from(
        &app,
        &annas_browser,
        home,
        &org.slug,
        &org.agent_a.email,
        &org.agent_a.password,
    )
    .await;
    assert_eq!(r.status(), 303);
    let csrf = app.csrf(&annas_browser, "/").await;
    let r = annas_browser
        .post(app.url("/logout"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);

    let attacker = app.browser();
    let csrf = login_csrf(&app, &attacker, office).await;
    let started = Instant::now();
    let mut answered_401 = 0;
    for i in 0..1000 {
        let r = attempt(
            &app,
            &attacker,
            &csrf,
            office,
            &org.slug,
            &org.agent_a.email,
            &format!("gissning-{i}"),
        )
        .await;
        assert!(
            r.status() == 401 || r.status() == 429,
            "attempt {i}: {}",
            r.status()
        );
        if r.status() == 401 {
            answered_401 += 1;
        }
    }
    assert!(
        answered_401 <= 10,
        "only a handful of guesses are checked at all, got {answered_401}"
    );
    assert!(started.elapsed() < Duration::from_secs(120));

    // From home, with her browser: at once.
    let t = Instant::now();
    let r = login_from(
        &app,
        &annas_browser,
        home,
        &org.slug,
        &org.agent_a.email,
        &org.agent_a.password,
    )
    .await;
    assert_eq!(r.status(), 303, "Anna's own browser from home");
    assert!(t.elapsed() < Duration::from_secs(2));
    let csrf = app.csrf(&annas_browser, "/").await;
    annas_browser
        .post(app.url("/logout"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    // From the office address the attack came from, with her browser: at once.
    let r = login_from(
        &app,
        &annas_browser,
        office,
        &org.slug,
        &org.agent_a.email,
        &org.agent_a.password,
    )
    .await;
    assert_eq!(r.status(), 303, "Anna's own browser behind the office NAT");
    // Her colleague behind the same NAT signs in as usual.
    let r = login_from(
        &app,
        &app.browser(),
        office,
        &org.slug,
        &org.agent_b.email,
        &org.agent_b.password,
    )
    .await;
    assert_eq!(r.status(), 303, "a colleague behind the same address");
    // A browser Anna never used, from elsewhere: in, after at most a short delay.
    let fresh = app.browser();
    let mut waited = Duration::ZERO;
    loop {
        let r = login_from(
            &app,
            &fresh,
            "192.0.2.10",
            &org.slug,
            &org.agent_a.email,
            &org.agent_a.password,
        )
        .await;
        if r.status() == 303 {
            break;
        }
        assert_eq!(r.status(), 429);
        let secs = retry_after(&r).expect("Retry-After");
        assert!(secs <= 30, "a short delay, not a lockout: {secs} s");
        waited += Duration::from_secs(secs);
        assert!(waited <= Duration::from_secs(30), "waited {waited:?}");
        tokio::time::sleep(Duration::from_secs(secs)).await;
    }
}
both_backends!(security_login_attack_does_not_lock_out_the_real_user);

/// 60 parallel wrong logins from one address (different accounts each): the attempt is counted
/// before the password is hashed, so no more than the address's limit are checked at all.
async fn security_login_parallel_flood_is_counted_before_hashing(b: Backend) {
    let app = TestApp::spawn_with(b, &[PROXY]).await;
    let org = app.org("alby").await;
    let mut tasks = vec![];
    for i in 0..60 {
        let browser = app.browser();
        let csrf = login_csrf(&app, &browser, "203.0.113.5").await;
        let (base, slug) = (app.base.clone(), org.slug.clone());
        tasks.push(tokio::spawn(async move {
            browser
                .post(format!("{base}/login"))
                .header("x-forwarded-for", "203.0.113.5")
                .form(&[
                    ("csrf", csrf.as_str()),
                    ("tenant", slug.as_str()),
                    ("email", format!("gissad{i}@alby.se").as_str()),
                    ("password", "fel-lösenord-123"),
                ])
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    let mut statuses = vec![];
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    let checked = statuses.iter().filter(|s| **s == 401).count();
    assert!(
        statuses.iter().all(|s| [401, 429, 503].contains(s)),
        "{statuses:?}"
    );
    assert!(
        checked <= 30,
        "at most max_failures_per_ip (30) passwords are checked, got {checked}"
    );
}
both_backends!(security_login_parallel_flood_is_counted_before_hashing);

/// Deactivating an account revokes its API tokens for good: reactivating it does not bring them
/// back.
async fn security_login_deactivation_revokes_tokens_for_good(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("alby").await;
    let admin = app.browser();
    assert_eq!(
        app.login(&admin, &org.slug, &org.admin.email, &org.admin.password)
            .await
            .status(),
        303
    );
    let me = |token: String| {
        let url = app.url("/api/v1/me");
        async move {
            reqwest::Client::new()
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(me(org.agent_a.token.clone()).await, 200);
    let page = format!("/admin/users/{}", org.agent_a.id);
    for active in ["false", "true"] {
        let csrf = app.csrf(&admin, &page).await;
        let r = admin
            .post(app.url(&format!("{page}/active")))
            .form(&[("csrf", csrf.as_str()), ("active", active)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303, "active={active}");
    }
    assert_eq!(
        me(org.agent_a.token.clone()).await,
        401,
        "the old token stays revoked after reactivation"
    );
    let html = admin
        .get(app.url(&format!("{page}?ok=deactivated")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("API-nycklar är återkallade"),
        "the page says what happened to the tokens"
    );
    // The account itself works again.
    assert_eq!(
        app.login(
            &app.browser(),
            &org.slug,
            &org.agent_a.email,
            &org.agent_a.password
        )
        .await
        .status(),
        303
    );
}
both_backends!(security_login_deactivation_revokes_tokens_for_good);

/// An admin's password reset ends the account's sessions, and the page says what happens to its
/// API tokens.
async fn security_login_admin_reset_ends_sessions_and_names_tokens(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("alby").await;
    let anna = app.browser();
    assert_eq!(
        app.login(&anna, &org.slug, &org.agent_a.email, &org.agent_a.password)
            .await
            .status(),
        303
    );
    let admin = app.browser();
    app.login(&admin, &org.slug, &org.admin.email, &org.admin.password)
        .await;
    let page = format!("/admin/users/{}", org.agent_a.id);
    let csrf = app.csrf(&admin, &page).await;
    let new = "Blåbärssoppa i Vasaloppet 2026";
    let r = admin
        .post(app.url(&format!("{page}/password")))
        .form(&[("csrf", csrf.as_str()), ("password", new), ("repeat", new)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    let html = admin
        .get(app.url(&location))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("inloggningar är avslutade"), "{location}");
    assert!(
        html.contains("API-nycklar gäller"),
        "the page says what happens to the tokens"
    );
    assert_eq!(anna.get(app.url("/")).send().await.unwrap().status(), 303);
}
both_backends!(security_login_admin_reset_ends_sessions_and_names_tokens);

/// Guessing the current password on /account/password is throttled like the login: after a few
/// wrong guesses even the right one is refused for a while, with Retry-After.
async fn security_login_current_password_check_is_throttled(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("alby").await;
    let thief = app.browser();
    assert_eq!(
        app.login(&thief, &org.slug, &org.agent_a.email, &org.agent_a.password)
            .await
            .status(),
        303
    );
    let new = "Blåbärssoppa i Vasaloppet 2026";
    let mut statuses = vec![];
    for i in 0..12 {
        let csrf = app.csrf(&thief, "/account/password").await;
        let r = thief
            .post(app.url("/account/password"))
            .form(&[
                ("csrf", csrf.as_str()),
                ("current", format!("gissning-{i}").as_str()),
                ("new", new),
                ("repeat", new),
            ])
            .send()
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 422).count(),
        5,
        "{statuses:?}"
    );
    assert!(statuses[5..].iter().all(|s| *s == 429), "{statuses:?}");
    let csrf = app.csrf(&thief, "/account/password").await;
    let r = thief
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
    assert_eq!(r.status(), 429, "the right password is not checked either");
    assert!(retry_after(&r).is_some());
}
both_backends!(security_login_current_password_check_is_throttled);

/// Common and guessable passwords are refused with a Swedish explanation; a long phrase is fine.
async fn security_login_weak_passwords_are_refused(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("alby").await;
    let browser = app.browser();
    app.login(
        &browser,
        &org.slug,
        &org.agent_a.email,
        &org.agent_a.password,
    )
    .await;
    for weak in [
        "aaaaaaaaaa",
        "password123",
        "sommaren2024",
        "qwertyuiop",
        "1234567890",
    ] {
        let csrf = app.csrf(&browser, "/account/password").await;
        let r = browser
            .post(app.url("/account/password"))
            .form(&[
                ("csrf", csrf.as_str()),
                ("current", org.agent_a.password.as_str()),
                ("new", weak),
                ("repeat", weak),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422, "{weak}");
        let html = r.text().await.unwrap();
        assert!(html.contains("för lätt att gissa"), "{weak}: {html}");
        assert!(!html.contains("password:"), "no English field names");
    }
    // The admin page refuses them too.
    let admin = app.browser();
    app.login(&admin, &org.slug, &org.admin.email, &org.admin.password)
        .await;
    let page = format!("/admin/users/{}", org.agent_b.id);
    let csrf = app.csrf(&admin, &page).await;
    let r = admin
        .post(app.url(&format!("{page}/password")))
        .form(&[
            ("csrf", csrf.as_str()),
            ("password", "password123"),
            ("repeat", "password123"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("för lätt att gissa"));
    let strong = "Blåbärssoppa i Vasaloppet 2026";
    let csrf = app.csrf(&browser, "/account/password").await;
    let r = browser
        .post(app.url("/account/password"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("current", org.agent_a.password.as_str()),
            ("new", strong),
            ("repeat", strong),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}
both_backends!(security_login_weak_passwords_are_refused);

/// Throttle keys are normalised and hashed (a 15 KB address is not stored as such; upper and
/// lower case count as one account), and IPv6 clients are counted per /64.
async fn security_login_throttle_keys_are_bounded(b: Backend) {
    let app = TestApp::spawn_with(b, &[PROXY, ("ARENDO_AUTH__MAX_FAILURES_PER_IP", "3")]).await;
    let org = app.org("alby").await;
    let huge = format!("{}@alby.se", "x".repeat(15_000));
    let r = login_from(
        &app,
        &app.browser(),
        "198.51.100.1",
        &org.slug,
        &huge,
        "fel",
    )
    .await;
    assert_eq!(r.status(), 401);
    let longest = count(
        &app.db_url,
        "SELECT CAST(MAX(LENGTH(key)) AS BIGINT) AS n FROM login_throttle",
    );
    assert!(longest <= 80, "longest stored key: {longest} characters");
    // Three failures from three hosts of one /64, then a fourth host of it is throttled.
    for host in ["2001:db8:5:7::1", "2001:db8:5:7::2", "2001:db8:5:7:ffff::3"] {
        let r = login_from(
            &app,
            &app.browser(),
            host,
            &org.slug,
            "nobody@alby.se",
            "fel",
        )
        .await;
        assert_eq!(r.status(), 401, "{host}");
    }
    let r = login_from(
        &app,
        &app.browser(),
        "2001:db8:5:7:abcd::9",
        &org.slug,
        "someone@alby.se",
        "fel",
    )
    .await;
    assert_eq!(r.status(), 429, "the same /64 is one client");
    // Another /64 is another client.
    let r = login_from(
        &app,
        &app.browser(),
        "2001:db8:5:8::1",
        &org.slug,
        "someone@alby.se",
        "fel",
    )
    .await;
    assert_eq!(r.status(), 401);
}
both_backends!(security_login_throttle_keys_are_bounded);

/// Expired throttle rows and expired sessions are pruned by the housekeeping job.
async fn security_login_housekeeping_prunes_expired_rows(b: Backend) {
    let app = TestApp::spawn_with(b, &[("ARENDO_AUTH__HOUSEKEEPING_SECONDS", "1")]).await;
    let org = app.org("alby").await;
    app.login(
        &app.browser(),
        &org.slug,
        &org.agent_a.email,
        &org.agent_a.password,
    )
    .await;
    app.login(
        &app.browser(),
        &org.slug,
        &org.agent_b.email,
        "fel-lösenord",
    )
    .await;
    let live_sessions = count(&app.db_url, "SELECT COUNT(*) AS n FROM sessions");
    assert_eq!(live_sessions, 1);
    exec(
        &app.db_url,
        "INSERT INTO sessions (id, tenant_id, user_id, created_at, expires_at) \
         SELECT 'old-session', tenant_id, user_id, '2020-01-01 00:00:00', '2020-01-02 00:00:00' \
         FROM sessions",
    );
    exec(
        &app.db_url,
        "UPDATE login_throttle SET window_start = '2020-01-01 00:00:00', \
         expires_at = '2020-01-01 00:15:00'",
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let throttles = count(&app.db_url, "SELECT COUNT(*) AS n FROM login_throttle");
        let sessions = count(&app.db_url, "SELECT COUNT(*) AS n FROM sessions");
        if throttles == 0 && sessions == 1 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "throttle rows {throttles}, sessions {sessions}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
both_backends!(security_login_housekeeping_prunes_expired_rows);
