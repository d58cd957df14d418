//! `arendo-bench …`: measurements that print their figures. A binary of its own, built only with
//! the `bench` feature (`cargo build --release --features bench`), so the product binary `arendo`
//! carries none of this code (D60). The benchmarks start the product binary `arendo` next to this
//! one (or `$ARENDO_BENCH_BIN`) as a child process, talk to it over real HTTP on 127.0.0.1, and
//! clean up after.
//!
//! - `startup`: cold start with an empty database (migrations, key generation) until /readyz
//!   answers, over several runs; then idle RSS after start.
//! - `api`: 16 concurrent clients drive ticket create and ticket list through the JSON API, on
//!   SQLite and (given a URL) PostgreSQL; prints requests/s and p50/p99 latency.
//! - `seed --tickets N` fills the configured database with a realistic history, and `pages` then
//!   times the workspace pages (list, ticket view, search) against it.
//! - `login --clients N`: a login flood from one and from N addresses; server RSS and the agent's
//!   sign-in time during it (`login.rs`).
//! - `stats --tickets N [--postgres URL]`: a year of history, the statistics aggregates built
//!   from scratch, and the report, page and export for the last 12 whole months (`stats.rs`).

// The throw-away Dovecot the tests use too: one file, in the test tree (tests/support).
#[expect(
    dead_code,
    reason = "shared with the test suite, which uses more of it than `ingest` does"
)]
#[path = "../../tests/support/dovecot.rs"]
mod dovecot;
mod ingest;
mod kb;
mod login;
mod pages;
mod seed;
mod sla;
mod stats;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use clap::{Parser, Subcommand};

use crate::accounts::admin::{self, NewUser};
use crate::accounts::password::NewPassword;
use crate::accounts::{Scope, tokens::Signer};
use crate::config::Settings;
use crate::domain::{EmailAddress, Role};
use crate::error::Error;
use crate::secrets::Keys;
use crate::store::Db;
use crate::tenants;

#[derive(Parser, Debug)]
#[command(
    name = "arendo-bench",
    version,
    about = "Ärendo – benchmarks (docs/benchmarks.md); they start the arendo binary next to this one"
)]
pub struct BenchCli {
    /// Configuration file (TOML) for seed, pages and sla. Default: $ARENDO_CONFIG, else
    /// ./arendo.toml if present.
    #[arg(long, short, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: BenchCmd,
}

/// The `arendo-bench` executable (src/bin/arendo-bench.rs).
pub fn main() -> ExitCode {
    let cli = BenchCli::parse();
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("arendo-bench: {e}");
            return ExitCode::from(2);
        }
    };
    crate::telemetry::init(&settings.log.format, &settings.log.level);
    match run(cli.command, settings) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("arendo-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[derive(Subcommand, Debug)]
enum BenchCmd {
    /// Cold start time with an empty database, and idle memory after start.
    Startup {
        #[arg(long, default_value_t = 5)]
        runs: usize,
    },
    /// Ticket create and list over the JSON API with concurrent clients.
    Api {
        /// sqlite, postgres or both.
        #[arg(long, default_value = "both")]
        backend: String,
        /// A PostgreSQL server URL whose user may create databases (a scratch database is made and dropped).
        #[arg(
            long,
            env = "ARENDO_BENCH_PG_URL",
            default_value = "postgres://postgres@127.0.0.1:5432/postgres"
        )]
        pg_url: String,
        #[arg(long, default_value_t = 16)]
        clients: usize,
        /// Seconds per phase.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
    /// Fill the configured database with a municipality's realistic ticket history.
    Seed {
        #[arg(long, default_value_t = 100_000)]
        tickets: usize,
    },
    /// Queue list, ticket view and search pages against the configured (seeded) database.
    Pages {
        #[arg(long, default_value_t = 2000)]
        requests: usize,
    },
    /// The SLA sweeper: many running clocks, a batch of them due per sweep (configured database).
    Sla {
        #[arg(long, default_value_t = 1_000_000)]
        tickets: i64,
        #[arg(long, default_value_t = 1000)]
        due: i64,
        #[arg(long, default_value_t = 30)]
        sweeps: i64,
    },
    /// The knowledge-base index: build time for N articles, search and suggestion latency.
    Kb {
        #[arg(long, default_value_t = 10_000)]
        articles: usize,
        #[arg(long, default_value_t = 3000)]
        queries: usize,
    },
    /// A login flood (wrong passwords from one address, then from many through a trusted
    /// proxy): server RSS before, at the peak and after, and the agent's sign-in time meanwhile.
    Login {
        #[arg(long, default_value_t = 100)]
        clients: usize,
        /// Seconds per flood.
        #[arg(long, default_value_t = 15)]
        seconds: u64,
    },
    /// Statistics over a year of history: seed a scratch database, build the aggregates from
    /// scratch (`arendo stats rebuild`), time the report, the page and a CSV export.
    Stats {
        #[arg(long, default_value_t = 1_000_000)]
        tickets: usize,
        /// Run on a scratch database on this PostgreSQL server (its user may create databases);
        /// without it, on SQLite in a temporary directory.
        #[arg(long)]
        postgres: Option<String>,
        /// Timed requests per measurement (after a warm-up).
        #[arg(long, default_value_t = 50)]
        requests: usize,
        /// The statistics page timed (`{from}` and `{to}` become the first and last day of the
        /// last 12 whole months, for a path that names the days).
        #[arg(long, default_value = "/stats?period=last_12_months")]
        page: String,
        /// The CSV export timed, as `--page`.
        #[arg(long, default_value = "/stats/export/volym.csv?period=last_12_months")]
        export: String,
        /// Keep the scratch database (and data directory) afterwards, and print where it is.
        #[arg(long)]
        keep: bool,
        /// Only time the report, page and export, on a database kept by an earlier `--keep`
        /// run (its URL): no seeding, no rebuild.
        #[arg(long)]
        reuse: Option<String>,
    },
    /// Mail from a real IMAP server (Dovecot, started here) into durable tickets.
    Ingest {
        #[arg(long, default_value_t = 5000)]
        messages: usize,
        /// sqlite, postgres or both.
        #[arg(long, default_value = "both")]
        backend: String,
        #[arg(
            long,
            env = "ARENDO_BENCH_PG_URL",
            default_value = "postgres://postgres@127.0.0.1:5432/postgres"
        )]
        pg_url: String,
        /// Mails appended one at a time for the latency figures.
        #[arg(long, default_value_t = 100)]
        latency_samples: usize,
    },
}

fn run(cmd: BenchCmd, settings: Settings) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    if matches!(cmd, BenchCmd::Api { .. } | BenchCmd::Ingest { .. }) {
        // The servers started here inherit the environment, ARENDO_STATS__FOLLOW with it.
        println!(
            "statistics follower in the server: {}",
            if settings.stats.follow {
                "on"
            } else {
                "off (stats.follow = false)"
            }
        );
    }
    match cmd {
        BenchCmd::Seed { tickets } => {
            let db = Db::connect(&settings.database_url(), 2)?;
            seed::seed(&db, tickets, &settings.data_dir)
        }
        BenchCmd::Pages { requests } => rt.block_on(pages::run(&settings, requests)),
        BenchCmd::Sla {
            tickets,
            due,
            sweeps,
        } => {
            let db = Db::connect(&settings.database_url(), 2)?;
            sla::run(&db, tickets, due, sweeps)
        }
        BenchCmd::Startup { runs } => rt.block_on(startup(runs)),
        BenchCmd::Kb { articles, queries } => kb::run(articles, queries),
        BenchCmd::Login { clients, seconds } => rt.block_on(login::run(clients, seconds)),
        BenchCmd::Stats {
            tickets,
            postgres,
            requests,
            page,
            export,
            keep,
            reuse,
        } => rt.block_on(stats::run(&stats::Options {
            tickets,
            postgres,
            requests,
            page,
            export,
            keep,
            reuse,
        })),
        BenchCmd::Ingest {
            messages,
            backend,
            pg_url,
            latency_samples,
        } => {
            for b in backends(&backend)? {
                rt.block_on(ingest::run(b, &pg_url, messages, latency_samples))?;
            }
            Ok(())
        }
        BenchCmd::Api {
            backend,
            pg_url,
            clients,
            seconds,
        } => {
            for b in backends(&backend)? {
                rt.block_on(api(b, &pg_url, clients, Duration::from_secs(seconds)))?;
            }
            Ok(())
        }
    }
}

fn backends(which: &str) -> anyhow::Result<Vec<&'static str>> {
    Ok(match which {
        "both" => vec!["sqlite", "postgres"],
        "sqlite" => vec!["sqlite"],
        "postgres" => vec!["postgres"],
        other => bail!("--backend must be sqlite, postgres or both (got {other})"),
    })
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The product binary the benchmarks measure: `$ARENDO_BENCH_BIN`, else `arendo` next to this
/// executable (`cargo build --features bench` puts both in target/<profile>/).
fn product_binary() -> anyhow::Result<PathBuf> {
    if let Some(p) = std::env::var_os("ARENDO_BENCH_BIN") {
        return Ok(p.into());
    }
    let p = std::env::current_exe()?.with_file_name("arendo");
    if !p.exists() {
        bail!(
            "{} is missing: build both binaries with `cargo build --release --features bench`, \
             or name the arendo binary in ARENDO_BENCH_BIN",
            p.display()
        );
    }
    Ok(p)
}

fn spawn_server(
    data_dir: &Path,
    db_url: Option<&str>,
    key_hex: &str,
) -> anyhow::Result<(Server, Instant)> {
    spawn_server_with(data_dir, db_url, key_hex, &[])
}

fn spawn_server_with(
    data_dir: &Path,
    db_url: Option<&str>,
    key_hex: &str,
    extra_env: &[(&str, &str)],
) -> anyhow::Result<(Server, Instant)> {
    let port = free_port()?;
    let mut cmd = Command::new(product_binary()?);
    cmd.arg("serve")
        .env_remove("ARENDO_CONFIG")
        .env("ARENDO_DATA_DIR", data_dir)
        .env("ARENDO_SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .env("ARENDO_DEMO", "false")
        .env("ARENDO_SECRET_KEY", key_hex)
        // The benchmark's Dovecot listens on loopback.
        .env("ARENDO_EGRESS__ALLOW", "127.0.0.1")
        .env("ARENDO_LOG__LEVEL", "warn")
        .env(
            "RUST_LOG",
            std::env::var("ARENDO_BENCH_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    if let Some(u) = db_url {
        cmd.env("ARENDO_DATABASE__URL", u);
    }
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    let started = Instant::now();
    let child = cmd.spawn().context("cannot start the arendo binary")?;
    Ok((
        Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
        },
        started,
    ))
}

async fn wait_ready(server: &mut Server, client: &reqwest::Client) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = client.get(format!("{}/readyz", server.base)).send().await
            && r.status().is_success()
        {
            return Ok(());
        }
        if let Some(status) = server.child.try_wait()? {
            bail!("the server exited early: {status}");
        }
        if Instant::now() > deadline {
            bail!("the server did not become ready within 30 s");
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

fn rss_kib(pid: u32) -> anyhow::Result<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| -> anyhow::Result<u64> {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| anyhow!("{name} missing in /proc/{pid}/status"))
    };
    Ok((field("VmRSS:")?, field("VmHWM:")?))
}

async fn startup(runs: usize) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    let key = hex::encode(rand::random::<[u8; 32]>());
    let mut times = vec![];
    let mut rss = (0, 0);
    for i in 0..runs.max(1) {
        let dir = tempfile::tempdir()?;
        // A fresh data dir each run: empty SQLite database, migrations applied at start.
        let (mut server, started) = spawn_server(dir.path(), None, &key)?;
        wait_ready(&mut server, &client).await?;
        times.push(started.elapsed());
        if i + 1 == runs.max(1) {
            tokio::time::sleep(Duration::from_secs(3)).await;
            rss = rss_kib(server.child.id())?;
        }
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "bench startup ({} runs, empty SQLite database, release={}, {})",
        times.len(),
        !cfg!(debug_assertions),
        product_binary()?.display()
    );
    println!(
        "  cold start to /readyz: median {:.0} ms, max {:.0} ms   (target ≤ 1000 ms)",
        ms(times[times.len() / 2]),
        ms(*times.last().unwrap())
    );
    println!(
        "  idle RSS after start:  {:.1} MB (peak {:.1} MB)   (target ≤ 40 MB)",
        rss.0 as f64 / 1024.0,
        rss.1 as f64 / 1024.0
    );
    Ok(())
}

/// Make a scratch PostgreSQL database next to `admin_url`; returns its URL and a dropper.
fn scratch_pg(admin_url: &str) -> anyhow::Result<(String, impl FnOnce())> {
    use diesel::Connection as _;
    use diesel::RunQueryDsl as _;
    let name = format!("arendo_bench_{}", hex::encode(rand::random::<[u8; 4]>()));
    let mut admin = diesel::PgConnection::establish(admin_url).with_context(|| {
        "cannot connect to PostgreSQL for the benchmark (give --pg-url)".to_string()
    })?;
    diesel::sql_query(format!("CREATE DATABASE {name}")).execute(&mut admin)?;
    let base = admin_url
        .rsplit_once('/')
        .map(|(b, _)| b)
        .unwrap_or(admin_url);
    let url = format!("{base}/{name}");
    let admin_url = admin_url.to_string();
    Ok((url, move || {
        if let Ok(mut c) = diesel::PgConnection::establish(&admin_url) {
            let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut c);
        }
    }))
}

/// The `p` quantile (0–1) of `times`, in milliseconds (sorts `times`; 0 when empty).
pub(crate) fn percentile_ms(times: &mut [Duration], p: f64) -> f64 {
    if times.is_empty() {
        return 0.0;
    }
    times.sort_unstable();
    let idx = ((times.len() as f64 - 1.0) * p).round() as usize;
    times[idx].as_secs_f64() * 1000.0
}

async fn api(backend: &str, pg_admin: &str, clients: usize, phase: Duration) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let key_hex = hex::encode(rand::random::<[u8; 32]>());
    let (url, dropper): (String, Box<dyn FnOnce()>) = match backend {
        "sqlite" => (
            format!("sqlite://{}", dir.path().join("bench.db").display()),
            Box::new(|| {}),
        ),
        _ => {
            let (u, d) = scratch_pg(pg_admin)?;
            (u, Box::new(d))
        }
    };
    let result = api_on(&url, dir.path(), &key_hex, backend, clients, phase).await;
    dropper();
    result
}

async fn api_on(
    url: &str,
    dir: &Path,
    key_hex: &str,
    backend: &str,
    clients: usize,
    phase: Duration,
) -> anyhow::Result<()> {
    // Set up a tenant, a queue and an API token directly in the database, then start the server.
    let keys = Keys::from_hex(key_hex)?;
    let db = Db::connect(url, 2)?;
    let signer = Signer::new(&keys);
    let (queue_id, token) = db.write_blocking(move |c| -> Result<_, Error> {
        let t = tenants::create_tenant(c, "bench", "Benchkommun", "KC")?;
        let q = tenants::create_queue(c, t.id, "kundtjanst", "Kundtjänst")?;
        let email = EmailAddress::parse("bench@bench.se")?;
        let u = admin::create_user(
            c,
            t.id,
            NewUser {
                email: &email,
                display_name: "Bench",
                role: Role::Admin,
                password: &NewPassword::generate(),
                queues: &[],
            },
        )?;
        let (_, token) =
            admin::create_api_token(c, &signer, t.id, u.id, "bench", &Scope::ALL, None)?;
        Ok((q.id.get(), token))
    })?;
    drop(db);
    let (mut server, _) = spawn_server(dir, Some(url), key_hex)?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .build()?;
    wait_ready(&mut server, &client).await?;
    let base = server.base.clone();

    let create = drive(clients, phase, {
        let (client, base, token) = (client.clone(), base.clone(), token.clone());
        move |i| {
            let (client, base, token) = (client.clone(), base.clone(), token.clone());
            async move {
                let r = client
                    .post(format!("{base}/api/v1/tickets"))
                    .bearer_auth(&token)
                    .json(&serde_json::json!({
                        "queue": queue_id,
                        "subject": format!("Fråga om sophämtning {i}"),
                        "body": "Hej, när töms kärlen i vår gata? Mvh Anna",
                        "contact": { "email": format!("anna{}@example.org", i % 1000), "name": "Anna" }
                    }))
                    .send()
                    .await?;
                if r.status() != reqwest::StatusCode::CREATED {
                    bail!("create answered {}", r.status());
                }
                Ok(())
            }
        }
    })
    .await?;
    let list = drive(clients, phase, {
        let (client, base, token) = (client.clone(), base.clone(), token.clone());
        move |_| {
            let (client, base, token) = (client.clone(), base.clone(), token.clone());
            async move {
                let r = client
                    .get(format!("{base}/api/v1/tickets?status=new&limit=50"))
                    .bearer_auth(&token)
                    .send()
                    .await?;
                if !r.status().is_success() {
                    bail!("list answered {}", r.status());
                }
                r.bytes().await?;
                Ok(())
            }
        }
    })
    .await?;
    println!(
        "bench api on {backend} ({clients} clients, {} s per phase, release={})",
        phase.as_secs(),
        !cfg!(debug_assertions)
    );
    if backend == "sqlite" {
        println!(
            "  durability: WAL + synchronous=FULL, group commit (each create is fsynced before 201)"
        );
    } else {
        println!("  durability: PostgreSQL defaults (synchronous_commit=on, fsync=on)");
    }
    for (name, r) in [("ticket create", &create), ("ticket list (50)", &list)] {
        println!(
            "  {name:<17} {:>8.0} req/s   p50 {:>6.2} ms   p99 {:>6.2} ms   ({} requests)",
            r.0,
            percentile_ms(&mut r.1.clone(), 0.50),
            percentile_ms(&mut r.1.clone(), 0.99),
            r.1.len()
        );
    }
    Ok(())
}

/// Run `f(i)` from `clients` concurrent tasks for `phase`; returns (requests/s, sorted latencies).
async fn drive<F, Fut>(
    clients: usize,
    phase: Duration,
    f: F,
) -> anyhow::Result<(f64, Vec<Duration>)>
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let start = Instant::now();
    let mut tasks = vec![];
    for c in 0..clients {
        let f = f.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = vec![];
            let mut i = c * 1_000_000;
            while start.elapsed() < phase {
                let t0 = Instant::now();
                f(i).await?;
                lat.push(t0.elapsed());
                i += 1;
            }
            Ok::<_, anyhow::Error>(lat)
        }));
    }
    let mut all = vec![];
    for t in tasks {
        all.extend(t.await??);
    }
    let secs = start.elapsed().as_secs_f64();
    all.sort();
    Ok((all.len() as f64 / secs, all))
}
