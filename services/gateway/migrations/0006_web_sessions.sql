-- Sessions of the web interface: the same rows as the API's (ended the same way: sign-out,
-- deactivation, role or password change, an admin), reached by a cookie whose SHA-256 is kept
-- (never the cookie itself), with the CSRF token of its forms and when it was last used (the
-- idle timeout).
ALTER TABLE sessions
    ADD COLUMN kind         text        NOT NULL DEFAULT 'api' CHECK (kind IN ('api', 'web')),
    ADD COLUMN cookie_hash  bytea       UNIQUE,
    ADD COLUMN csrf_token   text,
    ADD COLUMN last_seen_at timestamptz,
    ADD CHECK ((kind = 'web') = (cookie_hash IS NOT NULL));
