//! A throw-away Dovecot IMAP server on a free loopback port, for the test suite (tests/api) and
//! `arendo-bench ingest` (src/bench includes this file with `#[path]`, under the `bench` feature). Needs Debian's `dovecot-imapd` (scripts/test.sh installs it) and
//! root (the master process runs as root; mail is stored as the `dovecot` user).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

pub const DOVECOT: &str = "/usr/sbin/dovecot";

pub struct Dovecot {
    dir: tempfile::TempDir,
    pub port: u16,
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn dovecot_ids() -> anyhow::Result<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd")?;
    let line = passwd
        .lines()
        .find(|l| l.starts_with("dovecot:"))
        .context("no dovecot user: install dovecot-imapd (scripts/test.sh does)")?;
    let f: Vec<&str> = line.split(':').collect();
    Ok((f[2].parse()?, f[3].parse()?))
}

impl Dovecot {
    /// Start a server with these (user, password) accounts.
    pub fn start(users: &[(&str, &str)]) -> anyhow::Result<Dovecot> {
        if !Path::new(DOVECOT).exists() {
            bail!("{DOVECOT} is missing: install dovecot-imapd (scripts/test.sh does)");
        }
        let dir = tempfile::Builder::new()
            .prefix("arendo-dovecot-")
            .tempdir()?;
        let d = dir.path().to_path_buf();
        // Dovecot's own processes (users dovecot and dovenull) read these: give them explicit
        // modes, whatever the umask of this process (Ärendo's own files are 0600 under umask 077).
        use std::os::unix::fs::PermissionsExt;
        let readable = |p: &Path, mode: u32| {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))
        };
        readable(&d, 0o755)?;
        for sub in ["run", "state", "mail"] {
            std::fs::create_dir_all(d.join(sub))?;
            readable(&d.join(sub), 0o755)?;
        }
        let (uid, gid) = dovecot_ids()?;
        std::os::unix::fs::chown(d.join("mail"), Some(uid), Some(gid))?;
        let mut users_file = std::fs::File::create(d.join("users"))?;
        for (u, p) in users {
            writeln!(users_file, "{u}:{{PLAIN}}{p}::::::")?;
        }
        readable(&d.join("users"), 0o644)?;
        let me = Dovecot {
            port: free_port()?,
            dir,
        };
        me.write_config()?;
        me.launch()?;
        Ok(me)
    }

    fn conf(&self) -> PathBuf {
        self.dir.path().join("dovecot.conf")
    }

    fn write_config(&self) -> anyhow::Result<()> {
        let d = self.dir.path().display();
        let conf = format!(
            "base_dir = {d}/run\nstate_dir = {d}/state\ninstance_name = arendo-test-{port}\nprotocols = imap\n\
             listen = 127.0.0.1\nssl = no\ndisable_plaintext_auth = no\nauth_mechanisms = plain login\n\
             log_path = {d}/dovecot.log\nmail_location = maildir:{d}/mail/%d/%n\nfirst_valid_uid = 1\n\
             passdb {{\n  driver = passwd-file\n  args = scheme=PLAIN username_format=%u {d}/users\n}}\n\
             userdb {{\n  driver = passwd-file\n  args = username_format=%u {d}/users\n  default_fields = uid=dovecot gid=dovecot home={d}/mail/%d/%n\n}}\n\
             service imap-login {{\n  inet_listener imap {{\n    address = 127.0.0.1\n    port = {port}\n  }}\n  inet_listener imaps {{\n    port = 0\n  }}\n}}\n\
",
            port = self.port
        );
        std::fs::write(self.conf(), conf)?;
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(self.conf(), std::fs::Permissions::from_mode(0o644))?;
        }
        Ok(())
    }

    fn launch(&self) -> anyhow::Result<()> {
        // The master daemonises and keeps inherited pipes open: give it none, read its log instead.
        let status = Command::new(DOVECOT)
            .arg("-c")
            .arg(self.conf())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()?;
        if !status.success() {
            let log =
                std::fs::read_to_string(self.dir.path().join("dovecot.log")).unwrap_or_default();
            bail!("dovecot did not start ({status}): {log}");
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if Instant::now() > deadline {
                bail!(
                    "dovecot did not listen on {}: see {}",
                    self.port,
                    self.dir.path().join("dovecot.log").display()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    fn master_pid(&self) -> Option<i32> {
        std::fs::read_to_string(self.dir.path().join("run/master.pid"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
    }

    /// Stop the server and wait until it is gone.
    pub fn stop(&self) {
        if let Some(pid) = self.master_pid() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(pid.to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(15);
            while Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    /// Stop and start again on the same port with the same mail.
    pub fn restart(&self) -> anyhow::Result<()> {
        self.stop();
        self.launch()
    }

    /// APPEND raw mails to `folder` of `user` (creating the folder if needed).
    pub async fn append(
        &self,
        user: &str,
        password: &str,
        folder: &str,
        mails: &[Vec<u8>],
    ) -> anyhow::Result<()> {
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await?;
        let mut client = async_imap::Client::new(tcp);
        client.read_response().await?;
        let mut s = client.login(user, password).await.map_err(|(e, _)| e)?;
        if folder != "INBOX" {
            let _ = s.create(folder).await;
        }
        for m in mails {
            s.append(folder, None, None, m).await?;
        }
        s.logout().await?;
        Ok(())
    }

    /// Delete and re-create a folder: the server gives it a new UIDVALIDITY.
    pub async fn recreate_folder(
        &self,
        user: &str,
        password: &str,
        folder: &str,
    ) -> anyhow::Result<()> {
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await?;
        let mut client = async_imap::Client::new(tcp);
        client.read_response().await?;
        let mut s = client.login(user, password).await.map_err(|(e, _)| e)?;
        s.delete(folder).await?;
        s.create(folder).await?;
        s.logout().await?;
        Ok(())
    }

    /// Number of messages in a folder.
    pub async fn count(&self, user: &str, password: &str, folder: &str) -> anyhow::Result<u32> {
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await?;
        let mut client = async_imap::Client::new(tcp);
        client.read_response().await?;
        let mut s = client.login(user, password).await.map_err(|(e, _)| e)?;
        let n = match s.examine(folder).await {
            Ok(m) => m.exists,
            Err(_) => 0,
        };
        let _ = s.logout().await;
        Ok(n)
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        if let Some(pid) = self.master_pid() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(pid.to_string())
                .status();
        }
    }
}
