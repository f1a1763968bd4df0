CREATE TABLE accounts (
    id         uuid        PRIMARY KEY,
    name       text        NOT NULL CHECK (btrim(name) <> '' AND char_length(name) <= 255),
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by text        NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by text        NOT NULL,
    version    integer     NOT NULL DEFAULT 1 CHECK (version >= 1),
    deleted_at timestamptz
);
-- Keyset pages over live accounts, by each sortable column with id as the tie-breaker.
CREATE INDEX accounts_live_name ON accounts (name, id) WHERE deleted_at IS NULL;
CREATE INDEX accounts_live_created ON accounts (created_at, id) WHERE deleted_at IS NULL;
CREATE INDEX accounts_live_updated ON accounts (updated_at, id) WHERE deleted_at IS NULL;
