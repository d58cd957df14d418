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
    TextAnalyzer, TokenStream,
};

/// The name the Swedish analyzer is registered under; schema text fields refer to it.
pub const SWEDISH: &str = "sv";

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

/// Register every analyzer this crate's indexes use on `index`. Must be called after creating or
/// opening an index and before indexing or searching (tantivy does not persist analyzers).
pub fn register(index: &Index) {
    index.tokenizers().register(SWEDISH, swedish());
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
