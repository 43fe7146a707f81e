"""The Query and Concordance pages in a real headless Chromium (issue 16, points 1 and 2): a
person types a query or a word, submits the form, sees the hits the JSON API gives, and follows
one into the document, which opens marked at the hit (emoji and accents before it included)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

from tests.browser.conftest import TALK, Server, open_page, wait_for, wait_ready
from tests.conftest import SMALL_CODEBOOK, write

pytestmark = pytest.mark.browser

TALK_ID = "emoji-talk"


@pytest.fixture(scope="module")
def query_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """TALK (emoji, accents, CRLF) coded by the rules, and a note whose words are markup. Not
    the shared workspace project: its CRLF note names a pipeline no concordance can load."""
    from qualkam.coding.codebook import load_codebook
    from qualkam.coding.run import code_folder
    from qualkam.store.project import Project

    root = tmp_path_factory.mktemp("query-browser")
    write(root / "codebook.yaml", SMALL_CODEBOOK)
    write(root / "src" / "note.md", "---\nid: note\n---\nR: We <b>trust</b> each other <script>alert(1)</script>.\n")
    (root / "src" / "talk.md").write_bytes(TALK.replace("\n", "\r\n").encode("utf-8"))
    path = root / "project.db"
    with Project.open(path, create=True) as project:
        code_folder(root / "src", load_codebook(root / "codebook.yaml"), project, out_dir=None)
    return path


@pytest.fixture
def server(serve: Any, query_project: Path) -> Server:
    """A session of ana's (nothing here writes)."""
    return serve(query_project, coder="ana")


def marked_text(driver: Any) -> str:
    marks = driver.find_elements(By.CSS_SELECTOR, "#doc-text span.target")
    return "".join(m.get_attribute("textContent") for m in marks)


def test_type_a_query_see_the_hits_and_open_one(driver: Any, server: Server) -> None:
    expected = server.get("/api/query?query=hard_control")
    assert expected["excerpts"], "the rules suggested hard_control in the talk"
    open_page(driver, server, "/query")
    box = driver.find_element(By.ID, "query")
    box.send_keys("hard_control AND")
    box.send_keys(Keys.ENTER)
    wait_for(driver, "return document.getElementById('query-error');")
    error = driver.find_element(By.ID, "query-error").text
    assert "column 17" in error and "expected a code after AND" in error
    box = driver.find_element(By.ID, "query")
    assert box.get_attribute("value") == "hard_control AND"  # what was typed stays in the box
    box.send_keys(Keys.BACKSPACE * 4)
    driver.find_element(By.CSS_SELECTOR, "form.query-form button[type=submit]").click()
    wait_for(driver, "return document.getElementById('hits');")
    assert int(driver.find_element(By.ID, "hits").get_attribute("data-hits")) == expected["hits"]
    quotes = driver.find_elements(By.CSS_SELECTOR, "blockquote.excerpt")
    assert [int(q.get_attribute("data-coding-id")) for q in quotes] == [e["coding_id"] for e in expected["excerpts"]]
    first = expected["excerpts"][0]
    quotes[0].find_element(By.CSS_SELECTOR, "footer a").click()
    wait_ready(driver)
    assert driver.execute_script("return location.pathname + location.hash;") == first["href"]
    assert marked_text(driver) == first["text"]


def test_concordance_sorted_and_followed_into_the_document(driver: Any, server: Server) -> None:
    expected = server.get("/api/kwic?term=trust&sort=left")
    assert expected["hits"], "the talk says 'trust'"
    open_page(driver, server, "/kwic")
    driver.find_element(By.ID, "term").send_keys("trust")
    Select(driver.find_element(By.NAME, "sort")).select_by_value("left")
    driver.find_element(By.CSS_SELECTOR, "form.query-form button[type=submit]").click()
    wait_for(driver, "return document.getElementById('hits');")
    rows = driver.find_elements(By.CSS_SELECTOR, "table.kwic tbody tr")
    assert [r.find_element(By.CSS_SELECTOR, "td.match").text for r in rows] == [h["match"] for h in expected["hits"]]
    assert [r.find_element(By.CSS_SELECTOR, "td.left").text for r in rows] == [h["left"] for h in expected["hits"]]
    assert "<b>trust</b>" not in driver.execute_script("return document.querySelector('table.kwic').innerHTML;")
    assert not driver.find_elements(By.CSS_SELECTOR, "table.kwic b, table.kwic script")  # markup stayed text
    # the left context is right-aligned against the word
    cell = rows[0].find_element(By.CSS_SELECTOR, "td.left")
    assert cell.value_of_css_property("text-align") in ("right", "end")
    hit = next(h for h in expected["hits"] if h["source"] == TALK_ID)
    row = rows[expected["hits"].index(hit)]
    if hit["codes"]:
        labels = [c.text for c in row.find_elements(By.CSS_SELECTOR, "td.codes .code")]
        assert labels == [expected["labels"][c] for c in hit["codes"]]
    row.find_element(By.CSS_SELECTOR, "td.where a").click()
    wait_ready(driver)
    assert driver.execute_script("return location.hash;") == f"#c-{hit['start']}-{hit['end']}"
    assert marked_text(driver) == hit["match"]
