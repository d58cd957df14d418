//! Housekeeping of the sign-in state: expired throttle rows and expired sessions are deleted, so
//! neither table grows with what attackers send or with time. One periodic job for the whole
//! installation: every node asks, and the run of each period is claimed on its `periodic_jobs`
//! row (`store::auth::claim_periodic`), so several nodes do not repeat it.

use std::time::Duration;

use crate::error::Result;
use crate::store::{self, Db};

const JOB: &str = "housekeeping";

/// What one run deleted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pruned {
    pub throttle_rows: usize,
    pub sessions: usize,
}

/// Claim this period's run for `owner` and, if it is ours, prune. `None` when another node (or
/// an earlier call) already ran it within `every`.
pub async fn run_once(db: &Db, owner: &str, every: Duration) -> Result<Option<Pruned>> {
    let owner = owner.to_string();
    let every = chrono::Duration::from_std(every).unwrap_or(chrono::Duration::minutes(10));
    db.write(move |c| -> Result<Option<Pruned>> {
        let now = store::now();
        if !store::auth::claim_periodic(c, JOB, &owner, every, now)? {
            return Ok(None);
        }
        Ok(Some(Pruned {
            throttle_rows: store::auth::prune_throttle(c, now)?,
            sessions: store::auth::prune_sessions(c, now)?,
        }))
    })
    .await
}

/// Run every `every` until the process ends (started by `Application::run_until_stopped`).
pub async fn run(db: Db, owner: String, every: Duration) {
    let every = every.max(Duration::from_secs(1));
    loop {
        match run_once(&db, &owner, every).await {
            Ok(Some(p)) if p != Pruned::default() => tracing::info!(
                throttle_rows = p.throttle_rows,
                sessions = p.sessions,
                "housekeeping: expired sign-in state deleted"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "housekeeping failed; trying again later"),
        }
        // Ask a little more often than the period, so a node that died does not skip one.
        tokio::time::sleep(every / 2).await;
    }
}
