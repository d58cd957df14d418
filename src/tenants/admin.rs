//! Administration use cases behind the admin pages (`/admin`): queues with their members and
//! acknowledgement template, agent accounts, function mailboxes.
//!
//! Who may do what: tenant admins manage everything of their tenant. A queue lead manages the
//! members and the acknowledgement template of the queues they lead (and, in `tickets::canned`,
//! their canned responses) — nothing else. Everyone else is refused (`Forbidden`).
//!
//! Every function takes the `Actor`; its tenant is the only tenant it touches. Ids that come from
//! outside (a queue or user id in a URL or form) are looked up within that tenant first, so another
//! tenant's queue or user is `NotFound` — the same answer as one that does not exist.

use serde_json::{Value, json};

use crate::accounts::Actor;
use crate::accounts::password::NewPassword;
use crate::domain::Reason;
use crate::domain::{EmailAddress, InvalidValue, MembershipRole, QueueId, Role, UserId};
use crate::error::Conflict;
use crate::error::{Error, Result};
pub use crate::store::queues::{Member, Queue};
pub use crate::store::users::{QueueMembership, User};
use crate::store::{self, Conn, Db};
use crate::text::{LOCALES, TemplateFiles, Templates};

/// Longest acknowledgement template accepted (characters).
pub const MAX_ACK_TEMPLATE: usize = 20_000;

// ---- who may do what ----

pub use crate::accounts::permissions::{
    leads, may_administer, require_admin, require_admin_or_lead,
};

fn require_manages_queue(actor: &Actor, q: QueueId) -> Result<()> {
    if actor.is_admin() || leads(actor, q) {
        Ok(())
    } else {
        Err(Error::Forbidden(
            "administrators and the queue's leads only",
        ))
    }
}

/// A queue id from outside, within the actor's tenant: `NotFound` for another tenant's queue.
fn queue_in_tenant(c: &mut Conn, actor: &Actor, raw: i64) -> Result<Queue> {
    store::queues::lookup(c, actor.tenant, raw)?.ok_or(Error::NotFound("queue"))
}

/// A queue the actor may manage: `NotFound` outside the tenant, `Forbidden` for a queue the
/// actor neither administers nor leads.
fn managed_queue(c: &mut Conn, actor: &Actor, raw: i64) -> Result<Queue> {
    let q = queue_in_tenant(c, actor, raw)?;
    require_manages_queue(actor, q.id)?;
    Ok(q)
}

fn user_in_tenant(c: &mut Conn, actor: &Actor, raw: i64) -> Result<User> {
    store::users::lookup(c, actor.tenant, raw)?.ok_or(Error::NotFound("user"))
}

fn display_name(s: &str) -> Result<String, InvalidValue> {
    let s = s.trim();
    if s.is_empty() || s.chars().count() > 120 {
        return Err(InvalidValue::new(
            "display_name",
            Reason::Length { min: 1, max: 120 },
        ));
    }
    Ok(s.to_string())
}

fn queue_name(s: &str) -> Result<String, InvalidValue> {
    let s = s.trim();
    if s.is_empty() || s.chars().count() > 120 {
        return Err(InvalidValue::new(
            "name",
            Reason::Length { min: 1, max: 120 },
        ));
    }
    Ok(s.to_string())
}

// ---- the start page ----

/// What the admin start page offers the actor.
#[derive(Debug, Clone)]
pub struct Overview {
    pub is_admin: bool,
    /// The queues the actor may manage (all for admins, the led ones for leads).
    pub queues: Vec<Queue>,
}

pub async fn overview(db: &Db, actor: &Actor) -> Result<Overview> {
    require_admin_or_lead(actor)?;
    let a = actor.clone();
    db.read(move |c| -> Result<Overview> {
        let queues = store::queues::list(c, a.tenant)?
            .into_iter()
            .filter(|q| a.is_admin() || leads(&a, q.id))
            .collect();
        Ok(Overview {
            is_admin: a.is_admin(),
            queues,
        })
    })
    .await
}

// ---- queues ----

#[derive(Debug, Clone)]
pub struct QueueRow {
    pub queue: Queue,
    pub members: i64,
    /// Whether the queue has its own acknowledgement template.
    pub own_ack: bool,
}

/// The queues the actor manages (all for admins, the led ones for leads), with member counts.
pub async fn queues(db: &Db, actor: &Actor) -> Result<Vec<QueueRow>> {
    require_admin_or_lead(actor)?;
    let a = actor.clone();
    db.read(move |c| -> Result<Vec<QueueRow>> {
        let counts = store::queues::member_counts(c, a.tenant)?;
        let mut out = vec![];
        for q in store::queues::list(c, a.tenant)? {
            if !(a.is_admin() || leads(&a, q.id)) {
                continue;
            }
            let members = counts
                .iter()
                .find(|(id, _)| *id == q.id)
                .map_or(0, |(_, n)| *n);
            let own_ack = store::queues::ack_template(c, a.tenant, q.id)?.is_some();
            out.push(QueueRow {
                queue: q,
                members,
                own_ack,
            });
        }
        Ok(out)
    })
    .await
}

/// Create a queue (admins). A slug already in use is a `Conflict`.
pub async fn create_queue(db: &Db, actor: &Actor, slug: &str, name: &str) -> Result<Queue> {
    require_admin(actor)?;
    let (t, slug, name) = (actor.tenant, slug.to_string(), name.to_string());
    db.write(move |c| super::create_queue(c, t, &slug, &name))
        .await
}

/// Give a queue a new display name (admins; the slug stays).
pub async fn rename_queue(db: &Db, actor: &Actor, queue: i64, name: &str) -> Result<()> {
    require_admin(actor)?;
    let name = queue_name(name)?;
    let a = actor.clone();
    db.write(move |c| -> Result<()> {
        let q = queue_in_tenant(c, &a, queue)?;
        Ok(store::queues::rename(c, a.tenant, q.id, &name)?)
    })
    .await
}

/// An account as offered in a picker.
#[derive(Debug, Clone)]
pub struct UserBrief {
    pub id: UserId,
    pub display_name: String,
    pub email: String,
}

#[derive(Debug, Clone)]
pub struct QueueDetail {
    pub queue: Queue,
    pub members: Vec<Member>,
    /// Active accounts of the tenant that are not members yet.
    pub candidates: Vec<UserBrief>,
    pub ack_template: Option<String>,
    /// Whether the actor may rename the queue (admins).
    pub may_rename: bool,
}

pub async fn queue_detail(db: &Db, actor: &Actor, queue: i64) -> Result<QueueDetail> {
    require_admin_or_lead(actor)?;
    let a = actor.clone();
    db.read(move |c| -> Result<QueueDetail> {
        let q = managed_queue(c, &a, queue)?;
        let members = store::queues::members(c, a.tenant, q.id)?;
        let candidates = store::users::list(c, a.tenant)?
            .into_iter()
            .filter(|u| u.active && !members.iter().any(|m| m.user == u.id))
            .map(|u| UserBrief {
                id: u.id,
                display_name: u.display_name,
                email: u.email,
            })
            .collect::<Vec<_>>();
        let mut candidates = candidates;
        candidates.sort_by(|x, y| x.display_name.cmp(&y.display_name));
        let ack_template = store::queues::ack_template(c, a.tenant, q.id)?;
        Ok(QueueDetail {
            queue: q,
            members,
            candidates,
            ack_template,
            may_rename: a.is_admin(),
        })
    })
    .await
}

fn member_role(s: &str) -> Result<MembershipRole, InvalidValue> {
    MembershipRole::parse(s)
}

fn raw_user(s: &str) -> Result<i64, InvalidValue> {
    s.trim()
        .parse()
        .map_err(|_| InvalidValue::new("user", Reason::Choose))
}

/// Add an account to a queue as lead or agent (admins; the queue's leads). Already a member:
/// `Conflict`.
pub async fn add_member(db: &Db, actor: &Actor, queue: i64, user: &str, role: &str) -> Result<()> {
    require_admin_or_lead(actor)?;
    let (user, role) = (raw_user(user)?, member_role(role)?);
    let a = actor.clone();
    db.write(move |c| -> Result<()> {
        let q = managed_queue(c, &a, queue)?;
        let u = user_in_tenant(c, &a, user)?;
        if store::queues::members(c, a.tenant, q.id)?
            .iter()
            .any(|m| m.user == u.id)
        {
            return Err(Error::Conflict(Conflict::AlreadyMember {
                user: u.email,
                queue: q.slug,
            }));
        }
        Ok(store::queues::add_member(c, a.tenant, q.id, u.id, role)?)
    })
    .await
}

/// Change a member's role in a queue (admins; the queue's leads).
pub async fn set_member_role(
    db: &Db,
    actor: &Actor,
    queue: i64,
    user: i64,
    role: &str,
) -> Result<()> {
    require_admin_or_lead(actor)?;
    let role = member_role(role)?;
    let a = actor.clone();
    db.write(move |c| -> Result<()> {
        let q = managed_queue(c, &a, queue)?;
        let u = user_in_tenant(c, &a, user)?;
        store::queues::set_member_role(c, a.tenant, q.id, u.id, role).map_err(|e| match e {
            store::StoreError::NotFound => Error::NotFound("user"),
            other => other.into(),
        })
    })
    .await
}

/// Take an account out of a queue (admins; the queue's leads).
pub async fn remove_member(db: &Db, actor: &Actor, queue: i64, user: i64) -> Result<()> {
    require_admin_or_lead(actor)?;
    let a = actor.clone();
    db.write(move |c| -> Result<()> {
        let q = managed_queue(c, &a, queue)?;
        let u = user_in_tenant(c, &a, user)?;
        store::queues::remove_member(c, a.tenant, q.id, u.id).map_err(|e| match e {
            store::StoreError::NotFound => Error::NotFound("user"),
            other => other.into(),
        })
    })
    .await
}

/// The variables an acknowledgement template can use, with the locale key that explains each.
pub const ACK_VARIABLES: [(&str, &str); 5] = [
    ("{{name}}", "admin.ack.var.name"),
    ("{{number}}", "admin.ack.var.number"),
    ("{{subject}}", "admin.ack.var.subject"),
    ("{{queue}}", "admin.ack.var.queue"),
    ("{{tenant}}", "admin.ack.var.tenant"),
];

/// The built-in acknowledgement text (templates/mail/ack.sv.hbs), used when a queue has none.
pub fn default_ack_template() -> String {
    TemplateFiles::get("mail/ack.sv.hbs")
        .map(|f| String::from_utf8_lossy(&f.data).into_owned())
        .unwrap_or_default()
}

/// Example values for previews of the acknowledgement template.
pub fn ack_example(queue: &str, tenant: &str, prefix: &str) -> Value {
    json!({
        "name": "Maria Andersson",
        "number": format!("{prefix}-2026-000123"),
        "subject": "Fråga om sophämtning",
        "queue": queue,
        "tenant": tenant,
    })
}

/// Where a template failed to render, when handlebars knows.
fn render_reason(e: &handlebars::RenderError) -> Reason {
    Reason::template_at(e.line_no.zip(e.column_no))
}

/// Check an acknowledgement template as an operator typed it. Blank means "use the default"
/// (`None`). A template must compile and render with example values: mail intake renders it for
/// every new ticket, so a broken one is refused here, not there.
pub fn check_ack_template(text: &str) -> Result<Option<String>, InvalidValue> {
    let text = text.replace("\r\n", "\n");
    if text.trim().is_empty() {
        return Ok(None);
    }
    if text.chars().count() > MAX_ACK_TEMPLATE {
        return Err(InvalidValue::new(
            "ack_template",
            Reason::TooLong {
                max: MAX_ACK_TEMPLATE,
            },
        ));
    }
    let t = Templates::get();
    t.check_str(&text)
        .map_err(|e| InvalidValue::new("ack_template", Reason::template_at(e.pos())))?;
    t.render_str(&text, &ack_example("Kundtjänst", "Exempel kommun", "KC"))
        .map_err(|e| InvalidValue::new("ack_template", render_reason(&e)))?;
    Ok(Some(text))
}

/// The acknowledgement a citizen would get from this queue (its own template or the default),
/// filled with example values.
pub async fn ack_preview(
    db: &Db,
    actor: &Actor,
    queue: i64,
    template: Option<&str>,
) -> Result<String> {
    require_admin_or_lead(actor)?;
    let a = actor.clone();
    let (q, tenant) = db
        .read(move |c| -> Result<_> {
            let q = managed_queue(c, &a, queue)?;
            Ok((q, store::tenants::get(c, a.tenant)?))
        })
        .await?;
    let data = ack_example(&q.name, &tenant.name, &tenant.ticket_prefix);
    let t = Templates::get();
    match template {
        Some(custom) => t.render_str(custom, &data),
        None => t.render_text("mail/ack.sv", &data),
    }
    .map_err(|e| InvalidValue::new("ack_template", render_reason(&e)).into())
}

/// Set (or, with a blank text, clear) a queue's acknowledgement template (admins; the queue's
/// leads). Returns what is stored.
pub async fn set_ack_template(
    db: &Db,
    actor: &Actor,
    queue: i64,
    text: &str,
) -> Result<Option<String>> {
    require_admin_or_lead(actor)?;
    let template = check_ack_template(text)?;
    let a = actor.clone();
    db.write(move |c| -> Result<Option<String>> {
        let q = managed_queue(c, &a, queue)?;
        store::queues::set_ack_template(c, a.tenant, q.id, template.as_deref())?;
        Ok(template)
    })
    .await
}

// ---- accounts ----

#[derive(Debug, Clone)]
pub struct UserRow {
    pub user: User,
    pub queues: Vec<QueueMembership>,
}

/// Every account of the tenant with its queues (admins).
pub async fn users(db: &Db, actor: &Actor) -> Result<Vec<UserRow>> {
    require_admin(actor)?;
    let t = actor.tenant;
    db.read(move |c| -> Result<Vec<UserRow>> {
        Ok(store::users::list_with_memberships(c, t)?
            .into_iter()
            .map(|(user, queues)| UserRow { user, queues })
            .collect())
    })
    .await
}

/// One account with its queues (admins).
pub async fn user(db: &Db, actor: &Actor, user: i64) -> Result<UserRow> {
    require_admin(actor)?;
    let a = actor.clone();
    db.read(move |c| -> Result<UserRow> {
        let u = user_in_tenant(c, &a, user)?;
        let queues = store::users::list_with_memberships(c, a.tenant)?
            .into_iter()
            .find(|(x, _)| x.id == u.id)
            .map(|(_, qs)| qs)
            .unwrap_or_default();
        Ok(UserRow { user: u, queues })
    })
    .await
}

pub struct NewUserInput<'a> {
    pub display_name: &'a str,
    pub email: &'a str,
    /// `admin` or `agent`.
    pub role: &'a str,
    pub password: &'a str,
    /// Queues (slugs) the account joins, with its role in each; an unknown slug is `NotFound`.
    pub queues: &'a [(String, MembershipRole)],
}

/// On the bounded hashing pool (`accounts::password`), so admin pages cannot exhaust memory.
async fn hash(p: NewPassword) -> Result<crate::accounts::password::HashedPassword> {
    p.hash_bounded().await
}

/// Create an account (admins; the admin page and `arendo user create`). The rules are
/// `accounts::admin::insert_user`'s; the password is hashed before the write, so the (single, on
/// SQLite) writer does not wait for Argon2.
pub async fn create_user(db: &Db, actor: &Actor, input: NewUserInput<'_>) -> Result<User> {
    require_admin(actor)?;
    let name = display_name(input.display_name)?;
    let email = EmailAddress::parse(input.email)?;
    let role = Role::parse(input.role)?;
    let hash = hash(NewPassword::parse(input.password)?).await?;
    let (t, queues) = (actor.tenant, input.queues.to_vec());
    db.write(move |c| -> Result<User> {
        let mut qs = vec![];
        for (slug, r) in &queues {
            let q = store::queues::by_slug(c, t, slug.trim())?.ok_or(Error::NotFound("queue"))?;
            qs.push((q.id, *r));
        }
        crate::accounts::admin::insert_user(c, t, &email, &name, role, &hash, &qs)
    })
    .await
}

/// A queue of the actor's tenant by its slug (admins; the command line names queues so).
pub async fn queue_by_slug(db: &Db, actor: &Actor, slug: &str) -> Result<Queue> {
    require_admin(actor)?;
    let (t, slug) = (actor.tenant, slug.trim().to_string());
    db.read(move |c| store::queues::by_slug(c, t, &slug)?.ok_or(Error::NotFound("queue")))
        .await
}

/// An account of the actor's tenant by its address (admins; the command line names accounts so).
pub async fn user_by_email(db: &Db, actor: &Actor, email: &EmailAddress) -> Result<User> {
    require_admin(actor)?;
    let (t, email) = (actor.tenant, email.clone());
    db.read(move |c| store::users::by_email(c, t, &email)?.ok_or(Error::NotFound("user")))
        .await
}

/// Deactivate or reactivate an account (admins). Deactivation ends its sessions at once. Admins
/// cannot deactivate themselves (nobody could undo it if they are the last admin).
pub async fn set_user_active(db: &Db, actor: &Actor, user: i64, active: bool) -> Result<()> {
    require_admin(actor)?;
    let a = actor.clone();
    db.write(move |c| -> Result<()> {
        let u = user_in_tenant(c, &a, user)?;
        if !active && a.person() == Some(u.id) {
            return Err(InvalidValue::new("active", Reason::OwnAccount).into());
        }
        crate::accounts::admin::set_active(c, a.tenant, u.id, active)
    })
    .await
}

/// Set a new password for an account (admins; the admin page and `arendo user set-password`); all
/// its sessions end, its API tokens stay valid. Not for one's own account: that goes through
/// "change password", which asks for the current one.
pub async fn set_user_password(db: &Db, actor: &Actor, user: i64, password: &str) -> Result<()> {
    require_admin(actor)?;
    let hash = hash(NewPassword::parse(password)?).await?;
    let a = actor.clone();
    db.write(move |c| -> Result<()> {
        let u = user_in_tenant(c, &a, user)?;
        if a.person() == Some(u.id) {
            return Err(InvalidValue::new("own_password", Reason::OwnPassword).into());
        }
        crate::accounts::admin::set_password(c, a.tenant, u.id, &hash)
    })
    .await
}

/// Set an account's preferred language, `sv` or `en` (admins).
pub async fn set_user_locale(db: &Db, actor: &Actor, user: i64, locale: &str) -> Result<()> {
    require_admin(actor)?;
    let locale = LOCALES
        .into_iter()
        .find(|l| *l == locale.trim())
        .ok_or_else(|| InvalidValue::new("locale", Reason::one_of(&["sv", "en"])))?;
    let a = actor.clone();
    db.write(move |c| -> Result<()> {
        let u = user_in_tenant(c, &a, user)?;
        Ok(store::users::set_locale(c, a.tenant, u.id, locale)?)
    })
    .await
}

/// Choose one's own language, `sv` or `en` (every signed-in user).
pub async fn set_own_locale(db: &Db, actor: &Actor, locale: &str) -> Result<()> {
    let locale = LOCALES
        .into_iter()
        .find(|l| *l == locale.trim())
        .ok_or_else(|| InvalidValue::new("locale", Reason::one_of(&["sv", "en"])))?;
    let (t, me) = (actor.tenant, actor.user()?);
    db.write(move |c| -> Result<()> { Ok(store::users::set_locale(c, t, me, locale)?) })
        .await
}

// ---- queues a mailbox can feed (the mailboxes themselves: `mail::mailboxes`) ----

/// The queues a mailbox can feed (admins).
pub async fn all_queues(db: &Db, actor: &Actor) -> Result<Vec<Queue>> {
    require_admin(actor)?;
    let t = actor.tenant;
    db.read(move |c| Ok::<_, Error>(store::queues::list(c, t)?))
        .await
}

// ---- canned responses (the use cases are in `tickets::canned`) ----

/// The variables a canned response can use, with the locale key that explains each.
pub const CANNED_VARIABLES: [(&str, &str); 6] = [
    ("{{contact.name}}", "admin.canned.var.contact_name"),
    ("{{contact.email}}", "admin.canned.var.contact_email"),
    ("{{ticket.number}}", "admin.canned.var.ticket_number"),
    ("{{ticket.subject}}", "admin.canned.var.ticket_subject"),
    ("{{queue.name}}", "admin.canned.var.queue_name"),
    ("{{agent.name}}", "admin.canned.var.agent_name"),
];

/// Where the actor may put canned responses: whether tenant-wide (admins), and which queues (all
/// for admins, the led ones for leads).
pub async fn canned_targets(db: &Db, actor: &Actor) -> Result<(bool, Vec<Queue>)> {
    require_admin_or_lead(actor)?;
    let a = actor.clone();
    db.read(move |c| -> Result<(bool, Vec<Queue>)> {
        let queues = store::queues::list(c, a.tenant)?
            .into_iter()
            .filter(|q| a.is_admin() || leads(&a, q.id))
            .collect();
        Ok((a.is_admin(), queues))
    })
    .await
}

/// A canned response's text filled with example values (the queue's name when it has one), as an
/// agent would see it on a ticket. A text that cannot be filled in gives `Invalid` on `body`.
pub async fn canned_preview(
    db: &Db,
    actor: &Actor,
    body: &str,
    queue: Option<i64>,
) -> Result<String> {
    require_admin_or_lead(actor)?;
    let a = actor.clone();
    let (queue_name, prefix) = db
        .read(move |c| -> Result<_> {
            let q = match queue {
                Some(raw) => store::queues::lookup(c, a.tenant, raw)?.map(|q| q.name),
                None => None,
            };
            Ok((q, store::tenants::get(c, a.tenant)?.ticket_prefix))
        })
        .await?;
    let vars = json!({
        "contact": { "name": "Maria Andersson", "email": "maria.andersson@example.se" },
        "ticket": { "number": format!("{prefix}-2026-000123"), "subject": "Fråga om sophämtning" },
        "queue": { "name": queue_name.unwrap_or_else(|| "Kundtjänst".into()) },
        "agent": { "name": actor.name },
    });
    let body = body.replace("\r\n", "\n");
    let t = Templates::get();
    t.check_str(&body)
        .map_err(|e| InvalidValue::new("body", Reason::template_at(e.pos())))?;
    t.render_str(&body, &vars)
        .map_err(|e| InvalidValue::new("body", render_reason(&e)).into())
}

/// What a queue tells citizens and where its tickets are escalated by default.
#[derive(Debug, Clone)]
pub struct CitizenSettings {
    /// Events that notify the citizen (see `notify::citizen::Event`).
    pub events: Vec<String>,
    /// Information class 1–4.
    pub info_class: i32,
    pub escalation_target: Option<i64>,
    /// The tenant's escalation targets (id, name) to choose from.
    pub targets: Vec<(i64, String)>,
}

/// A queue's citizen settings (admins and the queue's leads may read them).
pub async fn citizen_settings(db: &Db, actor: &Actor, queue: i64) -> Result<CitizenSettings> {
    let a = actor.clone();
    db.read(move |c| -> Result<CitizenSettings> {
        let q = managed_queue(c, &a, queue)?;
        let (events, info_class) = store::queues::notify_settings(c, a.tenant, q.id)?;
        Ok(CitizenSettings {
            events: events
                .split(',')
                .map(str::trim)
                .filter(|e| !e.is_empty())
                .map(str::to_string)
                .collect(),
            info_class,
            escalation_target: store::escalation::queue_default(c, a.tenant, q.id)?,
            targets: store::escalation::targets(c, a.tenant)?
                .into_iter()
                .map(|t| (t.id, t.name))
                .collect(),
        })
    })
    .await
}

/// Set what a queue tells citizens, its information class and (`target` Some) its default
/// escalation target (admins: the class decides what leaves the municipality). The admin page
/// sets all three; `arendo queue notify` leaves the target as it is (`target` None).
pub async fn set_citizen_settings(
    db: &Db,
    actor: &Actor,
    queue: i64,
    events: &[String],
    info_class: i32,
    target: Option<Option<i64>>,
) -> Result<()> {
    require_admin(actor)?;
    let mut list: Vec<&str> = Vec::new();
    for e in events {
        let ev = crate::notify::citizen::Event::parse(e)
            .ok_or_else(|| InvalidValue::new("events", Reason::unknown(e)))?;
        if !list.contains(&ev.as_str()) {
            list.push(ev.as_str());
        }
    }
    if !(1..=4).contains(&info_class) {
        return Err(InvalidValue::new("info_class", Reason::Range { min: 1, max: 4 }).into());
    }
    let (a, joined) = (actor.clone(), list.join(","));
    db.write(move |c| -> Result<()> {
        let q = queue_in_tenant(c, &a, queue)?;
        if let Some(Some(id)) = target {
            store::escalation::target(c, a.tenant, id)?
                .ok_or_else(|| InvalidValue::new("escalation_target", Reason::Choose))?;
        }
        store::queues::set_notify_settings(c, a.tenant, q.id, &joined, info_class)?;
        if let Some(target) = target {
            store::escalation::set_queue_default(c, a.tenant, q.id, target)?;
        }
        Ok(())
    })
    .await
}

// ---- the tenant's outgoing mail ----

/// Give the tenant its own SMTP server for outgoing mail (admins; `arendo tenant smtp`), or with
/// None inherit the installation's `[mail]`. The password is sealed and never shown again. A
/// server written as an address the egress policy refuses is refused now (a name is checked when
/// mail is sent).
pub async fn set_tenant_smtp(
    db: &Db,
    actor: &Actor,
    keys: &crate::secrets::Keys,
    egress: &crate::egress::Policy,
    smtp: Option<crate::delivery::mail::SmtpSpec>,
) -> Result<()> {
    require_admin(actor)?;
    let json = match smtp {
        None => None,
        Some(spec) => {
            egress.check_literal(spec.host.trim())?;
            let profile = spec.into_profile(keys)?;
            Some(serde_json::to_string(&profile).map_err(|e| Error::Internal(e.to_string()))?)
        }
    };
    let t = actor.tenant;
    db.write(move |c| -> Result<()> { Ok(store::mail::set_tenant_smtp(c, t, json.as_deref())?) })
        .await
}
