"""SQL of the accounts service, as named constants with $n parameters.

Statements are built only from the constant column lists below.
"""

# Every statement on an account record is the record kernel's (services/common/crud.py, with
# service.ACCOUNTS); the geocoder keeps its own (geocoding.py). These are the checks' reads.
LIVE_ACCOUNT_EXISTS = "SELECT EXISTS (SELECT 1 FROM accounts WHERE id = $1 AND deleted_at IS NULL)"
# The ancestors of an account, nearest first (bounded: a hierarchy deeper than this is refused).
ANCESTORS = """
WITH RECURSIVE up (id, parent, depth) AS (
    SELECT id, parent_account_id, 1 FROM accounts WHERE id = $1
    UNION ALL
    SELECT a.id, a.parent_account_id, up.depth + 1
    FROM accounts a JOIN up ON a.id = up.parent
    WHERE up.depth < 100
)
SELECT id FROM up
"""

# Picklists
PICKLIST_COLUMNS = (
    "list, code, label, active, position, created_at, created_by, updated_at, updated_by, version"
)
SELECT_PICKLIST = f"""
SELECT {PICKLIST_COLUMNS}
FROM picklist_values WHERE list = $1 ORDER BY position, label
"""
PICKLIST_EXISTS = "SELECT EXISTS (SELECT 1 FROM picklist_values WHERE list = $1)"
ACTIVE_CODE = "SELECT active FROM picklist_values WHERE list = $1 AND code = $2"
INSERT_PICKLIST_VALUE = f"""
INSERT INTO picklist_values (list, code, label, position, created_by, updated_by)
VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT DO NOTHING
RETURNING {PICKLIST_COLUMNS}
"""
LOCK_PICKLIST_VALUE = f"""
SELECT {PICKLIST_COLUMNS}
FROM picklist_values WHERE list = $1 AND code = $2 FOR UPDATE
"""
UPDATE_PICKLIST_VALUE = f"""
UPDATE picklist_values SET label = $3, active = $4, position = $5, updated_at = now(),
    updated_by = $6, version = version + 1
WHERE list = $1 AND code = $2
RETURNING {PICKLIST_COLUMNS}
"""

# Users known from the gateway's events (the replica), for the `owner` field.
USER_EXISTS = """
SELECT EXISTS (
    SELECT 1 FROM record_refs WHERE entity = 'user' AND lower(label) = lower($1) AND NOT deleted
)
"""
