-- Each organisation's PHI policy: an action per kind of finding (block, warn, off),
-- extra patterns of its own, and terms that are never PHI for it (its own name, say).
CREATE TABLE phi_policies (
    organization_id uuid PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
    actions jsonb NOT NULL DEFAULT '{}',
    extra_patterns jsonb NOT NULL DEFAULT '[]',
    allowed_terms text[] NOT NULL DEFAULT '{}',
    updated_at timestamptz NOT NULL DEFAULT now()
);
