//! `arendo-bench login --clients N`: a login flood against the real server (the `arendo` binary,
//! started as a child process; build with `--release` for the figures). N parallel clients send wrong
//! passwords for `--seconds`, once all from one address and once from N addresses (through a
//! trusted proxy: `X-Forwarded-For` from 127.0.0.1). Meanwhile the agent signs in every second from
//! another address, with the browser she used before (device cookie) and with a new browser.
//! Prints the server's RSS before, at the peak (sampled every 10 ms) and after each flood, the
//! answers the flood got, and how long the agent's sign-ins took.
//! Targets (issue 16): peak ≤ 150 MB, after-flood within 20 MB of before, the agent's sign-in ≤ 1 s.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use super::{rss_kib, spawn_server_with, wait_ready};
use crate::accounts::admin::{self, NewUser};
use crate::accounts::password::NewPassword;
use crate::domain::{EmailAddress, Role};
use crate::error::Error;
use crate::store::Db;
use crate::tenants;

const TENANT: &str = "bench";
const AGENT: &str = "agent@bench.se";

fn browser() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(2)
        .build()?)
}

async fn csrf(client: &reqwest::Client, base: &str, ip: &str) -> anyhow::Result<String> {
    let html = client
        .get(format!("{base}/login"))
        .header("x-forwarded-for", ip)
        .send()
        .await?
        .text()
        .await?;
    html.split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .map(str::to_string)
        .context("no CSRF token on the login page")
}

async fn post_login(
    client: &reqwest::Client,
    base: &str,
    csrf: &str,
    ip: &str,
    email: &str,
    password: &str,
) -> anyhow::Result<u16> {
    Ok(client
        .post(format!("{base}/login"))
        .header("x-forwarded-for", ip)
        .form(&[
            ("csrf", csrf),
            ("tenant", TENANT),
            ("email", email),
            ("password", password),
        ])
        .send()
        .await?
        .status()
        .as_u16())
}

/// One sign-in by the agent from `ip` with `client` (its cookies); returns (status, time).
async fn agent_login(
    client: &reqwest::Client,
    base: &str,
    ip: &str,
    password: &str,
) -> anyhow::Result<(u16, Duration)> {
    let t = Instant::now();
    let token = csrf(client, base, ip).await?;
    let status = post_login(client, base, &token, ip, AGENT, password).await?;
    Ok((status, t.elapsed()))
}

struct Phase {
    name: String,
    answers: BTreeMap<u16, u64>,
    before_kib: u64,
    peak_kib: u64,
    after_kib: u64,
    known: Vec<(u16, Duration)>,
    fresh: Vec<(u16, Duration)>,
}

#[allow(clippy::too_many_arguments)]
async fn flood(
    name: &str,
    base: &str,
    pid: u32,
    clients: usize,
    phase: Duration,
    one_address: bool,
    known: &reqwest::Client,
    password: &str,
) -> anyhow::Result<Phase> {
    let before_kib = rss_kib(pid)?.0;
    let stop = Arc::new(AtomicBool::new(false));
    let peak = Arc::new(AtomicU64::new(before_kib));
    let sampler = {
        let (stop, peak) = (stop.clone(), peak.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                if let Ok((rss, _)) = rss_kib(pid) {
                    peak.fetch_max(rss, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    };
    let started = Instant::now();
    let mut tasks = vec![];
    for c in 0..clients {
        let base = base.to_string();
        let stop = stop.clone();
        let ip = if one_address {
            "203.0.113.1".to_string()
        } else {
            format!("198.18.{}.{}", c / 250, c % 250 + 1)
        };
        tasks.push(tokio::spawn(async move {
            let client = browser()?;
            let token = csrf(&client, &base, &ip).await?;
            let mut answers: BTreeMap<u16, u64> = BTreeMap::new();
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                // A different (unknown) account each time: no per-account limit helps.
                let email = format!("gissning{c}-{i}@bench.se");
                let s = post_login(&client, &base, &token, &ip, &email, "fel-lösenord-123")
                    .await
                    .unwrap_or(0);
                *answers.entry(s).or_default() += 1;
                i += 1;
            }
            Ok::<_, anyhow::Error>(answers)
        }));
    }
    // The agent, every second during the flood: her own browser (device cookie) from her usual
    // address, and a browser she never used from another.
    let mut known_times = vec![];
    let mut fresh_times = vec![];
    tokio::time::sleep(Duration::from_millis(500)).await;
    while started.elapsed() + Duration::from_millis(1500) < phase {
        known_times.push(agent_login(known, base, "192.0.2.200", password).await?);
        let fresh = browser()?;
        fresh_times.push(agent_login(&fresh, base, "192.0.2.201", password).await?);
        tokio::time::sleep(Duration::from_millis(1000)).await;
    }
    while started.elapsed() < phase {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let mut answers: BTreeMap<u16, u64> = BTreeMap::new();
    for t in tasks {
        for (s, n) in t.await?? {
            *answers.entry(s).or_default() += n;
        }
    }
    // The pool gives its memory back once it has been idle for a moment.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let _ = sampler.await;
    Ok(Phase {
        name: name.to_string(),
        answers,
        before_kib,
        peak_kib: peak.load(Ordering::Relaxed),
        after_kib: rss_kib(pid)?.0,
        known: known_times,
        fresh: fresh_times,
    })
}

fn summary(times: &[(u16, Duration)]) -> String {
    if times.is_empty() {
        return "no sample".into();
    }
    let mut d: Vec<Duration> = times.iter().map(|(_, d)| *d).collect();
    let ok = times.iter().filter(|(s, _)| *s == 303).count();
    let p50 = super::percentile_ms(&mut d, 0.5);
    let max = super::percentile_ms(&mut d, 1.0);
    format!(
        "{ok}/{} signed in, median {p50:.0} ms, max {max:.0} ms",
        times.len()
    )
}

pub async fn run(clients: usize, seconds: u64) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let key_hex = hex::encode(rand::random::<[u8; 32]>());
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let password = NewPassword::generate();
    let shown = password.expose().to_string();
    {
        let db = Db::connect(&url, 2)?;
        db.write_blocking(move |c| -> Result<(), Error> {
            let t = tenants::create_tenant(c, TENANT, "Benchkommun", "KC")?;
            let email = EmailAddress::parse(AGENT)?;
            admin::create_user(
                c,
                t.id,
                NewUser {
                    email: &email,
                    display_name: "Agent",
                    role: Role::Agent,
                    password: &password,
                    queues: &[],
                },
            )?;
            Ok(())
        })?;
    }
    let (mut server, _) = spawn_server_with(
        dir.path(),
        Some(&url),
        &key_hex,
        &[
            ("ARENDO_MAIL__IMAP_ENABLED", "false"),
            ("ARENDO_SERVER__TRUSTED_PROXIES", "127.0.0.1"),
        ],
    )?;
    wait_ready(&mut server, &reqwest::Client::new()).await?;
    let base = server.base.clone();
    let pid = server.child.id();
    // The agent signed in from her browser before (it keeps the device cookie).
    let known = browser()?;
    let (status, _) = agent_login(&known, &base, "192.0.2.200", &shown).await?;
    if status != 303 {
        bail!("the agent could not sign in before the flood: {status}");
    }
    tokio::time::sleep(Duration::from_secs(4)).await;
    let (idle_kib, _) = rss_kib(pid)?;
    let phase = Duration::from_secs(seconds.max(5));
    let one = flood(
        "one address",
        &base,
        pid,
        clients,
        phase,
        true,
        &known,
        &shown,
    )
    .await?;
    let many = flood(
        &format!("{clients} addresses"),
        &base,
        pid,
        clients,
        phase,
        false,
        &known,
        &shown,
    )
    .await?;
    let (_, hwm_kib) = rss_kib(pid)?;
    let mb = |kib: u64| kib as f64 / 1024.0;
    println!(
        "bench login ({clients} parallel clients, {} s per flood, release={})",
        phase.as_secs(),
        !cfg!(debug_assertions)
    );
    println!("  idle RSS after one sign-in: {:.1} MB", mb(idle_kib));
    for p in [&one, &many] {
        let answers: Vec<String> = p.answers.iter().map(|(s, n)| format!("{s}: {n}")).collect();
        println!("  flood from {}:", p.name);
        println!("    answers          {}", answers.join(", "));
        println!(
            "    RSS before {:.1} MB, peak {:.1} MB (target ≤ 150), after {:.1} MB (target ≤ before + 20)",
            mb(p.before_kib),
            mb(p.peak_kib),
            mb(p.after_kib)
        );
        println!(
            "    agent, her browser (device cookie), other address: {}   (target ≤ 1000 ms)",
            summary(&p.known)
        );
        println!(
            "    agent, a new browser, other address:               {}",
            summary(&p.fresh)
        );
    }
    println!(
        "  server's peak RSS over its whole life (VmHWM): {:.1} MB",
        mb(hwm_kib)
    );
    Ok(())
}
