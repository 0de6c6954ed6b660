-- A message claimed for sending names the server process ("run") that claimed it: the
-- key of the PostgreSQL advisory lock that run holds for as long as it lives (see
-- `db::run_locks`). A send cut short by a run that died is then finished by another run
-- within seconds, not after the long silence kept for claims of a run that may still be
-- alive. Not indexed: status updates stay HOT (in place), which an index on a column
-- they change would prevent.
ALTER TABLE messages ADD COLUMN claimed_by bigint;
-- When the carrier was last asked where a message stands (its status callbacks may have
-- been lost while the server or the database was down).
ALTER TABLE messages ADD COLUMN carrier_checked_at timestamptz;
