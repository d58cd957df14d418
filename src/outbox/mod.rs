//! Delivery of outbox items: a shared service that knows no job kind of its own.
//!
//! Each capability implements [`Job`] for the kinds it enqueues (mail, escalation, SMS, citizen
//! notification, referral mail and deadline, status-link requests) and the start-up code builds
//! the worker with a [`Registry`] of them; the worker claims only the registered kinds. The
//! dependency points from the capabilities to this module, never back.
//!
//! Workers on every node claim due items with a lease and deliver them in *lanes*: a lane is a
//! job kind plus a destination (a mailbox's SMTP server, a records system, a tenant's SMS
//! gateway). Items of one lane are delivered one at a time, in the order claimed; different lanes
//! run at the same time, at most `outbox.concurrency` deliveries at once, so a records system that
//! hangs delays only its own lane. The node renews the lease of every item it holds (delivering or
//! waiting in its lane) every third of `outbox.lease_seconds`, so a slow delivery is never taken
//! over by another node while this one still works on it; a node that dies stops renewing and its
//! items are taken over when their leases run out.
//!
//! Failures are retried with exponential backoff and jitter, and after `max_attempts` the item is
//! dead-lettered (kept, with its last error, for an operator; the job's [`Job::on_dead`] says so
//! on the ticket). Delivery is at-least-once: an item whose worker dies after sending but before
//! recording is sent again when its lease expires, so receivers get an idempotency key (the
//! Message-ID for mail).

use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::NaiveDateTime;

use crate::domain::TenantId;
use crate::store::{self, Db, outbox::Item};

/// The lease on a claimed item unless `outbox.lease_seconds` says otherwise.
const LEASE_SECS: i64 = 120;
/// Items claimed in one round.
const BATCH: i64 = 32;
/// Items one node holds at most (delivering or waiting in their lanes); no more is claimed
/// until some are done.
const MAX_HELD: usize = 1000;
/// Deliveries at once unless `outbox.concurrency` says otherwise.
const CONCURRENCY: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("temporary failure: {0}")]
    Retry(String),
    #[error("permanent failure: {0}")]
    Permanent(String),
}

impl DeliveryError {
    /// A use case's error as a delivery outcome: an internal error (the database) is retried,
    /// anything else (not found, invalid) will not get better.
    pub fn from_use_case(e: crate::error::Error) -> DeliveryError {
        match e {
            crate::error::Error::Internal(m) => DeliveryError::Retry(m),
            other => DeliveryError::Permanent(other.to_string()),
        }
    }
}

/// What a delivery returns: a boxed future, so that jobs of different types live in one registry.
pub type Delivery<'a> = Pin<Box<dyn Future<Output = Result<(), DeliveryError>> + Send + 'a>>;

/// One kind of outbox item and how it is delivered. A capability implements it for each kind it
/// enqueues and hands it to the [`Registry`] at start-up.
pub trait Job: Send + Sync {
    /// The `outbox.kind` this job delivers.
    fn kind(&self) -> &'static str;
    /// The destination within the kind: items with the same destination are delivered one at a
    /// time and in order; different destinations do not wait for each other. Read from the item
    /// alone (no I/O), e.g. the mailbox whose SMTP server sends it or the records system.
    fn lane(&self, item: &Item) -> String;
    /// Deliver the item once.
    fn deliver<'a>(&'a self, item: &'a Item) -> Delivery<'a>;
    /// The item was given up (dead-lettered), in the transaction that records it. By default its
    /// ticket's history says that it could not be delivered.
    fn on_dead(
        &self,
        c: &mut store::Conn,
        item: &Item,
        error: &str,
        now: NaiveDateTime,
    ) -> Result<(), store::StoreError> {
        dead_letter_event(c, item, error, now)
    }
    /// An admin asked to try a given-up item again (in the same transaction). Nothing by default.
    fn on_revive(
        &self,
        _c: &mut store::Conn,
        _item: &Item,
        _now: NaiveDateTime,
    ) -> Result<(), store::StoreError> {
        Ok(())
    }
}

/// The registered job kinds.
#[derive(Default)]
pub struct Registry {
    jobs: HashMap<&'static str, Arc<dyn Job>>,
}

impl Registry {
    /// # Panics
    /// When two jobs claim the same kind (a programming error, found at start-up).
    pub fn new(jobs: Vec<Arc<dyn Job>>) -> Registry {
        let mut r = Registry::default();
        for job in jobs {
            let kind = job.kind();
            assert!(
                r.jobs.insert(kind, job).is_none(),
                "outbox kind {kind} registered twice"
            );
        }
        r
    }

    /// The kinds the worker claims, sorted.
    pub fn kinds(&self) -> Vec<&'static str> {
        let mut k: Vec<&'static str> = self.jobs.keys().copied().collect();
        k.sort_unstable();
        k
    }

    pub fn get(&self, kind: &str) -> Option<&Arc<dyn Job>> {
        self.jobs.get(kind)
    }

    /// The item's lane: its kind and the job's destination.
    pub fn lane(&self, item: &Item) -> String {
        match self.get(&item.kind) {
            Some(job) => format!("{} {}", item.kind, job.lane(item)),
            None => item.kind.clone(),
        }
    }
}

/// A mail or other item that will not be delivered shows on its ticket.
pub fn dead_letter_event(
    c: &mut store::Conn,
    item: &Item,
    error: &str,
    now: NaiveDateTime,
) -> Result<(), store::StoreError> {
    if let Some(tk) = item.ticket_id {
        store::tickets::insert_event(
            c,
            TenantId::from_db(item.tenant_id),
            crate::domain::TicketId::from_db(tk),
            None,
            "delivery_failed",
            &serde_json::json!({ "error": error }),
            now,
        )?;
    }
    Ok(())
}

/// How failed deliveries are retried (config `[outbox]`).
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// The wait after the first failure; it doubles with every further one.
    pub base: Duration,
    /// The longest wait.
    pub cap: Duration,
    /// Attempts in all; after the last failure the item is dead-lettered.
    pub max_attempts: i32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            base: Duration::from_secs(30),
            cap: Duration::from_secs(3600),
            max_attempts: 12,
        }
    }
}

impl RetryPolicy {
    pub fn from_settings(o: &crate::config::Outbox) -> RetryPolicy {
        RetryPolicy {
            base: Duration::from_millis(o.retry_base_ms.max(1)),
            cap: Duration::from_secs(o.retry_cap_seconds.max(1)),
            max_attempts: o.max_attempts.clamp(1, 100) as i32,
        }
    }
}

/// When to try again after `attempts` failed attempts: base, 2 × base, 4 × base … capped, ±20 %
/// (jitter, so many items failing together do not come back together); `None`: give up.
pub fn backoff(policy: RetryPolicy, attempts: i32, now: NaiveDateTime) -> Option<NaiveDateTime> {
    if attempts >= policy.max_attempts {
        return None;
    }
    let base_ms = policy.base.as_millis() as i64;
    let wait = base_ms
        .saturating_mul(1i64 << (attempts.clamp(1, 21) - 1) as u32)
        .min(policy.cap.as_millis() as i64);
    let jitter = (wait as f64 * (rand::random::<f64>() * 0.4 - 0.2)) as i64;
    Some(now + chrono::Duration::milliseconds((wait + jitter).max(1)))
}

/// What a node holds: the items waiting in each busy lane (a lane is in the map exactly while a
/// task delivers it) and the ids of every held item (whose leases it renews).
#[derive(Default)]
struct Held {
    lanes: HashMap<String, VecDeque<Item>>,
    ids: HashSet<i64>,
}

/// The delivery worker of one node.
pub struct Worker {
    db: Db,
    jobs: Arc<Registry>,
    owner: String,
    /// How long a claimed item stays this node's (`outbox.lease_seconds`); renewed while held.
    lease: chrono::Duration,
    retry: RetryPolicy,
    /// Deliveries at once, over all lanes (`outbox.concurrency`).
    concurrency: usize,
    held: Mutex<Held>,
    permits: Arc<tokio::sync::Semaphore>,
}

impl Worker {
    pub fn new(db: Db, jobs: Arc<Registry>, node: String) -> Worker {
        Worker {
            db,
            jobs,
            owner: node,
            lease: chrono::Duration::seconds(LEASE_SECS),
            retry: RetryPolicy::default(),
            concurrency: CONCURRENCY,
            held: Mutex::default(),
            permits: Arc::new(tokio::sync::Semaphore::new(CONCURRENCY)),
        }
    }

    /// Retries, lease and concurrency from `[outbox]`.
    pub fn configured(mut self, settings: &crate::config::Outbox) -> Worker {
        self.retry = RetryPolicy::from_settings(settings);
        self.lease = chrono::Duration::seconds(i64::from(settings.lease_seconds.max(5)));
        self.concurrency = settings.concurrency.clamp(1, 256) as usize;
        self.permits = Arc::new(tokio::sync::Semaphore::new(self.concurrency));
        self
    }

    /// Run until the process stops: claim due items (often while there is work, every half
    /// second otherwise), hand each to its lane, and renew the leases of what is held.
    pub async fn run(self) {
        let me = Arc::new(self);
        let renew_every = (me.lease / 3).to_std().unwrap_or(Duration::from_secs(1));
        let mut renewed = tokio::time::Instant::now();
        loop {
            let claimed = match me.claim().await {
                Ok(items) => items,
                Err(e) => {
                    tracing::error!(error = %e, "outbox worker");
                    vec![]
                }
            };
            let full = claimed.len() as i64 >= BATCH;
            for item in claimed {
                Self::assign(&me, item);
            }
            if renewed.elapsed() >= renew_every {
                if let Err(e) = me.renew().await {
                    tracing::error!(error = %e, "outbox lease renewal");
                }
                renewed = tokio::time::Instant::now();
            }
            if !full {
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }

    /// Claim due items of the registered kinds, as many as fit into what this node may hold.
    async fn claim(&self) -> anyhow::Result<Vec<Item>> {
        let room = MAX_HELD.saturating_sub(self.held.lock().expect("not poisoned").ids.len());
        if room == 0 {
            return Ok(vec![]);
        }
        let (owner, lease, kinds) = (self.owner.clone(), self.lease, self.jobs.kinds());
        let limit = BATCH.min(room as i64);
        Ok(self
            .db
            .write(move |c| -> Result<_, store::StoreError> {
                let now = store::now();
                store::outbox::claim(c, &kinds, &owner, now, now + lease, limit)
            })
            .await?)
    }

    /// Put a claimed item at the end of its lane; start the lane when it was idle.
    fn assign(me: &Arc<Worker>, item: Item) {
        let lane = me.jobs.lane(&item);
        let mut held = me.held.lock().expect("not poisoned");
        if !held.ids.insert(item.id) {
            return; // already held (its lease ran out while it waited, and it was claimed again)
        }
        if let Some(waiting) = held.lanes.get_mut(&lane) {
            waiting.push_back(item);
            return;
        }
        held.lanes.insert(lane.clone(), VecDeque::new());
        drop(held);
        let me = me.clone();
        tokio::spawn(async move { me.drive(lane, item).await });
    }

    /// Deliver a lane's items one after the other until it is empty.
    async fn drive(self: Arc<Self>, lane: String, first: Item) {
        let mut item = first;
        loop {
            {
                let _permit = self.permits.acquire().await.expect("never closed");
                let id = item.id;
                let outcome = self.deliver(&item).await;
                if let Err(e) = self.record(item, outcome).await {
                    // The lease runs out and the item is claimed again.
                    tracing::error!(item = id, error = %e, "outbox: recording a delivery failed");
                }
                self.held.lock().expect("not poisoned").ids.remove(&id);
            }
            let mut held = self.held.lock().expect("not poisoned");
            match held.lanes.get_mut(&lane).and_then(VecDeque::pop_front) {
                Some(next) => item = next,
                None => {
                    held.lanes.remove(&lane);
                    return;
                }
            }
        }
    }

    async fn deliver(&self, item: &Item) -> Result<(), DeliveryError> {
        match self.jobs.get(&item.kind) {
            Some(job) => job.deliver(item).await,
            None => Err(DeliveryError::Permanent(format!(
                "unknown outbox kind {}",
                item.kind
            ))),
        }
    }

    /// Record the outcome: done, retry later, or given up (with the job's own dead-letter step).
    async fn record(
        &self,
        item: Item,
        outcome: Result<(), DeliveryError>,
    ) -> Result<(), store::StoreError> {
        let (owner, policy, jobs) = (self.owner.clone(), self.retry, self.jobs.clone());
        self.db
            .write(move |c| -> Result<(), store::StoreError> {
                let now = store::now();
                let (id, attempts) = (item.id, item.attempts);
                let dead = |c: &mut store::Conn, e: &str| match jobs.get(&item.kind) {
                    Some(job) => job.on_dead(c, &item, e, now),
                    None => dead_letter_event(c, &item, e, now),
                };
                match outcome {
                    Ok(()) => {
                        store::outbox::complete(c, id, &owner, now)?;
                    }
                    Err(DeliveryError::Retry(e)) => {
                        let retry = backoff(policy, attempts, now);
                        tracing::warn!(item = id, attempts, error = %e, "delivery failed");
                        store::outbox::fail(c, id, &owner, &e, retry, now)?;
                        if retry.is_none() {
                            dead(c, &e)?;
                        }
                    }
                    Err(DeliveryError::Permanent(e)) => {
                        tracing::error!(item = id, error = %e, "delivery failed permanently");
                        store::outbox::fail(c, id, &owner, &e, None, now)?;
                        dead(c, &e)?;
                    }
                }
                Ok(())
            })
            .await
    }

    /// Extend the lease of every item this node holds, so a slow delivery (or an item waiting
    /// behind one in its lane) stays this node's.
    async fn renew(&self) -> Result<(), store::StoreError> {
        let ids: Vec<i64> = self
            .held
            .lock()
            .expect("not poisoned")
            .ids
            .iter()
            .copied()
            .collect();
        if ids.is_empty() {
            return Ok(());
        }
        let (owner, lease) = (self.owner.clone(), self.lease);
        self.db
            .write(move |c| {
                let now = store::now();
                store::outbox::renew(c, &ids, &owner, now + lease).map(|_| ())
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_is_capped_and_stops() {
        let p = RetryPolicy::default();
        let now = store::now();
        let wait = |n| (backoff(p, n, now).unwrap() - now).num_milliseconds();
        assert!((24_000..=36_000).contains(&wait(1)), "{}", wait(1));
        assert!((48_000..=72_000).contains(&wait(2)), "{}", wait(2));
        assert!((96_000..=144_000).contains(&wait(3)), "{}", wait(3));
        assert!(wait(11) <= 3_600_000 * 12 / 10);
        assert!(backoff(p, p.max_attempts, now).is_none());
        // Jitter: forty waits after the same failure are not all the same.
        let mut seen: Vec<i64> = (0..40).map(|_| wait(4)).collect();
        seen.dedup();
        assert!(seen.len() > 1);
    }
}
