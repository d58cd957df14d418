//! What one ticket adds to the statistics, computed from its whole history: a pure function of
//! the ticket, its events and messages, its service-level clocks and the queues' calendars. The
//! follower stores the result per ticket and applies the difference to the aggregates, so a
//! late change (a transfer, a reopening) moves the figures it affects and nothing is counted
//! twice.

use std::sync::Arc;

use chrono::{DateTime, Datelike, TimeDelta, Timelike, Utc};
use chrono_tz::Europe::Stockholm;
use serde_json::Value;

use super::measures::{Cell, Measure, local_day, step_of};
use crate::domain::{Channel, MessageKind, Priority, QueueId, Status};
use crate::sla::Calendar;
use crate::sla::timeline::{Clock, Target};

/// A history event as the statistics read it.
#[derive(Debug, Clone)]
pub struct Ev {
    pub at: DateTime<Utc>,
    pub kind: String,
    pub details: Value,
    pub actor: Option<i64>,
}

/// A message as the statistics read it (notes are left out by the caller or ignored here).
#[derive(Debug, Clone)]
pub struct Msg {
    pub at: DateTime<Utc>,
    pub kind: MessageKind,
    pub auto_sent: bool,
    pub author: Option<i64>,
}

/// Everything about one ticket the figures come from.
#[derive(Debug, Clone)]
pub struct History {
    pub channel: Channel,
    /// The ticket's queue and priority now (the first transfer or change names where it began).
    pub queue: QueueId,
    pub priority: Priority,
    pub created_at: DateTime<Utc>,
    /// Still marked automatic (opened by an auto-reply, a bounce): it counts for nothing.
    pub automatic: bool,
    pub tags: Vec<String>,
    /// In the order they happened (by id).
    pub events: Vec<Ev>,
    pub messages: Vec<Msg>,
    /// The service-level clocks replayed from the same history (empty without a policy).
    pub clocks: Vec<Clock>,
}

/// The figures of one ticket.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Contribution {
    pub cells: Vec<Cell>,
    /// Open (new, open or waiting) and not merged away: part of the backlog from its last change on.
    pub in_backlog: bool,
    /// The local day of its final resolution, if it is resolved or closed now.
    pub resolved_day: Option<chrono::NaiveDate>,
    pub with_article: bool,
}

/// The queue's calendar (the tenant's default when the queue has none).
pub type Calendars<'a> = &'a dyn Fn(QueueId) -> Arc<Calendar>;

fn in_backlog(s: Status) -> bool {
    s.is_open()
}

fn backlog_measure(s: Status) -> Option<Measure> {
    match s {
        Status::New => Some(Measure::NewDelta),
        Status::Open => Some(Measure::OpenDelta),
        Status::Waiting => Some(Measure::WaitingDelta),
        Status::Resolved | Status::Closed => None,
    }
}

/// Where the ticket stood at a moment: its queue, priority and status.
#[derive(Debug, Clone, Copy)]
struct Place {
    queue: QueueId,
    priority: Priority,
    status: Status,
    merged: bool,
}

struct Walk<'a> {
    h: &'a History,
    cal: Calendars<'a>,
    cells: Vec<Cell>,
    place: Place,
    /// (from this instant, the place) — to find where the ticket was when a clock was met.
    places: Vec<(DateTime<Utc>, Place)>,
    start: DateTime<Utc>,
    first_response: bool,
    pending_since: Option<DateTime<Utc>>,
    transferred: bool,
    referred: Option<DateTime<Utc>>,
    was_referred: bool,
    escalated: Option<DateTime<Utc>>,
    was_escalated: bool,
    with_article: bool,
    reopened: bool,
    resolution: Option<(DateTime<Utc>, Option<i64>)>,
}

impl Walk<'_> {
    fn add_at(&mut self, at: DateTime<Utc>, place: Place, measure: Measure, key: String, n: i64) {
        self.cells.push(Cell {
            day: local_day(at),
            queue: place.queue,
            channel: self.h.channel,
            priority: place.priority,
            measure,
            key,
            n,
        });
    }

    fn add(&mut self, at: DateTime<Utc>, measure: Measure, n: i64) {
        self.add_at(at, self.place, measure, String::new(), n);
    }

    fn keyed(&mut self, at: DateTime<Utc>, measure: Measure, key: impl ToString) {
        self.add_at(at, self.place, measure, key.to_string(), 1);
    }

    fn durations(
        &mut self,
        at: DateTime<Utc>,
        since: DateTime<Utc>,
        business: Measure,
        calendar: Measure,
    ) {
        let cal = (self.cal)(self.place.queue);
        let b = cal.between(since, at).num_seconds();
        self.keyed(at, business, step_of(b));
        self.keyed(at, calendar, step_of((at - since).num_seconds()));
    }

    /// Leave the backlog cell of the current place and enter the one of `next` at `at`.
    fn move_to(&mut self, at: DateTime<Utc>, next: Place) {
        let was = self.place;
        let was_in = !was.merged && in_backlog(was.status);
        let now_in = !next.merged && in_backlog(next.status);
        if was_in && let Some(m) = backlog_measure(was.status) {
            self.add_at(at, was, m, String::new(), -1);
        }
        if now_in && let Some(m) = backlog_measure(next.status) {
            self.add_at(at, next, m, String::new(), 1);
        }
        self.place = next;
        self.places.push((at, next));
    }

    fn place_at(&self, at: DateTime<Utc>) -> Place {
        self.places
            .iter()
            .rev()
            .find(|(from, _)| *from <= at)
            .map_or(self.places[0].1, |(_, p)| *p)
    }
}

fn id(v: &Value) -> Option<i64> {
    v.as_i64()
}

fn status(v: &Value) -> Option<Status> {
    v.as_str().and_then(|s| Status::parse(s).ok())
}

/// The place a ticket began in: the first change of queue or priority names it.
fn first_place(h: &History) -> Place {
    let from = |kind: &str| {
        h.events
            .iter()
            .find(|e| e.kind == kind)
            .map(|e| &e.details["from"])
    };
    let queue = from("queue_changed")
        .and_then(id)
        .map_or(h.queue, QueueId::from_db);
    let priority = from("priority_changed")
        .and_then(|v| v.as_str().and_then(|s| Priority::parse(s).ok()))
        .unwrap_or(h.priority);
    Place {
        queue,
        priority,
        status: Status::New,
        merged: false,
    }
}

/// Whether an event places the ticket rather than moves it: a change of queue or priority at
/// its start (routing rules on arrival, the channel's own choice) is where it began, not a
/// transfer.
fn placement(e: &Ev, start: DateTime<Utc>) -> bool {
    (e.kind == "queue_changed" || e.kind == "priority_changed") && e.at <= start
}

/// Where the ticket stood once it had arrived: where it began, with the placements applied.
fn placed(h: &History, start: DateTime<Utc>) -> Place {
    let mut p = first_place(h);
    for e in h.events.iter().filter(|e| placement(e, start)) {
        if e.kind == "queue_changed"
            && let Some(q) = id(&e.details["to"])
        {
            p.queue = QueueId::from_db(q);
        }
        if e.kind == "priority_changed"
            && let Some(x) = e.details["to"]
                .as_str()
                .and_then(|s| Priority::parse(s).ok())
        {
            p.priority = x;
        }
    }
    p
}

/// The length of the working day in which a question that came at `at` is first worked on:
/// the opening hours of the first day with open time left after `at` (None: never open).
fn working_day(cal: &Calendar, at: DateTime<Utc>) -> Option<TimeDelta> {
    let first_open = cal.add(at, TimeDelta::seconds(1))? - TimeDelta::seconds(1);
    let day = local_day(first_open);
    Some(TimeDelta::minutes(i64::from(cal.hours_on(day).minutes())))
}

/// Whether a person answered within one working day of the queue's opening hours: the open time
/// between the question and the answer is at most the opening hours of the day the question
/// was first worked on (a mail on Friday morning answered by Monday morning counts; Swedish
/// holidays and closed days do not run).
pub fn answered_within_working_day(
    cal: &Calendar,
    asked: DateTime<Utc>,
    answered: DateTime<Utc>,
) -> bool {
    match working_day(cal, asked) {
        Some(day) => cal.between(asked, answered) <= day,
        None => false,
    }
}

/// The weekday × hour (local time) of an instant, as `weekday * 24 + hour` (Monday = 0).
pub fn hour_key(at: DateTime<Utc>) -> u32 {
    let local = at.with_timezone(&Stockholm);
    local.weekday().num_days_from_monday() * 24 + local.hour()
}

/// Compute what the ticket adds to the statistics.
pub fn contribution(h: &History, cal: Calendars<'_>) -> Contribution {
    if h.automatic {
        return Contribution::default();
    }
    // A ticket automatic mail opened counts from the moment a person wrote in it (D56).
    let start = h
        .events
        .iter()
        .filter(|e| e.kind == "automatic_cleared")
        .map(|e| e.at)
        .next_back()
        .unwrap_or(h.created_at);
    let place = placed(h, start);
    let mut w = Walk {
        h,
        cal,
        cells: vec![],
        place,
        places: vec![(start, place)],
        start,
        first_response: false,
        pending_since: None,
        transferred: false,
        referred: None,
        was_referred: false,
        escalated: None,
        was_escalated: false,
        with_article: false,
        reopened: false,
        resolution: None,
    };
    opened(&mut w);
    for step in timeline(h, start) {
        match step {
            Step::Message(m) => message(&mut w, m),
            Step::Event(e) => event(&mut w, e),
        }
    }
    finish(w)
}

fn opened(w: &mut Walk<'_>) {
    let start = w.start;
    w.add(start, Measure::Created, 1);
    w.add(start, Measure::NewDelta, 1);
    w.keyed(start, Measure::Hour, hour_key(start));
    for tag in w.h.tags.clone() {
        w.keyed(start, Measure::Tag, tag);
    }
    if w.h.channel == Channel::Email {
        w.add(start, Measure::MailQuestions, 1);
    }
}

enum Step<'a> {
    Message(&'a Msg),
    Event(&'a Ev),
}

/// Events and messages in the order they happened; at one instant a message comes before the
/// status change it caused. Before `start` (an automatic ticket's robot mail) nothing counts.
fn timeline(h: &History, start: DateTime<Utc>) -> Vec<Step<'_>> {
    let mut all: Vec<(DateTime<Utc>, u8, usize, Step<'_>)> = vec![];
    for (i, m) in h.messages.iter().enumerate() {
        if m.at >= start {
            all.push((m.at, 0, i, Step::Message(m)));
        }
    }
    for (i, e) in h.events.iter().enumerate() {
        if e.at >= start && !placement(e, start) {
            all.push((e.at, 1, i, Step::Event(e)));
        }
    }
    all.sort_by_key(|(at, order, i, _)| (*at, *order, *i));
    all.into_iter().map(|(.., s)| s).collect()
}

fn message(w: &mut Walk<'_>, m: &Msg) {
    if m.auto_sent {
        // Acknowledgements and out-of-office replies are nobody's work and nobody's question.
        return;
    }
    match m.kind {
        MessageKind::Inbound => {
            w.add(m.at, Measure::MessagesIn, 1);
            if w.first_response && w.pending_since.is_none() {
                w.pending_since = Some(m.at);
            }
        }
        MessageKind::Outbound => {
            w.add(m.at, Measure::MessagesOut, 1);
            if let Some(a) = m.author {
                w.keyed(m.at, Measure::AgentReplies, a);
            }
            answered(w, m.at, m.author);
            // A person's answer opens a new ticket; the reply use case changes the status
            // without a history event of its own, so the backlog moves here.
            if w.place.status == Status::New {
                let next = Place {
                    status: Status::Open,
                    ..w.place
                };
                w.move_to(m.at, next);
            }
        }
        MessageKind::Note => {}
    }
}

/// A person answered the citizen at `at`.
fn answered(w: &mut Walk<'_>, at: DateTime<Utc>, author: Option<i64>) {
    let since = if !w.first_response {
        w.first_response = true;
        w.durations(
            at,
            w.start,
            Measure::FirstResponseBusiness,
            Measure::FirstResponseCalendar,
        );
        if w.h.channel == Channel::Email {
            let cal = (w.cal)(w.place.queue);
            if answered_within_working_day(&cal, w.start, at) {
                let (start, first) = (w.start, w.places[0].1);
                w.add_at(start, first, Measure::MailAnsweredInDay, String::new(), 1);
            }
        }
        w.start
    } else if let Some(p) = w.pending_since.take() {
        w.durations(
            at,
            p,
            Measure::NextResponseBusiness,
            Measure::NextResponseCalendar,
        );
        p
    } else {
        return;
    };
    if let Some(a) = author {
        let b = (w.cal)(w.place.queue).between(since, at).num_seconds();
        w.keyed(at, Measure::AgentResponse, format!("{a}:{}", step_of(b)));
    }
}

fn event(w: &mut Walk<'_>, e: &Ev) {
    let d = &e.details;
    match e.kind.as_str() {
        "queue_changed" => {
            if let Some(to) = id(&d["to"]).map(QueueId::from_db) {
                w.keyed(e.at, Measure::Transfer, to.get());
                w.transferred = true;
                let next = Place {
                    queue: to,
                    ..w.place
                };
                w.move_to(e.at, next);
            }
        }
        "priority_changed" => {
            if let Some(p) = d["to"].as_str().and_then(|s| Priority::parse(s).ok()) {
                let next = Place {
                    priority: p,
                    ..w.place
                };
                w.move_to(e.at, next);
            }
        }
        "status_changed" | "reopened" => status_change(w, e),
        "merged_into" => {
            let next = Place {
                merged: true,
                ..w.place
            };
            w.move_to(e.at, next);
            w.resolution = None;
        }
        "registered_by_agent" if d["answered_directly"].as_bool() == Some(true) => {
            answered(w, e.at, e.actor);
        }
        _ => referral_or_more(w, e),
    }
}

fn status_change(w: &mut Walk<'_>, e: &Ev) {
    let Some(to) = status(&e.details["to"]) else {
        return;
    };
    let from = w.place.status;
    if to == from {
        return;
    }
    if !from.is_open() && to.is_open() {
        w.reopened = true;
        w.resolution = None;
    }
    if from.is_open() && !to.is_open() && !w.place.merged {
        w.resolution = Some((e.at, e.actor));
    }
    let next = Place {
        status: to,
        ..w.place
    };
    w.move_to(e.at, next);
}

fn referral_or_more(w: &mut Walk<'_>, e: &Ev) {
    let at = e.at;
    match e.kind.as_str() {
        "referred" => {
            w.add(at, Measure::Referred, 1);
            w.referred = Some(at);
            w.was_referred = true;
        }
        "referral_answered" => {
            w.add(at, Measure::ReferralsAnswered, 1);
            if let Some(since) = w.referred.take() {
                w.keyed(
                    at,
                    Measure::ReferralAnswer,
                    step_of((at - since).num_seconds()),
                );
            }
        }
        // A referral writes "escalated" too (every kind of target does); it is counted once,
        // as the referral its "referred" event names.
        "escalated" if is_referral(w.h, e) => {}
        "escalated" => {
            w.add(at, Measure::Escalated, 1);
            w.escalated = Some(at);
            w.was_escalated = true;
        }
        "escalation_answered" => {
            w.add(at, Measure::EscalationsAnswered, 1);
            if let Some(since) = w.escalated.take() {
                w.keyed(
                    at,
                    Measure::EscalationAnswer,
                    step_of((at - since).num_seconds()),
                );
            }
        }
        "kb_used" => {
            if let Some(slug) = e.details["article"].as_str() {
                w.keyed(at, Measure::Article, slug);
                w.with_article = true;
            }
        }
        "sla_warning" | "sla_breached" => {
            let target = e.details["target"]
                .as_str()
                .and_then(|s| Target::parse(s).ok());
            if let Some(t) = target {
                let [_, _, warned, breached] = Measure::sla(t);
                w.add(
                    at,
                    if e.kind == "sla_warning" {
                        warned
                    } else {
                        breached
                    },
                    1,
                );
            }
        }
        _ => {}
    }
}

/// Whether an "escalated" event was a referral: the department's mail names the same target.
fn is_referral(h: &History, escalated: &Ev) -> bool {
    let target = &escalated.details["target"];
    h.events
        .iter()
        .any(|e| e.kind == "referred" && !target.is_null() && e.details["target"] == *target)
}

fn finish(mut w: Walk<'_>) -> Contribution {
    let mut resolved_day = None;
    if let Some((at, actor)) = w.resolution.filter(|_| !w.place.merged) {
        resolved_day = Some(local_day(at));
        w.add(at, Measure::Resolved, 1);
        if !(w.transferred || w.was_referred || w.was_escalated) {
            w.add(at, Measure::ResolvedFirstContact, 1);
        }
        if w.with_article {
            w.add(at, Measure::ResolvedWithArticle, 1);
        } else {
            for tag in w.h.tags.clone() {
                w.keyed(at, Measure::UnansweredTag, tag);
            }
        }
        if w.reopened {
            w.add(at, Measure::ResolvedReopened, 1);
        }
        w.durations(
            at,
            w.start,
            Measure::ResolutionBusiness,
            Measure::ResolutionCalendar,
        );
        if let Some(a) = actor {
            w.keyed(at, Measure::AgentResolved, a);
        }
    }
    for clock in w.h.clocks.clone() {
        let Some(met) = clock.met_at else { continue };
        let [m, in_time, ..] = Measure::sla(clock.target);
        let place = w.place_at(met);
        w.add_at(met, place, m, String::new(), 1);
        if clock.met_in_time == Some(true) {
            w.add_at(met, place, in_time, String::new(), 1);
        }
    }
    let in_backlog = !w.place.merged && w.place.status.is_open();
    Contribution {
        cells: w.cells,
        in_backlog,
        resolved_day,
        with_article: w.with_article,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, d, h, 0, 0).unwrap()
    }

    fn msg(at: DateTime<Utc>, kind: MessageKind, auto_sent: bool) -> Msg {
        Msg {
            at,
            kind,
            auto_sent,
            author: (!auto_sent && kind == MessageKind::Outbound).then_some(7),
        }
    }

    fn history(messages: Vec<Msg>) -> History {
        History {
            channel: Channel::Email,
            queue: QueueId::from_db(1),
            priority: Priority::Normal,
            created_at: at(2, 9),
            automatic: false,
            tags: vec![],
            events: vec![],
            messages,
            clocks: vec![],
        }
    }

    fn backlog_cells(h: &History) -> Vec<(chrono::NaiveDate, Measure, i64)> {
        let cal = |_| Arc::new(Calendar::default());
        contribution(h, &cal)
            .cells
            .into_iter()
            .filter(|c| {
                matches!(
                    c.measure,
                    Measure::NewDelta | Measure::OpenDelta | Measure::WaitingDelta
                )
            })
            .map(|c| (c.day, c.measure, c.n))
            .collect()
    }

    #[test]
    fn a_persons_answer_moves_a_new_ticket_to_open_in_the_backlog() {
        let d = |day| chrono::NaiveDate::from_ymd_opt(2026, 3, day).unwrap();
        let h = history(vec![
            msg(at(2, 9), MessageKind::Inbound, false),
            msg(at(2, 9), MessageKind::Outbound, true),
            msg(at(3, 10), MessageKind::Outbound, false),
        ]);
        assert_eq!(
            backlog_cells(&h),
            [
                (d(2), Measure::NewDelta, 1),
                (d(3), Measure::NewDelta, -1),
                (d(3), Measure::OpenDelta, 1)
            ]
        );
        // The acknowledgement alone leaves it new.
        let ack_only = history(vec![
            msg(at(2, 9), MessageKind::Inbound, false),
            msg(at(2, 9), MessageKind::Outbound, true),
        ]);
        assert_eq!(backlog_cells(&ack_only), [(d(2), Measure::NewDelta, 1)]);
    }

    fn ev(at: DateTime<Utc>, kind: &str, details: Value) -> Ev {
        Ev {
            at,
            kind: kind.into(),
            details,
            actor: None,
        }
    }

    #[test]
    fn a_referral_is_no_escalation_to_the_records_system() {
        let mut h = history(vec![msg(at(2, 9), MessageKind::Inbound, false)]);
        let target = |name: &str| serde_json::json!({ "target": name });
        h.events = vec![
            ev(at(2, 10), "escalated", target("Miljöförvaltningen")),
            ev(at(2, 10), "referred", target("Miljöförvaltningen")),
            ev(at(3, 10), "escalated", target("Diariet")),
        ];
        let cal = |_| Arc::new(Calendar::default());
        let counted = |m: Measure| -> Vec<chrono::NaiveDate> {
            let c = contribution(&h, &cal);
            c.cells
                .iter()
                .filter(|c| c.measure == m)
                .map(|c| c.day)
                .collect()
        };
        assert_eq!(counted(Measure::Referred), [local_day(at(2, 10))]);
        assert_eq!(
            counted(Measure::Escalated),
            [local_day(at(3, 10))],
            "the records system only"
        );
    }
}
