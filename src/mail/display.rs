//! Showing a citizen's HTML mail to an agent safely: ammonia removes scripts, styles, event
//! handlers and anything active; inline images (`cid:`) point at the stored attachment; remote
//! images (tracking pixels) are removed unless the agent asks for them.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Sanitized HTML, and whether remote images were held back.
pub fn safe_html(
    html: &str,
    inline: &HashMap<String, String>,
    allow_remote_images: bool,
) -> (String, bool) {
    let blocked = Arc::new(AtomicBool::new(false));
    let flag = blocked.clone();
    let inline = Arc::new(inline.clone());
    let clean = ammonia::Builder::default()
        .link_rel(Some("noopener noreferrer nofollow"))
        .add_url_schemes(&["cid"])
        .attribute_filter(move |element, attribute, value| {
            if element == "img" && attribute == "src" {
                let v = value.trim();
                if let Some(cid) = v.strip_prefix("cid:") {
                    let key = cid.trim_matches(|c| c == '<' || c == '>');
                    return inline.get(key).map(|u| u.clone().into());
                }
                if v.starts_with("http:") || v.starts_with("https:") || v.starts_with("//") {
                    if allow_remote_images {
                        return Some(value.into());
                    }
                    flag.store(true, Ordering::Relaxed);
                    return None;
                }
                return None;
            }
            Some(value.into())
        })
        .clean(html)
        .to_string();
    (with_alt(&clean), blocked.load(Ordering::Relaxed))
}

/// Give every image without a text alternative an empty one (a mail's images carry none we could
/// trust; screen readers then skip them instead of reading the address). `html` is ammonia's
/// output: attributes in double quotes.
fn with_alt(html: &str) -> String {
    let mut out = String::with_capacity(html.len() + 16);
    let mut rest = html;
    while let Some(at) = rest.find("<img") {
        let (before, tag) = rest.split_at(at);
        out.push_str(before);
        // The tag ends at the first `>` outside a quoted value.
        let mut quoted = false;
        let end = tag
            .char_indices()
            .find(|(_, c)| {
                if *c == '"' {
                    quoted = !quoted;
                }
                *c == '>' && !quoted
            })
            .map_or(tag.len(), |(i, _)| i + 1);
        let (img, after) = tag.split_at(end);
        let mut quoted = false;
        let mut has_alt = false;
        for (i, c) in img.char_indices() {
            if c == '"' {
                quoted = !quoted;
            } else if !quoted && img[i..].starts_with(" alt=") {
                has_alt = true;
            }
        }
        if has_alt {
            out.push_str(img);
        } else {
            out.push_str("<img alt=\"\"");
            out.push_str(&img[4..]);
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

/// A size as people read it: "30 MB", "1 MB", "120 kB" (the same in Swedish and English).
pub fn human_size(bytes: i64) -> String {
    const MB: f64 = 1024.0 * 1024.0;
    let b = bytes.max(0) as f64;
    if b >= MB {
        format!("{} MB", (b / MB).round() as i64)
    } else {
        format!("{} kB", ((b / 1024.0).ceil() as i64).max(1))
    }
}

/// The locale key of a problem's notice (texts in `locales/*/mail_content.json`).
pub fn problem_key(kind: &str, filename: Option<&str>) -> String {
    match (kind, filename) {
        ("truncated", None) => "mail.problem.truncated_mail".to_string(),
        ("charset", None) => "mail.problem.charset_body".to_string(),
        _ => format!("mail.problem.{kind}"),
    }
}

/// What the agent is told about one problem of a mail (`message_problems`), from locale keys.
pub fn problem_text(
    locale: &str,
    kind: &str,
    filename: Option<&str>,
    size_bytes: Option<i64>,
    detail: Option<&str>,
) -> String {
    let t = crate::text::Templates::get();
    t.text(locale, &problem_key(kind, filename))
        .replace("{filename}", filename.unwrap_or(""))
        .replace("{size}", &size_bytes.map(human_size).unwrap_or_default())
        .replace("{charset}", detail.unwrap_or(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_handlers_and_remote_images_are_removed() {
        let html = r#"<p onclick="x()">Hej<script>alert(1)</script></p>
            <img src="https://tracker.example/p.gif"><img src="cid:bild1@x">
            <a href="javascript:alert(1)">länk</a><style>p{}</style>"#;
        let inline = HashMap::from([("bild1@x".to_string(), "/a/1".to_string())]);
        let (out, blocked) = safe_html(html, &inline, false);
        assert!(blocked);
        assert!(!out.contains("script") && !out.contains("onclick") && !out.contains("javascript"));
        assert!(!out.contains("tracker.example"));
        assert!(out.contains(r#"src="/a/1""#));
        assert!(!out.contains("<style"));
        let (out, blocked) = safe_html(html, &inline, true);
        assert!(!blocked);
        assert!(out.contains("tracker.example"));
    }

    #[test]
    fn sizes_read_like_people_write_them() {
        assert_eq!(human_size(30 * 1024 * 1024 + 17), "30 MB");
        assert_eq!(human_size(1536 * 1024), "2 MB");
        assert_eq!(human_size(1000), "1 kB");
    }

    #[test]
    fn images_without_a_text_alternative_get_an_empty_one() {
        let html = r#"<img src="cid:a@x"><img src="cid:b@x" alt="Karta" title="a > b"><p>t</p>"#;
        let inline = HashMap::from([
            ("a@x".to_string(), "/a/1".to_string()),
            ("b@x".to_string(), "/a/2".to_string()),
        ]);
        let (out, _) = safe_html(html, &inline, false);
        assert_eq!(out.matches("<img").count(), 2);
        assert_eq!(out.matches(" alt=").count(), 2, "{out}");
        assert!(out.contains(r#"<img alt="" src="/a/1">"#), "{out}");
        assert!(out.contains(r#"alt="Karta""#), "{out}");
    }
}
