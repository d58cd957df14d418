//! Finding articles: what people type ([`search`]) and what fits a ticket ([`suggest`]).
//!
//! - Typed search reuses the ticket search's parser (`search::query::UserQuery`: never an error,
//!   quotes make phrases) on the article fields with their boosts (title 4, tags 2.5, summary 1.5,
//!   body 1). Quoted phrases must match; words rank (an article with more of them ranks higher),
//!   stop words ("hur", "jag", "om") are dropped. A word of five letters or more that no article
//!   contains is widened to indexed words within one edit ("byggloov" finds "bygglov").
//! - Suggestions are "more like this" over the ticket's subject and first message: its words
//!   without stop words and mail phrases, weighted by how often they occur (subject words count
//!   double) and how rare they are among articles (BM25's idf), the best [`SUGGEST_TERMS`] asked
//!   for in every field with the field boosts.
//! - Every query is inside one tenant and the given filter (audience, status, department,
//!   language), as terms that must match; snippets and titles are escaped HTML with `<b>` marks.

use std::collections::HashMap;

use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, BoostQuery, Occur, Query, TermQuery};
use tantivy::schema::{IndexRecordOption, Value};
use tantivy::snippet::SnippetGenerator;
use tantivy::{Searcher, TantivyDocument, Term};

use super::index::{Fields, KbIndex};
use crate::domain::{ArticleStatus, Audience, Language, TenantId};
use crate::error::{Error, Result};
use crate::search::analyzer;
use crate::search::highlight;
use crate::search::query::{Clause, Expansions, UserQuery};

/// Words of the ticket text used for suggestions at most.
pub const SUGGEST_TERMS: usize = 24;
/// Hits at most per search.
pub const MAX_HITS: usize = 50;

/// Which articles may be found.
#[derive(Debug, Clone, Default)]
pub struct KbFilter {
    /// `None`: both (agents); `Some(Public)` for citizens.
    pub audience: Option<Audience>,
    /// Empty: any status.
    pub statuses: Vec<ArticleStatus>,
    pub department: Option<String>,
    pub language: Option<Language>,
}

impl KbFilter {
    /// What citizens may see: published public articles.
    pub fn public() -> KbFilter {
        KbFilter {
            audience: Some(Audience::Public),
            statuses: vec![ArticleStatus::Published],
            ..KbFilter::default()
        }
    }

    /// What an agent gets suggested and finds by default: published articles, both audiences.
    pub fn published() -> KbFilter {
        KbFilter {
            statuses: vec![ArticleStatus::Published],
            ..KbFilter::default()
        }
    }

    fn clauses(&self, f: &Fields, tenant: TenantId) -> Vec<(Occur, Box<dyn Query>)> {
        let term = |field, text: &str| -> Box<dyn Query> {
            Box::new(TermQuery::new(
                Term::from_field_text(field, text),
                IndexRecordOption::Basic,
            ))
        };
        let mut out: Vec<(Occur, Box<dyn Query>)> = vec![(
            Occur::Must,
            Box::new(TermQuery::new(
                Term::from_field_u64(f.tenant_id, tenant.get() as u64),
                IndexRecordOption::Basic,
            )),
        )];
        if let Some(a) = self.audience {
            out.push((Occur::Must, term(f.audience, a.as_str())));
        }
        match self.statuses.as_slice() {
            [] => {}
            [one] => out.push((Occur::Must, term(f.status, one.as_str()))),
            many => out.push((
                Occur::Must,
                Box::new(BooleanQuery::new(
                    many.iter()
                        .map(|s| (Occur::Should, term(f.status, s.as_str())))
                        .collect(),
                )),
            )),
        }
        if let Some(d) = &self.department {
            out.push((Occur::Must, term(f.department, d)));
        }
        if let Some(l) = self.language {
            out.push((Occur::Must, term(f.language, l.as_str())));
        }
        out
    }
}

/// One article found, from the index (the caller reads the article itself when it needs more).
#[derive(Debug, Clone, serde::Serialize)]
pub struct KbHit {
    pub article_id: i64,
    pub slug: String,
    pub title: String,
    pub summary: String,
    /// An internal article (staff routines): labelled so, never reply text (D46).
    pub internal: bool,
    /// The title, escaped, with matched words in `<b>`.
    pub title_html: String,
    /// The best passage of the body, escaped, with matched words in `<b>`.
    pub snippet_html: String,
    pub score: f32,
}

fn internal(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Internal(format!("knowledge-base search: {what}: {e}"))
}

fn boosted(q: Box<dyn Query>, boost: f32) -> Box<dyn Query> {
    if (boost - 1.0).abs() < f32::EPSILON {
        q
    } else {
        Box::new(BoostQuery::new(q, boost))
    }
}

/// Search what was typed. Returns the hits and whether typo tolerance widened any word.
pub fn search(
    index: &KbIndex,
    tenant: TenantId,
    text: &str,
    filter: &KbFilter,
    limit: usize,
) -> Result<(Vec<KbHit>, bool)> {
    let f = *index.fields();
    let searcher = index.searcher();
    let mut parsed = UserQuery::parse(text);
    // Stop words only matter when nothing else was typed.
    if parsed.clauses.iter().any(|c| !is_stop_clause(c)) {
        parsed.clauses.retain(|c| !is_stop_clause(c));
    }
    if parsed.is_empty() {
        return Ok((vec![], false));
    }
    let fields = f.boosted();
    let field_list: Vec<_> = fields.iter().map(|(field, _)| *field).collect();
    // Words no article contains are widened to near spellings.
    let mut unknown = parsed.clone();
    unknown.clauses.retain(|c| match c {
        Clause::Word { terms, .. } if terms.len() == 1 => field_list.iter().all(|field| {
            searcher
                .doc_freq(&Term::from_field_text(*field, &terms[0].1))
                .unwrap_or(0)
                == 0
        }),
        _ => false,
    });
    let expansions = if unknown.has_fuzzy_words() {
        Some(Expansions::find_in(&searcher, &field_list, &unknown)?)
    } else {
        None
    };
    let fuzzy = expansions.as_ref().is_some_and(|e| !e.is_empty());
    let parts = parsed.parts_on(&fields, None, expansions.as_ref());
    let mut text_clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    for (clause, alts) in parsed.clauses.iter().zip(parts.0) {
        if alts.is_empty() {
            continue;
        }
        let any: Box<dyn Query> = Box::new(BooleanQuery::new(
            alts.into_iter()
                .map(|(q, b)| (Occur::Should, boosted(q, b)))
                .collect(),
        ));
        let occur = match clause {
            Clause::Phrase { .. } => Occur::Must,
            _ => Occur::Should,
        };
        text_clauses.push((occur, any));
    }
    if text_clauses.is_empty() {
        return Ok((vec![], fuzzy));
    }
    let text_query: Box<dyn Query> = Box::new(BooleanQuery::new(text_clauses));
    let hits = run(&searcher, &f, tenant, text_query, filter, limit)?;
    Ok((hits, fuzzy))
}

fn is_stop_clause(c: &Clause) -> bool {
    match c {
        Clause::Word { raw, .. } => analyzer::is_stop_word(raw),
        _ => false,
    }
}

/// Articles that fit a ticket: more like this over its subject and first message.
pub fn suggest(
    index: &KbIndex,
    tenant: TenantId,
    subject: &str,
    body: &str,
    filter: &KbFilter,
    limit: usize,
) -> Result<Vec<KbHit>> {
    let f = *index.fields();
    let searcher = index.searcher();
    let mut tf: HashMap<String, f32> = HashMap::new();
    for (text, weight) in [(subject, 2.0_f32), (body, 1.0)] {
        for t in analyzer::content_terms(text) {
            *tf.entry(t).or_default() += weight;
        }
    }
    let n = searcher.num_docs().max(1) as f32;
    let mut weighted: Vec<(String, f32)> = tf
        .into_iter()
        .filter_map(|(term, count)| {
            let df = f
                .boosted()
                .iter()
                .map(|(field, _)| {
                    searcher
                        .doc_freq(&Term::from_field_text(*field, &term))
                        .unwrap_or(0)
                })
                .max()
                .unwrap_or(0);
            if df == 0 {
                return None;
            }
            let idf = (1.0 + (n - df as f32 + 0.5) / (df as f32 + 0.5)).ln();
            Some((term, count.sqrt() * idf))
        })
        .collect();
    weighted.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    weighted.truncate(SUGGEST_TERMS);
    if weighted.is_empty() {
        return Ok(vec![]);
    }
    let mut should: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    for (term, w) in &weighted {
        for (field, boost) in f.boosted() {
            should.push((
                Occur::Should,
                boosted(
                    Box::new(TermQuery::new(
                        Term::from_field_text(field, term),
                        IndexRecordOption::WithFreqs,
                    )),
                    boost * w,
                ),
            ));
        }
    }
    run(
        &searcher,
        &f,
        tenant,
        Box::new(BooleanQuery::new(should)),
        filter,
        limit,
    )
}

/// The text query inside the tenant and filter; the best `limit` hits with titles and snippets.
fn run(
    searcher: &Searcher,
    f: &Fields,
    tenant: TenantId,
    text_query: Box<dyn Query>,
    filter: &KbFilter,
    limit: usize,
) -> Result<Vec<KbHit>> {
    let limit = limit.clamp(1, MAX_HITS);
    let mut clauses = filter.clauses(f, tenant);
    clauses.push((Occur::Must, text_query.box_clone()));
    let query = BooleanQuery::new(clauses);
    let top = searcher
        .search(&query, &TopDocs::with_limit(limit).order_by_score())
        .map_err(|e| internal("search", e))?;
    if top.is_empty() {
        return Ok(vec![]);
    }
    let mut snippets = SnippetGenerator::create(searcher, &*text_query, f.body)
        .map_err(|e| internal("snippets", e))?;
    snippets.set_max_num_chars(highlight::SNIPPET_CHARS);
    let title_terms = highlight::query_terms(&*text_query, f.title);
    let mut hits = Vec::with_capacity(top.len());
    for (score, addr) in top {
        let doc: TantivyDocument = searcher.doc(addr).map_err(|e| internal("read", e))?;
        let text = |field| {
            doc.get_first(field)
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .to_string()
        };
        let Some(article_id) = doc.get_first(f.article_id).and_then(|v| v.as_u64()) else {
            continue;
        };
        let title = text(f.title);
        let body = text(f.body_preview);
        hits.push(KbHit {
            article_id: article_id as i64,
            slug: text(f.slug),
            title_html: highlight::highlight_all(&title, &title_terms),
            snippet_html: highlight::snippet_html(&snippets, &body),
            title,
            summary: text(f.summary),
            // The index does not store the audience; `kb` fills this in from the database.
            internal: false,
            score,
        });
    }
    Ok(hits)
}
