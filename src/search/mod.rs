//! Full-text ticket search (tantivy).
//!
//! ```text
//!  ticket_events (change feed) ──► indexer.rs ──► index.rs (tantivy, <data_dir>/search)
//!     store::workspace::changes_after      │ upsert docs from store::search::docs_for,
//!                                          │ commit with the per-tenant cursors as payload
//!  search box ──► query.rs (parse by hand; tenant + queue + status filter)
//!             ──► top hits (collect.rs: filter on fast fields, Block-WAND pruning, capped count;
//!                 several words: best candidates from `all`, re-ranked with field boosts)
//!             ──► re-read the hits from the database (store::tickets::by_ids, the actor's access)
//!             ──► highlight.rs (escaped HTML with <b> around matches)
//! ```
//!
//! Speed (1,000,000 synthetic tickets, 2 cores, see `bench.rs`): a query takes a few ms at the
//! median, ~25–30 ms at p99 on a busy machine; counts stop at [`COUNT_CAP`] ("1000+").
//!
//! The database stays the source of truth: the index only finds candidates, and every hit is read
//! again within the actor's tenant and queues before it is shown, so a stale index can hide a
//! ticket for a moment but never show one the actor may not see.
//!
//! - `schema.rs`: the one schema and its field handles; `SCHEMA_VERSION`.
//! - `analyzer.rs`: the Swedish analyzer (also for the knowledge base later).
//! - `index.rs`: [`TicketIndex`] — open/create, upsert, commit with the feed state.
//! - `query.rs`: user input → tantivy query; fuzzy fallback; filters.
//! - `collect.rs`: collectors that filter on fast fields; re-ranking of candidates.
//! - `highlight.rs`: subject and snippet HTML.
//! - `indexer.rs`: the background follower ([`indexer::run`]) and [`indexer::reindex`].

pub mod analyzer;
#[cfg(all(test, feature = "bench"))]
mod bench;
pub mod collect;
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
use tantivy::schema::Value;
use tantivy::snippet::SnippetGenerator;

use crate::accounts::{Actor, Scope};
use crate::domain::Reason;
use crate::domain::{InvalidValue, Priority, QueueId, Status, TicketNumber};
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
/// Matches are counted up to this many.
pub const COUNT_CAP: usize = 1000;

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

#[derive(Debug, Clone, Serialize)]
pub struct SearchResults {
    pub hits: Vec<SearchHit>,
    /// Matching tickets in all pages (the index's count, less hits on this page that the database
    /// no longer allows). Counted up to [`COUNT_CAP`]: when `total_exact` is false there are at
    /// least `total` ("1000+").
    pub total: usize,
    pub total_exact: bool,
    /// True when nothing matched as typed and these hits come from the typo-tolerant retry.
    pub fuzzy: bool,
}

impl Default for SearchResults {
    fn default() -> Self {
        SearchResults {
            hits: vec![],
            total: 0,
            total_exact: true,
            fuzzy: false,
        }
    }
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
    total_exact: bool,
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
    let (limit, offset) = page_of(&q)?;
    let queue = queue_filter(db, actor, q.queue).await?;
    let parsed = UserQuery::parse(&q.text);
    if parsed.is_empty() {
        return Ok(SearchResults::default());
    }
    let filter = Filter {
        tenant: actor.tenant,
        access: actor.queue_access(),
        statuses: q.statuses.clone(),
        queue,
    };
    let idx = index.clone();
    let found = tokio::task::spawn_blocking(move || {
        search_index(&idx, &parsed, &filter, limit, offset, Plan::Auto)
    })
    .await
    .map_err(|e| internal("search task", e))??;
    if found.hits.is_empty() {
        return Ok(SearchResults {
            hits: vec![],
            total: found.total,
            total_exact: found.total_exact,
            fuzzy: found.fuzzy,
        });
    }
    recheck_in_database(db, actor, &q.statuses, queue, found).await
}

/// The page asked for: (limit, offset), each checked against its range.
fn page_of(q: &SearchQuery) -> Result<(usize, usize)> {
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(InvalidValue::new(
            "limit",
            Reason::Range {
                min: 1,
                max: MAX_LIMIT,
            },
        )
        .into());
    }
    let offset = q.offset.unwrap_or(0);
    if offset > MAX_OFFSET {
        return Err(InvalidValue::new(
            "offset",
            Reason::Range {
                min: 0,
                max: MAX_OFFSET,
            },
        )
        .into());
    }
    Ok((limit, offset))
}

/// The queue to search in, if one was asked for: it must be one the actor may see.
async fn queue_filter(db: &Db, actor: &Actor, raw: Option<i64>) -> Result<Option<QueueId>> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    let (t, access) = (actor.tenant, actor.queue_access());
    let id = db
        .read(move |c| -> Result<QueueId> {
            store::queues::lookup(c, t, raw)?
                .filter(|x| access.allows(x.id))
                .map(|x| x.id)
                .ok_or(Error::NotFound("queue"))
        })
        .await?;
    Ok(Some(id))
}

/// Read the index's hits again from the database within the actor's tenant and queues, drop the
/// ones it no longer allows (or that no longer match the status and queue filter) and lower an
/// exact total by as many.
async fn recheck_in_database(
    db: &Db,
    actor: &Actor,
    statuses: &[Status],
    queue: Option<QueueId>,
    found: IndexOutcome,
) -> Result<SearchResults> {
    let (t, access) = (actor.tenant, actor.queue_access());
    let ids: Vec<i64> = found.hits.iter().map(|h| h.ticket_id).collect();
    let tickets = db
        .read(move |c| store::tickets::by_ids(c, t, &access, &ids))
        .await?;
    let mut by_id: std::collections::HashMap<i64, store::tickets::Ticket> =
        tickets.into_iter().map(|tk| (tk.id.get(), tk)).collect();
    let wanted = |tk: &store::tickets::Ticket| {
        (statuses.is_empty() || statuses.contains(&tk.status))
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
        total: if found.total_exact {
            found.total.saturating_sub(dropped)
        } else {
            found.total
        },
        total_exact: found.total_exact,
        fuzzy: found.fuzzy,
    })
}

/// How the filter meets the query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(
    not(test),
    expect(dead_code, reason = "the fixed plans are for tests and the benchmark")
)]
pub(crate) enum Plan {
    /// Choose: prune for a single word in a large tenant, else filter in the query.
    Auto,
    /// Query without filter (Block-WAND for a single word), filter in the collector.
    Prune,
    /// Filter as part of the query (an intersection that skips other tenants' documents).
    FilterInQuery,
}

/// A tenant with at least this share of the index searches plain words by pruning.
const PRUNE_TENANT_SHARE: f64 = 0.2;
/// Several words: this many candidates (at least) are ranked again with the field boosts.
pub const RERANK_WINDOW: usize = 200;
/// With phrases: this many candidates holding the phrases' words are checked for the phrases.
pub const PHRASE_WINDOW: usize = 500;

struct Attempt {
    /// Phrases were looked for among the best candidates only, and too few held them.
    needs_exact: bool,
    boosted: Box<dyn tantivy::query::Query>,
    top: Vec<(f32, tantivy::DocAddress)>,
    total: usize,
    total_exact: bool,
}

/// The blocking part: query the index (plain, then fuzzy when nothing matched), count, read the
/// hits' stored fields and build their body snippets.
///
/// - One word: the field-boosted query (a union of term queries) finds the top hits directly.
/// - Several: the candidate query on `all` finds the best [`RERANK_WINDOW`] by plain BM25, which
///   are then scored with the field-boosted query.
/// - Phrases: first as their words ([`PHRASE_WINDOW`] candidates), checked for the phrase when
///   ranked; only if fewer than a page hold it, with phrase queries on everything.
/// - Plain words (and phrases as words) in a large tenant are searched without the filter in the
///   query (it is checked in the collector), so that tantivy can prune.
fn search_index(
    index: &TicketIndex,
    parsed: &UserQuery,
    filter: &Filter,
    limit: usize,
    offset: usize,
    plan: Plan,
) -> Result<IndexOutcome> {
    if filter.allows_nothing() {
        return Ok(IndexOutcome::empty());
    }
    let f = *index.fields();
    let searcher = index.searcher();
    let fast = filter.fast();
    let prune = parsed.is_pure_terms() && prunes(&searcher, &f, &fast, plan)?;
    let search = IndexSearch {
        f,
        searcher: &searcher,
        fast,
        filter,
        parsed,
        single: parsed.is_single_term(),
        prune,
        k: offset + limit,
    };
    let (outcome, fuzzy) = search.plain_then_fuzzy()?;
    let Some(Attempt {
        boosted,
        mut top,
        total,
        total_exact,
        ..
    }) = outcome
    else {
        return Ok(IndexOutcome::empty());
    };
    top.truncate(search.k);
    let hits = search.read_hits(&*boosted, top, offset, limit)?;
    Ok(IndexOutcome {
        hits,
        total,
        total_exact,
        fuzzy,
        subject_terms: highlight::query_terms(&*boosted, f.subject),
    })
}

impl IndexOutcome {
    fn empty() -> Self {
        IndexOutcome {
            hits: vec![],
            total: 0,
            total_exact: true,
            fuzzy: false,
            subject_terms: BTreeSet::new(),
        }
    }
}

/// Whether plain words are searched without the filter in the query (so that tantivy can prune):
/// as the plan says, or for [`Plan::Auto`] when the actor's tenant is a large share of the index.
fn prunes(
    searcher: &tantivy::Searcher,
    f: &schema::Fields,
    fast: &collect::FastFilter,
    plan: Plan,
) -> Result<bool> {
    Ok(match plan {
        Plan::Prune => true,
        Plan::FilterInQuery => false,
        Plan::Auto => {
            let tenant = tantivy::Term::from_field_u64(f.tenant_id, fast.tenant);
            let docs = searcher
                .doc_freq(&tenant)
                .map_err(|e| internal("search", e))?;
            docs as f64 >= searcher.num_docs() as f64 * PRUNE_TENANT_SHARE
        }
    })
}

/// One query against the index: what is searched, for whom, and how many hits are wanted.
struct IndexSearch<'a> {
    f: schema::Fields,
    searcher: &'a tantivy::Searcher,
    fast: collect::FastFilter,
    filter: &'a Filter,
    parsed: &'a UserQuery,
    /// The query is one word: the boosted query finds the top hits directly.
    single: bool,
    /// Plain words are searched without the filter in the query (see [`prunes`]).
    prune: bool,
    /// Hits up to the end of the wanted page.
    k: usize,
}

impl IndexSearch<'_> {
    /// The query as typed; when nothing matched and some words may be typos, once more with their
    /// close spellings. Also says whether the hits come from the typo-tolerant retry.
    fn plain_then_fuzzy(&self) -> Result<(Option<Attempt>, bool)> {
        let mut fuzzy = false;
        let mut outcome = self.phrase_aware(None)?;
        if outcome.as_ref().is_some_and(|a| a.top.is_empty()) && self.parsed.has_fuzzy_words() {
            let expansions = Expansions::find(self.searcher, &self.f, self.parsed)?;
            if !expansions.is_empty() {
                outcome = self.phrase_aware(Some(&expansions))?;
                fuzzy = outcome.as_ref().is_some_and(|a| !a.top.is_empty());
            }
        }
        Ok((outcome, fuzzy))
    }

    /// Phrases are first looked for among the best candidates that hold their words; when too few
    /// of those hold the phrase, the phrase query runs on everything.
    fn phrase_aware(&self, expansions: Option<&Expansions>) -> Result<Option<Attempt>> {
        match self.attempt(expansions, false)? {
            Some(a) if a.needs_exact => self.attempt(expansions, true),
            other => Ok(other),
        }
    }

    /// One attempt with a given candidate query; see [`search_index`].
    fn attempt(
        &self,
        expansions: Option<&Expansions>,
        exact_phrases: bool,
    ) -> Result<Option<Attempt>> {
        let (single, k) = (self.single, self.k);
        let parts = self.parsed.parts(&self.f, expansions);
        let Some(boosted) = parts.to_query() else {
            return Ok(None);
        };
        let loose_phrases = !single && !exact_phrases && self.parsed.has_phrases();
        let Some(query) = self.candidate_query(&*boosted, expansions, exact_phrases) else {
            return Ok(None);
        };
        let window = if single {
            k
        } else if loose_phrases {
            k.max(PHRASE_WINDOW)
        } else {
            k.max(RERANK_WINDOW)
        };
        let mut top = self
            .searcher
            .search(
                &*query,
                &collect::FilteredTop {
                    k: window,
                    filter: self.fast.clone(),
                },
            )
            .map_err(|e| internal("search", e))?;
        let complete = top.len() < window;
        if !single {
            top = collect::rescore(self.searcher, &parts, top).map_err(|e| internal("rank", e))?;
        }
        let (total, total_exact) = if complete {
            (top.len(), true)
        } else if loose_phrases {
            // The phrases held in this many of the best candidates: a lower bound.
            (top.len(), false)
        } else {
            self.count(&*query, top.len())?
        };
        Ok(Some(Attempt {
            needs_exact: loose_phrases && !complete && top.len() < k,
            boosted,
            top,
            total,
            total_exact,
        }))
    }

    /// The query that finds the candidates: the boosted query for one word, else the candidate
    /// query on `all`; with the filter in it unless plain words are pruned. None: nothing matches.
    fn candidate_query(
        &self,
        boosted: &dyn tantivy::query::Query,
        expansions: Option<&Expansions>,
        exact_phrases: bool,
    ) -> Option<Box<dyn tantivy::query::Query>> {
        let base = if self.single {
            boosted.box_clone()
        } else {
            self.parsed.candidates(&self.f, expansions, exact_phrases)?
        };
        let pure = self.parsed.is_pure_terms()
            && (self.single || (expansions.is_none() && !exact_phrases));
        if pure && self.prune {
            Some(base)
        } else {
            self.filter.apply(&self.f, base)
        }
    }

    /// All matches, counted up to [`COUNT_CAP`] (at least the `found` already in hand), and
    /// whether that count is exact.
    fn count(&self, query: &dyn tantivy::query::Query, found: usize) -> Result<(usize, bool)> {
        let n = self
            .searcher
            .search(
                query,
                &collect::CappedCount {
                    cap: COUNT_CAP,
                    filter: self.fast.clone(),
                },
            )
            .map_err(|e| internal("count", e))?;
        Ok((n.max(found), n < COUNT_CAP))
    }

    /// The page of hits: each one's ticket id from its stored fields and its body snippet.
    fn read_hits(
        &self,
        boosted: &dyn tantivy::query::Query,
        top: Vec<(f32, tantivy::DocAddress)>,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<IndexHit>> {
        let f = &self.f;
        let mut snippets = SnippetGenerator::create(self.searcher, boosted, f.all)
            .map_err(|e| internal("snippets", e))?;
        snippets.set_max_num_chars(highlight::SNIPPET_CHARS);
        let mut hits = Vec::with_capacity(limit);
        for (score, addr) in top.into_iter().skip(offset) {
            let doc: TantivyDocument = self
                .searcher
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
                snippet_html: highlight::snippet_html(&snippets, body),
            });
        }
        Ok(hits)
    }
}
