//! Live changes for the workspace. One follower per node reads each tenant's change feed (ticket
//! events, by id) and presence from the database every half second and broadcasts them to the
//! node's open Server-Sent-Event streams. Because it follows the database, changes made on any
//! node — or by IMAP intake in another process — reach every agent; each stream then keeps only
//! what its agent may see.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use chrono::NaiveDateTime;
use serde::Serialize;
use tokio::sync::broadcast;

use crate::domain::{QueueAccess, QueueId, TenantId, UserId};
use crate::error::Result;
use crate::store::{self, Db};

/// Something an open workspace page may want to show.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LiveEvent {
    /// A ticket changed (`kind` is the event kind: created, mail_received, reply_sent, …).
    Ticket {
        #[serde(skip)]
        tenant: TenantId,
        id: i64,
        number: String,
        queue: QueueId,
        /// For `queue_changed`: the queue the ticket left (its agents must see it leave).
        #[serde(skip)]
        from_queue: Option<QueueId>,
        kind: String,
        actor: Option<i64>,
    },
    /// Someone started or stopped writing a reply.
    Presence {
        #[serde(skip)]
        tenant: TenantId,
        number: String,
        #[serde(skip)]
        queue: QueueId,
        user: UserId,
        name: String,
        writing: bool,
    },
}

impl LiveEvent {
    pub fn tenant(&self) -> TenantId {
        match self {
            LiveEvent::Ticket { tenant, .. } | LiveEvent::Presence { tenant, .. } => *tenant,
        }
    }
    pub fn queue(&self) -> QueueId {
        match self {
            LiveEvent::Ticket { queue, .. } | LiveEvent::Presence { queue, .. } => *queue,
        }
    }

    /// The one rule of every stream: an event reaches an agent only if it is of their
    /// municipality and about a ticket they may see — in a queue they can reach, or (for a
    /// transfer) the queue the ticket just left, so it leaves their lists. Presence on a ticket
    /// follows the ticket; nobody is told of their own presence.
    pub fn visible_to(&self, tenant: TenantId, access: &QueueAccess, me: UserId) -> bool {
        if self.tenant() != tenant {
            return false;
        }
        match self {
            LiveEvent::Ticket {
                queue, from_queue, ..
            } => access.allows(*queue) || from_queue.is_some_and(|q| access.allows(q)),
            LiveEvent::Presence { queue, user, .. } => *user != me && access.allows(*queue),
        }
    }
}

/// The queue a `queue_changed` event's ticket came from (its details are `{"from", "to"}`).
fn from_queue(kind: &str, details: &str) -> Option<QueueId> {
    if kind != "queue_changed" {
        return None;
    }
    serde_json::from_str::<serde_json::Value>(details)
        .ok()?
        .get("from")?
        .as_i64()
        .map(QueueId::from_db)
}

/// The node's broadcaster. Cheap to clone.
#[derive(Clone)]
pub struct Live {
    tx: broadcast::Sender<LiveEvent>,
}

impl Default for Live {
    fn default() -> Self {
        Live::new()
    }
}

/// How long an id skipped over by the feed is watched for a late commit (PostgreSQL identity
/// values are handed out before commit, so a lower id can become visible after a higher one).
const GAP_WATCH_SECS: u64 = 30;

impl Live {
    pub fn new() -> Live {
        let (tx, _) = broadcast::channel(4096);
        Live { tx }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<LiveEvent> {
        self.tx.subscribe()
    }

    /// Follow the database until the process ends.
    pub async fn run(self, db: Db) {
        let mut cursors: HashMap<TenantId, Follower> = HashMap::new();
        let mut since = store::now();
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = self.round(&db, &mut cursors, &mut since).await {
                tracing::warn!(error = %e, "live feed round failed");
            }
        }
    }

    async fn round(
        &self,
        db: &Db,
        cursors: &mut HashMap<TenantId, Follower>,
        since: &mut NaiveDateTime,
    ) -> Result<()> {
        let tenants: Vec<TenantId> = db
            .read(|c| -> Result<Vec<TenantId>> {
                Ok(store::tenants::list(c)?.into_iter().map(|t| t.id).collect())
            })
            .await?;
        let now = store::now();
        // Presence rows touched since the last round (with a little overlap; duplicates are harmless).
        let from = *since - chrono::Duration::seconds(1);
        *since = now;
        for t in tenants {
            let fresh = !cursors.contains_key(&t);
            let mut f = cursors.remove(&t).unwrap_or_default();
            let (changes, presence, f2) = db
                .read(move |c| -> Result<_> {
                    if fresh {
                        f.cursor = store::workspace::last_change_id(c, t)?;
                    }
                    let mut changes = store::workspace::changes_after(c, t, f.cursor, 500)?;
                    let watched: Vec<i64> = f.gaps.keys().copied().collect();
                    if !watched.is_empty() {
                        changes.extend(store::workspace::changes_by_ids(c, t, &watched)?);
                    }
                    let presence = store::workspace::presence_changes(c, t, from, now)?;
                    let mut tickets = HashMap::new();
                    for (tk, ..) in &presence {
                        if let std::collections::hash_map::Entry::Vacant(e) = tickets.entry(*tk) {
                            e.insert(store::tickets::get(c, t, *tk)?);
                        }
                    }
                    let presence: Vec<_> = presence
                        .into_iter()
                        .map(|(tk, u, name, writing)| {
                            let ticket = &tickets[&tk];
                            (ticket.number.to_string(), ticket.queue_id, u, name, writing)
                        })
                        .collect();
                    Ok((changes, presence, f))
                })
                .await?;
            f = f2;
            let mut ids = BTreeSet::new();
            for ch in changes {
                if !ids.insert(ch.id) {
                    continue;
                }
                f.gaps.remove(&ch.id);
                let _ = self.tx.send(LiveEvent::Ticket {
                    tenant: t,
                    id: ch.id,
                    number: ch.number,
                    queue: QueueId::from_db(ch.queue_id),
                    from_queue: from_queue(&ch.kind, &ch.details),
                    kind: ch.kind,
                    actor: ch.actor_id,
                });
            }
            f.advance(&ids);
            for (number, queue, user, name, writing) in presence {
                let _ = self.tx.send(LiveEvent::Presence {
                    tenant: t,
                    number,
                    queue,
                    user,
                    name,
                    writing,
                });
            }
            cursors.insert(t, f);
        }
        Ok(())
    }
}

/// Where the feed of one tenant stands, and ids skipped over that may still commit.
#[derive(Default)]
struct Follower {
    cursor: i64,
    gaps: HashMap<i64, std::time::Instant>,
}

impl Follower {
    fn advance(&mut self, seen: &BTreeSet<i64>) {
        let Some(&max) = seen.iter().next_back() else {
            self.expire();
            return;
        };
        if max > self.cursor {
            for id in self.cursor + 1..max {
                if !seen.contains(&id) && max - id < 10_000 {
                    self.gaps.entry(id).or_insert_with(std::time::Instant::now);
                }
            }
            self.cursor = max;
        }
        self.expire();
    }

    fn expire(&mut self) {
        self.gaps
            .retain(|_, at| at.elapsed() < Duration::from_secs(GAP_WATCH_SECS));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_stream_keeps_only_what_its_agent_may_see() {
        let (t, other_t) = (TenantId::from_db(1), TenantId::from_db(2));
        let (qa, qb, qc) = (
            QueueId::from_db(1),
            QueueId::from_db(2),
            QueueId::from_db(3),
        );
        let (me, colleague) = (UserId::from_db(7), UserId::from_db(8));
        let ticket = |tenant, queue, from_queue, kind: &str| LiveEvent::Ticket {
            tenant,
            id: 1,
            number: "KC-2026-000001".into(),
            queue,
            from_queue,
            kind: kind.into(),
            actor: Some(8),
        };
        let presence = |queue, user| LiveEvent::Presence {
            tenant: t,
            number: "KC-2026-000001".into(),
            queue,
            user,
            name: "Kollega".into(),
            writing: true,
        };
        let in_a = QueueAccess::Only(vec![qa]);
        let cases = [
            (ticket(t, qa, None, "created"), true),
            (ticket(t, qb, None, "created"), false),
            (ticket(t, qb, None, "reply_sent"), false),
            (ticket(other_t, qa, None, "created"), false),
            // A transfer: the queue left and the queue entered hear of it, nobody else.
            (ticket(t, qb, Some(qa), "queue_changed"), true),
            (ticket(t, qa, Some(qb), "queue_changed"), true),
            (ticket(t, qb, Some(qc), "queue_changed"), false),
            (ticket(t, qb, None, "queue_changed"), false),
            (ticket(other_t, qb, Some(qa), "queue_changed"), false),
            (presence(qa, colleague), true),
            (presence(qa, me), false),
            (presence(qb, colleague), false),
        ];
        for (ev, want) in &cases {
            assert_eq!(ev.visible_to(t, &in_a, me), *want, "{ev:?}");
            // An admin sees the whole municipality (not others, not their own presence).
            let admin =
                ev.tenant() == t && !matches!(ev, LiveEvent::Presence { user, .. } if *user == me);
            assert_eq!(ev.visible_to(t, &QueueAccess::All, me), admin, "{ev:?}");
            // A handler (no queues) sees nothing.
            assert!(!ev.visible_to(t, &QueueAccess::Only(vec![]), me), "{ev:?}");
        }
        assert_eq!(
            from_queue("queue_changed", r#"{"from":3,"to":1}"#),
            Some(qc)
        );
        assert_eq!(from_queue("priority_changed", r#"{"from":3,"to":1}"#), None);
    }

    #[test]
    fn skipped_ids_are_watched_then_forgotten() {
        let mut f = Follower {
            cursor: 10,
            ..Default::default()
        };
        f.advance(&BTreeSet::from([11, 14]));
        assert_eq!(f.cursor, 14);
        let mut gaps: Vec<_> = f.gaps.keys().copied().collect();
        gaps.sort();
        assert_eq!(gaps, vec![12, 13]);
        f.gaps.remove(&12);
        f.advance(&BTreeSet::new());
        assert_eq!(f.gaps.len(), 1);
        for at in f.gaps.values_mut() {
            *at = std::time::Instant::now() - Duration::from_secs(GAP_WATCH_SECS + 1);
        }
        f.advance(&BTreeSet::new());
        assert!(f.gaps.is_empty());
    }
}
