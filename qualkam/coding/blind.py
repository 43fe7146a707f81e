"""Blind parallel coding: clone a master project for each coder, merge their work back.

``clone`` copies the master with SQLite's backup API and removes every other person's
codings, memos and audit lines from the copy, so a coder sees the rules' suggestions and
nobody's decisions. ``merge`` brings a coder's project back into the master in one
transaction: sources are matched by the hash of their text, never by name alone; a
person's coding keeps its coder, time and memo; nothing already in the master changes
(a different decision on the same segment and code is reported as a conflict, not
applied); merging the same file again adds nothing.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from qualkam.choices import check_choice, unknown
from qualkam.coding.decisions import Action, apply_decision
from qualkam.errors import QualkamError, StoreError
from qualkam.interchange.codings_import import segments_for_span
from qualkam.store.project import Project, now, record_audit


@dataclass
class MergeReport:
    """What a merge did and what it refused, for the summary and the exit code."""

    coders: list[str] = field(default_factory=list)
    new: int = 0
    unchanged: int = 0
    conflicts: list[str] = field(default_factory=list)
    settled: list[str] = field(default_factory=list)  # conflicts --prefer decided
    text_differs: list[str] = field(default_factory=list)
    not_in_master: list[str] = field(default_factory=list)
    memos: int = 0

    @property
    def problems(self) -> list[str]:
        return self.conflicts + self.text_differs + self.not_in_master


_NOT_IN_NAME = re.compile(r"[/\\\x00-\x1f\x7f:*?\"<>|]")


def check_coder_name(coder: str, option: str = "--for") -> str:
    """A coder's name, fit to be part of a file name (``project clone`` names the copy after
    the coder): no path separator or other character a file system refuses, not '.' or '..'."""
    name = coder.strip()
    if not name:
        raise QualkamError(f"a coder name is needed ({option} NAME)")
    if _NOT_IN_NAME.search(name) or name.startswith(".") or len(name) > 100:
        raise QualkamError(
            f"{option} {coder!r}: a coder name is a plain name (letters, digits, spaces, '-', '_'; "
            "no '/', '\\', ':' or other path characters, not starting with '.', at most 100 characters)"
        )
    return name


def clone_for(project: Project, coder: str, out: str | Path) -> Path:
    """A copy of the project for one coder, with nobody else's decisions in it."""
    check_coder_name(coder)
    out = Path(out)
    if out.exists():
        raise QualkamError(f"{out} exists already; choose another --out or remove it first")
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.unlink(missing_ok=True)
    with sqlite3.connect(tmp) as target:
        project.conn.backup(target)
    with Project.open(tmp) as copy:
        with copy.transaction() as conn:
            conn.execute("DELETE FROM codings WHERE coder IS NOT NULL AND coder != ?", (coder,))
            conn.execute("DELETE FROM memos WHERE coder != ?", (coder,))
            conn.execute("DELETE FROM audit WHERE actor != ? AND entity != 'codebook'", (coder,))
            conn.execute("DELETE FROM review_progress WHERE coder != ?", (coder,))
            record_audit(
                conn, coder, "clone", "project", str(project.path), None, {"for": coder, "from": str(project.path)}
            )
        copy.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    tmp.replace(out)
    return out


def _open_other(path: str | Path) -> sqlite3.Connection:
    path = Path(path)
    if not path.is_file():
        raise QualkamError(f"no project file at {path}")
    try:
        # A URI, so the file opens read-only; quoted, so '#', '?' and '%' in a folder name stay
        # part of the path (unquoted, 'a#b.db' opened 'a' and failed).
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        conn.row_factory = sqlite3.Row
        names = {r[0] for r in conn.execute("SELECT name FROM migrations")}
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path} is not a qualkam project (SQLite says: {exc})") from exc
    if "002_people" not in names:
        raise StoreError(
            f"{path} was written by an older qualkam; open it once with this version (e.g. 'qualkam audit --project {path}')"
        )
    return conn


PREFER = ("mine", "theirs")


def merge_from(
    project: Project, other_path: str | Path, coder: str | None = None, prefer: str | None = None
) -> MergeReport:
    """Bring the people's codings and memos of another project into this one (one transaction).

    A conflict (the same coder decided a segment and code one way here and the other way
    there) is reported and kept as it is here, unless ``prefer`` settles it: ``mine`` keeps
    this project's decision, ``theirs`` takes the other project's (audited like any decision).
    """
    if prefer is not None:
        prefer = check_choice("--prefer", prefer, PREFER)
    other = _open_other(other_path)
    report = MergeReport()
    try:
        where, params = "c.coder IS NOT NULL", []
        if coder:
            where += " AND c.coder = ?"
            params.append(coder)
        rows = other.execute(
            f"""SELECT c.*, src.content_hash, src.id AS other_source FROM codings c
                JOIN sources src ON src.id = c.source_id WHERE {where} ORDER BY c.id""",
            params,
        ).fetchall()
        memos = other.execute("SELECT * FROM memos ORDER BY id").fetchall()
        other_segments = {
            r["id"]: dict(r)
            for r in other.execute(
                'SELECT s.id, s.start, s."end", src.content_hash FROM segments s JOIN sources src ON src.id = s.source_id'
            )
        }
        other_hashes = {r[0]: r[1] for r in other.execute("SELECT id, content_hash FROM sources")}
        if coder and not rows:
            known = [r[0] for r in other.execute("SELECT DISTINCT coder FROM codings WHERE coder IS NOT NULL")]
            raise unknown("coder", coder, known, f"--coder (the coders of {other_path})")
    finally:
        other.close()
    with project.transaction() as conn:
        by_hash = {r["content_hash"]: r["id"] for r in conn.execute("SELECT id, content_hash FROM sources")}
        master_ids = set(by_hash.values())
        unknown_codes = sorted({r["code_id"] for r in rows} - {r[0] for r in conn.execute("SELECT id FROM codes")})
        if unknown_codes:
            raise QualkamError(
                f"{other_path} uses codes this project does not have: {', '.join(unknown_codes)}; "
                "load the same codebook here first (qualkam codebook migrate PATH --coder NAME, which keeps "
                "people's codings attached)"
            )
        segments: dict[str, list[tuple[int, int, int]]] = {}
        reported: set[str] = set()
        for row in rows:
            source = by_hash.get(row["content_hash"])
            if source is None:
                if row["other_source"] not in reported:
                    reported.add(row["other_source"])
                    target = report.text_differs if row["other_source"] in master_ids else report.not_in_master
                    target.append(
                        f"source {row['other_source']!r}: "
                        + (
                            "its text differs between the two projects; its codings were not merged"
                            if row["other_source"] in master_ids
                            else "not in this project (no source with the same text)"
                        )
                    )
                continue
            if row["coder"] not in report.coders:
                report.coders.append(row["coder"])
            if source not in segments:
                segments[source] = [
                    (r[0], r[1], r[2])
                    for r in conn.execute(
                        'SELECT id, start, "end" FROM segments WHERE source_id = ? ORDER BY position', (source,)
                    )
                ]
            span = (row["start"], row["end"])
            for seg_id, start, end in segments_for_span(span[0], span[1], segments[source]):
                _merge_one(conn, row, seg_id, (start, end), str(other_path), report, prefer)
        for memo in memos:
            if coder is None or memo["coder"] == coder:
                found, target = _memo_target(conn, memo, other_segments, other_hashes, by_hash)
                if found:
                    report.memos += _merge_memo(conn, memo, target)
        record_audit(
            conn,
            coder or "qualkam",
            "merge",
            "project",
            str(other_path),
            None,
            {
                "coders": report.coders,
                "new": report.new,
                "unchanged": report.unchanged,
                "conflicts": len(report.conflicts),
                "skipped_sources": len(report.text_differs) + len(report.not_in_master),
            },
        )
    return report


def _merge_one(
    conn: sqlite3.Connection,
    row: sqlite3.Row,
    seg_id: int,
    span: tuple[int, int],
    via: str,
    report: MergeReport,
    prefer: str | None = None,
) -> None:
    existing = conn.execute(
        "SELECT status FROM codings WHERE segment_id = ? AND code_id = ? AND coder = ?",
        (seg_id, row["code_id"], row["coder"]),
    ).fetchone()
    if existing is not None:
        if existing["status"] == row["status"]:
            report.unchanged += 1
            return
        what = (
            f"{row['coder']} on segment {seg_id}, code {row['code_id']}: {existing['status']} here, "
            f"{row['status']} in {Path(via).name}"
        )
        if prefer is None:
            report.conflicts.append(f"{what}; kept as it is here (settle with --prefer mine or --prefer theirs)")
            return
        report.settled.append(
            f"{what}; {'kept' if prefer == 'mine' else 'took'} {existing['status'] if prefer == 'mine' else row['status']} (--prefer {prefer})"
        )
        if prefer == "theirs":
            action = Action.accept if row["status"] == "accepted" else Action.reject
            apply_decision(
                conn,
                row["coder"],
                seg_id,
                row["code_id"],
                action,
                memo=row["memo"],
                at=row["updated_at"],
                span=span,
                via=f"merge {via} --prefer theirs",
            )
        return
    action = Action.accept if row["status"] == "accepted" else Action.reject
    if row["origin"] == "human" and action is Action.accept:
        action = Action.add
    outcome = apply_decision(
        conn,
        row["coder"],
        seg_id,
        row["code_id"],
        action,
        memo=row["memo"],
        at=row["updated_at"],
        span=span,
        via=f"merge {via}",
    )
    if row["origin"] != "human":  # keep the origin the coder's project recorded
        conn.execute("UPDATE codings SET origin = ? WHERE id = ?", (row["origin"], outcome.coding_id))
    report.new += 1


def _memo_target(
    conn: sqlite3.Connection,
    memo: sqlite3.Row,
    other_segments: dict[int, dict],
    other_hashes: dict[str, str],
    by_hash: dict[str, str],
) -> tuple[bool, str | None]:
    """Where a memo of the other project belongs here: (found, target id). Sources and
    segments are found again by their text, like codings."""
    kind, target = memo["target_type"], memo["target_id"]
    if kind == "source":
        source = by_hash.get(other_hashes.get(target, ""))
        return source is not None, source
    if kind == "segment":
        seg = other_segments.get(int(target)) if str(target).isdigit() else None
        source = by_hash.get(seg["content_hash"]) if seg else None
        if source is None:
            return False, None
        spans = [
            (r[0], r[1], r[2])
            for r in conn.execute(
                'SELECT id, start, "end" FROM segments WHERE source_id = ? ORDER BY position', (source,)
            )
        ]
        hits = segments_for_span(seg["start"], seg["end"], spans)
        return bool(hits), str(hits[0][0]) if hits else None
    return True, target


def _merge_memo(conn: sqlite3.Connection, memo: sqlite3.Row, target: str | None) -> int:
    if conn.execute(
        "SELECT 1 FROM memos WHERE target_type = ? AND target_id IS ? AND coder = ? AND text = ?",
        (memo["target_type"], target, memo["coder"], memo["text"]),
    ).fetchone():
        return 0
    conn.execute(
        "INSERT INTO memos (target_type, target_id, coder, text, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
        (memo["target_type"], target, memo["coder"], memo["text"], memo["created_at"], now()),
    )
    record_audit(conn, memo["coder"], "memo", memo["target_type"], target, None, {"text": memo["text"]}, "merge")
    return 1
