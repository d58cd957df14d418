//! A ticket's SLA clocks, replayed from its history.
//!
//! Given what happened to a ticket (created, citizen messages, replies, status changes, in time
//! order), a policy's targets and the queue's calendar, `replay` says for each target how much
//! business time has been used, whether the clock is running now and since when, and whether and
//! when the target was met. Nothing here reads the clock or the database, so the result is the
//! same on every node and for every re-run (the engine can recompute after any change).
//!
//! The clocks:
//! - **first response**: from creation until the first reply to the citizen;
//! - **next response**: from a citizen message that arrives after a reply until the next reply
//!   (one round per such message; a second message before the reply does not restart it);
//! - **resolution**: from creation until the ticket is resolved or closed (a reopened ticket's
//!   clock continues where it stopped).
//!
//! All clocks pause while the ticket waits for the citizen (status `waiting`) and stop while it
//! is resolved or closed; the status going back to new/open (a citizen reply does that) resumes
//! them.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use super::calendar::Calendar;
use crate::domain::Reason;
use crate::domain::{InvalidValue, Status};

/// What an SLA measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    FirstResponse,
    NextResponse,
    Resolution,
}

impl Target {
    pub const ALL: [Target; 3] = [
        Target::FirstResponse,
        Target::NextResponse,
        Target::Resolution,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Target::FirstResponse => "first_response",
            Target::NextResponse => "next_response",
            Target::Resolution => "resolution",
        }
    }

    pub fn parse(s: &str) -> Result<Target, InvalidValue> {
        Target::ALL
            .into_iter()
            .find(|t| t.key() == s.trim())
            .ok_or_else(|| InvalidValue::new("target", Reason::unknown(s)))
    }
}

/// Something that happened to a ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fact {
    Created,
    /// A message from the citizen.
    Inbound,
    /// A reply to the citizen.
    Outbound,
    /// The status became this.
    Status(Status),
}

/// Business-time budgets of a policy (a target left out is not measured).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Budgets {
    pub first_response: Option<TimeDelta>,
    pub next_response: Option<TimeDelta>,
    pub resolution: Option<TimeDelta>,
}

impl Budgets {
    pub fn get(&self, t: Target) -> Option<TimeDelta> {
        match t {
            Target::FirstResponse => self.first_response,
            Target::NextResponse => self.next_response,
            Target::Resolution => self.resolution,
        }
    }
}

/// One clock after the history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clock {
    pub target: Target,
    /// The round of this target: next response counts one per citizen message it answers;
    /// the others are always 1. Warnings and breaches fire once per round.
    pub cycle: i32,
    pub budget: TimeDelta,
    /// Business time used, up to `running_since` when running, in total otherwise.
    pub used: TimeDelta,
    /// Running since then (None: paused, stopped or met).
    pub running_since: Option<DateTime<Utc>>,
    /// When the target was met (the reply, the resolution).
    pub met_at: Option<DateTime<Utc>>,
    /// Whether it was met within its budget.
    pub met_in_time: Option<bool>,
}

/// How a running clock stands at a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Standing {
    Ok,
    Warning,
    Breached,
}

impl Clock {
    /// When the budget runs out (None unless running).
    pub fn due(&self, cal: &Calendar) -> Option<DateTime<Utc>> {
        let since = self.running_since?;
        cal.add(since, (self.budget - self.used).max(TimeDelta::zero()))
    }

    /// When `percent` of the budget is used (None unless running).
    pub fn mark(&self, cal: &Calendar, percent: u8) -> Option<DateTime<Utc>> {
        let since = self.running_since?;
        let share = self.budget * i32::from(percent) / 100;
        cal.add(since, (share - self.used).max(TimeDelta::zero()))
    }

    /// Business time used at `now` (counting the running stretch).
    pub fn used_at(&self, cal: &Calendar, now: DateTime<Utc>) -> TimeDelta {
        self.used
            + self
                .running_since
                .map(|s| cal.between(s, now))
                .unwrap_or_default()
    }

    /// Business time left at `now`; negative when overdue.
    pub fn left_at(&self, cal: &Calendar, now: DateTime<Utc>) -> TimeDelta {
        self.budget - self.used_at(cal, now)
    }

    /// Ok, warning (at least `warn_percent` of the budget used) or breached, for an open clock.
    pub fn standing(&self, cal: &Calendar, now: DateTime<Utc>, warn_percent: u8) -> Standing {
        let used = self.used_at(cal, now);
        if used >= self.budget {
            Standing::Breached
        } else if used >= self.budget * i32::from(warn_percent) / 100 {
            Standing::Warning
        } else {
            Standing::Ok
        }
    }

    /// Still to be met (not met and not cancelled by the ticket closing).
    pub fn is_open(&self) -> bool {
        self.met_at.is_none()
    }
}

struct Running {
    clock: Clock,
    /// The clock counts when the ticket is in a working status.
    active: bool,
}

impl Running {
    fn new(target: Target, budget: TimeDelta, cycle: i32) -> Running {
        Running {
            clock: Clock {
                target,
                cycle,
                budget,
                used: TimeDelta::zero(),
                running_since: None,
                met_at: None,
                met_in_time: None,
            },
            active: true,
        }
    }

    /// Start or stop counting at `at` so that the clock runs exactly when it should.
    fn set(&mut self, cal: &Calendar, working: bool, at: DateTime<Utc>) {
        let run = working && self.active && self.clock.met_at.is_none();
        match (self.clock.running_since, run) {
            (Some(since), false) => {
                self.clock.used += cal.between(since, at);
                self.clock.running_since = None;
            }
            (None, true) => self.clock.running_since = Some(at),
            _ => {}
        }
    }

    fn meet(&mut self, cal: &Calendar, at: DateTime<Utc>) {
        if self.clock.met_at.is_some() {
            return;
        }
        self.set(cal, false, at);
        self.clock.met_at = Some(at);
        self.clock.met_in_time = Some(self.clock.used <= self.clock.budget);
    }

    fn unmeet(&mut self) {
        self.clock.met_at = None;
        self.clock.met_in_time = None;
    }
}

/// Replay a ticket's history (in time order) into its clocks, one per target the budgets name
/// (next response only once a citizen has written after a reply).
pub fn replay(facts: &[(DateTime<Utc>, Fact)], budgets: &Budgets, cal: &Calendar) -> Vec<Clock> {
    let mut status = Status::New;
    let working = |s: Status| matches!(s, Status::New | Status::Open);
    let mut first = budgets
        .first_response
        .map(|b| Running::new(Target::FirstResponse, b, 1));
    let mut resolution = budgets
        .resolution
        .map(|b| Running::new(Target::Resolution, b, 1));
    let mut next: Option<Running> = None;
    let mut replied = false;
    let mut created = false;
    for (at, fact) in facts.iter().copied() {
        match fact {
            Fact::Created => {
                created = true;
                status = Status::New;
            }
            Fact::Status(s) => {
                let was_done = matches!(status, Status::Resolved | Status::Closed);
                status = s;
                let done = matches!(s, Status::Resolved | Status::Closed);
                if let Some(r) = resolution.as_mut() {
                    if done {
                        r.meet(cal, at);
                    } else if was_done {
                        r.unmeet();
                    }
                }
            }
            Fact::Outbound => {
                replied = true;
                if let Some(f) = first.as_mut() {
                    f.meet(cal, at);
                }
                if let Some(n) = next.as_mut() {
                    n.meet(cal, at);
                }
            }
            Fact::Inbound => {
                let waiting_for_reply = next.as_ref().is_some_and(|n| n.clock.is_open());
                if replied
                    && !waiting_for_reply
                    && let Some(b) = budgets.next_response
                {
                    let cycle = next.as_ref().map_or(1, |n| n.clock.cycle + 1);
                    next = Some(Running::new(Target::NextResponse, b, cycle));
                }
            }
        }
        if !created {
            continue;
        }
        let w = working(status);
        for r in [first.as_mut(), next.as_mut(), resolution.as_mut()]
            .into_iter()
            .flatten()
        {
            r.set(cal, w, at);
        }
    }
    if !created {
        return vec![];
    }
    [first, next, resolution]
        .into_iter()
        .flatten()
        .map(|r| r.clock)
        .collect()
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, TimeZone};
    use chrono_tz::Europe::Stockholm;

    use super::*;
    use crate::sla::calendar::DayHours;

    /// Local Stockholm time.
    fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Stockholm
            .with_ymd_and_hms(y, m, d, h, min, 0)
            .single()
            .unwrap()
            .with_timezone(&Utc)
    }

    fn hours(h: i64) -> TimeDelta {
        TimeDelta::hours(h)
    }

    fn budgets() -> Budgets {
        Budgets {
            first_response: Some(hours(8)),
            next_response: Some(hours(4)),
            resolution: Some(hours(40)),
        }
    }

    fn clock(clocks: &[Clock], t: Target) -> &Clock {
        clocks.iter().find(|c| c.target == t).unwrap()
    }

    #[test]
    fn a_ticket_on_midsommarafton_afternoon_is_due_monday_afternoon() {
        // Midsommarafton 2026 is Friday 19 June: closed, as are the weekend days after it.
        let cal = Calendar::default();
        let clocks = replay(
            &[(at(2026, 6, 19, 15, 55), Fact::Created)],
            &budgets(),
            &cal,
        );
        let first = clock(&clocks, Target::FirstResponse);
        // Monday 22 June opens 08:00; 8 business hours later is 16:00 the same day.
        assert_eq!(first.due(&cal), Some(at(2026, 6, 22, 16, 0)));
    }

    #[test]
    fn a_ticket_at_1555_the_day_before_midsommar_uses_the_shortened_day_then_waits_for_monday() {
        // The operator shortened Thursday 18 June 2026 to 08:00–16:00.
        let mut cal = Calendar::default();
        cal.special_days.insert(
            NaiveDate::from_ymd_opt(2026, 6, 18).unwrap(),
            DayHours::parse("08:00-16:00").unwrap(),
        );
        let clocks = replay(
            &[(at(2026, 6, 18, 15, 55), Fact::Created)],
            &budgets(),
            &cal,
        );
        let first = clock(&clocks, Target::FirstResponse);
        // Five minutes on Thursday, then Monday 08:00 + 7 h 55 min.
        assert_eq!(first.due(&cal), Some(at(2026, 6, 22, 15, 55)));
        // Four business hours are used by Monday noon: half the budget.
        assert_eq!(
            first.used_at(&cal, at(2026, 6, 22, 11, 55)),
            hours(4),
            "5 min Thursday + 3 h 55 min Monday"
        );
    }

    #[test]
    fn waiting_for_the_citizen_pauses_every_clock_and_their_reply_resumes_it() {
        let cal = Calendar::default();
        let facts = [
            (at(2026, 11, 23, 9, 0), Fact::Created),
            (at(2026, 11, 23, 10, 0), Fact::Outbound),
            (at(2026, 11, 23, 10, 0), Fact::Status(Status::Waiting)),
            // Two days later the citizen answers; intake reopens the ticket.
            (at(2026, 11, 25, 14, 0), Fact::Inbound),
            (at(2026, 11, 25, 14, 0), Fact::Status(Status::Open)),
        ];
        let clocks = replay(&facts, &budgets(), &cal);
        let first = clock(&clocks, Target::FirstResponse);
        assert_eq!(first.met_at, Some(at(2026, 11, 23, 10, 0)));
        assert_eq!(first.met_in_time, Some(true));
        let next = clock(&clocks, Target::NextResponse);
        assert_eq!(next.cycle, 1);
        assert_eq!(next.running_since, Some(at(2026, 11, 25, 14, 0)));
        // 4 business hours from Wednesday 14:00: 2 h 30 min Wednesday, 1 h 30 min Thursday.
        assert_eq!(next.due(&cal), Some(at(2026, 11, 26, 9, 30)));
        let res = clock(&clocks, Target::Resolution);
        // Resolution used only Monday 09:00–10:00 before the pause.
        assert_eq!(res.used, hours(1));
        assert_eq!(res.running_since, Some(at(2026, 11, 25, 14, 0)));
    }

    #[test]
    fn a_second_citizen_message_does_not_restart_the_next_response_clock() {
        let cal = Calendar::default();
        let facts = [
            (at(2026, 11, 23, 9, 0), Fact::Created),
            (at(2026, 11, 23, 9, 30), Fact::Outbound),
            (at(2026, 11, 23, 10, 0), Fact::Inbound),
            (at(2026, 11, 23, 11, 0), Fact::Inbound),
        ];
        let clocks = replay(&facts, &budgets(), &cal);
        let next = clock(&clocks, Target::NextResponse);
        assert_eq!(next.running_since, Some(at(2026, 11, 23, 10, 0)));
        assert_eq!(next.cycle, 1);
        // The reply answers it; the next message starts round 2.
        let mut more = facts.to_vec();
        more.push((at(2026, 11, 23, 15, 0), Fact::Outbound));
        more.push((at(2026, 11, 24, 8, 30), Fact::Inbound));
        let clocks = replay(&more, &budgets(), &cal);
        let next = clock(&clocks, Target::NextResponse);
        assert_eq!(next.cycle, 2);
        assert_eq!(next.running_since, Some(at(2026, 11, 24, 8, 30)));
        assert_eq!(next.used, TimeDelta::zero());
    }

    #[test]
    fn a_late_reply_is_recorded_as_missed_and_resolution_continues_after_a_reopen() {
        let cal = Calendar::default();
        let facts = [
            (at(2026, 11, 23, 9, 0), Fact::Created),
            // 8 h 30 min of business time later (Mon 09:00–16:30 = 7 h 30, Tue 08:00–09:00 = 1 h).
            (at(2026, 11, 24, 9, 0), Fact::Outbound),
            (at(2026, 11, 24, 9, 0), Fact::Status(Status::Resolved)),
            (at(2026, 11, 26, 8, 0), Fact::Inbound),
            (at(2026, 11, 26, 8, 0), Fact::Status(Status::Open)),
        ];
        let clocks = replay(&facts, &budgets(), &cal);
        let first = clock(&clocks, Target::FirstResponse);
        assert_eq!(first.met_in_time, Some(false));
        let res = clock(&clocks, Target::Resolution);
        assert_eq!(res.met_at, None, "reopened");
        assert_eq!(res.used, hours(8) + TimeDelta::minutes(30));
        assert_eq!(res.running_since, Some(at(2026, 11, 26, 8, 0)));
        assert_eq!(res.standing(&cal, at(2026, 11, 26, 9, 0), 80), Standing::Ok);
    }

    #[test]
    fn standing_turns_to_warning_at_the_share_and_to_breached_at_the_budget() {
        let cal = Calendar::default();
        let clocks = replay(&[(at(2026, 11, 23, 8, 0), Fact::Created)], &budgets(), &cal);
        let first = clock(&clocks, Target::FirstResponse);
        assert_eq!(first.mark(&cal, 80), Some(at(2026, 11, 23, 14, 24)));
        assert_eq!(
            first.standing(&cal, at(2026, 11, 23, 14, 23), 80),
            Standing::Ok
        );
        assert_eq!(
            first.standing(&cal, at(2026, 11, 23, 14, 24), 80),
            Standing::Warning
        );
        assert_eq!(first.due(&cal), Some(at(2026, 11, 23, 16, 0)));
        assert_eq!(
            first.standing(&cal, at(2026, 11, 23, 16, 0), 80),
            Standing::Breached
        );
        // Overdue time is business time too: 16:00–16:30 Monday and 08:00–08:30 Tuesday.
        assert_eq!(
            first.left_at(&cal, at(2026, 11, 24, 8, 30)),
            -TimeDelta::hours(1)
        );
    }

    #[test]
    fn targets_left_out_of_the_policy_are_not_measured() {
        let cal = Calendar::default();
        let only_first = Budgets {
            first_response: Some(hours(2)),
            ..Default::default()
        };
        let clocks = replay(
            &[(at(2026, 11, 23, 8, 0), Fact::Created)],
            &only_first,
            &cal,
        );
        assert_eq!(clocks.len(), 1);
        assert_eq!(replay(&[], &budgets(), &cal), vec![]);
    }
}
