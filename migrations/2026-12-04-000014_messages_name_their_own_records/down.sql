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
    RETURN NULL;
END $$;
