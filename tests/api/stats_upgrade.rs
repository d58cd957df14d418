//! An installation upgraded from the first statistics tables: the keyed series kept one row per
//! key (`stats_keyed`); the migration `2026-12-08-000100_stats_series` folds them into one row
//! per queue, day and measure (`stats_series`, D64 revised) without a rebuild, and its down
//! migration gives the rows back. On SQLite and PostgreSQL, with the real migrations.

use std::collections::BTreeMap;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::helpers::{Backend, PgScratch};

const SQLITE: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const PG: EmbeddedMigrations = embed_migrations!("migrations/postgres");
const FOLDING: &str = "2026-12-08-000100";

#[derive(QueryableByName, Debug)]
struct Series {
    #[diesel(sql_type = Text)]
    grain: String,
    #[diesel(sql_type = Text)]
    day: String,
    #[diesel(sql_type = BigInt)]
    queue_id: i64,
    #[diesel(sql_type = Text)]
    measure: String,
    #[diesel(sql_type = Text)]
    counts: String,
}

#[derive(QueryableByName, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Keyed {
    #[diesel(sql_type = Text)]
    grain: String,
    #[diesel(sql_type = Text)]
    measure: String,
    #[diesel(sql_type = Text)]
    day: String,
    #[diesel(sql_type = BigInt)]
    queue_id: i64,
    #[diesel(sql_type = Text)]
    key: String,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Run the migrations before the folding one; what comes next is the folding one.
fn migrate_until_folding<C: MigrationHarness<B>, B: diesel::backend::Backend>(
    c: &mut C,
    source: impl Fn() -> EmbeddedMigrations,
) {
    loop {
        let pending = c.pending_migrations(source()).unwrap();
        let next = pending.first().expect("the folding migration is pending");
        if next.name().to_string().starts_with(FOLDING) {
            return;
        }
        c.run_migration(next).unwrap();
    }
}

const OLD_ROWS: &str = "
    INSERT INTO tenants (id, slug, name, ticket_prefix, created_at)
        VALUES (7, 'uppgradering', 'Uppgraderingskommun', 'UK', '2026-01-01 00:00:00');
    INSERT INTO stats_keyed (tenant_id, grain, measure, day, queue_id, key, n) VALUES
        (7, 'm', 'first_response_business', '2026-11-01', 3, '600', 4),
        (7, 'm', 'first_response_business', '2026-11-01', 3, '3600', 2),
        (7, 'd', 'first_response_business', '2026-11-03', 3, '600', 1),
        (7, 'm', 'tag', '2026-11-01', 3, 'vinter \"akut\"', 5),
        (7, 'm', 'tag', '2026-11-01', 4, 'vinter \"akut\"', 1),
        (7, 'm', 'agent_response', '2026-11-01', 3, '12:900', 3),
        (7, 'm', 'transfer', '2026-11-01', 3, '4', 0);
";

fn folded(rows: Vec<Series>) -> BTreeMap<(String, String, i64, String), BTreeMap<String, i64>> {
    rows.into_iter()
        .map(|r| {
            (
                (r.grain, r.day, r.queue_id, r.measure),
                serde_json::from_str(&r.counts).expect("counts are a JSON object of numbers"),
            )
        })
        .collect()
}

fn check(series: Vec<Series>, back: Vec<Keyed>) {
    let got = folded(series);
    let k = |g: &str, d: &str, q: i64, m: &str| (g.into(), d.into(), q, m.into());
    let n = |pairs: &[(&str, i64)]| -> BTreeMap<String, i64> {
        pairs.iter().map(|(k, n)| (k.to_string(), *n)).collect()
    };
    let want = BTreeMap::from([
        (
            k("m", "2026-11-01", 3, "first_response_business"),
            n(&[("600", 4), ("3600", 2)]),
        ),
        (
            k("d", "2026-11-03", 3, "first_response_business"),
            n(&[("600", 1)]),
        ),
        (k("m", "2026-11-01", 3, "tag"), n(&[("vinter \"akut\"", 5)])),
        (k("m", "2026-11-01", 4, "tag"), n(&[("vinter \"akut\"", 1)])),
        (
            k("m", "2026-11-01", 3, "agent_response"),
            n(&[("12:900", 3)]),
        ),
    ]);
    // Every non-zero number in one row of its queue, day and measure; the zero row is gone.
    assert_eq!(got, want);
    // Down again: the same rows as before, less the zero.
    assert_eq!(back.len(), 6);
    assert!(back.iter().all(|r| r.n != 0));
    assert!(back.contains(&Keyed {
        grain: "m".into(),
        measure: "tag".into(),
        day: "2026-11-01".into(),
        queue_id: 3,
        key: "vinter \"akut\"".into(),
        n: 5
    }));
}

const SERIES: &str = "SELECT grain, day, queue_id, measure, counts FROM stats_series";
const KEYED: &str = "SELECT grain, measure, day, queue_id, key, n FROM stats_keyed";

fn upgrade(backend: Backend) {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let url = dir.path().join("upgrade.db");
            let mut c = SqliteConnection::establish(url.to_str().unwrap()).unwrap();
            migrate_until_folding(&mut c, || SQLITE);
            c.batch_execute(OLD_ROWS).unwrap();
            c.run_next_migration(SQLITE).unwrap();
            let series: Vec<Series> = diesel::sql_query(SERIES).load(&mut c).unwrap();
            c.revert_last_migration(SQLITE).unwrap();
            let back: Vec<Keyed> = diesel::sql_query(KEYED).load(&mut c).unwrap();
            check(series, back);
        }
        Backend::Postgres => {
            let db = PgScratch::new();
            let mut c = PgConnection::establish(&db.url).unwrap();
            migrate_until_folding(&mut c, || PG);
            c.batch_execute(OLD_ROWS).unwrap();
            c.run_next_migration(PG).unwrap();
            let series: Vec<Series> = diesel::sql_query(SERIES).load(&mut c).unwrap();
            c.revert_last_migration(PG).unwrap();
            let back: Vec<Keyed> = diesel::sql_query(KEYED).load(&mut c).unwrap();
            check(series, back);
        }
    }
}

#[test]
fn an_upgraded_installation_keeps_its_keyed_figures_sqlite() {
    upgrade(Backend::Sqlite);
}

#[test]
fn an_upgraded_installation_keeps_its_keyed_figures_postgres() {
    upgrade(Backend::Postgres);
}
