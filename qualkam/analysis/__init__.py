"""Analysis: what the codings say, as DataFrames.

``matrix`` (attribute x code), ``triangulation``, ``excerpts`` (coded passages), ``search``,
``disagreements`` (where coders differ) and ``trail`` (audit trail and memos).
"""
