DROP INDEX messages_last_inbound_idx;
CREATE INDEX messages_direction_idx ON messages (organization_id, contact_id, direction, created_at DESC, id DESC);

ALTER TABLE message_attachments DROP CONSTRAINT message_attachments_organization_id_message_id_fkey;
ALTER TABLE messages DROP CONSTRAINT messages_pkey;
ALTER TABLE messages ADD PRIMARY KEY (id);
ALTER TABLE messages ADD UNIQUE (organization_id, id);
ALTER TABLE message_attachments ADD FOREIGN KEY (organization_id, message_id)
    REFERENCES messages (organization_id, id) ON DELETE CASCADE;

UPDATE messages SET phone_number_id = NULL
    WHERE phone_number_id IS NOT NULL AND phone_number_id NOT IN (SELECT id FROM phone_numbers);
UPDATE messages SET email_address_id = NULL
    WHERE email_address_id IS NOT NULL AND email_address_id NOT IN (SELECT id FROM email_addresses);
UPDATE messages SET contact_method_id = NULL
    WHERE contact_method_id IS NOT NULL AND contact_method_id NOT IN (SELECT id FROM contact_methods);
ALTER TABLE messages ADD FOREIGN KEY (phone_number_id) REFERENCES phone_numbers (id) ON DELETE SET NULL;
ALTER TABLE messages ADD FOREIGN KEY (email_address_id) REFERENCES email_addresses (id) ON DELETE SET NULL;
ALTER TABLE messages ADD FOREIGN KEY (contact_method_id) REFERENCES contact_methods (id) ON DELETE SET NULL;
