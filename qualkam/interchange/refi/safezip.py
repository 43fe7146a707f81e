"""Opening a .qdpx from a stranger: a zip and an XML file we must not trust.

A .qdpx arrives by e-mail from a colleague's NVivo or from a download, so reading it must
not be a way to write outside the project, fill the disk or memory, or read local files
(issue 5, "Safety"). qualkam never extracts the archive: members are read into memory, by
name, under these checks:

- member names with ``..``, an absolute path, a drive letter or a backslash are refused
  (a tool that writes them is broken or hostile), and so are duplicate names and encrypted
  members;
- the total uncompressed size is capped at ``MAX_TOTAL_BYTES`` and every member over
  ``RATIO_MIN_BYTES`` at ``MAX_RATIO`` : 1 compression, so a zip bomb stops before it is
  inflated; reads are capped again, since headers can lie;
- XML is parsed by defusedxml with DTDs refused: no entity expansion (billion laughs), no
  external entities (``file:///etc/passwd``), no network.

Every refusal is one ``RefiFileError`` line naming the file and the fix (exit code 2).
"""

from __future__ import annotations

import posixpath
import re
import zipfile
from pathlib import Path
from types import TracebackType
from xml.etree.ElementTree import Element, ParseError

import defusedxml
import defusedxml.ElementTree as SafeET

from qualkam.errors import InputError

MAX_TOTAL_BYTES = 500 * 1024 * 1024  # a project's plain texts are megabytes; 500 MB is generous
MAX_RATIO = 100  # text compresses 3-10:1; a 100:1 member of over a megabyte is a bomb
RATIO_MIN_BYTES = 1024 * 1024  # small members (a blank .txt, an empty .root) may compress far better
MAX_MEMBERS = 100_000
_CHUNK = 1024 * 1024
_DRIVE = re.compile(r"^[A-Za-z]:")


class RefiFileError(InputError):
    """A .qdpx / .qdc that cannot be read safely or at all; nothing was imported."""


def _unsafe_name(name: str) -> str | None:
    """Why a member name is refused, or None when it is a plain relative path."""
    if "\\" in name:
        return "has a backslash (a Windows path that can climb out of the folder)"
    if "\x00" in name:
        return "has a NUL character"
    if name.startswith("/") or _DRIVE.match(name):
        return "is an absolute path"
    if ".." in name.split("/"):
        return "climbs out of the archive with '..'"
    return None


class SafeArchive:
    """An opened .qdpx: its .qde member and case-insensitive access to the others."""

    def __init__(self, path: Path, archive: zipfile.ZipFile, qde: zipfile.ZipInfo) -> None:
        self.path = path
        self.zip = archive
        self.qde = qde
        self._by_name = {info.filename: info for info in archive.infolist()}
        self._by_fold: dict[str, zipfile.ZipInfo] = {}
        for info in archive.infolist():
            self._by_fold.setdefault(info.filename.casefold(), info)

    def __enter__(self) -> SafeArchive:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self.zip.close()

    def names(self) -> list[str]:
        return list(self._by_name)

    def find_internal(self, path: str) -> zipfile.ZipInfo | None:
        """The member an ``internal://NAME`` (or a bare relative) path names: ``sources/NAME``
        in any letter case, else NAME itself. None when it is not there (a dangling path) or
        when the path tries to leave the archive."""
        name = path.split("://", 1)[1] if "://" in path else path
        name = name.strip().lstrip("/")
        if not name or _unsafe_name(name) is not None:
            return None
        name = posixpath.normpath(name)
        for candidate in (f"sources/{name}", name):
            info = self._by_name.get(candidate) or self._by_fold.get(candidate.casefold())
            if info is not None and not info.is_dir():
                return info
        return None

    def read(self, info: zipfile.ZipInfo) -> bytes:
        """A member's bytes, never more than its declared size (headers can lie)."""
        limit = min(info.file_size, MAX_TOTAL_BYTES)
        parts: list[bytes] = []
        size = 0
        try:
            with self.zip.open(info) as stream:
                while True:
                    chunk = stream.read(_CHUNK)
                    if not chunk:
                        break
                    size += len(chunk)
                    if size > limit:
                        raise RefiFileError(
                            f"{self.path}: member {info.filename!r} inflates beyond its declared "
                            f"size ({info.file_size} bytes); the archive is corrupt or hostile"
                        )
                    parts.append(chunk)
        except (zipfile.BadZipFile, EOFError, OSError, NotImplementedError, RuntimeError, ValueError) as exc:
            if isinstance(exc, RefiFileError):
                raise
            raise RefiFileError(
                f"{self.path}: member {info.filename!r} cannot be read ({exc}); the archive is damaged; export it again"
            ) from exc
        return b"".join(parts)


def open_qdpx(path: str | Path) -> SafeArchive:
    """Open a .qdpx after checking every member name and size; find its .qde member."""
    path = Path(path)
    if not path.exists():
        raise RefiFileError(f"{path}: no such file")
    if path.is_dir():
        raise RefiFileError(f"{path} is a folder; give the .qdpx file (zip it first if the tool left it unpacked)")
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise RefiFileError(
            f"{path}: not a readable .qdpx (a REFI-QDA project is a zip archive; {exc}); "
            "export the project again from the tool that made it"
        ) from exc
    try:
        qde = _check_members(path, archive)
    except BaseException:
        archive.close()
        raise
    return SafeArchive(path, archive, qde)


def _check_members(path: Path, archive: zipfile.ZipFile) -> zipfile.ZipInfo:
    infos = archive.infolist()
    if len(infos) > MAX_MEMBERS:
        raise RefiFileError(f"{path}: {len(infos)} members in the archive (at most {MAX_MEMBERS}); refused")
    seen: set[str] = set()
    total = 0
    for info in infos:
        why = _unsafe_name(info.filename)
        if why:
            raise RefiFileError(f"{path}: member {info.filename!r} {why}; refused: nothing was imported")
        if info.filename in seen:
            raise RefiFileError(f"{path}: member {info.filename!r} appears twice; refused: nothing was imported")
        seen.add(info.filename)
        if info.flag_bits & 0x1:
            raise RefiFileError(f"{path}: member {info.filename!r} is encrypted; export the project without a password")
        total += info.file_size
        if total > MAX_TOTAL_BYTES:
            raise RefiFileError(
                f"{path}: the archive inflates to more than {MAX_TOTAL_BYTES // (1024 * 1024)} MB; "
                "refused (a zip bomb, or a project with its media inside: export it without media)"
            )
        if info.file_size > RATIO_MIN_BYTES and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise RefiFileError(
                f"{path}: member {info.filename!r} is compressed more than {MAX_RATIO}:1 "
                f"({info.compress_size} -> {info.file_size} bytes); refused as a zip bomb"
            )
    qdes = [i for i in infos if i.filename.casefold().endswith(".qde") and not i.is_dir()]
    if not qdes:
        raise RefiFileError(
            f"{path}: no .qde file in the archive (a .qdpx holds project.qde and sources/); "
            "is it a REFI-QDA project export?"
        )
    top = [i for i in qdes if "/" not in i.filename] or qdes
    if len(top) == 1:
        return top[0]
    named = [i for i in top if i.filename.casefold() == "project.qde"]
    if len(named) == 1:
        return named[0]
    raise RefiFileError(f"{path}: several .qde files ({', '.join(i.filename for i in top)}); a .qdpx holds one project")


def parse_xml(data: bytes, where: str) -> Element:
    """Parse untrusted XML: DTDs, entities and external references are refused."""
    try:
        return SafeET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except defusedxml.DTDForbidden as exc:
        raise RefiFileError(
            f"{where}: declares a DTD (<!DOCTYPE ...>); refused: entities can expand to gigabytes "
            "or read local files. Export the file again without a DOCTYPE"
        ) from exc
    except defusedxml.EntitiesForbidden as exc:
        raise RefiFileError(f"{where}: declares XML entities; refused (entity expansion)") from exc
    except defusedxml.ExternalReferenceForbidden as exc:
        raise RefiFileError(f"{where}: refers to an external entity ({exc.sysid}); refused: it is not read") from exc
    except ParseError as exc:
        line, column = getattr(exc, "position", (0, 0))
        reason = str(exc).split(":")[0]
        raise RefiFileError(
            f"{where}:{line}:{column}: not well-formed XML ({reason}); the file is damaged or not a REFI-QDA export"
        ) from exc
    except (ValueError, RecursionError) as exc:
        raise RefiFileError(f"{where}: unreadable XML ({exc})") from exc


def read_qde(archive: SafeArchive) -> Element:
    """The parsed project of an opened .qdpx."""
    return parse_xml(archive.read(archive.qde), f"{archive.path}:{archive.qde.filename}")


def read_qdc(path: str | Path) -> Element:
    """The parsed codebook of a .qdc file (plain XML, size-capped)."""
    path = Path(path)
    if not path.exists():
        raise RefiFileError(f"{path}: no such file")
    if path.is_dir():
        raise RefiFileError(f"{path} is a folder; give the .qdc file")
    try:
        size = path.stat().st_size
        if size > MAX_TOTAL_BYTES:
            raise RefiFileError(
                f"{path}: {size} bytes; a codebook over {MAX_TOTAL_BYTES // (1024 * 1024)} MB is refused"
            )
        data = path.read_bytes()
    except OSError as exc:
        raise RefiFileError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    if zipfile.is_zipfile(path):
        raise RefiFileError(f"{path}: a zip archive, not a .qdc codebook; import it with 'qualkam import qdpx'")
    if not data.strip():
        raise RefiFileError(f"{path}: empty file")
    return parse_xml(data, str(path))
