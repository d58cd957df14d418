//! Connections: one diesel `MultiConnection` over SQLite and PostgreSQL, a pool, and the
//! async entry points `Db::read` / `Db::write` that keep blocking diesel calls off the executor.
//!
//! SQLite allows one writer at a time. Instead of letting request threads fight over the write
//! lock, every write goes to one writer thread that commits the jobs waiting at that moment in one
//! transaction (each job in its own savepoint), so one fsync makes many requests durable
//! ("group commit"). On PostgreSQL each write is its own transaction on a pooled connection.

use std::sync::mpsc;
use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::prelude::*;
use diesel::r2d2::{self, ManageConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use tokio::sync::oneshot;

use super::StoreError;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const PG_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

#[derive(diesel::MultiConnection)]
pub enum Conn {
    Sqlite(diesel::SqliteConnection),
    Pg(diesel::PgConnection),
}

/// Which database a URL names. Chosen from the scheme, never by trial (SQLite accepts any string).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of_url(url: &str) -> Result<(Backend, String), StoreError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok((Backend::Postgres, url.to_string()))
        } else if let Some(path) = url.strip_prefix("sqlite://") {
            Ok((Backend::Sqlite, path.to_string()))
        } else if let Some(path) = url.strip_prefix("sqlite:") {
            Ok((Backend::Sqlite, path.to_string()))
        } else {
            Err(StoreError::Config(format!(
                "database URL must start with sqlite:// or postgres:// (got scheme of {:?})",
                url.split(':').next().unwrap_or("")
            )))
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// r2d2 manager that opens the right variant and reports the real connection error.
#[derive(Debug, Clone)]
pub struct Manager {
    backend: Backend,
    target: String,
}

impl Manager {
    fn open(&self) -> Result<Conn, diesel::ConnectionError> {
        match self.backend {
            Backend::Postgres => Ok(Conn::Pg(diesel::PgConnection::establish(&self.target)?)),
            Backend::Sqlite => {
                let mut c = diesel::SqliteConnection::establish(&self.target)?;
                // WAL lets readers run beside the writer; synchronous=FULL makes every commit durable
                // (the WAL is fsynced before COMMIT returns); foreign keys are off by default in SQLite.
                // A 32 MB page cache per connection (default 2 MB) keeps the hot index pages of a
                // million-ticket database in memory instead of re-reading them from the OS.
                c.batch_execute(
                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                     PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; \
                     PRAGMA cache_size = -32000;",
                )
                .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
                Ok(Conn::Sqlite(c))
            }
        }
    }
}

impl ManageConnection for Manager {
    type Connection = Conn;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<Conn, r2d2::Error> {
        self.open().map_err(r2d2::Error::ConnectionError)
    }

    fn is_valid(&self, conn: &mut Conn) -> Result<(), r2d2::Error> {
        conn.batch_execute("SELECT 1")
            .map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, _conn: &mut Conn) -> bool {
        false
    }
}

type Pool = r2d2::Pool<Manager>;
type Completion = Box<dyn FnOnce(Result<(), String>) + Send>;
type Job = Box<dyn FnOnce(&mut Conn) -> Completion + Send>;

/// The database handle shared by the whole application.
#[derive(Clone)]
pub struct Db {
    backend: Backend,
    pool: Pool,
    writer: Option<mpsc::SyncSender<Job>>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("backend", &self.backend)
            .finish()
    }
}

/// The SQLite database file exists and is 0600 before SQLite opens it; SQLite gives its WAL and
/// SHM files the database file's mode. Files of an older installation are tightened too.
fn private_sqlite_files(target: &str) -> Result<(), StoreError> {
    let path = std::path::Path::new(target.strip_prefix("file:").unwrap_or(target));
    if target == ":memory:" || target.contains('?') {
        return Ok(());
    }
    let fail = |e: std::io::Error| StoreError::Config(format!("{}: {e}", path.display()));
    let f = super::private::open_options()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(fail)?;
    super::private::restrict(&f).map_err(fail)?;
    for suffix in ["-wal", "-shm", "-journal"] {
        let mut side = path.as_os_str().to_owned();
        side.push(suffix);
        super::private::set_mode(std::path::Path::new(&side), super::private::FILE_MODE)
            .map_err(fail)?;
    }
    Ok(())
}

impl Db {
    /// Open (creating the SQLite file if needed), migrate, and start the SQLite writer.
    pub fn connect(url: &str, pool_size: u32) -> Result<Db, StoreError> {
        Self::connect_with(url, pool_size, Duration::from_secs(10))
    }

    /// `connect` with the time a caller waits for a free connection.
    pub fn connect_with(url: &str, pool_size: u32, wait: Duration) -> Result<Db, StoreError> {
        let (backend, target) = Backend::of_url(url)?;
        if backend == Backend::Sqlite
            && let Some(parent) = std::path::Path::new(&target).parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent).map_err(|e| {
                StoreError::Config(format!("cannot create {}: {e}", parent.display()))
            })?;
        }
        if backend == Backend::Sqlite {
            private_sqlite_files(&target)?;
        }
        let manager = Manager { backend, target };
        // Surface the real error (wrong password, missing database) before r2d2 hides it in retries.
        let mut first = manager
            .open()
            .map_err(|e| StoreError::Connect(e.to_string()))?;
        run_migrations(&mut first)?;
        drop(first);
        let pool = r2d2::Pool::builder()
            .max_size(pool_size.max(2))
            // No idle minimum: r2d2 would refill it from a background thread, which can still be
            // inside libpq when a short CLI process exits (a crash at exit on PostgreSQL).
            .min_idle(Some(0))
            .connection_timeout(wait)
            .build(manager.clone())
            .map_err(|e| StoreError::Connect(e.to_string()))?;
        let writer = match backend {
            Backend::Postgres => None,
            Backend::Sqlite => {
                let conn = manager
                    .open()
                    .map_err(|e| StoreError::Connect(e.to_string()))?;
                let (tx, rx) = mpsc::sync_channel::<Job>(4096);
                std::thread::Builder::new()
                    .name("arendo-sqlite-writer".into())
                    .spawn(move || sqlite_writer(conn, rx))
                    .map_err(|e| StoreError::Connect(e.to_string()))?;
                Some(tx)
            }
        };
        Ok(Db {
            backend,
            pool,
            writer,
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Run a read-only unit of work on a pooled connection, off the async executor.
    pub async fn read<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut Conn) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let pool = self.pool.clone();
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || {
            let _g = span.enter();
            let mut conn = pool.get().map_err(|e| StoreError::Pool(e.to_string()))?;
            f(&mut conn)
        })
        .await
        .map_err(|e| StoreError::Pool(format!("database task failed: {e}")))?
    }

    /// Run a unit of work in one transaction. It is committed (and durable) when this returns Ok;
    /// if `f` returns Err, nothing it wrote is kept.
    pub async fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut Conn) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + From<diesel::result::Error> + Send + 'static,
    {
        match &self.writer {
            None => {
                let pool = self.pool.clone();
                let span = tracing::Span::current();
                tokio::task::spawn_blocking(move || {
                    let _g = span.enter();
                    let mut pooled = pool.get().map_err(|e| StoreError::Pool(e.to_string()))?;
                    let conn: &mut Conn = &mut pooled;
                    conn.transaction(f)
                })
                .await
                .map_err(|e| StoreError::Pool(format!("database task failed: {e}")))?
            }
            Some(writer) => {
                let (tx, rx) = oneshot::channel::<Result<T, E>>();
                let job = make_job(f, move |r| {
                    let _ = tx.send(r);
                });
                let writer = writer.clone();
                // `send` blocks only when 4096 jobs are queued; do that off the executor.
                tokio::task::spawn_blocking(move || writer.send(job))
                    .await
                    .map_err(|e| StoreError::Pool(e.to_string()))?
                    .map_err(|_| StoreError::Pool("the database writer has stopped".into()))?;
                rx.await
                    .map_err(|_| StoreError::Pool("the database writer has stopped".into()))?
            }
        }
    }

    /// Blocking variants for the CLI and background threads.
    pub fn read_blocking<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut Conn) -> Result<T, E>,
        E: From<StoreError>,
    {
        let mut conn = self
            .pool
            .get()
            .map_err(|e| StoreError::Pool(e.to_string()))?;
        f(&mut conn)
    }

    pub fn write_blocking<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut Conn) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + From<diesel::result::Error> + Send + 'static,
    {
        match &self.writer {
            None => {
                let mut pooled = self
                    .pool
                    .get()
                    .map_err(|e| StoreError::Pool(e.to_string()))?;
                let conn: &mut Conn = &mut pooled;
                conn.transaction(f)
            }
            Some(writer) => {
                let (tx, rx) = mpsc::sync_channel::<Result<T, E>>(1);
                let job = make_job(f, move |r| {
                    let _ = tx.send(r);
                });
                writer
                    .send(job)
                    .map_err(|_| StoreError::Pool("the database writer has stopped".into()))?;
                rx.recv()
                    .map_err(|_| StoreError::Pool("the database writer has stopped".into()))?
            }
        }
    }

    /// `SELECT 1` for readiness probes.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.read(|c| {
            c.batch_execute("SELECT 1")
                .map_err(|e| StoreError::Query(e.to_string()))
        })
        .await
    }
}

/// Wrap a unit of work for the SQLite writer: it runs in a savepoint (a failing job rolls back only
/// itself), and its result is delivered once the whole batch has committed.
fn make_job<T, E, F, D>(f: F, deliver: D) -> Job
where
    F: FnOnce(&mut Conn) -> Result<T, E> + Send + 'static,
    T: Send + 'static,
    E: From<StoreError> + From<diesel::result::Error> + Send + 'static,
    D: FnOnce(Result<T, E>) + Send + 'static,
{
    Box::new(move |conn: &mut Conn| {
        let result = conn.transaction(|c| {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(c)))
                .unwrap_or_else(|_| Err(E::from(StoreError::Pool("database job panicked".into()))))
        });
        Box::new(move |commit: Result<(), String>| {
            deliver(match commit {
                Ok(()) => result,
                Err(msg) => Err(E::from(StoreError::Commit(msg))),
            })
        })
    })
}

fn run_migrations(conn: &mut Conn) -> Result<(), StoreError> {
    let applied = match conn {
        Conn::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS).map(|v| v.len()),
        Conn::Pg(c) => c.run_pending_migrations(PG_MIGRATIONS).map(|v| v.len()),
    }
    .map_err(|e| StoreError::Migration(e.to_string()))?;
    if applied > 0 {
        tracing::info!(applied, "database migrations applied");
    }
    Ok(())
}

/// The one SQLite writer: take every job waiting, run each in a savepoint inside one transaction,
/// commit once, then tell each caller its outcome.
fn sqlite_writer(mut conn: Conn, rx: mpsc::Receiver<Job>) {
    const MAX_BATCH: usize = 512;
    while let Ok(first) = rx.recv() {
        let mut jobs = vec![first];
        while jobs.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
        let mut completions = Vec::with_capacity(jobs.len());
        let outcome = (|| -> QueryResult<()> {
            let Conn::Sqlite(c) = &mut conn else {
                unreachable!("the writer thread only runs for SQLite")
            };
            // IMMEDIATE takes the write lock up front, so a CLI process writing at the same time
            // makes us wait (busy_timeout) instead of failing the whole batch on lock upgrade.
            AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?;
            for job in jobs.drain(..) {
                completions.push(job(&mut conn));
            }
            match <Conn as Connection>::TransactionManager::commit_transaction(&mut conn) {
                Ok(()) => Ok(()),
                Err(e) => {
                    let _ =
                        <Conn as Connection>::TransactionManager::rollback_transaction(&mut conn);
                    Err(e)
                }
            }
        })();
        let commit = outcome.map_err(|e| e.to_string());
        if let Err(e) = &commit {
            tracing::error!(error = %e, "SQLite batch commit failed");
        }
        for done in completions {
            done(commit.clone());
        }
    }
}
