-- A message belongs to a contact of its organisation. The foreign key that said so
-- checked each new message with a query of its own, which also locked the contact's row:
-- measured on the send path (which records messages in batches of up to 256), a sixth of
-- what PostgreSQL spent per send. The triggers below keep the key's rules with one query
-- per statement instead of one per row:
--
-- * new messages: their contacts are looked up and locked together (FOR KEY SHARE, as
--   the key did, so none can be deleted until the messages are committed); a missing
--   one fails the whole statement, as the key did, with the same SQLSTATE;
-- * deleted contacts take their messages with them (the key's ON DELETE CASCADE);
-- * neither a message's contact nor a contact's key ever changes.
--
-- Like the key, they rely on the server's transactions being READ COMMITTED (every
-- statement sees what committed before it), which is PostgreSQL's default and the only
-- level this server uses.
ALTER TABLE messages DROP CONSTRAINT messages_organization_id_contact_id_fkey;

CREATE FUNCTION messages_contacts_exist() RETURNS trigger LANGUAGE plpgsql AS $$
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

CREATE TRIGGER messages_contact_exists AFTER INSERT ON messages
    REFERENCING NEW TABLE AS new_messages
    FOR EACH STATEMENT EXECUTE FUNCTION messages_contacts_exist();

CREATE FUNCTION contacts_delete_messages() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM messages USING deleted_contacts
     WHERE messages.organization_id = deleted_contacts.organization_id
       AND messages.contact_id = deleted_contacts.id;
    RETURN NULL;
END $$;

CREATE TRIGGER contacts_delete_messages AFTER DELETE ON contacts
    REFERENCING OLD TABLE AS deleted_contacts
    FOR EACH STATEMENT EXECUTE FUNCTION contacts_delete_messages();

CREATE FUNCTION contact_key_unchanged() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '%', TG_ARGV[0]
        USING ERRCODE = 'foreign_key_violation', TABLE = TG_TABLE_NAME, CONSTRAINT = TG_NAME;
END $$;

CREATE TRIGGER messages_contact_unchanged BEFORE UPDATE OF organization_id, contact_id ON messages
    FOR EACH ROW
    WHEN (OLD.organization_id IS DISTINCT FROM NEW.organization_id
          OR OLD.contact_id IS DISTINCT FROM NEW.contact_id)
    EXECUTE FUNCTION contact_key_unchanged('a message cannot move to another contact');

CREATE TRIGGER contacts_key_unchanged BEFORE UPDATE OF organization_id, id ON contacts
    FOR EACH ROW
    WHEN (OLD.organization_id IS DISTINCT FROM NEW.organization_id OR OLD.id IS DISTINCT FROM NEW.id)
    EXECUTE FUNCTION contact_key_unchanged('a contact''s id and organisation never change');
