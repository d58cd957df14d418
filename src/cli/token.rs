//! `arendo token …`: API tokens for the JSON API.

use anyhow::anyhow;
use clap::Subcommand;

use super::{TenantArg, keys, operator};
use crate::Db;
use crate::accounts::{Scope, admin, tokens::Signer};
use crate::config::Settings;
use crate::domain::EmailAddress;

#[derive(Subcommand, Debug)]
pub(super) enum TokenCmd {
    /// Create an API token for a user; the token is printed once.
    Create {
        #[command(flatten)]
        t: TenantArg,
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// Comma-separated: tickets:read, tickets:write, queues:read, stats:read, admin (the admin API:
        /// function mailboxes; only for an admin, and only when asked for).
        #[arg(long, default_value = "tickets:read,tickets:write,queues:read")]
        scopes: String,
        /// Days until it expires (default: until revoked).
        #[arg(long)]
        days: Option<u32>,
    },
    List {
        #[command(flatten)]
        t: TenantArg,
    },
    Revoke {
        #[command(flatten)]
        t: TenantArg,
        /// The token id shown by `token list`.
        #[arg(long)]
        id: String,
    },
}

pub(super) async fn run(cmd: TokenCmd, db: &Db, settings: &Settings) -> anyhow::Result<()> {
    match cmd {
        TokenCmd::Create {
            t,
            email,
            name,
            scopes,
            days,
        } => {
            let email =
                EmailAddress::parse(&email).map_err(|e| anyhow!("--email: {}", e.reason))?;
            let scopes = scopes
                .split(',')
                .filter(|s| !s.trim().is_empty())
                .map(Scope::parse)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| anyhow!("--scopes: {}", e.reason))?;
            let signer = Signer::new(&keys(settings)?);
            let actor = operator(db, &t).await?;
            let (id, token) =
                admin::create_token(db, signer, &actor, &email, &name, scopes, days).await?;
            eprintln!("created API token {id}; it is shown only now:");
            println!("{token}");
        }
        TokenCmd::List { t } => {
            let actor = operator(db, &t).await?;
            println!(
                "{:<34} {:<6} {:<20} {:<10} SCOPES",
                "ID", "USER", "NAME", "STATE"
            );
            for k in admin::tokens(db, &actor).await? {
                let state = if k.revoked_at.is_some() {
                    "revoked"
                } else {
                    "active"
                };
                println!(
                    "{:<34} {:<6} {:<20} {:<10} {}",
                    k.id, k.user_id, k.name, state, k.scopes
                );
            }
        }
        TokenCmd::Revoke { t, id } => {
            let actor = operator(db, &t).await?;
            admin::revoke_token(db, &actor, &id).await?;
            println!("token revoked");
        }
    }
    Ok(())
}
