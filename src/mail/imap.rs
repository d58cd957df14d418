//! IMAP intake: one worker per function mailbox, on whichever node holds the mailbox's lease.
//!
//! Each cycle: SELECT the folder, compare UIDVALIDITY, list candidates (move mode: everything in
//! the folder, since processed mail is moved out; seen mode: UIDs above the last one stored), skip
//! UIDs already stored, FETCH the rest in batches, parse and store each batch in one transaction
//! (together with the new position) — and only after that commit flag or move them on the server.
//! A crash between commit and flag/move leaves mail that the next cycle recognises (receipt on
//! mailbox + UIDVALIDITY + UID, or its Message-ID) and only flags/moves. Then IDLE (or poll) until
//! new mail arrives; on errors reconnect with exponential backoff.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use async_imap::Client;
use async_imap::extensions::idle::IdleResponse;
use futures_util::StreamExt;
use secrecy::ExposeSecret;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls;

use super::intake::{self, Policy, Prepared, Source};
use crate::domain::{QueueId, TenantId};
use crate::secrets::Keys;
use crate::store::blobs::BlobStore;
use crate::store::mailboxes::Mailbox;
use crate::store::{self, Db};

const BATCH: usize = 250;
const NET_TIMEOUT: Duration = Duration::from_secs(60);

pub trait Io: AsyncRead + AsyncWrite + Unpin + Send + Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + Debug> Io for T {}
type Session = async_imap::Session<Box<dyn Io>>;

#[derive(Clone)]
pub struct Intake {
    pub db: Db,
    pub keys: Arc<Keys>,
    pub blobs: BlobStore,
    pub policy: Policy,
    pub max_attachment_bytes: usize,
    pub poll: Duration,
    pub supervise_every: Duration,
    /// How long a lease lasts; renewed every third of it.
    pub lease: Duration,
    pub owner: String,
    /// What the mailboxes' IMAP servers (set by tenants) may be.
    pub egress: Arc<crate::egress::Policy>,
}

#[derive(Debug, thiserror::Error)]
enum SyncError {
    #[error("IMAP: {0}")]
    Imap(String),
    #[error("the lease on this mailbox was lost to another node")]
    LeaseLost,
    #[error("database: {0}")]
    Db(String),
}

impl From<async_imap::error::Error> for SyncError {
    fn from(e: async_imap::error::Error) -> Self {
        SyncError::Imap(e.to_string())
    }
}

impl From<crate::egress::EgressError> for SyncError {
    fn from(e: crate::egress::EgressError) -> Self {
        SyncError::Imap(e.to_string())
    }
}

impl From<std::io::Error> for SyncError {
    fn from(e: std::io::Error) -> Self {
        SyncError::Imap(e.to_string())
    }
}

impl From<crate::error::Error> for SyncError {
    fn from(e: crate::error::Error) -> Self {
        SyncError::Db(e.to_string())
    }
}

async fn timed<T, E: Into<SyncError>>(
    what: &str,
    f: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, SyncError> {
    match tokio::time::timeout(NET_TIMEOUT, f).await {
        Ok(r) => r.map_err(Into::into),
        Err(_) => Err(SyncError::Imap(format!("{what} timed out"))),
    }
}

fn tls_connector() -> TlsConnector {
    TlsConnector::from(crate::tls::client_config())
}

async fn tls(stream: TcpStream, host: &str) -> Result<Box<dyn Io>, SyncError> {
    let name = rustls::pki_types::ServerName::try_from(host.to_string())
        .map_err(|e| SyncError::Imap(format!("bad host name {host}: {e}")))?;
    Ok(Box::new(
        timed("TLS handshake", tls_connector().connect(name, stream)).await?,
    ))
}

/// Connect to the mailbox's server at the address the egress policy allowed for its host name
/// (resolved once, so the connection goes where the check looked); TLS verifies the host name.
async fn connect(
    egress: &crate::egress::Policy,
    m: &Mailbox,
    password: &str,
) -> Result<Session, SyncError> {
    let addr = timed("resolve", egress.resolve(&m.imap_host, m.imap_port as u16)).await?;
    let tcp = timed("connect", TcpStream::connect(addr)).await?;
    let stream: Box<dyn Io> = match m.imap_tls.as_str() {
        "implicit" => tls(tcp, &m.imap_host).await?,
        "starttls" => {
            let mut plain = Client::new(tcp);
            timed("greeting", plain.read_response()).await?;
            timed("STARTTLS", plain.run_command_and_check_ok("STARTTLS", None)).await?;
            tls(plain.into_inner(), &m.imap_host).await?
        }
        _ => Box::new(tcp),
    };
    let mut client = Client::new(stream);
    if m.imap_tls != "starttls" {
        timed("greeting", client.read_response()).await?;
    }
    match tokio::time::timeout(NET_TIMEOUT, client.login(&m.imap_user, password)).await {
        Ok(Ok(s)) => Ok(s),
        Ok(Err((e, _))) => Err(SyncError::Imap(format!("login failed: {e}"))),
        Err(_) => Err(SyncError::Imap("login timed out".into())),
    }
}

impl Intake {
    /// Find mailboxes that no node works and start a worker for each one this node can lease.
    /// A worker whose mailbox was disabled, removed or changed (address, server, password,
    /// folders) is stopped; a changed one starts again with the new settings. Stopping between
    /// storing a mail and moving it on the server loses nothing: the next worker finds the mail
    /// in the folder, sees its receipt and only moves it.
    pub async fn supervise(self) {
        type Running = HashMap<i64, (tokio::task::JoinHandle<()>, Mailbox)>;
        let mut running: Running = HashMap::new();
        loop {
            running.retain(|_, (h, _)| !h.is_finished());
            match self
                .db
                .read(store::mail::enabled_mailboxes_all_tenants)
                .await
            {
                Ok(list) => {
                    running.retain(|id, (h, current)| {
                        let same = list.iter().any(|(_, m)| m.id == *id && m == current);
                        if !same {
                            tracing::info!(mailbox = %current.address, "IMAP worker stops: the mailbox was disabled or changed");
                            h.abort();
                        }
                        same
                    });
                    for (t, m) in list {
                        if running.contains_key(&m.id) {
                            continue;
                        }
                        if self.lease(t, m.id).await.unwrap_or(false) {
                            tracing::info!(mailbox = %m.address, "IMAP worker started");
                            let me = self.clone();
                            let (id, copy) = (m.id, m.clone());
                            let handle = tokio::spawn(async move { me.work(t, m).await });
                            running.insert(id, (handle, copy));
                        }
                    }
                }
                Err(e) => tracing::error!(error = %e, "listing mailboxes failed"),
            }
            tokio::time::sleep(self.supervise_every).await;
        }
    }

    async fn lease(&self, t: TenantId, mailbox: i64) -> Result<bool, store::StoreError> {
        let (owner, lease) = (self.owner.clone(), self.lease);
        self.db
            .write(move |c| {
                let now = store::now();
                Ok::<_, store::StoreError>(
                    store::mail::claim_mailbox(
                        c,
                        t,
                        mailbox,
                        &owner,
                        now,
                        now + chrono::Duration::from_std(lease)
                            .unwrap_or(chrono::Duration::seconds(60)),
                    )?
                    .is_some(),
                )
            })
            .await
    }

    /// Work one mailbox until the lease is lost; reconnect with backoff on errors.
    async fn work(self, t: TenantId, m: Mailbox) {
        let mut backoff = Duration::from_secs(1);
        loop {
            match self.session(t, &m).await {
                Err(SyncError::LeaseLost) => {
                    tracing::info!(mailbox = %m.address, "IMAP worker stops: lease lost");
                    return;
                }
                Err(e) => {
                    tracing::warn!(mailbox = %m.address, error = %e, retry_in = ?backoff, "IMAP worker error");
                    let (id, msg) = (m.id, e.to_string());
                    let _ = self
                        .db
                        .write(move |c| store::mail::record_error(c, id, &msg))
                        .await;
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(300));
                    if !self.lease(t, m.id).await.unwrap_or(false) {
                        return;
                    }
                }
                Ok(()) => backoff = Duration::from_secs(1),
            }
        }
    }

    /// One connection: sync, then wait for news (IDLE or poll), repeatedly.
    async fn session(&self, t: TenantId, m: &Mailbox) -> Result<(), SyncError> {
        let password = self
            .keys
            .open(&m.imap_password_enc)
            .map_err(|e| SyncError::Imap(e.to_string()))?;
        let mut session = connect(&self.egress, m, password.expose_secret()).await?;
        let caps = timed("CAPABILITY", session.capabilities()).await?;
        let (can_idle, can_move) = (caps.has_str("IDLE"), caps.has_str("MOVE"));
        // Folder names are configured with "/" between levels; servers use their own delimiter
        // ("." on Dovecot with Maildir, "/" on most others).
        let delimiter = {
            let mut names = timed("LIST", session.list(None, None)).await?;
            let mut d = None;
            while let Some(n) = names.next().await {
                if let Ok(n) = n {
                    d = n.delimiter().map(str::to_string);
                }
            }
            d.unwrap_or_else(|| "/".into())
        };
        let processed = m.processed_folder.replace('/', &delimiter);
        if m.after_import == "move" {
            // Create the folder for processed mail; "already exists" is fine.
            let _ = timed("CREATE", session.create(&processed)).await;
        }
        loop {
            if !self
                .lease(t, m.id)
                .await
                .map_err(|e| SyncError::Db(e.to_string()))?
            {
                return Err(SyncError::LeaseLost);
            }
            self.sync(t, m, &mut session, can_move, &processed).await?;
            if can_idle {
                let mut idle = session.idle();
                timed("IDLE", idle.init()).await?;
                let wait = self.poll.min(self.lease / 3);
                let (fut, _stop) = idle.wait_with_timeout(wait);
                match fut.await? {
                    IdleResponse::NewData(_)
                    | IdleResponse::Timeout
                    | IdleResponse::ManualInterrupt => {}
                }
                session = timed("DONE", idle.done()).await?;
            } else {
                tokio::time::sleep(self.poll.min(self.lease / 3)).await;
                timed("NOOP", session.noop()).await?;
            }
        }
    }

    async fn sync(
        &self,
        t: TenantId,
        m: &Mailbox,
        session: &mut Session,
        can_move: bool,
        processed: &str,
    ) -> Result<(), SyncError> {
        let selected = timed("SELECT", session.select(&m.folder)).await?;
        let uidvalidity = i64::from(selected.uid_validity.unwrap_or(0));
        let last_uid = self.last_uid(t, m, uidvalidity).await?;
        let uids = new_uids(session, m, last_uid).await?;
        // A pipeline: while batch i is parsed and committed (in a task), batch i+1 is fetched and
        // batch i-1 is flagged/moved. Commits stay in order: batch i starts only after i-1 committed.
        type Pending = (
            Vec<i64>,
            Vec<i64>,
            tokio::task::JoinHandle<Result<Vec<i64>, SyncError>>,
        );
        let mut pending: Option<Pending> = None;
        let mut first_missed: Option<i64> = None;
        for chunk in uids.chunks(BATCH) {
            let (known, fetched) = self
                .fetch_unknown(session, m.id, uidvalidity, chunk)
                .await?;
            let previous = match pending.take() {
                Some((c, k, h)) => {
                    Some((c, k, h.await.map_err(|e| SyncError::Db(e.to_string()))??))
                }
                None => None,
            };
            let (me, mbox) = (self.clone(), m.clone());
            let handle =
                tokio::spawn(async move { me.store_batch(t, &mbox, uidvalidity, fetched).await });
            pending = Some((chunk.to_vec(), known, handle));
            if let Some((c, k, stored)) = previous {
                let missed = self
                    .finish(session, m, can_move, processed, &c, &k, &stored)
                    .await?;
                first_missed = first_missed.or(missed);
            }
        }
        if let Some((c, k, h)) = pending.take() {
            let stored = h.await.map_err(|e| SyncError::Db(e.to_string()))??;
            let missed = self
                .finish(session, m, can_move, processed, &c, &k, &stored)
                .await?;
            first_missed = first_missed.or(missed);
        }
        // Record the position (also when nothing was new) so the UIDVALIDITY is known. A mail that
        // could not be stored keeps the position below it, so "seen" mode tries it again.
        let max_seen = match first_missed {
            Some(uid) => (uid - 1).max(0),
            None => uids.iter().copied().max().unwrap_or(last_uid).max(last_uid),
        };
        self.save_position(m.id, uidvalidity, max_seen).await
    }

    /// The last UID taken from this mailbox; 0 when the folder's UIDVALIDITY changed (all again).
    async fn last_uid(&self, t: TenantId, m: &Mailbox, uidvalidity: i64) -> Result<i64, SyncError> {
        let id = m.id;
        let state = self
            .db
            .read(move |c| store::mail::state(c, t, id))
            .await
            .map_err(|e| SyncError::Db(e.to_string()))?;
        let last_uid = state.as_ref().map(|s| s.last_uid).unwrap_or(0);
        if state
            .as_ref()
            .and_then(|s| s.uidvalidity)
            .is_some_and(|v| v != uidvalidity)
        {
            tracing::warn!(mailbox = %m.address, uidvalidity, "UIDVALIDITY changed: resyncing (duplicates are recognised by Message-ID)");
            return Ok(0);
        }
        Ok(last_uid)
    }

    /// Of a batch of UIDs, those already stored (known), and the others fetched: (uid, raw mail).
    async fn fetch_unknown(
        &self,
        session: &mut Session,
        id: i64,
        uidvalidity: i64,
        chunk: &[i64],
    ) -> Result<(Vec<i64>, Vec<(i64, Vec<u8>)>), SyncError> {
        let chunk_v = chunk.to_vec();
        let known = self
            .db
            .read(move |c| store::mail::known_uids(c, id, uidvalidity, &chunk_v))
            .await
            .map_err(|e| SyncError::Db(e.to_string()))?;
        let wanted: Vec<i64> = chunk
            .iter()
            .copied()
            .filter(|u| !known.contains(u))
            .collect();
        let mut fetched: Vec<(i64, Vec<u8>)> = Vec::with_capacity(wanted.len());
        if !wanted.is_empty() {
            let set = uid_set(&wanted);
            let mut stream = timed("FETCH", session.uid_fetch(&set, "(UID BODY.PEEK[])")).await?;
            while let Some(item) = timed("FETCH item", async {
                Ok::<_, SyncError>(stream.next().await)
            })
            .await?
            {
                let f = item?;
                if let (Some(uid), Some(body)) = (f.uid, f.body()) {
                    fetched.push((i64::from(uid), body.to_vec()));
                }
            }
        }
        Ok((known, fetched))
    }

    /// Save the mailbox's position, only while this node holds its lease.
    async fn save_position(
        &self,
        id: i64,
        uidvalidity: i64,
        max_seen: i64,
    ) -> Result<(), SyncError> {
        let owner = self.owner.clone();
        let ok = self
            .db
            .write(move |c| {
                store::mail::save_position(c, id, &owner, uidvalidity, max_seen, store::now())
            })
            .await
            .map_err(|e| SyncError::Db(e.to_string()))?;
        if !ok {
            return Err(SyncError::LeaseLost);
        }
        Ok(())
    }

    /// After a batch committed: flag or move everything of it that is stored (now or before).
    /// Returns the lowest UID of the batch that is not stored (to be tried again), if any.
    #[allow(clippy::too_many_arguments)]
    async fn finish(
        &self,
        session: &mut Session,
        m: &Mailbox,
        can_move: bool,
        processed: &str,
        chunk: &[i64],
        known: &[i64],
        stored: &[i64],
    ) -> Result<Option<i64>, SyncError> {
        let done: Vec<i64> = chunk
            .iter()
            .copied()
            .filter(|u| known.contains(u) || stored.contains(u))
            .collect();
        let missed = chunk.iter().copied().find(|u| !done.contains(u));
        if done.is_empty() {
            return Ok(missed);
        }
        let set = uid_set(&done);
        if m.after_import == "move" {
            if can_move {
                timed("MOVE", session.uid_mv(&set, processed)).await?;
            } else {
                timed("COPY", session.uid_copy(&set, processed)).await?;
                let s = timed(
                    "STORE",
                    session.uid_store(&set, "+FLAGS.SILENT (\\Deleted)"),
                )
                .await?;
                let _: Vec<_> = s.collect().await;
                let e = timed("EXPUNGE", session.expunge()).await?;
                let _: Vec<_> = e.collect().await;
            }
        } else {
            let s = timed("STORE", session.uid_store(&set, "+FLAGS.SILENT (\\Seen)")).await?;
            let _: Vec<_> = s.collect().await;
        }
        Ok(missed)
    }

    /// Parse and store a batch in one transaction. Returns the UIDs stored. A mail that fails to
    /// store is left on the server (and logged) for the next cycle; the others are committed.
    async fn store_batch(
        &self,
        t: TenantId,
        m: &Mailbox,
        uidvalidity: i64,
        fetched: Vec<(i64, Vec<u8>)>,
    ) -> Result<Vec<i64>, SyncError> {
        if fetched.is_empty() {
            return Ok(vec![]);
        }
        let started = std::time::Instant::now();
        let n = fetched.len();
        let (blobs, max) = (self.blobs.clone(), self.max_attachment_bytes);
        let prepared = tokio::task::spawn_blocking(move || prepare_all(&blobs, max, fetched))
            .await
            .map_err(|e| SyncError::Db(e.to_string()))??;
        let prepared_in = started.elapsed();
        let src = Source {
            mailbox: Some(m.id),
            queue: QueueId::from_db(m.queue_id),
            reply_from: m.reply_from.clone(),
            uidvalidity,
            uid: 0,
            kind: "imap",
        };
        let policy = self.policy.clone();
        let (owner, id, address) = (self.owner.clone(), m.id, m.address.clone());
        self.db
            .write(move |c| -> Result<Vec<i64>, crate::error::Error> {
                let now = store::now();
                let stored = ingest_each(c, t, &src, &prepared, &policy, &address, now);
                // The position moves in the same transaction, and only while we hold the lease.
                let max = stored.iter().copied().max().unwrap_or(0);
                if max > 0 && !store::mail::save_position(c, id, &owner, uidvalidity, max, now)? {
                    return Err(crate::error::Error::Conflict(
                        crate::error::Conflict::LeaseLost,
                    ));
                }
                Ok(stored)
            })
            .await
            .map_err(|e| match e {
                crate::error::Error::Conflict(_) => SyncError::LeaseLost,
                other => SyncError::Db(other.to_string()),
            })
            .inspect(|stored| {
                tracing::info!(
                    mailbox = %m.address,
                    fetched = n,
                    stored = stored.len(),
                    parse_ms = prepared_in.as_millis() as u64,
                    total_ms = started.elapsed().as_millis() as u64,
                    "mail batch committed"
                )
            })
    }
}

/// Parse a batch on every core (split, the order kept) and stage its bytes in the blob store,
/// with one flush for the whole batch, before the transaction that refers to the blobs.
fn prepare_all(
    blobs: &BlobStore,
    max_attachment_bytes: usize,
    fetched: Vec<(i64, Vec<u8>)>,
) -> std::io::Result<Vec<(i64, Prepared)>> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(4);
    let per = fetched.len().div_ceil(threads).max(1);
    let prepared = std::thread::scope(|scope| {
        let handles: Vec<_> = fetched
            .chunks(per)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|(uid, raw)| {
                            intake::prepare(raw, blobs, max_attachment_bytes).map(|p| (*uid, p))
                        })
                        .collect::<std::io::Result<Vec<_>>>()
                })
            })
            .collect();
        let mut all = Vec::with_capacity(fetched.len());
        for h in handles {
            all.extend(
                h.join()
                    .map_err(|_| std::io::Error::other("mail parser thread panicked"))??,
            );
        }
        Ok::<_, std::io::Error>(all)
    })?;
    blobs.sync()?;
    Ok(prepared)
}

/// Take in each prepared mail in a transaction of its own (inside the batch's); returns the UIDs
/// stored. One that fails is logged and left on the server for the next cycle.
fn ingest_each(
    c: &mut store::Conn,
    t: TenantId,
    src: &Source,
    prepared: &[(i64, Prepared)],
    policy: &Policy,
    address: &str,
    now: chrono::NaiveDateTime,
) -> Vec<i64> {
    let mut stored = vec![];
    let mut cache = intake::Cache::default();
    for (uid, p) in prepared {
        let src = Source {
            uid: *uid,
            ..src.clone()
        };
        let r = diesel::Connection::transaction(c, |c| {
            intake::ingest(
                c,
                t,
                &src,
                &p.raw_sha256,
                &p.mail,
                &p.attachments,
                policy,
                &mut cache,
                now,
            )
        });
        match r {
            Ok(outcome) => {
                tracing::debug!(mailbox = %address, uid, ?outcome, "mail stored");
                stored.push(*uid);
            }
            Err(e) => {
                tracing::error!(mailbox = %address, uid, error = %e, "mail could not be stored; left on the server")
            }
        }
    }
    stored
}

/// The UIDs to look at, in order: after `last_uid`, or all of them when mails are moved away
/// after import (what is left in the folder is still to do).
async fn new_uids(
    session: &mut Session,
    m: &Mailbox,
    last_uid: i64,
) -> Result<Vec<i64>, SyncError> {
    let query = if m.after_import == "move" {
        "ALL".to_string()
    } else {
        format!("UID {}:*", last_uid + 1)
    };
    let mut uids: Vec<i64> = timed("SEARCH", session.uid_search(&query))
        .await?
        .into_iter()
        .map(i64::from)
        .filter(|u| m.after_import == "move" || *u > last_uid)
        .collect();
    uids.sort_unstable();
    Ok(uids)
}

/// "1,2,3,7" → "1:3,7".
fn uid_set(uids: &[i64]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < uids.len() {
        let start = uids[i];
        let mut end = start;
        while i + 1 < uids.len() && uids[i + 1] == end + 1 {
            i += 1;
            end = uids[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{end}"));
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn uid_sets_are_compact() {
        assert_eq!(super::uid_set(&[1, 2, 3, 7, 9, 10]), "1:3,7,9:10");
        assert_eq!(super::uid_set(&[5]), "5");
    }
}
