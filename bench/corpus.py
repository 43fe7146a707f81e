"""A realistic benchmark corpus of transcripts, generated deterministically (issue 7).

Issue 7 asks how ``qualkam code`` behaves at archive scale (hundreds of files, a million
words). The sample transcripts hold some 14,000 words; this module makes as many words as
asked from them. It pools every speaker turn and paragraph of ``sample_transcripts/`` (read
with qualkam's own reader) and deals them out, shuffled, into new sources with invented
speakers, roles and units, dates from September 2010 to December 2013 (so every phase of the
``kam`` codebook gets sources, and some fall outside them), and it varies what an archive
varies:

- source types (interview, meeting, fieldnote, document, email) with their usual lengths;
- formats (.txt, .md, .docx, .vtt, .srt) and folders (``2012/interviews``, ``2011/meetings/steering``);
- metadata routes: YAML front matter, ``metadata.yaml`` and ``metadata.csv`` sidecars;
- speaker labels (``Name:``, ``NAME (Role):``, ``[hh:mm:ss] Name:``, ``**Name:**``, ``I:``/``R:``),
  WebVTT voice tags or ``Name:`` cue prefixes, SRT cues;
- encodings: UTF-8, UTF-8 with BOM, Windows-1252 with CRLF line ends.

The same ``(words, seed)`` gives the same files, byte for byte (Word files included): only
``random.Random(seed)`` is used, never the clock. ``words`` counts the words qualkam codes:
the text after the front matter without speaker labels and timestamps.

``python bench/corpus.py OUT_DIR --words 1000000 [--seed 7]``
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import math
import random
import re
import sys
import time
import unicodedata
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a clone without installing

from qualkam.coding.codebook import Codebook, load_codebook  # noqa: E402
from qualkam.coding.segment import resolve_turns  # noqa: E402
from qualkam.sources.ingest import PreparedSource, discover, prepare  # noqa: E402
from qualkam.sources.turns import match_label  # noqa: E402

SAMPLES = ROOT / "sample_transcripts"
FIRST_DAY, LAST_DAY = dt.date(2010, 9, 1), dt.date(2013, 12, 31)  # mostly inside the four phases, some before and after
FIXED_TIME = dt.datetime(2012, 1, 1, 9, 0, 0)  # Word core properties and zip entry times
# A diary entry's opening date, "*Wednesday 6 April 2011.* " or "Thursday 23 June 2011 (week 12). "
DIARY_DATE = re.compile(r"^\*?[A-Z][a-z]+day \d{1,2}(?: [A-Z][a-z]+)?(?: \d{4})?(?: \([^)]*\))?\.\*? +")
SMALL_FILE = 100  # a remainder below this many words goes into the file before it

FIRST_NAMES = """Sarah David Priya Gary Mark Jamie Hannah Dev Lisa Ollie Chloe Tom Martin Karen Steve
Aisha Ben Catherine Daniel Emma Fiona George Helen Ian Julia Kevin Laura Mohammed Nadia Owen Paula
Rachel Simon Tariq Uma Victor Wendy Yusuf Zoë Siobhán José Björn Renée Łucja Hiroshi Yuki Emi Shota
Kenji Aiko Niamh Rhys Ewan Marta Pieter Ines Amara Callum Leah Farid Grace""".split()
LAST_NAMES = """Collins Hale Nair Monk Ellery Foster Pryce Malhotra Baptiste Dunn Tanner Whitfield
Greaves Lowe Hollis Okafor Brennan Chadwick Doyle Evans Fletcher Gupta Harding Iqbal Jarvis Kaur
Lambert Morgan Novak Osei Patel Quinn Rowe Sharma Thornton Underwood Vaughan Walsh Yates O'Neil
Nakamura Ishida Kobayashi Ueda Müller Ó_Briain Fernández Lindqvist Nowak Byrne Carter Desai
Ashworth Bell Kowalski Mensah""".replace("_", " ").split()
ROLES = [  # (role, unit): the sample transcripts' roles, with the units of a UK sales subsidiary
    ("Key Account Manager", "KAM"),
    ("National Account Manager", "KAM"),
    ("Key Account Sales Manager", "KAM"),
    ("Sales Director", "Sales"),
    ("Sales Manager", "Field sales"),
    ("Field Sales Executive", "Field sales"),
    ("Branch Sales Manager", "non-KAM"),
    ("Marketing Director", "Marketing"),
    ("Marketing Manager", "Marketing"),
    ("Sports Marketing Executive", "Marketing"),
    ("Product Manager", "Product"),
    ("Supply Chain Manager", "Supply chain"),
    ("Finance Manager", "Finance"),
    ("Managing Director", "Board"),
    ("External Advisor", "KAM"),
]
ACCOUNTS = ["Sportsline", "Pro:Direct Active", "Allsport Warehouse", "Fieldhouse"]
SITES = [
    "Head office, Milton Keynes",
    "Manchester office",
    "Boardroom, head office",
    "Meeting room 2, head office",
    "Video conference",
    "North West field sales territory",
    "Osaka, Kansai regional sales branch",
]
TOPICS = [
    "account plan",
    "autumn depth",
    "summer colourway",
    "decision log",
    "quarter-end orders",
    "marketing contribution",
    "forecast change",
    "range review",
    "handover sheet",
    "promotion calendar",
]
ASIDES = ["Over coffee with", "In the corridor with", "Lunch with", "In the car with", "After the meeting, with"]
DOC_KINDS = ["proposal", "minutes", "account plan summary", "memo", "review"]
SECTIONS = [
    "Where we are",
    "What we propose",
    "Account reviews",
    "Matters arising",
    "Risks",
    "Next steps",
    "Roles and responsibilities",
    "Decisions",
    "Open questions",
]


@dataclass
class Kind:
    """A source type: how often it occurs, how long it runs, which formats hold it."""

    weight: int
    words: tuple[int, int]
    formats: dict[str, int]
    folder: str


KINDS = {
    "interview": Kind(25, (3000, 8000), {".txt": 40, ".md": 25, ".docx": 35}, "interviews"),
    "meeting": Kind(20, (2000, 6000), {".vtt": 35, ".srt": 25, ".txt": 20, ".md": 20}, "meetings"),
    "fieldnote": Kind(20, (500, 2000), {".md": 50, ".txt": 50}, "fieldnotes"),
    "email": Kind(20, (150, 500), {".txt": 70, ".md": 30}, "emails"),
    "document": Kind(15, (500, 2000), {".md": 55, ".txt": 45}, "documents"),
}
# The first files cover every format and type, so even a corpus of 2,000 words exercises every reader.
OPENING = [
    ("interview", ".txt"),
    ("meeting", ".vtt"),
    ("interview", ".docx"),
    ("meeting", ".srt"),
    ("fieldnote", ".md"),
    ("email", ".txt"),
    ("document", ".md"),
    ("meeting", ".md"),
]
MEETING_GROUPS = {"steering": "steering", "account_team": "account-teams", "sub_group": "sub-groups"}


@dataclass
class CorpusInfo:
    """What ``generate`` wrote."""

    folder: Path
    files: int
    words: int  # words of the text qualkam codes (no metadata, speaker labels or timestamps)
    by_format: dict[str, int]  # suffix -> file count


@dataclass
class Person:
    """A speaker in one source and the label the file writes for them."""

    name: str
    role: str
    unit: str | None
    label: str = ""


@dataclass
class Block:
    """A speaker turn (``speaker`` set) or a paragraph; ``atomic`` blocks are never cut short."""

    text: str
    speaker: Person | None = None
    atomic: bool = False

    @property
    def words(self) -> int:
        return len(self.text.split())


@dataclass
class Pools:
    """Turns and paragraphs of the sample transcripts, by use."""

    questions: list[str]
    answers: list[str]
    fieldnotes: list[str]
    documents: list[str]
    emails: list[str]


class Deck:
    """Draw items in shuffled order, reshuffling when all have been drawn."""

    def __init__(self, items: list[str], rng: random.Random) -> None:
        self.items = items
        self.rng = rng
        self.left: list[str] = []

    def draw(self) -> str:
        if not self.left:
            self.left = list(self.items)
            self.rng.shuffle(self.left)
        return self.left.pop()


@dataclass
class Source:
    """One file to write: its type, format, place, people, metadata and blocks."""

    index: int
    type: str
    suffix: str
    date: dt.date
    people: list[Person]
    folder: str = ""
    stem: str = ""
    fields: dict[str, Any] = field(default_factory=dict)
    blocks: list[Block] = field(default_factory=list)
    style: str = "name"


# ---------------------------------------------------------------------------------- pools


def _plain_lines(text: str) -> bool:
    """True when no line could be read as a speaker label (so a paragraph stays a paragraph)."""
    return not any(match_label(line, None) for line in text.splitlines())


def load_pools(samples: Path = SAMPLES, codebook: Codebook | None = None) -> Pools:
    """Read the sample transcripts with qualkam and sort their turns and paragraphs."""
    codebook = codebook or load_codebook("kam")
    files, _ = discover(samples)
    pools = Pools([], [], [], [], [])
    for source in prepare(samples, files, codebook):
        if isinstance(source, PreparedSource):
            _pool_source(source, pools)
    return pools


def _prose(text: str) -> str | None:
    """A paragraph without its headings (``#`` or capitals-only lines) and diary date, if any prose is left."""
    lines = [line for line in text.splitlines() if not line.startswith("#") and line.upper() != line]
    prose = DIARY_DATE.sub("", "\n".join(lines))
    return prose if len(prose.split()) >= 8 and _plain_lines(prose) else None


def _pool_source(source: PreparedSource, pools: Pools) -> None:
    for turn, speaker, role, _ in resolve_turns(source.turns, source.meta):
        text = source.raw.text[turn.start : turn.end]
        if speaker and source.meta.type in ("interview", "meeting"):
            (pools.questions if role == "Researcher" else pools.answers).append(" ".join(text.split()))
            continue
        prose = _prose(text) if speaker is None else None
        if prose is None or prose.startswith(("From:", "-----")):
            continue
        if source.meta.type == "fieldnote":
            pools.fieldnotes.append(prose)
        elif source.meta.type == "document":
            pools.documents.append(prose)
        elif source.meta.type == "email":
            pools.emails.append(" ".join(prose.split()))


# ---------------------------------------------------------------------------------- people


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def slug(text: str) -> str:
    """A file-name-safe, lower-case, hyphenated ASCII form of ``text``."""
    words = "".join(c if c.isalnum() else " " for c in _ascii(text).lower()).split()
    return "-".join(words)[:40] or "x"


def invent_people(rng: random.Random, count: int) -> list[Person]:
    """``count`` people with distinct first names, and roles from the samples."""
    firsts = rng.sample(FIRST_NAMES, count)
    people = []
    for first in firsts:
        role, unit = rng.choice(ROLES)
        people.append(Person(f"{first} {rng.choice(LAST_NAMES)}", role, unit))
    return people


def researcher(rng: random.Random) -> Person:
    return Person("Researcher", "Researcher", None, rng.choice(["Researcher", "Interviewer"]))


def _first(person: Person) -> str:
    return person.name.split()[0]


def assign_labels(source: Source, rng: random.Random) -> None:
    """Choose the file's label style and write each person's label."""
    source.style = _label_style(source, rng)
    for person in source.people:
        is_researcher = person.role == "Researcher"
        if source.style == "shorthand":
            person.label = "I" if is_researcher else "R"
        elif source.suffix in (".vtt", ".srt"):
            remote = (
                not is_researcher and rng.random() < 0.15
            )  # a Zoom display name such as "Chloe Tanner (Manchester)"
            person.label = f"{person.name} ({rng.choice(['Manchester', 'MK', 'Osaka'])})" if remote else person.name
        elif is_researcher:
            person.label = person.label.upper() if source.style == "upper_role" else person.label
        elif source.style == "upper_role":
            person.label = person.name.upper()
        elif source.style in ("first", "time", "bold"):
            person.label = _first(person)
        else:
            person.label = person.name


def _label_style(source: Source, rng: random.Random) -> str:
    if source.type not in ("interview", "meeting"):
        return "name"
    if source.suffix == ".vtt":
        return rng.choice(["voice", "prefix"])
    if source.suffix == ".srt":
        return "prefix"
    styles = ["name", "first", "upper_role", "time"]
    if source.suffix == ".md":
        styles += ["bold", "bold"]
    if source.type == "interview" and len(source.people) == 2:
        styles.append("shorthand")
    return rng.choice(styles)


def participants(source: Source) -> dict[str, dict[str, str]]:
    """The ``participants`` mapping for the metadata: label -> name, role, unit."""
    result = {}
    for person in source.people:
        entry = {"role": person.role} if person.role == "Researcher" else {"name": person.name, "role": person.role}
        if person.unit:
            entry["unit"] = person.unit
        result[person.label] = entry
    return result


def participants_csv(source: Source) -> str:
    """The same in a CSV cell: ``Label=Role|Unit; ...``."""
    return "; ".join(f"{p.label}={p.role}|{p.unit}" if p.unit else f"{p.label}={p.role}" for p in source.people)


# ---------------------------------------------------------------------------------- blocks


def interview_blocks(source: Source, pools: Pools, decks: dict[str, Deck], rng: random.Random) -> Iterator[Block]:
    """Researcher questions, each followed by one or two respondents' answers."""
    asker, respondents = source.people[0], source.people[1:]
    while True:
        yield Block(decks["questions"].draw(), asker)
        answering = respondents if len(respondents) > 1 and rng.random() < 0.3 else [rng.choice(respondents)]
        for person in answering:
            yield Block(decks["answers"].draw(), person)


def meeting_blocks(source: Source, pools: Pools, decks: dict[str, Deck], rng: random.Random) -> Iterator[Block]:
    """Turns among the participants; the chair (first) speaks most, nobody twice in a row."""
    weights = [3] + [1] * (len(source.people) - 1)
    last: Person | None = None
    while True:
        person = last
        while person is last:
            person = rng.choices(source.people, weights)[0]
        last = person
        yield Block(decks["answers"].draw(), person)


def fieldnote_blocks(source: Source, pools: Pools, decks: dict[str, Deck], rng: random.Random) -> Iterator[Block]:
    """Dated diary entries of observations, some quoting the person shadowed."""
    md = source.suffix == ".md"
    if md:
        yield Block(f"# Research diary, {source.date:%B %Y}", atomic=True)
    day = source.date
    subject = source.people[-1]
    while True:
        stamp = f"{day:%A} {day.day} {day:%B %Y}."
        for number in range(rng.randint(1, 3)):
            if subject.role != "Researcher" and rng.random() < 0.3:
                text = f"{rng.choice(ASIDES)} {subject.name} ({subject.role}). \u201c{decks['answers'].draw()}\u201d"
            else:
                text = decks["fieldnotes"].draw()
            yield Block(f"{f'*{stamp}*' if md else stamp} {text}" if number == 0 else text)
        day += dt.timedelta(days=rng.randint(1, 9))


def document_blocks(source: Source, pools: Pools, decks: dict[str, Deck], rng: random.Random) -> Iterator[Block]:
    """A titled document in numbered sections of prose."""
    md = source.suffix == ".md"
    title = source.fields["title"]
    yield Block(f"# {title}" if md else title.upper(), atomic=True)
    number = 0
    while True:
        number += 1
        heading = f"{number}. {rng.choice(SECTIONS)}"
        yield Block(f"## {heading}" if md else heading.upper(), atomic=True)
        for _ in range(rng.randint(1, 4)):
            yield Block(decks["documents"].draw() if rng.random() < 0.6 else decks["answers"].draw())


def email_blocks(source: Source, pools: Pools, decks: dict[str, Deck], rng: random.Random) -> Iterator[Block]:
    """An e-mail thread, newest message first, with Outlook-style headers."""
    subject = source.fields["title"]
    sent = dt.datetime.combine(source.date, dt.time(17, 42))
    first = True
    while True:
        sender, *others = rng.sample(source.people, len(source.people))
        if not first:
            yield Block("-----Original Message-----", atomic=True)
        headers = [
            f"From: {sender.name}",
            f"Sent: {sent.day:02d} {sent:%B %Y %H:%M}",
            f"To: {'; '.join(p.name for p in others)}",
            f"Subject: {'RE: ' if first else ''}{subject}",
        ]
        yield Block("\n".join(headers), atomic=True)
        yield Block(f"{_first(others[0])}," if len(others) == 1 else "All,", atomic=True)
        for _ in range(rng.randint(1, 3)):
            yield Block(decks["emails"].draw() if rng.random() < 0.6 else decks["answers"].draw())
        yield Block(_first(sender), atomic=True)
        sent -= dt.timedelta(hours=rng.randint(2, 60), minutes=rng.randint(0, 59))
        first = False


BLOCKS: dict[str, Callable[[Source, Pools, dict[str, Deck], random.Random], Iterator[Block]]] = {
    "interview": interview_blocks,
    "meeting": meeting_blocks,
    "fieldnote": fieldnote_blocks,
    "document": document_blocks,
    "email": email_blocks,
}


def take(blocks: Iterator[Block], target: int) -> list[Block]:
    """Blocks up to ``target`` words; the last one is cut short (an atomic one ends the file instead)."""
    taken: list[Block] = []
    total = 0
    for block in blocks:
        room = target - total
        if block.words <= room:
            taken.append(block)
            total += block.words
            if total >= target:
                break
        else:
            if not block.atomic or not taken:
                taken.append(Block(" ".join(block.text.split()[:room]), block.speaker, block.atomic))
            break
    return taken


# ---------------------------------------------------------------------------------- rendering


def _clock(seconds: float, sep: str = ".", millis: bool = True) -> str:
    whole = int(seconds)
    text = f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"
    return f"{text}{sep}{int((seconds - whole) * 1000):03d}" if millis else text


def render_text(source: Source, rng: random.Random) -> str:
    """The body of a .txt/.md file (or the paragraphs of a .docx), paragraphs blank-line separated."""
    clock = rng.uniform(0, 120)
    lines = []
    for block in source.blocks:
        person = block.speaker
        if person is None:
            lines.append(block.text)
            continue
        if source.style == "upper_role" and person.role != "Researcher":
            label = f"{person.label} ({person.role}): "
        elif source.style == "bold":
            label = f"**{person.label}:** "
        elif source.style == "time":
            label = f"[{_clock(clock, millis=False)}] {person.label}: "
            clock += block.words * 0.4 + rng.uniform(1, 5)
        else:
            label = f"{person.label}: "
        lines.append(label + block.text)
    return "\n\n".join(lines) + "\n"


def cues(source: Source, rng: random.Random) -> Iterator[tuple[float, float, Person, str]]:
    """Subtitle cues: each turn split into pieces of 5-40 words, times increasing."""
    clock = rng.uniform(1, 10)
    for block in source.blocks:
        words = block.text.split()
        parts = max(math.ceil(len(words) / 40), round(len(words) / rng.randint(15, 30)), 1)
        size, extra = divmod(len(words), parts)
        start = 0
        for i in range(parts):
            end = start + size + (1 if i < extra else 0)
            length = (end - start) * rng.uniform(0.33, 0.45)
            yield clock, clock + length, block.speaker, " ".join(words[start:end])  # type: ignore[misc]
            clock += length + rng.uniform(0.2, 0.6)
            start = end
        clock += rng.uniform(0.3, 2.0) if rng.random() < 0.9 else rng.uniform(10, 90)


def render_vtt(source: Source, rng: random.Random) -> str:
    out = ["WEBVTT", ""]
    for number, (start, end, person, text) in enumerate(cues(source, rng), 1):
        said = f"<v {person.label}>{text}" if source.style == "voice" else f"{person.label}: {text}"
        out += [str(number), f"{_clock(start)} --> {_clock(end)}", said, ""]
    return "\n".join(out)


def render_srt(source: Source, rng: random.Random) -> str:
    out = []
    for number, (start, end, person, text) in enumerate(cues(source, rng), 1):
        out += [str(number), f"{_clock(start, ',')} --> {_clock(end, ',')}", f"{person.label}: {text}", ""]
    return "\n".join(out)


def render_docx(source: Source, rng: random.Random) -> bytes:
    """A Word file, one paragraph per turn; fixed core properties and zip times, so fixed bytes."""
    import docx

    document = docx.Document()
    props = document.core_properties
    props.created = props.modified = props.last_printed = FIXED_TIME
    props.author, props.title = "qualkam bench", source.fields.get("title", "")
    for paragraph in render_text(source, rng).split("\n\n"):
        document.add_paragraph(paragraph.strip())
    buffer = io.BytesIO()
    document.save(buffer)
    return _fixed_zip(buffer.getvalue())


def _fixed_zip(data: bytes) -> bytes:
    """Rewrite a zip with every entry dated FIXED_TIME (python-docx stamps the current time)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(
                zipfile.ZipInfo(info.filename, FIXED_TIME.timetuple()[:6]), src.read(info), zipfile.ZIP_DEFLATED
            )
    return out.getvalue()


def front_matter(fields: dict[str, Any]) -> str:
    return "---\n" + yaml.safe_dump(fields, allow_unicode=True, sort_keys=False, width=1000) + "---\n"


def encode(text: str, suffix: str, rng: random.Random) -> bytes:
    """UTF-8 mostly; some files with a BOM, some Windows-1252 with CRLF when every character fits."""
    roll = rng.random()
    if roll < 0.12:
        return b"\xef\xbb\xbf" + text.encode("utf-8")
    if roll < 0.25 and suffix in (".txt", ".srt"):
        try:
            data = text.replace("\n", "\r\n").encode("cp1252")
        except UnicodeEncodeError:
            return text.encode("utf-8")
        if not data.isascii():
            try:
                data.decode("utf-8")
            except UnicodeDecodeError:
                return data  # qualkam falls back to Windows-1252 only when UTF-8 fails
            return text.encode("utf-8")
        return data
    if roll < 0.32:
        return text.replace("\n", "\r\n").encode("utf-8")
    return text.encode("utf-8")


# ---------------------------------------------------------------------------------- sources


def random_date(rng: random.Random) -> dt.date:
    return FIRST_DAY + dt.timedelta(days=rng.randint(0, (LAST_DAY - FIRST_DAY).days))


def choose_kind(rng: random.Random, index: int, remaining: int, opening: list[tuple[str, str]]) -> tuple[str, str]:
    """Type and suffix of the next file: the opening plan first, dialogue for a small last file."""
    if index < len(opening):
        return opening[index]
    names = ["interview", "meeting"] if remaining < SMALL_FILE else list(KINDS)
    kind = rng.choices(names, [KINDS[n].weight for n in names])[0]
    formats = KINDS[kind].formats
    return kind, rng.choices(list(formats), list(formats.values()))[0]


def cast(kind: str, rng: random.Random) -> list[Person]:
    """The people of a source: an interviewer and 1-2 people, 3-7 at meetings, 2-4 on e-mails,
    1-3 in notes and documents."""
    if kind == "interview":
        return [researcher(rng)] + invent_people(rng, 1 if rng.random() < 0.75 else 2)
    if kind == "meeting":
        return invent_people(rng, rng.randint(3, 7))
    if kind == "fieldnote":
        return [Person("Researcher", "Researcher", None, "Researcher")] + invent_people(rng, rng.randint(0, 1))
    if kind == "email":
        return invent_people(rng, rng.randint(2, 4))
    return invent_people(rng, rng.randint(1, 3))


def meeting_number(codebook: Codebook, date: dt.date, phase: str | None) -> int | None:
    """A steering-group meeting number consistent with the date's phase, from the codebook's rules."""
    by_number = next((r for r in codebook.phase_rules if r.phase == phase and r.attribute == "meeting_number"), None)
    by_date = next((r for r in codebook.phase_rules if r.phase == phase and r.date_from and r.date_to), None)
    if by_number is None or by_date is None or by_number.min is None:
        return None
    low = int(by_number.min)
    high = int(by_number.max) if by_number.max is not None else low + 7
    span = (by_date.date_to - by_date.date_from).days + 1  # type: ignore[operator]
    return low + (date - by_date.date_from).days * (high - low + 1) // span  # type: ignore[operator]


def describe(source: Source, codebook: Codebook, rng: random.Random) -> None:
    """Fill in the folder, file stem and metadata fields (everything but participants)."""
    kind = KINDS[source.type]
    phase, _ = codebook.resolve_phase(None, source.date.isoformat(), {})
    study = "japan_it_machinery" if rng.random() < 0.12 else "fitcorp_uk"
    fields: dict[str, Any] = {"type": source.type, "date": source.date}
    folder = f"{source.date.year}/{kind.folder}"
    person = source.people[-1]
    if source.type == "interview":
        stem, title = f"int-{source.index:04d}-{slug(person.name)}", f"{person.role}, interview"
        extra = {"site": rng.choice(SITES), "duration_minutes": rng.randint(40, 110)}
    elif source.type == "meeting":
        group, number = _meeting_group(codebook, source.date, phase, rng)
        folder += f"/{MEETING_GROUPS[group]}"
        stem = f"mtg-{source.index:04d}-{group.replace('_', '-')}" + (f"-{number:02d}" if number else "")
        title = f"KAM steering group, meeting {number}" if number else f"{group.replace('_', ' ').capitalize()} meeting"
        extra = {"group": group, "site": rng.choice(SITES), "duration_minutes": rng.randint(45, 290)}
        if number:
            extra["meeting_number"] = number
        elif group == "account_team":
            extra["account"] = rng.choice(ACCOUNTS)
    elif source.type == "fieldnote":
        stem, title = f"fn-{source.index:04d}-{source.date.isoformat()}", f"Research diary, {source.date:%B %Y}"
        extra = {"site": rng.choice(SITES), "author": "Researcher"}
    elif source.type == "email":
        account = rng.choice(ACCOUNTS)
        topic = f"{account} {rng.choice(TOPICS)}"
        stem, title = f"email-{source.index:04d}-{slug(topic)}", topic
        extra = {"account": account}
    else:
        doc_kind = rng.choice(DOC_KINDS)
        stem, title = f"doc-{source.index:04d}-{slug(doc_kind)}", f"{doc_kind.capitalize()}: {rng.choice(TOPICS)}"
        extra = {"document_kind": doc_kind, "author": person.name}
    fields["title"] = title
    if phase and rng.random() < 0.3:
        fields["phase"] = phase if rng.random() < 0.5 else next(p.label for p in codebook.phases if p.id == phase)
    if rng.random() < 0.3:
        fields = {"id": stem, **fields}
    fields.update(extra)
    fields["study"] = study
    source.folder, source.stem, source.fields = folder, stem, fields


def _meeting_group(codebook: Codebook, date: dt.date, phase: str | None, rng: random.Random) -> tuple[str, int | None]:
    number = meeting_number(codebook, date, phase)
    if number is not None and rng.random() < 0.5:
        return "steering", number
    return rng.choice(["account_team", "sub_group"]), None


def render(source: Source, rng: random.Random) -> tuple[bytes, dict[str, Any] | None]:
    """The file's bytes, and its sidecar entry when the format cannot hold front matter."""
    if source.suffix == ".docx":
        return render_docx(source, rng), source.fields
    if source.suffix == ".vtt":
        return encode(render_vtt(source, rng), ".vtt", rng), source.fields
    if source.suffix == ".srt":
        return encode(render_srt(source, rng), ".srt", rng), source.fields
    text = front_matter({**source.fields, "participants": participants(source)}) + render_text(source, rng)
    return encode(text, source.suffix, rng), None


# ---------------------------------------------------------------------------------- sidecars


def write_sidecar(folder: Path, entries: dict[str, dict[str, Any]], style: str) -> None:
    """``metadata.yaml`` (mapping or list form) or ``metadata.csv`` for the files in ``folder``."""
    if style == "csv":
        extras = sorted(
            {k for e in entries.values() for k in e} - {"id", "type", "date", "phase", "title", "participants"}
        )
        columns = ["file", "id", "type", "date", "phase", "title", *extras, "participants"]
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, columns, lineterminator="\n")
        writer.writeheader()
        for name, entry in entries.items():
            writer.writerow(
                {"file": name, **{k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in entry.items()}}
            )
        (folder / "metadata.csv").write_text(buffer.getvalue(), encoding="utf-8")
        return
    data: Any = entries if style == "yaml" else [{"file": name, **entry} for name, entry in entries.items()]
    header = "# Sidecar metadata for the Word and subtitle files here (generated by bench/corpus.py).\n"
    text = header + yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=1000)
    (folder / "metadata.yaml").write_text(text, encoding="utf-8")


def sidecar_entry(source: Source, style: str) -> dict[str, Any]:
    people = participants_csv(source) if style == "csv" else participants(source)
    return {**source.fields, "participants": people}


# ---------------------------------------------------------------------------------- the corpus


def generate(folder: Path, words: int, seed: int = 7) -> CorpusInfo:
    """Write a corpus of about ``words`` words into ``folder`` (new or empty); same inputs, same files."""
    folder = Path(folder)
    if folder.exists() and any(folder.iterdir()):
        raise ValueError(f"{folder} is not empty; give a new or empty folder")
    if words < 1:
        raise ValueError("words must be at least 1")
    rng = random.Random(seed)
    codebook = load_codebook("kam")
    pools = load_pools(codebook=codebook)
    decks = {
        name: Deck(getattr(pools, name), rng) for name in ("questions", "answers", "fieldnotes", "documents", "emails")
    }
    opening = list(OPENING)
    rng.shuffle(opening)
    cap = max(150, words // 8)  # small corpora still get several files
    sidecars: dict[str, tuple[str, dict[str, dict[str, Any]]]] = {}
    by_format: dict[str, int] = {}
    total = index = 0
    while total < words:
        remaining = words - total
        kind, suffix = choose_kind(rng, index, remaining, opening)
        target = min(rng.randint(*KINDS[kind].words), cap, remaining)
        if remaining - target < SMALL_FILE:
            target = remaining
        source = Source(index + 1, kind, suffix, random_date(rng), cast(kind, rng))
        describe(source, codebook, rng)
        assign_labels(source, rng)
        source.blocks = take(BLOCKS[kind](source, pools, decks, rng), target)
        data, entry = render(source, rng)
        path = folder / source.folder / f"{source.stem}{suffix}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        if entry is not None:
            style = sidecars.setdefault(source.folder, (("yaml", "csv", "yaml-list")[len(sidecars) % 3], {}))[0]
            sidecars[source.folder][1][path.name] = sidecar_entry(source, style)
        total += sum(b.words for b in source.blocks)
        by_format[suffix] = by_format.get(suffix, 0) + 1
        index += 1
    for rel, (style, entries) in sidecars.items():
        write_sidecar(folder / rel, entries, style)
    return CorpusInfo(folder, index, total, dict(sorted(by_format.items())))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate a benchmark corpus of transcripts (deterministic).")
    parser.add_argument("out_dir", type=Path, help="a new or empty folder")
    parser.add_argument("--words", type=int, default=100_000, help="words of text to generate (default 100,000)")
    parser.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        info = generate(args.out_dir, args.words, args.seed)
    except ValueError as exc:
        parser.error(str(exc))
    folders = len({p.parent for p in info.folder.rglob("*") if p.is_file()})
    formats = ", ".join(f"{suffix} {count}" for suffix, count in info.by_format.items())
    print(
        f"{info.files} files ({formats}) in {folders} folders, {info.words:,} words, "
        f"to {info.folder} in {time.perf_counter() - started:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
