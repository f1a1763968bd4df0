-- One row per change of a record, in the order the record's events arrived. Each row's hash
-- covers its content and the previous row's hash of the same record: editing, removing or
-- reordering any row breaks the chain from there on.
CREATE TABLE audit_entries (
    id          bigserial   PRIMARY KEY,
    event_id    uuid        NOT NULL UNIQUE,
    entity      text        NOT NULL,
    record_id   text        NOT NULL,
    seq         integer     NOT NULL CHECK (seq >= 1),
    version     integer     NOT NULL,
    action      text        NOT NULL,
    actor       text        NOT NULL,
    at          timestamptz NOT NULL,
    changes     jsonb       NOT NULL,
    prev_hash   text        NOT NULL,
    hash        text        NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (entity, record_id, seq)
);

-- Append-only: the database itself refuses to change or remove an entry.
CREATE FUNCTION audit_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit entries are append-only (% refused)', TG_OP;
END;
$$;
CREATE TRIGGER audit_entries_no_update BEFORE UPDATE OR DELETE ON audit_entries
    FOR EACH ROW EXECUTE FUNCTION audit_entries_append_only();
CREATE TRIGGER audit_entries_no_truncate BEFORE TRUNCATE ON audit_entries
    FOR EACH STATEMENT EXECUTE FUNCTION audit_entries_append_only();
