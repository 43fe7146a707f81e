"""REFI-QDA exchange (issue 5): .qdpx projects and .qdc codebooks, both ways.

- ``positions``: character positions as other tools count them (UTF-16 code units) and as
  qualkam stores them (code points in the normalised text);
- ``guids``: stable GUIDs, remembered per object so a round trip keeps them;
- ``export`` / ``importing``: the files themselves.
"""
