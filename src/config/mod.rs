//! Settings: built-in defaults, then a TOML file, then `ARENDO_*` environment variables.
//!
//! Environment names map onto the file's keys: `ARENDO_DATABASE__URL` sets `[database] url`,
//! `ARENDO_DATA_DIR` sets top-level `data_dir` (double underscore separates section and key).
//! `ARENDO_CONFIG` names the file (default `arendo.toml` if it exists). `docs/configuration.md`
//! lists every key; `arendo.example.toml` is a commented sample.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use secrecy::SecretString;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Where the SQLite database (by default), attachments, the outbox folder and the secret key live.
    #[serde(default = "defaults::data_dir")]
    pub data_dir: PathBuf,
    /// Create the demo tenant "Exempelkommun" with queues and agents if the database has no tenant.
    #[serde(default = "defaults::yes")]
    pub demo: bool,
    /// Hex-encoded secret key (at least 32 bytes). Normally left unset: the key is generated on first
    /// start into `<data_dir>/secret.key` (mode 0600). Set it (e.g. via ARENDO_SECRET_KEY) to share
    /// one key between several nodes.
    #[serde(default)]
    pub secret_key: Option<SecretString>,
    #[serde(default)]
    pub server: Server,
    #[serde(default)]
    pub database: Database,
    #[serde(default)]
    pub auth: Auth,
    #[serde(default)]
    pub mail: Mail,
    #[serde(default)]
    pub log: Log,
    #[serde(default)]
    pub search: Search,
    #[serde(default)]
    pub kb: Kb,
    #[serde(default)]
    pub outbox: Outbox,
    #[serde(default)]
    pub notify: Notify,
    #[serde(default)]
    pub egress: Egress,
    #[serde(default)]
    pub stats: Stats,
}

/// The statistics (D64).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stats {
    /// Run the statistics follower on this node (it keeps the aggregates current; one node at a
    /// time holds its lease). Off (`ARENDO_STATS__FOLLOW=false`): this node keeps no figures
    /// current, so another node must run it — for measuring its cost (`arendo-bench`), or for
    /// nodes that only serve.
    #[serde(default = "defaults::yes")]
    pub follow: bool,
}

impl Default for Stats {
    fn default() -> Self {
        Stats { follow: true }
    }
}

/// Outgoing connections to addresses a municipality's administrator sets (records systems, SMS
/// gateways, IMAP/SMTP servers): internal and special addresses are refused unless allowed here.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Egress {
    /// Addresses, networks (CIDR) and host names (`.example.se`: every name under it) that may be
    /// reached although they are loopback, private, link-local, CGNAT and the like. A list in the
    /// file; comma-separated in `ARENDO_EGRESS__ALLOW`. Only the operator sets this.
    #[serde(default, deserialize_with = "list_or_commas")]
    pub allow: Vec<String>,
}

/// A TOML list of strings, or one string of comma-separated items (from the environment).
fn list_or_commas<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        List(Vec<String>),
        Text(String),
    }
    Ok(match Either::deserialize(d)? {
        Either::List(v) => v,
        Either::Text(s) => s
            .split(',')
            .map(str::trim)
            .filter(|x| !x.is_empty())
            .map(str::to_string)
            .collect(),
    })
}

/// Notifications to citizens.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Notify {
    /// From this information class (skyddsklass 1–4) of a queue on, e-mail and SMS to citizens
    /// carry no content, only a notice with the ticket number.
    #[serde(default = "defaults::content_free_from_class")]
    pub content_free_from_class: i32,
    /// How long a status-page link in a notification works.
    #[serde(default = "defaults::status_link_days")]
    pub status_link_days: u32,
    /// "Följ ditt ärende" (`/mitt-arende`): requests one IP address may make per hour before it
    /// must wait an hour.
    #[serde(default = "defaults::link_requests_per_ip")]
    pub link_requests_per_ip: u32,
    /// Link mails one ticket's citizen gets per hour at most, however often a link is asked for.
    #[serde(default = "defaults::link_mails_per_ticket")]
    pub link_mails_per_ticket: u32,
    /// Replies a ticket's citizen may send through the status page per hour.
    #[serde(default = "defaults::citizen_replies_per_hour")]
    pub citizen_replies_per_hour: u32,
    /// Megabytes of files a ticket's citizen may send through the status page per hour.
    #[serde(default = "defaults::citizen_reply_mb_per_hour")]
    pub citizen_reply_mb_per_hour: u32,
}

impl Default for Notify {
    fn default() -> Self {
        Notify {
            content_free_from_class: defaults::content_free_from_class(),
            status_link_days: defaults::status_link_days(),
            link_requests_per_ip: defaults::link_requests_per_ip(),
            link_mails_per_ticket: defaults::link_mails_per_ticket(),
            citizen_replies_per_hour: defaults::citizen_replies_per_hour(),
            citizen_reply_mb_per_hour: defaults::citizen_reply_mb_per_hour(),
        }
    }
}

/// Delivery of everything that leaves Ärendo (mail, records-system requests): retries.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outbox {
    /// Wait after the first failed attempt, in milliseconds; doubles with each further failure
    /// (±20 % jitter), up to `retry_cap_seconds`.
    #[serde(default = "defaults::retry_base_ms")]
    pub retry_base_ms: u64,
    #[serde(default = "defaults::retry_cap_seconds")]
    pub retry_cap_seconds: u64,
    /// Attempts in all before an item is given up (dead-lettered, shown on its ticket).
    #[serde(default = "defaults::max_attempts")]
    pub max_attempts: u32,
    /// How long a node holds an item it is delivering; if the node dies, another (or this one
    /// when it starts again — it reclaims its own leases at once) takes the item after this long.
    #[serde(default = "defaults::outbox_lease_seconds")]
    pub lease_seconds: u32,
    /// Deliveries at once on this node, over all lanes (a lane is a job kind and destination:
    /// a mailbox's SMTP server, a records system, an SMS gateway). One lane delivers one item at
    /// a time, so a records system that hangs holds up only its own items.
    #[serde(default = "defaults::outbox_concurrency")]
    pub concurrency: u32,
}

impl Default for Outbox {
    fn default() -> Self {
        Outbox {
            retry_base_ms: defaults::retry_base_ms(),
            retry_cap_seconds: defaults::retry_cap_seconds(),
            max_attempts: defaults::max_attempts(),
            lease_seconds: defaults::outbox_lease_seconds(),
            concurrency: defaults::outbox_concurrency(),
        }
    }
}

/// The knowledge base: its node-local index and the starter articles.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Kb {
    /// Where the index lives. Default: `<data_dir>/kb-index`.
    #[serde(default)]
    pub index_dir: Option<PathBuf>,
    /// How often (seconds) the index checks the database for articles changed on other nodes.
    #[serde(default = "defaults::kb_sync_seconds")]
    pub sync_seconds: u32,
    /// At start, give every municipality without articles the starter articles built into the
    /// binary (from `knowledge-base/`).
    #[serde(default = "defaults::yes")]
    pub import_starter: bool,
}

impl Default for Kb {
    fn default() -> Self {
        Kb {
            index_dir: None,
            sync_seconds: defaults::kb_sync_seconds(),
            import_starter: true,
        }
    }
}

/// The node's full-text search index (derived from the database; each node keeps its own).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Search {
    /// Where the index lives. Default: `<data_dir>/search`. Put it on local disk when the data dir
    /// is shared between nodes.
    #[serde(default)]
    pub index_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Server {
    #[serde(default = "defaults::listen")]
    pub listen: SocketAddr,
    /// The address people use to reach Ärendo; links in mail point here. `https://` makes cookies Secure.
    #[serde(default = "defaults::public_url")]
    pub public_url: String,
    /// HTTP worker threads (0 = one per core).
    #[serde(default)]
    pub workers: usize,
    /// Reverse proxies in front of Ärendo, comma-separated addresses or networks
    /// (`10.0.0.5, 10.1.0.0/16`). A request from one of them is counted (login and link-request
    /// limits) against the client address it names in `X-Forwarded-For`; from anyone else the
    /// header is ignored. Empty: the TCP peer is the client.
    #[serde(default)]
    pub trusted_proxies: String,
    /// This node's name in leases (mailboxes, outbox items, the SLA follower). Empty: the id
    /// kept in `<data_dir>/node-id` (made at first start). Set it when several nodes share one
    /// data directory, so each has its own.
    #[serde(default)]
    pub node_id: String,
}

impl Server {
    /// `trusted_proxies` parsed (checked at load, so an entry that does not parse cannot be here).
    pub fn proxies(&self) -> Result<Vec<ipnet::IpNet>, String> {
        self.trusted_proxies
            .split(',')
            .map(str::trim)
            .filter(|x| !x.is_empty())
            .map(|x| {
                x.parse::<ipnet::IpNet>()
                    .or_else(|_| x.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| {
                        format!("server.trusted_proxies: {x:?} is not an address or network")
                    })
            })
            .collect()
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Database {
    /// `sqlite://path/to/file.db` or `postgres://user:pass@host/db`. Default: SQLite in data_dir.
    #[serde(default)]
    pub url: Option<SecretString>,
    #[serde(default = "defaults::pool_size")]
    pub pool_size: u32,
    /// How long a request waits for a free database connection before it fails.
    #[serde(default = "defaults::connect_timeout_seconds")]
    pub connect_timeout_seconds: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Auth {
    #[serde(default = "defaults::session_hours")]
    pub session_hours: u32,
    /// Failed logins for one account from one client address (IPv6: /64) within
    /// `window_minutes` before that pair is locked for `lockout_minutes`; other addresses and
    /// browsers with a device cookie are not affected.
    #[serde(default = "defaults::account_failures")]
    pub max_failures_per_account: u32,
    /// Failed logins from one IP address (IPv6: /64) within `window_minutes` before it is locked
    /// for `lockout_minutes` (browsers with a device cookie are not affected).
    #[serde(default = "defaults::ip_failures")]
    pub max_failures_per_ip: u32,
    #[serde(default = "defaults::window_minutes")]
    pub window_minutes: u32,
    #[serde(default = "defaults::lockout_minutes")]
    pub lockout_minutes: u32,
    /// Failed logins for one account (from any clients, except browsers with a device cookie)
    /// before each further failure makes the account wait a growing delay — never a lock-out.
    #[serde(default = "defaults::account_free_failures")]
    pub account_free_failures: u32,
    /// The first delay; it doubles with each further failure, up to `account_delay_max_seconds`.
    #[serde(default = "defaults::account_delay_base_seconds")]
    pub account_delay_base_seconds: u32,
    #[serde(default = "defaults::account_delay_max_seconds")]
    pub account_delay_max_seconds: u32,
    /// A browser that signed in gets a signed device cookie for this many days; with it the
    /// account's and the address's limits do not apply (OWASP "device cookies").
    #[serde(default = "defaults::device_cookie_days")]
    pub device_cookie_days: u32,
    /// Failed logins with one device cookie within `window_minutes` before it counts for nothing.
    #[serde(default = "defaults::max_failures_per_device")]
    pub max_failures_per_device: u32,
    /// Password-hashing threads (each uses 19 MiB while it works). 0: one per core, at most as
    /// many as a sixteenth of the available memory allows.
    #[serde(default)]
    pub hash_threads: usize,
    /// How long a sign-in waits for a hashing thread before it is answered 503 with Retry-After.
    #[serde(default = "defaults::hash_wait_ms")]
    pub hash_wait_ms: u64,
    /// How often (seconds) expired throttle rows and sessions are deleted (one node does it).
    #[serde(default = "defaults::housekeeping_seconds")]
    pub housekeeping_seconds: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mail {
    /// `outbox`: write each outgoing mail as an .eml file to `outbox_dir` (the default; nothing
    /// leaves the machine). `smtp`: send through `smtp_host`.
    #[serde(default = "defaults::transport")]
    pub transport: MailTransport,
    /// Default: `<data_dir>/outbox`.
    #[serde(default)]
    pub outbox_dir: Option<PathBuf>,
    #[serde(default = "defaults::localhost")]
    pub smtp_host: String,
    #[serde(default = "defaults::smtp_port")]
    pub smtp_port: u16,
    /// `none` (only for a relay on this host), `starttls` or `implicit`.
    #[serde(default = "defaults::smtp_tls")]
    pub smtp_tls: SmtpTls,
    #[serde(default)]
    pub smtp_user: Option<String>,
    #[serde(default)]
    pub smtp_password: Option<SecretString>,
    /// Sender used when a tenant or mailbox has none.
    #[serde(default = "defaults::from")]
    pub from: String,
    /// Attachments larger than this are not stored separately (they stay in the raw source).
    #[serde(default = "defaults::max_attachment_mb")]
    pub max_attachment_mb: u32,
    /// A citizen's reply to a ticket resolved longer ago than this opens a new, linked ticket.
    #[serde(default = "defaults::reopen_days")]
    pub reopen_days: u32,
    /// At most this many acknowledgements per sender and hour (mail loops, floods).
    #[serde(default = "defaults::ack_per_hour")]
    pub ack_per_hour: u32,
    /// Run the IMAP workers (fetching function mailboxes) on this node.
    #[serde(default = "defaults::yes")]
    pub imap_enabled: bool,
    /// Polling interval for IMAP servers without IDLE, and the longest IDLE before re-checking.
    #[serde(default = "defaults::imap_poll_seconds")]
    pub imap_poll_seconds: u32,
    /// How often each node looks for mailboxes no node is working.
    #[serde(default = "defaults::imap_supervisor_seconds")]
    pub imap_supervisor_seconds: u32,
    /// A mailbox's lease: if the node working it dies, another takes over after this long.
    #[serde(default = "defaults::imap_lease_seconds")]
    pub imap_lease_seconds: u32,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum MailTransport {
    Outbox,
    Smtp,
}

#[derive(Debug, Clone, Copy, Deserialize, serde::Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    None,
    Starttls,
    Implicit,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Log {
    /// `text` for people, `json` for log collectors.
    #[serde(default = "defaults::log_format")]
    pub format: String,
    /// A tracing filter such as `info` or `arendo=debug,info`. RUST_LOG wins if set.
    #[serde(default = "defaults::log_level")]
    pub level: String,
}

mod defaults {
    use std::net::SocketAddr;
    use std::path::PathBuf;

    pub fn data_dir() -> PathBuf {
        PathBuf::from("data")
    }
    pub fn status_link_days() -> u32 {
        30
    }
    pub fn link_requests_per_ip() -> u32 {
        10
    }
    pub fn link_mails_per_ticket() -> u32 {
        3
    }
    pub fn citizen_replies_per_hour() -> u32 {
        10
    }
    pub fn citizen_reply_mb_per_hour() -> u32 {
        50
    }
    pub fn content_free_from_class() -> i32 {
        2
    }
    pub fn retry_base_ms() -> u64 {
        30_000
    }
    pub fn retry_cap_seconds() -> u64 {
        3600
    }
    pub fn max_attempts() -> u32 {
        12
    }
    pub fn outbox_lease_seconds() -> u32 {
        120
    }
    pub fn outbox_concurrency() -> u32 {
        8
    }
    pub fn kb_sync_seconds() -> u32 {
        5
    }
    pub fn yes() -> bool {
        true
    }
    pub fn listen() -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], 8080))
    }
    pub fn public_url() -> String {
        "http://127.0.0.1:8080".into()
    }
    pub fn pool_size() -> u32 {
        8
    }
    pub fn connect_timeout_seconds() -> u32 {
        10
    }
    pub fn session_hours() -> u32 {
        12
    }
    pub fn account_failures() -> u32 {
        5
    }
    pub fn ip_failures() -> u32 {
        30
    }
    pub fn window_minutes() -> u32 {
        15
    }
    pub fn lockout_minutes() -> u32 {
        15
    }
    pub fn account_free_failures() -> u32 {
        10
    }
    pub fn account_delay_base_seconds() -> u32 {
        1
    }
    pub fn account_delay_max_seconds() -> u32 {
        30
    }
    pub fn device_cookie_days() -> u32 {
        180
    }
    pub fn max_failures_per_device() -> u32 {
        5
    }
    pub fn hash_wait_ms() -> u64 {
        1000
    }
    pub fn housekeeping_seconds() -> u32 {
        600
    }
    pub fn transport() -> super::MailTransport {
        super::MailTransport::Outbox
    }
    pub fn localhost() -> String {
        "127.0.0.1".into()
    }
    pub fn smtp_port() -> u16 {
        25
    }
    pub fn smtp_tls() -> super::SmtpTls {
        super::SmtpTls::Starttls
    }
    pub fn from() -> String {
        "noreply@arendo.invalid".into()
    }
    pub fn max_attachment_mb() -> u32 {
        25
    }
    pub fn reopen_days() -> u32 {
        30
    }
    pub fn ack_per_hour() -> u32 {
        5
    }
    pub fn imap_poll_seconds() -> u32 {
        60
    }
    pub fn imap_supervisor_seconds() -> u32 {
        10
    }
    pub fn imap_lease_seconds() -> u32 {
        60
    }
    pub fn log_format() -> String {
        "text".into()
    }
    pub fn log_level() -> String {
        "info".into()
    }
}

macro_rules! default_from_serde {
    ($($t:ty),*) => {$(
        impl Default for $t {
            fn default() -> Self {
                toml::from_str("").expect("defaults deserialize")
            }
        }
    )*};
}
default_from_serde!(Server, Database, Auth, Mail, Log);

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("configuration ({}) is not valid: {message}", if path.as_os_str().is_empty() { "defaults and ARENDO_* environment".into() } else { path.display().to_string() })]
    Parse { path: PathBuf, message: String },
    #[error("environment variable {name}: {message}")]
    Env { name: String, message: String },
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

impl Settings {
    /// Defaults only (no file, no environment) — for tests and benchmarks.
    pub fn defaults() -> Settings {
        toml::from_str("").expect("defaults deserialize")
    }

    /// Load from `file` (or `ARENDO_CONFIG`, or `./arendo.toml` when present) and the environment.
    pub fn load(file: Option<&Path>) -> Result<Settings, ConfigError> {
        let env: Vec<(String, String)> = std::env::vars().collect();
        let file = file
            .map(Path::to_path_buf)
            .or_else(|| std::env::var_os("ARENDO_CONFIG").map(PathBuf::from))
            .or_else(|| {
                let p = PathBuf::from("arendo.toml");
                p.exists().then_some(p)
            });
        let text = match &file {
            Some(path) => std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.clone(),
                source,
            })?,
            None => String::new(),
        };
        Self::from_parts(&text, file.as_deref(), &env)
    }

    /// Build settings from file text plus `(name, value)` environment pairs.
    pub fn from_parts(
        text: &str,
        path: Option<&Path>,
        env: &[(String, String)],
    ) -> Result<Settings, ConfigError> {
        let path_buf = path.map(Path::to_path_buf).unwrap_or_default();
        // The file must be valid TOML on its own (a clear error naming the file).
        text.parse::<toml::Table>()
            .map_err(|e: toml::de::Error| ConfigError::Parse {
                path: path_buf.clone(),
                message: e.to_string(),
            })?;
        // ARENDO_SECTION__KEY overrides `[section] key`. The values stay strings until the
        // setting's own type reads them (the `config` crate): an all-digit SMTP user or
        // password is a string, `ARENDO_MAIL__SMTP_PORT=2525` a number.
        let mut vars = std::collections::HashMap::new();
        for (name, value) in env {
            let Some(rest) = name.strip_prefix("ARENDO_") else {
                continue;
            };
            // ARENDO_TEST_* and ARENDO_BENCH_* belong to the test suite and the benchmarks.
            if rest == "CONFIG"
                || rest.starts_with("TEST_")
                || rest.starts_with("BENCH_")
                || rest.is_empty()
            {
                continue;
            }
            if rest.split("__").any(str::is_empty) {
                return Err(ConfigError::Env {
                    name: name.clone(),
                    message: "empty key".into(),
                });
            }
            vars.insert(name.clone(), value.clone());
        }
        let layered = config::Config::builder()
            .add_source(config::File::from_str(text, config::FileFormat::Toml))
            .add_source(
                config::Environment::with_prefix("ARENDO")
                    .prefix_separator("_")
                    .separator("__")
                    .source(Some(vars)),
            )
            .build()
            .map_err(|e| ConfigError::Parse {
                path: path_buf.clone(),
                message: e.to_string(),
            })?;
        let settings: Settings = layered.try_deserialize().map_err(|e| ConfigError::Parse {
            path: path_buf,
            message: e.to_string(),
        })?;
        settings.check()?;
        Ok(settings)
    }

    fn check(&self) -> Result<(), ConfigError> {
        if !(self.server.public_url.starts_with("http://")
            || self.server.public_url.starts_with("https://"))
        {
            return Err(ConfigError::Invalid(
                "server.public_url must start with http:// or https://".into(),
            ));
        }
        self.server.proxies().map_err(ConfigError::Invalid)?;
        crate::domain::net::parse_allow_list(&self.egress.allow).map_err(ConfigError::Invalid)?;
        if self.notify.link_requests_per_ip == 0 || self.notify.link_mails_per_ticket == 0 {
            return Err(ConfigError::Invalid(
                "notify.link_requests_per_ip and notify.link_mails_per_ticket must be at least 1"
                    .into(),
            ));
        }
        if self.notify.citizen_replies_per_hour == 0 {
            return Err(ConfigError::Invalid(
                "notify.citizen_replies_per_hour must be at least 1".into(),
            ));
        }
        if self.auth.max_failures_per_account == 0 || self.auth.max_failures_per_ip == 0 {
            return Err(ConfigError::Invalid(
                "auth.max_failures_* must be at least 1".into(),
            ));
        }
        Ok(())
    }

    /// The database URL: configured, or SQLite at `<data_dir>/arendo.db`.
    pub fn database_url(&self) -> String {
        use secrecy::ExposeSecret;
        match &self.database.url {
            Some(u) => u.expose_secret().to_string(),
            None => format!("sqlite://{}", self.data_dir.join("arendo.db").display()),
        }
    }

    pub fn kb_dir(&self) -> PathBuf {
        self.kb
            .index_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("kb-index"))
    }

    pub fn search_dir(&self) -> PathBuf {
        self.search
            .index_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("search"))
    }

    pub fn outbox_dir(&self) -> PathBuf {
        self.mail
            .outbox_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("outbox"))
    }

    pub fn secure_cookies(&self) -> bool {
        self.server.public_url.starts_with("https://")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn defaults_are_the_embedded_demo() {
        let s = Settings::from_parts("", None, &[]).unwrap();
        assert_eq!(s.server.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(s.database_url(), "sqlite://data/arendo.db");
        assert!(s.demo);
        assert_eq!(s.mail.transport, MailTransport::Outbox);
    }

    #[test]
    fn environment_overrides_file() {
        let file = "data_dir = \"/var/lib/arendo\"\n[server]\nlisten = \"0.0.0.0:9000\"\n";
        let s = Settings::from_parts(
            file,
            None,
            &env(&[
                ("ARENDO_SERVER__LISTEN", "127.0.0.1:9100"),
                ("ARENDO_DATABASE__URL", "postgres://a@b/c"),
                ("ARENDO_DEMO", "false"),
                ("ARENDO_BENCH_PG_URL", "postgres://x@y/z"),
                ("HOME", "/root"),
            ]),
        )
        .unwrap();
        assert_eq!(s.server.listen.to_string(), "127.0.0.1:9100");
        assert_eq!(s.database_url(), "postgres://a@b/c");
        assert_eq!(s.data_dir, PathBuf::from("/var/lib/arendo"));
        assert!(!s.demo);
    }

    /// An all-digit SMTP user or password from the environment is a string (it once stopped
    /// every command with "invalid type: integer"); numeric settings still read numbers.
    #[test]
    fn numeric_looking_environment_values_stay_strings_where_the_setting_is_text() {
        use secrecy::ExposeSecret;
        let s = Settings::from_parts(
            "",
            None,
            &env(&[
                ("ARENDO_MAIL__SMTP_USER", "4711"),
                ("ARENDO_MAIL__SMTP_PASSWORD", "000123"),
                ("ARENDO_MAIL__SMTP_PORT", "2525"),
                ("ARENDO_DEMO", "false"),
            ]),
        )
        .unwrap();
        assert_eq!(s.mail.smtp_user.as_deref(), Some("4711"));
        assert_eq!(
            s.mail
                .smtp_password
                .as_ref()
                .map(|p| p.expose_secret().to_string()),
            Some("000123".to_string())
        );
        assert_eq!(s.mail.smtp_port, 2525);
        assert!(!s.demo);
        assert!(
            Settings::from_parts("", None, &env(&[("ARENDO_MAIL__SMTP_PORT", "many")])).is_err()
        );
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused() {
        assert!(Settings::from_parts("[server]\nlisen = \"x\"\n", None, &[]).is_err());
        assert!(
            Settings::from_parts("", None, &env(&[("ARENDO_SERVER__LISTEN", "nonsense")])).is_err()
        );
        assert!(Settings::from_parts("[server]\npublic_url = \"ftp://x\"\n", None, &[]).is_err());
    }

    #[test]
    fn the_example_file_is_valid_and_matches_the_defaults() {
        let text = include_str!("../../arendo.example.toml");
        let s = Settings::from_parts(text, None, &[]).unwrap();
        let d = Settings::defaults();
        assert_eq!(s.server.listen, d.server.listen);
        assert_eq!(s.data_dir, d.data_dir);
        assert_eq!(
            s.auth.max_failures_per_account,
            d.auth.max_failures_per_account
        );
        assert_eq!(s.mail.smtp_tls, d.mail.smtp_tls);
    }

    #[test]
    fn secrets_do_not_show_in_debug() {
        let s = Settings::from_parts(
            "",
            None,
            &env(&[
                ("ARENDO_DATABASE__URL", "postgres://u:hunter2@h/d"),
                ("ARENDO_SECRET_KEY", "abcdef"),
            ]),
        )
        .unwrap();
        let dbg = format!("{s:?}");
        assert!(!dbg.contains("hunter2"), "{dbg}");
        assert!(!dbg.contains("abcdef"), "{dbg}");
    }

    #[test]
    fn trusted_proxies_are_addresses_or_networks() {
        let ok = Settings::from_parts(
            "",
            None,
            &env(&[(
                "ARENDO_SERVER__TRUSTED_PROXIES",
                "10.0.0.5, 10.1.0.0/16, ::1",
            )]),
        )
        .unwrap();
        assert_eq!(ok.server.proxies().unwrap().len(), 3);
        let bad = Settings::from_parts(
            "",
            None,
            &env(&[(
                "ARENDO_SERVER__TRUSTED_PROXIES",
                "10.0.0.5, proxy.kommun.se",
            )]),
        );
        assert!(bad.unwrap_err().to_string().contains("proxy.kommun.se"));
    }

    #[test]
    fn egress_allow_is_a_list_in_the_file_and_commas_in_the_environment() {
        let f = Settings::from_parts(
            "[egress]\nallow = [\"10.20.0.0/16\", \"diariet.intern.example.se\"]\n",
            None,
            &[],
        )
        .unwrap();
        assert_eq!(f.egress.allow.len(), 2);
        let e = Settings::from_parts(
            "",
            None,
            &env(&[("ARENDO_EGRESS__ALLOW", "127.0.0.1, ::1,10.0.0.0/8")]),
        )
        .unwrap();
        assert_eq!(e.egress.allow, ["127.0.0.1", "::1", "10.0.0.0/8"]);
        assert!(Settings::defaults().egress.allow.is_empty());
        let bad = Settings::from_parts("", None, &env(&[("ARENDO_EGRESS__ALLOW", "10.0.0.0/99")]));
        assert!(bad.unwrap_err().to_string().contains("10.0.0.0/99"));
    }
}
