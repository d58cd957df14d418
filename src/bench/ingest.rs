//! `arendo-bench ingest`: mail from a real IMAP server (a throw-away Dovecot) into durable tickets.
//!
//! Phase 1 (throughput): N generated mails — mixed sizes, UTF-8 / ISO-8859-1 quoted-printable /
//! HTML-only, every tenth with a 40 kB PDF attachment — are APPENDed to the inbox, then the server
//! is started and the time from the first to the last committed ticket gives mails/second.
//! Phase 2 (latency): while the server runs, mails are APPENDed one at a time; the latency is from
//! the APPEND's completion to the stored message's commit timestamp.
//! Peak RSS is the server's high-water mark at the end.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use base64::Engine as _;

use super::dovecot::Dovecot;
use super::{Server, percentile_ms, rss_kib, scratch_pg, spawn_server_with, wait_ready};
use crate::accounts::admin::{self, NewUser};
use crate::accounts::password::NewPassword;
use crate::domain::{EmailAddress, Role};
use crate::error::Error;
use crate::secrets::Keys;
use crate::store::{self, Db};
use crate::tenants;

const USER: &str = "bench@test.local";
const PW: &str = "bench-imap";

fn generate(i: usize) -> Vec<u8> {
    let id = format!(
        "bench-{i}-{}@example.org",
        hex::encode(rand::random::<[u8; 4]>())
    );
    let head = format!(
        "From: Medborgare {i} <medborgare{}@example.org>\r\nTo: {USER}\r\nMessage-ID: <{id}>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0100\r\nMIME-Version: 1.0\r\n",
        i % 5000
    );
    let text = "Hej! Jag undrar när sophämtningen sker på vår gata och om det går att byta till ett mindre kärl. ";
    match i % 10 {
        0 => {
            let pdf: Vec<u8> = (0..40_000u32).map(|x| (x * 31 % 251) as u8).collect();
            let b64 = base64::engine::general_purpose::STANDARD.encode(pdf);
            let wrapped: Vec<&str> = b64.as_bytes().chunks(76).map(|c| std::str::from_utf8(c).unwrap()).collect();
            format!("{head}Subject: Ritning {i}\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n--B\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"ritning-{i}.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n--B--\r\n", wrapped.join("\r\n"))
        }
        1 | 2 => format!("{head}Subject: =?ISO-8859-1?Q?Fr=E5ga_om_k=E4rl_{i}?=\r\nContent-Type: text/plain; charset=ISO-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nHej! N=E4r t=F6ms k=E4rlen p=E5 v=E5r gata? Mvh {i}\r\n"),
        3 => format!("{head}Subject: HTML {i}\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body><p>{}</p><p>Mvh {i}</p></body></html>\r\n", text.repeat(3)),
        _ => format!("{head}Subject: Fråga {i}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{}\r\n", text.repeat(1 + i % 8)),
    }
    .into_bytes()
}

fn setup(db: &Db, keys: &Keys, port: u16) -> anyhow::Result<()> {
    let sealed = keys.seal(PW);
    db.write_blocking(move |c| -> Result<(), Error> {
        let t = tenants::create_tenant(c, "bench", "Benchkommun", "KC")?;
        let q = tenants::create_queue(c, t.id, "kundtjanst", "Kundtjänst")?;
        admin::create_user(
            c,
            t.id,
            NewUser {
                email: &EmailAddress::parse("admin@bench.se")?,
                display_name: "Bench",
                role: Role::Admin,
                password: &NewPassword::generate(),
                queues: &[],
            },
        )?;
        store::mailboxes::create(
            c,
            t.id,
            store::mailboxes::NewMailbox {
                address: USER,
                queue: q.id,
                imap_host: "127.0.0.1",
                imap_port: port,
                imap_tls: "plain",
                imap_user: USER,
                imap_password_enc: &sealed,
                folder: "INBOX",
                after_import: "move",
                processed_folder: "Arendo/Importerat",
                reply_from: USER,
            },
        )?;
        Ok(())
    })?;
    Ok(())
}

/// (count, first created_at, last created_at) of inbound messages.
fn stored(
    db: &Db,
) -> anyhow::Result<(
    i64,
    Option<chrono::NaiveDateTime>,
    Option<chrono::NaiveDateTime>,
)> {
    Ok(db.read_blocking(|c| Ok::<_, Error>(store::seed::inbound_stats(c)?))?)
}

pub async fn run(
    backend: &str,
    pg_admin: &str,
    n: usize,
    latency_samples: usize,
) -> anyhow::Result<()> {
    let imap = tokio::task::spawn_blocking(|| Dovecot::start(&[(USER, PW)]))
        .await?
        .context("bench ingest needs Dovecot (apt-get install dovecot-imapd) and root")?;
    let dir = tempfile::tempdir()?;
    let key_hex = hex::encode(rand::random::<[u8; 32]>());
    let (url, dropper): (String, Box<dyn FnOnce()>) = match backend {
        "sqlite" => (
            format!("sqlite://{}", dir.path().join("bench.db").display()),
            Box::new(|| {}),
        ),
        _ => {
            let (u, d) = scratch_pg(pg_admin)?;
            (u, Box::new(d))
        }
    };
    let result = run_on(
        &imap,
        &url,
        dir.path(),
        &key_hex,
        backend,
        n,
        latency_samples,
    )
    .await;
    dropper();
    result
}

async fn run_on(
    imap: &Dovecot,
    url: &str,
    dir: &Path,
    key_hex: &str,
    backend: &str,
    n: usize,
    samples: usize,
) -> anyhow::Result<()> {
    let keys = Keys::from_hex(key_hex)?;
    let db = Db::connect(url, 4)?;
    setup(&db, &keys, imap.port)?;
    let mails: Vec<Vec<u8>> = (0..n).map(generate).collect();
    let bytes: usize = mails.iter().map(Vec::len).sum();
    let t0 = Instant::now();
    for chunk in mails.chunks(500) {
        imap.append(USER, PW, "INBOX", chunk).await?;
    }
    let append_secs = t0.elapsed().as_secs_f64();

    let env = [
        ("ARENDO_MAIL__IMAP_SUPERVISOR_SECONDS", "1"),
        ("ARENDO_MAIL__IMAP_POLL_SECONDS", "5"),
    ];
    let (mut server, _): (Server, _) = spawn_server_with(dir, Some(url), key_hex, &env)?;
    let client = reqwest::Client::new();
    wait_ready(&mut server, &client).await?;
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let (count, _, _) = stored(&db)?;
        if count as usize >= n {
            break;
        }
        if Instant::now() > deadline {
            bail!("only {count} of {n} mails were imported within 10 minutes");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (count, first, last) = stored(&db)?;
    let (first, last) = (
        first.context("nothing stored")?,
        last.context("nothing stored")?,
    );
    let span = (last - first).num_microseconds().unwrap_or(1).max(1) as f64 / 1e6;
    // Each batch's messages share its timestamp, taken as the batch starts to be written, so the
    // first batch's work lies before `first`: count only the mails after it.
    let first_batch =
        db.read_blocking(move |c| Ok::<_, Error>(store::seed::inbound_count_at(c, first)?))?;
    let rate = (count - first_batch) as f64 / span;

    // Phase 2: latency, one APPEND at a time while the worker IDLEs.
    let mut lat = vec![];
    for i in 0..samples {
        let m = generate(n + i);
        let id = crate::mail::parse::parse(&m, 1 << 20).message_id.unwrap();
        imap.append(USER, PW, "INBOX", &[m]).await?;
        let appended = chrono::Utc::now().naive_utc();
        let t = Instant::now();
        let created = loop {
            let id2 = id.clone();
            if let Some(at) =
                db.read_blocking(move |c| Ok::<_, Error>(store::seed::created_at_of(c, &id2)?))?
            {
                break at;
            }
            if t.elapsed() > Duration::from_secs(60) {
                bail!("latency sample {i} never arrived");
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        };
        lat.push((created - appended).to_std().unwrap_or_default());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    lat.sort();
    let (_, peak) = rss_kib(server.child.id())?;
    drop(server);
    println!(
        "bench ingest on {backend} (release={})",
        !cfg!(debug_assertions)
    );
    println!(
        "  {n} mails, {:.1} MB, APPENDed to Dovecot in {append_secs:.1} s",
        bytes as f64 / 1e6
    );
    println!("  import: {rate:.0} mails/s into durable tickets   (target on SQLite ≥ 1000/s)");
    println!(
        "  APPEND → committed ticket ({} mails one at a time): p50 {:.1} ms, p99 {:.1} ms",
        lat.len(),
        percentile_ms(&mut lat.clone(), 0.50),
        percentile_ms(&mut lat.clone(), 0.99)
    );
    println!("  server peak RSS: {:.1} MB", peak as f64 / 1024.0);
    Ok(())
}
