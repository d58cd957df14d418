//! `arendo mail …`: importing saved mails, the state of the function mailboxes.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Subcommand;

use super::{TenantArg, operator};
use crate::Db;
use crate::config::Settings;
use crate::mail::import::{self, Destination, Importer};
use crate::mail::intake::Outcome;
use crate::mail::mailboxes;

#[derive(Subcommand, Debug)]
pub(super) enum MailCmd {
    /// Import every *.eml file in DIR through the same pipeline as IMAP intake (threading,
    /// contacts, acknowledgements). Mails already stored (same Message-ID) are not imported twice.
    ImportDir {
        #[command(flatten)]
        t: TenantArg,
        /// Import as if received by this function mailbox (its queue and reply address).
        #[arg(long)]
        mailbox: Option<String>,
        /// Or: the queue (slug) for new tickets.
        #[arg(long)]
        queue: Option<String>,
        dir: PathBuf,
    },
    /// Each function mailbox: where the IMAP worker is, which node works it, the last error.
    Status {
        #[command(flatten)]
        t: TenantArg,
    },
}

pub(super) async fn run(cmd: MailCmd, db: &Db, settings: &Settings) -> anyhow::Result<()> {
    match cmd {
        MailCmd::ImportDir {
            t,
            mailbox,
            queue,
            dir,
        } => import_dir(db, settings, t, mailbox, queue, dir).await,
        MailCmd::Status { t } => status(db, t).await,
    }
}

async fn import_dir(
    db: &Db,
    settings: &Settings,
    t: TenantArg,
    mailbox: Option<String>,
    queue: Option<String>,
    dir: PathBuf,
) -> anyhow::Result<()> {
    let files =
        import::eml_files(&dir).with_context(|| format!("cannot read {}", dir.display()))?;
    if files.is_empty() {
        anyhow::bail!("no .eml files in {}", dir.display());
    }
    let into = match (&mailbox, &queue) {
        (Some(m), _) => Destination::Mailbox(m),
        (None, Some(q)) => Destination::Queue(q),
        (None, None) => anyhow::bail!("give --mailbox ADDRESS or --queue SLUG"),
    };
    let actor = operator(db, &t).await?;
    let importer = Importer::open(db, &actor, settings, into)
        .await
        .map_err(|e| match (e, &mailbox, &queue) {
            (crate::error::Error::NotFound("mailbox"), Some(m), _) => {
                anyhow::anyhow!("no mailbox {m}")
            }
            (crate::error::Error::NotFound("queue"), None, Some(q)) => {
                anyhow::anyhow!("no queue {q}")
            }
            (other, _, _) => other.into(),
        })?;
    let (mut new, mut threaded, mut dupes) = (0, 0, 0);
    for f in files {
        let raw = std::fs::read(&f).with_context(|| format!("cannot read {}", f.display()))?;
        let outcome = importer.import(&raw).await?;
        let what = match &outcome {
            Outcome::NewTicket { ticket, .. } => {
                new += 1;
                format!("new ticket {ticket}")
            }
            Outcome::Threaded { ticket, .. } => {
                threaded += 1;
                format!("added to {ticket}")
            }
            Outcome::SameMessage { ticket } => {
                dupes += 1;
                format!("already in {ticket}")
            }
            Outcome::AlreadyStored => {
                dupes += 1;
                "already stored".into()
            }
            Outcome::Ignored { ticket } => {
                dupes += 1;
                match ticket {
                    Some(t) => format!("Ärendo's own mail about {t}, not imported"),
                    None => "Ärendo's own mail, not imported".into(),
                }
            }
            Outcome::DeliveryFailure { ticket } => {
                threaded += 1;
                format!("delivery failure recorded on {ticket}")
            }
        };
        println!("{}: {what}", f.display());
    }
    println!("{new} new tickets, {threaded} added to existing tickets, {dupes} already stored");
    Ok(())
}

async fn status(db: &Db, t: TenantArg) -> anyhow::Result<()> {
    let actor = operator(db, &t).await?;
    println!(
        "{:<30} {:<12} {:<12} {:<9} {:<20} LAST ERROR",
        "ADDRESS", "QUEUE", "UIDVALIDITY", "LAST UID", "LAST OK"
    );
    for r in mailboxes::list(db, &actor).await? {
        let (v, u, ok, err) = match r.state {
            Some(s) => (
                s.uidvalidity.map(|v| v.to_string()).unwrap_or_default(),
                s.last_uid.to_string(),
                s.last_ok_at
                    .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
                    .unwrap_or_default(),
                s.last_error.unwrap_or_default(),
            ),
            None => (String::new(), String::new(), "never".into(), String::new()),
        };
        println!(
            "{:<30} {:<12} {:<12} {:<9} {:<20} {}",
            r.mailbox.address, r.queue_slug, v, u, ok, err
        );
    }
    Ok(())
}
