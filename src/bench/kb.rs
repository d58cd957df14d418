//! `arendo-bench kb --articles N`: the knowledge-base index on its own (no database): build an
//! index of N articles on disk, then time a few thousand searches as agents and citizens type
//! them, and "more like this" suggestions for real citizen mails.
//!
//! The articles are made from the starter articles: each synthetic article takes a starter
//! article's title, tags and summary with a variant word, and a body of paragraphs from three
//! starter articles, so the vocabulary and the term statistics are those of a real knowledge
//! base, only larger. Everything is in one tenant (the worst case for the tenant filter).

use std::time::{Duration, Instant};

use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};

use super::percentile_ms;
use crate::domain::{ArticleStatus, Audience, TenantId};
use crate::kb::article::parse_file;
use crate::kb::search::{self, KbFilter};
use crate::kb::{KbIndex, starter_files};
use crate::store::kb::Article;

/// What agents and citizens type (with typos, without å/ä/ö, phrases, stop words).
const TYPED: &[&str] = &[
    "vattenläcka",
    "vattenlacka",
    "bygglov altan",
    "behöver jag bygglov för friggebod",
    "byggloov",
    "sophämtning",
    "när töms soptunnan",
    "tömningsschema",
    "grovavfall återvinningscentral",
    "kokningsråd",
    "\"koka vattnet\"",
    "förskola ansökan",
    "ansökningar förskoleplats",
    "kötid förskola",
    "skolskjuts",
    "parkeringstillstånd rörelsehindrad",
    "snöröjning",
    "gatubelysning trasig",
    "felanmälan lampa",
    "eldning trädgårdsavfall",
    "buller grannar",
    "va-avgift faktura",
    "vattenmätare avläsning",
    "frusen vattenmätare",
    "slamtömning",
    "kärlbyte",
    "attefallshus",
    "ritningar till mitt hus",
    "allmänna handlingar",
    "diarienummer ärende",
    "öppettider kundtjänst",
    "hur lång handläggningstid",
    "stopp i avloppet",
    "missfärgat vatten",
    "strandskydd dispens",
    "klotter",
    "hål i gatan",
    "fritidshem",
    "byta skola",
    "personuppgifter",
];

#[derive(serde::Deserialize)]
struct Mails {
    mail: Vec<Mail>,
}

#[derive(serde::Deserialize)]
struct Mail {
    subject: String,
    body: String,
}

fn synthetic(n: usize, rng: &mut rand::rngs::StdRng) -> anyhow::Result<Vec<Article>> {
    let starter: Vec<_> = starter_files()
        .iter()
        .map(|(_, text)| parse_file(text))
        .collect::<Result<_, _>>()?;
    let paragraphs: Vec<String> = starter
        .iter()
        .flat_map(|a| a.body.split("\n\n").map(str::to_string).collect::<Vec<_>>())
        .filter(|p| p.len() > 40)
        .collect();
    let variants = [
        "i centrum",
        "på landsbygden",
        "för företag",
        "för föreningar",
        "vid flytt",
        "på vintern",
        "i flerfamiljshus",
        "för fritidshus",
        "vid nybyggnad",
        "för pensionärer",
    ];
    let at = chrono::NaiveDate::from_ymd_opt(2026, 11, 1)
        .and_then(|d| d.and_hms_opt(8, 0, 0))
        .unwrap_or_default();
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let base = &starter[i % starter.len()];
        let mut c = base.clone();
        if i >= starter.len() {
            let v = variants[rng.random_range(0..variants.len())];
            c.slug = format!("{}-{i}", base.slug.chars().take(30).collect::<String>());
            c.title = format!("{} {v}", base.title);
            c.summary = format!("{} Gäller {v}.", base.summary);
            let mut body: Vec<&String> = paragraphs.choose_multiple(rng, 8).collect();
            body.shuffle(rng);
            c.body = body
                .iter()
                .map(|p| p.as_str())
                .collect::<Vec<_>>()
                .join("\n\n");
            // Like a real knowledge base: mostly published, some drafts, archived and internal.
            c.status = match rng.random_range(0..20) {
                0 => ArticleStatus::Draft,
                1 => ArticleStatus::Archived,
                _ => ArticleStatus::Published,
            };
            if rng.random_range(0..8) == 0 {
                c.audience = Audience::Internal;
            }
        }
        out.push(Article {
            id: i as i64 + 1,
            tenant: TenantId::from_db(1),
            content: c,
            revision: 1,
            views: 0,
            uses: 0,
            created_at: at,
            updated_at: at,
        });
    }
    Ok(out)
}

pub fn run(articles: usize, queries: usize) -> anyhow::Result<()> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(2026);
    let docs = synthetic(articles, &mut rng)?;
    let dir = tempfile::tempdir()?;
    let index = KbIndex::open(dir.path())?;
    let t = TenantId::from_db(1);
    let started = Instant::now();
    for chunk in docs.chunks(1000) {
        index.apply(t, chunk, &[])?;
    }
    let build = started.elapsed();
    println!(
        "bench kb: {} articles indexed in {:.2} s ({:.0} articles/s), on disk",
        index.num_docs(),
        build.as_secs_f64(),
        docs.len() as f64 / build.as_secs_f64()
    );
    let mails: Mails = toml::from_str(include_str!("../../tests/fixtures/kb-mails.toml"))?;
    let filters = [KbFilter::public(), KbFilter::published()];
    // Warm up (first queries load the term dictionaries).
    for q in TYPED {
        search::search(&index, t, q, &filters[0], 10)?;
    }
    let mut typed: Vec<Duration> = Vec::with_capacity(queries);
    for i in 0..queries {
        let q = TYPED[i % TYPED.len()];
        let f = &filters[i % 2];
        let s = Instant::now();
        let (hits, _) = search::search(&index, t, q, f, 10)?;
        typed.push(s.elapsed());
        std::hint::black_box(hits);
    }
    let mut suggested: Vec<Duration> = Vec::with_capacity(queries);
    for i in 0..queries {
        let m = &mails.mail[i % mails.mail.len()];
        let s = Instant::now();
        let hits = search::suggest(&index, t, &m.subject, &m.body, &filters[1], 3)?;
        suggested.push(s.elapsed());
        std::hint::black_box(hits);
    }
    println!(
        "  search (typed, {} distinct queries): p50 {:.3} ms, p99 {:.3} ms over {} queries (target p99 ≤ 2 ms)",
        TYPED.len(),
        percentile_ms(&mut typed, 0.50),
        percentile_ms(&mut typed, 0.99),
        queries
    );
    println!(
        "  suggestions (more like this over {} citizen mails): p50 {:.3} ms, p99 {:.3} ms over {} queries",
        mails.mail.len(),
        percentile_ms(&mut suggested, 0.50),
        percentile_ms(&mut suggested, 0.99),
        queries
    );
    Ok(())
}
