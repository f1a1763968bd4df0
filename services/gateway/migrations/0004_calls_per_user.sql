-- ClickToCall counts each user's calls of the last minute (CRM_CALL_MAX_PER_MINUTE).
CREATE INDEX calls_by_user_and_time ON calls (user_id, placed_at);
