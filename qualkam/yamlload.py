"""YAML loading shared by codebooks and metadata: safe, dates kept as text, errors with lines."""

from __future__ import annotations

import yaml


from typing import Any

class TextDateLoader(yaml.SafeLoader):
    """SafeLoader that leaves dates as text, so a bad date gets our clear message, not a crash."""


# libyaml's parser (7x faster on the codebook), when PyYAML was built with it.
_CSafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class FastTextDateLoader(_CSafeLoader):  # type: ignore[misc,valid-type]
    """TextDateLoader on libyaml's parser."""


TextDateLoader.yaml_implicit_resolvers = FastTextDateLoader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load(text: str, fast: type = FastTextDateLoader, slow: type = TextDateLoader) -> Any:
    """Parse with the fast loader; on an error parse again with the pure-Python one, whose
    messages and marks are the ones our errors quote (and tests pin)."""
    try:
        return yaml.load(text, Loader=fast)  # noqa: S506 - SafeLoader subclasses
    except yaml.YAMLError:
        return yaml.load(text, Loader=slow)  # noqa: S506


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
