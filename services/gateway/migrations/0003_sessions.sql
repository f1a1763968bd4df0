-- Sign-in sessions: each bearer token names one (claim "sid"); the gateway refuses a token whose
-- session has ended (sign-out, deactivation, role or password change, an admin ending it).
CREATE TABLE sessions (
    id             uuid        PRIMARY KEY,
    user_id        uuid        NOT NULL REFERENCES users (id),
    created_at     timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL,
    ended_at       timestamptz,
    ended_reason   text,
    client_address text,
    user_agent     text,
    CHECK ((ended_at IS NULL) = (ended_reason IS NULL))
);
-- A user's sessions still open (listed, and ended together).
CREATE INDEX sessions_open_by_user ON sessions (user_id) WHERE ended_at IS NULL;

-- Failed sign-ins, per user name (lower case) and per client address, shared by every gateway
-- copy. After a few failures a key is locked for a delay that doubles with each new failure.
CREATE TABLE login_throttle (
    scope           text        NOT NULL CHECK (scope IN ('username', 'address')),
    key             text        NOT NULL,
    failures        integer     NOT NULL,
    last_failure_at timestamptz NOT NULL,
    locked_until    timestamptz,
    PRIMARY KEY (scope, key)
);
CREATE INDEX login_throttle_last_failure ON login_throttle (last_failure_at);
