//! Function mailboxes: the use cases of the admin pages, the API and `arendo mailbox` (admins),
//! and the checks every new mailbox passes.

use std::sync::Arc;

use serde::Deserialize;

use crate::accounts::Actor;
use crate::accounts::permissions::require_admin;
use crate::delivery::mail::host;
pub use crate::delivery::mail::{SmtpSpec, is_loopback};
use crate::domain::FormatKind;
use crate::domain::Reason;
use crate::domain::{EmailAddress, InvalidValue, TenantId};
use crate::error::Conflict;
use crate::error::{Error, Result};
use crate::secrets::Keys;
pub use crate::store::mail::MailboxState;
use crate::store::mailboxes::Mailbox;
use crate::store::{self, Conn, Db};

/// A mailbox as an operator describes it. Defaults: port from the TLS mode, user = address,
/// folder INBOX, move to `Arendo/Importerat` after import, replies from the address.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailboxSpec {
    pub address: String,
    /// The queue's slug.
    pub queue: String,
    pub imap_host: String,
    pub imap_port: Option<u16>,
    /// implicit, starttls, or plain (only for a server on this host).
    #[serde(default = "default_tls")]
    pub tls: String,
    pub imap_user: Option<String>,
    pub password: String,
    #[serde(default = "default_folder")]
    pub folder: String,
    /// move or seen.
    #[serde(default = "default_after")]
    pub after_import: String,
    #[serde(default = "default_processed")]
    pub processed_folder: String,
    pub reply_from: Option<String>,
    /// The mailbox's own SMTP server (else the tenant's, else the installation's).
    pub smtp: Option<SmtpSpec>,
}

fn default_tls() -> String {
    "implicit".into()
}
fn default_folder() -> String {
    "INBOX".into()
}
fn default_after() -> String {
    "move".into()
}
fn default_processed() -> String {
    "Arendo/Importerat".into()
}

/// Validate `spec` and store the mailbox (password sealed). Within `create`'s transaction.
fn add(
    c: &mut Conn,
    keys: &Keys,
    egress: &crate::egress::Policy,
    t: TenantId,
    spec: MailboxSpec,
) -> Result<store::mailboxes::Mailbox> {
    // A server written as an internal address is refused now; a name that resolves to one is
    // refused when the intake connects (the reason then shows as the mailbox's last error).
    egress.check_literal(spec.imap_host.trim())?;
    if let Some(s) = &spec.smtp {
        egress.check_literal(s.host.trim())?;
    }
    let address =
        EmailAddress::parse(&spec.address).map_err(|e| InvalidValue::new("address", e.reason))?;
    let reply_from = match &spec.reply_from {
        Some(r) => EmailAddress::parse(r).map_err(|e| InvalidValue::new("reply_from", e.reason))?,
        None => address.clone(),
    };
    let imap_host = host("imap_host", &spec.imap_host)?;
    let default_port = match spec.tls.as_str() {
        "implicit" => 993,
        "starttls" | "plain" => 143,
        _ => {
            return Err(InvalidValue::new(
                "tls",
                Reason::one_of(&["implicit", "starttls", "plain"]),
            )
            .into());
        }
    };
    if spec.tls == "plain" && !is_loopback(&imap_host) {
        return Err(InvalidValue::new("tls", Reason::PlainOnlyLocal).into());
    }
    if !["move", "seen"].contains(&spec.after_import.as_str()) {
        return Err(InvalidValue::new("after_import", Reason::one_of(&["move", "seen"])).into());
    }
    for (field, folder) in [
        ("folder", &spec.folder),
        ("processed_folder", &spec.processed_folder),
    ] {
        if folder.trim().is_empty()
            || folder.len() > 200
            || folder.contains(['\r', '\n', '"', '*', '%'])
        {
            return Err(InvalidValue::new(
                field,
                Reason::format(folder.as_str(), FormatKind::Folder),
            )
            .into());
        }
    }
    if spec.password.is_empty() {
        return Err(InvalidValue::new("password", Reason::Empty).into());
    }
    let smtp = spec
        .smtp
        .map(|s| s.into_profile(keys))
        .transpose()?
        .map(|p| serde_json::to_string(&p).map_err(|e| Error::Internal(e.to_string())))
        .transpose()?;
    let queue = store::queues::by_slug(c, t, spec.queue.trim())?.ok_or(Error::NotFound("queue"))?;
    if store::mailboxes::list(c, t)?
        .iter()
        .any(|(m, _)| m.address.eq_ignore_ascii_case(address.as_str()))
    {
        return Err(Error::Conflict(Conflict::MailboxExists {
            address: address.to_string(),
        }));
    }
    let user = spec.imap_user.unwrap_or_else(|| address.to_string());
    let m = store::mailboxes::create(
        c,
        t,
        store::mailboxes::NewMailbox {
            address: address.as_str(),
            queue: queue.id,
            imap_host: &imap_host,
            imap_port: spec.imap_port.unwrap_or(default_port),
            imap_tls: &spec.tls,
            imap_user: &user,
            imap_password_enc: &keys.seal(&spec.password),
            folder: spec.folder.trim(),
            after_import: &spec.after_import,
            processed_folder: spec.processed_folder.trim(),
            reply_from: reply_from.as_str(),
        },
    )?;
    if let Some(json) = smtp {
        store::mailboxes::set_smtp(c, t, m.id, Some(&json))?;
    }
    Ok(m)
}

// ---- use cases (admins) ----

#[derive(Debug, Clone)]
pub struct MailboxRow {
    pub mailbox: Mailbox,
    /// The queue it feeds: its slug and its name.
    pub queue_slug: String,
    pub queue_name: String,
    /// None: never polled, or just created.
    pub state: Option<MailboxState>,
}

/// The tenant's function mailboxes with their queue and IMAP state (admins).
pub async fn list(db: &Db, actor: &Actor) -> Result<Vec<MailboxRow>> {
    require_admin(actor)?;
    let t = actor.tenant;
    db.read(move |c| -> Result<Vec<MailboxRow>> {
        let queues = store::queues::list(c, t)?;
        let mut out = vec![];
        for (m, slug) in store::mailboxes::list(c, t)? {
            let state = store::mail::state(c, t, m.id)?;
            let queue_name = queues
                .iter()
                .find(|q| q.id.get() == m.queue_id)
                .map_or(slug.clone(), |q| q.name.clone());
            out.push(MailboxRow {
                mailbox: m,
                queue_slug: slug,
                queue_name,
                state,
            });
        }
        Ok(out)
    })
    .await
}

/// Add a function mailbox (admins). The IMAP (and SMTP) password is sealed and never shown again.
pub async fn create(
    db: &Db,
    keys: Arc<Keys>,
    egress: Arc<crate::egress::Policy>,
    actor: &Actor,
    spec: MailboxSpec,
) -> Result<MailboxRow> {
    require_admin(actor)?;
    let t = actor.tenant;
    db.write(move |c| {
        let mailbox = add(c, &keys, &egress, t, spec)?;
        let queue =
            store::queues::lookup(c, t, mailbox.queue_id)?.ok_or(Error::NotFound("queue"))?;
        Ok(MailboxRow {
            mailbox,
            queue_slug: queue.slug,
            queue_name: queue.name,
            state: None,
        })
    })
    .await
}

/// Switch a mailbox's intake on or off (admins).
pub async fn set_enabled(db: &Db, actor: &Actor, id: i64, enabled: bool) -> Result<()> {
    require_admin(actor)?;
    let t = actor.tenant;
    db.write(move |c| -> Result<()> {
        store::mailboxes::set_enabled(c, t, id, enabled).map_err(|e| match e {
            store::StoreError::NotFound => Error::NotFound("mailbox"),
            other => other.into(),
        })
    })
    .await
}
