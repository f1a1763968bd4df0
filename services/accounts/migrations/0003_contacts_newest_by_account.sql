-- The 360° view shows an account's newest contacts: read them from an index in that order,
-- whatever the number of contacts the account holds.
CREATE INDEX contacts_live_account_created ON contacts (account_id, created_at, id)
    WHERE deleted_at IS NULL;
