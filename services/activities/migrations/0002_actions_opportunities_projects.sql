-- The Actions, Affaires and Projets tabs of an account.
CREATE TABLE opportunities (
    id                  uuid        PRIMARY KEY,
    name                text        NOT NULL,
    account_id          uuid        NOT NULL,
    contact_id          uuid,
    stage               text        NOT NULL,
    amount              numeric(17, 2) CHECK (amount >= 0),
    probability         integer     NOT NULL CHECK (probability BETWEEN 0 AND 100),
    expected_close_date date,
    source              text,
    description         text,
    closed_at           timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    created_by          text        NOT NULL,
    updated_at          timestamptz NOT NULL DEFAULT now(),
    updated_by          text        NOT NULL,
    version             integer     NOT NULL DEFAULT 1,
    deleted_at          timestamptz
);
CREATE INDEX opportunities_live_account ON opportunities (account_id, created_at, id) WHERE deleted_at IS NULL;
CREATE INDEX opportunities_live_created ON opportunities (created_at, id) WHERE deleted_at IS NULL;
CREATE INDEX opportunities_live_updated ON opportunities (updated_at, id) WHERE deleted_at IS NULL;
CREATE INDEX opportunities_live_close ON opportunities (expected_close_date, id) WHERE deleted_at IS NULL;
CREATE INDEX opportunities_live_stage ON opportunities (stage, created_at, id) WHERE deleted_at IS NULL;

CREATE TABLE projects (
    id             uuid        PRIMARY KEY,
    name           text        NOT NULL,
    account_id     uuid        NOT NULL,
    opportunity_id uuid        REFERENCES opportunities (id),
    status         text        NOT NULL,
    start_date     date,
    end_date       date,
    budget         numeric(17, 2) CHECK (budget >= 0),
    description    text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    created_by     text        NOT NULL,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    updated_by     text        NOT NULL,
    version        integer     NOT NULL DEFAULT 1,
    deleted_at     timestamptz,
    CHECK (start_date IS NULL OR end_date IS NULL OR start_date <= end_date)
);
CREATE INDEX projects_live_account ON projects (account_id, created_at, id) WHERE deleted_at IS NULL;
CREATE INDEX projects_live_created ON projects (created_at, id) WHERE deleted_at IS NULL;
CREATE INDEX projects_live_updated ON projects (updated_at, id) WHERE deleted_at IS NULL;
CREATE INDEX projects_live_status ON projects (status, created_at, id) WHERE deleted_at IS NULL;

CREATE TABLE actions (
    id               uuid        PRIMARY KEY,
    type             text        NOT NULL,
    subject          text        NOT NULL,
    account_id       uuid,
    contact_id       uuid,
    status           text        NOT NULL,
    occurred_at      timestamptz,
    due_at           timestamptz,
    direction        text,
    duration_seconds integer     CHECK (duration_seconds >= 0),
    opportunity_id   uuid        REFERENCES opportunities (id),
    project_id       uuid        REFERENCES projects (id),
    description      text,
    -- The telephony call this action records (one action per call, whatever the retries).
    call_id          text        UNIQUE,
    created_at       timestamptz NOT NULL DEFAULT now(),
    created_by       text        NOT NULL,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    updated_by       text        NOT NULL,
    version          integer     NOT NULL DEFAULT 1,
    deleted_at       timestamptz,
    -- When it happened or is due: the order of the Actions tab (newest first).
    sort_at          timestamptz GENERATED ALWAYS AS (coalesce(occurred_at, due_at, created_at)) STORED,
    CHECK (account_id IS NOT NULL OR contact_id IS NOT NULL)
);
CREATE INDEX actions_live_account ON actions (account_id, sort_at, id) WHERE deleted_at IS NULL;
CREATE INDEX actions_live_contact ON actions (contact_id, sort_at, id) WHERE deleted_at IS NULL;
CREATE INDEX actions_live_sort_at ON actions (sort_at, id) WHERE deleted_at IS NULL;
CREATE INDEX actions_live_created ON actions (created_at, id) WHERE deleted_at IS NULL;
CREATE INDEX actions_live_updated ON actions (updated_at, id) WHERE deleted_at IS NULL;
CREATE INDEX actions_live_type ON actions (type, sort_at, id) WHERE deleted_at IS NULL;
CREATE INDEX actions_live_due ON actions (status, due_at, id) WHERE deleted_at IS NULL;
