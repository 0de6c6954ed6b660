-- The organisation number a contact last wrote to (replies go out from it): read on
-- every send, and without this index found by walking all of the contact's messages.
-- (Not a partial index: the query's `direction = $n` is a bound parameter, which a
-- prepared statement cannot match against an index predicate.)
CREATE INDEX messages_direction_idx ON messages (organization_id, contact_id, direction, created_at DESC, id DESC);

-- Status callbacks find their message by organisation and carrier id: one index for
-- both, where the planner used to AND the carrier-id index with a scan of every
-- message of the organisation.
DROP INDEX messages_external_id_idx;
CREATE INDEX messages_external_id_idx ON messages (organization_id, external_id)
    WHERE external_id IS NOT NULL;

-- A message is updated a few times as its status moves on: room on its page lets
-- PostgreSQL do that in place (HOT) instead of adding entries to every index.
ALTER TABLE messages SET (fillfactor = 85);
