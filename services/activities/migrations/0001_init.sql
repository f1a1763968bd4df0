-- The activities service's own tables arrive with actions, opportunities and projects.
-- Until then it keeps its replica of accounts and contacts (record_refs).
SELECT 1;
