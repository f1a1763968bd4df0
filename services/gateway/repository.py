"""SQL of the gateway (its users)."""

from services.common.pagination import ColumnKind

USER_COLUMNS = (
    "id, username, display_name, email, phone_extension, role, active, "
    "created_at, created_by, updated_at, updated_by, version"
)
INSERT_USER = f"""
INSERT INTO users (id, username, display_name, role, password_hash, created_by, updated_by,
                   email, phone_extension)
VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8)
ON CONFLICT (lower(username)) DO NOTHING
RETURNING {USER_COLUMNS}
"""
SELECT_LOGIN = (
    "SELECT id, username, role, active, password_hash FROM users WHERE lower(username) = lower($1)"
)
SELECT_USER = f"SELECT {USER_COLUMNS} FROM users WHERE id = $1"
LOCK_USER = f"SELECT {USER_COLUMNS}, password_hash FROM users WHERE id = $1 FOR UPDATE"
UPDATE_USER = f"""
UPDATE users SET display_name = $2, email = $3, phone_extension = $4, role = $5, active = $6,
    updated_at = now(), updated_by = $7, version = version + 1
WHERE id = $1 RETURNING {USER_COLUMNS}
"""
SET_PASSWORD = f"""
UPDATE users SET password_hash = $2, updated_at = now(), updated_by = $3, version = version + 1
WHERE id = $1 RETURNING {USER_COLUMNS}
"""
USER_SORTABLE: dict[str, tuple[str, ColumnKind]] = {"username": ("lower(username)", "text")}


def list_users_sql(condition: str, order_by: str, limit_param: int) -> str:
    return (
        f"SELECT {USER_COLUMNS}, lower(username) AS sort_key FROM users WHERE {condition} "
        f"ORDER BY {order_by} LIMIT ${limit_param}"
    )


SELECT_EXTENSION = "SELECT phone_extension FROM users WHERE id = $1"
INSERT_CALL = """
INSERT INTO calls (call_id, user_id, username, account_id, contact_id, number, extension, adapter)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
"""
SELECT_CALL = (
    "SELECT call_id, user_id, username, account_id, contact_id FROM calls WHERE call_id = $1"
)
