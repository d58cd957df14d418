//! Statistik: the figures a municipality steers by — volumes, backlog, response and resolution
//! times, KKiK (e-mailed questions answered within a working day), service levels, first-contact
//! resolution, flow between departments, what citizens ask about and when (D64).
//!
//! The figures come from the ticket history. `follower` keeps each ticket's contribution
//! (`contribution`, a pure function of its history) and the daily and monthly aggregates it sums
//! to, under a lease; `report` reads the aggregates for a period, so a report never scans the
//! tickets. Queue leads see their queues, admins the whole municipality.

pub mod contribution;
pub mod follower;
pub mod measures;
pub mod report;

pub use report::{Filter, Report, Step};

use crate::accounts::{Actor, Scope, permissions};
use crate::domain::{MembershipRole, QueueId, TenantId};
use crate::error::{Error, Result};
use crate::store::{self, Db};

/// The queues whose statistics the actor may see: every queue for an admin, the queues they
/// lead for a queue lead; Forbidden for anyone else.
pub async fn visible_queues(db: &Db, actor: &Actor) -> Result<Vec<(QueueId, String)>> {
    actor.require(Scope::StatsRead)?;
    let (t, admin) = (actor.tenant, actor.is_admin());
    let led: Vec<QueueId> = actor
        .memberships
        .iter()
        .filter(|(_, r)| *r == MembershipRole::Lead)
        .map(|(q, _)| *q)
        .collect();
    if !admin && led.is_empty() {
        return Err(Error::Forbidden(
            "statistics are for queue leads and administrators",
        ));
    }
    let queues = db
        .read(move |c| -> Result<Vec<store::queues::Queue>> { Ok(store::queues::list(c, t)?) })
        .await?;
    Ok(queues
        .into_iter()
        .filter(|q| admin || led.contains(&q.id))
        .map(|q| (q.id, q.name))
        .collect())
}

/// The statistics for a period and filters, for the queues the actor may see. A queue filter
/// outside them is Forbidden.
pub async fn report(db: &Db, actor: &Actor, filter: Filter) -> Result<Report> {
    let queues = visible_queues(db, actor).await?;
    if let Some(q) = filter.queue
        && !queues.iter().any(|(id, _)| *id == q)
    {
        return Err(Error::Forbidden("not one of your queues"));
    }
    let t = actor.tenant;
    let may_see_agents = actor.is_admin() || permissions::may_administer(actor);
    db.read(move |c| -> Result<Report> {
        let agents = may_see_agents && store::stats::per_agent(c, t)?;
        report::build(c, t, &filter, &queues, agents)
    })
    .await
}

/// Whether figures per agent are shown (off until an admin turns them on).
pub async fn per_agent(db: &Db, actor: &Actor) -> Result<bool> {
    permissions::require_admin_or_lead(actor)?;
    let t = actor.tenant;
    db.read(move |c| -> Result<bool> { Ok(store::stats::per_agent(c, t)?) })
        .await
}

/// An admin turns figures per agent on or off for the municipality.
pub async fn set_per_agent(db: &Db, actor: &Actor, on: bool) -> Result<()> {
    permissions::require_admin(actor)?;
    let t = actor.tenant;
    db.write(move |c| -> Result<()> { Ok(store::stats::set_per_agent(c, t, on)?) })
        .await
}

/// Recompute a tenant's statistics from its history (the operator's `arendo stats rebuild`);
/// `progress(done, total)` after each batch. Returns the number of tickets read.
pub fn rebuild(db: &Db, actor: &Actor, progress: &dyn Fn(u64, u64)) -> Result<u64> {
    permissions::require_admin(actor)?;
    follower::rebuild(db, actor.tenant, 1000, progress)
}

/// For tests and the benchmark: refresh the given tickets now (what the follower would do).
pub fn refresh_now(db: &Db, t: TenantId, tickets: Vec<i64>) -> Result<()> {
    db.write_blocking(move |c| follower::refresh(c, t, &tickets))
}
