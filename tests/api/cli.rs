//! The operator's command line, run as the real binary.

use std::process::Command;

use crate::helpers::{PgScratch, arendo};

fn operator_sets_up_a_municipality(db_url: &str) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ok = |args: &[&str], stdin: Option<&str>| {
        let (code, out, err) = arendo(d, db_url, args, stdin);
        assert_eq!(code, 0, "{args:?}: {out}{err}");
        out
    };
    ok(&["migrate"], None);
    ok(
        &[
            "tenant",
            "create",
            "--slug",
            "vasteras",
            "--name",
            "Västerås stad",
            "--prefix",
            "VS",
        ],
        None,
    );
    assert!(ok(&["tenant", "list"], None).contains("Västerås stad"));
    ok(
        &[
            "queue", "create", "--tenant", "vasteras", "--slug", "va", "--name", "VA",
        ],
        None,
    );
    assert!(ok(&["queue", "list", "--tenant", "vasteras"], None).contains("va"));
    // Service levels: a calendar with a shortened day before Christmas, VA on it, a policy.
    let holidays = ok(&["sla", "holidays", "--year", "2027"], None);
    assert!(
        holidays.contains("2027-06-25  midsommarafton"),
        "{holidays}"
    );
    ok(
        &[
            "sla",
            "calendar",
            "--tenant",
            "vasteras",
            "--name",
            "Kontorstid",
            "--default",
            "--fri",
            "08:00-15:00",
            "--special",
            "2026-12-23=08:00-12:00",
        ],
        None,
    );
    ok(
        &[
            "sla",
            "calendar",
            "--tenant",
            "vasteras",
            "--name",
            "Jour",
            "--sat",
            "10:00-14:00",
            "--open-on",
            "julafton,nyarsafton",
        ],
        None,
    );
    ok(
        &[
            "sla",
            "use-calendar",
            "--tenant",
            "vasteras",
            "--queue",
            "va",
            "--calendar",
            "Jour",
        ],
        None,
    );
    ok(
        &[
            "sla",
            "policy",
            "--tenant",
            "vasteras",
            "--queue",
            "va",
            "--priority",
            "urgent",
            "--first-response",
            "1:30",
            "--resolution",
            "2d",
            "--warn",
            "75",
            "--rule",
            "warning:notify",
            "--rule",
            "breach:raise_priority",
        ],
        None,
    );
    let shown = ok(&["sla", "show", "--tenant", "vasteras"], None);
    assert!(
        shown.contains("Kontorstid (default): mån 08:00-16:30"),
        "{shown}"
    );
    assert!(shown.contains("fre 08:00-15:00"), "{shown}");
    assert!(shown.contains("lör 10:00-14:00"), "{shown}");
    assert!(shown.contains(": Jour"), "{shown}");
    assert!(
        shown.contains("urgent: first 90 next – resolution 960 warn 75%"),
        "{shown}"
    );
    let (code, _, err) = arendo(
        d,
        db_url,
        &[
            "sla",
            "policy",
            "--tenant",
            "vasteras",
            "--queue",
            "va",
            "--first-response",
            "snart",
        ],
        None,
    );
    assert_ne!(code, 0);
    assert!(err.contains("not a duration"), "{err}");
    let (code, _, err) = arendo(
        d,
        db_url,
        &[
            "sla",
            "calendar",
            "--tenant",
            "vasteras",
            "--name",
            "Fel",
            "--mon",
            "16:00-08:00",
        ],
        None,
    );
    assert_ne!(code, 0);
    assert!(err.contains("interval"), "{err}");
    let out = ok(
        &[
            "user",
            "create",
            "--tenant",
            "vasteras",
            "--email",
            "eva@vasteras.se",
            "--name",
            "Eva",
            "--queue",
            "va:lead",
        ],
        None,
    );
    assert!(out.contains("password: "), "{out}");
    ok(
        &[
            "user",
            "set-password",
            "--tenant",
            "vasteras",
            "--email",
            "eva@vasteras.se",
            "--password-stdin",
        ],
        Some("ett bra långt lösenord\n"),
    );
    assert!(ok(&["user", "list", "--tenant", "vasteras"], None).contains("va:lead"));
    ok(
        &[
            "mailbox",
            "add",
            "--tenant",
            "vasteras",
            "--address",
            "va@vasteras.se",
            "--queue",
            "va",
            "--imap-host",
            "imap.vasteras.se",
        ],
        Some("hemligt-imap-lösen\n"),
    );
    let list = ok(&["mailbox", "list", "--tenant", "vasteras"], None);
    assert!(
        list.contains("va@vasteras.se") && list.contains("imap.vasteras.se:993"),
        "{list}"
    );
    assert!(
        !list.contains("hemligt"),
        "the IMAP password must never be shown"
    );
    let token = ok(
        &[
            "token",
            "create",
            "--tenant",
            "vasteras",
            "--email",
            "eva@vasteras.se",
            "--name",
            "e-tjänst",
        ],
        None,
    );
    assert_eq!(token.trim().split('.').count(), 3, "a JWT: {token}");
    ok(
        &[
            "user",
            "deactivate",
            "--tenant",
            "vasteras",
            "--email",
            "eva@vasteras.se",
        ],
        None,
    );
    // The demo is idempotent.
    let first = ok(&["demo"], None);
    let _ = first;
    let (code, out, err) = arendo(d, db_url, &["demo"], None);
    assert_eq!(code, 0);
    assert!(out.contains("already present"), "{out}{err}");

    // Bad input: clear message, non-zero exit, nothing changed.
    for (args, stdin, needle) in [
        (
            vec!["tenant", "create", "--slug", "Bad Slug", "--name", "x"],
            None,
            "slug",
        ),
        (
            vec!["tenant", "create", "--slug", "vasteras", "--name", "igen"],
            None,
            "already exists",
        ),
        (
            vec![
                "tenant", "create", "--slug", "ok", "--name", "x", "--prefix", "kc1",
            ],
            None,
            "ticket_prefix",
        ),
        (
            vec![
                "queue",
                "create",
                "--tenant",
                "finnsinte",
                "--slug",
                "va",
                "--name",
                "VA",
            ],
            None,
            "tenant not found",
        ),
        (
            vec![
                "user",
                "create",
                "--tenant",
                "vasteras",
                "--email",
                "inte-en-adress",
                "--name",
                "x",
            ],
            None,
            "--email",
        ),
        (
            vec![
                "user",
                "create",
                "--tenant",
                "vasteras",
                "--email",
                "x@vasteras.se",
                "--name",
                "x",
                "--role",
                "kung",
            ],
            None,
            "--role",
        ),
        (
            vec![
                "user",
                "create",
                "--tenant",
                "vasteras",
                "--email",
                "x@vasteras.se",
                "--name",
                "x",
                "--queue",
                "saknas",
            ],
            None,
            "queue not found",
        ),
        (
            vec![
                "user",
                "set-password",
                "--tenant",
                "vasteras",
                "--email",
                "eva@vasteras.se",
                "--password-stdin",
            ],
            Some("kort\n"),
            "at least 10",
        ),
        (
            vec![
                "mailbox",
                "add",
                "--tenant",
                "vasteras",
                "--address",
                "a@vasteras.se",
                "--queue",
                "va",
                "--imap-host",
                "imap.example.org",
                "--tls",
                "plain",
            ],
            Some("x\n"),
            "only allowed",
        ),
        (
            vec![
                "token",
                "create",
                "--tenant",
                "vasteras",
                "--email",
                "eva@vasteras.se",
                "--name",
                "x",
                "--scopes",
                "allt",
            ],
            None,
            "--scopes",
        ),
    ] {
        let (code, out, err) = arendo(d, db_url, &args, stdin);
        assert_ne!(code, 0, "{args:?} should fail: {out}");
        assert!(
            err.contains(needle),
            "{args:?}: expected {needle:?} in {err}"
        );
    }
    let (code, _, err) = arendo(d, "mysql://x", &["migrate"], None);
    assert_ne!(code, 0);
    assert!(err.contains("sqlite:// or postgres://"), "{err}");
}

#[test]
fn cli_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    operator_sets_up_a_municipality(&format!("sqlite://{}", dir.path().join("cli.db").display()));
}

#[test]
fn cli_on_postgres() {
    let pg = PgScratch::new();
    operator_sets_up_a_municipality(&pg.url);
}

/// Issue 18.6 (D60): the benchmarks are a binary of their own (`arendo-bench`, feature `bench`).
/// An operator's `arendo` neither offers nor runs them, and none of their code is linked into it —
/// its help lists no `bench`, `arendo bench startup` is refused as an unknown command, and no text
/// the benchmarks print is in the executable. (No database involved, so one run, not per backend.)
#[test]
fn cli_product_binary_has_no_bench_command_or_code() {
    let bin = env!("CARGO_BIN_EXE_arendo");
    let run = |args: &[&str]| {
        Command::new(bin)
            .args(args)
            .env_remove("ARENDO_CONFIG")
            .output()
            .unwrap()
    };
    let help = run(&["--help"]);
    assert!(help.status.success());
    let help = String::from_utf8_lossy(&help.stdout).to_lowercase();
    assert!(help.contains("serve") && help.contains("mailbox"), "{help}");
    assert!(
        !help.contains("bench"),
        "the product's help offers benchmarks:\n{help}"
    );

    let old = run(&["bench", "startup", "--runs", "1"]);
    assert_eq!(old.status.code(), Some(2), "{old:?}");
    assert!(String::from_utf8_lossy(&old.stderr).contains("unrecognized subcommand 'bench'"));

    // grep is fast on the 250 MB debug executable; exit 1 means no line matched.
    let found = Command::new("grep")
        .args(["-a", "-F", "-c"])
        .args(["-e", "cold start to /readyz", "-e", "bench-credentials.txt"])
        .arg(bin)
        .output()
        .unwrap();
    assert_eq!(
        found.status.code(),
        Some(1),
        "benchmark text in {bin}: {}",
        String::from_utf8_lossy(&found.stdout)
    );
}
