"""The project's codebook: its stored versions, its current codes and phases, and codes moving
between versions (``qualkam codebook migrate``)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sized
from dataclasses import dataclass
from typing import TYPE_CHECKING

from qualkam.store.audit import now, record_audit
from qualkam.store.schema import row_id

if TYPE_CHECKING:
    from qualkam.coding.codebook import Codebook
    from qualkam.store.project import Project


def save_codebook(project: Project, codebook: Codebook, actor: str = "qualkam") -> int:
    """Record a codebook version (once per content hash) and make its codes current, in one
    transaction (a step of the caller's, if any). Codes that left the codebook stay, marked
    retired."""
    with project.transaction() as conn:
        row = conn.execute("SELECT id FROM codebooks WHERE hash = ?", (codebook.hash,)).fetchone()
        if row:
            codebook_id = int(row[0])
            current, ours = conn.execute(
                "SELECT COUNT(*), COALESCE(SUM(codebook_id = ?), 0) FROM codes WHERE retired_at IS NULL",
                (codebook_id,),
            ).fetchone()
            if current == ours == len(codebook.codes):
                return codebook_id  # already the current codebook: nothing to write
        else:
            codebook_id = row_id(
                conn.execute(
                    "INSERT INTO codebooks (hash, name, version, path, yaml, loaded_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (codebook.hash, codebook.name, codebook.version, codebook.path, codebook.text, now()),
                )
            )
            record_audit(
                project,
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
            f"UPDATE codes SET retired_at = ? WHERE retired_at IS NULL AND id NOT IN ({_marks(codebook.codes)})",
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
        # The history (migration 007): this version is current from now on; new codings record it.
        conn.execute(
            "INSERT INTO codebook_loads (codebook_id, at, path, actor) VALUES (?, ?, ?, ?)",
            (codebook_id, now(), codebook.path, actor),
        )
        conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('codebook_id', ?)", (codebook_id,))
        # The phases are the current codebook's (a source keeps its phase id; matrices still show it).
        conn.execute(
            f"DELETE FROM phases WHERE id NOT IN ({_marks(codebook.phases)})",
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


def _marks(values: Sized) -> str:
    """``?,?,?``: one placeholder per value."""
    return ",".join("?" * len(values))


def current_codebook_row(project: Project) -> sqlite3.Row | None:
    """The stored codebook version (id, hash, name, version, path, yaml, loaded_at) the current codes
    come from: the one most current codes belong to. None when the project has no codebook."""
    conn = project.conn
    row = conn.execute(
        "SELECT codebook_id FROM codes WHERE retired_at IS NULL AND codebook_id IS NOT NULL "
        "GROUP BY codebook_id ORDER BY COUNT(*) DESC, codebook_id DESC LIMIT 1"
    ).fetchone()
    if row is None:
        return None
    result: sqlite3.Row | None = conn.execute(
        "SELECT id, hash, name, version, path, yaml, loaded_at FROM codebooks WHERE id = ?", (row[0],)
    ).fetchone()
    return result


def project_codebook(project: Project, strict: bool = True) -> Codebook | None:
    """The project's own codebook, parsed from the YAML it stored (``origin`` "project");
    None when it has none. A stored version that no longer validates (a newer qualkam
    checks more) raises CodebookError saying so; with ``strict=False`` it comes back built
    from the codes table instead (no patterns), with the problem in its ``warnings``."""
    from qualkam.coding.codebook import Code, Codebook, parse_codebook
    from qualkam.errors import CodebookError

    row = current_codebook_row(project)
    if row is None:
        return None
    try:
        # Checked against spaCy when it was stored; the Suggester checks again before matching.
        book = parse_codebook(row["yaml"], row["path"] or "<project codebook>", spacy_check=False)
    except CodebookError as exc:
        problem = (
            f"the codebook stored in {project.path} ({row['name']} {row['version']}) no longer validates; "
            "load a fixed version with {codebook} PATH"
        )
        if strict:
            raise CodebookError(exc.path, [problem] + exc.problems, arguments=("codebook",)) from exc
        book = Codebook(
            name=row["name"],
            version=row["version"],
            path=row["path"] or "<project codebook>",
            text=row["yaml"],
            warnings=[problem] + exc.problems,
            partial=True,
        )
        for code in project.conn.execute(
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


def people_codings_by_code(project: Project) -> dict[str, int]:
    """Code id -> how many codings by people (any coder, accepted or rejected) use it."""
    return {
        r[0]: int(r[1])
        for r in project.conn.execute(
            "SELECT code_id, COUNT(*) FROM codings WHERE coder IS NOT NULL GROUP BY code_id ORDER BY code_id"
        )
    }


def code_known(project: Project, code_id: str) -> bool:
    """The project has this code (current or retired)."""
    return project.conn.execute("SELECT 1 FROM codes WHERE id = ?", (code_id,)).fetchone() is not None


@dataclass
class Moved:
    """What moving one code's codings to another did."""

    moved: int = 0
    collapsed: int = 0


def move_codings(project: Project, old: str, new: str, actor: str, note: str = "codebook migrate") -> Moved:
    """Every coding of ``old`` becomes ``new``, with an audit line per person's coding. Where
    a coder already has ``new`` on the same span the two collapse into one, accepted winning
    over rejected (the person said the merged concept applies); a span of ``new`` elsewhere in
    the segment is another coding and stays one."""
    result = Moved()
    with project.transaction() as conn:
        rows = conn.execute(
            'SELECT id, source_id, start, "end", coder, status FROM codings WHERE code_id = ?', (old,)
        ).fetchall()
        for row in rows:
            clash = None
            if row["coder"] is not None:
                clash = conn.execute(
                    'SELECT id, status FROM codings WHERE source_id = ? AND start = ? AND "end" = ? '
                    "AND code_id = ? AND coder = ?",
                    (row["source_id"], row["start"], row["end"], new, row["coder"]),
                ).fetchone()
            if clash is not None:
                status = "accepted" if "accepted" in (row["status"], clash["status"]) else "rejected"
                conn.execute("UPDATE codings SET status = ? WHERE id = ?", (status, clash["id"]))
                conn.execute("DELETE FROM codings WHERE id = ?", (row["id"],))
                record_audit(
                    project,
                    actor,
                    "merge",
                    "coding",
                    str(row["id"]),
                    {"code": old, "status": row["status"]},
                    {"into": clash["id"], "code": new, "status": status},
                    note,
                )
                result.collapsed += 1
            else:
                conn.execute("UPDATE codings SET code_id = ? WHERE id = ?", (new, row["id"]))
                if row["coder"] is not None:
                    record_audit(project, actor, "rename", "coding", str(row["id"]), {"code": old}, {"code": new}, note)
                result.moved += 1
    return result
