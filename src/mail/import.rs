//! Importing saved mails (`arendo mail import-dir`): each .eml goes through the same intake as a
//! mail fetched over IMAP (threading, contacts, acknowledgements), as if a function mailbox (or
//! a queue) had received it. A mail already stored (same Message-ID) is not imported twice.

use std::path::Path;

use super::intake::{self, Outcome, Policy, Source};
use crate::accounts::Actor;
use crate::accounts::permissions::require_admin;
use crate::error::{Error, Result};
use crate::store::{self, Db};

/// Where imported mails go: a function mailbox of the tenant (its queue and reply address), or
/// a queue (replies from the installation's address).
pub enum Destination<'a> {
    Mailbox(&'a str),
    Queue(&'a str),
}

/// An import into one tenant, ready for one mail after another.
pub struct Importer {
    db: Db,
    actor: Actor,
    src: Source,
    blobs: store::blobs::BlobStore,
    policy: Policy,
    max_attachment_bytes: usize,
}

impl Importer {
    /// Check the actor (admins) and find the mailbox or queue (`NotFound` in this tenant).
    pub async fn open(
        db: &Db,
        actor: &Actor,
        settings: &crate::config::Settings,
        into: Destination<'_>,
    ) -> Result<Importer> {
        require_admin(actor)?;
        let t = actor.tenant;
        let from = settings.mail.from.clone();
        let (mailbox, queue) = match into {
            Destination::Mailbox(a) => (Some(a.trim().to_string()), None),
            Destination::Queue(q) => (None, Some(q.trim().to_string())),
        };
        let src = db
            .read(move |c| -> Result<Source> {
                if let Some(addr) = mailbox {
                    let (m, _) = store::mailboxes::list(c, t)?
                        .into_iter()
                        .find(|(m, _)| m.address.eq_ignore_ascii_case(&addr))
                        .ok_or(Error::NotFound("mailbox"))?;
                    return Ok(Source {
                        mailbox: Some(m.id),
                        queue: crate::domain::QueueId::from_db(m.queue_id),
                        reply_from: m.reply_from,
                        uidvalidity: 0,
                        uid: 0,
                        kind: "import",
                    });
                }
                let slug = queue.unwrap_or_default();
                let q = store::queues::by_slug(c, t, &slug)?.ok_or(Error::NotFound("queue"))?;
                Ok(Source {
                    mailbox: None,
                    queue: q.id,
                    reply_from: from,
                    uidvalidity: 0,
                    uid: 0,
                    kind: "import",
                })
            })
            .await?;
        let blobs = store::blobs::BlobStore::new(&settings.data_dir)
            .map_err(|e| Error::Internal(format!("blob store: {e}")))?;
        Ok(Importer {
            db: db.clone(),
            actor: actor.clone(),
            src,
            blobs,
            policy: Policy::from_settings(settings),
            max_attachment_bytes: settings.mail.max_attachment_mb as usize * 1024 * 1024,
        })
    }

    /// Import one mail (its raw bytes) in one transaction.
    pub async fn import(&self, raw: &[u8]) -> Result<Outcome> {
        let p = intake::prepare(raw, &self.blobs, self.max_attachment_bytes)
            .map_err(|e| Error::Internal(format!("blob store: {e}")))?;
        self.blobs
            .sync()
            .map_err(|e| Error::Internal(format!("blob store: {e}")))?;
        let (t, src, policy) = (self.actor.tenant, self.src.clone(), self.policy.clone());
        self.db
            .write(move |c| {
                intake::ingest(
                    c,
                    t,
                    &src,
                    &p.raw_sha256,
                    &p.mail,
                    &p.attachments,
                    &policy,
                    &mut intake::Cache::default(),
                    store::now(),
                )
            })
            .await
    }
}

/// The *.eml files of `dir`, sorted by name.
pub fn eml_files(dir: &Path) -> std::io::Result<Vec<std::path::PathBuf>> {
    let mut files: Vec<_> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("eml")))
        .collect();
    files.sort();
    Ok(files)
}
