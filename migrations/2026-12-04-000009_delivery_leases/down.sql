ALTER TABLE messages DROP COLUMN carrier_checked_at;
ALTER TABLE messages DROP COLUMN claimed_by;
