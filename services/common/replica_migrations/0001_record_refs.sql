-- A local copy of what this service needs to know about other services' records (accounts,
-- contacts, ...), fed by their events: whether a referenced record exists and is live.
CREATE TABLE record_refs (
    entity     text        NOT NULL,
    id         uuid        NOT NULL,
    label      text        NOT NULL DEFAULT '',
    version    integer     NOT NULL,
    deleted    boolean     NOT NULL DEFAULT false,
    record     jsonb       NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (entity, id)
);
