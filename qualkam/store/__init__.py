"""The project store: all of qualkam's SQL lives in this package.

- ``project``: ``Project`` (open, migrate, revision, close) and ``transaction()``, which nests
  (the outermost is ``BEGIN IMMEDIATE``, an inner one a savepoint), so each write exists once.
- ``schema``: the named migrations.
- ``sources``: sources, their segments and machine suggestions, the files they came from.
- ``codebooks``: codebook versions, the current codes and phases, codes moved by a migration.
- ``people``: a person's decision on a segment and code; copies for one coder, merges.
- ``memos``, ``audit``: memos and the audit trail, written and read back.
- ``names``: the names a project knows (for "did you mean"); ``reads``: coders and the code
  tree; ``layers``: the one meaning of a layer of codings.
- one module of reads per area: ``codings`` and ``analysis`` (matrices, excerpts, reliability),
  ``segments`` (the notebook API), ``training`` and ``models`` (learnt suggestions), ``review``
  and ``run``, ``refi`` and ``imports`` (interchange).
"""
