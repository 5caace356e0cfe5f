"""The review page in a real headless browser: Playwright drives Debian's chromium against
`benchmaker review` started as a user would, reviews three items with the keyboard and the forms,
meets a stale page, and a release made afterwards honours the decisions."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from benchmaker.cli import app as cli_app
from tests.review_fixtures import make_review_run, review_items

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parent.parent
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def start_review(run_dir: Path) -> tuple[subprocess.Popen, str]:
    """`benchmaker review` on a free port; returns the process and the URL it printed."""
    process = subprocess.Popen(
        [sys.executable, "-m", "benchmaker.cli", "review", str(run_dir), "--no-browser", "--reviewer", "browser-test"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    for line in process.stdout:
        if line.startswith("http://127.0.0.1:"):
            return process, line.strip()
    process.wait(10)
    raise AssertionError(f"benchmaker review printed no URL (exit {process.returncode})")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")
def test_a_reviewer_accepts_rejects_and_corrects_in_a_browser_and_the_release_honours_it(tmp_path):
    from playwright.sync_api import sync_playwright

    outputs = tmp_path / "outputs"
    run_dir = make_review_run(outputs)
    items = review_items()
    process, url = start_review(run_dir)
    errors: list[str] = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            try:
                page = browser.new_page()
                page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
                page.on("pageerror", lambda e: errors.append(str(e)))
                page.goto(url)
                assert "0 of 6 items reviewed" in page.inner_text(".counts")
                page.keyboard.press("Enter")  # the list's first item
                page.wait_for_url("**/item/1")
                assert page.inner_text("#question") == "What is 6 x 7?"
                assert "majority value 42" in page.inner_text(".evidence")

                page.keyboard.press("a")  # accept; the next item opens
                page.wait_for_url("**/item/2?**")
                assert "Accepted item 1." in page.inner_text(".notice")

                page.keyboard.press("c")  # correct: the key radio has focus; the arrow moves it from B to A
                page.keyboard.press("ArrowUp")
                page.fill("#correct-form input[name=note]", "9 x 8 is 72, not 81")
                page.click("#correct")
                page.wait_for_url("**/item/3?**")

                # the hostile item: its text is shown, never run
                assert page.inner_text("#question").startswith("<script>window.pwned = 1</script>Which")
                assert page.evaluate("window.pwned") is None
                page.keyboard.press("r")
                page.keyboard.press("2")  # reason 2: ambiguous; submits
                page.wait_for_url("**/item/4?**")
                assert page.evaluate("window.pwned") is None

                # a stale page: item 4 decided in another tab after this one rendered it
                other = browser.new_page()
                other.goto(page.url)
                other.keyboard.press("a")
                other.wait_for_url("**/item/5?**")
                page.keyboard.press("r")
                page.keyboard.press("1")
                page.wait_for_load_state()
                assert "Decided since you opened this page" in page.inner_text("h1")
                assert "was accepted by browser-test" in page.inner_text("#error-message")

                page.goto(url + "item/2")
                assert "revision 1" in page.inner_text("#status + span") and "key B → A" in page.inner_text(".history")
            finally:
                browser.close()
    finally:
        stop(process)
    assert process.returncode is not None
    # no script error and no CSP violation; the one error is the stale page's own 409
    assert errors == ["Failed to load resource: the server responded with a status of 409 (Conflict)"], errors

    recorded = [json.loads(line) for line in (run_dir / "reviews.jsonl").read_text().splitlines()]
    assert [(r["item_id"], r["action"], r["reviewer"]) for r in recorded] == [
        (items[0].id, "accept", "browser-test"),
        (items[1].id, "correct", "browser-test"),
        (items[2].id, "reject", "browser-test"),
        (items[3].id, "accept", "browser-test"),
    ]
    assert recorded[1]["after"]["answer_index"] == 0 and recorded[1]["note"] == "9 x 8 is 72, not 81"
    assert recorded[2]["reason"] == "ambiguous"

    result = CliRunner().invoke(
        cli_app,
        ["release", "create", "mult", str(run_dir), "--embedding-model", "hashing", "--outputs-dir", str(outputs)],
    )
    assert result.exit_code == 0, result.output
    released = [json.loads(line) for line in (outputs / "releases/mult/v1/items.jsonl").read_text().splitlines()]
    by_source = {row["source"]["item_id"]: row for row in released}
    assert items[2].id not in by_source and len(released) == 5
    corrected = by_source[items[1].id]
    assert (corrected["answer"], corrected["choices"][0], corrected["metadata"]["key_evidence"]) == ("A", "72", "human")
    assert corrected["source"]["review"]["revisions"][0]["note"] == "9 x 8 is 72, not 81"
