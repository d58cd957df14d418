//! Setting up service levels: calendars and policies, for the admin pages, the CLI and the demo.
//!
//! - The functions taking a `Conn` run inside the caller's write transaction and leave permission
//!   checks to the caller (the demo seeds so).
//! - The async use cases at the end check that the actor is a tenant admin; the admin pages and
//!   the CLI (as `Actor::operator`) call those.
//! - Both write through the same steps, so a saved calendar or policy recomputes the affected open
//!   tickets at once, whichever way it came in.

use chrono::NaiveDate;
use serde_json::json;

use super::calendar::{Calendar, DayHours};
use super::holidays::Holiday;
use super::policy::{Action, Level, Policy, Rule, parse_minutes};
use super::timeline::Target;
use crate::accounts::Actor;
use crate::domain::FormatKind;
use crate::domain::Reason;
use crate::domain::{EmailAddress, InvalidValue, Priority, QueueId, TenantId};
use crate::error::Conflict;
use crate::error::{Error, Result};
use crate::store::{self, Conn, Db};

/// The fields of the seven weekdays, Monday first (also the form's field names).
pub const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// A calendar as people write it (the admin form, the CLI): hours per weekday as text, the
/// holidays it is closed on, extra closed days and days with their own hours.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CalendarInput {
    pub name: String,
    pub default: bool,
    /// Monday first: "08:00-12:00, 13:00-16:30", "stängt" or empty (closed).
    pub week: [String; 7],
    /// Keys of the holidays and eves it is closed on (`Holiday::key`).
    pub closed_holidays: Vec<String>,
    /// Extra closed days, YYYY-MM-DD, one per line (or separated by commas).
    pub closed_days: String,
    /// Days with their own hours, one per line: "2026-12-23 08:00-12:00".
    pub special_days: String,
}

impl CalendarInput {
    /// The form's fields for a stored calendar.
    pub fn of(name: &str, default: bool, cal: &Calendar) -> CalendarInput {
        let hours = |h: &DayHours| {
            if h.is_closed() {
                "stängt".to_string()
            } else {
                h.to_string()
            }
        };
        CalendarInput {
            name: name.to_string(),
            default,
            week: std::array::from_fn(|i| hours(&cal.week[i])),
            closed_holidays: cal
                .closed_holidays
                .iter()
                .map(|h| h.key().to_string())
                .collect(),
            closed_days: cal
                .closed_days
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join("\n"),
            special_days: cal
                .special_days
                .iter()
                .map(|(d, h)| format!("{d} {}", hours(h)))
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }

    /// Parse every field; the first bad one is named in the error.
    pub fn calendar(&self) -> std::result::Result<Calendar, InvalidValue> {
        let mut week: [DayHours; 7] = std::array::from_fn(|_| DayHours::closed());
        for (i, text) in self.week.iter().enumerate() {
            week[i] =
                DayHours::parse(text).map_err(|e| InvalidValue::new(WEEKDAYS[i], e.reason))?;
        }
        let closed_holidays = self
            .closed_holidays
            .iter()
            .map(|k| {
                Holiday::parse(k).ok_or_else(|| InvalidValue::new("holidays", Reason::unknown(k)))
            })
            .collect::<std::result::Result<_, _>>()?;
        let date = |field: &'static str, s: &str| {
            s.trim()
                .parse::<NaiveDate>()
                .map_err(|_| InvalidValue::new(field, Reason::format(s.trim(), FormatKind::Date)))
        };
        let lines = |s: &str| {
            s.split(['\n', ','])
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(String::from)
                .collect::<Vec<_>>()
        };
        let closed_days = lines(&self.closed_days)
            .iter()
            .map(|l| date("closed_days", l))
            .collect::<std::result::Result<_, _>>()?;
        let mut special_days = std::collections::BTreeMap::new();
        for line in self
            .special_days
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
        {
            let (d, h) = line.split_once([' ', '=']).ok_or_else(|| {
                InvalidValue::new("special_days", Reason::format(line, FormatKind::SpecialDay))
            })?;
            let hours =
                DayHours::parse(h).map_err(|e| InvalidValue::new("special_days", e.reason))?;
            special_days.insert(date("special_days", d)?, hours);
        }
        Ok(Calendar {
            week,
            closed_holidays,
            closed_days,
            special_days,
        })
    }
}

/// A rule as one line of text: `breach:raise_priority`, `warning:notify`,
/// `breach:move_to_queue=<queue slug>`, `breach:assign=<e-mail>`, `breach:escalate=<hook>`,
/// optionally limited to targets: `breach:raise_priority@first_response,resolution`.
pub fn parse_rule(c: &mut Conn, t: TenantId, text: &str) -> Result<Rule> {
    let bad = || InvalidValue::new("rules", Reason::format(text.trim(), FormatKind::SlaRule));
    let (rule, targets) = text.split_once('@').unwrap_or((text, ""));
    let (on, what) = rule.split_once(':').ok_or_else(bad)?;
    let on = match on.trim() {
        "warning" => Level::Warning,
        "breach" => Level::Breach,
        _ => return Err(bad().into()),
    };
    let (action, arg) = what.split_once('=').unwrap_or((what, ""));
    let arg = arg.trim();
    let action = match action.trim() {
        "notify" => Action::Notify,
        "raise_priority" => Action::RaisePriority,
        "move_to_queue" => Action::MoveToQueue {
            queue: store::queues::by_slug(c, t, arg)?
                .ok_or_else(|| InvalidValue::new("rules", Reason::unknown(arg)))?
                .id
                .get(),
        },
        "assign" => {
            let email = EmailAddress::parse(arg)?;
            Action::Assign {
                user: store::users::by_email(c, t, &email)?
                    .filter(|u| u.active)
                    .ok_or_else(|| InvalidValue::new("rules", Reason::unknown(arg)))?
                    .id
                    .get(),
            }
        }
        "escalate" if !arg.is_empty() => Action::Escalate {
            hook: arg.to_string(),
        },
        _ => return Err(bad().into()),
    };
    let targets = targets
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| Target::parse(s).map_err(|_| InvalidValue::new("rules", Reason::unknown(s))))
        .collect::<std::result::Result<_, _>>()?;
    Ok(Rule {
        on,
        action,
        targets,
    })
}

/// The line `parse_rule` reads back into the same rule.
pub fn rule_text(c: &mut Conn, t: TenantId, r: &Rule) -> Result<String> {
    let action = match &r.action {
        Action::Notify => "notify".to_string(),
        Action::RaisePriority => "raise_priority".to_string(),
        Action::MoveToQueue { queue } => format!(
            "move_to_queue={}",
            store::queues::lookup(c, t, *queue)?.map_or_else(|| queue.to_string(), |q| q.slug)
        ),
        Action::Assign { user } => format!(
            "assign={}",
            store::users::lookup(c, t, *user)?.map_or_else(|| user.to_string(), |u| u.email)
        ),
        Action::Escalate { hook } => format!("escalate={hook}"),
    };
    let targets: Vec<&str> = r.targets.iter().map(|t| t.key()).collect();
    Ok(if targets.is_empty() {
        format!("{}:{action}", r.on.key())
    } else {
        format!("{}:{action}@{}", r.on.key(), targets.join(","))
    })
}

/// Store a calendar under `name` (replacing one with that name); `default` makes it the one
/// queues without their own calendar use.
pub fn save_calendar(
    c: &mut Conn,
    t: TenantId,
    name: &str,
    cal: &Calendar,
    default: bool,
) -> Result<i64> {
    let name = name.trim();
    if name.is_empty() {
        return Err(InvalidValue::new("name", Reason::Empty).into());
    }
    if !cal.ever_open() {
        return Err(InvalidValue::new("hours", Reason::CalendarClosed).into());
    }
    let spec = serde_json::to_string(cal).map_err(|e| Error::Internal(e.to_string()))?;
    let id = store::sla::save_calendar(c, t, name, &spec, default, store::now())?;
    // Open tickets of the queues on this calendar get their due times recomputed now.
    for (q, own) in store::sla::queue_calendar_ids(c, t)? {
        if own == Some(id) || (own.is_none() && default) {
            refresh_open(c, t, q, None)?;
        }
    }
    Ok(id)
}

/// Give a queue its own calendar (None: the tenant's default) and recompute its open tickets.
pub fn use_calendar(c: &mut Conn, t: TenantId, q: QueueId, calendar: Option<i64>) -> Result<()> {
    if !store::sla::set_queue_calendar(c, t, q, calendar)? {
        return Err(Error::NotFound("calendar"));
    }
    refresh_open(c, t, q, None)
}

/// Recompute the clocks of a queue's open tickets (after its policy or calendar changed).
fn refresh_open(c: &mut Conn, t: TenantId, q: QueueId, p: Option<Priority>) -> Result<()> {
    let now = chrono::Utc::now();
    for ticket in store::sla::open_tickets(c, t, q, p)? {
        super::engine::refresh(c, t, ticket, now)?;
    }
    Ok(())
}

/// A policy as people write it: targets like "4h", "1:30", "2d" or empty (not measured).
#[derive(Debug, Clone, Default)]
pub struct PolicyInput {
    pub first_response: String,
    pub next_response: String,
    pub resolution: String,
    /// Warn at this share of a target (1–99; default 80).
    pub warn_percent: Option<i32>,
    pub rules: Vec<Rule>,
}

/// A target's minutes, an error naming the target's field.
fn minutes(field: &'static str, text: &str) -> std::result::Result<Option<i32>, InvalidValue> {
    parse_minutes(text).map_err(|e| InvalidValue::new(field, e.reason))
}

pub fn save_policy(
    c: &mut Conn,
    t: TenantId,
    queue: QueueId,
    priority: Priority,
    p: &PolicyInput,
) -> Result<()> {
    let warn = p.warn_percent.unwrap_or(80);
    if !(1..=99).contains(&warn) {
        return Err(InvalidValue::new("warn_percent", Reason::Range { min: 1, max: 99 }).into());
    }
    let rules = json!(p.rules).to_string();
    store::sla::save_policy(
        c,
        t,
        queue,
        priority,
        &store::sla::NewPolicy {
            first_response_minutes: minutes("first_response", &p.first_response)?,
            next_response_minutes: minutes("next_response", &p.next_response)?,
            resolution_minutes: minutes("resolution", &p.resolution)?,
            warn_percent: warn,
            rules: &rules,
        },
        store::now(),
    )?;
    refresh_open(c, t, queue, Some(priority))
}

/// A policy as the admin form shows it (targets in minutes as text, rules one per line).
#[derive(Debug, Clone, Default)]
pub struct PolicyText {
    pub first_response: String,
    pub next_response: String,
    pub resolution: String,
    pub warn_percent: String,
    pub rules: String,
}

/// One calendar of the tenant.
pub struct CalendarView {
    pub id: i64,
    pub input: CalendarInput,
}

/// A queue with its calendar (None: the tenant's default) and its policies by priority.
pub struct QueueSetup {
    pub id: QueueId,
    pub name: String,
    pub calendar: Option<i64>,
    pub policies: Vec<(Priority, Option<Policy>)>,
}

/// Everything the service-level admin page shows.
pub struct Setup {
    pub calendars: Vec<CalendarView>,
    pub queues: Vec<QueueSetup>,
}

fn require_admin(actor: &Actor) -> Result<()> {
    crate::accounts::permissions::require_admin(actor)
}

pub async fn setup(db: &Db, actor: &Actor) -> Result<Setup> {
    require_admin(actor)?;
    let t = actor.tenant;
    db.read(move |c| -> Result<Setup> {
        let calendars = store::sla::calendars(c, t)?
            .into_iter()
            .map(|row| {
                let cal = super::engine::parse_calendar(&row)?;
                Ok(CalendarView {
                    id: row.id,
                    input: CalendarInput::of(&row.name, row.is_default, &cal),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let own: std::collections::HashMap<QueueId, Option<i64>> =
            store::sla::queue_calendar_ids(c, t)?.into_iter().collect();
        let policies = store::sla::policies(c, t)?;
        let mut queues = vec![];
        for q in store::queues::list(c, t)? {
            let by_priority = Priority::ALL
                .iter()
                .map(|p| {
                    let row = policies
                        .iter()
                        .find(|r| r.queue_id == q.id.get() && r.priority == p.as_str());
                    Ok((*p, row.map(Policy::from_row).transpose()?))
                })
                .collect::<Result<Vec<_>>>()?;
            queues.push(QueueSetup {
                id: q.id,
                name: q.name,
                calendar: own.get(&q.id).copied().flatten(),
                policies: by_priority,
            });
        }
        Ok(Setup { calendars, queues })
    })
    .await
}

/// Save a calendar from the admin form: `id` None creates one (a name in use is a conflict),
/// else replaces that calendar (it may be renamed).
pub async fn save_calendar_form(
    db: &Db,
    actor: &Actor,
    id: Option<i64>,
    input: CalendarInput,
) -> Result<i64> {
    require_admin(actor)?;
    let cal = input.calendar()?;
    let t = actor.tenant;
    db.write(move |c| -> Result<i64> {
        let existing = store::sla::calendars(c, t)?;
        let name = input.name.trim();
        if existing.iter().any(|r| r.name == name && Some(r.id) != id) {
            return Err(Error::Conflict(Conflict::CalendarExists));
        }
        if let Some(id) = id {
            if !existing.iter().any(|r| r.id == id) {
                return Err(Error::NotFound("calendar"));
            }
            store::sla::rename_calendar(c, t, id, name)?;
        }
        save_calendar(c, t, name, &cal, input.default)
    })
    .await
}

/// Delete a calendar no queue works by. The default calendar, or one a queue has chosen, is
/// refused (a conflict naming why): the clocks of open tickets depend on it.
pub async fn delete_calendar(db: &Db, actor: &Actor, id: i64) -> Result<()> {
    require_admin(actor)?;
    let t = actor.tenant;
    db.write(move |c| -> Result<()> {
        let cal = store::sla::calendars(c, t)?
            .into_iter()
            .find(|r| r.id == id)
            .ok_or(Error::NotFound("calendar"))?;
        if cal.is_default {
            return Err(Error::Conflict(Conflict::DefaultCalendar));
        }
        if store::sla::queue_calendar_ids(c, t)?
            .iter()
            .any(|(_, own)| *own == Some(id))
        {
            return Err(Error::Conflict(Conflict::CalendarInUse));
        }
        store::sla::delete_calendar(c, t, id)?;
        Ok(())
    })
    .await
}

/// Give a queue its own calendar (None: the tenant's default), from the admin page.
pub async fn use_calendar_form(
    db: &Db,
    actor: &Actor,
    queue: i64,
    calendar: Option<i64>,
) -> Result<()> {
    require_admin(actor)?;
    let t = actor.tenant;
    db.write(move |c| -> Result<()> {
        let q = store::queues::lookup(c, t, queue)?.ok_or(Error::NotFound("queue"))?;
        use_calendar(c, t, q.id, calendar)
    })
    .await
}

/// A queue's policy for one priority as the form shows it (a new one starts empty, warning
/// at 80 %), with the queue's name.
pub async fn policy_form(
    db: &Db,
    actor: &Actor,
    queue: i64,
    priority: Priority,
) -> Result<(String, PolicyText)> {
    require_admin(actor)?;
    let t = actor.tenant;
    db.read(move |c| -> Result<(String, PolicyText)> {
        let q = store::queues::lookup(c, t, queue)?.ok_or(Error::NotFound("queue"))?;
        let Some(row) = store::sla::policy(c, t, q.id, priority)? else {
            return Ok((
                q.name,
                PolicyText {
                    warn_percent: "80".into(),
                    ..Default::default()
                },
            ));
        };
        let policy = Policy::from_row(&row)?;
        let m = |v: Option<i32>| v.map(|m| m.to_string()).unwrap_or_default();
        let rules = policy
            .rules
            .iter()
            .map(|r| rule_text(c, t, r))
            .collect::<Result<Vec<_>>>()?;
        Ok((
            q.name,
            PolicyText {
                first_response: m(row.first_response_minutes),
                next_response: m(row.next_response_minutes),
                resolution: m(row.resolution_minutes),
                warn_percent: row.warn_percent.to_string(),
                rules: rules.join("\n"),
            },
        ))
    })
    .await
}

/// Save a queue's policy for one priority from the admin form.
pub async fn save_policy_form(
    db: &Db,
    actor: &Actor,
    queue: i64,
    priority: Priority,
    form: PolicyText,
) -> Result<()> {
    require_admin(actor)?;
    let warn = match form.warn_percent.trim() {
        "" => None,
        w => Some(
            w.trim_end_matches('%')
                .trim()
                .parse::<i32>()
                .map_err(|_| InvalidValue::new("warn_percent", Reason::NotANumber))?,
        ),
    };
    let t = actor.tenant;
    db.write(move |c| -> Result<()> {
        let q = store::queues::lookup(c, t, queue)?.ok_or(Error::NotFound("queue"))?;
        let rules = form
            .rules
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(|l| parse_rule(c, t, l))
            .collect::<Result<Vec<_>>>()?;
        save_policy(
            c,
            t,
            q.id,
            priority,
            &PolicyInput {
                first_response: form.first_response,
                next_response: form.next_response,
                resolution: form.resolution,
                warn_percent: warn,
                rules,
            },
        )
    })
    .await
}

/// Create or replace (by name) a calendar (admins; `arendo sla calendar`). The admin form's
/// `save_calendar_form` refuses a name in use instead: there a new calendar is meant.
pub async fn put_calendar(db: &Db, actor: &Actor, input: CalendarInput) -> Result<i64> {
    require_admin(actor)?;
    let cal = input.calendar()?;
    let t = actor.tenant;
    db.write(move |c| save_calendar(c, t, &input.name, &cal, input.default))
        .await
}
