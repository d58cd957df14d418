//! Typed ids. The inner value is private outside the crate's store: code cannot make a `TenantId`
//! out of thin air, only get one from the store (a row that exists) or from an authenticated request.

use serde::Serialize;

macro_rules! id_type {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(i64);

        impl $name {
            /// Only the store creates ids from database values.
            pub(crate) fn from_db(v: i64) -> Self {
                $name(v)
            }
            pub fn get(self) -> i64 {
                self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// A municipality (kommun) served by this installation. Every row belongs to exactly one.
    TenantId
);
id_type!(
    /// A department queue (kö).
    QueueId
);
id_type!(
    /// An agent account.
    UserId
);
id_type!(
    /// Internal ticket id; people use `TicketNumber`.
    TicketId
);
