//! The demo organisation a newcomer clicks through: created once, found again on later
//! runs, with conversations to explore (texts both ways, a picture message, an email
//! thread, a call, a failed text, private notes, a contact who opted out).

use bytes::Bytes;
use chrono::{DateTime, Duration, Utc};
use phonenumber::country;

use crate::accounts::{self, NewUser};
use crate::auth::{permissions, Role};
use crate::contacts::{self, NewContact, NewEmail, NewPhone};
use crate::db::calls::{CallInsertForm, CallStatus};
use crate::db::canned_responses::{self, CannedResponseInsertForm};
use crate::db::contact_methods::{self, ContactMethod};
use crate::db::email_addresses::{self, EmailAddress, EmailAddressInsertForm};
use crate::db::ids::{
    AttachmentId, CallId, CannedResponseId, ContactId, EmailAddressId, MessageId, OrganizationId,
    PhoneNumberId, UserId,
};
use crate::db::message_attachments::{self, AttachmentInsertForm};
use crate::db::message_fields::{Channel, Direction, MessageStatus};
use crate::db::messages::{self, MessageInsertForm, MessageScope, StatusChange, StatusReport};
use crate::db::phone_numbers::{self, PhoneNumber, PhoneNumberInsertForm};
use crate::db::run_locks::RunKey;
use crate::db::{sms_opt_outs, users, DbPool};
use crate::error::AppError;
use crate::storage::Storage;

pub const ADMIN_EMAIL: &str = "admin@demo.switchboard.local";
pub const AGENT_EMAIL: &str = "agent@demo.switchboard.local";
/// A fixed password: the demo is for a local first look, and the login must be printable
/// on every run.
pub const PASSWORD: &str = "switchboard-demo";

/// The map the front desk texts Maria with her booking: the demo's picture message.
const DIRECTIONS_PNG: &[u8] = include_bytes!("../assets/demo/directions.png");

/// Creates the demo organisation unless it exists; returns whether it was created. The
/// demo's picture goes to `storage`, where the server's uploads go.
pub async fn ensure(
    pool: &DbPool,
    storage: &Storage,
    region: country::Id,
) -> Result<bool, AppError> {
    if users::find_by_email(&mut *pool.get().await?, ADMIN_EMAIL)
        .await?
        .is_some()
    {
        return Ok(false);
    }
    let (organization, admin) = accounts::create_organization(
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
    let agent = accounts::create_user(
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
    let line = phone_numbers::insert(
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
    let mailbox = email_addresses::insert(
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
    let mut ids = Vec::new();
    for (name, phone, email) in people {
        ids.push(
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
            .await?,
        );
    }
    // Two numbers: the compose box lets the operator choose.
    contacts::insert(
        &mut conn,
        org,
        region,
        NewContact {
            name: "Lena Novak".into(),
            lead_id: None,
            partner_id: None,
            phones: vec![
                NewPhone {
                    phone_number: "+14155550155".into(),
                    label: Some("mobile".into()),
                    is_preferred: true,
                },
                NewPhone {
                    phone_number: "+14155550156".into(),
                    label: Some("work".into()),
                    is_preferred: false,
                },
            ],
            emails: vec![],
        },
    )
    .await?;
    let methods = contact_methods::list_for_contacts(&mut conn, org, &ids).await?;
    let history = History {
        org,
        line,
        mailbox,
        methods,
        admin: admin.id,
        agent: agent.id,
        now: Utc::now(),
    };
    history.write(&mut conn, storage, &ids).await?;
    drop(conn);
    add_call_and_canned_responses(pool, org, history.line.id, ids[0]).await?;
    Ok(true)
}

/// Who wrote what, when: the conversations the demo opens with.
struct History {
    org: OrganizationId,
    line: PhoneNumber,
    mailbox: EmailAddress,
    methods: Vec<ContactMethod>,
    admin: UserId,
    agent: UserId,
    now: DateTime<Utc>,
}

enum Said {
    TextOut(&'static str),
    /// A text with the clinic's map attached (an MMS).
    DirectionsOut(&'static str),
    TextIn(&'static str),
    EmailOut(&'static str, &'static str),
    EmailIn(&'static str, &'static str),
    Note(&'static str),
}

impl History {
    async fn write(
        &self,
        conn: &mut diesel_async::AsyncPgConnection,
        storage: &Storage,
        contacts: &[ContactId],
    ) -> Result<(), AppError> {
        let [maria, james, aisha, tom] = contacts else {
            unreachable!("four demo contacts")
        };
        // Minutes before now.
        const DAY: i64 = 24 * 60;
        use Said::*;
        let script = [
            (*maria, 2 * DAY, TextOut("Hi Maria, this is Demo Clinic. Your appointment with Dr. Rivera is on **Thursday at 10:30**. Reply C to confirm or R to reschedule.")),
            (*maria, 2 * DAY - 7, TextIn("R please, Thursday doesn't work for me")),
            (*maria, 2 * DAY - 15, TextOut("No problem! We have Friday 9:00 or Monday 14:15. Which suits you?")),
            (*maria, DAY, TextIn("Friday 9:00 works 👍")),
            (*maria, DAY - 3, DirectionsOut("Booked: Friday 9:00. The map shows the way in (the entrance is on the parking side): https://maps.example.com/demo-clinic")),
            (*maria, 40, TextIn("Is there parking near the clinic?")),
            (*james, 3 * DAY, EmailOut("Your visit summary", "Hello James,\n\nThank you for visiting us today. Next steps:\n\n1. Book a follow-up in **two weeks**\n2. Bring your insurance card\n\nDemo Clinic Front Desk")),
            (*james, 2 * DAY, EmailIn("Re: Your visit summary", "Thanks! Can I book the follow-up online?")),
            (*james, 2 * DAY - 30, Note("Gave him the booking link over the phone. — Sam")),
            (*aisha, 5 * 60, TextOut("Reminder: please bring your referral letter tomorrow.")),
            (*aisha, 4 * 60, Note("Her mobile seems to be off. Try the email on file tomorrow morning.")),
            (*tom, 6 * DAY, TextOut("Hi Tom, your order is ready for pickup at the front desk.")),
            (*tom, 6 * DAY - 60, TextIn("STOP")),
        ];
        for (contact, ago, said) in script {
            let with_map = matches!(said, DirectionsOut(_));
            let form = self.form(contact, said);
            let id = form.id;
            messages::insert(conn, &form).await?;
            if with_map {
                self.attach_directions(conn, storage, id).await?;
            }
            messages::backdate(
                conn,
                self.org,
                contact,
                id,
                self.now - Duration::minutes(ago),
                !form.private,
            )
            .await?;
        }
        // The reminder to Aisha never arrived.
        let failed = messages::page(conn, self.org, MessageScope::Contact(*aisha), None, 10)
            .await?
            .into_iter()
            .find(|message| {
                message.direction == Direction::Outbound && message.channel == Channel::Sms
            })
            .map(|message| message.id);
        if let Some(id) = failed {
            let change = StatusChange {
                error_code: Some("30003".into()),
                error_message: Some(
                    "Unreachable destination handset: the phone may be off or out of coverage."
                        .into(),
                ),
                ..StatusChange::to(MessageStatus::Failed)
            };
            // A run key is recorded only by a move to `sending`: any will do here.
            messages::advance_statuses(
                conn,
                RunKey::generate(),
                &[StatusReport {
                    organization_id: self.org,
                    contact_id: *aisha,
                    id,
                    change,
                }],
            )
            .await?;
        }
        let tom_phone = self.method(*tom, "phone");
        sms_opt_outs::record(
            conn,
            self.org,
            &tom_phone.value,
            &self.line.phone_number,
            "STOP",
        )
        .await?;
        Ok(())
    }

    /// Stores the map as an upload would be stored and attaches it to `message`.
    async fn attach_directions(
        &self,
        conn: &mut diesel_async::AsyncPgConnection,
        storage: &Storage,
        message: MessageId,
    ) -> Result<(), AppError> {
        let id = AttachmentId::generate();
        let file_name = "directions.png";
        let form = AttachmentInsertForm {
            id,
            organization_id: self.org,
            storage_key: format!("{}/{id}/{file_name}", self.org),
            content_type: "image/png".into(),
            file_name: file_name.into(),
            file_size: DIRECTIONS_PNG.len() as i64,
        };
        storage
            .put(&form.storage_key, vec![Bytes::from_static(DIRECTIONS_PNG)])
            .await
            .map_err(AppError::internal)?;
        message_attachments::insert(conn, &form).await?;
        message_attachments::link(conn, self.org, &[id], message).await?;
        Ok(())
    }

    fn method(&self, contact: ContactId, kind: &str) -> &ContactMethod {
        self.methods
            .iter()
            .find(|m| m.contact_id == contact && m.kind == kind)
            .expect("every demo contact has a phone and an email")
    }

    fn form(&self, contact: ContactId, said: Said) -> MessageInsertForm {
        let (channel, inbound, subject, body) = match said {
            Said::TextOut(body) | Said::DirectionsOut(body) => (Channel::Sms, false, None, body),
            Said::TextIn(body) => (Channel::Sms, true, None, body),
            Said::EmailOut(subject, body) => (Channel::Email, false, Some(subject), body),
            Said::EmailIn(subject, body) => (Channel::Email, true, Some(subject), body),
            Said::Note(body) => (Channel::Note, false, None, body),
        };
        let (phone, email) = (self.method(contact, "phone"), self.method(contact, "email"));
        // (our address, theirs, our line, our mailbox, their entry)
        let (ours, theirs, line, mailbox, method) = match channel {
            Channel::Sms => (
                &self.line.phone_number,
                &phone.value,
                Some(self.line.id),
                None,
                Some(phone.id),
            ),
            Channel::Email => (
                &self.mailbox.address,
                &email.value,
                None,
                Some(self.mailbox.id),
                Some(email.id),
            ),
            _ => {
                return MessageInsertForm {
                    status: MessageStatus::Sent,
                    source: "note",
                    private: true,
                    sender_user_id: Some(self.agent),
                    ..self.blank(contact, channel, body)
                }
            }
        };
        let (from, to) = if inbound {
            (theirs, ours)
        } else {
            (ours, theirs)
        };
        MessageInsertForm {
            phone_number_id: line,
            email_address_id: mailbox,
            contact_method_id: method,
            direction: if inbound {
                Direction::Inbound
            } else {
                Direction::Outbound
            },
            subject: subject.map(Into::into),
            from_address: Some(from.clone()),
            to_address: Some(to.clone()),
            status: match (inbound, channel) {
                (true, _) => MessageStatus::Received,
                // Email has no delivery reports: accepted is as far as it goes.
                (false, Channel::Email) => MessageStatus::Sent,
                (false, _) => MessageStatus::Delivered,
            },
            source: if inbound { "webhook" } else { "operator" },
            sender_user_id: (!inbound).then_some(self.admin),
            ..self.blank(contact, channel, body)
        }
    }

    fn blank(&self, contact: ContactId, channel: Channel, body: &str) -> MessageInsertForm {
        MessageInsertForm {
            id: MessageId::generate(),
            organization_id: self.org,
            contact_id: contact,
            phone_number_id: None,
            email_address_id: None,
            contact_method_id: None,
            channel,
            direction: Direction::Outbound,
            body: body.into(),
            subject: None,
            from_address: None,
            to_address: None,
            status: MessageStatus::Sent,
            source: "operator",
            ai_origin: None,
            external_id: None,
            client_id: None,
            private: false,
            sender_user_id: None,
        }
    }
}

/// A call with Maria Garcia, transcribed and analysed, and the saved replies a front desk
/// types as `/hours` or `/reschedule`.
async fn add_call_and_canned_responses(
    pool: &DbPool,
    org: OrganizationId,
    line: PhoneNumberId,
    maria: ContactId,
) -> Result<(), AppError> {
    let started_at = chrono::Utc::now() - chrono::Duration::hours(2);
    crate::db::calls::record(
        &mut *pool.get().await?,
        &CallInsertForm {
            id: CallId::generate(),
            organization_id: org,
            contact_id: maria,
            phone_number_id: Some(line),
            direction: Direction::Inbound,
            from_number: "+14155550111".into(),
            to_number: "+14155550100".into(),
            status: CallStatus::Completed,
            started_at: Some(started_at),
            duration_seconds: Some(94),
            recording_url: None,
            transcription: Some(
                "**Front desk:** Demo Clinic, how can I help?\n\n\
                 **Maria Garcia:** Hi, I need to move Thursday's appointment, I'm travelling.\n\n\
                 **Front desk:** No problem, I'll text you the open slots for next week."
                    .into(),
            ),
            analysis: Some(
                "- **Intent:** reschedule an appointment\n\
                 - **Follow-up:** text the open slots for next week\n\
                 - **Sentiment:** neutral"
                    .into(),
            ),
            external_id: None,
        },
    )
    .await?;
    let replies = [
        (
            "hours",
            "Opening hours",
            "Hi {{contact.first_name}}, {{org.name}} is open Monday to Friday, 8am to 6pm.",
        ),
        (
            "reschedule",
            "Rescheduling an appointment",
            "Hi {{contact.first_name}}, to reschedule your appointment just reply with a day \
             and time that suit you. {{operator.name}}, {{org.name}}",
        ),
        (
            "refill",
            "Prescription refills",
            "Hi {{contact.first_name}}, prescription refills are ready two working days after you ask.",
        ),
    ];
    let mut conn = pool.get().await?;
    for (short_code, title, content) in replies {
        let form = CannedResponseInsertForm {
            id: CannedResponseId::generate(),
            organization_id: org,
            short_code: short_code.into(),
            title: title.into(),
            content: content.into(),
        };
        canned_responses::insert(&mut conn, &form).await?;
    }
    Ok(())
}
