"""The practice page in a real browser: Debian's chromium, headless, driven by selenium.

`make test` installs chromium and chromium-driver as root (scripts/ensure-browser.sh); without them
these tests skip and say so.
"""
from __future__ import annotations

import shutil

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(not (CHROMIUM and DRIVER),
                                reason="chromium and chromedriver are not installed (scripts/ensure-browser.sh "
                                       "installs them as root: apt-get install chromium chromium-driver)")

RIGHT = "(o_k - t_k) o_k(1 - o_k) h_j"
WRONG = "(o_k - t_k) o_k h_j"


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    options = Options()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1000,1400", "--lang=en-US"):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=Service(DRIVER))
    driver.set_page_load_timeout(120)
    yield driver
    driver.quit()


def _answer(browser, text: str) -> str:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    box = browser.find_element(By.ID, "answer")
    box.clear()
    box.send_keys(text)
    WebDriverWait(browser, 30).until(lambda d: d.find_element(By.CSS_SELECTOR, "#read-as math"))
    browser.find_element(By.ID, "check").click()
    verdict = browser.find_element(By.ID, "verdict")
    WebDriverWait(browser, 60).until(lambda d: verdict.get_attribute("class") in ("correct", "wrong", "cannot"))
    return verdict.get_attribute("class")


def test_student_types_right_and_wrong_answers_then_switches_to_korean(browser, server, tmp_path):
    from selenium.webdriver.common.by import By
    browser.get(f"{server.url}/practice/mlp_222?student=ann")
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
    question = browser.find_element(By.CSS_SELECTOR, "#question math")
    assert question.size["width"] > 20  # MathML typeset by the browser itself
    figure = browser.find_element(By.ID, "figure")
    assert browser.execute_script("return arguments[0].naturalWidth", figure) > 100  # the SVG figure loaded

    assert _answer(browser, RIGHT) == "correct"
    assert "Correct." in browser.find_element(By.ID, "verdict").text

    assert _answer(browser, WRONG) == "wrong"
    text = browser.find_element(By.ID, "verdict").text
    assert "Not correct." in text and "Counterexample" in text
    assert "1 - o_k is missing" in text or "its derivative σ′ belongs" in text  # the one most specific diagnosis
    assert "b^o_2" not in text  # a network's counterexample shows the values that matter, not all sixteen
    browser.find_element(By.ID, "hint").click()
    assert browser.find_element(By.CSS_SELECTOR, ".hint[data-level='1']").is_displayed()
    browser.save_screenshot(str(tmp_path / "practice-en.png"))

    browser.find_element(By.ID, "lang-switch").click()
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "ko"
    assert _answer(browser, WRONG) == "wrong"
    korean = browser.find_element(By.ID, "verdict").text
    assert any("\uac00" <= ch <= "\ud7a3" for ch in korean)
    browser.save_screenshot(str(tmp_path / "practice-ko.png"))
    assert (tmp_path / "practice-en.png").stat().st_size > 10_000
    assert (tmp_path / "practice-ko.png").stat().st_size > 10_000
    assert server.app.state.site.store.count() >= 3


def test_unreadable_answer_says_why(browser, server):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    browser.get(f"{server.url}/practice/circuit?student=bo")
    box = browser.find_element(By.ID, "answer")
    box.send_keys("((z")
    WebDriverWait(browser, 30).until(lambda d: d.find_element(By.ID, "read-as").get_attribute("class") == "unreadable")
    browser.find_element(By.ID, "check").click()
    verdict = browser.find_element(By.ID, "verdict")
    WebDriverWait(browser, 60).until(lambda d: verdict.get_attribute("class") == "cannot")
    assert verdict.text.strip()
