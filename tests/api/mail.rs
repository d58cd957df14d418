//! The mail channel against real servers: Dovecot (IMAP) and an SMTP peer. Each scenario runs on
//! SQLite and on PostgreSQL.

use std::time::Duration;

use crate::dovecot::Dovecot;
use arendo::secrets::Keys;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Backend, Org, TestApp};
use crate::smtp::SmtpPeer;

pub const PW: &str = "hemligt";
pub const KT: &str = "kundtjanst@test.local";
pub const VA: &str = "va@test.local";

pub struct World {
    pub app: TestApp,
    pub imap: Dovecot,
    pub smtp: SmtpPeer,
    pub org: Org,
}

pub fn add_mailbox(
    app: &TestApp,
    port: u16,
    org: &Org,
    address: &str,
    queue: i64,
    folder: &str,
    after: &str,
) -> i64 {
    let keys = Keys::from_hex(&app.key_hex).unwrap();
    let sealed = keys.seal(PW);
    let (slug, address, folder, after) = (
        org.slug.clone(),
        address.to_string(),
        folder.to_string(),
        after.to_string(),
    );
    app.db
        .write_blocking(move |c| -> Result<i64, arendo::error::Error> {
            let t = arendo::tenants::tenant_by_slug(c, &slug)?;
            let q = arendo::store::queues::lookup(c, t.id, queue)?.unwrap();
            let m = arendo::store::mailboxes::create(
                c,
                t.id,
                arendo::store::mailboxes::NewMailbox {
                    address: &address,
                    queue: q.id,
                    imap_host: "127.0.0.1",
                    imap_port: port,
                    imap_tls: "plain",
                    imap_user: &address,
                    imap_password_enc: &sealed,
                    folder: &folder,
                    after_import: &after,
                    processed_folder: "Arendo/Importerat",
                    reply_from: &address,
                },
            )?;
            Ok(m.id)
        })
        .unwrap()
}

impl World {
    pub async fn new(b: Backend) -> World {
        Self::new_with(b, &[]).await
    }

    pub async fn new_with(b: Backend, extra: &[(&str, &str)]) -> World {
        let smtp = SmtpPeer::start().await;
        let imap = tokio::task::spawn_blocking(|| {
            Dovecot::start(&[(KT, PW), (VA, PW), ("kontakt@test.local", PW)]).unwrap()
        })
        .await
        .unwrap();
        let port = smtp.port.to_string();
        let mut env = vec![
            ("ARENDO_MAIL__TRANSPORT", "smtp"),
            ("ARENDO_MAIL__SMTP_HOST", "127.0.0.1"),
            ("ARENDO_MAIL__SMTP_PORT", port.as_str()),
            ("ARENDO_MAIL__SMTP_TLS", "none"),
            ("ARENDO_MAIL__IMAP_SUPERVISOR_SECONDS", "1"),
            ("ARENDO_MAIL__IMAP_POLL_SECONDS", "2"),
        ];
        env.extend_from_slice(extra);
        let app = TestApp::spawn_with(b, &env).await;
        let org = app.org("alby").await;
        let (a, q_a, q_b) = (&app, org.queue_a, org.queue_b);
        add_mailbox(a, imap.port, &org, KT, q_a, "INBOX", "move");
        add_mailbox(a, imap.port, &org, VA, q_b, "INBOX", "move");
        World {
            app,
            imap,
            smtp,
            org,
        }
    }

    pub async fn deliver(&self, to_user: &str, raw: Vec<u8>) {
        self.imap
            .append(to_user, PW, "INBOX", &[raw])
            .await
            .unwrap();
    }

    pub async fn tickets(&self) -> Vec<Value> {
        let r: Value = reqwest::Client::new()
            .get(self.app.url("/api/v1/tickets?limit=200"))
            .bearer_auth(&self.org.admin.token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        r["tickets"].as_array().unwrap().clone()
    }

    /// Wait until there are `n` tickets (15 s at most).
    pub async fn wait_tickets(&self, n: usize) -> Vec<Value> {
        for _ in 0..300 {
            let t = self.tickets().await;
            if t.len() >= n {
                return t;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("expected {n} tickets, have {:?}", self.tickets().await);
    }

    pub async fn detail(&self, number: &str) -> Value {
        reqwest::Client::new()
            .get(self.app.url(&format!("/api/v1/tickets/{number}")))
            .bearer_auth(&self.org.admin.token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Wait until the ticket has `n` messages.
    pub async fn wait_messages(&self, number: &str, n: usize) -> Value {
        for _ in 0..300 {
            let d = self.detail(number).await;
            if d["messages"].as_array().map(|m| m.len()).unwrap_or(0) >= n {
                return d;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "{number} never got {n} messages: {}",
            self.detail(number).await
        );
    }
}

pub fn mail(
    from: &str,
    to: &str,
    subject: &str,
    message_id: &str,
    extra: &str,
    body: &str,
) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{message_id}>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0100\r\nMIME-Version: 1.0\r\n{extra}Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

fn number_of(t: &Value) -> String {
    t["number"].as_str().unwrap().to_string()
}

/// A citizen mails kundtjanst@: a ticket appears in Kundtjänst, the citizen gets an acknowledgement
/// with the ticket number, and the mail is moved out of the inbox.
async fn new_mail_becomes_a_ticket_and_is_acknowledged(b: Backend) {
    let w = World::new(b).await;
    w.deliver(
        KT,
        mail(
            "Maria Lind <maria@example.org>",
            KT,
            "Öppettider i jul?",
            "q1@example.org",
            "",
            "Hej! Har ni öppet i jul?",
        ),
    )
    .await;
    let t = w.wait_tickets(1).await;
    let number = number_of(&t[0]);
    assert_eq!(t[0]["queue_id"], w.org.queue_a);
    assert_eq!(t[0]["channel"], "email");
    assert_eq!(t[0]["subject"], "Öppettider i jul?");
    let got = w.smtp.wait_for(1).await;
    assert_eq!(got.len(), 1, "one acknowledgement");
    let ack = &got[0];
    assert_eq!(ack.to, vec!["maria@example.org"]);
    assert_eq!(ack.from, KT);
    let parsed = ack.parsed();
    assert!(
        parsed.subject.contains(&format!("[{number}]")),
        "{}",
        parsed.subject
    );
    assert!(
        parsed.text.contains(&number) && parsed.text.contains("Hej Maria Lind!"),
        "{}",
        parsed.text
    );
    assert_eq!(
        ack.header("Auto-Submitted").as_deref(),
        Some("auto-replied")
    );
    assert_eq!(
        ack.header("In-Reply-To").as_deref(),
        Some("<q1@example.org>")
    );
    let d = w.detail(&number).await;
    assert_eq!(d["contact"]["email"], "maria@example.org");
    assert_eq!(d["contact"]["name"], "Maria Lind");
    let kinds: Vec<&str> = d["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["inbound", "outbound"]);
    // Moved to the processed folder once stored.
    for _ in 0..100 {
        if w.imap.count(KT, PW, "INBOX").await.unwrap() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(w.imap.count(KT, PW, "INBOX").await.unwrap(), 0);
    assert_eq!(
        w.imap.count(KT, PW, "Arendo.Importerat").await.unwrap(),
        1,
        "Dovecot's delimiter is '.'"
    );
}
both_backends!(new_mail_becomes_a_ticket_and_is_acknowledged);

/// Replies thread into the ticket by the subject tag and by References alone; the agent's reply
/// reaches the citizen with correct threading headers, from the function mailbox.
async fn replies_thread_and_agent_reply_is_threaded(b: Backend) {
    let w = World::new(b).await;
    w.deliver(
        KT,
        mail(
            "maria@example.org",
            KT,
            "Bygglov för altan",
            "first@example.org",
            "",
            "Behöver jag bygglov?",
        ),
    )
    .await;
    let number = number_of(&w.wait_tickets(1).await[0]);
    let ack = w.smtp.wait_for(1).await[0].clone();
    let ack_id = ack.header("Message-ID").unwrap();

    w.deliver(
        KT,
        mail(
            "maria@example.org",
            KT,
            &format!("Re: Vi har tagit emot ditt ärende [{number}]"),
            "second@example.org",
            "",
            "Glömde säga: 25 kvm.",
        ),
    )
    .await;
    w.wait_messages(&number, 3).await;
    w.deliver(
        KT,
        mail(
            "Maria <maria@example.org>",
            KT,
            "En sak till",
            "third@example.org",
            &format!("References: <first@example.org> {ack_id}\r\n"),
            "Och ett tak.",
        ),
    )
    .await;
    let d = w.wait_messages(&number, 4).await;
    assert_eq!(w.tickets().await.len(), 1, "all in one ticket");
    assert_eq!(
        w.smtp.received().len(),
        1,
        "replies are not acknowledged again"
    );
    assert_eq!(
        d["messages"][3]["body_text"].as_str().unwrap().trim(),
        "Och ett tak."
    );

    let r = reqwest::Client::new()
        .post(w.app.url(&format!("/api/v1/tickets/{number}/messages")))
        .bearer_auth(&w.org.agent_a.token)
        .json(&json!({ "kind": "reply", "body": "Hej Maria! Altaner under 1,8 m behöver inget bygglov." }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let got = w.smtp.wait_for(2).await;
    let reply = &got[1];
    assert_eq!(reply.from, KT, "sent from the function mailbox");
    assert_eq!(reply.to, vec!["maria@example.org"]);
    assert_eq!(
        reply.header("In-Reply-To").as_deref(),
        Some("<third@example.org>")
    );
    let refs = reply.header("References").unwrap();
    assert!(
        refs.contains("<first@example.org>") && refs.ends_with("<third@example.org>"),
        "{refs}"
    );
    assert!(reply.parsed().subject.contains(&format!("[{number}]")));
    assert!(reply.parsed().text.contains("behöver inget bygglov"));
    assert!(
        reply.data.contains("text/html"),
        "text and HTML alternative"
    );
}
both_backends!(replies_thread_and_agent_reply_is_threaded);

/// A stranger who writes with someone else's ticket number gets a new ticket, linked for the
/// agents, and is told nothing about the other ticket.
async fn a_stranger_cannot_write_into_someone_elses_ticket(b: Backend) {
    let w = World::new(b).await;
    w.deliver(
        KT,
        mail(
            "maria@example.org",
            KT,
            "Min skuld till kommunen",
            "m1@example.org",
            "",
            "Personlig fråga.",
        ),
    )
    .await;
    let marias = number_of(&w.wait_tickets(1).await[0]);
    w.smtp.wait_for(1).await;
    w.deliver(
        KT,
        mail(
            "mallory@example.net",
            KT,
            &format!("Re: [{marias}]"),
            "x1@example.net",
            "",
            "Vad står det i ärendet?",
        ),
    )
    .await;
    let t = w.wait_tickets(2).await;
    let new = t.iter().map(number_of).find(|n| *n != marias).unwrap();
    let d = w.detail(&marias).await;
    assert_eq!(
        d["messages"].as_array().unwrap().len(),
        2,
        "Maria's ticket is untouched"
    );
    let nd = w.detail(&new).await;
    assert_eq!(
        nd["links"][0]["number"],
        marias.as_str(),
        "linked for the agents"
    );
    let got = w.smtp.wait_for(2).await;
    let to_mallory = got
        .iter()
        .find(|m| m.to == vec!["mallory@example.net"])
        .unwrap();
    let p = to_mallory.parsed();
    assert!(p.subject.contains(&new));
    assert!(
        !to_mallory.data.contains(&marias),
        "nothing about the other ticket: {}",
        to_mallory.data
    );
    assert!(!to_mallory.data.contains("skuld"));
}
both_backends!(a_stranger_cannot_write_into_someone_elses_ticket);

/// One mail to va@ with kundtjanst@ in CC arrives in both mailboxes: one ticket, one acknowledgement.
async fn one_mail_to_two_mailboxes_is_one_ticket(b: Backend) {
    let w = World::new(b).await;
    let m = mail(
        "per@example.org",
        &format!("{VA}, {KT}"),
        "Vattenläcka",
        "leak@example.org",
        &format!("Cc: {KT}\r\n"),
        "Det läcker på Storgatan.",
    );
    w.deliver(VA, m.clone()).await;
    w.deliver(KT, m).await;
    w.wait_tickets(1).await;
    for _ in 0..100 {
        if w.imap.count(KT, PW, "INBOX").await.unwrap() == 0
            && w.imap.count(VA, PW, "INBOX").await.unwrap() == 0
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        w.imap.count(KT, PW, "INBOX").await.unwrap() + w.imap.count(VA, PW, "INBOX").await.unwrap(),
        0,
        "both copies processed"
    );
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(w.tickets().await.len(), 1);
    assert_eq!(w.smtp.received().len(), 1, "one acknowledgement");
    let number = number_of(&w.tickets().await[0]);
    let d = w.detail(&number).await;
    assert_eq!(
        d["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["kind"] == "inbound")
            .count(),
        1
    );
    assert!(
        d["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "mail_copy_received"),
        "the second mailbox is recorded"
    );
}
both_backends!(one_mail_to_two_mailboxes_is_one_ticket);

/// Auto-replies and bounces are kept, never acknowledged (no mail loops).
async fn automatic_mail_is_stored_but_never_acknowledged(b: Backend) {
    let w = World::new(b).await;
    w.deliver(
        KT,
        mail(
            "semester@example.org",
            KT,
            "Frånvaro: Re: ärende",
            "ooo@example.org",
            "Auto-Submitted: auto-replied\r\n",
            "Jag är på semester.",
        ),
    )
    .await;
    let dsn = "From: MAILER-DAEMON@mx.example.org\r\nTo: kundtjanst@test.local\r\nSubject: Undelivered Mail\r\nMessage-ID: <dsn1@mx.example.org>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=R\r\n\r\n--R\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n--R\r\nContent-Type: message/delivery-status\r\n\r\nStatus: 5.1.1\r\n--R--\r\n";
    w.deliver(KT, dsn.as_bytes().to_vec()).await;
    w.deliver(
        KT,
        mail(
            "list@example.org",
            KT,
            "Nyhetsbrev",
            "news@example.org",
            "Precedence: bulk\r\nList-Id: <news.example.org>\r\n",
            "Veckans nyheter.",
        ),
    )
    .await;
    let t = w.wait_tickets(3).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        w.smtp.received().is_empty(),
        "no acknowledgement: {:?}",
        w.smtp.received()
    );
    for tk in t {
        let d = w.detail(&number_of(&tk)).await;
        assert!(
            d["events"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["kind"] == "not_acknowledged" && e["details"]["reason"] == "automatic")
        );
    }
}
both_backends!(automatic_mail_is_stored_but_never_acknowledged);

/// Swedish text in ISO-8859-1 quoted-printable, an HTML-only mail, an attachment (downloaded byte
/// for byte) and a malformed mail all become readable tickets.
async fn charsets_html_attachments_and_malformed_mail(b: Backend) {
    use base64::Engine as _;
    let w = World::new(b).await;
    let latin1 = b"From: asa@example.org\r\nTo: kundtjanst@test.local\r\nSubject: =?ISO-8859-1?Q?F=F6rskolek=F6?=\r\nMessage-ID: <l1@example.org>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=ISO-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nHur l=E5ng =E4r k=F6n till f=F6rskolan i =C5by?\r\n".to_vec();
    w.deliver(KT, latin1).await;
    w.deliver(KT, b"From: html@example.org\r\nSubject: HTML\r\nMessage-ID: <h1@example.org>\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Sn&ouml;r&ouml;jning <b>saknas</b> p&aring; Parkv&auml;gen</p><script>alert(1)</script>\r\n".to_vec()).await;
    let pdf: Vec<u8> = (0..5000u32).map(|i| (i * 7 % 251) as u8).collect();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&pdf);
    let with_file = format!(
        "From: ritare@example.org\r\nSubject: Ritning\r\nMessage-ID: <a1@example.org>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nBifogar ritningen.\r\n--B\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"ritning.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{b64}\r\n--B--\r\n"
    );
    w.deliver(KT, with_file.into_bytes()).await;
    w.deliver(
        KT,
        b"\x00\xffThis is not\r\n\r\nreally a mail \xe5\xe4\xf6".to_vec(),
    )
    .await;
    let t = w.wait_tickets(4).await;
    let by_subject = |s: &str| {
        t.iter()
            .find(|x| x["subject"] == s)
            .unwrap_or_else(|| panic!("no ticket {s:?} in {t:?}"))
            .clone()
    };
    let d = w.detail(&number_of(&by_subject("Förskolekö"))).await;
    assert!(
        d["messages"][0]["body_text"]
            .as_str()
            .unwrap()
            .contains("Hur lång är kön till förskolan i Åby?")
    );
    let d = w.detail(&number_of(&by_subject("HTML"))).await;
    let m = &d["messages"][0];
    assert!(
        m["body_text"]
            .as_str()
            .unwrap()
            .contains("Snöröjning saknas på Parkvägen"),
        "{m}"
    );
    assert!(!m["body_html"].as_str().unwrap().contains("script"));
    let d = w.detail(&number_of(&by_subject("Ritning"))).await;
    let a = &d["attachments"][0];
    assert_eq!(a["filename"], "ritning.pdf");
    let r = reqwest::Client::new()
        .get(w.app.url(&format!(
            "/api/v1/tickets/{}/attachments/{}",
            d["number"].as_str().unwrap(),
            a["id"]
        )))
        .bearer_auth(&w.org.agent_a.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert_eq!(r.bytes().await.unwrap().to_vec(), pdf, "byte for byte");
    // Agent B (VA only) cannot download it.
    let r = reqwest::Client::new()
        .get(w.app.url(&format!(
            "/api/v1/tickets/{}/attachments/{}",
            d["number"].as_str().unwrap(),
            a["id"]
        )))
        .bearer_auth(&w.org.agent_b.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let bad = t
        .iter()
        .find(|x| x["subject"] == "(ingen rubrik)")
        .expect("the malformed mail is a ticket");
    let n = number_of(bad);
    let d = w.detail(&n).await;
    // The raw source is kept: its original downloads with the bytes that came in.
    let r = reqwest::Client::new()
        .get(w.app.url(&format!(
            "/api/v1/tickets/{n}/messages/{}/original",
            d["messages"][0]["id"]
        )))
        .bearer_auth(&w.org.agent_a.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "raw source kept");
    let raw = r.bytes().await.unwrap();
    assert!(
        raw.windows(17)
            .any(|w| w == b"really a mail \xe5\xe4\xf6".as_slice()),
        "raw source kept byte for byte: {raw:?}"
    );
}
both_backends!(charsets_html_attachments_and_malformed_mail);

/// Dovecot restarts while the worker runs: it reconnects and imports new mail. A folder whose
/// UIDVALIDITY changes is resynced without duplicates.
async fn survives_server_restart_and_uidvalidity_change(b: Backend) {
    let w = World::new(b).await;
    // A third mailbox in "seen" mode on its own folder, so the folder can be re-created.
    let kontakt = "kontakt@test.local";
    w.imap.append(kontakt, PW, "Kontakt", &[]).await.unwrap();
    add_mailbox(
        &w.app,
        w.imap.port,
        &w.org,
        kontakt,
        w.org.queue_a,
        "Kontakt",
        "seen",
    );
    let mails: Vec<Vec<u8>> = (0..3)
        .map(|i| {
            mail(
                &format!("c{i}@example.org"),
                kontakt,
                &format!("Fråga {i}"),
                &format!("k{i}@example.org"),
                "",
                "Hej",
            )
        })
        .collect();
    w.imap.append(kontakt, PW, "Kontakt", &mails).await.unwrap();
    w.wait_tickets(3).await;
    w.imap
        .recreate_folder(kontakt, PW, "Kontakt")
        .await
        .unwrap();
    let mut again = mails.clone();
    again.push(mail(
        "c9@example.org",
        kontakt,
        "Fråga 9",
        "k9@example.org",
        "",
        "Ny",
    ));
    w.imap.append(kontakt, PW, "Kontakt", &again).await.unwrap();
    w.wait_tickets(4).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        w.tickets().await.len(),
        4,
        "no duplicates after the UIDVALIDITY change"
    );

    let imap = &w.imap;
    tokio::task::block_in_place(|| imap.restart().unwrap());
    w.deliver(
        KT,
        mail(
            "efter@example.org",
            KT,
            "Efter omstart",
            "after@example.org",
            "",
            "Hej igen",
        ),
    )
    .await;
    let t = w.wait_tickets(5).await;
    assert!(t.iter().any(|x| x["subject"] == "Efter omstart"));
}
both_backends!(survives_server_restart_and_uidvalidity_change);

/// `arendo mail import-dir` goes through the same pipeline, and importing twice changes nothing.
async fn import_dir_uses_the_same_pipeline(b: Backend) {
    let app = TestApp::spawn_with(b, &[("ARENDO_MAIL__IMAP_ENABLED", "false")]).await;
    let org = app.org("alby").await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("1.eml"),
        mail(
            "a@example.org",
            "x@alby.se",
            "Första",
            "i1@example.org",
            "",
            "Ett",
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("2.eml"),
        mail(
            "a@example.org",
            "x@alby.se",
            "Re: Första",
            "i2@example.org",
            "In-Reply-To: <i1@example.org>\r\n",
            "Två",
        ),
    )
    .unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not a mail").unwrap();
    let run = || app.import_dir(&org.slug, "kundtjanst", dir.path());
    let out = run();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("1 new tickets, 1 added to existing tickets"),
        "{text}"
    );
    let again = run();
    assert!(
        String::from_utf8_lossy(&again.stdout)
            .contains("0 new tickets, 0 added to existing tickets, 2 already stored")
    );
}
both_backends!(import_dir_uses_the_same_pipeline);

/// An admin adds a function mailbox through the API; it is fetched at once, its password is
/// never shown, agents may not manage mailboxes, and another tenant cannot see it.
async fn admin_adds_a_mailbox_through_the_api(b: Backend) {
    let w = World::new(b).await;
    let api = reqwest::Client::new();
    let body = json!({
        "address": "kontakt@test.local", "queue": "va", "imap_host": "127.0.0.1",
        "imap_port": w.imap.port, "tls": "plain", "password": PW,
    });
    let r = api
        .post(w.app.url("/api/v1/admin/mailboxes"))
        .bearer_auth(&w.org.agent_a.token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let mut bad = body.clone();
    bad["imap_host"] = json!("imap.example.org");
    let r = api
        .post(w.app.url("/api/v1/admin/mailboxes"))
        .bearer_auth(&w.org.admin.token)
        .json(&bad)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["field"], "tls");
    let r = api
        .post(w.app.url("/api/v1/admin/mailboxes"))
        .bearer_auth(&w.org.admin.token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let created = r.text().await.unwrap();
    assert!(!created.contains(PW), "{created}");
    let again = api
        .post(w.app.url("/api/v1/admin/mailboxes"))
        .bearer_auth(&w.org.admin.token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 409);

    w.deliver(
        "kontakt@test.local",
        mail(
            "ny@example.org",
            "kontakt@test.local",
            "Via ny brevlåda",
            "new@example.org",
            "",
            "Hej",
        ),
    )
    .await;
    let t = w.wait_tickets(1).await;
    assert_eq!(
        t[0]["queue_id"], w.org.queue_b,
        "the mailbox feeds its queue"
    );
    let list: Value = api
        .get(w.app.url("/api/v1/admin/mailboxes"))
        .bearer_auth(&w.org.admin.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let text = list.to_string();
    assert!(!text.contains(PW));
    let kontakt = list["mailboxes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["address"] == "kontakt@test.local")
        .unwrap();
    assert!(kontakt["state"]["uidvalidity"].is_number(), "{kontakt}");

    let other = w.app.org("borby").await;
    let theirs: Value = api
        .get(w.app.url("/api/v1/admin/mailboxes"))
        .bearer_auth(&other.admin.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        theirs["mailboxes"].as_array().unwrap().len(),
        0,
        "another tenant sees none of them"
    );
}
both_backends!(admin_adds_a_mailbox_through_the_api);

async fn resolve(w: &World, number: &str) {
    let r = reqwest::Client::new()
        .patch(w.app.url(&format!("/api/v1/tickets/{number}")))
        .bearer_auth(&w.org.admin.token)
        .json(&json!({ "status": "resolved" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

/// A citizen's reply reopens a resolved ticket; long after resolution it opens a new, linked one.
async fn replies_reopen_or_follow_up(b: Backend) {
    let w = World::new(b).await;
    w.deliver(
        KT,
        mail(
            "maria@example.org",
            KT,
            "Parkeringstillstånd",
            "p1@example.org",
            "",
            "Hur ansöker jag?",
        ),
    )
    .await;
    let number = number_of(&w.wait_tickets(1).await[0]);
    resolve(&w, &number).await;
    w.deliver(
        KT,
        mail(
            "maria@example.org",
            KT,
            &format!("Re: [{number}]"),
            "p2@example.org",
            "",
            "Det fungerade inte.",
        ),
    )
    .await;
    w.wait_messages(&number, 3).await;
    let mut d = w.detail(&number).await;
    for _ in 0..100 {
        if d["status"] == "open" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        d = w.detail(&number).await;
    }
    assert_eq!(d["status"], "open", "{d}");
    assert!(d["resolved_at"].is_null());
    assert!(
        d["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "reopened")
    );

    // With reopen_days = 0, every resolved ticket is "long ago": a reply becomes a follow-up ticket.
    let w = World::new_with(b, &[("ARENDO_MAIL__REOPEN_DAYS", "0")]).await;
    w.deliver(
        KT,
        mail(
            "maria@example.org",
            KT,
            "Parkeringstillstånd",
            "q1@example.org",
            "",
            "Hur ansöker jag?",
        ),
    )
    .await;
    let old = number_of(&w.wait_tickets(1).await[0]);
    resolve(&w, &old).await;
    w.deliver(
        KT,
        mail(
            "maria@example.org",
            KT,
            "Re: Parkeringstillstånd",
            "q2@example.org",
            "In-Reply-To: <q1@example.org>\r\n",
            "En ny fråga.",
        ),
    )
    .await;
    let t = w.wait_tickets(2).await;
    let new = t.iter().map(number_of).find(|n| *n != old).unwrap();
    assert_eq!(
        w.detail(&old).await["status"],
        "resolved",
        "the old ticket stays resolved"
    );
    let d = w.detail(&new).await;
    assert_eq!(d["links"][0], json!({ "number": old, "kind": "follow_up" }));
}
both_backends!(replies_reopen_or_follow_up);

/// Acknowledgements are rate-limited per sender, and never sent to our own addresses.
async fn acknowledgements_are_limited_and_never_to_ourselves(b: Backend) {
    let w = World::new(b).await;
    let mails: Vec<Vec<u8>> = (0..7)
        .map(|i| {
            mail(
                "flood@example.org",
                KT,
                &format!("Fråga {i}"),
                &format!("f{i}@example.org"),
                "",
                "Hej",
            )
        })
        .collect();
    w.imap.append(KT, PW, "INBOX", &mails).await.unwrap();
    w.deliver(
        KT,
        mail(
            VA,
            KT,
            "Vidarebefordrat från VA",
            "own@test.local",
            "",
            "Internt",
        ),
    )
    .await;
    let t = w.wait_tickets(8).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let acks = w.smtp.received();
    assert_eq!(acks.len(), 5, "five per sender and hour");
    assert!(acks.iter().all(|a| a.to == vec!["flood@example.org"]));
    let mut reasons = vec![];
    for tk in &t {
        let d = w.detail(&number_of(tk)).await;
        for e in d["events"].as_array().unwrap() {
            if e["kind"] == "not_acknowledged" {
                reasons.push(e["details"]["reason"].as_str().unwrap().to_string());
            }
        }
    }
    reasons.sort();
    assert_eq!(reasons, ["own_address", "rate_limited", "rate_limited"]);
}
both_backends!(acknowledgements_are_limited_and_never_to_ourselves);

/// A queue's own acknowledgement text (set with the CLI) is used for its new tickets.
async fn queue_acknowledgement_template(b: Backend) {
    let w = World::new(b).await;
    let tpl = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        tpl.path(),
        "Hej {{name}}! VA har fått ditt ärende {{number}} och återkommer inom två arbetsdagar.",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_arendo"))
        .args([
            "queue",
            "ack-template",
            "--tenant",
            &w.org.slug,
            "--queue",
            "va",
            "--file",
        ])
        .arg(tpl.path())
        .env("ARENDO_DATA_DIR", &w.app.data_dir)
        .env("ARENDO_DATABASE__URL", &w.app.db_url)
        .env("ARENDO_SECRET_KEY", &w.app.key_hex)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_arendo"))
        .args([
            "queue",
            "ack-template",
            "--tenant",
            &w.org.slug,
            "--queue",
            "va",
            "--file",
        ])
        .arg(tpl.path().with_extension("missing"))
        .env("ARENDO_DATA_DIR", &w.app.data_dir)
        .env("ARENDO_DATABASE__URL", &w.app.db_url)
        .output()
        .unwrap();
    assert!(!bad.status.success());
    w.deliver(
        VA,
        mail(
            "Per Holm <per@example.org>",
            VA,
            "Läcka",
            "va1@example.org",
            "",
            "Det läcker.",
        ),
    )
    .await;
    let number = number_of(&w.wait_tickets(1).await[0]);
    let ack = w.smtp.wait_for(1).await[0].parsed();
    assert!(
        ack.text.contains(&format!(
            "Hej Per Holm! VA har fått ditt ärende {number} och återkommer inom två arbetsdagar."
        )),
        "{}",
        ack.text
    );
    assert_eq!(w.smtp.received()[0].from, VA);
}
both_backends!(queue_acknowledgement_template);

/// A mail the SMTP server refuses for good shows on its ticket instead of vanishing.
async fn undeliverable_mail_shows_on_the_ticket(b: Backend) {
    let w = World::new(b).await;
    w.deliver(
        KT,
        mail(
            "nobody@example.org",
            KT,
            "Fråga",
            "nb1@example.org",
            "",
            "Hej",
        ),
    )
    .await;
    let number = number_of(&w.wait_tickets(1).await[0]);
    let mut found = false;
    for _ in 0..200 {
        let d = w.detail(&number).await;
        if d["events"].as_array().unwrap().iter().any(|e| {
            e["kind"] == "delivery_failed"
                && e["details"]["error"].as_str().unwrap_or("").contains("550")
        }) {
            found = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        found,
        "no delivery_failed event: {}",
        w.detail(&number).await
    );
    assert!(w.smtp.received().is_empty());
}
both_backends!(undeliverable_mail_shows_on_the_ticket);

/// An administrator turns a function mailbox off: Ärendo stops reading it at once (the running
/// worker stops, new mail waits in the inbox), and when it is turned on again the waiting mail
/// becomes a ticket.
async fn a_disabled_mailbox_is_no_longer_read(b: Backend) {
    let w = World::new(b).await;
    w.deliver(
        KT,
        mail("a@example.org", KT, "Före", "d1@example.org", "", "Ett"),
    )
    .await;
    w.wait_tickets(1).await;
    let set = |enabled: bool| {
        let slug = w.org.slug.clone();
        w.app
            .db
            .write(move |c| -> Result<(), arendo::error::Error> {
                let t = arendo::tenants::tenant_by_slug(c, &slug)?.id;
                let (m, _) = arendo::store::mailboxes::list(c, t)?
                    .into_iter()
                    .find(|(m, _)| m.address == KT)
                    .unwrap();
                arendo::store::mailboxes::set_enabled(c, t, m.id, enabled)?;
                Ok(())
            })
    };
    set(false).await.unwrap();
    // The supervisor looks every second.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    w.deliver(
        KT,
        mail(
            "b@example.org",
            KT,
            "Under tiden",
            "d2@example.org",
            "",
            "Två",
        ),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(w.tickets().await.len(), 1, "a disabled mailbox is not read");
    assert_eq!(
        w.imap.count(KT, PW, "INBOX").await.unwrap(),
        1,
        "the mail waits"
    );

    set(true).await.unwrap();
    let t = w.wait_tickets(2).await;
    assert!(t.iter().any(|x| x["subject"] == "Under tiden"));
}
both_backends!(a_disabled_mailbox_is_no_longer_read);
