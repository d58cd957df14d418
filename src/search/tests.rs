//! Search scenarios against a real SQLite database: what agents find, what they must not find, and
//! how the indexer follows the change feed.

use std::time::Duration;

use super::indexer::Follower;
use super::*;
use crate::accounts::Via;
use crate::domain::{Channel, EmailAddress, MembershipRole, Role, TenantId};
use crate::tickets::{self, ContactInput, NewMessageKind, NewTicketInput, UpdateInput};

pub(crate) struct World {
    pub db: Db,
    pub a: Org,
    pub b: Org,
    pub dir: tempfile::TempDir,
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
    Actor {
        tenant: user.tenant,
        user: user.id,
        email: user.email.clone(),
        name: user.display_name.clone(),
        role,
        locale: "sv".into(),
        memberships,
        scopes: Scope::ALL.to_vec(),
        via: Via::Session,
        credential_id: "test".into(),
    }
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

pub(crate) async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::connect(&format!("sqlite://{}/arendo.db", dir.path().display()), 4).unwrap();
    let a = org(&db, "kommun-a", "KA").await;
    let b = org(&db, "kommun-b", "KB").await;
    World { db, a, b, dir }
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
            queue: queue.get(),
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_finds_inflections_phrases_typos_numbers_contacts_and_notes() {
    let w = world().await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_and_queues_are_walls() {
    let w = world().await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_input_and_paging_never_error() {
    let w = world().await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_indexer_follows_new_tickets_and_messages() {
    let w = world().await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_resumes_from_the_commit_payload() {
    let w = world().await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_commit_below_the_cursor_is_still_indexed() {
    let w = world().await;
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
