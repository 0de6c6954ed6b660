DROP INDEX contacts_partner_idx;
DROP INDEX contacts_lead_idx;
