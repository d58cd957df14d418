//! Text analysis for Swedish: the same chain turns indexed text and typed queries into terms, so
//! inflections and missing diacritics meet in the middle.
//!
//! `SimpleTokenizer` (split on anything not alphanumeric) → `RemoveLongFilter` (drop tokens over
//! 40 bytes: hashes, base64, URLs glued together) → `LowerCaser` → Swedish Snowball `Stemmer`
//! (needs å/ä/ö, so it runs before folding) → [`SwedishSuffixes`] (what Snowball leaves:
//! -ning, -an, -et) → `AsciiFoldingFilter` (å/ä → a, ö → o, é → e), so "vattenlacka" finds
//! "vattenläcka", "fakturorna" finds "faktura", "ansökningar" finds "ansökan" and "bygglovet"
//! finds "bygglov".
//!
//! The ticket index and the knowledge base register the same analyzer: call [`register`].
//! Queries over free text (a citizen's mail) also drop stop words: [`content_terms`].

use std::sync::LazyLock;

use tantivy::Index;
use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer,
    StopWordFilter, TextAnalyzer, Token, TokenFilter, TokenStream, Tokenizer,
};

/// The name the Swedish analyzer is registered under; schema text fields refer to it.
pub const SWEDISH: &str = "sv";

/// Tokens longer than this (in bytes) are not indexed.
pub const MAX_TOKEN_BYTES: usize = 40;

/// The Swedish analyzer.
pub fn swedish() -> TextAnalyzer {
    SWEDISH_ANALYZER.clone()
}

static SWEDISH_ANALYZER: LazyLock<TextAnalyzer> = LazyLock::new(|| {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(MAX_TOKEN_BYTES))
        .filter(LowerCaser)
        .filter(Stemmer::new(Language::Swedish))
        .filter(SwedishSuffixes)
        .filter(AsciiFoldingFilter)
        .build()
});

/// Words of a citizen's mail that say nothing about its matter (greetings, politeness), dropped
/// with the stop words when a mail is turned into a query.
const MAIL_WORDS: &[&str] = &[
    "hej",
    "hejsan",
    "hallå",
    "tack",
    "tacksam",
    "tacksamma",
    "förhand",
    "mvh",
    "vänlig",
    "vänliga",
    "hälsning",
    "hälsningar",
    "undrar",
    "undra",
    "fråga",
    "frågan",
    "snälla",
    "gärna",
    "kommun",
    "kommunen",
    "ni",
    "er",
    "mig",
    "min",
    "mitt",
    "vi",
    "oss",
    "nu",
    "får",
    "ska",
    "skulle",
    "kan",
    "kunna",
    "vill",
    "behöver",
    "bara",
    "också",
    "även",
    "lite",
    "mycket",
    "hello",
    "hi",
    "thanks",
    "regards",
    "please",
    "the",
    "and",
    "to",
    "of",
    "is",
    "my",
    "we",
];

/// The terms of free text without stop words, mail phrases, numbers and single letters: what a
/// mail is about, for "more like this".
pub fn content_terms(text: &str) -> Vec<String> {
    let mut analyzer = TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(MAX_TOKEN_BYTES))
        .filter(LowerCaser)
        .filter(StopWordFilter::new(Language::Swedish).expect("Swedish stop words"))
        .filter(StopWordFilter::remove(
            MAIL_WORDS.iter().map(|w| w.to_string()),
        ))
        .filter(Stemmer::new(Language::Swedish))
        .filter(SwedishSuffixes)
        .filter(AsciiFoldingFilter)
        .build();
    let mut stream = analyzer.token_stream(text);
    let mut out = Vec::new();
    while let Some(tok) = stream.next() {
        if tok.text.chars().count() >= 2 && !tok.text.chars().all(|c| c.is_ascii_digit()) {
            out.push(tok.text.clone());
        }
    }
    out
}

/// True for a Swedish stop word ("och", "hur", "jag", "om"): worthless as a search word.
pub fn is_stop_word(word: &str) -> bool {
    static STOP: LazyLock<TextAnalyzer> = LazyLock::new(|| {
        TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(LowerCaser)
            .filter(StopWordFilter::new(Language::Swedish).expect("Swedish stop words"))
            .build()
    });
    let mut analyzer = STOP.clone();
    let mut stream = analyzer.token_stream(word);
    let mut any = false;
    while stream.advance() {
        any = true;
    }
    !any
}

/// Swedish endings the Snowball stemmer keeps, removed from the stem when they lie in its R1
/// region (after the first consonant that follows a vowel, and after at least three letters),
/// repeatedly: -ning (ansökning → ansök, sophämtning → sophämt), -an (ansökan → ansök), -et
/// (bygglovet → bygglov, paket → pak, like paketet). Both sides of a search pass through it, so
/// an over-short stem still meets its own inflections.
#[derive(Clone, Copy, Debug)]
pub struct SwedishSuffixes;

impl TokenFilter for SwedishSuffixes {
    type Tokenizer<T: Tokenizer> = SuffixFilter<T>;

    fn transform<T: Tokenizer>(self, tokenizer: T) -> SuffixFilter<T> {
        SuffixFilter(tokenizer)
    }
}

#[derive(Clone)]
pub struct SuffixFilter<T>(T);

impl<T: Tokenizer> Tokenizer for SuffixFilter<T> {
    type TokenStream<'a> = SuffixStream<T::TokenStream<'a>>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> Self::TokenStream<'a> {
        SuffixStream(self.0.token_stream(text))
    }
}

pub struct SuffixStream<S>(S);

impl<S: TokenStream> TokenStream for SuffixStream<S> {
    fn advance(&mut self) -> bool {
        if !self.0.advance() {
            return false;
        }
        let text = &mut self.0.token_mut().text;
        let cut = strip_suffixes(text);
        text.truncate(cut);
        true
    }

    fn token(&self) -> &Token {
        self.0.token()
    }

    fn token_mut(&mut self) -> &mut Token {
        self.0.token_mut()
    }
}

fn is_vowel(c: char) -> bool {
    matches!(c, 'a' | 'e' | 'i' | 'o' | 'u' | 'y' | 'ä' | 'å' | 'ö')
}

/// The byte length `word` keeps once the endings are removed.
fn strip_suffixes(word: &str) -> usize {
    // R1 (in bytes): after the first non-vowel that follows a vowel, at least three letters in.
    let chars: Vec<(usize, char)> = word.char_indices().collect();
    let mut r1 = word.len();
    for i in 1..chars.len() {
        if !is_vowel(chars[i].1) && is_vowel(chars[i - 1].1) {
            r1 = chars.get(i + 1).map_or(word.len(), |(b, _)| *b);
            break;
        }
    }
    if let Some((third, _)) = chars.get(3) {
        r1 = r1.max(*third);
    } else {
        return word.len();
    }
    let mut end = word.len();
    loop {
        let stem = &word[..end];
        let next = ["ning", "an", "et"]
            .iter()
            .find(|s| stem.ends_with(*s) && end - s.len() >= r1)
            .map(|s| end - s.len());
        match next {
            Some(e) => end = e,
            None => return end,
        }
    }
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
    fn meets_the_inflections_snowball_leaves_apart() {
        assert_eq!(terms("ansökan"), terms("ansökningar"));
        assert_eq!(terms("ansökan"), terms("ansökningen"));
        assert_eq!(terms("sophämtning"), terms("sophämtningen"));
        assert_eq!(terms("bygglov"), terms("bygglovet"));
        assert_eq!(terms("bygglov"), terms("bygglovets"));
        assert_eq!(terms("paket"), terms("paketet"));
        // Short words keep their ending (it is not in R1).
        assert_eq!(terms("plan"), ["plan"]);
        assert_eq!(terms("det"), ["det"]);
        assert_eq!(terms("kan"), ["kan"]);
    }

    #[test]
    fn mail_text_loses_stop_words_and_greetings() {
        assert_eq!(
            content_terms("Hej! Hur ansöker jag om bygglov för en altan? Tack på förhand, 2026"),
            terms("ansöker bygglov altan")
        );
        assert!(is_stop_word("Hur"));
        assert!(is_stop_word("och"));
        assert!(!is_stop_word("bygglov"));
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
