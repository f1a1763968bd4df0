-- Events the trail refused to chain, kept so that the refusal shows: a version that does not
-- follow the record's last one (a forged event, or one lost before it). Append-only like the
-- trail; `/verify` reports them with the record's chain.
CREATE TABLE audit_rejections (
    id           bigserial   PRIMARY KEY,
    event_id     uuid        NOT NULL UNIQUE,
    entity       text        NOT NULL,
    record_id    text        NOT NULL,
    version      integer     NOT NULL,
    last_version integer,
    action       text        NOT NULL,
    actor        text        NOT NULL,
    at           timestamptz NOT NULL,
    reason       text        NOT NULL,
    event        jsonb       NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_rejections_record ON audit_rejections (entity, record_id, id);

CREATE TRIGGER audit_rejections_no_update BEFORE UPDATE OR DELETE ON audit_rejections
    FOR EACH ROW EXECUTE FUNCTION audit_entries_append_only();
CREATE TRIGGER audit_rejections_no_truncate BEFORE TRUNCATE ON audit_rejections
    FOR EACH STATEMENT EXECUTE FUNCTION audit_entries_append_only();
