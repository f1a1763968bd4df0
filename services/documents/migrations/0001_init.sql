-- The activities service's own tables arrive with quotes, invoices and templates.
-- Until then it keeps its replica of accounts and contacts (record_refs).
SELECT 1;
