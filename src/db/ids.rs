//! Newtype ids, one per table, so a contact id can never be passed where a user id is
//! expected. All are UUIDv7 (time-ordered).

use diesel_derive_newtype::DieselNewType;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id_types {
    ($($name:ident),* $(,)?) => {$(
        #[derive(DieselNewType, Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A fresh, time-ordered id.
            pub fn generate() -> Self {
                Self(Uuid::now_v7())
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    )*};
}

impl MessageId {
    /// When the id was made, which is when the message was recorded.
    pub fn created_at(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        let (seconds, nanos) = self.0.get_timestamp()?.to_unix();
        chrono::DateTime::from_timestamp(i64::try_from(seconds).ok()?, nanos)
    }
}

id_types!(
    OrganizationId,
    UserId,
    ApiTokenId,
    ContactId,
    ContactMethodId,
    PhoneNumberId,
    EmailAddressId,
    MessageId,
    AttachmentId,
    AuditLogId,
    CallId,
    CannedResponseId,
    ScheduledMessageId,
);
