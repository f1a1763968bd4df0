"""The version a form was loaded with, as its save sends it back in ``If-Match``.

A save is conditional or it is refused: a form whose version is missing or cannot be read
(hand-edited, truncated, "", "abc", "-1", "1.0") would otherwise be sent without ``If-Match``,
which the API takes as "whatever the version" and so overwrites someone else's change.
"""

from __future__ import annotations

import re

VERSION_UNREADABLE = (
    "La version de la fiche manque ou est illisible : rechargez la fiche avant d'enregistrer."
)
REFUSED_STATUS = 428  # Precondition Required: nothing was written

_VERSION = re.compile(r"[0-9]{1,18}")  # ASCII digits only ("²".isdigit() is True)


def readable_version(posted: object) -> str | None:
    """The posted version as the API writes it ("007" → "7"), or None when missing or
    unreadable."""
    if not isinstance(posted, str) or not _VERSION.fullmatch(posted.strip()):
        return None
    return str(int(posted.strip()))


def if_match(posted: object) -> dict[str, str] | None:
    """The ``If-Match`` header of a save, or None when the version cannot be read (refuse the
    save: nothing may be written without it)."""
    version = readable_version(posted)
    return None if version is None else {"If-Match": f'"{version}"'}
