//! `arendo kb …`: importing knowledge-base articles, rebuilding this node's index.

use anyhow::{Context as _, anyhow};
use clap::Subcommand;

use super::{TenantArg, open_db, operator, progress_bar};
use crate::config::Settings;

#[derive(Subcommand, Debug)]
pub(super) enum KbCmd {
    /// Import article files (Markdown with TOML front matter): a new slug creates an article, a
    /// changed file makes a new revision, an unchanged one does nothing. Without --dir: the
    /// starter articles built into Ärendo.
    Import {
        #[command(flatten)]
        t: TenantArg,
        /// A folder of .md files (read recursively).
        #[arg(long)]
        dir: Option<std::path::PathBuf>,
    },
    /// Rebuild this node's knowledge-base index from the database (stop `arendo serve` on this
    /// node first; it also rebuilds a missing or outdated index by itself at start).
    Reindex,
}

pub(super) fn run(cmd: KbCmd, settings: &Settings) -> anyhow::Result<()> {
    let db = open_db(settings)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    match cmd {
        KbCmd::Import { t, dir } => rt.block_on(import(&db, t, dir)),
        KbCmd::Reindex => {
            let dir = settings.kb_dir();
            let kb = crate::kb::Kb::new(crate::kb::KbIndex::open(&dir)?);
            let started = std::time::Instant::now();
            let bar = progress_bar("articles");
            let n = rt.block_on(kb.rebuild(&db, |done, total| {
                bar.set_length(total);
                bar.set_position(done);
            }))?;
            bar.finish();
            println!(
                "knowledge-base index rebuilt: {n} articles in {:.1} s ({})",
                started.elapsed().as_secs_f64(),
                dir.display()
            );
            Ok(())
        }
    }
}

async fn import(
    db: &crate::Db,
    t: TenantArg,
    from: Option<std::path::PathBuf>,
) -> anyhow::Result<()> {
    let files = match &from {
        Some(d) => {
            crate::kb::read_dir(d).with_context(|| format!("cannot read {}", d.display()))?
        }
        None => crate::kb::starter_files(),
    };
    let actor = operator(db, &t).await?;
    // The operator imports into its tenant; a running server indexes within kb.sync_seconds.
    let r = crate::kb::import(db, None, &actor, files).await?;
    for (file, err) in &r.failed {
        eprintln!("  {file}: {err}");
    }
    println!(
        "knowledge base of {}: {} created, {} updated, {} unchanged, {} failed \
         (a running server indexes them within kb.sync_seconds)",
        t.tenant,
        r.created.len(),
        r.updated.len(),
        r.unchanged.len(),
        r.failed.len()
    );
    if r.failed.is_empty() {
        Ok(())
    } else {
        Err(anyhow!("{} files were not imported", r.failed.len()))
    }
}
