"""The framework matrix as one self-contained HTML page (issue 16, point 4): each case x theme
cell with its summary, its excerpt references and their quotes. Jinja2 escapes every value."""

from __future__ import annotations

import jinja2

from qualkam.analysis.framework import Framework

_TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Framework {{ fw.name }}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #222; }
table { border-collapse: collapse; }
th, td { border: 1px solid #bbb; padding: .4rem; vertical-align: top; text-align: left; max-width: 28rem; }
th { background: #f3f3f3; }
.summary { white-space: pre-wrap; margin: 0 0 .4rem; }
.empty { color: #888; font-style: italic; }
.refs { font-size: .85em; color: #444; }
blockquote { margin: .2rem 0 .2rem .6rem; padding-left: .5rem; border-left: 3px solid #ccc; font-size: .85em; }
</style></head>
<body>
<h1>Framework matrix: {{ fw.name }}</h1>
<p>{{ fw.cases|length }} {{ fw.case_kind }}(s) x {{ fw.themes|length }} theme(s) ({{ fw.themes_by }}),
excerpts from the {{ fw.layer }} layer.</p>
<table>
<thead><tr><th>{{ fw.case_kind }}</th>{% for theme in fw.themes %}<th>{{ theme }}</th>{% endfor %}</tr></thead>
<tbody>
{% for key, name in fw.cases.items() %}<tr><th>{{ name }}</th>
{% for theme in fw.themes %}{% set refs = fw.references.get((key, theme), []) %}<td>
{% if fw.summary(key, theme) %}<p class="summary">{{ fw.summary(key, theme) }}</p>
{% elif refs %}<p class="empty">no summary yet</p>{% endif %}
{% if refs %}<div class="refs">{{ fw.reference_text(key, theme) }}</div>
{% for ref in refs[:quotes] %}<blockquote>{{ ref.text }}
<span class="refs">({{ ref.source }} #{{ ref.segment }})</span></blockquote>{% endfor %}
{% if refs|length > quotes %}<div class="refs">and {{ refs|length - quotes }} more</div>{% endif %}
{% endif %}</td>{% endfor %}</tr>
{% endfor %}</tbody></table>
</body></html>
"""


def framework_html(framework: Framework, quotes: int = 3) -> str:
    """The page: every cell's summary, references and up to ``quotes`` quotations."""
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    return env.from_string(_TEMPLATE).render(fw=framework, quotes=quotes)
