//! Routing rules (regler för inkommande ärenden): what happens to a new ticket as it arrives,
//! before anyone has read it.
//!
//! An administrator writes rules such as "mail to kundtjanst@ that mentions *vattenläcka* goes to
//! the VA queue with high priority" or "mail from @lansstyrelsen.se is escalated to the records
//! system". The rules of a municipality are checked in order when a channel opens a new ticket
//! (`matching_in_tx`, inside the intake's transaction; `tickets::route_in_tx` carries them out, so
//! the change, its history and any escalation outbox item are written together with the ticket). A rule matches when all its conditions
//! hold; every matching rule acts, unless one before it said "stop". Later rules win where two
//! set the same thing. Each match is counted, so the admin page shows which rules are used.
//!
//! Word conditions are matched on whole words, case-insensitive, Swedish letters included; a
//! phrase ("inget vatten") must occur as written; a trailing `*` matches a prefix (`läck*`
//! matches läcker, läckage).

use chrono::NaiveDateTime;
use serde::Serialize;

use crate::accounts::Actor;
use crate::accounts::permissions::require_admin;
use crate::domain::FormatKind;
use crate::domain::Reason;
use crate::domain::{InvalidValue, Priority, QueueId, TenantId};
use crate::error::{Error, Result};
use crate::store::{self, Conn, Db};

/// Where word conditions look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchIn {
    Subject,
    SubjectText,
}

impl MatchIn {
    pub fn as_str(self) -> &'static str {
        match self {
            MatchIn::Subject => "subject",
            MatchIn::SubjectText => "subject_text",
        }
    }

    pub fn parse(s: &str) -> Result<MatchIn, InvalidValue> {
        match s.trim() {
            "subject" => Ok(MatchIn::Subject),
            "subject_text" | "" => Ok(MatchIn::SubjectText),
            other => Err(InvalidValue::new(
                "match_in",
                Reason::not_one_of(other, &["subject", "subject_text"]),
            )),
        }
    }
}

/// A sender condition: one address, or every address of a domain (and its subdomains).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Sender {
    Address(String),
    Domain(String),
}

impl Sender {
    fn parse(s: &str) -> Result<Sender, InvalidValue> {
        let s = s.trim().to_lowercase();
        if let Some(domain) = s.strip_prefix('@') {
            let ok = !domain.is_empty()
                && domain.contains('.')
                && domain
                    .chars()
                    .all(|c| c.is_alphanumeric() || c == '.' || c == '-');
            if !ok {
                return Err(InvalidValue::new(
                    "match_senders",
                    Reason::format(s.as_str(), FormatKind::Domain),
                ));
            }
            return Ok(Sender::Domain(domain.to_string()));
        }
        crate::domain::EmailAddress::parse(&s)
            .map(|e| Sender::Address(e.as_str().to_lowercase()))
            .map_err(|_| {
                InvalidValue::new(
                    "match_senders",
                    Reason::format(s.as_str(), FormatKind::AddressOrDomain),
                )
            })
    }

    fn matches(&self, sender: &str) -> bool {
        match self {
            Sender::Address(a) => a == sender,
            Sender::Domain(d) => sender
                .rsplit_once('@')
                .is_some_and(|(_, host)| host == d || host.ends_with(&format!(".{d}"))),
        }
    }
}

/// A word condition: a word or phrase, the last word perhaps a prefix (`läck*`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Words {
    words: Vec<String>,
    prefix: bool,
}

impl Words {
    fn parse(s: &str) -> Result<Words, InvalidValue> {
        let s = s.trim();
        let (body, prefix) = match s.strip_suffix('*') {
            Some(b) => (b, true),
            None => (s, false),
        };
        let words = tokens(body);
        if words.is_empty() || body.contains('*') {
            return Err(InvalidValue::new(
                "match_words",
                Reason::format(s, FormatKind::WordOrPhrase),
            ));
        }
        if prefix && words.last().is_some_and(|w| w.chars().count() < 3) {
            return Err(InvalidValue::new(
                "match_words",
                Reason::format(s, FormatKind::PrefixThreeLetters),
            ));
        }
        Ok(Words { words, prefix })
    }

    fn found_in(&self, text: &[String]) -> bool {
        let n = self.words.len();
        if text.len() < n {
            return false;
        }
        text.windows(n).any(|w| {
            w.iter().zip(&self.words).enumerate().all(|(i, (t, p))| {
                if self.prefix && i == n - 1 {
                    t.starts_with(p.as_str())
                } else {
                    t == p
                }
            })
        })
    }
}

/// Lower-case words of a text (letters and digits, Swedish letters included).
fn tokens(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

fn split_list(s: &str) -> impl Iterator<Item = &str> {
    s.split([',', '\n', ';'])
        .map(str::trim)
        .filter(|x| !x.is_empty())
}

/// A rule, parsed: it cannot hold a condition or action that does not make sense.
#[derive(Debug, Clone)]
pub struct Rule {
    pub id: i64,
    pub name: String,
    pub enabled: bool,
    queue: Option<QueueId>,
    senders: Vec<Sender>,
    words: Vec<Words>,
    match_in: MatchIn,
    pub priority: Option<Priority>,
    pub move_to: Option<QueueId>,
    pub tag: Option<String>,
    pub escalate_to: Option<i64>,
    pub stop: bool,
}

/// What a new ticket is checked against.
#[derive(Debug, Clone)]
pub struct Facts<'a> {
    /// The queue it arrived in (the mailbox's).
    pub queue: QueueId,
    pub sender: Option<&'a str>,
    pub subject: &'a str,
    pub text: &'a str,
}

impl Rule {
    fn from_row(r: &store::routing::RuleRow) -> Result<Rule> {
        // Stored rules were validated when saved; a row that no longer parses is an error to see.
        let bad = |e: InvalidValue| Error::Internal(format!("routing rule {}: {e}", r.id));
        Ok(Rule {
            id: r.id,
            name: r.name.clone(),
            enabled: r.enabled,
            queue: r.match_queue_id.map(QueueId::from_db),
            senders: split_list(&r.match_senders)
                .map(Sender::parse)
                .collect::<Result<_, _>>()
                .map_err(bad)?,
            words: split_list(&r.match_words)
                .map(Words::parse)
                .collect::<Result<_, _>>()
                .map_err(bad)?,
            match_in: MatchIn::parse(&r.match_in).map_err(bad)?,
            priority: r
                .set_priority
                .as_deref()
                .map(Priority::parse)
                .transpose()
                .map_err(bad)?,
            move_to: r.set_queue_id.map(QueueId::from_db),
            tag: r.add_tag.clone(),
            escalate_to: r.escalation_target_id,
            stop: r.stop,
        })
    }

    /// Whether a new ticket with these facts meets every condition of the rule.
    pub fn matches(&self, f: &Facts<'_>, words: &Tokens) -> bool {
        if self.queue.is_some_and(|q| q != f.queue) {
            return false;
        }
        if !self.senders.is_empty() {
            let Some(sender) = f.sender.map(str::to_lowercase) else {
                return false;
            };
            if !self.senders.iter().any(|s| s.matches(&sender)) {
                return false;
            }
        }
        if !self.words.is_empty() {
            let text = match self.match_in {
                MatchIn::Subject => &words.subject,
                MatchIn::SubjectText => &words.all,
            };
            if !self.words.iter().any(|w| w.found_in(text)) {
                return false;
            }
        }
        true
    }
}

/// The words of a ticket's subject, and of subject and text, tokenized once for all rules.
pub struct Tokens {
    subject: Vec<String>,
    all: Vec<String>,
}

impl Tokens {
    pub fn of(f: &Facts<'_>) -> Tokens {
        let subject = tokens(f.subject);
        // A separator keeps a phrase from spanning the subject's end and the text's start.
        let mut all = subject.clone();
        all.push(String::new());
        all.extend(tokens(f.text));
        Tokens { subject, all }
    }
}

/// The rules that a new ticket with these facts would meet, in order, up to the first that stops.
pub fn matching<'r>(rules: &'r [Rule], f: &Facts<'_>) -> Vec<&'r Rule> {
    let words = Tokens::of(f);
    let mut out = vec![];
    for r in rules.iter().filter(|r| r.enabled) {
        if r.matches(f, &words) {
            out.push(r);
            if r.stop {
                break;
            }
        }
    }
    out
}

/// The rules of the tenant that match a ticket a channel has just opened, in order (counted as
/// used). Inside the channel's transaction; `tickets::route_in_tx` carries out what they say.
pub fn matching_in_tx(
    c: &mut Conn,
    t: TenantId,
    f: &Facts<'_>,
    now: NaiveDateTime,
) -> Result<Vec<Rule>> {
    let rows = store::routing::enabled(c, t)?;
    if rows.is_empty() {
        return Ok(vec![]);
    }
    let rules = rows
        .iter()
        .map(Rule::from_row)
        .collect::<Result<Vec<_>>>()?;
    let hits: Vec<Rule> = matching(&rules, f).into_iter().cloned().collect();
    for rule in &hits {
        store::routing::hit(c, t, rule.id, now)?;
    }
    Ok(hits)
}

/// A rule as an administrator writes it (the form's fields).
#[derive(Debug, Clone, Default)]
pub struct RuleInput {
    pub name: String,
    pub enabled: bool,
    /// A queue id or empty.
    pub match_queue: String,
    pub match_senders: String,
    pub match_words: String,
    pub match_in: String,
    /// A priority or empty.
    pub set_priority: String,
    /// A queue id or empty.
    pub set_queue: String,
    pub add_tag: String,
    /// An escalation target id or empty.
    pub escalate_to: String,
    pub stop: bool,
}

/// A rule as the admin page lists it.
#[derive(Debug, Clone, Serialize)]
pub struct RuleView {
    pub id: i64,
    pub position: i32,
    pub name: String,
    pub enabled: bool,
    pub match_queue: Option<i64>,
    pub match_senders: String,
    pub match_words: String,
    pub match_in: String,
    pub set_priority: Option<String>,
    pub set_queue: Option<i64>,
    pub add_tag: Option<String>,
    pub escalate_to: Option<i64>,
    pub stop: bool,
    pub hits: i64,
    pub last_hit_at: Option<NaiveDateTime>,
}

impl From<store::routing::RuleRow> for RuleView {
    fn from(r: store::routing::RuleRow) -> RuleView {
        RuleView {
            id: r.id,
            position: r.position,
            name: r.name,
            enabled: r.enabled,
            match_queue: r.match_queue_id,
            match_senders: r.match_senders,
            match_words: r.match_words,
            match_in: r.match_in,
            set_priority: r.set_priority,
            set_queue: r.set_queue_id,
            add_tag: r.add_tag,
            escalate_to: r.escalation_target_id,
            stop: r.stop,
            hits: r.hits,
            last_hit_at: r.last_hit_at,
        }
    }
}

/// A rule's form, checked against the tenant's queues and targets, ready to store.
struct Checked {
    name: String,
    senders: String,
    words: String,
    match_in: MatchIn,
    match_queue: Option<i64>,
    priority: Option<Priority>,
    set_queue: Option<i64>,
    tag: Option<String>,
    target: Option<i64>,
}

fn optional_id(field: &'static str, s: &str) -> Result<Option<i64>, InvalidValue> {
    match s.trim() {
        "" => Ok(None),
        v => v
            .parse()
            .map(Some)
            .map_err(|_| InvalidValue::new(field, Reason::Choose)),
    }
}

fn check(c: &mut Conn, t: TenantId, id: Option<i64>, i: &RuleInput) -> Result<Checked> {
    let name = i.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 80 {
        return Err(InvalidValue::new("name", Reason::Length { min: 1, max: 80 }).into());
    }
    if store::routing::name_taken(c, t, &name, id)? {
        return Err(InvalidValue::new("name", Reason::NameTaken).into());
    }
    let senders = split_list(&i.match_senders)
        .map(Sender::parse)
        .collect::<Result<Vec<_>, _>>()?;
    let words = split_list(&i.match_words)
        .map(Words::parse)
        .collect::<Result<Vec<_>, _>>()?;
    let match_in = MatchIn::parse(&i.match_in)?;
    let queue = |c: &mut Conn, field: &'static str, s: &str| -> Result<Option<i64>> {
        match optional_id(field, s)? {
            None => Ok(None),
            Some(raw) => Ok(Some(
                store::queues::lookup(c, t, raw)?
                    .ok_or_else(|| InvalidValue::new(field, Reason::Choose))?
                    .id
                    .get(),
            )),
        }
    };
    let match_queue = queue(c, "match_queue", &i.match_queue)?;
    let set_queue = queue(c, "set_queue", &i.set_queue)?;
    let priority = match i.set_priority.trim() {
        "" => None,
        p => Some(Priority::parse(p)?),
    };
    let tag = match i.add_tag.trim() {
        "" => None,
        s => {
            Some(crate::domain::tag::parse(s).map_err(|e| InvalidValue::new("add_tag", e.reason))?)
        }
    };
    let target = match optional_id("escalate_to", &i.escalate_to)? {
        None => None,
        Some(raw) => Some(
            store::escalation::target(c, t, raw)?
                .ok_or_else(|| InvalidValue::new("escalate_to", Reason::Choose))?
                .id,
        ),
    };
    if senders.is_empty() && words.is_empty() && match_queue.is_none() {
        return Err(InvalidValue::new("conditions", Reason::NeedCondition).into());
    }
    if priority.is_none() && set_queue.is_none() && tag.is_none() && target.is_none() {
        return Err(InvalidValue::new("actions", Reason::NeedAction).into());
    }
    // Stored as the parsed lists, normalised, so the rule reads the same wherever it is shown.
    let senders = senders
        .iter()
        .map(|s| match s {
            Sender::Address(a) => a.clone(),
            Sender::Domain(d) => format!("@{d}"),
        })
        .collect::<Vec<_>>()
        .join(", ");
    let words = words
        .iter()
        .map(|w| format!("{}{}", w.words.join(" "), if w.prefix { "*" } else { "" }))
        .collect::<Vec<_>>()
        .join(", ");
    Ok(Checked {
        name,
        senders,
        words,
        match_in,
        match_queue,
        priority,
        set_queue,
        tag,
        target,
    })
}

fn change<'a>(k: &'a Checked, i: &RuleInput) -> store::routing::RuleChange<'a> {
    store::routing::RuleChange {
        name: &k.name,
        enabled: i.enabled,
        match_queue_id: k.match_queue,
        match_senders: &k.senders,
        match_words: &k.words,
        match_in: k.match_in.as_str(),
        set_priority: k.priority.map(|p| p.as_str()),
        set_queue_id: k.set_queue,
        add_tag: k.tag.as_deref(),
        escalation_target_id: k.target,
        stop: i.stop,
    }
}

/// The municipality's rules in order (administrators).
pub async fn list(db: &Db, actor: &Actor) -> Result<Vec<RuleView>> {
    require_admin(actor)?;
    let t = actor.tenant;
    db.read(move |c| {
        Ok(store::routing::list(c, t)?
            .into_iter()
            .map(RuleView::from)
            .collect())
    })
    .await
}

pub async fn get(db: &Db, actor: &Actor, id: i64) -> Result<RuleView> {
    require_admin(actor)?;
    let t = actor.tenant;
    db.read(move |c| {
        store::routing::get(c, t, id)?
            .map(RuleView::from)
            .ok_or(Error::NotFound("routing rule"))
    })
    .await
}

/// Add a rule after the last one.
pub async fn create(db: &Db, actor: &Actor, input: RuleInput) -> Result<i64> {
    require_admin(actor)?;
    let t = actor.tenant;
    db.write(move |c| -> Result<i64> {
        let k = check(c, t, None, &input)?;
        Ok(store::routing::insert(
            c,
            t,
            &change(&k, &input),
            store::now(),
        )?)
    })
    .await
}

pub async fn update(db: &Db, actor: &Actor, id: i64, input: RuleInput) -> Result<()> {
    require_admin(actor)?;
    let t = actor.tenant;
    db.write(move |c| -> Result<()> {
        let k = check(c, t, Some(id), &input)?;
        if !store::routing::update(c, t, id, &change(&k, &input), store::now())? {
            return Err(Error::NotFound("routing rule"));
        }
        Ok(())
    })
    .await
}

pub async fn delete(db: &Db, actor: &Actor, id: i64) -> Result<()> {
    require_admin(actor)?;
    let t = actor.tenant;
    db.write(move |c| -> Result<()> {
        if !store::routing::delete(c, t, id)? {
            return Err(Error::NotFound("routing rule"));
        }
        Ok(())
    })
    .await
}

/// Move a rule one step earlier (`up`) or later in the order.
pub async fn move_rule(db: &Db, actor: &Actor, id: i64, up: bool) -> Result<()> {
    require_admin(actor)?;
    let t = actor.tenant;
    db.write(move |c| -> Result<()> {
        let mut ids: Vec<i64> = store::routing::list(c, t)?.iter().map(|r| r.id).collect();
        let at = ids
            .iter()
            .position(|x| *x == id)
            .ok_or(Error::NotFound("routing rule"))?;
        let other = if up { at.checked_sub(1) } else { Some(at + 1) };
        if let Some(o) = other.filter(|o| *o < ids.len()) {
            ids.swap(at, o);
            store::routing::reorder(c, t, &ids, store::now())?;
        }
        Ok(())
    })
    .await
}

/// What a rule can name: the tenant's queues and escalation targets, as (id, name).
pub struct Choices {
    pub queues: Vec<(i64, String)>,
    pub targets: Vec<(i64, String)>,
}

pub async fn choices(db: &Db, actor: &Actor) -> Result<Choices> {
    require_admin(actor)?;
    let t = actor.tenant;
    db.read(move |c| -> Result<Choices> {
        Ok(Choices {
            queues: store::queues::list(c, t)?
                .into_iter()
                .map(|q| (q.id.get(), q.name))
                .collect(),
            targets: store::escalation::targets(c, t)?
                .into_iter()
                .map(|x| (x.id, x.name))
                .collect(),
        })
    })
    .await
}

/// Which rules a mail with these facts would meet, without changing anything (the admin page's
/// "Testa reglerna").
pub async fn try_rules(
    db: &Db,
    actor: &Actor,
    queue: i64,
    sender: String,
    subject: String,
    text: String,
) -> Result<Vec<String>> {
    require_admin(actor)?;
    let t = actor.tenant;
    db.read(move |c| -> Result<Vec<String>> {
        let q = store::queues::lookup(c, t, queue)?
            .ok_or_else(|| InvalidValue::new("queue", Reason::Choose))?;
        let rules = store::routing::list(c, t)?
            .iter()
            .map(Rule::from_row)
            .collect::<Result<Vec<_>>>()?;
        let sender = sender.trim().to_lowercase();
        let f = Facts {
            queue: q.id,
            sender: (!sender.is_empty()).then_some(sender.as_str()),
            subject: &subject,
            text: &text,
        };
        Ok(matching(&rules, &f)
            .iter()
            .map(|r| r.name.clone())
            .collect())
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(senders: &str, words: &str, match_in: MatchIn, stop: bool) -> Rule {
        Rule {
            id: 1,
            name: "r".into(),
            enabled: true,
            queue: None,
            senders: split_list(senders)
                .map(|s| Sender::parse(s).unwrap())
                .collect(),
            words: split_list(words)
                .map(|w| Words::parse(w).unwrap())
                .collect(),
            match_in,
            priority: Some(Priority::High),
            move_to: None,
            tag: None,
            escalate_to: None,
            stop,
        }
    }

    fn facts<'a>(sender: Option<&'a str>, subject: &'a str, text: &'a str) -> Facts<'a> {
        Facts {
            queue: QueueId::from_db(1),
            sender,
            subject,
            text,
        }
    }

    fn hits(r: &Rule, f: &Facts<'_>) -> bool {
        r.matches(f, &Tokens::of(f))
    }

    #[test]
    fn words_match_whole_words_case_insensitively_with_swedish_letters() {
        let r = rule("", "vattenläcka, inget vatten", MatchIn::SubjectText, false);
        assert!(hits(&r, &facts(None, "VATTENLÄCKA på Storgatan", "")));
        assert!(hits(
            &r,
            &facts(None, "Fråga", "Vi har inget vatten sedan i morse.")
        ));
        // Not part of a longer word, and a phrase must be whole.
        assert!(!hits(&r, &facts(None, "Vattenläckan är lagad", "")));
        assert!(!hits(&r, &facts(None, "Inget", "vatten")));
    }

    #[test]
    fn a_trailing_star_matches_a_prefix() {
        let r = rule("", "läck*", MatchIn::SubjectText, false);
        assert!(hits(&r, &facts(None, "Det läcker", "")));
        assert!(hits(&r, &facts(None, "", "Ett läckage i källaren")));
        assert!(!hits(&r, &facts(None, "Släcka lampan", "")));
        assert!(Words::parse("lä*").is_err());
        assert!(Words::parse("lä*ck").is_err());
        assert!(Words::parse("*").is_err());
    }

    #[test]
    fn subject_only_rules_ignore_the_text() {
        let r = rule("", "överklagande", MatchIn::Subject, false);
        assert!(hits(&r, &facts(None, "Överklagande av beslut", "")));
        assert!(!hits(
            &r,
            &facts(None, "Beslut", "Jag vill lämna ett överklagande")
        ));
    }

    #[test]
    fn senders_are_addresses_or_domains_with_subdomains() {
        let r = rule(
            "@lansstyrelsen.se, maria@example.org",
            "",
            MatchIn::SubjectText,
            false,
        );
        assert!(hits(
            &r,
            &facts(Some("Handlaggare@Lansstyrelsen.se"), "x", "")
        ));
        assert!(hits(
            &r,
            &facts(Some("a@stockholm.lansstyrelsen.se"), "x", "")
        ));
        assert!(hits(&r, &facts(Some("maria@example.org"), "x", "")));
        assert!(!hits(&r, &facts(Some("a@falsklansstyrelsen.se"), "x", "")));
        assert!(!hits(&r, &facts(Some("anna@example.org"), "x", "")));
        assert!(!hits(&r, &facts(None, "x", "")));
        assert!(Sender::parse("@nodot").is_err());
        assert!(Sender::parse("inte en adress").is_err());
    }

    #[test]
    fn all_conditions_must_hold() {
        let r = rule("@kommun.se", "faktura", MatchIn::SubjectText, false);
        assert!(hits(&r, &facts(Some("a@kommun.se"), "Faktura", "")));
        assert!(!hits(&r, &facts(Some("a@annan.se"), "Faktura", "")));
        assert!(!hits(&r, &facts(Some("a@kommun.se"), "Hej", "")));
        let mut q = rule("", "", MatchIn::SubjectText, false);
        q.queue = Some(QueueId::from_db(2));
        assert!(!hits(&q, &facts(None, "x", "")));
    }

    #[test]
    fn every_matching_rule_acts_until_one_stops() {
        let mut a = rule("", "vatten", MatchIn::SubjectText, true);
        a.name = "a".into();
        let mut b = rule("", "vatten", MatchIn::SubjectText, false);
        b.name = "b".into();
        let mut c = rule("", "vatten", MatchIn::SubjectText, false);
        c.name = "c".into();
        c.enabled = false;
        let f = facts(None, "vatten", "");
        let names = |rs: &[Rule]| {
            matching(rs, &f)
                .iter()
                .map(|r| r.name.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(names(&[b.clone(), a.clone(), c.clone()]), ["b", "a"]);
        assert_eq!(names(&[a, b, c]), ["a"]);
    }

    #[test]
    fn a_phrase_does_not_span_subject_and_text() {
        let r = rule("", "inget vatten", MatchIn::SubjectText, false);
        assert!(!hits(&r, &facts(None, "Inget", "vatten")));
    }
}
