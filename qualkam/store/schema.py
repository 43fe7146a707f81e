"""The project's schema: named migrations, applied in order by ``Project.open``.

Each migration runs inside one transaction with the line that records it in the
``migrations`` table, so a project is always at one named version (docs/style.md, practice 7).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qualkam.store.project import Project

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
    (
        # Codings on any span. A coding's segment_id is its anchor: the first segment its span
        # overlaps. coding_segments lists every segment a coding counts for (its anchor and every
        # later segment its span overlaps by a character), kept by the triggers below so that
        # no write can forget it; segment-level reads (matrices, reliability, layers) join it.
        # A person may code several spans of one segment: people's rows are unique per exact
        # span, code and coder.
        "006_spans",
        """
        CREATE INDEX segments_span ON segments(source_id, start);
        DROP INDEX codings_person;
        CREATE UNIQUE INDEX codings_person ON codings(source_id, start, "end", code_id, coder)
            WHERE coder IS NOT NULL;
        CREATE INDEX codings_anchor ON codings(segment_id, coder);
        CREATE TABLE coding_segments (
            coding_id INTEGER NOT NULL,
            segment_id INTEGER NOT NULL,
            PRIMARY KEY (coding_id, segment_id)
        ) WITHOUT ROWID;
        CREATE INDEX coding_segments_segment ON coding_segments(segment_id, coding_id);
        CREATE TRIGGER coding_cover_insert AFTER INSERT ON codings WHEN NEW.segment_id IS NOT NULL BEGIN
            INSERT OR IGNORE INTO coding_segments (coding_id, segment_id) VALUES (NEW.id, NEW.segment_id);
            INSERT OR IGNORE INTO coding_segments (coding_id, segment_id)
                SELECT NEW.id, s.id FROM segments s
                WHERE s.source_id = NEW.source_id AND s.start < NEW."end" AND s."end" > NEW.start
                  AND s.start > (SELECT a.start FROM segments a WHERE a.id = NEW.segment_id);
        END;
        CREATE TRIGGER coding_cover_update AFTER UPDATE OF segment_id, source_id, start, "end" ON codings BEGIN
            DELETE FROM coding_segments WHERE coding_id = OLD.id;
            INSERT OR IGNORE INTO coding_segments (coding_id, segment_id)
                SELECT NEW.id, NEW.segment_id WHERE NEW.segment_id IS NOT NULL;
            INSERT OR IGNORE INTO coding_segments (coding_id, segment_id)
                SELECT NEW.id, s.id FROM segments s
                WHERE NEW.segment_id IS NOT NULL AND s.source_id = NEW.source_id
                  AND s.start < NEW."end" AND s."end" > NEW.start
                  AND s.start > (SELECT a.start FROM segments a WHERE a.id = NEW.segment_id);
        END;
        CREATE TRIGGER coding_cover_delete AFTER DELETE ON codings BEGIN
            DELETE FROM coding_segments WHERE coding_id = OLD.id;
        END;
        CREATE TRIGGER segment_cover_insert AFTER INSERT ON segments BEGIN
            INSERT OR IGNORE INTO coding_segments (coding_id, segment_id)
                SELECT c.id, NEW.id FROM codings c JOIN segments a ON a.id = c.segment_id
                WHERE c.source_id = NEW.source_id AND a.start < NEW.start
                  AND c.start < NEW."end" AND c."end" > NEW.start;
        END;
        CREATE TRIGGER segment_cover_delete AFTER DELETE ON segments BEGIN
            DELETE FROM coding_segments WHERE segment_id = OLD.id;
        END;
        INSERT INTO coding_segments (coding_id, segment_id)
            SELECT id, segment_id FROM codings WHERE segment_id IS NOT NULL;
        INSERT OR IGNORE INTO coding_segments (coding_id, segment_id)
            SELECT c.id, s.id FROM codings c JOIN segments a ON a.id = c.segment_id
            JOIN segments s ON s.source_id = c.source_id AND s.start > a.start
                AND s.start < c."end" AND s."end" > c.start;
        """,
    ),
    (
        # Codebook history (issue 16): each coding records the codebook version current when it
        # was made, set by the trigger below from meta 'codebook_id' (kept by save_codebook), so
        # no writer can forget it; codebook_loads lists every time a version became current
        # (a version reloaded later is loaded again, not stored again). Codings older than this
        # migration: the only version when the project ever had one (they can have been made
        # under no other), else NULL, shown as "before history": the old store did not record
        # which version was current when (a reloaded version kept its first loaded_at, and
        # migrate rewrote code ids), so a guess could be wrong.
        "007_codebook_history",
        """
        ALTER TABLE codings ADD COLUMN codebook_id INTEGER REFERENCES codebooks(id);
        CREATE INDEX codings_codebook ON codings(codebook_id);
        CREATE TABLE codebook_loads (
            id INTEGER PRIMARY KEY,
            codebook_id INTEGER NOT NULL REFERENCES codebooks(id),
            at TEXT NOT NULL,
            path TEXT,
            actor TEXT
        );
        INSERT INTO codebook_loads (codebook_id, at, path, actor)
            SELECT id, loaded_at, path, NULL FROM codebooks ORDER BY id;
        INSERT OR REPLACE INTO meta (key, value)
            SELECT 'codebook_id', codebook_id FROM codes WHERE retired_at IS NULL AND codebook_id IS NOT NULL
            GROUP BY codebook_id ORDER BY COUNT(*) DESC, codebook_id DESC LIMIT 1;
        UPDATE codings SET codebook_id = (SELECT MIN(id) FROM codebooks)
            WHERE (SELECT COUNT(*) FROM codebooks) = 1;
        CREATE TRIGGER coding_codebook_insert AFTER INSERT ON codings WHEN NEW.codebook_id IS NULL BEGIN
            UPDATE codings SET codebook_id = (SELECT value FROM meta WHERE key = 'codebook_id') WHERE id = NEW.id;
        END;
        """,
    ),
    (
        # Cases (issue 16): a participant's own attributes (site, tenure ...), kept across sources
        # under the case-folded name segments carry as speaker; set by a cases file, `qualkam
        # cases import` or a REFI-QDA project's Cases. Role and unit still come from each
        # source's participants metadata (qualkam.analysis.cases merges the two).
        "008_cases",
        """
        CREATE TABLE cases (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            attributes TEXT NOT NULL DEFAULT '{}',
            origin TEXT,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX segments_speaker ON segments(speaker);
        """,
    ),
    (
        # Framework matrices (issue 16, point 4; Ritchie & Spencer's framework analysis): a
        # researcher's summary per case (a participant or a source) x theme (a code or a code
        # group). Only the summaries are stored: the excerpts behind a cell are read from a layer
        # each time, so a cell never holds a stale copy of them.
        "009_framework",
        """
        CREATE TABLE framework_cells (
            framework TEXT NOT NULL,
            case_kind TEXT NOT NULL CHECK (case_kind IN ('case', 'source')),
            case_id TEXT NOT NULL,
            theme TEXT NOT NULL,
            summary TEXT NOT NULL,
            author TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (framework, case_kind, case_id, theme)
        );
        """,
    ),
]


def statements(script: str) -> Iterator[str]:
    """The statements of a migration one by one (a trigger's body holds semicolons of its own,
    so a piece ends only where SQLite says the statement is complete)."""
    piece = ""
    for part in script.split(";"):
        piece += part + ";"
        if sqlite3.complete_statement(piece):
            if piece.strip(" \n;"):
                yield piece.strip()
            piece = ""
    if piece.strip(" \n;"):
        raise RuntimeError(f"an incomplete statement ends a migration: {piece.strip()[:80]}")


def row_id(cursor: sqlite3.Cursor) -> int:
    """The id SQLite gave the row an INSERT just wrote."""
    if cursor.lastrowid is None:
        raise RuntimeError("the INSERT wrote no row")  # a bug: every caller inserts one row
    return int(cursor.lastrowid)


def fetch_all(project: Project, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
    """Every row of one query on the project's connection (store modules only)."""
    return project.conn.execute(sql, params).fetchall()
