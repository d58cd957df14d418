//! `arendo search …`: this node's ticket search index.

use clap::Subcommand;

use super::{open_db, progress_bar};
use crate::config::Settings;

#[derive(Subcommand, Debug)]
pub(super) enum SearchCmd {
    /// Rebuild the search index from the database (stop `arendo serve` on this node first; it
    /// also rebuilds a missing or outdated index by itself at start).
    Reindex,
}

pub(super) fn run(cmd: SearchCmd, settings: &Settings) -> anyhow::Result<()> {
    match cmd {
        SearchCmd::Reindex => reindex(settings),
    }
}

fn reindex(settings: &Settings) -> anyhow::Result<()> {
    let db = open_db(settings)?;
    let dir = settings.search_dir();
    let index = crate::search::TicketIndex::open(&dir)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let started = std::time::Instant::now();
    let bar = progress_bar("tickets");
    let n = rt.block_on(crate::search::reindex(&db, &index, |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    }))?;
    bar.finish();
    println!(
        "search index rebuilt: {n} tickets in {:.1} s ({})",
        started.elapsed().as_secs_f64(),
        dir.display()
    );
    Ok(())
}
