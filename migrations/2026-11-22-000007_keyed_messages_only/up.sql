-- Most messages carry no idempotency key (client_id), yet each took an entry in the key's
-- unique index on insert and again on every update that is not HOT (the carrier id's):
-- a quarter of the index entries a send wrote. Only keyed messages are in it now; the
-- replay look-up (`client_id = $1`) and the insert's ON CONFLICT use it as before.
DROP INDEX messages_client_id_key;
CREATE UNIQUE INDEX messages_client_id_key ON messages (organization_id, client_id)
    WHERE client_id IS NOT NULL;
