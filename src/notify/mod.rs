//! Telling citizens what happens, on the channel they chose. This part: text messages (SMS) —
//! encoding and parts (`sms_text`), gateways, sending through the outbox, delivery reports and
//! the internal bill (`sms`).

pub mod citizen;
pub mod sms;
pub mod sms_text;
pub mod staff;
pub mod status_link;
