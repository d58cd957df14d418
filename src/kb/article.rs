//! An article's content as people write it: validated fields, the Markdown file format of
//! `knowledge-base/` (TOML front matter between `+++` lines, then the body), and rendering the
//! body to safe HTML (pulldown-cmark, then ammonia) and to plain text for a reply.

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
use serde::{Deserialize, Serialize};

use crate::domain::FormatKind;
use crate::domain::Reason;
use crate::domain::{ArticleStatus, Audience, InvalidValue, Language};

pub const MAX_TITLE_CHARS: usize = 200;
pub const MAX_SUMMARY_CHARS: usize = 1_000;
pub const MAX_BODY_BYTES: usize = 200_000;
pub const MAX_TAGS: usize = 20;
pub const MAX_TAG_CHARS: usize = 60;

pub use crate::domain::ArticleContent;

/// Unvalidated fields, as read from a form or a file.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RawContent {
    #[serde(default)]
    pub slug: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub summary: String,
    #[serde(default)]
    pub body: String,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub department: String,
    #[serde(default)]
    pub audience: String,
    #[serde(default)]
    pub language: String,
    #[serde(default)]
    pub status: String,
}

fn text(s: &str, field: &'static str, max: usize, required: bool) -> Result<String, InvalidValue> {
    let s = s.trim();
    if required && s.is_empty() {
        return Err(InvalidValue::new(field, Reason::Empty));
    }
    if s.chars().count() > max {
        return Err(InvalidValue::new(field, Reason::TooLong { max }));
    }
    Ok(s.to_string())
}

impl RawContent {
    /// Validate every field; the first fault is reported.
    pub fn parse(self) -> Result<ArticleContent, InvalidValue> {
        let body = self.body.trim().replace("\r\n", "\n");
        if body.len() > MAX_BODY_BYTES {
            return Err(InvalidValue::new(
                "body",
                Reason::TooLongBytes {
                    max: MAX_BODY_BYTES,
                },
            ));
        }
        if body.is_empty() {
            return Err(InvalidValue::new("body", Reason::Empty));
        }
        Ok(ArticleContent {
            slug: crate::domain::text::slug(&self.slug, "slug")?,
            title: text(&self.title, "title", MAX_TITLE_CHARS, true)?,
            summary: text(&self.summary, "summary", MAX_SUMMARY_CHARS, false)?,
            body,
            tags: parse_tags(self.tags.iter().map(String::as_str))?,
            department: crate::domain::text::slug(&self.department, "department")?,
            audience: Audience::parse(&self.audience)?,
            language: Language::parse(&self.language)?,
            status: ArticleStatus::parse(&self.status)?,
        })
    }
}

/// Tags: trimmed, lower-cased, empty ones dropped, duplicates removed (first kept).
pub fn parse_tags<'a>(
    tags: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<String>, InvalidValue> {
    let mut out: Vec<String> = Vec::new();
    for t in tags {
        let t = t.trim().to_lowercase();
        if t.is_empty() || out.contains(&t) {
            continue;
        }
        if t.chars().count() > MAX_TAG_CHARS || t.contains(',') {
            return Err(InvalidValue::new(
                "tags",
                if t.contains(',') {
                    Reason::format(t.as_str(), FormatKind::Tag)
                } else {
                    Reason::TooLong { max: MAX_TAG_CHARS }
                },
            ));
        }
        out.push(t);
    }
    if out.len() > MAX_TAGS {
        return Err(InvalidValue::new("tags", Reason::TooMany { max: MAX_TAGS }));
    }
    Ok(out)
}

/// Tags typed in one box, separated by commas.
pub fn split_tags(s: &str) -> Vec<String> {
    s.split(',').map(|t| t.trim().to_string()).collect()
}

/// Read an article file: `+++`, TOML front matter (slug, title, summary, tags, department,
/// audience, language, status), `+++`, then the Markdown body.
pub fn parse_file(text: &str) -> Result<ArticleContent, InvalidValue> {
    let text = text
        .strip_prefix('\u{feff}')
        .unwrap_or(text)
        .replace("\r\n", "\n");
    let rest = text
        .strip_prefix("+++\n")
        .ok_or_else(|| InvalidValue::new("front matter", Reason::FrontMatterStart))?;
    let end = rest
        .find("\n+++\n")
        .or_else(|| rest.strip_suffix("\n+++").map(|r| r.len()))
        .ok_or_else(|| InvalidValue::new("front matter", Reason::FrontMatterEnd))?;
    let (front, body) = (&rest[..end], rest.get(end + 5..).unwrap_or(""));
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Front {
        slug: String,
        title: String,
        #[serde(default)]
        summary: String,
        #[serde(default)]
        tags: Vec<String>,
        department: String,
        audience: String,
        #[serde(default = "sv")]
        language: String,
        #[serde(default = "published")]
        status: String,
    }
    fn sv() -> String {
        "sv".into()
    }
    fn published() -> String {
        "published".into()
    }
    let f: Front = toml::from_str(front).map_err(|e| {
        // The line of the file (after the opening +++ line) where the front matter went wrong.
        let at = e
            .span()
            .map_or(0, |s| front[..s.start].matches('\n').count());
        InvalidValue::new("front matter", Reason::FrontMatterKeys { line: at + 2 })
    })?;
    RawContent {
        slug: f.slug,
        title: f.title,
        summary: f.summary,
        body: body.to_string(),
        tags: f.tags,
        department: f.department,
        audience: f.audience,
        language: f.language,
        status: f.status,
    }
    .parse()
}

/// The file form of an article (what `parse_file` reads back to the same content).
pub fn to_file(a: &ArticleContent) -> String {
    #[derive(Serialize)]
    struct Front<'a> {
        slug: &'a str,
        title: &'a str,
        summary: &'a str,
        tags: &'a [String],
        department: &'a str,
        audience: &'a str,
        language: &'a str,
        status: &'a str,
    }
    let front = toml::to_string(&Front {
        slug: &a.slug,
        title: &a.title,
        summary: &a.summary,
        tags: &a.tags,
        department: &a.department,
        audience: a.audience.as_str(),
        language: a.language.as_str(),
        status: a.status.as_str(),
    })
    .unwrap_or_default();
    format!("+++\n{front}+++\n{}\n", a.body)
}

fn parser(md: &str) -> Parser<'_> {
    Parser::new_ext(
        md,
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_SMART_PUNCTUATION,
    )
}

/// Where links between articles lead. Authors write them as `/kb/<slug>` (the starter articles
/// do); each page that shows a body turns them into the address that works there (D46).
#[derive(Debug, Clone, Copy)]
pub enum Links<'a> {
    /// The workspace: `/knowledge/<slug>`.
    Agent,
    /// The municipality's public pages, `{base}/kb/<tenant>/<slug>`; `base` is empty on the
    /// site itself and `server.public_url` in text that leaves it (a reply to a citizen).
    Public { base: &'a str, tenant: &'a str },
}

impl Links<'_> {
    /// The address for a link written as `dest`; None when it is no link to an article.
    pub fn article(&self, dest: &str) -> Option<String> {
        let rest = dest.strip_prefix("/kb/")?;
        let (slug, anchor) = match rest.find(['#', '?']) {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        let slug = slug.trim_end_matches('/');
        if slug.is_empty()
            || !slug
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return None;
        }
        Some(match self {
            Links::Agent => format!("/knowledge/{slug}{anchor}"),
            Links::Public { base, tenant } => {
                format!("{}/kb/{tenant}/{slug}{anchor}", base.trim_end_matches('/'))
            }
        })
    }
}

fn linked<'a>(md: &'a str, links: Links<'a>) -> impl Iterator<Item = Event<'a>> + 'a {
    parser(md).map(move |ev| match ev {
        Event::Start(Tag::Link {
            link_type,
            dest_url,
            title,
            id,
        }) => {
            let dest_url = links.article(&dest_url).map(Into::into).unwrap_or(dest_url);
            Event::Start(Tag::Link {
                link_type,
                dest_url,
                title,
                id,
            })
        }
        ev => ev,
    })
}

/// The body as HTML safe to put in a page: Markdown rendered, then cleaned by ammonia (no
/// scripts, styles, event handlers or `javascript:` links; links get `rel="noopener noreferrer"`).
/// Links between articles lead to the workspace's article pages.
pub fn render_html(md: &str) -> String {
    render_html_for(md, Links::Agent)
}

/// [`render_html`] with links between articles leading where `links` says.
pub fn render_html_for(md: &str, links: Links<'_>) -> String {
    let mut html = String::with_capacity(md.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut html, linked(md, links));
    ammonia::Builder::default()
        .url_schemes(["http", "https", "mailto", "tel"].into())
        .clean(&html)
        .to_string()
}

/// The body as plain text for an e-mail reply: paragraphs and headings separated by blank
/// lines, list items as "- ", links as "text (address)", no markup.
pub fn render_text(md: &str) -> String {
    render_text_for(md, Links::Agent)
}

/// [`render_text`] with links between articles leading where `links` says (absolute public
/// addresses for a reply to a citizen).
pub fn render_text_for(md: &str, links: Links<'_>) -> String {
    let mut out = String::with_capacity(md.len());
    let mut lists: Vec<Option<u64>> = Vec::new();
    let mut link: Option<String> = None;
    let block_end = |out: &mut String| {
        while out.ends_with(' ') {
            out.pop();
        }
        if !out.is_empty() && !out.ends_with("\n\n") {
            out.push_str(if out.ends_with('\n') { "\n" } else { "\n\n" });
        }
    };
    for ev in linked(md, links) {
        match ev {
            Event::Start(Tag::List(first)) => {
                if lists.is_empty() {
                    block_end(&mut out);
                }
                lists.push(first);
            }
            Event::End(TagEnd::List(_)) => {
                lists.pop();
                if lists.is_empty() {
                    block_end(&mut out);
                }
            }
            Event::Start(Tag::Item) => {
                if !out.is_empty() && !out.ends_with('\n') {
                    out.push('\n');
                }
                out.push_str(&"  ".repeat(lists.len().saturating_sub(1)));
                match lists.last_mut() {
                    Some(Some(n)) => {
                        out.push_str(&format!("{n}. "));
                        *n += 1;
                    }
                    _ => out.push_str("- "),
                }
            }
            Event::End(TagEnd::Item) if !out.ends_with('\n') => out.push('\n'),
            Event::End(TagEnd::Paragraph) if lists.is_empty() => block_end(&mut out),
            Event::End(TagEnd::Heading(_) | TagEnd::BlockQuote(_) | TagEnd::CodeBlock) => {
                block_end(&mut out)
            }
            Event::End(TagEnd::TableRow | TagEnd::TableHead) => out.push('\n'),
            Event::End(TagEnd::TableCell) => out.push_str("  "),
            Event::Start(Tag::Link { dest_url, .. }) => link = Some(dest_url.to_string()),
            Event::End(TagEnd::Link) => {
                if let Some(url) = link.take()
                    && !out.ends_with(url.trim_start_matches("mailto:"))
                {
                    out.push_str(&format!(" ({url})"));
                }
            }
            Event::Text(t) | Event::Code(t) => out.push_str(&t),
            Event::SoftBreak => out.push(' '),
            Event::HardBreak => out.push('\n'),
            Event::Rule => block_end(&mut out),
            _ => {}
        }
    }
    out.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "+++\nslug = \"vattenlacka\"\ntitle = \"Vattenläcka\"\nsummary = \"Ring oss.\"\ntags = [\"VA\", \"läcka\", \"va\"]\ndepartment = \"va\"\naudience = \"public\"\nlanguage = \"sv\"\nstatus = \"published\"\n+++\nSå gör du:\n\n1. Ring **0123-45 67 89**.\n2. Läs [mer](https://example.se/va).\n\n<script>alert(1)</script>\n";

    #[test]
    fn reads_a_file_and_writes_it_back_the_same() {
        let a = parse_file(FILE).unwrap();
        assert_eq!(a.slug, "vattenlacka");
        assert_eq!(a.tags, ["va", "läcka"]);
        assert_eq!(a.audience, Audience::Public);
        assert!(a.body.starts_with("Så gör du:"));
        assert_eq!(parse_file(&to_file(&a)).unwrap(), a);
    }

    #[test]
    fn a_broken_file_says_what_is_wrong() {
        let e = parse_file("slug = \"x\"\n").unwrap_err();
        assert_eq!(e.field, "front matter");
        let e = parse_file("+++\nslug = \"x\"\n").unwrap_err();
        assert_eq!(e.reason, Reason::FrontMatterEnd);
        let e =
            parse_file(&FILE.replace("audience = \"public\"", "audience = \"alla\"")).unwrap_err();
        assert_eq!(e.field, "audience");
        let e = parse_file(&FILE.replace("slug = \"vattenlacka\"", "slug = \"Vatten läcka\""))
            .unwrap_err();
        assert_eq!(e.field, "slug");
        let e = parse_file(&FILE.replace("status", "stat")).unwrap_err();
        // `stat` is on the ninth line of the file.
        assert_eq!(e.reason, Reason::FrontMatterKeys { line: 9 }, "{e}");
    }

    #[test]
    fn html_is_rendered_and_cleaned() {
        let html = render_html(&parse_file(FILE).unwrap().body);
        assert!(html.contains("<strong>0123-45 67 89</strong>"), "{html}");
        assert!(html.contains("<ol>"), "{html}");
        assert!(html.contains("href=\"https://example.se/va\""), "{html}");
        assert!(!html.contains("<script"), "{html}");
        let evil = render_html("[x](javascript:alert(1)) <img src=x onerror=alert(1)>");
        assert!(
            !evil.contains("javascript:") && !evil.contains("onerror"),
            "{evil}"
        );
    }

    #[test]
    fn plain_text_keeps_lists_and_links() {
        let t = render_text(&parse_file(FILE).unwrap().body);
        assert_eq!(
            t,
            "Så gör du:\n\n1. Ring 0123-45 67 89.\n2. Läs mer (https://example.se/va)."
        );
        assert_eq!(
            render_text("## Rubrik\n\nText\nsom fortsätter.\n\n- a\n- b\n\nSlut"),
            "Rubrik\n\nText som fortsätter.\n\n- a\n- b\n\nSlut"
        );
    }
}
