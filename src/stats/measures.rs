//! What statistics count: the measures, the cells a ticket contributes to them, and the steps
//! times are counted in.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use chrono_tz::Europe::Stockholm;
use serde::{Deserialize, Serialize};

use crate::domain::{Channel, Priority, QueueId};
use crate::sla::timeline::Target;

/// One thing counted. The first [`Measure::COUNTERS`] are plain counters kept per queue,
/// channel and priority (columns of `stats_days`); the rest are keyed series kept per queue
/// (`stats_series`, one row per queue, day and measure): time histograms (key: the step),
/// transfers (key: the queue transferred to), articles (key: slug), tags, hours (key: weekday ×
/// 24 + hour) and agents (key: user id).
/// The numbers are stored in each ticket's cells: never reorder, only append.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[repr(u8)]
pub enum Measure {
    Created = 0,
    MessagesIn,
    MessagesOut,
    NewDelta,
    OpenDelta,
    WaitingDelta,
    Resolved,
    ResolvedFirstContact,
    ResolvedWithArticle,
    ResolvedReopened,
    MailQuestions,
    MailAnsweredInDay,
    Referred,
    ReferralsAnswered,
    Escalated,
    EscalationsAnswered,
    SlaFirstMet,
    SlaNextMet,
    SlaResolutionMet,
    SlaFirstInTime,
    SlaNextInTime,
    SlaResolutionInTime,
    SlaFirstWarned,
    SlaNextWarned,
    SlaResolutionWarned,
    SlaFirstBreached,
    SlaNextBreached,
    SlaResolutionBreached,
    // ---- keyed series ----
    FirstResponseBusiness,
    FirstResponseCalendar,
    NextResponseBusiness,
    NextResponseCalendar,
    ResolutionBusiness,
    ResolutionCalendar,
    ReferralAnswer,
    EscalationAnswer,
    Transfer,
    Article,
    Tag,
    UnansweredTag,
    Hour,
    AgentReplies,
    AgentResolved,
    AgentResponse,
}

impl Measure {
    /// How many measures are plain counters (the columns of `stats_days`).
    pub const COUNTERS: usize = 28;

    pub const ALL: [Measure; 44] = {
        use Measure::*;
        [
            Created,
            MessagesIn,
            MessagesOut,
            NewDelta,
            OpenDelta,
            WaitingDelta,
            Resolved,
            ResolvedFirstContact,
            ResolvedWithArticle,
            ResolvedReopened,
            MailQuestions,
            MailAnsweredInDay,
            Referred,
            ReferralsAnswered,
            Escalated,
            EscalationsAnswered,
            SlaFirstMet,
            SlaNextMet,
            SlaResolutionMet,
            SlaFirstInTime,
            SlaNextInTime,
            SlaResolutionInTime,
            SlaFirstWarned,
            SlaNextWarned,
            SlaResolutionWarned,
            SlaFirstBreached,
            SlaNextBreached,
            SlaResolutionBreached,
            FirstResponseBusiness,
            FirstResponseCalendar,
            NextResponseBusiness,
            NextResponseCalendar,
            ResolutionBusiness,
            ResolutionCalendar,
            ReferralAnswer,
            EscalationAnswer,
            Transfer,
            Article,
            Tag,
            UnansweredTag,
            Hour,
            AgentReplies,
            AgentResolved,
            AgentResponse,
        ]
    };

    pub fn index(self) -> usize {
        self as usize
    }

    pub fn from_index(i: usize) -> Option<Measure> {
        Measure::ALL.get(i).copied()
    }

    pub fn is_counter(self) -> bool {
        self.index() < Measure::COUNTERS
    }

    /// The stored name: the column of `stats_days` for counters, `stats_series.measure` else.
    pub fn name(self) -> &'static str {
        use Measure::*;
        match self {
            Created => "created",
            MessagesIn => "messages_in",
            MessagesOut => "messages_out",
            NewDelta => "new_delta",
            OpenDelta => "open_delta",
            WaitingDelta => "waiting_delta",
            Resolved => "resolved",
            ResolvedFirstContact => "resolved_first_contact",
            ResolvedWithArticle => "resolved_with_article",
            ResolvedReopened => "resolved_reopened",
            MailQuestions => "mail_questions",
            MailAnsweredInDay => "mail_answered_in_day",
            Referred => "referred",
            ReferralsAnswered => "referrals_answered",
            Escalated => "escalated",
            EscalationsAnswered => "escalations_answered",
            SlaFirstMet => "sla_first_met",
            SlaNextMet => "sla_next_met",
            SlaResolutionMet => "sla_resolution_met",
            SlaFirstInTime => "sla_first_in_time",
            SlaNextInTime => "sla_next_in_time",
            SlaResolutionInTime => "sla_resolution_in_time",
            SlaFirstWarned => "sla_first_warned",
            SlaNextWarned => "sla_next_warned",
            SlaResolutionWarned => "sla_resolution_warned",
            SlaFirstBreached => "sla_first_breached",
            SlaNextBreached => "sla_next_breached",
            SlaResolutionBreached => "sla_resolution_breached",
            FirstResponseBusiness => "first_response_business",
            FirstResponseCalendar => "first_response_calendar",
            NextResponseBusiness => "next_response_business",
            NextResponseCalendar => "next_response_calendar",
            ResolutionBusiness => "resolution_business",
            ResolutionCalendar => "resolution_calendar",
            ReferralAnswer => "referral_answer",
            EscalationAnswer => "escalation_answer",
            Transfer => "transfer",
            Article => "article",
            Tag => "tag",
            UnansweredTag => "unanswered_tag",
            Hour => "hour",
            AgentReplies => "agent_replies",
            AgentResolved => "agent_resolved",
            AgentResponse => "agent_response",
        }
    }

    pub fn parse(name: &str) -> Option<Measure> {
        Measure::ALL.into_iter().find(|m| m.name() == name)
    }

    /// The counters of one service-level target: met, met in time, warned, breached.
    pub fn sla(target: Target) -> [Measure; 4] {
        use Measure::*;
        match target {
            Target::FirstResponse => [
                SlaFirstMet,
                SlaFirstInTime,
                SlaFirstWarned,
                SlaFirstBreached,
            ],
            Target::NextResponse => [SlaNextMet, SlaNextInTime, SlaNextWarned, SlaNextBreached],
            Target::Resolution => [
                SlaResolutionMet,
                SlaResolutionInTime,
                SlaResolutionWarned,
                SlaResolutionBreached,
            ],
        }
    }
}

/// One number a ticket adds to the figures: `n` of `measure` (under `key` for keyed series) on
/// a local day, in the queue, channel and priority the ticket had then.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cell {
    pub day: NaiveDate,
    pub queue: QueueId,
    pub channel: Channel,
    pub priority: Priority,
    pub measure: Measure,
    /// Empty for counters.
    pub key: String,
    pub n: i64,
}

/// The local (Stockholm) date of an instant.
pub fn local_day(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&Stockholm).date_naive()
}

/// The first day of the month of `day`.
pub fn month_of(day: NaiveDate) -> NaiveDate {
    day.with_day(1).expect("day 1 exists")
}

/// The steps durations are counted in (seconds, each step's lower bound): a minute under ten
/// minutes, five minutes under an hour, a quarter under eight hours, an hour under a day, six
/// hours under a week, a day under sixty days, then one step. Medians and percentiles are
/// reported as the lower bound of the step they fall in, so a figure is exact to its step.
const STEPS: &[(i64, i64)] = &[
    (0, 60),
    (600, 300),
    (3_600, 900),
    (28_800, 3_600),
    (86_400, 21_600),
    (604_800, 86_400),
    (5_184_000, 0),
];

/// The step a duration falls in (its lower bound, in seconds). Negative durations count as 0.
pub fn step_of(secs: i64) -> i64 {
    let secs = secs.max(0);
    let mut floor = 0;
    for (from, width) in STEPS {
        if secs < *from {
            break;
        }
        floor = if *width == 0 {
            *from
        } else {
            from + (secs - from) / width * width
        };
    }
    floor
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_are_numbered_in_order_and_named_once() {
        for (i, m) in Measure::ALL.iter().enumerate() {
            assert_eq!(m.index(), i);
            assert_eq!(Measure::parse(m.name()), Some(*m));
            assert_eq!(m.is_counter(), i < Measure::COUNTERS);
        }
        let names: std::collections::BTreeSet<_> = Measure::ALL.iter().map(|m| m.name()).collect();
        assert_eq!(names.len(), Measure::ALL.len());
    }

    #[test]
    fn durations_fall_in_their_step() {
        assert_eq!(step_of(-5), 0);
        assert_eq!(step_of(59), 0);
        assert_eq!(step_of(61), 60);
        assert_eq!(step_of(9 * 60 + 59), 540);
        assert_eq!(step_of(600), 600);
        assert_eq!(step_of(14 * 60), 600);
        assert_eq!(step_of(16 * 60), 900);
        assert_eq!(step_of(3_600 + 899), 3_600);
        assert_eq!(step_of(7 * 3_600 + 59 * 60), 7 * 3_600 + 45 * 60);
        assert_eq!(step_of(30 * 3_600), 30 * 3_600);
        assert_eq!(step_of(30 * 3_600 + 59 * 60), 30 * 3_600);
        assert_eq!(step_of(2 * 86_400 + 7 * 3_600), 2 * 86_400 + 6 * 3_600);
        assert_eq!(step_of(9 * 86_400 + 3), 9 * 86_400);
        assert_eq!(step_of(400 * 86_400), 5_184_000);
    }
}
