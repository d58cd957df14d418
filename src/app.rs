//! Start-up: settings → keys → database (migrated) → demo data → HTTP server + background workers.
//! `Application::build` binds the port (0 = any free port) so tests and benchmarks can run many.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::{Server, ServerHandle};
use actix_web::web::Data;
use anyhow::Context as _;

use crate::accounts::tokens::Signer;
use crate::config::Settings;
use crate::mail::Mailer;
use crate::outbox;
use crate::secrets::Keys;
use crate::store::Db;
use crate::web::{self, AppState};

pub struct Application {
    port: u16,
    server: Server,
    db: Db,
    worker: Option<outbox::Worker>,
}

impl Application {
    pub fn build(settings: Settings) -> anyhow::Result<Application> {
        let settings = Arc::new(settings);
        std::fs::create_dir_all(&settings.data_dir)
            .with_context(|| format!("cannot create data dir {}", settings.data_dir.display()))?;
        let keys = Arc::new(Keys::load_or_create(
            settings.secret_key.as_ref(),
            &settings.data_dir,
        )?);
        let db = Db::connect(&settings.database_url(), settings.database.pool_size)?;
        if settings.demo
            && let Some(creds) = crate::demo::seed_if_empty(&db)?
        {
            crate::demo::announce(&creds, &settings);
        }
        let mailer = Mailer::from_settings(&settings)?;
        let listener = TcpListener::bind(settings.server.listen)
            .with_context(|| format!("cannot listen on {}", settings.server.listen))?;
        let port = listener.local_addr()?.port();
        let state = Data::new(AppState {
            db: db.clone(),
            signer: Arc::new(Signer::new(&keys)),
            keys,
            settings: settings.clone(),
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
            worker: Some(outbox::Worker::new(db.clone(), mailer)),
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
        if let Some(w) = self.worker.take() {
            tokio::spawn(w.run());
        }
        self.server.await
    }
}
