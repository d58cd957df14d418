//! The operator's command line. `arendo` alone serves; every other command works on the database
//! named by the same configuration and exits non-zero with a clear message on bad input.
//!
//! One file per command group. A command parses its arguments, calls one use case of its
//! capability — as `Actor::operator` of the tenant named by `--tenant`, or an installation-level
//! function (`tenants::installation`) — and prints the outcome. Nothing here touches `store`.

mod escalation;
mod kb;
mod mail;
mod mailbox;
mod queue;
mod search;
mod sla;
mod sms;
mod stats;
mod status_link;
mod tenant;
mod token;
mod user;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, anyhow};
use clap::{Args, Parser, Subcommand};

use crate::Db;
use crate::accounts::Actor;
use crate::accounts::password::NewPassword;
use crate::config::Settings;
use crate::error::Error;
use crate::secrets::Keys;
use crate::{demo, tenants};

#[derive(Parser, Debug)]
#[command(
    name = "arendo",
    version,
    about = "Ärendo – kontaktcenter för kommuner"
)]
pub struct Cli {
    /// Configuration file (TOML). Default: $ARENDO_CONFIG, else ./arendo.toml if present.
    #[arg(long, short, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the web server and background workers (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Create the demo tenant, queues, accounts and tickets (idempotent).
    Demo,
    /// Municipalities served by this installation.
    #[command(subcommand)]
    Tenant(tenant::TenantCmd),
    /// Department queues.
    #[command(subcommand)]
    Queue(queue::QueueCmd),
    /// Agent accounts.
    #[command(subcommand)]
    User(user::UserCmd),
    /// Function mailboxes fetched over IMAP.
    #[command(subcommand)]
    Mailbox(mailbox::MailboxCmd),
    /// API tokens for the JSON API.
    #[command(subcommand)]
    Token(token::TokenCmd),
    /// The mail channel: import .eml files, see the state of the function mailboxes.
    #[command(subcommand)]
    Mail(mail::MailCmd),
    /// The ticket search index of this node.
    #[command(subcommand)]
    Search(search::SearchCmd),
    /// Service levels: calendars (opening hours, holidays) and policies per queue and priority.
    #[command(subcommand)]
    Sla(sla::SlaCmd),
    /// Escalation targets: the records system (diariet) tickets can be sent to.
    #[command(subcommand)]
    Escalation(escalation::EscalationCmd),
    /// Print a fresh link to a ticket's citizen status page (e.g. to give a citizen on the phone).
    StatusLink(status_link::StatusLinkArgs),
    /// Text messages: a municipality's SMS gateway.
    #[command(subcommand)]
    Sms(sms::SmsCmd),
    /// The knowledge base: import article files, rebuild this node's index.
    #[command(subcommand)]
    Kb(kb::KbCmd),
    /// Statistics: rebuild the aggregates from the ticket history.
    #[command(subcommand)]
    Stats(stats::StatsCmd),
}

#[derive(Args, Debug)]
struct TenantArg {
    /// The tenant's slug.
    #[arg(long)]
    tenant: String,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("arendo: {e}");
            return ExitCode::from(2);
        }
    };
    crate::telemetry::init(&settings.log.format, &settings.log.level);
    match run(cli.command.unwrap_or(Command::Serve), settings) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("arendo: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cmd: Command, settings: Settings) -> anyhow::Result<()> {
    match cmd {
        Command::Serve => serve(settings),
        Command::Migrate => {
            // Connecting applies the migrations (`Db::connect`).
            open_db(&settings)?;
            println!("database is up to date");
            Ok(())
        }
        Command::Demo => {
            let db = open_db(&settings)?;
            let creds = demo::seed(&db)?;
            if creds.0.is_empty() {
                println!("demo data already present; no new accounts");
            }
            demo::announce(&creds, &settings);
            Ok(())
        }
        Command::Search(c) => search::run(c, &settings),
        Command::Kb(c) => kb::run(c, &settings),
        Command::Sla(sla::SlaCmd::Holidays { year }) => {
            sla::holidays(year);
            Ok(())
        }
        other => {
            let db = open_db(&settings)?;
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(on_tenant_data(other, &db, &settings))
        }
    }
}

/// The commands that work on the database through use cases.
async fn on_tenant_data(cmd: Command, db: &Db, settings: &Settings) -> anyhow::Result<()> {
    match cmd {
        Command::Tenant(c) => tenant::run(c, db, settings).await,
        Command::Queue(c) => queue::run(c, db).await,
        Command::User(c) => user::run(c, db).await,
        Command::Mailbox(c) => mailbox::run(c, db, settings).await,
        Command::Token(c) => token::run(c, db, settings).await,
        Command::Mail(c) => mail::run(c, db, settings).await,
        Command::Sla(c) => sla::run(c, db).await,
        Command::Escalation(c) => escalation::run(c, db, settings).await,
        Command::StatusLink(a) => status_link::run(a, db, settings).await,
        Command::Sms(c) => sms::run(c, db, settings).await,
        Command::Stats(c) => stats::run(c, db).await,
        Command::Serve | Command::Migrate | Command::Demo | Command::Search(_) | Command::Kb(_) => {
            unreachable!("run without a runtime of their own")
        }
    }
}

fn serve(settings: Settings) -> anyhow::Result<()> {
    let workers = settings.server.workers;
    let sys = actix_web::rt::System::with_tokio_rt(move || {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        if workers > 0 {
            b.worker_threads(workers);
        }
        b.enable_all().build().expect("tokio runtime")
    });
    sys.block_on(async move {
        let app = crate::app::Application::build(settings)?;
        app.run_until_stopped()
            .await
            .context("server stopped with an error")
    })
}

// ---- shared by the command groups ----

/// Connect to the configured database (and apply the migrations).
fn open_db(settings: &Settings) -> anyhow::Result<Db> {
    Ok(Db::connect(&settings.database_url(), 2)?)
}

/// The installation's secret key (created on first use).
fn keys(settings: &Settings) -> anyhow::Result<Keys> {
    Ok(Keys::load_or_create(
        settings.secret_key.as_ref(),
        &settings.data_dir,
    )?)
}

/// The operator acting on the tenant `--tenant` names.
async fn operator(db: &Db, t: &TenantArg) -> Result<Actor, Error> {
    tenants::installation::operator(db, &t.tenant).await
}

/// One line of standard input, without its line end.
fn stdin_line() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

/// A new password from the first line of standard input, or generated (then `true`: print it).
fn read_password(from_stdin: bool) -> anyhow::Result<(NewPassword, bool)> {
    if from_stdin {
        let p =
            NewPassword::parse(&stdin_line()?).map_err(|e| anyhow!("password: {}", e.reason))?;
        Ok((p, false))
    } else {
        Ok((NewPassword::generate(), true))
    }
}

/// A text file an option names.
fn read_file(p: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))
}

/// A progress bar on stderr for `what` (its length is set as the work learns it).
fn progress_bar(what: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(&format!(
            "  [{{bar:30}}] {{pos}}/{{len}} {what} ({{per_sec}}, {{eta}} left)"
        ))
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("#>-"),
    );
    bar
}
