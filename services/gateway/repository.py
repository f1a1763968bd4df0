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
# A sign-in name finds a user whatever its case, but only an ASCII one: every user name is ASCII
# (UserCreate), and PostgreSQL's lower() folds some other letters to ASCII ones ("İ" to "i"):
# "admİn" is nobody. The throttle keys a name by the same lower() (LOGIN_NAME_KEY).
SELECT_LOGIN = """
SELECT id, username, role, active, password_hash FROM users
WHERE lower(username) = lower($1) AND octet_length($1) = char_length($1)
"""
LOGIN_NAME_KEY = "SELECT lower($1::text)"
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


# The directory every signed-in user may read: who a username is, nothing else about them;
# sorted as the pages show them (the display name, else the username).
USER_DIRECTORY = """
SELECT username, display_name, active FROM users
ORDER BY lower(coalesce(nullif(display_name, ''), username)), lower(username)
"""
SELECT_EXTENSION = "SELECT phone_extension FROM users WHERE id = $1"
INSERT_CALL = """
INSERT INTO calls (call_id, user_id, username, account_id, contact_id, number, extension, adapter)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
"""
SELECT_CALL = (
    "SELECT call_id, user_id, username, account_id, contact_id FROM calls WHERE call_id = $1"
)
# A placed call's progress: a later stage never goes back (a late "ringing" after "answered").
CALL_PROGRESS = """
UPDATE calls SET
    status = CASE
        WHEN status = 'ended' THEN status
        WHEN $2 = 'hangup' THEN 'ended'
        WHEN $2 = 'answered' THEN 'answered'
        WHEN status = 'requested' THEN 'ringing'
        ELSE status END,
    ringing_at = CASE WHEN $2 = 'ringing' THEN coalesce(ringing_at, $3) ELSE ringing_at END,
    answered_at = CASE WHEN $2 = 'answered' THEN coalesce(answered_at, $3) ELSE answered_at END,
    ended_at = CASE WHEN $2 = 'hangup' THEN coalesce(ended_at, $3) ELSE ended_at END,
    duration_seconds = CASE WHEN $2 = 'hangup' THEN $4 ELSE duration_seconds END
WHERE call_id = $1
"""
SELECT_CALL_PROGRESS = """
SELECT call_id, user_id, username, account_id, contact_id, number, extension, status,
       placed_at, ringing_at, answered_at, ended_at, duration_seconds
FROM calls WHERE call_id = $1
"""

# Sessions: each bearer token names one.
SESSION_COLUMNS = "id, user_id, created_at, expires_at, client_address, user_agent"
INSERT_SESSION = """
INSERT INTO sessions (id, user_id, expires_at, client_address, user_agent)
VALUES ($1, $2, now() + make_interval(secs => $3), $4, $5)
"""
# The one query of the auth check: the session is open and its user active.
SESSION_VALID = """
SELECT s.ended_at IS NULL AND u.active AS valid
FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = $1
"""
END_USER_SESSIONS = """
UPDATE sessions SET ended_at = now(), ended_reason = $2
WHERE user_id = $1 AND ended_at IS NULL AND ($3::uuid IS NULL OR id <> $3)
RETURNING id
"""
END_SESSION = """
UPDATE sessions SET ended_at = now(), ended_reason = $2
WHERE id = $1 AND ended_at IS NULL RETURNING user_id
"""
SELECT_SESSION_OWNER = "SELECT user_id FROM sessions WHERE id = $1"
# Sessions expired more than 30 days ago, a batch at a time (run at each login).
PURGE_OLD_SESSIONS = """
DELETE FROM sessions WHERE id IN (
    SELECT id FROM sessions WHERE expires_at < now() - interval '30 days'
    ORDER BY expires_at LIMIT 100 FOR UPDATE SKIP LOCKED
)
"""
LIST_OPEN_SESSIONS = f"""
SELECT {SESSION_COLUMNS} FROM sessions
WHERE user_id = $1 AND ended_at IS NULL AND expires_at > now() ORDER BY created_at DESC
"""
USER_EXISTS = "SELECT 1 FROM users WHERE id = $1"

# Sign-in throttle: failures per user name and per client address. An attempt is counted as a
# failure before its password is verified (a success takes it back), and in one statement per
# key whose row lock holds until the transaction ends: of any number of attempts made at once,
# by any number of gateway copies, only as many as the policy allows reach the verification.
# While a key is locked, nothing is counted; failures older than $3 seconds are forgotten.
THROTTLE_ATTEMPT = """
INSERT INTO login_throttle AS t (scope, key, failures, last_failure_at)
VALUES ($1, $2, 1, now())
ON CONFLICT (scope, key) DO UPDATE SET
    failures = CASE WHEN t.locked_until > now() THEN t.failures
                    WHEN t.last_failure_at < now() - make_interval(secs => $3) THEN 1
                    ELSE t.failures + 1 END,
    last_failure_at = CASE WHEN t.locked_until > now() THEN t.last_failure_at ELSE now() END
RETURNING failures, greatest(locked_until - now(), interval '0') AS remaining
"""
THROTTLE_LOCK = """
UPDATE login_throttle SET locked_until = now() + make_interval(secs => $3)
WHERE scope = $1 AND key = $2
"""
# A success: the user name starts afresh; the address's count is taken back (and the lockout
# this very attempt started, if any, lifted).
THROTTLE_RESET_USERNAME = "DELETE FROM login_throttle WHERE scope = 'username' AND key = $1"
THROTTLE_TAKE_BACK_ADDRESS = """
UPDATE login_throttle SET failures = greatest(failures - 1, 0),
    locked_until = CASE WHEN $2 THEN NULL ELSE locked_until END
WHERE scope = 'address' AND key = $1
"""
# Keys whose failures are forgotten and that are not locked; never waits for a row in use.
THROTTLE_PURGE = """
DELETE FROM login_throttle WHERE (scope, key) IN (
    SELECT scope, key FROM login_throttle
    WHERE last_failure_at < now() - make_interval(secs => $1)
      AND (locked_until IS NULL OR locked_until < now())
    FOR UPDATE SKIP LOCKED
)
"""
