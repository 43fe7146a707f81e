"""The Compare page in a real headless Chromium (issue 13): two coders' spans side by side,
the places only one of them coded marked, and a decision there written to the consensus coder
as ``qualkam reconcile`` does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.by import By

from tests.browser.conftest import Server, open_page, wait_for

pytestmark = pytest.mark.browser

TALK_ID = "emoji-talk"


@pytest.fixture
def two_coders(fresh_project: Path) -> dict[str, tuple[int, int]]:
    """ana and ben agree on one span, and each has one the other has not."""
    from qualkam.coding.spans import code_span
    from qualkam.store.project import Project
    from qualkam.store.refi import sources

    with Project.open(fresh_project) as project:
        text = next(s["text"] for s in sources(project) if s["id"] == TALK_ID)
        spans = {word: (text.index(word), text.index(word) + len(word)) for word in ("señor", "naïve", "München")}
        code_span(project, TALK_ID, *spans["señor"], "hard_control", "ana")
        code_span(project, TALK_ID, *spans["señor"], "hard_control", "ben")
        code_span(project, TALK_ID, *spans["naïve"], "soft_control", "ana")
        code_span(project, TALK_ID, *spans["München"], "hard_control", "ben")
    return spans


def decision(driver: Any, start: int, code: str) -> Any:
    return driver.find_element(By.CSS_SELECTOR, f'.decision[data-start="{start}"][data-code="{code}"]')


def settle(driver: Any, row_start: int, code: str) -> None:
    wait_for(
        driver,
        "const row = document.querySelector(`.decision[data-start='${arguments[0]}'][data-code='${arguments[1]}']`);"
        "return row && row.classList.contains('decided') && document.getElementById('status').textContent === 'saved';",
        10,
        row_start,
        code,
    )


def test_compare_marks_disagreements_and_decides_for_the_consensus_coder(
    driver: Any, serve: Any, fresh_project: Path, two_coders: dict[str, tuple[int, int]]
) -> None:
    server: Server = serve(fresh_project, coder="lead")
    open_page(driver, server, f"/compare/{TALK_ID}?a=ana&b=ben")
    wait_for(driver, "const t = document.getElementById('compare-grid'); return t && t.dataset.ready === 'true';")

    a_marks = driver.find_elements(By.CSS_SELECTOR, "td.coder-a mark.coding")
    b_marks = driver.find_elements(By.CSS_SELECTOR, "td.coder-b mark.coding")
    assert sorted(m.get_attribute("textContent") for m in a_marks) == ["naïve", "señor"]
    assert sorted(m.get_attribute("textContent") for m in b_marks) == ["München", "señor"]
    a_only = driver.find_elements(By.CSS_SELECTOR, "td.coder-a mark.disagreement")
    b_only = driver.find_elements(By.CSS_SELECTOR, "td.coder-b mark.disagreement")
    assert [m.get_attribute("textContent") for m in a_only] == ["naïve"]
    assert [m.get_attribute("textContent") for m in b_only] == ["München"]
    rows = driver.find_elements(By.CSS_SELECTOR, ".decision")
    assert sorted(int(r.get_attribute("data-start")) for r in rows) == sorted(
        [two_coders["naïve"][0], two_coders["München"][0]]
    )

    naive, munich = two_coders["naïve"], two_coders["München"]
    decision(driver, naive[0], "soft_control").find_element(By.CSS_SELECTOR, "button.keep-a").click()
    settle(driver, naive[0], "soft_control")
    decision(driver, munich[0], "hard_control").find_element(By.CSS_SELECTOR, "button.keep-b").click()
    settle(driver, munich[0], "hard_control")
    consensus = server.get(f"/api/compare/{TALK_ID}?a=ana&b=ben")["consensus"]
    assert sorted((c["start"], c["end"], c["code"]) for c in consensus) == sorted(
        [(*naive, "soft_control"), (*munich, "hard_control")]
    )

    # "neither" takes the consensus coding away again
    driver.refresh()
    wait_for(driver, "const t = document.getElementById('compare-grid'); return t && t.dataset.ready === 'true';")
    assert "decided" in decision(driver, munich[0], "hard_control").get_attribute("class")
    decision(driver, munich[0], "hard_control").find_element(By.CSS_SELECTOR, "button.neither").click()
    settle(driver, munich[0], "hard_control")
    consensus = server.get(f"/api/compare/{TALK_ID}?a=ana&b=ben")["consensus"]
    assert [(c["start"], c["end"], c["code"]) for c in consensus] == [(*naive, "soft_control")]

    from qualkam.store.audit import audit_table
    from qualkam.store.project import Project

    with Project.open(fresh_project) as project:
        trail = audit_table(project, entity="coding")
    assert "lead" in set(trail["actor"]), "the audit trail names who decided"
