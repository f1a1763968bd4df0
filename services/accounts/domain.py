"""Pure rules of accounts: no I/O."""

from __future__ import annotations

NAME_MAX_LENGTH = 255
ENTITY = "account"


def clean_name(value: str) -> str:
    """The raison sociale: trimmed, inner runs of whitespace collapsed, never blank."""
    cleaned = " ".join(value.split())
    if not cleaned:
        raise ValueError("La raison sociale est obligatoire.")
    if len(cleaned) > NAME_MAX_LENGTH:
        raise ValueError(f"La raison sociale ne doit pas dépasser {NAME_MAX_LENGTH} caractères.")
    return cleaned
