"""REFI-QDA exchange (issue 5): .qdpx projects and .qdc codebooks, both ways.

- ``model``: a REFI-QDA project as plain objects, shared by both directions;
- ``writer``: the model built from the store (``project_model``, ``codebook_model``) and
  serialised as XML inside the archive (``export_qdpx``, ``export_qdc``);
- ``reader``: a file parsed into the model (``parse_project``), then written to the store
  (``import_qdpx``, ``import_qdc``);
- ``positions``: character positions as other tools count them (UTF-16 code units) and as
  qualkam stores them (code points in the normalised text);
- ``guids``: GUIDs in canonical form; they are remembered per object (``qualkam.store.refi``)
  so a round trip keeps them;
- ``safezip``, ``segdata``: reading archives safely, qualkam's own segments inside one.
"""
