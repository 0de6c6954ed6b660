DROP TRIGGER contacts_key_unchanged ON contacts;
DROP TRIGGER messages_contact_unchanged ON messages;
DROP FUNCTION contact_key_unchanged();
DROP TRIGGER contacts_delete_messages ON contacts;
DROP FUNCTION contacts_delete_messages();
DROP TRIGGER messages_contact_exists ON messages;
DROP FUNCTION messages_contacts_exist();
ALTER TABLE messages ADD FOREIGN KEY (organization_id, contact_id)
    REFERENCES contacts (organization_id, id) ON DELETE CASCADE;
