"""The Framework page in a real headless Chromium (issue 16, point 4): a summary written in a
cell is saved, kept after a reload and stored under the session's coder; markup in a summary or
a quote is only text; a cell's link opens the Excerpts page with that cell's excerpts; a blind
session gets the 403 page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.by import By

from tests.browser.conftest import CRLF_ID, CRLF_TEXT, Server, open_page, wait_for

pytestmark = pytest.mark.browser

CASE = "zoë brontë"  # TALK's participant, and the speaker of the CRLF note
MARKUP_LINE = "Markup is only text: <b>not bold</b> & <img src=x onerror=alert(1)>"
SUMMARY = 'Rules from München, très strict <b>bold?</b> & <img src=x onerror="window.__pwned=1">'


@pytest.fixture
def project(fresh_project: Path) -> Path:
    """The workspace project with ana's coding of the CRLF note's line of markup (Zoë speaks it)."""
    from qualkam.coding.spans import code_span
    from qualkam.store.project import Project

    start = CRLF_TEXT.index(MARKUP_LINE)
    with Project.open(fresh_project) as store:
        code_span(store, CRLF_ID, start, start + len(MARKUP_LINE), "hard_control", "ana")
    return fresh_project


def stored_summary(server: Server, case: str, theme: str) -> tuple[str, str]:
    from qualkam.analysis.framework import build_framework
    from qualkam.store.project import Project

    with Project.open(server.project_path) as store:
        fw = build_framework(store)
    return fw.summary(case, theme), str(fw.summaries.get((case, theme), {}).get("author", ""))


def cell(driver: Any, theme: str) -> Any:
    box = driver.find_element(By.CSS_SELECTOR, f'textarea[data-case="{CASE}"][data-theme="{theme}"]')
    return box.find_element(By.XPATH, "./ancestor::td[1]")


def test_a_summary_is_saved_kept_and_only_text(driver: Any, serve: Any, project: Path) -> None:
    server: Server = serve(project, coder="ana")
    open_page(driver, server, "/framework")
    wait_for(driver, "return document.querySelector('#framework textarea');")
    box = cell(driver, "hard_control").find_element(By.TAG_NAME, "textarea")
    assert box.get_attribute("value") == ""
    box.send_keys(SUMMARY)
    cell(driver, "hard_control").find_element(By.CSS_SELECTOR, "button.save-summary").click()
    wait_for(driver, "return document.getElementById('status').textContent === 'saved';")
    assert cell(driver, "hard_control").find_element(By.CSS_SELECTOR, ".author").text == "ana"
    assert stored_summary(server, CASE, "hard_control") == (SUMMARY, "ana")

    driver.refresh()
    wait_for(driver, "return document.querySelector('#framework textarea');")
    kept = cell(driver, "hard_control")
    assert kept.find_element(By.TAG_NAME, "textarea").get_attribute("value") == SUMMARY
    assert kept.find_element(By.CSS_SELECTOR, ".author").text == "ana"
    # neither the summary nor the quoted transcript became markup on the page
    assert driver.execute_script("return document.querySelectorAll('#framework b, #framework img').length;") == 0
    assert driver.execute_script("return window.__pwned === undefined;")
    quotes = driver.execute_script(
        "return Array.from(arguments[0].querySelectorAll('blockquote')).map(q => q.textContent);", kept
    )
    assert any(MARKUP_LINE in q for q in quotes), quotes

    # saving it unchanged says so; emptying it clears the cell
    kept.find_element(By.CSS_SELECTOR, "button.save-summary").click()
    wait_for(driver, "return document.getElementById('status').textContent === 'unchanged';")
    kept.find_element(By.TAG_NAME, "textarea").clear()
    kept.find_element(By.CSS_SELECTOR, "button.save-summary").click()
    wait_for(driver, "return document.getElementById('status').textContent === 'saved';")
    assert stored_summary(server, CASE, "hard_control") == ("", "")


def test_a_cells_link_opens_its_excerpts(driver: Any, serve: Any, project: Path) -> None:
    server: Server = serve(project, coder="ana")
    open_page(driver, server, "/framework")
    wait_for(driver, "return document.querySelector('#framework textarea');")
    here = cell(driver, "hard_control")
    here.find_element(By.TAG_NAME, "summary").click()
    link = here.find_element(By.CSS_SELECTOR, "a.cell-excerpts")
    count = int(link.text.split()[1])  # "all N on the Excerpts page"
    assert count >= 2  # the machine's suggestions in TALK and ana's coding of the note
    link.click()
    wait_for(driver, "return window.location.pathname === '/excerpts' && document.readyState === 'complete';")
    excerpts = driver.find_elements(By.CSS_SELECTOR, "blockquote.excerpt")
    assert len(excerpts) == count
    texts = [e.find_element(By.CSS_SELECTOR, "p.quote").text for e in excerpts]
    assert MARKUP_LINE in texts  # as text, not markup
    assert driver.execute_script("return document.querySelectorAll('main b, main img').length;") == 0
    assert f"cases with case:{CASE}" in driver.find_element(By.CSS_SELECTOR, "main").text


def test_a_blind_session_gets_the_403_page(driver: Any, serve: Any, project: Path) -> None:
    server: Server = serve(project, coder="ana", blind=True)
    open_page(driver, server, "/framework")
    wait_for(driver, "return document.querySelector('main.refused h1');")
    assert driver.find_element(By.CSS_SELECTOR, "main.refused h1").text == "403"
    assert "this session is blind" in driver.find_element(By.CSS_SELECTOR, "main.refused").text
    assert not driver.find_elements(By.CSS_SELECTOR, "#framework")
    answer = server.api("POST", "/api/framework", json={"case": CASE, "theme": "hard_control", "summary": "x"})
    assert answer.status_code == 403
