//! Search over a million synthetic tickets: indexing time and query latency. Not run by default:
//!
//! ```sh
//! ARENDO_SEARCH_BENCH_DOCS=1000000 cargo test --release --features bench --lib search::bench -- --ignored --nocapture
//! ```
//!
//! The corpus: ten tenants (one holding half the tickets), eight queues each, a subject of 4–9
//! words and 1–4 messages of 15–80 words each, words drawn Zipf-like from 150 common Swedish
//! municipal words plus 40,000 made-up ones, and a contact name and address per ticket.

use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::Plan;
use super::index::{FeedState, TicketIndex};
use super::query::{Filter, UserQuery};
use crate::domain::{QueueAccess, QueueId, Status, TenantId};
use crate::store::search::SearchDoc;

const COMMON: &[&str] = &[
    "ansökan",
    "bygglov",
    "faktura",
    "vatten",
    "avlopp",
    "läcka",
    "skola",
    "förskola",
    "plats",
    "barn",
    "elev",
    "lärare",
    "buss",
    "skolskjuts",
    "parkering",
    "tillstånd",
    "gata",
    "väg",
    "snöröjning",
    "halka",
    "belysning",
    "lampa",
    "trasig",
    "sophämtning",
    "kärl",
    "avfall",
    "återvinning",
    "miljö",
    "buller",
    "granne",
    "klagomål",
    "hemtjänst",
    "äldreboende",
    "omsorg",
    "bistånd",
    "ekonomiskt",
    "handläggare",
    "beslut",
    "överklagan",
    "överklagande",
    "möte",
    "telefon",
    "mejl",
    "brev",
    "svar",
    "fråga",
    "hjälp",
    "kontakt",
    "adress",
    "flytt",
    "hyra",
    "lägenhet",
    "bostad",
    "kö",
    "bibliotek",
    "bok",
    "lån",
    "simhall",
    "öppettider",
    "idrott",
    "förening",
    "bidrag",
    "kultur",
    "evenemang",
    "park",
    "lekplats",
    "träd",
    "fällning",
    "detaljplan",
    "tomt",
    "fastighet",
    "karta",
    "mätning",
    "nybyggnad",
    "rivning",
    "garage",
    "altan",
    "staket",
    "mur",
    "brandskydd",
    "sotning",
    "tillsyn",
    "livsmedel",
    "restaurang",
    "servering",
    "alkohol",
    "tobak",
    "serveringstillstånd",
    "färdtjänst",
    "resa",
    "taxi",
    "kort",
    "betalning",
    "räkning",
    "påminnelse",
    "inkasso",
    "avgift",
    "taxa",
    "moms",
    "ärende",
    "handling",
    "diarium",
    "registrering",
    "sekretess",
    "personuppgifter",
    "gdpr",
    "begäran",
    "utdrag",
    "arkiv",
    "protokoll",
    "nämnd",
    "kommunstyrelse",
    "politiker",
    "medborgare",
    "synpunkt",
    "förslag",
    "förbättring",
    "felanmälan",
    "reparation",
    "vattenläcka",
    "ledning",
    "källare",
    "översvämning",
    "dagvatten",
    "brunn",
    "dike",
    "trafik",
    "hastighet",
    "skylt",
    "övergångsställe",
    "cykelväg",
    "gångväg",
    "busshållplats",
    "tidtabell",
    "försening",
    "tack",
    "hej",
    "vänliga",
    "hälsningar",
    "angående",
    "bifogar",
    "bilaga",
    "snarast",
    "vecka",
    "måndag",
    "fredag",
    "imorgon",
    "igår",
];

const FIRST: &[&str] = &[
    "Anna", "Erik", "Maria", "Lars", "Karin", "Johan", "Eva", "Anders", "Sara", "Per", "Lena",
    "Mikael", "Emma", "Karl", "Sofia", "Nils", "Ingrid", "Ali", "Fatima", "Mohammed", "Elin",
];
const LAST: &[&str] = &[
    "Andersson",
    "Johansson",
    "Karlsson",
    "Nilsson",
    "Eriksson",
    "Larsson",
    "Olsson",
    "Persson",
    "Svensson",
    "Gustafsson",
    "Pettersson",
    "Jonsson",
    "Hassan",
    "Lindberg",
    "Lindqvist",
    "Berg",
    "Axelsson",
    "Hedlund",
    "Sandberg",
    "Öberg",
];

struct Corpus {
    made_up: Vec<String>,
}

impl Corpus {
    fn new(rng: &mut StdRng) -> Corpus {
        const SYL: &[&str] = &[
            "ka", "lo", "ste", "vä", "rin", "bo", "sk", "tår", "en", "mö", "gl", "äp", "ni", "fa",
            "ru", "de", "sö", "pa", "hal", "lin", "ber", "ö", "ta", "ve", "kro",
        ];
        let made_up = (0..40_000)
            .map(|_| {
                let n = rng.random_range(2..5);
                (0..n)
                    .map(|_| SYL[rng.random_range(0..SYL.len())])
                    .collect()
            })
            .collect();
        Corpus { made_up }
    }

    /// Zipf-like: index i with weight ~ 1/(i+1).
    fn zipf(rng: &mut StdRng, n: usize) -> usize {
        let u: f64 = rng.random();
        (((n as f64 + 1.0).powf(u)) - 1.0) as usize % n
    }

    fn word(&self, rng: &mut StdRng) -> &str {
        if rng.random_bool(0.55) {
            COMMON[Self::zipf(rng, COMMON.len())]
        } else {
            &self.made_up[Self::zipf(rng, self.made_up.len())]
        }
    }

    fn words(&self, rng: &mut StdRng, n: usize) -> String {
        (0..n).map(|_| self.word(rng)).collect::<Vec<_>>().join(" ")
    }
}

fn tenant_of(i: u64) -> i64 {
    if i.is_multiple_of(2) {
        1
    } else {
        2 + (i / 2 % 9) as i64
    }
}

fn doc(corpus: &Corpus, rng: &mut StdRng, i: u64) -> SearchDoc {
    let tenant = tenant_of(i);
    let subject_len = rng.random_range(4..10);
    let messages = rng.random_range(1..5);
    let body = (0..messages)
        .map(|_| {
            let n = rng.random_range(15..80);
            corpus.words(rng, n)
        })
        .collect::<Vec<_>>()
        .join("\n\n");
    let (first, last) = (
        FIRST[rng.random_range(0..FIRST.len())],
        LAST[rng.random_range(0..LAST.len())],
    );
    SearchDoc {
        tenant: TenantId::from_db(tenant),
        ticket_id: i as i64 + 1,
        queue_id: tenant * 100 + rng.random_range(0..8),
        number: format!("KC-2026-{:06}", i + 1),
        status: ["new", "open", "waiting", "resolved", "closed"][rng.random_range(0..5)].into(),
        created_at: chrono::DateTime::from_timestamp(1_750_000_000 + i as i64 * 30, 0)
            .unwrap()
            .naive_utc(),
        subject: corpus.words(rng, subject_len),
        body,
        contact: format!(
            "{first} {last} {}.{}{}@example.se",
            first.to_lowercase(),
            last.to_lowercase(),
            i % 97
        ),
    }
}

type MakeQuery<'a> = Box<dyn Fn(&mut StdRng) -> String + 'a>;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn build(index: &TicketIndex, corpus: &Corpus, rng: &mut StdRng, n: u64, path: &std::path::Path) {
    // Generated in batches of 500 like the rebuild, one commit at the end.
    let started = Instant::now();
    let mut generating = Duration::ZERO;
    let mut bytes = 0usize;
    let mut adding = Duration::ZERO;
    index.begin_rebuild().unwrap();
    for start in (0..n).step_by(500) {
        let g = Instant::now();
        let docs: Vec<SearchDoc> = (start..(start + 500).min(n))
            .map(|i| doc(corpus, rng, i))
            .collect();
        generating += g.elapsed();
        bytes += docs
            .iter()
            .map(|d| d.subject.len() + d.body.len() + d.contact.len())
            .sum::<usize>();
        let a = Instant::now();
        index.add_fresh(&docs).unwrap();
        adding += a.elapsed();
    }
    let mut st = FeedState::new();
    st.cursors.insert(1, n as i64);
    index.commit(&st).unwrap();
    let build = started.elapsed();
    eprintln!(
        "(of which {:.1} s waiting in add_fresh)",
        adding.as_secs_f64()
    );
    let size: u64 = std::fs::read_dir(path)
        .unwrap()
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum();
    eprintln!(
        "indexed {n} tickets ({:.0} MB of text) in {:.1} s ({:.1} s of it generating the corpus): \
         {:.0} tickets/s; index {:.0} MB; {} segments",
        bytes as f64 / 1e6,
        build.as_secs_f64(),
        generating.as_secs_f64(),
        n as f64 / (build - generating).as_secs_f64(),
        size as f64 / 1e6,
        index.searcher().segment_readers().len(),
    );
}

/// `ARENDO_SEARCH_BENCH_DOCS` tickets (default 200,000); `ARENDO_SEARCH_BENCH_DIR` keeps the index
/// between runs (built only when the directory has none); `ARENDO_SEARCH_BENCH_PLAN` = auto
/// (default), prune or filter.
#[test]
#[ignore = "benchmark: builds a large index"]
fn search_bench() {
    let n: u64 = std::env::var("ARENDO_SEARCH_BENCH_DOCS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let plan = match std::env::var("ARENDO_SEARCH_BENCH_PLAN").as_deref() {
        Ok("prune") => Plan::Prune,
        Ok("filter") => Plan::FilterInQuery,
        _ => Plan::Auto,
    };
    let tmp = tempfile::tempdir().unwrap();
    let path = std::env::var("ARENDO_SEARCH_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| tmp.path().join("search"));
    let index = TicketIndex::open(&path).unwrap();
    let mut rng = StdRng::seed_from_u64(7);
    let corpus = Corpus::new(&mut rng);
    let index = if index.num_docs() == 0 {
        build(&index, &corpus, &mut rng, n, &path);
        // Measure without the merges the commit started (they are abandoned when the writer
        // closes; the index stays as committed).
        drop(index);
        TicketIndex::open(&path).unwrap()
    } else {
        index
    };
    eprintln!("{} segments", index.searcher().segment_readers().len());
    let n = index.num_docs();
    eprintln!("{n} tickets in the index, plan {plan:?}");

    // Queries: mixes of what agents type, as admin of the big tenant and as an agent of two queues.
    let mut qrng = StdRng::seed_from_u64(11);
    let classes: Vec<(&str, MakeQuery)> = vec![
        (
            "1 common word",
            Box::new(|r| COMMON[r.random_range(0..20)].to_string()),
        ),
        (
            "1 word",
            Box::new(|r| COMMON[r.random_range(0..COMMON.len())].to_string()),
        ),
        (
            "1 rare word",
            Box::new(|r| corpus.made_up[r.random_range(5000..40_000)].clone()),
        ),
        ("2 words", Box::new(|r| corpus.words(r, 2))),
        ("3 words", Box::new(|r| corpus.words(r, 3))),
        (
            "phrase",
            Box::new(|r| format!("\"{}\"", corpus.words(r, 2))),
        ),
        (
            "name",
            Box::new(|r| {
                format!(
                    "{} {}",
                    FIRST[r.random_range(0..FIRST.len())],
                    LAST[r.random_range(0..LAST.len())]
                )
            }),
        ),
        (
            "number",
            Box::new(|r| format!("KC-2026-{:06}", r.random_range(1..n))),
        ),
        (
            "typo (fuzzy)",
            Box::new(|r| {
                let w: Vec<char> = COMMON[r.random_range(0..COMMON.len())].chars().collect();
                let mut w = if w.len() >= 6 {
                    w
                } else {
                    "vattenläcka".chars().collect()
                };
                let i = r.random_range(1..w.len() - 1);
                w.swap(i, i + 1);
                w.into_iter().collect()
            }),
        ),
    ];
    let filter = |tenant: i64, queues: Option<&[i64]>, statuses: Vec<Status>| Filter {
        tenant: TenantId::from_db(tenant),
        access: match queues {
            None => QueueAccess::All,
            Some(qs) => QueueAccess::Only(qs.iter().map(|q| QueueId::from_db(*q)).collect()),
        },
        statuses,
        queue: None,
    };
    let open = vec![Status::New, Status::Open, Status::Waiting];
    let who = [
        ("admin, big tenant (50%)", filter(1, None, vec![])),
        (
            "agent, 2 queues, open, big tenant",
            filter(1, Some(&[101, 102]), open.clone()),
        ),
        ("admin, small tenant (5.6%)", filter(5, None, vec![])),
        (
            "agent, 2 queues, small tenant",
            filter(5, Some(&[501, 502]), vec![]),
        ),
    ];
    // Warm up the page cache and the reader.
    for _ in 0..300 {
        let q = UserQuery::parse(&corpus.words(&mut qrng, 2));
        super::search_index(&index, &q, &who[0].1, 20, 0, plan).unwrap();
    }
    let mut all = Vec::new();
    for (name_who, filter) in &who {
        eprintln!("-- {name_who}");
        eprintln!(
            "{:<14} {:>8} {:>8} {:>8} {:>8} {:>10}",
            "query (ms)", "p50", "p95", "p99", "max", "avg total"
        );
        for (name, make) in &classes {
            let mut times = Vec::new();
            let mut hits = 0usize;
            for _ in 0..200 {
                let text = make(&mut qrng);
                let q = UserQuery::parse(&text);
                let t = Instant::now();
                let r = super::search_index(&index, &q, filter, 20, 0, plan).unwrap();
                times.push(t.elapsed());
                hits += r.total;
            }
            times.sort();
            eprintln!(
                "{:<14} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>10.1}",
                name,
                percentile(&times, 0.5).as_secs_f64() * 1e3,
                percentile(&times, 0.95).as_secs_f64() * 1e3,
                percentile(&times, 0.99).as_secs_f64() * 1e3,
                times.last().unwrap().as_secs_f64() * 1e3,
                hits as f64 / times.len() as f64,
            );
            all.extend(times);
        }
    }
    all.sort();
    eprintln!(
        "all {} queries (ms): p50 {:.2}, p95 {:.2}, p99 {:.2}, max {:.2}",
        all.len(),
        percentile(&all, 0.5).as_secs_f64() * 1e3,
        percentile(&all, 0.95).as_secs_f64() * 1e3,
        percentile(&all, 0.99).as_secs_f64() * 1e3,
        all.last().unwrap().as_secs_f64() * 1e3,
    );
}
