//! `arendo-bench seed --tickets N`: a municipality with a realistic history — six department
//! queues, thirty agents, a few hundred thousand citizens, tickets over three years (most of them
//! closed, a working set open), one to four messages each in Swedish, events and some tags.

use std::time::Instant;

use anyhow::Context as _;
use chrono::{Duration, NaiveDateTime};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::accounts::admin::{self, NewUser};
use crate::accounts::password::NewPassword;
use crate::domain::{EmailAddress, MembershipRole, QueueId, Role, TenantId};
use crate::error::Error;
use crate::store::seed::{SeedBatch, SeedContact, SeedEvent, SeedMessage, SeedTicket};
use crate::store::{self, Db};
use crate::tenants;

pub const TENANT: &str = "benchkommun";
pub const AGENT_EMAIL: &str = "agent1@benchkommun.se";

const QUEUES: [(&str, &str); 6] = [
    ("kundtjanst", "Kundtjänst"),
    ("va", "Vatten och avlopp"),
    ("avfall", "Avfall och återvinning"),
    ("bygglov", "Bygglov"),
    ("gata", "Gata och park"),
    ("skola", "Förskola och skola"),
];

const TOPICS: [(&str, &[&str]); 6] = [
    (
        "kundtjanst",
        &[
            "Fråga om öppettider",
            "Hur kontaktar jag socialtjänsten",
            "Faktura från kommunen",
            "Parkeringstillstånd för rörelsehindrad",
            "Borttappad nyckel till lokal",
            "Synpunkt på bemötande",
        ],
    ),
    (
        "va",
        &[
            "Vattenläcka på gatan",
            "Brunt vatten i kranen",
            "Vattenmätaren läcker",
            "Fråga om VA-avgiften",
            "Kokningsrekommendation",
            "Stopp i avloppet",
        ],
    ),
    (
        "avfall",
        &[
            "Soptunnan blev inte tömd",
            "Byta storlek på kärl",
            "Hämtning av grovavfall",
            "Tömning av slamavskiljare",
            "Trasigt sopkärl",
            "Tömningsschema för sommaren",
        ],
    ),
    (
        "bygglov",
        &[
            "Behöver jag bygglov för altan",
            "Attefallshus på tomten",
            "Ritningar till mitt hus",
            "Status på bygglovsansökan",
            "Nybyggnadskarta",
            "Bygglov för carport",
        ],
    ),
    (
        "gata",
        &[
            "Trasig gatubelysning",
            "Snöröjning på min gata",
            "Hål i asfalten",
            "Nedfallet träd i parken",
            "Klotter på lekplatsen",
            "Halka på gångbanan",
        ],
    ),
    (
        "skola",
        &[
            "Ansökan om förskoleplats",
            "Kötid till förskola",
            "Skolskjuts för mitt barn",
            "Byte av skola",
            "Frånvaroanmälan",
            "Avgift för fritids",
        ],
    ),
];

const STREETS: [&str; 12] = [
    "Storgatan",
    "Kyrkogatan",
    "Skolvägen",
    "Parkvägen",
    "Ringvägen",
    "Björkvägen",
    "Ekbacken",
    "Sjögatan",
    "Järnvägsgatan",
    "Industrivägen",
    "Åvägen",
    "Lärkstigen",
];
const FIRST: [&str; 16] = [
    "Anna", "Erik", "Maria", "Lars", "Karin", "Johan", "Sara", "Mohammed", "Eva", "Ali", "Ingrid",
    "Oskar", "Fatima", "Nils", "Elsa", "Hassan",
];
const LAST: [&str; 12] = [
    "Andersson",
    "Johansson",
    "Karlsson",
    "Nilsson",
    "Eriksson",
    "Larsson",
    "Olsson",
    "Persson",
    "Svensson",
    "Gustafsson",
    "Ahmed",
    "Lindqvist",
];

fn body(r: &mut StdRng, subject: &str, name: &str) -> String {
    let street = STREETS[r.random_range(0..STREETS.len())];
    let n = r.random_range(1..80);
    format!(
        "Hej!\n\nJag skriver angående {}. Det gäller {street} {n}. Problemet har funnits sedan i \
         förra veckan och jag har försökt ringa men inte kommit fram. Kan ni hjälpa mig med vad \
         som gäller och när det kan åtgärdas?\n\nTack på förhand.\n\nMed vänlig hälsning\n{name}",
        subject.to_lowercase()
    )
}

fn answer(r: &mut StdRng, agent: &str) -> String {
    let days = r.random_range(1..10);
    format!(
        "Hej!\n\nTack för ditt meddelande. Vi har tittat på ärendet och räknar med att det är \
         åtgärdat inom {days} arbetsdagar. Hör av dig igen om du har fler frågor – svara bara på \
         det här e-postmeddelandet.\n\nVänliga hälsningar\n{agent}"
    )
}

/// The bench tenant: its id, queues, agents (id, name) and agent 1's password (when new).
type Setup = (TenantId, Vec<QueueId>, Vec<(i64, String)>, String);

/// Create (or find) the bench tenant with queues and agents; returns what the seeding needs.
fn setup(db: &Db) -> anyhow::Result<Setup> {
    db.write_blocking(|c| -> Result<_, Error> {
        let t = match store::tenants::by_slug(c, TENANT)? {
            Some(t) => t.id,
            None => tenants::create_tenant(c, TENANT, "Benchkommun", "KC")?.id,
        };
        let mut queues = vec![];
        for (slug, name) in QUEUES {
            let q = match store::queues::by_slug(c, t, slug)? {
                Some(q) => q,
                None => tenants::create_queue(c, t, slug, name)?,
            };
            queues.push(q.id);
        }
        let mut agents = vec![];
        let mut password = String::new();
        for i in 1..=30 {
            let email = EmailAddress::parse(&format!("agent{i}@benchkommun.se"))?;
            let name = format!("{} {} (handläggare {i})", FIRST[i % 16], LAST[i % 12]);
            let id = match store::users::by_email(c, t, &email)? {
                Some(u) => u.id,
                None => {
                    let p = NewPassword::generate();
                    if i == 1 {
                        password = p.expose().to_string();
                    }
                    // Agent 1 works the first three queues; the others two queues each.
                    let qs: Vec<_> = if i == 1 {
                        queues[..3]
                            .iter()
                            .map(|q| (*q, MembershipRole::Agent))
                            .collect()
                    } else {
                        vec![
                            (queues[i % 6], MembershipRole::Agent),
                            (queues[(i + 1) % 6], MembershipRole::Agent),
                        ]
                    };
                    admin::create_user(
                        c,
                        t,
                        NewUser {
                            email: &email,
                            display_name: &name,
                            role: Role::Agent,
                            password: &p,
                            queues: &qs,
                        },
                    )?
                    .id
                }
            };
            agents.push((id.get(), name));
        }
        Ok((t, queues, agents, password))
    })
    .context("setting up the bench tenant")
}

pub fn seed(db: &Db, tickets: usize, data_dir: &std::path::Path) -> anyhow::Result<()> {
    let started = Instant::now();
    let (t, queues, agents, password) = setup(db)?;
    if !password.is_empty() {
        let path = data_dir.join("bench-credentials.txt");
        std::fs::create_dir_all(data_dir)?;
        std::fs::write(&path, format!("{TENANT} {AGENT_EMAIL} {password}\n"))?;
        println!(
            "  agent account for `bench pages`: {AGENT_EMAIL} (password in {})",
            path.display()
        );
    }
    let (mut contact_id, mut ticket_id, mut message_id) =
        db.read_blocking(|c| -> Result<_, Error> { Ok(store::seed::next_ids(c)?) })?;
    let mut r = StdRng::seed_from_u64(2026);
    let now = store::now();
    let start = now - Duration::days(3 * 365);
    let span = (now - start).num_seconds();
    let mut per_year: std::collections::BTreeMap<i32, i64> = Default::default();
    // Tickets are created in time order so numbers and ids follow the calendar.
    let step = span as f64 / tickets.max(1) as f64;
    let contacts_total = (tickets / 3).max(1);
    let first_contact = contact_id;
    const BATCH: usize = 5000;
    let mut done = 0;
    while done < tickets {
        let n = BATCH.min(tickets - done);
        let mut b = SeedBatch::default();
        for k in 0..n {
            let i = done + k;
            let created: NaiveDateTime =
                start + Duration::seconds((i as f64 * step) as i64 + r.random_range(0..60));
            let year = chrono::Datelike::year(&created);
            let seq = per_year.entry(year).or_insert(0);
            *seq += 1;
            // A citizen who wrote before (a third of tickets are from repeat contacts).
            let cid = if contact_id - first_contact < contacts_total as i64 && r.random_bool(0.67) {
                let name = format!(
                    "{} {}",
                    FIRST[r.random_range(0..16)],
                    LAST[r.random_range(0..12)]
                );
                let email = format!(
                    "{}.{}{}@example.se",
                    name.split(' ').next().unwrap_or("x").to_lowercase(),
                    name.split(' ').nth(1).unwrap_or("y").to_lowercase(),
                    contact_id
                );
                b.contacts.push(SeedContact {
                    id: contact_id,
                    name,
                    email,
                    at: created,
                });
                contact_id += 1;
                contact_id - 1
            } else if contact_id > first_contact {
                r.random_range(first_contact..contact_id)
            } else {
                b.contacts.push(SeedContact {
                    id: contact_id,
                    name: "Anna Andersson".into(),
                    email: format!("anna{contact_id}@example.se"),
                    at: created,
                });
                contact_id += 1;
                contact_id - 1
            };
            let qi = r.random_range(0..queues.len());
            let topics = TOPICS[qi].1;
            let subject = format!(
                "{} – {}",
                topics[r.random_range(0..topics.len())],
                STREETS[r.random_range(0..STREETS.len())]
            );
            let age_days = (now - created).num_days();
            // Older tickets are almost all closed; the last weeks hold the open working set.
            let status = if age_days > 30 {
                if r.random_bool(0.995) {
                    "closed"
                } else {
                    "waiting"
                }
            } else {
                match r.random_range(0..100) {
                    0..=24 => "new",
                    25..=54 => "open",
                    55..=69 => "waiting",
                    70..=84 => "resolved",
                    _ => "closed",
                }
            };
            let (priority, rank) = match r.random_range(0..100) {
                0..=4 => ("urgent", 3),
                5..=19 => ("high", 2),
                20..=89 => ("normal", 1),
                _ => ("low", 0),
            };
            let assignee = (status != "new" || r.random_bool(0.2))
                .then(|| agents[r.random_range(0..agents.len())].clone());
            let answered = status != "new";
            let first_response = answered.then(|| created + Duration::hours(r.random_range(1..48)));
            let done_at = matches!(status, "resolved" | "closed")
                .then(|| created + Duration::hours(r.random_range(48..400)));
            let updated = done_at.or(first_response).unwrap_or(created).min(now);
            let name = b
                .contacts
                .last()
                .map(|c| c.name.clone())
                .unwrap_or_else(|| "Anna Andersson".into());
            b.tickets.push(SeedTicket {
                id: ticket_id,
                number: format!("KC-{year}-{:06}", *seq),
                subject: subject.clone(),
                status,
                priority,
                priority_rank: rank,
                queue_id: queues[qi].get(),
                channel: "email",
                automatic: None,
                assignee_id: assignee.as_ref().map(|a| a.0),
                contact_id: cid,
                created_at: created,
                updated_at: updated,
                first_response_at: first_response,
                resolved_at: done_at,
                closed_at: done_at.filter(|_| status == "closed"),
            });
            b.messages.push(SeedMessage {
                id: message_id,
                ticket_id,
                kind: "inbound",
                author_id: None,
                from_addr: Some(format!("medborgare{cid}@example.se")),
                subject: subject.clone(),
                body: body(&mut r, &subject, &name),
                auto_sent: false,
                at: created,
            });
            message_id += 1;
            b.events.push(SeedEvent {
                ticket_id,
                actor_id: None,
                kind: "created",
                details: format!("{{\"queue\":{}}}", queues[qi].get()),
                at: created,
            });
            if let (Some(at), Some(a)) = (first_response, &assignee) {
                b.messages.push(SeedMessage {
                    id: message_id,
                    ticket_id,
                    kind: "outbound",
                    author_id: Some(a.0),
                    from_addr: Some("kundtjanst@benchkommun.se".into()),
                    subject: format!("Re: {subject}"),
                    body: answer(&mut r, &a.1),
                    auto_sent: false,
                    at,
                });
                message_id += 1;
                b.events.push(SeedEvent {
                    ticket_id,
                    actor_id: Some(a.0),
                    kind: "reply_sent",
                    details: "{}".into(),
                    at,
                });
                if r.random_bool(0.3) {
                    b.messages.push(SeedMessage {
                        id: message_id,
                        ticket_id,
                        kind: "note",
                        author_id: Some(a.0),
                        from_addr: None,
                        subject: String::new(),
                        body: "Kollat med driftavdelningen, de tar det i veckan.".into(),
                        auto_sent: false,
                        at: at + Duration::minutes(5),
                    });
                    message_id += 1;
                }
            }
            if r.random_bool(0.2) {
                let tag = ["akut", "återkommande", "faktura", "synpunkt", "felanmälan"]
                    [r.random_range(0..5)];
                b.tags.push((ticket_id, tag.to_string()));
            }
            ticket_id += 1;
        }
        db.write_blocking(move |c| -> Result<(), Error> { Ok(store::seed::insert(c, t, &b)?) })?;
        done += n;
        if done % 100_000 < BATCH || done == tickets {
            println!(
                "  {done} tickets ({:.0}/s)",
                done as f64 / started.elapsed().as_secs_f64()
            );
        }
    }
    let last: Vec<(i32, i64)> = per_year.into_iter().collect();
    db.write_blocking(move |c| -> Result<(), Error> { Ok(store::seed::finish(c, t, &last)?) })?;
    db.read_blocking(|c| -> Result<(), Error> { Ok(store::seed::tidy_after_load(c)?) })?;
    println!(
        "bench seed: {tickets} tickets, {} contacts, {} messages in {:.1} s",
        contact_id - first_contact,
        message_id - 1,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
