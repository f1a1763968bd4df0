"""The audit service: an append-only, hash-chained trail of every change, built from events."""
