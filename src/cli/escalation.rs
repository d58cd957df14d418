//! `arendo escalation …`: where tickets can be sent — the records system (diariet), a
//! department to refer to (remiss), a queue to transfer to.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::{anyhow, bail};
use clap::Subcommand;

use super::{TenantArg, keys, operator, read_file};
use crate::Db;
use crate::config::Settings;
use crate::escalation::ReferralTarget;
use crate::escalation::admin::{self, RecordsByName};
use crate::escalation::{Auth, RecordsTarget};

#[derive(Subcommand, Debug)]
pub(super) enum EscalationCmd {
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
pub(super) struct RecordsArgs {
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

pub(super) async fn run(cmd: EscalationCmd, db: &Db, settings: &Settings) -> anyhow::Result<()> {
    match cmd {
        EscalationCmd::Records(a) => records(db, settings, *a).await,
        EscalationCmd::Referral {
            t,
            name,
            email,
            days,
            allow_citizen_reply,
            sla_runs,
        } => {
            let target = ReferralTarget {
                name: name.clone(),
                email,
                response_days: days,
                allow_citizen_reply,
                pauses_sla: !sla_runs,
            };
            let actor = operator(db, &t).await?;
            admin::put_referral(db, &actor, target).await?;
            println!("referral target {name:?} saved");
            Ok(())
        }
        EscalationCmd::Transfer { t, name, queue } => {
            let actor = operator(db, &t).await?;
            admin::put_transfer(db, &actor, &name, &queue).await?;
            println!("transfer target {name:?} saved");
            Ok(())
        }
        EscalationCmd::List { t } => {
            let actor = operator(db, &t).await?;
            let (targets, _) = admin::overview(db, &actor).await?;
            for x in targets {
                println!(
                    "{}  {} {} {}  auth={} signed={} case={}",
                    x.name,
                    x.kind,
                    x.method,
                    x.url.unwrap_or_default(),
                    x.auth,
                    x.has_hmac_secret,
                    x.case_pointer
                );
            }
            Ok(())
        }
    }
}

/// Standard input, one secret a line, in the order the options ask for them.
struct Secrets(std::io::Lines<std::io::StdinLock<'static>>);

impl Secrets {
    fn line(&mut self, what: &str) -> anyhow::Result<String> {
        let line = self
            .0
            .next()
            .transpose()?
            .ok_or_else(|| anyhow!("{what} expected on standard input"))?;
        Ok(line.trim_end_matches(['\n', '\r']).to_string())
    }

    fn required(&mut self, what: &str) -> anyhow::Result<String> {
        let line = self.line(what)?;
        if line.is_empty() {
            bail!("{what} is empty");
        }
        Ok(line)
    }
}

async fn records(db: &Db, settings: &Settings, a: RecordsArgs) -> anyhow::Result<()> {
    let mut stdin = Secrets(std::io::stdin().lines());
    let auth = match a.auth.as_str() {
        "none" => Auth::None,
        "bearer" => Auth::Bearer(stdin.required("the bearer token")?),
        "basic" => Auth::Basic(
            a.auth_user
                .clone()
                .ok_or_else(|| anyhow!("--auth basic needs --auth-user"))?,
            stdin.required("the password")?,
        ),
        other => bail!("--auth {other:?}: none, bearer or basic"),
    };
    let hmac_secret = if a.sign {
        Some(stdin.required("the signing secret")?)
    } else {
        None
    };
    // Secret header values; an empty line keeps the stored one.
    let mut secret_headers = vec![];
    for name in &a.secret_headers {
        let v = stdin.line(&format!("the value of {name}"))?;
        secret_headers.push((name.trim().to_string(), (!v.is_empty()).then_some(v)));
    }
    let mut headers = BTreeMap::new();
    for h in &a.headers {
        let (k, v) = h
            .split_once(':')
            .ok_or_else(|| anyhow!("--header {h:?}: write Name: value"))?;
        headers.insert(k.trim().to_string(), v.trim().to_string());
    }
    let body_template = match &a.body_template {
        Some(p) => read_file(p)?,
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
    let keys = Arc::new(keys(settings)?);
    let egress = crate::egress::Policy::from_settings(settings);
    let actor = operator(db, &a.t).await?;
    let r = RecordsByName {
        target,
        secret_headers,
        default_for: a.default_for.clone(),
    };
    admin::put_records(db, &actor, keys, &egress, r).await?;
    println!("escalation target {:?} saved", a.name);
    Ok(())
}
