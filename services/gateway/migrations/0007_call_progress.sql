-- A placed call's progress, from the telephony server's callbacks (ringing, answered, hangup),
-- so that the user who clicked can follow it (GET /api/v1/calls/{id}).
ALTER TABLE calls
    ADD COLUMN status           text        NOT NULL DEFAULT 'requested',
    ADD COLUMN ringing_at       timestamptz,
    ADD COLUMN answered_at      timestamptz,
    ADD COLUMN ended_at         timestamptz,
    ADD COLUMN duration_seconds integer;
