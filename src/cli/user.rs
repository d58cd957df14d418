//! `arendo user …`: agent and admin accounts.

use anyhow::anyhow;
use clap::Subcommand;

use super::{TenantArg, operator, read_password};
use crate::Db;
use crate::domain::{EmailAddress, MembershipRole, Role};
use crate::tenants::admin::{self, NewUserInput};

#[derive(Subcommand, Debug)]
pub(super) enum UserCmd {
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

pub(super) async fn run(cmd: UserCmd, db: &Db) -> anyhow::Result<()> {
    match cmd {
        UserCmd::Create {
            t,
            email,
            name,
            role,
            queues,
            password_stdin,
        } => create(db, t, &email, &name, &role, &queues, password_stdin).await,
        UserCmd::List { t } => list(db, t).await,
        UserCmd::SetPassword {
            t,
            email,
            password_stdin,
        } => {
            let email = email_arg(&email)?;
            let (password, generated) = read_password(password_stdin)?;
            let actor = operator(db, &t).await?;
            let u = admin::user_by_email(db, &actor, &email).await?;
            admin::set_user_password(db, &actor, u.id.get(), password.expose()).await?;
            println!(
                "password changed; the account's sessions have ended (its API tokens stay valid: \
                 revoke them with `arendo token revoke`, or deactivate the account)"
            );
            if generated {
                println!("password: {}", password.expose());
            }
            Ok(())
        }
        UserCmd::Deactivate { t, email } => set_active(db, t, &email, false).await,
        UserCmd::Activate { t, email } => set_active(db, t, &email, true).await,
    }
}

fn email_arg(s: &str) -> anyhow::Result<EmailAddress> {
    EmailAddress::parse(s).map_err(|e| anyhow!("--email: {}", e.reason))
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

async fn create(
    db: &Db,
    t: TenantArg,
    email: &str,
    name: &str,
    role: &str,
    queues: &[String],
    password_stdin: bool,
) -> anyhow::Result<()> {
    let email = email_arg(email)?;
    Role::parse(role).map_err(|e| anyhow!("--role: {}", e.reason))?;
    let queues = parse_memberships(queues)?;
    let (password, generated) = read_password(password_stdin)?;
    let actor = operator(db, &t).await?;
    let input = NewUserInput {
        display_name: name,
        email: email.as_str(),
        role,
        password: password.expose(),
        queues: &queues,
    };
    let user = admin::create_user(db, &actor, input).await?;
    println!("created user {} ({}) id {}", user.email, user.role, user.id);
    if generated {
        println!("password: {}", password.expose());
    }
    Ok(())
}

async fn list(db: &Db, t: TenantArg) -> anyhow::Result<()> {
    let actor = operator(db, &t).await?;
    let queues = admin::all_queues(db, &actor).await?;
    let mut users = admin::users(db, &actor).await?;
    users.sort_by(|a, b| a.user.email.cmp(&b.user.email));
    println!(
        "{:<6} {:<32} {:<6} {:<8} QUEUES",
        "ID", "EMAIL", "ROLE", "ACTIVE"
    );
    for r in users {
        let qs: Vec<String> = r
            .queues
            .iter()
            .map(|(id, name, role)| {
                let slug = queues
                    .iter()
                    .find(|q| q.id == *id)
                    .map_or(name.as_str(), |q| q.slug.as_str());
                match role {
                    MembershipRole::Lead => format!("{slug}:lead"),
                    _ => slug.to_string(),
                }
            })
            .collect();
        println!(
            "{:<6} {:<32} {:<6} {:<8} {}",
            r.user.id,
            r.user.email,
            r.user.role,
            if r.user.active { "yes" } else { "no" },
            qs.join(",")
        );
    }
    Ok(())
}

async fn set_active(db: &Db, t: TenantArg, email: &str, active: bool) -> anyhow::Result<()> {
    let email = email_arg(email)?;
    let actor = operator(db, &t).await?;
    let u = admin::user_by_email(db, &actor, &email).await?;
    admin::set_user_active(db, &actor, u.id.get(), active).await?;
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
