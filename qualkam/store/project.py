"""The project store: one SQLite file holding sources, segments, codebook versions and codings.

``Project`` opens the file, migrates it to this version's schema (``qualkam.store.schema``),
counts its revision and gives the one way to write: ``transaction()``. The reads and writes
of each area live beside it: ``sources``, ``codebooks``, ``people`` (people's codings),
``memos``, ``audit``, ``names`` and the shared ``reads``.

Discipline (docs/style.md, practice 7): every public write is one ``BEGIN IMMEDIATE``
transaction, so a crash or a second process never leaves the store half-written; a write
called inside another one becomes a savepoint of it, so each write exists once and is safe
both alone and as part of a larger change. The file runs in WAL mode with a busy timeout so a
reader and a writer can share it. Machine suggestions have no coder; anything with a coder is
a person's decision and is never deleted or altered by a machine run, only re-anchored when
its source's text moves.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from qualkam.errors import StoreError
from qualkam.store.audit import now
from qualkam.store.schema import MIGRATIONS, statements

if TYPE_CHECKING:
    from qualkam.coding.codebook import Codebook

DEFAULT_PROJECT = "qualkam.db"
ARGUMENT = "project"  # what errors about the project path name (the CLI shows --project)


class Project:
    """An open project store. Use ``Project.open`` (or ``with Project.open(...) as p``)."""

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        self.path = path
        self.conn = conn
        self._counting = False  # the revision exists (set once migrated)
        self._depth = 0  # open transactions: 0 none, 1 the outermost, more: savepoints inside it

    @classmethod
    def open(cls, path: str | Path = DEFAULT_PROJECT, create: bool = False) -> Project:
        """Open (or with ``create`` make) the project; migrate it to this version's schema."""
        path = Path(path)
        if not path.exists() and not create:
            raise StoreError(
                f"no qualkam project at {path}; run 'qualkam code DIR' first or give the path of a project "
                "as {argument}",
                argument=ARGUMENT,
            )
        if path.is_dir():
            raise StoreError(
                f"{path} is a folder; {{argument}} takes the path of a project file such as {DEFAULT_PROJECT}",
                argument=ARGUMENT,
            )
        if create:
            path.parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = sqlite3.connect(str(path), timeout=60, isolation_level=None)
            conn.row_factory = sqlite3.Row
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if "migrations" not in tables:  # checked before anything is written to the file
                conn.close()
                if tables:
                    shown = ", ".join(sorted(tables)[:5]) + (" ..." if len(tables) > 5 else "")
                    raise StoreError(
                        f"{path} is a SQLite database but not a qualkam project (its tables: {shown}); "
                        "it is left as it is: give another {argument} path",
                        argument=ARGUMENT,
                    )
                if not create:
                    raise StoreError(
                        f"{path} is an empty file, not a qualkam project yet; code a folder into it "
                        "('qualkam code DIR' with this file as {argument}) to make one there, "
                        "or give another {argument} path",
                        argument=ARGUMENT,
                    )
                conn = sqlite3.connect(str(path), timeout=60, isolation_level=None)
                conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA busy_timeout = 60000")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode.lower() != "wal":
                conn.execute("PRAGMA journal_mode = DELETE")
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{path} is not a qualkam project (SQLite says: {exc})") from exc
        project = cls(path, conn)
        project._migrate()
        return project

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Project:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, rolled back whole on any error; an outermost one that
        changed any row counts the project's revision up.

        Inside another transaction it is a savepoint: an error rolls back only what was
        written inside it and goes on up (a caller that catches it keeps the rest). So every
        write opens its own transaction and is still one step of a caller's larger one.
        """
        if self._depth:
            name = f"qualkam_{self._depth}"
            self.conn.execute(f"SAVEPOINT {name}")
            self._depth += 1
            try:
                yield self.conn
            except BaseException:
                if self.conn.in_transaction:  # SQLite may have rolled back everything already
                    self.conn.execute(f"ROLLBACK TO {name}")
                    self.conn.execute(f"RELEASE {name}")
                raise
            else:
                self.conn.execute(f"RELEASE {name}")
            finally:
                self._depth -= 1
            return
        self.conn.execute("BEGIN IMMEDIATE")
        self._depth = 1
        changes = self.conn.total_changes
        try:
            yield self.conn
            if self._counting and self.conn.total_changes != changes:
                self.conn.execute("UPDATE meta SET value = value + 1 WHERE key = 'revision'")
            self.conn.execute("COMMIT")
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise
        finally:
            self._depth = 0

    def revision(self) -> tuple[str, int]:
        """The project's own random id (a new project at the same path has another) and how
        many changing transactions it has had since migration 005: together, which state of
        which project something was made from."""
        values = dict(self.conn.execute("SELECT key, value FROM meta WHERE key IN ('project_uid', 'revision')"))
        return str(values["project_uid"]), int(values["revision"])

    def _migrate(self) -> None:
        try:
            self.conn.execute("CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
            done = {row[0] for row in self.conn.execute("SELECT name FROM migrations")}
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path} is not a qualkam project (SQLite says: {exc})") from exc
        known = {name for name, _ in MIGRATIONS}
        if done - known:
            raise StoreError(
                f"{self.path} was written by a newer qualkam (migrations {sorted(done - known)}); upgrade qualkam"
            )
        for name, sql in MIGRATIONS:
            if name in done:
                continue
            with self.transaction() as conn:
                for statement in statements(sql):
                    conn.execute(statement)
                conn.execute("INSERT INTO migrations VALUES (?, ?)", (name, now()))
        self._counting = True

    # -- the reads every command starts from (the rest: the area modules beside this one) ----
    def codebook_row(self) -> sqlite3.Row | None:
        """The stored version (id, hash, name, version, path, yaml) the project's current codes come
        from: the codebook it owns. None when the project has no codebook yet."""
        from qualkam.store.codebooks import current_codebook_row

        return current_codebook_row(self)

    def codebook(self, strict: bool = True) -> Codebook | None:
        """The project's own codebook (``qualkam.store.codebooks.project_codebook``)."""
        from qualkam.store.codebooks import project_codebook

        return project_codebook(self, strict)

    def counts(self) -> dict[str, int]:
        """Headline numbers for the summary (``qualkam.store.sources.counts``)."""
        from qualkam.store.sources import counts

        return counts(self)
