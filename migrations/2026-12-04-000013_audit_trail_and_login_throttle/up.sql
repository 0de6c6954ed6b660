-- The audit log is read newest first per organisation (ids are UUIDv7: time-ordered).
CREATE INDEX audit_log_recent_idx ON audit_log (organization_id, id DESC);

-- Failed logins, to throttle password guessing per account and per source address,
-- across all servers. Not scoped by organisation: a login names no organisation until
-- it succeeds, and an unknown email must be throttled exactly like a known one.
CREATE TABLE login_failures (
    id bigserial PRIMARY KEY,
    email text NOT NULL,
    source text NOT NULL,
    failed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_failures_email_idx ON login_failures (email, failed_at);
CREATE INDEX login_failures_source_idx ON login_failures (source, failed_at);
