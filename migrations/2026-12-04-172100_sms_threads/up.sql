-- A lead's or partner's contact, found by the external reference the contacts API sets
-- (the SMS queue's `?lead_id=` and `?partner_id=`).
CREATE INDEX contacts_lead_idx ON contacts (organization_id, lead_id) WHERE lead_id IS NOT NULL;
CREATE INDEX contacts_partner_idx ON contacts (organization_id, partner_id) WHERE partner_id IS NOT NULL;
