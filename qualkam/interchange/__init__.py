"""Interchange with other tools and people: REFI-QDA projects and codebooks both ways
(``refi``), coding sheets (``sheets``) and files of coded spans (``codings_import``)."""
