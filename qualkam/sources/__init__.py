"""Reading sources: files on disk as researchers have them -> normalised text, turns, metadata.

- ``textio``: bytes -> text (BOM, UTF-8, Windows-1252), NFC and line endings;
- ``formats`` (txt, md, docx, pdf, vtt, srt) and ``structured`` (JSON, spreadsheets): one reader per format;
- ``turns``: speaker turns in plain text; ``metadata``: front matter and sidecars;
- ``ignore``: which files are not sources; ``ingest``: the walk, one report per unusable file.
"""
