-- Recording a message wrote five index entries and ran four foreign-key checks, each a
-- query that also locks the row it finds; measured on the send path, these were most
-- of what PostgreSQL spent per message.

-- The organisation's line or address and the contact's entry a message went through
-- are kept as a record of the message, not as live links: a new message no longer
-- looks each one up and locks it, and deleting one no longer rewrites every message
-- that used it. The message keeps the addresses it was sent with and received from;
-- an id that names a deleted line or entry is shown without its label.
ALTER TABLE messages DROP CONSTRAINT messages_phone_number_id_fkey;
ALTER TABLE messages DROP CONSTRAINT messages_email_address_id_fkey;
ALTER TABLE messages DROP CONSTRAINT messages_contact_method_id_fkey;

-- One key, not two: every query names the organisation, and attachments reference
-- (organization_id, id) already.
ALTER TABLE message_attachments DROP CONSTRAINT message_attachments_organization_id_message_id_fkey;
ALTER TABLE messages DROP CONSTRAINT messages_organization_id_id_key;
ALTER TABLE messages DROP CONSTRAINT messages_pkey;
ALTER TABLE messages ADD PRIMARY KEY (organization_id, id);
ALTER TABLE message_attachments ADD FOREIGN KEY (organization_id, message_id)
    REFERENCES messages (organization_id, id) ON DELETE CASCADE;

-- The number a contact last wrote to: only inbound messages are in it, so outbound
-- ones (most of them) add nothing. The query spells `direction = 'inbound'` out so the
-- planner can match it.
DROP INDEX messages_direction_idx;
CREATE INDEX messages_last_inbound_idx ON messages (organization_id, contact_id, created_at DESC, id DESC)
    WHERE direction = 'inbound';
