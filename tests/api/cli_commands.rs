//! The operator's commands that no other scenario ran (issue 18.4), as the real binary on the
//! database of a running app: each used as an operator would, its outcome checked through another
//! command or the app itself, and a bad input that exits non-zero, says what was wrong and
//! changes nothing (checked with a list command or the stored state).
//!
//! The commands are grouped by what they work on so that each backend migrates only a few
//! databases.

use serde_json::Value;

use arendo::domain::{QueueId, TenantId};
use arendo::error::Error;

use crate::both_backends;
use crate::helpers::{Backend, TestApp};

/// Run a command that must succeed; its standard output.
async fn ok(app: &TestApp, args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> String {
    let (code, out, err) = app.cli(args, stdin, env).await;
    assert_eq!(code, 0, "{args:?} failed:\n{out}{err}");
    out
}

/// Run a command that must fail with a message containing every one of `needles`; its stderr.
async fn refused(
    app: &TestApp,
    args: &[&str],
    stdin: Option<&str>,
    env: &[(&str, &str)],
    needles: &[&str],
) -> String {
    let (code, out, err) = app.cli(args, stdin, env).await;
    assert!(
        code != 0 && code != -1,
        "{args:?} should fail with a clear message, exited {code}:\n{out}{err}"
    );
    for n in needles {
        assert!(
            err.contains(n),
            "{args:?}: expected {n:?} in the message, got:\n{err}"
        );
    }
    err
}

async fn tenant_id(app: &TestApp, slug: &str) -> TenantId {
    let slug = slug.to_string();
    app.db
        .read(move |c| -> Result<_, Error> { Ok(arendo::tenants::tenant_by_slug(c, &slug)?.id) })
        .await
        .unwrap()
}

async fn queue_id(app: &TestApp, tid: TenantId, slug: &str) -> QueueId {
    let slug = slug.to_string();
    app.db
        .read(move |c| -> Result<_, Error> {
            Ok(arendo::store::queues::by_slug(c, tid, &slug)?
                .ok_or(Error::NotFound("queue"))?
                .id)
        })
        .await
        .unwrap()
}

/// The status of GET `path` with `token` as bearer.
async fn api_status(app: &TestApp, token: &str, path: &str) -> u16 {
    reqwest::Client::new()
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// The `ID` column of `arendo token list`'s row for the token named `name`.
fn token_id(list: &str, name: &str) -> String {
    list.lines()
        .skip(1)
        .find(|l| l.split_whitespace().nth(2) == Some(name))
        .unwrap_or_else(|| panic!("no token {name:?} in\n{list}"))
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

// ---- accounts, API tokens, a queue's notices, the tenant's SMTP server and SMS gateway ----

async fn operator_manages_accounts_tokens_and_settings(b: Backend) {
    let app = TestApp::spawn_with(b, &[("ARENDO_MAIL__IMAP_ENABLED", "false")]).await;
    let org = app.org("alby").await;
    let other = app.org("berga").await;
    let tid = tenant_id(&app, "alby").await;
    let t = ["--tenant", "alby"];
    let with_t = |args: &[&'static str]| -> Vec<&'static str> {
        let mut v = args[..2].to_vec();
        v.extend_from_slice(&t);
        v.extend_from_slice(&args[2..]);
        v
    };

    // `user deactivate` / `user activate`: the account can no longer sign in, then can again;
    // its API tokens are revoked for good.
    let anna = org.agent_a.email.as_str();
    assert_eq!(
        api_status(&app, &org.agent_a.token, "/api/v1/me").await,
        200
    );
    ok(
        &app,
        &["user", "deactivate", "--tenant", "alby", "--email", anna],
        None,
        &[],
    )
    .await;
    let b1 = app.browser();
    let r = app.login(&b1, "alby", anna, &org.agent_a.password).await;
    assert_ne!(r.status(), 303, "a deactivated account signed in");
    assert_eq!(
        api_status(&app, &org.agent_a.token, "/api/v1/me").await,
        401
    );
    let users = ok(&app, &with_t(&["user", "list"]), None, &[]).await;
    let row = |list: &str, who: &str| -> String {
        list.lines()
            .find(|l| l.contains(who))
            .unwrap_or_else(|| panic!("no {who} in\n{list}"))
            .to_string()
    };
    assert!(row(&users, anna).contains(" no "), "{users}");

    ok(
        &app,
        &["user", "activate", "--tenant", "alby", "--email", anna],
        None,
        &[],
    )
    .await;
    let users = ok(&app, &with_t(&["user", "list"]), None, &[]).await;
    assert!(row(&users, anna).contains(" yes "), "{users}");
    let b2 = app.browser();
    let r = app.login(&b2, "alby", anna, &org.agent_a.password).await;
    assert_eq!(r.status(), 303, "the reactivated account cannot sign in");
    assert_eq!(
        api_status(&app, &org.agent_a.token, "/api/v1/me").await,
        401,
        "a token revoked by deactivation came back"
    );

    let before = ok(&app, &with_t(&["user", "list"]), None, &[]).await;
    for (args, needles) in [
        (
            vec![
                "user",
                "deactivate",
                "--tenant",
                "alby",
                "--email",
                "ingen@alby.se",
            ],
            vec!["user not found"],
        ),
        (
            vec![
                "user",
                "activate",
                "--tenant",
                "alby",
                "--email",
                "ingen@alby.se",
            ],
            vec!["user not found"],
        ),
        (
            vec![
                "user",
                "deactivate",
                "--tenant",
                "finnsinte",
                "--email",
                anna,
            ],
            vec!["tenant not found"],
        ),
        // Another tenant's account is not found through this one.
        (
            vec![
                "user",
                "deactivate",
                "--tenant",
                "alby",
                "--email",
                "admin@berga.se",
            ],
            vec!["user not found"],
        ),
        (
            vec![
                "user",
                "activate",
                "--tenant",
                "alby",
                "--email",
                "inte-en-adress",
            ],
            vec!["--email"],
        ),
    ] {
        refused(&app, &args, None, &[], &needles).await;
    }
    assert_eq!(
        ok(&app, &with_t(&["user", "list"]), None, &[]).await,
        before
    );
    assert_eq!(
        api_status(&app, &other.admin.token, "/api/v1/me").await,
        200
    );

    // `token list` / `token revoke`: a token made for an integration works until revoked.
    let bertil = org.agent_b.email.as_str();
    let token = ok(
        &app,
        &[
            "token", "create", "--tenant", "alby", "--email", bertil, "--name", "e-tjanst",
        ],
        None,
        &[],
    )
    .await;
    let token = token.trim().to_string();
    assert_eq!(api_status(&app, &token, "/api/v1/queues").await, 200);
    let list = ok(&app, &with_t(&["token", "list"]), None, &[]).await;
    let id = token_id(&list, "e-tjanst");
    assert!(row(&list, &id).contains("active"), "{list}");
    assert!(!list.contains(&token), "token list shows the token itself");

    let berga_list = ok(&app, &["token", "list", "--tenant", "berga"], None, &[]).await;
    let berga_id = token_id(&berga_list, "test");
    for (args, needles) in [
        (
            vec!["token", "revoke", "--tenant", "alby", "--id", "finns-inte"],
            vec!["active token not found"],
        ),
        // Another tenant's token cannot be revoked through this one.
        (
            vec![
                "token",
                "revoke",
                "--tenant",
                "alby",
                "--id",
                berga_id.as_str(),
            ],
            vec!["active token not found"],
        ),
        (
            vec![
                "token",
                "revoke",
                "--tenant",
                "finnsinte",
                "--id",
                id.as_str(),
            ],
            vec!["tenant not found"],
        ),
        (
            vec!["token", "list", "--tenant", "finnsinte"],
            vec!["tenant not found"],
        ),
    ] {
        refused(&app, &args, None, &[], &needles).await;
    }
    assert_eq!(ok(&app, &with_t(&["token", "list"]), None, &[]).await, list);
    assert_eq!(
        ok(&app, &["token", "list", "--tenant", "berga"], None, &[]).await,
        berga_list
    );
    assert_eq!(api_status(&app, &token, "/api/v1/queues").await, 200);
    assert_eq!(
        api_status(&app, &other.admin.token, "/api/v1/me").await,
        200
    );

    ok(
        &app,
        &["token", "revoke", "--tenant", "alby", "--id", &id],
        None,
        &[],
    )
    .await;
    assert_eq!(api_status(&app, &token, "/api/v1/queues").await, 401);
    let list = ok(&app, &with_t(&["token", "list"]), None, &[]).await;
    assert!(row(&list, &id).contains("revoked"), "{list}");
    refused(
        &app,
        &["token", "revoke", "--tenant", "alby", "--id", &id],
        None,
        &[],
        &["active token not found"],
    )
    .await;
    assert_eq!(
        api_status(&app, &org.agent_b.token, "/api/v1/queues").await,
        200
    );

    // `queue notify`: which events notify the citizen, and the queue's information class.
    let va = queue_id(&app, tid, "va").await;
    let notify_settings = || async {
        app.db
            .read(move |c| -> Result<_, Error> {
                Ok(arendo::store::queues::notify_settings(c, tid, va)?)
            })
            .await
            .unwrap()
    };
    let shown = ok(
        &app,
        &[
            "queue",
            "notify",
            "--tenant",
            "alby",
            "--queue",
            "va",
            "--events",
            "resolved, waiting",
            "--class",
            "3",
        ],
        None,
        &[],
    )
    .await;
    assert!(shown.contains("notifications saved"), "{shown}");
    assert_eq!(notify_settings().await, ("resolved,waiting".to_string(), 3));
    for (args, needles) in [
        (
            vec![
                "queue",
                "notify",
                "--tenant",
                "alby",
                "--queue",
                "va",
                "--events",
                "resolved,brann",
            ],
            vec!["--events", "brann"],
        ),
        (
            vec![
                "queue", "notify", "--tenant", "alby", "--queue", "va", "--events", "none",
                "--class", "5",
            ],
            vec!["--class"],
        ),
        (
            vec![
                "queue", "notify", "--tenant", "alby", "--queue", "saknas", "--events", "resolved",
            ],
            vec!["queue not found"],
        ),
        (
            vec![
                "queue",
                "notify",
                "--tenant",
                "finnsinte",
                "--queue",
                "va",
                "--events",
                "resolved",
            ],
            vec!["tenant not found"],
        ),
    ] {
        refused(&app, &args, None, &[], &needles).await;
    }
    assert_eq!(notify_settings().await, ("resolved,waiting".to_string(), 3));
    ok(
        &app,
        &[
            "queue", "notify", "--tenant", "alby", "--queue", "va", "--events", "none",
        ],
        None,
        &[],
    )
    .await;
    assert_eq!(notify_settings().await, (String::new(), 1));

    // `tenant smtp`: the tenant's own server for outgoing mail; the password stored sealed.
    let smtp = || async {
        app.db
            .read(move |c| -> Result<_, Error> {
                Ok(arendo::store::mail::smtp_settings(c, tid, None)?)
            })
            .await
            .unwrap()
            .0
    };
    assert_eq!(smtp().await, None);
    let shown = ok(
        &app,
        &[
            "tenant",
            "smtp",
            "--tenant",
            "alby",
            "--host",
            "smtp.alby.se",
            "--port",
            "465",
            "--tls",
            "implicit",
            "--user",
            "utskick",
            "--password-stdin",
        ],
        Some("hemligt-smtp-lösen\n"),
        &[],
    )
    .await;
    assert!(shown.contains("SMTP settings saved"), "{shown}");
    let stored = smtp().await.expect("SMTP settings stored");
    let json: Value = serde_json::from_str(&stored).unwrap();
    assert_eq!(json["host"], "smtp.alby.se", "{stored}");
    assert_eq!(json["port"], 465, "{stored}");
    assert!(stored.contains("utskick"), "{stored}");
    assert!(
        !stored.contains("hemligt-smtp"),
        "the SMTP password is stored in the clear: {stored}"
    );
    for (args, needles) in [
        (
            vec![
                "tenant",
                "smtp",
                "--tenant",
                "alby",
                "--host",
                "smtp.example.org",
                "--tls",
                "none",
            ],
            vec!["--tls"],
        ),
        (
            vec![
                "tenant",
                "smtp",
                "--tenant",
                "alby",
                "--host",
                "smtp.alby.se",
                "--tls",
                "ssl3",
            ],
            vec!["--tls"],
        ),
        (vec!["tenant", "smtp", "--tenant", "alby"], vec!["--host"]),
        (
            vec![
                "tenant",
                "smtp",
                "--tenant",
                "alby",
                "--host",
                "smtp.alby.se",
                "--port",
                "0",
            ],
            vec!["--port"],
        ),
        (
            vec![
                "tenant",
                "smtp",
                "--tenant",
                "finnsinte",
                "--host",
                "smtp.alby.se",
            ],
            vec!["tenant not found"],
        ),
    ] {
        refused(&app, &args, None, &[], &needles).await;
    }
    assert_eq!(smtp().await.as_deref(), Some(stored.as_str()));
    ok(
        &app,
        &["tenant", "smtp", "--tenant", "alby", "--clear"],
        None,
        &[],
    )
    .await;
    assert_eq!(smtp().await, None);

    // `sms gateway`: the municipality's gateway, its password sealed.
    let gateway = || async {
        app.db
            .read(move |c| -> Result<_, Error> { Ok(arendo::store::sms::gateway(c, tid)?) })
            .await
            .unwrap()
    };
    assert!(gateway().await.is_none());
    let shown = ok(
        &app,
        &[
            "sms",
            "gateway",
            "--tenant",
            "alby",
            "--provider",
            "rest",
            "--url",
            "https://api.46elks.com/a1/sms",
            "--username",
            "u123",
            "--password-stdin",
            "--sender",
            "AlbyKommun",
            "--price-ore",
            "35",
            "--nordic-gsm7",
        ],
        Some("sms-hemlighet\n"),
        &[],
    )
    .await;
    assert!(shown.contains("SMS gateway saved"), "{shown}");
    let g = gateway().await.expect("gateway stored");
    assert_eq!(
        (
            g.provider.as_str(),
            g.url.as_deref(),
            g.username.as_deref(),
            g.sender.as_str(),
            g.price_ore,
            g.nordic_gsm7
        ),
        (
            "rest",
            Some("https://api.46elks.com/a1/sms"),
            Some("u123"),
            "AlbyKommun",
            35,
            true
        )
    );
    let sealed = g.password.clone().expect("password stored");
    assert!(!sealed.contains("sms-hemlighet"), "stored in the clear");
    let missing = app.data_dir.join("finns-inte.hbs");
    let missing = missing.to_str().unwrap();
    for (args, needles) in [
        (
            vec![
                "sms",
                "gateway",
                "--tenant",
                "alby",
                "--provider",
                "duva",
                "--sender",
                "Alby",
            ],
            vec!["provider", "duva"],
        ),
        (
            vec![
                "sms",
                "gateway",
                "--tenant",
                "alby",
                "--provider",
                "rest",
                "--url",
                "ftp://api.46elks.com/sms",
                "--sender",
                "Alby",
            ],
            vec!["url"],
        ),
        (
            vec![
                "sms",
                "gateway",
                "--tenant",
                "alby",
                "--provider",
                "rest",
                "--sender",
                "Alby",
            ],
            vec!["url"],
        ),
        (
            vec![
                "sms",
                "gateway",
                "--tenant",
                "alby",
                "--provider",
                "outbox",
                "--sender",
                "Alby kommun (växel)",
            ],
            vec!["sender"],
        ),
        (
            vec![
                "sms",
                "gateway",
                "--tenant",
                "alby",
                "--provider",
                "outbox",
                "--sender",
                "Alby",
                "--price-ore=-5",
            ],
            vec!["price"],
        ),
        (
            vec![
                "sms",
                "gateway",
                "--tenant",
                "alby",
                "--provider",
                "http",
                "--url",
                "https://sms.example.org/send",
                "--sender",
                "Alby",
                "--body-template",
                missing,
            ],
            vec!["cannot read", "finns-inte.hbs"],
        ),
        (
            vec![
                "sms",
                "gateway",
                "--tenant",
                "finnsinte",
                "--provider",
                "outbox",
                "--sender",
                "Alby",
            ],
            vec!["tenant not found"],
        ),
    ] {
        refused(&app, &args, None, &[], &needles).await;
    }
    let after = gateway().await.expect("gateway still stored");
    assert_eq!(
        (
            after.provider,
            after.url,
            after.sender,
            after.price_ore,
            after.password
        ),
        (g.provider, g.url, g.sender, g.price_ore, Some(sealed)),
        "a refused gateway changed the stored one"
    );
}
both_backends!(operator_manages_accounts_tokens_and_settings);

// ---- escalation targets ----

async fn operator_sets_up_escalation_targets(b: Backend) {
    let app = TestApp::spawn_with(b, &[("ARENDO_MAIL__IMAP_ENABLED", "false")]).await;
    let org = app.org("alby").await;
    app.org("berga").await;
    let tid = tenant_id(&app, "alby").await;
    let list = || async { ok(&app, &["escalation", "list", "--tenant", "alby"], None, &[]).await };
    // A queue only alby has.
    ok(
        &app,
        &[
            "queue", "create", "--tenant", "alby", "--slug", "bygg", "--name", "Bygg",
        ],
        None,
        &[],
    )
    .await;
    assert_eq!(list().await.trim(), "");

    // `escalation records`: the records system, secrets from standard input, default of VA.
    ok(
        &app,
        &[
            "escalation",
            "records",
            "--tenant",
            "alby",
            "--name",
            "Diariet",
            "--url",
            "https://diarium.alby.se/api/arenden",
            "--header",
            "X-System: arendo",
            "--auth",
            "bearer",
            "--sign",
            "--secret-header",
            "X-Api-Key",
            "--default-for",
            "va",
        ],
        Some("bärar-token-123\nsignerings-hemlighet\napi-nyckel-456\n"),
        &[],
    )
    .await;
    // `escalation referral`: a department that answers referrals.
    ok(
        &app,
        &[
            "escalation",
            "referral",
            "--tenant",
            "alby",
            "--name",
            "Bygglov",
            "--email",
            "bygglov@alby.se",
            "--days",
            "7",
            "--allow-citizen-reply",
        ],
        None,
        &[],
    )
    .await;
    // `escalation transfer`: hand the whole ticket to another queue.
    ok(
        &app,
        &[
            "escalation",
            "transfer",
            "--tenant",
            "alby",
            "--name",
            "Till kundtjänst",
            "--queue",
            "kundtjanst",
        ],
        None,
        &[],
    )
    .await;
    // `escalation list`: all three, without their secrets.
    let shown = list().await;
    let lines: Vec<&str> = shown.lines().collect();
    assert_eq!(lines.len(), 3, "{shown}");
    assert!(lines[0].starts_with("Bygglov  referral"), "{shown}");
    assert!(
        lines[1].starts_with("Diariet  records POST https://diarium.alby.se/api/arenden")
            && lines[1].contains("auth=bearer signed=true case=/caseNumber"),
        "{shown}"
    );
    assert!(lines[2].starts_with("Till kundtjänst  transfer"), "{shown}");
    for secret in ["bärar-token", "signerings-hemlighet", "api-nyckel"] {
        assert!(!shown.contains(secret), "{secret} shown: {shown}");
    }
    assert_eq!(
        ok(
            &app,
            &["escalation", "list", "--tenant", "berga"],
            None,
            &[]
        )
        .await
        .trim(),
        "",
        "another tenant sees alby's targets"
    );
    // What the app does with them: the records system is VA's default, the transfer target
    // points at Kundtjänst, the referral has its address and days; the secrets are sealed.
    let va = queue_id(&app, tid, "va").await;
    let (targets, default) = app
        .db
        .read(move |c| -> Result<_, Error> {
            Ok((
                arendo::store::escalation::targets(c, tid)?,
                arendo::store::escalation::queue_default(c, tid, va)?,
            ))
        })
        .await
        .unwrap();
    let by_name = |n: &str| targets.iter().find(|t| t.name == n).unwrap();
    assert_eq!(default, Some(by_name("Diariet").id));
    assert_eq!(
        by_name("Till kundtjänst").transfer_queue_id,
        Some(org.queue_a)
    );
    let r = by_name("Bygglov");
    assert_eq!(
        (
            r.referral_email.as_deref(),
            r.response_days,
            r.allow_citizen_reply
        ),
        (Some("bygglov@alby.se"), Some(7), true)
    );
    let d = by_name("Diariet");
    for sealed in [
        d.auth_secret.clone().unwrap_or_default(),
        d.hmac_secret.clone().unwrap_or_default(),
        d.secret_headers.clone(),
    ] {
        assert!(!sealed.is_empty(), "a secret was not stored");
        for secret in ["bärar-token", "signerings-hemlighet", "api-nyckel"] {
            assert!(!sealed.contains(secret), "{secret} stored in the clear");
        }
    }

    // Bad input: refused with the reason, and the targets stay as they were.
    let before = list().await;
    let missing = app.data_dir.join("finns-inte.hbs");
    let missing = missing.to_str().unwrap();
    for (args, stdin, needles) in [
        (
            vec![
                "escalation",
                "records",
                "--tenant",
                "alby",
                "--name",
                "Nytt",
                "--url",
                "ftp://diarium.alby.se/arenden",
            ],
            None,
            vec!["url"],
        ),
        (
            vec![
                "escalation",
                "records",
                "--tenant",
                "alby",
                "--name",
                "Nytt",
                "--url",
                "inte en adress",
            ],
            None,
            vec!["url"],
        ),
        (
            vec![
                "escalation",
                "records",
                "--tenant",
                "alby",
                "--name",
                "Nytt",
                "--url",
                "https://diarium.alby.se/a",
                "--method",
                "DELETE",
            ],
            None,
            vec!["method"],
        ),
        (
            vec![
                "escalation",
                "records",
                "--tenant",
                "alby",
                "--name",
                "Nytt",
                "--url",
                "https://diarium.alby.se/a",
                "--auth",
                "bearer",
            ],
            Some(""),
            vec!["bearer token"],
        ),
        (
            vec![
                "escalation",
                "records",
                "--tenant",
                "alby",
                "--name",
                "Nytt",
                "--url",
                "https://diarium.alby.se/a",
                "--auth",
                "kerberos",
            ],
            None,
            vec!["--auth", "kerberos"],
        ),
        (
            vec![
                "escalation",
                "records",
                "--tenant",
                "alby",
                "--name",
                "Nytt",
                "--url",
                "https://diarium.alby.se/a",
                "--header",
                "utan kolon",
            ],
            None,
            vec!["--header", "utan kolon"],
        ),
        (
            vec![
                "escalation",
                "records",
                "--tenant",
                "alby",
                "--name",
                "Nytt",
                "--url",
                "https://diarium.alby.se/a",
                "--body-template",
                missing,
            ],
            None,
            vec!["cannot read", "finns-inte.hbs"],
        ),
        // The target is not kept when a queue it should be the default of does not exist.
        (
            vec![
                "escalation",
                "records",
                "--tenant",
                "alby",
                "--name",
                "Nytt",
                "--url",
                "https://diarium.alby.se/a",
                "--default-for",
                "saknas",
            ],
            None,
            vec!["queue not found"],
        ),
        (
            vec![
                "escalation",
                "records",
                "--tenant",
                "finnsinte",
                "--name",
                "Nytt",
                "--url",
                "https://diarium.alby.se/a",
            ],
            None,
            vec!["tenant not found"],
        ),
        (
            vec![
                "escalation",
                "referral",
                "--tenant",
                "alby",
                "--name",
                "Miljö",
                "--email",
                "inte-en-adress",
            ],
            None,
            vec!["email"],
        ),
        (
            vec![
                "escalation",
                "referral",
                "--tenant",
                "alby",
                "--name",
                "Miljö",
                "--email",
                "miljo@alby.se",
                "--days",
                "400",
            ],
            None,
            vec!["response_days"],
        ),
        (
            vec![
                "escalation",
                "transfer",
                "--tenant",
                "alby",
                "--name",
                "Till miljö",
                "--queue",
                "miljo",
            ],
            None,
            vec!["queue not found"],
        ),
        // A queue of another tenant is not found through this one.
        (
            vec![
                "escalation",
                "transfer",
                "--tenant",
                "berga",
                "--name",
                "Till bygg",
                "--queue",
                "bygg",
            ],
            None,
            vec!["queue not found"],
        ),
        (
            vec!["escalation", "list", "--tenant", "finnsinte"],
            None,
            vec!["tenant not found"],
        ),
    ] {
        refused(&app, &args, stdin, &[], &needles).await;
    }
    assert_eq!(list().await, before);
    assert_eq!(
        ok(
            &app,
            &["escalation", "list", "--tenant", "berga"],
            None,
            &[]
        )
        .await
        .trim(),
        ""
    );
    let default = app
        .db
        .read(move |c| -> Result<_, Error> {
            Ok(arendo::store::escalation::queue_default(c, tid, va)?)
        })
        .await
        .unwrap();
    assert_eq!(default, Some(d.id), "a refused target changed VA's default");
}
both_backends!(operator_sets_up_escalation_targets);

// ---- indexes, status links, the mail channel ----

const ARTICLE: &str = r#"+++
slug = "parkeringstillstand-rorelsehindrad"
title = "Parkeringstillstånd för rörelsehindrade"
summary = "Så söker du parkeringstillstånd om du har svårt att gå."
tags = ["parkering", "tillstånd"]
department = "kundtjanst"
audience = "public"
language = "sv"
status = "published"
+++
Om du har svårt att gå kan du söka parkeringstillstånd hos kommunen. Ansökan görs med en
blankett och ett läkarintyg. Tillståndet gäller i hela landet.
"#;

async fn operator_rebuilds_indexes_and_gives_links(b: Backend) {
    let app = TestApp::spawn_with(b, &[("ARENDO_MAIL__IMAP_ENABLED", "false")]).await;
    let org = app.org("alby").await;
    let tid = tenant_id(&app, "alby").await;
    let work = tempfile::tempdir().unwrap();
    let subject = "Trasig gatlykta på Storgatan";
    let ticket = app
        .create_ticket(&org.admin.token, org.queue_a, subject)
        .await;
    let number = ticket["number"].as_str().unwrap().to_string();

    // `status-link`: a link that opens the ticket's citizen page in the app.
    let out = ok(
        &app,
        &["status-link", "--tenant", "alby", "--number", &number],
        None,
        &[],
    )
    .await;
    let at = out
        .find("/status/")
        .unwrap_or_else(|| panic!("no link: {out}"));
    let path = out[at..].trim();
    let r = reqwest::get(app.url(path)).await.unwrap();
    assert_eq!(r.status(), 200, "{path}");
    let html = r.text().await.unwrap();
    assert!(
        html.contains(&number),
        "the citizen page does not show {number}"
    );
    let events = || async {
        let number = arendo::domain::TicketNumber::parse(&number).unwrap();
        app.db
            .read(move |c| -> Result<usize, Error> {
                let tk = arendo::store::tickets::by_number(
                    c,
                    tid,
                    &arendo::domain::QueueAccess::All,
                    &number,
                )?
                .ok_or(Error::NotFound("ticket"))?;
                Ok(arendo::store::tickets::events(c, tid, tk.id)?.len())
            })
            .await
            .unwrap()
    };
    let history = events().await;
    let year = &number[3..7];
    let unknown = format!("KC-{year}-999999");
    for (args, needles) in [
        (
            vec!["status-link", "--tenant", "alby", "--number", "lykta-1"],
            vec!["--number"],
        ),
        (
            vec![
                "status-link",
                "--tenant",
                "alby",
                "--number",
                unknown.as_str(),
            ],
            vec!["ticket not found"],
        ),
        (
            vec![
                "status-link",
                "--tenant",
                "finnsinte",
                "--number",
                number.as_str(),
            ],
            vec!["tenant not found"],
        ),
    ] {
        refused(&app, &args, None, &[], &needles).await;
    }
    assert_eq!(
        events().await,
        history,
        "a refused status-link changed the ticket"
    );

    // `search reindex`: this node's ticket index rebuilt from the database (a directory of its
    // own: the running app holds the data directory's).
    let search_dir = work.path().join("search");
    let env = [(
        "ARENDO_SEARCH__INDEX_DIR",
        search_dir.to_str().unwrap().to_string(),
    )];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let out = ok(&app, &["search", "reindex"], None, &env).await;
    assert!(out.contains("search index rebuilt: 1 tickets"), "{out}");
    let index = arendo::search::TicketIndex::open(&search_dir).unwrap();
    assert_eq!(index.num_docs(), 1);
    drop(index);
    // An index directory that cannot be made: refused, naming it; the file stays as it was.
    let blocker = work.path().join("en-fil");
    std::fs::write(&blocker, "inte en katalog").unwrap();
    let bad = [
        ("ARENDO_SEARCH__INDEX_DIR", blocker.to_str().unwrap()),
        ("ARENDO_KB__INDEX_DIR", blocker.to_str().unwrap()),
    ];
    refused(&app, &["search", "reindex"], None, &bad[..1], &["en-fil"]).await;
    assert_eq!(
        std::fs::read_to_string(&blocker).unwrap(),
        "inte en katalog"
    );

    // `kb import --dir` of a folder, then `kb reindex`: a search in the rebuilt index finds
    // the article.
    let articles = work.path().join("artiklar");
    std::fs::create_dir_all(articles.join("trafik")).unwrap();
    std::fs::write(articles.join("trafik/parkering.md"), ARTICLE).unwrap();
    let out = ok(
        &app,
        &[
            "kb",
            "import",
            "--tenant",
            "alby",
            "--dir",
            articles.to_str().unwrap(),
        ],
        None,
        &[],
    )
    .await;
    assert!(out.contains("1 created"), "{out}");
    let kb_dir = work.path().join("kb");
    let kb_env = [("ARENDO_KB__INDEX_DIR", kb_dir.to_str().unwrap())];
    let out = ok(&app, &["kb", "reindex"], None, &kb_env).await;
    assert!(out.contains("knowledge-base index rebuilt"), "{out}");
    let kb = arendo::kb::KbIndex::open(&kb_dir).unwrap();
    let (hits, _) = arendo::kb::search::search(
        &kb,
        tid,
        "läkarintyg parkeringstillstånd",
        &arendo::kb::KbFilter::public(),
        5,
    )
    .unwrap();
    assert_eq!(
        hits.first().map(|h| h.slug.as_str()),
        Some("parkeringstillstand-rorelsehindrad"),
        "{hits:?}"
    );
    drop(kb);
    let listed = || async {
        app.db
            .read(move |c| -> Result<Vec<(String, i32)>, Error> {
                Ok(arendo::store::kb::list(c, tid, None)?
                    .into_iter()
                    .map(|a| (a.slug, a.revision))
                    .collect())
            })
            .await
            .unwrap()
    };
    let before = listed().await;
    let broken = work.path().join("trasiga");
    std::fs::create_dir_all(&broken).unwrap();
    std::fs::write(
        broken.join("utan-huvud.md"),
        "Bara text, ingen front matter.\n",
    )
    .unwrap();
    let nowhere = work.path().join("finns-inte");
    for (args, env, needles) in [
        (
            vec![
                "kb",
                "import",
                "--tenant",
                "alby",
                "--dir",
                nowhere.to_str().unwrap(),
            ],
            &[][..],
            vec!["finns-inte"],
        ),
        (
            vec![
                "kb",
                "import",
                "--tenant",
                "alby",
                "--dir",
                broken.to_str().unwrap(),
            ],
            &[][..],
            vec!["utan-huvud.md", "not imported"],
        ),
        (
            vec![
                "kb",
                "import",
                "--tenant",
                "finnsinte",
                "--dir",
                articles.to_str().unwrap(),
            ],
            &[][..],
            vec!["tenant not found"],
        ),
        (vec!["kb", "reindex"], &bad[1..], vec!["en-fil"]),
    ] {
        refused(&app, &args, None, env, &needles).await;
    }
    assert_eq!(listed().await, before);
    assert_eq!(
        std::fs::read_to_string(&blocker).unwrap(),
        "inte en katalog"
    );

    // `mail status`: the tenant's function mailboxes, never fetched yet.
    ok(
        &app,
        &[
            "mailbox",
            "add",
            "--tenant",
            "alby",
            "--address",
            "va@alby.se",
            "--queue",
            "va",
            "--imap-host",
            "imap.alby.se",
        ],
        Some("imap-lösen\n"),
        &[],
    )
    .await;
    let status = ok(&app, &["mail", "status", "--tenant", "alby"], None, &[]).await;
    let row = status
        .lines()
        .find(|l| l.starts_with("va@alby.se"))
        .unwrap_or_else(|| panic!("{status}"));
    assert!(row.contains(" va ") && row.contains("never"), "{status}");
    assert!(!status.contains("imap-lösen"), "{status}");
    refused(
        &app,
        &["mail", "status", "--tenant", "finnsinte"],
        None,
        &[],
        &["tenant not found"],
    )
    .await;
    // An import through a mailbox that does not exist imports nothing.
    let mails = work.path().join("mejl");
    std::fs::create_dir_all(&mails).unwrap();
    std::fs::copy(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/mail_content/forwarded.eml"
        ),
        mails.join("vidarebefordrat.eml"),
    )
    .unwrap();
    let tickets = || async {
        let r = reqwest::Client::new()
            .get(app.url("/api/v1/tickets"))
            .bearer_auth(&org.admin.token)
            .send()
            .await
            .unwrap();
        let page = r.json::<Value>().await.unwrap();
        let mut found: Vec<(String, String, i64)> = page["tickets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    t["number"].as_str().unwrap().to_string(),
                    t["subject"].as_str().unwrap().to_string(),
                    t["queue_id"].as_i64().unwrap(),
                )
            })
            .collect();
        found.sort();
        found
    };
    let before = tickets().await;
    assert_eq!(before.len(), 1, "{before:?}");
    refused(
        &app,
        &[
            "mail",
            "import-dir",
            "--tenant",
            "alby",
            "--mailbox",
            "okand@alby.se",
            mails.to_str().unwrap(),
        ],
        None,
        &[],
        &["no mailbox okand@alby.se"],
    )
    .await;
    assert_eq!(tickets().await, before);
    assert_eq!(
        ok(&app, &["mail", "status", "--tenant", "alby"], None, &[]).await,
        status
    );
    // Through the mailbox that exists: a new ticket in its queue.
    let out = ok(
        &app,
        &[
            "mail",
            "import-dir",
            "--tenant",
            "alby",
            "--mailbox",
            "va@alby.se",
            mails.to_str().unwrap(),
        ],
        None,
        &[],
    )
    .await;
    assert!(out.contains("1 new tickets"), "{out}");
    let after = tickets().await;
    assert_eq!(after.len(), 2, "{after:?}");
    assert!(
        after
            .iter()
            .any(|(_, subject, q)| subject == "Fakturan för mars" && *q == org.queue_b),
        "{after:?}"
    );
}
both_backends!(operator_rebuilds_indexes_and_gives_links);

// ---- a queue's acknowledgement template ----

/// `queue ack-template` enforces what the admin page does (issue 18.1): at most 20,000
/// characters, and the template must render, since mail intake renders it for every new ticket.
async fn acknowledgement_template_is_checked_like_the_admin_page(b: Backend) {
    let app = TestApp::spawn_with(b, &[("ARENDO_MAIL__IMAP_ENABLED", "false")]).await;
    app.org("alby").await;
    let tid = tenant_id(&app, "alby").await;
    let va = queue_id(&app, tid, "va").await;
    let stored = || async {
        app.db
            .read(move |c| -> Result<_, Error> {
                Ok(arendo::store::queues::ack_template(c, tid, va)?)
            })
            .await
            .unwrap()
    };
    let work = tempfile::tempdir().unwrap();
    let file = |name: &str, text: &str| -> String {
        let p = work.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    };
    let good = "Hej {{name}}! VA har fått ditt ärende {{number}}.";
    let good_file = file("bra.hbs", good);
    ok(
        &app,
        &[
            "queue",
            "ack-template",
            "--tenant",
            "alby",
            "--queue",
            "va",
            "--file",
            &good_file,
        ],
        None,
        &[],
    )
    .await;
    assert_eq!(stored().await.as_deref(), Some(good));

    let long = file("lang.hbs", &"Hej {{name}}! ".repeat(1_500)); // 21,000 characters
    let broken = file("trasig.hbs", "Hej {{#if name}}utan slut");
    let unrenderable = file("hjalpare.hbs", "Hej {{versaler name}}!");
    let missing = work.path().join("finns-inte.hbs");
    let missing = missing.to_str().unwrap();
    for (args, needles) in [
        (
            vec![
                "queue",
                "ack-template",
                "--tenant",
                "alby",
                "--queue",
                "va",
                "--file",
                &long,
            ],
            vec!["template"],
        ),
        (
            vec![
                "queue",
                "ack-template",
                "--tenant",
                "alby",
                "--queue",
                "va",
                "--file",
                &unrenderable,
            ],
            vec!["template"],
        ),
        (
            vec![
                "queue",
                "ack-template",
                "--tenant",
                "alby",
                "--queue",
                "va",
                "--file",
                &broken,
            ],
            vec!["template"],
        ),
        (
            vec![
                "queue",
                "ack-template",
                "--tenant",
                "alby",
                "--queue",
                "va",
                "--file",
                missing,
            ],
            vec!["cannot read", "finns-inte.hbs"],
        ),
        (
            vec![
                "queue",
                "ack-template",
                "--tenant",
                "alby",
                "--queue",
                "saknas",
                "--file",
                &good_file,
            ],
            vec!["queue not found"],
        ),
        (
            vec!["queue", "ack-template", "--tenant", "alby", "--queue", "va"],
            vec!["--file", "--clear"],
        ),
    ] {
        refused(&app, &args, None, &[], &needles).await;
        assert_eq!(
            stored().await.as_deref(),
            Some(good),
            "{args:?} changed the stored template"
        );
    }
    ok(
        &app,
        &[
            "queue",
            "ack-template",
            "--tenant",
            "alby",
            "--queue",
            "va",
            "--clear",
        ],
        None,
        &[],
    )
    .await;
    assert_eq!(stored().await, None);
}
both_backends!(acknowledgement_template_is_checked_like_the_admin_page);

// ---- addresses the egress policy refuses ----

/// `escalation records`, `sms gateway` and `tenant smtp` refuse, when saved, an address written
/// as an IP that the installation's egress policy does not allow (here the cloud metadata
/// address), as the admin pages and `mailbox add` do (`Policy::check_literal`); an operator who
/// allows it in `[egress] allow` can save it. Every command is tried before the verdict, so a
/// failure names all that accept such an address.
async fn egress_refused_addresses_are_refused_when_saved(b: Backend) {
    let app = TestApp::spawn_with(b, &[("ARENDO_MAIL__IMAP_ENABLED", "false")]).await;
    app.org("alby").await;
    let tid = tenant_id(&app, "alby").await;
    let stored = || async {
        app.db
            .read(move |c| -> Result<_, Error> {
                Ok((
                    arendo::store::escalation::targets(c, tid)?.len(),
                    arendo::store::sms::gateway(c, tid)?.is_some(),
                    arendo::store::mail::smtp_settings(c, tid, None)?.0,
                ))
            })
            .await
            .unwrap()
    };
    let metadata = "http://169.254.169.254/latest/meta-data";
    let records = [
        "escalation",
        "records",
        "--tenant",
        "alby",
        "--name",
        "Diariet",
        "--url",
        metadata,
    ];
    let sms = [
        "sms",
        "gateway",
        "--tenant",
        "alby",
        "--provider",
        "rest",
        "--url",
        metadata,
        "--sender",
        "Alby",
    ];
    let smtp = [
        "tenant",
        "smtp",
        "--tenant",
        "alby",
        "--host",
        "169.254.169.254",
    ];
    let mut accepted = vec![];
    for args in [&records[..], &sms[..], &smtp[..]] {
        let (code, out, err) = app.cli(args, None, &[]).await;
        if code == 0 || !err.contains("egress refused") || !err.contains("169.254.169.254") {
            accepted.push(format!(
                "{args:?} exited {code}: {}{}",
                out.trim(),
                err.trim()
            ));
        }
    }
    let after = stored().await;
    assert!(
        accepted.is_empty() && after == (0, false, None),
        "saved with an address the egress policy refuses:\n{}\nstored (targets, gateway, smtp): {after:?}",
        accepted.join("\n")
    );

    let allowed = [("ARENDO_EGRESS__ALLOW", "169.254.169.254")];
    for args in [&records[..], &sms[..], &smtp[..]] {
        ok(&app, args, None, &allowed).await;
    }
    let (targets, gateway, smtp) = stored().await;
    assert_eq!((targets, gateway), (1, true));
    assert!(smtp.is_some_and(|s| s.contains("169.254.169.254")));
}
both_backends!(egress_refused_addresses_are_refused_when_saved);
