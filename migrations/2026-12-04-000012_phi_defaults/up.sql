-- Policies used to be saved with an action for every kind, so a kind an organisation
-- never touched was pinned to the default of the day and a stricter default could not
-- reach it. Policies now store only the kinds an organisation chose. An entry equal to
-- the old default cannot be told apart from one never chosen, so it is dropped and the
-- kind follows the new default (block); an entry that differs from the old default was a
-- deliberate choice and stays.
UPDATE phi_policies AS policy
SET actions = (
    SELECT coalesce(jsonb_object_agg(entry.key, entry.value), '{}'::jsonb)
    FROM jsonb_each(policy.actions) AS entry
    WHERE entry.value <> to_jsonb(
        CASE
            WHEN entry.key IN ('phone', 'email', 'street_address', 'zip_code', 'url',
                               'ip_address', 'age', 'diagnosis') THEN 'warn'
            ELSE 'block'
        END
    )
);
