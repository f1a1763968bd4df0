"""SQL of the accounts service, as named constants with $n parameters.

Statements are built only from the constant column lists below and whitelisted sort keys.
"""

from services.common.pagination import ColumnKind

# Columns a user writes, in the order of the INSERT/UPDATE parameters.
ACCOUNT_EDITABLE = (
    "name", "account_type", "industry", "phone", "email", "website", "street", "postal_code",
    "city", "country", "siren", "siret", "vat_number", "parent_account_id", "owner", "employees",
    "annual_revenue", "description",
)  # fmt: skip
ACCOUNT_COLUMNS = ", ".join(
    (
        "id",
        *ACCOUNT_EDITABLE,
        "lat, lon, location_precision, location_source, location_status",
        "created_at, created_by, updated_at, updated_by, version, deleted_at",
    )
)
_N = len(ACCOUNT_EDITABLE)
_VALUES = ", ".join(f"${i}" for i in range(2, _N + 2))
_SETS = ", ".join(f"{column} = ${i}" for i, column in enumerate(ACCOUNT_EDITABLE, start=2))

INSERT_ACCOUNT = f"""
INSERT INTO accounts (id, {", ".join(ACCOUNT_EDITABLE)}, created_by, updated_by, location_status)
VALUES ($1, {_VALUES}, ${_N + 2}, ${_N + 2}, ${_N + 3})
RETURNING {ACCOUNT_COLUMNS}
"""
# $N+2 actor, $N+3 location status; the location is cleared when the address changed.
UPDATE_ACCOUNT = f"""
UPDATE accounts SET {_SETS},
    updated_at = now(), updated_by = ${_N + 2}, version = version + 1,
    location_status = ${_N + 3},
    lat = CASE WHEN ${_N + 4} THEN NULL ELSE lat END,
    lon = CASE WHEN ${_N + 4} THEN NULL ELSE lon END,
    location_precision = CASE WHEN ${_N + 4} THEN NULL ELSE location_precision END,
    location_source = CASE WHEN ${_N + 4} THEN NULL ELSE location_source END
WHERE id = $1
RETURNING {ACCOUNT_COLUMNS}
"""
SELECT_LIVE_ACCOUNT = f"SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = $1 AND deleted_at IS NULL"
LOCK_ACCOUNT = f"SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = $1 FOR UPDATE"
TRASH_ACCOUNT = f"""
UPDATE accounts SET deleted_at = now(), updated_at = now(), updated_by = $2, version = version + 1
WHERE id = $1 RETURNING {ACCOUNT_COLUMNS}
"""
RESTORE_ACCOUNT = f"""
UPDATE accounts SET deleted_at = NULL, updated_at = now(), updated_by = $2, version = version + 1
WHERE id = $1 RETURNING {ACCOUNT_COLUMNS}
"""
SET_LOCATION = f"""
UPDATE accounts SET lat = $2, lon = $3, location_precision = $4, location_source = $5,
    location_status = $6, updated_at = now(), updated_by = $7, version = version + 1
WHERE id = $1 RETURNING {ACCOUNT_COLUMNS}
"""
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

# Sortable columns of the list: client name -> (SQL key, kind).
SORTABLE: dict[str, tuple[str, ColumnKind]] = {
    "name": ("sort_name", "text"),
    "city": ("sort_city", "text"),
    "postal_code": ("sort_postal", "text"),
    "account_type": ("sort_type", "text"),
    "industry": ("sort_industry", "text"),
    "owner": ("sort_owner", "text"),
    "employees": ("sort_employees", "int"),
    "annual_revenue": ("sort_revenue", "numeric"),
    "created_at": ("created_at", "timestamptz"),
    "updated_at": ("updated_at", "timestamptz"),
}
# Equality filters: query parameter -> SQL key (values are folded like the key).
EQUALITY_FILTERS = {
    "account_type": "sort_type",
    "industry": "sort_industry",
    "owner": "sort_owner",
    "city": "sort_city",
}


def list_accounts_sql(
    conditions: list[str], sort_column: str, order_by: str, limit_param: int
) -> str:
    where = " AND ".join(conditions)
    return (
        f"SELECT {ACCOUNT_COLUMNS}, {sort_column} AS sort_key FROM accounts WHERE {where} "
        f"ORDER BY {order_by} LIMIT ${limit_param}"
    )


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
