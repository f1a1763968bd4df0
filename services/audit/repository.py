"""SQL of the audit service."""

# Serialise the writers of one record's chain, whichever consumer copy handles the event.
LOCK_RECORD_CHAIN = "SELECT pg_advisory_xact_lock(hashtextextended($1 || ':' || $2, 0))"
SELECT_CHAIN_HEAD = """
SELECT seq, hash, version FROM audit_entries WHERE entity = $1 AND record_id = $2
ORDER BY seq DESC LIMIT 1
"""
INSERT_REJECTION = """
INSERT INTO audit_rejections
    (event_id, entity, record_id, version, last_version, action, actor, at, reason, event)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
"""
SELECT_REJECTIONS = """
SELECT event_id, version, last_version, action, actor, at, reason, recorded_at
FROM audit_rejections WHERE entity = $1 AND record_id = $2 ORDER BY id
"""
INSERT_ENTRY = """
INSERT INTO audit_entries
    (event_id, entity, record_id, seq, version, action, actor, at, changes, prev_hash, hash,
     context)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
"""
ENTRY_COLUMNS = (
    "event_id, entity, record_id, seq, version, action, actor, at, changes, prev_hash, hash, "
    "context"
)
SELECT_TRAIL_NEWEST_FIRST = f"""
SELECT {ENTRY_COLUMNS} FROM audit_entries WHERE entity = $1 AND record_id = $2 ORDER BY seq DESC
"""
SELECT_CHAIN = f"""
SELECT {ENTRY_COLUMNS} FROM audit_entries WHERE entity = $1 AND record_id = $2 ORDER BY seq
"""
