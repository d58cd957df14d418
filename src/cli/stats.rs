//! `arendo stats …`: the statistics aggregates.

use clap::Subcommand;

use super::progress_bar;
use crate::Db;
use crate::tenants::installation;

#[derive(Subcommand, Debug)]
pub(super) enum StatsCmd {
    /// Recompute the statistics from the ticket history (every municipality unless --tenant
    /// names one). The server may keep running: the follower and the rebuild take turns per
    /// ticket.
    Rebuild {
        /// The tenant's slug.
        #[arg(long)]
        tenant: Option<String>,
    },
}

pub(super) async fn run(cmd: StatsCmd, db: &Db) -> anyhow::Result<()> {
    match cmd {
        StatsCmd::Rebuild { tenant } => {
            let slugs = match tenant {
                Some(s) => vec![s],
                None => installation::tenants(db)
                    .await?
                    .into_iter()
                    .map(|t| t.slug)
                    .collect(),
            };
            for slug in slugs {
                let actor = installation::operator(db, &slug).await?;
                let started = std::time::Instant::now();
                let bar = progress_bar(&format!("tickets of {slug}"));
                let (db2, bar2) = (db.clone(), bar.clone());
                let n = tokio::task::spawn_blocking(move || {
                    crate::stats::rebuild(&db2, &actor, &|done, total| {
                        bar2.set_length(total);
                        bar2.set_position(done);
                    })
                })
                .await??;
                bar.finish_and_clear();
                println!(
                    "statistics of {slug} rebuilt: {n} tickets in {:.1} s",
                    started.elapsed().as_secs_f64()
                );
            }
            Ok(())
        }
    }
}
