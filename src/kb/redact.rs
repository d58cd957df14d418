//! Personal data out of a ticket's text before it becomes a draft article: quoted earlier mail
//! and signatures are cut, and e-mail addresses, personal identity numbers, phone numbers,
//! street addresses and the names of the people on the ticket are replaced by a marker. It is a
//! first pass for the author to review (the draft says so), not a guarantee.

use std::sync::LazyLock;

use regex::Regex;

static EMAIL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+").expect("e-mail pattern"));
/// Personnummer and samordningsnummer: (YY)YYMMDD, optional - or +, four digits.
static PERSONNUMMER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(?:19|20)?\d{2}[01]\d[0-3]\d[-+]?\d{4}\b").expect("personnummer pattern")
});
/// Swedish phone numbers: +46 or 0, then at least six more digits with spaces or dashes.
static PHONE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:\+46|\b0)[\s-]?\d(?:[\s-]?\d){5,11}\b").expect("phone pattern")
});
static ADDRESS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"\b\p{Lu}\p{Ll}*(?:gatan|vägen|väg|stigen|gränd|torget|backen|allén|leden|platsen|plan|stråket|gången)\s+\d+(?:\s?[A-Za-z]\b)?",
    )
    .expect("address pattern")
});
/// A line that starts a signature or a sign-off.
static SIGN_OFF: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^\s*(?:--\s*$|/\s*\p{L}|mvh\b|med vänlig(?:a)? hälsning(?:ar)?|vänlig(?:a)? hälsning(?:ar)?|hälsningar\b|bästa hälsningar|tack på förhand\b|best regards|kind regards)",
    )
    .expect("sign-off pattern")
});
/// "Den 3 mars 2026 skrev …:" or "On …, … wrote:" before a quoted mail.
static QUOTE_HEADER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*(?:den |on ).*\b(?:skrev|wrote)\b.*:\s*$").expect("quote header pattern")
});

/// `text` without quoted mail, signatures and the personal data listed in the module
/// documentation; `names` are the names of the people on the ticket (each word of at least two
/// letters is replaced wherever it stands as a word).
pub fn strip_personal_data(text: &str, names: &[&str]) -> String {
    let mut lines: Vec<&str> = Vec::new();
    for line in text.lines() {
        if SIGN_OFF.is_match(line) || QUOTE_HEADER.is_match(line) {
            break;
        }
        if line.trim_start().starts_with('>') {
            continue;
        }
        lines.push(line.trim_end());
    }
    let mut out = lines.join("\n");
    out = EMAIL.replace_all(&out, "[e-post]").into_owned();
    out = PERSONNUMMER
        .replace_all(&out, "[personnummer]")
        .into_owned();
    out = PHONE.replace_all(&out, "[telefon]").into_owned();
    out = ADDRESS.replace_all(&out, "[adress]").into_owned();
    let mut words: Vec<&str> = names
        .iter()
        .flat_map(|n| n.split(|c: char| !c.is_alphabetic() && c != '-'))
        .filter(|w| w.chars().count() >= 2)
        .collect();
    words.sort_by_key(|w| std::cmp::Reverse(w.len()));
    words.dedup();
    for w in words {
        if let Ok(re) = Regex::new(&format!(r"(?i)\b{}\b", regex::escape(w))) {
            out = re.replace_all(&out, "[namn]").into_owned();
        }
    }
    // At most one blank line in a row.
    let mut tidy = String::with_capacity(out.len());
    for line in out.lines() {
        if line.trim().is_empty() && (tidy.is_empty() || tidy.ends_with("\n\n")) {
            continue;
        }
        tidy.push_str(line);
        tidy.push('\n');
    }
    tidy.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_contact_details_names_and_signatures() {
        let mail = "Hej Kundtjänst!\n\nJag heter Lena Berg och bor på Storgatan 12 B. Det läcker vatten.\n\
                    Ring mig på 070-123 45 67 eller +46 8 123 456, mejla lena.berg@example.se.\n\
                    Mitt personnummer är 19800101-1234.\n\nMed vänliga hälsningar\nLena Berg\n070-123 45 67";
        let out = strip_personal_data(mail, &["Lena Berg", "lena.berg@example.se"]);
        assert_eq!(
            out,
            "Hej Kundtjänst!\n\nJag heter [namn] [namn] och bor på [adress]. Det läcker vatten.\n\
             Ring mig på [telefon] eller [telefon], mejla [e-post].\n\
             Mitt personnummer är [personnummer]."
        );
    }

    #[test]
    fn drops_quoted_mail_and_keeps_ordinary_numbers() {
        let mail = "Tack, det fungerar nu.\nTömning sker var 14:e dag, avgift 1 250 kr år 2026.\n\n\
                    Den 3 mars 2026 skrev Kundtjänst <kc@example.se>:\n> Hej Lena\n> Prova igen.";
        let out = strip_personal_data(mail, &["Lena"]);
        assert_eq!(
            out,
            "Tack, det fungerar nu.\nTömning sker var 14:e dag, avgift 1 250 kr år 2026."
        );
        let slash = strip_personal_data("Kan ni hjälpa mig?\n/Göran", &[]);
        assert_eq!(slash, "Kan ni hjälpa mig?");
    }
}
