//! What an agent types, turned into a tantivy query — by hand, never through tantivy's query
//! syntax, so no input can be an error: `"`, `*`, `AND(` or an empty box are just text.
//!
//! - Plain words are AND-ed; each may match the subject (boost 3), the contact (2) or anywhere in
//!   the ticket (`all`: subject, contact and message bodies; 1). A word the analyzer splits
//!   (`e-post`, `anna.svensson@example.se`) is a phrase.
//! - Several words: candidates come from `all` alone ([`UserQuery::candidates`]: for plain words a
//!   pure intersection of term queries, which tantivy prunes), and the best of them are ranked
//!   again with the field boosts ([`UserQuery::to_query`]).
//! - `"quoted words"` are phrases (an unclosed quote runs to the end).
//! - A ticket number (`KC-2026-000123`) matches that ticket's number exactly (strong boost), or
//!   the number written in a subject or message.
//! - Fuzzy fallback: when the plain query finds nothing, words of ≥ 5 characters are widened to
//!   indexed terms within edit distance 1 (a transposition counts as 1), looked up in the term
//!   dictionaries and added as ordinary term queries, so snippets highlight them too.
//!
//! Every query is wrapped in the tenant filter and the actor's queue filter ([`Filter`]).

use std::collections::{BTreeSet, HashMap};

use tantivy::Searcher;
use tantivy::Term;
use tantivy::query::{
    BooleanQuery, BoostQuery, ConstScoreQuery, FuzzyTermQuery, Occur, PhraseQuery, Query, TermQuery,
};
use tantivy::schema::{Field, IndexRecordOption};

use super::analyzer;
use super::collect::FastFilter;
use super::index::internal;
use super::schema::{Fields, id_u64, status_code};
use crate::domain::{QueueAccess, QueueId, Status, TenantId, TicketNumber};
use crate::error::Result;

/// Longer input is cut (at a character boundary).
pub const MAX_QUERY_BYTES: usize = 500;
/// At most this many words/phrases are used; the rest is ignored.
pub const MAX_CLAUSES: usize = 12;
/// Words shorter than this (in characters) are never widened to fuzzy matches.
pub const FUZZY_MIN_CHARS: usize = 5;
/// At most this many fuzzy variants per word and field (the most frequent first would need the
/// postings; the dictionary order is good enough for typos).
pub const MAX_FUZZY_VARIANTS: usize = 16;

pub const SUBJECT_BOOST: f32 = 3.0;
pub const CONTACT_BOOST: f32 = 2.0;
/// `all` holds the subject and contact too, so a subject match scores 3 + 1.
pub const ALL_BOOST: f32 = 1.0;
const NUMBER_BOOST: f32 = 20.0;
/// A fuzzy variant scores less than the word as typed would.
const FUZZY_FACTOR: f32 = 0.6;

/// One part of the user's query. All parts must match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Clause {
    /// A word as typed and its analysed terms with positions (several: matched as a phrase).
    Word {
        raw: String,
        terms: Vec<(usize, String)>,
    },
    /// A quoted phrase's analysed terms with positions.
    Phrase { terms: Vec<(usize, String)> },
    /// A ticket number, canonical (`KC-2026-000123`), and its analysed terms.
    Number {
        number: String,
        terms: Vec<(usize, String)>,
    },
}

impl Clause {
    /// Equal as a query (a word typed in another case is the same word).
    fn same_as(&self, other: &Clause) -> bool {
        match (self, other) {
            (Clause::Word { terms: a, .. }, Clause::Word { terms: b, .. }) => a == b,
            (a, b) => a == b,
        }
    }
}

/// A parsed search box.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserQuery {
    pub clauses: Vec<Clause>,
}

fn cut(s: &str, max: usize) -> &str {
    super::schema::truncate_bytes(s, max)
}

impl UserQuery {
    /// Parse what was typed. Never fails: text that yields no terms yields an empty query.
    pub fn parse(input: &str) -> UserQuery {
        let input = cut(input, MAX_QUERY_BYTES);
        let mut clauses: Vec<Clause> = Vec::new();
        let mut rest = input;
        loop {
            rest = rest.trim_start();
            if rest.is_empty() || clauses.len() >= MAX_CLAUSES {
                break;
            }
            let clause = if let Some(after) = rest.strip_prefix('"') {
                let (inside, next) = match after.find('"') {
                    Some(end) => (&after[..end], &after[end + 1..]),
                    None => (after, ""),
                };
                rest = next;
                let terms = analyzer::positioned_terms(inside);
                (!terms.is_empty()).then_some(Clause::Phrase { terms })
            } else {
                let end = rest
                    .find(|c: char| c.is_whitespace() || c == '"')
                    .unwrap_or(rest.len());
                let word = &rest[..end];
                rest = &rest[end..];
                Self::word(word)
            };
            if let Some(c) = clause
                && !clauses.iter().any(|x| x.same_as(&c))
            {
                clauses.push(c);
            }
        }
        UserQuery { clauses }
    }

    fn word(word: &str) -> Option<Clause> {
        let terms = analyzer::positioned_terms(word);
        if terms.is_empty() {
            return None;
        }
        let bare = word.trim_matches(|c: char| !c.is_alphanumeric());
        if let Ok(n) = TicketNumber::parse(bare) {
            return Some(Clause::Number {
                number: n.to_string(),
                terms,
            });
        }
        Some(Clause::Word {
            raw: word.to_string(),
            terms,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.clauses.is_empty()
    }

    /// Single-term words long enough to be widened to fuzzy matches: (as typed, term).
    fn fuzzy_words(&self) -> impl Iterator<Item = &str> {
        self.clauses.iter().filter_map(|c| match c {
            Clause::Word { raw, terms }
                if terms.len() == 1
                    && raw.chars().filter(|c| c.is_alphanumeric()).count() >= FUZZY_MIN_CHARS =>
            {
                Some(terms[0].1.as_str())
            }
            _ => None,
        })
    }

    /// True when the query is one word: its tantivy query is a pure union of term queries, which
    /// tantivy can search with Block-WAND (skipping documents that cannot make the top hits).
    pub fn is_single_term(&self) -> bool {
        matches!(
            self.clauses.as_slice(),
            [Clause::Word { terms, .. } | Clause::Phrase { terms }] if terms.len() == 1
        )
    }

    /// True when the candidate query (with phrases as their words) is a pure intersection of
    /// term queries (no ticket numbers), which tantivy prunes with Block-WAND.
    pub fn is_pure_terms(&self) -> bool {
        self.clauses
            .iter()
            .all(|c| matches!(c, Clause::Word { .. } | Clause::Phrase { .. }))
    }

    /// True when some part is a phrase (quoted, or a word the analyzer splits).
    pub fn has_phrases(&self) -> bool {
        self.clauses.iter().any(|c| {
            matches!(c, Clause::Word { terms, .. } | Clause::Phrase { terms } if terms.len() > 1)
        })
    }

    pub fn has_fuzzy_words(&self) -> bool {
        self.fuzzy_words().next().is_some()
    }

    /// The field-boosted query as parts: every clause must match; within a clause any of its
    /// alternatives (a term or phrase query on one field, with its boost) may, and the scores of
    /// those that match add up.
    pub fn parts(&self, f: &Fields, fuzzy: Option<&Expansions>) -> Parts {
        self.parts_on(&text_fields(f), Some(f.number), fuzzy)
    }

    /// [`UserQuery::parts`] on any index: its text fields with their boosts, and the field that
    /// holds ticket numbers exactly (if any).
    pub fn parts_on(
        &self,
        fields: &[(Field, f32)],
        number_field: Option<Field>,
        fuzzy: Option<&Expansions>,
    ) -> Parts {
        let mut clauses = Vec::new();
        for c in &self.clauses {
            let mut alts: Vec<(Box<dyn Query>, f32)> = Vec::new();
            match c {
                Clause::Word { terms, .. } | Clause::Phrase { terms } if terms.len() == 1 => {
                    let term = terms[0].1.as_str();
                    for &(field, boost) in fields {
                        alts.push((term_query(field, term), boost));
                        for v in fuzzy.map(|x| x.variants(field, term)).unwrap_or_default() {
                            alts.push((term_query(field, v), boost * FUZZY_FACTOR));
                        }
                    }
                }
                Clause::Word { terms, .. } | Clause::Phrase { terms } => {
                    for &(field, boost) in fields {
                        alts.push((phrase(field, terms), boost));
                    }
                }
                Clause::Number { number, terms } => {
                    if let Some(nf) = number_field {
                        alts.push((
                            Box::new(TermQuery::new(
                                Term::from_field_text(nf, number),
                                IndexRecordOption::Basic,
                            )),
                            NUMBER_BOOST,
                        ));
                    }
                    if terms.len() > 1 || number_field.is_none() {
                        for &(field, boost) in fields {
                            alts.push((phrase(field, terms), boost));
                        }
                    }
                }
            }
            clauses.push(alts);
        }
        Parts(clauses)
    }

    /// The field-boosted query (without filters); `None` when there is nothing to search for.
    pub fn to_query(&self, f: &Fields, fuzzy: Option<&Expansions>) -> Option<Box<dyn Query>> {
        self.parts(f, fuzzy).to_query()
    }
}

impl UserQuery {
    /// The query on `all` that finds the tickets of [`UserQuery::to_query`] (every field's text
    /// is also in `all`), without field boosts. With `exact_phrases` false, a phrase is only its
    /// words anywhere (a superset: the real phrase is checked when candidates are ranked with
    /// [`UserQuery::parts`]), which keeps a query of words and phrases a pure intersection of
    /// term queries. `None` when there is nothing to search for.
    pub fn candidates(
        &self,
        f: &Fields,
        fuzzy: Option<&Expansions>,
        exact_phrases: bool,
    ) -> Option<Box<dyn Query>> {
        let mut must: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for c in &self.clauses {
            let q: Box<dyn Query> = match c {
                Clause::Word { terms, .. } | Clause::Phrase { terms } if terms.len() == 1 => {
                    let term = terms[0].1.as_str();
                    let variants = fuzzy.map(|x| x.variants(f.all, term)).unwrap_or_default();
                    let exact = Box::new(TermQuery::new(
                        Term::from_field_text(f.all, term),
                        IndexRecordOption::WithFreqs,
                    ));
                    if variants.is_empty() {
                        exact
                    } else {
                        let mut any: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Should, exact)];
                        for v in variants {
                            any.push((
                                Occur::Should,
                                Box::new(TermQuery::new(
                                    Term::from_field_text(f.all, v),
                                    IndexRecordOption::WithFreqs,
                                )),
                            ));
                        }
                        Box::new(BooleanQuery::new(any))
                    }
                }
                Clause::Word { terms, .. } | Clause::Phrase { terms } if exact_phrases => {
                    phrase(f.all, terms)
                }
                Clause::Word { terms, .. } | Clause::Phrase { terms } => {
                    for (_, t) in terms {
                        must.push((Occur::Must, term_query(f.all, t)));
                    }
                    continue;
                }
                Clause::Number { number, terms } => {
                    let mut any: Vec<(Occur, Box<dyn Query>)> = vec![(
                        Occur::Should,
                        Box::new(TermQuery::new(
                            Term::from_field_text(f.number, number),
                            IndexRecordOption::Basic,
                        )),
                    )];
                    if terms.len() > 1 {
                        any.push((Occur::Should, phrase(f.all, terms)));
                    }
                    Box::new(BooleanQuery::new(any))
                }
            };
            must.push((Occur::Must, q));
        }
        match must.len() {
            0 => None,
            1 => must.pop().map(|(_, q)| q),
            _ => Some(Box::new(BooleanQuery::new(must))),
        }
    }
}

fn term_query(field: Field, term: &str) -> Box<dyn Query> {
    Box::new(TermQuery::new(
        Term::from_field_text(field, term),
        IndexRecordOption::WithFreqs,
    ))
}

/// Terms at these relative positions in `field` (a term query for a single term).
fn phrase(field: Field, terms: &[(usize, String)]) -> Box<dyn Query> {
    let first = terms.first().map(|(p, _)| *p).unwrap_or(0);
    let mut with_pos: Vec<(usize, Term)> = terms
        .iter()
        .map(|(p, t)| (p - first, Term::from_field_text(field, t)))
        .collect();
    if with_pos.len() > 1 {
        Box::new(PhraseQuery::new_with_offset(with_pos))
    } else {
        match with_pos.pop() {
            Some((_, t)) => Box::new(TermQuery::new(t, IndexRecordOption::WithFreqs)),
            None => Box::new(tantivy::query::EmptyQuery),
        }
    }
}

fn text_fields(f: &Fields) -> [(Field, f32); 3] {
    [
        (f.subject, SUBJECT_BOOST),
        (f.contact, CONTACT_BOOST),
        (f.all, ALL_BOOST),
    ]
}

fn boosted(q: Box<dyn Query>, boost: f32) -> Box<dyn Query> {
    if (boost - 1.0).abs() < f32::EPSILON {
        q
    } else {
        Box::new(BoostQuery::new(q, boost))
    }
}

/// The parts of a field-boosted query (see [`UserQuery::parts`]).
pub struct Parts(pub Vec<Vec<(Box<dyn Query>, f32)>>);

impl Parts {
    pub fn to_query(&self) -> Option<Box<dyn Query>> {
        let mut must: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for alts in &self.0 {
            let mut any: Vec<(Occur, Box<dyn Query>)> = alts
                .iter()
                .map(|(q, boost)| (Occur::Should, boosted(q.box_clone(), *boost)))
                .collect();
            match any.len() {
                0 => {}
                1 => must.extend(any.pop().map(|(_, q)| (Occur::Must, q))),
                _ => must.push((Occur::Must, Box::new(BooleanQuery::new(any)))),
            }
        }
        match must.len() {
            0 => None,
            1 => must.pop().map(|(_, q)| q),
            _ => Some(Box::new(BooleanQuery::new(must))),
        }
    }
}

/// Fuzzy variants found in the index, per (field, term).
#[derive(Debug, Default, Clone)]
pub struct Expansions {
    map: HashMap<(Field, String), Vec<String>>,
}

impl Expansions {
    fn variants(&self, field: Field, term: &str) -> Vec<&str> {
        self.map
            .get(&(field, term.to_string()))
            .map(|v| v.iter().map(String::as_str).collect())
            .unwrap_or_default()
    }

    /// True when no word has any variant (a fuzzy retry would find nothing new).
    pub fn is_empty(&self) -> bool {
        self.map.values().all(Vec::is_empty)
    }

    /// Look up, in every segment's term dictionary, the indexed terms within edit distance 1 of
    /// each fuzzy-eligible word.
    pub fn find(searcher: &Searcher, f: &Fields, q: &UserQuery) -> Result<Expansions> {
        let fields: Vec<Field> = text_fields(f).iter().map(|(field, _)| *field).collect();
        Self::find_in(searcher, &fields, q)
    }

    /// [`Expansions::find`] in the given fields of any index.
    pub fn find_in(searcher: &Searcher, fields: &[Field], q: &UserQuery) -> Result<Expansions> {
        let mut map: HashMap<(Field, String), Vec<String>> = HashMap::new();
        for word in q.fuzzy_words() {
            for &field in fields {
                let fuzzy = FuzzyTermQuery::new(Term::from_field_text(field, word), 1, true);
                let mut found: BTreeSet<String> = BTreeSet::new();
                'segments: for seg in searcher.segment_readers() {
                    let inverted = seg
                        .inverted_index(field)
                        .map_err(|e| internal("term dictionary", e))?;
                    let automaton = fuzzy.automaton().map_err(|e| internal("fuzzy", e))?;
                    let mut stream = inverted
                        .terms()
                        .search(automaton)
                        .into_stream()
                        .map_err(|e| internal("term dictionary", e))?;
                    while let Some((key, _)) = stream.next() {
                        if let Ok(s) = std::str::from_utf8(key)
                            && s != word
                        {
                            found.insert(s.to_string());
                            if found.len() >= MAX_FUZZY_VARIANTS {
                                break 'segments;
                            }
                        }
                    }
                }
                map.insert((field, word.to_string()), found.into_iter().collect());
            }
        }
        Ok(Expansions { map })
    }
}

/// Who may see what: every search is inside one tenant and the actor's queues.
#[derive(Debug, Clone)]
pub struct Filter {
    pub tenant: TenantId,
    pub access: QueueAccess,
    /// Only these statuses (all when empty).
    pub statuses: Vec<Status>,
    /// Only this queue (already checked against `access`).
    pub queue: Option<QueueId>,
}

fn filter_clause(q: Box<dyn Query>) -> (Occur, Box<dyn Query>) {
    (Occur::Must, Box::new(ConstScoreQuery::new(q, 0.0)))
}

/// Documents with any of these u64 values in `field` (a union of term queries: lazy, seekable).
fn any_of(field: Field, values: impl IntoIterator<Item = u64>) -> Box<dyn Query> {
    let mut any: Vec<(Occur, Box<dyn Query>)> = values
        .into_iter()
        .map(|v| -> (Occur, Box<dyn Query>) {
            (
                Occur::Should,
                Box::new(TermQuery::new(
                    Term::from_field_u64(field, v),
                    IndexRecordOption::Basic,
                )),
            )
        })
        .collect();
    if any.len() == 1 {
        return any.pop().map(|(_, q)| q).expect("one clause");
    }
    Box::new(BooleanQuery::new(any))
}

impl Filter {
    fn queue_values(&self) -> Option<Vec<u64>> {
        let mut allowed: Option<Vec<u64>> = match &self.access {
            QueueAccess::All => None,
            QueueAccess::Only(qs) => Some(qs.iter().map(|q| id_u64(q.get())).collect()),
        };
        if let Some(q) = self.queue {
            let q = id_u64(q.get());
            allowed = Some(match allowed {
                Some(qs) if !qs.contains(&q) => vec![],
                _ => vec![q],
            });
        }
        allowed.map(|mut v| {
            v.sort_unstable();
            v.dedup();
            v
        })
    }

    fn status_values(&self) -> Option<Vec<u64>> {
        (!self.statuses.is_empty()).then(|| {
            let mut v: Vec<u64> = self
                .statuses
                .iter()
                .map(|s| status_code(s.as_str()))
                .collect();
            v.sort_unstable();
            v.dedup();
            v
        })
    }

    /// True when the filter allows nothing (an agent in no queue).
    pub fn allows_nothing(&self) -> bool {
        self.queue_values().is_some_and(|v| v.is_empty())
    }

    /// The filter for collectors (checked on fast fields).
    pub fn fast(&self) -> FastFilter {
        FastFilter {
            tenant: id_u64(self.tenant.get()),
            queues: self.queue_values(),
            statuses: self.status_values(),
        }
    }

    /// `text` restricted to what the filter allows, inside the query; `None` when it allows
    /// nothing.
    pub fn apply(&self, f: &Fields, text: Box<dyn Query>) -> Option<Box<dyn Query>> {
        if self.allows_nothing() {
            return None;
        }
        let mut all: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Must, text)];
        all.push(filter_clause(any_of(
            f.tenant_id,
            [id_u64(self.tenant.get())],
        )));
        if let Some(queues) = self.queue_values() {
            all.push(filter_clause(any_of(f.queue_id, queues)));
        }
        if let Some(statuses) = self.status_values() {
            all.push(filter_clause(any_of(f.status, statuses)));
        }
        Some(Box::new(BooleanQuery::new(all)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(q: &UserQuery) -> Vec<String> {
        q.clauses
            .iter()
            .map(|c| match c {
                Clause::Word { terms, .. } => {
                    format!(
                        "w:{}",
                        terms
                            .iter()
                            .map(|t| t.1.as_str())
                            .collect::<Vec<_>>()
                            .join(" ")
                    )
                }
                Clause::Phrase { terms } => {
                    format!(
                        "p:{}",
                        terms
                            .iter()
                            .map(|t| t.1.as_str())
                            .collect::<Vec<_>>()
                            .join(" ")
                    )
                }
                Clause::Number { number, .. } => format!("n:{number}"),
            })
            .collect()
    }

    #[test]
    fn parses_words_phrases_and_numbers() {
        let q = UserQuery::parse(r#"Vattenläcka "trasig ledning" kc-2026-000123, e-post"#);
        assert_eq!(
            words(&q),
            ["w:vattenlack", "p:tras led", "n:KC-2026-000123", "w:e post"]
        );
    }

    #[test]
    fn odd_input_is_text_and_never_fails() {
        let (_, f) = super::super::schema::build();
        for input in [
            "",
            " ",
            "\"",
            "\"\"",
            "*",
            "AND(",
            "OR",
            "title:foo",
            "a:b:c",
            "(((",
            "\\",
            "-",
            "+-!^~",
            "\"unclosed phrase",
            "🙂",
            "\u{0}",
            "x\"y\"z",
            "NOT",
            "[1 TO 2]",
        ] {
            let q = UserQuery::parse(input);
            let _ = q.to_query(&f, None);
        }
        assert!(UserQuery::parse("*").is_empty());
        assert!(UserQuery::parse("\"").is_empty());
        assert!(UserQuery::parse("AND(").clauses.len() == 1);
        assert_eq!(
            words(&UserQuery::parse("\"unclosed phrase")),
            ["p:unclosed phras"]
        );
        let long = "ord ".repeat(1000);
        assert!(UserQuery::parse(&long).clauses.len() <= MAX_CLAUSES);
        let long_word = "å".repeat(10_000);
        let _ = UserQuery::parse(&long_word);
    }

    #[test]
    fn duplicate_words_count_once() {
        assert_eq!(UserQuery::parse("hej Hej HEJ").clauses.len(), 1);
    }
}
