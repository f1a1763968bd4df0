-- Sessions are kept 30 days past their expiry (who signed in, from where), then purged by logins.
CREATE INDEX sessions_expires_at ON sessions (expires_at);
