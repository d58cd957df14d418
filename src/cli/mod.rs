//! The operator's command line. `arendo` alone serves; every other command works on the database
//! named by the same configuration and exits non-zero with a clear message on bad input.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, anyhow, bail};
use clap::{Args, Parser, Subcommand};

use crate::accounts::admin::{self, NewUser};
use crate::accounts::password::NewPassword;
use crate::accounts::{Scope, tokens::Signer};
use crate::config::Settings;
use crate::domain::{EmailAddress, MembershipRole, Role, TenantId};
use crate::error::Error;
use crate::secrets::Keys;
use crate::store::{self, Conn, Db};
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
    Tenant(TenantCmd),
    /// Department queues.
    #[command(subcommand)]
    Queue(QueueCmd),
    /// Agent accounts.
    #[command(subcommand)]
    User(UserCmd),
    /// Function mailboxes fetched over IMAP.
    #[command(subcommand)]
    Mailbox(MailboxCmd),
    /// API tokens for the JSON API.
    #[command(subcommand)]
    Token(TokenCmd),
    /// The mail channel: import .eml files, see the state of the function mailboxes.
    #[command(subcommand)]
    Mail(MailCmd),
    /// The ticket search index of this node.
    #[command(subcommand)]
    Search(SearchCmd),
    /// Service levels: calendars (opening hours, holidays) and policies per queue and priority.
    #[command(subcommand)]
    Sla(SlaCmd),
    /// Escalation targets: the records system (diariet) tickets can be sent to.
    #[command(subcommand)]
    Escalation(EscalationCmd),
    /// Print a fresh link to a ticket's citizen status page (e.g. to give a citizen on the phone).
    StatusLink {
        #[command(flatten)]
        t: TenantArg,
        /// The ticket number, e.g. KC-2026-000123.
        #[arg(long)]
        number: String,
    },
    /// Text messages: a municipality's SMS gateway.
    #[command(subcommand)]
    Sms(SmsCmd),
    /// The knowledge base: import article files, rebuild this node's index.
    #[command(subcommand)]
    Kb(KbCmd),
}

#[derive(Subcommand, Debug)]
enum SmsCmd {
    /// Set the municipality's SMS gateway. With --password-stdin the gateway password is read
    /// from standard input and stored encrypted.
    Gateway {
        #[command(flatten)]
        t: TenantArg,
        /// outbox (files in <data_dir>/sms-outbox, nothing is sent) or rest.
        #[arg(long)]
        provider: String,
        /// The gateway's send address, e.g. https://api.46elks.com/a1/sms
        #[arg(long)]
        url: Option<String>,
        #[arg(long)]
        username: Option<String>,
        #[arg(long)]
        password_stdin: bool,
        /// The sender shown on phones: up to 11 letters and digits, or a number.
        #[arg(long)]
        sender: String,
        /// What one part costs, in öre (for the internal bill).
        #[arg(long, default_value_t = 0)]
        price_ore: i32,
        /// The gateway sends å, ä, ö in GSM-7 (most send them as UCS-2).
        #[arg(long)]
        nordic_gsm7: bool,
        /// --provider http: a handlebars file for the request body ({{from}}, {{to}},
        /// {{message}}, {{report_url}}).
        #[arg(long)]
        body_template: Option<PathBuf>,
        #[arg(long, default_value = "application/json")]
        content_type: String,
        /// --provider http: JSON pointer to the message id in the gateway's answer.
        #[arg(long, default_value = "/id")]
        id_pointer: String,
    },
}

#[derive(Subcommand, Debug)]
enum EscalationCmd {
    /// Create or replace (by name) a records-system target. Secrets are read from standard input,
    /// one per line: first the bearer token or basic-auth password (with --auth), then the
    /// signing secret (with --sign); they are stored encrypted.
    Records(Box<RecordsArgs>),
    /// Create or replace (by name) a department to refer tickets to (remiss): the department
    /// gets a mail with a link to a page for that ticket, and has --days to answer.
    Referral {
        #[command(flatten)]
        t: TenantArg,
        #[arg(long)]
        name: String,
        /// The department's address (its function mailbox).
        #[arg(long)]
        email: String,
        #[arg(long, default_value_t = 5)]
        days: i32,
        /// The department may answer the citizen directly.
        #[arg(long)]
        allow_citizen_reply: bool,
        /// A referral here keeps the ticket's SLA running (default: it pauses, waiting for
        /// external, until the answer).
        #[arg(long)]
        sla_runs: bool,
    },
    /// Create or replace (by name) a target that transfers the whole ticket to a department's
    /// queue.
    Transfer {
        #[command(flatten)]
        t: TenantArg,
        #[arg(long)]
        name: String,
        /// The queue's slug.
        #[arg(long)]
        queue: String,
    },
    /// The tenant's escalation targets (without secrets).
    List {
        #[command(flatten)]
        t: TenantArg,
    },
}

#[derive(clap::Args, Debug)]
struct RecordsArgs {
    #[command(flatten)]
    t: TenantArg,
    #[arg(long)]
    name: String,
    /// Where cases are created, e.g. https://diarium.kommun.se/api/arenden
    #[arg(long)]
    url: String,
    #[arg(long, default_value = "POST")]
    method: String,
    /// Extra header, `Name: value` (repeatable).
    #[arg(long = "header")]
    headers: Vec<String>,
    /// A header whose value is secret (e.g. X-Api-Key; repeatable): its value is read from
    /// standard input (one line each, after the auth secret and the signing secret) and sealed;
    /// an empty line keeps the value stored for that name.
    #[arg(long = "secret-header")]
    secret_headers: Vec<String>,
    /// none, bearer or basic.
    #[arg(long, default_value = "none")]
    auth: String,
    /// The user name for basic auth.
    #[arg(long)]
    auth_user: Option<String>,
    /// Sign every request (X-Arendo-Signature: sha256=HMAC of the body) with a shared secret.
    #[arg(long)]
    sign: bool,
    #[arg(long, default_value = "application/json")]
    content_type: String,
    /// A handlebars file for the body (default: the built-in JSON body).
    #[arg(long)]
    body_template: Option<std::path::PathBuf>,
    /// JSON pointer to the case number in the answer.
    #[arg(long, default_value = "/caseNumber")]
    case_pointer: String,
    #[arg(long, default_value_t = 10)]
    timeout: i32,
    /// Make it the default target of these queues (slugs, repeatable).
    #[arg(long = "default-for")]
    default_for: Vec<String>,
}

#[derive(Subcommand, Debug)]
enum KbCmd {
    /// Import article files (Markdown with TOML front matter): a new slug creates an article, a
    /// changed file makes a new revision, an unchanged one does nothing. Without --dir: the
    /// starter articles built into Ärendo.
    Import {
        #[command(flatten)]
        t: TenantArg,
        /// A folder of .md files (read recursively).
        #[arg(long)]
        dir: Option<std::path::PathBuf>,
    },
    /// Rebuild this node's knowledge-base index from the database (stop `arendo serve` on this
    /// node first; it also rebuilds a missing or outdated index by itself at start).
    Reindex,
}

#[derive(Subcommand, Debug)]
enum SlaCmd {
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

#[derive(Subcommand, Debug)]
enum SearchCmd {
    /// Rebuild the search index from the database (stop `arendo serve` on this node first; it
    /// also rebuilds a missing or outdated index by itself at start).
    Reindex,
}

#[derive(Subcommand, Debug)]
enum TenantCmd {
    Create {
        /// Short name used at login and on the command line, e.g. "vasteras".
        #[arg(long)]
        slug: String,
        /// Display name, e.g. "Västerås stad".
        #[arg(long)]
        name: String,
        /// Ticket number prefix, 1–8 capital letters (KC → KC-2026-000123).
        #[arg(long, default_value = "KC")]
        prefix: String,
    },
    List,
    /// The tenant's own SMTP server for outgoing mail (default: the installation's [mail]).
    Smtp {
        #[command(flatten)]
        t: TenantArg,
        #[command(flatten)]
        smtp: SmtpArgs,
    },
}

#[derive(Args, Debug)]
struct TenantArg {
    /// The tenant's slug.
    #[arg(long)]
    tenant: String,
}

#[derive(Subcommand, Debug)]
enum QueueCmd {
    Create {
        #[command(flatten)]
        t: TenantArg,
        #[arg(long)]
        slug: String,
        #[arg(long)]
        name: String,
    },
    List {
        #[command(flatten)]
        t: TenantArg,
    },
    /// What the queue tells citizens: the events that notify them (escalated, waiting,
    /// answered, resolved; "none" for none) and its information class (1–4; from
    /// notify.content_free_from_class on, notices carry no content).
    Notify {
        #[command(flatten)]
        t: TenantArg,
        #[arg(long)]
        queue: String,
        /// Comma-separated, e.g. resolved,waiting
        #[arg(long)]
        events: String,
        #[arg(long, default_value_t = 1)]
        class: i32,
    },
    /// Set the queue's acknowledgement mail (a handlebars text with {{name}}, {{number}},
    /// {{queue}}, {{tenant}}, {{subject}}), or --clear to use the built-in Swedish text.
    AckTemplate {
        #[command(flatten)]
        t: TenantArg,
        #[arg(long)]
        queue: String,
        /// A file with the template text.
        #[arg(long)]
        file: Option<PathBuf>,
        #[arg(long)]
        clear: bool,
    },
}

#[derive(Subcommand, Debug)]
enum UserCmd {
    /// Create an account. Without --password-stdin a password is generated and printed once.
    Create {
        #[command(flatten)]
        t: TenantArg,
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// admin or agent.
        #[arg(long, default_value = "agent")]
        role: String,
        /// Queue membership as SLUG or SLUG:lead (repeatable).
        #[arg(long = "queue")]
        queues: Vec<String>,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    List {
        #[command(flatten)]
        t: TenantArg,
    },
    /// Set a new password; all the account's sessions end.
    SetPassword {
        #[command(flatten)]
        t: TenantArg,
        #[arg(long)]
        email: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Deactivate an account; its sessions end at once.
    Deactivate {
        #[command(flatten)]
        t: TenantArg,
        #[arg(long)]
        email: String,
    },
    /// Reactivate a deactivated account.
    Activate {
        #[command(flatten)]
        t: TenantArg,
        #[arg(long)]
        email: String,
    },
}

#[derive(Subcommand, Debug)]
enum MailboxCmd {
    /// Register a function mailbox. The IMAP password is read from standard input and stored
    /// encrypted with the installation's secret key.
    Add(Box<MailboxAdd>),
    List {
        #[command(flatten)]
        t: TenantArg,
    },
}

#[derive(Args, Debug)]
struct MailboxAdd {
    #[command(flatten)]
    t: TenantArg,
    /// The mailbox's address, e.g. va@kommun.se.
    #[arg(long)]
    address: String,
    /// Queue (slug) that new tickets from this mailbox go to.
    #[arg(long)]
    queue: String,
    #[arg(long)]
    imap_host: String,
    #[arg(long)]
    imap_port: Option<u16>,
    /// implicit (port 993), starttls (143) or plain (only for a server on this host).
    #[arg(long, default_value = "implicit")]
    tls: String,
    /// IMAP user name (default: the address).
    #[arg(long)]
    imap_user: Option<String>,
    #[arg(long, default_value = "INBOX")]
    folder: String,
    /// After import: move (to --processed-folder) or seen (only flag \Seen).
    #[arg(long, default_value = "move")]
    after_import: String,
    #[arg(long, default_value = "Arendo/Importerat")]
    processed_folder: String,
    /// Address replies are sent from (default: the mailbox address).
    #[arg(long)]
    reply_from: Option<String>,
}

#[derive(Subcommand, Debug)]
enum MailCmd {
    /// Import every *.eml file in DIR through the same pipeline as IMAP intake (threading,
    /// contacts, acknowledgements). Mails already stored (same Message-ID) are not imported twice.
    ImportDir {
        #[command(flatten)]
        t: TenantArg,
        /// Import as if received by this function mailbox (its queue and reply address).
        #[arg(long)]
        mailbox: Option<String>,
        /// Or: the queue (slug) for new tickets.
        #[arg(long)]
        queue: Option<String>,
        dir: PathBuf,
    },
    /// Each function mailbox: where the IMAP worker is, which node works it, the last error.
    Status {
        #[command(flatten)]
        t: TenantArg,
    },
}

#[derive(Args, Debug)]
struct SmtpArgs {
    #[arg(long)]
    host: Option<String>,
    #[arg(long, default_value_t = 587)]
    port: u16,
    /// none (only for a relay on this host), starttls or implicit.
    #[arg(long, default_value = "starttls")]
    tls: String,
    #[arg(long)]
    user: Option<String>,
    /// Read the SMTP password from standard input.
    #[arg(long)]
    password_stdin: bool,
    /// Remove the settings (inherit the installation's).
    #[arg(long)]
    clear: bool,
}

#[derive(Subcommand, Debug)]
enum TokenCmd {
    /// Create an API token for a user; the token is printed once.
    Create {
        #[command(flatten)]
        t: TenantArg,
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// Comma-separated: tickets:read, tickets:write, queues:read, admin (the admin API:
        /// function mailboxes; only for an admin, and only when asked for).
        #[arg(long, default_value = "tickets:read,tickets:write,queues:read")]
        scopes: String,
        /// Days until it expires (default: until revoked).
        #[arg(long)]
        days: Option<u32>,
    },
    List {
        #[command(flatten)]
        t: TenantArg,
    },
    Revoke {
        #[command(flatten)]
        t: TenantArg,
        /// The token id shown by `token list`.
        #[arg(long)]
        id: String,
    },
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

fn open_db(settings: &Settings) -> anyhow::Result<Db> {
    Ok(Db::connect(&settings.database_url(), 2)?)
}

fn tenant(c: &mut Conn, slug: &str) -> Result<TenantId, Error> {
    Ok(tenants::tenant_by_slug(c, slug)?.id)
}

fn read_password(from_stdin: bool) -> anyhow::Result<(NewPassword, bool)> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        let p = NewPassword::parse(line.trim_end_matches(['\n', '\r']))
            .map_err(|e| anyhow!("password: {}", e.reason))?;
        Ok((p, false))
    } else {
        Ok((NewPassword::generate(), true))
    }
}

fn run(cmd: Command, settings: Settings) -> anyhow::Result<()> {
    match cmd {
        Command::Serve => serve(settings),
        Command::Migrate => {
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
        Command::Tenant(c) => tenant_cmd(c, &open_db(&settings)?, &settings),
        Command::Queue(c) => queue_cmd(c, &open_db(&settings)?),
        Command::User(c) => user_cmd(c, &open_db(&settings)?),
        Command::Mailbox(c) => mailbox_cmd(c, &open_db(&settings)?, &settings),
        Command::Token(c) => token_cmd(c, &open_db(&settings)?, &settings),
        Command::Mail(c) => mail_cmd(c, &open_db(&settings)?, &settings),
        Command::Search(SearchCmd::Reindex) => reindex(&settings),
        Command::Sla(SlaCmd::Holidays { year }) => {
            for (date, h) in crate::sla::Holiday::of_year(year) {
                println!("{date}  {}", h.key());
            }
            Ok(())
        }
        Command::Sla(c) => sla_cmd(c, &open_db(&settings)?),
        Command::Kb(c) => kb_cmd(c, &settings),
        Command::Escalation(c) => escalation_cmd(c, &open_db(&settings)?, &settings),
        Command::StatusLink { t, number } => {
            let db = open_db(&settings)?;
            let keys = Keys::load_or_create(settings.secret_key.as_ref(), &settings.data_dir)?;
            let number = crate::domain::TicketNumber::parse(&number)
                .map_err(|e| anyhow!("--number: {}", e.reason))?;
            let signer = crate::accounts::tokens::Signer::new(&keys);
            let (public_url, days) = (
                settings.server.public_url.clone(),
                i64::from(settings.notify.status_link_days),
            );
            let link = db.write_blocking(move |c| -> Result<_, Error> {
                let tid = tenant(c, &t.tenant)?;
                let tk =
                    store::tickets::by_number(c, tid, &crate::domain::QueueAccess::All, &number)?
                        .ok_or(Error::NotFound("ticket"))?;
                crate::notify::status_link::link(c, &signer, &public_url, tid, tk.id, days)
            })?;
            println!("{link}");
            Ok(())
        }
        Command::Sms(SmsCmd::Gateway {
            t,
            provider,
            url,
            username,
            password_stdin,
            sender,
            price_ore,
            nordic_gsm7,
            body_template,
            content_type,
            id_pointer,
        }) => {
            let body_template = match body_template {
                Some(p) => std::fs::read_to_string(&p)
                    .with_context(|| format!("cannot read {}", p.display()))?,
                None => String::new(),
            };
            let db = open_db(&settings)?;
            let keys = Keys::load_or_create(settings.secret_key.as_ref(), &settings.data_dir)?;
            let password = if password_stdin {
                let mut line = String::new();
                std::io::stdin().read_line(&mut line)?;
                Some(line.trim_end_matches(['\n', '\r']).to_string())
            } else {
                None
            };
            let input = crate::notify::sms::GatewayInput {
                provider,
                url,
                username,
                password,
                sender,
                nordic_gsm7,
                price_ore,
                body_template,
                content_type,
                id_pointer,
            };
            db.write_blocking(move |c| -> Result<(), Error> {
                let tid = tenant(c, &t.tenant)?;
                crate::notify::sms::save_gateway(c, &keys, tid, &input)
            })?;
            println!("SMS gateway saved");
            Ok(())
        }
    }
}

fn reindex(settings: &Settings) -> anyhow::Result<()> {
    let db = open_db(settings)?;
    let dir = settings.search_dir();
    let index = crate::search::TicketIndex::open(&dir)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let started = std::time::Instant::now();
    let bar = progress_bar("tickets");
    let n = rt.block_on(crate::search::reindex(&db, &index, |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    }))?;
    bar.finish();
    println!(
        "search index rebuilt: {n} tickets in {:.1} s ({})",
        started.elapsed().as_secs_f64(),
        dir.display()
    );
    Ok(())
}

fn escalation_cmd(cmd: EscalationCmd, db: &Db, settings: &Settings) -> anyhow::Result<()> {
    use crate::escalation::{Auth, RecordsTarget};
    match cmd {
        EscalationCmd::Records(a) => {
            let keys = Keys::load_or_create(settings.secret_key.as_ref(), &settings.data_dir)?;
            let mut lines = std::io::stdin().lines();
            let mut secret = |what: &str| -> anyhow::Result<String> {
                let line = lines
                    .next()
                    .transpose()?
                    .ok_or_else(|| anyhow!("{what} expected on standard input"))?;
                let line = line.trim_end_matches(['\n', '\r']).to_string();
                if line.is_empty() {
                    bail!("{what} is empty");
                }
                Ok(line)
            };
            let auth = match a.auth.as_str() {
                "none" => Auth::None,
                "bearer" => Auth::Bearer(secret("the bearer token")?),
                "basic" => Auth::Basic(
                    a.auth_user
                        .clone()
                        .ok_or_else(|| anyhow!("--auth basic needs --auth-user"))?,
                    secret("the password")?,
                ),
                other => bail!("--auth {other:?}: none, bearer or basic"),
            };
            let hmac_secret = if a.sign {
                Some(secret("the signing secret")?)
            } else {
                None
            };
            // Secret header values from standard input; None: keep the stored one.
            let mut secret_lines = vec![];
            for name in &a.secret_headers {
                let line = lines
                    .next()
                    .transpose()?
                    .ok_or_else(|| anyhow!("the value of {name} expected on standard input"))?;
                let v = line.trim_end_matches(['\n', '\r']).to_string();
                secret_lines.push((name.trim().to_string(), (!v.is_empty()).then_some(v)));
            }
            let mut headers = std::collections::BTreeMap::new();
            for h in &a.headers {
                let (k, v) = h
                    .split_once(':')
                    .ok_or_else(|| anyhow!("--header {h:?}: write Name: value"))?;
                headers.insert(k.trim().to_string(), v.trim().to_string());
            }
            let body_template = match &a.body_template {
                Some(p) => std::fs::read_to_string(p)
                    .with_context(|| format!("cannot read {}", p.display()))?,
                None => String::new(),
            };
            let target = RecordsTarget {
                name: a.name.clone(),
                url: a.url.clone(),
                method: a.method.to_uppercase(),
                headers,
                secret_headers: Default::default(),
                auth,
                hmac_secret,
                content_type: a.content_type.clone(),
                body_template,
                case_pointer: a.case_pointer.clone(),
                timeout_seconds: a.timeout,
            };
            let (slug, queues) = (a.t.tenant.clone(), a.default_for.clone());
            let mut target = target;
            db.write_blocking(move |c| -> Result<(), Error> {
                let tid = tenant(c, &slug)?;
                target.secret_headers = crate::escalation::admin::secret_values(
                    c,
                    &keys,
                    tid,
                    &target.name,
                    secret_lines,
                )?;
                let id = crate::escalation::save_records_target(c, &keys, tid, &target)?;
                for q in &queues {
                    let queue =
                        store::queues::by_slug(c, tid, q)?.ok_or(Error::NotFound("queue"))?;
                    store::escalation::set_queue_default(c, tid, queue.id, Some(id))?;
                }
                Ok(())
            })?;
            println!("escalation target {:?} saved", a.name);
            Ok(())
        }
        EscalationCmd::Referral {
            t,
            name,
            email,
            days,
            allow_citizen_reply,
            sla_runs,
        } => {
            let target = crate::escalation::ReferralTarget {
                name: name.clone(),
                email,
                response_days: days,
                allow_citizen_reply,
                pauses_sla: !sla_runs,
            };
            db.write_blocking(move |c| -> Result<i64, Error> {
                let tid = tenant(c, &t.tenant)?;
                crate::escalation::save_referral_target(c, tid, &target)
            })?;
            println!("referral target {name:?} saved");
            Ok(())
        }
        EscalationCmd::Transfer { t, name, queue } => {
            let n = name.clone();
            db.write_blocking(move |c| -> Result<i64, Error> {
                let tid = tenant(c, &t.tenant)?;
                crate::escalation::save_transfer_target(c, tid, &n, &queue)
            })?;
            println!("transfer target {name:?} saved");
            Ok(())
        }
        EscalationCmd::List { t } => {
            let targets = db.write_blocking(move |c| -> Result<_, Error> {
                let tid = tenant(c, &t.tenant)?;
                Ok(store::escalation::targets(c, tid)?)
            })?;
            for x in targets {
                println!(
                    "{}  {} {} {}  auth={} signed={} case={}",
                    x.name,
                    x.kind,
                    x.method,
                    x.url.unwrap_or_default(),
                    x.auth,
                    x.hmac_secret.is_some(),
                    x.case_pointer
                );
            }
            Ok(())
        }
    }
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

fn kb_cmd(cmd: KbCmd, settings: &Settings) -> anyhow::Result<()> {
    let db = open_db(settings)?;
    let dir = settings.kb_dir();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    match cmd {
        KbCmd::Import { t, dir: from } => {
            let files = match &from {
                Some(d) => crate::kb::read_dir(d)
                    .with_context(|| format!("cannot read {}", d.display()))?,
                None => crate::kb::starter_files(),
            };
            let slug = t.tenant.clone();
            let tid =
                db.write_blocking(move |c| -> Result<TenantId, Error> { tenant(c, &slug) })?;
            let r = rt.block_on(crate::kb::import(&db, None, tid, files))?;
            for (file, err) in &r.failed {
                eprintln!("  {file}: {err}");
            }
            println!(
                "knowledge base of {}: {} created, {} updated, {} unchanged, {} failed \
                 (a running server indexes them within kb.sync_seconds)",
                t.tenant,
                r.created.len(),
                r.updated.len(),
                r.unchanged.len(),
                r.failed.len()
            );
            if r.failed.is_empty() {
                Ok(())
            } else {
                Err(anyhow!("{} files were not imported", r.failed.len()))
            }
        }
        KbCmd::Reindex => {
            let kb = crate::kb::Kb::new(crate::kb::KbIndex::open(&dir)?);
            let started = std::time::Instant::now();
            let bar = progress_bar("articles");
            let n = rt.block_on(kb.rebuild(&db, |done, total| {
                bar.set_length(total);
                bar.set_position(done);
            }))?;
            bar.finish();
            println!(
                "knowledge-base index rebuilt: {n} articles in {:.1} s ({})",
                started.elapsed().as_secs_f64(),
                dir.display()
            );
            Ok(())
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

fn tenant_cmd(cmd: TenantCmd, db: &Db, settings: &Settings) -> anyhow::Result<()> {
    match cmd {
        TenantCmd::Smtp { t, smtp } => {
            let json = smtp_json(&smtp, settings)?;
            db.write_blocking(move |c| -> Result<(), Error> {
                let tid = tenant(c, &t.tenant)?;
                Ok(store::mail::set_tenant_smtp(c, tid, json.as_deref())?)
            })?;
            println!("SMTP settings saved");
        }
        TenantCmd::Create { slug, name, prefix } => {
            let t = db.write_blocking(move |c| tenants::create_tenant(c, &slug, &name, &prefix))?;
            println!(
                "created tenant {} ({}), ticket numbers {}-YYYY-NNNNNN",
                t.slug, t.name, t.ticket_prefix
            );
        }
        TenantCmd::List => {
            let list = db.read_blocking(|c| Ok::<_, Error>(store::tenants::list(c)?))?;
            println!("{:<20} {:<8} NAME", "SLUG", "PREFIX");
            for t in list {
                println!("{:<20} {:<8} {}", t.slug, t.ticket_prefix, t.name);
            }
        }
    }
    Ok(())
}

fn sla_cmd(cmd: SlaCmd, db: &Db) -> anyhow::Result<()> {
    use crate::sla::admin::CalendarInput;
    use crate::sla::{Calendar, Holiday};
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
            // Start from the default week with every holiday closed; the options change that.
            let mut input = CalendarInput::of(&name, default, &Calendar::default());
            for (i, day) in [mon, tue, wed, thu, fri, sat, sun].into_iter().enumerate() {
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
            let cal = input.calendar()?;
            let id = db.write_blocking(move |c| -> Result<i64, Error> {
                let tid = tenant(c, &t.tenant)?;
                crate::sla::admin::save_calendar(c, tid, &name, &cal, default)
            })?;
            println!("calendar saved (id {id})");
        }
        SlaCmd::UseCalendar {
            t,
            queue,
            calendar,
            default,
        } => {
            if calendar.is_some() == default {
                bail!("give --calendar NAME or --default");
            }
            db.write_blocking(move |c| -> Result<(), Error> {
                let tid = tenant(c, &t.tenant)?;
                let q = store::queues::by_slug(c, tid, &queue)?.ok_or(Error::NotFound("queue"))?;
                let id = match calendar {
                    Some(n) => Some(
                        store::sla::calendars(c, tid)?
                            .into_iter()
                            .find(|x| x.name == n)
                            .ok_or(Error::NotFound("calendar"))?
                            .id,
                    ),
                    None => None,
                };
                crate::sla::admin::use_calendar(c, tid, q.id, id)
            })?;
            println!("queue calendar set");
        }
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
            let priority = crate::domain::Priority::parse(&priority)?;
            db.write_blocking(move |c| -> Result<(), Error> {
                let tid = tenant(c, &t.tenant)?;
                let q = store::queues::by_slug(c, tid, &queue)?.ok_or(Error::NotFound("queue"))?;
                let rules = rule
                    .iter()
                    .map(|r| crate::sla::admin::parse_rule(c, tid, r))
                    .collect::<Result<Vec<_>, _>>()?;
                crate::sla::admin::save_policy(
                    c,
                    tid,
                    q.id,
                    priority,
                    &crate::sla::admin::PolicyInput {
                        first_response,
                        next_response,
                        resolution,
                        warn_percent: Some(warn),
                        rules,
                    },
                )
            })?;
            println!("policy saved; the queue's open tickets have new due times");
        }
        SlaCmd::Show { t } => {
            let (cals, queues, policies) = db.read_blocking(|c| -> Result<_, Error> {
                let tid = tenant(c, &t.tenant)?;
                Ok((
                    store::sla::calendars(c, tid)?,
                    store::sla::queue_calendar_ids(c, tid)?,
                    store::sla::policies(c, tid)?,
                ))
            })?;
            println!("Calendars:");
            for c in &cals {
                let cal: Calendar = serde_json::from_str(&c.spec)?;
                let days = ["mån", "tis", "ons", "tor", "fre", "lör", "sön"];
                let week: Vec<String> = days
                    .iter()
                    .zip(&cal.week)
                    .map(|(d, h)| {
                        format!(
                            "{d} {}",
                            if h.is_closed() {
                                "stängt".into()
                            } else {
                                h.to_string()
                            }
                        )
                    })
                    .collect();
                println!(
                    "  {}{}: {}",
                    c.name,
                    if c.is_default { " (default)" } else { "" },
                    week.join("; ")
                );
            }
            println!("Queues with their own calendar:");
            for (q, id) in queues.iter().filter(|(_, id)| id.is_some()) {
                let name = cals
                    .iter()
                    .find(|c| Some(c.id) == *id)
                    .map_or("?", |c| c.name.as_str());
                println!("  queue {q}: {name}");
            }
            println!("Policies (business minutes):");
            for p in policies {
                let m = |v: Option<i32>| v.map_or("–".to_string(), |m| m.to_string());
                println!(
                    "  queue {} {}: first {} next {} resolution {} warn {}% rules {}",
                    p.queue_id,
                    p.priority,
                    m(p.first_response_minutes),
                    m(p.next_response_minutes),
                    m(p.resolution_minutes),
                    p.warn_percent,
                    p.rules
                );
            }
        }
        SlaCmd::Holidays { .. } => unreachable!("handled without a database"),
    }
    Ok(())
}

fn queue_cmd(cmd: QueueCmd, db: &Db) -> anyhow::Result<()> {
    match cmd {
        QueueCmd::Create { t, slug, name } => {
            let q = db.write_blocking(move |c| {
                let tid = tenant(c, &t.tenant)?;
                tenants::create_queue(c, tid, &slug, &name)
            })?;
            println!("created queue {} ({}) id {}", q.slug, q.name, q.id);
        }
        QueueCmd::AckTemplate {
            t,
            queue,
            file,
            clear,
        } => {
            let text = match (file, clear) {
                (_, true) => None,
                (Some(f), false) => {
                    let text = std::fs::read_to_string(&f)
                        .with_context(|| format!("cannot read {}", f.display()))?;
                    crate::text::Templates::get()
                        .check_str(&text)
                        .map_err(|e| anyhow!("the template does not compile: {e}"))?;
                    Some(text)
                }
                (None, false) => bail!("give --file FILE or --clear"),
            };
            db.write_blocking(move |c| -> Result<(), Error> {
                let tid = tenant(c, &t.tenant)?;
                let q = store::queues::by_slug(c, tid, &queue)?.ok_or(Error::NotFound("queue"))?;
                Ok(store::queues::set_ack_template(
                    c,
                    tid,
                    q.id,
                    text.as_deref(),
                )?)
            })?;
            println!("acknowledgement template saved");
        }
        QueueCmd::Notify {
            t,
            queue,
            events,
            class,
        } => {
            let mut list: Vec<&str> = Vec::new();
            for e in events
                .split(',')
                .map(str::trim)
                .filter(|e| !e.is_empty() && *e != "none")
            {
                if crate::notify::citizen::Event::parse(e).is_none() {
                    bail!("--events: {e:?} is not one of escalated, waiting, answered, resolved");
                }
                list.push(e);
            }
            if !(1..=4).contains(&class) {
                bail!("--class: 1–4");
            }
            let events = list.join(",");
            db.write_blocking(move |c| -> Result<(), Error> {
                let tid = tenant(c, &t.tenant)?;
                let q = store::queues::by_slug(c, tid, &queue)?.ok_or(Error::NotFound("queue"))?;
                Ok(store::queues::set_notify_settings(
                    c, tid, q.id, &events, class,
                )?)
            })?;
            println!("notifications saved");
        }
        QueueCmd::List { t } => {
            let list = db.read_blocking(|c| -> Result<_, Error> {
                let tid = tenant(c, &t.tenant)?;
                Ok(store::queues::list(c, tid)?)
            })?;
            println!("{:<6} {:<20} NAME", "ID", "SLUG");
            for q in list {
                println!("{:<6} {:<20} {}", q.id, q.slug, q.name);
            }
        }
    }
    Ok(())
}

fn parse_memberships(specs: &[String]) -> anyhow::Result<Vec<(String, MembershipRole)>> {
    specs
        .iter()
        .map(|s| match s.split_once(':') {
            None => Ok((s.clone(), MembershipRole::Agent)),
            Some((q, r)) => Ok((
                q.to_string(),
                MembershipRole::parse(r).map_err(|e| anyhow!("--queue {s}: {}", e.reason))?,
            )),
        })
        .collect()
}

fn user_cmd(cmd: UserCmd, db: &Db) -> anyhow::Result<()> {
    match cmd {
        UserCmd::Create {
            t,
            email,
            name,
            role,
            queues,
            password_stdin,
        } => {
            let email =
                EmailAddress::parse(&email).map_err(|e| anyhow!("--email: {}", e.reason))?;
            let role = Role::parse(&role).map_err(|e| anyhow!("--role: {}", e.reason))?;
            let specs = parse_memberships(&queues)?;
            let (password, generated) = read_password(password_stdin)?;
            let shown = password.expose().to_string();
            let user = db.write_blocking(move |c| {
                let tid = tenant(c, &t.tenant)?;
                let mut qs = vec![];
                for (slug, r) in &specs {
                    let q =
                        store::queues::by_slug(c, tid, slug)?.ok_or(Error::NotFound("queue"))?;
                    qs.push((q.id, *r));
                }
                admin::create_user(
                    c,
                    tid,
                    NewUser {
                        email: &email,
                        display_name: &name,
                        role,
                        password: &password,
                        queues: &qs,
                    },
                )
            })?;
            println!("created user {} ({}) id {}", user.email, user.role, user.id);
            if generated {
                println!("password: {shown}");
            }
        }
        UserCmd::List { t } => {
            let (users, members) = db.read_blocking(|c| -> Result<_, Error> {
                let tid = tenant(c, &t.tenant)?;
                Ok((
                    store::users::list(c, tid)?,
                    store::users::all_memberships(c, tid)?,
                ))
            })?;
            println!(
                "{:<6} {:<32} {:<6} {:<8} QUEUES",
                "ID", "EMAIL", "ROLE", "ACTIVE"
            );
            for u in users {
                let qs: Vec<String> = members
                    .iter()
                    .filter(|(id, _, _)| *id == u.id)
                    .map(|(_, q, r)| {
                        if r == "lead" {
                            format!("{q}:lead")
                        } else {
                            q.clone()
                        }
                    })
                    .collect();
                println!(
                    "{:<6} {:<32} {:<6} {:<8} {}",
                    u.id,
                    u.email,
                    u.role,
                    if u.active { "yes" } else { "no" },
                    qs.join(",")
                );
            }
        }
        UserCmd::SetPassword {
            t,
            email,
            password_stdin,
        } => {
            let email =
                EmailAddress::parse(&email).map_err(|e| anyhow!("--email: {}", e.reason))?;
            let (password, generated) = read_password(password_stdin)?;
            let shown = password.expose().to_string();
            // Hashed before the transaction: the (SQLite) writer does not wait for Argon2.
            let hash = crate::accounts::password::HashedPassword::of(&password);
            db.write_blocking(move |c| {
                let tid = tenant(c, &t.tenant)?;
                let u = store::users::by_email(c, tid, &email)?.ok_or(Error::NotFound("user"))?;
                admin::set_password(c, tid, u.id, &hash)
            })?;
            println!(
                "password changed; the account's sessions have ended (its API tokens stay valid: \
                 revoke them with `arendo token revoke`, or deactivate the account)"
            );
            if generated {
                println!("password: {shown}");
            }
        }
        UserCmd::Deactivate { t, email } => set_active(db, t, &email, false)?,
        UserCmd::Activate { t, email } => set_active(db, t, &email, true)?,
    }
    Ok(())
}

fn set_active(db: &Db, t: TenantArg, email: &str, active: bool) -> anyhow::Result<()> {
    let email = EmailAddress::parse(email).map_err(|e| anyhow!("--email: {}", e.reason))?;
    db.write_blocking(move |c| {
        let tid = tenant(c, &t.tenant)?;
        let u = store::users::by_email(c, tid, &email)?.ok_or(Error::NotFound("user"))?;
        admin::set_active(c, tid, u.id, active)
    })?;
    println!(
        "{}",
        if active {
            "account activated"
        } else {
            "account deactivated; its sessions have ended and its API tokens are revoked for good"
        }
    );
    Ok(())
}

fn mailbox_cmd(cmd: MailboxCmd, db: &Db, settings: &Settings) -> anyhow::Result<()> {
    match cmd {
        MailboxCmd::Add(add) => {
            let MailboxAdd {
                t,
                address,
                queue,
                imap_host,
                imap_port,
                tls,
                imap_user,
                folder,
                after_import,
                processed_folder,
                reply_from,
            } = *add;
            eprintln!("IMAP password (one line on standard input):");
            let mut pw = String::new();
            std::io::stdin().read_line(&mut pw)?;
            let spec = crate::mail::mailboxes::MailboxSpec {
                address,
                queue,
                imap_host,
                imap_port,
                tls,
                imap_user,
                password: pw.trim_end_matches(['\n', '\r']).to_string(),
                folder,
                after_import,
                processed_folder,
                reply_from,
                smtp: None,
            };
            let keys = Keys::load_or_create(settings.secret_key.as_ref(), &settings.data_dir)?;
            let egress = crate::egress::Policy::from_settings(settings);
            let m = db.write_blocking(move |c| -> Result<_, Error> {
                let tid = tenant(c, &t.tenant)?;
                crate::mail::mailboxes::add(c, &keys, &egress, tid, spec)
            })?;
            println!(
                "added mailbox {} (id {}) → {}:{} {}",
                m.address, m.id, m.imap_host, m.imap_port, m.imap_tls
            );
        }
        MailboxCmd::List { t } => {
            let list = db.read_blocking(|c| -> Result<_, Error> {
                let tid = tenant(c, &t.tenant)?;
                Ok(store::mailboxes::list(c, tid)?)
            })?;
            println!(
                "{:<4} {:<30} {:<14} {:<32} {:<9} AFTER",
                "ID", "ADDRESS", "QUEUE", "IMAP", "TLS"
            );
            for (m, q) in list {
                println!(
                    "{:<4} {:<30} {:<14} {:<32} {:<9} {}",
                    m.id,
                    m.address,
                    q,
                    format!(
                        "{}@{}:{}/{}",
                        m.imap_user, m.imap_host, m.imap_port, m.folder
                    ),
                    m.imap_tls,
                    m.after_import
                );
            }
        }
    }
    Ok(())
}

fn token_cmd(cmd: TokenCmd, db: &Db, settings: &Settings) -> anyhow::Result<()> {
    match cmd {
        TokenCmd::Create {
            t,
            email,
            name,
            scopes,
            days,
        } => {
            let email =
                EmailAddress::parse(&email).map_err(|e| anyhow!("--email: {}", e.reason))?;
            let scopes = scopes
                .split(',')
                .filter(|s| !s.trim().is_empty())
                .map(Scope::parse)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| anyhow!("--scopes: {}", e.reason))?;
            let keys = Keys::load_or_create(settings.secret_key.as_ref(), &settings.data_dir)?;
            let signer = Signer::new(&keys);
            let (id, token) = db.write_blocking(move |c| {
                let tid = tenant(c, &t.tenant)?;
                let u = store::users::by_email(c, tid, &email)?.ok_or(Error::NotFound("user"))?;
                admin::create_api_token(c, &signer, tid, u.id, &name, &scopes, days)
            })?;
            eprintln!("created API token {id}; it is shown only now:");
            println!("{token}");
        }
        TokenCmd::List { t } => {
            let list = db.read_blocking(|c| -> Result<_, Error> {
                let tid = tenant(c, &t.tenant)?;
                Ok(store::auth::tokens(c, tid)?)
            })?;
            println!(
                "{:<34} {:<6} {:<20} {:<10} SCOPES",
                "ID", "USER", "NAME", "STATE"
            );
            for k in list {
                let state = if k.revoked_at.is_some() {
                    "revoked"
                } else {
                    "active"
                };
                println!(
                    "{:<34} {:<6} {:<20} {:<10} {}",
                    k.id, k.user_id, k.name, state, k.scopes
                );
            }
        }
        TokenCmd::Revoke { t, id } => {
            let done = db.write_blocking(move |c| -> Result<_, Error> {
                let tid = tenant(c, &t.tenant)?;
                Ok(store::auth::revoke_token(c, tid, &id, store::now())?)
            })?;
            if !done {
                bail!("no active token with that id in this tenant");
            }
            println!("token revoked");
        }
    }
    Ok(())
}

/// Validate SMTP arguments into the stored JSON (password sealed), or None for --clear.
fn smtp_json(a: &SmtpArgs, settings: &Settings) -> anyhow::Result<Option<String>> {
    if a.clear {
        return Ok(None);
    }
    let host = a
        .host
        .clone()
        .ok_or_else(|| anyhow!("--host is required (or --clear)"))?;
    let password = if a.password_stdin {
        eprintln!("SMTP password (one line on standard input):");
        let mut pw = String::new();
        std::io::stdin().read_line(&mut pw)?;
        Some(pw.trim_end_matches(['\n', '\r']).to_string())
    } else {
        None
    };
    let keys = Keys::load_or_create(settings.secret_key.as_ref(), &settings.data_dir)?;
    let spec = crate::mail::mailboxes::SmtpSpec {
        host,
        port: a.port,
        tls: a.tls.clone(),
        user: a.user.clone(),
        password,
    };
    let profile = spec
        .into_profile(&keys)
        .map_err(|e| anyhow!("--{}: {}", e.field.trim_start_matches("smtp."), e.reason))?;
    Ok(Some(serde_json::to_string(&profile)?))
}

fn mail_cmd(cmd: MailCmd, db: &Db, settings: &Settings) -> anyhow::Result<()> {
    use crate::mail::intake::{self, Outcome, Policy, Source};
    match cmd {
        MailCmd::ImportDir {
            t,
            mailbox,
            queue,
            dir,
        } => {
            let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
                .with_context(|| format!("cannot read {}", dir.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("eml")))
                .collect();
            files.sort();
            if files.is_empty() {
                bail!("no .eml files in {}", dir.display());
            }
            let (slug, mbox_addr, queue_slug, from) = (
                t.tenant.clone(),
                mailbox.clone(),
                queue.clone(),
                settings.mail.from.clone(),
            );
            let (tid, src) = db.read_blocking(move |c| -> anyhow::Result<_> {
                let tid = tenant(c, &slug)?;
                let src = match (mbox_addr, queue_slug) {
                    (Some(addr), _) => {
                        let (m, _) = store::mailboxes::list(c, tid)?
                            .into_iter()
                            .find(|(m, _)| m.address.eq_ignore_ascii_case(addr.trim()))
                            .ok_or_else(|| anyhow!("no mailbox {addr} in this tenant"))?;
                        Source {
                            mailbox: Some(m.id),
                            queue: crate::domain::QueueId::from_db(m.queue_id),
                            reply_from: m.reply_from,
                            uidvalidity: 0,
                            uid: 0,
                            kind: "import",
                        }
                    }
                    (None, Some(q)) => {
                        let q = store::queues::by_slug(c, tid, &q)?
                            .ok_or_else(|| anyhow!("no queue {q} in this tenant"))?;
                        Source {
                            mailbox: None,
                            queue: q.id,
                            reply_from: from,
                            uidvalidity: 0,
                            uid: 0,
                            kind: "import",
                        }
                    }
                    (None, None) => bail!("give --mailbox ADDRESS or --queue SLUG"),
                };
                Ok((tid, src))
            })?;
            let blobs = crate::store::blobs::BlobStore::new(&settings.data_dir)?;
            let policy = Policy::from_settings(settings);
            let max = settings.mail.max_attachment_mb as usize * 1024 * 1024;
            let (mut new, mut threaded, mut dupes) = (0, 0, 0);
            for f in files {
                let raw =
                    std::fs::read(&f).with_context(|| format!("cannot read {}", f.display()))?;
                let p = intake::prepare(&raw, &blobs, max)?;
                blobs.sync()?;
                let (src, policy) = (src.clone(), policy.clone());
                let outcome = db.write_blocking(move |c| {
                    intake::ingest(
                        c,
                        tid,
                        &src,
                        &p.raw_sha256,
                        &p.mail,
                        &p.attachments,
                        &policy,
                        &mut intake::Cache::default(),
                        store::now(),
                    )
                })?;
                let what = match &outcome {
                    Outcome::NewTicket { ticket, .. } => {
                        new += 1;
                        format!("new ticket {ticket}")
                    }
                    Outcome::Threaded { ticket, .. } => {
                        threaded += 1;
                        format!("added to {ticket}")
                    }
                    Outcome::SameMessage { ticket } => {
                        dupes += 1;
                        format!("already in {ticket}")
                    }
                    Outcome::AlreadyStored => {
                        dupes += 1;
                        "already stored".into()
                    }
                    Outcome::Ignored { ticket } => {
                        dupes += 1;
                        match ticket {
                            Some(t) => format!("Ärendo's own mail about {t}, not imported"),
                            None => "Ärendo's own mail, not imported".into(),
                        }
                    }
                    Outcome::DeliveryFailure { ticket } => {
                        threaded += 1;
                        format!("delivery failure recorded on {ticket}")
                    }
                };
                println!("{}: {what}", f.display());
            }
            println!(
                "{new} new tickets, {threaded} added to existing tickets, {dupes} already stored"
            );
        }
        MailCmd::Status { t } => {
            let rows = db.read_blocking(|c| -> Result<_, Error> {
                let tid = tenant(c, &t.tenant)?;
                let mut out = vec![];
                for (m, q) in store::mailboxes::list(c, tid)? {
                    let st = store::mail::state(c, tid, m.id)?;
                    out.push((m, q, st));
                }
                Ok(out)
            })?;
            println!(
                "{:<30} {:<12} {:<12} {:<9} {:<20} LAST ERROR",
                "ADDRESS", "QUEUE", "UIDVALIDITY", "LAST UID", "LAST OK"
            );
            for (m, q, st) in rows {
                let (v, u, ok, err) = match st {
                    Some(s) => (
                        s.uidvalidity.map(|v| v.to_string()).unwrap_or_default(),
                        s.last_uid.to_string(),
                        s.last_ok_at
                            .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
                            .unwrap_or_default(),
                        s.last_error.unwrap_or_default(),
                    ),
                    None => (String::new(), String::new(), "never".into(), String::new()),
                };
                println!(
                    "{:<30} {:<12} {:<12} {:<9} {:<20} {}",
                    m.address, q, v, u, ok, err
                );
            }
        }
    }
    Ok(())
}
