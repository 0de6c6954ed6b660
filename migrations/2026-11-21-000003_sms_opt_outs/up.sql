-- Contacts who replied STOP to one of the organisation's numbers. Kept per pair of
-- numbers, as carriers enforce it; the keyword history is in the audit log.
CREATE TABLE sms_opt_outs (
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    contact_number text NOT NULL,
    org_number text NOT NULL,
    keyword text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, contact_number, org_number)
);

-- Webhooks name the Twilio account; this finds the organisations that use it.
CREATE INDEX organization_settings_twilio_account_idx ON organization_settings (twilio_account_sid)
    WHERE twilio_account_sid IS NOT NULL;
