"""Blind parallel coding: clone a master project for each coder, merge their work back.

``clone`` copies the master with SQLite's backup API and removes every other person's
codings, memos and audit lines from the copy, so a coder sees the rules' suggestions and
nobody's decisions. ``merge`` brings a coder's project back into the master in one
transaction: sources are matched by the hash of their text, never by name alone; a
person's coding keeps its exact span (one coding, however many segments it covers), coder,
time and memo; nothing already in the master changes (a different decision on the same span
and code is reported as a conflict, not applied); merging the same file again adds nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qualkam.choices import check_choice, unknown
from qualkam.coding.decisions import apply_span
from qualkam.errors import QualkamError
from qualkam.interchange.codings_import import segments_for_span
from qualkam.store.audit import record_audit
from qualkam.store.imports import span_segments
from qualkam.store.memos import copy_memo
from qualkam.store.people import (
    Outcome,
    copy_project,
    keep_only,
    person_status,
    read_other,
    segment_spans,
    set_origin,
    source_ids_by_hash,
)
from qualkam.store.project import Project
from qualkam.store.reads import code_tree


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
    unplaced: list[str] = field(default_factory=list)  # a span over no segment's text here
    memos: int = 0

    @property
    def problems(self) -> list[str]:
        return self.conflicts + self.text_differs + self.not_in_master + self.unplaced


_NOT_IN_NAME = re.compile(r"[/\\\x00-\x1f\x7f:*?\"<>|]")


def check_coder_name(coder: str, argument: str = "coder") -> str:
    """A coder's name, fit to be part of a file name (``project clone`` names the copy after
    the coder): no path separator or other character a file system refuses, not '.' or '..'."""
    name = coder.strip()
    if not name:
        raise QualkamError("a coder name is needed ({argument} NAME)", argument=argument)
    if _NOT_IN_NAME.search(name) or name.startswith(".") or len(name) > 100:
        raise QualkamError(
            f"{{argument}} {coder!r}: a coder name is a plain name (letters, digits, spaces, '-', '_'; "
            "no '/', '\\', ':' or other path characters, not starting with '.', at most 100 characters)",
            argument=argument,
        )
    return name


def clone_for(project: Project, coder: str, out: str | Path) -> Path:
    """A copy of the project for one coder, with nobody else's decisions in it."""
    check_coder_name(coder)
    out = Path(out)
    if out.exists():
        raise QualkamError(f"{out} exists already; choose another {{argument}} or remove it first", argument="out")
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.unlink(missing_ok=True)
    copy_project(project, tmp)
    with Project.open(tmp) as copy:
        keep_only(copy, coder, str(project.path))
    tmp.replace(out)
    return out


PREFER = ("mine", "theirs")


def merge_from(
    project: Project, other_path: str | Path, coder: str | None = None, prefer: str | None = None
) -> MergeReport:
    """Bring the people's codings and memos of another project into this one (one transaction).

    A conflict (the same coder decided a span and code one way here and the other way
    there) is reported and kept as it is here, unless ``prefer`` settles it: ``mine`` keeps
    this project's decision, ``theirs`` takes the other project's (audited like any decision).
    """
    if prefer is not None:
        prefer = check_choice("prefer", prefer, PREFER, "prefer")
    other = read_other(other_path, coder)
    report = MergeReport()
    rows = other.codings
    if coder and not rows:
        raise unknown(f"coder of {other_path}", coder, other.coders, "coder")
    with project.transaction():
        by_hash = source_ids_by_hash(project)
        master_ids = set(by_hash.values())
        unknown_codes = sorted({r["code_id"] for r in rows} - set(code_tree(project)))
        if unknown_codes:
            raise QualkamError(
                f"{other_path} uses codes this project does not have: {', '.join(unknown_codes)}; "
                "load the same codebook here first (qualkam codebook migrate PATH, which keeps "
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
                segments[source] = segment_spans(project, source)
            _merge_one(project, row, source, segments[source], str(other_path), report, prefer)
        for memo in other.memos:
            if coder is None or memo["coder"] == coder:
                found, target_id = _memo_target(project, memo, other.segments, other.hashes, by_hash)
                if found:
                    report.memos += copy_memo(
                        project, memo["target_type"], target_id, memo["coder"], memo["text"], memo["created_at"]
                    )
        record_audit(
            project,
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
                "unplaced": len(report.unplaced),
            },
        )
    return report


def _merge_one(
    project: Project,
    row: dict[str, Any],
    source: str,
    segments: list[tuple[int, int, int]],
    via: str,
    report: MergeReport,
    prefer: str | None = None,
) -> None:
    """One coding of the other project, on its exact span of ``source`` (``segments``: this
    project's segments of it, (id, start, end) in order)."""
    span = (row["start"], row["end"])
    found = span_segments(project, source, *span)
    if found is None or not found[1] or not 0 <= span[0] < span[1] <= found[0]:
        report.unplaced.append(
            f"{row['coder']}'s coding of {row['code_id']} at {span[0]}-{span[1]} of source {source!r} "
            "holds no segment's text in this project (it was segmented otherwise); not merged"
        )
        return
    anchor = found[1][0]
    existing = person_status(project, anchor, row["code_id"], row["coder"], span)
    if existing is not None:
        if existing == row["status"]:
            report.unchanged += 1
            return
        whole = any((start, end) == span for seg_id, start, end in segments if seg_id == anchor)
        where = f"segment {anchor}" if whole else f"segment {anchor} (span {span[0]}-{span[1]})"
        what = f"{row['coder']} on {where}, code {row['code_id']}: {existing} here, {row['status']} in {Path(via).name}"
        if prefer is None:
            report.conflicts.append(f"{what}; kept as it is here (settle with --prefer mine or --prefer theirs)")
            return
        report.settled.append(
            f"{what}; {'kept' if prefer == 'mine' else 'took'} {existing if prefer == 'mine' else row['status']} "
            f"(--prefer {prefer})"
        )
        if prefer == "theirs":
            _take(project, row, source, False, f"merge {via} --prefer theirs")
        return
    outcome = _take(project, row, source, row["origin"] == "human", f"merge {via}")
    if row["origin"] != "human":  # keep the origin the coder's project recorded
        set_origin(project, outcome.coding_id, row["origin"])
    report.new += 1


def _take(project: Project, row: Any, source: str, by_hand: bool, via: str) -> Outcome:
    """Apply a coder's row to this project as that coder: its exact span, status, memo and time."""
    return apply_span(
        project,
        row["coder"],
        source,
        row["start"],
        row["end"],
        row["code_id"],
        row["status"],
        memo=row["memo"],
        at=row["updated_at"],
        via=via,
        by_hand=by_hand,
    )


def _memo_target(
    project: Project,
    memo: dict[str, Any],
    other_segments: dict[int, dict[str, Any]],
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
        if seg is None or source is None:
            return False, None
        hits = segments_for_span(seg["start"], seg["end"], segment_spans(project, source))
        return bool(hits), str(hits[0][0]) if hits else None
    return True, target
