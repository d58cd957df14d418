//! `arendo-bench sla`: the SLA sweeper against the configured database (fill it first with
//! `arendo-bench seed`). Gives the first `--tickets` tickets a running first-response clock, of
//! which `--due` per sweep are past due, then runs `--sweeps` sweeps, each at the moment the next
//! batch falls due, and prints p50/p99 of one sweep (claim, fire, record, reschedule, commit).

use std::time::{Duration, Instant};

use anyhow::bail;
use chrono::{TimeDelta, Utc};

use crate::sla::engine::{Notices, sweep};
use crate::store::{self, Db};

fn pct(mut v: Vec<Duration>, p: f64) -> f64 {
    super::percentile_ms(&mut v, p)
}

pub fn run(db: &Db, tickets: i64, due: i64, sweeps: i64) -> anyhow::Result<()> {
    if due * sweeps > tickets {
        bail!("--due × --sweeps must not exceed --tickets");
    }
    let started = Instant::now();
    let base = Utc::now() - TimeDelta::days(1);
    let all = db.read_blocking(|c| -> Result<_, crate::error::Error> {
        Ok(store::seed::first_tickets(c, tickets)?)
    })?;
    if (all.len() as i64) < tickets {
        bail!(
            "the database has {} tickets; run `arendo-bench seed --tickets {tickets}` first",
            all.len()
        );
    }
    db.write_blocking(|c| -> Result<(), crate::error::Error> {
        Ok(store::seed::reset_clocks(c)?)
    })?;
    // Batch i (i < sweeps) falls due at base + i s; everyone else in a month.
    let now = base.naive_utc();
    for chunk in all.chunks(50_000).enumerate() {
        let (offset, part) = (chunk.0 * 50_000, chunk.1);
        let rows: Vec<_> = part
            .iter()
            .enumerate()
            .map(|(j, (t, k))| {
                let i = (offset + j) as i64;
                let at = if i < due * sweeps {
                    base + TimeDelta::seconds(i / due)
                } else {
                    base + TimeDelta::days(30)
                };
                (
                    *t,
                    *k,
                    (base - TimeDelta::hours(9)).naive_utc(),
                    at.naive_utc(),
                )
            })
            .collect();
        db.write_blocking(move |c| -> Result<(), crate::error::Error> {
            Ok(store::seed::insert_clocks(c, &rows, now)?)
        })?;
    }
    db.read_blocking(|c| -> Result<(), crate::error::Error> {
        Ok(store::seed::tidy_after_load(c)?)
    })?;
    println!(
        "bench sla ({}): {tickets} running clocks set up in {:.1} s",
        db.backend().name(),
        started.elapsed().as_secs_f64()
    );
    let notices = Notices {
        from: "bench@example.org".into(),
        public_url: "http://127.0.0.1".into(),
        apply: crate::tickets::breach::apply,
    };
    let mut times = vec![];
    for i in 0..sweeps {
        let at = base + TimeDelta::seconds(i) + TimeDelta::milliseconds(500);
        // The follower's share of the work (untimed): it has read the previous sweep's events.
        db.write_blocking(|c| -> Result<(), crate::error::Error> {
            Ok(store::seed::follower_to_end(c)?)
        })?;
        let t = Instant::now();
        let swept = sweep(db, &notices, at, due.max(1) * 2)?;
        times.push(t.elapsed());
        if swept.fired as i64 != due {
            bail!("sweep {i} fired {} breaches, expected {due}", swept.fired);
        }
    }
    let t = Instant::now();
    let idle = sweep(db, &notices, base + TimeDelta::seconds(sweeps), 1000)?;
    let idle_t = t.elapsed();
    println!(
        "  sweep with {due} due of {tickets} open: p50 {:.1} ms, p99 {:.1} ms over {sweeps} sweeps (target ≤ 50 ms)",
        pct(times.clone(), 0.5),
        pct(times, 0.99)
    );
    println!(
        "  sweep with nothing due: {:.2} ms ({} tickets)",
        idle_t.as_secs_f64() * 1000.0,
        idle.tickets
    );
    Ok(())
}
