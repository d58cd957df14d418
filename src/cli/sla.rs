//! `arendo sla …`: calendars (opening hours, holidays) and policies per queue and priority.

use anyhow::{anyhow, bail};
use clap::Subcommand;

use super::{TenantArg, operator};
use crate::Db;
use crate::domain::Priority;
use crate::sla::admin::{self, CalendarInput, PolicyText};
use crate::sla::{Calendar, Holiday};
use crate::tenants::admin::queue_by_slug;

#[derive(Subcommand, Debug)]
pub(super) enum SlaCmd {
    /// Create or replace a calendar. Days not given keep the default (Mon–Thu 08:00–16:30,
    /// Fri 08:00–16:00, weekends closed); every Swedish holiday and eve is closed unless
    /// --open-on names it.
    Calendar {
        #[command(flatten)]
        t: TenantArg,
        #[arg(long)]
        name: String,
        /// Make it the calendar of every queue without its own.
        #[arg(long)]
        default: bool,
        /// Hours per weekday, e.g. --mon "08:00-12:00, 13:00-16:30" or --sat stängt.
        #[arg(long)]
        mon: Option<String>,
        #[arg(long)]
        tue: Option<String>,
        #[arg(long)]
        wed: Option<String>,
        #[arg(long)]
        thu: Option<String>,
        #[arg(long)]
        fri: Option<String>,
        #[arg(long)]
        sat: Option<String>,
        #[arg(long)]
        sun: Option<String>,
        /// Holidays the queue is open on (keys as `arendo sla holidays` prints), comma-separated.
        #[arg(long, default_value = "")]
        open_on: String,
        /// An extra closed day (YYYY-MM-DD); repeat for more.
        #[arg(long)]
        closed: Vec<chrono::NaiveDate>,
        /// A day with its own hours, e.g. --special "2026-12-23=08:00-12:00"; repeat for more.
        #[arg(long)]
        special: Vec<String>,
    },
    /// Give a queue its own calendar, or --default to follow the tenant's default.
    UseCalendar {
        #[command(flatten)]
        t: TenantArg,
        #[arg(long)]
        queue: String,
        #[arg(long)]
        calendar: Option<String>,
        #[arg(long)]
        default: bool,
    },
    /// Set a queue's targets for one priority, in business time ("90", "1:30", "4h", "2d";
    /// empty to not measure). Rules: --rule warning:notify, --rule breach:raise_priority,
    /// --rule breach:move_to_queue=<queue slug>, --rule breach:assign=<e-mail>,
    /// --rule breach:escalate=<hook name>.
    Policy {
        #[command(flatten)]
        t: TenantArg,
        #[arg(long)]
        queue: String,
        #[arg(long, default_value = "normal")]
        priority: String,
        #[arg(long, default_value = "")]
        first_response: String,
        #[arg(long, default_value = "")]
        next_response: String,
        #[arg(long, default_value = "")]
        resolution: String,
        /// Warn at this share of a target, in percent.
        #[arg(long, default_value_t = 80)]
        warn: i32,
        #[arg(long)]
        rule: Vec<String>,
    },
    /// Calendars, queues' calendars and policies of a tenant.
    Show {
        #[command(flatten)]
        t: TenantArg,
    },
    /// The Swedish holidays of a year, with the keys --open-on uses.
    Holidays {
        #[arg(long)]
        year: i32,
    },
}

/// The Swedish holidays of a year (no database).
pub(super) fn holidays(year: i32) {
    for (date, h) in Holiday::of_year(year) {
        println!("{date}  {}", h.key());
    }
}

pub(super) async fn run(cmd: SlaCmd, db: &Db) -> anyhow::Result<()> {
    match cmd {
        SlaCmd::Calendar {
            t,
            name,
            default,
            mon,
            tue,
            wed,
            thu,
            fri,
            sat,
            sun,
            open_on,
            closed,
            special,
        } => {
            let week = [mon, tue, wed, thu, fri, sat, sun];
            let input = calendar_input(name, default, week, &open_on, &closed, &special)?;
            let actor = operator(db, &t).await?;
            let id = admin::put_calendar(db, &actor, input).await?;
            println!("calendar saved (id {id})");
        }
        SlaCmd::UseCalendar {
            t,
            queue,
            calendar,
            default,
        } => use_calendar(db, t, &queue, calendar, default).await?,
        SlaCmd::Policy {
            t,
            queue,
            priority,
            first_response,
            next_response,
            resolution,
            warn,
            rule,
        } => {
            let priority = Priority::parse(&priority)?;
            let actor = operator(db, &t).await?;
            let q = queue_by_slug(db, &actor, &queue).await?;
            // The admin form's use case, with the options as its fields.
            let form = PolicyText {
                first_response,
                next_response,
                resolution,
                warn_percent: warn.to_string(),
                rules: rule.join("\n"),
            };
            admin::save_policy_form(db, &actor, q.id.get(), priority, form).await?;
            println!("policy saved; the queue's open tickets have new due times");
        }
        SlaCmd::Show { t } => show(db, t).await?,
        SlaCmd::Holidays { year } => holidays(year),
    }
    Ok(())
}

/// Start from the default week with every holiday closed; the options change that.
fn calendar_input(
    name: String,
    default: bool,
    week: [Option<String>; 7],
    open_on: &str,
    closed: &[chrono::NaiveDate],
    special: &[String],
) -> anyhow::Result<CalendarInput> {
    let mut input = CalendarInput::of(&name, default, &Calendar::default());
    for (i, day) in week.into_iter().enumerate() {
        if let Some(h) = day {
            input.week[i] = h;
        }
    }
    for key in open_on.split(',').map(str::trim).filter(|k| !k.is_empty()) {
        if Holiday::parse(key).is_none() {
            bail!("{key:?} is not a holiday key (see `arendo sla holidays`)");
        }
        input.closed_holidays.retain(|k| k != key);
    }
    input.closed_days = closed
        .iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("\n");
    input.special_days = special.join("\n");
    // Checked here too, so a bad option is named before the tenant is looked up.
    input.calendar()?;
    Ok(input)
}

async fn use_calendar(
    db: &Db,
    t: TenantArg,
    queue: &str,
    calendar: Option<String>,
    default: bool,
) -> anyhow::Result<()> {
    if calendar.is_some() == default {
        bail!("give --calendar NAME or --default");
    }
    let actor = operator(db, &t).await?;
    let q = queue_by_slug(db, &actor, queue).await?;
    let id = match calendar {
        Some(n) => Some(
            admin::setup(db, &actor)
                .await?
                .calendars
                .into_iter()
                .find(|c| c.input.name == n)
                .ok_or_else(|| anyhow!(crate::error::Error::NotFound("calendar")))?
                .id,
        ),
        None => None,
    };
    admin::use_calendar_form(db, &actor, q.id.get(), id).await?;
    println!("queue calendar set");
    Ok(())
}

async fn show(db: &Db, t: TenantArg) -> anyhow::Result<()> {
    let actor = operator(db, &t).await?;
    let setup = admin::setup(db, &actor).await?;
    println!("Calendars:");
    let days = ["mån", "tis", "ons", "tor", "fre", "lör", "sön"];
    for c in &setup.calendars {
        let week: Vec<String> = days
            .iter()
            .zip(&c.input.week)
            .map(|(d, h)| format!("{d} {h}"))
            .collect();
        let default = if c.input.default { " (default)" } else { "" };
        println!("  {}{default}: {}", c.input.name, week.join("; "));
    }
    println!("Queues with their own calendar:");
    for q in &setup.queues {
        if let Some(id) = q.calendar {
            let name = setup
                .calendars
                .iter()
                .find(|c| c.id == id)
                .map_or("?", |c| c.input.name.as_str());
            println!("  queue {}: {name}", q.name);
        }
    }
    println!("Policies (business minutes):");
    for q in &setup.queues {
        for (priority, p) in &q.policies {
            let Some(p) = p else { continue };
            let m = |v: Option<chrono::TimeDelta>| {
                v.map_or("–".into(), |d| d.num_minutes().to_string())
            };
            // The rules as `--rule` writes them (the admin form's text).
            let (_, form) = admin::policy_form(db, &actor, q.id.get(), *priority).await?;
            let rules: Vec<&str> = form.rules.lines().collect();
            println!(
                "  queue {} {}: first {} next {} resolution {} warn {}% rules {}",
                q.name,
                priority.as_str(),
                m(p.budgets.first_response),
                m(p.budgets.next_response),
                m(p.budgets.resolution),
                p.warn_percent,
                if rules.is_empty() {
                    "–".to_string()
                } else {
                    rules.join(", ")
                }
            );
        }
    }
    Ok(())
}
