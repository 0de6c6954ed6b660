-- The walking skeleton: organisations, their operators and tokens, their contacts and
-- the senders (phone numbers, email addresses) they own.
--
-- Every table carries organization_id, and child tables reference their parent through
-- (organization_id, id) so a row can never point across tenants, whatever the code does.
-- Ids are UUIDv7: time-ordered (good index locality, usable as a pagination tie-breaker)
-- and not guessable across tenants.

CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE organizations (
    id uuid PRIMARY KEY,
    name text NOT NULL CHECK (btrim(name) <> ''),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Carrier and mail settings live apart from the organisation row: they hold secrets
-- (encrypted with the server's key, never returned by the API) and change rarely.
CREATE TABLE organization_settings (
    organization_id uuid PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
    twilio_account_sid text,
    twilio_auth_token_encrypted bytea,
    twilio_messaging_service_sid text,
    smtp_host text,
    smtp_port integer CHECK (smtp_port BETWEEN 1 AND 65535),
    smtp_username text,
    smtp_password_encrypted bytea,
    smtp_security text NOT NULL DEFAULT 'starttls' CHECK (smtp_security IN ('starttls', 'tls', 'none')),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
    id uuid PRIMARY KEY,
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    email text NOT NULL,
    name text NOT NULL,
    password_hash text NOT NULL,
    role text NOT NULL CHECK (role IN ('admin', 'agent')),
    permissions text[] NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (organization_id, id)
);
-- Login is by email alone, so an email names one operator across the whole server.
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

-- Session and API tokens. Only a SHA-256 of the token is kept: a leaked table cannot be
-- replayed.
CREATE TABLE api_tokens (
    id uuid PRIMARY KEY,
    organization_id uuid NOT NULL,
    user_id uuid NOT NULL,
    token_hash bytea NOT NULL UNIQUE,
    kind text NOT NULL CHECK (kind IN ('session', 'api')),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz,
    revoked_at timestamptz,
    FOREIGN KEY (organization_id, user_id) REFERENCES users (organization_id, id) ON DELETE CASCADE
);

CREATE TABLE contacts (
    id uuid PRIMARY KEY,
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name text NOT NULL CHECK (btrim(name) <> ''),
    lead_id text,
    partner_id text,
    last_contacted_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (organization_id, id)
);
-- The contact list's order: most recently contacted first, never-contacted last.
CREATE INDEX contacts_recent_idx ON contacts (organization_id, last_contacted_at DESC NULLS LAST, id DESC);
CREATE INDEX contacts_name_trgm_idx ON contacts USING gin (name gin_trgm_ops);

-- A contact's phone numbers and email addresses share one table: they have the same
-- shape (value, label, one preferred entry per kind) and the same rules, so one set of
-- queries serves both. `kind` tells them apart; the API still speaks of phones and emails.
CREATE TABLE contact_methods (
    id uuid PRIMARY KEY,
    organization_id uuid NOT NULL,
    contact_id uuid NOT NULL,
    kind text NOT NULL CHECK (kind IN ('phone', 'email')),
    -- E.164 for phones; the address as given (trimmed) for emails.
    value text NOT NULL,
    label text NOT NULL,
    is_preferred boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (organization_id, contact_id) REFERENCES contacts (organization_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX contact_methods_value_key ON contact_methods (contact_id, kind, lower(value));
-- At most one preferred entry per kind; the code keeps it at exactly one.
CREATE UNIQUE INDEX contact_methods_preferred_key ON contact_methods (contact_id, kind) WHERE is_preferred;
-- Inbound routing finds a contact by its number within an organisation.
CREATE INDEX contact_methods_lookup_idx ON contact_methods (organization_id, kind, value);
CREATE INDEX contact_methods_value_trgm_idx ON contact_methods USING gin (value gin_trgm_ops);

-- Numbers the organisation sends from (its Twilio numbers).
CREATE TABLE phone_numbers (
    id uuid PRIMARY KEY,
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    phone_number text NOT NULL,
    label text NOT NULL,
    twilio_sid text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (organization_id, phone_number),
    UNIQUE (organization_id, id)
);

-- Addresses the organisation sends email from.
CREATE TABLE email_addresses (
    id uuid PRIMARY KEY,
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    address text NOT NULL,
    display_name text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (organization_id, id)
);
CREATE UNIQUE INDEX email_addresses_address_key ON email_addresses (organization_id, lower(address));
