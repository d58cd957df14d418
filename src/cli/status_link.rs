//! `arendo status-link`: a fresh link to a ticket's citizen status page.

use anyhow::anyhow;
use clap::Args;

use super::{TenantArg, keys, operator};
use crate::Db;
use crate::accounts::tokens::Signer;
use crate::config::Settings;
use crate::domain::TicketNumber;

#[derive(Args, Debug)]
pub(super) struct StatusLinkArgs {
    #[command(flatten)]
    t: TenantArg,
    /// The ticket number, e.g. KC-2026-000123.
    #[arg(long)]
    number: String,
}

pub(super) async fn run(a: StatusLinkArgs, db: &Db, settings: &Settings) -> anyhow::Result<()> {
    let number = TicketNumber::parse(&a.number).map_err(|e| anyhow!("--number: {}", e.reason))?;
    let signer = Signer::new(&keys(settings)?);
    let actor = operator(db, &a.t).await?;
    let link = crate::citizen::status_link(
        db,
        signer,
        &actor,
        number,
        settings.server.public_url.clone(),
        i64::from(settings.notify.status_link_days),
    )
    .await?;
    println!("{link}");
    Ok(())
}
