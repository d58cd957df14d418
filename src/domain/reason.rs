//! Why a value was refused, as data: a small set of typed reasons. Each has a locale key
//! (`reason.<snake>`, texts in templates/locales/*/errors.json) and typed parameters; the web
//! layer (`web::errors`) turns them into Swedish or English text. Parameters carry numbers and
//! what the person typed, never prose. `Display` is English, for logs and the CLI only.

use std::fmt;

/// The form a value was expected in (locale key `format.<name>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FormatKind {
    /// `KC-2026-000123`.
    TicketNumber,
    /// 1–8 capital letters, e.g. `KC`.
    TicketPrefix,
    /// `08:30`.
    Time,
    /// `08:00-16:30`.
    Interval,
    /// `2026-11`.
    Month,
    /// `2026-12-24`.
    Date,
    /// `90`, `1:30`, `4h`, `2d`.
    Duration,
    /// `@kommun.se`.
    Domain,
    /// `namn@kommun.se` or `@kommun.se`.
    AddressOrDomain,
    /// A word or phrase; a `*` only at the end.
    WordOrPhrase,
    /// At least three letters before a `*`.
    PrefixThreeLetters,
    /// An HTTP header name.
    HeaderName,
    /// `Name: value`.
    HeaderLine,
    /// An address (URL).
    Url,
    /// An address starting with `http://` or `https://`.
    UrlHttp,
    /// A JSON pointer such as `/id`.
    JsonPointer,
    /// 1–11 letters a–z and digits, or a phone number.
    SmsSender,
    /// A price such as `0,45`.
    Price,
    /// A host name or IP address.
    Host,
    /// A folder name, `/` between levels.
    Folder,
    /// 1–40 characters a–z, 0–9 and `-`.
    Slug,
    /// Letters, digits, `-` and `_`.
    Tag,
    /// A phone number with country code (`+46…`) or a leading 0.
    Phone,
    /// An e-mail address.
    Email,
    /// `2026-12-23 08:00-12:00`.
    SpecialDay,
    /// `breach:raise_priority`.
    SlaRule,
    /// `me`, `none` or a user id.
    UserRef,
}

impl FormatKind {
    pub const ALL: &'static [FormatKind] = &[
        FormatKind::TicketNumber,
        FormatKind::TicketPrefix,
        FormatKind::Time,
        FormatKind::Interval,
        FormatKind::Month,
        FormatKind::Date,
        FormatKind::Duration,
        FormatKind::Domain,
        FormatKind::AddressOrDomain,
        FormatKind::WordOrPhrase,
        FormatKind::PrefixThreeLetters,
        FormatKind::HeaderName,
        FormatKind::HeaderLine,
        FormatKind::Url,
        FormatKind::UrlHttp,
        FormatKind::JsonPointer,
        FormatKind::SmsSender,
        FormatKind::Price,
        FormatKind::Host,
        FormatKind::Folder,
        FormatKind::Slug,
        FormatKind::Tag,
        FormatKind::Phone,
        FormatKind::Email,
        FormatKind::SpecialDay,
        FormatKind::SlaRule,
        FormatKind::UserRef,
    ];

    /// Machine name (API `params.kind`; locale key `format.<name>`).
    pub fn name(self) -> &'static str {
        match self {
            FormatKind::TicketNumber => "ticket_number",
            FormatKind::TicketPrefix => "ticket_prefix",
            FormatKind::Time => "time",
            FormatKind::Interval => "interval",
            FormatKind::Month => "month",
            FormatKind::Date => "date",
            FormatKind::Duration => "duration",
            FormatKind::Domain => "domain",
            FormatKind::AddressOrDomain => "address_or_domain",
            FormatKind::WordOrPhrase => "word_or_phrase",
            FormatKind::PrefixThreeLetters => "prefix_three_letters",
            FormatKind::HeaderName => "header_name",
            FormatKind::HeaderLine => "header_line",
            FormatKind::Url => "url",
            FormatKind::UrlHttp => "url_http",
            FormatKind::JsonPointer => "json_pointer",
            FormatKind::SmsSender => "sms_sender",
            FormatKind::Price => "price",
            FormatKind::Host => "host",
            FormatKind::Folder => "folder",
            FormatKind::Slug => "slug",
            FormatKind::Tag => "tag",
            FormatKind::Phone => "phone",
            FormatKind::Email => "email",
            FormatKind::SpecialDay => "special_day",
            FormatKind::SlaRule => "sla_rule",
            FormatKind::UserRef => "user_ref",
        }
    }

    pub fn key(self) -> String {
        format!("format.{}", self.name())
    }
}

impl fmt::Display for FormatKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FormatKind::TicketNumber => "a ticket number like KC-2026-000123",
            FormatKind::TicketPrefix => "1–8 capital letters A–Z, e.g. KC",
            FormatKind::Time => "a time like 08:30",
            FormatKind::Interval => "an interval like 08:00-16:30",
            FormatKind::Month => "a month like 2026-11",
            FormatKind::Date => "a date like 2026-12-24",
            FormatKind::Duration => "a duration like 90, 1:30, 4h or 2d",
            FormatKind::Domain => "a domain like @lansstyrelsen.se",
            FormatKind::AddressOrDomain => "an address or a domain like @kommun.se",
            FormatKind::WordOrPhrase => "a word or phrase (a * may only end it)",
            FormatKind::PrefixThreeLetters => "at least three letters before a *",
            FormatKind::HeaderName => "a header name",
            FormatKind::HeaderLine => "a header line \"Name: value\"",
            FormatKind::Url => "an address (URL)",
            FormatKind::UrlHttp => "an http:// or https:// address",
            FormatKind::JsonPointer => "a JSON pointer such as /id",
            FormatKind::SmsSender => "1–11 letters a–z and digits, or a phone number",
            FormatKind::Price => "a price such as 0,45",
            FormatKind::Host => "a host name or IP address",
            FormatKind::Folder => "a folder name (/ between levels)",
            FormatKind::Slug => "1–40 characters a–z, 0–9 and -",
            FormatKind::Tag => "letters, digits, - or _",
            FormatKind::Phone => "a phone number with country code (+46…) or a leading 0",
            FormatKind::Email => "an e-mail address",
            FormatKind::SpecialDay => "a date and hours, e.g. 2026-12-23 08:00-12:00",
            FormatKind::SlaRule => "a rule such as breach:raise_priority",
            FormatKind::UserRef => "me, none or a user id",
        })
    }
}

/// A typed parameter of a reason (or conflict).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Param {
    /// What someone typed or a name from the data (shown as it is).
    Text(String),
    Number(usize),
    /// The expected form, rendered from its own locale key.
    Kind(FormatKind),
}

impl fmt::Display for Param {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Param::Text(s) => write!(f, "{s:?}"),
            Param::Number(n) => write!(f, "{n}"),
            Param::Kind(k) => f.write_str(k.name()),
        }
    }
}

/// Why a value was refused. Generic variants first, then the domain rules. `Display` is English,
/// for logs and the CLI only; people read the locale text (`key`, `params`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Reason {
    /// Nothing was given.
    #[error("empty")]
    Empty,
    /// At most `max` characters.
    #[error("at most {max} characters")]
    TooLong { max: usize },
    /// At most `max` bytes.
    #[error("at most {max} bytes")]
    TooLongBytes { max: usize },
    /// At least `min` characters.
    #[error("at least {min} characters")]
    TooShort { min: usize },
    /// `min`–`max` characters.
    #[error("{min}–{max} characters")]
    Length { min: usize, max: usize },
    /// A number from `min` to `max`.
    #[error("a number from {min} to {max}")]
    Range { min: usize, max: usize },
    /// Not a whole number.
    #[error("not a whole number")]
    NotANumber,
    /// Pick one from the list.
    #[error("choose one from the list")]
    Choose,
    /// Pick at least one.
    #[error("choose at least one")]
    ChooseAtLeastOne,
    /// At most `max` of them.
    #[error("at most {max} at a time")]
    TooMany { max: usize },
    /// At most `max` files.
    #[error("at most {max} files")]
    TooManyFiles { max: usize },
    /// At most `mb` MB in all.
    #[error("at most {mb} MB in all")]
    TooBig { mb: usize },
    /// `value` is not one of the codes in `allowed` (comma-separated).
    #[error("{value:?} is not one of {allowed}")]
    NotOneOf { value: String, allowed: String },
    /// One of the codes in `allowed` (comma-separated).
    #[error("one of {allowed}")]
    OneOf { allowed: String },
    /// `value` names nothing that exists here.
    #[error("{value:?} does not exist")]
    Unknown { value: String },
    /// `value` is not in the expected form.
    #[error("{value:?} is not {kind}")]
    Format { value: String, kind: FormatKind },
    /// A value that only the system produces (a cursor, a link payload) was damaged.
    #[error("damaged (not one the system made)")]
    Damaged,
    /// A template that cannot be read or filled in.
    #[error("the template cannot be read or filled in")]
    Template,
    /// A template with an error at `line`, `column`.
    #[error("template error at line {line}, column {column}")]
    TemplateAt { line: usize, column: usize },
    /// An article file does not start with a `+++` line.
    #[error("the file must start with a +++ line")]
    FrontMatterStart,
    /// An article file has no closing `+++` line.
    #[error("no closing +++ line")]
    FrontMatterEnd,
    /// An article's front matter has an unknown or missing key (about `line` of the file).
    #[error("an unknown or missing key (line {line})")]
    FrontMatterKeys { line: usize },
    /// Another one already has this name.
    #[error("the name is taken")]
    NameTaken,
    /// A routing rule needs a condition.
    #[error("give at least one condition: a queue, senders or words")]
    NeedCondition,
    /// A routing rule needs an action.
    #[error("give at least one action: priority, queue, tag or escalation")]
    NeedAction,
    /// The two passwords differ.
    #[error("the passwords differ")]
    PasswordsDiffer,
    /// A password that is easy to guess.
    #[error("too easy to guess (a common password, word or pattern)")]
    PasswordWeak,
    /// Only spaces.
    #[error("only spaces")]
    OnlySpaces,
    /// Admins cannot deactivate their own account.
    #[error("you cannot deactivate your own account")]
    OwnAccount,
    /// Admins change their own password under "change password".
    #[error("use change password for your own")]
    OwnPassword,
    /// The box confirming that the links stop working was not ticked.
    #[error("confirm that the links are to stop working")]
    ConfirmStop,
    /// A reply carries the text of an internal article.
    #[error("the reply carries text of the internal article {title:?}")]
    KbInternal { title: String },
    /// An unencrypted connection only to a server on this host.
    #[error("an unencrypted connection is only allowed to a server on this host")]
    PlainOnlyLocal,
    /// A ticket cannot be merged into itself.
    #[error("a ticket cannot be merged into itself")]
    MergeIntoItself,
    /// A ticket cannot be linked to itself.
    #[error("a ticket cannot be linked to itself")]
    LinkToItself,
    /// SMS as the preferred channel needs a phone number.
    #[error("sms needs a phone number")]
    SmsNeedsPhone,
    /// E-mail as the preferred channel needs an address.
    #[error("e-mail needs an address; the contact has none")]
    EmailNeedsAddress,
    /// The contact has no phone number.
    #[error("the contact has no phone number")]
    NoContactPhone,
    /// No SMS gateway is set up.
    #[error("no SMS gateway is set up")]
    NoSmsGateway,
    /// The rest provider needs an address.
    #[error("the rest provider needs an address")]
    RestNeedsUrl,
    /// The http provider needs a body.
    #[error("the http provider needs a body")]
    HttpNeedsBody,
    /// An agent's registration names its channel.
    #[error("an agent's registration names its channel")]
    ChannelRequired,
    /// A question answered at once is not acknowledged.
    #[error("a question answered at once is not acknowledged")]
    AnsweredNotAcknowledged,
    /// No contact to acknowledge to.
    #[error("no contact to acknowledge to")]
    NoContactToAcknowledge,
    /// The cursor does not fit the sort order.
    #[error("does not fit the sort order")]
    CursorMismatch,
    /// Only a waiting ticket waits for someone.
    #[error("only a waiting ticket waits for someone")]
    WaitingOnNotWaiting,
    /// Only replies carry files.
    #[error("only replies carry files")]
    NoteNoFiles,
    /// An interval must end after it starts, within the day.
    #[error("an interval must end after it starts, within the day")]
    IntervalOrder,
    /// The intervals of a day overlap.
    #[error("the intervals of a day overlap")]
    IntervalsOverlap,
    /// A period must end on or after the day it starts.
    #[error("a period must end on or after its first day")]
    PeriodOrder,
    /// A period of at most `max` years.
    #[error("a period of at most {max} years")]
    PeriodTooLong { max: usize },
    /// A calendar must be open on some day of the week.
    #[error("a calendar must be open some day of the week")]
    CalendarClosed,
    /// A target must be at least one minute.
    #[error("a target must be at least one minute")]
    TargetMinute,
    /// The user is not a referral handler of this municipality.
    #[error("user {user} is not a handler of this municipality")]
    NotAHandler { user: String },
    /// This department answers the agent only.
    #[error("this department answers the agent only")]
    AgentOnly,
    /// The referral target has no address.
    #[error("the referral target has no address")]
    TargetNoAddress,
    /// The transfer target has no queue.
    #[error("the transfer target has no queue")]
    TransferNoQueue,
    /// The queue has no escalation target.
    #[error("the queue has no escalation target; choose one")]
    NoEscalationTarget,
    /// A secret header is also a plain header.
    #[error("{name} is also a plain header")]
    SecretAlsoPlain { name: String },
    /// A secret header has no value.
    #[error("{name:?} has no value")]
    SecretNoValue { name: String },
    /// A header's value is not valid.
    #[error("the value of {name} is not valid")]
    HeaderValue { name: String },
}

impl Reason {
    /// `Format { value, kind }` from anything printable.
    pub fn format(value: impl Into<String>, kind: FormatKind) -> Self {
        Reason::Format {
            value: value.into(),
            kind,
        }
    }

    /// `NotOneOf` from a value and the allowed codes.
    pub fn not_one_of(value: impl Into<String>, allowed: &[&str]) -> Self {
        Reason::NotOneOf {
            value: value.into(),
            allowed: allowed.join(", "),
        }
    }

    /// `OneOf` from the allowed codes.
    pub fn one_of(allowed: &[&str]) -> Self {
        Reason::OneOf {
            allowed: allowed.join(", "),
        }
    }

    pub fn unknown(value: impl Into<String>) -> Self {
        Reason::Unknown {
            value: value.into(),
        }
    }

    /// A template error at a position, when the engine knows it.
    pub fn template_at(pos: Option<(usize, usize)>) -> Self {
        match pos {
            Some((line, column)) => Reason::TemplateAt { line, column },
            None => Reason::Template,
        }
    }

    /// Machine name (API `reason`); the locale key is `reason.<name>`.
    pub fn name(&self) -> &'static str {
        match self {
            Reason::Empty => "empty",
            Reason::TooLong { .. } => "too_long",
            Reason::TooLongBytes { .. } => "too_long_bytes",
            Reason::TooShort { .. } => "too_short",
            Reason::Length { .. } => "length",
            Reason::Range { .. } => "range",
            Reason::NotANumber => "not_a_number",
            Reason::Choose => "choose",
            Reason::ChooseAtLeastOne => "choose_at_least_one",
            Reason::TooMany { .. } => "too_many",
            Reason::TooManyFiles { .. } => "too_many_files",
            Reason::TooBig { .. } => "too_big",
            Reason::NotOneOf { .. } => "not_one_of",
            Reason::OneOf { .. } => "one_of",
            Reason::Unknown { .. } => "unknown",
            Reason::Format { .. } => "format",
            Reason::Damaged => "damaged",
            Reason::Template => "template",
            Reason::TemplateAt { .. } => "template_at",
            Reason::FrontMatterStart => "front_matter_start",
            Reason::FrontMatterEnd => "front_matter_end",
            Reason::FrontMatterKeys { .. } => "front_matter_keys",
            Reason::NameTaken => "name_taken",
            Reason::NeedCondition => "need_condition",
            Reason::NeedAction => "need_action",
            Reason::PasswordsDiffer => "passwords_differ",
            Reason::PasswordWeak => "password_weak",
            Reason::OnlySpaces => "only_spaces",
            Reason::OwnAccount => "own_account",
            Reason::OwnPassword => "own_password",
            Reason::ConfirmStop => "confirm_stop",
            Reason::KbInternal { .. } => "kb_internal",
            Reason::PlainOnlyLocal => "plain_only_local",
            Reason::MergeIntoItself => "merge_into_itself",
            Reason::LinkToItself => "link_to_itself",
            Reason::SmsNeedsPhone => "sms_needs_phone",
            Reason::EmailNeedsAddress => "email_needs_address",
            Reason::NoContactPhone => "no_contact_phone",
            Reason::NoSmsGateway => "no_sms_gateway",
            Reason::RestNeedsUrl => "rest_needs_url",
            Reason::HttpNeedsBody => "http_needs_body",
            Reason::ChannelRequired => "channel_required",
            Reason::AnsweredNotAcknowledged => "answered_not_acknowledged",
            Reason::NoContactToAcknowledge => "no_contact_to_acknowledge",
            Reason::CursorMismatch => "cursor_mismatch",
            Reason::WaitingOnNotWaiting => "waiting_on_not_waiting",
            Reason::NoteNoFiles => "note_no_files",
            Reason::IntervalOrder => "interval_order",
            Reason::PeriodOrder => "period_order",
            Reason::PeriodTooLong { .. } => "period_too_long",
            Reason::IntervalsOverlap => "intervals_overlap",
            Reason::CalendarClosed => "calendar_closed",
            Reason::TargetMinute => "target_minute",
            Reason::NotAHandler { .. } => "not_a_handler",
            Reason::AgentOnly => "agent_only",
            Reason::TargetNoAddress => "target_no_address",
            Reason::TransferNoQueue => "transfer_no_queue",
            Reason::NoEscalationTarget => "no_escalation_target",
            Reason::SecretAlsoPlain { .. } => "secret_also_plain",
            Reason::SecretNoValue { .. } => "secret_no_value",
            Reason::HeaderValue { .. } => "header_value",
        }
    }

    pub fn key(&self) -> String {
        format!("reason.{}", self.name())
    }

    /// The typed parameters, by the name they have in the locale text (`{max}`).
    pub fn params(&self) -> Vec<(&'static str, Param)> {
        let n = |k, v: usize| (k, Param::Number(v));
        let s = |k, v: &String| (k, Param::Text(v.clone()));
        match self {
            Reason::TooLong { max }
            | Reason::TooLongBytes { max }
            | Reason::TooMany { max }
            | Reason::TooManyFiles { max } => vec![n("max", *max)],
            Reason::TooShort { min } => vec![n("min", *min)],
            Reason::Length { min, max } | Reason::Range { min, max } => {
                vec![n("min", *min), n("max", *max)]
            }
            Reason::TooBig { mb } => vec![n("mb", *mb)],
            Reason::PeriodTooLong { max } => vec![n("max", *max)],
            Reason::NotOneOf { value, allowed } => vec![s("value", value), s("allowed", allowed)],
            Reason::OneOf { allowed } => vec![s("allowed", allowed)],
            Reason::Unknown { value } => vec![s("value", value)],
            Reason::Format { value, kind } => vec![s("value", value), ("kind", Param::Kind(*kind))],
            Reason::TemplateAt { line, column } => vec![n("line", *line), n("column", *column)],
            Reason::FrontMatterKeys { line } => vec![n("line", *line)],
            Reason::KbInternal { title } => vec![s("title", title)],
            Reason::NotAHandler { user } => vec![s("user", user)],
            Reason::SecretAlsoPlain { name }
            | Reason::SecretNoValue { name }
            | Reason::HeaderValue { name } => vec![s("name", name)],
            Reason::Empty
            | Reason::NotANumber
            | Reason::Choose
            | Reason::ChooseAtLeastOne
            | Reason::Damaged
            | Reason::Template
            | Reason::FrontMatterStart
            | Reason::FrontMatterEnd
            | Reason::NameTaken
            | Reason::NeedCondition
            | Reason::NeedAction
            | Reason::PasswordsDiffer
            | Reason::PasswordWeak
            | Reason::OnlySpaces
            | Reason::OwnAccount
            | Reason::OwnPassword
            | Reason::ConfirmStop
            | Reason::PlainOnlyLocal
            | Reason::MergeIntoItself
            | Reason::LinkToItself
            | Reason::SmsNeedsPhone
            | Reason::EmailNeedsAddress
            | Reason::NoContactPhone
            | Reason::NoSmsGateway
            | Reason::RestNeedsUrl
            | Reason::HttpNeedsBody
            | Reason::ChannelRequired
            | Reason::AnsweredNotAcknowledged
            | Reason::NoContactToAcknowledge
            | Reason::CursorMismatch
            | Reason::WaitingOnNotWaiting
            | Reason::NoteNoFiles
            | Reason::IntervalOrder
            | Reason::PeriodOrder
            | Reason::IntervalsOverlap
            | Reason::CalendarClosed
            | Reason::TargetMinute
            | Reason::AgentOnly
            | Reason::TargetNoAddress
            | Reason::TransferNoQueue
            | Reason::NoEscalationTarget => vec![],
        }
    }

    /// One example of every variant (every `FormatKind` too), for tests that walk them all.
    /// `params` above matches without a wildcard, so a new variant must be listed here as well
    /// (the test below checks the names against that match).
    pub fn examples() -> Vec<Reason> {
        let v = || "xyz".to_string();
        let mut all = vec![
            Reason::Empty,
            Reason::TooLong { max: 80 },
            Reason::TooLongBytes { max: 1000 },
            Reason::TooShort { min: 10 },
            Reason::Length { min: 1, max: 80 },
            Reason::Range { min: 1, max: 99 },
            Reason::NotANumber,
            Reason::Choose,
            Reason::ChooseAtLeastOne,
            Reason::TooMany { max: 20 },
            Reason::TooManyFiles { max: 10 },
            Reason::TooBig { mb: 25 },
            Reason::not_one_of("xyz", &["new", "open"]),
            Reason::one_of(&["sv", "en"]),
            Reason::unknown(v()),
            Reason::Damaged,
            Reason::Template,
            Reason::TemplateAt { line: 2, column: 5 },
            Reason::FrontMatterStart,
            Reason::FrontMatterEnd,
            Reason::FrontMatterKeys { line: 3 },
            Reason::NameTaken,
            Reason::NeedCondition,
            Reason::NeedAction,
            Reason::PasswordsDiffer,
            Reason::PasswordWeak,
            Reason::OnlySpaces,
            Reason::OwnAccount,
            Reason::OwnPassword,
            Reason::ConfirmStop,
            Reason::KbInternal { title: v() },
            Reason::PlainOnlyLocal,
            Reason::MergeIntoItself,
            Reason::LinkToItself,
            Reason::SmsNeedsPhone,
            Reason::EmailNeedsAddress,
            Reason::NoContactPhone,
            Reason::NoSmsGateway,
            Reason::RestNeedsUrl,
            Reason::HttpNeedsBody,
            Reason::ChannelRequired,
            Reason::AnsweredNotAcknowledged,
            Reason::NoContactToAcknowledge,
            Reason::CursorMismatch,
            Reason::WaitingOnNotWaiting,
            Reason::NoteNoFiles,
            Reason::IntervalOrder,
            Reason::PeriodOrder,
            Reason::PeriodTooLong { max: 3 },
            Reason::IntervalsOverlap,
            Reason::CalendarClosed,
            Reason::TargetMinute,
            Reason::NotAHandler { user: v() },
            Reason::AgentOnly,
            Reason::TargetNoAddress,
            Reason::TransferNoQueue,
            Reason::NoEscalationTarget,
            Reason::SecretAlsoPlain { name: v() },
            Reason::SecretNoValue { name: v() },
            Reason::HeaderValue { name: v() },
        ];
        all.extend(FormatKind::ALL.iter().map(|k| Reason::format(v(), *k)));
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every variant has an example: the names of the examples are all the names `name` knows.
    #[test]
    fn reason_examples_cover_every_variant() {
        let names: std::collections::BTreeSet<_> =
            Reason::examples().iter().map(Reason::name).collect();
        // `name` matches without a wildcard; count its arms from the source.
        let src = include_str!("reason.rs");
        let body = src
            .split("pub fn name(&self) -> &'static str {")
            .nth(1)
            .and_then(|s| s.split("pub fn key(&self)").next())
            .expect("name fn");
        let arms = body.matches("=> \"").count();
        assert_eq!(names.len(), arms, "an example per Reason variant");
        let kinds: std::collections::BTreeSet<_> =
            FormatKind::ALL.iter().map(|k| k.name()).collect();
        let src_kinds = src
            .split("pub fn name(self) -> &'static str {")
            .nth(1)
            .and_then(|s| s.split("pub fn key(self)").next())
            .expect("kind name fn")
            .matches("=> \"")
            .count();
        assert_eq!(kinds.len(), src_kinds, "every FormatKind in ALL");
    }

    #[test]
    fn reason_display_is_english_for_logs_and_the_cli() {
        assert_eq!(
            Reason::format("snart", FormatKind::Duration).to_string(),
            "\"snart\" is not a duration like 90, 1:30, 4h or 2d"
        );
    }
}
