//! SLA policies: per queue and priority, the targets in business minutes, when to warn, and what
//! to do on a warning or a breach.

use chrono::TimeDelta;
use serde::{Deserialize, Serialize};

use super::timeline::{Budgets, Target};
use crate::domain::FormatKind;
use crate::domain::InvalidValue;
use crate::domain::Reason;
use crate::store::sla::PolicyRow;

/// When a rule acts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// The configured share of the target is used (default 80 %).
    Warning,
    /// The target is used up.
    Breach,
}

impl Level {
    pub fn key(self) -> &'static str {
        match self {
            Level::Warning => "warning",
            Level::Breach => "breach",
        }
    }
}

/// What a rule does. Each fires once per ticket, target and round.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "do", rename_all = "snake_case")]
pub enum Action {
    /// E-mail the assignee and the queue's leads (and it shows on the ticket and in the lists).
    Notify,
    /// One step more urgent (low → normal → high → urgent).
    RaisePriority,
    /// Transfer to another queue.
    MoveToQueue { queue: i64 },
    /// Give the ticket to a person.
    Assign { user: i64 },
    /// Escalate to the tenant's escalation target of this name (`default`: the queue's default
    /// target), e.g. a case in the records system. Without such a target the request is
    /// recorded on the ticket for an agent to act on.
    Escalate { hook: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    pub on: Level,
    #[serde(flatten)]
    pub action: Action,
    /// The targets the rule applies to (empty: all of them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<Target>,
}

impl Rule {
    pub fn applies(&self, level: Level, target: Target) -> bool {
        self.on == level && (self.targets.is_empty() || self.targets.contains(&target))
    }
}

/// A queue's policy for one priority.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub budgets: Budgets,
    pub warn_percent: u8,
    pub rules: Vec<Rule>,
}

fn minutes(m: Option<i32>, field: &'static str) -> Result<Option<TimeDelta>, InvalidValue> {
    match m {
        None => Ok(None),
        Some(m) if m > 0 => Ok(Some(TimeDelta::minutes(i64::from(m)))),
        Some(_) => Err(InvalidValue::new(field, Reason::TargetMinute)),
    }
}

impl Policy {
    pub fn from_row(row: &PolicyRow) -> Result<Policy, InvalidValue> {
        let warn_percent = u8::try_from(row.warn_percent)
            .ok()
            .filter(|p| (1..=99).contains(p))
            .ok_or_else(|| InvalidValue::new("warn_percent", Reason::Range { min: 1, max: 99 }))?;
        Ok(Policy {
            budgets: Budgets {
                first_response: minutes(row.first_response_minutes, "first_response")?,
                next_response: minutes(row.next_response_minutes, "next_response")?,
                resolution: minutes(row.resolution_minutes, "resolution")?,
            },
            warn_percent,
            rules: parse_rules(&row.rules)?,
        })
    }
}

/// Rules as stored (a JSON list), e.g.
/// `[{"on":"warning","do":"notify"},{"on":"breach","do":"raise_priority"}]`.
pub fn parse_rules(json: &str) -> Result<Vec<Rule>, InvalidValue> {
    serde_json::from_str(json).map_err(|_| InvalidValue::new("rules", Reason::Damaged))
}

/// Business minutes from "90", "1:30", "4h", "2d" (a business day is eight hours here only as a
/// way of writing; the clock counts the calendar's real opening hours).
pub fn parse_minutes(s: &str) -> Result<Option<i32>, InvalidValue> {
    let s = s.trim().to_lowercase();
    if s.is_empty() || s == "-" {
        return Ok(None);
    }
    let bad = || InvalidValue::new("target", Reason::format(s.as_str(), FormatKind::Duration));
    let n = |x: &str| x.trim().parse::<i32>().map_err(|_| bad());
    let m = if let Some((h, m)) = s.split_once(':') {
        n(h)? * 60 + n(m)?
    } else if let Some(h) = s.strip_suffix('h') {
        n(h)? * 60
    } else if let Some(d) = s.strip_suffix('d') {
        n(d)? * 8 * 60
    } else {
        n(s.strip_suffix("min").unwrap_or(&s))?
    };
    if m <= 0 {
        return Err(bad());
    }
    Ok(Some(m))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_read_from_their_stored_form() {
        let rules = parse_rules(
            r#"[{"on":"warning","do":"notify"},
                {"on":"breach","do":"move_to_queue","queue":4,"targets":["resolution"]},
                {"on":"breach","do":"escalate","hook":"diariet"}]"#,
        )
        .unwrap();
        assert_eq!(rules.len(), 3);
        assert!(rules[1].applies(Level::Breach, Target::Resolution));
        assert!(!rules[1].applies(Level::Breach, Target::FirstResponse));
        assert!(rules[2].applies(Level::Breach, Target::FirstResponse));
        assert!(parse_rules(r#"[{"on":"later","do":"notify"}]"#).is_err());
        assert!(
            parse_rules(r#"[{"on":"breach","do":"assign"}]"#).is_err(),
            "needs a user"
        );
    }

    #[test]
    fn targets_are_written_the_way_people_say_them() {
        assert_eq!(parse_minutes("90").unwrap(), Some(90));
        assert_eq!(parse_minutes("1:30").unwrap(), Some(90));
        assert_eq!(parse_minutes("4h").unwrap(), Some(240));
        assert_eq!(parse_minutes("2d").unwrap(), Some(960));
        assert_eq!(parse_minutes("").unwrap(), None);
        assert!(parse_minutes("0").is_err());
        assert!(parse_minutes("soon").is_err());
    }
}
