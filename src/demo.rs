//! Demo data: the tenant "Exempelkommun" with its five queues, three agent accounts and a few
//! tickets, so a newcomer has something to look at. Idempotent: what exists is left alone, and only
//! accounts created now get (and print) a password.

use crate::accounts::admin::{self, NewUser};
use crate::accounts::password::NewPassword;
use crate::config::Settings;
use crate::domain::{Channel, EmailAddress, MembershipRole, Priority, Role, TenantId};
use crate::error::{Error, Result};
use crate::store::{self, Conn, Db};
use crate::tenants;
use crate::tickets::{OpenTicket, open_ticket};

pub const TENANT_SLUG: &str = "exempel";
const QUEUES: [(&str, &str); 5] = [
    ("kundtjanst", "Kundtjänst"),
    ("va", "VA"),
    ("avfall", "Avfall"),
    ("bygglov", "Bygglov"),
    ("gata-park", "Gata och park"),
];
/// (e-mail, name, role, queue memberships)
type DemoUser = (
    &'static str,
    &'static str,
    Role,
    &'static [(&'static str, MembershipRole)],
);
const USERS: [DemoUser; 4] = [
    ("admin@exempelkommun.se", "Alva Admin", Role::Admin, &[]),
    (
        "agent@exempelkommun.se",
        "Kim Kundtjänst",
        Role::Agent,
        &[
            ("kundtjanst", MembershipRole::Agent),
            ("avfall", MembershipRole::Agent),
            ("gata-park", MembershipRole::Agent),
        ],
    ),
    (
        "va@exempelkommun.se",
        "Vera Vatten",
        Role::Agent,
        &[
            ("va", MembershipRole::Lead),
            ("kundtjanst", MembershipRole::Agent),
        ],
    ),
    // Department staff who answer referrals ("Mina remisser"), nothing else.
    ("miljo@exempelkommun.se", "Mira Miljö", Role::Handler, &[]),
];
/// Canned responses: (queue slug or "" for every queue, title, text with variables).
const CANNED: [(&str, &str, &str); 3] = [
    (
        "",
        "Tack, vi återkommer",
        "Hej {{contact.name}}!\n\nTack för ditt meddelande. Vi har tagit emot ditt ärende \
         {{ticket.number}} och återkommer så snart vi kan.\n\nVänliga hälsningar\n{{agent.name}}\n\
         {{queue.name}}, Exempelkommun",
    ),
    (
        "",
        "Behöver mer information",
        "Hej {{contact.name}}!\n\nFör att kunna hjälpa dig behöver vi veta lite mer. Kan du \
         beskriva var och när det hände? Svara gärna på det här e-postmeddelandet så hamnar svaret i ärende \
         {{ticket.number}}.\n\nVänliga hälsningar\n{{agent.name}}",
    ),
    (
        "va",
        "Vattenläcka – felanmälan mottagen",
        "Hej {{contact.name}}!\n\nTack för att du hörde av dig om läckan. Vår jour är \
         informerad och åker ut så snart som möjligt. Vid akut vattenläcka utanför kontorstid, \
         ring VA-jouren.\n\nVänliga hälsningar\n{{agent.name}}, VA-avdelningen",
    ),
];

const TICKETS: [(&str, &str, &str, &str); 4] = [
    (
        "kundtjanst",
        "Fråga om öppettider i jul",
        "Hej! Har kommunhuset öppet mellan jul och nyår?",
        "maria.lind@example.org",
    ),
    (
        "va",
        "Vattenläcka på Storgatan",
        "Det sprutar vatten ur en brunn utanför Storgatan 12.",
        "per.holm@example.org",
    ),
    (
        "avfall",
        "Soptunnan blev inte tömd",
        "Vår gröna tunna blev inte tömd i tisdags.",
        "anna.ek@example.org",
    ),
    (
        "gata-park",
        "Trasig gatubelysning",
        "Lampan vid busshållplatsen på Parkvägen är släckt.",
        "omar.said@example.org",
    ),
];

/// Accounts created by a seeding run, with their one-time passwords.
#[derive(Debug, Default)]
pub struct Credentials(pub Vec<(String, String, String)>);

/// Seed on first start: only when the database has no tenant at all.
pub fn seed_if_empty(db: &Db) -> anyhow::Result<Option<Credentials>> {
    let empty = db.read_blocking(|c| Ok::<_, Error>(store::tenants::list(c)?.is_empty()))?;
    if !empty {
        return Ok(None);
    }
    Ok(Some(seed(db)?))
}

pub fn seed(db: &Db) -> anyhow::Result<Credentials> {
    let creds = db.write_blocking(|c| -> Result<Credentials> {
        let (tenant, created) = match store::tenants::by_slug(c, TENANT_SLUG)? {
            Some(t) => (t, false),
            None => (
                tenants::create_tenant(c, TENANT_SLUG, "Exempelkommun", "KC")?,
                true,
            ),
        };
        let t = tenant.id;
        for (slug, name) in QUEUES {
            if store::queues::by_slug(c, t, slug)?.is_none() {
                tenants::create_queue(c, t, slug, name)?;
            }
        }
        sms_to_a_local_folder(c, t)?;
        let out = accounts(c, t)?;
        if created {
            service_levels(c, t)?;
            canned_responses(c, t)?;
            referral_department(c, t)?;
            routing_rule(c, t)?;
            sample_tickets(c, t)?;
        }
        Ok(out)
    })?;
    Ok(creds)
}

fn sms_to_a_local_folder(c: &mut Conn, t: TenantId) -> Result<()> {
    // Text messages go to <data_dir>/sms-outbox in the demo (nothing is sent).
    if store::sms::gateway(c, t)?.is_none() {
        store::sms::save_gateway(
            c,
            t,
            &store::sms::GatewayRow {
                provider: "outbox",
                url: None,
                username: None,
                password: None,
                sender: "Exempel",
                nordic_gsm7: false,
                price_ore: 45,
                body_template: "",
                content_type: "application/json",
                id_pointer: "/id",
            },
            &crate::secrets::new_id(),
            store::now(),
        )?;
    }
    Ok(())
}

/// The demo accounts not there yet, each with a new password.
fn accounts(c: &mut Conn, t: TenantId) -> Result<Credentials> {
    let mut out = Credentials::default();
    for (email, name, role, memberships) in USERS {
        let email = EmailAddress::parse(email)?;
        if store::users::by_email(c, t, &email)?.is_some() {
            continue;
        }
        let mut queues = vec![];
        for (slug, r) in memberships {
            let q = store::queues::by_slug(c, t, slug)?.ok_or(Error::NotFound("queue"))?;
            queues.push((q.id, *r));
        }
        let password = NewPassword::generate();
        admin::create_user(
            c,
            t,
            NewUser {
                email: &email,
                display_name: name,
                role,
                password: &password,
                queues: &queues,
            },
        )?;
        out.0.push((
            email.to_string(),
            role.to_string(),
            password.expose().to_string(),
        ));
    }
    Ok(out)
}

fn service_levels(c: &mut Conn, t: TenantId) -> Result<()> {
    // Service levels: office hours with every Swedish holiday closed; a first answer
    // within a working day (two hours when urgent), resolution within a week.
    crate::sla::admin::save_calendar(c, t, "Kontorstid", &crate::sla::Calendar::default(), true)?;
    for (slug, _) in QUEUES {
        let q = store::queues::by_slug(c, t, slug)?.ok_or(Error::NotFound("queue"))?;
        for (priority, first, next, resolution) in [
            (Priority::Low, "2d", "2d", "10d"),
            (Priority::Normal, "8h", "8h", "5d"),
            (Priority::High, "4h", "4h", "3d"),
            (Priority::Urgent, "2h", "2h", "1d"),
        ] {
            crate::sla::admin::save_policy(
                c,
                t,
                q.id,
                priority,
                &crate::sla::admin::PolicyInput {
                    first_response: first.into(),
                    next_response: next.into(),
                    resolution: resolution.into(),
                    warn_percent: Some(80),
                    rules: vec![
                        crate::sla::policy::Rule {
                            on: crate::sla::policy::Level::Warning,
                            action: crate::sla::policy::Action::Notify,
                            targets: vec![],
                        },
                        crate::sla::policy::Rule {
                            on: crate::sla::policy::Level::Breach,
                            action: crate::sla::policy::Action::Notify,
                            targets: vec![],
                        },
                        crate::sla::policy::Rule {
                            on: crate::sla::policy::Level::Breach,
                            action: crate::sla::policy::Action::RaisePriority,
                            targets: vec![crate::sla::timeline::Target::FirstResponse],
                        },
                    ],
                },
            )?;
        }
    }
    Ok(())
}

fn canned_responses(c: &mut Conn, t: TenantId) -> Result<()> {
    for (slug, title, text) in CANNED {
        let queue = match slug {
            "" => None,
            s => store::queues::by_slug(c, t, s)?.map(|q| q.id),
        };
        store::workspace::insert_canned(c, t, queue, title, text, store::now())?;
    }
    Ok(())
}

fn referral_department(c: &mut Conn, t: TenantId) -> Result<()> {
    // A referral department with its handler account.
    let miljo = crate::escalation::save_referral_target(
        c,
        t,
        &crate::escalation::ReferralTarget {
            name: "Miljöförvaltningen".into(),
            email: "miljoforvaltningen@exempelkommun.se".into(),
            response_days: 10,
            allow_citizen_reply: false,
            pauses_sla: true,
        },
    )?;
    let mira = store::users::by_email(c, t, &EmailAddress::parse("miljo@exempelkommun.se")?)?
        .ok_or(Error::NotFound("user"))?;
    store::escalation::set_handlers(c, t, miljo, &[mira.id.get()], store::now())?;
    Ok(())
}

fn routing_rule(c: &mut Conn, t: TenantId) -> Result<()> {
    // A routing rule to show: water leaks mailed to customer service go straight to VA.
    let kundtjanst = store::queues::by_slug(c, t, "kundtjanst")?.ok_or(Error::NotFound("queue"))?;
    let va = store::queues::by_slug(c, t, "va")?.ok_or(Error::NotFound("queue"))?;
    store::routing::insert(
        c,
        t,
        &store::routing::RuleChange {
            name: "Vattenläckor till VA",
            enabled: true,
            match_queue_id: Some(kundtjanst.id.get()),
            match_senders: "",
            match_words: "vattenläcka, vattenläckan, inget vatten, vattenavstängning",
            match_in: "subject_text",
            set_priority: Some("high"),
            set_queue_id: Some(va.id.get()),
            add_tag: Some("vattenläcka"),
            escalation_target_id: None,
            stop: false,
        },
        store::now(),
    )?;
    Ok(())
}

fn sample_tickets(c: &mut Conn, t: TenantId) -> Result<()> {
    for (slug, subject, body, from) in TICKETS {
        let q = store::queues::by_slug(c, t, slug)?.ok_or(Error::NotFound("queue"))?;
        let email = EmailAddress::parse(from)?;
        let contact = store::contacts::find_or_create(
            c,
            t,
            None,
            Some(&email),
            None,
            "email",
            crate::domain::Language::of_citizen_text(body),
        )?;
        let now = store::now();
        let ticket = open_ticket(
            c,
            t,
            OpenTicket {
                queue: q.id,
                subject,
                priority: Priority::Normal,
                channel: Channel::Email,
                contact_id: Some(contact.id),
                mailbox: None,
                automatic: None,
                actor: None,
                now,
            },
        )?;
        store::tickets::insert_message(
            c,
            t,
            ticket.id,
            store::tickets::NewMessage {
                kind: crate::domain::MessageKind::Inbound,
                author: None,
                from_addr: Some(email.as_str()),
                to_addrs: "",
                cc_addrs: "",
                subject,
                body_text: body,
                body_html: None,
                message_id: None,
                in_reply_to: None,
                references: None,
                raw_sha256: None,
                now,
            },
        )?;
    }
    Ok(())
}

/// Write the new demo accounts with their passwords to `<data_dir>/demo-credentials.txt` (mode
/// 0600) and say where they are. The passwords never go to the terminal or the log, which are
/// often kept and read by others (journald, CI logs).
pub fn announce(creds: &Credentials, settings: &Settings) {
    if creds.0.is_empty() {
        return;
    }
    let mut text = String::from("Ärendo demo accounts (organisation: Exempelkommun)\n");
    for (email, role, password) in &creds.0 {
        text.push_str(&format!("  {email:<28} {role:<6} password: {password}\n"));
    }
    text.push_str(&format!(
        "Sign in at {}/login\n",
        settings.server.public_url
    ));
    let accounts: Vec<&str> = creds.0.iter().map(|(email, _, _)| email.as_str()).collect();
    let path = settings.data_dir.join("demo-credentials.txt");
    match crate::store::private::write(&path, text.as_bytes()) {
        Ok(()) => eprintln!(
            "\nÄrendo demo accounts: {}\nTheir passwords are in {} (readable only by this user).\n\
             Sign in at {}/login\n",
            accounts.join(", "),
            path.display(),
            settings.server.public_url
        ),
        Err(e) => tracing::warn!(
            error = %e,
            "could not write the demo credentials file; set passwords with `arendo user set-password`"
        ),
    }
}
