//! `arendo mailbox …`: the function mailboxes fetched over IMAP.

use std::sync::Arc;

use clap::{Args, Subcommand};

use super::{TenantArg, keys, operator, stdin_line};
use crate::Db;
use crate::config::Settings;
use crate::mail::mailboxes::{self, MailboxSpec};

#[derive(Subcommand, Debug)]
pub(super) enum MailboxCmd {
    /// Register a function mailbox. The IMAP password is read from standard input and stored
    /// encrypted with the installation's secret key.
    Add(Box<MailboxAdd>),
    List {
        #[command(flatten)]
        t: TenantArg,
    },
}

#[derive(Args, Debug)]
pub(super) struct MailboxAdd {
    #[command(flatten)]
    t: TenantArg,
    /// The mailbox's address, e.g. va@kommun.se.
    #[arg(long)]
    address: String,
    /// Queue (slug) that new tickets from this mailbox go to.
    #[arg(long)]
    queue: String,
    #[arg(long)]
    imap_host: String,
    #[arg(long)]
    imap_port: Option<u16>,
    /// implicit (port 993), starttls (143) or plain (only for a server on this host).
    #[arg(long, default_value = "implicit")]
    tls: String,
    /// IMAP user name (default: the address).
    #[arg(long)]
    imap_user: Option<String>,
    #[arg(long, default_value = "INBOX")]
    folder: String,
    /// After import: move (to --processed-folder) or seen (only flag \Seen).
    #[arg(long, default_value = "move")]
    after_import: String,
    #[arg(long, default_value = "Arendo/Importerat")]
    processed_folder: String,
    /// Address replies are sent from (default: the mailbox address).
    #[arg(long)]
    reply_from: Option<String>,
}

pub(super) async fn run(cmd: MailboxCmd, db: &Db, settings: &Settings) -> anyhow::Result<()> {
    match cmd {
        MailboxCmd::Add(add) => {
            let MailboxAdd {
                t,
                address,
                queue,
                imap_host,
                imap_port,
                tls,
                imap_user,
                folder,
                after_import,
                processed_folder,
                reply_from,
            } = *add;
            eprintln!("IMAP password (one line on standard input):");
            let spec = MailboxSpec {
                address,
                queue,
                imap_host,
                imap_port,
                tls,
                imap_user,
                password: stdin_line()?,
                folder,
                after_import,
                processed_folder,
                reply_from,
                smtp: None,
            };
            let keys = Arc::new(keys(settings)?);
            let egress = Arc::new(crate::egress::Policy::from_settings(settings));
            let actor = operator(db, &t).await?;
            let m = mailboxes::create(db, keys, egress, &actor, spec)
                .await?
                .mailbox;
            println!(
                "added mailbox {} (id {}) → {}:{} {}",
                m.address, m.id, m.imap_host, m.imap_port, m.imap_tls
            );
        }
        MailboxCmd::List { t } => {
            let actor = operator(db, &t).await?;
            println!(
                "{:<4} {:<30} {:<14} {:<32} {:<9} AFTER",
                "ID", "ADDRESS", "QUEUE", "IMAP", "TLS"
            );
            for r in mailboxes::list(db, &actor).await? {
                let m = r.mailbox;
                println!(
                    "{:<4} {:<30} {:<14} {:<32} {:<9} {}",
                    m.id,
                    m.address,
                    r.queue_slug,
                    format!(
                        "{}@{}:{}/{}",
                        m.imap_user, m.imap_host, m.imap_port, m.folder
                    ),
                    m.imap_tls,
                    m.after_import
                );
            }
        }
    }
    Ok(())
}
