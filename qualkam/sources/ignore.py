"""Which files below a folder are not sources: qualkam's own files, ``--exclude`` and ``.qualkamignore``.

qualkam's own files are never read as data, wherever they sit (issue 11: ``qualkam code .``
inside the data folder reported the store's journals as skipped every run, and an excerpt
file in the output folder became a source): the project store and its SQLite journals,
and every folder of outputs (the ``--out`` folder, and any folder holding an outputs
manifest). Patterns use gitignore syntax (pathspec's implementation): ``--exclude``
patterns and a ``.qualkamignore`` at the folder's root apply to the whole folder, a
``.qualkamignore`` in a subfolder to that subfolder, as ``.gitignore`` files do.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pathspec import GitIgnoreSpec
from pathspec.patterns.gitignore import GitIgnorePatternError

from qualkam.errors import InputError
from qualkam.render.outputs import MANIFEST as OUTPUTS_MANIFEST
from qualkam.store.project import DEFAULT_PROJECT as DEFAULT_STORE

IGNORE_FILE = ".qualkamignore"
JOURNAL_SUFFIXES = ("-wal", "-shm", "-journal")  # SQLite's files beside a database


def _compile(lines: Sequence[str], where: str, numbered: bool, argument: str | None = None) -> GitIgnoreSpec:
    """The spec of gitignore ``lines``; a bad line is an InputError naming ``where`` (a file, or
    ``{argument}`` for a pattern given as that argument)."""
    try:
        return GitIgnoreSpec.from_lines(lines)
    except (GitIgnorePatternError, ValueError, TypeError):
        pass
    for number, line in enumerate(lines, start=1):  # only to name the line that is wrong
        try:
            GitIgnoreSpec.from_lines([line])
        except (GitIgnorePatternError, ValueError, TypeError) as exc:
            place = f"{where}:{number}" if numbered else where
            raise InputError(
                f"{place}: invalid pattern {line!r} ({exc}); use gitignore syntax such as '*.csv' or 'drafts/'",
                argument=argument,
            ) from exc
    return GitIgnoreSpec.from_lines(lines)


def _read_ignore_file(path: Path) -> GitIgnoreSpec | None:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from exc
    return _compile(text.splitlines(), str(path), numbered=True)


def _real(path: Path) -> str:
    return os.path.realpath(path)


@dataclass
class SourceFilter:
    """Decides, folder by folder during a walk, what is not a source. ``own``: the project
    store and output folders of this run (files or folders, anywhere)."""

    root: Path
    exclude: Sequence[str] = ()
    own: Sequence[Path] = ()
    _own_files: set[str] = field(default_factory=set)
    _own_folders: set[str] = field(default_factory=set)
    _specs: dict[str, list[tuple[str, GitIgnoreSpec]]] = field(default_factory=dict)
    _outputs: dict[str, set[str]] = field(default_factory=dict)
    _cli: list[tuple[str, GitIgnoreSpec]] = field(default_factory=list)

    def __post_init__(self) -> None:
        for path in self.own:
            real = _real(Path(path))
            if os.path.isdir(real):
                self._own_folders.add(real)
            else:
                self._own_files.update([real, *(real + s for s in JOURNAL_SUFFIXES)])
        specs: list[tuple[str, GitIgnoreSpec]] = []
        root_file = self.root / IGNORE_FILE
        if root_file.is_file():
            spec = _read_ignore_file(root_file)
            if spec is not None:
                specs.append(("", spec))
        self._specs[""] = specs
        # --exclude is said for this run: it comes after every ignore file, so it wins.
        self._cli = [
            ("", _compile([p], f"{{argument}} {p!r}", numbered=False, argument="exclude")) for p in self.exclude
        ]

    def _rel(self, folder: str) -> str:
        rel = os.path.relpath(folder, self.root)
        return "" if rel == "." else rel.replace(os.sep, "/")

    def _specs_for(self, folder: str) -> list[tuple[str, GitIgnoreSpec]]:
        rel = self._rel(folder)
        if rel in self._specs:
            return self._specs[rel]
        parent = rel.rpartition("/")[0]
        inherited = self._specs.get(parent, self._specs[""])
        own = Path(folder) / IGNORE_FILE
        specs = list(inherited)
        if own.is_file():
            spec = _read_ignore_file(own)
            if spec is not None:
                specs.append((rel, spec))
        self._specs[rel] = specs
        return specs

    def _matched(self, rel: str, is_dir: bool, specs: list[tuple[str, GitIgnoreSpec]]) -> bool:
        # The last pattern that matches decides, a deeper ignore file after a shallower one.
        result: bool | None = None
        for base, spec in [*specs, *self._cli]:
            below = rel[len(base) + 1 :] if base else rel
            found = spec.check_file(below + "/" if is_dir else below).include
            if found is not None:
                result = found
        return bool(result)

    def keep_folders(self, folder: str, names: list[str]) -> list[str]:
        """The subfolders of ``folder`` to walk into."""
        specs = self._specs_for(folder)
        base = self._rel(folder)
        kept = []
        for name in names:
            path = os.path.join(folder, name)
            if name.startswith((".", "_")) or self._is_outputs(path):
                continue
            if self._matched(f"{base}/{name}" if base else name, True, specs):
                continue
            kept.append(name)
        return kept

    def _is_outputs(self, folder: str) -> bool:
        return _real(Path(folder)) in self._own_folders or os.path.isfile(os.path.join(folder, OUTPUTS_MANIFEST))

    def excluded(self, folder: str, name: str) -> bool:
        """A file that is not a source and is not reported: qualkam's own or matched by a pattern."""
        if name == DEFAULT_STORE or any(name == DEFAULT_STORE + s for s in JOURNAL_SUFFIXES):
            return True
        if self._own_files and _real(Path(folder) / name) in self._own_files:
            return True
        if name in self._outputs_here(folder):
            return True
        base = self._rel(folder)
        return self._matched(f"{base}/{name}" if base else name, False, self._specs_for(folder))

    def _outputs_here(self, folder: str) -> set[str]:
        """The outputs listed in the manifest of a walked folder that holds outputs (the root,
        when the outputs were written into the data folder itself)."""
        if folder not in self._outputs:
            manifest = Path(folder) / OUTPUTS_MANIFEST
            try:
                files = json.loads(manifest.read_text(encoding="utf-8")).get("files", {}) if manifest.is_file() else {}
            except (OSError, ValueError, AttributeError):
                files = {}
            self._outputs[folder] = {str(name) for name in files} if isinstance(files, dict) else set()
        return self._outputs[folder]
