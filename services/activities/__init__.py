"""The activities service."""
