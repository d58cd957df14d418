//! Keeping the index in step with the database: a background follower of the change feed
//! (`ticket_events`), and the full rebuild.
//!
//! Every ~500 ms, per tenant: read the events after the tenant's cursor
//! (`store::workspace::changes_after`), collect the tickets they touch, load those tickets'
//! documents (`store::search::docs_for`), upsert them, and commit once for the round with the new
//! cursors in the commit payload. The index and its position thus move together: after a crash the
//! follower resumes from the last commit and at worst indexes a few tickets twice.
//!
//! Late commits: PostgreSQL hands out identity ids when rows are inserted, not when transactions
//! commit, so an event with a lower id can become visible after the cursor has passed it. Ids the
//! cursor jumps over are remembered for [`LATE_WINDOW`] and asked for again each round
//! (`changes_by_ids`). Ids are shared by all tenants, so a jump is mostly other tenants' events;
//! ids seen in any tenant's feed are struck off at once. The remembered ids are kept in the payload
//! as well, so a restart keeps waiting for them.
//!
//! A missing index, or one built for another [`SCHEMA_VERSION`](super::schema::SCHEMA_VERSION), is
//! rebuilt from the database first ([`reindex`]).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::future::Future;
use std::time::{Duration, Instant};

use super::index::{FeedState, TicketIndex, internal};
use crate::domain::TenantId;
use crate::error::{Error, Result};
use crate::store::workspace::Change;
use crate::store::{self, Db};

/// Pause between rounds when the feed is drained.
pub const ROUND_PAUSE: Duration = Duration::from_millis(500);
/// Pause after a failed round.
pub const ERROR_PAUSE: Duration = Duration::from_secs(5);
/// Events read per tenant and round; a full batch means "more waiting": the next round starts at
/// once.
pub const FEED_BATCH: i64 = 1000;
/// How long an id the cursor jumped over is asked for again.
pub const LATE_WINDOW: Duration = Duration::from_secs(30);
/// How long ids seen in some tenant's feed are remembered (to strike them off other tenants' gaps).
const SEEN_WINDOW: Duration = Duration::from_secs(60);
/// Gap ids taken per tenant and round (the ones just below the newest event: a late commit is
/// one that was in flight a moment ago).
const MAX_NEW_GAPS: usize = 1000;
/// Ids awaited per tenant at most.
const MAX_PENDING: usize = 5000;
/// After a rebuild the feed is replayed from this many ids below the newest event, to catch
/// transactions that were in flight when the rebuild started.
pub const REBUILD_REPLAY: i64 = 10_000;
/// Tickets per database read during a rebuild.
const REBUILD_BATCH: i64 = 500;

async fn blocking<T, F>(f: F) -> Result<T>
where
    F: FnOnce() -> Result<T> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| internal("indexing task", e))?
}

/// Follow the change feed until `shutdown` completes. Rebuilds the index first when it has no
/// usable feed state. Errors are logged and retried; this only returns on shutdown.
pub async fn run(db: Db, index: TicketIndex, shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    let mut follower: Option<Follower> = None;
    loop {
        let pause = match follower.as_mut() {
            None => {
                // Starting may mean a rebuild of many minutes: give way to shutdown.
                tokio::select! {
                    _ = &mut shutdown => return,
                    started = Follower::start(&db, &index) => match started {
                        Ok(f) => {
                            follower = Some(f);
                            Duration::ZERO
                        }
                        Err(e) => {
                            tracing::error!(error = %e, "search index: cannot start the indexer");
                            ERROR_PAUSE
                        }
                    },
                }
            }
            // A round is short; it finishes even when shutdown comes meanwhile.
            Some(f) => match f.round(&db, &index).await {
                Ok(r) if r.more => Duration::ZERO,
                Ok(_) => ROUND_PAUSE,
                Err(e) => {
                    tracing::warn!(error = %e, "search index: indexing round failed");
                    ERROR_PAUSE
                }
            },
        };
        tokio::select! {
            _ = &mut shutdown => return,
            _ = tokio::time::sleep(pause) => {}
        }
    }
}

/// What one round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RoundReport {
    /// Tickets upserted.
    pub tickets: usize,
    /// Events that had committed late and were picked up now.
    pub late: usize,
    /// Some tenant had a full batch: call again at once.
    pub more: bool,
}

/// The tickets a round touched, by tenant (raw id → (tenant, ticket ids)).
type Touched = BTreeMap<i64, (TenantId, BTreeSet<i64>)>;

/// Note the tickets these changes touched.
fn touch(touched: &mut Touched, t: TenantId, changes: &[Change]) {
    let entry = touched.entry(t.get()).or_insert((t, BTreeSet::new()));
    entry.1.extend(changes.iter().map(|c| c.ticket_id));
}

/// Every tenant's feed after its cursor (a batch at most each).
async fn read_feeds(db: &Db, cursors: BTreeMap<i64, i64>) -> Result<Vec<(TenantId, Vec<Change>)>> {
    db.read(move |c| -> Result<_> {
        let mut out = Vec::new();
        for t in store::tenants::list(c)? {
            let after = cursors.get(&t.id.get()).copied().unwrap_or(0);
            out.push((
                t.id,
                store::workspace::changes_after(c, t.id, after, FEED_BATCH)?,
            ));
        }
        Ok(out)
    })
    .await
}

/// Read the touched tickets' documents, upsert them and commit with the new feed state (all or
/// nothing); returns how many tickets were upserted.
async fn upsert_and_commit(
    db: &Db,
    index: &TicketIndex,
    work: Vec<(TenantId, Vec<i64>)>,
    next: &FeedState,
) -> Result<usize> {
    let docs = db
        .read(move |c| -> Result<_> {
            let mut out = Vec::new();
            for (t, ids) in work {
                let docs = store::search::docs_for(c, t, &ids)?;
                out.push((ids, docs));
            }
            Ok(out)
        })
        .await?;
    let tickets = docs.iter().map(|(ids, _)| ids.len()).sum();
    let idx = index.clone();
    let state = next.clone();
    blocking(move || {
        let applied = docs
            .iter()
            .try_for_each(|(ids, docs)| idx.upsert(ids, docs))
            .and_then(|()| idx.commit(&state));
        if applied.is_err() {
            let _ = idx.rollback();
        }
        applied
    })
    .await?;
    Ok(tickets)
}

/// The follower's memory between rounds. `state` is what the last commit recorded.
pub struct Follower {
    state: FeedState,
    /// Since when an awaited id has been missing.
    missed_at: HashMap<i64, Instant>,
    /// Ids seen in any tenant's feed recently, by round.
    seen_rounds: VecDeque<(Instant, Vec<i64>)>,
    seen: HashSet<i64>,
}

impl Follower {
    /// Resume from the index's last commit, or rebuild the index first when it has none.
    pub async fn start(db: &Db, index: &TicketIndex) -> Result<Follower> {
        let idx = index.clone();
        let state = match blocking(move || idx.feed_state()).await? {
            Some(s) => s,
            None => {
                tracing::info!("search index: building it from the database");
                let started = Instant::now();
                let n = reindex(db, index, |done, total| {
                    if done % 50_000 == 0 || done == total {
                        tracing::info!(done, total, "search index: rebuilding");
                    }
                })
                .await?;
                tracing::info!(
                    tickets = n,
                    seconds = started.elapsed().as_secs_f64(),
                    "search index: built"
                );
                let idx = index.clone();
                blocking(move || idx.feed_state())
                    .await?
                    .ok_or_else(|| Error::Internal("search index: rebuilt without state".into()))?
            }
        };
        Ok(Follower::from_state(state, Instant::now()))
    }

    fn from_state(state: FeedState, now: Instant) -> Follower {
        let missed_at = state
            .pending
            .values()
            .flatten()
            .map(|id| (*id, now))
            .collect();
        Follower {
            state,
            missed_at,
            seen_rounds: VecDeque::new(),
            seen: HashSet::new(),
        }
    }

    pub fn state(&self) -> &FeedState {
        &self.state
    }

    /// One round: read every tenant's feed, pick up late commits, upsert, commit.
    pub async fn round(&mut self, db: &Db, index: &TicketIndex) -> Result<RoundReport> {
        let _feed = index.lock_feed().await;
        let now = Instant::now();
        let feeds = read_feeds(db, self.state.cursors.clone()).await?;
        let mut next = self.state.clone();
        let mut touched = Touched::new();
        let mut report = RoundReport::default();
        let gaps = self.follow_feeds(&feeds, &mut next, &mut touched, &mut report, now);
        // Awaited ids: add this round's gaps, strike off what some feed has shown, expire.
        for (t, ids) in gaps {
            let pending = next.pending.entry(t.get()).or_default();
            for id in ids {
                self.missed_at.entry(id).or_insert(now);
                pending.push(id);
            }
        }
        self.prune_pending(&mut next, now);
        self.pick_up_late(db, &mut next, &mut touched, &mut report, now)
            .await?;
        let work: Vec<(TenantId, Vec<i64>)> = touched
            .into_values()
            .map(|(t, ids)| (t, ids.into_iter().collect()))
            .collect();
        if work.is_empty() && next == self.state {
            return Ok(report);
        }
        report.tickets = upsert_and_commit(db, index, work, &next).await?;
        self.state = next;
        Ok(report)
    }

    /// Move the cursors in `next` past this round's changes, note the tickets they touched and
    /// the ids seen; returns, per tenant, the ids skipped below the new cursor (not committed yet).
    fn follow_feeds(
        &mut self,
        feeds: &[(TenantId, Vec<Change>)],
        next: &mut FeedState,
        touched: &mut Touched,
        report: &mut RoundReport,
        now: Instant,
    ) -> Vec<(TenantId, Vec<i64>)> {
        let mut round_seen: Vec<i64> = Vec::new();
        let mut gaps: Vec<(TenantId, Vec<i64>)> = Vec::new();
        for (t, changes) in feeds {
            let Some(last) = changes.last() else {
                continue;
            };
            report.more |= changes.len() as i64 >= FEED_BATCH;
            let cursor = next.cursors.get(&t.get()).copied().unwrap_or(0);
            let ids: Vec<i64> = changes.iter().map(|c| c.id).collect();
            gaps.push((*t, gap_ids(cursor, &ids)));
            round_seen.extend(&ids);
            touch(touched, *t, changes);
            next.cursors.insert(t.get(), last.id);
        }
        self.remember_seen(now, round_seen);
        gaps
    }

    /// Ask for the awaited ids again; those that have committed since count as late and touch
    /// their tickets.
    async fn pick_up_late(
        &mut self,
        db: &Db,
        next: &mut FeedState,
        touched: &mut Touched,
        report: &mut RoundReport,
        now: Instant,
    ) -> Result<()> {
        let asks: Vec<(TenantId, Vec<i64>)> = next
            .pending
            .iter()
            .filter(|(_, ids)| !ids.is_empty())
            .map(|(t, ids)| (TenantId::from_db(*t), ids.clone()))
            .collect();
        if asks.is_empty() {
            return Ok(());
        }
        let late: Vec<(TenantId, Vec<Change>)> = db
            .read(move |c| -> Result<_> {
                let mut out = Vec::new();
                for (t, ids) in asks {
                    let mut found = Vec::new();
                    for chunk in ids.chunks(500) {
                        found.extend(store::workspace::changes_by_ids(c, t, chunk)?);
                    }
                    out.push((t, found));
                }
                Ok(out)
            })
            .await?;
        let mut late_seen = Vec::new();
        for (t, changes) in late {
            if changes.is_empty() {
                continue;
            }
            report.late += changes.len();
            touch(touched, t, &changes);
            late_seen.extend(changes.iter().map(|c| c.id));
        }
        if !late_seen.is_empty() {
            tracing::debug!(ids = ?late_seen, "search index: late commits picked up");
            self.remember_seen(now, late_seen);
            self.prune_pending(next, now);
        }
        Ok(())
    }

    fn remember_seen(&mut self, now: Instant, ids: Vec<i64>) {
        while let Some((at, _)) = self.seen_rounds.front()
            && now.duration_since(*at) > SEEN_WINDOW
        {
            if let Some((_, old)) = self.seen_rounds.pop_front() {
                for id in old {
                    self.seen.remove(&id);
                }
            }
        }
        self.seen.extend(&ids);
        self.seen_rounds.push_back((now, ids));
    }

    /// Strike off seen ids, expire ids awaited longer than [`LATE_WINDOW`], cap, sort.
    fn prune_pending(&mut self, next: &mut FeedState, now: Instant) {
        let seen = &self.seen;
        let missed_at = &self.missed_at;
        for ids in next.pending.values_mut() {
            ids.retain(|id| {
                !seen.contains(id)
                    && missed_at
                        .get(id)
                        .is_some_and(|at| now.duration_since(*at) <= LATE_WINDOW)
            });
            ids.sort_unstable();
            ids.dedup();
            if ids.len() > MAX_PENDING {
                ids.drain(..ids.len() - MAX_PENDING);
            }
        }
        next.pending.retain(|_, ids| !ids.is_empty());
        let still: HashSet<i64> = next.pending.values().flatten().copied().collect();
        self.missed_at.retain(|id, _| still.contains(id));
    }
}

/// Ids strictly between `cursor` and each of `ids` (ascending) that are not in `ids`: the nearest
/// [`MAX_NEW_GAPS`] below the newest.
fn gap_ids(cursor: i64, ids: &[i64]) -> Vec<i64> {
    let mut bounds = Vec::with_capacity(ids.len() + 1);
    bounds.push(cursor);
    bounds.extend_from_slice(ids);
    let mut out = Vec::new();
    for w in bounds.windows(2).rev() {
        let (lo, hi) = (w[0], w[1]);
        let mut x = hi - 1;
        while x > lo {
            if out.len() >= MAX_NEW_GAPS {
                return out;
            }
            out.push(x);
            x -= 1;
        }
    }
    out
}

/// Rolls the writer back unless disarmed: a rebuild that stops half-way (error or cancellation)
/// must not be committed by the next round.
struct RollbackOnDrop<'a> {
    index: &'a TicketIndex,
    armed: bool,
}

impl Drop for RollbackOnDrop<'_> {
    fn drop(&mut self) {
        if self.armed
            && let Err(e) = self.index.rollback()
        {
            tracing::error!(error = %e, "search index: rollback after a failed rebuild");
        }
    }
}

/// Rebuild the whole index from the database: every ticket of every tenant, in batches, committed
/// once at the end (searches see the old index until then). The feed cursors are set from each
/// tenant's newest event as read *before* the rebuild (less [`REBUILD_REPLAY`]), so changes made
/// during the rebuild are applied by the follower afterwards. `progress(done, total)` is called
/// after every batch. Returns the number of tickets indexed.
///
/// Pauses the follower of this index while it runs. Another process must not have the index
/// open (opening it fails with "in use").
pub async fn reindex(
    db: &Db,
    index: &TicketIndex,
    progress: impl Fn(u64, u64) + Send + Sync,
) -> Result<u64> {
    let _feed = index.lock_feed().await;
    let plan: Vec<(TenantId, i64, i64)> = db
        .read(|c| -> Result<_> {
            let mut out = Vec::new();
            for t in store::tenants::list(c)? {
                out.push((
                    t.id,
                    store::workspace::last_change_id(c, t.id)?,
                    store::search::ticket_count(c, t.id)?,
                ));
            }
            Ok(out)
        })
        .await?;
    let total: u64 = plan.iter().map(|(_, _, n)| *n as u64).sum();
    let mut state = FeedState::new();
    for (t, last, _) in &plan {
        state
            .cursors
            .insert(t.get(), (last - REBUILD_REPLAY).max(0));
    }
    let idx = index.clone();
    blocking(move || idx.begin_rebuild()).await?;
    let mut guard = RollbackOnDrop { index, armed: true };
    let mut done: u64 = 0;
    progress(0, total);
    for (t, _, _) in plan {
        let mut after = 0;
        loop {
            let (last, docs) = db
                .read(move |c| -> Result<_> {
                    let ids = store::search::ticket_ids_page(c, t, after, REBUILD_BATCH)?;
                    let docs = store::search::docs_for(c, t, &ids)?;
                    Ok((ids.last().copied(), docs))
                })
                .await?;
            let Some(last) = last else {
                break;
            };
            after = last;
            done += docs.len() as u64;
            let idx = index.clone();
            blocking(move || idx.add_fresh(&docs)).await?;
            progress(done, total.max(done));
        }
    }
    let idx = index.clone();
    blocking(move || idx.commit(&state)).await?;
    guard.armed = false;
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_are_the_ids_jumped_over_nearest_first() {
        assert_eq!(gap_ids(0, &[1, 2, 3]), Vec::<i64>::new());
        assert_eq!(gap_ids(10, &[12, 15]), [14, 13, 11]);
        let far = gap_ids(0, &[1_000_000]);
        assert_eq!(far.len(), MAX_NEW_GAPS);
        assert_eq!(far[0], 999_999);
    }

    #[test]
    fn awaited_ids_expire_and_seen_ids_are_struck_off() {
        let t0 = Instant::now();
        let mut st = FeedState::new();
        st.pending.insert(1, vec![5, 6, 7]);
        let mut f = Follower::from_state(st, t0);
        let mut next = f.state.clone();
        f.remember_seen(t0, vec![6]);
        f.prune_pending(&mut next, t0);
        assert_eq!(next.pending[&1], [5, 7]);
        f.prune_pending(&mut next, t0 + LATE_WINDOW + Duration::from_secs(1));
        assert!(next.pending.is_empty());
        assert!(f.missed_at.is_empty());
    }
}
