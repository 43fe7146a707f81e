"""Retrieval of coded excerpts: which passages carry a code, filtered the way a paper needs.

``retrieve`` returns one row per passage x code: a passage that two people coded, or that
the rules suggested and a person accepted, is one excerpt, with the people who applied the
code in ``coders`` (``by_coder=True`` gives one row per coding instead, each with its
``coder``). A passage is a coding's exact span: a whole segment, part of one, or a stretch
across several; codings of one code on the same span merge, different spans stay apart.
The renderers turn those rows into CSV, JSON, Markdown or one self-contained HTML file,
grouped under each code with its label and definition, each excerpt a quotation with its
attribution (and its time in the recording) and the evidence words marked.

What the columns of a merged row mean (issue 11; docs/excerpts.md says it for users):

- ``coders``: the people who applied the code to the segment (accepted it), in name order,
  joined by ``"; "`` ("" when only the machine suggested it); a list in JSON.
- ``rejected_by``: the people who rejected it, likewise. Empty in the default ``auto``
  layer, which leaves rejected codings out; filled with ``--from all``, ``--status``,
  ``--coder`` and in ``qualkam-out/excerpts.csv``, which lists every coding.
- ``status``: ``accepted`` when someone applied it, else ``rejected`` when someone
  rejected it, else ``suggested``.
- ``origin``: where the merged codings came from, ``rule``, ``model`` or ``human``
  (added by hand), several joined by ``"; "`` in that order.
- ``score``: the machine's score for the code on the segment (the highest); empty when
  the machine never suggested it.
- ``evidence``: the suggestion's evidence, each item once.
- ``text``, ``start``, ``end``: the span itself (its words and its offsets in the source,
  in code points); ``segment`` is its anchor, the first segment it overlaps, and ``speaker``,
  ``role``, ``unit``, ``time_start`` are the anchor's (``time_end`` the last covered one's).
- ``context`` (frame and JSON, not CSV): the source's text from the start of the first segment
  the span covers to the end of the last one, the span included; ``context_start`` is its
  offset, so the span is ``context[start - context_start : end - context_start]``. For a
  whole-segment coding the context is the span. Markdown, HTML and the terminal table show
  the context of a span that is not its whole context, with the span marked in it.

Filters: each option may be given several times; values of one option are alternatives
(OR), different options must all hold (AND). A code filter takes the code's descendants
too, so a dimension pulls in both of its poles.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import pandas as pd

from qualkam.choices import check_all, unknown
from qualkam.errors import QualkamError
from qualkam.render.cells import frame_csv
from qualkam.render.files import json_text
from qualkam.render.number import plain
from qualkam.store.analysis import phases as declared_phases
from qualkam.store.codings import excerpt_codings, known_layer
from qualkam.store.layers import Layer
from qualkam.store.names import known_names
from qualkam.store.project import Project
from qualkam.store.reads import code_tree, descendants
from qualkam.store.reads import coders as project_coders

STATUSES = ("suggested", "accepted", "rejected")
FORMATS = ("table", "csv", "md", "html", "json")
ALL_LAYER = "all"  # every coding: suggestions, accepted and rejected decisions (qualkam.store.layers)

# The columns of excerpts in CSV (``qualkam excerpts`` and ``qualkam-out/excerpts.csv``): one
# row per segment x code, with who applied and who rejected it (see the module docstring) ...
EXCERPT_COLUMNS = [
    "source",
    "segment",
    "speaker",
    "role",
    "unit",
    "source_type",
    "phase",
    "date",
    "time_start",
    "time_end",
    "start",
    "end",
    "code",
    "code_label",
    "coders",
    "rejected_by",
    "origin",
    "status",
    "score",
    "evidence",
    "text",
]
# ... or, with --by-coder, one row per coding with its coder (empty for a machine suggestion).
BY_CODER_COLUMNS = [c for c in EXCERPT_COLUMNS if c != "rejected_by"]
BY_CODER_COLUMNS[BY_CODER_COLUMNS.index("coders")] = "coder"
ORIGINS = ("rule", "model", "human")
JOIN = "; "


def evidence_item_text(e: dict) -> str:
    """One piece of evidence for a CSV cell: the words, the rule and where they are in the
    source; a model suggestion's evidence is a similar segment elsewhere, so it has no offsets."""
    if "start" in e:
        return f"{e['text']} [{e['rule']}] @{e['start']}-{e['end']}"
    return (
        f"{e.get('text', '')} [{e.get('rule')}: segment {e.get('segment')} of {e.get('source')}, "
        f"similarity {e.get('similarity')}]"
    )


# -- resolving filters ----------------------------------------------------------------------
def resolve_codes(project: Project, specs: Sequence[str], argument: str = "codes") -> list[str]:
    """Code ids picked by ``codes`` values: ``ID`` (with its descendants) or ``attr:KEY=VALUE``."""
    codes = code_tree(project)
    picked: list[str] = []
    for spec in specs:
        spec = spec.strip()
        if spec.startswith("attr:"):
            key, sep, value = spec[5:].partition("=")
            key, value = key.strip(), value.strip()
            if not sep or not key or not value:
                raise QualkamError(
                    f"{{argument}} {spec!r}: write a code attribute as attr:KEY=VALUE, e.g. attr:pole=formal",
                    argument=argument,
                )
            keys = sorted({k for info in codes.values() for k in info.attributes})
            if key not in keys:
                raise unknown("code attribute", key, keys, argument)
            values = sorted({str(info.attributes[key]) for info in codes.values() if key in info.attributes})
            if value not in values:
                raise unknown(f"value of the code attribute {key!r}", value, values, argument)
            having = [i for i, info in codes.items() if str(info.attributes.get(key)) == value]
            picked.extend(descendants(codes, having))
        elif spec in codes:
            picked.extend(descendants(codes, [spec]))
        else:
            raise unknown("code", spec, list(codes), argument)
    return list(dict.fromkeys(picked))


def _match_values(
    kind: str, argument: str, given: Sequence[str], existing: Sequence[str], aliases: dict[str, str] | None = None
) -> list[str]:
    """Map each given value to the stored ones, ignoring case (every spelling: a speaker is
    ``Martin Greaves`` in one transcript and ``MARTIN GREAVES`` in another); unknown values are
    an error."""
    lookup: dict[str, list[str]] = {}
    for v in existing:
        lookup.setdefault(str(v).casefold(), []).append(str(v))
    for alias, value in (aliases or {}).items():
        lookup.setdefault(alias.casefold(), [value])
    out = []
    for value in given:
        hit = lookup.get(value.strip().casefold())
        if hit is None:
            raise unknown(kind, value, list(existing), argument)
        out.extend(hit)
    return list(dict.fromkeys(out))


def resolve_phases(project: Project, given: Sequence[str], argument: str = "phases") -> list[str]:
    """Phase ids for ``phases`` values (an id or a label, any case)."""
    labels = {phase.label: phase.id for phase in declared_phases(project)}
    return _match_values("phase", argument, given, known_names(project, "phase"), labels)


def resolve_source_types(project: Project, given: Sequence[str], argument: str = "source_types") -> list[str]:
    return _match_values("source type", argument, given, known_names(project, "source type"))


# -- retrieval ------------------------------------------------------------------------------
_EXTRA_COLUMNS = ["phase_label", "title", "code_definition", "code_color", "context", "context_start"]
FRAME_COLUMNS = ["coding_id", *BY_CODER_COLUMNS, *_EXTRA_COLUMNS]
MERGED_COLUMNS = ["coding_ids", *EXCERPT_COLUMNS, *_EXTRA_COLUMNS]


def retrieve(
    project: Project,
    *,
    codes: Sequence[str] = (),
    phases: Sequence[str] = (),
    source_types: Sequence[str] = (),
    roles: Sequence[str] = (),
    speakers: Sequence[str] = (),
    coders: Sequence[str] = (),
    statuses: Sequence[str] = (),
    layer: str | Layer | None = None,
    by_coder: bool = False,
    sources: Sequence[str] = (),
    per_code: int | None = None,
    cases: Sequence[str] = (),
) -> pd.DataFrame:
    """The coded excerpts that pass every filter, one row per span x code, grouped by code.

    The codings that pass are merged per exact span and code (columns ``coders``,
    ``rejected_by``, ``status``, ``origin``, ``score``, ``evidence`` as the module docstring
    says); ``by_coder=True`` keeps one row per coding with its ``coder``. Each row has the
    segment's ``time_start`` / ``time_end`` in the recording (None when untimed), and the span
    in its ``context`` (the segments it covers).

    ``layer`` defaults to ``auto`` (what the project holds as coded) unless ``coders`` or
    ``statuses`` are given, which ask about decisions themselves and so default to ``all``.
    In ``auto`` a suggestion a person has accepted is shown once, as that person's coding.
    A person's coding made from a suggestion carries the suggestion's evidence and score, so
    its words can still be marked. ``evidence`` is a list of dicts with source offsets.
    ``per_code`` keeps each code's first ``per_code`` excerpts only (a report's budget).
    ``cases`` (``site=Leeds``, ``qualkam.analysis.cases``) keeps the speakers of those cases.
    """
    if cases:
        from qualkam.analysis.cases import speakers_with_cases

        speakers = speakers_with_cases(project, speakers, cases)
    if layer is None:
        layer = ALL_LAYER if (coders or statuses) else "auto"
    parsed = known_layer(project, layer)
    filters: dict[str, list[str]] = {}
    if codes:
        filters["codes"] = resolve_codes(project, codes)
    if phases:
        filters["phases"] = resolve_phases(project, phases)
    if source_types:
        filters["source_types"] = resolve_source_types(project, source_types)
    if roles:
        filters["roles"] = _match_values("role", "roles", roles, known_names(project, "role"))
    if sources:
        filters["sources"] = _match_values("source", "sources", sources, known_names(project, "source"))
    if speakers:
        filters["speakers"] = _match_values("speaker", "speakers", speakers, known_names(project, "speaker"))
    if coders:
        try:
            filters["coders"] = _match_values("coder", "coders", coders, project_coders(project))
        except QualkamError as exc:
            raise QualkamError(
                f"{exc.args[0]}; machine suggestions have no coder: ask for the status 'suggested'",
                argument=exc.argument,
            ) from None
    if statuses:
        filters["statuses"] = check_all("status", statuses, STATUSES, "statuses")
    frame = excerpt_codings(project, parsed, **filters, per_code=per_code)
    frame["evidence"] = frame["evidence"].map(lambda raw: json.loads(raw or "[]"))
    frame["segment"] = frame["segment"].astype("Int64")
    frame["context_start"] = frame["context_start"].astype("int64")
    frame = frame[FRAME_COLUMNS]
    return frame if by_coder else merge_codings(frame)


def _joined(names: Iterable[Any]) -> str:
    return JOIN.join(sorted({str(n) for n in names if present(n)}))


def merge_codings(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per span x code from rows of single codings, in the order of their first row
    (what the merged columns mean: see the module docstring)."""
    groups: dict[tuple[Any, Any], list[dict[str, Any]]] = {}
    for row in frame.to_dict("records"):
        # A detached coding (its words left the source: no segment) stays a row of its own.
        where = (
            (row["source"], int(row["start"]), int(row["end"]))
            if present(row["segment"])
            else ("detached", row["coding_id"])
        )
        groups.setdefault((where, row["code"]), []).append(row)
    merged = []
    for rows in groups.values():
        first = dict(rows[0])
        coders = _joined(r["coder"] for r in rows if r["status"] == "accepted")
        rejected = _joined(r["coder"] for r in rows if r["status"] == "rejected")
        scores = [float(r["score"]) for r in rows if present(r["score"])]
        evidence, seen = [], set()
        for r in rows:
            for item in r["evidence"]:
                key = json.dumps(item, sort_keys=True, default=str)
                if key not in seen:
                    seen.add(key)
                    evidence.append(item)
        first.update(
            coding_ids=[int(r["coding_id"]) for r in rows],
            coders=coders,
            rejected_by=rejected,
            status="accepted" if coders else "rejected" if rejected else "suggested",
            origin=JOIN.join(o for o in ORIGINS if any(r["origin"] == o for r in rows)),
            score=max(scores) if scores else None,
            evidence=evidence,
        )
        merged.append(first)
    out = pd.DataFrame(merged, columns=MERGED_COLUMNS)
    out["segment"] = out["segment"].astype("Int64")
    out["score"] = pd.to_numeric(out["score"], errors="coerce").astype("float64")
    return out


def describe_filters(**given: Any) -> str:
    """The filters of a query in one phrase, for 'no excerpts match ...' and titles."""
    parts = []
    for name, values in given.items():
        if values:
            values = [values] if isinstance(values, str) else list(values)
            parts.append(f"{name.replace('_', ' ')} {' or '.join(map(str, values))}")
    return ", ".join(parts)


# -- serialising ----------------------------------------------------------------------------
def evidence_text(evidence: list[dict[str, Any]]) -> str:
    """Evidence as in ``excerpts.csv``: ``words [rule] @start-end; ...``."""
    return "; ".join(evidence_item_text(e) for e in evidence)


def is_merged(frame: pd.DataFrame) -> bool:
    """Rows per segment x code (with ``coders``), not per coding (with ``coder``)."""
    return "coders" in frame.columns


def csv_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The columns of ``qualkam-out/excerpts.csv``, so both files read alike."""
    columns = EXCERPT_COLUMNS if is_merged(frame) else BY_CODER_COLUMNS
    return frame.assign(evidence=frame["evidence"].map(evidence_text))[columns]


def records_of(frame: pd.DataFrame, keep_lists: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Rows as plain dicts for JSON: NaN and NA become null, numpy scalars plain numbers."""
    return [{k: (v if k in keep_lists else plain(v)) for k, v in row.items()} for row in frame.to_dict("records")]


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Excerpts for JSON: the csv columns plus the phase label, the span's ``context`` and
    ``context_start``, evidence as objects, and ``coders`` / ``rejected_by`` as lists of names."""
    columns = EXCERPT_COLUMNS if is_merged(frame) else BY_CODER_COLUMNS
    keep = [*columns[: columns.index("phase") + 1], "phase_label", *columns[columns.index("phase") + 1 :]]
    keep += ["context", "context_start"]
    if not is_merged(frame):
        return records_of(frame[keep], keep_lists=("evidence",))
    names = {k: frame[k].map(lambda v: v.split(JOIN) if present(v) else []) for k in ("coders", "rejected_by")}
    return records_of(frame[keep].assign(**names), keep_lists=("evidence", "coders", "rejected_by"))


def to_json(frame: pd.DataFrame) -> str:
    return json_text(records(frame), indent=2)


def mark_spans(text: str, start: int, evidence: Iterable[dict[str, Any]]) -> list[tuple[int, int]]:
    """Evidence offsets (in the source) as merged spans within ``text`` that begins at ``start``.

    A span whose words are not where the offsets say (the source moved) is left unmarked
    rather than marking the wrong words.
    """
    spans = []
    for item in evidence:
        if "start" not in item:  # a model suggestion's similar segment lies elsewhere
            continue
        a, b = int(item["start"]) - start, int(item["end"]) - start
        if 0 <= a < b <= len(text) and text[a:b] == item.get("text", text[a:b]):
            spans.append((a, b))
    return merge_spans(spans)


def merge_spans(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Overlapping or touching spans joined, in order, so each word is marked once."""
    merged: list[tuple[int, int]] = []
    for a, b in sorted(spans):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
        else:
            merged.append((a, b))
    return merged


def marked(text: str, spans: Sequence[tuple[int, int]], escape: Callable[[str], str], before: str, after: str) -> str:
    """``text`` escaped piece by piece with ``before`` / ``after`` around each span."""
    pieces, at = [], 0
    for a, b in spans:
        pieces += [escape(text[at:a]), before, escape(text[a:b]), after]
        at = b
    pieces.append(escape(text[at:]))
    return "".join(pieces)


def span_in_context(row: dict[str, Any]) -> tuple[str, list[tuple[int, int]]] | None:
    """The context of an excerpt whose span is only part of it, with the span as marked
    pieces (one per line, their edge spaces left out, so a mark never wraps a line break);
    None when the span is its whole context (a whole-segment coding) or there is none."""
    context = row.get("context")
    if not isinstance(context, str) or not context or not present(row.get("context_start")):
        return None
    a, b = int(row["start"]) - int(row["context_start"]), int(row["end"]) - int(row["context_start"])
    if not 0 <= a < b <= len(context) or (a == 0 and b == len(context)):
        return None
    pieces = []
    for match in re.finditer(r"[^\n]+", context[a:b]):
        line = match.group()
        first = a + match.start() + len(line) - len(line.lstrip())
        last = a + match.end() - (len(line) - len(line.rstrip()))
        if first < last:
            pieces.append((first, last))
    return context, pieces


def present(value: Any) -> bool:
    """A value worth showing: not None, NaN or empty."""
    return plain(value) not in (None, "")


def recording_time(row: dict[str, Any]) -> str:
    """Where the segment is in the recording: ``00:01:02–00:01:40``, the start alone, or ''."""
    start, end = (str(row[k]) if present(row.get(k)) else "" for k in ("time_start", "time_end"))
    return f"{start}–{end}" if start and end else start or (f"until {end}" if end else "")


def attribution(row: dict[str, Any]) -> list[str]:
    """Who said it, where and when: speaker, role, source type and id, phase, date, time in the recording."""
    who = ", ".join(str(row[k]) for k in ("speaker", "role") if present(row.get(k)))
    where = " ".join(str(row[k]) for k in ("source_type", "source") if present(row.get(k)))
    parts = [who, where] + [str(row[k]) for k in ("phase_label", "date") if present(row.get(k))]
    return [p for p in parts + [recording_time(row)] if p]


def _machine(row: dict[str, Any]) -> str:
    origins = str(row.get("origin") or "")
    return "suggested by the models" if "model" in origins and "rule" not in origins else "suggested by the rules"


def coding_note(row: dict[str, Any]) -> str:
    """Whose coding this is: the people who applied (or rejected) it, or the machine's suggestion."""
    if "coders" in row:  # a merged row
        parts = [
            f"{verb} by {', '.join(str(row[key]).split(JOIN))}"
            for verb, key in (("accepted", "coders"), ("rejected", "rejected_by"))
            if present(row.get(key))
        ]
        return "; ".join(parts) or _machine(row)
    if present(row.get("coder")):
        return f"{row['status']} by {row['coder']}"
    return _machine(row)


def _groups(frame: pd.DataFrame) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """(code head, excerpts) in the frame's order, which is codebook order."""
    groups: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = {}
    for row in frame.to_dict("records"):
        head = groups.setdefault(
            row["code"],
            (
                {
                    "code": row["code"],
                    "label": row["code_label"],
                    "definition": plain(row.get("code_definition")),
                    "color": plain(row.get("code_color")),
                },
                [],
            ),
        )
        head[1].append(row)
    return list(groups.values())


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#|])")


def md_escape(text: str) -> str:
    """Escape what Markdown would read as formatting or HTML, so a quotation stays verbatim."""
    return _MD_SPECIAL.sub(r"\\\1", text)


def _quote(text: str) -> str:
    return "\n".join(f"> {line}".rstrip() for line in text.strip("\n").split("\n"))


def to_markdown(frame: pd.DataFrame, title: str = "Coded excerpts", subtitle: str = "") -> str:
    """Excerpts under a heading per code (label, id, definition), each a quotation with its
    attribution, evidence words in bold, and a span that is part of a passage shown in it
    (the span in bold): ready to paste into a paper's draft."""
    lines = [f"# {md_escape(title)}", ""]
    if subtitle:
        lines += [f"_{md_escape(subtitle)}_", ""]
    for head, rows in _groups(frame):
        lines += [f"## {md_escape(head['label'])} (`{head['code']}`)", ""]
        if head["definition"]:
            lines += [f"*Definition:* {md_escape(' '.join(head['definition'].split()))}", ""]
        lines += [f"{len(rows)} excerpt{'s' if len(rows) != 1 else ''}", ""]
        for row in rows:
            text = row["text"]
            body = marked(text, mark_spans(text, int(row["start"]), row["evidence"]), md_escape, "**", "**")
            lines.append(_quote(body))
            lines.append(">")
            around = span_in_context(row)
            if around is not None:
                context = marked(around[0], around[1], md_escape, "**", "**")
                lines.append(_quote(f"*In context:* {context}"))
                lines.append(">")
            lines.append(f"> — {md_escape(' · '.join(attribution(row)))} ({md_escape(coding_note(row))})")
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def render(frame: pd.DataFrame, fmt: str, title: str = "Coded excerpts", subtitle: str = "") -> str:
    """Text of ``frame`` in a file format: csv, json, md or html."""
    if fmt == "csv":
        return frame_csv(csv_frame(frame))
    if fmt == "json":
        return to_json(frame)
    if fmt == "md":
        return to_markdown(frame, title, subtitle)
    if fmt == "html":
        from qualkam.render.html import excerpts_page  # the renderer reads this module's helpers

        return excerpts_page(frame, title, subtitle)
    raise QualkamError(f"unknown {{argument}} {fmt!r} for a file; use csv, json, md or html", argument="fmt")
