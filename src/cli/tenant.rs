//! `arendo tenant …`: the municipalities of this installation and their outgoing mail.

use clap::{Args, Subcommand};

use super::{TenantArg, keys, operator, stdin_line};
use crate::Db;
use crate::config::Settings;
use crate::error::Error;
use crate::mail::mailboxes::SmtpSpec;
use crate::tenants;

#[derive(Subcommand, Debug)]
pub(super) enum TenantCmd {
    Create {
        /// Short name used at login and on the command line, e.g. "vasteras".
        #[arg(long)]
        slug: String,
        /// Display name, e.g. "Västerås stad".
        #[arg(long)]
        name: String,
        /// Ticket number prefix, 1–8 capital letters (KC → KC-2026-000123).
        #[arg(long, default_value = "KC")]
        prefix: String,
    },
    List,
    /// The tenant's own SMTP server for outgoing mail (default: the installation's [mail]).
    Smtp {
        #[command(flatten)]
        t: TenantArg,
        #[command(flatten)]
        smtp: SmtpArgs,
    },
}

#[derive(Args, Debug)]
pub(super) struct SmtpArgs {
    #[arg(long)]
    host: Option<String>,
    #[arg(long, default_value_t = 587)]
    port: u16,
    /// none (only for a relay on this host), starttls or implicit.
    #[arg(long, default_value = "starttls")]
    tls: String,
    #[arg(long)]
    user: Option<String>,
    /// Read the SMTP password from standard input.
    #[arg(long)]
    password_stdin: bool,
    /// Remove the settings (inherit the installation's).
    #[arg(long)]
    clear: bool,
}

pub(super) async fn run(cmd: TenantCmd, db: &Db, settings: &Settings) -> anyhow::Result<()> {
    match cmd {
        TenantCmd::Create { slug, name, prefix } => {
            let t = tenants::installation::create_tenant(db, &slug, &name, &prefix).await?;
            println!(
                "created tenant {} ({}), ticket numbers {}-YYYY-NNNNNN",
                t.slug, t.name, t.ticket_prefix
            );
        }
        TenantCmd::List => {
            println!("{:<20} {:<8} NAME", "SLUG", "PREFIX");
            for t in tenants::installation::tenants(db).await? {
                println!("{:<20} {:<8} {}", t.slug, t.ticket_prefix, t.name);
            }
        }
        TenantCmd::Smtp { t, smtp } => {
            let actor = operator(db, &t).await?;
            let spec = smtp_spec(&smtp)?;
            let keys = keys(settings)?;
            let egress = crate::egress::Policy::from_settings(settings);
            tenants::admin::set_tenant_smtp(db, &actor, &keys, &egress, spec)
                .await
                .map_err(smtp_error)?;
            println!("SMTP settings saved");
        }
    }
    Ok(())
}

/// The SMTP arguments (the password from standard input), or None for --clear.
fn smtp_spec(a: &SmtpArgs) -> anyhow::Result<Option<SmtpSpec>> {
    if a.clear {
        return Ok(None);
    }
    let host = a
        .host
        .clone()
        .ok_or_else(|| anyhow::anyhow!("--host is required (or --clear)"))?;
    let password = if a.password_stdin {
        eprintln!("SMTP password (one line on standard input):");
        Some(stdin_line()?)
    } else {
        None
    };
    Ok(Some(SmtpSpec {
        host,
        port: a.port,
        tls: a.tls.clone(),
        user: a.user.clone(),
        password,
    }))
}

/// A refused SMTP field named as its option (`--tls: …`).
fn smtp_error(e: Error) -> anyhow::Error {
    match e {
        Error::Invalid(v) if v.field.starts_with("smtp.") => {
            anyhow::anyhow!("--{}: {}", v.field.trim_start_matches("smtp."), v.reason)
        }
        other => other.into(),
    }
}
