"""The review queue: which suggestions a coder still has to decide, in what order, and the
context to show with each. The terminal (qualkam/cli/review.py) only reads keys and
shows; this module holds no I/O, so a notebook or a test can walk the same queue.

``ReviewSession`` is the review itself: the current item, what each action does, where the
walk stands.

An item is one machine suggestion on one segment (or, with ``status="all"``, any segment
that has a suggestion or a coding by this coder). Progress is saved per coder and per queue
(its filters), so quitting and resuming continues after the last item handled.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from qualkam.choices import check_choice, check_known
from qualkam.coding.decisions import Action, decide
from qualkam.errors import QualkamError
from qualkam.store.memos import add_memo
from qualkam.store.project import Project
from qualkam.store.reads import code_and_below, code_tree
from qualkam.store.review import (
    SegmentInContext,
    last_reviewed,
    model_scores,
    queue_items,
    reading_positions,
    save_review_progress,
    segment_in_context,
)

STATUSES = ("suggested", "accepted", "rejected", "all")
ORDERS = ("reading", "uncertain")


def _many(value: str | Sequence[str] | None) -> list[str]:
    """A filter's values: one name, several (repeated options) or none."""
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(dict.fromkeys(value))


def _one_key(value: str | Sequence[str] | None) -> Any:
    names = _many(value)
    return None if not names else names[0] if len(names) == 1 else names


@dataclass(frozen=True)
class Filters:
    """What part of the project a review covers: each of codes (a code takes the codes below
    it), sources, phases and speakers is one name, a sequence of names (any of them) or None."""

    codes: str | Sequence[str] | None = None
    sources: str | Sequence[str] | None = None
    phases: str | Sequence[str] | None = None
    status: str = "suggested"
    order: str = "reading"
    speakers: str | Sequence[str] | None = None

    def key(self) -> str:
        # The reading order keeps its old key, so progress saved before --order existed still resumes;
        # one value per filter keeps the key it had before filters could be repeated.
        base = [_one_key(self.codes), _one_key(self.sources), _one_key(self.phases), self.status]
        if _many(self.speakers):
            base.append({"speaker": _many(self.speakers)})
        return json.dumps(base if self.order == "reading" else [*base, self.order])


@dataclass(frozen=True)
class Item:
    """One decision to make: a segment, and the suggested code (None: the segment as a whole)."""

    segment_id: int
    code_id: str | None


@dataclass(kw_only=True)
class ItemView(SegmentInContext):
    """Everything the reviewer sees for one item: its segment in context, plus the item and
    the codes' labels."""

    item: Item
    labels: dict[str, str] = field(default_factory=dict)


def build_queue(project: Project, coder: str, filters: Filters) -> list[Item]:
    """The items of this review in reading order (source, then position in it), or with
    ``order="uncertain"`` the model's least sure suggestions first (see ``uncertain_first``)."""
    check_choice("status", filters.status, STATUSES, "status")
    check_choice("order", filters.order, ORDERS, "order")
    sources = check_known(project, "source", _many(filters.sources), "sources")
    phases = check_known(project, "phase", _many(filters.phases), "phases")
    speakers = check_known(project, "speaker", _many(filters.speakers), "speakers")
    codes = code_and_below(project, check_known(project, "code", _many(filters.codes), "codes"))
    pairs = queue_items(project, coder, filters.status, codes=codes, sources=sources, phases=phases, speakers=speakers)
    items = [Item(segment_id, code_id) for segment_id, code_id in pairs]
    return uncertain_first(project, items) if filters.order == "uncertain" else items


def uncertain_first(project: Project, items: list[Item]) -> list[Item]:
    """Model suggestions whose calibrated score is closest to their code's threshold (the
    newest model's; 0.5 for a code it does not know) first, where a decision teaches the
    most; then every other item in reading order. Closeness is measured in log-odds, so
    0.02 against a threshold of 0.01 counts as far as 0.67 against 0.5."""
    from qualkam.coding.learn import DEFAULT_THRESHOLD, latest_thresholds

    def logit(p: float) -> float:
        p = min(max(p, 1e-6), 1 - 1e-6)
        return math.log(p / (1 - p))

    thresholds = latest_thresholds(project)
    scores = model_scores(project)
    distance: dict[int, float] = {}
    for i, item in enumerate(items):
        score = None if item.code_id is None else scores.get((item.segment_id, item.code_id))
        if item.code_id is not None and score is not None:
            distance[i] = abs(logit(score) - logit(thresholds.get(item.code_id, DEFAULT_THRESHOLD)))
    model = sorted(distance, key=lambda i: (distance[i], i))
    return [items[i] for i in model] + [item for i, item in enumerate(items) if i not in distance]


def resume_index(project: Project, coder: str, filters: Filters, queue: list[Item]) -> int | None:
    """Where to start: just after the last item this coder handled in this queue (None: a
    first review of this queue). Decided items have left the queue, skipped ones wait."""
    last = last_reviewed(project, coder, filters.key())
    if last is None or not queue:
        return None
    if filters.order != "reading":  # not in reading order: after the last item handled, if it is still here
        hits = [index for index, item in enumerate(queue) if item.segment_id == last]
        return (hits[-1] + 1) % len(queue) if hits else 0
    positions = reading_positions(project, [last, *(item.segment_id for item in queue)])
    if last not in positions:
        return 0
    key = positions[last]
    for index, item in enumerate(queue):
        if positions[item.segment_id] > key:
            return index
    return 0


def save_progress(project: Project, coder: str, filters: Filters, item: Item) -> None:
    """Remember the last item handled (its own small transaction)."""
    save_review_progress(project, coder, filters.key(), item.segment_id)


def view(project: Project, coder: str, item: Item) -> ItemView:
    """The segment in context: the turn before and after, who spoke, and every suggestion."""
    s = segment_in_context(project, item.segment_id, coder)
    if s is None:
        raise QualkamError(f"segment {item.segment_id} is gone (its source changed); run the review again")
    return ItemView(**vars(s), item=item, labels={code.id: code.label for code in code_tree(project).values()})


# -- a review session: the loop of the ``review`` command, without a terminal ----------------
ACTIONS = {
    "a": "accept",
    "r": "reject",
    "c": "add",
    "d": "remove",
    "m": "memo",
    "s": "skip",
    "b": "back",
    "q": "quit",
}
"""The key for each action of a review (the terminal reads one key; a test may too)."""

ASKS = {"add": "code to add: ", "remove": "code to remove: ", "memo": "memo: "}
"""Actions that need words from the reviewer, and the question to ask for them."""

NO_SUGGESTION = "no suggestion here to accept or reject; use c to add a code"


class ReviewSession:
    """One coder walking a review queue: the current item, what each action does to it, and
    where the walk stands. Every decision is saved at once (its own transaction); leaving an
    item (decided or skipped) saves the progress, so a new session resumes after it.

    A notebook or a test drives it with ``act("accept")``, ``act("add", "trust")`` ...; the
    ``review`` command reads keys and shows ``view()``.
    """

    def __init__(self, project: Project, coder: str, filters: Filters | None = None) -> None:
        self.project = project
        self.coder = coder
        self.filters = filters or Filters()
        self.queue = build_queue(project, coder, self.filters)
        start = resume_index(project, coder, self.filters, self.queue)
        self.resumed = start is not None  # True: a review of this queue ran before
        self.index = start or 0
        self.decided = 0  # decisions saved in this session (accept, reject, add, remove)
        self._history: list[int] = []  # items left, most recent last: where ``back`` goes
        self._quit = False

    @property
    def total(self) -> int:
        return len(self.queue)

    @property
    def finished(self) -> bool:
        """Quit, or past the last item."""
        return self._quit or not 0 <= self.index < len(self.queue)

    @property
    def current(self) -> Item | None:
        """The item to decide now (None: the session is over)."""
        return None if self.finished else self.queue[self.index]

    @property
    def left(self) -> int:
        """Items from the current one to the end of the queue."""
        return max(len(self.queue) - self.index, 0)

    def view(self) -> ItemView:
        """The current item in context."""
        item = self.current
        if item is None:
            raise QualkamError("the review is over; nothing to show")
        return view(self.project, self.coder, item)

    def act(self, action: str, text: str | None = None) -> str | None:
        """Do one of ``ACTIONS``' values to the current item. ``add``, ``remove`` and ``memo``
        take ``text`` (the code, or the memo) and stay on the item, since more may follow;
        ``accept``, ``reject`` and ``skip`` move on; ``back`` returns to the item left last.

        Returns a note for the reviewer when the action does not apply (nothing changed);
        a QualkamError (a code the project does not know) also leaves everything as it was.
        """
        item = self.current
        if action == "quit":
            self._quit = True
            return None
        if item is None:
            return None
        if action == "back":
            self.index = self._history.pop() if self._history else self.index
            return None
        if action in ("accept", "reject"):
            if item.code_id is None:
                return NO_SUGGESTION
            decide(self.project, self.coder, item.segment_id, item.code_id, Action(action))
            self.decided += 1
        elif action in ("add", "remove"):
            decide(self.project, self.coder, item.segment_id, text or "", Action(action))
            self.decided += 1
            return None
        elif action == "memo":
            add_memo(self.project, self.coder, "segment", str(item.segment_id), text or "")
            return None
        elif action != "skip":
            raise ValueError(f"unknown review action {action!r}; one of {', '.join(ACTIONS.values())}")
        self._leave(item)
        return None

    def _leave(self, item: Item) -> None:
        save_progress(self.project, self.coder, self.filters, item)
        self._history.append(self.index)
        self.index += 1
