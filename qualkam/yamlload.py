"""YAML loading shared by codebooks and metadata: safe, dates kept as text, errors with lines,
and bounded (issue 11): a document is composed into its node graph first and checked before
anything is built from it, so a hostile file costs at most its own size:

- aliases may repeat data, but the document *as expanded* may hold at most ``MAX_NODES``
  values (a 376-byte "billion laughs" would otherwise expand to gigabytes when written out);
- an alias to a node that contains it (``&a [*a]``) is refused (recursive data);
- nesting deeper than ``MAX_DEPTH`` is refused (recursion in the builders);
- a lone surrogate (``"\\ud800"``, not a character) is refused: it cannot be written as UTF-8;
- a tag whose value cannot be built (``!!int abc``) is a YAML error, not a crash.

Each refusal is a ``yaml.YAMLError`` with the line, so every caller's error path reports it.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.constructor import ConstructorError

MAX_NODES = 200_000  # values in the expanded document (the KAM codebook has ~6,500)
MAX_DEPTH = 100  # nesting levels (a codebook nests a code in two: a list and a mapping)
_SURROGATE = re.compile("[\ud800-\udfff]")


class YAMLLimitError(yaml.MarkedYAMLError):
    """A document refused by the bounds above; ``problem_mark`` says where."""

    def __init__(self, problem: str, mark: Any = None) -> None:
        super().__init__(problem=problem, problem_mark=mark)


class _Checked:
    """Build values through the constructor, turning a value that cannot be built into a
    YAML error at its node (``!!int abc`` raised ValueError from inside PyYAML)."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)  # type: ignore[misc]
        except yaml.YAMLError:
            raise
        except (ValueError, TypeError, ArithmeticError, LookupError, AttributeError) as exc:
            raise ConstructorError(
                None,
                None,
                f"cannot read the {node.tag.rsplit(':', 1)[-1]} value {str(node.value)[:40]!r}: {exc}",
                node.start_mark,
            ) from exc


class TextDateLoader(_Checked, yaml.SafeLoader):
    """SafeLoader that leaves dates as text, so a bad date gets our clear message, not a crash."""


# libyaml's parser (7x faster on the codebook), when PyYAML was built with it.
_CSafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class FastTextDateLoader(_Checked, _CSafeLoader):  # type: ignore[misc,valid-type]
    """TextDateLoader on libyaml's parser."""


TextDateLoader.yaml_implicit_resolvers = FastTextDateLoader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def check_graph(root: yaml.Node | None, max_nodes: int = MAX_NODES, max_depth: int = MAX_DEPTH) -> None:
    """Refuse a composed document that expands too far, nests too deep, refers to itself or
    holds a lone surrogate. Iterative and memoised per node, so linear in the file's size."""
    if root is None:
        return
    sizes: dict[int, int] = {}  # node id -> values it expands to
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, int, bool]] = [(root, 1, False)]
    while stack:
        node, depth, done = stack.pop()
        key = id(node)
        if done:
            on_path.discard(key)
            size = 1 + sum(sizes[id(child)] for child in _children(node))
            if size > max_nodes:
                raise YAMLLimitError(
                    f"the document expands to more than {max_nodes:,} values "
                    "(aliases repeat data); remove the repeated aliases",
                    node.start_mark,
                )
            sizes[key] = size
            continue
        if key in on_path:
            raise YAMLLimitError(
                "an alias refers to a node that contains it (recursive data); write the value out instead",
                node.start_mark,
            )
        if key in sizes:
            continue
        if depth > max_depth:
            raise YAMLLimitError(f"nested more than {max_depth} levels deep", node.start_mark)
        if isinstance(node, yaml.ScalarNode):
            if _SURROGATE.search(node.value):
                raise YAMLLimitError(
                    "holds a lone surrogate escape (such as \\ud800), which is not a character; remove it",
                    node.start_mark,
                )
            sizes[key] = 1
            continue
        on_path.add(key)
        stack.append((node, depth, True))
        for child in _children(node):
            if id(child) in on_path:
                raise YAMLLimitError(
                    "an alias refers to a node that contains it (recursive data); write the value out instead",
                    child.start_mark,
                )
            if id(child) not in sizes:
                stack.append((child, depth + 1, False))


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _load(text: str, loader_class: type) -> Any:
    loader = loader_class(text)
    try:
        node = loader.get_single_node()
        check_graph(node)
        return None if node is None else loader.construct_document(node)
    finally:
        loader.dispose()


def load(text: str, fast: type = FastTextDateLoader, slow: type = TextDateLoader) -> Any:
    """Parse with the fast loader; on an error parse again with the pure-Python one, whose
    messages and marks are the ones our errors quote (and tests pin)."""
    try:
        return _load(text, fast)
    except YAMLLimitError:
        raise
    except yaml.YAMLError as first:
        try:
            return _load(text, slow)
        except RecursionError:  # the pure-Python composer recurses per level: keep libyaml's error
            raise first from None
    except RecursionError as exc:
        raise YAMLLimitError(f"nested more than {MAX_DEPTH} levels deep") from exc


def error_where(exc: yaml.YAMLError, first_line: int = 1) -> str:
    """``line N`` for a YAML error, with where an unclosed bracket or quote was opened."""
    problem = getattr(exc, "problem_mark", None)
    context = getattr(exc, "context_mark", None)
    if problem is None:
        return "line ?"
    where = f"line {problem.line + first_line}"
    if context is not None and context.line != problem.line:
        where += f" (opened on line {context.line + first_line})"
    return where


def error_problem(exc: yaml.YAMLError) -> str:
    return getattr(exc, "problem", None) or str(exc).splitlines()[0]
