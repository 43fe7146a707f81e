"""Stable GUIDs for REFI-QDA: the same object gets the same GUID in every export.

An object imported from another tool keeps the GUID it came with (recorded in
``refi_guids`` by ``qualkam.store.refi.remember``), so a round trip qualkam -> tool ->
qualkam -> tool does not multiply objects. Anything else gets a name-based UUID (RFC 4122
version 5) of its kind and key, which is the same on every export of the project
(``qualkam.store.refi.guid_for``).
"""

from __future__ import annotations

import re

from qualkam.store.refi import NAMESPACE, guid_for, name_guid, remember

__all__ = ["NAMESPACE", "canonical", "guid_for", "name_guid", "remember"]

_GUID = re.compile(r"^\{?([0-9a-fA-F]{8})-?([0-9a-fA-F]{4})-?([0-9a-fA-F]{4})-?([0-9a-fA-F]{4})-?([0-9a-fA-F]{12})\}?$")


def canonical(text: str) -> str | None:
    """A GUID as the schema writes it (8-4-4-4-12, upper case), from any case, with or
    without braces; None when it is not a GUID. Any hex is accepted: NVivo keeps non-RFC
    GUIDs that other tools made."""
    match = _GUID.match(text.strip()) if text else None
    return "-".join(match.groups()).upper() if match else None
