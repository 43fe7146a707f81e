"""Stable GUIDs for REFI-QDA: the same object gets the same GUID in every export.

An object imported from another tool keeps the GUID it came with (recorded in
``refi_guids``), so a round trip qualkam -> tool -> qualkam -> tool does not multiply
objects. Anything else gets a name-based UUID (RFC 4122 version 5) of its kind and key,
which is the same on every export of the project.
"""

from __future__ import annotations

import re
import sqlite3
import uuid

# A fixed namespace for qualkam's name-based GUIDs (uuid5 of the project's URL).
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/qualkam/qualkam/refi-qda")
_GUID = re.compile(r"^\{?([0-9a-fA-F]{8})-?([0-9a-fA-F]{4})-?([0-9a-fA-F]{4})-?([0-9a-fA-F]{4})-?([0-9a-fA-F]{12})\}?$")


def canonical(text: str) -> str | None:
    """A GUID as the schema writes it (8-4-4-4-12, upper case), from any case, with or
    without braces; None when it is not a GUID. Any hex is accepted: NVivo keeps non-RFC
    GUIDs that other tools made."""
    match = _GUID.match(text.strip()) if text else None
    return "-".join(match.groups()).upper() if match else None


def guid_for(conn: sqlite3.Connection, kind: str, local_id: str) -> str:
    """The GUID of a project object: remembered if it was imported, else name-based."""
    row = conn.execute("SELECT guid FROM refi_guids WHERE kind = ? AND local_id = ?", (kind, str(local_id))).fetchone()
    if row is not None:
        return row[0]
    return str(uuid.uuid5(NAMESPACE, f"{kind}:{local_id}")).upper()


def remember(conn: sqlite3.Connection, kind: str, local_id: str, guid: str) -> None:
    """Record the GUID an imported object came with (inside the caller's transaction)."""
    conn.execute(
        "INSERT OR REPLACE INTO refi_guids (kind, local_id, guid) VALUES (?, ?, ?)", (kind, str(local_id), guid)
    )
