//! The domain core of clickhook.
//!
//! Everything here is pure: it computes, it never touches a socket, a file or a clock it
//! was not handed. That is what lets the rules that matter most (who may be redirected
//! where, which click is unique, what JSON a receiver sees, when a failed delivery is tried
//! again) be tested with plain unit and property tests, and lets every backend and every
//! server share them unchanged.

pub mod event;
pub mod hit;
pub mod labels;
pub mod message;
pub mod redact;
pub mod retention;
pub mod retry;
pub mod signature;
pub mod timefmt;
pub mod token;
pub mod unique;
pub mod webhook;

pub use event::{BotInfo, ClickEvent, ClientInfo, Geo, OsInfo};
pub use hit::Hit;
pub use message::{ClickLocation, MessageRecord, TrackLinks};
pub use retention::RetentionDays;
pub use retry::{AttemptVerdict, RetryPolicy, RetrySchedule};
pub use token::{Keyring, SigningKey, TokenError, TokenPayload};
pub use webhook::{HttpAuth, HttpHeader, Triggers, Webhook};
