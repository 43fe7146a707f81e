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
from qualkam.store.audit import record_audit
from qualkam.store.codebooks import move_codings, people_codings_by_code, save_codebook
from qualkam.store.project import Project
from qualkam.store.reads import code_tree


@dataclass
class Migration:
    """The mappings of one migration, parsed from ``old=new`` style arguments."""

    renames: dict[str, str] = field(default_factory=dict)
    splits: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def parse(cls, rename: list[str], merge: list[str], split: list[str]) -> Migration:
        """Each ``rename`` is OLD=NEW, each ``merge`` A,B=C, each ``split`` OLD=NEW1,NEW2; a
        malformed one is an error naming its argument."""
        migration = cls()
        for text in rename:
            old, sep, new = text.partition("=")
            if not sep or not old.strip() or not new.strip() or "," in old + new:
                raise QualkamError(f"{{argument}} {text!r}: write OLD=NEW", argument="rename")
            migration.renames[old.strip()] = new.strip()
        for text in merge:
            olds, sep, new = text.partition("=")
            parts = [o.strip() for o in olds.split(",") if o.strip()]
            if not sep or len(parts) < 2 or not new.strip() or "," in new:
                raise QualkamError(f"{{argument}} {text!r}: write A,B=C (two or more codes into one)", argument="merge")
            for old in parts:
                migration.renames[old] = new.strip()
        for text in split:
            old, sep, news = text.partition("=")
            parts = [n.strip() for n in news.split(",") if n.strip()]
            if not sep or not old.strip() or len(parts) < 2:
                raise QualkamError(f"{{argument}} {text!r}: write OLD=NEW1,NEW2", argument="split")
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
    with project.transaction():
        known = set(code_tree(project))
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
        used = people_codings_by_code(project)
        orphans = sorted(
            c for c in used if c not in codebook.codes and c not in migration.renames and c not in migration.splits
        )
        problems += [
            f"{c!r} has {used[c]} coding(s) by people but is not in the new codebook; "
            f"map it with a rename ({c}=NEW), a merge ({c},OTHER=NEW) or a split ({c}=NEW1,NEW2)"
            for c in orphans
        ]
        if problems:
            raise QualkamError("the codebook was not migrated:\n" + "\n".join(problems))
        report = MigrationReport(codebook_id=save_codebook(project, codebook, actor))
        for old, new in migration.renames.items():
            moved = move_codings(project, old, new, actor)
            report.moved += moved.moved
            report.collapsed += moved.collapsed
        after = people_codings_by_code(project) if migration.splits else {}
        for old in migration.splits:
            report.to_recode[old] = after.get(old, 0)
        record_audit(
            project,
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
