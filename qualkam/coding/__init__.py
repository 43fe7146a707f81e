"""Coding: a codebook, segments and suggestions, and people's decisions on them.

- ``codebook``: the YAML codebook, validated whole; ``segment``: turns -> segments;
- ``nlp`` and ``suggest``: the spaCy pipeline and the rule suggestions with their evidence;
- ``learn``: suggestions learnt from people's codings; ``metrics``, ``evaluate``, ``lint``: how good they are;
- ``run``: ``qualkam code`` as a ``CodingRun``;
- ``decisions``, ``review``, ``reconcile``, ``migrate``, ``blind``: what people do with codings.
"""
