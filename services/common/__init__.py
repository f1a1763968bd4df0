"""Shared infrastructure for every service: no business rules live here."""
