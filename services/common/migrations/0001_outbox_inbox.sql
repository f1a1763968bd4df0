-- The transactional outbox: an event row is written in the same transaction as its change,
-- then published by the relay. `id` orders a record's events; published rows are kept for a
-- while for inspection and pruned by the relay.
CREATE TABLE outbox (
    id           bigserial   PRIMARY KEY,
    event_id     uuid        NOT NULL UNIQUE,
    aggregate_id text        NOT NULL,
    routing_key  text        NOT NULL,
    body         bytea       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;
CREATE INDEX outbox_unpublished_aggregate ON outbox (aggregate_id, id) WHERE published_at IS NULL;
CREATE INDEX outbox_published_at ON outbox (published_at) WHERE published_at IS NOT NULL;

-- The inbox: one row per event whose effect this service has applied, so it applies it once.
CREATE TABLE inbox (
    event_id    uuid        PRIMARY KEY,
    event_type  text        NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);
