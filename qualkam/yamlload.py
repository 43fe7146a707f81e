"""YAML loading shared by codebooks and metadata: safe, dates kept as text, errors with lines."""

from __future__ import annotations

import yaml


class TextDateLoader(yaml.SafeLoader):
    """SafeLoader that leaves dates as text, so a bad date gets our clear message, not a crash."""


TextDateLoader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


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
