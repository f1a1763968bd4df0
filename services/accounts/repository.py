"""SQL of the accounts service, as named constants with $n parameters."""

from services.common.pagination import ColumnKind

ACCOUNT_COLUMNS = "id, name, created_at, created_by, updated_at, updated_by, version"

INSERT_ACCOUNT = f"""
INSERT INTO accounts (id, name, created_by, updated_by) VALUES ($1, $2, $3, $3)
RETURNING {ACCOUNT_COLUMNS}
"""
SELECT_LIVE_ACCOUNT = f"SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = $1 AND deleted_at IS NULL"

# Sortable columns of the list: client name -> (SQL column, kind). Only these reach the SQL.
SORTABLE: dict[str, tuple[str, ColumnKind]] = {
    "name": ("name", "text"),
    "created_at": ("created_at", "timestamptz"),
    "updated_at": ("updated_at", "timestamptz"),
}


def list_accounts_sql(condition: str, order_by: str, limit_param: int) -> str:
    return (
        f"SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE deleted_at IS NULL AND {condition} "
        f"ORDER BY {order_by} LIMIT ${limit_param}"
    )
