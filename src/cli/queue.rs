//! `arendo queue …`: department queues, what they tell citizens, their acknowledgement mail.

use clap::Subcommand;
use std::path::PathBuf;

use super::{TenantArg, operator, read_file};
use anyhow::anyhow;

use crate::Db;
use crate::error::Error;
use crate::tenants::admin;

#[derive(Subcommand, Debug)]
pub(super) enum QueueCmd {
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

pub(super) async fn run(cmd: QueueCmd, db: &Db) -> anyhow::Result<()> {
    match cmd {
        QueueCmd::Create { t, slug, name } => {
            let actor = operator(db, &t).await?;
            let q = admin::create_queue(db, &actor, &slug, &name).await?;
            println!("created queue {} ({}) id {}", q.slug, q.name, q.id);
        }
        QueueCmd::List { t } => {
            let actor = operator(db, &t).await?;
            println!("{:<6} {:<20} NAME", "ID", "SLUG");
            for q in admin::all_queues(db, &actor).await? {
                println!("{:<6} {:<20} {}", q.id, q.slug, q.name);
            }
        }
        QueueCmd::Notify {
            t,
            queue,
            events,
            class,
        } => {
            let actor = operator(db, &t).await?;
            // "none" (or nothing) is the empty list; the use case checks each event and the class.
            let events: Vec<String> = events
                .split(',')
                .map(str::trim)
                .filter(|e| !e.is_empty() && *e != "none")
                .map(str::to_string)
                .collect();
            let q = admin::queue_by_slug(db, &actor, &queue).await?;
            admin::set_citizen_settings(db, &actor, q.id.get(), &events, class, None)
                .await
                .map_err(|e| match e {
                    // Name the refused value as the operator typed it.
                    Error::Invalid(v) if v.field == "events" => anyhow!("--events: {}", v.reason),
                    Error::Invalid(v) if v.field == "info_class" => {
                        anyhow!("--class: {}", v.reason)
                    }
                    other => other.into(),
                })?;
            println!("notifications saved");
        }
        QueueCmd::AckTemplate {
            t,
            queue,
            file,
            clear,
        } => {
            let text = match (file, clear) {
                (_, true) => String::new(),
                (Some(f), false) => read_file(&f)?,
                (None, false) => anyhow::bail!("give --file FILE or --clear"),
            };
            let actor = operator(db, &t).await?;
            let q = admin::queue_by_slug(db, &actor, &queue).await?;
            // The admin page's use case: at most 20,000 characters, compiles and renders.
            match admin::set_ack_template(db, &actor, q.id.get(), &text).await? {
                Some(_) => println!("acknowledgement template saved"),
                None => println!("acknowledgement template cleared; the built-in text is used"),
            }
        }
    }
    Ok(())
}
