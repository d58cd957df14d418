//! Read models for the agent workspace: my work, the queue overview, and the people and queues a
//! ticket can be given to.

use chrono::NaiveDateTime;
use serde::Serialize;

use crate::accounts::{Actor, Scope};
use crate::domain::{MembershipRole, QueueId, Status, UserId};
use crate::error::Result;
use crate::store::tickets::{AssigneeFilter, SlaFilter, Sort, Ticket, TicketFilter};
use crate::store::{self, Db};

const OPEN: [Status; 3] = [Status::New, Status::Open, Status::Waiting];

#[derive(Debug, Clone, Serialize)]
pub struct MyWork {
    /// Open tickets assigned to me, least SLA time left first (`sla_first`).
    pub mine: Vec<Ticket>,
    /// Open tickets nobody has taken in my queues, least SLA time left first.
    pub unassigned: Vec<Ticket>,
    /// SLA warnings for me: open tickets past their warning instant that are mine or in a queue
    /// I lead (the people the notice rules mail), soonest due first.
    pub at_risk: Vec<Ticket>,
    /// Open tickets in my queues that automatic mail opened (auto-replies, lists) and that the
    /// lists above leave out; 0 when they are shown (D56).
    pub automatic_hidden: i64,
}

/// Mitt arbete. Tickets automatic mail opened are left out unless `with_automatic` (D56).
pub async fn my_work(db: &Db, actor: &Actor, limit: i64, with_automatic: bool) -> Result<MyWork> {
    actor.require(Scope::TicketsRead)?;
    let (t, access, me) = (actor.tenant, actor.queue_access(), actor.user()?);
    let led: Vec<QueueId> = actor
        .memberships
        .iter()
        .filter(|(_, r)| *r == MembershipRole::Lead)
        .map(|(q, _)| *q)
        .collect();
    let now = chrono::Utc::now().naive_utc();
    db.read(move |c| -> Result<MyWork> {
        let automatic = (!with_automatic).then_some(false);
        let f = |assignee| TicketFilter {
            statuses: OPEN.to_vec(),
            assignee: Some(assignee),
            automatic,
            sort: Sort::Urgent,
            limit,
            ..Default::default()
        };
        let risky = |assignee, queue| TicketFilter {
            statuses: OPEN.to_vec(),
            assignee,
            queue,
            sla: Some((SlaFilter::AtRisk, now)),
            sort: Sort::Due,
            limit,
            ..Default::default()
        };
        let mut at_risk =
            store::tickets::list(c, t, &access, &risky(Some(AssigneeFilter::User(me)), None))?.0;
        for q in &led {
            for tk in store::tickets::list(c, t, &access, &risky(None, Some(*q)))?.0 {
                if !at_risk.iter().any(|x| x.id == tk.id) {
                    at_risk.push(tk);
                }
            }
        }
        at_risk.sort_by_key(|tk| (tk.sla_due_at, tk.id.get()));
        at_risk.truncate(limit as usize);
        let automatic_hidden = match with_automatic {
            true => 0,
            false => store::tickets::count_automatic_open(c, t, &access, &OPEN)?,
        };
        Ok(MyWork {
            mine: sla_first(c, t, &access, f(AssigneeFilter::User(me)))?,
            unassigned: sla_first(c, t, &access, f(AssigneeFilter::Nobody))?,
            at_risk,
            automatic_hidden,
        })
    })
    .await
}

/// Mitt arbete's order (D50): least SLA time left first — the lists' "SLA-tid, tidigast först"
/// sort (overdue ones lead) — then the tickets no service level runs for, by the lists' "Mest
/// brådskande först" sort. Both halves are the store's own list orderings, not a copy.
fn sla_first(
    c: &mut store::Conn,
    t: crate::domain::TenantId,
    access: &crate::domain::QueueAccess,
    mut f: TicketFilter,
) -> Result<Vec<Ticket>> {
    let limit = f.limit.max(1) as usize;
    f.sort = Sort::Due;
    let mut out = store::tickets::list(c, t, access, &f)?.0;
    f.sort = Sort::Urgent;
    f.limit = 200;
    while out.len() < limit {
        let (page, next) = store::tickets::list(c, t, access, &f)?;
        out.extend(page.into_iter().filter(|tk| tk.sla_due_at.is_none()));
        match next {
            Some(cur) => f.after = Some(cur),
            None => break,
        }
    }
    out.truncate(limit);
    Ok(out)
}

#[derive(Debug, Clone, Serialize)]
pub struct QueueOverview {
    pub id: QueueId,
    pub slug: String,
    pub name: String,
    pub new: i64,
    pub open: i64,
    pub waiting: i64,
    /// When the oldest ticket still waiting for us (new or open) arrived.
    pub oldest_unanswered: Option<NaiveDateTime>,
}

/// Per queue the actor may see: counts of new, open and waiting tickets, and the oldest one.
pub async fn overview(db: &Db, actor: &Actor) -> Result<Vec<QueueOverview>> {
    actor.require(Scope::QueuesRead)?;
    let (t, access) = (actor.tenant, actor.queue_access());
    db.read(move |c| -> Result<Vec<QueueOverview>> {
        let counts = store::tickets::open_counts(c, t, &access)?;
        Ok(store::queues::list(c, t)?
            .into_iter()
            .filter(|q| access.allows(q.id))
            .map(|q| {
                let mut o = QueueOverview {
                    id: q.id,
                    slug: q.slug,
                    name: q.name,
                    new: 0,
                    open: 0,
                    waiting: 0,
                    oldest_unanswered: None,
                };
                for (qid, status, n, oldest) in &counts {
                    if *qid != q.id {
                        continue;
                    }
                    match status {
                        Status::New => o.new = *n,
                        Status::Open => o.open = *n,
                        Status::Waiting => o.waiting = *n,
                        _ => {}
                    }
                    if matches!(status, Status::New | Status::Open) {
                        o.oldest_unanswered = match (o.oldest_unanswered, *oldest) {
                            (Some(a), Some(b)) => Some(a.min(b)),
                            (a, b) => a.or(b),
                        };
                    }
                }
                o
            })
            .collect())
    })
    .await
}

#[derive(Debug, Clone, Serialize)]
pub struct Person {
    pub id: UserId,
    pub name: String,
    pub active: bool,
}

/// Everyone in the tenant (to show names and to pick an assignee).
pub async fn people(db: &Db, actor: &Actor) -> Result<Vec<Person>> {
    actor.require(Scope::TicketsRead)?;
    let t = actor.tenant;
    db.read(move |c| -> Result<Vec<Person>> {
        Ok(store::users::list(c, t)?
            .into_iter()
            .map(|u| Person {
                id: u.id,
                name: u.display_name,
                active: u.active,
            })
            .collect())
    })
    .await
}

#[derive(Debug, Clone, Serialize)]
pub struct QueueChoice {
    pub id: QueueId,
    pub name: String,
    /// The actor works in it (else it is another department's queue).
    pub mine: bool,
    /// Its opening hours (for time left in business time).
    #[serde(skip)]
    pub calendar: std::sync::Arc<crate::sla::Calendar>,
}

/// Every queue of the tenant: a ticket may be transferred to any department.
pub async fn queues(db: &Db, actor: &Actor) -> Result<Vec<QueueChoice>> {
    actor.require(Scope::QueuesRead)?;
    let (t, access) = (actor.tenant, actor.queue_access());
    db.read(move |c| -> Result<Vec<QueueChoice>> {
        let mut cals = crate::sla::engine::calendars_by_queue(c, t)?;
        Ok(store::queues::list(c, t)?
            .into_iter()
            .map(|q| QueueChoice {
                mine: access.allows(q.id),
                calendar: cals.remove(&q.id).unwrap_or_default(),
                id: q.id,
                name: q.name,
            })
            .collect())
    })
    .await
}

/// Tags in use in the tenant (filter choices). Reading them means visiting every tagged ticket,
/// so the list is kept for a minute per tenant (a new tag shows in the filter within a minute).
pub async fn tags(db: &Db, actor: &Actor) -> Result<Vec<String>> {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    use std::time::{Duration, Instant};
    type Cache = Mutex<HashMap<crate::domain::TenantId, (Instant, Vec<String>)>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    actor.require(Scope::TicketsRead)?;
    let t = actor.tenant;
    let cache = CACHE.get_or_init(Cache::default);
    if let Some((at, tags)) = cache.lock().unwrap_or_else(|p| p.into_inner()).get(&t)
        && at.elapsed() < Duration::from_secs(60)
    {
        return Ok(tags.clone());
    }
    let tags = db
        .read(move |c| -> Result<Vec<String>> { Ok(store::workspace::all_tags(c, t)?) })
        .await?;
    cache
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(t, (Instant::now(), tags.clone()));
    Ok(tags)
}

/// What a list row shows besides the ticket (D51): the contact, the referral state and the last
/// activity (the latest message or change).
#[derive(Debug, Clone, Default)]
pub struct RowExtras {
    pub contact: std::collections::HashMap<i64, String>,
    /// "sent" (out on referral) or "answered" (the answer is back), per ticket id.
    pub referral: std::collections::HashMap<i64, String>,
    pub last_message: std::collections::HashMap<i64, NaiveDateTime>,
}

impl RowExtras {
    /// When the ticket last had a message or a change.
    pub fn last_activity(&self, t: &Ticket) -> NaiveDateTime {
        self.last_message
            .get(&t.id.get())
            .map_or(t.updated_at, |m| (*m).max(t.updated_at))
    }
}

/// Row extras for tickets the actor already listed (tenant-scoped; ids come from their list).
pub async fn row_extras(db: &Db, actor: &Actor, tickets: &[&Ticket]) -> Result<RowExtras> {
    actor.require(Scope::TicketsRead)?;
    let t = actor.tenant;
    let ids: Vec<i64> = tickets.iter().map(|tk| tk.id.get()).collect();
    let contacts: Vec<i64> = tickets.iter().filter_map(|tk| tk.contact_id).collect();
    if ids.is_empty() {
        return Ok(RowExtras::default());
    }
    db.read(move |c| -> Result<RowExtras> {
        Ok(RowExtras {
            contact: store::workspace::contact_labels(c, t, &contacts)?
                .into_iter()
                .collect(),
            referral: store::workspace::referral_states(c, t, &ids)?
                .into_iter()
                .collect(),
            last_message: store::workspace::last_messages(c, t, &ids)?
                .into_iter()
                .collect(),
        })
    })
    .await
}
