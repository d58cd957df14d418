//! Which mail is which (issue 17): different mails that share a Message-ID stay apart, while the
//! same mail delivered again stays one (point 1); mail without a Message-ID is recognised by its
//! bytes, per municipality (point 2); our own function mailboxes are never the citizen (point 4);
//! a mail to several function mailboxes lands by To:, then Cc:, not by which was fetched first
//! (point 5); a bounce of our own mail is a delivery failure on its ticket (point 10); mail about a
//! ticket comes from its function mailbox (point 29), an answer to it threads (point 30), and
//! Ärendo's own notices coming back are never imported (point 31).
//!
//! The mails come in through Dovecot (IMAP) where the order of fetching matters, otherwise through
//! `arendo mail import-dir --mailbox`, the same pipeline.

use std::process::Command;
use std::time::Duration;

use arendo::accounts::admin::{self, NewUser};
use arendo::accounts::password::NewPassword;
use arendo::delivery::mail::OutgoingMail;
use arendo::domain::{EmailAddress, MembershipRole, Priority, QueueAccess, Role, TicketNumber};
use arendo::error::Error;
use arendo::sla::Calendar;
use arendo::sla::admin::{PolicyInput, save_calendar, save_policy};
use arendo::sla::calendar::DayHours;
use arendo::sla::engine::{Notices, sweep};
use arendo::sla::policy::{Action, Level, Rule};
use arendo::store;
use chrono::TimeDelta;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Backend, Org, TestApp, csrf_in};
use crate::mail::{KT, PW, VA, World, add_mailbox, mail};

/// Alby's function mailboxes when the mail comes in through `import-dir`.
const KT_A: &str = "kundtjanst@alby.se";
const VA_A: &str = "va@alby.se";
/// The installation's default sender (`mail.from`), which none of these apps changes.
const INSTALLATION_FROM: &str = "noreply@arendo.invalid";

/// An app that reads no IMAP (mail comes in through `import-dir --mailbox`) and Alby with its two
/// function mailboxes: kundtjanst@ feeds Kundtjänst, va@ feeds VA.
async fn alby(b: Backend) -> (TestApp, Org) {
    let app = TestApp::spawn_with(b, &[("ARENDO_MAIL__IMAP_ENABLED", "false")]).await;
    let org = app.org("alby").await;
    add_mailbox(&app, 9, &org, KT_A, org.queue_a, "INBOX", "move");
    add_mailbox(&app, 9, &org, VA_A, org.queue_b, "INBOX", "move");
    (app, org)
}

/// `arendo mail import-dir --mailbox <mailbox>` with these mails, in this order; its report.
fn import(app: &TestApp, mailbox: &str, mails: &[Vec<u8>]) -> String {
    let dir = tempfile::tempdir().unwrap();
    for (i, raw) in mails.iter().enumerate() {
        std::fs::write(dir.path().join(format!("{i:02}.eml")), raw).unwrap();
    }
    let out = Command::new(env!("CARGO_BIN_EXE_arendo"))
        .args([
            "mail",
            "import-dir",
            "--tenant",
            "alby",
            "--mailbox",
            mailbox,
        ])
        .arg(dir.path())
        .env_remove("ARENDO_CONFIG")
        .env("ARENDO_DATA_DIR", &app.data_dir)
        .env("ARENDO_DATABASE__URL", &app.db_url)
        .env("ARENDO_SECRET_KEY", &app.key_hex)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "import failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

async fn get(app: &TestApp, token: &str, path: &str) -> Value {
    let r = reqwest::Client::new()
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{path}");
    r.json().await.unwrap()
}

async fn tickets(app: &TestApp, token: &str) -> Vec<Value> {
    get(app, token, "/api/v1/tickets?limit=200").await["tickets"]
        .as_array()
        .unwrap()
        .clone()
}

async fn detail(app: &TestApp, token: &str, number: &str) -> Value {
    get(app, token, &format!("/api/v1/tickets/{number}")).await
}

fn number_of(t: &Value) -> String {
    t["number"].as_str().unwrap().to_string()
}

/// The messages of a ticket of this kind ("inbound", "outbound", "note").
fn messages<'a>(d: &'a Value, kind: &str) -> Vec<&'a Value> {
    d["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["kind"] == kind)
        .collect()
}

fn events<'a>(d: &'a Value, kind: &str) -> Vec<&'a Value> {
    d["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == kind)
        .collect()
}

/// The one ticket whose inbound mail says `text`.
async fn ticket_saying(app: &TestApp, token: &str, text: &str) -> Value {
    let mut found = vec![];
    for t in tickets(app, token).await {
        let d = detail(app, token, &number_of(&t)).await;
        if messages(&d, "inbound")
            .iter()
            .any(|m| m["body_text"].as_str().unwrap().contains(text))
        {
            found.push(d);
        }
    }
    assert_eq!(found.len(), 1, "one ticket says {text:?}: {found:#?}");
    found.pop().unwrap()
}

/// The mail to `to` whose subject contains `part`, waiting up to 10 s for the workers.
async fn mail_to(app: &TestApp, to: &str, part: &str) -> Value {
    for _ in 0..100 {
        if let Some(m) = app
            .outbox_mails(to)
            .await
            .into_iter()
            .find(|m| m["subject"].as_str().unwrap_or("").contains(part))
        {
            return m;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "no mail to {to} with {part:?}: {:#?}",
        app.outbox_mails(to).await
    );
}

/// The bytes an outbox mail goes out as (what the transport hands to SMTP).
fn as_sent(payload: &Value) -> Vec<u8> {
    let m: OutgoingMail = serde_json::from_value(payload.clone()).unwrap();
    m.build(&[]).unwrap().formatted()
}

/// A mail with header fields removed (`drop`) or replaced (`set`), as a relay or a forwarding
/// rule would; folded fields are handled whole.
fn rewrite(raw: &[u8], drop: &[&str], set: &[(&str, &str)]) -> Vec<u8> {
    let text = String::from_utf8(raw.to_vec()).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let mut fields: Vec<String> = vec![];
    for line in head.split("\r\n") {
        match fields.last_mut() {
            Some(last) if line.starts_with([' ', '\t']) => {
                last.push_str("\r\n");
                last.push_str(line);
            }
            _ => fields.push(line.to_string()),
        }
    }
    let name = |f: &str| {
        f.split(':')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    };
    let mut out: Vec<String> = vec![];
    for f in fields {
        let n = name(&f);
        if drop.iter().any(|d| d.eq_ignore_ascii_case(&n)) {
            continue;
        }
        match set.iter().find(|(k, _)| k.eq_ignore_ascii_case(&n)) {
            Some((k, v)) => out.push(format!("{k}: {v}")),
            None => out.push(f),
        }
    }
    format!("{}\r\n\r\n{body}", out.join("\r\n")).into_bytes()
}

/// A scanner at the library and a web form both send with the Message-ID
/// `<scan0001@skrivare.alby.se>`: two citizens, two tickets, both acknowledged, both texts stored,
/// and the second ticket's history notes the shared Message-ID. The same mail again (moved back
/// to the inbox) and a relay's copy of it (other Received, Date and spam headers, the same sender
/// and text) are copies: still two tickets, one acknowledgement each.
async fn different_mails_sharing_a_message_id_stay_apart(b: Backend) {
    let (app, org) = alby(b).await;
    let token = &org.admin.token;
    let maria = mail(
        "Maria Lind <maria@example.org>",
        KT_A,
        "Ansökan om färdtjänst",
        "scan0001@skrivare.alby.se",
        "",
        "Här är min ansökan om färdtjänst, inskannad på biblioteket.",
    );
    let per = mail(
        "Per Holm <per@example.org>",
        KT_A,
        "Ritning till garaget",
        "scan0001@skrivare.alby.se",
        "",
        "Ritningen till garaget på Storgatan 3.",
    );
    let report = import(&app, KT_A, &[maria.clone(), per]);
    assert_eq!(
        report.matches("new ticket KC-").count(),
        2,
        "two new tickets: {report}"
    );

    let all = tickets(&app, token).await;
    assert_eq!(all.len(), 2, "{all:#?}");
    let maria_tk = ticket_saying(&app, token, "min ansökan om färdtjänst").await;
    let per_tk = ticket_saying(&app, token, "Ritningen till garaget").await;
    let (maria_n, per_n) = (number_of(&maria_tk), number_of(&per_tk));
    assert_ne!(maria_n, per_n);
    assert_eq!(maria_tk["contact"]["email"], "maria@example.org");
    assert_eq!(per_tk["contact"]["email"], "per@example.org");
    for (who, n) in [("maria@example.org", &maria_n), ("per@example.org", &per_n)] {
        let acks = app.outbox_mails(who).await;
        assert_eq!(acks.len(), 1, "{who} is acknowledged once: {acks:#?}");
        assert!(acks[0]["subject"].as_str().unwrap().contains(n.as_str()));
    }
    let noted = events(&per_tk, "message_id_collision");
    assert_eq!(noted.len(), 1, "{per_tk:#}");
    assert_eq!(noted[0]["details"]["ticket"], maria_n.as_str());
    assert_eq!(
        noted[0]["details"]["message_id"],
        "scan0001@skrivare.alby.se"
    );
    assert!(events(&maria_tk, "message_id_collision").is_empty());

    // Maria's mail again, byte for byte, and as a relay passed it on once more.
    let relayed = rewrite(&maria, &[], &[("Date", "Mon, 23 Nov 2026 10:04:12 +0100")]);
    let relayed = [
        b"Received: from relay.example.net (relay.example.net [192.0.2.7])\r\n\tby mx.alby.se; Mon, 23 Nov 2026 10:04:12 +0100\r\nX-Spam-Score: 0.1\r\n".to_vec(),
        relayed,
    ]
    .concat();
    assert_ne!(relayed, maria);
    let report = import(&app, KT_A, &[maria, relayed]);
    assert_eq!(
        report.matches(&format!("already in {maria_n}")).count(),
        2,
        "{report}"
    );
    assert_eq!(tickets(&app, token).await.len(), 2);
    let maria_tk = detail(&app, token, &maria_n).await;
    assert_eq!(messages(&maria_tk, "inbound").len(), 1);
    assert_eq!(events(&maria_tk, "mail_copy_received").len(), 2);
    assert_eq!(app.outbox_mails("maria@example.org").await.len(), 1);
    assert_eq!(app.outbox_mails("per@example.org").await.len(), 1);
}
both_backends!(different_mails_sharing_a_message_id_stay_apart);

/// A citizen's mail program sends no Message-ID. Ärendo imports it; an administrator moves the
/// processed mail back to the inbox, so Dovecot hands the same bytes over again under a new UID:
/// still one ticket and one acknowledgement. The same bytes in another municipality are that
/// municipality's own ticket.
async fn mail_without_message_id_delivered_again_is_one_ticket(b: Backend) {
    let w = World::new(b).await;
    let raw = format!(
        "From: Eva Nord <eva@example.org>\r\nTo: {KT}\r\nSubject: Trasig gatlykta\r\nDate: Mon, 23 Nov 2026 10:00:00 +0100\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nLyktan utanför Björkvägen 4 har varit släckt i en vecka.\r\n"
    )
    .into_bytes();
    let processed = async || {
        for _ in 0..200 {
            if w.imap.count(KT, PW, "INBOX").await.unwrap() == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the mail was never processed");
    };
    w.deliver(KT, raw.clone()).await;
    let number = number_of(&w.wait_tickets(1).await[0]);
    processed().await;
    assert_eq!(w.smtp.wait_for(1).await.len(), 1, "acknowledged");
    assert_eq!(w.imap.count(KT, PW, "Arendo.Importerat").await.unwrap(), 1);

    // Moved back to INBOX.
    w.deliver(KT, raw.clone()).await;
    processed().await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(w.tickets().await.len(), 1, "no second ticket");
    assert_eq!(w.smtp.received().len(), 1, "no second acknowledgement");
    let d = w.detail(&number).await;
    assert_eq!(messages(&d, "inbound").len(), 1);
    let copies = events(&d, "mail_copy_received");
    assert_eq!(copies.len(), 1, "{d:#}");
    assert_eq!(copies[0]["details"]["by"], "raw_sha256");

    // The same bytes reach Borby: Borby's own ticket, acknowledged by Borby.
    let borby = w.app.org("borby").await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("lykta.eml"), &raw).unwrap();
    let out = w.app.import_dir("borby", "kundtjanst", dir.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let theirs = tickets(&w.app, &borby.admin.token).await;
    assert_eq!(theirs.len(), 1, "{theirs:#?}");
    let d = detail(&w.app, &borby.admin.token, &number_of(&theirs[0])).await;
    assert_eq!(messages(&d, "inbound").len(), 1);
    assert_eq!(messages(&d, "outbound").len(), 1, "Borby acknowledges it");
    assert_eq!(w.tickets().await.len(), 1, "Alby still has one");
    assert_eq!(
        messages(&w.detail(&number).await, "outbound").len(),
        1,
        "Alby acknowledged once"
    );
}
both_backends!(mail_without_message_id_delivered_again_is_one_ticket);

/// Maria writes to kundtjanst@ with va@ in Cc. VA's staff then write from va@ into her ticket
/// (its tag in the subject): that mail is not Maria's — it is stored as an internal note with a
/// history line, nobody is acknowledged, and the ticket's contact stays Maria.
async fn mail_from_our_own_function_mailbox_is_not_the_citizen(b: Backend) {
    let (app, org) = alby(b).await;
    let token = &org.admin.token;
    import(
        &app,
        KT_A,
        &[mail(
            "Maria Lind <maria@example.org>",
            KT_A,
            "Buller från byggarbetsplatsen",
            "buller1@example.org",
            &format!("Cc: {VA_A}\r\n"),
            "Det borras från sex på morgonen vid Ekvägen.",
        )],
    );
    let t = tickets(&app, token).await;
    assert_eq!(t.len(), 1);
    let number = number_of(&t[0]);
    let contact = detail(&app, token, &number).await["contact"]["id"].clone();

    let report = import(
        &app,
        KT_A,
        &[mail(
            "VA Alby <va@alby.se>",
            KT_A,
            &format!("Sv: Buller från byggarbetsplatsen [{number}]"),
            "intern1@alby.se",
            "",
            "Internt: vi har pratat med entreprenören, de börjar kl. 7 från i morgon.",
        )],
    );
    assert!(report.contains(&format!("added to {number}")), "{report}");
    assert_eq!(tickets(&app, token).await.len(), 1, "no new ticket");
    let d = detail(&app, token, &number).await;
    let inbound = messages(&d, "inbound");
    assert_eq!(inbound.len(), 1, "only Maria's mail is from the citizen");
    assert_eq!(inbound[0]["from_addr"], "maria@example.org");
    let notes = messages(&d, "note");
    assert_eq!(notes.len(), 1, "{d:#}");
    assert_eq!(notes[0]["from_addr"], VA_A);
    assert!(
        notes[0]["body_text"]
            .as_str()
            .unwrap()
            .contains("vi har pratat med entreprenören")
    );
    let own = events(&d, "mail_from_own_address");
    assert_eq!(own.len(), 1, "the history says so");
    assert_eq!(own[0]["details"]["message"], notes[0]["id"]);
    assert_eq!(d["contact"]["id"], contact);
    assert_eq!(d["contact"]["email"], "maria@example.org");
    assert!(app.outbox_mails(VA_A).await.is_empty(), "va@ is not told");
    assert_eq!(app.outbox_mails("maria@example.org").await.len(), 1);
}
both_backends!(mail_from_our_own_function_mailbox_is_not_the_citizen);

/// Per writes To: va@, Cc: kundtjanst@; kundtjanst@ happens to fetch it first. The ticket is VA's,
/// acknowledged from va@, and va@'s copy adds nothing. Anna writes To: kundtjanst@, Cc: va@, and
/// va@ fetches it first: the ticket is Kundtjänst's.
async fn a_mail_to_two_function_mailboxes_lands_by_to_then_cc(b: Backend) {
    let w = World::new(b).await;
    let both_processed = async || {
        for _ in 0..200 {
            if w.imap.count(KT, PW, "INBOX").await.unwrap() == 0
                && w.imap.count(VA, PW, "INBOX").await.unwrap() == 0
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the mails were never processed");
    };
    let to_va = mail(
        "Per Holm <per@example.org>",
        VA,
        "Vattenläcka på Storgatan",
        "leak-to-va@example.org",
        &format!("Cc: {KT}\r\n"),
        "Det sprutar vatten ur en brunn på Storgatan.",
    );
    w.deliver(KT, to_va.clone()).await;
    let t = w.wait_tickets(1).await;
    assert_eq!(t[0]["queue_id"], w.org.queue_b, "VA's, from its To:");
    w.deliver(VA, to_va).await;
    both_processed().await;
    let acks = w.smtp.wait_for(1).await;
    assert_eq!(acks.len(), 1);
    assert_eq!(acks[0].to, vec!["per@example.org"]);
    assert_eq!(acks[0].from, VA, "from va@");

    let to_kt = mail(
        "Anna Berg <anna.berg@example.org>",
        KT,
        "Fakturafråga",
        "invoice-to-kt@example.org",
        &format!("Cc: {VA}\r\n"),
        "Varför har jag fått två fakturor för oktober?",
    );
    w.deliver(VA, to_kt.clone()).await;
    let t = w.wait_tickets(2).await;
    let anna = t
        .iter()
        .find(|x| x["subject"] == "Fakturafråga")
        .expect("Anna's ticket");
    assert_eq!(
        anna["queue_id"], w.org.queue_a,
        "Kundtjänst's, from its To:"
    );
    w.deliver(KT, to_kt).await;
    both_processed().await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let t = w.tickets().await;
    assert_eq!(t.len(), 2, "one ticket per mail: {t:#?}");
    let acks = w.smtp.received();
    assert_eq!(acks.len(), 2, "one acknowledgement per mail");
    let to_anna = acks
        .iter()
        .find(|a| a.to == vec!["anna.berg@example.org"])
        .unwrap();
    assert_eq!(to_anna.from, KT, "from kundtjanst@");
}
both_backends!(a_mail_to_two_function_mailboxes_lands_by_to_then_cc);

/// Maria's address stops working after she wrote: her mail server returns Ärendo's
/// acknowledgement as a delivery report (multipart/report with the acknowledgement inside). The
/// report lands on her ticket as a delivery failure, opens no ticket and is not acknowledged.
async fn a_bounce_of_our_acknowledgement_is_a_delivery_failure_on_its_ticket(b: Backend) {
    let (app, org) = alby(b).await;
    let token = &org.admin.token;
    import(
        &app,
        KT_A,
        &[mail(
            "Maria Lind <maria@example.org>",
            KT_A,
            "Hämtning av grovsopor",
            "grovsopor@example.org",
            "",
            "När hämtas grovsoporna på Ekvägen?",
        )],
    );
    let number = number_of(&tickets(&app, token).await[0]);
    let ack = mail_to(&app, "maria@example.org", &number).await;
    let ack_id = ack["message_id"].as_str().unwrap().to_string();
    let original = String::from_utf8(as_sent(&ack)).unwrap();
    assert!(original.contains(&format!("<{ack_id}>")));

    let dsn = format!(
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.org>\r\nTo: {KT_A}\r\nSubject: Undelivered Mail Returned to Sender\r\nMessage-ID: <20261123091502.4711@mx.example.org>\r\nDate: Mon, 23 Nov 2026 10:15:02 +0100\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"DSN-B\"\r\n\r\n--DSN-B\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nThis is the mail system at host mx.example.org.\r\n\r\nI'm sorry to have to inform you that your message could not be delivered.\r\n\r\n<maria@example.org>: mailbox unavailable\r\n--DSN-B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.org\r\n\r\nFinal-Recipient: rfc822; maria@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n--DSN-B\r\nContent-Type: message/rfc822\r\n\r\n{original}\r\n--DSN-B--\r\n"
    );
    let report = import(&app, KT_A, &[dsn.into_bytes()]);
    assert!(
        report.contains(&format!("delivery failure recorded on {number}")),
        "{report}"
    );
    assert_eq!(
        tickets(&app, token).await.len(),
        1,
        "no ticket for the bounce"
    );
    let d = detail(&app, token, &number).await;
    let failed = events(&d, "delivery_failed");
    assert_eq!(failed.len(), 1, "{d:#}");
    let ack_row = messages(&d, "outbound")
        .into_iter()
        .find(|m| m["message_id"] == ack_id.as_str())
        .expect("the acknowledgement is stored on the ticket");
    assert_eq!(failed[0]["details"]["bounced"], ack_row["id"]);
    assert_eq!(
        messages(&d, "inbound").len(),
        1,
        "the report is not Maria's"
    );
    assert!(
        app.outbox_mails("MAILER-DAEMON@mx.example.org")
            .await
            .is_empty()
    );
    assert_eq!(app.outbox_mails("maria@example.org").await.len(), 1);
}
both_backends!(a_bounce_of_our_acknowledgement_is_a_delivery_failure_on_its_ticket);

/// Wait until the outbox worker has answered every "Följ ditt ärende" request.
async fn link_requests_answered(app: &TestApp) {
    for _ in 0..200 {
        let pending = app
            .db
            .read(|c| -> Result<_, Error> {
                let mut n = 0;
                for t in store::tenants::list(c)? {
                    n += store::outbox::recent(c, t.id, 1000)?
                        .into_iter()
                        .filter(|i| i.kind == "status_link_request" && i.done_at.is_none())
                        .count();
                }
                Ok(n)
            })
            .await
            .unwrap();
        if pending == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("link requests still pending");
}

/// Maria's ticket came through va@. When it is resolved she is told from va@, and the link to her
/// ticket she asks for comes from va@ too — not from the installation's noreply address, so she
/// can answer. She answers both without the tag in the subject: each answer lands on her ticket
/// by its In-Reply-To (the first reopens it), no new ticket.
async fn mail_about_a_ticket_comes_from_its_mailbox_and_answers_thread(b: Backend) {
    let (app, org) = alby(b).await;
    let token = &org.admin.token;
    import(
        &app,
        VA_A,
        &[mail(
            "Maria Lind <maria@example.org>",
            VA_A,
            "Vattenmätaren läcker",
            "matare1@example.org",
            "",
            "Det droppar från vattenmätaren i källaren.",
        )],
    );
    let t = tickets(&app, token).await;
    assert_eq!(t.len(), 1);
    assert_eq!(t[0]["queue_id"], org.queue_b);
    let number = number_of(&t[0]);
    app.patch_ticket(&org.agent_b.token, &number, json!({ "status": "resolved" }))
        .await;
    let told = mail_to(&app, "maria@example.org", "är löst").await;
    assert_eq!(told["from"], VA_A, "the notification comes from va@");
    assert_ne!(told["from"], INSTALLATION_FROM);
    assert_eq!(
        String::from_utf8(as_sent(&told))
            .unwrap()
            .lines()
            .find(|l| l.starts_with("From:"))
            .unwrap()
            .trim(),
        format!("From: {VA_A}")
    );

    // "Följ ditt ärende": the link comes by mail, from va@.
    let citizen = app.browser();
    let csrf = csrf_in(
        &citizen
            .get(app.url("/mitt-arende/alby"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    let r = citizen
        .post(app.url("/mitt-arende/alby"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("number", number.as_str()),
            ("email", "maria@example.org"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    link_requests_answered(&app).await;
    let link = mail_to(&app, "maria@example.org", "Länk till ditt ärende").await;
    assert_eq!(link["from"], VA_A, "the link mail comes from va@");

    // Her answers carry no tag, only In-Reply-To.
    let answer = |id: &str, irt: &str, subject: String, text: &str| {
        mail(
            "Maria Lind <maria@example.org>",
            VA_A,
            &subject,
            id,
            &format!("In-Reply-To: <{irt}>\r\nReferences: <{irt}>\r\n"),
            text,
        )
    };
    let report = import(
        &app,
        VA_A,
        &[
            answer(
                "svar1@example.org",
                told["message_id"].as_str().unwrap(),
                format!("Sv: Ditt ärende {number} är löst"),
                "Nej, det droppar fortfarande.",
            ),
            answer(
                "svar2@example.org",
                link["message_id"].as_str().unwrap(),
                format!("Sv: {}", link["subject"].as_str().unwrap()),
                "Tack för länken.",
            ),
        ],
    );
    assert_eq!(
        report.matches(&format!("added to {number}")).count(),
        2,
        "{report}"
    );
    assert_eq!(tickets(&app, token).await.len(), 1, "no new ticket");
    let d = detail(&app, token, &number).await;
    let texts: Vec<&str> = messages(&d, "inbound")
        .iter()
        .map(|m| m["body_text"].as_str().unwrap().trim())
        .collect();
    assert_eq!(
        texts,
        [
            "Det droppar från vattenmätaren i källaren.",
            "Nej, det droppar fortfarande.",
            "Tack för länken."
        ]
    );
    assert_eq!(d["status"], "open", "her answer reopens the ticket");
}
both_backends!(mail_about_a_ticket_comes_from_its_mailbox_and_answers_thread);

/// Open around the clock: the SLA part does not depend on when the test runs.
fn always_open() -> Calendar {
    let all_day = DayHours::parse("00:00-24:00").unwrap();
    Calendar {
        week: std::array::from_fn(|_| all_day.clone()),
        closed_holidays: Default::default(),
        closed_days: Default::default(),
        special_days: Default::default(),
    }
}

/// VA promises a first answer within an hour, and VA's on-duty lead reads va@ (the lead's address
/// is the function mailbox). A ticket misses the hour: Ärendo mails its warning and its breach
/// notice, which land in va@. Neither becomes a ticket or a message — not as sent (Ärendo's
/// Message-ID and header), not when a relay strips the header (the Message-ID), not under a new
/// Message-ID (the header), and not a notice from the installation's sender address alone.
async fn our_own_sla_notices_are_never_imported(b: Backend) {
    let (app, org) = alby(b).await;
    let token = &org.admin.token;
    let queue_b = org.queue_b;
    let t = app
        .db
        .write(move |c| -> Result<_, Error> {
            let t = arendo::tenants::tenant_by_slug(c, "alby")?.id;
            let q = store::queues::lookup(c, t, queue_b)?.unwrap().id;
            save_calendar(c, t, "Dygnet runt", &always_open(), true)?;
            save_policy(
                c,
                t,
                q,
                Priority::Normal,
                &PolicyInput {
                    first_response: "1h".into(),
                    resolution: "2d".into(),
                    warn_percent: Some(75),
                    rules: vec![
                        Rule {
                            on: Level::Warning,
                            action: Action::Notify,
                            targets: vec![],
                        },
                        Rule {
                            on: Level::Breach,
                            action: Action::Notify,
                            targets: vec![],
                        },
                    ],
                    ..Default::default()
                },
            )?;
            admin::create_user(
                c,
                t,
                NewUser {
                    email: &EmailAddress::parse(VA_A)?,
                    display_name: "VA-jouren",
                    role: Role::Agent,
                    password: &NewPassword::generate(),
                    queues: &[(q, MembershipRole::Lead)],
                },
            )?;
            Ok(t)
        })
        .await
        .unwrap();
    let created = app
        .create_ticket(&org.agent_b.token, queue_b, "Vattenläcka vid Lillgatan")
        .await;
    let number = created["number"].as_str().unwrap().to_string();
    let parsed = TicketNumber::parse(&number).unwrap();
    let mut since = None;
    for _ in 0..200 {
        let n = parsed.clone();
        let cs = app
            .db
            .read(move |c| -> Result<_, Error> {
                let tk = store::tickets::by_number(c, t, &QueueAccess::All, &n)?.unwrap();
                Ok(store::sla::clocks(c, t, tk.id)?)
            })
            .await
            .unwrap();
        if let Some(s) = cs
            .iter()
            .find(|c| c.target == "first_response")
            .and_then(|c| c.running_since)
        {
            since = Some(s);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let since = since.expect("the follower never started the first-response clock");
    let notices = Notices {
        from: INSTALLATION_FROM.into(),
        public_url: "http://127.0.0.1".into(),
        apply: arendo::tickets::breach::apply,
    };
    let db = app.db.clone();
    let now = (since + TimeDelta::minutes(61)).and_utc();
    let swept = tokio::task::spawn_blocking(move || sweep(&db, &notices, now, 500))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(swept.fired, 2, "a warning and a breach: {swept:?}");
    let to_va = app.outbox_mails(VA_A).await;
    let notice = |prefix: &str| {
        to_va
            .iter()
            .find(|m| m["subject"].as_str().unwrap().starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix} notice to va@: {to_va:#?}"))
            .clone()
    };
    let (warning, breach) = (notice("SLA-varning"), notice("SLA passerad"));
    let before = detail(&app, token, &number).await["messages"]
        .as_array()
        .unwrap()
        .len();

    let origin = arendo::mail::parse::ORIGIN_HEADER;
    let warning_raw = as_sent(&warning);
    assert!(String::from_utf8_lossy(&warning_raw).contains(origin));
    let report = import(
        &app,
        VA_A,
        &[
            // As sent.
            warning_raw.clone(),
            // A relay dropped Ärendo's header: the Message-ID is still ours.
            rewrite(&as_sent(&breach), &[origin], &[]),
            // Forwarded under a new Message-ID: the header is still ours.
            rewrite(&warning_raw, &[], &[("Message-ID", "<vidare-1@alby.se>")]),
            // Neither header nor Message-ID, but the installation's sender address.
            rewrite(
                &warning_raw,
                &[origin],
                &[
                    ("Message-ID", "<vidare-2@alby.se>"),
                    ("From", INSTALLATION_FROM),
                ],
            ),
        ],
    );
    assert_eq!(
        report.matches("Ärendo's own mail").count(),
        4,
        "none imported: {report}"
    );
    let all = tickets(&app, token).await;
    assert_eq!(all.len(), 1, "no ticket from our own notices: {all:#?}");
    let d = detail(&app, token, &number).await;
    assert_eq!(
        d["messages"].as_array().unwrap().len(),
        before,
        "and no message on the ticket: {d:#}"
    );
    assert!(app.outbox_mails(INSTALLATION_FROM).await.is_empty());
}
both_backends!(our_own_sla_notices_are_never_imported);
