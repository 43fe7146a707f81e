"""The project store: one SQLite file holding sources, segments, codebook versions and codings.

Discipline (docs/style.md, practice 7): every public write is one ``BEGIN IMMEDIATE``
transaction, so a crash or a second process never leaves the store half-written; the file
runs in WAL mode with a busy timeout so a reader and a writer can share it. Machine
suggestions have no coder; anything with a coder is a person's decision and is never
deleted or altered by a machine run, only re-anchored when its source's text moves.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qualkam.coding.codebook import Code, Codebook, parse_codebook
from qualkam.coding.segment import Segment
from qualkam.coding.suggest import Suggestion
from qualkam.errors import CodebookError, StoreError

DEFAULT_PROJECT = "qualkam.db"
SCHEMA_VERSION = 1

# Named migrations, applied in order inside one transaction each and recorded in `migrations`.
MIGRATIONS: list[tuple[str, str]] = [
    (
        "001_initial",
        """
        CREATE TABLE codebooks (
            id INTEGER PRIMARY KEY,
            hash TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL,
            version TEXT NOT NULL,
            path TEXT,
            yaml TEXT NOT NULL,
            loaded_at TEXT NOT NULL
        );
        CREATE TABLE codes (
            id TEXT PRIMARY KEY,
            parent TEXT,
            label TEXT NOT NULL,
            definition TEXT,
            color TEXT,
            attributes TEXT NOT NULL DEFAULT '{}',
            position INTEGER NOT NULL,
            codebook_id INTEGER REFERENCES codebooks(id)
        );
        CREATE TABLE phases (
            id TEXT PRIMARY KEY,
            label TEXT NOT NULL,
            description TEXT,
            position INTEGER NOT NULL
        );
        CREATE TABLE sources (
            id TEXT PRIMARY KEY,
            path TEXT NOT NULL,
            format TEXT NOT NULL,
            encoding TEXT,
            content_hash TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            type TEXT,
            date TEXT,
            phase TEXT,
            title TEXT,
            participants TEXT NOT NULL DEFAULT '{}',
            attributes TEXT NOT NULL DEFAULT '{}',
            text TEXT NOT NULL,
            unit TEXT NOT NULL,
            codebook_id INTEGER REFERENCES codebooks(id),
            pipeline TEXT,
            added_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE TABLE segments (
            id INTEGER PRIMARY KEY,
            source_id TEXT NOT NULL REFERENCES sources(id),
            position INTEGER NOT NULL,
            start INTEGER NOT NULL,
            "end" INTEGER NOT NULL,
            speaker TEXT,
            role TEXT,
            speaker_unit TEXT,
            time_start TEXT,
            time_end TEXT,
            text TEXT NOT NULL
        );
        CREATE INDEX segments_source ON segments(source_id, position);
        CREATE TABLE codings (
            id INTEGER PRIMARY KEY,
            segment_id INTEGER REFERENCES segments(id),
            source_id TEXT NOT NULL REFERENCES sources(id),
            start INTEGER NOT NULL,
            "end" INTEGER NOT NULL,
            text TEXT NOT NULL,
            code_id TEXT NOT NULL,
            coder TEXT,
            origin TEXT NOT NULL CHECK (origin IN ('rule', 'model', 'human')),
            status TEXT NOT NULL CHECK (status IN ('suggested', 'accepted', 'rejected')),
            score REAL,
            evidence TEXT NOT NULL DEFAULT '[]',
            memo TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            CHECK ((coder IS NULL) = (status = 'suggested'))
        );
        CREATE INDEX codings_segment ON codings(segment_id, code_id);
        CREATE INDEX codings_source ON codings(source_id);
        """,
    ),
    (
        "002_people",
        """
        ALTER TABLE codes ADD COLUMN retired_at TEXT;
        ALTER TABLE segments ADD COLUMN lemmas TEXT;
        CREATE UNIQUE INDEX codings_person ON codings(segment_id, code_id, coder) WHERE coder IS NOT NULL;
        CREATE INDEX codings_coder ON codings(coder, status);
        CREATE TABLE memos (
            id INTEGER PRIMARY KEY,
            target_type TEXT NOT NULL CHECK (target_type IN ('project', 'code', 'source', 'segment')),
            target_id TEXT,
            coder TEXT NOT NULL,
            text TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE TABLE audit (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            entity TEXT NOT NULL,
            entity_id TEXT,
            before TEXT,
            after TEXT,
            note TEXT
        );
        CREATE TABLE review_progress (
            coder TEXT NOT NULL,
            queue TEXT NOT NULL,
            segment_id INTEGER,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (coder, queue)
        );
        """,
    ),
    (
        "003_refi_guids",
        """
        CREATE TABLE refi_guids (
            kind TEXT NOT NULL,
            local_id TEXT NOT NULL,
            guid TEXT NOT NULL,
            PRIMARY KEY (kind, local_id)
        );
        CREATE INDEX refi_guids_guid ON refi_guids(guid);
        """,
    ),
    (
        # Learned suggestions (issue 6): one row per `qualkam train`, the newest is used.
        "004_models",
        """
        CREATE TABLE models (
            id INTEGER PRIMARY KEY,
            created_at TEXT NOT NULL,
            layer TEXT NOT NULL,
            codes TEXT NOT NULL,
            settings TEXT NOT NULL,
            data TEXT NOT NULL,
            metrics TEXT NOT NULL,
            model BLOB NOT NULL
        );
        """,
    ),
    (
        # Incremental runs (issue 7): each file's stat key when it was coded, so a re-run
        # skips an unchanged file without reading it (see qualkam.sources.ingest.file_key); and a
        # revision counted up by every transaction that changes anything, so outputs made
        # from an unchanged store need not be written again (qualkam.render.outputs.write_outputs).
        "005_source_files",
        """
        CREATE TABLE source_files (
            path TEXT PRIMARY KEY,
            source_id TEXT NOT NULL,
            key TEXT NOT NULL,
            warnings TEXT NOT NULL DEFAULT '[]'
        );
        CREATE TABLE meta (key TEXT PRIMARY KEY, value NOT NULL);
        INSERT INTO meta (key, value) VALUES ('revision', 0);
        INSERT INTO meta (key, value) VALUES ('project_uid', lower(hex(randomblob(16))));
        """,
    ),
]


def record_audit(
    conn: sqlite3.Connection,
    actor: str,
    action: str,
    entity: str,
    entity_id: str | None,
    before: Any,
    after: Any,
    note: str | None = None,
) -> None:
    """One line of the audit trail, written inside the caller's transaction."""
    dump = lambda v: None if v is None else json.dumps(v, sort_keys=True, ensure_ascii=False, default=str)  # noqa: E731
    conn.execute(
        "INSERT INTO audit (at, actor, action, entity, entity_id, before, after, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (now(), actor, action, entity, entity_id, dump(before), dump(after), note),
    )


def now() -> str:
    """UTC time, ISO 8601 to the second: what every coding and version records."""
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()


@dataclass
class FileState:
    """A file as the project last saw it: its stat key, its source, the warnings it gave."""

    path: str  # absolute
    key: str | None  # None: changed too recently to trust its stat next time
    source_id: str = ""
    warnings: list[str] = field(default_factory=list)


def remember_files(conn: sqlite3.Connection, states: Sequence[FileState]) -> None:
    """Record (or, for a key None, forget) files' states, inside the caller's transaction."""
    conn.executemany("DELETE FROM source_files WHERE path = ?", [(s.path,) for s in states if s.key is None])
    conn.executemany(
        "INSERT OR REPLACE INTO source_files (path, source_id, key, warnings) VALUES (?, ?, ?, ?)",
        [(s.path, s.source_id, s.key, json.dumps(s.warnings, ensure_ascii=False)) for s in states if s.key is not None],
    )


@dataclass
class SourceRecord:
    """A source ready to be stored (text plus metadata)."""

    id: str
    path: str
    format: str
    encoding: str | None
    content_hash: str
    fingerprint: str
    type: str | None
    date: str | None
    phase: str | None
    title: str | None
    participants: dict[str, Any]
    attributes: dict[str, Any]
    text: str
    unit: str
    pipeline: str
    state: FileState | None = None  # the file it came from, remembered with it


@dataclass
class StoreResult:
    """What storing one source did to the people's codings in it."""

    reanchored: int = 0
    detached: int = 0
    suggestions: int = 0
    segments: int = 0


def save_codebook(conn: sqlite3.Connection, codebook: Codebook, actor: str = "qualkam") -> int:
    """Record a codebook version (once per content hash) and make its codes current, inside
    the caller's transaction. Codes that left the codebook stay, marked retired."""
    row = conn.execute("SELECT id FROM codebooks WHERE hash = ?", (codebook.hash,)).fetchone()
    if row:
        codebook_id = int(row[0])
        current, ours = conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(codebook_id = ?), 0) FROM codes WHERE retired_at IS NULL", (codebook_id,)
        ).fetchone()
        if current == ours == len(codebook.codes):
            return codebook_id  # already the current codebook: nothing to write
    else:
        codebook_id = int(
            conn.execute(
                "INSERT INTO codebooks (hash, name, version, path, yaml, loaded_at) VALUES (?, ?, ?, ?, ?, ?)",
                (codebook.hash, codebook.name, codebook.version, codebook.path, codebook.text, now()),
            ).lastrowid
        )
        record_audit(
            conn,
            actor,
            "load",
            "codebook",
            str(codebook_id),
            None,
            {
                "name": codebook.name,
                "version": codebook.version,
                "path": codebook.path,
                "hash": codebook.hash,
                "codes": len(codebook.codes),
            },
        )
    # Codes that left the codebook stay (people's codings may use them), marked retired.
    conn.execute(
        "UPDATE codes SET retired_at = ? WHERE retired_at IS NULL AND id NOT IN (%s)"
        % ",".join("?" * len(codebook.codes)),
        (now(), *codebook.codes),
    )
    for position, code in enumerate(codebook.codes.values()):
        conn.execute(
            """INSERT INTO codes (id, parent, label, definition, color, attributes, position, codebook_id)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT(id) DO UPDATE SET parent=excluded.parent, label=excluded.label,
               definition=excluded.definition, color=excluded.color, attributes=excluded.attributes,
               position=excluded.position, codebook_id=excluded.codebook_id, retired_at=NULL""",
            (
                code.id,
                code.parent,
                code.label,
                code.definition,
                code.color,
                json.dumps(code.attributes, sort_keys=True, default=str),
                position,
                codebook_id,
            ),
        )
    # The phases are the current codebook's (a source keeps its phase id; matrices still show it).
    conn.execute(
        "DELETE FROM phases WHERE id NOT IN (%s)" % ",".join("?" * len(codebook.phases)),
        tuple(p.id for p in codebook.phases),
    )
    for position, phase in enumerate(codebook.phases):
        conn.execute(
            """INSERT INTO phases (id, label, description, position) VALUES (?, ?, ?, ?)
               ON CONFLICT(id) DO UPDATE SET label=excluded.label, description=excluded.description,
               position=excluded.position""",
            (phase.id, phase.label, phase.description, position),
        )
    return codebook_id


def current_codebook_row(conn: sqlite3.Connection) -> sqlite3.Row | None:
    """The stored codebook version the current codes come from (see ``Project.codebook_row``)."""
    row = conn.execute(
        "SELECT codebook_id FROM codes WHERE retired_at IS NULL AND codebook_id IS NOT NULL "
        "GROUP BY codebook_id ORDER BY COUNT(*) DESC, codebook_id DESC LIMIT 1"
    ).fetchone()
    if row is None:
        return None
    return conn.execute(
        "SELECT id, name, version, path, yaml, loaded_at FROM codebooks WHERE id = ?", (row[0],)
    ).fetchone()


class Project:
    """An open project store. Use ``Project.open`` (or ``with Project.open(...) as p``)."""

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        self.path = path
        self.conn = conn
        self._counting = False  # the revision exists (set once migrated)

    @classmethod
    def open(cls, path: str | Path = DEFAULT_PROJECT, create: bool = False) -> Project:
        """Open (or with ``create`` make) the project; migrate it to this version's schema."""
        path = Path(path)
        if not path.exists() and not create:
            raise StoreError(f"no qualkam project at {path}; run 'qualkam code DIR' first or pass --project PATH")
        if path.is_dir():
            raise StoreError(
                f"{path} is a folder; --project takes the path of a project file such as {DEFAULT_PROJECT}"
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
                        "it is left as it is: give another --project path"
                    )
                if not create:
                    raise StoreError(
                        f"{path} is an empty file, not a qualkam project yet; run 'qualkam code DIR "
                        f"--project {path}' to make one there, or give another --project path"
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
        """One write transaction; rolled back whole on any error. One that changed any row
        counts the project's revision up."""
        self.conn.execute("BEGIN IMMEDIATE")
        changes = self.conn.total_changes
        try:
            yield self.conn
            if self._counting and self.conn.total_changes != changes:
                self.conn.execute("UPDATE meta SET value = value + 1 WHERE key = 'revision'")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        else:
            self.conn.execute("COMMIT")

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
                for statement in filter(str.strip, sql.split(";")):
                    conn.execute(statement)
                conn.execute("INSERT INTO migrations VALUES (?, ?)", (name, now()))
        self._counting = True

    # -- codebook -----------------------------------------------------------------------
    def save_codebook(self, codebook: Codebook, actor: str = "qualkam") -> int:
        """Record this codebook version (once per content hash) and make its codes current."""
        with self.transaction() as conn:
            return save_codebook(conn, codebook, actor)

    def codebook_row(self) -> sqlite3.Row | None:
        """The stored version (id, name, version, path, yaml) the project's current codes come
        from: the codebook it owns. None when the project has no codebook yet."""
        return current_codebook_row(self.conn)

    def codebook(self, strict: bool = True) -> Codebook | None:
        """The project's own codebook, parsed from the YAML it stored (``origin`` "project");
        None when it has none. A stored version that no longer validates (a newer qualkam
        checks more) raises CodebookError saying so; with ``strict=False`` it comes back built
        from the codes table instead (no patterns), with the problem in its ``warnings``."""
        row = self.codebook_row()
        if row is None:
            return None
        try:
            book = parse_codebook(row["yaml"], row["path"] or "<project codebook>")
        except CodebookError as exc:
            problem = (
                f"the codebook stored in {self.path} ({row['name']} {row['version']}) no longer validates; "
                "load a fixed version with --codebook PATH"
            )
            if strict:
                raise CodebookError(exc.path, [problem] + exc.problems) from exc
            book = Codebook(
                name=row["name"],
                version=row["version"],
                path=row["path"] or "<project codebook>",
                text=row["yaml"],
                warnings=[problem] + exc.problems,
                partial=True,
            )
            for code in self.conn.execute(
                "SELECT id, parent, label, definition, color, attributes FROM codes "
                "WHERE retired_at IS NULL ORDER BY position"
            ):
                book.codes[code["id"]] = Code(
                    code["id"],
                    code["label"],
                    code["parent"],
                    code["definition"] or "",
                    color=code["color"],
                    attributes=json.loads(code["attributes"] or "{}"),
                )
        book.origin = "project"
        return book

    def human_codings_by_code(self) -> dict[str, int]:
        """Code id -> how many codings by people (any coder, accepted or rejected) use it."""
        return {
            r[0]: int(r[1])
            for r in self.conn.execute(
                "SELECT code_id, COUNT(*) FROM codings WHERE coder IS NOT NULL GROUP BY code_id ORDER BY code_id"
            )
        }

    # -- sources ------------------------------------------------------------------------
    def fingerprints(self) -> dict[str, str]:
        """Source id -> fingerprint of what it was last coded from (text, metadata, settings)."""
        return {row[0]: row[1] for row in self.conn.execute("SELECT id, fingerprint FROM sources")}

    def file_states(self) -> dict[str, FileState]:
        """Absolute path -> the file's state when it was last coded, for sources still stored."""
        return {
            row[0]: FileState(row[0], row[2], row[1], json.loads(row[3]))
            for row in self.conn.execute(
                "SELECT f.path, f.source_id, f.key, f.warnings FROM source_files f JOIN sources s ON s.id = f.source_id"
            )
        }

    def remember_files(self, states: Sequence[FileState]) -> None:
        """Record files whose source was unchanged but whose stat changed (one transaction)."""
        if states:
            with self.transaction() as conn:
                remember_files(conn, states)

    def source_paths(self) -> dict[str, str]:
        return {row[0]: row[1] for row in self.conn.execute("SELECT id, path FROM sources")}

    def store_source(
        self,
        record: SourceRecord,
        codebook_id: int,
        segments: Sequence[Segment],
        suggestions: Sequence[Sequence[Suggestion]],
        origin: str = "rule",
    ) -> StoreResult:
        """Write one source, its segments and fresh machine suggestions in one transaction."""
        with self.transaction() as conn:
            return self._store_source(conn, record, codebook_id, segments, suggestions, origin)

    def _store_source(
        self,
        conn: sqlite3.Connection,
        record: SourceRecord,
        codebook_id: int,
        segments: Sequence[Segment],
        suggestions: Sequence[Sequence[Suggestion]],
        origin: str,
    ) -> StoreResult:
        stamp = now()
        result = StoreResult(segments=len(segments))
        old = conn.execute("SELECT added_at FROM sources WHERE id = ?", (record.id,)).fetchone()
        values = (
            record.path,
            record.format,
            record.encoding,
            record.content_hash,
            record.fingerprint,
            record.type,
            record.date,
            record.phase,
            record.title,
            json.dumps(record.participants, sort_keys=True),
            json.dumps(record.attributes, sort_keys=True, default=str),
            record.text,
            record.unit,
            codebook_id,
            record.pipeline,
        )
        if old:
            conn.execute(
                """UPDATE sources SET path=?, format=?, encoding=?, content_hash=?, fingerprint=?, type=?, date=?,
                   phase=?, title=?, participants=?, attributes=?, text=?, unit=?, codebook_id=?, pipeline=?,
                   updated_at=? WHERE id=?""",
                values + (stamp, record.id),
            )
        else:
            conn.execute(
                """INSERT INTO sources (path, format, encoding, content_hash, fingerprint, type, date, phase, title,
                   participants, attributes, text, unit, codebook_id, pipeline, added_at, updated_at, id)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                values + (stamp, stamp, record.id),
            )
        conn.execute("DELETE FROM codings WHERE source_id = ? AND coder IS NULL", (record.id,))
        existing = {
            (row["start"], row["end"], row["text"]): row["id"]
            for row in conn.execute('SELECT id, start, "end", text FROM segments WHERE source_id = ?', (record.id,))
        }
        new_ids: list[int] = []
        kept: set[int] = set()
        for seg in segments:
            fields = (seg.position, seg.speaker, seg.role, seg.speaker_unit, seg.time_start, seg.time_end, seg.lemmas)
            seg_id = existing.get((seg.start, seg.end, seg.text))
            if seg_id is not None and seg_id not in kept:
                conn.execute(
                    """UPDATE segments SET position=?, speaker=?, role=?, speaker_unit=?, time_start=?, time_end=?,
                       lemmas=? WHERE id=?""",
                    fields + (seg_id,),
                )
            else:
                seg_id = int(
                    conn.execute(
                        """INSERT INTO segments (source_id, position, speaker, role, speaker_unit, time_start, time_end,
                       lemmas, start, "end", text) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                        (record.id,) + fields + (seg.start, seg.end, seg.text),
                    ).lastrowid
                )
            kept.add(seg_id)
            new_ids.append(seg_id)
        self._reanchor(conn, record, segments, new_ids, kept, result)
        if record.state is not None:
            remember_files(conn, [record.state])
        stale = [seg_id for seg_id in existing.values() if seg_id not in kept]
        conn.executemany("DELETE FROM segments WHERE id = ?", [(s,) for s in stale])
        rows = []
        for seg, seg_id, found in zip(segments, new_ids, suggestions):
            for sug in found:
                evidence = json.dumps([e.as_dict() for e in sug.evidence], ensure_ascii=False)
                # A model suggestion carries its own origin, so one run can store rules and model.
                rows.append(
                    (
                        seg_id,
                        record.id,
                        seg.start,
                        seg.end,
                        seg.text,
                        sug.code_id,
                        getattr(sug, "origin", None) or origin,
                        sug.score,
                        evidence,
                        stamp,
                        stamp,
                    )
                )
        conn.executemany(
            """INSERT INTO codings (segment_id, source_id, start, "end", text, code_id, coder, origin, status, score,
               evidence, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, NULL, ?, 'suggested', ?, ?, ?, ?)""",
            rows,
        )
        result.suggestions = len(rows)
        return result

    def _reanchor(
        self,
        conn: sqlite3.Connection,
        record: SourceRecord,
        segments: Sequence[Segment],
        seg_ids: list[int],
        kept: set[int],
        result: StoreResult,
    ) -> None:
        """Move people's codings whose segment changed onto the new text; never delete them.

        A coding is found again by its own words: the occurrence nearest its old offset. It
        then belongs to the new segment it overlaps most. If its words are gone, it stays in
        the store with no segment ("detached") and the run reports it.
        """
        human = conn.execute(
            'SELECT id, segment_id, start, "end", text FROM codings WHERE source_id = ? AND coder IS NOT NULL',
            (record.id,),
        ).fetchall()
        for row in human:
            if row["segment_id"] in kept:
                continue
            hits = _occurrences(record.text, row["text"])
            if not hits:
                conn.execute("UPDATE codings SET segment_id = NULL WHERE id = ?", (row["id"],))
                result.detached += 1
                continue
            start = min(hits, key=lambda pos: abs(pos - row["start"]))
            end = start + len(row["text"])
            best, overlap = None, 0
            for seg, seg_id in zip(segments, seg_ids):
                shared = min(end, seg.end) - max(start, seg.start)
                if shared > overlap:
                    best, overlap = seg_id, shared
            conn.execute(
                'UPDATE codings SET segment_id = ?, start = ?, "end" = ? WHERE id = ?', (best, start, end, row["id"])
            )
            result.reanchored += 1

    # -- reading ------------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        """Headline numbers for the summary."""
        one = lambda sql: int(self.conn.execute(sql).fetchone()[0])  # noqa: E731
        return {
            "sources": one("SELECT COUNT(*) FROM sources"),
            "segments": one("SELECT COUNT(*) FROM segments"),
            "suggestions": one("SELECT COUNT(*) FROM codings WHERE coder IS NULL"),
            "human_codings": one("SELECT COUNT(*) FROM codings WHERE coder IS NOT NULL"),
            "detached": one("SELECT COUNT(*) FROM codings WHERE segment_id IS NULL"),
        }

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        return self.conn.execute(sql, params).fetchall()


def _occurrences(text: str, needle: str) -> list[int]:
    if not needle:
        return []
    hits, pos = [], text.find(needle)
    while pos != -1:
        hits.append(pos)
        pos = text.find(needle, pos + 1)
    return hits


# -- names a project knows: what an option may name (qualkam.choices says "did you mean") ---
_KNOWN_SQL = {
    "coder": "SELECT coder FROM codings WHERE coder IS NOT NULL GROUP BY coder ORDER BY MIN(id)",
    "code": "SELECT id FROM codes ORDER BY position",
    "source": "SELECT id FROM sources ORDER BY id",
    "phase": "SELECT id FROM (SELECT id, position FROM phases UNION ALL "
    "SELECT DISTINCT phase, 1e9 FROM sources WHERE phase IS NOT NULL AND phase <> '' "
    "AND phase NOT IN (SELECT id FROM phases)) ORDER BY position, id",
    "speaker": "SELECT DISTINCT speaker FROM segments WHERE speaker IS NOT NULL AND speaker <> '' ORDER BY speaker",
    "role": "SELECT DISTINCT role FROM segments WHERE role IS NOT NULL AND role <> '' ORDER BY role",
    "source type": "SELECT DISTINCT type FROM sources WHERE type IS NOT NULL AND type <> '' ORDER BY type",
    "actor": "SELECT actor FROM audit GROUP BY actor ORDER BY MIN(id)",
    "memo writer": "SELECT coder FROM memos GROUP BY coder ORDER BY MIN(id)",
}


def known_names(project: Project, kind: str) -> list[str]:
    """Every coder, code, source, phase, speaker, role, source type, actor or memo writer of the project."""
    return [str(row[0]) for row in project.query(_KNOWN_SQL[kind])]


def source_attribute_keys(project: Project) -> list[str]:
    """The attribute names any source carries (``site``, ``meeting_number`` ...)."""
    keys: dict[str, None] = {}
    for (text,) in project.query("SELECT attributes FROM sources"):
        try:
            keys.update(dict.fromkeys(json.loads(text or "{}")))
        except ValueError:
            continue
    return sorted(keys)


# -- memos: edited and deleted like codings, with the before and after in the audit trail ----
def _memo_ref(memo_id: str) -> tuple[str, int]:
    """``12`` (a memo) or ``coding:12`` (the memo on a coding, e.g. from a sheet's coded row)."""
    text = str(memo_id).strip()
    kind, _, number = text.rpartition(":")
    if kind not in ("", "coding") or not number.isdigit():
        from qualkam.errors import QualkamError

        raise QualkamError(f"memo id {text!r}: write the number 'qualkam memo list' shows, e.g. 12 or coding:12")
    return ("coding" if kind else "memo"), int(number)


def change_memo(project: Project, memo_id: str, coder: str | None, text: str | None) -> dict[str, Any]:
    """Replace a memo's text (``text``) or delete it (None), in one audited transaction;
    returns the memo as it was. ``coder`` is who makes the change (the audit's actor)."""
    from qualkam.errors import QualkamError

    kind, number = _memo_ref(memo_id)
    if text is not None and not text.strip():
        raise QualkamError("an empty memo was not saved; to remove a memo use 'qualkam memo delete ID'")
    stamp = now()
    with project.transaction() as conn:
        if kind == "memo":
            row = conn.execute("SELECT * FROM memos WHERE id = ?", (number,)).fetchone()
        else:
            row = conn.execute(
                "SELECT * FROM codings WHERE id = ? AND memo IS NOT NULL AND memo <> ''", (number,)
            ).fetchone()
        if row is None:
            known = [str(r[0]) for r in conn.execute("SELECT id FROM memos ORDER BY id")]
            known += [
                f"coding:{r[0]}"
                for r in conn.execute("SELECT id FROM codings WHERE memo IS NOT NULL AND memo <> '' ORDER BY id")
            ]
            from qualkam.choices import unknown

            raise unknown("memo", memo_id, known)
        before = dict(row)
        old = before["memo"] if kind == "coding" else before["text"]
        if kind == "memo" and text is not None:
            conn.execute("UPDATE memos SET text = ?, updated_at = ? WHERE id = ?", (text.strip(), stamp, number))
        elif kind == "memo":
            conn.execute("DELETE FROM memos WHERE id = ?", (number,))
        else:
            conn.execute(
                "UPDATE codings SET memo = ?, updated_at = ? WHERE id = ?",
                (text.strip() if text is not None else None, stamp, number),
            )
        entity, ident = ("memo", str(number)) if kind == "memo" else ("coding", str(number))
        actor = (coder or "").strip() or before["coder"]  # by default the memo's writer changes it
        record_audit(
            conn,
            actor,
            "edit memo" if text is not None else "delete memo",
            entity,
            ident,
            {"memo": str(memo_id), "text": old},
            {"memo": str(memo_id), "text": text.strip()} if text else None,
        )
    return before
