//! Highlighted HTML for hits. All text is escaped here (`& < > " '`); the only markup that comes
//! out is `<b>` around matched words and nothing else, so templates may insert it unescaped.

use std::collections::BTreeSet;
use std::ops::Range;

use tantivy::query::Query;
use tantivy::schema::Field;
use tantivy::snippet::SnippetGenerator;
use tantivy::tokenizer::TokenStream;

use super::analyzer;

/// Characters of a body snippet.
pub const SNIPPET_CHARS: usize = 200;

pub fn escape_into(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
}

pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    escape_into(&mut out, s);
    out
}

/// `text` escaped, with the byte ranges `marks` (sorted, not overlapping, on char boundaries)
/// wrapped in `<b>`.
fn render(text: &str, marks: &[Range<usize>]) -> String {
    let mut out = String::with_capacity(text.len() + marks.len() * 7);
    let mut at = 0;
    for m in marks {
        if m.start < at || m.end > text.len() || m.start >= m.end {
            continue;
        }
        escape_into(&mut out, &text[at..m.start]);
        out.push_str("<b>");
        escape_into(&mut out, &text[m.clone()]);
        out.push_str("</b>");
        at = m.end;
    }
    escape_into(&mut out, &text[at..]);
    out
}

/// The analysed terms `query` looks for in `field`.
pub fn query_terms(query: &dyn Query, field: Field) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    query.query_terms(&mut |term, _| {
        if term.field() == field
            && let Some(s) = term.value().as_str()
        {
            out.insert(s.to_string());
        }
    });
    out
}

/// All of `text` (a subject), escaped, with every word whose term is in `terms` in `<b>`.
pub fn highlight_all(text: &str, terms: &BTreeSet<String>) -> String {
    if terms.is_empty() {
        return escape(text);
    }
    let mut analyzer = analyzer::swedish();
    let mut stream = analyzer.token_stream(text);
    let mut marks = Vec::new();
    while let Some(tok) = stream.next() {
        if terms.contains(&tok.text) {
            marks.push(tok.offset_from..tok.offset_to);
        }
    }
    render(text, &marks)
}

/// The best fragment of `text` for the query behind `generator`, escaped, with matches in `<b>`
/// and "…" where text was cut. Without a match: the start of `text`.
pub fn snippet_html(generator: &SnippetGenerator, text: &str) -> String {
    let snippet = generator.snippet(text);
    if snippet.highlighted().is_empty() {
        return preview(text, SNIPPET_CHARS);
    }
    let range = snippet.fragment_range();
    let mut out = String::new();
    if range.start > 0 {
        out.push('…');
    }
    out.push_str(&render(snippet.fragment(), snippet.highlighted()));
    if range.end < text.trim_end().len() {
        out.push('…');
    }
    out
}

/// The first `max_chars` characters of `text`, cut after a word, escaped.
pub fn preview(text: &str, max_chars: usize) -> String {
    let text = text.trim();
    match text.char_indices().nth(max_chars) {
        None => escape(text),
        Some((end, _)) => {
            let cut = text[..end]
                .rfind(char::is_whitespace)
                .filter(|i| *i > end / 2)
                .unwrap_or(end);
            let mut out = escape(text[..cut].trim_end());
            out.push('…');
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_everything_but_the_marks() {
        let terms: BTreeSet<String> = analyzer::terms("läcka").into_iter().collect();
        assert_eq!(
            highlight_all("<script>\"Läckorna\" & 'läcka'</script>", &terms),
            "&lt;script&gt;&quot;<b>Läckorna</b>&quot; &amp; &#x27;<b>läcka</b>&#x27;&lt;/script&gt;"
        );
        assert_eq!(highlight_all("a<b", &BTreeSet::new()), "a&lt;b");
    }

    #[test]
    fn previews_cut_after_a_word() {
        assert_eq!(preview("kort", 10), "kort");
        assert_eq!(preview("ett två tre fyra", 9), "ett två…");
        assert_eq!(preview("<<<<<<<<<<<<", 4), "&lt;&lt;&lt;&lt;…");
    }
}
