-- Messages, their attachments, per-operator read marks and the audit log.

CREATE TABLE messages (
    id uuid PRIMARY KEY,
    organization_id uuid NOT NULL,
    contact_id uuid NOT NULL,
    -- The organisation's sender (SMS) and the contact's phone or email used. A sender
    -- or a contact entry deleted later leaves the message with its addresses intact.
    phone_number_id uuid REFERENCES phone_numbers (id) ON DELETE SET NULL,
    email_address_id uuid REFERENCES email_addresses (id) ON DELETE SET NULL,
    contact_method_id uuid REFERENCES contact_methods (id) ON DELETE SET NULL,
    channel text NOT NULL CHECK (channel IN ('sms', 'whatsapp', 'facebook_messenger', 'instagram_dm', 'email', 'note')),
    direction text NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    body text NOT NULL DEFAULT '',
    subject text,
    from_address text,
    to_address text,
    status text NOT NULL CHECK (status IN ('scheduled', 'queued', 'sending', 'sent', 'delivered',
                                           'undelivered', 'failed', 'received', 'canceled')),
    -- Where the message came from: dashboard/api (an operator), webhook (a carrier), note.
    source text NOT NULL,
    -- Set when the text was written or suggested by an assistant (its name), for review.
    ai_origin text,
    external_id text,
    error_code text,
    error_message text,
    -- The client's idempotency key: the same key twice is the same message.
    client_id text,
    -- Internal notes: shown to operators, never sent.
    private boolean NOT NULL DEFAULT false,
    sender_user_id uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    edited_at timestamptz,
    deleted_at timestamptz,
    FOREIGN KEY (organization_id, contact_id) REFERENCES contacts (organization_id, id) ON DELETE CASCADE,
    UNIQUE (organization_id, id)
);
CREATE UNIQUE INDEX messages_client_id_key ON messages (organization_id, client_id);
-- A contact's history, newest first, and the last inbound number for reply routing.
CREATE INDEX messages_contact_idx ON messages (organization_id, contact_id, created_at DESC, id DESC);
-- Carrier callbacks find a message by its carrier id.
CREATE INDEX messages_external_id_idx ON messages (external_id) WHERE external_id IS NOT NULL;

CREATE TABLE message_attachments (
    id uuid PRIMARY KEY,
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    -- NULL while the upload is pending, set once when a message takes it.
    message_id uuid,
    storage_key text NOT NULL,
    content_type text NOT NULL,
    file_name text NOT NULL,
    file_size bigint NOT NULL CHECK (file_size >= 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (organization_id, message_id) REFERENCES messages (organization_id, id) ON DELETE CASCADE
);
CREATE INDEX message_attachments_message_idx ON message_attachments (organization_id, message_id);

-- How far each operator has read each contact's conversation (unread counts).
CREATE TABLE contact_reads (
    organization_id uuid NOT NULL,
    user_id uuid NOT NULL,
    contact_id uuid NOT NULL,
    last_read_at timestamptz NOT NULL,
    PRIMARY KEY (organization_id, user_id, contact_id),
    FOREIGN KEY (organization_id, user_id) REFERENCES users (organization_id, id) ON DELETE CASCADE,
    FOREIGN KEY (organization_id, contact_id) REFERENCES contacts (organization_id, id) ON DELETE CASCADE
);

-- Who did what to which record, for changes that must be accountable (deletions,
-- overrides). Details never hold message text.
CREATE TABLE audit_log (
    id uuid PRIMARY KEY,
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id uuid,
    action text NOT NULL,
    subject_type text NOT NULL,
    subject_id uuid NOT NULL,
    details jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_subject_idx ON audit_log (organization_id, subject_type, subject_id);
