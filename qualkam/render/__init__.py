"""Rendering: everything qualkam writes for people to read or open in another program.

- ``html``: pages through the Jinja2 templates in ``templates/`` (one base layout, one
  stylesheet, one table macro, autoescape on): the excerpts and disagreements pages.
- ``report``: the project report, one self-contained HTML file.
- ``plot``: heatmaps of matrices (PNG, SVG, PDF).
- ``files``: the one place that writes a file (atomically) and makes CSV, JSON and XLSX text.
- ``cells``: spreadsheet cells that never run as formulas.
- ``number``: the one "number or dash".
- ``outputs``: the outputs of ``qualkam code`` (excerpts and matrices as CSV).
"""
