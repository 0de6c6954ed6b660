//! The demo organisation a newcomer clicks through: created once, found again on later
//! runs.

use phonenumber::country;

use crate::accounts::{self, NewUser};
use crate::auth::{permissions, Role};
use crate::contacts::{self, NewContact, NewEmail, NewPhone};
use crate::db::email_addresses::{self, EmailAddressInsertForm};
use crate::db::ids::{EmailAddressId, PhoneNumberId};
use crate::db::phone_numbers::{self, PhoneNumberInsertForm};
use crate::db::{users, DbPool};
use crate::error::AppError;

pub const ADMIN_EMAIL: &str = "admin@demo.switchboard.local";
pub const AGENT_EMAIL: &str = "agent@demo.switchboard.local";
/// A fixed password: the demo is for a local first look, and the login must be printable
/// on every run.
pub const PASSWORD: &str = "switchboard-demo";

/// Creates the demo organisation unless it exists; returns whether it was created.
pub async fn ensure(pool: &DbPool, region: country::Id) -> Result<bool, AppError> {
    if users::find_by_email(&mut *pool.get().await?, ADMIN_EMAIL)
        .await?
        .is_some()
    {
        return Ok(false);
    }
    let (organization, _) = accounts::create_organization(
        pool,
        "Demo Clinic",
        NewUser {
            email: ADMIN_EMAIL,
            name: "Avery Admin",
            password: PASSWORD,
            role: Role::Admin,
            permissions: &[],
        },
    )
    .await?;
    let org = organization.id;
    accounts::create_user(
        pool,
        org,
        NewUser {
            email: AGENT_EMAIL,
            name: "Sam Agent",
            password: PASSWORD,
            role: Role::Agent,
            permissions: &[permissions::SMS_ADMIN.to_string()],
        },
    )
    .await?;
    let mut conn = pool.get().await?;
    phone_numbers::insert(
        &mut conn,
        &PhoneNumberInsertForm {
            id: PhoneNumberId::generate(),
            organization_id: org,
            phone_number: "+14155550100".into(),
            label: "Front desk".into(),
            twilio_sid: None,
        },
    )
    .await?;
    email_addresses::insert(
        &mut conn,
        &EmailAddressInsertForm {
            id: EmailAddressId::generate(),
            organization_id: org,
            address: "frontdesk@demo.switchboard.local".into(),
            display_name: Some("Demo Clinic Front Desk".into()),
        },
    )
    .await?;
    let people = [
        ("Maria Garcia", "+14155550111", "maria.garcia@example.com"),
        ("James Chen", "+14155550122", "james.chen@example.com"),
        ("Aisha Patel", "+14155550133", "aisha.patel@example.com"),
        ("Tom O'Brien", "+14155550144", "tom.obrien@example.com"),
    ];
    for (name, phone, email) in people {
        contacts::insert(
            &mut conn,
            org,
            region,
            NewContact {
                name: name.into(),
                lead_id: None,
                partner_id: None,
                phones: vec![NewPhone {
                    phone_number: phone.into(),
                    label: Some("mobile".into()),
                    is_preferred: true,
                }],
                emails: vec![NewEmail {
                    email: email.into(),
                    label: Some("personal".into()),
                    is_preferred: true,
                }],
            },
        )
        .await?;
    }
    Ok(true)
}
