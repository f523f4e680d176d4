"""Every control has a label, and one run can be made with the keyboard alone."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

#: Controls that no label names: each input, select and button must have a <label for>,
#: an aria-label, aria-labelledby or (buttons) text.
UNLABELLED = """() => Array.from(document.querySelectorAll('input, select, textarea, button'))
  .filter(el => el.type !== 'hidden')
  .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                && !el.getAttribute('aria-labelledby')
                && !(el.tagName === 'BUTTON' && el.textContent.trim()))
  .map(el => el.id || el.outerHTML.slice(0, 80))"""


@pytest.mark.parametrize("path", ["/", "/audit", "/experiments/catch-and-revoke",
                                  "/experiments/name-matching", "/experiments/cbp-one"])
def test_every_control_has_a_label(server, page, path):
    page.goto(server.url + path)
    page.wait_for_load_state("networkidle")
    assert page.evaluate(UNLABELLED) == []


def press_tab_until(page, element_id: str, limit: int = 400) -> None:
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement && document.activeElement.id") == element_id:
            return
    raise AssertionError(f"#{element_id} was not reached with Tab")


def test_one_run_with_the_keyboard_only(server, page):
    page.goto(server.url + "/experiments/iborderctrl")
    press_tab_until(page, "control-run-attribution")
    page.keyboard.press("Space")
    assert not page.is_checked("#control-run-attribution")
    press_tab_until(page, "control-system-cultural_baselines")
    page.keyboard.press("Home")  # a slider's start: this bias knob is off there
    assert float(page.input_value("#control-system-cultural_baselines-exact")) == 0
    press_tab_until(page, "run-button")
    page.keyboard.press("Enter")
    expect(page.locator("#status")).to_have_text(re.compile(r"^(Done|The run failed)"),
                                                 timeout=120_000)
    assert page.text_content("#status").startswith("Done")
    expect(page.locator("#result")).to_be_visible()
    assert page.locator("#headlines li").count() >= 1
    press_tab_until(page, "download-link")
