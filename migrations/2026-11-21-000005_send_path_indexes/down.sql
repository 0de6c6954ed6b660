ALTER TABLE messages RESET (fillfactor);
DROP INDEX messages_external_id_idx;
CREATE INDEX messages_external_id_idx ON messages (external_id) WHERE external_id IS NOT NULL;
DROP INDEX messages_direction_idx;
