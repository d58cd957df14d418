//! Full-text ticket search (tantivy).
//!
//! ```text
//!  ticket_events (change feed) ──► indexer.rs ──► index.rs (tantivy, <data_dir>/search)
//!     store::workspace::changes_after      │ upsert docs from store::search::docs_for,
//!                                          │ commit with the per-tenant cursors as payload
//!  search box ──► query.rs (parse by hand, tenant + queue filter) ──► top hits
//!             ──► re-read the hits from the database (store::tickets::by_ids, the actor's access)
//!             ──► highlight.rs (escaped HTML with <b> around matches)
//! ```
//!
//! The database stays the source of truth: the index only finds candidates, and every hit is read
//! again within the actor's tenant and queues before it is shown, so a stale index can hide a
//! ticket for a moment but never show one the actor may not see.
//!
//! - `schema.rs`: the one schema and its field handles; `SCHEMA_VERSION`.
//! - `analyzer.rs`: the Swedish analyzer (also for the knowledge base later).
//! - `index.rs`: [`TicketIndex`] — open/create, upsert, commit with the feed state.
//! - `query.rs`: user input → tantivy query; fuzzy fallback; filters.
//! - `highlight.rs`: subject and snippet HTML.
//! - `indexer.rs`: the background follower ([`indexer::run`]) and [`indexer::reindex`].

pub mod analyzer;
pub mod highlight;
pub mod index;
pub mod indexer;
pub mod query;
pub mod schema;
#[cfg(test)]
mod tests;

use std::collections::BTreeSet;

use chrono::NaiveDateTime;
use serde::Serialize;
use tantivy::TantivyDocument;
use tantivy::collector::{Count, TopDocs};
use tantivy::schema::Value;
use tantivy::snippet::SnippetGenerator;

use crate::accounts::{Actor, Scope};
use crate::domain::{InvalidValue, Priority, QueueAccess, QueueId, Status, TicketNumber};
use crate::error::{Error, Result};
use crate::store::{self, Db};
pub use index::TicketIndex;
use index::internal;
pub use indexer::{reindex, run};
use query::{Expansions, Filter, UserQuery};

/// Hits per page at most.
pub const MAX_LIMIT: usize = 50;
pub const DEFAULT_LIMIT: usize = 20;
/// How deep paging may go.
pub const MAX_OFFSET: usize = 1000;

/// What the search box sends.
#[derive(Debug, Clone, Default)]
pub struct SearchQuery {
    /// The text typed (any text; see `query.rs`).
    pub text: String,
    /// Only tickets with one of these statuses (all when empty).
    pub statuses: Vec<Status>,
    /// Only this queue (raw id; must be one the actor may see, else "queue not found").
    pub queue: Option<i64>,
    /// Hits per page, 1–50 (default 20).
    pub limit: Option<usize>,
    /// Hits to skip, 0–1000.
    pub offset: Option<usize>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SearchHit {
    pub number: TicketNumber,
    pub subject: String,
    /// The subject, HTML-escaped, with matched words in `<b>`.
    pub subject_html: String,
    /// The best passage of the messages, HTML-escaped, with matched words in `<b>`.
    pub snippet_html: String,
    pub status: Status,
    pub priority: Priority,
    pub queue_id: QueueId,
    pub created_at: NaiveDateTime,
    pub score: f32,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct SearchResults {
    pub hits: Vec<SearchHit>,
    /// Matching tickets in all pages (the index's count, less hits the database no longer allows).
    pub total: usize,
    /// True when nothing matched as typed and these hits come from the typo-tolerant retry.
    pub fuzzy: bool,
}

/// What the index part of a search found, before the database has its say.
struct IndexHit {
    ticket_id: i64,
    score: f32,
    snippet_html: String,
}

struct IndexOutcome {
    hits: Vec<IndexHit>,
    total: usize,
    fuzzy: bool,
    subject_terms: BTreeSet<String>,
}

/// Search the actor's tickets. Requires `tickets:read`; finds only tickets in the actor's tenant
/// and queues.
pub async fn search_tickets(
    db: &Db,
    index: &TicketIndex,
    actor: &Actor,
    q: SearchQuery,
) -> Result<SearchResults> {
    actor.require(Scope::TicketsRead)?;
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(InvalidValue::new("limit", format!("1–{MAX_LIMIT}")).into());
    }
    let offset = q.offset.unwrap_or(0);
    if offset > MAX_OFFSET {
        return Err(InvalidValue::new("offset", format!("0–{MAX_OFFSET}")).into());
    }
    let (t, access) = (actor.tenant, actor.queue_access());
    let queue = match q.queue {
        Some(raw) => {
            let access = access.clone();
            Some(
                db.read(move |c| -> Result<QueueId> {
                    store::queues::lookup(c, t, raw)?
                        .filter(|x| access.allows(x.id))
                        .map(|x| x.id)
                        .ok_or(Error::NotFound("queue"))
                })
                .await?,
            )
        }
        None => None,
    };
    let parsed = UserQuery::parse(&q.text);
    if parsed.is_empty() || matches!(&access, QueueAccess::Only(qs) if qs.is_empty()) {
        return Ok(SearchResults::default());
    }
    let filter = Filter {
        tenant: t,
        access: access.clone(),
        statuses: q.statuses.clone(),
        queue,
    };
    let idx = index.clone();
    let found =
        tokio::task::spawn_blocking(move || search_index(&idx, &parsed, &filter, limit, offset))
            .await
            .map_err(|e| internal("search task", e))??;
    if found.hits.is_empty() {
        return Ok(SearchResults {
            hits: vec![],
            total: found.total,
            fuzzy: found.fuzzy,
        });
    }
    let ids: Vec<i64> = found.hits.iter().map(|h| h.ticket_id).collect();
    let tickets = db
        .read(move |c| store::tickets::by_ids(c, t, &access, &ids))
        .await?;
    let mut by_id: std::collections::HashMap<i64, store::tickets::Ticket> =
        tickets.into_iter().map(|tk| (tk.id.get(), tk)).collect();
    let wanted = |tk: &store::tickets::Ticket| {
        (q.statuses.is_empty() || q.statuses.contains(&tk.status))
            && queue.is_none_or(|qid| tk.queue_id == qid)
    };
    let mut hits = Vec::with_capacity(found.hits.len());
    let mut dropped = 0;
    for h in found.hits {
        match by_id.remove(&h.ticket_id).filter(wanted) {
            Some(tk) => hits.push(SearchHit {
                subject_html: highlight::highlight_all(&tk.subject, &found.subject_terms),
                snippet_html: h.snippet_html,
                number: tk.number,
                subject: tk.subject,
                status: tk.status,
                priority: tk.priority,
                queue_id: tk.queue_id,
                created_at: tk.created_at,
                score: h.score,
            }),
            None => dropped += 1,
        }
    }
    Ok(SearchResults {
        hits,
        total: found.total.saturating_sub(dropped),
        fuzzy: found.fuzzy,
    })
}

/// The blocking part: query the index (plain, then fuzzy when nothing matched), read the hits'
/// stored fields and build their body snippets.
fn search_index(
    index: &TicketIndex,
    parsed: &UserQuery,
    filter: &Filter,
    limit: usize,
    offset: usize,
) -> Result<IndexOutcome> {
    let f = *index.fields();
    let searcher = index.searcher();
    let run = |expansions: Option<&Expansions>| -> Result<_> {
        let Some(text) = parsed.to_query(&f, expansions) else {
            return Ok(None);
        };
        let Some(query) = filter.apply(&f, text) else {
            return Ok(None);
        };
        let (top, total) = searcher
            .search(
                &*query,
                &(
                    TopDocs::with_limit(limit)
                        .and_offset(offset)
                        .order_by_score(),
                    Count,
                ),
            )
            .map_err(|e| internal("search", e))?;
        Ok(Some((query, top, total)))
    };
    let mut fuzzy = false;
    let mut outcome = run(None)?;
    if matches!(&outcome, Some((_, _, 0))) && parsed.has_fuzzy_words() {
        let expansions = Expansions::find(&searcher, &f, parsed)?;
        if !expansions.is_empty() {
            outcome = run(Some(&expansions))?;
            fuzzy = true;
        }
    }
    let Some((query, top, total)) = outcome else {
        return Ok(IndexOutcome {
            hits: vec![],
            total: 0,
            fuzzy,
            subject_terms: BTreeSet::new(),
        });
    };
    let mut body_snippets = SnippetGenerator::create(&searcher, &*query, f.body)
        .map_err(|e| internal("snippets", e))?;
    body_snippets.set_max_num_chars(highlight::SNIPPET_CHARS);
    let mut hits = Vec::with_capacity(top.len());
    for (score, addr) in top {
        let doc: TantivyDocument = searcher
            .doc(addr)
            .map_err(|e| internal("read document", e))?;
        let Some(ticket_id) = doc
            .get_first(f.ticket_id)
            .and_then(|v| v.as_u64())
            .and_then(|v| i64::try_from(v).ok())
        else {
            continue;
        };
        let body = doc
            .get_first(f.body_preview)
            .and_then(|v| v.as_str())
            .unwrap_or("");
        hits.push(IndexHit {
            ticket_id,
            score,
            snippet_html: highlight::snippet_html(&body_snippets, body),
        });
    }
    Ok(IndexOutcome {
        hits,
        total,
        fuzzy,
        subject_terms: highlight::query_terms(&*query, f.subject),
    })
}
