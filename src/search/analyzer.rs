//! Text analysis for Swedish: the same chain turns indexed text and typed queries into terms, so
//! inflections and missing diacritics meet in the middle.
//!
//! `SimpleTokenizer` (split on anything not alphanumeric) → `RemoveLongFilter` (drop tokens over
//! 40 bytes: hashes, base64, URLs glued together) → `LowerCaser` → Swedish Snowball `Stemmer`
//! (needs å/ä/ö, so it runs before folding) → `AsciiFoldingFilter` (å/ä → a, ö → o, é → e), so
//! "vattenlacka" finds "vattenläcka" and "fakturorna" finds "faktura".
//!
//! The knowledge base will register the same analyzer on its own index: call [`register`].

use tantivy::Index;
use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer,
    TextAnalyzer, Token, TokenFilter, TokenStream, Tokenizer,
};

/// The name the Swedish analyzer is registered under; schema text fields refer to it.
pub const SWEDISH: &str = "sv";

/// The analyzer of word-pair fields: [`swedish`] terms, then each two adjacent ones as one term
/// (`trasig ledning` → `tras_ledning`). Indexed from the same text as the plain terms.
pub const PAIRS: &str = "sv_pairs";

/// Tokens longer than this (in bytes) are not indexed.
pub const MAX_TOKEN_BYTES: usize = 40;

/// The Swedish analyzer.
pub fn swedish() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(MAX_TOKEN_BYTES))
        .filter(LowerCaser)
        .filter(Stemmer::new(Language::Swedish))
        .filter(AsciiFoldingFilter)
        .build()
}

/// The word-pair analyzer ([`PAIRS`]).
pub fn swedish_pairs() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(MAX_TOKEN_BYTES))
        .filter(LowerCaser)
        .filter(Stemmer::new(Language::Swedish))
        .filter(AsciiFoldingFilter)
        .filter(PairFilter)
        .build()
}

/// Turns a stream of terms into the pairs of terms at adjacent positions.
#[derive(Clone, Copy)]
pub struct PairFilter;

impl TokenFilter for PairFilter {
    type Tokenizer<T: Tokenizer> = PairTokenizer<T>;

    fn transform<T: Tokenizer>(self, inner: T) -> PairTokenizer<T> {
        PairTokenizer { inner }
    }
}

#[derive(Clone)]
pub struct PairTokenizer<T> {
    inner: T,
}

impl<T: Tokenizer> Tokenizer for PairTokenizer<T> {
    type TokenStream<'a> = PairStream<T::TokenStream<'a>>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> Self::TokenStream<'a> {
        PairStream {
            tail: self.inner.token_stream(text),
            prev: None,
            token: Token::default(),
        }
    }
}

pub struct PairStream<S> {
    tail: S,
    /// The previous term: (position, start offset, text).
    prev: Option<(usize, usize, String)>,
    token: Token,
}

impl<S: TokenStream> TokenStream for PairStream<S> {
    fn advance(&mut self) -> bool {
        while self.tail.advance() {
            let cur = self.tail.token();
            let prev = self
                .prev
                .replace((cur.position, cur.offset_from, cur.text.clone()));
            if let Some((pos, from, text)) = prev
                && cur.position == pos + 1
            {
                self.token.text.clear();
                self.token.text.push_str(&text);
                self.token.text.push('_');
                self.token.text.push_str(&cur.text);
                self.token.position = pos;
                self.token.offset_from = from;
                self.token.offset_to = cur.offset_to;
                self.token.position_length = 1;
                return true;
            }
        }
        false
    }

    fn token(&self) -> &Token {
        &self.token
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.token
    }
}

/// Register every analyzer this crate's indexes use on `index`. Must be called after creating or
/// opening an index and before indexing or searching (tantivy does not persist analyzers).
pub fn register(index: &Index) {
    index.tokenizers().register(SWEDISH, swedish());
    index.tokenizers().register(PAIRS, swedish_pairs());
}

/// Two adjacent terms as one pair term (terms are alphanumeric, so `_` cannot be part of one).
pub fn pair(a: &str, b: &str) -> String {
    format!("{a}_{b}")
}

/// The pair terms of positioned terms: one per two terms at adjacent positions (a dropped
/// over-long token breaks the chain, as it does for phrase queries).
pub fn pairs_of(terms: &[(usize, String)]) -> Vec<String> {
    terms
        .windows(2)
        .filter(|w| w[1].0 == w[0].0 + 1)
        .map(|w| pair(&w[0].1, &w[1].1))
        .collect()
}

/// The pair terms `text` is indexed as under [`PAIRS`], space-separated.
pub fn pairs(text: &str) -> String {
    let mut analyzer = swedish_pairs();
    let mut stream = analyzer.token_stream(text);
    let mut out = Vec::new();
    while let Some(tok) = stream.next() {
        out.push(tok.text.clone());
    }
    out.join(" ")
}

/// The terms `text` is indexed as (or searched for) under the Swedish analyzer.
pub fn terms(text: &str) -> Vec<String> {
    positioned_terms(text).into_iter().map(|(_, t)| t).collect()
}

/// The terms of `text` with their positions (dropped over-long tokens leave a gap, as in the
/// index, so phrases built from these line up with indexed positions).
pub fn positioned_terms(text: &str) -> Vec<(usize, String)> {
    let mut analyzer = swedish();
    let mut stream = analyzer.token_stream(text);
    let mut out = Vec::new();
    while let Some(tok) = stream.next() {
        out.push((tok.position, tok.text.clone()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_diacritics_so_plain_ascii_typing_matches() {
        assert_eq!(terms("vattenläcka"), terms("vattenlacka"));
        assert_eq!(terms("Vattenläcka"), terms("VATTENLÄCKA"));
        assert_eq!(
            terms("Bygglov för ÖVERBYGGNAD"),
            terms("bygglov for overbyggnad")
        );
        assert!(terms("Åtgärd").iter().all(|t| t.is_ascii()));
    }

    #[test]
    fn stems_swedish_inflections() {
        // Plural and definite forms meet the base form's stem.
        assert_eq!(terms("ansökningar"), terms("ansökning"));
        assert_eq!(terms("ansökningen"), terms("ansökning"));
        assert_eq!(terms("ansökans"), terms("ansökan"));
        assert_eq!(terms("fakturorna"), terms("faktura"));
        assert_eq!(terms("räkningarna"), terms("räkning"));
        assert_eq!(terms("läckor"), terms("läcka"));
    }

    #[test]
    fn pairs_link_adjacent_terms_only() {
        assert_eq!(
            pairs("Trasig ledning i källaren"),
            "tras_ledning ledning_i i_kall"
        );
        let long = "x".repeat(MAX_TOKEN_BYTES + 1);
        assert_eq!(pairs(&format!("a {long} b c")), "b_c");
        assert_eq!(pairs("ensam"), "");
        // The query side builds the same pairs from positioned terms.
        let text = "Vattenläcka, trasig LEDNING";
        assert_eq!(pairs(text), pairs_of(&positioned_terms(text)).join(" "));
    }

    #[test]
    fn splits_on_punctuation_and_drops_overlong_tokens() {
        assert_eq!(
            terms("anna.svensson@example.se"),
            ["ann", "svensson", "exampl", "se"]
        );
        assert_eq!(terms("KC-2026-000123"), ["kc", "2026", "000123"]);
        let long = "x".repeat(MAX_TOKEN_BYTES + 1);
        assert_eq!(terms(&format!("hej {long} då")), ["hej", "da"]);
        assert!(terms("").is_empty());
        assert!(terms("\"*()!? -- ").is_empty());
    }
}
