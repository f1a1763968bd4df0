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
# Refused events still out of the chain (a held one chained later is no longer reported).
SELECT_REJECTIONS = """
SELECT r.event_id, r.version, r.last_version, r.action, r.actor, r.at, r.reason, r.recorded_at
FROM audit_rejections r
WHERE r.entity = $1 AND r.record_id = $2
  AND NOT EXISTS (SELECT 1 FROM audit_entries e WHERE e.event_id = r.event_id)
ORDER BY r.id
"""
# Derived data (the geocoder's location) keeps the record's version: "event.data.context.derived".
_DERIVED = "coalesce(r.event #>> '{data,context,derived}', '') <> ''"
# A refused event that now follows the chain (version $3), if it was refused for a short jump.
SELECT_HELD = f"""
SELECT r.event FROM audit_rejections r
WHERE r.entity = $1 AND r.record_id = $2 AND r.version = $3
  AND r.last_version IS NOT NULL AND r.version - r.last_version <= $4 AND NOT {_DERIVED}
  AND NOT EXISTS (SELECT 1 FROM audit_entries e WHERE e.event_id = r.event_id)
ORDER BY r.id LIMIT 1
"""
# A derived event refused because it came before the entry of its version $3, now chained.
SELECT_HELD_DERIVED = f"""
SELECT r.event FROM audit_rejections r
WHERE r.entity = $1 AND r.record_id = $2 AND r.version = $3
  AND (r.last_version IS NULL OR r.last_version < r.version) AND {_DERIVED}
  AND NOT EXISTS (SELECT 1 FROM audit_entries e WHERE e.event_id = r.event_id)
ORDER BY r.id LIMIT 1
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
