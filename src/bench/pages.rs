//! `arendo-bench pages`: the workspace pages an agent uses all day, measured against the
//! configured database (fill it first with `arendo-bench seed`). Starts the server (the `arendo`
//! binary), signs in as the seeded agent, and times sequential requests over loopback (so the
//! figures are server time plus a fraction of a millisecond of HTTP): the queue list in several
//! forms, the ticket view, and search. Prints p50/p99 per page.

use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;

use super::{spawn_server_with, wait_ready};
use crate::config::Settings;

const QUERIES: [&str; 12] = [
    "vattenläcka",
    "soptunnan tömd",
    "bygglov altan",
    "gatubelysning storgatan",
    "faktura",
    "förskoleplats",
    "brunt vatten",
    "grovavfall",
    "\"hål i asfalten\"",
    "vattenmätaren",
    "snöröjning",
    "kärl",
];

fn pct(mut v: Vec<Duration>, p: f64) -> f64 {
    super::percentile_ms(&mut v, p)
}

async fn time(client: &reqwest::Client, url: &str) -> anyhow::Result<(Duration, String)> {
    let t = Instant::now();
    let r = client.get(url).send().await?;
    let status = r.status();
    let body = r.text().await?;
    let d = t.elapsed();
    if !status.is_success() {
        bail!("{url}: {status}");
    }
    Ok((d, body))
}

pub async fn run(settings: &Settings, requests: usize) -> anyhow::Result<()> {
    let data_dir = settings.data_dir.clone();
    let creds = std::fs::read_to_string(data_dir.join("bench-credentials.txt"))
        .context("no bench-credentials.txt in the data dir: run `arendo-bench seed` first")?;
    let parts: Vec<&str> = creds.split_whitespace().collect();
    let (tenant, email, password) = (parts[0], parts[1], parts[2]);
    // The installation key (made now if the seeded data dir has none yet).
    crate::secrets::Keys::load_or_create(settings.secret_key.as_ref(), &data_dir)?;
    let key = match &settings.secret_key {
        Some(k) => secrecy::ExposeSecret::expose_secret(k).to_string(),
        None => std::fs::read_to_string(data_dir.join("secret.key"))?
            .trim()
            .to_string(),
    };
    let url = settings.database_url();
    let (mut server, _) = spawn_server_with(
        &data_dir,
        Some(&url),
        &key,
        &[("ARENDO_MAIL__IMAP_ENABLED", "false")],
    )?;
    let probe = reqwest::Client::new();
    wait_ready(&mut server, &probe).await?;
    let base = server.base.clone();
    let client = signed_in(&base, tenant, email, password).await?;
    // What the agent can see: their queues, and a sample of tickets old and new.
    let mine: Value = client
        .get(format!("{base}/api/v1/queues"))
        .send()
        .await?
        .json()
        .await?;
    let queues: Vec<i64> = mine["queues"]
        .as_array()
        .map(|a| a.iter().filter_map(|q| q["id"].as_i64()).collect())
        .unwrap_or_default();
    let mut numbers = vec![];
    for sort in ["newest", "oldest"] {
        let page: Value = client
            .get(format!("{base}/api/v1/tickets?status=new,open,waiting,resolved,closed&sort={sort}&limit=200"))
            .send()
            .await?
            .json()
            .await?;
        for t in page["tickets"].as_array().into_iter().flatten() {
            if let Some(n) = t["number"].as_str() {
                numbers.push(n.to_string());
            }
        }
    }
    if numbers.is_empty() || queues.is_empty() {
        bail!("the seeded agent sees no tickets: run `arendo-bench seed` first");
    }
    let mut r = StdRng::seed_from_u64(7);
    // A second page of a long list, to time keyset paging too.
    let first = time(
        &client,
        &format!("{base}/tickets?queue={}&status=all", queues[0]),
    )
    .await?
    .1;
    let next = first
        .split("rel=\"next\"")
        .next()
        .and_then(|s| s.rsplit("href=\"").next())
        .map(|s| s.replace("&amp;", "&"))
        .filter(|s| s.starts_with("/tickets?"));
    // (label, path): each form of the list an agent uses.
    let lists: Vec<(String, String)> = {
        let mut v = vec![];
        for q in &queues {
            for form in ["", "&sort=urgent", "&status=all"] {
                let path = format!("/tickets?queue={q}{form}");
                v.push((path.clone(), path));
            }
        }
        v.push(("/tickets".into(), "/tickets".into()));
        v.extend(next.map(|n| ("next page of a long list".to_string(), n)));
        v
    };
    // Warm up (caches, connections) before timing.
    for (_, l) in &lists {
        time(&client, &format!("{base}{l}")).await?;
    }
    let mut list_t = vec![];
    // The same figures per form of the list (which filter or sort is slow, if one is).
    let mut per_form: Vec<Vec<Duration>> = vec![vec![]; lists.len()];
    let mut view_t = vec![];
    let mut search_t = vec![];
    let mut work_t = vec![];
    for i in 0..requests {
        let l = &lists[i % lists.len()].1;
        let d = time(&client, &format!("{base}{l}")).await?.0;
        list_t.push(d);
        per_form[i % lists.len()].push(d);
        if i % 4 == 0 {
            work_t.push(time(&client, &format!("{base}/")).await?.0);
        }
        let n = &numbers[r.random_range(0..numbers.len())];
        view_t.push(time(&client, &format!("{base}/tickets/{n}")).await?.0);
        let q = QUERIES[i % QUERIES.len()];
        let enc: String = url::form_urlencoded::byte_serialize(q.as_bytes()).collect();
        search_t.push(time(&client, &format!("{base}/search?q={enc}")).await?.0);
    }
    let backend = if url.starts_with("postgres") {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    println!(
        "bench pages ({backend}, {requests} requests per page, sequential, release={})",
        !cfg!(debug_assertions)
    );
    let line = |name: &str, v: Vec<Duration>, target: f64| {
        let (p50, p99) = (pct(v.clone(), 0.50), pct(v, 0.99));
        println!(
            "  {name:<12} p50 {p50:>6.2} ms   p99 {p99:>6.2} ms   (target p99 ≤ {target} ms){}",
            if p99 <= target {
                ""
            } else {
                "  ← over target"
            }
        );
    };
    line("queue list", list_t, 10.0);
    for ((form, _), v) in lists.iter().zip(per_form) {
        if v.is_empty() {
            continue;
        }
        println!(
            "      {form:<40} p50 {:>6.2} ms   p99 {:>6.2} ms",
            pct(v.clone(), 0.5),
            pct(v, 0.99)
        );
    }
    let (w50, w99) = (pct(work_t.clone(), 0.5), pct(work_t, 0.99));
    println!(
        "  {:<12} p50 {w50:>6.2} ms   p99 {w99:>6.2} ms   (no target)",
        "my work"
    );
    line("ticket view", view_t, 15.0);
    line("search", search_t, 25.0);
    Ok(())
}

/// A client signed in to the web pages (its session in a cookie; redirects not followed).
pub(super) async fn signed_in(
    base: &str,
    tenant: &str,
    email: &str,
    password: &str,
) -> anyhow::Result<reqwest::Client> {
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let login = client
        .get(format!("{base}/login"))
        .send()
        .await?
        .text()
        .await?;
    let csrf = login
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .context("no CSRF token on the login page")?
        .to_string();
    let r = client
        .post(format!("{base}/login"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("tenant", tenant),
            ("email", email),
            ("password", password),
        ])
        .send()
        .await?;
    if r.status() != 303 {
        bail!("could not sign in as {email}: {}", r.status());
    }
    Ok(client)
}
