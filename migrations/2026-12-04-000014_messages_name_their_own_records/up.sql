-- A message names its organisation's line or address, the contact's entry it went
-- through and the operator who sent it. Those links lost their foreign keys (see
-- `lighter_message_writes`: a message keeps them as a record, and deleting a line no
-- longer rewrites its messages), so nothing in the database stopped a new message from
-- naming another organisation's line. The statement-level check that already looks up
-- the new messages' contacts now also checks, once per statement, that every line,
-- address, entry and operator a new message names is its organisation's own (and the
-- entry its contact's). Rows written before this are not re-checked.
CREATE OR REPLACE FUNCTION messages_contacts_exist() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    missing boolean;
BEGIN
    WITH named AS (SELECT DISTINCT organization_id, contact_id FROM new_messages),
         found AS (SELECT 1 FROM contacts
                   JOIN named ON contacts.organization_id = named.organization_id
                             AND contacts.id = named.contact_id
                   FOR KEY SHARE OF contacts)
    SELECT (SELECT count(*) FROM named) > (SELECT count(*) FROM found) INTO missing;
    IF missing THEN
        RAISE EXCEPTION 'a new message names a contact that does not exist'
            USING ERRCODE = 'foreign_key_violation', TABLE = 'messages',
                  CONSTRAINT = 'messages_contact_exists';
    END IF;
    -- Each kind of link once per distinct value: a batch of messages names a few lines
    -- and operators, however many messages it holds.
    IF EXISTS (SELECT 1 FROM (SELECT DISTINCT organization_id, phone_number_id FROM new_messages
                               WHERE phone_number_id IS NOT NULL) AS m
                WHERE NOT EXISTS (SELECT 1 FROM phone_numbers AS p
                                   WHERE p.organization_id = m.organization_id
                                     AND p.id = m.phone_number_id))
       OR EXISTS (SELECT 1 FROM (SELECT DISTINCT organization_id, email_address_id FROM new_messages
                                  WHERE email_address_id IS NOT NULL) AS m
                   WHERE NOT EXISTS (SELECT 1 FROM email_addresses AS e
                                      WHERE e.organization_id = m.organization_id
                                        AND e.id = m.email_address_id))
       OR EXISTS (SELECT 1 FROM (SELECT DISTINCT organization_id, contact_id, contact_method_id
                                   FROM new_messages WHERE contact_method_id IS NOT NULL) AS m
                   WHERE NOT EXISTS (SELECT 1 FROM contact_methods AS c
                                      WHERE c.id = m.contact_method_id
                                        AND c.organization_id = m.organization_id
                                        AND c.contact_id = m.contact_id))
       OR EXISTS (SELECT 1 FROM (SELECT DISTINCT organization_id, sender_user_id FROM new_messages
                                  WHERE sender_user_id IS NOT NULL) AS m
                   WHERE NOT EXISTS (SELECT 1 FROM users AS u
                                      WHERE u.organization_id = m.organization_id
                                        AND u.id = m.sender_user_id))
    THEN
        RAISE EXCEPTION 'a new message names a line, address, contact entry or operator that is not its organisation''s'
            USING ERRCODE = 'foreign_key_violation', TABLE = 'messages',
                  CONSTRAINT = 'messages_name_their_own_records';
    END IF;
    RETURN NULL;
END $$;
