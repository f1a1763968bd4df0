"""SQL of the gateway (its users)."""

USER_COLUMNS = (
    "id, username, display_name, email, phone_extension, role, active, "
    "created_at, created_by, updated_at, updated_by, version"
)
INSERT_USER = f"""
INSERT INTO users (id, username, display_name, role, password_hash, created_by, updated_by)
VALUES ($1, $2, $3, $4, $5, $6, $6)
ON CONFLICT (lower(username)) DO NOTHING
RETURNING {USER_COLUMNS}
"""
SELECT_LOGIN = (
    "SELECT id, username, role, active, password_hash FROM users WHERE lower(username) = lower($1)"
)
SELECT_USER = f"SELECT {USER_COLUMNS} FROM users WHERE id = $1"
