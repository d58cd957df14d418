use std::path::PathBuf;
use std::time::Duration;

use arendo::accounts::admin::{self, NewUser};
use arendo::accounts::password::NewPassword;
use arendo::accounts::{Scope, tokens::Signer};
use arendo::app::Application;
use arendo::config::Settings;
use arendo::domain::{EmailAddress, MembershipRole, Role};
use arendo::error::Error;
use arendo::secrets::Keys;
use arendo::store::Db;
use arendo::tenants;
use diesel::{Connection, RunQueryDsl};
use serde_json::Value;

/// Run a scenario once on SQLite and once on PostgreSQL.
#[macro_export]
macro_rules! both_backends {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::helpers::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name($crate::helpers::Backend::Postgres).await
            }
        }
    };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A scratch PostgreSQL database, dropped with the test.
pub struct PgScratch {
    admin_url: String,
    name: String,
    pub url: String,
}

impl PgScratch {
    pub fn new() -> PgScratch {
        let admin_url = std::env::var("ARENDO_TEST_PG_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let name = format!("arendo_test_{}", hex::encode(rand::random::<[u8; 6]>()));
        let mut c = diesel::PgConnection::establish(&admin_url).unwrap_or_else(|e| {
            panic!("PostgreSQL is needed for the postgres tests ({admin_url}): {e}. Run scripts/test.sh, which starts one.")
        });
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut c)
            .unwrap();
        let base = admin_url
            .rsplit_once('/')
            .map(|(b, _)| b.to_string())
            .unwrap();
        PgScratch {
            url: format!("{base}/{name}"),
            admin_url,
            name,
        }
    }
}

impl Drop for PgScratch {
    fn drop(&mut self) {
        if let Ok(mut c) = diesel::PgConnection::establish(&self.admin_url) {
            let _ = diesel::sql_query(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .execute(&mut c);
        }
    }
}

/// Run the real `arendo` binary with `args` against `db_url` and the data directory `dir` (no
/// configuration file), `stdin` piped in: (exit code, stdout, stderr).
pub fn arendo(
    dir: &std::path::Path,
    db_url: &str,
    args: &[&str],
    stdin: Option<&str>,
) -> (i32, String, String) {
    arendo_with(dir, db_url, args, stdin, &[])
}

/// [`arendo`] with extra environment, e.g. `("ARENDO_SECRET_KEY", …)`.
pub fn arendo_with(
    dir: &std::path::Path,
    db_url: &str,
    args: &[&str],
    stdin: Option<&str>,
    env: &[(&str, &str)],
) -> (i32, String, String) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_arendo"))
        .args(args)
        .env_remove("ARENDO_CONFIG")
        .env("ARENDO_DATA_DIR", dir)
        .env("ARENDO_DATABASE__URL", db_url)
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(s) = stdin {
        child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub struct TestApp {
    pub base: String,
    pub db: Db,
    pub data_dir: PathBuf,
    pub key_hex: String,
    pub db_url: String,
    extra: Vec<(String, String)>,
    handle: actix_web::dev::ServerHandle,
    _dir: tempfile::TempDir,
    _pg: Option<PgScratch>,
}

/// A tenant with two queues and three accounts, as the scenarios need them.
pub struct Org {
    pub slug: String,
    pub queue_a: i64,
    pub queue_b: i64,
    pub admin: Account,
    /// Member of queue A only.
    pub agent_a: Account,
    /// Member of queue B only.
    pub agent_b: Account,
}

pub struct Account {
    pub email: String,
    pub password: String,
    pub token: String,
    pub id: i64,
}

pub fn settings_for(
    dir: &std::path::Path,
    db_url: &str,
    key_hex: &str,
    extra: &[(&str, &str)],
) -> Settings {
    let mut env = vec![
        ("ARENDO_DATA_DIR".to_string(), dir.display().to_string()),
        (
            "ARENDO_SERVER__LISTEN".to_string(),
            "127.0.0.1:0".to_string(),
        ),
        ("ARENDO_DATABASE__URL".to_string(), db_url.to_string()),
        ("ARENDO_DEMO".to_string(), "false".to_string()),
        ("ARENDO_SECRET_KEY".to_string(), key_hex.to_string()),
        ("ARENDO_SERVER__WORKERS".to_string(), "2".to_string()),
        // The scratch database is dropped while background workers may still ask for connections.
        (
            "ARENDO_DATABASE__CONNECT_TIMEOUT_SECONDS".to_string(),
            "1".to_string(),
        ),
        // The test servers (records systems, SMS gateways, Dovecot, SMTP) listen on loopback,
        // which the egress policy refuses unless the operator allows it.
        ("ARENDO_EGRESS__ALLOW".to_string(), "127.0.0.1".to_string()),
    ];
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Settings::from_parts("", None, &env).unwrap()
}

pub fn init_logs() {
    arendo::tls::install_default_provider();
    if std::env::var("TEST_LOG").is_ok() {
        arendo::telemetry::init("text", "info");
    }
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> TestApp {
        Self::spawn_with(backend, &[]).await
    }

    /// Spawn with extra `ARENDO_*` settings, e.g. `("ARENDO_AUTH__MAX_FAILURES_PER_IP", "3")`.
    pub async fn spawn_with(backend: Backend, extra: &[(&str, &str)]) -> TestApp {
        init_logs();
        let dir = tempfile::tempdir().unwrap();
        let (db_url, pg) = match backend {
            Backend::Sqlite => (
                format!("sqlite://{}", dir.path().join("arendo.db").display()),
                None,
            ),
            Backend::Postgres => {
                let pg = tokio::task::spawn_blocking(PgScratch::new).await.unwrap();
                (pg.url.clone(), Some(pg))
            }
        };
        let key_hex = hex::encode(rand::random::<[u8; 32]>());
        let extra: Vec<(String, String)> = extra
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Self::start(dir, db_url, pg, key_hex, extra).await
    }

    async fn start(
        dir: tempfile::TempDir,
        db_url: String,
        pg: Option<PgScratch>,
        key_hex: String,
        extra: Vec<(String, String)>,
    ) -> TestApp {
        let pairs: Vec<(&str, &str)> = extra
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let settings = settings_for(dir.path(), &db_url, &key_hex, &pairs);
        let app = tokio::task::spawn_blocking(move || Application::build(settings).unwrap())
            .await
            .unwrap();
        let port = app.port();
        let handle = app.handle();
        let db = app.db().clone();
        tokio::spawn(app.run_until_stopped());
        TestApp {
            base: format!("http://127.0.0.1:{port}"),
            db,
            data_dir: dir.path().to_path_buf(),
            key_hex,
            db_url,
            extra,
            handle,
            _dir: dir,
            _pg: pg,
        }
    }

    /// Stop the server and start a new one on the same database and data directory.
    pub async fn restart(self) -> TestApp {
        self.handle.stop(true).await;
        let TestApp {
            _dir,
            _pg,
            db_url,
            key_hex,
            extra,
            ..
        } = self;
        Self::start(_dir, db_url, _pg, key_hex, extra).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// A browser-like client: keeps cookies, does not follow redirects.
    pub fn browser(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    }

    pub async fn org(&self, slug: &str) -> Org {
        let signer = Signer::new(&Keys::from_hex(&self.key_hex).unwrap());
        let slug = slug.to_string();
        self.db
            .write(move |c| -> Result<Org, Error> {
                let t = tenants::create_tenant(c, &slug, &format!("{slug} kommun"), "KC")?;
                let qa = tenants::create_queue(c, t.id, "kundtjanst", "Kundtjänst")?;
                let qb = tenants::create_queue(c, t.id, "va", "VA")?;
                let mut mk = |who: &str,
                              role: Role,
                              queues: Vec<(arendo::domain::QueueId, MembershipRole)>|
                 -> Result<Account, Error> {
                    let email = EmailAddress::parse(&format!("{who}@{slug}.se"))?;
                    let password = NewPassword::generate();
                    let u = admin::create_user(
                        c,
                        t.id,
                        NewUser {
                            email: &email,
                            display_name: &format!("{who} {slug}"),
                            role,
                            password: &password,
                            queues: &queues,
                        },
                    )?;
                    // Every scope the account may hold (the admin scope only for admins).
                    let scopes: Vec<Scope> = Scope::ALL
                        .into_iter()
                        .filter(|s| *s != Scope::Admin || role == Role::Admin)
                        .collect();
                    let (_, token) =
                        admin::create_api_token(c, &signer, t.id, u.id, "test", &scopes, None)?;
                    Ok(Account {
                        email: email.to_string(),
                        password: password.expose().to_string(),
                        token,
                        id: u.id.get(),
                    })
                };
                let admin = mk("admin", Role::Admin, vec![])?;
                let agent_a = mk("anna", Role::Agent, vec![(qa.id, MembershipRole::Agent)])?;
                let agent_b = mk("bertil", Role::Agent, vec![(qb.id, MembershipRole::Lead)])?;
                Ok(Org {
                    slug: slug.clone(),
                    queue_a: qa.id.get(),
                    queue_b: qb.id.get(),
                    admin,
                    agent_a,
                    agent_b,
                })
            })
            .await
            .unwrap()
    }

    /// Create a ticket through the API as `token`; returns the JSON.
    pub async fn create_ticket(&self, token: &str, queue: i64, subject: &str) -> Value {
        let r = reqwest::Client::new()
            .post(self.url("/api/v1/tickets"))
            .bearer_auth(token)
            .json(&serde_json::json!({
                "queue": queue,
                "subject": subject,
                "body": "Hej! Jag har en fråga.",
                "contact": { "name": "Maria Lind", "email": "maria@example.org" }
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            201,
            "create failed: {}",
            r.text().await.unwrap()
        );
        r.json().await.unwrap()
    }

    /// Create a ticket through the API from a whole JSON body; returns its number.
    pub async fn create_ticket_from(&self, token: &str, body: Value) -> String {
        let r = reqwest::Client::new()
            .post(self.url("/api/v1/tickets"))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            201,
            "create failed: {}",
            r.text().await.unwrap()
        );
        r.json::<Value>().await.unwrap()["number"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Change a ticket through the API (`PATCH`), expecting success.
    pub async fn patch_ticket(&self, token: &str, number: &str, body: Value) {
        let r = reqwest::Client::new()
            .patch(self.url(&format!("/api/v1/tickets/{number}")))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    }

    /// "Eskalera" on the ticket page as the signed-in `browser` (`target` "" = the queue's
    /// default); returns the status.
    pub async fn escalate(
        &self,
        browser: &reqwest::Client,
        number: &str,
        target: &str,
        reason: &str,
    ) -> u16 {
        let csrf = self.csrf(browser, &format!("/tickets/{number}")).await;
        browser
            .post(self.url(&format!("/tickets/{number}/escalate")))
            .form(&[
                ("csrf", csrf.as_str()),
                ("target", target),
                ("reason", reason),
            ])
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    /// The CSRF token on a page the browser just loaded.
    pub async fn csrf(&self, browser: &reqwest::Client, path: &str) -> String {
        let html = browser
            .get(self.url(path))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        csrf_in(&html)
    }

    /// Sign in through the login form; returns the response.
    pub async fn login(
        &self,
        browser: &reqwest::Client,
        tenant: &str,
        email: &str,
        password: &str,
    ) -> reqwest::Response {
        let csrf = self.csrf(browser, "/login").await;
        browser
            .post(self.url("/login"))
            .form(&[
                ("csrf", csrf.as_str()),
                ("tenant", tenant),
                ("email", email),
                ("password", password),
            ])
            .send()
            .await
            .unwrap()
    }

    /// Run the real `arendo` binary on this app's database, data directory and secret key (off
    /// the async workers), with extra environment: (exit code, stdout, stderr).
    pub async fn cli(
        &self,
        args: &[&str],
        stdin: Option<&str>,
        env: &[(&str, &str)],
    ) -> (i32, String, String) {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let stdin = stdin.map(str::to_string);
        let mut env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        env.push(("ARENDO_SECRET_KEY".into(), self.key_hex.clone()));
        env.push(("ARENDO_DEMO".into(), "false".into()));
        let (dir, db_url) = (self.data_dir.clone(), self.db_url.clone());
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let env: Vec<(&str, &str)> =
                env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            arendo_with(&dir, &db_url, &args, stdin.as_deref(), &env)
        })
        .await
        .unwrap()
    }

    /// Run `arendo mail import-dir` against this app's database (the same pipeline as IMAP).
    pub fn import_dir(
        &self,
        tenant: &str,
        queue: &str,
        dir: &std::path::Path,
    ) -> std::process::Output {
        std::process::Command::new(env!("CARGO_BIN_EXE_arendo"))
            .args(["mail", "import-dir", "--tenant", tenant, "--queue", queue])
            .arg(dir)
            .env("ARENDO_DATA_DIR", &self.data_dir)
            .env("ARENDO_DATABASE__URL", &self.db_url)
            .env("ARENDO_SECRET_KEY", &self.key_hex)
            .env("RUST_LOG", "warn")
            .output()
            .unwrap()
    }

    /// The mails queued in the outbox (sent or not) to `to`, newest first, as their JSON.
    pub async fn outbox_mails(&self, to: &str) -> Vec<Value> {
        let to = to.to_string();
        self.db
            .read(move |c| -> Result<_, Error> {
                let mut all = vec![];
                for t in arendo::store::tenants::list(c)? {
                    all.extend(arendo::store::outbox::recent(c, t.id, 200)?);
                }
                Ok(all)
            })
            .await
            .unwrap()
            .into_iter()
            .filter(|i| i.kind == "mail")
            .map(|i| serde_json::from_str::<Value>(&i.payload).unwrap())
            .filter(|m| m["to"].as_array().unwrap().iter().any(|a| a == to.as_str()))
            .collect()
    }

    /// Wait until `cond` holds (for background workers), at most 10 s.
    pub async fn eventually<F: FnMut() -> bool>(&self, mut cond: F) -> bool {
        for _ in 0..200 {
            if cond() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }
}

pub fn csrf_in(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).expect("page has a CSRF field") + marker.len();
    let end = html[start..].find('"').unwrap();
    html[start..start + end].to_string()
}

/// A browser signed in as `email` (the login answered 303).
pub async fn signed_in(
    app: &TestApp,
    tenant: &str,
    email: &str,
    password: &str,
) -> reqwest::Client {
    let b = app.browser();
    let r = app.login(&b, tenant, email, password).await;
    assert_eq!(r.status(), 303, "sign-in of {email}");
    b
}

/// A page as `b` sees it: status and body.
pub async fn page(app: &TestApp, b: &reqwest::Client, path: &str) -> (u16, String) {
    let r = b.get(app.url(path)).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// Post a form with the CSRF token of `from_page` (as the browser would).
pub async fn post_form(
    app: &TestApp,
    b: &reqwest::Client,
    from_page: &str,
    action: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let csrf = app.csrf(b, from_page).await;
    let mut form: Vec<(&str, &str)> = vec![("csrf", csrf.as_str())];
    form.extend_from_slice(fields);
    b.post(app.url(action)).form(&form).send().await.unwrap()
}

/// GET an API path as `token`, as JSON.
pub async fn api(app: &TestApp, token: &str, path: &str) -> Value {
    reqwest::Client::new()
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}
