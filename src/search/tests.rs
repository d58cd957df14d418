//! Search scenarios against a real SQLite database: what agents find, what they must not find, and
//! how the indexer follows the change feed.

use std::time::Duration;

use super::indexer::Follower;
use super::*;
use crate::accounts::Via;
use crate::domain::{Channel, EmailAddress, MembershipRole, Role, TenantId};
use crate::tickets::{self, ContactInput, NewMessageKind, NewTicketInput, UpdateInput};

/// Run a scenario once on SQLite and once on PostgreSQL.
macro_rules! both_backends {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(super::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name(super::Backend::Postgres).await
            }
        }
    };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
}

/// A scratch PostgreSQL database, dropped with the test (`ARENDO_TEST_PG_URL` names the server,
/// as for the API tests).
pub(crate) struct PgScratch {
    admin_url: String,
    name: String,
    pub url: String,
}

impl PgScratch {
    fn new() -> PgScratch {
        use diesel::{Connection, RunQueryDsl};
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
        use diesel::{Connection, RunQueryDsl};
        if let Ok(mut c) = diesel::PgConnection::establish(&self.admin_url) {
            let _ = diesel::sql_query(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .execute(&mut c);
        }
    }
}

pub(crate) struct World {
    pub db: Db,
    pub url: String,
    pub a: Org,
    pub b: Org,
    pub dir: tempfile::TempDir,
    _pg: Option<PgScratch>,
}

pub(crate) struct Org {
    pub tenant: TenantId,
    pub bygg: QueueId,
    pub skola: QueueId,
    pub admin: Actor,
    /// Member of `bygg` only.
    pub agent: Actor,
    /// Member of no queue.
    pub loner: Actor,
}

fn actor(
    user: &store::users::User,
    role: Role,
    memberships: Vec<(QueueId, MembershipRole)>,
) -> Actor {
    Actor::signed_in(
        user.tenant,
        user.id,
        user.email.clone(),
        user.display_name.clone(),
        role,
        "sv".into(),
        memberships,
        Scope::ALL.to_vec(),
        Via::Session,
        "test".into(),
    )
}

async fn org(db: &Db, slug: &'static str, prefix: &'static str) -> Org {
    db.write(move |c| -> Result<Org> {
        let t = crate::tenants::create_tenant(c, slug, slug, prefix)?;
        let bygg = crate::tenants::create_queue(c, t.id, "bygg", "Bygglov")?;
        let skola = crate::tenants::create_queue(c, t.id, "skola", "Skola")?;
        let user = |c: &mut store::Conn, email: &str, role| {
            store::users::create(c, t.id, &EmailAddress::parse(email)?, email, role, "x")
                .map_err(Error::from)
        };
        let admin = user(c, "admin@test.se", Role::Admin)?;
        let agent = user(c, "agent@test.se", Role::Agent)?;
        let loner = user(c, "loner@test.se", Role::Agent)?;
        store::queues::add_member(c, t.id, bygg.id, agent.id, MembershipRole::Agent)?;
        Ok(Org {
            tenant: t.id,
            bygg: bygg.id,
            skola: skola.id,
            admin: actor(&admin, Role::Admin, vec![]),
            agent: actor(&agent, Role::Agent, vec![(bygg.id, MembershipRole::Agent)]),
            loner: actor(&loner, Role::Agent, vec![]),
        })
    })
    .await
    .unwrap()
}

pub(crate) async fn world(backend: Backend) -> World {
    let dir = tempfile::tempdir().unwrap();
    let (url, pg) = match backend {
        Backend::Sqlite => (format!("sqlite://{}/arendo.db", dir.path().display()), None),
        Backend::Postgres => {
            let pg = tokio::task::spawn_blocking(PgScratch::new).await.unwrap();
            (pg.url.clone(), Some(pg))
        }
    };
    let connect = url.clone();
    let db = tokio::task::spawn_blocking(move || Db::connect(&connect, 4))
        .await
        .unwrap()
        .unwrap();
    let a = org(&db, "kommun-a", "KA").await;
    let b = org(&db, "kommun-b", "KB").await;
    World {
        db,
        url,
        a,
        b,
        dir,
        _pg: pg,
    }
}

pub(crate) async fn ticket(
    db: &Db,
    actor: &Actor,
    queue: QueueId,
    subject: &str,
    body: &str,
    contact: Option<(&str, &str)>,
) -> store::tickets::Ticket {
    tickets::create(
        db,
        actor,
        NewTicketInput {
            queue: tickets::QueueRef::Id(queue.get()),
            subject: subject.into(),
            body: body.into(),
            priority: Priority::Normal,
            channel: Channel::Web,
            contact: ContactInput {
                name: contact.map(|c| c.0.to_string()),
                email: contact.map(|c| EmailAddress::parse(c.1).unwrap()),
                ..Default::default()
            },
        },
    )
    .await
    .unwrap()
}

async fn find(w: &World, index: &TicketIndex, actor: &Actor, text: &str) -> SearchResults {
    search_tickets(
        &w.db,
        index,
        actor,
        SearchQuery {
            text: text.into(),
            ..Default::default()
        },
    )
    .await
    .unwrap()
}

fn numbers(r: &SearchResults) -> Vec<String> {
    r.hits.iter().map(|h| h.number.to_string()).collect()
}

async fn indexed(w: &World) -> TicketIndex {
    let index = TicketIndex::open_in_ram().unwrap();
    reindex(&w.db, &index, |_, _| {}).await.unwrap();
    index
}

both_backends!(search_finds_inflections_phrases_typos_numbers_contacts_and_notes);
async fn search_finds_inflections_phrases_typos_numbers_contacts_and_notes(backend: Backend) {
    let w = world(backend).await;
    let a = &w.a;
    let leak = ticket(
        &w.db,
        &a.admin,
        a.bygg,
        "Vattenläcka i källaren",
        "Det läcker vatten från en trasig ledning under diskbänken.",
        Some(("Anna Svensson", "anna.svensson@example.se")),
    )
    .await;
    let permit = ticket(
        &w.db,
        &a.admin,
        a.bygg,
        "Fråga om bygglov",
        "Hur lång tid tar ansökningen om bygglov för ett garage? Ledningen är inte trasig.",
        None,
    )
    .await;
    let other = ticket(
        &w.db,
        &a.admin,
        a.skola,
        "Skolskjuts",
        "Bussen kom inte <script>alert(1)</script> & annat",
        None,
    )
    .await;
    tickets::add_message(
        &w.db,
        &a.admin,
        other.number.clone(),
        NewMessageKind::Note,
        "Internt: ring rektorn om busskortet",
        "kc@test.se".into(),
    )
    .await
    .unwrap();
    let index = indexed(&w).await;
    assert_eq!(index.num_docs(), 3);

    // Folding and stemming.
    let r = find(&w, &index, &a.admin, "vattenlacka").await;
    assert_eq!(numbers(&r), [leak.number.to_string()]);
    assert!(!r.fuzzy);
    assert_eq!(r.total, 1);
    assert_eq!(r.hits[0].subject_html, "<b>Vattenläcka</b> i källaren");
    assert_eq!(
        numbers(&find(&w, &index, &a.admin, "ansökningar").await),
        [permit.number.to_string()]
    );
    assert_eq!(
        numbers(&find(&w, &index, &a.admin, "BYGGLOV").await),
        [permit.number.to_string()]
    );

    // Words are AND-ed; a phrase needs the words together and in order.
    assert_eq!(
        find(&w, &index, &a.admin, "trasig ledning")
            .await
            .hits
            .len(),
        2
    );
    assert_eq!(
        numbers(&find(&w, &index, &a.admin, "\"trasig ledning\"").await),
        [leak.number.to_string()]
    );
    let r = find(&w, &index, &a.admin, "trasig garage").await;
    assert_eq!(numbers(&r), [permit.number.to_string()]);
    assert!(
        r.hits[0].snippet_html.contains("<b>garage</b>"),
        "{}",
        r.hits[0].snippet_html
    );

    // Typos: nothing as typed, then the fuzzy retry.
    let r = find(&w, &index, &a.admin, "vattenläkca").await;
    assert!(r.fuzzy);
    assert_eq!(numbers(&r), [leak.number.to_string()]);
    assert!(r.hits[0].subject_html.contains("<b>Vattenläcka</b>"));
    assert!(find(&w, &index, &a.admin, "xyzzyq").await.hits.is_empty());

    // Ticket number, as typed in any case, also inside punctuation.
    let n = permit.number.to_string();
    assert_eq!(numbers(&find(&w, &index, &a.admin, &n).await)[0], n);
    assert_eq!(
        numbers(&find(&w, &index, &a.admin, &format!("({})", n.to_lowercase())).await)[0],
        n
    );

    // Contact name and address; internal notes.
    assert_eq!(
        numbers(&find(&w, &index, &a.admin, "svensson").await),
        [leak.number.to_string()]
    );
    assert_eq!(
        numbers(&find(&w, &index, &a.admin, "anna.svensson@example.se").await),
        [leak.number.to_string()]
    );
    let r = find(&w, &index, &a.admin, "rektorn").await;
    assert_eq!(numbers(&r), [other.number.to_string()]);

    // Nothing from the stored text gets through unescaped.
    let r = find(&w, &index, &a.admin, "bussen").await;
    let html = &r.hits[0].snippet_html;
    assert!(html.contains("<b>Bussen</b>"), "{html}");
    assert!(
        html.contains("&lt;script&gt;") && html.contains("&amp;"),
        "{html}"
    );
    assert!(
        !html.replace("<b>", "").replace("</b>", "").contains('<'),
        "{html}"
    );

    // Subject matches rank above body matches.
    let r = find(&w, &index, &a.admin, "bygglov").await;
    assert_eq!(numbers(&r)[0], permit.number.to_string());
}

both_backends!(tenants_and_queues_are_walls);
async fn tenants_and_queues_are_walls(backend: Backend) {
    let w = world(backend).await;
    let (a, b) = (&w.a, &w.b);
    let in_bygg = ticket(&w.db, &a.admin, a.bygg, "Vattenläcka vid bygget", "x", None).await;
    let in_skola = ticket(&w.db, &a.admin, a.skola, "Vattenläcka i skolan", "x", None).await;
    let index = indexed(&w).await;

    assert_eq!(
        find(&w, &index, &a.admin, "vattenläcka").await.hits.len(),
        2
    );
    // Another tenant finds nothing, not even with the ticket number.
    assert!(
        find(&w, &index, &b.admin, "vattenläcka")
            .await
            .hits
            .is_empty()
    );
    assert!(
        find(&w, &index, &b.admin, &in_bygg.number.to_string())
            .await
            .hits
            .is_empty()
    );
    assert!(
        find(&w, &index, &b.admin, "vattenläkca")
            .await
            .hits
            .is_empty()
    );
    // An agent sees only their queues; an agent without queues sees nothing.
    let r = find(&w, &index, &a.agent, "vattenläcka").await;
    assert_eq!(numbers(&r), [in_bygg.number.to_string()]);
    assert_eq!(r.total, 1);
    assert!(
        find(&w, &index, &a.agent, &in_skola.number.to_string())
            .await
            .hits
            .is_empty()
    );
    assert!(
        find(&w, &index, &a.loner, "vattenläcka")
            .await
            .hits
            .is_empty()
    );

    // A queue filter the agent may not use is "not found", like a queue that does not exist.
    let q = |queue: Option<i64>, statuses: Vec<Status>| SearchQuery {
        text: "vattenläcka".into(),
        queue,
        statuses,
        ..Default::default()
    };
    let err = search_tickets(&w.db, &index, &a.agent, q(Some(a.skola.get()), vec![]))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound("queue")), "{err:?}");
    let err = search_tickets(&w.db, &index, &a.admin, q(Some(b.bygg.get()), vec![]))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound("queue")), "{err:?}");
    let r = search_tickets(&w.db, &index, &a.admin, q(Some(a.skola.get()), vec![]))
        .await
        .unwrap();
    assert_eq!(numbers(&r), [in_skola.number.to_string()]);
    let r = search_tickets(&w.db, &index, &a.admin, q(None, vec![Status::Closed]))
        .await
        .unwrap();
    assert!(r.hits.is_empty());
    let r = search_tickets(
        &w.db,
        &index,
        &a.admin,
        q(None, vec![Status::New, Status::Open]),
    )
    .await
    .unwrap();
    assert_eq!(r.hits.len(), 2);

    // API tokens without tickets:read are refused.
    let mut token = a.admin.clone();
    token.scopes = vec![Scope::QueuesRead];
    assert!(matches!(
        search_tickets(&w.db, &index, &token, q(None, vec![])).await,
        Err(Error::Forbidden(_))
    ));

    // The database has the last word: moved out of the agent's queue, the hit is gone even before
    // the index has heard of the move.
    tickets::update(
        &w.db,
        &a.admin,
        in_bygg.number.clone(),
        UpdateInput {
            queue: Some(a.skola.get()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let r = find(&w, &index, &a.agent, "vattenläcka").await;
    assert!(r.hits.is_empty());
    assert_eq!(r.total, 0);
}

both_backends!(odd_input_and_paging_never_error);
async fn odd_input_and_paging_never_error(backend: Backend) {
    let w = world(backend).await;
    let a = &w.a;
    for i in 0..7 {
        ticket(
            &w.db,
            &a.admin,
            a.bygg,
            &format!("Ärende {i} om parkering"),
            "p-skiva",
            None,
        )
        .await;
    }
    let index = indexed(&w).await;
    for text in [
        "",
        "   ",
        "\"",
        "*",
        "AND(",
        "title:x",
        "\"\"\"",
        "((",
        "-",
        "🙂",
        "\\",
        "a:b OR c~2^3",
    ] {
        let r = find(&w, &index, &a.admin, text).await;
        assert!(r.hits.is_empty(), "{text:?} found {:?}", numbers(&r));
    }
    let page = |offset, limit| SearchQuery {
        text: "parkering".into(),
        offset: Some(offset),
        limit: Some(limit),
        ..Default::default()
    };
    let first = search_tickets(&w.db, &index, &a.admin, page(0, 5))
        .await
        .unwrap();
    let second = search_tickets(&w.db, &index, &a.admin, page(5, 5))
        .await
        .unwrap();
    assert_eq!(
        (first.hits.len(), second.hits.len(), first.total),
        (5, 2, 7)
    );
    let mut all = numbers(&first);
    all.extend(numbers(&second));
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 7);
    assert!(
        search_tickets(&w.db, &index, &a.admin, page(0, 51))
            .await
            .is_err()
    );
    assert!(
        search_tickets(&w.db, &index, &a.admin, page(0, 0))
            .await
            .is_err()
    );
    assert!(
        search_tickets(&w.db, &index, &a.admin, page(MAX_OFFSET + 1, 5))
            .await
            .is_err()
    );
    // "p-skiva" is a phrase of two terms.
    assert_eq!(find(&w, &index, &a.admin, "p-skiva").await.total, 7);
}

async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !check().await {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

both_backends!(the_indexer_follows_new_tickets_and_messages);
async fn the_indexer_follows_new_tickets_and_messages(backend: Backend) {
    let w = world(backend).await;
    let a = &w.a;
    let early = ticket(
        &w.db,
        &a.admin,
        a.bygg,
        "Buller från byggarbetsplats",
        "x",
        None,
    )
    .await;
    let index = TicketIndex::open(&w.dir.path().join("search")).unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(super::run(w.db.clone(), index.clone(), async {
        let _ = stopped.await;
    }));
    // Built from the database at start.
    eventually("the first build", async || {
        !find(&w, &index, &a.admin, "buller").await.hits.is_empty()
    })
    .await;

    let started = std::time::Instant::now();
    let fresh = ticket(
        &w.db,
        &a.admin,
        a.skola,
        "Trasig gungställning",
        "På skolgården",
        None,
    )
    .await;
    eventually("the new ticket", async || {
        numbers(&find(&w, &index, &a.admin, "gungställningen").await) == [fresh.number.to_string()]
    })
    .await;
    let new_ticket_latency = started.elapsed();

    let started = std::time::Instant::now();
    tickets::add_message(
        &w.db,
        &a.admin,
        early.number.clone(),
        NewMessageKind::Note,
        "Grannen har klagat på kompressorn",
        "kc@test.se".into(),
    )
    .await
    .unwrap();
    eventually("the note", async || {
        numbers(&find(&w, &index, &a.admin, "kompressorn").await) == [early.number.to_string()]
    })
    .await;
    let note_latency = started.elapsed();
    eprintln!("indexer latency: new ticket {new_ticket_latency:?}, new note {note_latency:?}");
    assert!(new_ticket_latency < Duration::from_secs(3));
    assert!(note_latency < Duration::from_secs(3));

    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("the indexer stops on shutdown")
        .unwrap();
}

both_backends!(a_restart_resumes_from_the_commit_payload);
async fn a_restart_resumes_from_the_commit_payload(backend: Backend) {
    let w = world(backend).await;
    let a = &w.a;
    let path = w.dir.path().join("search");
    let one = ticket(&w.db, &a.admin, a.bygg, "Första ärendet", "x", None).await;
    let state = {
        let index = TicketIndex::open(&path).unwrap();
        let mut f = Follower::start(&w.db, &index).await.unwrap(); // builds
        assert_eq!(index.num_docs(), 1);
        f.round(&w.db, &index).await.unwrap(); // replays the tail: same doc again
        assert_eq!(index.num_docs(), 1);
        f.state().clone()
    };
    assert!(state.cursors[&a.tenant.get()] > 0);
    let two = ticket(&w.db, &a.admin, a.bygg, "Andra ärendet", "x", None).await;
    let index = TicketIndex::open(&path).unwrap();
    assert_eq!(index.feed_state().unwrap().as_ref(), Some(&state));
    let mut f = Follower::start(&w.db, &index).await.unwrap();
    assert_eq!(f.state(), &state, "resumed, not rebuilt");
    assert_eq!(index.num_docs(), 1);
    let r = f.round(&w.db, &index).await.unwrap();
    assert_eq!(r.tickets, 1, "only the new ticket");
    assert_eq!(index.num_docs(), 2);
    assert_eq!(
        numbers(&find(&w, &index, &a.admin, "andra").await),
        [two.number.to_string()]
    );
    assert_eq!(
        numbers(&find(&w, &index, &a.admin, "första").await),
        [one.number.to_string()]
    );
    // Nothing new: no commit, nothing done.
    assert_eq!(
        f.round(&w.db, &index).await.unwrap(),
        indexer::RoundReport::default()
    );
}

both_backends!(a_late_commit_below_the_cursor_is_still_indexed);
async fn a_late_commit_below_the_cursor_is_still_indexed(backend: Backend) {
    let w = world(backend).await;
    let a = &w.a;
    let t = a.tenant;
    let late = ticket(&w.db, &a.admin, a.bygg, "Sen transaktion", "x", None).await;
    let on_time = ticket(&w.db, &a.admin, a.bygg, "Punktlig transaktion", "x", None).await;
    let events =
        w.db.read(move |c| store::workspace::changes_after(c, t, 0, 100))
            .await
            .unwrap();
    let late_event = events
        .iter()
        .find(|e| e.ticket_id == late.id.get())
        .unwrap()
        .id;
    let last = events.last().unwrap().id;
    // As on PostgreSQL when the first transaction commits after the second: the cursor has passed
    // the first event while it was invisible, and its id is awaited.
    let index = TicketIndex::open_in_ram().unwrap();
    let mut state = index::FeedState::new();
    state.cursors.insert(t.get(), last);
    state.pending.insert(t.get(), vec![late_event]);
    index.commit(&state).unwrap();
    let mut f = Follower::start(&w.db, &index).await.unwrap();
    let r = f.round(&w.db, &index).await.unwrap();
    assert_eq!((r.late, r.tickets), (1, 1));
    assert_eq!(
        numbers(&find(&w, &index, &a.admin, "sen").await),
        [late.number.to_string()]
    );
    assert!(
        find(&w, &index, &a.admin, "punktlig").await.hits.is_empty(),
        "{on_time:?} is behind the cursor"
    );
    assert!(f.state().pending.is_empty());

    // Gaps the cursor jumps over are awaited: other tenants' ids are struck off at once.
    let b_ticket = ticket(&w.db, &w.b.admin, w.b.bygg, "Annan kommun", "x", None).await;
    let c_ticket = ticket(&w.db, &a.admin, a.bygg, "Tredje", "x", None).await;
    f.round(&w.db, &index).await.unwrap();
    // Tenant A jumped over B's new event, which B's feed showed in the same round.
    assert!(
        !f.state().pending.contains_key(&t.get()),
        "{:?}",
        f.state().pending
    );
    assert_eq!(
        numbers(&find(&w, &index, &a.admin, "tredje").await),
        [c_ticket.number.to_string()]
    );
    assert_eq!(
        numbers(&find(&w, &index, &w.b.admin, "annan").await),
        [b_ticket.number.to_string()]
    );
}

/// The real thing on PostgreSQL: a transaction takes an event id, a later event commits first and
/// the cursor passes the first one; when it finally commits, the follower still indexes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_committing_late_on_postgres_is_still_indexed() {
    let w = world(Backend::Postgres).await;
    let a = &w.a;
    let early = ticket(&w.db, &a.admin, a.bygg, "Tidigt ärende", "x", None).await;
    let index = indexed(&w).await;
    let mut f = Follower::start(&w.db, &index).await.unwrap();
    f.round(&w.db, &index).await.unwrap();

    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<String>();
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let (url, t, queue, user) = (w.url.clone(), a.tenant, a.bygg, a.admin.user().unwrap());
    let slow = std::thread::spawn(move || {
        use diesel::Connection;
        let mut conn = store::Conn::Pg(diesel::PgConnection::establish(&url).unwrap());
        conn.transaction(|c| -> Result<()> {
            let tk = crate::tickets::open_ticket(
                c,
                t,
                crate::tickets::OpenTicket {
                    queue,
                    subject: "Långsam transaktion",
                    priority: Priority::Normal,
                    channel: Channel::Web,
                    contact_id: None,
                    mailbox: None,
                    automatic: None,
                    actor: Some(user),
                    now: store::now(),
                },
            )?;
            ready_tx.send(tk.number.to_string()).unwrap();
            go_rx.recv().unwrap();
            Ok(())
        })
        .unwrap();
    });
    let slow_number = tokio::task::spawn_blocking(move || ready_rx.recv().unwrap())
        .await
        .unwrap();
    // A later event (a note; it needs no ticket counter, which the slow transaction holds).
    tickets::add_message(
        &w.db,
        &a.admin,
        early.number.clone(),
        NewMessageKind::Note,
        "Snabb anteckning",
        "kc@test.se".into(),
    )
    .await
    .unwrap();
    let r = f.round(&w.db, &index).await.unwrap();
    assert_eq!((r.tickets, r.late), (1, 0));
    assert!(
        f.state().pending.contains_key(&t.get()),
        "the slow transaction's event id is awaited: {:?}",
        f.state()
    );
    assert!(find(&w, &index, &a.admin, "långsam").await.hits.is_empty());

    go_tx.send(()).unwrap();
    tokio::task::spawn_blocking(move || slow.join().unwrap())
        .await
        .unwrap();
    let r = f.round(&w.db, &index).await.unwrap();
    assert_eq!((r.tickets, r.late), (1, 1));
    assert_eq!(
        numbers(&find(&w, &index, &a.admin, "långsam").await),
        [slow_number]
    );
    assert!(f.state().pending.is_empty(), "{:?}", f.state().pending);
}

/// Both ways of applying the filter (in the query, or in the collector for pruned single-word
/// searches) keep the same walls.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_filter_plans_keep_the_walls() {
    let w = world(Backend::Sqlite).await;
    let (a, b) = (&w.a, &w.b);
    let bygg = ticket(&w.db, &a.admin, a.bygg, "Vattenläcka vid bygget", "x", None).await;
    ticket(&w.db, &a.admin, a.skola, "Vattenläcka i skolan", "x", None).await;
    ticket(
        &w.db,
        &b.admin,
        b.bygg,
        "Vattenläcka i grannkommunen",
        "x",
        None,
    )
    .await;
    let index = indexed(&w).await;
    let filter = |who: &Actor, statuses: Vec<Status>, queue: Option<QueueId>| query::Filter {
        tenant: who.tenant,
        access: who.queue_access(),
        statuses,
        queue,
    };
    for plan in [Plan::Prune, Plan::FilterInQuery] {
        for text in ["vattenläcka", "vattenläcka vid", "vattenläkca"] {
            let q = UserQuery::parse(text);
            let count = |f: query::Filter| {
                let r = search_index(&index, &q, &f, 10, 0, plan).unwrap();
                (r.hits.len(), r.total)
            };
            let all = if text == "vattenläcka vid" { 1 } else { 2 };
            assert_eq!(
                count(filter(&a.admin, vec![], None)),
                (all, all),
                "{plan:?} {text}"
            );
            assert_eq!(
                count(filter(&b.admin, vec![], None)).0,
                usize::from(all == 2),
                "{plan:?} {text}"
            );
            assert_eq!(
                count(filter(&a.agent, vec![], None)),
                (1, 1),
                "{plan:?} {text}"
            );
            assert_eq!(
                count(filter(&a.loner, vec![], None)),
                (0, 0),
                "{plan:?} {text}"
            );
            assert_eq!(
                count(filter(&a.admin, vec![Status::Closed], None)),
                (0, 0),
                "{plan:?} {text}"
            );
            assert_eq!(
                count(filter(&a.admin, vec![Status::New], Some(a.bygg))),
                (1, 1),
                "{plan:?} {text}"
            );
            assert_eq!(
                count(filter(&a.agent, vec![], Some(a.skola))),
                (0, 0),
                "{plan:?} {text}"
            );
        }
    }
    let r = search_index(
        &index,
        &UserQuery::parse("bygget"),
        &filter(&a.agent, vec![], None),
        10,
        0,
        Plan::Prune,
    )
    .unwrap();
    assert_eq!(r.hits.len(), 1);
    assert_eq!(r.hits[0].ticket_id, bygg.id.get());
}

/// Several words: candidates by plain BM25 over everything, ranked again with the field boosts,
/// so a ticket about the words (subject) comes before one that mentions them often.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subject_matches_rank_first_for_several_words() {
    let w = world(Backend::Sqlite).await;
    let a = &w.a;
    let chatty = ticket(
        &w.db,
        &a.admin,
        a.bygg,
        "Fråga",
        "parkering skolan parkering skolan parkering skolan parkering skolan",
        None,
    )
    .await;
    let about = ticket(
        &w.db,
        &a.admin,
        a.bygg,
        "Parkering vid skolan",
        "Se rubriken.",
        None,
    )
    .await;
    for i in 0..5 {
        ticket(
            &w.db,
            &a.admin,
            a.bygg,
            &format!("Annat {i}"),
            "skolan",
            None,
        )
        .await;
    }
    let index = indexed(&w).await;
    for plan in [Plan::Prune, Plan::FilterInQuery] {
        let filter = query::Filter {
            tenant: a.tenant,
            access: a.admin.queue_access(),
            statuses: vec![],
            queue: None,
        };
        let r = search_index(
            &index,
            &UserQuery::parse("parkering skolan"),
            &filter,
            10,
            0,
            plan,
        )
        .unwrap();
        let ids: Vec<i64> = r.hits.iter().map(|h| h.ticket_id).collect();
        assert_eq!(ids, [about.id.get(), chatty.id.get()], "{plan:?}");
        assert!(r.hits[0].score > r.hits[1].score);
    }
    let r = find(&w, &index, &a.admin, "parkering skolan").await;
    assert_eq!(r.hits[0].subject_html, "<b>Parkering</b> vid <b>skolan</b>");
}

/// A phrase is looked for among the tickets holding its words, then checked as a phrase.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_phrases_are_checked_after_the_pair_lookup() {
    let w = world(Backend::Sqlite).await;
    let a = &w.a;
    let real = ticket(
        &w.db,
        &a.admin,
        a.bygg,
        "Läcka",
        "En trasig ledning under diskbänken.",
        None,
    )
    .await;
    ticket(
        &w.db,
        &a.admin,
        a.bygg,
        "Läcka",
        "En trasig ledning och en ledning under golvet.",
        None,
    )
    .await;
    let index = indexed(&w).await;
    let r = find(&w, &index, &a.admin, "\"trasig ledning under\"").await;
    assert_eq!(numbers(&r), [real.number.to_string()]);
    assert_eq!(
        find(&w, &index, &a.admin, "\"trasig ledning\"")
            .await
            .hits
            .len(),
        2
    );
    assert!(
        find(&w, &index, &a.admin, "\"ledning trasig\"")
            .await
            .hits
            .is_empty()
    );
    let r = find(&w, &index, &a.admin, "\"trasig ledning\" diskbänken").await;
    assert_eq!(numbers(&r), [real.number.to_string()]);
    assert!(
        r.hits[0]
            .snippet_html
            .contains("<b>trasig</b> <b>ledning</b>"),
        "{}",
        r.hits[0].snippet_html
    );
}

/// When the phrase's words are everywhere but the phrase is rare, the first look (the best
/// candidates holding the words) finds too few, and the phrase query runs on everything.
#[test]
fn a_rare_phrase_of_common_words_is_still_found() {
    let index = TicketIndex::open_in_ram().unwrap();
    let t = TenantId::from_db(1);
    let doc = |id: i64, body: String| store::search::SearchDoc {
        tenant: t,
        ticket_id: id,
        queue_id: 1,
        number: format!("KA-2026-{id:06}"),
        status: "open".into(),
        created_at: chrono::DateTime::from_timestamp(1_750_000_000, 0)
            .unwrap()
            .naive_utc(),
        subject: "Ärende".into(),
        body,
        contact: String::new(),
    };
    let mut docs: Vec<_> = (1..=PHRASE_WINDOW as i64 + 100)
        .map(|i| doc(i, "ledning är trasig".into()))
        .collect();
    let filler = "ord ".repeat(400);
    docs.push(doc(10_000, format!("{filler} en trasig ledning {filler}")));
    index.upsert(&[], &docs).unwrap();
    index.commit(&index::FeedState::new()).unwrap();
    for plan in [Plan::Prune, Plan::FilterInQuery] {
        let filter = query::Filter {
            tenant: t,
            access: crate::domain::QueueAccess::All,
            statuses: vec![],
            queue: None,
        };
        let q = UserQuery::parse("\"trasig ledning\"");
        let r = search_index(&index, &q, &filter, 20, 0, plan).unwrap();
        let ids: Vec<i64> = r.hits.iter().map(|h| h.ticket_id).collect();
        assert_eq!(ids, [10_000], "{plan:?}");
        assert_eq!((r.total, r.total_exact), (1, true), "{plan:?}");
        // As words, all of them.
        let r = search_index(
            &index,
            &UserQuery::parse("trasig ledning"),
            &filter,
            20,
            0,
            plan,
        )
        .unwrap();
        assert_eq!(
            (r.hits.len(), r.total, r.total_exact),
            (20, docs.len(), true),
            "{plan:?}"
        );
    }
}
