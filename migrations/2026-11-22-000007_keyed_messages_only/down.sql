DROP INDEX messages_client_id_key;
CREATE UNIQUE INDEX messages_client_id_key ON messages (organization_id, client_id);
