//! Crash safety of the IMAP intake: the real binary is killed with SIGKILL in the middle of
//! importing 500 mails and started again; in the end there are exactly 500 messages, no duplicates,
//! and the inbox is empty.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::dovecot::Dovecot;
use diesel::{Connection, QueryableByName, RunQueryDsl};

use crate::both_backends;
use crate::helpers::{Backend, TestApp};
use crate::mail::{PW, add_mailbox, mail};

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

fn count(url: &str, sql: &str) -> i64 {
    let q = diesel::sql_query(sql);
    if let Some(path) = url.strip_prefix("sqlite://") {
        let mut c = diesel::SqliteConnection::establish(path).unwrap();
        q.get_result::<Count>(&mut c).unwrap().n
    } else {
        let mut c = diesel::PgConnection::establish(url).unwrap();
        q.get_result::<Count>(&mut c).unwrap().n
    }
}

/// A server process that is killed (SIGKILL) and reaped when dropped, also when a test fails.
struct Proc(Child);

impl Proc {
    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

fn serve(app: &TestApp) -> Proc {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    Command::new(env!("CARGO_BIN_EXE_arendo"))
        .arg("serve")
        .env_remove("ARENDO_CONFIG")
        .env("ARENDO_DATA_DIR", &app.data_dir)
        .env("ARENDO_DATABASE__URL", &app.db_url)
        .env("ARENDO_SECRET_KEY", &app.key_hex)
        .env("ARENDO_DEMO", "false")
        .env("ARENDO_SERVER__LISTEN", format!("127.0.0.1:{port}"))
        // The in-process test app holds the search index in the data dir; this node has its own.
        .env(
            "ARENDO_SEARCH__INDEX_DIR",
            app.data_dir.join("search-node2"),
        )
        .env("ARENDO_EGRESS__ALLOW", "127.0.0.1")
        .env("ARENDO_MAIL__IMAP_SUPERVISOR_SECONDS", "1")
        .env("ARENDO_MAIL__IMAP_POLL_SECONDS", "2")
        // The killed process held the mailbox's lease; a short lease lets the restart take over soon.
        .env("ARENDO_MAIL__IMAP_LEASE_SECONDS", "4")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map(Proc)
        .unwrap()
}

async fn killed_mid_import_loses_nothing_and_duplicates_nothing(b: Backend) {
    // The in-process app only sets up the database; the real binary does the importing.
    let app = TestApp::spawn_with(b, &[("ARENDO_MAIL__IMAP_ENABLED", "false")]).await;
    let org = app.org("alby").await;
    let imap = tokio::task::spawn_blocking(|| Dovecot::start(&[("bulk@test.local", PW)]).unwrap())
        .await
        .unwrap();
    let mails: Vec<Vec<u8>> = (0..500)
        .map(|i| {
            mail(
                &format!("medborgare{i}@example.org"),
                "bulk@test.local",
                &format!("Fråga nummer {i}"),
                &format!("crash-{i}@example.org"),
                "",
                &"Hej kommunen! ".repeat(20),
            )
        })
        .collect();
    imap.append("bulk@test.local", PW, "INBOX", &mails)
        .await
        .unwrap();
    add_mailbox(
        &app,
        imap.port,
        &org,
        "bulk@test.local",
        org.queue_a,
        "INBOX",
        "move",
    );

    let inbound = "SELECT COUNT(*) AS n FROM messages WHERE kind = 'inbound'";
    let url = app.db_url.clone();
    let mut first = serve(&app);
    let deadline = Instant::now() + Duration::from_secs(60);
    let at_kill = loop {
        let n = count(&url, inbound);
        if n > 0 {
            first.kill(); // SIGKILL
            break count(&url, inbound);
        }
        assert!(Instant::now() < deadline, "nothing was imported");
        std::thread::sleep(Duration::from_millis(5));
    };
    assert!(
        at_kill < 500,
        "the kill should land mid-import (had {at_kill})"
    );

    let mut second = serve(&app);
    let deadline = Instant::now() + Duration::from_secs(120);
    while count(&url, inbound) < 500
        || imap.count("bulk@test.local", PW, "INBOX").await.unwrap() > 0
    {
        assert!(
            Instant::now() < deadline,
            "import did not finish: {} stored",
            count(&url, inbound)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    second.kill();
    assert_eq!(count(&url, inbound), 500, "exactly 500 messages");
    assert_eq!(
        count(
            &url,
            "SELECT COUNT(DISTINCT message_id) AS n FROM messages WHERE kind = 'inbound'"
        ),
        500
    );
    assert_eq!(count(&url, "SELECT COUNT(*) AS n FROM tickets"), 500);
    assert_eq!(
        count(&url, "SELECT COUNT(*) AS n FROM acknowledgements"),
        500,
        "one acknowledgement each"
    );
    assert_eq!(
        imap.count("bulk@test.local", PW, "Arendo.Importerat")
            .await
            .unwrap(),
        500
    );
}
both_backends!(killed_mid_import_loses_nothing_and_duplicates_nothing);
