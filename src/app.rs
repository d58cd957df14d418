//! Start-up: settings → keys → database (migrated) → demo data → HTTP server + background workers.
//! `Application::build` binds the port (0 = any free port) so tests and benchmarks can run many.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::{Server, ServerHandle};
use actix_web::web::Data;
use anyhow::Context as _;

use crate::accounts::tokens::Signer;
use crate::config::Settings;
use crate::delivery::mail::Mailer;
use crate::outbox;
use crate::secrets::Keys;
use crate::store::Db;
use crate::web::{self, AppState};

pub struct Application {
    port: u16,
    server: Server,
    db: Db,
    worker: Option<outbox::Worker>,
    intake: Option<crate::mail::imap::Intake>,
    live: Option<crate::tickets::live::Live>,
    /// The SLA follower and sweeper (what they need to notify people).
    sla: Option<crate::sla::engine::Notices>,
    search: Option<crate::search::TicketIndex>,
    kb: Option<crate::kb::Kb>,
    kb_sync: std::time::Duration,
    /// Tells open live streams that the server is stopping.
    stopping: tokio::sync::watch::Sender<bool>,
    /// The sign-in housekeeping job: this node's name and the period.
    housekeeping: Option<(String, std::time::Duration)>,
    /// This node's name in leases (`node_id`).
    node: String,
    /// Whether this node runs the statistics follower (`stats.follow`).
    stats_follow: bool,
}

/// This node's id: `server.node_id` when set, else the one kept in `<data_dir>/node-id` (made
/// at the first start). It names every lease the node takes, so it must differ between nodes
/// working one database (nodes sharing a data directory set `server.node_id`).
pub fn node_id(settings: &Settings) -> anyhow::Result<String> {
    let configured = settings.server.node_id.trim();
    if !configured.is_empty() {
        return Ok(configured.to_string());
    }
    let path = settings.data_dir.join("node-id");
    match std::fs::read_to_string(&path) {
        Ok(s) if !s.trim().is_empty() => return Ok(s.trim().to_string()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(anyhow::anyhow!("cannot read {}: {e}", path.display())),
    }
    let id = format!("node-{}", crate::secrets::new_id());
    crate::store::private::create_dir(&settings.data_dir)?;
    std::fs::write(&path, format!("{id}\n"))
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(id)
}

/// Open one of the node's indexes. Another process (or a previous instance in this one that is
/// still shutting down) may hold it for a moment: wait up to ten seconds before giving up.
fn open_index<I>(
    dir: &std::path::Path,
    open: impl Fn(&std::path::Path) -> crate::error::Result<I>,
) -> anyhow::Result<I> {
    let mut tries = 0;
    loop {
        match open(dir) {
            Ok(i) => return Ok(i),
            Err(e) if tries < 100 && e.to_string().contains("in use") => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            Err(e) => {
                return Err(anyhow::anyhow!(e))
                    .with_context(|| format!("cannot open the search index {}", dir.display()));
            }
        }
    }
}

/// Headers of escalation targets stored before they could be secret: the secret-looking ones
/// are sealed (issue 16; a no-op once done). On a thread of its own, like the knowledge base.
fn seal_secret_headers(db: &Db, keys: Arc<Keys>) -> anyhow::Result<()> {
    std::thread::scope(|scope| {
        scope
            .spawn(|| -> anyhow::Result<()> {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                let n = rt.block_on(crate::escalation::seal_existing_secret_headers(db, keys))?;
                if n > 0 {
                    tracing::info!(
                        headers = n,
                        "escalation headers that look secret were sealed"
                    );
                }
                Ok(())
            })
            .join()
            .map_err(|_| anyhow::anyhow!("sealing escalation headers panicked"))?
    })
    .context("cannot seal the escalation targets' secret headers")
}

/// The outbox's job kinds: each capability's handler, built from the settings. The worker claims
/// only these kinds (and knows nothing else about them).
fn outbox_jobs(
    settings: &Settings,
    db: &Db,
    mailer: Mailer,
    keys: &Arc<Keys>,
    blobs: &crate::store::blobs::BlobStore,
) -> outbox::Registry {
    let egress = Arc::new(crate::egress::Policy::from_settings(settings));
    let signer = Signer::new(keys);
    let public_url = settings.server.public_url.clone();
    let [referral_mail, referral_deadline] = crate::referral::ReferralJob::both(
        db,
        &crate::referral::Links {
            signer: signer.clone(),
            public_url: public_url.clone(),
            from: settings.mail.from.clone(),
        },
    );
    outbox::Registry::new(vec![
        Arc::new(crate::delivery::mail::MailJob::new(
            db.clone(),
            mailer,
            keys.clone(),
            blobs.clone(),
            egress.clone(),
        )),
        Arc::new(crate::escalation::EscalationJob {
            db: db.clone(),
            keys: keys.clone(),
            egress: egress.clone(),
            public_url: public_url.clone(),
        }),
        Arc::new(crate::notify::sms::SmsJob {
            db: db.clone(),
            keys: keys.clone(),
            egress,
            data_dir: settings.data_dir.clone(),
            public_url: public_url.clone(),
        }),
        Arc::new(crate::notify::citizen::NotificationJob {
            db: db.clone(),
            cfg: crate::notify::citizen::Config {
                from: settings.mail.from.clone(),
                content_free_from_class: settings.notify.content_free_from_class,
                public_url: public_url.clone(),
                signer: signer.clone(),
                status_link_days: i64::from(settings.notify.status_link_days),
            },
        }),
        Arc::new(crate::survey::SurveyJob {
            db: db.clone(),
            cfg: crate::survey::Config {
                notify: crate::notify::citizen::Config {
                    from: settings.mail.from.clone(),
                    content_free_from_class: settings.notify.content_free_from_class,
                    public_url: public_url.clone(),
                    signer: signer.clone(),
                    status_link_days: i64::from(settings.notify.status_link_days),
                },
                link_days: i64::from(settings.notify.status_link_days),
            },
        }),
        Arc::new(referral_mail),
        Arc::new(referral_deadline),
        Arc::new(crate::citizen::LinkRequestJob {
            db: db.clone(),
            cfg: crate::citizen::LinkMails {
                signer,
                public_url,
                from: settings.mail.from.clone(),
                days: i64::from(settings.notify.status_link_days),
                per_ticket: settings.notify.link_mails_per_ticket,
            },
        }),
    ])
}

/// The data dir, private (store::private: umask 077, the dir 0700), and the keys kept in it.
fn prepare_data_dir(settings: &Settings) -> anyhow::Result<Keys> {
    crate::store::private::restrict_umask();
    crate::store::private::create_dir(&settings.data_dir)
        .with_context(|| format!("cannot create data dir {}", settings.data_dir.display()))?;
    Ok(Keys::load_or_create(
        settings.secret_key.as_ref(),
        &settings.data_dir,
    )?)
}

/// The database pool.
fn connect(settings: &Settings) -> anyhow::Result<Db> {
    Ok(Db::connect_with(
        &settings.database_url(),
        settings.database.pool_size,
        std::time::Duration::from_secs(u64::from(settings.database.connect_timeout_seconds.max(1))),
    )?)
}

/// Take back the leases this node held before it was restarted.
fn take_back_leases(db: &Db, node: &str) -> anyhow::Result<()> {
    let reclaimed = {
        let node = node.to_string();
        db.write_blocking(move |c| crate::store::leases::reclaim_own(c, &node))?
    };
    if reclaimed != crate::store::leases::Reclaimed::default() {
        tracing::info!(node = %node, ?reclaimed, "took back this node's leases from before its restart");
    }
    Ok(())
}

/// The IMAP intake as configured.
fn mail_intake(
    settings: &Settings,
    db: &Db,
    keys: &Arc<Keys>,
    blobs: &crate::store::blobs::BlobStore,
    node: &str,
) -> crate::mail::imap::Intake {
    let seconds = |s: u32, min: u32| std::time::Duration::from_secs(u64::from(s.max(min)));
    crate::mail::imap::Intake {
        db: db.clone(),
        keys: keys.clone(),
        blobs: blobs.clone(),
        policy: crate::mail::intake::Policy::from_settings(settings),
        max_attachment_bytes: settings.mail.max_attachment_mb as usize * 1024 * 1024,
        poll: seconds(settings.mail.imap_poll_seconds, 1),
        supervise_every: seconds(settings.mail.imap_supervisor_seconds, 1),
        lease: seconds(settings.mail.imap_lease_seconds, 3),
        owner: node.to_string(),
        egress: Arc::new(crate::egress::Policy::from_settings(settings)),
    }
}

/// The knowledge base is ready before the first request: starter articles for new
/// municipalities, then the index brought in line with the database (fills a new one).
/// (On a thread of its own: `build` may be called from inside a runtime.)
fn prepare_kb(settings: &Settings, db: &Db, kb: &crate::kb::Kb) -> anyhow::Result<()> {
    std::thread::scope(|scope| {
        scope
            .spawn(|| -> anyhow::Result<()> {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                rt.block_on(async {
                    if settings.kb.import_starter {
                        crate::kb::import_starter_where_empty(db, kb).await?;
                    }
                    kb.sync_all(db).await
                })?;
                Ok(())
            })
            .join()
            .map_err(|_| anyhow::anyhow!("knowledge-base start-up panicked"))?
    })
    .context("cannot prepare the knowledge base")
}

impl Application {
    pub fn build(settings: Settings) -> anyhow::Result<Application> {
        crate::tls::install_default_provider();
        let settings = Arc::new(settings);
        let keys = Arc::new(prepare_data_dir(&settings)?);
        let db = connect(&settings)?;
        if settings.demo
            && let Some(creds) = crate::demo::seed_if_empty(&db)?
        {
            crate::demo::announce(&creds, &settings);
        }
        seal_secret_headers(&db, keys.clone())?;
        crate::accounts::password::configure(crate::accounts::password::HashingConfig {
            threads: settings.auth.hash_threads,
            wait: std::time::Duration::from_millis(settings.auth.hash_wait_ms.max(1)),
        });
        let mailer = Mailer::from_settings(&settings)?;
        let blobs = crate::store::blobs::BlobStore::new(&settings.data_dir)
            .with_context(|| format!("cannot create {}/blobs", settings.data_dir.display()))?;
        // This node's name in leases: the same across restarts, so a node that was killed takes
        // its own leases back at once instead of waiting them out (decision D43).
        let node = node_id(&settings)?;
        take_back_leases(&db, &node)?;
        let intake = settings
            .mail
            .imap_enabled
            .then(|| mail_intake(&settings, &db, &keys, &blobs, &node));
        let housekeeping = Some((
            node.clone(),
            std::time::Duration::from_secs(u64::from(settings.auth.housekeeping_seconds.max(1))),
        ));
        let listener = TcpListener::bind(settings.server.listen)
            .with_context(|| format!("cannot listen on {}", settings.server.listen))?;
        let port = listener.local_addr()?.port();
        let jobs = Arc::new(outbox_jobs(&settings, &db, mailer, &keys, &blobs));
        let live = crate::tickets::live::Live::new();
        let search = open_index(&settings.search_dir(), crate::search::TicketIndex::open)?;
        let kb = crate::kb::Kb::new(open_index(&settings.kb_dir(), crate::kb::KbIndex::open)?);
        prepare_kb(&settings, &db, &kb)?;
        let (stopping, stopping_rx) = tokio::sync::watch::channel(false);
        let state = Data::new(AppState {
            stopping: stopping_rx,
            live: live.clone(),
            search: search.clone(),
            kb: kb.clone(),
            db: db.clone(),
            signer: Arc::new(Signer::new(&keys)),
            keys,
            proxies: Arc::new(settings.server.proxies().map_err(|e| anyhow::anyhow!(e))?),
            settings: settings.clone(),
            blobs: blobs.clone(),
            jobs: jobs.clone(),
        });
        let server = web::server(state, listener, settings.server.workers)?;
        tracing::info!(
            port,
            database = db.backend().name(),
            data_dir = %settings.data_dir.display(),
            "Ärendo is listening"
        );
        Ok(Application {
            port,
            server,
            stopping,
            housekeeping,
            node: node.clone(),
            stats_follow: settings.stats.follow,
            worker: Some(outbox::Worker::new(db.clone(), jobs, node).configured(&settings.outbox)),
            intake,
            live: Some(live),
            search: Some(search),
            kb: Some(kb),
            kb_sync: std::time::Duration::from_secs(u64::from(settings.kb.sync_seconds.max(1))),
            sla: Some(crate::sla::engine::Notices {
                from: settings.mail.from.clone(),
                public_url: settings.server.public_url.clone(),
                apply: crate::tickets::breach::apply,
            }),
            db,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serve until SIGINT/SIGTERM (actix handles the signals) with the outbox worker beside it.
    pub async fn run_until_stopped(mut self) -> std::io::Result<()> {
        // Actix stops on the signal and waits for open requests; live streams never finish on
        // their own, so they are told here (the same signal) and end at once.
        let stopping = self.stopping.clone();
        tokio::spawn(async move {
            stop_signal().await;
            let _ = stopping.send(true);
        });
        if let Some(w) = self.worker.take() {
            tokio::spawn(w.run());
        }
        if let Some((node, every)) = self.housekeeping.take() {
            tokio::spawn(crate::accounts::housekeeping::run(
                self.db.clone(),
                node,
                every,
            ));
        }
        if let Some(i) = self.intake.take() {
            tokio::spawn(i.supervise());
        }
        if let Some(l) = self.live.take() {
            tokio::spawn(l.run(self.db.clone()));
        }
        // The statistics follower runs wherever the SLA engine does (one node holds its lease),
        // unless `stats.follow` turns it off on this node.
        if self.sla.is_some() && self.stats_follow {
            tokio::spawn(crate::stats::follower::run(
                self.db.clone(),
                self.node.clone(),
            ));
        }
        if let Some(notices) = self.sla.take() {
            tokio::spawn(crate::sla::engine::run(
                self.db.clone(),
                notices,
                Arc::new(crate::sla::engine::SystemClock),
                self.node.clone(),
            ));
        }
        // The search indexer follows the database until the server stops; then it finishes its
        // round and releases the index (so a restart in the same process can open it again).
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let indexer = self.search.take().map(|index| {
            tokio::spawn(crate::search::run(self.db.clone(), index, async move {
                let _ = stopped.await;
            }))
        });
        let (kb_stop, kb_stopped) = tokio::sync::oneshot::channel::<()>();
        let kb = self.kb.take().map(|kb| {
            tokio::spawn(kb.run(self.db.clone(), self.kb_sync, async move {
                let _ = kb_stopped.await;
            }))
        });
        let result = self.server.await;
        let _ = stop.send(());
        let _ = kb_stop.send(());
        if let Some(h) = kb {
            let _ = h.await;
        }
        if let Some(h) = indexer {
            let _ = h.await;
        }
        result
    }
}

/// SIGINT or SIGTERM.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(dir: &std::path::Path, node: Option<&str>) -> Settings {
        let mut env = vec![("ARENDO_DATA_DIR".to_string(), dir.display().to_string())];
        if let Some(n) = node {
            env.push(("ARENDO_SERVER__NODE_ID".to_string(), n.to_string()));
        }
        Settings::from_parts("", None, &env).unwrap()
    }

    #[test]
    fn the_node_id_is_kept_in_the_data_dir_unless_configured() {
        let dir = tempfile::tempdir().unwrap();
        let first = node_id(&settings(dir.path(), None)).unwrap();
        assert!(first.starts_with("node-"), "{first}");
        assert_eq!(node_id(&settings(dir.path(), None)).unwrap(), first);
        let kept = std::fs::read_to_string(dir.path().join("node-id")).unwrap();
        assert_eq!(kept.trim(), first);
        // Several nodes sharing one data directory each name themselves.
        assert_eq!(
            node_id(&settings(dir.path(), Some("node-b"))).unwrap(),
            "node-b"
        );
        let other = tempfile::tempdir().unwrap();
        assert_ne!(node_id(&settings(other.path(), None)).unwrap(), first);
    }
}
