-- Why a change happened when it was not a plain edit (e.g. {"duplicated_from": "<id>"}).
-- Covered by the entry's hash when present; entries without it keep their hashes.
ALTER TABLE audit_entries ADD COLUMN context jsonb;
