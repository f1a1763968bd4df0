-- Idempotency-Key (IETF draft "The Idempotency-Key HTTP Header Field"): the answer of a record
-- creation made with a key, written in the same transaction as the change and its outbox row,
-- so a repeat of the request (a client's or the gateway's retry after a lost connection) gets
-- that answer instead of a second record. Rows older than the keys' lifetime (24 h) count as
-- absent and are pruned now and then (services/common/idempotency.py).
CREATE TABLE idempotency_keys (
    actor       text        NOT NULL,  -- the caller's user id: keys of different users never meet
    key         text        NOT NULL,
    method      text        NOT NULL,
    path        text        NOT NULL,
    fingerprint bytea       NOT NULL,  -- SHA-256 of the request body
    -- The answer, set before the transaction commits (NULL only inside it).
    status      smallint,
    body        bytea,
    headers     jsonb,  -- the answer's Location and ETag
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (actor, key)
);
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);
