-- Calls beside messages in a contact's timeline, the organisation's canned responses,
-- and the drafts operators leave half-written.

CREATE TABLE calls (
    id uuid NOT NULL,
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    contact_id uuid NOT NULL,
    -- The organisation's line the call went through; a line deleted later leaves the
    -- call with its numbers.
    phone_number_id uuid,
    direction text NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    from_number text NOT NULL,
    to_number text NOT NULL,
    status text NOT NULL CHECK (status IN ('queued', 'ringing', 'in-progress', 'completed', 'busy',
                                           'no-answer', 'failed', 'canceled')),
    started_at timestamptz,
    duration_seconds integer CHECK (duration_seconds >= 0),
    recording_url text,
    -- Markdown, written after the call by a transcriber and an analyst (person or model).
    transcription text,
    analysis text,
    -- Twilio's CallSid.
    external_id text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, id),
    FOREIGN KEY (organization_id, contact_id) REFERENCES contacts (organization_id, id) ON DELETE CASCADE,
    FOREIGN KEY (organization_id, phone_number_id) REFERENCES phone_numbers (organization_id, id)
        ON DELETE SET NULL (phone_number_id)
);
CREATE UNIQUE INDEX calls_external_id_key ON calls (organization_id, external_id)
    WHERE external_id IS NOT NULL;
-- The contact's feed reads calls newest first, as it reads messages through
-- messages_contact_idx.
CREATE INDEX calls_contact_idx ON calls (organization_id, contact_id, created_at DESC, id DESC);

-- Saved replies, typed as `/short_code`.
CREATE TABLE canned_responses (
    id uuid NOT NULL,
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    short_code text NOT NULL CHECK (short_code ~ '^[a-z0-9_-]{1,32}$'),
    title text NOT NULL CHECK (btrim(title) <> ''),
    content text NOT NULL CHECK (btrim(content) <> ''),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, id),
    CONSTRAINT canned_responses_short_code_key UNIQUE (organization_id, short_code)
);

-- One reply in progress per operator and contact, kept by the server so it follows the
-- operator from one browser to another.
CREATE TABLE drafts (
    organization_id uuid NOT NULL,
    user_id uuid NOT NULL,
    contact_id uuid NOT NULL,
    channel text NOT NULL CHECK (channel IN ('sms', 'email', 'note')),
    body text NOT NULL,
    subject text,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, user_id, contact_id),
    FOREIGN KEY (organization_id, user_id) REFERENCES users (organization_id, id) ON DELETE CASCADE,
    FOREIGN KEY (organization_id, contact_id) REFERENCES contacts (organization_id, id) ON DELETE CASCADE
);
