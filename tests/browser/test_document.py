"""The Document page in a real headless Chromium (issue 13): text selected with the mouse and
the keyboard on a source with emoji and accents is coded at the right code points, the coding
is found again after a reload, undo and redo are real writes (gone from the store, audited),
suggestions are accepted and rejected with one key, overlapping codings and CRLF text render."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from tests.browser.conftest import CRLF_ID, CRLF_TEXT, Server, open_page, wait_for, wait_ready, wait_saved, writes

pytestmark = pytest.mark.browser

TALK_ID = "emoji-talk"

# The selection's text, kept by the page's own selection events (what the person selected).
REMEMBER_SELECTION = """
window.__selected = '';
document.addEventListener('selectionchange', () => {
  const text = window.getSelection().toString();
  if (text) window.__selected = text;
});
"""

# The viewport point at the left (or right) edge of the character at UTF-16 offset `at` of the
# text inside the element: where a person puts the mouse to start (or end) a selection there.
CHAR_EDGE = """
const [root, at, side] = arguments;
const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
let left = at;
for (let node = walker.nextNode(); node; node = walker.nextNode()) {
  if (left < node.length) {
    const range = document.createRange();
    range.setStart(node, left);
    range.setEnd(node, left + 1);
    const rect = range.getClientRects()[0];
    return [side === 'left' ? rect.left + 1 : rect.right - 1, rect.top + rect.height / 2];
  }
  left -= node.length;
}
return null;
"""


def codings_of(server: Server, coder: str) -> list[dict[str, Any]]:
    """The stored codings of ``coder`` with their stored text, read as the library reads them."""
    from qualkam.store.project import Project
    from qualkam.store.segments import codings

    with Project.open(server.project_path) as project:
        frame = codings(project, "human")  # people's accepted codings (coder:NAME needs a known coder)
    frame = frame[frame["coder"] == coder]
    return frame[["coding", "source", "start", "end", "code", "coder", "status", "text"]].to_dict("records")


def audit_lines(server: Server, coding_id: int) -> list[str]:
    from qualkam.store.audit import audit_table
    from qualkam.store.project import Project

    with Project.open(server.project_path) as project:
        table = audit_table(project, entity="coding")
    return list(table[table["entity_id"] == str(coding_id)]["action"])


def segment_text(driver: Any, segment_index: int) -> Any:
    return driver.find_elements(By.CSS_SELECTOR, "#doc-text .segment .seg-text")[segment_index]


def utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def drag_select(driver: Any, element: Any, text: str, words: str, to: Any = None, to_words: str = "") -> None:
    """Select ``words`` inside ``element`` (whose text is ``text``) by dragging the mouse; with
    ``to``, from the start of ``words`` to the end of ``to_words`` in the element ``to``."""
    first = text.index(words)
    x1, y1 = driver.execute_script(CHAR_EDGE, element, utf16(text[:first]), "left")
    if to is None:
        to, last = element, first + len(words) - 1
    else:
        last = to.text.index(to_words) + len(to_words) - 1
        text = to.text
    x2, y2 = driver.execute_script(CHAR_EDGE, to, utf16(text[:last]), "right")
    actions = ActionChains(driver)
    actions.w3c_actions.pointer_action.move_to_location(int(x1), int(y1))
    actions.w3c_actions.pointer_action.pointer_down()
    actions.w3c_actions.pointer_action.move_to_location(int((x1 + x2) / 2), int(y2))
    actions.w3c_actions.pointer_action.move_to_location(int(x2), int(y2))
    actions.w3c_actions.pointer_action.pointer_up()
    actions.perform()


def source(server: Server, source_id: str) -> dict[str, Any]:
    return server.get(f"/api/sources/{quote(source_id)}?coder=ana")


@pytest.fixture
def ana(serve: Any, fresh_project: Path) -> Server:
    return serve(fresh_project, coder="ana")


def test_mouse_selection_is_coded_at_its_code_points_and_found_after_reload(driver: Any, ana: Server) -> None:
    open_page(driver, ana, f"/sources/{TALK_ID}")
    wait_ready(driver)
    driver.execute_script(REMEMBER_SELECTION)
    text = source(ana, TALK_ID)["text"]
    element = segment_text(driver, 1)  # Zoë's turn: emoji before the words, accents in them
    words = "señor in München"
    drag_select(driver, element, element.text, words)
    wait_for(driver, "return !document.getElementById('code-picker').hidden;")
    assert driver.execute_script("return window.__selected;") == words
    assert driver.find_element(By.CSS_SELECTOR, "#doc-text span.pending").text == words

    before = writes(driver)
    search = driver.find_element(By.ID, "code-search")
    search.send_keys("soft")  # search-as-you-type over labels and ids
    options = driver.find_elements(By.CSS_SELECTOR, "#code-options .code-option")
    assert [o.get_attribute("data-code") for o in options] == ["soft_control"]
    search.send_keys(Keys.ENTER)
    wait_saved(driver, before)
    assert driver.find_element(By.ID, "status").text == "saved"

    [stored] = codings_of(ana, "ana")
    assert (stored["source"], stored["code"], stored["status"]) == (TALK_ID, "soft_control", "accepted")
    assert stored["start"] == text.index(words)  # code points: the emoji before counts once
    assert stored["end"] == stored["start"] + len(words)
    assert stored["text"] == words == text[stored["start"] : stored["end"]]

    driver.refresh()
    wait_ready(driver)
    marks = driver.find_elements(By.CSS_SELECTOR, f'#doc-text mark.coding[data-coding-id="{stored["coding"]}"]')
    assert "".join(m.get_attribute("textContent") for m in marks) == words
    assert {m.get_attribute("data-coder") for m in marks} == {"ana"}
    # at the right place: the segment's text before the mark is the source's text before it
    before_mark = driver.execute_script(
        "const mark = arguments[0]; const range = document.createRange();"
        "range.setStart(mark.closest('.seg-text'), 0); range.setEndBefore(mark); return range.toString();",
        marks[0],
    )
    segment = next(s for s in source(ana, TALK_ID)["segments"] if s["start"] <= stored["start"] < s["end"])
    assert before_mark == text[segment["start"] : stored["start"]]
    stripe = driver.find_elements(By.CSS_SELECTOR, '#doc-text .segment .stripes .stripe[data-code="soft_control"]')
    assert stripe, "a stripe in the margin shows the code"

    # a selection across two turns covers the whole span between its ends
    first, second = segment_text(driver, 0), segment_text(driver, 1)
    drag_select(driver, first, first.text, "set? 😀", second, "Honestly 🎉")
    wait_for(driver, "return !document.getElementById('code-picker').hidden;")
    before = writes(driver)
    ActionChains(driver).send_keys("hard", Keys.ENTER).perform()
    wait_saved(driver, before)
    [across] = [c for c in codings_of(ana, "ana") if c["code"] == "hard_control"]
    assert (across["start"], across["end"]) == (text.index("set? 😀"), text.index("Honestly 🎉") + len("Honestly 🎉"))
    assert across["text"] == text[across["start"] : across["end"]]
    marks = driver.find_elements(By.CSS_SELECTOR, f'#doc-text mark.coding[data-coding-id="{across["coding"]}"]')
    assert [m.get_attribute("textContent") for m in marks] == ["set? 😀", "Honestly 🎉"]
    # no script error, nothing refused by the Content-Security-Policy, nothing asked of another host
    logged = driver.get_log("browser")
    assert [e["message"] for e in logged if e["level"] == "SEVERE" and "favicon" not in e["message"]] == []


def test_keyboard_selection_undo_and_redo_are_real_audited_writes(driver: Any, ana: Server) -> None:
    open_page(driver, ana, f"/sources/{TALK_ID}")
    wait_ready(driver)
    driver.execute_script(REMEMBER_SELECTION)
    text = source(ana, TALK_ID)["text"]
    element = segment_text(driver, 2)  # after 🤝 and an em dash
    words = "naïve"
    x, y = driver.execute_script(CHAR_EDGE, element, utf16(element.text[: element.text.index(words)]), "left")
    actions = ActionChains(driver)
    actions.w3c_actions.pointer_action.move_to_location(int(x), int(y))
    actions.w3c_actions.pointer_action.click()
    actions.perform()
    ActionChains(driver).key_down(Keys.SHIFT).send_keys(Keys.ARROW_RIGHT * len(words)).key_up(Keys.SHIFT).perform()
    assert driver.execute_script("return window.getSelection().toString();") == words
    ActionChains(driver).send_keys("c").perform()  # the picker, for the keyboard
    wait_for(driver, "return document.activeElement && document.activeElement.id === 'code-search';")
    before = writes(driver)
    ActionChains(driver).send_keys("hard", Keys.ENTER).perform()
    wait_saved(driver, before)
    [stored] = codings_of(ana, "ana")
    assert (stored["code"], stored["text"], stored["start"]) == ("hard_control", words, text.index(words))

    before = writes(driver)
    driver.find_element(By.ID, "undo").click()
    wait_saved(driver, before)
    assert codings_of(ana, "ana") == []
    assert driver.find_elements(By.CSS_SELECTOR, "#doc-text mark.coding") == []
    assert audit_lines(ana, stored["coding"])[-1] == "delete"

    before = writes(driver)
    ActionChains(driver).key_down(Keys.CONTROL).key_down(Keys.SHIFT).send_keys("z").key_up(Keys.SHIFT).key_up(
        Keys.CONTROL
    ).perform()
    wait_saved(driver, before)
    [again] = codings_of(ana, "ana")
    assert (again["code"], again["text"], again["start"]) == ("hard_control", words, stored["start"])
    assert driver.find_element(By.CSS_SELECTOR, "#doc-text mark.coding").get_attribute("textContent") == words

    # a recent code on a number key: select with the keyboard again, press 1
    ActionChains(driver).send_keys(Keys.ESCAPE).perform()
    x, y = driver.execute_script(CHAR_EDGE, element, utf16(element.text[: element.text.index("mostly")]), "left")
    actions = ActionChains(driver)
    actions.w3c_actions.pointer_action.move_to_location(int(x), int(y))
    actions.w3c_actions.pointer_action.click()
    actions.perform()
    ActionChains(driver).key_down(Keys.SHIFT).send_keys(Keys.ARROW_RIGHT * 6).key_up(Keys.SHIFT).perform()
    before = writes(driver)
    ActionChains(driver).send_keys("1").perform()
    wait_saved(driver, before)
    assert sorted(c["text"] for c in codings_of(ana, "ana")) == ["mostly", words]


def test_suggestions_accepted_and_rejected_with_one_key_and_undone(driver: Any, ana: Server) -> None:
    open_page(driver, ana, f"/sources/{TALK_ID}")
    wait_ready(driver)
    waiting = source(ana, TALK_ID)["suggestions"]
    first, second = sorted(waiting, key=lambda s: s["start"])[:2]
    ActionChains(driver).send_keys("j").perform()
    focused = driver.switch_to.active_element
    assert focused.get_attribute("data-suggestion-id") == str(first["id"])
    assert "score" in focused.get_attribute("title") and "evidence" in focused.get_attribute("title")
    ActionChains(driver).send_keys(Keys.ENTER).perform()  # the card with the evidence
    card = driver.find_element(By.CSS_SELECTOR, f'#popover .suggestion-card[data-suggestion-id="{first["id"]}"]')
    assert [li.text for li in card.find_elements(By.CSS_SELECTOR, ".evidence li")] == [
        f"“{e['text']}” ({e['rule']})" for e in first["evidence"]
    ]
    ActionChains(driver).send_keys(Keys.ESCAPE).perform()
    assert driver.find_element(By.ID, "popover").get_attribute("hidden") is not None

    before = writes(driver)
    ActionChains(driver).send_keys("a").perform()
    wait_saved(driver, before)
    [accepted] = codings_of(ana, "ana")
    assert (accepted["code"], accepted["status"]) == (first["code"], "accepted")
    assert (accepted["start"], accepted["end"]) == (first["start"], first["end"])
    assert first["id"] not in [s["id"] for s in source(ana, TALK_ID)["suggestions"]]
    assert driver.find_elements(By.CSS_SELECTOR, f'#doc-text span.suggestion[data-suggestion-id="{first["id"]}"]') == []
    assert driver.find_elements(By.CSS_SELECTOR, f'#doc-text mark.coding[data-coding-id="{accepted["coding"]}"]')

    # the next suggestion has the focus now: r rejects it (hidden, not shown as a coding)
    assert driver.switch_to.active_element.get_attribute("data-suggestion-id") == str(second["id"])
    before = writes(driver)
    ActionChains(driver).send_keys("r").perform()
    wait_saved(driver, before)
    assert second["id"] not in [s["id"] for s in source(ana, TALK_ID)["suggestions"]]
    assert [c["coding"] for c in codings_of(ana, "ana")] == [accepted["coding"]]  # a rejection codes nothing

    # undo both: the decisions' rows are deleted, the suggestions wait again
    for _ in range(2):
        before = writes(driver)
        ActionChains(driver).key_down(Keys.CONTROL).send_keys("z").key_up(Keys.CONTROL).perform()
        wait_saved(driver, before)
    assert codings_of(ana, "ana") == []
    ids = {s["id"] for s in source(ana, TALK_ID)["suggestions"]}
    assert {first["id"], second["id"]} <= ids
    assert driver.find_elements(By.CSS_SELECTOR, f'#doc-text span.suggestion[data-suggestion-id="{first["id"]}"]')
    assert audit_lines(ana, accepted["coding"])[-1] == "delete"


def test_overlapping_codings_and_crlf_text_render_in_place(driver: Any, ana: Server) -> None:
    text = source(ana, CRLF_ID)["text"]
    assert text == CRLF_TEXT  # stored with its CRLF
    spans = {
        "hard_control": (text.index("notes"), text.index("trusts") + len("trusts")),  # across the CRLF
        "soft_control": (text.index("team"), text.index("now")),  # overlaps the first
    }
    ids = {}
    for code, (start, end) in spans.items():
        response = ana.api("POST", "/api/codings", json={"source": CRLF_ID, "start": start, "end": end, "code": code})
        assert response.status_code == 201, response.text
        ids[code] = response.json()["id"]
    open_page(driver, ana, "/sources/" + quote(CRLF_ID))
    wait_ready(driver)
    segments = source(ana, CRLF_ID)["segments"]
    rendered = driver.execute_script(
        "return Array.from(document.querySelectorAll('#doc-text .seg-text')).map(e => e.textContent);"
    )
    assert rendered == [text[s["start"] : s["end"]] for s in segments]
    assert driver.find_elements(By.CSS_SELECTOR, "#doc-text b, #doc-text img") == []  # data is never markup
    for code, (start, end) in spans.items():
        marks = driver.find_elements(By.CSS_SELECTOR, f'#doc-text mark.coding[data-coding-id="{ids[code]}"]')
        inside = "".join(text[max(start, s["start"]) : min(end, s["end"])] for s in segments)
        assert "".join(m.get_attribute("textContent") for m in marks) == inside
    # the overlap: pieces that carry both codings (one mark inside the other)
    both = driver.find_elements(By.CSS_SELECTOR, "#doc-text mark.coding mark.coding")
    overlap = text[spans["soft_control"][0] : spans["hard_control"][1]]
    assert "".join(m.get_attribute("textContent") for m in both) == overlap

    # a selection that starts in a segment's header snaps to the segment's text
    header = driver.find_elements(By.CSS_SELECTOR, "#doc-text .segment .seg-head")[2]
    third = segment_text(driver, 2)
    driver.execute_script(
        "const [head, text] = arguments; const range = document.createRange();"
        "range.setStart(head, 0); range.setEnd(text.firstChild, 4);"
        "const s = window.getSelection(); s.removeAllRanges(); s.addRange(range);",
        header,
        third,
    )
    ActionChains(driver).send_keys("c").perform()
    wait_for(driver, "return !document.getElementById('code-picker').hidden;")
    assert driver.find_element(By.CSS_SELECTOR, "#doc-text span.pending").get_attribute("textContent") == "Déjà"
    ActionChains(driver).send_keys(Keys.ESCAPE).perform()
    assert driver.find_elements(By.CSS_SELECTOR, "#doc-text span.pending") == []


def test_a_click_on_a_coded_span_shows_its_codings_memo_and_removal(driver: Any, ana: Server) -> None:
    from qualkam.coding.spans import code_span
    from qualkam.store.project import Project

    text = source(ana, TALK_ID)["text"]
    start = text.index("München")
    with Project.open(ana.project_path) as project:
        code_span(project, TALK_ID, start, start + len("München"), "hard_control", "ben", memo="ben's note")
    mine = ana.api(
        "POST", "/api/codings", json={"source": TALK_ID, "start": start - 3, "end": start + 3, "code": "soft_control"}
    ).json()["id"]
    open_page(driver, ana, f"/sources/{TALK_ID}")
    wait_ready(driver)
    inner = driver.find_element(By.CSS_SELECTOR, "#doc-text mark.coding mark.coding")  # both codings cover it
    inner.click()
    wait_for(driver, "return !document.getElementById('popover').hidden;")
    cards = driver.find_elements(By.CSS_SELECTOR, "#popover .coding-card")
    [ben] = [c["id"] for c in source(ana, TALK_ID)["codings"] if c["coder"] == "ben"]
    assert sorted(c.get_attribute("data-coding-id") for c in cards) == sorted([str(mine), str(ben)])
    bens = next(c for c in cards if c.get_attribute("data-coding-id") == str(ben))
    assert "ben" in bens.text and "ben's note" in bens.text
    assert bens.find_elements(By.CSS_SELECTOR, ".remove-coding") == []  # another coder's: not removable
    card = next(c for c in cards if c.get_attribute("data-coding-id") == str(mine))
    card.find_element(By.CSS_SELECTOR, "textarea.memo").send_keys("a <b>memo</b> with é")
    before = writes(driver)
    card.find_element(By.CSS_SELECTOR, ".save-memo").click()
    wait_saved(driver, before)
    [coding] = [c for c in source(ana, TALK_ID)["codings"] if c["id"] == mine]
    assert coding["memo"] == "a <b>memo</b> with é"

    before = writes(driver)
    card.find_element(By.CSS_SELECTOR, ".remove-coding").click()
    wait_saved(driver, before)
    assert mine not in [c["id"] for c in source(ana, TALK_ID)["codings"]]
    assert driver.find_elements(By.CSS_SELECTOR, f'#doc-text mark.coding[data-coding-id="{mine}"]') == []
    # undo of the removal writes it again (a new id), memo and all
    before = writes(driver)
    driver.find_element(By.ID, "undo").click()
    wait_saved(driver, before)
    again = [c for c in source(ana, TALK_ID)["codings"] if c["coder"] == "ana"]
    assert [(c["start"], c["end"], c["memo"]) for c in again] == [(start - 3, start + 3, coding["memo"])]


def test_a_link_to_a_span_marks_it_and_scrolls_to_it(driver: Any, ana: Server) -> None:
    text = source(ana, TALK_ID)["text"]
    start = text.index("Gut feeling")
    end = text.index("naïve") + len("naïve")
    open_page(driver, ana, f"/sources/{TALK_ID}#c-{start}-{end}")
    wait_ready(driver)
    marked = driver.find_elements(By.CSS_SELECTOR, "#doc-text span.target")
    assert "".join(m.get_attribute("textContent") for m in marked) == text[start:end]
    assert driver.find_element(By.ID, "doc-meta").text.startswith(f"{TALK_ID} · interview")


def test_offsets_convert_code_points_and_utf16_both_ways(driver: Any, ana: Server) -> None:
    """offsets.js, in the page, against Python's own code points and UTF-16."""
    open_page(driver, ana, f"/sources/{TALK_ID}")
    wait_ready(driver)
    for text in ["plain ascii", "Zoë 😀 café 🤝🏽 end", "😀😀😀", "a\r\nb 🎉\r\n", ""]:
        got = driver.execute_script(
            """
            const O = window.qualkamOffsets, t = arguments[0];
            const walk = O.walker(t);
            return {
              length: O.length(t),
              toUtf16: Array.from({length: O.length(t) + 1}, (_, cp) => O.toUtf16(t, cp)),
              walker: Array.from({length: O.length(t) + 1}, (_, cp) => walk(cp)),
              toCodePoints: Array.from({length: t.length + 1}, (_, u) => O.toCodePoints(t, u)),
              slice: O.slice(t, 1, 4),
            };
            """,
            text,
        )
        units = [utf16(text[:cp]) for cp in range(len(text) + 1)]
        assert got["length"] == len(text), text
        assert got["toUtf16"] == units == got["walker"], text
        # a UTF-16 offset inside a surrogate pair rounds up to just after that character
        expected = [next(cp for cp, u in enumerate(units) if u >= unit) for unit in range(units[-1] + 1)]
        assert got["toCodePoints"] == expected, text
        assert got["slice"] == text[1:4], text
