-- Scheduled messages, and the organisation's quiet hours during which they wait.

CREATE TABLE scheduled_messages (
    id uuid PRIMARY KEY,
    organization_id uuid NOT NULL,
    contact_id uuid NOT NULL,
    channel text NOT NULL CHECK (channel IN ('sms', 'email')),
    body text NOT NULL DEFAULT '',
    subject text,
    -- The sender and recipient asked for; `NULL` takes the same defaults as a send,
    -- resolved when the message fires. A sender deleted meanwhile falls back to them.
    phone_number_id uuid,
    contact_phone_id uuid,
    email_address_id uuid,
    contact_email_id uuid,
    -- Pending uploads, linked to the message when it fires.
    attachment_ids uuid[] NOT NULL DEFAULT '{}',
    -- When the operator wants it sent.
    send_at timestamptz NOT NULL,
    status text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'firing', 'sent', 'canceled', 'failed')),
    -- When a scheduler should next look at the row: `send_at`, or the end of the quiet
    -- hours it is waiting out while `pending`; the end of the claim's lease while
    -- `firing` (a claim whose lease ran out is taken over by the next attempt).
    due_at timestamptz NOT NULL,
    -- Claims so far: a finish is accepted only from the attempt that holds the claim.
    attempt integer NOT NULL DEFAULT 0,
    -- The run (server process, see `db::run_locks`) holding the claim while `firing`: a
    -- claim whose run is gone is taken over at once, without waiting out the lease.
    claimed_by bigint,
    message_id uuid,
    error_code text,
    error_message text,
    cancel_on_reply boolean NOT NULL DEFAULT false,
    -- Set when the operator scheduled a draft the PHI policy blocks, with the
    -- `phi.override` permission: the reason is audited with the message when it fires.
    phi_override_reason text,
    -- The client's idempotency key: the same key twice is the same scheduled message.
    client_id text,
    created_by uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    fired_at timestamptz,
    FOREIGN KEY (organization_id, contact_id) REFERENCES contacts (organization_id, id) ON DELETE CASCADE,
    FOREIGN KEY (organization_id, phone_number_id) REFERENCES phone_numbers (organization_id, id)
        ON DELETE SET NULL (phone_number_id),
    FOREIGN KEY (organization_id, email_address_id) REFERENCES email_addresses (organization_id, id)
        ON DELETE SET NULL (email_address_id),
    FOREIGN KEY (organization_id, message_id) REFERENCES messages (organization_id, id),
    FOREIGN KEY (organization_id, created_by) REFERENCES users (organization_id, id)
        ON DELETE SET NULL (created_by),
    UNIQUE (organization_id, id)
);
CREATE UNIQUE INDEX scheduled_messages_client_id_key ON scheduled_messages (organization_id, client_id);
-- The schedulers' queue, across organisations: what is due next.
CREATE INDEX scheduled_messages_due_idx ON scheduled_messages (due_at)
    WHERE status IN ('pending', 'firing');
-- The claims held now, to find those of runs that are gone.
CREATE INDEX scheduled_messages_firing_idx ON scheduled_messages (due_at)
    WHERE status = 'firing';
-- The operator queue beside a conversation.
CREATE INDEX scheduled_messages_contact_idx ON scheduled_messages (organization_id, contact_id, send_at);
-- An inbound message cancels what waits for a reply.
CREATE INDEX scheduled_messages_reply_idx ON scheduled_messages (organization_id, contact_id)
    WHERE status = 'pending' AND cancel_on_reply;

-- Local times in an IANA zone; all three are set, or none.
ALTER TABLE organization_settings
    ADD COLUMN quiet_hours_timezone text,
    ADD COLUMN quiet_hours_start time,
    ADD COLUMN quiet_hours_end time,
    ADD CONSTRAINT organization_settings_quiet_hours_check CHECK (
        (quiet_hours_timezone IS NULL) = (quiet_hours_start IS NULL)
        AND (quiet_hours_start IS NULL) = (quiet_hours_end IS NULL)
    );
