//! Agent accounts, sign-in and who may do what.
//!
//! An `Actor` is the caller of a use case: tenant, person, role, queue memberships and (for API
//! tokens) scopes. Most are people signed in by session or API token; `Actor::operator` is the
//! installation's operator at the command line and `Actor::system` a background worker — tenant
//! administrators that are no person, so `Actor::user()` refuses them where a person is needed.
//! Every tenant-data use case takes an `&Actor`; its `tenant` is the only `TenantId` a request
//! ever gets, so a request cannot reach another tenant's rows.

pub mod housekeeping;
pub mod password;
pub mod permissions;
pub mod throttle;
pub mod tokens;

use chrono::{Duration, NaiveDateTime};

use crate::config;
use crate::domain::Reason;
use crate::domain::{EmailAddress, MembershipRole, QueueAccess, QueueId, Role, TenantId, UserId};
use crate::error::{Error, Result};
use crate::store::{self, Db};
use password::NewPassword;
use tokens::{Claims, Signer, TokenKind};

/// What an API token may do. Sessions carry every scope (the role still decides: an agent's
/// session reaches no admin route). Each /api/v1 route declares the scope it needs in
/// `web::api::ROUTES`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    TicketsRead,
    TicketsWrite,
    QueuesRead,
    /// Statistics and survey results (`/api/v1/stats/…`): the figures of the queues the
    /// token's user may see, for the municipality's own BI tools.
    StatsRead,
    /// The tenant's administration through the API (function mailboxes); only an admin's token
    /// can use it.
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 5] = [
        Scope::TicketsRead,
        Scope::TicketsWrite,
        Scope::QueuesRead,
        Scope::StatsRead,
        Scope::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::TicketsRead => "tickets:read",
            Scope::TicketsWrite => "tickets:write",
            Scope::QueuesRead => "queues:read",
            Scope::StatsRead => "stats:read",
            Scope::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Result<Scope, crate::domain::InvalidValue> {
        Scope::ALL
            .into_iter()
            .find(|x| x.as_str() == s.trim())
            .ok_or_else(|| {
                let all: Vec<&str> = Scope::ALL.iter().map(|x| x.as_str()).collect();
                crate::domain::InvalidValue::new(
                    "scope",
                    crate::domain::Reason::not_one_of(s.trim(), &all),
                )
            })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Session,
    ApiToken,
    /// The installation's operator at the command line (`arendo …`): the tenant's administrator,
    /// but no person of the tenant.
    Operator,
    /// A background worker acting for the installation.
    System,
}

#[derive(Debug, Clone)]
pub struct Actor {
    pub tenant: TenantId,
    /// The signed-in person; None for the operator and the system, who are nobody's account.
    /// Read it with `user()` (where a person is needed) or `person()` (to compare).
    person: Option<UserId>,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub locale: String,
    pub memberships: Vec<(QueueId, MembershipRole)>,
    pub scopes: Vec<Scope>,
    pub via: Via,
    /// The session or API token id.
    pub credential_id: String,
}

impl Actor {
    /// A person signed in by session or API token (`load_actor`; the tests build theirs).
    #[allow(clippy::too_many_arguments)]
    pub fn signed_in(
        tenant: TenantId,
        user: UserId,
        email: String,
        name: String,
        role: Role,
        locale: String,
        memberships: Vec<(QueueId, MembershipRole)>,
        scopes: Vec<Scope>,
        via: Via,
        credential_id: String,
    ) -> Actor {
        Actor {
            tenant,
            person: Some(user),
            email,
            name,
            role,
            locale,
            memberships,
            scopes,
            via,
            credential_id,
        }
    }

    /// The installation's operator acting on one tenant (the command line): an administrator
    /// with every scope, member of no queue, and no person — a use case that needs one (assign to
    /// me, author a message, change one's own password) refuses it with `Forbidden`.
    pub fn operator(tenant: TenantId) -> Actor {
        Actor::installation(tenant, Via::Operator, "operator")
    }

    /// A background worker acting for the installation on one tenant.
    pub fn system(tenant: TenantId) -> Actor {
        Actor::installation(tenant, Via::System, "system")
    }

    fn installation(tenant: TenantId, via: Via, name: &str) -> Actor {
        Actor {
            tenant,
            person: None,
            email: String::new(),
            name: name.to_string(),
            role: Role::Admin,
            locale: "en".into(),
            memberships: vec![],
            scopes: Scope::ALL.to_vec(),
            via,
            credential_id: name.to_string(),
        }
    }

    /// The person acting, where a use case needs one (assignment, authorship, "me", sessions):
    /// `Forbidden` for the operator and the system.
    pub fn user(&self) -> Result<UserId> {
        self.person
            .ok_or(Error::Forbidden("the operator is no person of the tenant"))
    }

    /// The person acting, if any (to compare: "is this me?" is false for the operator).
    pub fn person(&self) -> Option<UserId> {
        self.person
    }

    pub fn queue_access(&self) -> QueueAccess {
        match self.role {
            Role::Admin => QueueAccess::All,
            Role::Agent => QueueAccess::Only(self.memberships.iter().map(|(q, _)| *q).collect()),
            Role::Handler => QueueAccess::Only(vec![]),
        }
    }

    pub fn require(&self, scope: Scope) -> Result<()> {
        if self.scopes.contains(&scope) {
            Ok(())
        } else {
            Err(Error::Forbidden("the token lacks the scope for this"))
        }
    }

    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

/// Load the actor behind verified claims, checking the session/token row and the account.
fn load_actor(conn: &mut store::Conn, claims: &Claims, now: NaiveDateTime) -> Result<Actor> {
    // The user row must exist in the claimed tenant; that also proves the tenant exists.
    let tenant = TenantId::from_db(claims.tid);
    let user = store::users::lookup(conn, tenant, claims.sub)?.ok_or(Error::Unauthenticated)?;
    if !user.active {
        return Err(Error::Unauthenticated);
    }
    let (via, scopes) = match claims.typ {
        TokenKind::Session => {
            if !store::auth::session_is_live(conn, tenant, user.id, &claims.jti, now)? {
                return Err(Error::Unauthenticated);
            }
            // A handler's session reaches no ticket, queue or list: only their referrals.
            let scopes = match user.role {
                Role::Handler => vec![],
                _ => Scope::ALL.to_vec(),
            };
            (Via::Session, scopes)
        }
        TokenKind::Api => {
            let row =
                store::auth::token(conn, tenant, &claims.jti)?.ok_or(Error::Unauthenticated)?;
            if row.revoked_at.is_some()
                || row.user_id != user.id.get()
                || row.expires_at.is_some_and(|e| e <= now)
            {
                return Err(Error::Unauthenticated);
            }
            let scopes = row
                .scopes
                .split(' ')
                .filter(|s| !s.is_empty())
                .filter_map(|s| Scope::parse(s).ok())
                .collect();
            (Via::ApiToken, scopes)
        }
    };
    let memberships = store::users::memberships(conn, tenant, user.id)?;
    Ok(Actor::signed_in(
        tenant,
        user.id,
        user.email,
        user.display_name,
        user.role,
        user.locale,
        memberships,
        scopes,
        via,
        claims.jti.clone(),
    ))
}

/// Authenticate a session cookie or bearer token.
pub async fn authenticate(db: &Db, signer: &Signer, token: &str, kind: TokenKind) -> Result<Actor> {
    let claims = signer.verify(token, kind).ok_or(Error::Unauthenticated)?;
    db.read(move |c| load_actor(c, &claims, store::now())).await
}

pub struct LoginAttempt {
    pub tenant_slug: String,
    pub email: String,
    pub password: String,
    pub ip: String,
    /// The browser's device cookie, if it sent one.
    pub device: Option<String>,
}

/// A successful sign-in: the session token, the actor, and a fresh device cookie value.
pub struct SignedIn {
    pub token: String,
    pub actor: Actor,
    pub device: String,
}

/// What a device cookie says: this browser signed in as `uid` of `tid` before (OWASP "device
/// cookies"). Signed with the installation key; its own shape, so no other token decodes as one.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct DeviceClaims {
    dvc: String,
    tid: i64,
    uid: i64,
    exp: i64,
}

/// Check credentials; on success open a session and return its signed token.
/// Wrong tenant, unknown address, wrong password and deactivated account all give the same
/// `BadCredentials`. Every attempt is counted before the password is checked (see `throttle`):
/// per account and client, per client, and per account with growing delays — or, from a browser
/// with a valid device cookie for the account, only against that cookie. The check itself runs
/// on the bounded hashing pool (`password`).
pub async fn login(
    db: &Db,
    signer: &Signer,
    cfg: &config::Auth,
    attempt: LoginAttempt,
) -> Result<SignedIn> {
    let now = store::now();
    let user = find_account(db, &attempt).await?;
    let device = attempt
        .device
        .as_deref()
        .and_then(|d| signer.verify_claims::<DeviceClaims>(d))
        .filter(|d| {
            user.as_ref()
                .is_some_and(|u| u.id.get() == d.uid && u.tenant.get() == d.tid)
        });
    let (lane, keys) = count_attempt(db, cfg, &attempt, device.as_ref(), now).await?;
    let stored = user.as_ref().map(|u| u.password_hash.clone());
    let ok = password::verify_bounded(attempt.password, stored, lane).await?;
    let user = match user {
        Some(u) if ok && u.active => u,
        _ => {
            tracing::info!(ip = %attempt.ip, trusted = lane == password::Lane::Trusted, "failed login");
            return Err(Error::BadCredentials);
        }
    };
    let (claims, actor) = open_session(db, cfg, &user, keys, now).await?;
    let device = signer.sign_claims(&DeviceClaims {
        dvc: crate::secrets::new_id(),
        tid: user.tenant.get(),
        uid: user.id.get(),
        exp: (now + Duration::days(i64::from(cfg.device_cookie_days.max(1))))
            .and_utc()
            .timestamp(),
    });
    tracing::info!(user = %user.id, tenant = %actor.tenant, "signed in");
    Ok(SignedIn {
        token: signer.sign(&claims),
        actor,
        device,
    })
}

/// The account the attempt names (tenant slug and address), if there is one.
async fn find_account(db: &Db, attempt: &LoginAttempt) -> Result<Option<store::users::User>> {
    let slug = attempt.tenant_slug.clone();
    let email = EmailAddress::parse(&attempt.email).ok();
    db.read(move |c| -> Result<_> {
        let Some(t) = store::tenants::by_slug(c, &slug)? else {
            return Ok(None);
        };
        let Some(email) = email else { return Ok(None) };
        Ok(store::users::by_email(c, t.id, &email)?)
    })
    .await
}

/// Count the attempt (see `throttle`): against the device cookie when the browser has a valid
/// one for the account and it has failures left, else per client, per account and client, and
/// per account. Returns the hashing lane and the throttle keys counted, or `Throttled`.
async fn count_attempt(
    db: &Db,
    cfg: &config::Auth,
    attempt: &LoginAttempt,
    device: Option<&DeviceClaims>,
    now: NaiveDateTime,
) -> Result<(password::Lane, Vec<(String, throttle::Rule)>)> {
    let rules = throttle::Rules::from_config(cfg);
    let untrusted = vec![
        (throttle::ip_key(&attempt.ip), rules.client),
        (
            throttle::account_client_key(&attempt.tenant_slug, &attempt.email, &attempt.ip),
            rules.account_client,
        ),
        (
            throttle::account_key(&attempt.tenant_slug, &attempt.email),
            rules.account,
        ),
    ];
    let trusted = device.map(|d| vec![(throttle::device_key(&d.dvc), rules.device)]);
    db.write(move |c| -> Result<_> {
        // A device cookie that used up its own failures counts as nothing special.
        if let Some(keys) = trusted
            && throttle::admit(c, &keys, now)?.is_none()
        {
            return Ok((password::Lane::Trusted, keys));
        }
        match throttle::admit(c, &untrusted, now)? {
            Some(secs) => Err(Error::Throttled {
                retry_after_secs: secs,
            }),
            None => Ok((password::Lane::General, untrusted)),
        }
    })
    .await
}

/// Open a session for the signed-in account and forgive the attempt on the throttle `keys`;
/// returns the session's claims and its actor.
async fn open_session(
    db: &Db,
    cfg: &config::Auth,
    user: &store::users::User,
    keys: Vec<(String, throttle::Rule)>,
    now: NaiveDateTime,
) -> Result<(Claims, Actor)> {
    let sid = crate::secrets::new_id();
    let exp = now + Duration::hours(i64::from(cfg.session_hours));
    let claims = Claims {
        sub: user.id.get(),
        tid: user.tenant.get(),
        jti: sid.clone(),
        typ: TokenKind::Session,
        iat: now.and_utc().timestamp(),
        exp: exp.and_utc().timestamp(),
        scp: vec![],
    };
    let (tenant, uid) = (user.tenant, user.id);
    let claims2 = claims.clone();
    let actor = db
        .write(move |c| -> Result<Actor> {
            // The address keeps the others' failures; this attempt was not one.
            for (key, rule) in &keys {
                if key.starts_with("ip:") {
                    throttle::forgive(c, key, *rule)?;
                } else {
                    throttle::clear(c, key)?;
                }
            }
            store::auth::create_session(c, tenant, uid, &sid, now, exp)?;
            load_actor(c, &claims2, now)
        })
        .await?;
    Ok((claims, actor))
}

pub async fn logout(db: &Db, actor: &Actor) -> Result<()> {
    let (t, sid) = (actor.tenant, actor.credential_id.clone());
    db.write(move |c| -> Result<()> {
        store::auth::revoke_session(c, t, &sid, store::now())?;
        Ok(())
    })
    .await
}

/// Change one's own password. Every other session of the account ends; this one stays. The
/// current-password check is throttled like a sign-in (per account and client, and per account
/// with growing delays), counted before the check; both hashes run on the bounded pool.
pub async fn change_password(
    db: &Db,
    actor: &Actor,
    cfg: &config::Auth,
    ip: &str,
    current: &str,
    new: &str,
) -> Result<()> {
    let new = NewPassword::parse(new)?;
    let (t, u) = (actor.tenant, actor.user()?);
    let now = store::now();
    let rules = throttle::Rules::from_config(cfg);
    let account = format!("{}:{}", t.get(), u.get());
    let keys = vec![
        (
            format!("pwip:{account}\u{0}{}", throttle::client_part(ip)),
            rules.account_client,
        ),
        (format!("pw:{account}"), rules.account),
    ];
    let user = {
        let keys = keys.clone();
        db.write(move |c| -> Result<_> {
            if let Some(secs) = throttle::admit(c, &keys, now)? {
                return Err(Error::Throttled {
                    retry_after_secs: secs,
                });
            }
            Ok(store::users::get(c, t, u)?)
        })
        .await?
    };
    let ok = password::verify_bounded(
        current.to_string(),
        Some(user.password_hash),
        password::Lane::General,
    )
    .await?;
    if !ok {
        return Err(Error::BadCredentials);
    }
    let hash = new.hash_bounded().await?;
    let keep = (actor.via == Via::Session).then(|| actor.credential_id.clone());
    db.write(move |c| -> Result<()> {
        for (key, _) in &keys {
            throttle::clear(c, key)?;
        }
        store::users::set_password_hash(c, t, u, hash.as_str())?;
        store::auth::revoke_user_sessions(c, t, u, keep.as_deref(), store::now())?;
        Ok(())
    })
    .await
}

/// Operator actions on accounts (CLI and admin pages).
pub mod admin {
    use super::*;

    pub struct NewUser<'a> {
        pub email: &'a EmailAddress,
        pub display_name: &'a str,
        pub role: Role,
        pub password: &'a NewPassword,
        pub queues: &'a [(QueueId, MembershipRole)],
    }

    /// Create an account in the caller's transaction (the demo, the benchmarks and the tests seed
    /// so; the admin page and the CLI go through `tenants::admin::create_user`). Hashes here.
    pub fn create_user(
        conn: &mut store::Conn,
        t: TenantId,
        n: NewUser<'_>,
    ) -> Result<store::users::User> {
        let hash = password::HashedPassword::of(n.password);
        insert_user(conn, t, n.email, n.display_name, n.role, &hash, n.queues)
    }

    /// The one way an account comes to be: a display name of 1–120 characters, an address not
    /// yet in the tenant (`Conflict`), and its queue memberships (queues of the tenant).
    pub fn insert_user(
        conn: &mut store::Conn,
        t: TenantId,
        email: &EmailAddress,
        display_name: &str,
        role: Role,
        hash: &password::HashedPassword,
        queues: &[(QueueId, MembershipRole)],
    ) -> Result<store::users::User> {
        let name = display_name.trim();
        if name.is_empty() || name.chars().count() > 120 {
            return Err(crate::domain::InvalidValue::new(
                "display_name",
                Reason::Length { min: 1, max: 120 },
            )
            .into());
        }
        if store::users::by_email(conn, t, email)?.is_some() {
            return Err(Error::Conflict(crate::error::Conflict::UserExists {
                email: email.to_string(),
            }));
        }
        let user = store::users::create(conn, t, email, name, role, hash.as_str())?;
        for (q, role) in queues {
            store::queues::add_member(conn, t, *q, user.id, *role)?;
        }
        Ok(user)
    }

    /// Set a new password (hashed beforehand, outside the transaction: on SQLite the single
    /// writer must not wait for Argon2) and end all the account's sessions. The account's API
    /// tokens stay valid: they are separate credentials (revoke them one by one, or deactivate).
    pub fn set_password(
        conn: &mut store::Conn,
        t: TenantId,
        u: UserId,
        hash: &password::HashedPassword,
    ) -> Result<()> {
        store::users::set_password_hash(conn, t, u, hash.as_str())?;
        store::auth::revoke_user_sessions(conn, t, u, None, store::now())?;
        Ok(())
    }

    /// Deactivate (or reactivate) an account. Deactivation ends all its sessions and revokes all
    /// its API tokens for good: reactivating does not bring them back.
    pub fn set_active(conn: &mut store::Conn, t: TenantId, u: UserId, active: bool) -> Result<()> {
        store::users::set_active(conn, t, u, active)?;
        if !active {
            let now = store::now();
            store::auth::revoke_user_sessions(conn, t, u, None, now)?;
            store::auth::revoke_user_tokens(conn, t, u, now)?;
        }
        Ok(())
    }

    /// Create an API token for a user. Returns (token id, signed token); the token is shown once.
    pub fn create_api_token(
        conn: &mut store::Conn,
        signer: &Signer,
        t: TenantId,
        u: UserId,
        name: &str,
        scopes: &[Scope],
        valid_days: Option<u32>,
    ) -> Result<(String, String)> {
        if scopes.is_empty() {
            return Err(crate::domain::InvalidValue::new("scope", Reason::ChooseAtLeastOne).into());
        }
        let user = store::users::get(conn, t, u)?;
        if !user.active {
            return Err(Error::Conflict(crate::error::Conflict::AccountDeactivated));
        }
        if user.role == Role::Handler {
            return Err(Error::Conflict(crate::error::Conflict::HandlerNoTokens));
        }
        if scopes.contains(&Scope::Admin) && user.role != Role::Admin {
            return Err(Error::Conflict(crate::error::Conflict::AdminScope));
        }
        let now = store::now();
        let expires_at = valid_days.map(|d| now + Duration::days(i64::from(d)));
        let id = crate::secrets::new_id();
        let scope_text: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
        store::auth::create_token(
            conn,
            t,
            store::auth::NewApiToken {
                id: &id,
                user: u,
                name,
                scopes: &scope_text.join(" "),
                now,
                expires_at,
            },
        )?;
        let claims = Claims {
            sub: u.get(),
            tid: t.get(),
            jti: id.clone(),
            typ: TokenKind::Api,
            iat: now.and_utc().timestamp(),
            // Without an expiry the row decides; the JWT itself is given ten years.
            exp: expires_at
                .unwrap_or(now + Duration::days(3650))
                .and_utc()
                .timestamp(),
            scp: scope_text.iter().map(|s| s.to_string()).collect(),
        };
        Ok((id, signer.sign(&claims)))
    }

    /// Create an API token for an account of the actor's tenant (admins; `arendo token create`).
    /// Returns (token id, signed token); the token is shown once.
    pub async fn create_token(
        db: &Db,
        signer: Signer,
        actor: &Actor,
        user: &EmailAddress,
        name: &str,
        scopes: Vec<Scope>,
        valid_days: Option<u32>,
    ) -> Result<(String, String)> {
        permissions::require_admin(actor)?;
        let (t, user, name) = (actor.tenant, user.clone(), name.to_string());
        db.write(move |c| {
            let u = store::users::by_email(c, t, &user)?.ok_or(Error::NotFound("user"))?;
            create_api_token(c, &signer, t, u.id, &name, &scopes, valid_days)
        })
        .await
    }

    /// The tenant's API tokens, newest first, without the tokens themselves (admins).
    pub async fn tokens(db: &Db, actor: &Actor) -> Result<Vec<store::auth::ApiToken>> {
        permissions::require_admin(actor)?;
        let t = actor.tenant;
        db.read(move |c| -> Result<_> { Ok(store::auth::tokens(c, t)?) })
            .await
    }

    /// Revoke an API token of the tenant for good (admins). An unknown or already revoked token
    /// is `NotFound`.
    pub async fn revoke_token(db: &Db, actor: &Actor, id: &str) -> Result<()> {
        permissions::require_admin(actor)?;
        let (t, id) = (actor.tenant, id.trim().to_string());
        db.write(move |c| -> Result<()> {
            if store::auth::revoke_token(c, t, &id, store::now())? {
                Ok(())
            } else {
                Err(Error::NotFound("active token"))
            }
        })
        .await
    }
}
