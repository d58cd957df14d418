//! The knowledge-base index and queries on their own (no database): Swedish inflections, folding,
//! typos, phrases, filters, and how well suggestions answer real citizen mails.

use super::article::{ArticleContent, parse_file};
use super::index::KbIndex;
use super::search::{self, KbFilter};
use super::starter_files;
use crate::domain::{ArticleStatus, Audience, Language, TenantId};
use crate::store::kb::Article;

fn article(id: i64, tenant: i64, content: ArticleContent) -> Article {
    let at = chrono::NaiveDate::from_ymd_opt(2026, 11, 1)
        .unwrap()
        .and_hms_opt(8, 0, 0)
        .unwrap();
    Article {
        id,
        tenant: TenantId::from_db(tenant),
        content,
        revision: 1,
        views: 0,
        uses: 0,
        created_at: at,
        updated_at: at,
    }
}

fn content(slug: &str, title: &str, body: &str) -> ArticleContent {
    ArticleContent {
        slug: slug.into(),
        title: title.into(),
        summary: String::new(),
        body: body.into(),
        tags: vec![],
        department: "kundtjanst".into(),
        audience: Audience::Public,
        language: Language::Sv,
        status: ArticleStatus::Published,
    }
}

/// The starter articles in tenant 1 (ids from 1, by file name).
fn starter() -> (KbIndex, Vec<Article>) {
    let idx = KbIndex::open_in_ram().unwrap();
    let articles: Vec<Article> = starter_files()
        .iter()
        .enumerate()
        .map(|(i, (name, text))| {
            article(
                i as i64 + 1,
                1,
                parse_file(text).unwrap_or_else(|e| panic!("{name}: {e}")),
            )
        })
        .collect();
    idx.apply(TenantId::from_db(1), &articles, &[]).unwrap();
    (idx, articles)
}

fn slugs(hits: &[search::KbHit]) -> Vec<&str> {
    hits.iter().map(|h| h.slug.as_str()).collect()
}

fn find(idx: &KbIndex, text: &str, filter: &KbFilter) -> (Vec<String>, bool) {
    let (hits, fuzzy) = search::search(idx, TenantId::from_db(1), text, filter, 10).unwrap();
    (hits.into_iter().map(|h| h.slug).collect(), fuzzy)
}

#[test]
fn the_starter_set_is_complete_and_valid() {
    let (_, articles) = starter();
    assert!(articles.len() >= 40, "{} starter articles", articles.len());
    let public_sv = articles
        .iter()
        .filter(|a| a.content.audience == Audience::Public && a.content.language == Language::Sv)
        .count();
    assert!(public_sv >= 35, "{public_sv} public Swedish articles");
    let mut slugs: Vec<&str> = articles.iter().map(|a| a.content.slug.as_str()).collect();
    slugs.sort();
    slugs.dedup();
    assert_eq!(slugs.len(), articles.len(), "slugs are unique");
}

#[test]
fn inflections_meet_their_base_form() {
    let idx = KbIndex::open_in_ram().unwrap();
    let t = TenantId::from_db(1);
    idx.apply(
        t,
        &[
            article(
                1,
                1,
                content("forskola", "Förskola", "Så gör du din ansökan om plats."),
            ),
            article(
                2,
                1,
                content("sopor", "Sopor", "Sophämtning sker varannan vecka."),
            ),
            article(
                3,
                1,
                content("bygga", "Bygga altan", "Ibland behövs bygglov."),
            ),
        ],
        &[],
    )
    .unwrap();
    let f = KbFilter::public();
    assert_eq!(find(&idx, "ansökningar", &f).0, ["forskola"]);
    assert_eq!(find(&idx, "ansökningen", &f).0, ["forskola"]);
    assert_eq!(find(&idx, "sophämtningen", &f).0, ["sopor"]);
    assert_eq!(find(&idx, "bygglovet", &f).0, ["bygga"]);
    // Folding: typed without å, ä, ö.
    assert_eq!(find(&idx, "sophamtning", &f).0, ["sopor"]);
    // A typo is forgiven, and the answer says the words were widened.
    assert_eq!(
        find(&idx, "byggloov", &f),
        (vec!["bygga".to_string()], true)
    );
    assert_eq!(
        find(&idx, "bygglov", &f),
        (vec!["bygga".to_string()], false)
    );
    // Stop words alone find nothing, and do not spoil a query with content.
    assert!(find(&idx, "hur jag", &f).0.is_empty());
    assert_eq!(find(&idx, "hur får jag bygglov", &f).0, ["bygga"]);
}

#[test]
fn starter_articles_are_found_the_way_citizens_type() {
    let (idx, _) = starter();
    let f = KbFilter::public();
    let top = |q: &str| find(&idx, q, &f).0.into_iter().take(3).collect::<Vec<_>>();
    assert_eq!(top("vattenlacka")[0], "vattenlacka");
    assert_eq!(top("vattenläcka")[0], "vattenlacka");
    assert!(top("ansökan förskola").contains(&"ansokan-forskoleplats".to_string()));
    assert!(top("byggloov").contains(&"nar-behovs-bygglov".to_string()));
    assert!(top("kokningsråd").contains(&"kokningsrad".to_string()));
    assert!(top("tömningsschema").contains(&"sophamtning-tomningsschema".to_string()));
}

#[test]
fn phrases_must_match_in_order() {
    let idx = KbIndex::open_in_ram().unwrap();
    idx.apply(
        TenantId::from_db(1),
        &[
            article(1, 1, content("a", "Tömning", "Slam töms en gång per år.")),
            article(
                2,
                1,
                content(
                    "b",
                    "Slam",
                    "Per år kommer slambilen; en gång töms brunnen.",
                ),
            ),
        ],
        &[],
    )
    .unwrap();
    let f = KbFilter::public();
    assert_eq!(find(&idx, "\"en gång per år\"", &f).0, ["a"]);
    let mut both = find(&idx, "gång år", &f).0;
    both.sort();
    assert_eq!(both, ["a", "b"]);
}

#[test]
fn citizens_never_see_internal_drafts_or_another_tenants_articles() {
    let idx = KbIndex::open_in_ram().unwrap();
    let mut internal = content(
        "intern",
        "Rutin vid vattenläcka",
        "Ring jouren om vattenläcka.",
    );
    internal.audience = Audience::Internal;
    let mut draft = content("utkast", "Vattenläcka utkast", "Vattenläcka, ej klar.");
    draft.status = ArticleStatus::Draft;
    let public = content("publik", "Vattenläcka", "Vid vattenläcka: ring oss.");
    idx.apply(
        TenantId::from_db(1),
        &[
            article(1, 1, internal),
            article(2, 1, draft),
            article(3, 1, public.clone()),
        ],
        &[],
    )
    .unwrap();
    idx.apply(
        TenantId::from_db(2),
        &[article(
            4,
            2,
            content("annan", "Vattenläcka hos grannen", "Vattenläcka."),
        )],
        &[],
    )
    .unwrap();
    assert_eq!(find(&idx, "vattenläcka", &KbFilter::public()).0, ["publik"]);
    let mut agents = find(&idx, "vattenläcka", &KbFilter::published()).0;
    agents.sort();
    assert_eq!(
        agents,
        ["intern", "publik"],
        "agents see internal, never drafts"
    );
    assert_eq!(find(&idx, "vattenläcka", &KbFilter::default()).0.len(), 3);
    let other = search::search(
        &idx,
        TenantId::from_db(2),
        "vattenläcka",
        &KbFilter::default(),
        10,
    )
    .unwrap()
    .0;
    assert_eq!(slugs(&other), ["annan"]);
    let sugg = search::suggest(
        &idx,
        TenantId::from_db(1),
        "Vattenläcka",
        "Det läcker vatten på gatan",
        &KbFilter::public(),
        5,
    )
    .unwrap();
    assert_eq!(slugs(&sugg), ["publik"]);
}

#[test]
fn titles_and_snippets_mark_the_words_found_and_escape_the_rest() {
    let idx = KbIndex::open_in_ram().unwrap();
    idx.apply(
        TenantId::from_db(1),
        &[article(
            1,
            1,
            content(
                "x",
                "Läckor <i>och</i> mätare",
                "Om mätaren läcker: **stäng** kranen.",
            ),
        )],
        &[],
    )
    .unwrap();
    let (hits, _) =
        search::search(&idx, TenantId::from_db(1), "mätare", &KbFilter::public(), 5).unwrap();
    assert_eq!(
        hits[0].title_html,
        "Läckor &lt;i&gt;och&lt;/i&gt; <b>mätare</b>"
    );
    assert!(
        hits[0].snippet_html.contains("<b>mätaren</b>"),
        "{}",
        hits[0].snippet_html
    );
    assert!(
        !hits[0].snippet_html.contains("**"),
        "snippets are plain text"
    );
}

#[test]
fn the_index_knows_what_is_behind() {
    let idx = KbIndex::open_in_ram().unwrap();
    let t = TenantId::from_db(1);
    let mut a = article(1, 1, content("a", "A", "a"));
    idx.apply(t, &[a.clone(), article(2, 1, content("b", "B", "b"))], &[])
        .unwrap();
    assert_eq!(idx.diff(t, &[(1, 1), (2, 1)]), (vec![], vec![]));
    assert_eq!(idx.diff(t, &[(1, 2), (2, 1), (3, 1)]), (vec![1, 3], vec![]));
    assert_eq!(idx.diff(t, &[(1, 1)]), (vec![], vec![2]));
    a.revision = 2;
    a.content.title = "Ny rubrik".into();
    let r = idx.apply(t, &[a], &[2]).unwrap();
    assert_eq!((r.added_or_changed, r.removed), (1, 1));
    assert_eq!(idx.num_docs(), 1);
    assert_eq!(idx.diff(t, &[(1, 2)]), (vec![], vec![]));
}

#[test]
fn an_index_on_disk_remembers_its_documents() {
    let dir = tempfile::tempdir().unwrap();
    let t = TenantId::from_db(1);
    {
        let idx = KbIndex::open(dir.path()).unwrap();
        idx.apply(t, &[article(7, 1, content("a", "A", "a"))], &[])
            .unwrap();
    }
    let idx = KbIndex::open(dir.path()).unwrap();
    assert_eq!(idx.diff(t, &[(7, 1)]), (vec![], vec![]));
    assert!(
        KbIndex::open(dir.path()).is_err(),
        "one writer per directory"
    );
}

#[derive(serde::Deserialize)]
struct Mails {
    mail: Vec<Mail>,
}

#[derive(serde::Deserialize)]
struct Mail {
    subject: String,
    body: String,
    expected: String,
    #[serde(default)]
    also: Vec<String>,
}

/// The share of realistic citizen mails whose right article the panel suggests first, and among
/// the first three (`tests/fixtures/kb-mails.toml`).
pub(crate) fn hit_rate(idx: &KbIndex) -> (usize, usize, usize, usize) {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/kb-mails.toml"
    ))
    .unwrap();
    let mails: Mails = toml::from_str(&text).unwrap();
    let (mut top1, mut top1_ok, mut top3) = (0, 0, 0);
    for m in &mails.mail {
        let hits = search::suggest(
            idx,
            TenantId::from_db(1),
            &m.subject,
            &m.body,
            &KbFilter::published(),
            3,
        )
        .unwrap();
        let got = slugs(&hits);
        if got.first() == Some(&m.expected.as_str()) {
            top1 += 1;
        }
        if got
            .first()
            .is_some_and(|s| *s == m.expected || m.also.iter().any(|a| a == s))
        {
            top1_ok += 1;
        }
        if got.contains(&m.expected.as_str()) {
            top3 += 1;
        } else {
            eprintln!(
                "  missed {:?}: expected {}, got {got:?}",
                m.subject, m.expected
            );
        }
    }
    (top1, top1_ok, top3, mails.mail.len())
}

#[test]
fn suggestions_answer_real_citizen_mails() {
    let (idx, _) = starter();
    let (top1, top1_ok, top3, n) = hit_rate(&idx);
    let pct = |k: usize| 100.0 * k as f64 / n as f64;
    println!(
        "suggestions over {n} citizen mails: top-1 {top1} ({:.0} %), top-1 with acceptable \
         alternatives {top1_ok} ({:.0} %), top-3 {top3} ({:.0} %)",
        pct(top1),
        pct(top1_ok),
        pct(top3)
    );
    assert!(n >= 20);
    assert!(pct(top3) >= 85.0, "top-3 hit rate {:.0} %", pct(top3));
    assert!(pct(top1) >= 65.0, "top-1 hit rate {:.0} %", pct(top1));
}
