"""Changing the codebook without losing codings: rename, merge and split codes.

``qualkam codebook migrate NEW.yaml`` loads a new codebook version and moves people's
codings along the mappings given, all in one transaction with an audit line per coding:

- rename ``old=new``: every coding of ``old`` becomes ``new``;
- merge ``a,b=c``: codings of ``a`` and ``b`` become ``c``; where one coder had both on a
  segment they collapse into one, accepted winning over rejected (the person said the
  merged concept applies);
- split ``old=n1,n2``: a machine cannot know which half a coding meant, so the codings stay
  on ``old`` (kept as a retired code) and are listed for re-coding with
  ``qualkam review --code old --status accepted``.

A code that people's codings use, that the new codebook drops and that no mapping covers,
stops the migration with a list of such codes: nothing is lost silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from qualkam.coding.codebook import Codebook
from qualkam.errors import QualkamError
from qualkam.store.project import Project, record_audit, save_codebook


@dataclass
class Migration:
    """The mappings of one migration, parsed from ``old=new`` style arguments."""

    renames: dict[str, str] = field(default_factory=dict)
    splits: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def parse(cls, renames: list[str], merges: list[str], splits: list[str]) -> Migration:
        migration = cls()
        for text in renames:
            old, sep, new = text.partition("=")
            if not sep or not old.strip() or not new.strip() or "," in old + new:
                raise QualkamError(f"--rename {text!r}: write OLD=NEW")
            migration.renames[old.strip()] = new.strip()
        for text in merges:
            olds, sep, new = text.partition("=")
            parts = [o.strip() for o in olds.split(",") if o.strip()]
            if not sep or len(parts) < 2 or not new.strip() or "," in new:
                raise QualkamError(f"--merge {text!r}: write A,B=C (two or more codes into one)")
            for old in parts:
                migration.renames[old] = new.strip()
        for text in splits:
            old, sep, news = text.partition("=")
            parts = [n.strip() for n in news.split(",") if n.strip()]
            if not sep or not old.strip() or len(parts) < 2:
                raise QualkamError(f"--split {text!r}: write OLD=NEW1,NEW2")
            migration.splits[old.strip()] = parts
        return migration


@dataclass
class MigrationReport:
    codebook_id: int
    moved: int = 0
    collapsed: int = 0
    to_recode: dict[str, int] = field(default_factory=dict)


def migrate_codebook(project: Project, codebook: Codebook, migration: Migration, actor: str) -> MigrationReport:
    """Apply the mappings and make ``codebook`` current, in one transaction."""
    with project.transaction() as conn:
        known = {r[0] for r in conn.execute("SELECT id FROM codes")}
        problems = []
        for old, new in migration.renames.items():
            if old not in known:
                problems.append(f"{old!r} is not a code of this project")
            if new not in codebook.codes:
                problems.append(f"{new!r} is not in the new codebook {codebook.path}")
        for old, news in migration.splits.items():
            if old not in known:
                problems.append(f"{old!r} is not a code of this project")
            problems += [f"{n!r} is not in the new codebook {codebook.path}" for n in news if n not in codebook.codes]
        used = {
            r[0]: r[1]
            for r in conn.execute("SELECT code_id, COUNT(*) FROM codings WHERE coder IS NOT NULL GROUP BY code_id")
        }
        orphans = sorted(
            c for c in used if c not in codebook.codes and c not in migration.renames and c not in migration.splits
        )
        problems += [
            f"{c!r} has {used[c]} coding(s) by people but is not in the new codebook; "
            f"map it with --rename {c}=NEW, --merge {c},OTHER=NEW or --split {c}=NEW1,NEW2"
            for c in orphans
        ]
        if problems:
            raise QualkamError("the codebook was not migrated:\n" + "\n".join(problems))
        report = MigrationReport(codebook_id=save_codebook(conn, codebook, actor))
        for old, new in migration.renames.items():
            rows = conn.execute(
                "SELECT id, segment_id, coder, status FROM codings WHERE code_id = ?", (old,)
            ).fetchall()
            for row in rows:
                clash = None
                if row["coder"] is not None:
                    clash = conn.execute(
                        "SELECT id, status FROM codings WHERE segment_id = ? AND code_id = ? AND coder = ?",
                        (row["segment_id"], new, row["coder"]),
                    ).fetchone()
                if clash is not None:
                    status = "accepted" if "accepted" in (row["status"], clash["status"]) else "rejected"
                    conn.execute("UPDATE codings SET status = ? WHERE id = ?", (status, clash["id"]))
                    conn.execute("DELETE FROM codings WHERE id = ?", (row["id"],))
                    record_audit(
                        conn,
                        actor,
                        "merge",
                        "coding",
                        str(row["id"]),
                        {"code": old, "status": row["status"]},
                        {"into": clash["id"], "code": new, "status": status},
                        "codebook migrate",
                    )
                    report.collapsed += 1
                else:
                    conn.execute("UPDATE codings SET code_id = ? WHERE id = ?", (new, row["id"]))
                    if row["coder"] is not None:
                        record_audit(
                            conn,
                            actor,
                            "rename",
                            "coding",
                            str(row["id"]),
                            {"code": old},
                            {"code": new},
                            "codebook migrate",
                        )
                    report.moved += 1
        for old in migration.splits:
            report.to_recode[old] = int(
                conn.execute("SELECT COUNT(*) FROM codings WHERE code_id = ? AND coder IS NOT NULL", (old,)).fetchone()[
                    0
                ]
            )
        record_audit(
            conn,
            actor,
            "migrate",
            "codebook",
            str(report.codebook_id),
            None,
            {
                "renames": migration.renames,
                "splits": migration.splits,
                "moved": report.moved,
                "collapsed": report.collapsed,
                "to_recode": report.to_recode,
            },
        )
    return report
